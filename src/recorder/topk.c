/*
 * topk.c - Space-Saving top talkers (see topk.h).
 *
 * DESIGN: entries[] holds up to capacity counters, handed out in order while there is room.
 * heap[] is a 4-ary min-heap of (pkts, entry index) on pkts (ties are left where they are, so
 * the victim among equal counters depends only on the call sequence); each entry knows its heap
 * position, and sifting reads only heap[]. slots[] is a linear-probing hash table (a power of
 * two >= 4 * capacity) of (entry index + 1, low 32 bits of the hash), 0 meaning empty; a probe
 * touches an entry only when those bits match, and each entry knows its slot. Deletion shifts
 * later members of the cluster back instead of leaving tombstones, so probe lengths never
 * degrade.
 *
 * The 4-ary heap (half the levels, children in adjacent nodes) and the table kept at most a
 * quarter full together cut the worst case, a new key on every add (random spoofed sources), by
 * a third against a binary heap and a half-full table.
 *
 * Cost (throwaway benchmark, one shared 2-core EPYC VM, capacity 1024, 5-byte keys): about 22 ns
 * per add when the keys fit, 25 ns over 1000 keys, 75 ns when nearly every add is a new key (an
 * eviction and a sift to the bottom of the heap each time); capacity 256: 58 ns.
 */
#include "recorder/topk.h"
#include "base/log.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct tk_entry {
	uint64_t pkts, bytes, err_pkts, err_bytes;
	uint64_t hash;
	uint32_t hpos; /* position in heap[] */
	uint32_t slot; /* position in slots[] */
	uint8_t len;
	uint8_t key[TOPK_KEY_MAX];
};

/* Hash table slot: entry index + 1 (0 = empty) and the low half of the key's hash. */
struct tk_slot {
	uint32_t idx1;
	uint32_t h32;
};

/* Heap node: the packets are copied here so that sifting reads only heap[]. */
struct tk_heap {
	uint64_t pkts;
	uint32_t idx;
};

struct topk {
	unsigned cap, size;
	uint32_t mask; /* slots - 1 */
	uint64_t seed;
	uint64_t total_pkts, total_bytes;
	struct tk_entry *e;    /* cap */
	struct tk_heap *heap;  /* cap */
	struct tk_slot *slots; /* mask + 1 */
};

topk_t *topk_new(unsigned capacity, char *err, size_t errlen)
{
	topk_t *t;
	uint32_t nslots = 4;

	if (capacity < 1 || capacity > TOPK_MAX_CAPACITY) {
		set_err(err, errlen, "invalid top-k capacity `%u': expected 1 to %u keys", capacity,
			TOPK_MAX_CAPACITY);
		return NULL;
	}
	while (nslots < 4 * capacity)
		nslots *= 2;
	t = calloc(1, sizeof *t);
	if (!t)
		goto nomem;
	t->cap = capacity;
	t->mask = nslots - 1;
	t->e = calloc(capacity, sizeof *t->e);
	t->heap = calloc(capacity, sizeof *t->heap);
	t->slots = calloc(nslots, sizeof *t->slots);
	if (!t->e || !t->heap || !t->slots)
		goto nomem;
	if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
		t->seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)t;
	return t;

nomem:
	set_err(err, errlen, "cannot allocate a top-k table of %u keys: out of memory", capacity);
	topk_free(t);
	return NULL;
}

void topk_free(topk_t *t)
{
	if (!t)
		return;
	free(t->e);
	free(t->heap);
	free(t->slots);
	free(t);
}

/* --- hashing --- */

static inline uint64_t tk_mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9fb21c651e98df25ULL;
	h ^= h >> 28;
	return h;
}

static inline uint64_t tk_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline uint64_t tk_load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/*
 * Reads the key as words with fixed-size (possibly overlapping) loads, never past keylen and
 * without byte stores read back as words; for a given length the words determine the key.
 */
