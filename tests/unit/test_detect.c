/*
 * test_detect.c - attack detection: scenarios as tables of synthetic traffic (segments of
 * packets at a given rate) and the incidents expected to open and resolve, a brute-force model
 * of the window rules over random streams, and the edges: time going backwards, jumps of days,
 * idle ticks, statistics mode, reporting and configuration.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "recorder/detect.h"
#include "testhelp.h"

#define US 1000LL
#define MS 1000000LL
#define SEC 1000000000LL

/* --- synthetic traffic --- */

enum kind { K_ACK = 0, K_SYN, K_SYNACK, K_UDP, K_ICMP, K_ICMP6, K_NONIP };

/* Packets at start + i / pps for i < pps * dur, destinations cycling over ndst addresses. */
struct seg {
	int64_t start_ms, dur_ms;
	uint64_t pps;
	uint32_t len;
	enum kind kind;
	const char *dst; /* base address; packet i goes to base + i % ndst (last two bytes) */
	unsigned ndst;
};

static void set_addr(uint8_t *out, uint8_t *ver, const char *s)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*ver = 4;
	} else if (inet_pton(AF_INET6, s, out) == 1) {
		*ver = 6;
	} else {
		fprintf(stdout, "  bad address in test table: %s\n", s);
		*ver = 0;
	}
}

static void seg_meta(const struct seg *s, uint64_t i, struct pkt_meta *m)
{
	unsigned n = s->ndst ? s->ndst : 1, k = (unsigned)(i % n), last;
	uint8_t ver = 0;

	memset(m, 0, sizeof *m);
	m->wirelen = m->caplen = s->len;
	if (s->kind == K_NONIP) {
		m->ethertype = 0x0806;
		return;
	}
	set_addr(m->dst, &ver, s->dst);
	last = ver == 4 ? 3 : 15;
	m->dst[last] = (uint8_t)(m->dst[last] + k);
	m->dst[last - 1] = (uint8_t)(m->dst[last - 1] + (k >> 8));
	set_addr(m->src, &m->ip_version, ver == 4 ? "192.0.2.1" : "2001:db8::99");
	m->ethertype = ver == 4 ? 0x0800 : 0x86dd;
	m->flags = PKT_F_L4;
	m->sport = 40000;
	m->dport = 80;
	switch (s->kind) {
	case K_ACK:
		m->proto = 6;
		m->tcp_flags = TCPF_ACK;
		break;
	case K_SYN:
		m->proto = 6;
		m->tcp_flags = TCPF_SYN;
		break;
	case K_SYNACK:
		m->proto = 6;
		m->tcp_flags = TCPF_SYN | TCPF_ACK;
		break;
	case K_UDP:
		m->proto = 17;
		break;
	case K_ICMP:
		m->proto = 1;
		m->sport = 8;
		m->dport = 0;
		break;
	case K_ICMP6:
		m->proto = 58;
		m->sport = 128;
		m->dport = 0;
		break;
	default:
		break;
	}
}

static uint64_t seg_count(const struct seg *s)
{
	return s->pps * (uint64_t)s->dur_ms / 1000;
}

static int64_t seg_time(const struct seg *s, uint64_t i)
{
	return s->start_ms * MS + (int64_t)(i * (uint64_t)SEC / s->pps);
}

/* --- recording events --- */

#define EV_MAX 16

struct ev {
	int type; /* DETECT_OPEN or DETECT_RESOLVE */
	int64_t t_ns;
	struct detect_trigger trig; /* DETECT_OPEN */
	int seg;		    /* DETECT_OPEN from a packet: its segment, -1 otherwise */
	uint64_t idx;		    /* and its index in the segment */
};

struct evlog {
	struct ev e[EV_MAX];
	int n;
};

static void log_ret(struct evlog *l, detect_t *d, int ret, const struct detect_trigger *trig,
		    int seg, uint64_t idx)
{
	if (ret & DETECT_RESOLVE) {
		if (l->n < EV_MAX) {
			memset(&l->e[l->n], 0, sizeof l->e[l->n]);
			l->e[l->n].type = DETECT_RESOLVE;
			l->e[l->n].t_ns = detect_resolved_at(d);
			l->e[l->n].seg = -1;
		}
		l->n++;
	}
	if (ret & DETECT_OPEN) {
		if (l->n < EV_MAX) {
			l->e[l->n].type = DETECT_OPEN;
			l->e[l->n].t_ns = trig->ts_ns;
			l->e[l->n].trig = *trig;
			l->e[l->n].seg = seg;
			l->e[l->n].idx = idx;
		}
		l->n++;
	}
}

#define NSEG 4

/* Plays the segments merged in time order (ties: lower segment first). */
static void play_segs(detect_t *d, const struct seg *segs, unsigned nseg, struct evlog *l)
{
	uint64_t next[NSEG] = {0};
	struct detect_trigger trig;
	struct pkt_meta m;

	for (;;) {
		int best = -1;
		int64_t bt = 0;
		unsigned s;
		int ret;

		for (s = 0; s < nseg; s++) {
			if (!segs[s].pps || next[s] >= seg_count(&segs[s]))
				continue;
			if (best < 0 || seg_time(&segs[s], next[s]) < bt) {
				best = (int)s;
				bt = seg_time(&segs[s], next[s]);
			}
		}
		if (best < 0)
			break;
		seg_meta(&segs[best], next[best], &m);
		memset(&trig, 0, sizeof trig);
		ret = detect_packet(d, &m, bt, &trig);
		log_ret(l, d, ret, &trig, best, next[best]);
		next[best]++;
	}
}

