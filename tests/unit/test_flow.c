/*
 * test_flow.c - flow table: scenarios as tables of packets and expected records, plus a random
 * stress run that checks the table's invariants.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>

#include "outputs/flow.h"
#include "testhelp.h"

#define MS 1000000LL
#define SEC 1000000000LL

/* --- collecting emitted records --- */

#define COL_MAX 32

struct col {
	struct flow_record r[COL_MAX];
	int n;
};

static void col_emit(void *ctx, const struct flow_record *r)
{
	struct col *c = ctx;

	if (c->n < COL_MAX)
		c->r[c->n] = *r;
	c->n++;
}

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

/* --- scenario tables --- */

enum op { OP_END = 0, OP_PKT, OP_EXPIRE, OP_FLUSH, OP_COUNT };

#define F_ 0
#define S_ TCPF_SYN
#define A_ TCPF_ACK
#define SA (TCPF_SYN | TCPF_ACK)
#define FA (TCPF_FIN | TCPF_ACK)
#define RA (TCPF_RST | TCPF_ACK)
#define PA (TCPF_PSH | TCPF_ACK)

struct step {
	enum op op;
	int64_t t_ms; /* OP_PKT, OP_EXPIRE: time; OP_COUNT: expected records so far */
	const char *src;
	uint16_t sport;
	const char *dst;
	uint16_t dport;
	uint8_t proto;
	uint8_t tflags;
	uint32_t len;
	uint16_t vlan;
	uint16_t pflags; /* PKT_F_*; PKT_F_L4 is added unless PKT_F_FRAG_LATER or NOL4 */
	uint32_t frag_id;
};

#define NOL4 0x8000  /* test-only: do not set PKT_F_L4 */
#define NONIP 0x4000 /* test-only: ip_version 0 */

struct want {
	const char *src;
	uint16_t sport;
	const char *dst;
	uint16_t dport;
	uint8_t proto;
	uint16_t vlan;
	uint64_t po, bo, pr, br;
	uint8_t fo, fr;
	enum flow_end_reason why;
	int64_t start_ms, end_ms;
	uint64_t tag; /* the step index of the flow's first packet */
};

struct scenario {
	const char *name;
	uint32_t max_flows;
	int64_t idle_s, active_s;
	struct step steps[24];
	struct want want[8];
	int nwant;
	uint64_t evicted;
};

#define A4 "10.0.0.1"
#define B4 "10.0.0.2"
#define C4 "10.0.0.3"
#define A6 "2001:db8::1"
#define B6 "2001:db8::2"

#define P(t, s, sp, d, dp, pr, fl, len)                                                            \
	{                                                                                          \
		OP_PKT, t, s, sp, d, dp, pr, fl, len, 0, 0, 0                                      \
	}
#define PV(t, s, sp, d, dp, pr, len, vlan)                                                         \
	{                                                                                          \
		OP_PKT, t, s, sp, d, dp, pr, 0, len, vlan, 0, 0                                    \
	}
#define PF(t, s, sp, d, dp, pr, len, pf, id)                                                       \
	{                                                                                          \
		OP_PKT, t, s, sp, d, dp, pr, 0, len, 0, pf, id                                     \
	}
#define EXPIRE(t)                                                                                  \
	{                                                                                          \
		OP_EXPIRE, t, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, 0                                   \
	}
#define FLUSH                                                                                      \
	{                                                                                          \
		OP_FLUSH, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, 0                                    \
	}
#define COUNT(n)                                                                                   \
	{                                                                                          \
		OP_COUNT, n, NULL, 0, NULL, 0, 0, 0, 0, 0, 0, 0                                    \
	}

