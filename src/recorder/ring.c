/*
 * ring.c - pre-trigger ring (see ring.h).
 *
 * DESIGN: positions in the arena are virtual: a 64-bit byte count that only grows, whose value
 * modulo the arena size is the place in the arena. A packet that would run past the end of the
 * arena skips to the next multiple of the arena size (the skipped tail is padding), so its bytes
 * stay contiguous. The bytes in use are then simply [voff of the oldest entry, wv): a new packet
 * of n bytes placed at v fits once v + n - oldest.voff <= arena size, and evicting the oldest
 * entry frees its bytes and any padding before the next one. Zero-length packets take no room
 * and need no special case. The physical write position is kept next to wv so that a push does
 * no division; ring_foreach() takes voff modulo the arena size.
 *
 * The index is a circular array of cap entries (head = oldest, count held). The arena is plain
 * malloc()ed memory: pages become resident as the ring first fills them, never grow beyond it.
 */
#include "recorder/ring.h"
#include "base/log.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RG_TYPICAL_FRAME 1514u /* count mode sizes the arena for this many bytes per packet */
#define RG_INDEX_SHARE 4u      /* time mode: 1/RG_INDEX_SHARE of the budget is index */

struct rg_entry {
	int64_t sec;
	int64_t ts_ns;
	uint64_t voff; /* virtual arena position of the first byte */
	uint32_t frac;
	uint32_t caplen;
	uint32_t wirelen;
};

struct ring {
	struct rg_entry *idx;
	uint32_t cap;	/* index entries */
	uint32_t head;	/* oldest entry */
	uint32_t count; /* entries held */
	uint32_t max_caplen;
	int64_t max_age; /* 0: count mode */
	uint32_t keep_before; /* time mode: packets kept before the window */
	uint32_t old;	      /* time mode: of the entries held, how many (from head) are older
			       * than the window; the entry at head + old is the first that is not */
	uint64_t lost;	      /* evictions and too_big at the last ring_clear() */
	uint8_t *arena;
	uint64_t alen; /* arena size */
	uint64_t wv;   /* virtual position of the next byte written */
	uint64_t wpos; /* wv % alen, always < alen */
	struct ring_stats st;
};

void ring_config_init(struct ring_config *c)
{
	memset(c, 0, sizeof *c);
	c->max_packets = RING_DEFAULT_PACKETS;
	c->max_age_ns = 0;
	c->budget_bytes = RING_DEFAULT_BUDGET;
	c->max_caplen = RING_MAX_CAPLEN;
	c->keep_before = RING_DEFAULT_PACKETS;
}

/* Checks c and computes the index entries and arena bytes it takes: 0, or -1 with err set. */
static int rg_sizes(const struct ring_config *c, uint64_t *capp, uint64_t *alenp, char *err,
		    size_t errlen)
{
	uint64_t cap, alen;

	if (!c) {
		set_err(err, errlen, "no ring configuration");
		return -1;
	}
	if (c->max_caplen < 1 || c->max_caplen > RING_MAX_CAPLEN) {
		set_err(err, errlen, "invalid ring max caplen `%u': expected 1 to %u bytes",
			c->max_caplen, RING_MAX_CAPLEN);
		return -1;
	}
	if (c->max_age_ns < 0) {
		set_err(err, errlen,
			"invalid ring max age `%lld' ns: expected 0 (count mode) or more",
			(long long)c->max_age_ns);
		return -1;
	}
	if (c->max_age_ns == 0) {
		uint32_t typical =
		    c->max_caplen < RG_TYPICAL_FRAME ? c->max_caplen : RG_TYPICAL_FRAME;

		if (c->max_packets < 1 || c->max_packets > RING_MAX_PACKETS) {
			set_err(err, errlen, "invalid ring size `%u': expected 1 to %u packets",
				c->max_packets, RING_MAX_PACKETS);
			return -1;
		}
		cap = c->max_packets;
		alen = cap * typical + c->max_caplen;
	} else {
		if (c->keep_before > RING_MAX_PACKETS) {
			set_err(err, errlen,
				"invalid ring keep-before `%u': expected 0 to %u packets",
				c->keep_before, RING_MAX_PACKETS);
			return -1;
		}
		if (c->budget_bytes < RING_MIN_BUDGET || c->budget_bytes > RING_MAX_BUDGET) {
			set_err(err, errlen,
				"invalid ring memory budget `%llu' bytes: expected %llu to %llu",
				(unsigned long long)c->budget_bytes,
				(unsigned long long)RING_MIN_BUDGET,
				(unsigned long long)RING_MAX_BUDGET);
			return -1;
		}
		cap = c->budget_bytes / (RG_INDEX_SHARE * sizeof(struct rg_entry));
		alen = c->budget_bytes - cap * sizeof(struct rg_entry);
	}
	*capp = cap;
	*alenp = alen;
	return 0;
}

