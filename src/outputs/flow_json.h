/*
 * flow_json.h - one flow record -> one JSON line with a fixed key order, and the append-only
 * writer of DIR/traffic_flows.jsonb.
 *
 * Key order (fixed, so outputs compare byte for byte):
 *   ts_start ts_end src_ip dst_ip src_port dst_port proto ip_version vlan pkts_orig bytes_orig
 *   pkts_resp bytes_resp tcp_flags_orig tcp_flags_resp end_reason pcap_file
 * Times are RFC 3339 UTC with microseconds ("2010-04-07T17:29:29.782934Z"); vlan is null when
 * untagged; tcp flags are strings of the letters FSRPAUEC in that order (null unless TCP);
 * pcap_file is the file name (no directory) or null.
 */
#ifndef RINGCAP_FLOW_JSON_H
#define RINGCAP_FLOW_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "outputs/flow.h"

/*
 * A buffer size for flow_json_format() that holds every record (all counters at UINT64_MAX
 * included) with a pcap_file name of up to 500 bytes of printable ASCII. 512 bytes hold every
 * record with counters below 10^15 and a name of up to 40 bytes.
 */
#define FLOW_JSON_LINE_MAX 1024

/*
 * Formats r as one JSON object followed by '\n' into buf. pcap_file may be NULL. Returns the
 * length written (without the terminating NUL), or 0 (and an empty string) if len is too small
 * (see FLOW_JSON_LINE_MAX).
 */
size_t flow_json_format(const struct flow_record *r, const char *pcap_file, char *buf, size_t len);

/* RFC 3339 UTC with microseconds into buf (at least 32 bytes). Returns buf. */
const char *flow_json_time(int64_t ts_ns, char *buf, size_t len);

typedef struct flow_log flow_log_t;

/*
 * Opens (creating or appending to) path for flow lines. Returns NULL with a message in err if it
 * cannot be opened at all.
 */
flow_log_t *flow_log_open(const char *path, char *err, size_t errlen);

/*
 * Appends one line (as made by flow_json_format). Lines are buffered and written whole; a write
 * error (full disk) is reported once through the log, counted, and the lines are kept in a bounded
 * buffer (1 MiB) and written when the disk accepts them again; past that bound lines are dropped
 * and counted. Never fails.
 */
void flow_log_append(flow_log_t *l, const char *line, size_t len);

/* Writes buffered lines if the last write was at least a second ago (wall clock) or force. */
void flow_log_flush(flow_log_t *l, int force);

struct flow_log_stats {
	uint64_t lines_written;
	uint64_t lines_dropped;
	uint64_t write_errors; /* failed write attempts (a full disk counts once per try) */
};
void flow_log_stats(const flow_log_t *l, struct flow_log_stats *st);

/* Flushes (force), fsyncs and closes. NULL-safe. Returns 0, or -1 if data could not be written. */
int flow_log_close(flow_log_t *l);

/* The flow log as a flow-record consumer (outputs/flowsink.h): DIR/traffic_flows.jsonb. */
struct flow_sink_ops;
extern const struct flow_sink_ops flow_json_sink;

#endif