/* --- scenario tables --- */

struct want {
	int type;
	enum detect_metric metric;
	int64_t lo_us, hi_us; /* the event time must be in [lo, hi] */
	const char *dst;      /* OPEN: expected trigger destination, or NULL */
};

struct scenario {
	const char *name;
	const struct detect_thresholds *th; /* NULL: defaults */
	int64_t window_ms, resolve_ms;	    /* 0: defaults */
	struct seg segs[NSEG];
	int64_t tick_ms; /* a detect_tick() after the packets, 0: none */
	struct want want[6];
	int nwant;
};

#define OPEN_IN(k, lo, hi)                                                                         \
	{                                                                                          \
		DETECT_OPEN, k, lo, hi, NULL                                                       \
	}
#define OPEN_AT(k, t)                                                                              \
	{                                                                                          \
		DETECT_OPEN, k, t, t, NULL                                                         \
	}
#define OPEN_DST(k, lo, hi, dst)                                                                   \
	{                                                                                          \
		DETECT_OPEN, k, lo, hi, dst                                                        \
	}
#define RESOLVE_AT(t)                                                                              \
	{                                                                                          \
		DETECT_RESOLVE, 0, t, t, NULL                                                      \
	}

/* background: 1000 packets/s of 100-byte TCP ACKs to 50 hosts */
#define BG(dur_ms)                                                                                 \
	{                                                                                          \
		0, dur_ms, 1000, 100, K_ACK, "10.1.0.0", 50                                        \
	}

static const struct detect_thresholds th_small = {1000, 10, 0, 0, 0, 0, 0};

/* clang-format off */
static const struct scenario scenarios[] = {
	{ "detect_quiet", NULL, 0, 0,
	  { BG(10000) }, 0, { { 0 } }, 0 },
	{ "detect_pps_flood_2x_opens_within_250ms", NULL, 0, 0,
	  { BG(5000), { 1000, 1000, 200000, 64, K_ACK, "10.2.0.0", 1000 } }, 40000,
	  { OPEN_IN(DETECT_PPS, 1000000, 1250000), RESOLVE_AT(32100000) }, 2 },
	{ "detect_pps_flood_midbucket", NULL, 0, 0,
	  { BG(5000), { 1050, 1000, 200000, 64, K_ACK, "10.2.0.0", 1000 } }, 0,
	  { OPEN_IN(DETECT_PPS, 1050000, 1300000) }, 1 },
	{ "detect_smb_burst_no_incident", NULL, 0, 0,
	  { BG(5000), { 1070, 45, 68889, 1514, K_ACK, "10.3.0.1", 1 },
	    { 3000, 45, 68889, 1514, K_ACK, "10.3.0.2", 1 },
	    { 4051, 45, 68889, 1514, K_ACK, "10.3.0.1", 1 } }, 0,
	  { { 0 } }, 0 },
	{ "detect_syn_flood", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 10000, 60, K_SYN, "10.4.0.1", 1 } }, 0,
	  { OPEN_AT(DETECT_SYN_PPS, 1100000) }, 1 },
	{ "detect_synack_not_syn", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 10000, 60, K_SYNACK, "10.4.0.1", 1 } }, 0,
	  { { 0 } }, 0 },
	{ "detect_udp_flood", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 80000, 200, K_UDP, "10.5.0.0", 100 } }, 0,
	  { OPEN_AT(DETECT_UDP_PPS, 1125000) }, 1 },
	{ "detect_icmp_flood", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 10000, 100, K_ICMP, "10.6.0.1", 1 } }, 0,
	  { OPEN_AT(DETECT_ICMP_PPS, 1100000) }, 1 },
	{ "detect_icmpv6_flood", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 10000, 100, K_ICMP6, "2001:db8:6::1", 1 } }, 0,
	  { OPEN_AT(DETECT_ICMP_PPS, 1100000) }, 1 },
	{ "detect_host_pps", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 80000, 64, K_ACK, "10.7.0.1", 1 } }, 0,
	  { OPEN_DST(DETECT_HOST_PPS, 1124000, 1125000, "10.7.0.1") }, 1 },
	{ "detect_host_pps_v6", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 80000, 64, K_ACK, "2001:db8:7::1", 1 } }, 0,
	  { OPEN_DST(DETECT_HOST_PPS, 1124000, 1125000, "2001:db8:7::1") }, 1 },
	{ "detect_host_mbps", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 12500, 9000, K_ACK, "10.8.0.1", 1 } }, 0,
	  { OPEN_DST(DETECT_HOST_MBPS, 1111040, 1111040, "10.8.0.1") }, 1 },
	{ "detect_total_mbps", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 28000, 9000, K_ACK, "10.9.0.0", 256 } }, 0,
	  { OPEN_IN(DETECT_MBPS, 1090000, 1100000) }, 1 },
	{ "detect_nonip_pps", NULL, 0, 0,
	  { BG(5000), { 1000, 2000, 200000, 60, K_NONIP, NULL, 0 } }, 0,
	  { OPEN_IN(DETECT_PPS, 1095000, 1100000) }, 1 },
	{ "detect_resolve_exact", NULL, 0, 0,
	  { { 1000, 1000, 200000, 60, K_NONIP, NULL, 0 } }, 40000,
	  { OPEN_AT(DETECT_PPS, 1100000), RESOLVE_AT(32000000) }, 2 },
	{ "detect_dip_keeps_one_incident", NULL, 0, 0,
	  { { 1000, 1000, 200000, 60, K_NONIP, NULL, 0 },
	    { 20000, 1000, 200000, 60, K_NONIP, NULL, 0 } }, 60000,
	  { OPEN_AT(DETECT_PPS, 1100000), RESOLVE_AT(51000000) }, 2 },
	{ "detect_long_gap_two_incidents", NULL, 0, 0,
	  { { 1000, 1000, 200000, 60, K_NONIP, NULL, 0 },
	    { 40000, 1000, 200000, 60, K_NONIP, NULL, 0 } }, 80000,
	  { OPEN_AT(DETECT_PPS, 1100000), RESOLVE_AT(32000000), OPEN_AT(DETECT_PPS, 40100000),
	    RESOLVE_AT(71000000) }, 4 },
	{ "detect_second_crossing_while_open", NULL, 0, 0,
	  { { 1000, 2000, 200000, 60, K_NONIP, NULL, 0 },
	    { 1500, 1000, 10000, 60, K_SYN, "10.4.0.1", 1 },
	    { 2000, 500, 100000, 60, K_UDP, "10.5.0.0", 100 } }, 40000,
	  { OPEN_AT(DETECT_PPS, 1100000), RESOLVE_AT(33000000) }, 2 },
	{ "detect_window_1s", NULL, 1000, 0,
	  { { 1000, 2000, 200000, 60, K_NONIP, NULL, 0 } }, 0,
	  { OPEN_AT(DETECT_PPS, 1500000) }, 1 },
	{ "detect_window_100ms_resolve_1s", NULL, 100, 1000,
	  { { 1000, 1000, 200000, 60, K_NONIP, NULL, 0 } }, 5000,
	  { OPEN_AT(DETECT_PPS, 1050000), RESOLVE_AT(3000000) }, 2 },
	{ "detect_burst_shorter_than_window_small_w", NULL, 100, 0,
	  { { 1030, 45, 68889, 1514, K_ACK, "10.3.0.1", 1 } }, 0, { { 0 } }, 0 },
	{ "detect_small_thresholds", &th_small, 0, 1000,
	  { { 1000, 500, 1100, 100, K_UDP, "10.5.0.1", 1 },
	    { 3000, 500, 900, 100, K_UDP, "10.5.0.1", 1 },
	    { 5000, 1000, 900, 9000, K_NONIP, NULL, 0 } }, 10000,
	  { OPEN_IN(DETECT_PPS, 1100000, 1200000), RESOLVE_AT(2500000),
	    OPEN_IN(DETECT_MBPS, 5000000, 5100000), RESOLVE_AT(7100000) }, 4 },
};
/* clang-format on */

