/*
 * analyze_susp.c - see analyze.h (asusp).
 *
 * DESIGN: one pass counts, the end turns counts into findings. The counters live in bounded
 * hash tables keyed by what a finding is about:
 *   hosts   per destination: SYNs, UDP and ICMP packets, amplifier responses, with their first
 *           and last time and the peak number in one second (two tumbling 1 s windows, the
 *           second shifted by half a second, so a burst across a window edge is not halved);
 *   pairs   per (source, destination): probes (TCP without ACK or RST, UDP to a lower port),
 *           distinct destination and source ports, answers (vertical scans);
 *   svcs    per (source, protocol, destination port): distinct destinations probed and
 *           answered (horizontal scans; ICMP echo sweeps use port 0);
 *   flows   per 5-tuple (both directions): payload bytes, segments with tcp.len > 1400, the TCP
 *           handshake state (to tell completed handshakes from SYNs left open), the service port;
 *   dset    a set of 64-bit hashes that makes every "distinct" count exact (up to its cap).
 * Every table has a cap; what did not fit is counted and reported as untracked.
 * A finding keeps the hosts, ports and time span it is about; the -w pass writes the packets
 * that match one (asusp_match), so finding and packets always agree.
 *
 * Rules (thresholds below; the rates are packets in one second, at the peak):
 *   syn-flood        >= 100 SYNs to a host, from mostly distinct source ports (>= 1/2 of the
 *                    SYNs, which tells a flood from a scan's few fixed ports), <= 10 % of them
 *                    completing the handshake. high at >= 100/s, else medium.
 *   udp-flood        to a host, not counting amplifier responses: >= 200/s from >= 50 sources,
 *                    or >= 1000/s while the host sends back < 1 % as much. high at >= 1000/s.
 *   icmp-flood       >= 200/s to a host (medium), >= 1000/s (high).
 *   amplification    UDP responses from DNS, NTP, SSDP, memcached, SNMP, CLDAP, chargen or
 *                    WS-Discovery source ports (to another port) to a host: >= 100 from >= 10
 *                    reflectors with < 1 request for 10 responses (high); >= 10 large responses
 * (medium); a single large unsolicited response or an NTP mode 7 reply (low). vertical-scan    one
 * source probes >= 100 ports of one host (medium); not reported when the same SYNs are already a
 * syn-flood of that host. horizontal-scan  one source probes one port on >= 64 hosts, fewer than
 * half answering (TCP, UDP); or sends ICMP echo requests to >= 64 hosts (medium). large-transfer >=
 * 1 MB of payload one way in one flow (info; the 10 largest). rare-port        a service port
 * outside a list of common ones that carried payload in both directions (info; the 10 busiest).
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "capture/extract.h"

#define NS 1000000000LL

/* caps of the tables */
#define S_MAX_HOSTS 32768u
#define S_MAX_PAIRS 65536u
#define S_MAX_SVCS 65536u
#define S_MAX_FLOWS 131072u
#define S_MAX_DSET 1048576u
#define S_SHOW_PER_TYPE 20 /* findings kept of each type, the biggest */
#define S_SHOW_INFO 10	   /* ... of large-transfer and rare-port */
#define S_MAX_FINDINGS (F__COUNT * S_SHOW_PER_TYPE)

/* thresholds */
#define T_SYN_MIN 100
#define T_SYN_SRC_SHARE 0.5
#define T_SYN_DONE_MAX 0.1
#define T_HIGH_RATE 100
#define T_UDP_RATE 200
#define T_UDP_SOURCES 50
#define T_UDP_ONEWAY_RATE 1000
#define T_UDP_ONEWAY_SHARE 0.01
#define T_ICMP_RATE 200
#define T_FLOOD_HIGH 1000
#define T_AMP_RESP 100
#define T_AMP_REFLECTORS 10
#define T_AMP_LARGE 10
#define T_VSCAN_PORTS 100
#define T_HSCAN_HOSTS 64
#define T_LARGE_BYTES 1000000
#define T_BIG_SEGMENT 1400

enum s_type {
	F_SYN_FLOOD,
	F_UDP_FLOOD,
	F_ICMP_FLOOD,
	F_AMPLIFICATION,
	F_VSCAN,
	F_HSCAN,
	F_LARGE,
	F_RARE,
	F__COUNT
};

/* clang-format off */
static const char *const s_type_names[F__COUNT] = {
	"syn-flood",	 "udp-flood",	    "icmp-flood",     "amplification",
	"vertical-scan", "horizontal-scan", "large-transfer", "rare-port",
};
/* clang-format on */

/* clang-format off */
/* amplifier source ports: name, and the payload size from which a response is "large" */
static const struct {
	uint16_t port;
	const char *name;
	uint32_t large;
} s_amp[] = {
	{ 53, "DNS", 512 },
	{ 123, "NTP", 200 },
	{ 1900, "SSDP", 700 },
	{ 11211, "memcached", 1000 },
	{ 161, "SNMP", 500 },
	{ 389, "CLDAP", 1000 },
	{ 19, "chargen", 100 },
	{ 3702, "WS-Discovery", 1000 },
};
#define N_AMP (sizeof s_amp / sizeof s_amp[0])
/* clang-format on */

/* clang-format off */
/* service ports common enough not to be called rare */
static const uint16_t s_common[] = {
	20, 21, 22, 23, 25, 53, 67, 68, 69, 80, 88, 110, 111, 119, 123, 135, 137, 138, 139, 143,
	161, 162, 179, 389, 443, 445, 465, 500, 514, 520, 546, 547, 554, 587, 631, 636, 853, 873,
	993, 995, 1080, 1194, 1433, 1521, 1701, 1723, 1812, 1813, 1883, 1900, 2049, 3128, 3268,
	3306, 3389, 3478, 3479, 3480, 3481, 3702, 4500, 5060, 5061, 5222, 5223, 5228, 5353, 5355,
	5432, 5900, 6379, 8000, 8008, 8080, 8443, 8883, 8888, 11211, 27017,
};
/* clang-format on */

