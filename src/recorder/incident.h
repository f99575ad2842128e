/*
 * incident.h - incident captures: the flight recorder's output.
 *
 * DESIGN: when the detector opens an incident, the pre-trigger ring is written oldest first as the
 * opening section of the incident capture, flushed and fsync'd at once; then every packet that
 * passes the capture filter is appended until the incident resolves or the capture holds
 * max_packets packets (ring included), after which the capture file is finished but the incident's
 * statistics go on counting until it resolves. Operators start manual captures the same way
 * (trigger "manual", no ring section, limited by time and packets). Several captures can be open at
 * once (one automatic incident and a few manual captures); each has its own file.
 *
 * Files, in DIR/incidents (ID is a decimal number that continues across restarts):
 *   ID.pcap (or ID.pcapng)  the capture; ID.pcap.part while it is being written
 *   ID.json                 the metadata, rewritten whole (tmp + rename) at least once a second
 *                           while the incident is open and a last time when it resolves
 *   ID.rates.jsonl          one line per second of packet time: {"t":..., "pps":..., "bps":...}
 * A metadata file never names a capture that is not complete: "pcap_file" is set when the file
 * is renamed to its final name. With an evidence store (the agent always has one), a finished
 * ID.pcap.part is handed to the store instead, which seals it into ID.pcap.enc and removes the
 * plaintext, and the store writes ID.json (store.h); "pcap_file" then names the sealed file.
 */
#ifndef RINGCAP_INCIDENT_H
#define RINGCAP_INCIDENT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"
#include "recorder/onset.h"
#include "recorder/ring.h"

struct pcap_pkthdr;
struct json_t;
typedef struct incidents incidents_t;

/*
 * Where finished incidents go (the evidence store registers one: vault/store.h store_sink()).
 * The recorder never includes the vault: it calls these from the capture thread, and they must not
 * block on the disk.
 *   meta: a new version of incident id's metadata (reference stolen); final: the incident ended.
 *   seal: the finished plaintext capture DIR/incidents/part_name of incident id, format "pcap" or
 *         "pcapng", is ready to be sealed.
 */
struct incident_sink {
	void *ctx;
	void (*meta)(void *ctx, long id, struct json_t *meta, int final);
	void (*seal)(void *ctx, long id, const char *part_name, const char *format);
};

#define INCIDENT_MAX_OPEN 4 /* captures open at once: the automatic one and manual ones */

/*
 * What operators may start by hand, per agent: manual captures never take the slot kept for the
 * automatic incident (so at most INCIDENT_MAX_OPEN - 1 run at once), and each is bounded in
 * packets and seconds. Zeroes take the defaults below.
 */
struct manual_limits {
	uint32_t max_open;      /* manual captures running at once (1..INCIDENT_MAX_OPEN - 1) */
	uint32_t max_packets;   /* packets one manual capture may ask for */
	uint32_t max_seconds;   /* seconds one manual capture may ask for */
};
#define MANUAL_DEFAULT_MAX_OPEN 2
#define MANUAL_DEFAULT_MAX_PACKETS 100000
#define MANUAL_DEFAULT_MAX_SECONDS 600
/* incidents_manual() results besides an id */
#define INCIDENT_EBUSY (-2)   /* as many manual captures as allowed are running: try later */
#define INCIDENT_ELIMIT (-3)  /* the request is above a per-capture limit */

/* Fills zero fields with the defaults and checks the ranges. Returns 0 or -1 (the setting named
 * in err). */
int manual_limits_check(struct manual_limits *m, char *err, size_t errlen);

struct incidents_config {
	const char *dir;        /* DIR/incidents; created if missing */
	int dlt;                /* link type of the source */
	uint32_t dlt_ext;
	uint32_t snaplen;
	int nano;
	int pcapng;             /* write pcapng with comments instead of classic pcap */
	uint32_t max_packets;   /* INCIDENT_MAX_PACKETS, ring included */
	const char *source;     /* interface or file name, for the metadata */
	int stats_only;         /* statistics-only mode: metadata, no captures */
	struct manual_limits manual;
	const struct incident_sink *sink; /* the evidence store: it writes the metadata and seals
					     finished captures; NULL: plaintext ID.pcap and ID.json here */
};

