/*
 * flow.c - bidirectional flow table (see flow.h).
 *
 * DESIGN: flow_table_new() allocates everything: a pool of max_flows entries, a bucket array of
 * uint32 entry indexes (a power of two >= 2 * max_flows, chains linked through the entries) and
 * a small direct-mapped fragment map. Index 0 means "none", so pool[0] is never used. The pool
 * comes from calloc() and entries are handed out from a high-water mark before the free list,
 * so only the pages of entries ever used become resident. Every flow sits on one of two LRU
 * lists ordered by last activity: the normal list (idle timeout) and the closing list (TCP flows
 * that saw a RST or a FIN from both sides; they linger FLOW_LINGER_NS to absorb the last ACKs
 * and retransmitted RSTs). Expiry pops list tails, so it costs O(flows ended).
 *
 * Time: the table keeps a clock, the largest packet (or expire) time seen so far, and stamps each
 * flow with it when a packet arrives; the lists are therefore always sorted even if packet
 * timestamps step backwards. Each update first ends the flows that are due by the packet's time,
 * so expiry is exact even when flow_table_expire() is never called.
 *
 * Hashing: the key is five 64-bit words built in registers; they are mixed with folded 64x64->128
 * multiplies (wyhash style; a multiply-xorshift chain where there is no 128-bit type) and a
 * random seed from getrandom(), so remote hosts cannot aim packets at one chain. The seed never
 * shows in the output: records and their order depend only on the packets and the calls. The
 * fragment map, whose collisions do change the output, uses the portable hash with a fixed seed
 * so that runs stay deterministic on every platform.
 *
 * Cost (throwaway benchmark, random traffic over 10k flows, one shared 2-core VM): about 50 ns
 * per update; it is bound by two dependent cache misses (bucket, entry) once the table outgrows
 * the caches.
 */
#include "outputs/flow.h"
#include "base/log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/random.h>

#define FLOW_MAX_FLOWS (1u << 30)	     /* largest max_flows accepted */
#define FLOW_LINGER_NS (2 * 1000000000LL)    /* closing flows end after this much quiet */
#define FLOW_FRAG_SLOTS 4096		     /* fragment map size (power of two) */
#define FLOW_FRAG_TTL_NS (30 * 1000000000LL) /* a first fragment is remembered this long */
#define FLOW_FRAG_SEED 0x243f6a8885a308d3ULL /* fixed: map collisions must be reproducible */

#define FL_NONE 0

enum { FL_NORMAL = 0, FL_CLOSING = 1 }; /* lists[] index, fl_entry.list */

#define FL_FIN_A 1 /* key side a sent a FIN */
#define FL_FIN_B 2

/*
 * Canonical key, five words built in registers (byte-wise stores read back as words would stall
 * store forwarding): w[0..1] address of side a, w[2..3] address of side b (bytes as in memory),
 * w[4] = port a | port b << 16 | vlan << 32 | ip version << 48 | protocol << 56. Side a is the
 * endpoint that sorts first. ICMP: the ports are (request type, code).
 */
struct fl_key {
	uint64_t w[5];
};

#define FL_KEY_VER(k) ((uint8_t)((k)->w[4] >> 48))
#define FL_KEY_PROTO(k) ((uint8_t)((k)->w[4] >> 56))
#define FL_KEY_VLAN(k) ((uint16_t)((k)->w[4] >> 32))

/*
 * 128 bytes, 128-byte aligned: the first cache line holds what a lookup and an LRU move touch
 * (also in neighbouring entries), the second the counters of the flow being updated.
 */
struct fl_entry {
	struct fl_key key;
	uint32_t hnext;	       /* bucket chain; free list link when free */
	uint32_t prev, next;   /* LRU list, prev towards the head (most recent) */
	uint16_t sport, dport; /* record ports: originator's first packet */
	uint8_t tcp_flags[2];
	uint8_t orig_is_a;    /* the originator is key side a */
	uint8_t fin;	      /* FL_FIN_A | FL_FIN_B */
	uint8_t list;	      /* FL_NORMAL or FL_CLOSING */
	uint8_t close_reason; /* enum flow_end_reason, while on the closing list */
	/* second cache line */
	int64_t ts_start, ts_end;   /* first packet, latest packet timestamp */
	int64_t t_act;		    /* table clock at the last packet: orders the lists */
	uint64_t pkts[2], bytes[2]; /* [0] originator, [1] responder */
	uint64_t tag;
};
_Static_assert(sizeof(struct fl_entry) == 128, "fl_entry should be two cache lines");
_Static_assert(offsetof(struct fl_entry, ts_start) == 64, "hot fields in the first line");