static void run_scenario(const struct scenario *sc)
{
	static struct evlog l;
	struct detect_config c;
	char err[256];
	detect_t *d;
	unsigned nseg = 0;
	int i;

	detect_config_defaults(&c);
	if (sc->th)
		c.th = *sc->th;
	if (sc->window_ms)
		c.window_ns = sc->window_ms * MS;
	if (sc->resolve_ms)
		c.resolve_ns = sc->resolve_ms * MS;
	d = detect_new(&c, err, sizeof err);
	CHECK(d != NULL);
	if (!d) {
		fprintf(stdout, "  %s\n", err);
		return;
	}
	memset(&l, 0, sizeof l);
	while (nseg < NSEG && sc->segs[nseg].pps)
		nseg++;
	play_segs(d, sc->segs, nseg, &l);
	if (sc->tick_ms)
		log_ret(&l, d, detect_tick(d, sc->tick_ms * MS), NULL, -1, 0);

	CHECK_EQ_INT(l.n, sc->nwant);
	for (i = 0; i < l.n && i < sc->nwant && i < EV_MAX; i++) {
		const struct want *w = &sc->want[i];
		const struct ev *e = &l.e[i];

		CHECK_EQ_INT(e->type, w->type);
		if (e->t_ns < w->lo_us * US || e->t_ns > w->hi_us * US)
			fprintf(stdout, "  event %d at %lld ns, expected %lld..%lld us\n", i,
				(long long)e->t_ns, (long long)w->lo_us, (long long)w->hi_us);
		CHECK(e->t_ns >= w->lo_us * US && e->t_ns <= w->hi_us * US);
		if (w->type == DETECT_OPEN && e->type == DETECT_OPEN) {
			CHECK_EQ_STR(e->trig.name, detect_metric_str(w->metric));
			CHECK(e->trig.value > (double)e->trig.limit);
			CHECK_EQ_INT(e->trig.window_ns, c.window_ns);
		}
		if (w->dst && e->type == DETECT_OPEN) {
			uint8_t a[16], v;

			set_addr(a, &v, w->dst);
			CHECK_EQ_INT(e->trig.dst.ip_version, v);
			CHECK(memcmp(e->trig.dst.addr, a, 16) == 0);
		}
	}
	for (i = sc->nwant; i < l.n && i < EV_MAX; i++)
		fprintf(stdout, "  unexpected event %d: %s at %lld ns (%s)\n", i,
			l.e[i].type == DETECT_OPEN ? "open" : "resolve", (long long)l.e[i].t_ns,
			l.e[i].type == DETECT_OPEN ? l.e[i].trig.name : "-");
	detect_free(d);
}

/* Like RUN() from testhelp.h, named after the scenario. */
static void run_scenarios(void)
{
	size_t i;

	for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		th_failed_checks = 0;
		run_scenario(&scenarios[i]);
		if (th_failed_checks) {
			th_failed++;
			fprintf(stdout, "FAIL %s/%s\n", th_suite, scenarios[i].name);
		} else {
			th_passed++;
			fprintf(stdout, "PASS %s/%s\n", th_suite, scenarios[i].name);
		}
		fflush(stdout);
	}
}

