/*
 * pcapread.h - a fast reader for classic pcap files, delivering exactly what libpcap 1.10 does.
 *
 * DESIGN: libpcap reads a savefile record by record with fread() through a 4 KB stdio buffer; on
 * a large file that copying is a good part of the run. This reader takes the file in big read(2)
 * chunks (4 MiB by default) into one buffer and hands out records in place: a record that
 * straddles the end of the buffer is moved to the front before the next read, and a record larger
 * than the buffer grows it to fit (never past 16 bytes + the largest caplen libpcap accepts for the
 * link type, so memory stays bounded whatever the file size).
 *
 * Everything that is a matter of interpretation is left to libpcap itself: the 24-byte file header
 * is handed to pcap_fopen_offline() (from memory), so the version check, the LINKTYPE -> DLT
 * mapping, the link-type extension bits, the snapshot length adjustment and the precision are
 * libpcap's own; that pcap_t also compiles the filter (so a byte-swapped DLT_NULL file gets the
 * same code as with libpcap), which runs per packet through pcap_offline_filter(). The record
 * loop follows libpcap 1.10's sf-pcap.c pcap_next_packet(): byte swapping, micro <-> nano
 * scaling (us * 1000, ns / 1000), the caplen/len interchange of versions before 2.4, the checks
 * and error messages ("invalid packet capture length ...", "truncated dump file; ..."), and a
 * record longer than the snapshot length cut to it.
 *
 * The reader only takes what it can do identically: a regular file (not "-" or a pipe) with one of
 * the four standard magics (us or ns, either byte order). Everything else - pcapng, the modified
 * formats (Kuznetzov, Navtel), a header libpcap refuses, the USB link types whose headers libpcap
 * rewrites, byte-swapped files of link types whose pseudo-headers libpcap swaps (pflog, Linux
 * cooked, NFLOG), and D-Bus (128 MiB records) - is declined at open time, and the caller reads it
 * with libpcap as before.
 */
#ifndef RINGCAP_PCAPREAD_H
#define RINGCAP_PCAPREAD_H

#include <stddef.h>
#include <stdint.h>

struct pcap_pkthdr;
typedef struct pcapread pcapread_t;

struct pcapread_opts {
	int nano;       /* deliver nanosecond timestamps (else microseconds), converted as libpcap */
	size_t bufsize; /* read buffer; 0 for the default (4 MiB). Small sizes are for tests. */
};

/*
 * Opens path for reading. Returns NULL when this reader does not take the file - not a regular
 * file, not one of the formats above, or any error (the file cannot be opened, a short header,
 * out of memory) - with the reason in err; the caller then opens the file with libpcap, which
 * reports a bad file in its usual words. The object is freed with pcapread_close().
 */
pcapread_t *pcapread_open(const char *path, const struct pcapread_opts *o, char *err,
			  size_t errlen);

/*
 * Compiles a BPF filter for the file's link type (pcap_compile(), optimised, netmask unknown),
 * as libpcap would for the same file, and applies it to every packet from now on. NULL or "": no
 * filter. Returns 0, or -1 with libpcap's message in err (the filter itself is not quoted).
 */
int pcapread_setfilter(pcapread_t *r, const char *filter, char *err, size_t errlen);

typedef void (*pcapread_cb)(void *user, const struct pcap_pkthdr *h, const uint8_t *data);

#define PCAPREAD_ERR -1   /* damaged file or read error: message in err */
#define PCAPREAD_BREAK -2 /* pcapread_breakloop() was called before any packet was delivered */

/*
 * Delivers up to max packets that pass the filter (max <= 0: no limit) to cb, with data pointing
 * into the read buffer (valid until cb returns, as with libpcap). Returns how many were delivered,
 * 0 at the end of the file, PCAPREAD_BREAK, or PCAPREAD_ERR with libpcap's message in err (the
 * packets before the damage were delivered).
 */
int pcapread_dispatch(pcapread_t *r, int max, pcapread_cb cb, void *user, char *err,
		      size_t errlen);

/*
 * The next packet that passes the filter, as pcap_next_ex(): returns 1 with *h and *data set
 * (*data valid until the next call), 0 at the end of the file, or PCAPREAD_ERR with libpcap's
 * message in err.
 */
int pcapread_next(pcapread_t *r, struct pcap_pkthdr *h, const uint8_t **data, char *err,
		  size_t errlen);

/* Makes pcapread_dispatch() return before its next packet (signal-safe), as pcap_breakloop(). */
void pcapread_breakloop(pcapread_t *r);

/* What pcap_datalink(), pcap_datalink_ext() and pcap_snapshot() return for the same file. */
int pcapread_datalink(const pcapread_t *r);
int pcapread_datalink_ext(const pcapread_t *r);
int pcapread_snapshot(const pcapread_t *r);

/* NULL-safe. */
void pcapread_close(pcapread_t *r);

#endif
