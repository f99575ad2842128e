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
#include <string.h>

#include "capture/decode.h"

#define ON_B DETECT_BUCKET_NS
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

struct on_walk {
	const struct onset_query *q;
	int64_t first_b;  /* bucket of sums[0] */
	uint64_t sums[ON_SPAN + 1];
	/* pass 2 */
	int64_t from_ns, end_ns, b_ns; /* bucket b - 1's start, END, bucket b's start */
	int end_incl;			/* END is the trigger: count packets at END too */
	unsigned __int128 total;	/* weights in [from_ns, END) (+ the trigger) */
	unsigned __int128 before;	/* weights of the metric's packets passed so far */
	uint32_t pos;
	int found;
	int64_t onset_ns;
	uint32_t onset_pos;
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

static int find_visit(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		      const uint8_t *data)
{
	struct on_walk *w = ctx;
	uint32_t pos = w->pos++;
	int64_t t = ring_ts(w->q, sec, frac);
	if (t < w->from_ns)
		return 0;
	uint32_t wt = ring_weight(w->q, caplen, wirelen, data);
	if (!wt)
		return 0;
	if (t >= w->b_ns && !w->have_next) {
		w->have_next = 1;
		w->next_ns = t;
		w->next_pos = pos;
	}
	if (t < w->end_ns || (w->end_incl && t == w->end_ns)) {
		if (!w->found && t < w->b_ns + (w->end_incl ? ON_B : 0) &&
		    above(w->q, w->total - w->before, w->end_ns - t)) {
			w->found = 1;
			w->onset_ns = t;
			w->onset_pos = pos;
		}
		w->before += wt;
	}
	return w->found && w->have_next ? 1 : 0;
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
	if (b < ON_SPAN) {
		w.end_ns = w.b_ns;
		w.total = w.sums[b - 1];
	} else {
		/* the trigger's own bucket: everything from b - 1's start up to the trigger */
		w.end_ns = q->trigger_ns;
		w.end_incl = 1;
		w.total = (unsigned __int128)w.sums[b - 1] + w.sums[b] + q->trigger_weight;
	}
	ring_foreach(r, find_visit, &w);

	o->onset_ns = q->trigger_ns;
	o->onset_pos = n;
	if (w.found) {
		o->onset_ns = w.onset_ns;
		o->onset_pos = w.onset_pos;
	} else if (w.have_next) {
		o->onset_ns = w.next_ns;
		o->onset_pos = w.next_pos;
	}
	o->start_pos = o->onset_pos > q->pre_packets ? o->onset_pos - q->pre_packets : 0;
	int64_t oldest;
	o->reached = ring_complete(r) || (ring_oldest_ns(r, &oldest) == 0 && oldest < w.from_ns);
	if (j < 1)
		o->reached = 0; /* above back to the end of what is looked at: not the run-up */
}
