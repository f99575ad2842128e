/*
 * analyze_hash.c - see analyze.h (ahash).
 *
 * DESIGN: linear probing over a power-of-two array of 32-bit tags (cache friendly: most misses
 * end on a tag compare), entries in a parallel array. The table doubles when it is half full and
 * never holds more than max_used entries; an add past that is refused and counted, so a hostile
 * capture with millions of addresses costs a bounded amount of memory. There is no delete.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"

#define AHASH_MIN_SLOTS 256u

static uint64_t ah_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t ahash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);

	while (n >= 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		h = (h ^ ah_mix(v)) * 0x9e3779b97f4a7c15ULL;
		b += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = 0;
		memcpy(&v, b, n);
		h = (h ^ ah_mix(v)) * 0x9e3779b97f4a7c15ULL;
	}
	return ah_mix(h);
}

static uint64_t ah_seed(void)
{
	static uint64_t seed;
	if (!seed) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed =
		    ah_mix((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^ (uint64_t)getpid()) |
		    1;
	}
	return seed;
}

size_t ahash_val_off(const struct ahash *h)
{
	return (h->keylen + 7) & ~(size_t)7;
}

int ahash_init(struct ahash *h, size_t keylen, size_t valsize, uint32_t max_entries)
{
	memset(h, 0, sizeof *h);
	h->keylen = keylen;
	h->entsize = (ahash_val_off(h) + valsize + 7) & ~(size_t)7;
	h->max_used = max_entries ? max_entries : 1;
	h->seed = ah_seed();
	h->nslots = AHASH_MIN_SLOTS;
	h->tags = calloc(h->nslots, sizeof *h->tags);
	h->ents = calloc(h->nslots, h->entsize);
	if (!h->tags || !h->ents) {
		ahash_free(h);
		return -1;
	}
	return 0;
}

static uint32_t ah_tag(uint64_t hv)
{
	return (uint32_t)(hv >> 32) | 1u;
}

/* Doubles the table. Returns 0 or -1 (table unchanged) if out of memory. */
static int ah_grow(struct ahash *h)
{
	uint32_t n = h->nslots * 2, mask = n - 1;
	uint32_t *tags = calloc(n, sizeof *tags);
	uint8_t *ents = calloc(n, h->entsize);

	if (!tags || !ents || n < h->nslots) {
		free(tags);
		free(ents);
		return -1;
	}
	for (uint32_t i = 0; i < h->nslots; i++) {
		if (!h->tags[i])
			continue;
		const uint8_t *e = h->ents + (size_t)i * h->entsize;
		uint32_t j = (uint32_t)ahash_bytes(e, h->keylen, h->seed) & mask;
		while (tags[j])
			j = (j + 1) & mask;
		tags[j] = h->tags[i];
		memcpy(ents + (size_t)j * h->entsize, e, h->entsize);
	}
	free(h->tags);
	free(h->ents);
	h->tags = tags;
	h->ents = ents;
	h->nslots = n;
	return 0;
}

void *ahash_get(struct ahash *h, const void *key, int create, int *created)
{
	uint64_t hv = ahash_bytes(key, h->keylen, h->seed);
	uint32_t tag = ah_tag(hv), mask = h->nslots - 1, i = (uint32_t)hv & mask;

	if (created)
		*created = 0;
	if (!h->tags)
		return NULL;
	for (;;) {
		uint32_t t = h->tags[i];
		if (!t)
			break;
		if (t == tag) {
			uint8_t *e = h->ents + (size_t)i * h->entsize;
			if (memcmp(e, key, h->keylen) == 0)
				return e;
		}
		i = (i + 1) & mask;
	}
	if (!create)
		return NULL;
	if (h->used >= h->max_used) {
		h->refused++;
		return NULL;
	}
	if ((uint64_t)(h->used + 1) * 2 > h->nslots) {
		if (ah_grow(h) != 0) {
			h->refused++;
			return NULL;
		}
		mask = h->nslots - 1;
		i = (uint32_t)hv & mask;
		while (h->tags[i])
			i = (i + 1) & mask;
	}
	h->tags[i] = tag;
	uint8_t *e = h->ents + (size_t)i * h->entsize;
	memset(e, 0, h->entsize);
	memcpy(e, key, h->keylen);
	h->used++;
	if (created)
		*created = 1;
	return e;
}

void *ahash_slot(const struct ahash *h, uint32_t i)
{
	if (!h->tags || i >= h->nslots || !h->tags[i])
		return NULL;
	return h->ents + (size_t)i * h->entsize;
}

void ahash_free(struct ahash *h)
{
	if (!h)
		return;
	free(h->tags);
	free(h->ents);
	h->tags = NULL;
	h->ents = NULL;
	h->nslots = 0;
	h->used = 0;
}