/* clang-format off */
static const struct scenario scenarios[] = {
	{ "flow_bidir_merge", 16, 60, 600,
	  { P(0, A4, 51000, B4, 80, 6, S_, 60), P(1, B4, 80, A4, 51000, 6, SA, 60),
	    P(2, A4, 51000, B4, 80, 6, A_, 52), P(3, A4, 51000, B4, 80, 6, PA, 300),
	    P(4, B4, 80, A4, 51000, 6, PA, 1500), FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 3, 412, 2, 1560, S_ | A_ | TCPF_PSH, SA | TCPF_PSH,
	      FLOW_END_RUN, 0, 4, 0 } },
	  1, 0 },
	{ "flow_orig_is_first_sender_high_side", 16, 60, 600,
	  { P(0, B4, 80, A4, 51000, 6, PA, 100), P(5, A4, 51000, B4, 80, 6, A_, 52), FLUSH },
	  { { B4, 80, A4, 51000, 6, 0, 1, 100, 1, 52, PA, A_, FLOW_END_RUN, 0, 5, 0 } },
	  1, 0 },
	{ "flow_orig_is_first_sender_same_addr", 16, 60, 600,
	  { P(0, A4, 9000, A4, 8000, 17, 0, 100), P(5, A4, 8000, A4, 9000, 17, 0, 50), FLUSH },
	  { { A4, 9000, A4, 8000, 17, 0, 1, 100, 1, 50, 0, 0, FLOW_END_RUN, 0, 5, 0 } },
	  1, 0 },
	{ "flow_icmp_echo_merge", 16, 60, 600,
	  { P(0, A4, 8, B4, 0, 1, 0, 98), P(1, B4, 0, A4, 0, 1, 0, 98),
	    P(1000, A4, 8, B4, 0, 1, 0, 98), P(1001, B4, 0, A4, 0, 1, 0, 98), FLUSH },
	  { { A4, 8, B4, 0, 1, 0, 2, 196, 2, 196, 0, 0, FLOW_END_RUN, 0, 1001, 0 } },
	  1, 0 },
	{ "flow_icmp_reply_first", 16, 60, 600,
	  { P(0, B4, 0, A4, 0, 1, 0, 98), P(1, A4, 8, B4, 0, 1, 0, 98), FLUSH },
	  { { B4, 0, A4, 0, 1, 0, 1, 98, 1, 98, 0, 0, FLOW_END_RUN, 0, 1, 0 } },
	  1, 0 },
	{ "flow_icmp_pairs_and_others", 16, 60, 600,
	  { P(0, A4, 13, B4, 0, 1, 0, 54), P(1, B4, 14, A4, 0, 1, 0, 54),
	    P(2, C4, 3, A4, 3, 1, 0, 70), P(3, A4, 17, B4, 0, 1, 0, 54),
	    P(4, B4, 18, A4, 0, 1, 0, 54), P(5, B4, 0, A4, 0, 1, 0, 98), FLUSH },
	  { { A4, 13, B4, 0, 1, 0, 1, 54, 1, 54, 0, 0, FLOW_END_RUN, 0, 1, 0 },
	    { C4, 3, A4, 3, 1, 0, 1, 70, 0, 0, 0, 0, FLOW_END_RUN, 2, 2, 2 },
	    { A4, 17, B4, 0, 1, 0, 1, 54, 1, 54, 0, 0, FLOW_END_RUN, 3, 4, 3 },
	    { B4, 0, A4, 0, 1, 0, 1, 98, 0, 0, 0, 0, FLOW_END_RUN, 5, 5, 5 } },
	  4, 0 },
	{ "flow_icmpv6_echo_merge", 16, 60, 600,
	  { P(0, A6, 128, B6, 0, 58, 0, 118), P(1, B6, 129, A6, 0, 58, 0, 118),
	    P(2, B6, 139, A6, 0, 58, 0, 90), P(3, A6, 140, B6, 0, 58, 0, 90), FLUSH },
	  { { A6, 128, B6, 0, 58, 0, 1, 118, 1, 118, 0, 0, FLOW_END_RUN, 0, 1, 0 },
	    { B6, 139, A6, 0, 58, 0, 1, 90, 1, 90, 0, 0, FLOW_END_RUN, 2, 3, 2 } },
	  2, 0 },
	{ "flow_ipv6_tcp", 16, 60, 600,
	  { P(0, B6, 443, A6, 40000, 6, SA, 80), P(1, A6, 40000, B6, 443, 6, A_, 72),
	    P(2, A6, 40001, B6, 443, 6, S_, 80), FLUSH },
	  { { B6, 443, A6, 40000, 6, 0, 1, 80, 1, 72, SA, A_, FLOW_END_RUN, 0, 1, 0 },
	    { A6, 40001, B6, 443, 6, 0, 1, 80, 0, 0, S_, 0, FLOW_END_RUN, 2, 2, 2 } },
	  2, 0 },
	{ "flow_vlans_are_different_flows", 16, 60, 600,
	  { PV(0, A4, 5000, B4, 53, 17, 80, 10), PV(1, B4, 53, A4, 5000, 17, 120, 20),
	    PV(2, B4, 53, A4, 5000, 17, 120, 10), FLUSH },
	  { { B4, 53, A4, 5000, 17, 20, 1, 120, 0, 0, 0, 0, FLOW_END_RUN, 1, 1, 1 },
	    { A4, 5000, B4, 53, 17, 10, 1, 80, 1, 120, 0, 0, FLOW_END_RUN, 0, 2, 0 } },
	  2, 0 },
	{ "flow_idle_expiry_by_expire", 16, 10, 600,
	  { P(0, A4, 5000, B4, 53, 17, 0, 80), P(500, B4, 53, A4, 5000, 17, 0, 120),
	    EXPIRE(5000), EXPIRE(10500), COUNT(0), EXPIRE(10501), COUNT(1), FLUSH },
	  { { A4, 5000, B4, 53, 17, 0, 1, 80, 1, 120, 0, 0, FLOW_END_IDLE, 0, 500, 0 } },
	  1, 0 },
	{ "flow_idle_expiry_without_expire", 16, 10, 600,
	  { P(0, A4, 5000, B4, 53, 17, 0, 80), P(10001, B4, 53, A4, 5000, 17, 0, 120), COUNT(1),
	    FLUSH },
	  { { A4, 5000, B4, 53, 17, 0, 1, 80, 0, 0, 0, 0, FLOW_END_IDLE, 0, 0, 0 },
	    { B4, 53, A4, 5000, 17, 0, 1, 120, 0, 0, 0, 0, FLOW_END_RUN, 10001, 10001, 1 } },
	  2, 0 },
	{ "flow_idle_expiry_by_other_traffic", 16, 10, 600,
	  { P(0, A4, 5000, B4, 53, 17, 0, 80), P(10001, C4, 1, B4, 2, 17, 0, 60), COUNT(1),
	    FLUSH },
	  { { A4, 5000, B4, 53, 17, 0, 1, 80, 0, 0, 0, 0, FLOW_END_IDLE, 0, 0, 0 },
	    { C4, 1, B4, 2, 17, 0, 1, 60, 0, 0, 0, 0, FLOW_END_RUN, 10001, 10001, 1 } },
	  2, 0 },
	{ "flow_active_timeout_splits", 16, 100, 60,
	  { P(0, A4, 5000, B4, 53, 17, 0, 80), P(30000, A4, 5000, B4, 53, 17, 0, 80),
	    P(59999, B4, 53, A4, 5000, 17, 0, 100), P(60000, B4, 53, A4, 5000, 17, 0, 100),
	    COUNT(1), P(70000, A4, 5000, B4, 53, 17, 0, 80), FLUSH },
	  { { A4, 5000, B4, 53, 17, 0, 2, 160, 1, 100, 0, 0, FLOW_END_ACTIVE, 0, 59999, 0 },
	    { B4, 53, A4, 5000, 17, 0, 1, 100, 1, 80, 0, 0, FLOW_END_RUN, 60000, 70000, 3 } },
	  2, 0 },
	{ "flow_tcp_fin_linger", 16, 60, 600,
	  { P(0, A4, 51000, B4, 80, 6, S_, 60), P(10, B4, 80, A4, 51000, 6, SA, 60),
	    P(20, A4, 51000, B4, 80, 6, A_, 52), P(1000, A4, 51000, B4, 80, 6, FA, 52),
	    P(1100, B4, 80, A4, 51000, 6, FA, 52), P(1200, A4, 51000, B4, 80, 6, A_, 52),
	    EXPIRE(3200), COUNT(0), EXPIRE(3201), COUNT(1), FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 4, 216, 2, 112, S_ | FA, SA | TCPF_FIN, FLOW_END_TCP_FIN,
	      0, 1200, 0 } },
	  1, 0 },
	{ "flow_tcp_fin_then_flush", 16, 60, 600,
	  { P(0, A4, 51000, B4, 80, 6, FA, 52), P(10, B4, 80, A4, 51000, 6, FA, 52),
	    P(20, C4, 1, B4, 2, 17, 0, 60), FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 1, 52, 1, 52, FA, FA, FLOW_END_TCP_FIN, 0, 10, 0 },
	    { C4, 1, B4, 2, 17, 0, 1, 60, 0, 0, 0, 0, FLOW_END_RUN, 20, 20, 2 } },
	  2, 0 },
	{ "flow_one_fin_is_not_closed", 16, 5, 600,
	  { P(0, A4, 51000, B4, 80, 6, FA, 52), P(10, A4, 51000, B4, 80, 6, FA, 52),
	    EXPIRE(3000), COUNT(0), EXPIRE(5011), FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 2, 104, 0, 0, FA, 0, FLOW_END_IDLE, 0, 10, 0 } },
	  1, 0 },
	{ "flow_tcp_rst", 16, 60, 600,
	  { P(0, A4, 51000, B4, 81, 6, S_, 60), P(1, B4, 81, A4, 51000, 6, RA, 40),
	    P(500, B4, 81, A4, 51000, 6, RA, 40), P(2400, C4, 7, B4, 7, 17, 0, 60), COUNT(0),
	    P(2501, C4, 7, B4, 7, 17, 0, 60), COUNT(1), FLUSH },
	  { { A4, 51000, B4, 81, 6, 0, 1, 60, 2, 80, S_, RA, FLOW_END_TCP_RST, 0, 500, 0 },
	    { C4, 7, B4, 7, 17, 0, 2, 120, 0, 0, 0, 0, FLOW_END_RUN, 2400, 2501, 3 } },
	  2, 0 },
	{ "flow_syn_after_close_starts_new_flow", 16, 60, 600,
	  { P(0, A4, 51000, B4, 80, 6, RA, 40), P(100, A4, 51000, B4, 80, 6, S_, 60), COUNT(1),
	    FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 1, 40, 0, 0, RA, 0, FLOW_END_TCP_RST, 0, 0, 0 },
	    { A4, 51000, B4, 80, 6, 0, 1, 60, 0, 0, S_, 0, FLOW_END_RUN, 100, 100, 1 } },
	  2, 0 },
	{ "flow_closing_ignores_active_timeout", 16, 60, 1,
	  { P(0, A4, 51000, B4, 80, 6, FA, 52), P(900, B4, 80, A4, 51000, 6, FA, 52),
	    P(1500, A4, 51000, B4, 80, 6, A_, 52), FLUSH },
	  { { A4, 51000, B4, 80, 6, 0, 2, 104, 1, 52, FA, FA, FLOW_END_TCP_FIN, 0, 1500, 0 } },
	  1, 0 },
	{ "flow_eviction_lru", 4, 60, 600,
	  { P(1000, A4, 1, B4, 9, 17, 0, 100), P(2000, A4, 2, B4, 9, 17, 0, 100),
	    P(3000, A4, 3, B4, 9, 17, 0, 100), P(4000, A4, 4, B4, 9, 17, 0, 100),
	    P(5000, B4, 9, A4, 1, 17, 0, 100), COUNT(0), P(6000, A4, 5, B4, 9, 17, 0, 100),
	    COUNT(1), FLUSH },
	  { { A4, 2, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_EVICTED, 2000, 2000, 1 },
	    { A4, 3, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 3000, 3000, 2 },
	    { A4, 4, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 4000, 4000, 3 },
	    { A4, 1, B4, 9, 17, 0, 1, 100, 1, 100, 0, 0, FLOW_END_RUN, 1000, 5000, 0 },
	    { A4, 5, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 6000, 6000, 6 } },
	  5, 1 },
	{ "flow_eviction_closing_first", 4, 60, 600,
	  { P(1000, A4, 1, B4, 9, 6, S_, 60), P(2000, A4, 2, B4, 9, 17, 0, 100),
	    P(3000, A4, 3, B4, 9, 17, 0, 100), P(4000, A4, 4, B4, 9, 17, 0, 100),
	    P(4500, B4, 9, A4, 1, 6, RA, 40), P(5000, A4, 5, B4, 9, 17, 0, 100), FLUSH },
	  { { A4, 1, B4, 9, 6, 0, 1, 60, 1, 40, S_, RA, FLOW_END_EVICTED, 1000, 4500, 0 },
	    { A4, 2, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 2000, 2000, 1 },
	    { A4, 3, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 3000, 3000, 2 },
	    { A4, 4, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 4000, 4000, 3 },
	    { A4, 5, B4, 9, 17, 0, 1, 100, 0, 0, 0, 0, FLOW_END_RUN, 5000, 5000, 5 } },
	  5, 1 },
	{ "flow_fragments", 16, 60, 600,
	  { PF(0, A4, 5353, B4, 53, 17, 1514, PKT_F_FRAG, 77),
	    PF(1, A4, 0, B4, 0, 17, 1514, PKT_F_FRAG | PKT_F_FRAG_LATER, 77),
	    PF(2, A4, 0, B4, 0, 17, 600, PKT_F_FRAG | PKT_F_FRAG_LATER, 77),
	    PF(3, A4, 0, B4, 0, 17, 600, PKT_F_FRAG | PKT_F_FRAG_LATER, 99),
	    PF(4, B4, 0, A4, 0, 17, 600, PKT_F_FRAG | PKT_F_FRAG_LATER, 77), FLUSH },
	  { { A4, 5353, B4, 53, 17, 0, 3, 3628, 0, 0, 0, 0, FLOW_END_RUN, 0, 2, 0 },
	    { A4, 0, B4, 0, 17, 0, 1, 600, 1, 600, 0, 0, FLOW_END_RUN, 3, 4, 3 } },
	  2, 0 },
	{ "flow_fragments_tcp_no_flags", 16, 60, 600,
	  { { OP_PKT, 0, A4, 40000, B4, 80, 6, PA, 1514, 0, PKT_F_FRAG, 5 },
	    { OP_PKT, 1, A4, 0, B4, 0, 6, PA, 800, 0, PKT_F_FRAG | PKT_F_FRAG_LATER, 5 },
	    FLUSH },
	  { { A4, 40000, B4, 80, 6, 0, 2, 2314, 0, 0, PA, 0, FLOW_END_RUN, 0, 1, 0 } },
	  1, 0 },
	{ "flow_fragment_map_expires", 16, 60, 600,
	  { PF(0, A6, 5353, B6, 53, 17, 1280, PKT_F_FRAG, 0x12345678),
	    PF(30000, A6, 0, B6, 0, 17, 500, PKT_F_FRAG | PKT_F_FRAG_LATER, 0x12345678),
	    PF(30001, A6, 0, B6, 0, 17, 500, PKT_F_FRAG | PKT_F_FRAG_LATER, 0x12345678),
	    FLUSH },
	  { { A6, 5353, B6, 53, 17, 0, 2, 1780, 0, 0, 0, 0, FLOW_END_RUN, 0, 30000, 0 },
	    { A6, 0, B6, 0, 17, 0, 1, 500, 0, 0, 0, 0, FLOW_END_RUN, 30001, 30001, 2 } },
	  2, 0 },
	{ "flow_no_l4_uses_port_0", 16, 60, 600,
	  { PF(0, A4, 1, B4, 2, 47, 200, NOL4, 0), PF(1, B4, 3, A4, 4, 47, 100, NOL4, 0),
	    PF(2, A4, 0, B4, 0, 6, 40, NOL4, 0), FLUSH },
	  { { A4, 0, B4, 0, 47, 0, 1, 200, 1, 100, 0, 0, FLOW_END_RUN, 0, 1, 0 },
	    { A4, 0, B4, 0, 6, 0, 1, 40, 0, 0, 0, 0, FLOW_END_RUN, 2, 2, 2 } },
	  2, 0 },
	{ "flow_non_ip_ignored", 16, 60, 600,
	  { PF(0, A4, 1, B4, 2, 17, 60, NONIP, 0), FLUSH },
	  { { NULL, 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, FLOW_END_RUN, 0, 0, 0 } },
	  0, 0 },
	{ "flow_flush_order_lru", 16, 60, 600,
	  { P(0, A4, 1, B4, 9, 17, 0, 10), P(1, A4, 2, B4, 9, 17, 0, 10),
	    P(2, A4, 3, B4, 9, 17, 0, 10), P(3, A4, 2, B4, 9, 17, 0, 10),
	    P(4, A4, 1, B4, 9, 17, 0, 10), FLUSH },
	  { { A4, 3, B4, 9, 17, 0, 1, 10, 0, 0, 0, 0, FLOW_END_RUN, 2, 2, 2 },
	    { A4, 2, B4, 9, 17, 0, 2, 20, 0, 0, 0, 0, FLOW_END_RUN, 1, 3, 1 },
	    { A4, 1, B4, 9, 17, 0, 2, 20, 0, 0, 0, 0, FLOW_END_RUN, 0, 4, 0 } },
	  3, 0 },
};
/* clang-format on */