/* --- other tests --- */

static detect_t *new_default(void)
{
	struct detect_config c;
	char err[256];

	detect_config_defaults(&c);
	return detect_new(&c, err, sizeof err);
}

/* The trigger is a specific packet: the flood's 20001st, exactly 100 ms after it started. */
static void test_detect_trigger_packet(void)
{
	static const struct seg flood[] = {{1050, 1000, 200000, 64, K_ACK, "10.2.0.0", 4}};
	struct detect_trigger t;
	struct evlog l;
	detect_t *d = new_default();

	memset(&l, 0, sizeof l);
	play_segs(d, flood, 1, &l);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_INT(l.e[0].type, DETECT_OPEN);
	CHECK_EQ_INT(l.e[0].seg, 0);
	CHECK_EQ_INT(l.e[0].idx, 20000);
	CHECK_EQ_INT(l.e[0].t_ns, 1150 * MS);
	t = l.e[0].trig;
	CHECK_EQ_INT(t.metric, DETECT_PPS);
	CHECK_EQ_STR(t.name, "pps");
	CHECK_EQ_INT(t.limit, 100000);
	CHECK(t.value > 100004.9 && t.value < 100005.1); /* 20001 packets / 200 ms */
	CHECK_EQ_INT(t.window_ns, 200 * MS);
	CHECK_EQ_INT(t.dst.ip_version, 4); /* busiest of four equal destinations */
	CHECK(t.dst.pps >= 25000 && t.dst.pps <= 25010);
	CHECK(detect_is_open(d));
	CHECK_EQ_INT(detect_incidents(d), 1);
	memset(&t, 0, sizeof t);
	CHECK_EQ_INT(detect_last_trigger(d, &t), 0);
	CHECK_EQ_INT(t.ts_ns, 1150 * MS);
	CHECK_EQ_INT(detect_resolved_at(d), DETECT_NO_TIME);
	detect_free(d);
}

/* Resolves at the first boundary 30 s after the last window above, not a bucket earlier. */
static void test_detect_resolve_ticks(void)
{
	static const struct seg flood[] = {{1000, 1000, 200000, 60, K_NONIP, NULL, 0}};
	struct evlog l;
	detect_t *d = new_default();
	int64_t t;

	memset(&l, 0, sizeof l);
	play_segs(d, flood, 1, &l);
	CHECK_EQ_INT(l.n, 1);
	for (t = 2000 * MS; t < 32000 * MS; t += 7 * MS)
		CHECK_EQ_INT(detect_tick(d, t), DETECT_NONE);
	CHECK(detect_is_open(d));
	CHECK_EQ_INT(detect_tick(d, 32000 * MS - 1), DETECT_NONE);
	CHECK_EQ_INT(detect_tick(d, 32000 * MS), DETECT_RESOLVE);
	CHECK_EQ_INT(detect_resolved_at(d), 32000 * MS);
	CHECK(!detect_is_open(d));
	CHECK_EQ_INT(detect_tick(d, 99000 * MS), DETECT_NONE);
	detect_free(d);
}

/* Timestamps that step backwards count as the newest time; the trigger time never goes back. */
static void test_detect_time_backwards(void)
{
	static const struct seg s = {0, 1, 1, 60, K_NONIP, NULL, 0};
	struct detect_trigger t;
	struct pkt_meta m;
	detect_t *d = new_default();
	int64_t ts = 5 * SEC, newest = 10 * SEC;
	int i, opened = -1;

	seg_meta(&s, 0, &m);
	CHECK_EQ_INT(detect_packet(d, &m, 10 * SEC, NULL), DETECT_NONE);
	/* 200k packets/s of increments, every 10th packet stamped 300 ms in the past */
	for (i = 0; i < 100000 && opened < 0; i++) {
		int64_t pts;
		int ret;

		ts = 10 * SEC + (int64_t)i * 5 * US;
		pts = i % 10 == 9 ? ts - 300 * MS : ts;
		if (pts > newest)
			newest = pts;
		ret = detect_packet(d, &m, pts, &t);
		if (ret & DETECT_OPEN) {
			opened = i;
			CHECK_EQ_INT(t.ts_ns, newest);
		}
	}
	CHECK(opened > 0);
	CHECK(ts - 10 * SEC <= 250 * MS);
	/* a packet from long ago while open: no event, counted at the current time */
	CHECK_EQ_INT(detect_packet(d, &m, 1 * SEC, NULL), DETECT_NONE);
	CHECK(detect_is_open(d));
	detect_free(d);
}

