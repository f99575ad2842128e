/*
 * test_ring.c - pre-trigger ring: wrap-around, sizes, time mode, memory, and a random run
 * checked against a plain array of everything pushed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "recorder/ring.h"
#include "testhelp.h"

#define SEC 1000000000LL

/* --- packets that can be recognised: number n gives its bytes, lengths and timestamp --- */

static uint8_t pkt_byte(uint32_t n, uint32_t j)
{
	uint32_t x = n * 2654435761u + j * 40503u;

	return (uint8_t)(x >> 13 ^ x);
}

static void pkt_fill(uint8_t *buf, uint32_t n, uint32_t caplen)
{
	uint32_t j;

	for (j = 0; j < caplen; j++)
		buf[j] = pkt_byte(n, j);
}

static int pkt_check(uint32_t n, uint32_t caplen, const uint8_t *data)
{
	uint32_t j;

	for (j = 0; j < caplen; j++)
		if (data[j] != pkt_byte(n, j))
			return 0;
	return 1;
}

/* sec and frac as a pcap file may hold them, including a fraction out of range */
static int64_t pkt_sec(uint32_t n)
{
	return 1700000000LL + n;
}

static uint32_t pkt_frac(uint32_t n)
{
	return n % 7 == 3 ? 0xfffffff0u - n : n * 997u % 1000000u;
}

static uint8_t g_buf[RING_MAX_CAPLEN];

/* pushes packet n with the given lengths; its time in ns is ts_ns */
static void push_n(ring_t *r, uint32_t n, uint32_t caplen, uint32_t wirelen, int64_t ts_ns)
{
	pkt_fill(g_buf, n, caplen);
	ring_push(r, pkt_sec(n), pkt_frac(n), ts_ns, caplen, wirelen, caplen ? g_buf : NULL);
}

/* --- collecting a walk: the packet number is recovered from sec --- */

#define COL_MAX 4096

struct col {
	uint32_t n[COL_MAX];
	uint32_t caplen[COL_MAX];
	uint32_t wirelen[COL_MAX];
	int count;
	int bad;     /* bytes, frac or a NULL pointer did not match */
	int stop_at; /* return -7 when this many were seen (0: never) */
};

static int col_visit(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		     const uint8_t *data)
{
	struct col *c = ctx;
	uint32_t n = (uint32_t)(sec - pkt_sec(0));

	if (!data || frac != pkt_frac(n) || !pkt_check(n, caplen, data))
		c->bad++;
	if (c->count < COL_MAX) {
		c->n[c->count] = n;
		c->caplen[c->count] = caplen;
		c->wirelen[c->count] = wirelen;
	}
	c->count++;
	if (c->stop_at && c->count == c->stop_at)
		return -7;
	return 0;
}

static ring_t *new_count_ring(uint32_t max_packets, uint32_t max_caplen)
{
	struct ring_config c;
	char err[256] = "";
	ring_t *r;

	ring_config_init(&c);
	c.max_packets = max_packets;
	c.max_caplen = max_caplen;
	r = ring_new(&c, err, sizeof err);
	if (!r)
		fprintf(stdout, "  ring_new: %s\n", err);
	return r;
}

static ring_t *new_time_ring_kb(int64_t max_age_ns, uint64_t budget, uint32_t max_caplen,
				uint32_t keep_before)
{
	struct ring_config c;
	char err[256] = "";
	ring_t *r;

	ring_config_init(&c);
	c.keep_before = keep_before;
	c.max_age_ns = max_age_ns;
	c.budget_bytes = budget;
	c.max_caplen = max_caplen;
	r = ring_new(&c, err, sizeof err);
	if (!r)
		fprintf(stdout, "  ring_new: %s\n", err);
	return r;
}

static ring_t *new_time_ring(int64_t max_age_ns, uint64_t budget, uint32_t max_caplen)
{
	return new_time_ring_kb(max_age_ns, budget, max_caplen, 0);
}

/* --- count mode --- */

