/*
 * pipeline.h - the packet path of `ringcap run': decode -> continuous pcap files -> flow table.
 *
 * DESIGN: the pipeline owns the modules a packet passes through and the counters of the run:
 * decode -> detector -> incident captures (opened with the pre-trigger ring) -> ring -> continuous
 * files -> flow table. A packet that opens an incident is the first packet after the ring section.
 * It knows nothing about where packets come from (source.c feeds it) nor about the command line
 * (cmd_run.c builds it from the settings). Its clock is packet time, so a run over a file is
 * deterministic; for a live source the caller also advances it with the wall clock while no
 * packets arrive, so flows still time out.
 */
#ifndef RINGCAP_PIPELINE_H
#define RINGCAP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "recorder/detect.h"
#include "recorder/incident.h"

struct pcap_pkthdr;
typedef struct pipeline pipeline_t;

struct incident_sink;

struct pipeline_config {
	const char *outdir;      /* everything goes under it */
	int dlt;                 /* link type of the source */
	uint32_t dlt_ext;        /* pcap_datalink_ext() bits kept in the file headers */
	uint32_t snaplen;
	int nano;                /* timestamps delivered and written in ns */
	int save_pcap;
	uint64_t rotate_bytes;
	uint32_t retention;
	uint32_t max_flows;
	int64_t flow_idle_ns, flow_active_ns;
	/* flight recorder */
	uint32_t ring_packets;     /* packets kept before an attack's onset (0: RING_DEFAULT_PACKETS) */
	int64_t ring_age_ns;       /* the ring's window (0: the detection window + 1 s) */
	uint64_t ring_budget;      /* the ring's memory, bytes (0: RING_DEFAULT_BUDGET) */
	struct detect_config detect;
	uint32_t incident_max_packets;
	int incident_pcapng;
	struct manual_limits manual; /* manual captures (zeroes: defaults) */
	const char *source_name;
	int stats_only;            /* no packets: interface counters only (pipeline_counts) */
	int no_recorder;           /* no ring and no detector (to measure their cost) */
	const struct incident_sink *sink; /* evidence store for incident captures (NULL: plaintext) */
	/* a continuous file was finished (pcapw_config.on_finished), e.g. to queue its export */
	void (*pcap_finished)(void *ud, const char *name);
	void *pcap_finished_ud;
};

struct pipeline_stats {
	uint64_t packets, bytes;  /* packets seen (after the capture filter) and their wire bytes */
	uint64_t ip, non_ip, malformed, unsupported;
	uint64_t flows_written, flows_evicted, flow_lines_dropped;
	uint64_t pcap_packets, pcap_dropped, pcap_write_errors;
	uint32_t files_written, files_deleted, files_repaired;
	uint32_t incidents_opened, manual_captures;
	long last_incident;
	double last_flush_ms;     /* write + fsync of the last ring section */
};

/*
 * Creates the output folders and opens the outputs. Returns NULL with a message in err naming
 * what could not be created.
 */
pipeline_t *pipeline_new(const struct pipeline_config *cfg, char *err, size_t errlen);

/* One captured packet (the source's callback). */
void pipeline_packet(pipeline_t *p, const struct pcap_pkthdr *h, const uint8_t *data);

/* Periodic work: flushes at least once a second; now_ns (wall clock, 0 for none) advances the clock. */
void pipeline_tick(pipeline_t *p, int64_t now_ns);

/* Statistics-only mode: pkts and bytes counted by the interface in the second before now_ns. */
void pipeline_counts(pipeline_t *p, int64_t now_ns, uint64_t pkts, uint64_t bytes);

/*
 * Starts a manual capture for seconds or packets. Returns its incident ID, or -1 with a message
 * in err.
 */
long pipeline_manual_capture(pipeline_t *p, double seconds, uint32_t packets, char *err,
			     size_t errlen);

/* The current one-second rates and whether an incident is open. */
void pipeline_rates(const pipeline_t *p, struct detect_rates *r, int *incident_open);

/* Ends every flow, finalizes every file. Call once; pipeline_stats() stays valid after it. */
int pipeline_finish(pipeline_t *p);

void pipeline_stats(const pipeline_t *p, struct pipeline_stats *st);

/* NULL-safe; does not finish. */
void pipeline_free(pipeline_t *p);

/* The onset is looked for in the detection window and one bucket; the ring keeps this more. */
#define PIPELINE_RING_MARGIN_NS 1000000000LL

/* The ring the pipeline makes for cfg (onset.h: always time mode, keep_before ring_packets). */
void pipeline_ring_config(const struct pipeline_config *cfg, struct ring_config *rc);

/*
 * Checks the detector's and the ring's settings and the rule between the ring and the cap
 * (RING_PACKETS < INCIDENT_MAX_PACKETS, a ring window that reaches back past the detection
 * window) without allocating anything: call it before anything is written. 0, or -1 with the
 * setting named in err.
 */
int pipeline_config_check(const struct pipeline_config *cfg, char *err, size_t errlen);

#endif