/* Days between packets: fast (O(window)), resolves at the right time, and detection goes on. */
static void test_detect_jump_days(void)
{
	struct seg flood = {1000, 1000, 200000, 60, K_ACK, "10.2.0.0", 1000};
	struct detect_config c;
	struct detect_rates r;
	struct timespec a, b;
	struct pkt_meta m;
	struct evlog l;
	char err[128];
	detect_t *d;
	double ms;
	int ret;

	detect_config_defaults(&c);
	c.window_ns = 10 * SEC; /* the largest ring */
	c.th.pps = 10000;	/* 100000 packets per window */
	d = detect_new(&c, err, sizeof err);
	CHECK(d != NULL);
	if (!d)
		return;
	memset(&l, 0, sizeof l);
	play_segs(d, &flood, 1, &l);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_INT(l.e[0].t_ns, 1500 * MS);
	seg_meta(&flood, 0, &m);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ret = detect_packet(d, &m, 3 * 86400 * SEC, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	CHECK(ms < 200);
	CHECK_EQ_INT(ret, DETECT_RESOLVE);
	/* the window ending at 11.4 s still holds 600 ms of flood (120000 packets), the one
	 * ending at 11.5 s 100000: quiet from 11.4 s, resolved 30 s later */
	CHECK_EQ_INT(detect_resolved_at(d), 41400 * MS);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 0); /* the packet is in the current bucket */
	CHECK_EQ_INT(r.end_ns, 3 * 86400 * SEC);
	detect_tick(d, 3 * 86400 * SEC + 100 * MS);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 1);

	/* 10^4 days later a flood opens again, 500 ms after it started */
	detect_tick(d, 10000LL * 86400 * SEC);
	flood.start_ms = 10000LL * 86400 * 1000 + 1000;
	memset(&l, 0, sizeof l);
	play_segs(d, &flood, 1, &l);
	CHECK_EQ_INT(l.n, 1);
	CHECK_EQ_INT(l.e[0].type, DETECT_OPEN);
	CHECK_EQ_INT(l.e[0].t_ns, flood.start_ms * MS + 500 * MS);

	/* times beyond +-2^62 ns are clamped, nothing overflows */
	CHECK_EQ_INT(detect_tick(d, INT64_MAX), DETECT_RESOLVE);
	CHECK_EQ_INT(detect_packet(d, &m, INT64_MAX, NULL), DETECT_NONE);
	CHECK_EQ_INT(detect_packet(d, &m, INT64_MIN, NULL), DETECT_NONE);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.end_ns % DETECT_BUCKET_NS, 0);
	detect_free(d);
}

/* The resolve time with a long window: the last window above ends when it holds too little. */
static void test_detect_resolve_long_window(void)
{
	static const struct seg flood[] = {{1000, 8000, 200000, 60, K_NONIP, NULL, 0}};
	struct detect_config c;
	struct evlog l;
	char err[128];
	detect_t *d;

	detect_config_defaults(&c);
	c.window_ns = 1 * SEC; /* limit 100000 packets per window */
	c.resolve_ns = 5 * SEC;
	d = detect_new(&c, err, sizeof err);
	CHECK(d != NULL);
	if (!d)
		return;
	memset(&l, 0, sizeof l);
	play_segs(d, flood, 1, &l);
	log_ret(&l, d, detect_tick(d, 3600 * SEC), NULL, -1, 0);
	CHECK_EQ_INT(l.n, 2);
	CHECK_EQ_INT(l.e[0].t_ns, 1500 * MS);
	/* flood ends at 9000 ms; the window ending at 9400 holds 600 ms = 120000 packets (above),
	 * the one ending at 9500 holds 100000 (not above): quiet from 9400, resolved at 14400 */
	CHECK_EQ_INT(l.e[1].type, DETECT_RESOLVE);
	CHECK_EQ_INT(l.e[1].t_ns, 14400 * MS);
	detect_free(d);
}

/* Idle live capture: detect_tick() alone resolves, also before any packet did anything. */
static void test_detect_tick_only(void)
{
	struct detect_rates r;
	detect_t *d = new_default();

	CHECK_EQ_INT(detect_tick(d, 5 * SEC), DETECT_NONE);
	CHECK_EQ_INT(detect_tick(d, 4 * SEC), DETECT_NONE); /* backwards: ignored */
	CHECK_EQ_INT(detect_tick(d, 500 * SEC), DETECT_NONE);
	CHECK(!detect_is_open(d));
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 0);
	CHECK_EQ_INT(r.end_ns, 500 * SEC);
	CHECK_EQ_INT(detect_last_trigger(d, &(struct detect_trigger){0}), -1);
	detect_free(d);
}

/* Statistics mode: aggregate counts once a second, checked over 1 s against pps and mbps. */
static void test_detect_add_counts(void)
{
	struct detect_trigger t;
	struct detect_rates r;
	struct evlog l;
	detect_t *d = new_default();
	int64_t s;

	memset(&l, 0, sizeof l);
	for (s = 1; s <= 100; s++) {
		uint64_t pk = ((s >= 10 && s <= 14) || s == 70) ? 200000 : 50000;
		uint64_t by = pk * 500; /* 200 or 800 Mbit/s */
		int ret;

		if (s == 30 || s == 31)
			by = 200000000; /* 1600 Mbit/s */
		ret = detect_add_counts(d, s * SEC, pk, by, &t);
		log_ret(&l, d, ret, &t, -1, (uint64_t)s);
		if (s == 12 || s == 20) {
			detect_rates(d, &r);
			CHECK_EQ_INT(r.end_ns, s * SEC);
			CHECK_EQ_INT(r.pps, pk);
			CHECK_EQ_INT(r.bps, pk * 500 * 8);
			CHECK_EQ_INT(r.tcp_pps, 0);
			CHECK_EQ_INT(r.top_dst.ip_version, 0);
		}
	}
	log_ret(&l, d, detect_tick(d, 110 * SEC), NULL, -1, 0);
	/* open at 10 s; above until the call at 15 s (the boundary at 15.0 s is still above); the
	 * 1600 Mbit/s seconds at 30-31 s keep it open (no second open) and move the quiet start to
	 * 32 s: resolved at 62 s; the second at 70 s opens again, quiet from 71 s */
	CHECK_EQ_INT(l.n, 4);
	CHECK_EQ_INT(l.e[0].type, DETECT_OPEN);
	CHECK_EQ_INT(l.e[0].t_ns, 10 * SEC);
	CHECK_EQ_INT(l.e[0].trig.metric, DETECT_PPS);
	CHECK(l.e[0].trig.value > 199999.0 && l.e[0].trig.value < 200001.0);
	CHECK_EQ_INT(l.e[0].trig.limit, 100000);
	CHECK_EQ_INT(l.e[0].trig.window_ns, 1 * SEC);
	CHECK_EQ_INT(l.e[0].trig.dst.ip_version, 0);
	CHECK_EQ_INT(l.e[1].type, DETECT_RESOLVE);
	CHECK_EQ_INT(l.e[1].t_ns, 62 * SEC);
	CHECK_EQ_INT(l.e[2].type, DETECT_OPEN);
	CHECK_EQ_INT(l.e[2].t_ns, 70 * SEC);
	CHECK_EQ_INT(l.e[3].type, DETECT_RESOLVE);
	CHECK_EQ_INT(l.e[3].t_ns, 101 * SEC);

	/* mbps alone */
	detect_free(d);
	d = new_default();
	CHECK_EQ_INT(detect_add_counts(d, 1 * SEC, 1000, 126000000, &t), DETECT_OPEN);
	CHECK_EQ_INT(t.metric, DETECT_MBPS);
	CHECK(t.value > 1007.9 && t.value < 1008.1);
	/* stops reporting: above for at most 2 s, then quiet, resolved 30 s later */
	CHECK_EQ_INT(detect_tick(d, 32 * SEC), DETECT_NONE);
	CHECK_EQ_INT(detect_tick(d, 33 * SEC), DETECT_RESOLVE);
	CHECK_EQ_INT(detect_resolved_at(d), 33 * SEC);
	detect_free(d);
}