struct fl_list {
	uint32_t head, tail; /* most and least recently active */
};

/* Fragment map slot, keyed in packet direction (src, dst as sent); ver 0 means empty. */
struct fl_frag {
	uint64_t src[2], dst[2];
	int64_t t; /* table clock when stored */
	uint32_t id;
	uint16_t sport, dport;
	uint8_t ver, proto;
};

struct flow_table {
	struct flow_config cfg;
	flow_emit_fn emit;
	void *ctx;
	void *pool_mem;	       /* calloc'd; pool is pool_mem aligned to 128 bytes */
	struct fl_entry *pool; /* pool[1..max_flows] */
	uint32_t *buckets;
	uint32_t mask;	    /* bucket count - 1 */
	uint32_t free_head; /* entries ended and free for reuse */
	uint32_t hwm;	    /* entries 1..hwm have been handed out at least once */
	struct fl_list lists[2];
	struct fl_frag *frags;
	uint64_t seed;
	int64_t now; /* largest time seen */
	struct flow_stats st;
};

static const char *const fl_reason_names[] = {
    [FLOW_END_IDLE] = "idle_timeout", [FLOW_END_ACTIVE] = "active_timeout",
    [FLOW_END_TCP_FIN] = "tcp_fin",   [FLOW_END_TCP_RST] = "tcp_rst",
    [FLOW_END_EVICTED] = "evicted",   [FLOW_END_RUN] = "end_of_run",
};

const char *flow_end_reason_str(enum flow_end_reason r)
{
	if ((unsigned)r >= sizeof fl_reason_names / sizeof fl_reason_names[0])
		return "unknown";
	return fl_reason_names[r];
}

/* ICMP request/reply type pairs: a reply is keyed by its request type so both directions meet. */
static const struct {
	uint8_t ver, request, reply;
} fl_icmp_pairs[] = {
    {4, 8, 0},	   /* echo */
    {4, 13, 14},   /* timestamp */
    {4, 15, 16},   /* information */
    {4, 17, 18},   /* address mask */
    {6, 128, 129}, /* ICMPv6 echo */
    {6, 139, 140}, /* ICMPv6 node information */
};

static int fl_is_icmp(uint8_t ver, uint8_t proto)
{
	return (ver == 4 && proto == 1) || (ver == 6 && proto == 58);
}

static uint16_t fl_icmp_key_type(uint8_t ver, uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof fl_icmp_pairs / sizeof fl_icmp_pairs[0]; i++)
		if (fl_icmp_pairs[i].ver == ver && fl_icmp_pairs[i].reply == type)
			return fl_icmp_pairs[i].request;
	return type;
}

/*
 * Multiply-xorshift over five words; each step is a bijection of the running state. The same on
 * every platform: the fragment map uses it so that its collisions are reproducible everywhere.
 */