static void test_ring_wrap_count(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_count_ring(500, RING_MAX_CAPLEN);
	int64_t t;
	uint32_t i;
	int ok = 1;

	CHECK(r != NULL);
	if (!r)
		return;
	for (i = 0; i < 1000; i++)
		push_n(r, i, 1514, 1514 + i % 3, (int64_t)i * SEC);
	CHECK_EQ_INT(ring_count(r), 500);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 500);
	CHECK_EQ_INT(c.count, 500);
	CHECK_EQ_INT(c.bad, 0);
	for (i = 0; i < 500; i++)
		if (c.n[i] != 500 + i || c.caplen[i] != 1514 ||
		    c.wirelen[i] != 1514 + (500 + i) % 3)
			ok = 0;
	CHECK(ok);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.pushed, 1000);
	CHECK_EQ_INT(st.evicted_count, 500);
	CHECK_EQ_INT(st.evicted_space, 0); /* 500 full frames always fit */
	CHECK_EQ_INT(st.evicted_age, 0);
	CHECK_EQ_INT(st.count, 500);
	CHECK_EQ_INT(st.capacity, 500);
	CHECK_EQ_INT(st.bytes, 500 * 1514);
	CHECK_EQ_INT(ring_oldest_ns(r, &t), 0);
	CHECK_EQ_INT(t, 500 * SEC);
	CHECK_EQ_INT(ring_newest_ns(r, &t), 0);
	CHECK_EQ_INT(t, 999 * SEC);
	ring_free(r);
}

static void test_ring_sizes(void)
{
	/* arena = 100 * 1514 + 10000 = 161400 bytes */
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_count_ring(100, 10000);
	uint32_t i;
	int ok = 1;

	CHECK(r != NULL);
	if (!r)
		return;
	ring_stats(r, &st);
	CHECK_EQ_INT(st.data_bytes, 161400);
	for (i = 0; i < 100; i++) /* packet i at [1514 i, 1514 (i + 1)) */
		push_n(r, i, 1514, 1514, i);
	push_n(r, 100, 10000, 10000, 100); /* evicts #0 by count, fits up to the arena's end */
	ring_stats(r, &st);
	CHECK_EQ_INT(st.count, 100);
	CHECK_EQ_INT(st.evicted_count, 1);
	CHECK_EQ_INT(st.evicted_space, 0);
	/* at the front: evicts #1 by count, then #2..#6 which lie in its first 10000 bytes */
	push_n(r, 101, 10000, 60000, 101);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.count, 95);
	CHECK_EQ_INT(st.evicted_count, 2);
	CHECK_EQ_INT(st.evicted_space, 5);
	CHECK_EQ_INT(st.bytes, 93 * 1514 + 20000);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 95);
	CHECK_EQ_INT(c.bad, 0);
	for (i = 0; i < 95; i++)
		if (c.n[i] != 7 + i)
			ok = 0;
	CHECK(ok);
	CHECK_EQ_INT(c.caplen[93], 10000);
	CHECK_EQ_INT(c.wirelen[94], 60000);

	/* only max-size packets: 16 fit (160000 bytes), then each evicts one by space */
	for (i = 200; i < 240; i++)
		push_n(r, i, 10000, 10000, i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 16);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 224);
	CHECK_EQ_INT(c.n[15], 239);

	/* small packets again: back to 100 held */
	for (i = 300; i < 500; i++)
		push_n(r, i, 60 + i % 1455, 1514, i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 100);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 400);
	ring_free(r);
}

static void test_ring_zero_caplen(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_count_ring(10, 100);
	uint32_t i;
	int ok = 1;

	CHECK(r != NULL);
	if (!r)
		return;
	/* arena = 10 * 100 + 100 = 1100 bytes: seven full packets, then three empty ones */
	for (i = 0; i < 7; i++)
		push_n(r, i, 100, 100, i);
	for (i = 7; i < 10; i++)
		push_n(r, i, 0, 1514, i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 10);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.caplen[9], 0);
	CHECK_EQ_INT(c.wirelen[9], 1514);
	for (i = 10; i < 1000; i++)
		push_n(r, i, i % 3 ? 0 : 100, 60, i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 10);
	CHECK_EQ_INT(c.bad, 0);
	for (i = 0; i < 10; i++)
		if (c.n[i] != 990 + i || c.caplen[i] != ((990 + i) % 3 ? 0u : 100u))
			ok = 0;
	CHECK(ok);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.evicted_space, 0);
	CHECK_EQ_INT(st.evicted_count, 990);
	ring_free(r);

	/* a ring of nothing but zero-length packets */
	r = new_count_ring(3, 1);
	CHECK(r != NULL);
	if (!r)
		return;
	for (i = 0; i < 5; i++)
		ring_push(r, pkt_sec(i), pkt_frac(i), i, 0, 0, NULL);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 3);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 2);
	ring_free(r);
}

