/*
 * flow.h - bidirectional flow table: hash, update, expire, hard cap.
 *
 * DESIGN: all memory (buckets and entries) is allocated once by flow_table_new(); updating a
 * flow never allocates. Flows are keyed by (VLAN, protocol, addresses, ports) with the two
 * directions folded together; for ICMP/ICMPv6 the ports are (type, code) and an echo reply
 * (and the other request/reply pairs) joins the flow of its request. The side that sent the
 * first packet is the originator. Time is whatever the caller passes (packet time), so a run
 * over a file is deterministic. Ended flows are handed to an emit callback in the order they end.
 */
#ifndef RINGCAP_FLOW_H
#define RINGCAP_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"

typedef struct flow_table flow_table_t;

enum flow_end_reason {
	FLOW_END_IDLE = 0,   /* no packet for idle_timeout */
	FLOW_END_ACTIVE,     /* lasted longer than active_timeout; a new flow continues it */
	FLOW_END_TCP_FIN,    /* both sides sent FIN */
	FLOW_END_TCP_RST,    /* a side sent RST */
	FLOW_END_EVICTED,    /* the table was full: the least recently active flow was ended */
	FLOW_END_RUN,        /* the run ended */
};

/* "idle_timeout", "active_timeout", "tcp_fin", "tcp_rst", "evicted", "end_of_run" */
const char *flow_end_reason_str(enum flow_end_reason r);

struct flow_config {
	uint32_t max_flows;   /* hard cap on concurrent flows (>= 1) */
	int64_t idle_ns;      /* idle timeout */
	int64_t active_ns;    /* active timeout */
};

/* A finished flow, as handed to the emit callback. */
struct flow_record {
	int64_t ts_start_ns, ts_end_ns; /* first and last packet, ns since the epoch */
	uint8_t ip_version;             /* 4 or 6 */
	uint8_t proto;
	uint16_t vlan;                  /* 0 if none */
	uint8_t src[16], dst[16];       /* originator, responder */
	uint16_t src_port, dst_port;    /* ICMP: type, code of the originator's first packet */
	uint64_t pkts_orig, bytes_orig; /* bytes are frame lengths on the wire */
	uint64_t pkts_resp, bytes_resp;
	uint8_t tcp_flags_orig, tcp_flags_resp; /* OR of TCPF_* per direction */
	enum flow_end_reason end_reason;
	uint64_t tag;                   /* the caller's tag given with the flow's first packet */
};

typedef void (*flow_emit_fn)(void *ctx, const struct flow_record *r);

struct flow_stats {
	uint64_t flows_created;
	uint64_t flows_ended;
	uint64_t flows_evicted;
	uint64_t packets;        /* packets counted in some flow */
	uint32_t active;         /* flows in the table now */
};

/*
 * Creates a table. Returns NULL and writes a message into err on failure (bad config or no
 * memory). emit is called for every flow that ends, with ctx.
 */
flow_table_t *flow_table_new(const struct flow_config *cfg, flow_emit_fn emit, void *ctx,
			     char *err, size_t errlen);

/*
 * Counts one decoded IP packet (pkt_meta from decode_packet() returning DEC_IP) at time ts_ns.
 * tag is stored with a new flow and returned in its record. Packets that are not IP are ignored.
 * Later IPv4/IPv6 fragments (PKT_F_FRAG_LATER) are counted in the flow of their first fragment
 * when that was seen. May end flows (active timeout, TCP close, eviction) through emit.
 * First ends the flows that are due by ts_ns (as flow_table_expire() would), so timeouts hold
 * even if flow_table_expire() is never called. A closed TCP flow lingers 2 s (of packet time)
 * after its last packet and counts the packets that still come; a SYN without ACK during the
 * linger ends it and starts a new flow. emit must not call back into the table.
 */
void flow_table_update(flow_table_t *t, const struct pkt_meta *m, int64_t ts_ns, uint64_t tag);

/*
 * Ends every flow idle since before now_ns - idle timeout, and every closed TCP flow whose 2 s
 * linger has passed. Cheap when nothing expires. now_ns also advances the table's clock.
 */
void flow_table_expire(flow_table_t *t, int64_t now_ns);

/*
 * Ends every flow still open with reason FLOW_END_RUN, oldest first (least recently active
 * first). TCP flows already closed (RST, or FIN from both sides) that are still lingering end with
 * FLOW_END_TCP_RST / FLOW_END_TCP_FIN instead.
 */
void flow_table_flush(flow_table_t *t);

void flow_table_stats(const flow_table_t *t, struct flow_stats *st);

/* NULL-safe. Does not emit anything: call flow_table_flush() first. */
void flow_table_free(flow_table_t *t);

#endif