/* Statistics mode: a missed second does not double the rate; a late first report is 1 s. */
static void test_detect_add_counts_spread(void)
{
	struct detect_rates r;
	detect_t *d = new_default();

	CHECK_EQ_INT(detect_add_counts(d, 1 * SEC, 90000, 0, NULL), DETECT_NONE);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 90000);
	/* the next report covers 2 s: 180000 packets are 90000/s */
	CHECK_EQ_INT(detect_add_counts(d, 3 * SEC, 180000, 0, NULL), DETECT_NONE);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 90000);
	/* half-second reports */
	CHECK_EQ_INT(detect_add_counts(d, 3500 * MS, 45000, 0, NULL), DETECT_NONE);
	CHECK_EQ_INT(detect_add_counts(d, 4000 * MS, 45000, 0, NULL), DETECT_NONE);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.pps, 90000);
	CHECK(!detect_is_open(d));
	CHECK_EQ_INT(detect_add_counts(d, 4500 * MS, 60000, 0, NULL), DETECT_OPEN);
	detect_free(d);
}

/* One-second rates: counters per protocol, SYN without ACK, busiest destination. */
static void test_detect_rates(void)
{
	static const struct seg segs[] = {
	    {0, 2050, 2000, 100, K_ACK, "10.1.0.0", 50},
	    {0, 2050, 1000, 60, K_SYN, "10.4.0.1", 1},
	    {0, 2050, 500, 60, K_SYNACK, "10.4.0.2", 1},
	    {0, 2050, 3000, 1000, K_UDP, "2001:db8:5::7", 1},
	};
	struct detect_rates r;
	struct evlog l;
	detect_t *d = new_default();
	uint8_t a[16], v;

	memset(&l, 0, sizeof l);
	play_segs(d, segs, 4, &l);
	detect_tick(d, 2 * SEC + 50 * MS); /* current bucket 2.0-2.1 s: rates over 1.0-2.0 s */
	CHECK_EQ_INT(l.n, 0);
	detect_rates(d, &r);
	CHECK_EQ_INT(r.end_ns, 2 * SEC);
	CHECK_EQ_INT(r.pps, 6500);
	CHECK_EQ_INT(r.bps, (2000 * 100 + 1500 * 60 + 3000 * 1000) * 8);
	CHECK_EQ_INT(r.tcp_pps, 3500);
	CHECK_EQ_INT(r.udp_pps, 3000);
	CHECK_EQ_INT(r.icmp_pps, 0);
	CHECK_EQ_INT(r.syn_pps, 1000);
	set_addr(a, &v, "2001:db8:5::7");
	CHECK_EQ_INT(r.top_dst.ip_version, 6);
	CHECK(memcmp(r.top_dst.addr, a, 16) == 0);
	CHECK(r.top_dst.pps >= 3000 && r.top_dst.pps < 3010);
	CHECK(r.top_dst.bps >= 24e6 && r.top_dst.bps < 24.1e6);
	detect_free(d);
}