static void step_to_meta(const struct step *s, struct pkt_meta *m)
{
	uint8_t v1 = 0, v2 = 0;

	memset(m, 0, sizeof *m);
	set_addr(m->src, &v1, s->src);
	set_addr(m->dst, &v2, s->dst);
	m->ip_version = (s->pflags & NONIP) ? 0 : v1;
	m->proto = s->proto;
	m->caplen = m->wirelen = s->len;
	m->vlan = s->vlan;
	m->flags = (uint16_t)(s->pflags & ~(NOL4 | NONIP));
	if (s->vlan)
		m->flags |= PKT_F_VLAN;
	if (!(s->pflags & (NOL4 | PKT_F_FRAG_LATER))) {
		m->flags |= PKT_F_L4;
		m->sport = s->sport;
		m->dport = s->dport;
		m->tcp_flags = s->tflags;
	}
	m->frag_id = s->frag_id;
}

static void check_record(const char *name, int idx, const struct flow_record *r,
			 const struct want *w)
{
	uint8_t src[16], dst[16], ver = 0, v2 = 0;
	int before = th_failed_checks;

	set_addr(src, &ver, w->src);
	set_addr(dst, &v2, w->dst);
	CHECK(memcmp(r->src, src, 16) == 0);
	CHECK(memcmp(r->dst, dst, 16) == 0);
	CHECK_EQ_INT(r->ip_version, ver);
	CHECK_EQ_INT(r->src_port, w->sport);
	CHECK_EQ_INT(r->dst_port, w->dport);
	CHECK_EQ_INT(r->proto, w->proto);
	CHECK_EQ_INT(r->vlan, w->vlan);
	CHECK_EQ_INT(r->pkts_orig, w->po);
	CHECK_EQ_INT(r->bytes_orig, w->bo);
	CHECK_EQ_INT(r->pkts_resp, w->pr);
	CHECK_EQ_INT(r->bytes_resp, w->br);
	CHECK_EQ_INT(r->tcp_flags_orig, w->fo);
	CHECK_EQ_INT(r->tcp_flags_resp, w->fr);
	CHECK_EQ_STR(flow_end_reason_str(r->end_reason), flow_end_reason_str(w->why));
	CHECK_EQ_INT(r->ts_start_ns, w->start_ms * MS);
	CHECK_EQ_INT(r->ts_end_ns, w->end_ms * MS);
	CHECK_EQ_INT(r->tag, w->tag);
	if (th_failed_checks != before)
		fprintf(stdout, "  (%s: record %d)\n", name, idx);
}

