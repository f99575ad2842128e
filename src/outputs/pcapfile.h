/*
 * pcapfile.h - one classic pcap file, written through a large buffer in whole records.
 *
 * DESIGN: the file header is written as soon as the file is created, and the buffer only ever
 * holds whole records, so every flush leaves a file that readers (tcpdump -r, tshark) open as a
 * complete capture. A failed or short write (full disk, I/O error) is undone with ftruncate() back
 * to the last good size: the file stays valid, the packets that could not be written are counted
 * and the error is returned, and later writes try again.
 */
#ifndef RINGCAP_PCAPFILE_H
#define RINGCAP_PCAPFILE_H

#include <stddef.h>
#include <stdint.h>

#define PCAPFILE_HDR_LEN 24u
#define PCAPFILE_REC_HDR_LEN 16u

typedef struct pcapfile pcapfile_t;

struct pcapfile_opts {
	int linktype;     /* LINKTYPE_ value for the header: pcapfile_linktype_from_dlt(DLT) */
	uint32_t snaplen; /* snaplen field of the header */
	uint32_t linktype_ext; /* FCS-length bits etc. OR'ed into the header (pcap_datalink_ext) */
	int nano;         /* nonzero: nanosecond timestamps (magic 0xa1b23c4d) */
	size_t bufsize;   /* write buffer; 0 for the default (1 MiB) */
	int async;        /* write full buffers on a thread of the file's own (two buffers): the
			     caller goes on filling one while the other is written. A write error
			     is then returned by a later call (the records it held are counted as
			     dropped when it is learnt). pcapfile_flush/sync/close wait for it. */
};

/*
 * Creates path (must not exist: O_EXCL, mode 0644) and writes the file header to it. Returns NULL
 * with a message naming the path and the reason in err, and errno set (EEXIST, ENOSPC, ...); a
 * file it created but could not write the header to is removed again.
 */
pcapfile_t *pcapfile_create(const char *path, const struct pcapfile_opts *o, char *err,
			    size_t errlen);

/*
 * Appends one record. The timestamp is copied as given: sec (written as 32 bits, as classic pcap
 * holds it) and frac in the file's unit (microseconds, or nanoseconds for a nano file), so a
 * record read from a capture is written back bit for bit, even an out-of-range fraction.
 * Returns 0 when the record is buffered or written, or a negative errno if a flush needed to make
 * room failed (the record and those buffered are then dropped and counted, and the file is cut
 * back to its last good size).
 */
int pcapfile_write(pcapfile_t *f, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		   const uint8_t *data);

/* pcapfile_write() with a time in ns since the epoch, truncated to the file's precision. */
int pcapfile_write_ns(pcapfile_t *f, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		      const uint8_t *data);

/* Splits ns since the epoch into seconds (floor) and a fraction in us, or ns if nano. */
void pcapfile_split_ns(int64_t ts_ns, int nano, int64_t *sec, uint32_t *frac);

/* Writes the buffer out. Returns 0 or a negative errno (records dropped as above). */
int pcapfile_flush(pcapfile_t *f);

/* Flushes and fsyncs. Returns 0 or a negative errno. */
int pcapfile_sync(pcapfile_t *f);

/* Bytes the file will hold once flushed (header and records, including the buffered ones). */
uint64_t pcapfile_size(const pcapfile_t *f);

/*
 * Bytes known to be in the file: the header and the records of successful writes (not the
 * buffered ones). It grows exactly when a write succeeds, so a caller can tell that writing works
 * again after an error.
 */
uint64_t pcapfile_written(const pcapfile_t *f);

struct pcapfile_stats {
	uint64_t packets;         /* records written or buffered */
	uint64_t packets_dropped; /* records lost to write errors */
	uint64_t write_errors;    /* failed flushes */
};
void pcapfile_stats(const pcapfile_t *f, struct pcapfile_stats *st);

/*
 * Flushes, fsyncs if do_sync, and closes. Returns 0 or a negative errno of the first failure.
 * NULL-safe. The object is freed in every case.
 */
int pcapfile_close(pcapfile_t *f, int do_sync);

/*
 * Writes the buffer out and frees the object, handing its open file descriptor to the caller in
 * *fd (who fsyncs and closes it, e.g. off the packet path). Returns 0 or a negative errno of the
 * flush (records dropped as above).
 */
int pcapfile_detach(pcapfile_t *f, int *fd);

/*
 * Repairs a classic pcap file left by a crash: walks the records and cuts off a trailing partial
 * record (or garbage after the last whole record). Returns the number of whole records (>= 0), or
 * -1 with a message in err if the file cannot be read or has no valid pcap header.
 * *cut_bytes receives the number of bytes removed.
 * Either byte order, micro- or nanosecond magic. The walk ends at a record whose data runs past
 * the end of the file, whose caplen exceeds max(snaplen, 262144) (libpcap refuses those) capped
 * at 256 MiB, or whose 16-byte header is all zeros (blocks allocated but never written before a
 * crash read back as zeros). The file is fsync'd whether or not anything was cut.
 */
long pcapfile_repair(const char *path, uint64_t *cut_bytes, char *err, size_t errlen);

/*
 * The LINKTYPE_ value for the header of a file of DLT dlt (what pcap_datalink() returns), as
 * libpcap's own dlt_to_linktype() maps it: equal from DLT_MATCHING_MIN (104) up, and a small table
 * below that (DLT_RAW -> 101 and the other DLTs whose values differ between platforms). Returns
 * -1 for a DLT that has no LINKTYPE (libpcap refuses to save those too).
 */
int pcapfile_linktype_from_dlt(int dlt);

#endif