static void test_ring_too_big(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_count_ring(4, 100);

	CHECK(r != NULL);
	if (!r)
		return;
	push_n(r, 0, 100, 100, 0); /* exactly max_caplen: stored */
	push_n(r, 1, 101, 101, 1);
	push_n(r, 2, 50, 50, 2);
	ring_push(r, pkt_sec(3), 0, 3, UINT32_MAX, UINT32_MAX, g_buf); /* never read */
	ring_stats(r, &st);
	CHECK_EQ_INT(st.pushed, 4);
	CHECK_EQ_INT(st.too_big, 2);
	CHECK_EQ_INT(st.count, 2);
	CHECK_EQ_INT(st.bytes, 150);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 2);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 0);
	CHECK_EQ_INT(c.n[1], 2);
	ring_free(r);
}

/* --- time mode --- */

static void test_ring_time_window(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_time_ring(10 * SEC, RING_MIN_BUDGET, 1514);
	int64_t t;
	uint32_t i;

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_EQ_INT(ring_oldest_ns(r, &t), -1);
	CHECK_EQ_INT(ring_newest_ns(r, &t), -1);
	for (i = 0; i <= 30; i++) /* one packet a second, 0 s .. 30 s */
		push_n(r, i, 100, 100, (int64_t)i * SEC);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 11); /* 20 s .. 30 s: the bound is inclusive */
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 20);
	CHECK_EQ_INT(ring_oldest_ns(r, &t), 0);
	CHECK_EQ_INT(t, 20 * SEC);
	CHECK_EQ_INT(ring_newest_ns(r, &t), 0);
	CHECK_EQ_INT(t, 30 * SEC);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.evicted_age, 20);
	CHECK_EQ_INT(st.evicted_count, 0);
	CHECK_EQ_INT(st.evicted_space, 0);

	/* one nanosecond past the window */
	push_n(r, 31, 100, 100, 30 * SEC + 1);
	CHECK_EQ_INT(ring_oldest_ns(r, &t), 0);
	CHECK_EQ_INT(t, 21 * SEC);
	/* a gap longer than the window leaves only the new packet */
	push_n(r, 32, 100, 100, 100 * SEC);
	CHECK_EQ_INT(ring_count(r), 1);
	ring_free(r);

	/* times at the ends of int64 do not overflow */
	r = new_time_ring(INT64_MAX, RING_MIN_BUDGET, 1514);
	CHECK(r != NULL);
	if (!r)
		return;
	push_n(r, 0, 10, 10, INT64_MIN);
	push_n(r, 1, 10, 10, INT64_MAX);
	CHECK_EQ_INT(ring_count(r), 1); /* 2^64 - 1 ns apart > INT64_MAX */
	push_n(r, 2, 10, 10, 0);
	push_n(r, 3, 10, 10, INT64_MAX);
	CHECK_EQ_INT(ring_count(r), 3);
	ring_free(r);
}

/* keep_before: the packets before the window are kept by number, however old */
static void test_ring_keep_before(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_time_ring_kb(10 * SEC, RING_MIN_BUDGET, 1514, 5);
	uint32_t i;

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK(ring_complete(r));
	for (i = 0; i <= 30; i++) /* one packet a second, 0 s .. 30 s */
		push_n(r, i, 100, 100, (int64_t)i * SEC);
	memset(&c, 0, sizeof c);
	/* 20 s .. 30 s in the window and the 5 before it: 15 s .. 19 s */
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 16);
	CHECK_EQ_INT(c.n[0], 15);
	CHECK(!ring_complete(r));
	ring_stats(r, &st);
	CHECK_EQ_INT(st.evicted_age, 15);
	CHECK_EQ_INT(st.keep_before, 5);
	CHECK_EQ_INT(st.max_age_ns, 10 * SEC);
	/* a quiet hour, then a burst of 100 packets in one second: the 5 before the window are the
	 * last 5 of before the quiet hour, not the start of the burst */
	for (i = 31; i < 131; i++)
		push_n(r, i, 100, 100, 3600 * SEC + (int64_t)(i - 31) * (SEC / 100));
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 105);
	CHECK_EQ_INT(c.n[0], 26);
	CHECK_EQ_INT(c.n[5], 31);
	CHECK_EQ_INT(c.bad, 0);
	/* ring_foreach_from: from a position, and past the end */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach_from(r, 5, col_visit, &c), 100);
	CHECK_EQ_INT(c.n[0], 31);
	CHECK_EQ_INT(ring_foreach_from(r, 105, col_visit, &c), 0);
	CHECK_EQ_INT(ring_foreach_from(r, 1000, col_visit, &c), 0);
	/* after a clear the ring is complete again until it evicts */
	ring_clear(r);
	CHECK(ring_complete(r));
	push_n(r, 200, 100, 100, 7200 * SEC);
	CHECK(ring_complete(r));
	ring_free(r);
}

