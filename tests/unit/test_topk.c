/*
 * test_topk.c - Space-Saving top talkers: exact while the keys fit, heavy hitters and the error
 * bounds in a skewed stream over far more keys than counters, deterministic order, clear.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "recorder/topk.h"
#include "testhelp.h"

static uint64_t rnd_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Key number i: IPv4 10.x.y.z for even i, a TCP port key for i % 4 == 1, IPv6 otherwise. */
static unsigned make_key(uint32_t i, uint8_t key[TOPK_KEY_MAX])
{
	uint8_t a[16] = {0};

	if (i % 2 == 0) {
		a[0] = 10;
		a[1] = (uint8_t)(i >> 16);
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		return topk_key_addr(key, 4, a);
	}
	if (i % 4 == 1 && i < 4 * 65536)
		return topk_key_port(key, 6, (uint16_t)(i / 4));
	a[0] = 0x20;
	a[1] = 0x01;
	a[12] = (uint8_t)(i >> 24);
	a[13] = (uint8_t)(i >> 16);
	a[14] = (uint8_t)(i >> 8);
	a[15] = (uint8_t)i;
	return topk_key_addr(key, 6, a);
}

static int item_is_key(const struct topk_item *it, uint32_t i)
{
	uint8_t k[TOPK_KEY_MAX];
	unsigned n = make_key(i, k);

	return it->keylen == n && memcmp(it->key, k, n) == 0;
}

/* Checks out[0..n) is sorted: packets descending, then key bytes, then shorter first. */
static int sorted_ok(const struct topk_item *out, unsigned n)
{
	unsigned i;

	for (i = 1; i < n; i++) {
		const struct topk_item *a = &out[i - 1], *b = &out[i];
		unsigned m = a->keylen < b->keylen ? a->keylen : b->keylen;
		int c = memcmp(a->key, b->key, m);

		if (a->pkts < b->pkts)
			return 0;
		if (a->pkts == b->pkts && (c > 0 || (c == 0 && a->keylen >= b->keylen)))
			return 0;
	}
	return 1;
}

#define NKEYS 100000

/* Finds the key number of an item made by make_key() (linear; test sizes are small). */
static int64_t key_number(const struct topk_item *it, uint32_t nkeys)
{
	uint32_t i;

	for (i = 0; i < nkeys; i++)
		if (item_is_key(it, i))
			return i;
	return -1;
}

/* Exact while distinct keys <= capacity: counts, bytes, no error, sorted. */
static void test_topk_exact(void)
{
	static uint64_t pk[50], by[50];
	struct topk_item out[80];
	uint64_t tp, tb, sum = 0;
	uint8_t key[TOPK_KEY_MAX];
	char err[128];
	topk_t *t = topk_new(64, err, sizeof err);
	unsigned i, n;

	CHECK(t != NULL);
	if (!t)
		return;
	memset(pk, 0, sizeof pk);
	memset(by, 0, sizeof by);
	for (i = 0; i < 20000; i++) {
		uint32_t k = (uint32_t)(rnd() % 50);
		uint64_t p = 1 + rnd() % 4, b = p * (60 + rnd() % 1400);

		if (i % 7 == 0)
			k = 3; /* one heavier key */
		topk_add(t, key, make_key(k, key), p, b);
		pk[k] += p;
		by[k] += b;
		sum += p;
	}
	CHECK_EQ_INT(topk_size(t), 50);
	topk_totals(t, &tp, &tb);
	CHECK_EQ_INT(tp, sum);
	n = topk_top(t, out, 80);
	CHECK_EQ_INT(n, 50);
	CHECK(sorted_ok(out, n));
	CHECK(item_is_key(&out[0], 3));
	for (i = 0; i < n; i++) {
		int64_t k = key_number(&out[i], 50);

		CHECK(k >= 0);
		if (k < 0)
			continue;
		CHECK_EQ_INT(out[i].pkts, pk[k]);
		CHECK_EQ_INT(out[i].bytes, by[k]);
		CHECK_EQ_INT(out[i].err_pkts, 0);
		CHECK_EQ_INT(out[i].err_bytes, 0);
	}
	/* top 5 only: the same first five */
	{
		struct topk_item five[5];

		CHECK_EQ_INT(topk_top(t, five, 5), 5);
		CHECK(memcmp(five, out, sizeof five) == 0);
		CHECK_EQ_INT(topk_top(t, five, 0), 0);
	}
	topk_free(t);
}