/* Runs one scenario; records go to c. */
static void play(const struct scenario *sc, struct col *c)
{
	struct flow_config cfg = {sc->max_flows, sc->idle_s * SEC, sc->active_s * SEC};
	struct flow_stats st;
	struct pkt_meta m;
	char err[256];
	flow_table_t *t;
	size_t i;

	memset(c, 0, sizeof *c);
	t = flow_table_new(&cfg, col_emit, c, err, sizeof err);
	CHECK(t != NULL);
	if (!t)
		return;
	for (i = 0; i < sizeof sc->steps / sizeof sc->steps[0] && sc->steps[i].op; i++) {
		const struct step *s = &sc->steps[i];

		switch (s->op) {
		case OP_PKT:
			step_to_meta(s, &m);
			flow_table_update(t, &m, s->t_ms * MS, i);
			break;
		case OP_EXPIRE:
			flow_table_expire(t, s->t_ms * MS);
			break;
		case OP_FLUSH:
			flow_table_flush(t);
			break;
		case OP_COUNT:
			if (c->n != s->t_ms)
				fprintf(stdout, "  (%s: step %zu: %d records, want %lld)\n",
					sc->name, i, c->n, (long long)s->t_ms);
			CHECK_EQ_INT(c->n, s->t_ms);
			break;
		case OP_END:
			break;
		}
	}
	flow_table_stats(t, &st);
	CHECK_EQ_INT(st.active, 0);
	CHECK_EQ_INT(st.flows_created, st.flows_ended);
	CHECK_EQ_INT(st.flows_ended, c->n);
	CHECK_EQ_INT(st.flows_evicted, sc->evicted);
	flow_table_free(t);
}