/* peak packets in one second: two tumbling windows, the second shifted by half a second */
struct s_win {
	int64_t id[2];
	uint32_t cnt[2];
	uint32_t peak;
};

struct s_host_key {
	uint8_t ver, pad[3];
	uint8_t addr[16];
};

struct s_host {
	uint64_t syn, syn_srcs, syn_hosts, syn_done;
	uint64_t udp, udp_bytes, udp_srcs, udp_sent;
	uint64_t icmp, icmp_bytes, icmp_srcs;
	uint64_t amp, amp_bytes, amp_large, amp_refl, amp_mode7, amp_req, amp_req_bytes;
	uint64_t syn_bytes;
	uint32_t amp_protos; /* bit i: s_amp[i] seen */
	int64_t syn_t[2], udp_t[2], icmp_t[2], amp_t[2];
	struct s_win w_syn, w_udp, w_icmp, w_amp;
};

struct s_pair_key {
	uint8_t ver, pad[3];
	uint8_t src[16], dst[16];
};

struct s_pair {
	uint64_t probes, ports, sports, answered, bytes;
	int64_t t[2];
	uint8_t protos; /* 1 TCP, 2 UDP */
};

struct s_svc_key {
	uint8_t ver, proto;
	uint16_t port;
	uint8_t src[16];
};

struct s_svc {
	uint64_t probes, hosts, answered, bytes;
	int64_t t[2];
};

struct s_flow_key {
	uint8_t ver, proto;
	uint16_t pa, pb;
	uint8_t pad[2];
	uint8_t a[16], b[16];
};

/* flow states */
#define SF_SYN 1
#define SF_SYNACK 2
#define SF_DONE 4
#define SF_CLIENT_B 8 /* the SYN came from b */
#define SF_SVC_B 16   /* the service port is pb */
#define SF_HAVE_SVC 32

struct s_flow {
	uint64_t bytes[2]; /* payload a->b, b->a */
	uint32_t pkts[2];
	uint32_t big[2]; /* TCP segments with more than 1400 bytes of payload */
	int64_t t[2];
	uint8_t state;
};

struct s_find {
	uint8_t type, sev, ver, proto;
	uint16_t port, port2;
	uint8_t a[16], b[16];
	int64_t t[2];
	uint64_t packets, bytes;
	char subject[128];
	char evidence[384];
};

struct asusp {
	struct ahash hosts, pairs, svcs, flows, dset;
	uint64_t packets, untracked;
	struct s_find *f; /* the findings kept, sorted (after asusp_finish) */
	size_t nf;
	struct s_find *kept; /* S_SHOW_PER_TYPE slots per type while they are made */
	struct s_find scratch;
	int pending;
	size_t nshown[F__COUNT], nfound[F__COUNT];
	int finished;
};

asusp_t *asusp_new(void)
{
	struct asusp *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (ahash_init(&s->hosts, sizeof(struct s_host_key), sizeof(struct s_host), S_MAX_HOSTS) ||
	    ahash_init(&s->pairs, sizeof(struct s_pair_key), sizeof(struct s_pair), S_MAX_PAIRS) ||
	    ahash_init(&s->svcs, sizeof(struct s_svc_key), sizeof(struct s_svc), S_MAX_SVCS) ||
	    ahash_init(&s->flows, sizeof(struct s_flow_key), sizeof(struct s_flow), S_MAX_FLOWS) ||
	    ahash_init(&s->dset, 8, 0, S_MAX_DSET) ||
	    !(s->f = calloc(S_MAX_FINDINGS, sizeof *s->f)) ||
	    !(s->kept = calloc(S_MAX_FINDINGS, sizeof *s->kept))) {
		asusp_free(s);
		return NULL;
	}
	return s;
}

void asusp_free(asusp_t *s)
{
	if (!s)
		return;
	ahash_free(&s->hosts);
	ahash_free(&s->pairs);
	ahash_free(&s->svcs);
	ahash_free(&s->flows);
	ahash_free(&s->dset);
	free(s->f);
	free(s->kept);
	free(s);
}

const char *asusp_severity_name(int sev)
{
	static const char *const n[] = {"info", "low", "medium", "high"};
	return sev >= 0 && sev <= 3 ? n[sev] : "?";
}

/* --- counting --- */

static int64_t s_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b < 0) ? q - 1 : q;
}

static void s_win_add(struct s_win *w, int64_t ts)
{
	for (int k = 0; k < 2; k++) {
		int64_t id = s_floordiv(ts + k * (NS / 2), NS) + 1; /* + 1: 0 means unused */
		if (id != w->id[k]) {
			w->id[k] = id;
			w->cnt[k] = 0;
		}
		if (++w->cnt[k] > w->peak)
			w->peak = w->cnt[k];
	}
}

static void s_span(int64_t t[2], uint64_t count_before, int64_t ts)
{
	if (!count_before || ts < t[0])
		t[0] = ts;
	if (!count_before || ts > t[1])
		t[1] = ts;
}

static void *s_val(const struct ahash *h, const void *ent)
{
	return ent ? (uint8_t *)(uintptr_t)ent + ahash_val_off(h) : NULL;
}

/* A flow first seen without a SYN: its service port is the lower of the two. */
static void s_set_svc(struct s_flow *f, int dir, uint16_t sport, uint16_t dport)
{
	int svc_is_dport = dport <= sport;
	f->state |= SF_HAVE_SVC;
	if (dir ? !svc_is_dport : svc_is_dport)
		f->state |= SF_SVC_B;
}

static struct s_host *s_host(struct asusp *s, uint8_t ver, const uint8_t *addr, int create)
{
	struct s_host_key k;
	memset(&k, 0, sizeof k);
	k.ver = ver;
	memcpy(k.addr, addr, 16);
	struct s_host *h = s_val(&s->hosts, ahash_get(&s->hosts, &k, create, NULL));
	if (!h && create)
		s->untracked++;
	return h;
}

