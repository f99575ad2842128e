/*
 * pcapng.h - one pcapng file (one section, one interface), written through a large buffer in
 * whole blocks. Used for incident captures (`--incident-format pcapng'): the section header
 * carries a comment (the trigger summary) and every packet may carry one (`pre-trigger',
 * `incident'); `tshark -V' and `capinfos' show them, and libpcap reads the file as usual.
 *
 * DESIGN: the same as pcapfile.h. The Section Header Block and the one Interface Description Block
 * are written as soon as the file is created, and the buffer only ever holds whole Enhanced Packet
 * Blocks, so every flush leaves a file that readers open as a complete capture. A failed or short
 * write (full disk, I/O error) is undone with ftruncate() back to the last good size: the file
 * stays valid, the packets that could not be written are counted and the error is returned, and
 * later writes try again. Blocks are in the host's byte order (readers tell it from the SHB's
 * byte-order magic 0x1A2B3C4D); the SHB's section length is -1 (not known), so the file can grow.
 */
#ifndef RINGCAP_PCAPNG_H
#define RINGCAP_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

/* an option's value is at most 65535 bytes (its length field is 16 bits) */
#define PCAPNG_OPT_MAX 65535u
/* a packet comment fits one option */
#define PCAPNG_COMMENT_MAX PCAPNG_OPT_MAX
/*
 * The SHB comment is cut into as many opt_comment options as it needs, up to this in all, so that
 * with the other strings (each at most PCAPNG_STR_MAX) the SHB stays within the 1 MiB libpcap
 * accepts (BT_SHB_INSANE_MAX; it refuses to open a file with a larger SHB).
 */
#define PCAPNG_SHB_COMMENT_MAX 1000000u
#define PCAPNG_STR_MAX 4096u /* shb_userappl, shb_os, if_name */

typedef struct pcapng pcapng_t;

/*
 * Unlike pcapfile_opts, linktype is the DLT_ value pcap_datalink() returns (as in pcapw_config);
 * pcapng_create() converts it with pcapfile_linktype_from_dlt().
 */
struct pcapng_opts {
	int linktype;		  /* a DLT_ (pcap_datalink()), not a LINKTYPE_: converted here */
	uint32_t linktype_ext;	  /* pcap_datalink_ext() bits: an FCS length becomes if_fcslen */
	uint32_t snaplen;	  /* the IDB's snaplen (0: no limit) */
	int nano;		  /* nonzero: if_tsresol 9 (ns), else 6 (us) */
	const char *shb_comment;  /* NULL or "": none; any length up to PCAPNG_SHB_COMMENT_MAX */
	const char *shb_userappl; /* e.g. "ringcap 0.1.0"; NULL or "": none; <= PCAPNG_STR_MAX */
	const char *shb_os;	  /* e.g. "Linux 6.1.0"; NULL or "": none; <= PCAPNG_STR_MAX */
	const char *if_name;	  /* e.g. "eth0"; NULL or "": none; <= PCAPNG_STR_MAX */
	size_t bufsize;		  /* write buffer; 0 for the default (1 MiB) */
};

/*
 * Creates path (must not exist: O_EXCL, mode 0644) and writes the SHB (opt_comment, shb_os,
 * shb_userappl) and the IDB (link type, snaplen, if_name, if_tsresol, if_fcslen) to it. Strings
 * are written as given, without their NUL (pcapng options are length-prefixed; readers expect
 * UTF-8). An SHB comment longer than PCAPNG_OPT_MAX is cut into several opt_comment options, each
 * ending on a whole UTF-8 character; readers show them one after the other.
 * Returns NULL with a message naming the path and the reason in err, and errno set: EINVAL for a
 * DLT with no LINKTYPE (or one above 65535) or a string too long, else EEXIST, EFBIG, ENOSPC...;
 * a file it created but could not write the header blocks to is removed again.
 */
pcapng_t *pcapng_create(const char *path, const struct pcapng_opts *o, char *err, size_t errlen);

/*
 * Appends one Enhanced Packet Block, with an opt_comment if comment is neither NULL nor "".
 * A caplen above the file's snaplen (if not 0) is cut to it, wirelen kept, as a capture with that
 * snaplen would have: libpcap stops reading a pcapng file with an error at a longer packet (for a
 * classic pcap file it cuts such a packet itself when reading). Whatever the snaplen, readers
 * refuse packets over 262144 bytes for most link types (libpcap's and Wireshark's maximum).
 * The timestamp is sec and frac in the file's unit (us, or ns for a nano file), stored as the one
 * 64-bit count sec * 10^6 (or 10^9) + frac that pcapng holds (unsigned: a time before 1970
 * wraps around modulo 2^64). Returns 0 when the block is buffered or written; -EINVAL (and the
 * packet is counted as dropped) for caplen > 0 without data or a comment longer than
 * PCAPNG_COMMENT_MAX; or a negative errno if a flush needed to make room failed (the packet and
 * those buffered are then dropped and counted, and the file is cut back to its last good size).
 */
int pcapng_write(pcapng_t *f, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		 const uint8_t *data, const char *comment);

/* pcapng_write() with a time in ns since the epoch, truncated to the file's precision. */
int pcapng_write_ns(pcapng_t *f, int64_t ts_ns, uint32_t caplen, uint32_t wirelen,
		    const uint8_t *data, const char *comment);

/* Writes the buffer out. Returns 0 or a negative errno (packets dropped as above). */
int pcapng_flush(pcapng_t *f);

/* Flushes and fsyncs. Returns 0 or a negative errno. */
int pcapng_sync(pcapng_t *f);

/* Bytes the file will hold once flushed (header blocks and packet blocks, buffered ones too). */
uint64_t pcapng_size(const pcapng_t *f);

/*
 * Bytes known to be in the file: the header blocks and the packet blocks of successful writes
 * (not the buffered ones). It grows exactly when a write succeeds.
 */
uint64_t pcapng_written(const pcapng_t *f);

struct pcapng_stats {
	uint64_t packets;	  /* packet blocks written or buffered */
	uint64_t packets_dropped; /* packets lost to write errors or refused (-EINVAL) */
	uint64_t write_errors;	  /* failed flushes */
};
void pcapng_stats(const pcapng_t *f, struct pcapng_stats *st);

/*
 * Flushes, fsyncs if do_sync, and closes. Returns 0 or a negative errno of the first failure.
 * NULL-safe. The object is freed in every case.
 */
int pcapng_close(pcapng_t *f, int do_sync);

#endif
