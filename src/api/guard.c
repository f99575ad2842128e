/*
 * guard.c - throttling and denial aggregation per client address (see guard.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/guard.h"

struct entry {
	char key[GUARD_KEY_MAX]; /* "" when free */
	int64_t used_ms;	 /* last activity, for eviction */
	unsigned fails;
	int64_t last_fail_ms, blocked_until_ms;
	/* the aggregate of the current interval */
	int64_t ival_start_ms, ival_last_ms; /* ival_start_ms 0: no interval open */
	uint64_t count, by_status[4];
};

struct guard {
	pthread_mutex_t mu;
	uint64_t seed;
	guard_report_fn fn;
	void *arg;
	struct entry e[GUARD_SETS][GUARD_WAYS];
};

void guard_key(const char *client, char *out, size_t outlen)
{
	struct in6_addr a;
	char buf[INET6_ADDRSTRLEN];
	if (client && strchr(client, ':') && inet_pton(AF_INET6, client, &a) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a)) {
		memset(a.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a, buf, sizeof buf);
		snprintf(out, outlen, "%s/64", buf);
		return;
	}
	snprintf(out, outlen, "%s", client ? client : "");
}

guard_t *guard_new(guard_report_fn fn, void *arg)
{
	guard_t *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	if (getrandom(&g->seed, sizeof g->seed, 0) != (ssize_t)sizeof g->seed)
		g->seed = (uint64_t)(uintptr_t)g ^ 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&g->mu, NULL);
	g->fn = fn;
	g->arg = arg;
	return g;
}

static void report(guard_t *g, struct entry *e)
{
	if (e->count && g->fn) {
		struct guard_report r;
		memset(&r, 0, sizeof r);
		memcpy(r.client, e->key, sizeof r.client);
		r.count = e->count;
		memcpy(r.by_status, e->by_status, sizeof r.by_status);
		r.first_ms = e->ival_start_ms;
		r.last_ms = e->ival_last_ms;
		g->fn(g->arg, &r);
	}
	e->count = 0;
	memset(e->by_status, 0, sizeof e->by_status);
	e->ival_start_ms = 0;
}

void guard_free(guard_t *g)
{
	if (!g)
		return;
	guard_flush(g, 0, 1);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* FNV-1a over the seed and the key. */
static size_t set_of(const guard_t *g, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ g->seed;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 29;
	return (size_t)(h % GUARD_SETS);
}

/* The entry of client, made (evicting the least recently used of its set) when create. */
static struct entry *find(guard_t *g, const char *client, int create, int64_t now_ms)
{
	char key[GUARD_KEY_MAX];
	guard_key(client, key, sizeof key);
	struct entry *set = g->e[set_of(g, key)], *victim = &set[0];
	for (int i = 0; i < GUARD_WAYS; i++) {
		if (set[i].key[0] && strcmp(set[i].key, key) == 0) {
			set[i].used_ms = now_ms;
			return &set[i];
		}
		if (!set[i].key[0])
			victim = &set[i];
		else if (victim->key[0] && set[i].used_ms < victim->used_ms)
			victim = &set[i];
	}
	if (!create)
		return NULL;
	if (victim->key[0])
		report(g, victim);
	memset(victim, 0, sizeof *victim);
	memcpy(victim->key, key, sizeof key);
	victim->used_ms = now_ms;
	return victim;
}

int guard_blocked(guard_t *g, const char *client, int64_t now_ms)
{
	int wait = 0;
	pthread_mutex_lock(&g->mu);
	struct entry *e = find(g, client, 0, now_ms);
	if (e && e->blocked_until_ms > now_ms)
		wait = (int)((e->blocked_until_ms - now_ms + 999) / 1000);
	pthread_mutex_unlock(&g->mu);
	return wait;
}

void guard_failure(guard_t *g, const char *client, int64_t now_ms)
{
	pthread_mutex_lock(&g->mu);
	struct entry *e = find(g, client, 1, now_ms);
	if (e->fails && now_ms - e->last_fail_ms > (int64_t)GUARD_FORGET_S * 1000)
		e->fails = 0;
	if (e->fails < 64)
		e->fails++;
	e->last_fail_ms = now_ms;
	if (e->fails > GUARD_FREE_FAILS) {
		unsigned sh = e->fails - GUARD_FREE_FAILS - 1;
		int64_t s = sh >= 9 ? GUARD_BLOCK_MAX_S : (int64_t)1 << sh;
		if (s > GUARD_BLOCK_MAX_S)
			s = GUARD_BLOCK_MAX_S;
		e->blocked_until_ms = now_ms + s * 1000;
	}
	pthread_mutex_unlock(&g->mu);
}

int guard_denial(guard_t *g, const char *client, int status, int64_t now_ms)
{
	int full = 0;
	pthread_mutex_lock(&g->mu);
	struct entry *e = find(g, client, 1, now_ms);
	if (e->ival_start_ms && now_ms - e->ival_start_ms >= (int64_t)GUARD_INTERVAL_S * 1000)
		report(g, e);
	if (!e->ival_start_ms) {
		e->ival_start_ms = now_ms ? now_ms : 1;
		full = 1;
	} else {
		int i = status == 401 ? 0 : status == 403 ? 1 : status == 410 ? 2 : 3;
		e->count++;
		if (status == 401 || status == 403 || status == 410 || status == 429)
			e->by_status[i]++;
	}
	e->ival_last_ms = now_ms;
	pthread_mutex_unlock(&g->mu);
	return full;
}

void guard_flush(guard_t *g, int64_t now_ms, int force)
{
	pthread_mutex_lock(&g->mu);
	for (size_t s = 0; s < GUARD_SETS; s++)
		for (int i = 0; i < GUARD_WAYS; i++) {
			struct entry *e = &g->e[s][i];
			if (e->key[0] && e->ival_start_ms &&
			    (force || now_ms - e->ival_start_ms >= (int64_t)GUARD_INTERVAL_S * 1000))
				report(g, e);
		}
	pthread_mutex_unlock(&g->mu);
}