int ring_config_check(const struct ring_config *c, char *err, size_t errlen)
{
	uint64_t cap, alen;
	return rg_sizes(c, &cap, &alen, err, errlen);
}

ring_t *ring_new(const struct ring_config *c, char *err, size_t errlen)
{
	ring_t *r = NULL;
	uint64_t cap, alen;

	if (rg_sizes(c, &cap, &alen, err, errlen) != 0)
		return NULL;
	/* by the limits above: cap <= INT_MAX (ring_foreach's count) and alen > max_caplen */
	if (cap > INT_MAX || alen <= c->max_caplen)
		goto nomem;
	if (cap > SIZE_MAX / sizeof(struct rg_entry) || alen > SIZE_MAX)
		goto nomem;

	r = calloc(1, sizeof *r);
	if (!r)
		goto nomem;
	r->cap = (uint32_t)cap;
	r->max_caplen = c->max_caplen;
	r->max_age = c->max_age_ns;
	r->keep_before = c->max_age_ns ? c->keep_before : 0;
	r->alen = alen;
	r->idx = malloc((size_t)cap * sizeof *r->idx);
	r->arena = malloc((size_t)alen);
	if (!r->idx || !r->arena)
		goto nomem;
	r->st.capacity = r->cap;
	r->st.data_bytes = alen;
	r->st.mem_bytes = sizeof *r + cap * sizeof *r->idx + alen;
	r->st.max_age_ns = r->max_age;
	r->st.keep_before = r->keep_before;
	return r;

nomem:
	if (c->max_age_ns == 0)
		set_err(err, errlen, "cannot allocate a ring of %u packets: out of memory",
			c->max_packets);
	else
		set_err(err, errlen, "cannot allocate a ring of %llu bytes: out of memory",
			(unsigned long long)c->budget_bytes);
	ring_free(r);
	return NULL;
}

void ring_free(ring_t *r)
{
	if (!r)
		return;
	free(r->arena);
	free(r->idx);
	free(r);
}

static inline uint32_t rg_slot(const ring_t *r, uint32_t i)
{
	uint32_t s = r->head + i; /* head, i < cap <= INT_MAX: no overflow */

	return s >= r->cap ? s - r->cap : s;
}

static inline void rg_evict(ring_t *r, uint64_t *counter)
{
	r->st.bytes -= r->idx[r->head].caplen;
	r->head = rg_slot(r, 1);
	r->count--;
	if (r->old)
		r->old--;
	(*counter)++;
}

static inline int rg_too_old(const struct rg_entry *e, int64_t ts_ns, int64_t max_age)
{
	/* unsigned difference: no overflow at the ends of int64 */
	return e->ts_ns < ts_ns && (uint64_t)ts_ns - (uint64_t)e->ts_ns > (uint64_t)max_age;
}

/*
 * Moves the window's start up to ts_ns - max_age (the entries before it are "old"), then evicts
 * the oldest while more than keep_before are old. Each entry passes the window's start once.
 */
