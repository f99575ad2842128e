/*
 * source.h - where packets come from: a live interface or a capture file, through libpcap.
 *
 * DESIGN: one owner of the pcap_t. A live source is opened non-blocking with a 100 ms buffer
 * timeout so the caller can poll() its fd next to other work (flushes, timers, control socket);
 * a file source is read in batches. The BPF filter is compiled against the source's link type and
 * applied by libpcap (in the kernel for live capture). A regular file in classic pcap format is
 * read by pcapread.h instead of libpcap's stdio-based reader (large read(2)s, records handed out
 * in place; the same packets, errors and filter results as libpcap); pcapng, stdin and the
 * formats and link types pcapread declines go through libpcap.
 */
#ifndef RINGCAP_SOURCE_H
#define RINGCAP_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct pcap_pkthdr;
typedef struct source source_t;

struct source_opts {
	const char *iface;   /* live interface, or NULL */
	const char *file;    /* capture file ("-" for stdin), or NULL */
	int snaplen;         /* live: bytes kept per packet */
	int buffer_mb;       /* live: kernel buffer in MiB, 0 for source_default_buffer_mb() */
	int promisc;         /* live: promiscuous mode */
	int nano;            /* deliver nanosecond timestamps */
	const char *filter;  /* BPF filter, or NULL/"" for none */
	const char *filter_origin; /* where it came from, for errors ("WIRESHARK_FILTER"), or NULL */
};

/* source_open() error codes */
#define SOURCE_ERR -1       /* generic failure */
#define SOURCE_EPERM -2     /* live capture not permitted (no root / CAP_NET_RAW) */
#define SOURCE_EFILTER -3   /* the filter does not compile */

/*
 * Opens the source and sets the filter. Returns 0 and *out, or a SOURCE_E* code with a message in
 * err that names the interface, file or filter.
 */
int source_open(const struct source_opts *o, source_t **out, char *err, size_t errlen);

typedef void (*source_cb)(void *user, const struct pcap_pkthdr *h, const uint8_t *data);

/*
 * Delivers up to max packets (live: whatever is ready, without blocking). Returns the number
 * delivered (0: none ready), SOURCE_EOF at the end of a file, or SOURCE_ERR with a message in err
 * (for a damaged file: the message names the file; packets before the damage were delivered).
 */
#define SOURCE_EOF -4
int source_dispatch(source_t *s, int max, source_cb cb, void *user, char *err, size_t errlen);

/* Makes a blocking source_dispatch() return early (signal-safe). */
void source_breakloop(source_t *s);

/* The fd to poll() for a live source, or -1 for a file. */
int source_fd(const source_t *s);

int source_is_live(const source_t *s);
int source_datalink(const source_t *s);
/* The extra link-type bits of a file (FCS length), 0 for live sources. */
uint32_t source_datalink_ext(const source_t *s);
int source_snaplen(const source_t *s);
int source_is_nano(const source_t *s);
const char *source_name(const source_t *s);

struct source_stats {
	uint64_t received;   /* pcap_stats ps_recv (live only) */
	uint64_t dropped;    /* ps_drop: dropped by the kernel for lack of buffer space */
	uint64_t ifdropped;  /* ps_ifdrop: dropped by the interface/driver */
};
/* Fills *st; returns 0, or -1 if the source keeps no statistics (files). */
int source_stats(source_t *s, struct source_stats *st);

/* NULL-safe. */
void source_close(source_t *s);

/* The libpcap version string. */
const char *source_lib_version(void);

#define SOURCE_BUFFER_DEFAULT_MB 64
#define SOURCE_BUFFER_MIN_MB 32
#define SOURCE_BUFFER_MAX_MB 128
/* The kernel buffer (MiB) used when none is given: a quarter of a second at the link's speed,
 * 32..128 MiB, 64 when the speed is unknown; *speed_mbps gets the speed read (-1 unknown). */
int source_default_buffer_mb(const char *iface, long *speed_mbps);
/* The kernel buffer of a live source, MiB (0 for a file). */
int source_buffer_mb(const source_t *s);

#endif