/* Zipf-like stream over 100k keys into 256 counters: the guarantees and the heavy hitters. */
static void test_topk_heavy_hitters(void)
{
	static double cdf[NKEYS];
	static uint64_t exact[NKEYS];
	static struct topk_item out[256];
	static uint32_t order[NKEYS];
	uint64_t total = 0, sum = 0;
	uint8_t key[TOPK_KEY_MAX];
	double acc = 0;
	char err[128];
	topk_t *t = topk_new(256, err, sizeof err);
	unsigned i, n, j, missing = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	for (i = 0; i < NKEYS; i++) {
		acc += 1.0 / pow((double)(i + 1), 1.1);
		cdf[i] = acc;
	}
	memset(exact, 0, sizeof exact);
	/* key ranks are scrambled so that key numbers do not follow the counts */
	for (i = 0; i < NKEYS; i++)
		order[i] = (uint32_t)(((uint64_t)i * 7919) % NKEYS);
	for (i = 0; i < 1000000; i++) {
		double u = (double)(rnd() >> 11) / 9007199254740992.0 * acc;
		uint32_t lo = 0, hi = NKEYS - 1, k;
		uint64_t p = 1 + (rnd() % 3 == 0);

		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		k = order[lo];
		topk_add(t, key, make_key(k, key), p, p * 100);
		exact[k] += p;
		total += p;
	}
	n = topk_top(t, out, 256);
	CHECK_EQ_INT(n, 256);
	CHECK(sorted_ok(out, n));
	for (i = 0; i < n; i++) {
		uint64_t tr;
		int64_t k;

		sum += out[i].pkts;
		/* find the key number: ranks map back through order[] */
		k = -1;
		for (j = 0; j < 2000 && k < 0; j++)
			if (item_is_key(&out[i], order[j]))
				k = order[j];
		if (k < 0) {
			/* a light key holding a counter: only its bound can be checked */
			CHECK(out[i].pkts >= out[i].err_pkts);
			continue;
		}
		tr = exact[k];
		CHECK(out[i].pkts >= tr);
		CHECK(out[i].pkts - out[i].err_pkts <= tr);
		CHECK(out[i].bytes - out[i].err_bytes <= tr * 100);
	}
	CHECK_EQ_INT(sum, total); /* counters add up to the stream */
	/* every key above total / capacity has a counter */
	for (i = 0; i < NKEYS; i++) {
		int in = 0;

		if (exact[i] <= total / 256)
			continue;
		for (j = 0; j < n && !in; j++)
			in = item_is_key(&out[j], i);
		if (!in)
			missing++;
	}
	CHECK_EQ_INT(missing, 0);
	/* the exact top 10 are the reported top 10, in order */
	for (i = 0; i < 10; i++) {
		uint32_t best = 0;

		for (j = 1; j < NKEYS; j++)
			if (exact[j] > exact[best])
				best = j;
		CHECK(item_is_key(&out[i], best));
		if (!item_is_key(&out[i], best))
			fprintf(stdout, "  rank %u: reported %llu packets, want key %u (%llu)\n", i,
				(unsigned long long)out[i].pkts, best,
				(unsigned long long)exact[best]);
		CHECK(out[i].err_pkts < out[i].pkts / 10);
		exact[best] = 0;
	}
	topk_free(t);
}

/* Same calls, same output: across tables (different hash seeds), and with ties. */
static void test_topk_deterministic(void)
{
	static struct topk_item a[32], b[32];
	uint8_t key[TOPK_KEY_MAX];
	topk_t *t1 = topk_new(32, NULL, 0), *t2 = topk_new(32, NULL, 0);
	unsigned i, na, nb;

	CHECK(t1 && t2);
	if (!t1 || !t2)
		goto out;
	for (i = 0; i < 50000; i++) {
		uint32_t k = (uint32_t)(rnd() % 500);
		unsigned len = make_key(k < 100 ? k % 10 : k, key);

		topk_add(t1, key, len, 1, 64);
		topk_add(t2, key, len, 1, 64);
	}
	na = topk_top(t1, a, 32);
	nb = topk_top(t2, b, 32);
	CHECK_EQ_INT(na, 32);
	CHECK_EQ_INT(na, nb);
	CHECK(memcmp(a, b, sizeof a) == 0);

	/* ties: equal counts come out in key order whatever the insertion order; a key that is a
	 * prefix of another comes first */
	topk_clear(t1);
	topk_clear(t2);
	{
		static const uint8_t keys[][4] = {{6, 0, 80},  {6, 0, 22},    {17, 0, 53},
						  {6, 1, 187}, {6, 0, 22, 1}, {6}};
		static const unsigned lens[] = {3, 3, 3, 3, 4, 1};
		static const unsigned want[] = {5, 1, 4, 0, 3, 2};

		for (i = 0; i < 6; i++) {
			topk_add(t1, keys[i], lens[i], 7, 1);
			topk_add(t2, keys[5 - i], lens[5 - i], 7, 1);
		}
		na = topk_top(t1, a, 32);
		nb = topk_top(t2, b, 32);
		CHECK_EQ_INT(na, 6);
		CHECK(memcmp(a, b, 6 * sizeof a[0]) == 0);
		for (i = 0; i < na; i++) {
			CHECK_EQ_INT(a[i].keylen, lens[want[i]]);
			CHECK(memcmp(a[i].key, keys[want[i]], lens[want[i]]) == 0);
		}
	}
out:
	topk_free(t1);
	topk_free(t2);
}