static void test_detect_config(void)
{
	static const struct {
		int64_t window_ms, resolve_ms;
		int field; /* 0 none, else 1 + metric set to the value below */
		uint64_t value;
		const char *msg; /* NULL: accepted */
	} cases[] = {
	    {200, 30000, 0, 0, NULL},
	    {100, 100, 0, 0, NULL},
	    {10000, 86400000, 0, 0, NULL},
	    {150, 30000, 0, 0,
	     "invalid detection window `150 ms': expected a multiple of 100 ms "
	     "from 100 to 10000 ms"},
	    {0, 30000, 0, 0, "invalid detection window `0 ms'"},
	    {10100, 30000, 0, 0, "invalid detection window `10100 ms'"},
	    {-200, 30000, 0, 0, "invalid detection window `-200 ms'"},
	    {200, 0, 0, 0, "invalid detection resolve time `0 ms'"},
	    {200, 30050, 0, 0, "invalid detection resolve time `30050 ms'"},
	    {200, 86400100, 0, 0, "invalid detection resolve time"},
	    {200, 30000, 1 + DETECT_SYN_PPS, 1000000000001ULL,
	     "invalid detection threshold syn_pps `1000000000001': expected at most "
	     "1000000000000 packets/s (0 disables it)"},
	    {200, 30000, 1 + DETECT_HOST_MBPS, 1000000001ULL,
	     "invalid detection threshold host_mbps `1000000001'"},
	    {200, 30000, 1 + DETECT_MBPS, 1000000000ULL, NULL},
	    {200, 30000, 1 + DETECT_PPS, 0, NULL},
	};
	struct detect_config c;
	char err[256];
	size_t i;

	detect_config_defaults(&c);
	CHECK_EQ_INT(c.th.pps, 100000);
	CHECK_EQ_INT(c.th.mbps, 1000);
	CHECK_EQ_INT(c.th.syn_pps, 5000);
	CHECK_EQ_INT(c.th.udp_pps, 50000);
	CHECK_EQ_INT(c.th.icmp_pps, 5000);
	CHECK_EQ_INT(c.th.host_pps, 50000);
	CHECK_EQ_INT(c.th.host_mbps, 500);
	CHECK_EQ_INT(c.window_ns, 200 * MS);
	CHECK_EQ_INT(c.resolve_ns, 30 * SEC);

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		detect_t *d;

		detect_config_defaults(&c);
		c.window_ns = cases[i].window_ms * MS;
		c.resolve_ns = cases[i].resolve_ms * MS;
		switch (cases[i].field) {
		case 1 + DETECT_PPS:
			c.th.pps = cases[i].value;
			break;
		case 1 + DETECT_MBPS:
			c.th.mbps = cases[i].value;
			break;
		case 1 + DETECT_SYN_PPS:
			c.th.syn_pps = cases[i].value;
			break;
		case 1 + DETECT_HOST_MBPS:
			c.th.host_mbps = cases[i].value;
			break;
		default:
			break;
		}
		err[0] = 0;
		d = detect_new(&c, err, sizeof err);
		if (cases[i].msg) {
			CHECK(d == NULL);
			if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
				fprintf(stdout, "  case %zu: got \"%s\"\n", i, err);
			CHECK(strncmp(err, cases[i].msg, strlen(cases[i].msg)) == 0);
		} else {
			CHECK(d != NULL);
			if (!d)
				fprintf(stdout, "  case %zu: %s\n", i, err);
		}
		detect_free(d);
	}
	c.window_ns = 150 * MS;
	CHECK(detect_new(&c, NULL, 0) == NULL);
	CHECK(detect_new(NULL, err, sizeof err) == NULL);
	c.window_ns = 200 * MS + 1;
	CHECK(detect_new(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, "`200000001 ns'") != NULL);
	detect_free(NULL);
}

static void test_detect_metric_names(void)
{
	static const char *const names[] = {"pps",	"mbps",	    "syn_pps",	"udp_pps",
					    "icmp_pps", "host_pps", "host_mbps"};
	unsigned k;

	for (k = 0; k < DETECT_METRIC_COUNT; k++)
		CHECK_EQ_STR(detect_metric_str((enum detect_metric)k), names[k]);
	CHECK_EQ_STR(detect_metric_str(DETECT_METRIC_COUNT), "?");
	CHECK_EQ_STR(detect_metric_str((enum detect_metric) - 1), "?");
}

/* --- a brute-force model of the window rules, over random streams --- */

static uint64_t rnd_state = 0x853c49e6748fea9bULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

#define MOD_MAX 6000

struct mpkt {
	int64_t b;    /* bucket of the effective time */
	int syn;      /* counts as SYN */
	unsigned dst; /* 0..2 */
};

static int64_t fdiv(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && (a < 0));
}

/* Window counts over buckets (c - w, c] among packets [0, upto): total, syn, max per dst. */
static void model_window(const struct mpkt *p, int upto, int64_t c, unsigned w, uint64_t *tot,
			 uint64_t *syn, uint64_t *host)
{
	uint64_t per[3] = {0, 0, 0};
	int j;

	*tot = *syn = 0;
	for (j = upto - 1; j >= 0 && p[j].b > c - (int64_t)w; j--) {
		if (p[j].b > c)
			continue;
		(*tot)++;
		*syn += (uint64_t)p[j].syn;
		per[p[j].dst]++;
	}
	*host = per[0] > per[1] ? per[0] : per[1];
	if (per[2] > *host)
		*host = per[2];
}