static void run_scenario(const struct scenario *sc)
{
	static struct col c;
	int i;

	play(sc, &c);
	CHECK_EQ_INT(c.n, sc->nwant);
	for (i = 0; i < c.n && i < sc->nwant && i < COL_MAX; i++)
		check_record(sc->name, i, &c.r[i], &sc->want[i]);
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

static int same_record(const struct flow_record *a, const struct flow_record *b)
{
	return a->ts_start_ns == b->ts_start_ns && a->ts_end_ns == b->ts_end_ns &&
	       a->ip_version == b->ip_version && a->proto == b->proto && a->vlan == b->vlan &&
	       !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16) &&
	       a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->pkts_orig == b->pkts_orig && a->bytes_orig == b->bytes_orig &&
	       a->pkts_resp == b->pkts_resp && a->bytes_resp == b->bytes_resp &&
	       a->tcp_flags_orig == b->tcp_flags_orig && a->tcp_flags_resp == b->tcp_flags_resp &&
	       a->end_reason == b->end_reason && a->tag == b->tag;
}

/* Every scenario played twice (two tables, two hash seeds) gives identical records. */
static void test_flow_deterministic(void)
{
	static struct col c1, c2;
	size_t i;
	int j;

	for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		play(&scenarios[i], &c1);
		play(&scenarios[i], &c2);
		CHECK_EQ_INT(c1.n, c2.n);
		for (j = 0; j < c1.n && j < c2.n && j < COL_MAX; j++)
			CHECK(same_record(&c1.r[j], &c2.r[j]));
	}
}