static inline void rg_evict_old(ring_t *r, int64_t ts_ns)
{
	while (r->old < r->count && rg_too_old(&r->idx[rg_slot(r, r->old)], ts_ns, r->max_age))
		r->old++;
	while (r->old > r->keep_before)
		rg_evict(r, &r->st.evicted_age);
}

void ring_push(ring_t *r, int64_t sec, uint32_t frac, int64_t ts_ns, uint32_t caplen,
	       uint32_t wirelen, const uint8_t *data)
{
	struct rg_entry *e;
	uint64_t p, v, evicted;

	r->st.pushed++;
	if (caplen > r->max_caplen) {
		r->st.too_big++;
		return;
	}
	if (r->max_age)
		rg_evict_old(r, ts_ns); /* first, so that age frees room before space has to */
	evicted = r->st.evicted_count + r->st.evicted_space;
	if (r->count == r->cap)
		rg_evict(r, r->max_age ? &r->st.evicted_space : &r->st.evicted_count);

	p = r->wpos;
	v = r->wv;
	if (p + caplen > r->alen) { /* skip the tail: caplen < alen, so it fits at the front */
		v += r->alen - p;
		p = 0;
	}
	while (r->count && v + caplen - r->idx[r->head].voff > r->alen)
		rg_evict(r, &r->st.evicted_space);
	/* the new oldest may be a packet stamped out of order, older than the window */
	if (r->max_age && evicted != r->st.evicted_count + r->st.evicted_space)
		rg_evict_old(r, ts_ns);

	if (caplen)
		memcpy(r->arena + p, data, caplen);
	e = &r->idx[rg_slot(r, r->count)];
	e->sec = sec;
	e->ts_ns = ts_ns;
	e->voff = v;
	e->frac = frac;
	e->caplen = caplen;
	e->wirelen = wirelen;
	r->count++;
	r->st.bytes += caplen;
	r->wv = v + caplen;
	p += caplen;
	r->wpos = p == r->alen ? 0 : p;
}

uint32_t ring_count(const ring_t *r)
{
	return r->count;
}

int ring_foreach(const ring_t *r, ring_visit_fn fn, void *ctx)
{
	return ring_foreach_from(r, 0, fn, ctx);
}

int ring_complete(const ring_t *r)
{
	return r->st.evicted_count + r->st.evicted_age + r->st.evicted_space + r->st.too_big ==
	       r->lost;
}

int ring_foreach_from(const ring_t *r, uint32_t first, ring_visit_fn fn, void *ctx)
{
	uint32_t i;

	for (i = first; i < r->count; i++) {
		const struct rg_entry *e = &r->idx[rg_slot(r, i)];
		int rc =
		    fn(ctx, e->sec, e->frac, e->caplen, e->wirelen, r->arena + e->voff % r->alen);

		if (rc)
			return rc;
	}
	return (int)(i > first ? i - first : 0);
}

int ring_oldest_ns(const ring_t *r, int64_t *ts_ns)
{
	if (!r->count)
		return -1;
	*ts_ns = r->idx[r->head].ts_ns;
	return 0;
}

int ring_newest_ns(const ring_t *r, int64_t *ts_ns)
{
	if (!r->count)
		return -1;
	*ts_ns = r->idx[rg_slot(r, r->count - 1)].ts_ns;
	return 0;
}

void ring_clear(ring_t *r)
{
	r->st.cleared += r->count;
	r->st.bytes = 0;
	r->count = 0;
	r->old = 0;
	r->lost = r->st.evicted_count + r->st.evicted_age + r->st.evicted_space + r->st.too_big;
	r->head = 0;
	r->wv = 0;
	r->wpos = 0;
}

void ring_stats(const ring_t *r, struct ring_stats *st)
{
	*st = r->st;
	st->count = r->count;
}