/* Adds a 64-bit hash of the bytes to the distinct set; nonzero if it was not there. */
static int s_new(struct asusp *s, uint8_t kind, const void *a, size_t an, const void *b, size_t bn,
		 uint32_t extra)
{
	uint8_t buf[64];
	int created = 0;
	uint64_t h;

	memset(buf, 0, sizeof buf);
	buf[0] = kind;
	memcpy(buf + 4, &extra, 4);
	memcpy(buf + 8, a, an);
	if (b)
		memcpy(buf + 8 + an, b, bn);
	h = ahash_bytes(buf, 8 + an + bn, 0x243f6a8885a308d3ULL);
	if (!ahash_get(&s->dset, &h, 1, &created))
		return 0;
	return created;
}

enum {
	D_SYNSRC = 1,
	D_SYNHOST,
	D_UDPSRC,
	D_ICMPSRC,
	D_AMPREF,
	D_PORT,
	D_SPORT,
	D_HOST,
	D_HANS,
	D_PANS
};

static int s_amp_index(uint16_t port)
{
	for (size_t i = 0; i < N_AMP; i++)
		if (s_amp[i].port == port)
			return (int)i;
	return -1;
}

static void s_probe(struct asusp *s, const struct pkt_meta *m, int64_t ts, uint32_t wirelen,
		    uint16_t port)
{
	struct s_pair_key pk;
	struct s_svc_key sk;
	uint8_t ver = m->ip_version;

	if (m->proto != 1 && m->proto != 58) {
		memset(&pk, 0, sizeof pk);
		pk.ver = ver;
		memcpy(pk.src, m->src, 16);
		memcpy(pk.dst, m->dst, 16);
		struct s_pair *p = s_val(&s->pairs, ahash_get(&s->pairs, &pk, 1, NULL));
		if (p) {
			s_span(p->t, p->probes, ts);
			p->probes++;
			p->bytes += wirelen;
			p->protos |= m->proto == 6 ? 1 : 2;
			if (s_new(s, D_PORT, &pk, sizeof pk, NULL, 0,
				  (uint32_t)m->proto << 16 | port))
				p->ports++;
			if (s_new(s, D_SPORT, &pk, sizeof pk, NULL, 0,
				  (uint32_t)m->proto << 16 | m->sport))
				p->sports++;
		} else {
			s->untracked++;
		}
	}
	memset(&sk, 0, sizeof sk);
	sk.ver = ver;
	sk.proto = m->proto;
	sk.port = port;
	memcpy(sk.src, m->src, 16);
	struct s_svc *v = s_val(&s->svcs, ahash_get(&s->svcs, &sk, 1, NULL));
	if (v) {
		s_span(v->t, v->probes, ts);
		v->probes++;
		v->bytes += wirelen;
		if (s_new(s, D_HOST, &sk, sizeof sk, m->dst, 16, 0))
			v->hosts++;
	} else {
		s->untracked++;
	}
}

/* A reply from m->src (port sport) to m->dst: answers the probes of m->dst to m->src. */
static void s_answer(struct asusp *s, const struct pkt_meta *m, uint16_t port)
{
	struct s_pair_key pk;
	struct s_svc_key sk;

	memset(&sk, 0, sizeof sk);
	sk.ver = m->ip_version;
	sk.proto = m->proto;
	sk.port = port;
	memcpy(sk.src, m->dst, 16);
	struct s_svc *v = s_val(&s->svcs, ahash_get(&s->svcs, &sk, 0, NULL));
	if (v && s_new(s, D_HANS, &sk, sizeof sk, m->src, 16, 0))
		v->answered++;
	if (m->proto == 1 || m->proto == 58)
		return;
	memset(&pk, 0, sizeof pk);
	pk.ver = m->ip_version;
	memcpy(pk.src, m->dst, 16);
	memcpy(pk.dst, m->src, 16);
	struct s_pair *p = s_val(&s->pairs, ahash_get(&s->pairs, &pk, 0, NULL));
	if (p && s_new(s, D_PANS, &pk, sizeof pk, NULL, 0, (uint32_t)m->proto << 16 | port))
		p->answered++;
}

/* The flow of a TCP/UDP packet; *dir is 0 if the packet goes a->b. NULL if untracked. */
static struct s_flow *s_flow(struct asusp *s, const struct pkt_meta *m, int *dir, int *created)
{
	struct s_flow_key k;
	int swap = memcmp(m->src, m->dst, 16);

	if (!swap)
		swap = m->sport > m->dport;
	else
		swap = swap > 0;
	memset(&k, 0, sizeof k);
	k.ver = m->ip_version;
	k.proto = m->proto;
	memcpy(k.a, swap ? m->dst : m->src, 16);
	memcpy(k.b, swap ? m->src : m->dst, 16);
	k.pa = swap ? m->dport : m->sport;
	k.pb = swap ? m->sport : m->dport;
	*dir = swap;
	struct s_flow *f = s_val(&s->flows, ahash_get(&s->flows, &k, 1, created));
	if (!f)
		s->untracked++;
	return f;
}