static void test_flow_bad_config(void)
{
	static const struct {
		struct flow_config cfg;
		const char *msg;
	} cases[] = {
	    {{0, SEC, SEC}, "invalid flow table size `0': expected 1 to 1073741824 flows"},
	    {{2000000000u, SEC, SEC},
	     "invalid flow table size `2000000000': expected 1 to 1073741824 flows"},
	    {{10, 0, SEC}, "invalid flow idle timeout `0' ns: expected more than 0"},
	    {{10, SEC, -5}, "invalid flow active timeout `-5' ns: expected more than 0"},
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = 0;
		CHECK(flow_table_new(&cases[i].cfg, col_emit, NULL, err, sizeof err) == NULL);
		CHECK_EQ_STR(err, cases[i].msg);
	}
	CHECK(flow_table_new(NULL, col_emit, NULL, err, sizeof err) == NULL);
	flow_table_free(NULL);
}

static void test_flow_reason_strings(void)
{
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_IDLE), "idle_timeout");
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_ACTIVE), "active_timeout");
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_TCP_FIN), "tcp_fin");
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_TCP_RST), "tcp_rst");
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_EVICTED), "evicted");
	CHECK_EQ_STR(flow_end_reason_str(FLOW_END_RUN), "end_of_run");
	CHECK_EQ_STR(flow_end_reason_str((enum flow_end_reason)42), "unknown");
}

/* --- stress --- */

struct sums {
	uint64_t records, pkts, bytes, bad;
	int64_t last_ts;
	uint64_t why[FLOW_END_RUN + 1];
	uint64_t digest; /* of every record, in order */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static void sum_emit(void *ctx, const struct flow_record *r)
{
	struct sums *s = ctx;

	s->records++;
	s->pkts += r->pkts_orig + r->pkts_resp;
	s->bytes += r->bytes_orig + r->bytes_resp;
	if (r->pkts_orig < 1 || r->ts_end_ns < r->ts_start_ns || r->end_reason > FLOW_END_RUN ||
	    (r->ip_version != 4 && r->ip_version != 6) || r->ts_end_ns > s->last_ts)
		s->bad++;
	if (r->proto != 6 && (r->tcp_flags_orig || r->tcp_flags_resp))
		s->bad++;
	if (r->end_reason <= FLOW_END_RUN)
		s->why[r->end_reason]++;
	s->digest = fnv(s->digest, &r->ts_start_ns, sizeof r->ts_start_ns);
	s->digest = fnv(s->digest, &r->ts_end_ns, sizeof r->ts_end_ns);
	s->digest = fnv(s->digest, r->src, 16);
	s->digest = fnv(s->digest, r->dst, 16);
	s->digest = fnv(s->digest, &r->src_port, 2);
	s->digest = fnv(s->digest, &r->dst_port, 2);
	s->digest = fnv(s->digest, &r->proto, 1);
	s->digest = fnv(s->digest, &r->vlan, 2);
	s->digest = fnv(s->digest, &r->pkts_orig, 8);
	s->digest = fnv(s->digest, &r->bytes_resp, 8);
	s->digest = fnv(s->digest, &r->tcp_flags_resp, 1);
	s->digest = fnv(s->digest, &r->end_reason, sizeof r->end_reason);
	s->digest = fnv(s->digest, &r->tag, 8);
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)((rng_state >> 16) % n);
}

