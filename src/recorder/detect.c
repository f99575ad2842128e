/*
 * detect.c - attack detection (see detect.h).
 *
 * DESIGN: a ring of nb = max(W, 11) buckets (W = window / 100 ms); slot d->slot is the current
 * bucket cb. Each bucket has six counters (packets, bytes, TCP, UDP, ICMP, SYN), the aggregate
 * counts of detect_add_counts(), its count-min sketch of destinations (cells of packets and
 * bytes) and the destination with the most packets in it. prev[] and prev_sk hold the sums of
 * the W - 1 full buckets before the current one, so the window count of anything is
 * prev + current. At each boundary the completed bucket is added to them and the one leaving
 * the window subtracted (exact: integer sums), the window is checked if an incident is open, and
 * the slot of the new bucket is cleared. Sketch work is skipped for buckets without IP packets,
 * so stepping over idle buckets costs little; a gap longer than the ring is stepped through only
 * until every bucket is clear, then skipped in one go.
 *
 * Thresholds become counts per window at creation: a rate r per second exceeds over W buckets
 * when count > floor(r * W / 10) (count is an integer); Mbit/s become bytes (12500 * W per Mbit/s).
 * Disabled thresholds are UINT64_MAX, which no count exceeds.
 *
 * The busiest destination of the window is tracked as it goes: every IP packet gets its
 * destination's window estimate (min over rows of prev + current cell) and replaces the
 * candidate (one for packets, one for bytes) if higher. At a boundary the candidates and the
 * top of every bucket in the new window are re-estimated over it. This finds any destination
 * that dominates the window, which is what a host flood is (exactly, up to sketch overcounts, for
 * windows of 1 or 2 buckets); with longer windows a destination that is never the busiest of a
 * bucket nor of the window may be missed when an open incident's window is checked and for
 * reporting, never when opening (the host thresholds are checked on every packet).
 *
 * Cost (throwaway benchmark, random destinations, one shared 2-core EPYC VM): about 29 ns per IP
 * packet and 8 ns per non-IP packet, boundaries included, for any window length. The IP path is
 * a hash, eight cells of sketch (current bucket and window sum, 256 KiB together, so mostly L2
 * hits) and about ten compares; the time goes to the sketch loads.
 */
#include "recorder/detect.h"
#include "base/log.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DT_B DETECT_BUCKET_NS
#define DT_RATE_BUCKETS 10 /* one second */
#define DT_ROWS 4
#define DT_COLS_BITS 11
#define DT_COLS (1u << DT_COLS_BITS)
#define DT_CELLS (DT_ROWS * DT_COLS)
#define DT_SEED 0x452821e638d01377ULL  /* fixed: estimates must be reproducible */
#define DT_TS_MAX (1LL << 62)	       /* timestamps are clamped to +-DT_TS_MAX */
#define DT_AGG_HOLD (2 * 1000000000LL) /* how long a detect_add_counts() "above" lasts */

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58

/* bucket counters; the first five line up with enum detect_metric */
enum { C_PK = 0, C_BY, C_SYN, C_UDP, C_ICMP, C_TCP, C_COUNT };

struct dt_cell {
	uint64_t pk, by;
};

/* A destination and its estimated counts over some span of buckets. */
struct dt_dst {
	uint64_t hash;
	uint64_t pk, by;
	uint8_t ver;
	uint8_t addr[16];
};

/*
 * Cells a bucket's sketch touched, so that recycling a bucket and moving it in and out of the
 * window sum cost O(cells touched), not O(DT_CELLS), while traffic is light (a quiet link still
 * crosses ten bucket boundaries a second). Past DT_TOUCH_MAX the bucket is "dense": whole-sketch
 * passes, which a busy bucket amortises over its many packets.
 */
#define DT_TOUCH_MAX 256

struct dt_bucket {
	uint64_t c[C_COUNT];
	uint64_t agg_pk, agg_by; /* detect_add_counts() */
	int dirty;		 /* the sketch has counts */
	unsigned ntouch;	 /* cells in touch[], or DT_TOUCH_MAX + 1 when dense */
	struct dt_dst top;	 /* most packets in this bucket (pk is the bucket estimate) */
	uint16_t touch[DT_TOUCH_MAX];
};