static uint64_t tk_hash(const topk_t *t, const uint8_t *key, unsigned len)
{
	uint64_t a, b = 0, c = 0, h;

	if (len >= 8) {
		a = tk_load64(key);
		b = len >= 16 ? tk_load64(key + 8) : tk_load64(key + len - 8);
		if (len > 16)
			c = key[16];
	} else if (len >= 4) {
		a = tk_load32(key) | tk_load32(key + len - 4) << 32;
	} else {
		a = (uint64_t)key[0] | (uint64_t)key[len / 2] << 8 | (uint64_t)key[len - 1] << 16;
	}
	h = t->seed ^ ((uint64_t)len * 0xc2b2ae3d27d4eb4fULL);
	h = tk_mix(h, a);
	h = tk_mix(h, b);
	h = tk_mix(h, c);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* --- hash table --- */

/* Slot holding the entry for key, or the empty slot where it would go (*found says which). */
static uint32_t tk_find(const topk_t *t, uint64_t h, const uint8_t *key, unsigned len, int *found)
{
	uint32_t i = (uint32_t)h & t->mask;

	for (;;) {
		const struct tk_slot *s = &t->slots[i];

		if (!s->idx1) {
			*found = 0;
			return i;
		}
		if (s->h32 == (uint32_t)h) {
			const struct tk_entry *e = &t->e[s->idx1 - 1];

			if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
				*found = 1;
				return i;
			}
		}
		i = (i + 1) & t->mask;
	}
}

static void tk_slot_set(topk_t *t, uint32_t i, struct tk_slot s)
{
	t->slots[i] = s;
	t->e[s.idx1 - 1].slot = i;
}