/* Endpoints of "flow number" k: 90% of packets go to 300 hot flows, the rest are spread wide. */
static void random_endpoints(struct pkt_meta *m, uint64_t k)
{
	static const uint8_t protos[] = {6, 6, 6, 17, 17, 1, 58, 47};
	static const uint8_t t4[] = {8, 0, 13, 14, 3, 11}, t6[] = {128, 129, 1, 139};
	uint64_t x = (k + 1) * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	m->ip_version = (x & 3) ? 4 : 6;
	m->proto = protos[(x >> 2) & 7];
	m->src[0] = m->dst[0] = 10;
	m->src[1] = (uint8_t)(x >> 5);
	m->src[3] = (uint8_t)(x >> 13);
	m->dst[3] = (uint8_t)(x >> 21);
	if (m->ip_version == 6) {
		m->src[15] = m->src[3];
		m->dst[15] = m->dst[3];
	}
	if (((x >> 29) & 7) == 0) {
		m->vlan = (uint16_t)(1 + ((x >> 32) & 3));
		m->flags |= PKT_F_VLAN;
	}
	if (m->proto == 1 || m->proto == 58) {
		m->sport = m->proto == 1 ? t4[(x >> 34) % sizeof t4] : t6[(x >> 34) % sizeof t6];
		m->dport = (uint16_t)((x >> 40) & 1);
		return;
	}
	m->sport = (uint16_t)(1024 + (x >> 40));
	m->dport = ((x >> 56) & 1) ? 80 : 443;
}

static void random_packet(struct pkt_meta *m)
{
	uint64_t k = rnd(10) < 9 ? rnd(300) : 300 + rnd(1000000);
	uint8_t tmp[16];
	uint16_t p;
	uint32_t r;

	memset(m, 0, sizeof *m);
	random_endpoints(m, k);
	if (rnd(2) && m->proto != 1 && m->proto != 58) { /* the other direction */
		memcpy(tmp, m->src, 16);
		memcpy(m->src, m->dst, 16);
		memcpy(m->dst, tmp, 16);
		p = m->sport;
		m->sport = m->dport;
		m->dport = p;
	}
	m->wirelen = m->caplen = 40 + rnd(1500);
	r = rnd(100);
	if (r == 0) {
		m->ip_version = 0; /* not IP */
		return;
	}
	if (r < 3) {
		m->flags |= PKT_F_FRAG | PKT_F_FRAG_LATER;
		m->frag_id = rnd(50);
		m->sport = m->dport = 0;
		return;
	}
	if (r < 5) {
		m->flags |= PKT_F_FRAG;
		m->frag_id = rnd(50);
	}
	if (r == 5 || m->proto == 47) {
		m->sport = m->dport = 0; /* no transport header */
		return;
	}
	m->flags |= PKT_F_L4;
	if (m->proto == 6) {
		m->tcp_flags = TCPF_ACK;
		r = rnd(100);
		if (r < 3)
			m->tcp_flags = TCPF_SYN;
		else if (r < 6)
			m->tcp_flags |= TCPF_FIN;
		else if (r < 7)
			m->tcp_flags |= TCPF_RST;
		else if (r < 30)
			m->tcp_flags |= TCPF_PSH;
	}
}