static void test_detect_model_random(void)
{
	static struct mpkt p[MOD_MAX];
	static struct ev want[256], got[256];
	int round;

	for (round = 0; round < 40; round++) {
		struct detect_config c;
		unsigned w = 1 + (unsigned)(rnd() % 5);
		uint64_t lim_t, lim_s, lim_h;
		int64_t ts = (int64_t)(rnd() % 1000) * MS - 500 * MS, now = 0, last_above = 0;
		int64_t cur_b = 0;
		int i, nw = 0, ng = 0, open = 0, started = 0, j;
		char err[128];
		detect_t *d;

		detect_config_defaults(&c);
		c.window_ns = (int64_t)w * 100 * MS;
		c.resolve_ns = (int64_t)(1 + rnd() % 15) * 100 * MS;
		memset(&c.th, 0, sizeof c.th);
		c.th.pps = 200 + rnd() % 400;
		c.th.syn_pps = 50 + rnd() % 100;
		if (w <= 2)
			c.th.host_pps = 100 + rnd() % 200;
		lim_t = c.th.pps * w / 10;
		lim_s = c.th.syn_pps * w / 10;
		lim_h = c.th.host_pps ? c.th.host_pps * w / 10 : UINT64_MAX;
		d = detect_new(&c, err, sizeof err);
		CHECK(d != NULL);
		if (!d)
			return;

		for (i = 0; i < MOD_MAX; i++) {
			struct pkt_meta m;
			struct detect_trigger t;
			uint64_t r = rnd() % 1000, tot, syn, host;
			int64_t b;
			int ret;

			/* rates that wander above and below the limits, backward steps, gaps */
			if (r < 3)
				ts += (int64_t)(rnd() % 5000) * MS;
			else if (r < 4)
				ts += (int64_t)(rnd() % 3) * 86400 * SEC;
			else if (r < 30)
				ts -= (int64_t)(rnd() % 400) * MS;
			else
				ts += (int64_t)(rnd() % ((i / 500) % 2 ? 2000 : 12000)) * US;

			memset(&m, 0, sizeof m);
			m.wirelen = 60;
			m.ip_version = 4;
			m.proto = 6;
			m.flags = PKT_F_L4;
			p[i].syn = rnd() % 3 == 0;
			m.tcp_flags = p[i].syn ? TCPF_SYN : TCPF_ACK;
			p[i].dst = (unsigned)(rnd() % 3);
			m.dst[0] = 10;
			m.dst[3] = (uint8_t)(1 + p[i].dst);

			ret = detect_packet(d, &m, ts, &t);
			if ((ret & DETECT_RESOLVE) && ng < 256) {
				got[ng].type = DETECT_RESOLVE;
				got[ng++].t_ns = detect_resolved_at(d);
			}
			if ((ret & DETECT_OPEN) && ng < 256) {
				got[ng].type = DETECT_OPEN;
				got[ng].trig = t;
				got[ng++].t_ns = t.ts_ns;
			}

			/* the model */
			if (!started) {
				started = 1;
				now = ts;
				cur_b = fdiv(ts, DETECT_BUCKET_NS);
			}
			if (ts > now)
				now = ts;
			b = fdiv(now, DETECT_BUCKET_NS);
			for (; cur_b < b; cur_b++) {
				int64_t bt = (cur_b + 1) * DETECT_BUCKET_NS;

				if (!open)
					continue;
				if (cur_b > p[i - 1].b + (int64_t)w + 1) {
					/* every later window is empty */
					int64_t due = last_above + c.resolve_ns;

					due = -fdiv(-due, DETECT_BUCKET_NS) * DETECT_BUCKET_NS;
					if (due <= b * DETECT_BUCKET_NS && nw < 256) {
						want[nw].type = DETECT_RESOLVE;
						want[nw++].t_ns = due;
						open = 0;
					}
					break;
				}
				model_window(p, i, cur_b, w, &tot, &syn, &host);
				if (tot > lim_t || syn > lim_s || host > lim_h) {
					last_above = bt;
				} else if (bt - last_above >= c.resolve_ns) {
					if (nw < 256) {
						want[nw].type = DETECT_RESOLVE;
						want[nw++].t_ns = bt;
					}
					open = 0;
				}
			}
			cur_b = b;
			p[i].b = b;
			if (!open) {
				enum detect_metric k = DETECT_METRIC_COUNT;

				model_window(p, i + 1, b, w, &tot, &syn, &host);
				if (tot > lim_t)
					k = DETECT_PPS;
				else if (syn > lim_s)
					k = DETECT_SYN_PPS;
				else if (host > lim_h)
					k = DETECT_HOST_PPS;
				if (k != DETECT_METRIC_COUNT) {
					open = 1;
					last_above = now;
					if (nw < 256) {
						want[nw].type = DETECT_OPEN;
						want[nw].trig.metric = k;
						want[nw++].t_ns = now;
					}
				}
			}
		}
		CHECK_EQ_INT(ng, nw);
		for (j = 0; j < ng && j < nw; j++) {
			CHECK_EQ_INT(got[j].type, want[j].type);
			CHECK_EQ_INT(got[j].t_ns, want[j].t_ns);
			if (got[j].type == DETECT_OPEN && want[j].type == DETECT_OPEN)
				CHECK_EQ_INT(got[j].trig.metric, want[j].trig.metric);
			if (got[j].type != want[j].type || got[j].t_ns != want[j].t_ns) {
				fprintf(
				    stdout,
				    "  round %d (w %u) event %d: got %d at %lld, want %d at %lld\n",
				    round, w, j, got[j].type, (long long)got[j].t_ns, want[j].type,
				    (long long)want[j].t_ns);
				break;
			}
		}
		if (nw < 4)
			fprintf(stdout, "  round %d: only %d events\n", round, nw);
		CHECK(nw >= 4); /* the stream must exercise opens and resolves */
		detect_free(d);
	}
}

int main(void)
{
	run_scenarios();
	RUN(test_detect_trigger_packet);
	RUN(test_detect_resolve_ticks);
	RUN(test_detect_resolve_long_window);
	RUN(test_detect_time_backwards);
	RUN(test_detect_jump_days);
	RUN(test_detect_tick_only);
	RUN(test_detect_add_counts);
	RUN(test_detect_add_counts_spread);
	RUN(test_detect_rates);
	RUN(test_detect_config);
	RUN(test_detect_metric_names);
	RUN(test_detect_model_random);
	return test_main_end();
}