/* Clear forgets everything; the table counts exactly again afterwards. */
static void test_topk_clear(void)
{
	struct topk_item out[8];
	uint8_t key[TOPK_KEY_MAX];
	uint64_t tp, tb;
	topk_t *t = topk_new(4, NULL, 0);
	unsigned i;

	CHECK(t != NULL);
	if (!t)
		return;
	for (i = 0; i < 1000; i++)
		topk_add(t, key, make_key(i % 37, key), 1, 10);
	CHECK_EQ_INT(topk_size(t), 4);
	topk_clear(t);
	CHECK_EQ_INT(topk_size(t), 0);
	topk_totals(t, &tp, &tb);
	CHECK_EQ_INT(tp, 0);
	CHECK_EQ_INT(tb, 0);
	CHECK_EQ_INT(topk_top(t, out, 8), 0);
	for (i = 0; i < 4; i++)
		topk_add(t, key, make_key(i, key), i + 1, 100);
	topk_add(t, key, make_key(0, key), 10, 100);
	CHECK_EQ_INT(topk_top(t, out, 8), 4);
	CHECK(item_is_key(&out[0], 0));
	CHECK_EQ_INT(out[0].pkts, 11);
	CHECK_EQ_INT(out[0].bytes, 200);
	CHECK_EQ_INT(out[0].err_pkts, 0);
	CHECK(item_is_key(&out[1], 3));
	CHECK_EQ_INT(out[3].pkts, 2);
	topk_free(t);
}