/* One million random packets over max_flows = 1000; returns the digest of all records. */
static uint64_t stress_run(int verbose)
{
	struct flow_config cfg = {1000, 20 * SEC, 120 * SEC};
	struct sums s = {.last_ts = INT64_MIN, .digest = 0xcbf29ce484222325ULL};
	uint64_t ip_pkts = 0, ip_bytes = 0, inv_bad = 0;
	int64_t ts = 1700000000LL * SEC, next_expire = ts + SEC, pts;
	struct flow_stats st;
	struct pkt_meta m;
	char err[256];
	flow_table_t *t;
	int i;

	rng_state = 0x853c49e6748fea9bULL;
	t = flow_table_new(&cfg, sum_emit, &s, err, sizeof err);
	CHECK(t != NULL);
	if (!t)
		return 0;
	for (i = 0; i < 1000000; i++) {
		ts += rnd(2000) * 1000; /* 0..2 ms */
		if (rnd(20000) == 0)
			ts += (int64_t)rnd(40) * SEC; /* quiet spells */
		pts = ts;
		if (rnd(200) == 0)
			pts -= (int64_t)rnd(3000) * MS; /* a timestamp stepping back */
		if (pts > s.last_ts)
			s.last_ts = pts;
		random_packet(&m);
		if (m.ip_version) {
			ip_pkts++;
			ip_bytes += m.wirelen;
		}
		flow_table_update(t, &m, pts, (uint64_t)i);
		if (rnd(3) && ts >= next_expire) { /* sometimes the caller forgets */
			flow_table_expire(t, ts);
			next_expire = ts + SEC;
		}
		flow_table_stats(t, &st);
		if (st.active > cfg.max_flows || st.flows_created != st.flows_ended + st.active ||
		    st.packets != ip_pkts)
			inv_bad++;
	}
	flow_table_stats(t, &st);
	CHECK(st.flows_evicted > 0);
	CHECK(st.flows_ended > st.flows_evicted);
	CHECK_EQ_INT(inv_bad, 0);
	flow_table_flush(t);
	flow_table_stats(t, &st);
	CHECK_EQ_INT(st.active, 0);
	CHECK_EQ_INT(st.flows_created, st.flows_ended);
	CHECK_EQ_INT(s.records, st.flows_ended);
	CHECK_EQ_INT(s.pkts, ip_pkts);
	CHECK_EQ_INT(s.pkts, st.packets);
	CHECK_EQ_INT(s.bytes, ip_bytes);
	CHECK_EQ_INT(s.bad, 0);
	for (i = 0; i <= FLOW_END_RUN; i++)
		CHECK(s.why[i] > 0); /* every way to end happened */
	if (verbose)
		fprintf(stdout,
			"  stress: %llu packets, %llu flows; ended by idle %llu, active %llu, "
			"fin %llu, rst %llu, evicted %llu, end of run %llu\n",
			(unsigned long long)ip_pkts, (unsigned long long)st.flows_created,
			(unsigned long long)s.why[0], (unsigned long long)s.why[1],
			(unsigned long long)s.why[2], (unsigned long long)s.why[3],
			(unsigned long long)s.why[4], (unsigned long long)s.why[5]);

	/* the table is reusable after a flush */
	random_packet(&m);
	m.ip_version = 4;
	flow_table_update(t, &m, ts, 1);
	flow_table_flush(t);
	flow_table_stats(t, &st);
	CHECK_EQ_INT(st.active, 0);
	flow_table_free(t);
	return s.digest;
}

/* The same packets give the same records in the same order (two tables, two hash seeds). */
static void test_flow_stress(void)
{
	uint64_t d1 = stress_run(1), d2 = stress_run(0);

	CHECK(d1 == d2);
}

/* Many flows in a big table: everything is found again, the hash chains hold. */
static void test_flow_many_flows(void)
{
	struct flow_config cfg = {100000, 60 * SEC, 600 * SEC};
	struct sums s = {.last_ts = INT64_MAX};
	struct flow_stats st;
	struct pkt_meta m;
	char err[256];
	flow_table_t *t;
	uint32_t i, round;

	t = flow_table_new(&cfg, sum_emit, &s, err, sizeof err);
	CHECK(t != NULL);
	if (!t)
		return;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 100000; i++) {
			memset(&m, 0, sizeof m);
			m.ip_version = 4;
			m.proto = 17;
			m.flags = PKT_F_L4;
			m.src[0] = 192;
			m.src[1] = (uint8_t)(i >> 16);
			m.src[2] = (uint8_t)(i >> 8);
			m.src[3] = (uint8_t)i;
			m.dst[0] = 10;
			m.sport = (uint16_t)(i * 7);
			m.dport = 53;
			m.wirelen = 100;
			if (round == 1) { /* the reply direction */
				memcpy(m.src, m.dst, 4);
				m.src[1] = m.src[2] = m.src[3] = 0;
				m.dst[0] = 192;
				m.dst[1] = (uint8_t)(i >> 16);
				m.dst[2] = (uint8_t)(i >> 8);
				m.dst[3] = (uint8_t)i;
				m.sport = 53;
				m.dport = (uint16_t)(i * 7);
			}
			flow_table_update(t, &m, (int64_t)round * SEC, 0);
		}
	}
	flow_table_stats(t, &st);
	CHECK_EQ_INT(st.flows_created, 100000);
	CHECK_EQ_INT(st.active, 100000);
	CHECK_EQ_INT(st.flows_ended, 0);
	flow_table_flush(t);
	CHECK_EQ_INT(s.records, 100000);
	CHECK_EQ_INT(s.pkts, 300000);
	flow_table_free(t);
}

int main(void)
{
	run_scenarios();
	RUN(test_flow_deterministic);
	RUN(test_flow_bad_config);
	RUN(test_flow_reason_strings);
	RUN(test_flow_many_flows);
	RUN(test_flow_stress);
	return test_main_end();
}