static void s_tcp(struct asusp *s, const struct pkt_meta *m, int64_t ts, uint32_t wirelen)
{
	uint8_t fl = m->tcp_flags;
	int dir = 0, created = 0;
	struct s_flow *f = s_flow(s, m, &dir, &created);
	int syn_only = (fl & TCPF_SYN) && !(fl & TCPF_ACK);

	if (f) {
		s_span(f->t, f->pkts[0] + f->pkts[1], ts);
		f->pkts[dir]++;
		f->bytes[dir] += m->l4_payload;
		if (m->l4_payload > T_BIG_SEGMENT)
			f->big[dir]++;
		if (syn_only && !(f->state & SF_SYN)) {
			f->state |= SF_SYN | SF_HAVE_SVC;
			if (dir)
				f->state |= SF_CLIENT_B;
			else
				f->state &= (uint8_t)~SF_CLIENT_B;
			/* the SYN's destination port is the service */
			if (dir)
				f->state &= (uint8_t)~SF_SVC_B;
			else
				f->state |= SF_SVC_B;
		} else if (created) {
			s_set_svc(f, dir, m->sport, m->dport);
		}
	}
	if (syn_only) {
		struct s_host *h = s_host(s, m->ip_version, m->dst, 1);
		if (h) {
			s_span(h->syn_t, h->syn, ts);
			h->syn++;
			h->syn_bytes += wirelen;
			s_win_add(&h->w_syn, ts);
			if (s_new(s, D_SYNSRC, m->dst, 16, m->src, 16, m->sport))
				h->syn_srcs++;
			if (s_new(s, D_SYNHOST, m->dst, 16, m->src, 16, 0))
				h->syn_hosts++;
		}
	}
	if (!(fl & (TCPF_ACK | TCPF_RST)))
		s_probe(s, m, ts, wirelen, m->dport);
	int from_client = f && (((f->state & SF_CLIENT_B) != 0) == (dir != 0));
	if ((fl & TCPF_SYN) && (fl & TCPF_ACK)) {
		s_answer(s, m, m->sport);
		if (f && (f->state & SF_SYN) && !from_client)
			f->state |= SF_SYNACK;
	} else if (fl & TCPF_RST) {
		if (!f || !from_client)
			s_answer(s, m, m->sport);
	} else if ((fl & TCPF_ACK) && f && (f->state & SF_SYNACK) && !(f->state & SF_DONE) &&
		   from_client) {
		f->state |= SF_DONE;
		struct s_host *h = s_host(s, m->ip_version, m->dst, 0);
		if (h)
			h->syn_done++;
	}
}

static void s_udp(struct asusp *s, const struct apkt *p, const struct pkt_meta *m)
{
	int dir = 0, created = 0;
	struct s_flow *f = s_flow(s, m, &dir, &created);
	int ai = s_amp_index(m->sport), ri = s_amp_index(m->dport);

	if (f) {
		s_span(f->t, f->pkts[0] + f->pkts[1], p->ts_ns);
		f->pkts[dir]++;
		f->bytes[dir] += m->l4_payload;
		if (created)
			s_set_svc(f, dir, m->sport, m->dport);
	}
	struct s_host *h = NULL;
	if (ai >= 0 && m->dport != m->sport) {
		h = s_host(s, m->ip_version, m->dst, 1);
		if (h) {
			s_span(h->amp_t, h->amp, p->ts_ns);
			h->amp++;
			h->amp_bytes += p->wirelen;
			h->amp_protos |= 1u << ai;
			s_win_add(&h->w_amp, p->ts_ns);
			if (m->l4_payload >= s_amp[ai].large)
				h->amp_large++;
			if (s_new(s, D_AMPREF, m->dst, 16, m->src, 16, 0))
				h->amp_refl++;
			/* NTP mode 7 (private: monlist and friends), the classic amplifier */
			uint8_t b0;
			uint32_t off = (uint32_t)m->l4_off + 8;
			if (m->sport == 123 && m->l4_off && off < p->caplen &&
			    ex_u8(p->data + off, p->data + p->caplen, &b0) == 0 && (b0 & 7) == 7)
				h->amp_mode7++;
		}
	} else {
		h = s_host(s, m->ip_version, m->dst, 1);
		if (h) {
			s_span(h->udp_t, h->udp, p->ts_ns);
			h->udp++;
			h->udp_bytes += p->wirelen;
			s_win_add(&h->w_udp, p->ts_ns);
			if (s_new(s, D_UDPSRC, m->dst, 16, m->src, 16, 0))
				h->udp_srcs++;
		}
	}
	struct s_host *src = s_host(s, m->ip_version, m->src, 1);
	if (src) {
		src->udp_sent++;
		if (ri >= 0 && m->dport != m->sport) {
			src->amp_req++;
			src->amp_req_bytes += p->wirelen;
		}
	}
	if (m->dport < m->sport)
		s_probe(s, m, p->ts_ns, p->wirelen, m->dport);
	else
		s_answer(s, m, m->sport);
}

static void s_icmp(struct asusp *s, const struct pkt_meta *m, int64_t ts, uint32_t wirelen)
{
	struct s_host *h = s_host(s, m->ip_version, m->dst, 1);
	uint16_t type = m->sport;

	if (h) {
		s_span(h->icmp_t, h->icmp, ts);
		h->icmp++;
		h->icmp_bytes += wirelen;
		s_win_add(&h->w_icmp, ts);
		if (s_new(s, D_ICMPSRC, m->dst, 16, m->src, 16, 0))
			h->icmp_srcs++;
	}
	if ((m->proto == 1 && type == 8) || (m->proto == 58 && type == 128))
		s_probe(s, m, ts, wirelen, 0);
	else if ((m->proto == 1 && type == 0) || (m->proto == 58 && type == 129))
		s_answer(s, m, 0);
}

void asusp_add(asusp_t *s, const struct apkt *p, const struct alayers *l)
{
	const struct pkt_meta *m = &l->m;

	s->packets++;
	if (l->dec != DEC_IP || !(m->flags & PKT_F_L4))
		return;
	switch (m->proto) {
	case 6:
		s_tcp(s, m, p->ts_ns, p->wirelen);
		break;
	case 17:
		s_udp(s, p, m);
		break;
	case 1:
	case 58:
		s_icmp(s, m, p->ts_ns, p->wirelen);
		break;
	default:
		break;
	}
}

/* --- findings --- */

static int s_find_cmp(const void *x, const void *y);

static size_t s_keep_max(int type)
{
	return type == F_LARGE || type == F_RARE ? S_SHOW_INFO : S_SHOW_PER_TYPE;
}

/*
 * Keeps the scratch finding if it is among the biggest of its type so far. s_find_cmp is a total
 * order, so the findings kept do not depend on the order the tables are walked in.
 */
