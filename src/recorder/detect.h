/*
 * detect.h - attack detection: rate buckets, thresholds, incident open and resolve.
 *
 * DESIGN: packets are counted into 100 ms buckets of packet time (DETECT_BUCKET_NS): total
 * packets and bytes, TCP, UDP, ICMP (ICMPv4 and ICMPv6) and SYN (SYN without ACK) packets, and
 * per destination address a count-min sketch (4 rows x 2048 cells of packets and bytes) per
 * bucket. The detection window is the current, partial bucket plus the window_ns/100ms - 1
 * full buckets before it; the counts of those previous buckets (and their sketches) are summed
 * once per bucket boundary, so each packet costs a few increments, one hash, eight sketch cells
 * and a few compares against thresholds precomputed as counts per window. A rate "exceeds" a
 * threshold when count_in_window / window > threshold, strictly.
 *
 * While no incident is open every packet is checked and the first packet that takes any rate
 * over its threshold opens an incident and is the trigger. While one is open, nothing opens
 * again; at every bucket boundary the window ending there (all full buckets) is checked, and the
 * incident resolves at the first boundary at which no window has exceeded any threshold for
 * resolve_ns: the quiet stretch starts at the last boundary whose window was above (or at the
 * trigger). A short dip therefore does not split one attack into two incidents. The busiest
 * destination is the one with the most packets in the window (sketch estimates, which may
 * overcount, never undercount; a fixed hash seed keeps runs over a file reproducible).
 *
 * Time is what the caller passes (packet time, ns since the epoch, clamped to +-2^62). A
 * timestamp older than the newest seen counts as the newest. A forward jump of any size costs at
 * most one pass over the buckets held (O(window), not O(gap)). Nothing happens at the end of the
 * input: an incident still open stays open, and the caller decides what end-of-run means (close
 * it as "end of run", or call detect_tick() with a later time to let it resolve normally).
 *
 * Memory: allocated once by detect_new(): max(window/100ms, 11) + 1 buckets of 128 KiB of
 * sketch each (1.5 MiB at the default 200 ms window, 13 MiB at the 10 s maximum). Nothing is
 * allocated afterwards. Not thread-safe: one detector per capture thread.
 */
#ifndef RINGCAP_DETECT_H
#define RINGCAP_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"

typedef struct detect detect_t;

#define DETECT_BUCKET_NS 100000000LL /* bucket width: 100 ms */
#define DETECT_NO_TIME INT64_MIN     /* "never" for detect_resolved_at() */

/*
 * Default thresholds, meant for a busy server: well above what its legitimate peaks reach over a
 * 200 ms window (a 45 ms SMB burst of 3.1k full-size frames is 3.1k packets, 4.7 MB: far below
 * every limit), well below what a flood that hurts it sends.
 */
#define DETECT_DEFAULT_PPS 100000   /* all packets, per second */
#define DETECT_DEFAULT_MBPS 1000    /* all traffic, Mbit/s (10^6 bits/s, frame bytes) */
#define DETECT_DEFAULT_SYN_PPS 5000 /* TCP SYN without ACK */
#define DETECT_DEFAULT_UDP_PPS 50000
#define DETECT_DEFAULT_ICMP_PPS 5000			/* ICMP and ICMPv6 */
#define DETECT_DEFAULT_HOST_PPS 50000			/* towards one destination address */
#define DETECT_DEFAULT_HOST_MBPS 500			/* towards one destination address */
#define DETECT_DEFAULT_WINDOW_NS (2 * DETECT_BUCKET_NS) /* 200 ms */
#define DETECT_DEFAULT_RESOLVE_NS (30 * 1000000000LL)	/* 30 s */

#define DETECT_MAX_PPS 1000000000000ULL /* largest packets/s threshold accepted (10^12) */
#define DETECT_MAX_MBPS 1000000000ULL	/* largest Mbit/s threshold accepted (1 Pbit/s) */
#define DETECT_MIN_WINDOW_NS DETECT_BUCKET_NS
#define DETECT_MAX_WINDOW_NS (100 * DETECT_BUCKET_NS) /* 10 s */
#define DETECT_MAX_RESOLVE_NS (86400 * 1000000000LL)  /* 1 day */

/* Which threshold. Also the order in which they are checked: when one packet takes several
 * rates over their thresholds at once, the first in this order is the trigger. */
enum detect_metric {
	DETECT_PPS = 0,
	DETECT_MBPS,
	DETECT_SYN_PPS,
	DETECT_UDP_PPS,
	DETECT_ICMP_PPS,
	DETECT_HOST_PPS,
	DETECT_HOST_MBPS,
	DETECT_METRIC_COUNT
};

/* "pps", "mbps", "syn_pps", "udp_pps", "icmp_pps", "host_pps", "host_mbps"; "?" if unknown. */
const char *detect_metric_str(enum detect_metric k);