static inline uint64_t fl_hash5_portable(const uint64_t w[5], uint64_t seed)
{
	uint64_t h = seed;
	int i;

	for (i = 0; i < 5; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

#ifdef __SIZEOF_INT128__
/* 64x64 -> 128 bit multiply, both halves folded (as in wyhash). */
static inline uint64_t fl_mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * The flow table's hash: three independent folded multiplies, then one to combine them (about
 * half the latency of the chained version, which matters on every packet).
 */
static inline uint64_t fl_hash5(const uint64_t w[5], uint64_t seed)
{
	uint64_t x = fl_mum(w[0] ^ seed ^ 0xa0761d6478bd642fULL, w[1] ^ 0xe7037ed1a0b428dbULL);
	uint64_t y = fl_mum(w[2] ^ seed ^ 0x8ebc6af09c88c6e3ULL, w[3] ^ 0x589965cc75374cc3ULL);
	uint64_t z = fl_mum(w[4] ^ seed ^ 0x1d8e4e27c47d124fULL, seed ^ 0x9e3779b97f4a7c15ULL);

	return fl_mum(x ^ z ^ 0xe7037ed1a0b428dbULL, y ^ 0xa0761d6478bd642fULL);
}
#else
#define fl_hash5 fl_hash5_portable
#endif

/* An address of pkt_meta as two words (IPv4: bytes 4..15 forced to zero). */
static inline void fl_load_addr(uint64_t w[2], const uint8_t addr[16], uint8_t ver)
{
	memcpy(w, addr, 16);
	if (ver == 4) {
		w[0] &= htole64(0xffffffffULL);
		w[1] = 0;
	}
}

/* memcmp() order of two loaded addresses. */
static inline int fl_addr_cmp(const uint64_t x[2], const uint64_t y[2])
{
	uint64_t a = be64toh(x[0]), b = be64toh(y[0]);

	if (a == b) {
		a = be64toh(x[1]);
		b = be64toh(y[1]);
	}
	return (a > b) - (a < b);
}

/*
 * Builds the canonical key of a packet with ports (sport, dport). Returns 1 if the packet's
 * sender is key side a. ICMP: the sides are ordered by address alone and the ports are
 * (request type, code), so a request and its reply give the same key.
 */
static int fl_make_key(struct fl_key *k, const struct pkt_meta *m, uint16_t sport, uint16_t dport)
{
	uint64_t src[2], dst[2];
	uint16_t pa, pb;
	int c, from_a;

	fl_load_addr(src, m->src, m->ip_version);
	fl_load_addr(dst, m->dst, m->ip_version);
	c = fl_addr_cmp(src, dst);
	if (fl_is_icmp(m->ip_version, m->proto)) {
		from_a = c <= 0;
		pa = fl_icmp_key_type(m->ip_version, sport);
		pb = dport;
	} else {
		if (c == 0)
			c = (sport > dport) - (sport < dport);
		from_a = c <= 0;
		pa = from_a ? sport : dport;
		pb = from_a ? dport : sport;
	}
	k->w[0] = from_a ? src[0] : dst[0];
	k->w[1] = from_a ? src[1] : dst[1];
	k->w[2] = from_a ? dst[0] : src[0];
	k->w[3] = from_a ? dst[1] : src[1];
	k->w[4] = (uint64_t)pa | (uint64_t)pb << 16 | (uint64_t)m->vlan << 32 |
		  (uint64_t)m->ip_version << 48 | (uint64_t)m->proto << 56;
	return from_a;
}

/* --- LRU lists (index-linked) --- */

static void fl_list_unlink(flow_table_t *t, uint32_t i)
{
	struct fl_entry *e = &t->pool[i];
	struct fl_list *l = &t->lists[e->list];

	if (e->prev)
		t->pool[e->prev].next = e->next;
	else
		l->head = e->next;
	if (e->next)
		t->pool[e->next].prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = FL_NONE;
}

static void fl_list_push(flow_table_t *t, uint32_t i, uint8_t which)
{
	struct fl_entry *e = &t->pool[i];
	struct fl_list *l = &t->lists[which];

	e->list = which;
	e->prev = FL_NONE;
	e->next = l->head;
	if (l->head)
		t->pool[l->head].prev = i;
	else
		l->tail = i;
	l->head = i;
}

/* --- ending flows --- */

static void fl_fill_record(const struct fl_entry *e, enum flow_end_reason why,
			   struct flow_record *r)
{
	memset(r, 0, sizeof *r);
	r->ts_start_ns = e->ts_start;
	r->ts_end_ns = e->ts_end;
	r->ip_version = FL_KEY_VER(&e->key);
	r->proto = FL_KEY_PROTO(&e->key);
	r->vlan = FL_KEY_VLAN(&e->key);
	memcpy(r->src, &e->key.w[e->orig_is_a ? 0 : 2], 16);
	memcpy(r->dst, &e->key.w[e->orig_is_a ? 2 : 0], 16);
	r->src_port = e->sport;
	r->dst_port = e->dport;
	r->pkts_orig = e->pkts[0];
	r->bytes_orig = e->bytes[0];
	r->pkts_resp = e->pkts[1];
	r->bytes_resp = e->bytes[1];
	r->tcp_flags_orig = e->tcp_flags[0];
	r->tcp_flags_resp = e->tcp_flags[1];
	r->end_reason = why;
	r->tag = e->tag;
}

/* Removes flow i from the table, frees its entry and emits its record. */
static void fl_end(flow_table_t *t, uint32_t i, enum flow_end_reason why)
{
	struct fl_entry *e = &t->pool[i];
	struct flow_record r;
	uint32_t *pp;

	fl_fill_record(e, why, &r);
	pp = &t->buckets[fl_hash5(e->key.w, t->seed) & t->mask];
	while (*pp != i)
		pp = &t->pool[*pp].hnext;
	*pp = e->hnext;
	fl_list_unlink(t, i);
	e->hnext = t->free_head;
	t->free_head = i;
	t->st.active--;
	t->st.flows_ended++;
	if (why == FLOW_END_EVICTED)
		t->st.flows_evicted++;
	if (t->emit)
		t->emit(t->ctx, &r);
}

/* Nonzero if flow i has been quiet for more than its list's timeout at the table clock. */
static int fl_due(const flow_table_t *t, uint32_t i)
{
	const struct fl_entry *e = &t->pool[i];
	int64_t limit = e->list == FL_CLOSING ? FLOW_LINGER_NS : t->cfg.idle_ns;

	/* t->now >= e->t_act always; unsigned keeps the difference exact for any int64 times */
	return (uint64_t)t->now - (uint64_t)e->t_act > (uint64_t)limit;
}

/*
 * The least recently active of the two list tails (closing first on a tie), or FL_NONE.
 * With due_only, only a tail that is due counts.
 */
static uint32_t fl_oldest(const flow_table_t *t, int due_only)
{
	uint32_t n = t->lists[FL_NORMAL].tail, c = t->lists[FL_CLOSING].tail;

	if (due_only) {
		if (n && !fl_due(t, n))
			n = FL_NONE;
		if (c && !fl_due(t, c))
			c = FL_NONE;
	}
	if (c && (!n || t->pool[c].t_act <= t->pool[n].t_act))
		return c;
	return n;
}

/* The reason a flow ends with when its timeout passes or the run ends. */
static enum flow_end_reason fl_quiet_reason(const struct fl_entry *e, enum flow_end_reason normal)
{
	return e->list == FL_CLOSING ? (enum flow_end_reason)e->close_reason : normal;
}

static void fl_expire_due(flow_table_t *t)
{
	uint32_t i;

	while ((i = fl_oldest(t, 1)) != FL_NONE)
		fl_end(t, i, fl_quiet_reason(&t->pool[i], FLOW_END_IDLE));
}

/* --- fragments --- */

/* The slot of m's datagram; its addresses are loaded into src and dst. */
static struct fl_frag *fl_frag_slot(flow_table_t *t, const struct pkt_meta *m, uint64_t src[2],
				    uint64_t dst[2])
{
	uint64_t w[5];

	fl_load_addr(src, m->src, m->ip_version);
	fl_load_addr(dst, m->dst, m->ip_version);
	w[0] = src[0];
	w[1] = src[1];
	w[2] = dst[0];
	w[3] = dst[1];
	w[4] = (uint64_t)m->frag_id | (uint64_t)m->ip_version << 32 | (uint64_t)m->proto << 40;
	return &t->frags[fl_hash5_portable(w, FLOW_FRAG_SEED) & (FLOW_FRAG_SLOTS - 1)];
}

/* Remembers the ports of a first fragment (overwrites whatever held the slot). */
static void fl_frag_store(flow_table_t *t, const struct pkt_meta *m, uint16_t sport, uint16_t dport)
{
	uint64_t src[2], dst[2];
	struct fl_frag *f = fl_frag_slot(t, m, src, dst);

	memcpy(f->src, src, sizeof src);
	memcpy(f->dst, dst, sizeof dst);
	f->t = t->now;
	f->id = m->frag_id;
	f->sport = sport;
	f->dport = dport;
	f->ver = m->ip_version;
	f->proto = m->proto;
}

/* Ports of the first fragment of m's datagram if it was seen in the last 30 s, else 0, 0. */
static void fl_frag_lookup(flow_table_t *t, const struct pkt_meta *m, uint16_t *sport,
			   uint16_t *dport)
{
	uint64_t src[2], dst[2];
	const struct fl_frag *f = fl_frag_slot(t, m, src, dst);

	if (f->ver == m->ip_version && f->proto == m->proto && f->id == m->frag_id &&
	    (uint64_t)t->now - (uint64_t)f->t <= (uint64_t)FLOW_FRAG_TTL_NS &&
	    f->src[0] == src[0] && f->src[1] == src[1] && f->dst[0] == dst[0] &&
	    f->dst[1] == dst[1]) {
		*sport = f->sport;
		*dport = f->dport;
	}
}

/* --- the table --- */

flow_table_t *flow_table_new(const struct flow_config *cfg, flow_emit_fn emit, void *ctx, char *err,
			     size_t errlen)
{
	flow_table_t *t = NULL;
	uint64_t nbuckets = 1;
	size_t esz = sizeof(struct fl_entry);

	if (!cfg) {
		set_err(err, errlen, "no flow table configuration");
		goto fail;
	}
	if (cfg->max_flows < 1 || cfg->max_flows > FLOW_MAX_FLOWS) {
		set_err(err, errlen, "invalid flow table size `%u': expected 1 to %u flows",
			cfg->max_flows, FLOW_MAX_FLOWS);
		goto fail;
	}
	if (cfg->idle_ns <= 0) {
		set_err(err, errlen, "invalid flow idle timeout `%lld' ns: expected more than 0",
			(long long)cfg->idle_ns);
		goto fail;
	}
	if (cfg->active_ns <= 0) {
		set_err(err, errlen, "invalid flow active timeout `%lld' ns: expected more than 0",
			(long long)cfg->active_ns);
		goto fail;
	}
	while (nbuckets < 2 * (uint64_t)cfg->max_flows)
		nbuckets <<= 1;
	if (((size_t)cfg->max_flows + 1) > (SIZE_MAX - 128) / esz)
		goto nomem;

	t = calloc(1, sizeof *t);
	if (!t)
		goto nomem;
	t->cfg = *cfg;
	t->emit = emit;
	t->ctx = ctx;
	t->mask = (uint32_t)(nbuckets - 1);
	t->now = INT64_MIN;
	/* calloc: large blocks are fresh zero pages, resident only once touched */
	t->pool_mem = calloc(1, ((size_t)cfg->max_flows + 1) * esz + 128);
	t->buckets = calloc((size_t)nbuckets, sizeof *t->buckets);
	t->frags = calloc(FLOW_FRAG_SLOTS, sizeof *t->frags);
	if (!t->pool_mem || !t->buckets || !t->frags)
		goto nomem;
	t->pool = (struct fl_entry *)(((uintptr_t)t->pool_mem + 127) & ~(uintptr_t)127);
	if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
		t->seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)t;
	return t;

nomem:
	set_err(err, errlen, "cannot allocate a flow table of %u flows: out of memory",
		cfg->max_flows);
fail:
	flow_table_free(t);
	return NULL;
}