static void s_keep(struct asusp *s)
{
	struct s_find *f = &s->scratch, *slot = s->kept + (size_t)f->type * S_SHOW_PER_TYPE;
	size_t n = s->nshown[f->type], worst = 0;

	s->pending = 0;
	if (n < s_keep_max(f->type)) {
		slot[n] = *f;
		s->nshown[f->type]++;
		return;
	}
	for (size_t i = 1; i < n; i++)
		if (s_find_cmp(&slot[i], &slot[worst]) > 0)
			worst = i;
	if (s_find_cmp(f, &slot[worst]) < 0)
		slot[worst] = *f;
}

/*
 * Hands out the scratch finding for the caller to fill in; the previous one is kept first (and
 * asusp_finish keeps the last one). Never NULL.
 */
static struct s_find *s_add_find(struct asusp *s, int type, int sev, uint8_t ver, const uint8_t *a,
				 const uint8_t *b, const int64_t t[2])
{
	if (s->pending)
		s_keep(s);
	s->pending = 1;
	s->nfound[type]++;
	struct s_find *f = &s->scratch;
	memset(f, 0, sizeof *f);
	f->type = (uint8_t)type;
	f->sev = (uint8_t)sev;
	f->ver = ver;
	if (a)
		memcpy(f->a, a, 16);
	if (b)
		memcpy(f->b, b, 16);
	f->t[0] = t[0];
	f->t[1] = t[1];
	return f;
}

static double s_secs(const int64_t t[2])
{
	return (double)(t[1] - t[0]) / 1e9;
}

static int s_syn_flood(const struct s_host *h)
{
	return h->syn >= T_SYN_MIN && (double)h->syn_srcs >= T_SYN_SRC_SHARE * (double)h->syn &&
	       (double)h->syn_done <= T_SYN_DONE_MAX * (double)h->syn;
}

static void s_host_findings(struct asusp *s, const uint8_t *key)
{
	const struct s_host_key *k = (const void *)key;
	const struct s_host *h = s_val(&s->hosts, key);
	char ad[48];
	struct s_find *f;

	aout_addr(k->ver, k->addr, ad, sizeof ad);
	if (s_syn_flood(h)) {
		int sev = h->w_syn.peak >= T_HIGH_RATE ? ASUSP_HIGH : ASUSP_MEDIUM;
		f = s_add_find(s, F_SYN_FLOOD, sev, k->ver, k->addr, NULL, h->syn_t);
		if (f) {
			f->proto = 6;
			f->packets = h->syn;
			f->bytes = h->syn_bytes;
			snprintf(f->subject, sizeof f->subject, "%s", ad);
			snprintf(f->evidence, sizeof f->evidence,
				 "SYNs: %llu, source hosts: %llu, source ports: %llu, handshakes "
				 "completed: %llu, peak: %u/s, span: %.3f s",
				 (unsigned long long)h->syn, (unsigned long long)h->syn_hosts,
				 (unsigned long long)h->syn_srcs, (unsigned long long)h->syn_done,
				 h->w_syn.peak, s_secs(h->syn_t));
		}
	}
	uint32_t up = h->w_udp.peak;
	int many = up >= T_UDP_RATE && h->udp_srcs >= T_UDP_SOURCES;
	int oneway =
	    up >= T_UDP_ONEWAY_RATE && (double)h->udp_sent < T_UDP_ONEWAY_SHARE * (double)h->udp;
	if (many || oneway) {
		int sev = up >= T_FLOOD_HIGH ? ASUSP_HIGH : ASUSP_MEDIUM;
		f = s_add_find(s, F_UDP_FLOOD, sev, k->ver, k->addr, NULL, h->udp_t);
		if (f) {
			f->proto = 17;
			f->packets = h->udp;
			f->bytes = h->udp_bytes;
			snprintf(f->subject, sizeof f->subject, "%s", ad);
			snprintf(f->evidence, sizeof f->evidence,
				 "UDP packets: %llu (%llu bytes), sources: %llu, sent back: %llu, "
				 "peak: %u/s, span: %.3f s",
				 (unsigned long long)h->udp, (unsigned long long)h->udp_bytes,
				 (unsigned long long)h->udp_srcs, (unsigned long long)h->udp_sent,
				 up, s_secs(h->udp_t));
		}
	}
	if (h->w_icmp.peak >= T_ICMP_RATE) {
		int sev = h->w_icmp.peak >= T_FLOOD_HIGH ? ASUSP_HIGH : ASUSP_MEDIUM;
		f = s_add_find(s, F_ICMP_FLOOD, sev, k->ver, k->addr, NULL, h->icmp_t);
		if (f) {
			f->proto = k->ver == 4 ? 1 : 58;
			f->packets = h->icmp;
			f->bytes = h->icmp_bytes;
			snprintf(f->subject, sizeof f->subject, "%s", ad);
			snprintf(f->evidence, sizeof f->evidence,
				 "ICMP%s packets: %llu (%llu bytes), sources: %llu, peak: %u/s, "
				 "span: %.3f s",
				 k->ver == 6 ? "v6" : "", (unsigned long long)h->icmp,
				 (unsigned long long)h->icmp_bytes,
				 (unsigned long long)h->icmp_srcs, h->w_icmp.peak,
				 s_secs(h->icmp_t));
		}
	}
	if (h->amp) {
		int unsolicited = (double)h->amp_req * 10 < (double)h->amp;
		int sev = -1;
		if (h->amp >= T_AMP_RESP && h->amp_refl >= T_AMP_REFLECTORS && unsolicited)
			sev = ASUSP_HIGH;
		else if (h->amp_large >= T_AMP_LARGE &&
			 (!h->amp_req || h->amp_bytes >= 10 * h->amp_req_bytes))
			sev = ASUSP_MEDIUM;
		else if (h->amp_mode7 || (h->amp_large && !h->amp_req))
			sev = ASUSP_LOW;
		if (sev >= 0 &&
		    (f = s_add_find(s, F_AMPLIFICATION, sev, k->ver, k->addr, NULL, h->amp_t))) {
			char protos[128] = "";
			size_t o = 0;
			for (size_t i = 0; i < N_AMP; i++)
				if (h->amp_protos & (1u << i) && o < sizeof protos)
					o += (size_t)snprintf(protos + o, sizeof protos - o, "%s%s",
							      o ? "/" : "", s_amp[i].name);
			f->proto = 17;
			f->packets = h->amp;
			f->bytes = h->amp_bytes;
			snprintf(f->subject, sizeof f->subject, "%s", ad);
			snprintf(
			    f->evidence, sizeof f->evidence,
			    "%s responses: %llu (%llu bytes, %llu large), NTP mode 7 replies: "
			    "%llu, reflectors: %llu, requests from %s: %llu, peak: %u/s, span: "
			    "%.3f s",
			    protos, (unsigned long long)h->amp, (unsigned long long)h->amp_bytes,
			    (unsigned long long)h->amp_large, (unsigned long long)h->amp_mode7,
			    (unsigned long long)h->amp_refl, ad, (unsigned long long)h->amp_req,
			    h->w_amp.peak, s_secs(h->amp_t));
		}
	}
}