/* Evictions with a tiny table: the invariants after every step, with a brute-force check. */
static void test_topk_evictions(void)
{
	static struct topk_item out[16];
	uint8_t key[TOPK_KEY_MAX];
	uint64_t exact[40] = {0}, total = 0;
	unsigned cap;

	for (cap = 1; cap <= 16; cap *= 2) {
		topk_t *t = topk_new(cap, NULL, 0);
		unsigned i, j, n;

		CHECK(t != NULL);
		if (!t)
			return;
		memset(exact, 0, sizeof exact);
		total = 0;
		for (i = 0; i < 5000; i++) {
			uint32_t k = (uint32_t)(rnd() % 40);
			uint64_t p = 1 + rnd() % 5, sum = 0, minc = UINT64_MAX;

			topk_add(t, key, make_key(k, key), p, p);
			exact[k] += p;
			total += p;
			n = topk_top(t, out, 16);
			CHECK_EQ_INT(n, topk_size(t));
			for (j = 0; j < n; j++) {
				int64_t kk = key_number(&out[j], 40);

				sum += out[j].pkts;
				if (out[j].pkts < minc)
					minc = out[j].pkts;
				CHECK(kk >= 0);
				if (kk < 0)
					continue;
				CHECK(out[j].pkts >= exact[kk]);
				CHECK(out[j].pkts - out[j].err_pkts <= exact[kk]);
			}
			CHECK_EQ_INT(sum, total);
			/* unmonitored keys never had more than the smallest counter */
			for (j = 0; j < 40 && n == cap; j++) {
				unsigned x, in = 0;

				for (x = 0; x < n && !in; x++)
					in = item_is_key(&out[x], j);
				if (!in)
					CHECK(exact[j] <= minc);
			}
			if (th_failed_checks)
				break;
		}
		topk_free(t);
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct topk_item *x = a, *y = b;
	int c = memcmp(x->key, y->key, TOPK_KEY_MAX);

	return c ? c : (int)x->keylen - (int)y->keylen;
}

/* Many evictions in a larger table: no key twice, bounds hold, counters add up. */
static void test_topk_churn(void)
{
	static struct topk_item out[512];
	static uint64_t exact[3000];
	uint8_t key[TOPK_KEY_MAX];
	uint64_t total = 0;
	topk_t *t;
	unsigned i, j, n, cap;

	/* small tables first: every add evicts and clusters shift all the time */
	for (cap = 2; cap <= 8; cap++) {
		t = topk_new(cap, NULL, 0);
		CHECK(t != NULL);
		if (!t)
			return;
		for (i = 0; i < 50000; i++)
			topk_add(t, key, make_key((uint32_t)(rnd() % 1000), key), 1, 1);
		n = topk_top(t, out, cap);
		CHECK_EQ_INT(n, cap);
		qsort(out, n, sizeof out[0], key_cmp);
		for (j = 1; j < n; j++)
			CHECK(key_cmp(&out[j - 1], &out[j]) != 0);
		topk_free(t);
	}

	t = topk_new(512, NULL, 0);
	CHECK(t != NULL);
	if (!t)
		return;
	memset(exact, 0, sizeof exact);
	for (i = 1; i <= 300000; i++) {
		uint32_t k = (uint32_t)(rnd() % (i < 150000 ? 3000 : 600));

		topk_add(t, key, make_key(k, key), 1, 1);
		exact[k]++;
		total++;
		if (i % 5000)
			continue;
		n = topk_top(t, out, 512);
		CHECK_EQ_INT(n, 512);
		for (j = 0; j < n; j++) {
			uint32_t x;

			for (x = 0; x < 3000 && !item_is_key(&out[j], x); x++)
				;
			CHECK(x < 3000);
			if (x < 3000)
				CHECK(out[j].pkts >= exact[x] &&
				      out[j].pkts - out[j].err_pkts <= exact[x]);
		}
		qsort(out, n, sizeof out[0], key_cmp);
		for (j = 1; j < n; j++)
			CHECK(key_cmp(&out[j - 1], &out[j]) != 0);
		{
			uint64_t sum = 0;

			for (j = 0; j < n; j++)
				sum += out[j].pkts;
			CHECK_EQ_INT(sum, total);
		}
		if (th_failed_checks)
			break;
	}
	topk_free(t);
}

static void test_topk_args(void)
{
	struct topk_item out[4];
	uint8_t key[TOPK_KEY_MAX] = {1, 2, 3}, a[16] = {192, 0, 2, 1};
	char err[128];
	topk_t *t;

	err[0] = 0;
	CHECK(topk_new(0, err, sizeof err) == NULL);
	CHECK_EQ_STR(err, "invalid top-k capacity `0': expected 1 to 1048576 keys");
	CHECK(topk_new(TOPK_MAX_CAPACITY + 1, err, sizeof err) == NULL);
	CHECK(strstr(err, "`1048577'") != NULL);
	CHECK(topk_new(0, NULL, 0) == NULL);
	topk_free(NULL);

	t = topk_new(2, err, sizeof err);
	CHECK(t != NULL);
	if (!t)
		return;
	topk_add(t, key, 0, 1, 1);
	topk_add(t, key, TOPK_KEY_MAX + 1, 1, 1);
	topk_add(t, key, 3, 0, 100);
	CHECK_EQ_INT(topk_size(t), 0);
	topk_add(t, key, TOPK_KEY_MAX, 1, 1);
	CHECK_EQ_INT(topk_top(t, out, 4), 1);
	CHECK_EQ_INT(out[0].keylen, TOPK_KEY_MAX);
	topk_free(t);

	CHECK_EQ_INT(topk_key_addr(key, 4, a), 5);
	CHECK(key[0] == 4 && key[1] == 192 && key[4] == 1);
	CHECK_EQ_INT(topk_key_addr(key, 6, a), 17);
	CHECK(key[0] == 6 && key[1] == 192 && key[16] == 0);
	CHECK_EQ_INT(topk_key_addr(key, 0, a), 0);
	CHECK_EQ_INT(topk_key_port(key, 17, 0x1234), 3);
	CHECK(key[0] == 17 && key[1] == 0x12 && key[2] == 0x34);
}

int main(void)
{
	RUN(test_topk_exact);
	RUN(test_topk_heavy_hitters);
	RUN(test_topk_deterministic);
	RUN(test_topk_clear);
	RUN(test_topk_evictions);
	RUN(test_topk_churn);
	RUN(test_topk_args);
	return test_main_end();
}