/* What opened an incident. */
struct incident_trigger {
	const char *threshold;  /* "pps", "mbps", "syn_pps", ..., or "manual" */
	const char *unit;       /* "packets/s" or "Mbit/s" */
	double limit, value;    /* the threshold and the measured rate over the window */
	int64_t ts_ns;          /* packet time of the trigger */
	uint8_t host_version;   /* busiest destination when it triggered (0: none) */
	uint8_t host[16];
};

/*
 * Prepares the folder: creates it, finishes what a crash left (a .part capture is repaired and
 * renamed, an open incident's metadata is marked resolved with reason "agent_restart") and finds
 * the next ID. Returns NULL with a message in err.
 */
incidents_t *incidents_new(const struct incidents_config *c, char *err, size_t errlen);

/*
 * Opens the automatic incident and writes the ring as its first section (nothing if ring is NULL):
 * with on (onset_find() on that ring), the ring's packets from on->start_pos (RING_PACKETS before
 * the onset) on, marked "pre-onset" and "onset-to-trigger" in pcapng, until the capture holds
 * max_packets; without, the last max_packets of the ring. The metadata gives the onset and the
 * ring's settings. Returns the new ID, or -1 if one is already open or it could not be created
 * (logged).
 */
long incidents_open(incidents_t *s, const struct incident_trigger *t, const ring_t *ring,
		    const struct onset *on);

/*
 * Starts a manual capture at now_ns for dur_ns of packet time or max_packets packets, whichever
 * comes first. Returns the ID, or with a message in err: INCIDENT_EBUSY when the manual captures
 * allowed at once are running, INCIDENT_ELIMIT when dur_ns or max_packets is above the limits,
 * -1 otherwise.
 */
long incidents_manual(incidents_t *s, int64_t now_ns, int64_t dur_ns, uint32_t max_packets,
		      char *err, size_t errlen);

/* Nonzero while an automatic incident is open. */
int incidents_auto_open(const incidents_t *s);

/* Nonzero while any capture is open (fast check for the packet path). */
int incidents_any_open(const incidents_t *s);

/* One packet that passed the filter, already decoded (m, dec = decode_packet() result). */
void incidents_packet(incidents_t *s, const struct pcap_pkthdr *h, const uint8_t *data,
		      const struct pkt_meta *m, int dec, int64_t ts_ns);

/* Aggregate counts (statistics-only mode): pkts and bytes seen in the second before now_ns. */
void incidents_counts(incidents_t *s, int64_t now_ns, uint64_t pkts, uint64_t bytes);

/* Resolves the automatic incident at ts_ns (the detector saw RESOLVE_SECONDS of quiet). */
void incidents_resolve(incidents_t *s, int64_t ts_ns, const char *reason);

/*
 * Periodic work with the clock (packet time, or wall clock when live and idle): ends manual
 * captures whose time is up, rewrites the metadata of open incidents once a second (wall clock).
 */
void incidents_tick(incidents_t *s, int64_t now_ns);

/* Ends every open capture and incident with reason "end_of_run" at now_ns. */
void incidents_finish(incidents_t *s, int64_t now_ns);

struct incidents_stats {
	uint32_t opened;        /* automatic incidents opened by this run */
	uint32_t manual;        /* manual captures started */
	uint32_t open_now;
	long last_id;           /* last ID given, or 0 */
	double last_flush_ms;   /* time to write and fsync the last ring section */
};
void incidents_stats(const incidents_t *s, struct incidents_stats *st);

/* NULL-safe; does not finish open incidents (call incidents_finish first). */
void incidents_free(incidents_t *s);

/* Reading back, for `ringcap incidents` and `ringcap incident ...`: "DIR/incidents". */
const char *incidents_subdir(void);

#endif