static void test_ring_time_backwards(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_time_ring(10 * SEC, RING_MIN_BUDGET, 1514);
	uint32_t i;
	int ok = 1;

	CHECK(r != NULL);
	if (!r)
		return;
	/* 100 s .. 105 s, one packet stamped 50 s among them: nothing is evicted for it */
	push_n(r, 0, 60, 60, 100 * SEC);
	push_n(r, 1, 60, 60, 101 * SEC);
	push_n(r, 2, 60, 60, 50 * SEC);
	push_n(r, 3, 60, 60, 102 * SEC);
	push_n(r, 4, 60, 60, 105 * SEC);
	CHECK_EQ_INT(ring_count(r), 5);
	/* at 111.5 s the two oldest go, then the 50 s one, which is now the oldest */
	push_n(r, 5, 60, 60, 111 * SEC + SEC / 2);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 3);
	CHECK_EQ_INT(c.n[0], 3);
	CHECK_EQ_INT(c.n[1], 4);
	CHECK_EQ_INT(c.n[2], 5);
	CHECK_EQ_INT(c.bad, 0);

	/* the clock steps back an hour: the older packets stay, in arrival order */
	for (i = 6; i < 20; i++)
		push_n(r, i, 60, 60, (int64_t)(i - 6) * SEC);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 17);
	for (i = 0; i < 17; i++)
		if (c.n[i] != 3 + i)
			ok = 0;
	CHECK(ok);
	/* ... until they are the oldest and time has passed them (111.5 s + the window) */
	push_n(r, 20, 60, 60, 122 * SEC);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 1);
	CHECK_EQ_INT(c.n[0], 20);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.evicted_age, 20);
	CHECK_EQ_INT(st.evicted_space, 0);
	ring_free(r);
}

static void test_ring_time_budget(void)
{
	static struct col c;
	struct ring_stats st, st2;
	ring_t *r = new_time_ring(3600 * SEC, RING_MIN_BUDGET, 9000);
	uint64_t pushed = 0;
	uint32_t i, cap;
	int ok = 1;

	CHECK(r != NULL);
	if (!r)
		return;
	ring_stats(r, &st);
	CHECK(st.mem_bytes <= RING_MIN_BUDGET + 256);
	CHECK(st.data_bytes >= RING_MIN_BUDGET / 2);
	cap = st.capacity;
	CHECK(cap >= 4096);

	/* a flood of full frames within a second: the arena runs out, the oldest go */
	for (i = 0; i < 2000; i++, pushed++)
		push_n(r, i, 1514, 1514, 1000 * SEC + i);
	ring_stats(r, &st);
	CHECK(st.evicted_space > 0);
	CHECK_EQ_INT(st.evicted_age, 0);
	CHECK_EQ_INT(st.evicted_count, 0);
	CHECK_EQ_INT(st.count + st.evicted_space, 2000);
	CHECK(st.bytes <= st.data_bytes);
	CHECK(st.bytes + 1514 > st.data_bytes - 1514); /* full up to one frame and the padding */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), (int)st.count);
	CHECK_EQ_INT(c.bad, 0);
	for (i = 0; i < st.count; i++)
		if (c.n[i] != 2000 - st.count + i)
			ok = 0;
	CHECK(ok);

	/* a flood of tiny packets: the index runs out first */
	for (i = 0; i < cap + 100; i++, pushed++)
		push_n(r, 10000 + i % 1000, 0, 60, 1001 * SEC);
	ring_stats(r, &st2);
	CHECK_EQ_INT(st2.count, cap);
	CHECK_EQ_INT(st2.evicted_space, st.evicted_space + st.count + 100);
	CHECK_EQ_INT(st2.pushed, pushed);
	ring_free(r);
}