/* Removes the entry in slot i, shifting the rest of its cluster back. */
static void tk_unslot(topk_t *t, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (!t->slots[j].idx1)
			break;
		home = t->slots[j].h32 & t->mask;
		/* the member at j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		tk_slot_set(t, i, t->slots[j]);
		i = j;
	}
	t->slots[i].idx1 = 0;
}

/* The first empty slot on the probe path of hash h (the key is known to be absent). */
static uint32_t tk_free_slot(const topk_t *t, uint64_t h)
{
	uint32_t i = (uint32_t)h & t->mask;

	while (t->slots[i].idx1)
		i = (i + 1) & t->mask;
	return i;
}

/* --- heap --- */

static inline void tk_heap_set(topk_t *t, uint32_t pos, struct tk_heap n)
{
	t->heap[pos] = n;
	t->e[n.idx].hpos = pos;
}

/*
 * The heap is 4-ary: the children of pos are 4 * pos + 1 .. 4 * pos + 4, so a sift to the bottom
 * of 1024 counters takes 5 levels of 4 adjacent nodes instead of 10 levels of 2.
 */
#define TK_ARITY 4

/* Moves the node at pos down after its count grew to e[].pkts. */
static void tk_sift_down(topk_t *t, uint32_t pos)
{
	struct tk_heap n = t->heap[pos];
	uint32_t size = t->size;

	n.pkts = t->e[n.idx].pkts;
	for (;;) {
		uint32_t c = TK_ARITY * pos + 1, m, k, end;

		if (c >= size)
			break;
		end = c + TK_ARITY < size ? c + TK_ARITY : size;
		m = c;
		for (k = c + 1; k < end; k++)
			if (t->heap[k].pkts < t->heap[m].pkts)
				m = k;
		if (t->heap[m].pkts >= n.pkts)
			break;
		tk_heap_set(t, pos, t->heap[m]);
		pos = m;
	}
	tk_heap_set(t, pos, n);
}

static void tk_sift_up(topk_t *t, uint32_t pos)
{
	struct tk_heap n = t->heap[pos];

	while (pos > 0) {
		uint32_t p = (pos - 1) / TK_ARITY;

		if (t->heap[p].pkts <= n.pkts)
			break;
		tk_heap_set(t, pos, t->heap[p]);
		pos = p;
	}
	tk_heap_set(t, pos, n);
}

/* --- updates --- */

void topk_add(topk_t *t, const uint8_t *key, unsigned keylen, uint64_t pkts, uint64_t bytes)
{
	struct tk_entry *e;
	uint64_t h;
	uint32_t slot, idx;
	int found;

	if (!pkts || keylen < 1 || keylen > TOPK_KEY_MAX)
		return;
	t->total_pkts += pkts;
	t->total_bytes += bytes;
	h = tk_hash(t, key, keylen);
	slot = tk_find(t, h, key, keylen, &found);
	if (found) {
		e = &t->e[t->slots[slot].idx1 - 1];
		e->pkts += pkts;
		e->bytes += bytes;
		tk_sift_down(t, e->hpos);
		return;
	}
	if (t->size < t->cap) {
		idx = t->size++;
		e = &t->e[idx];
		memset(e, 0, sizeof *e);
		e->hash = h;
		e->len = (uint8_t)keylen;
		memcpy(e->key, key, keylen);
		e->pkts = pkts;
		e->bytes = bytes;
		tk_slot_set(t, slot, (struct tk_slot){idx + 1, (uint32_t)h});
		tk_heap_set(t, idx, (struct tk_heap){pkts, idx});
		tk_sift_up(t, idx);
		return;
	}

	/* take over the counter with the fewest packets */
	idx = t->heap[0].idx;
	e = &t->e[idx];
	tk_unslot(t, e->slot);
	e->err_pkts = e->pkts;
	e->err_bytes = e->bytes;
	e->pkts += pkts;
	e->bytes += bytes;
	e->hash = h;
	e->len = (uint8_t)keylen;
	memset(e->key, 0, sizeof e->key);
	memcpy(e->key, key, keylen);
	/* the unslot may have moved the cluster: find the empty slot again */
	tk_slot_set(t, tk_free_slot(t, h), (struct tk_slot){idx + 1, (uint32_t)h});
	tk_sift_down(t, 0);
}

void topk_clear(topk_t *t)
{
	t->size = 0;
	t->total_pkts = t->total_bytes = 0;
	memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
}

unsigned topk_size(const topk_t *t)
{
	return t->size;
}

void topk_totals(const topk_t *t, uint64_t *pkts, uint64_t *bytes)
{
	if (pkts)
		*pkts = t->total_pkts;
	if (bytes)
		*bytes = t->total_bytes;
}

/* --- reporting --- */

/* < 0 if a sorts before b: more packets first, then key bytes, then the shorter key. */
static int tk_cmp(const struct topk_item *a, const struct topk_item *b)
{
	unsigned n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c;

	if (a->pkts != b->pkts)
		return a->pkts > b->pkts ? -1 : 1;
	c = memcmp(a->key, b->key, n);
	if (c)
		return c;
	return (int)a->keylen - (int)b->keylen;
}

static int tk_qcmp(const void *a, const void *b)
{
	return tk_cmp(a, b);
}

/* out[0..n) as a heap whose root sorts last. */
static void tk_sel_down(struct topk_item *h, unsigned n, unsigned pos)
{
	struct topk_item x = h[pos];

	for (;;) {
		unsigned c = 2 * pos + 1;

		if (c >= n)
			break;
		if (c + 1 < n && tk_cmp(&h[c + 1], &h[c]) > 0)
			c++;
		if (tk_cmp(&h[c], &x) <= 0)
			break;
		h[pos] = h[c];
		pos = c;
	}
	h[pos] = x;
}

static void tk_sel_up(struct topk_item *h, unsigned pos)
{
	struct topk_item x = h[pos];

	while (pos > 0) {
		unsigned p = (pos - 1) / 2;

		if (tk_cmp(&h[p], &x) >= 0)
			break;
		h[pos] = h[p];
		pos = p;
	}
	h[pos] = x;
}

static void tk_item(const struct tk_entry *e, struct topk_item *it)
{
	memset(it, 0, sizeof *it);
	memcpy(it->key, e->key, e->len);
	it->keylen = e->len;
	it->pkts = e->pkts;
	it->bytes = e->bytes;
	it->err_pkts = e->err_pkts;
	it->err_bytes = e->err_bytes;
}

unsigned topk_top(const topk_t *t, struct topk_item *out, unsigned n)
{
	unsigned m = n < t->size ? n : t->size, i, k = 0;
	struct topk_item it;

	if (!m)
		return 0;
	for (i = 0; i < t->size; i++) {
		tk_item(&t->e[i], &it);
		if (k < m) {
			out[k] = it;
			tk_sel_up(out, k++);
		} else if (tk_cmp(&it, &out[0]) < 0) {
			out[0] = it;
			tk_sel_down(out, m, 0);
		}
	}
	qsort(out, m, sizeof *out, tk_qcmp);
	return m;
}

/* --- keys --- */

unsigned topk_key_addr(uint8_t key[TOPK_KEY_MAX], uint8_t ip_version, const uint8_t addr[16])
{
	unsigned alen = ip_version == 4 ? 4 : ip_version == 6 ? 16 : 0;

	if (!alen)
		return 0;
	key[0] = ip_version;
	memcpy(key + 1, addr, alen);
	return 1 + alen;
}

unsigned topk_key_port(uint8_t key[TOPK_KEY_MAX], uint8_t proto, uint16_t port)
{
	key[0] = proto;
	key[1] = (uint8_t)(port >> 8);
	key[2] = (uint8_t)port;
	return 3;
}