static int s_has_syn_flood(struct asusp *s, uint8_t ver, const uint8_t *addr)
{
	const struct s_host *h = s_host(s, ver, addr, 0);
	return h && s_syn_flood(h);
}

static void s_pair_findings(struct asusp *s, const uint8_t *key)
{
	const struct s_pair_key *k = (const void *)key;
	const struct s_pair *p = s_val(&s->pairs, key);
	char sa[48], da[48];

	if (p->ports < T_VSCAN_PORTS)
		return;
	/* random ports from random source ports: that is the flood already reported */
	if ((double)p->sports >= 0.5 * (double)p->probes && s_has_syn_flood(s, k->ver, k->dst))
		return;
	struct s_find *f = s_add_find(s, F_VSCAN, ASUSP_MEDIUM, k->ver, k->src, k->dst, p->t);
	if (!f)
		return;
	aout_addr(k->ver, k->src, sa, sizeof sa);
	aout_addr(k->ver, k->dst, da, sizeof da);
	f->packets = p->probes;
	f->bytes = p->bytes;
	snprintf(f->subject, sizeof f->subject, "%s -> %s", sa, da);
	snprintf(f->evidence, sizeof f->evidence,
		 "ports probed: %llu, %s probes: %llu, source ports: %llu, answered: %llu, "
		 "span: %.3f s",
		 (unsigned long long)p->ports,
		 p->protos == 1	  ? "TCP"
		 : p->protos == 2 ? "UDP"
				  : "TCP/UDP",
		 (unsigned long long)p->probes, (unsigned long long)p->sports,
		 (unsigned long long)p->answered, s_secs(p->t));
}

static void s_svc_findings(struct asusp *s, const uint8_t *key)
{
	const struct s_svc_key *k = (const void *)key;
	const struct s_svc *v = s_val(&s->svcs, key);
	int icmp = k->proto == 1 || k->proto == 58;
	char sa[48];

	if (v->hosts < T_HSCAN_HOSTS)
		return;
	if (!icmp && (double)v->answered >= 0.5 * (double)v->hosts)
		return;
	struct s_find *f = s_add_find(s, F_HSCAN, ASUSP_MEDIUM, k->ver, k->src, NULL, v->t);
	if (!f)
		return;
	aout_addr(k->ver, k->src, sa, sizeof sa);
	f->proto = k->proto;
	f->port = k->port;
	f->packets = v->probes;
	f->bytes = v->bytes;
	if (icmp) {
		snprintf(f->subject, sizeof f->subject, "%s -> * ICMP%s echo", sa,
			 k->proto == 58 ? "v6" : "");
		snprintf(f->evidence, sizeof f->evidence,
			 "hosts probed: %llu, echo requests: %llu, answered: %llu, span: %.3f s",
			 (unsigned long long)v->hosts, (unsigned long long)v->probes,
			 (unsigned long long)v->answered, s_secs(v->t));
	} else {
		const char *pn = k->proto == 6 ? "tcp" : "udp";
		snprintf(f->subject, sizeof f->subject, "%s -> *:%u/%s", sa, k->port, pn);
		snprintf(f->evidence, sizeof f->evidence,
			 "hosts probed: %llu, probes: %llu, answered: %llu, span: %.3f s",
			 (unsigned long long)v->hosts, (unsigned long long)v->probes,
			 (unsigned long long)v->answered, s_secs(v->t));
	}
}