/* Thresholds; 0 disables one. *_pps in packets/s, *mbps in Mbit/s. */
struct detect_thresholds {
	uint64_t pps, mbps, syn_pps, udp_pps, icmp_pps, host_pps, host_mbps;
};

struct detect_config {
	struct detect_thresholds th;
	int64_t window_ns;  /* multiple of 100 ms, 100 ms .. 10 s (--detect-window-ms) */
	int64_t resolve_ns; /* multiple of 100 ms, 100 ms .. 1 day */
};

/* Fills *c with the DETECT_DEFAULT_* values. */
void detect_config_defaults(struct detect_config *c);

/* Checks *c as detect_new() does, without allocating: 0, or -1 with the bad setting in err. */
int detect_config_check(const struct detect_config *c, char *err, size_t errlen);

/*
 * Creates a detector. Returns NULL and writes a message naming the bad setting into err on
 * failure (bad config or no memory). Free with detect_free().
 */
detect_t *detect_new(const struct detect_config *c, char *err, size_t errlen);

/* NULL-safe. */
void detect_free(detect_t *d);

/*
 * Return values of detect_packet(), detect_tick() and detect_add_counts(): a bitmask. Both bits
 * can be set by one call: time moved past the resolve of the open incident (DETECT_RESOLVE,
 * detect_resolved_at() says when) and then the call's own counts opened a new one
 * (DETECT_OPEN). Handle the resolve first.
 */
enum detect_event { DETECT_NONE = 0, DETECT_OPEN = 1, DETECT_RESOLVE = 2 };

/* A destination address and its estimated rates. ip_version 0: none (no IP packet seen). */
struct detect_host {
	uint8_t ip_version;
	uint8_t addr[16]; /* as in pkt_meta: IPv4 in the first 4 bytes */
	double pps;
	double bps;
};

/* What opened an incident. */
struct detect_trigger {
	enum detect_metric metric;
	const char *name;	/* detect_metric_str(metric) */
	uint64_t limit;		/* the threshold, in its unit: packets/s or Mbit/s */
	double value;		/* the rate measured over the window, same unit */
	int64_t ts_ns;		/* time of the trigger packet (or detect_add_counts() call) */
	int64_t window_ns;	/* length of the window the value was measured over */
	struct detect_host dst; /* host_*: the destination that crossed; else the busiest one in
				 * the window (by packets). Rates over the window. */
};

/* Rates over the last second: the 10 full buckets before the current one. */
struct detect_rates {
	int64_t end_ns; /* end of that second (start of the current bucket); 0 before any input */
	double pps, bps, tcp_pps, udp_pps, icmp_pps, syn_pps;
	struct detect_host top_dst; /* busiest destination by packets, sketch estimates */
};

/*
 * Counts one packet at time ts_ns (non-IP packets count in pps and mbps only; bytes are
 * m->wirelen). First moves time forward to ts_ns, which may resolve the open incident. Then,
 * if no incident is open and this packet takes a rate over its threshold, opens one with this
 * packet as trigger and fills *trig (if not NULL). Returns a mask of enum detect_event.
 */
int detect_packet(detect_t *d, const struct pkt_meta *m, int64_t ts_ns,
		  struct detect_trigger *trig);

/*
 * Moves time forward to now_ns without a packet (an idle live capture should call it every
 * 100 ms or so). May resolve the open incident: returns DETECT_RESOLVE or DETECT_NONE.
 */
int detect_tick(detect_t *d, int64_t now_ns);

/*
 * Statistics mode without packets: adds aggregate counts (from interface counters, typically
 * once a second) that cover the time since the previous call (1 s for the first call). They are
 * spread evenly over the full buckets of that interval (at most the last 10), count in the
 * reported pps/bps, and are checked against the pps and mbps thresholds only, over a 1 s window:
 * the last 10 full buckets, evaluated once per call. A call that finds that second above keeps
 * the incident above until the next call (for at most 2 s), so the quiet stretch starts at the
 * last bucket boundary before the first call that finds its second quiet (calls once a second
 * at 10 s above, 11 s quiet: resolved at 11 s + resolve_ns). Do not mix with detect_packet() on
 * one detector: the counts would add up. Returns a mask of enum detect_event; fills *trig (if
 * not NULL) on DETECT_OPEN (window_ns 1 s, no destination).
 */
int detect_add_counts(detect_t *d, int64_t ts_ns, uint64_t packets, uint64_t bytes,
		      struct detect_trigger *trig);

/* Nonzero while an incident is open. */
int detect_is_open(const detect_t *d);

/* Time the last incident resolved (a bucket boundary), DETECT_NO_TIME if none has. */
int64_t detect_resolved_at(const detect_t *d);

/* Copies the trigger of the open (or else the last) incident. Returns 0, or -1 if none opened. */
int detect_last_trigger(const detect_t *d, struct detect_trigger *t);

/* Number of incidents opened so far. */
uint64_t detect_incidents(const detect_t *d);

/* Rates over the last second (all zero before any input). */
void detect_rates(const detect_t *d, struct detect_rates *r);

#endif
