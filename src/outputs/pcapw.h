/*
 * pcapw.h - the continuous recorder: rotated pcap files in DIR/pcaps.
 *
 * DESIGN: files are named capture_YYYYMMDD_HHMMSS_NNNN.pcap after the UTC time of their first
 * packet and a sequence number that continues across restarts (the highest index found in the
 * folder, finished or .part, plus one; 1 in an empty folder). A file is written as NAME.pcap.part;
 * when it is finished it is flushed, fsync'd and renamed to NAME.pcap. Rotation happens before a
 * record that would make the file exceed the size limit (a file always takes at least one record).
 * After each rotation the oldest finished files beyond the retention count are deleted; only names
 * that match the pattern are ever deleted. On open, a leftover .part from a crash is repaired
 * (pcapfile_repair) and renamed. Write errors never stop the caller: they are logged once per
 * episode and counted.
 *
 * Details: retention also runs at open and after the last file is finished at close, so a stopped
 * recorder leaves exactly `retention' finished files (regular files only; symlinks and folders are
 * never touched). A file whose records were all lost to write errors is deleted rather than
 * renamed. At open, a .part with no complete header (< 24 bytes) or no complete packet is deleted;
 * one that is not a pcap file is left alone with a warning. When no file can be created, packets
 * are dropped and creation is retried at the next packet, at most once a second.
 */
#ifndef RINGCAP_PCAPW_H
#define RINGCAP_PCAPW_H

#include <stddef.h>
#include <stdint.h>

typedef struct pcapw pcapw_t;

struct pcapw_config {
	const char *dir;          /* the folder for the files (DIR/pcaps); created if missing */
	uint64_t rotate_bytes;    /* size limit per file in bytes (>= 1) */
	uint32_t retention;       /* finished files to keep; 0 keeps all */
	int linktype;             /* DLT of the capture (pcap_datalink); mapped to a LINKTYPE */
	uint32_t linktype_ext;    /* pcap_datalink_ext() bits (FCS length), kept in the header */
	uint32_t snaplen;
	int nano;                 /* nanosecond timestamps */
	int async;                /* finish rotated files (fsync, rename, retention) on a
	                             background thread, off the packet path */
	/* called with the file name (no folder) each time a file is finished and renamed, on the
	   thread that renamed it (the finisher when async), before retention runs; also for a
	   .part repaired at open. NULL: nothing is called. */
	void (*on_finished)(void *ud, const char *name);
	void *on_finished_ud;
};

/* Identifies a file: time of its first packet (s since the epoch) and its sequence number. */
struct pcapw_fileid {
	int64_t start_s;
	uint32_t seq;
};

/*
 * Prepares the folder: creates it, repairs leftover .part files (logging what was done), applies
 * retention and finds the next sequence number. No file is created until the first packet.
 * Returns NULL with a message in err.
 */
pcapw_t *pcapw_open(const struct pcapw_config *cfg, char *err, size_t errlen);

/*
 * Writes one packet, rotating first if needed. The timestamp is copied as given (seconds, and the
 * fraction in the file's unit), see pcapfile_write(). *id (may be NULL) receives the file the
 * packet belongs to ({0, 0} if it could not be written). Returns 0, or a negative errno if the
 * packet could not be written (counted).
 */
int pcapw_write(pcapw_t *w, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		const uint8_t *data, struct pcapw_fileid *id);

/* pcapw_write() with a time in ns since the epoch, truncated to the files' precision. */
int pcapw_write_ns(pcapw_t *w, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		   const uint8_t *data, struct pcapw_fileid *id);

/*
 * Flushes the current file if the last flush was at least a second ago (wall clock), or if force.
 * pcapw_write never looks at the clock to flush: the caller's loop calls this often (say every
 * 100 ms, and when idle) so that buffered packets reach the file within a second.
 */
void pcapw_tick(pcapw_t *w, int force);

struct pcapw_stats {
	uint64_t packets;         /* packets written */
	uint64_t packets_dropped; /* packets lost to write errors */
	uint64_t write_errors;
	uint32_t files_written;   /* files finished (renamed) by this run, including the open one at close */
	uint32_t files_deleted;   /* by retention */
	uint32_t files_repaired;  /* leftover .part files repaired at open */
};
void pcapw_stats(const pcapw_t *w, struct pcapw_stats *st);

/*
 * Finishes the open file (flush, fsync, rename, retention) but keeps the writer, so that
 * pcapw_stats() gives the final counts. Returns 0 or a negative errno. NULL-safe.
 */
int pcapw_end(pcapw_t *w);

/* Finishes the open file (flush, fsync, rename) and frees. Returns 0 or a negative errno. NULL-safe. */
int pcapw_close(pcapw_t *w);

/* "capture_YYYYMMDD_HHMMSS_NNNN.pcap" for id into buf (at least 48 bytes). Returns buf. */
const char *pcapw_file_name(const struct pcapw_fileid *id, char *buf, size_t len);

/*
 * Parses a finished or .part file name. Returns 1 and fills *id (and *part) when name matches
 * capture_YYYYMMDD_HHMMSS_N{4,}.pcap[.part], else 0.
 */
int pcapw_parse_name(const char *name, struct pcapw_fileid *id, int *part);

#endif