static int s_is_common(uint16_t port)
{
	size_t lo = 0, hi = sizeof s_common / sizeof s_common[0];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s_common[mid] == port)
			return 1;
		if (s_common[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

struct s_rare_key {
	uint8_t proto, pad;
	uint16_t port;
};

struct s_rare {
	uint64_t flows, pkts, bytes;
	int64_t t[2];
	uint8_t ver, a[16], b[16]; /* the busiest flow: client a, server b */
	uint64_t top_bytes;
};

static void s_flow_findings(struct asusp *s, struct ahash *rare)
{
	for (uint32_t i = 0; i < s->flows.nslots; i++) {
		const struct s_flow_key *k = ahash_slot(&s->flows, i);
		if (!k)
			continue;
		const struct s_flow *fl = s_val(&s->flows, k);
		for (int d = 0; d < 2; d++) {
			if (fl->bytes[d] < T_LARGE_BYTES)
				continue;
			const uint8_t *src = d ? k->b : k->a, *dst = d ? k->a : k->b;
			uint16_t sp = d ? k->pb : k->pa, dp = d ? k->pa : k->pb;
			struct s_find *f =
			    s_add_find(s, F_LARGE, ASUSP_INFO, k->ver, src, dst, fl->t);
			if (!f)
				continue;
			char sa[48], da[48], b[32];
			aout_addr(k->ver, src, sa, sizeof sa);
			aout_addr(k->ver, dst, da, sizeof da);
			f->proto = k->proto;
			f->port = sp;
			f->port2 = dp;
			f->packets = fl->pkts[d];
			f->bytes = fl->bytes[d];
			const char *pn = k->proto == 6 ? "tcp" : "udp";
			snprintf(f->subject, sizeof f->subject, "%s%s%s:%u -> %s%s%s:%u/%s",
				 k->ver == 6 ? "[" : "", sa, k->ver == 6 ? "]" : "", sp,
				 k->ver == 6 ? "[" : "", da, k->ver == 6 ? "]" : "", dp, pn);
			if (k->proto == 6)
				snprintf(
				    f->evidence, sizeof f->evidence,
				    "payload: %s in %u packets, segments with tcp.len > %d: %u, "
				    "span: %.3f s",
				    aout_bytes(fl->bytes[d], b, sizeof b), fl->pkts[d],
				    T_BIG_SEGMENT, fl->big[d], s_secs(fl->t));
			else
				snprintf(f->evidence, sizeof f->evidence,
					 "payload: %s in %u packets, span: %.3f s",
					 aout_bytes(fl->bytes[d], b, sizeof b), fl->pkts[d],
					 s_secs(fl->t));
		}
		/* rare service ports: payload both ways */
		if (!(fl->state & SF_HAVE_SVC) || !fl->bytes[0] || !fl->bytes[1])
			continue;
		int svc_b = (fl->state & SF_SVC_B) != 0;
		uint16_t port = svc_b ? k->pb : k->pa, other = svc_b ? k->pa : k->pb;
		if (s_is_common(port) || alayers_app(k->proto, port, port) != AP_NONE ||
		    (port >= 49152 && other >= 49152) || port == 0)
			continue;
		struct s_rare_key rk = {k->proto, 0, port};
		struct s_rare *r = s_val(rare, ahash_get(rare, &rk, 1, NULL));
		if (!r)
			continue;
		uint64_t by = fl->bytes[0] + fl->bytes[1];
		s_span(r->t, r->flows, fl->t[0]);
		s_span(r->t, 1, fl->t[1]);
		r->flows++;
		r->pkts += (uint64_t)fl->pkts[0] + fl->pkts[1];
		r->bytes += by;
		int busier = by > r->top_bytes ||
			     (by == r->top_bytes && memcmp(svc_b ? k->a : k->b, r->a, 16) < 0);
		if (r->flows == 1 || busier) {
			r->top_bytes = by;
			r->ver = k->ver;
			memcpy(r->a, svc_b ? k->a : k->b, 16);
			memcpy(r->b, svc_b ? k->b : k->a, 16);
		}
	}
	for (uint32_t i = 0; i < rare->nslots; i++) {
		const struct s_rare_key *rk = ahash_slot(rare, i);
		if (!rk)
			continue;
		const struct s_rare *r = s_val(rare, rk);
		struct s_find *f = s_add_find(s, F_RARE, ASUSP_INFO, r->ver, r->a, r->b, r->t);
		if (!f)
			continue;
		char sa[48], da[48], b[32];
		const char *pn = rk->proto == 6 ? "tcp" : "udp";
		aout_addr(r->ver, r->a, sa, sizeof sa);
		aout_addr(r->ver, r->b, da, sizeof da);
		f->proto = rk->proto;
		f->port = rk->port;
		f->packets = r->pkts;
		f->bytes = r->bytes;
		snprintf(f->subject, sizeof f->subject, "port %u/%s", rk->port, pn);
		snprintf(f->evidence, sizeof f->evidence,
			 "flows: %llu, packets: %llu, payload: %s, busiest: %s -> %s",
			 (unsigned long long)r->flows, (unsigned long long)r->pkts,
			 aout_bytes(r->bytes, b, sizeof b), sa, da);
	}
}

static int s_find_cmp(const void *x, const void *y)
{
	const struct s_find *a = x, *b = y;
	if (a->sev != b->sev)
		return a->sev > b->sev ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	uint64_t ka = a->type == F_LARGE || a->type == F_RARE ? a->bytes : a->packets;
	uint64_t kb = b->type == F_LARGE || b->type == F_RARE ? b->bytes : b->packets;
	if (ka != kb)
		return ka > kb ? -1 : 1;
	int c = strcmp(a->subject, b->subject);
	if (c)
		return c;
	return a->t[0] < b->t[0] ? -1 : a->t[0] > b->t[0];
}

void asusp_finish(asusp_t *s)
{
	struct ahash rare;

	if (s->finished)
		return;
	s->finished = 1;
	for (uint32_t i = 0; i < s->hosts.nslots; i++) {
		const uint8_t *k = ahash_slot(&s->hosts, i);
		if (k)
			s_host_findings(s, k);
	}
	/* the scans after the floods: a flood of random ports is not also a scan */
	for (uint32_t i = 0; i < s->pairs.nslots; i++) {
		const uint8_t *k = ahash_slot(&s->pairs, i);
		if (k)
			s_pair_findings(s, k);
	}
	for (uint32_t i = 0; i < s->svcs.nslots; i++) {
		const uint8_t *k = ahash_slot(&s->svcs, i);
		if (k)
			s_svc_findings(s, k);
	}
	if (ahash_init(&rare, sizeof(struct s_rare_key), sizeof(struct s_rare), 65536) == 0) {
		s_flow_findings(s, &rare);
		ahash_free(&rare);
	}
	if (s->pending)
		s_keep(s);
	s->nf = 0;
	for (int t = 0; t < F__COUNT; t++)
		for (size_t i = 0; i < s->nshown[t]; i++)
			s->f[s->nf++] = s->kept[(size_t)t * S_SHOW_PER_TYPE + i];
	qsort(s->f, s->nf, sizeof *s->f, s_find_cmp);
	s->untracked += s->hosts.refused + s->pairs.refused + s->svcs.refused + s->flows.refused;
}

size_t asusp_count(const asusp_t *s, enum asusp_severity min)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].sev >= min)
			n++;
	return n;
}

void asusp_types(const asusp_t *s, enum asusp_severity min, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int t = 0; t < F__COUNT; t++) {
		for (size_t i = 0; i < s->nf; i++) {
			if (s->f[i].type == t && s->f[i].sev >= min) {
				if (o < len)
					o += (size_t)snprintf(buf + o, len - o, "%s%s",
							      o ? "," : "", s_type_names[t]);
				break;
			}
		}
	}
}