/* --- memory, walk, clear, config --- */

static void test_ring_memory(void)
{
	struct ring_config c;
	struct ring_stats st;
	char err[256];
	ring_t *r;

	ring_config_init(&c); /* 500 packets, max_caplen 262144 */
	r = ring_new(&c, err, sizeof err);
	CHECK(r != NULL);
	if (!r)
		return;
	ring_stats(r, &st);
	CHECK_EQ_INT(st.capacity, 500);
	CHECK_EQ_INT(st.data_bytes, 500 * 1514 + 262144);
	CHECK(st.mem_bytes <= 1048576); /* data, index and all */
	ring_free(r);

	c.max_caplen = 96; /* a short snaplen shrinks the arena */
	r = ring_new(&c, err, sizeof err);
	CHECK(r != NULL);
	if (!r)
		return;
	ring_stats(r, &st);
	CHECK_EQ_INT(st.data_bytes, 501 * 96);
	ring_free(r);

	c.max_caplen = RING_MAX_CAPLEN;
	c.max_age_ns = 60 * SEC;
	r = ring_new(&c, err, sizeof err);
	CHECK(r != NULL);
	if (!r)
		return;
	ring_stats(r, &st);
	CHECK(st.mem_bytes <= RING_DEFAULT_BUDGET + 256);
	CHECK(st.mem_bytes >= RING_DEFAULT_BUDGET - 64);
	CHECK(st.capacity >= 400000);
	ring_free(r);
}

static void test_ring_foreach_stop(void)
{
	static struct col c;
	ring_t *r = new_count_ring(8, 1514);
	uint32_t i;

	CHECK(r != NULL);
	if (!r)
		return;
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 0); /* empty */
	CHECK_EQ_INT(c.count, 0);
	for (i = 0; i < 20; i++)
		push_n(r, i, 200, 200, i);
	memset(&c, 0, sizeof c);
	c.stop_at = 3;
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), -7);
	CHECK_EQ_INT(c.count, 3);
	CHECK_EQ_INT(c.n[2], 14);
	CHECK_EQ_INT(ring_count(r), 8); /* the walk does not change the ring */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 8);
	CHECK_EQ_INT(c.bad, 0);
	ring_free(r);
}

static void test_ring_clear(void)
{
	static struct col c;
	struct ring_stats st;
	ring_t *r = new_count_ring(8, 1514);
	int64_t t;
	uint32_t i;

	CHECK(r != NULL);
	if (!r)
		return;
	for (i = 0; i < 13; i++)
		push_n(r, i, 1000, 1000, i);
	ring_clear(r);
	CHECK_EQ_INT(ring_count(r), 0);
	CHECK_EQ_INT(ring_oldest_ns(r, &t), -1);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 0);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.cleared, 8);
	CHECK_EQ_INT(st.bytes, 0);
	CHECK_EQ_INT(st.pushed, 13);
	for (i = 100; i < 111; i++)
		push_n(r, i, 1514, 1514, i);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(ring_foreach(r, col_visit, &c), 8);
	CHECK_EQ_INT(c.bad, 0);
	CHECK_EQ_INT(c.n[0], 103);
	ring_clear(r);
	ring_clear(r);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.cleared, 16);
	ring_free(r);
}