struct detect {
	struct detect_config cfg;
	unsigned w;			   /* window in buckets */
	unsigned nb;			   /* ring size */
	uint64_t lim[DETECT_METRIC_COUNT]; /* counts per window; UINT64_MAX = disabled */
	uint64_t lim1s_pk, lim1s_by;	   /* per second, for detect_add_counts() */

	struct dt_bucket *b;	 /* nb buckets */
	struct dt_cell *sk;	 /* nb * DT_CELLS */
	struct dt_cell *prev_sk; /* DT_CELLS: sum over the previous w - 1 buckets */
	uint64_t prev[C_COUNT];

	int started;
	unsigned slot;	    /* ring slot of the current bucket */
	int64_t cb;	    /* current bucket number (time / DT_B, floored) */
	int64_t bucket_end; /* (cb + 1) * DT_B */
	int64_t now;	    /* newest time seen */

	struct dt_dst wb_pk, wb_by; /* busiest destination of the window by packets, by bytes */

	int open;
	uint64_t incidents;
	int64_t last_above; /* end of the last window above a threshold (or the trigger) */
	int64_t resolved_at;
	struct detect_trigger trig;

	int agg_started;
	int agg_above;	  /* the last detect_add_counts() found its second above */
	int64_t agg_last; /* time of the previous detect_add_counts() */
};

static const char *const dt_metric_names[DETECT_METRIC_COUNT] = {
    [DETECT_PPS] = "pps",
    [DETECT_MBPS] = "mbps",
    [DETECT_SYN_PPS] = "syn_pps",
    [DETECT_UDP_PPS] = "udp_pps",
    [DETECT_ICMP_PPS] = "icmp_pps",
    [DETECT_HOST_PPS] = "host_pps",
    [DETECT_HOST_MBPS] = "host_mbps",
};

const char *detect_metric_str(enum detect_metric k)
{
	if ((unsigned)k >= DETECT_METRIC_COUNT)
		return "?";
	return dt_metric_names[k];
}

/* --- time helpers --- */

static int64_t dt_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b) != 0 && (a < 0))
		q--;
	return q;
}

static int64_t dt_clamp_ts(int64_t ts)
{
	if (ts > DT_TS_MAX)
		return DT_TS_MAX;
	if (ts < -DT_TS_MAX)
		return -DT_TS_MAX;
	return ts;
}

/* --- config --- */

void detect_config_defaults(struct detect_config *c)
{
	memset(c, 0, sizeof *c);
	c->th.pps = DETECT_DEFAULT_PPS;
	c->th.mbps = DETECT_DEFAULT_MBPS;
	c->th.syn_pps = DETECT_DEFAULT_SYN_PPS;
	c->th.udp_pps = DETECT_DEFAULT_UDP_PPS;
	c->th.icmp_pps = DETECT_DEFAULT_ICMP_PPS;
	c->th.host_pps = DETECT_DEFAULT_HOST_PPS;
	c->th.host_mbps = DETECT_DEFAULT_HOST_MBPS;
	c->window_ns = DETECT_DEFAULT_WINDOW_NS;
	c->resolve_ns = DETECT_DEFAULT_RESOLVE_NS;
}

static uint64_t dt_th(const struct detect_thresholds *th, enum detect_metric k)
{
	switch (k) {
	case DETECT_PPS:
		return th->pps;
	case DETECT_MBPS:
		return th->mbps;
	case DETECT_SYN_PPS:
		return th->syn_pps;
	case DETECT_UDP_PPS:
		return th->udp_pps;
	case DETECT_ICMP_PPS:
		return th->icmp_pps;
	case DETECT_HOST_PPS:
		return th->host_pps;
	case DETECT_HOST_MBPS:
		return th->host_mbps;
	default:
		return 0;
	}
}

static int dt_is_mbps(enum detect_metric k)
{
	return k == DETECT_MBPS || k == DETECT_HOST_MBPS;
}

