/*
 * onset.c - the onset of an attack in the pre-trigger ring (see onset.h).
 *
 * DESIGN: pass 1 sums the metric's weights per bucket over the buckets a run-up can span (the
 * largest detection window and two buckets more), skipping older packets without decoding them;
 * pass 2 walks the packets of bucket b - 1 and on with a running sum to find the first that is
 * above up to END, and its position. Weights above a threshold are compared in integers: a rate
 * of W weight units over D ns is above L per second when W * 1e9 > L * D (packets), or
 * W * 8 * 1e9 > L * 1e6 * D (bytes against Mbit/s), in 128-bit arithmetic.
 */
#include "recorder/onset.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"

#define ON_B DETECT_BUCKET_NS
#define ONSET_LOCAL_NS 25000000LL /* the rate just after a candidate onset: 25 ms */
#define ON_SPAN (DETECT_MAX_WINDOW_NS / DETECT_BUCKET_NS + 2) /* buckets looked back */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_mbps(enum detect_metric k)
{
	return k == DETECT_MBPS || k == DETECT_HOST_MBPS;
}

/* The weight of one packet for the metric: 0 if it is not the metric's. */
static uint32_t weight(const struct onset_query *q, const struct pkt_meta *m)
{
	int match = 0;
	switch (q->metric) {
	case DETECT_PPS:
	case DETECT_MBPS:
		match = 1;
		break;
	case DETECT_SYN_PPS:
		match = m->ip_version && m->proto == IPPROTO_TCP && (m->flags & PKT_F_L4) &&
			(m->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
		break;
	case DETECT_UDP_PPS:
		match = m->ip_version && m->proto == IPPROTO_UDP;
		break;
	case DETECT_ICMP_PPS:
		match = (m->ip_version == 4 && m->proto == IPPROTO_ICMP) ||
			(m->ip_version == 6 && m->proto == IPPROTO_ICMPV6);
		break;
	case DETECT_HOST_PPS:
	case DETECT_HOST_MBPS:
		match = m->ip_version && m->ip_version == q->host_version &&
			memcmp(m->dst, q->host, sizeof m->dst) == 0;
		break;
	default:
		break;
	}
	if (!match)
		return 0;
	return is_mbps(q->metric) ? (m->wirelen ? m->wirelen : 1) : 1;
}

/* w weight units over d ns: strictly above the threshold? */
static int above(const struct onset_query *q, unsigned __int128 w, int64_t d)
{
	if (d <= 0)
		return w > 0;
	unsigned __int128 lhs = w * (is_mbps(q->metric) ? 8000u : 1000000000u);
	unsigned __int128 rhs = (unsigned __int128)q->limit * (uint64_t)d;
	return lhs > rhs;
}

struct on_pkt {
	int64_t t;
	uint32_t w, pos;
};

struct on_walk {
	const struct onset_query *q;
	int64_t first_b;  /* bucket of sums[0] */
	uint64_t sums[ON_SPAN + 1];
	/* pass 2: the metric's packets from bucket b - 1's start to END */
	int64_t from_ns, end_ns, b_ns; /* bucket b - 1's start, END, bucket b's start */
	int end_incl;			/* END is the trigger (not in the ring) */
	struct on_pkt *a;
	uint32_t na, cap;
	uint32_t pos;
	int have_next;			/* first of the metric's packets at or after b's start */
	int64_t next_ns;
	uint32_t next_pos;
};

static int64_t ring_ts(const struct onset_query *q, int64_t sec, uint32_t frac)
{
	return sec * 1000000000LL + (int64_t)frac * (q->nano ? 1 : 1000);
}

static uint32_t ring_weight(const struct onset_query *q, uint32_t caplen, uint32_t wirelen,
			    const uint8_t *data)
{
	struct pkt_meta m;
	decode_packet(q->dlt, data, caplen, wirelen, &m);
	return weight(q, &m);
}

static int sum_visit(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		     const uint8_t *data)
{
	struct on_walk *w = ctx;
	int64_t b = floor_div(ring_ts(w->q, sec, frac), ON_B) - w->first_b;
	if (b < 0 || b > ON_SPAN)
		return 0;
	w->sums[b] += ring_weight(w->q, caplen, wirelen, data);
	return 0;
}

static int on_add(struct on_walk *w, int64_t t, uint32_t wt, uint32_t pos)
{
	if (w->na == w->cap) {
		uint32_t nc = w->cap ? w->cap * 2 : 4096;
		struct on_pkt *na = realloc(w->a, (size_t)nc * sizeof *na);
		if (!na)
			return -1;
		w->a = na;
		w->cap = nc;
	}
	w->a[w->na++] = (struct on_pkt){ t, wt, pos };
	return 0;
}

static int collect_visit(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
			 const uint8_t *data)
{
	struct on_walk *w = ctx;
	uint32_t pos = w->pos++;
	int64_t t = ring_ts(w->q, sec, frac);
	if (t < w->from_ns || (w->have_next && t >= w->end_ns))
		return 0;
	uint32_t wt = ring_weight(w->q, caplen, wirelen, data);
	if (!wt)
		return 0;
	if (t >= w->b_ns && !w->have_next) {
		w->have_next = 1;
		w->next_ns = t;
		w->next_pos = pos;
	}
	if (t > w->end_ns || (t == w->end_ns && !w->end_incl))
		return 0;
	return on_add(w, t, wt, pos) == 0 ? 0 : 1; /* out of memory: decide on what we have */
}

/*
 * The first collected packet whose rate is above both up to END and over the ONSET_LOCAL_NS
 * after it (or up to END if that is sooner); -1 if none.
 */
static int64_t first_above(const struct on_walk *w)
{
	unsigned __int128 total = 0, before = 0, ahead = 0;
	uint32_t j = 0;
	for (uint32_t i = 0; i < w->na; i++)
		total += w->a[i].w;
	for (uint32_t i = 0; i < w->na; i++) {
		const struct on_pkt *p = &w->a[i];
		if (j < i) {
			j = i;
			ahead = 0;
		}
		/* ahead: weights of a[i .. j) within ONSET_LOCAL_NS of p (times sorted, or nearly) */
		while (j < w->na && w->a[j].t - p->t <= ONSET_LOCAL_NS)
			ahead += w->a[j++].w;
		int64_t to_end = w->end_ns - p->t;
		int64_t local = to_end < ONSET_LOCAL_NS ? to_end : ONSET_LOCAL_NS;
		if (above(w->q, total - before, to_end) && above(w->q, ahead, local))
			return i;
		before += p->w;
		ahead -= p->w;
	}
	return -1;
}

void onset_find(const ring_t *r, const struct onset_query *q, struct onset *o)
{
	static struct on_walk w; /* 900 bytes of sums: off the stack, one capture thread */
	uint32_t n = ring_count(r);
	int64_t tb = floor_div(q->trigger_ns, ON_B);

	memset(&w, 0, sizeof w);
	w.q = q;
	w.first_b = tb - ON_SPAN;
	ring_foreach(r, sum_visit, &w);

	/* b: the earliest of the run of full buckets above before the trigger's */
	int64_t j = ON_SPAN - 1;
	while (j >= 1 && above(q, w.sums[j], ON_B))
		j--;
	int64_t b = j + 1; /* index in sums; ON_SPAN is the trigger's bucket */

	w.b_ns = (w.first_b + b) * ON_B;
	w.from_ns = w.b_ns - ON_B;
	w.end_incl = b + 1 >= ON_SPAN;
	w.end_ns = w.end_incl ? q->trigger_ns : w.b_ns + ON_B;
	ring_foreach(r, collect_visit, &w);
	if (w.end_incl) /* the trigger packet, after the ring's (on no memory: the default below) */
		on_add(&w, q->trigger_ns, q->trigger_weight, n);
	int64_t i = first_above(&w);

	o->onset_ns = q->trigger_ns;
	o->onset_pos = n;
	if (i >= 0) {
		o->onset_ns = w.a[i].t;
		o->onset_pos = w.a[i].pos;
	} else if (w.have_next) {
		o->onset_ns = w.next_ns;
		o->onset_pos = w.next_pos;
	}
	free(w.a);
	o->start_pos = o->onset_pos > q->pre_packets ? o->onset_pos - q->pre_packets : 0;
	int64_t oldest;
	o->reached = ring_complete(r) || (ring_oldest_ns(r, &oldest) == 0 && oldest < w.from_ns);
	if (j < 1)
		o->reached = 0; /* above back to the end of what is looked at: not the run-up */
}