static void test_ring_bad_config(void)
{
	static const struct {
		struct ring_config cfg;
		const char *msg;
	} cases[] = {
	    {{0, 0, 0, 1514, 0}, "invalid ring size `0': expected 1 to 1048576 packets"},
	    {{2000000, 0, 0, 1514, 0}, "invalid ring size `2000000': expected 1 to 1048576 packets"},
	    {{500, 0, 0, 0, 0}, "invalid ring max caplen `0': expected 1 to 262144 bytes"},
	    {{500, 0, 0, 262145, 0}, "invalid ring max caplen `262145': expected 1 to 262144 bytes"},
	    {{500, -1, 0, 1514, 0}, "invalid ring max age `-1' ns: expected 0 (count mode) or more"},
	    {{500, SEC, 0, 1514, 0},
	     "invalid ring memory budget `0' bytes: expected 1048576 to 68719476736"},
	    {{500, SEC, 1048575, 1514, 0},
	     "invalid ring memory budget `1048575' bytes: expected 1048576 to 68719476736"},
	    {{500, SEC, 68719476737ull, 1514, 0},
	     "invalid ring memory budget `68719476737' bytes: expected 1048576 to 68719476736"},
	    {{500, SEC, RING_MIN_BUDGET, 1514, 2000000},
	     "invalid ring keep-before `2000000': expected 0 to 1048576 packets"},
	};
	struct ring_config ok = {0, SEC, RING_MIN_BUDGET, 1, 0}; /* max_packets unused in time mode */
	char err[256];
	ring_t *r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = 0;
		CHECK(ring_new(&cases[i].cfg, err, sizeof err) == NULL);
		CHECK_EQ_STR(err, cases[i].msg);
	}
	CHECK(ring_new(NULL, err, sizeof err) == NULL);
	CHECK(ring_new(&cases[0].cfg, NULL, 0) == NULL);
	r = ring_new(&ok, err, sizeof err);
	CHECK(r != NULL);
	ring_free(r);
	ring_free(NULL);
}

/* --- random run against a plain array of everything pushed --- */

struct model_pkt {
	uint32_t caplen, wirelen;
	int64_t ts_ns;
};

struct model {
	struct model_pkt *p; /* every packet pushed and stored (not too big), in order */
	uint64_t *sum;	     /* sum[i]: caplen of p[0..i) */
	uint32_t n;	     /* packets in p */
	uint32_t first;	     /* packets before it were cleared */
};

struct walk {
	const struct model *m;
	uint32_t next; /* index in m->p expected next */
	int bad;
};

static int walk_visit(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		      const uint8_t *data)
{
	struct walk *w = ctx;
	const struct model_pkt *mp = &w->m->p[w->next];
	uint32_t n = w->next++;

	if (sec != pkt_sec(n) || frac != pkt_frac(n) || caplen != mp->caplen ||
	    wirelen != mp->wirelen || !data || !pkt_check(n, caplen, data))
		w->bad++;
	return 0;
}

static uint64_t rnd_state = 0x853c49e6748fea9bULL;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 32);
}

static uint32_t rnd_caplen(uint32_t max_caplen)
{
	uint32_t k = rnd() % 100;

	if (k < 5)
		return 0;
	if (k < 40)
		return 60 + rnd() % 40;
	if (k < 80)
		return 1514;
	if (k < 97)
		return rnd() % (max_caplen + 1);
	if (k < 99)
		return max_caplen;
	return max_caplen + 1 + rnd() % 1000; /* too big */
}

/*
 * After each push: the ring holds exactly the last ring_count() packets stored, it respects its
 * bounds, and it evicted no more than it had to: the next older packet was over the age, or did
 * not fit the count, the index, or the arena (with the padding a wrap can waste, < max_caplen).
 */