/* Checks a span setting: a multiple of 100 ms in [lo, hi]. */
static int dt_check_span(const char *what, int64_t v, int64_t lo, int64_t hi, char *err,
			 size_t errlen)
{
	if (v >= lo && v <= hi && v % DT_B == 0)
		return 0;
	if (v % 1000000 == 0)
		set_err(err, errlen,
			"invalid %s `%lld ms': expected a multiple of 100 ms from %lld to %lld ms",
			what, (long long)(v / 1000000), (long long)(lo / 1000000),
			(long long)(hi / 1000000));
	else
		set_err(err, errlen,
			"invalid %s `%lld ns': expected a multiple of 100 ms from %lld to %lld ms",
			what, (long long)v, (long long)(lo / 1000000), (long long)(hi / 1000000));
	return -1;
}

/* --- hashing and the sketch --- */

static inline uint64_t dt_hash(const uint8_t addr[16], uint8_t ver)
{
	uint64_t x, y, h;

	memcpy(&x, addr, 8);
	memcpy(&y, addr + 8, 8);
	x = le64toh(x);
	y = le64toh(y);
	h = (x ^ DT_SEED) * 0x9e3779b97f4a7c15ULL;
	h ^= (y + ver) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline unsigned dt_cell_idx(uint64_t h, unsigned row)
{
	return row * DT_COLS + (unsigned)((h >> (row * DT_COLS_BITS)) & (DT_COLS - 1));
}

static struct dt_cell *dt_sk(const detect_t *d, unsigned slot)
{
	return d->sk + (size_t)slot * DT_CELLS;
}

/* Window estimate (prev + current bucket) of the destination with hash h. */
static void dt_est_window(const detect_t *d, uint64_t h, uint64_t *pk, uint64_t *by)
{
	const struct dt_cell *cur = dt_sk(d, d->slot);
	uint64_t p = UINT64_MAX, b = UINT64_MAX;
	unsigned r, i;

	for (r = 0; r < DT_ROWS; r++) {
		i = dt_cell_idx(h, r);
		if (cur[i].pk + d->prev_sk[i].pk < p)
			p = cur[i].pk + d->prev_sk[i].pk;
		if (cur[i].by + d->prev_sk[i].by < b)
			b = cur[i].by + d->prev_sk[i].by;
	}
	*pk = p;
	*by = b;
}

static void dt_dst_set(struct dt_dst *t, uint64_t h, uint8_t ver, const uint8_t addr[16])
{
	if (t->hash != h || t->ver != ver) {
		t->hash = h;
		t->ver = ver;
		memcpy(t->addr, addr, 16);
	}
}

/* Per second, from a count over n buckets. */
static double dt_per_s(uint64_t count, unsigned nbuckets)
{
	return (double)count * 10.0 / (double)nbuckets;
}

static void dt_host_out(struct detect_host *o, const struct dt_dst *s, uint64_t pk, uint64_t by,
			unsigned nbuckets)
{
	memset(o, 0, sizeof *o);
	if (!s->ver || !pk)
		return;
	o->ip_version = s->ver;
	memcpy(o->addr, s->addr, 16);
	o->pps = dt_per_s(pk, nbuckets);
	o->bps = dt_per_s(by, nbuckets) * 8.0;
}

/* --- creation --- */

int detect_config_check(const struct detect_config *c, char *err, size_t errlen)
{
	unsigned k;

	if (!c) {
		set_err(err, errlen, "no detection configuration");
		return -1;
	}
	if (dt_check_span("detection window", c->window_ns, DETECT_MIN_WINDOW_NS,
			  DETECT_MAX_WINDOW_NS, err, errlen) < 0)
		return -1;
	if (dt_check_span("detection resolve time", c->resolve_ns, DT_B, DETECT_MAX_RESOLVE_NS, err,
			  errlen) < 0)
		return -1;
	for (k = 0; k < DETECT_METRIC_COUNT; k++) {
		uint64_t v = dt_th(&c->th, (enum detect_metric)k);
		uint64_t max = dt_is_mbps((enum detect_metric)k) ? DETECT_MAX_MBPS : DETECT_MAX_PPS;

		if (v > max) {
			set_err(
			    err, errlen,
			    "invalid detection threshold %s `%llu': expected at most %llu %s (0 "
			    "disables it)",
			    dt_metric_names[k], (unsigned long long)v, (unsigned long long)max,
			    dt_is_mbps((enum detect_metric)k) ? "Mbit/s" : "packets/s");
			return -1;
		}
	}
	return 0;
}

detect_t *detect_new(const struct detect_config *c, char *err, size_t errlen)
{
	detect_t *d = NULL;
	unsigned k;

	if (detect_config_check(c, err, errlen) != 0)
		return NULL;
	d = calloc(1, sizeof *d);
	if (!d)
		goto nomem;
	d->cfg = *c;
	d->w = (unsigned)(c->window_ns / DT_B);
	d->nb = d->w > DT_RATE_BUCKETS + 1 ? d->w : DT_RATE_BUCKETS + 1;
	d->b = calloc(d->nb, sizeof *d->b);
	d->sk = calloc((size_t)d->nb * DT_CELLS, sizeof *d->sk);
	d->prev_sk = calloc(DT_CELLS, sizeof *d->prev_sk);
	if (!d->b || !d->sk || !d->prev_sk)
		goto nomem;

	for (k = 0; k < DETECT_METRIC_COUNT; k++) {
		uint64_t v = dt_th(&c->th, (enum detect_metric)k);

		if (!v)
			d->lim[k] = UINT64_MAX;
		else if (dt_is_mbps((enum detect_metric)k))
			d->lim[k] = v * 12500u * d->w; /* bytes per window */
		else
			d->lim[k] = v * d->w / 10u; /* packets per window, floored */
	}
	d->lim1s_pk = c->th.pps ? c->th.pps : UINT64_MAX;
	d->lim1s_by = c->th.mbps ? c->th.mbps * 125000u : UINT64_MAX;
	d->resolved_at = DETECT_NO_TIME;
	return d;

nomem:
	set_err(err, errlen, "cannot allocate the detector (window %lld ms): out of memory",
		(long long)(c->window_ns / 1000000));
	detect_free(d);
	return NULL;
}

void detect_free(detect_t *d)
{
	if (!d)
		return;
	free(d->b);
	free(d->sk);
	free(d->prev_sk);
	free(d);
}

/* --- buckets and time --- */

static void dt_start(detect_t *d, int64_t ts)
{
	d->started = 1;
	d->cb = dt_floor_div(ts, DT_B);
	d->bucket_end = (d->cb + 1) * DT_B;
	d->now = ts;
	d->slot = 0;
}

/*
 * Nonzero if the window ending at the current bucket's end (prev + current) is above, or the
 * last detect_add_counts() found its second above (until the next call, at most DT_AGG_HOLD).
 */
static int dt_window_above(const detect_t *d)
{
	const struct dt_bucket *b = &d->b[d->slot];
	unsigned k;

	if (d->agg_above && d->bucket_end - d->agg_last <= DT_AGG_HOLD)
		return 1;

	for (k = 0; k <= DETECT_ICMP_PPS; k++)
		if (d->prev[k] + b->c[k] > d->lim[k])
			return 1;
	return d->wb_pk.pk > d->lim[DETECT_HOST_PPS] || d->wb_by.by > d->lim[DETECT_HOST_MBPS];
}

static void dt_sk_add(struct dt_cell *dst, const struct dt_cell *src, const struct dt_bucket *b)
{
	unsigned i;

	if (b->ntouch <= DT_TOUCH_MAX) {
		for (unsigned t = 0; t < b->ntouch; t++) {
			i = b->touch[t];
			dst[i].pk += src[i].pk;
			dst[i].by += src[i].by;
		}
		return;
	}
	for (i = 0; i < DT_CELLS; i++) {
		dst[i].pk += src[i].pk;
		dst[i].by += src[i].by;
	}
}

static void dt_sk_sub(struct dt_cell *dst, const struct dt_cell *src, const struct dt_bucket *b)
{
	unsigned i;

	if (b->ntouch <= DT_TOUCH_MAX) {
		for (unsigned t = 0; t < b->ntouch; t++) {
			i = b->touch[t];
			dst[i].pk -= src[i].pk;
			dst[i].by -= src[i].by;
		}
		return;
	}
	for (i = 0; i < DT_CELLS; i++) {
		dst[i].pk -= src[i].pk;
		dst[i].by -= src[i].by;
	}
}

static void dt_sk_clear(struct dt_cell *sk, const struct dt_bucket *b)
{
	if (b->ntouch <= DT_TOUCH_MAX) {
		for (unsigned t = 0; t < b->ntouch; t++)
			sk[b->touch[t]] = (struct dt_cell){ 0, 0 };
		return;
	}
	memset(sk, 0, DT_CELLS * sizeof(struct dt_cell));
}

/* Re-estimates candidate c over the window and keeps it in wb_pk / wb_by if busier. */
static void dt_consider(detect_t *d, const struct dt_dst *c, struct dt_dst *npk, struct dt_dst *nby)
{
	uint64_t pk, by;

	if (!c->ver)
		return;
	dt_est_window(d, c->hash, &pk, &by);
	if (pk > npk->pk) {
		*npk = *c;
		npk->pk = pk;
		npk->by = by;
	}
	if (by > nby->by) {
		*nby = *c;
		nby->pk = pk;
		nby->by = by;
	}
}

/*
 * Crosses the boundary at the end of the current bucket: checks the window if an incident is
 * open, slides the window by one bucket and clears the new bucket's slot. Returns the event.
 */
static int dt_boundary(detect_t *d)
{
	struct dt_bucket *cur = &d->b[d->slot];
	struct dt_dst old_pk = d->wb_pk, old_by = d->wb_by;
	int64_t t = d->bucket_end;
	int ev = DETECT_NONE;
	unsigned k, ls;

	if (d->open) {
		if (dt_window_above(d)) {
			d->last_above = t;
		} else if (t - d->last_above >= d->cfg.resolve_ns) {
			d->open = 0;
			d->resolved_at = t;
			ev = DETECT_RESOLVE;
		}
	}

	if (d->w > 1) {
		ls = (d->slot + d->nb - (d->w - 1)) % d->nb; /* leaves the window */
		for (k = 0; k < C_COUNT; k++)
			d->prev[k] += cur->c[k] - d->b[ls].c[k];
		if (cur->dirty)
			dt_sk_add(d->prev_sk, dt_sk(d, d->slot), cur);
		if (d->b[ls].dirty)
			dt_sk_sub(d->prev_sk, dt_sk(d, ls), &d->b[ls]);
	}

	d->cb++;
	d->bucket_end += DT_B;
	d->slot = (d->slot + 1) % d->nb;
	cur = &d->b[d->slot];
	if (cur->dirty)
		dt_sk_clear(dt_sk(d, d->slot), cur);
	memset(cur, 0, offsetof(struct dt_bucket, touch));

	/* busiest of the new window: the old ones and the top of each bucket in it, re-estimated */
	memset(&d->wb_pk, 0, sizeof d->wb_pk);
	memset(&d->wb_by, 0, sizeof d->wb_by);
	if (d->w > 1) {
		dt_consider(d, &old_pk, &d->wb_pk, &d->wb_by);
		dt_consider(d, &old_by, &d->wb_pk, &d->wb_by);
		for (k = 1; k < d->w; k++) {
			const struct dt_bucket *b = &d->b[(d->slot + d->nb - k) % d->nb];

			if (b->dirty)
				dt_consider(d, &b->top, &d->wb_pk, &d->wb_by);
		}
	}
	return ev;
}

/* Moves the current bucket to the one holding ts (ts >= d->bucket_end). */
static int dt_advance(detect_t *d, int64_t ts)
{
	int64_t nb = dt_floor_div(ts, DT_B);
	unsigned steps = 0;
	int ev = DETECT_NONE;

	d->now = ts;
	while (d->cb < nb) {
		if (steps++ > d->nb &&
		    !(d->agg_above && d->bucket_end - d->agg_last <= DT_AGG_HOLD)) {
			/*
			 * Every bucket in the ring has been recycled empty, so every window from
			 * here to nb is empty: skip to nb, resolving on the way if it is due.
			 */
			if (d->open) {
				int64_t due = d->last_above + d->cfg.resolve_ns;

				due = -dt_floor_div(-due, DT_B) * DT_B; /* round up to a boundary */
				if (due < d->bucket_end)
					due = d->bucket_end;
				if (due <= nb * DT_B) {
					d->open = 0;
					d->resolved_at = due;
					ev |= DETECT_RESOLVE;
				}
			}
			d->cb = nb;
			d->bucket_end = (nb + 1) * DT_B;
			break;
		}
		ev |= dt_boundary(d);
	}
	return ev;
}

/* Moves time to ts (clamped; older than now counts as now). */
static int dt_time(detect_t *d, int64_t ts)
{
	ts = dt_clamp_ts(ts);
	if (!d->started) {
		dt_start(d, ts);
		return DETECT_NONE;
	}
	if (ts >= d->bucket_end)
		return dt_advance(d, ts);
	if (ts > d->now)
		d->now = ts;
	return DETECT_NONE;
}

/* --- opening --- */

static void dt_open(detect_t *d, enum detect_metric k, double value, unsigned nbuckets,
		    const struct detect_host *dst, struct detect_trigger *out)
{
	struct detect_trigger *t = &d->trig;

	d->open = 1;
	d->incidents++;
	d->last_above = d->now;
	memset(t, 0, sizeof *t);
	t->metric = k;
	t->name = dt_metric_names[k];
	t->limit = dt_th(&d->cfg.th, k);
	t->value = value;
	t->ts_ns = d->now;
	t->window_ns = (int64_t)nbuckets * DT_B;
	if (dst)
		t->dst = *dst;
	if (out)
		*out = *t;
}

/* Opens with the current packet as trigger; k is the first metric above. */
static void dt_open_packet(detect_t *d, enum detect_metric k, const struct pkt_meta *m, uint64_t h,
			   uint64_t wpk, uint64_t wby, struct detect_trigger *out)
{
	const struct dt_bucket *b = &d->b[d->slot];
	struct detect_host host;
	struct dt_dst pd;
	uint64_t pk, by;
	double value;

	if (k == DETECT_HOST_PPS || k == DETECT_HOST_MBPS) {
		memset(&pd, 0, sizeof pd);
		dt_dst_set(&pd, h, m->ip_version, m->dst);
		dt_host_out(&host, &pd, wpk, wby, d->w);
		value = k == DETECT_HOST_PPS ? dt_per_s(wpk, d->w) : dt_per_s(wby, d->w) * 8e-6;
	} else {
		pk = by = 0;
		if (d->wb_pk.ver)
			dt_est_window(d, d->wb_pk.hash, &pk, &by);
		dt_host_out(&host, &d->wb_pk, pk, by, d->w);
		value = dt_per_s(d->prev[k] + b->c[k], d->w);
		if (k == DETECT_MBPS)
			value *= 8e-6;
	}
	dt_open(d, k, value, d->w, &host, out);
}

/* --- the packet path --- */

int detect_packet(detect_t *d, const struct pkt_meta *m, int64_t ts_ns, struct detect_trigger *trig)
{
	struct dt_bucket *b;
	uint64_t len = m->wirelen, h = 0, wpk = 0, wby = 0;
	unsigned k, first = DETECT_METRIC_COUNT;
	int ev = DETECT_NONE;

	if (!d->started || ts_ns >= d->bucket_end || ts_ns < -DT_TS_MAX)
		ev = dt_time(d, ts_ns);
	else if (ts_ns > d->now)
		d->now = ts_ns;

	b = &d->b[d->slot];
	b->c[C_PK]++;
	b->c[C_BY] += len;
	if (m->ip_version) {
		struct dt_cell *cur = dt_sk(d, d->slot);
		uint64_t bpk = UINT64_MAX;
		unsigned r, i;

		switch (m->proto) {
		case PROTO_TCP:
			b->c[C_TCP]++;
			if ((m->flags & PKT_F_L4) &&
			    (m->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
				b->c[C_SYN]++;
			break;
		case PROTO_UDP:
			b->c[C_UDP]++;
			break;
		case PROTO_ICMP:
			if (m->ip_version == 4)
				b->c[C_ICMP]++;
			break;
		case PROTO_ICMPV6:
			if (m->ip_version == 6)
				b->c[C_ICMP]++;
			break;
		default:
			break;
		}

		h = dt_hash(m->dst, m->ip_version);
		wpk = wby = UINT64_MAX;
		for (r = 0; r < DT_ROWS; r++) {
			i = dt_cell_idx(h, r);
			if (!cur[i].pk && b->ntouch <= DT_TOUCH_MAX) {
				if (b->ntouch < DT_TOUCH_MAX)
					b->touch[b->ntouch] = (uint16_t)i;
				b->ntouch++;
			}
			cur[i].pk++;
			cur[i].by += len;
			if (cur[i].pk < bpk)
				bpk = cur[i].pk;
			if (cur[i].pk + d->prev_sk[i].pk < wpk)
				wpk = cur[i].pk + d->prev_sk[i].pk;
			if (cur[i].by + d->prev_sk[i].by < wby)
				wby = cur[i].by + d->prev_sk[i].by;
		}
		b->dirty = 1;
		if (bpk > b->top.pk) {
			dt_dst_set(&b->top, h, m->ip_version, m->dst);
			b->top.pk = bpk;
		}
		if (wpk > d->wb_pk.pk) {
			dt_dst_set(&d->wb_pk, h, m->ip_version, m->dst);
			d->wb_pk.pk = wpk;
			d->wb_pk.by = wby;
		}
		if (wby > d->wb_by.by) {
			dt_dst_set(&d->wb_by, h, m->ip_version, m->dst);
			d->wb_by.pk = wpk;
			d->wb_by.by = wby;
		}
	}

	if (d->open)
		return ev;
	for (k = 0; k <= DETECT_ICMP_PPS; k++) {
		if (d->prev[k] + b->c[k] > d->lim[k]) {
			first = k;
			break;
		}
	}
	if (first == DETECT_METRIC_COUNT && m->ip_version) {
		if (wpk > d->lim[DETECT_HOST_PPS])
			first = DETECT_HOST_PPS;
		else if (wby > d->lim[DETECT_HOST_MBPS])
			first = DETECT_HOST_MBPS;
	}
	if (first == DETECT_METRIC_COUNT)
		return ev;
	dt_open_packet(d, (enum detect_metric)first, m, h, wpk, wby, trig);
	return ev | DETECT_OPEN;
}

int detect_tick(detect_t *d, int64_t now_ns)
{
	return dt_time(d, now_ns);
}

/* --- statistics mode --- */

int detect_add_counts(detect_t *d, int64_t ts_ns, uint64_t packets, uint64_t bytes,
		      struct detect_trigger *trig)
{
	uint64_t n = DT_RATE_BUCKETS, span, spk = 0, sby = 0;
	int ev = dt_time(d, ts_ns);
	enum detect_metric k;
	unsigned i, s;

	if (d->agg_started && d->now > d->agg_last) {
		n = (uint64_t)((d->now - d->agg_last + DT_B / 2) / DT_B);
		if (n < 1)
			n = 1;
	} else if (d->agg_started) {
		n = 1;
	}
	d->agg_started = 1;
	d->agg_last = d->now;

	/* spread over the n full buckets before the current one; only the last 10 are kept */
	span = n < DT_RATE_BUCKETS ? n : DT_RATE_BUCKETS;
	for (i = 0; i < span; i++) {
		struct dt_bucket *b = &d->b[(d->slot + d->nb - 1 - i) % d->nb];

		b->agg_pk += packets / n + (i < packets % n ? 1 : 0);
		b->agg_by += bytes / n + (i < bytes % n ? 1 : 0);
	}

	for (i = 1; i <= DT_RATE_BUCKETS; i++) {
		s = (d->slot + d->nb - i) % d->nb;
		spk += d->b[s].agg_pk;
		sby += d->b[s].agg_by;
	}
	d->agg_above = 1;
	if (spk > d->lim1s_pk) {
		k = DETECT_PPS;
	} else if (sby > d->lim1s_by) {
		k = DETECT_MBPS;
	} else {
		d->agg_above = 0;
		return ev;
	}
	if (d->open) {
		d->last_above = d->now;
		return ev;
	}
	dt_open(d, k, k == DETECT_PPS ? (double)spk : (double)sby * 8e-6, DT_RATE_BUCKETS, NULL,
		trig);
	return ev | DETECT_OPEN;
}

/* --- reporting --- */

int detect_is_open(const detect_t *d)
{
	return d->open;
}

int64_t detect_resolved_at(const detect_t *d)
{
	return d->resolved_at;
}

int detect_last_trigger(const detect_t *d, struct detect_trigger *t)
{
	if (!d->incidents)
		return -1;
	*t = d->trig;
	return 0;
}

uint64_t detect_incidents(const detect_t *d)
{
	return d->incidents;
}

/* Estimate over the last second (the 10 full buckets): sum of per-bucket minimums. */
static void dt_est_1s(const detect_t *d, uint64_t h, uint64_t *pk, uint64_t *by)
{
	unsigned i, r, c;

	*pk = *by = 0;
	for (i = 1; i <= DT_RATE_BUCKETS; i++) {
		unsigned s = (d->slot + d->nb - i) % d->nb;
		const struct dt_cell *sk = dt_sk(d, s);
		uint64_t p = UINT64_MAX, b = UINT64_MAX;

		if (!d->b[s].dirty)
			continue;
		for (r = 0; r < DT_ROWS; r++) {
			c = dt_cell_idx(h, r);
			if (sk[c].pk < p)
				p = sk[c].pk;
			if (sk[c].by < b)
				b = sk[c].by;
		}
		*pk += p;
		*by += b;
	}
}

static int dt_dst_better(const struct dt_dst *a, uint64_t apk, const struct dt_dst *b, uint64_t bpk)
{
	if (apk != bpk)
		return apk > bpk;
	if (a->ver != b->ver)
		return a->ver < b->ver;
	return memcmp(a->addr, b->addr, 16) < 0;
}

void detect_rates(const detect_t *d, struct detect_rates *r)
{
	uint64_t c[C_COUNT] = {0}, best_pk = 0, best_by = 0, pk, by;
	const struct dt_dst *best = NULL;
	unsigned i, k;

	memset(r, 0, sizeof *r);
	if (!d->started)
		return;
	for (i = 1; i <= DT_RATE_BUCKETS + 2; i++) {
		const struct dt_dst *cand;

		if (i <= DT_RATE_BUCKETS) {
			const struct dt_bucket *b = &d->b[(d->slot + d->nb - i) % d->nb];

			for (k = 0; k < C_COUNT; k++)
				c[k] += b->c[k];
			c[C_PK] += b->agg_pk;
			c[C_BY] += b->agg_by;
			cand = &b->top;
		} else {
			cand = i == DT_RATE_BUCKETS + 1 ? &d->wb_pk : &d->wb_by;
		}
		if (!cand->ver)
			continue;
		dt_est_1s(d, cand->hash, &pk, &by);
		if (pk && (!best || dt_dst_better(cand, pk, best, best_pk))) {
			best = cand;
			best_pk = pk;
			best_by = by;
		}
	}
	r->end_ns = d->cb * DT_B;
	r->pps = (double)c[C_PK];
	r->bps = (double)c[C_BY] * 8.0;
	r->tcp_pps = (double)c[C_TCP];
	r->udp_pps = (double)c[C_UDP];
	r->icmp_pps = (double)c[C_ICMP];
	r->syn_pps = (double)c[C_SYN];
	if (best)
		dt_host_out(&r->top_dst, best, best_pk, best_by, DT_RATE_BUCKETS);
}