void flow_table_free(flow_table_t *t)
{
	if (!t)
		return;
	free(t->pool_mem);
	free(t->buckets);
	free(t->frags);
	free(t);
}

/* Starts a flow for key k (hash h), ending the least recently active flow if the table is full. */
static uint32_t fl_create(flow_table_t *t, const struct fl_key *k, uint64_t h, int from_a,
			  uint16_t sport, uint16_t dport, int64_t ts, uint64_t tag)
{
	struct fl_entry *e;
	uint32_t i, *b;

	if (t->st.active >= t->cfg.max_flows) {
		/* a closing flow is done already: lose its linger before a live flow */
		i = t->lists[FL_CLOSING].tail;
		if (i == FL_NONE)
			i = t->lists[FL_NORMAL].tail;
		fl_end(t, i, FLOW_END_EVICTED);
	}
	if (t->free_head) {
		i = t->free_head;
		t->free_head = t->pool[i].hnext;
	} else {
		i = ++t->hwm;
	}
	e = &t->pool[i];
	memset(e, 0, sizeof *e);
	e->key = *k;
	e->ts_start = e->ts_end = ts;
	e->tag = tag;
	e->orig_is_a = (uint8_t)from_a;
	e->sport = sport;
	e->dport = dport;
	b = &t->buckets[h & t->mask];
	e->hnext = *b;
	*b = i;
	fl_list_push(t, i, FL_NORMAL);
	t->st.flows_created++;
	t->st.active++;
	return i;
}