static void random_run(ring_t *r, uint32_t pushes, uint32_t max_caplen, int64_t max_age,
		       uint32_t max_packets)
{
	struct model m;
	struct ring_stats st;
	uint32_t *dq, dqh = 0, dqt = 0; /* stored packets held, ts decreasing: max ts held first */
	int64_t ts = 1000 * SEC;
	uint32_t i, fails = 0;

	m.p = calloc(pushes, sizeof *m.p);
	m.sum = calloc(pushes + 1, sizeof *m.sum);
	dq = calloc(pushes, sizeof *dq);
	m.n = m.first = 0;
	CHECK(m.p && m.sum && dq);
	if (!m.p || !m.sum || !dq)
		goto out;
	ring_stats(r, &st);
	for (i = 0; i < pushes; i++) {
		uint32_t caplen = rnd_caplen(max_caplen), cnt, n = m.n;
		uint32_t wirelen = caplen + rnd() % 64;
		uint64_t bytes;
		const char *bad = NULL;
		int64_t t;

		if (rnd() % 50000 == 0) {
			ring_clear(r);
			m.first = m.n;
		}
		if (max_age)
			ts += rnd() % 8 == 0 ? -(int64_t)(rnd() % 1000) : (int64_t)(rnd() % 2000);
		if (caplen > max_caplen) {
			ring_push(r, pkt_sec(n), pkt_frac(n), ts, caplen, wirelen, g_buf);
			continue;
		}
		pkt_fill(g_buf, n, caplen);
		ring_push(r, pkt_sec(n), pkt_frac(n), ts, caplen, wirelen, g_buf);
		m.p[n].caplen = caplen;
		m.p[n].wirelen = wirelen;
		m.p[n].ts_ns = ts;
		m.sum[n + 1] = m.sum[n] + caplen;
		m.n++;
		while (dqt > dqh && m.p[dq[dqt - 1]].ts_ns <= ts)
			dqt--;
		dq[dqt++] = n;

		cnt = ring_count(r);
		if (cnt < 1 || cnt > m.n - m.first || cnt > st.capacity) {
			if (fails++ < 5)
				fprintf(stdout, "  random: holds %u after push %u\n", cnt, i);
			break;
		}
		bytes = m.sum[m.n] - m.sum[m.n - cnt];
		while (dq[dqh] < m.n - cnt) /* dq[dqt - 1] == n is held */
			dqh++;
		if (bytes > st.data_bytes)
			bad = "more bytes than the arena";
		if (!bad && cnt < m.n - m.first) { /* why was the next older one evicted? */
			const struct model_pkt *older = &m.p[m.n - cnt - 1];
			int64_t newest = m.p[dq[dqh]].ts_ns; /* latest time held */
			int why = 0;

			/* too old for a later push: those are all held, the latest is newest */
			if (max_age && older->ts_ns < newest && newest - older->ts_ns > max_age)
				why = 1;
			if (cnt == st.capacity || (!max_age && cnt == max_packets))
				why = 1;
			if (bytes + older->caplen + max_caplen - 1 > st.data_bytes)
				why = 1;
			if (!why)
				bad = "evicted one it had room for";
		}
		if (!bad && max_age && ring_oldest_ns(r, &t) == 0 && t < ts && ts - t > max_age)
			bad = "the oldest is over the age";
		if (!bad && (i % 997 == 0 || i == pushes - 1)) {
			struct walk w = {&m, m.n - cnt, 0};

			if (ring_foreach(r, walk_visit, &w) != (int)cnt || w.bad || w.next != m.n)
				bad = "walk differs";
		}
		if (bad && fails++ < 5)
			fprintf(stdout, "  random: %s after push %u (holds %u)\n", bad, i, cnt);
	}
	CHECK_EQ_INT(fails, 0);
	ring_stats(r, &st);
	CHECK_EQ_INT(st.pushed, pushes);
	CHECK_EQ_INT(st.too_big + st.evicted_count + st.evicted_age + st.evicted_space +
			 st.cleared + st.count,
		     pushes);
	if (st.count <= m.n)
		CHECK_EQ_INT(st.bytes, m.sum[m.n] - m.sum[m.n - st.count]);
	CHECK(st.evicted_space > 0);
	if (max_age)
		CHECK(st.evicted_age > 0);
	else
		CHECK(st.evicted_count > 0);
out:
	free(m.p);
	free(m.sum);
	free(dq);
}

static void test_ring_random_count(void)
{
	ring_t *r = new_count_ring(500, 9000);

	CHECK(r != NULL);
	if (r)
		random_run(r, 200000, 9000, 0, 500);
	ring_free(r);
}

static void test_ring_random_time(void)
{
	/*
	 * About 250 packets in the window (time goes on 800 ns a push on average, sometimes back):
	 * usually they fit the 768 KiB arena of a 1 MiB budget, not when the large ones bunch.
	 */
	ring_t *r = new_time_ring(200000, RING_MIN_BUDGET, 16384);

	CHECK(r != NULL);
	if (r)
		random_run(r, 200000, 16384, 200000, 0);
	ring_free(r);
}

int main(void)
{
	RUN(test_ring_wrap_count);
	RUN(test_ring_sizes);
	RUN(test_ring_zero_caplen);
	RUN(test_ring_too_big);
	RUN(test_ring_time_window);
	RUN(test_ring_keep_before);
	RUN(test_ring_time_backwards);
	RUN(test_ring_time_budget);
	RUN(test_ring_memory);
	RUN(test_ring_foreach_stop);
	RUN(test_ring_clear);
	RUN(test_ring_bad_config);
	RUN(test_ring_random_count);
	RUN(test_ring_random_time);
	return test_main_end();
}