/* --- the second pass --- */

static int s_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16) == 0;
}

static int s_match_one(const struct s_find *f, const struct pkt_meta *m, int64_t ts)
{
	uint8_t fl = m->tcp_flags;

	if (ts < f->t[0] || ts > f->t[1] || m->ip_version != f->ver)
		return 0;
	switch (f->type) {
	case F_SYN_FLOOD:
		return m->proto == 6 && (fl & TCPF_SYN) && !(fl & TCPF_ACK) && s_eq(m->dst, f->a);
	case F_UDP_FLOOD:
		return m->proto == 17 && s_eq(m->dst, f->a) &&
		       !(s_amp_index(m->sport) >= 0 && m->sport != m->dport);
	case F_ICMP_FLOOD:
		return (m->proto == 1 || m->proto == 58) && s_eq(m->dst, f->a);
	case F_AMPLIFICATION:
		return m->proto == 17 && s_eq(m->dst, f->a) && s_amp_index(m->sport) >= 0 &&
		       m->sport != m->dport;
	case F_VSCAN:
		return (m->proto == 6 || m->proto == 17) &&
		       ((s_eq(m->src, f->a) && s_eq(m->dst, f->b)) ||
			(s_eq(m->src, f->b) && s_eq(m->dst, f->a)));
	case F_HSCAN:
		if (m->proto != f->proto)
			return 0;
		if (f->proto == 1 || f->proto == 58)
			return (s_eq(m->src, f->a) && (m->sport == 8 || m->sport == 128)) ||
			       (s_eq(m->dst, f->a) && (m->sport == 0 || m->sport == 129));
		return (s_eq(m->src, f->a) && m->dport == f->port) ||
		       (s_eq(m->dst, f->a) && m->sport == f->port);
	case F_LARGE:
		return m->proto == f->proto && ((s_eq(m->src, f->a) && s_eq(m->dst, f->b) &&
						 m->sport == f->port && m->dport == f->port2) ||
						(s_eq(m->src, f->b) && s_eq(m->dst, f->a) &&
						 m->sport == f->port2 && m->dport == f->port));
	case F_RARE:
		return m->proto == f->proto && (m->sport == f->port || m->dport == f->port);
	default:
		return 0;
	}
}

int asusp_match(const asusp_t *s, const struct apkt *p, const struct alayers *l,
		enum asusp_severity min)
{
	const struct pkt_meta *m = &l->m;

	if (l->dec != DEC_IP || !(m->flags & PKT_F_L4))
		return 0;
	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].sev >= min && s_match_one(&s->f[i], m, p->ts_ns))
			return 1;
	return 0;
}

/* --- output --- */

void asusp_print(const asusp_t *s, FILE *out, int json, enum asusp_severity min)
{
	size_t n = asusp_count(s, min), bysev[4] = {0};
	char t0[40], t1[40];

	for (size_t i = 0; i < s->nf; i++)
		if (s->f[i].sev >= min)
			bysev[s->f[i].sev]++;
	if (json) {
		fprintf(out,
			"{\"packets\":%llu,\"untracked\":%llu,\"counts\":{\"high\":%zu,"
			"\"medium\":%zu,\"low\":%zu,\"info\":%zu},\"findings\":[",
			(unsigned long long)s->packets, (unsigned long long)s->untracked, bysev[3],
			bysev[2], bysev[1], bysev[0]);
		size_t k = 0;
		for (size_t i = 0; i < s->nf; i++) {
			const struct s_find *f = &s->f[i];
			if (f->sev < min)
				continue;
			fprintf(out, "%s\n{\"type\":\"%s\",\"severity\":\"%s\",\"subject\":",
				k++ ? "," : "", s_type_names[f->type], asusp_severity_name(f->sev));
			aout_json_str(out, f->subject);
			fprintf(out,
				",\"first\":\"%s\",\"last\":\"%s\",\"packets\":%llu,\"bytes\":%llu,"
				"\"evidence\":",
				aout_time(f->t[0], t0, sizeof t0),
				aout_time(f->t[1], t1, sizeof t1), (unsigned long long)f->packets,
				(unsigned long long)f->bytes);
			aout_json_str(out, f->evidence);
			fputc('}', out);
		}
		fprintf(out, "%s]}\n", k ? "\n" : "");
		return;
	}
	fprintf(out,
		"Suspicious traffic: %zu finding%s (%zu high, %zu medium, %zu low, %zu info) in "
		"%llu packets\n",
		n, n == 1 ? "" : "s", bysev[3], bysev[2], bysev[1], bysev[0],
		(unsigned long long)s->packets);
	if (n) {
		static const char *const heads[] = {"SEVERITY", "FINDING", "SUBJECT", "FIRST",
						    "LAST",	"PACKETS", "EVIDENCE"};
		static const int right[] = {0, 0, 0, 0, 0, 1, 0};
		aout_table_t *t = aout_table_new(7, heads, right);
		for (size_t i = 0; t && i < s->nf; i++) {
			const struct s_find *f = &s->f[i];
			char pk[24];
			if (f->sev < min)
				continue;
			snprintf(pk, sizeof pk, "%llu", (unsigned long long)f->packets);
			const char *cells[] = {asusp_severity_name(f->sev),
					       s_type_names[f->type],
					       f->subject,
					       aout_time(f->t[0], t0, sizeof t0),
					       aout_time(f->t[1], t1, sizeof t1),
					       pk,
					       f->evidence};
			aout_table_add(t, cells);
		}
		if (t)
			aout_table_print(t, out, "");
		aout_table_free(t);
	}
	for (int ty = 0; ty < F__COUNT; ty++)
		if (s->nfound[ty] > s->nshown[ty])
			fprintf(out, "(%zu more %s findings not shown)\n",
				s->nfound[ty] - s->nshown[ty], s_type_names[ty]);
	if (s->untracked)
		fprintf(out, "(%llu packets not fully tracked: tables at their caps)\n",
			(unsigned long long)s->untracked);
}