/* Key equality as five word compares. */
static inline int fl_key_eq(const struct fl_key *x, const struct fl_key *y)
{
	const uint64_t *a = x->w, *b = y->w;

	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
}

static uint32_t fl_lookup(const flow_table_t *t, const struct fl_key *k, uint64_t h)
{
	uint32_t i;

	for (i = t->buckets[h & t->mask]; i != FL_NONE; i = t->pool[i].hnext)
		if (fl_key_eq(&t->pool[i].key, k))
			return i;
	return FL_NONE;
}

/*
 * Besides what flow.h says: a flow on the closing list ignores the active timeout (it ends within
 * the linger anyway), keeps counting packets that arrive during the linger, and is ended at once
 * (with its tcp_fin/tcp_rst reason) when a SYN without ACK opens a new connection on its key.
 */
void flow_table_update(flow_table_t *t, const struct pkt_meta *m, int64_t ts_ns, uint64_t tag)
{
	struct fl_key k;
	struct fl_entry *e;
	uint16_t sport = 0, dport = 0;
	uint8_t tflags = 0, target;
	int from_a, dir, tcp = 0;
	uint32_t i;
	uint64_t h;

	if (m->ip_version != 4 && m->ip_version != 6)
		return;
	if (ts_ns > t->now)
		t->now = ts_ns;
	fl_expire_due(t);

	if (m->flags & PKT_F_FRAG_LATER) {
		fl_frag_lookup(t, m, &sport, &dport);
	} else if (m->flags & PKT_F_L4) {
		sport = m->sport;
		dport = m->dport;
		tcp = m->proto == 6;
		if (tcp)
			tflags = m->tcp_flags;
		if (m->flags & PKT_F_FRAG)
			fl_frag_store(t, m, sport, dport);
	}

	from_a = fl_make_key(&k, m, sport, dport);
	h = fl_hash5(k.w, t->seed);
	i = fl_lookup(t, &k, h);
	if (i != FL_NONE) {
		e = &t->pool[i];
		if (e->list == FL_CLOSING) {
			if (tcp && (tflags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN) {
				fl_end(t, i, (enum flow_end_reason)e->close_reason);
				i = FL_NONE;
			}
		} else if (ts_ns >= e->ts_start &&
			   (uint64_t)ts_ns - (uint64_t)e->ts_start >= (uint64_t)t->cfg.active_ns) {
			fl_end(t, i, FLOW_END_ACTIVE);
			i = FL_NONE;
		}
	}
	if (i == FL_NONE)
		i = fl_create(t, &k, h, from_a, sport, dport, ts_ns, tag);

	e = &t->pool[i];
	dir = from_a == e->orig_is_a ? 0 : 1;
	e->pkts[dir]++;
	e->bytes[dir] += m->wirelen;
	e->tcp_flags[dir] |= tflags;
	if (ts_ns > e->ts_end)
		e->ts_end = ts_ns;
	e->t_act = t->now;
	t->st.packets++;

	target = e->list;
	if (target == FL_NORMAL && (tflags & (TCPF_FIN | TCPF_RST))) {
		if (tflags & TCPF_RST) {
			e->close_reason = FLOW_END_TCP_RST;
			target = FL_CLOSING;
		} else {
			e->fin |= from_a ? FL_FIN_A : FL_FIN_B;
			if (e->fin == (FL_FIN_A | FL_FIN_B)) {
				e->close_reason = FLOW_END_TCP_FIN;
				target = FL_CLOSING;
			}
		}
	}
	if (t->lists[e->list].head != i || target != e->list) {
		fl_list_unlink(t, i);
		fl_list_push(t, i, target);
	}
}

void flow_table_expire(flow_table_t *t, int64_t now_ns)
{
	if (now_ns > t->now)
		t->now = now_ns;
	fl_expire_due(t);
}

/*
 * Oldest first means least recently active first (the merged tails of both lists). Flows on the
 * closing list end with their tcp_fin/tcp_rst reason, all others with FLOW_END_RUN.
 */
void flow_table_flush(flow_table_t *t)
{
	uint32_t i;

	while ((i = fl_oldest(t, 0)) != FL_NONE)
		fl_end(t, i, fl_quiet_reason(&t->pool[i], FLOW_END_RUN));
}

void flow_table_stats(const flow_table_t *t, struct flow_stats *st)
{
	*st = t->st;
}
