/*
 * analyze.h - `ringcap analyze': offline answers about capture files (list, protocols, endpoints,
 * suspicious). One header for the family of analyze_*.c modules; each section is one module with
 * its own prefix.
 *
 * DESIGN: packets flow  afile (libpcap reader, byte offsets) -> alayers (decode_packet() plus a
 * walk of the link layers and tunnels into a protocol path and the list of IP layers) -> one
 * analyser (aproto, aendp or asusp) -> a formatter (aout: aligned table or JSON).
 * Every analyser keeps bounded state: hash tables (ahash) grow up to a hard cap and count what did
 * not fit; nothing is allocated per packet once a table has reached its working size. Outputs are
 * deterministic: times are packet times (RFC 3339 UTC), rows are sorted with full tie-breaks.
 * Library functions never print to stderr; they return 0 or -1 and put text into the caller's
 * buffer. The *_print functions write results to the stream they are given.
 */
#ifndef RINGCAP_ANALYZE_H
#define RINGCAP_ANALYZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/decode.h"

/* ----------------------------------------------------------------------------------------- */
/* afile (analyze_file.c): one capture file read through libpcap, with byte offsets.          */

/* One packet as the analysers see it. data is valid until the next afile_next(). */
struct apkt {
	int64_t ts_ns;	  /* packet time, ns since the epoch */
	uint32_t caplen;  /* bytes captured */
	uint32_t wirelen; /* bytes on the wire (frame length, as tshark's frame.len) */
	const uint8_t *data;
	int dlt;       /* link type of the file (pcap_datalink) */
	uint32_t file; /* index of the file in the caller's list */
};

typedef struct afile afile_t;

/*
 * Opens a pcap or pcapng file ("-" for stdin) with nanosecond timestamps. Returns NULL with a
 * message in err that names the file ("FILE: cannot read at byte 0: <libpcap's reason>").
 */
afile_t *afile_open(const char *path, char *err, size_t errlen);

/*
 * Reads the next packet into *p (p->file is left to the caller). Returns 1, 0 at the end of the
 * file, or -1 when the file is damaged, with a message in err:
 *   "FILE: damaged at byte N: <libpcap message>; the K packets before it were analysed"
 * where N is where the record (pcapng: block) after the last good packet starts.
 */
int afile_next(afile_t *f, struct apkt *p, char *err, size_t errlen);

uint64_t afile_offset(const afile_t *f);  /* bytes consumed so far (end of the last good packet) */
uint64_t afile_size(const afile_t *f);	  /* size at open, 0 if unknown (stdin, pipe) */
uint64_t afile_packets(const afile_t *f); /* packets read so far */
int afile_dlt(const afile_t *f);
uint32_t afile_snaplen(const afile_t *f);
const char *afile_path(const afile_t *f);
void afile_close(afile_t *f); /* NULL-safe */

/* ----------------------------------------------------------------------------------------- */
/* ahash (analyze_hash.c): open-addressing hash table of fixed-size entries with a hard cap.  */

struct ahash {
	uint32_t *tags; /* per slot: 0 empty, else upper hash bits | 1 */
	uint8_t *ents;	/* nslots entries of entsize bytes: key, then value */
	size_t keylen, entsize;
	uint32_t nslots, used, max_used;
	uint64_t seed;
	uint64_t refused; /* adds refused because the table was at its cap */
};

/*
 * Prepares an empty table for keys of keylen bytes (compared with memcmp, so callers zero any
 * padding) and values of valsize bytes (zeroed when an entry is created), holding at most
 * max_entries. Memory grows with use: it starts small and doubles, up to about
 * 2 * max_entries * (entsize + 4) bytes. Returns 0, or -1 if out of memory.
 */
int ahash_init(struct ahash *h, size_t keylen, size_t valsize, uint32_t max_entries);

/*
 * Finds the entry of key. If absent and create is set, adds it (value zeroed) and sets *created
 * (may be NULL). Returns the entry (the key at offset 0, the value at ahash_val_off()), or NULL
 * when absent and not created: create unset, the table at its cap (counted in refused), or out of
 * memory while growing (also counted).
 */
void *ahash_get(struct ahash *h, const void *key, int create, int *created);

/* Offset of the value inside an entry. */
size_t ahash_val_off(const struct ahash *h);

/* The entry in slot i (0 <= i < nslots), or NULL if the slot is empty. For iteration. */
void *ahash_slot(const struct ahash *h, uint32_t i);

void ahash_free(struct ahash *h); /* NULL-safe; leaves an empty table */

/* 64-bit hash of n bytes (not cryptographic; seeded per process against crafted collisions). */
uint64_t ahash_bytes(const void *p, size_t n, uint64_t seed);

/* ----------------------------------------------------------------------------------------- */
/* alayers (analyze_layers.c): a frame -> protocol path (tshark names) and its IP layers.     */

/* Protocol names; the order is the one of alayers_name(). */
/* clang-format off */
enum aproto_id {
	AP_NONE = 0,
	/* link and below IP */
	AP_ETH, AP_VLAN, AP_8021AD, AP_LLC, AP_STP, AP_CDP, AP_ARP, AP_LLDP, AP_EAPOL, AP_PPPOED,
	AP_PPPOES, AP_PPP, AP_MPLS, AP_SLL, AP_NULL, AP_RAW, AP_CHDLC, AP_LOOP, AP_SLOW, AP_PTP,
	AP_UNKNOWN_LINK,
	/* network and transport */
	AP_IP, AP_IPV6, AP_TCP, AP_UDP, AP_ICMP, AP_ICMPV6, AP_SCTP, AP_GRE, AP_IGMP, AP_ESP, AP_AH,
	AP_OSPF, AP_EIGRP, AP_PIM, AP_VRRP, AP_VXLAN,
	/* application, by well-known port */
	AP_DNS, AP_HTTP, AP_TLS, AP_NTP, AP_SSDP, AP_MEMCACHE, AP_SNMP, AP_CLDAP, AP_LDAP, AP_DHCP,
	AP_DHCPV6, AP_MDNS, AP_LLMNR, AP_NBNS, AP_NBDGM, AP_NBSS, AP_SSH, AP_SMTP, AP_FTP, AP_TELNET,
	AP_POP, AP_IMAP, AP_QUIC, AP_STUN, AP_SYSLOG, AP_TFTP, AP_SIP, AP_BGP, AP_KERBEROS, AP_PGSQL,
	AP_MYSQL, AP_MBTCP, AP_TPKT, AP_CHARGEN, AP_WSD, AP_RIP, AP_ISAKMP, AP_OPENVPN, AP_RADIUS,
	/* payload nobody above claims */
	AP_DATA,
	AP__COUNT
};
/* clang-format on */

/* The tshark-style name of a protocol id ("eth", "ip", "dns", ...). */
const char *alayers_name(int id);

#define ALAYERS_MAX_PATH 24
#define ALAYERS_MAX_IP 4

struct alayers_ip {
	uint8_t ver;	   /* 4 or 6 */
	uint8_t frag_more; /* a fragment with more to come (tshark's IPv6 taps skip those) */
	uint8_t src[16], dst[16];
};

struct alayers {
	struct pkt_meta m; /* decode_packet() of the frame: the outermost IP layer */
	int dec;	   /* its enum dec_result */
	uint8_t npath;	   /* protocols from the link layer inwards, aproto_id values */
	uint8_t path[ALAYERS_MAX_PATH];
	uint8_t nip; /* IP layers, outermost first (tunnels add inner ones) */
	struct alayers_ip ip[ALAYERS_MAX_IP];
};

typedef struct alayers_ctx alayers_ctx_t;

/*
 * A context remembers the transport ports of first IP fragments (a fixed 4096-slot map) so that
 * the last fragment of a datagram is named like tshark names a reassembled one. Returns NULL if
 * out of memory.
 */
alayers_ctx_t *alayers_new(void);
void alayers_free(alayers_ctx_t *c); /* NULL-safe */

/*
 * Decodes one frame of link type dlt into *out. Never reads past caplen; never fails (frames it
 * cannot name end their path early).
 * Naming follows tshark's io,phs where both name a protocol: VLAN tags nest ("vlan", 802.1ad is
 * "ieee8021ad"), MPLS labels nest, tunnels (IP in IP, GRE, VXLAN) continue the path with the
 * inner layers; an IP fragment with more to come is "data", the last fragment carries the
 * transport (and application, if the first fragment was seen) name; application protocols come
 * from well-known ports, the lower port first as tshark does for UDP, and for TCP only segments
 * with payload are named.
 */
void alayers_decode(alayers_ctx_t *c, int dlt, const uint8_t *data, uint32_t caplen,
		    uint32_t wirelen, struct alayers *out);

/* The application protocol of a TCP (proto 6) or UDP (17) port pair, AP_NONE if none. */
int alayers_app(uint8_t proto, uint16_t sport, uint16_t dport);

/* ----------------------------------------------------------------------------------------- */
/* aout (analyze_out.c): aligned tables for people, JSON strings, numbers and times.          */

typedef struct aout_table aout_table_t;

/*
 * A table of ncols columns (at most 12) with the given headings; right[i] nonzero aligns column
 * i to the right. The last column is never padded. Returns NULL if out of memory.
 */
aout_table_t *aout_table_new(int ncols, const char *const *heads, const int *right);
/* Adds a row (cells copied). Returns 0, or -1 if out of memory (the row is lost). */
int aout_table_add(aout_table_t *t, const char *const *cells);
void aout_table_print(const aout_table_t *t, FILE *out, const char *indent);
void aout_table_free(aout_table_t *t); /* NULL-safe */

/* Writes s as a JSON string (quotes, escapes; bytes that are not UTF-8 become U+FFFD). */
void aout_json_str(FILE *out, const char *s);
/* RFC 3339 UTC with microseconds into buf (at least 32 bytes). Returns buf. */
const char *aout_time(int64_t ts_ns, char *buf, size_t len);
/* "999 B", "1.2 kB", "34.5 MB", "1.0 GB" (SI units, as the rest of ringcap) into buf. */
const char *aout_bytes(uint64_t n, char *buf, size_t len);
/* An address of ip version 4 or 6 into buf (at least 46 bytes). Returns buf. */
const char *aout_addr(int ver, const uint8_t addr[16], char *buf, size_t len);

/* ----------------------------------------------------------------------------------------- */
/* aproto (analyze_proto.c): the protocol hierarchy, like tshark -q -z io,phs.               */

typedef struct aproto aproto_t;

/* Returns NULL if out of memory. The tree holds at most 4096 distinct paths (more: counted). */
aproto_t *aproto_new(void);
void aproto_add(aproto_t *a, const struct alayers *l, uint32_t wirelen);
/* Prints the tree (children by frames, then bytes, then name) as a table or as JSON. */
void aproto_print(const aproto_t *a, FILE *out, int json);
/* Frames and bytes counted at a path such as "eth/ip/udp/dns"; 0 and 0 if never seen. */
void aproto_lookup(const aproto_t *a, const char *path, uint64_t *frames, uint64_t *bytes);
void aproto_free(aproto_t *a); /* NULL-safe */

/* ----------------------------------------------------------------------------------------- */
/* aendp (analyze_endpoints.c): IPv4 and IPv6 endpoints, like tshark -q -z endpoints,ip.      */

typedef struct aendp aendp_t;

enum aendp_sort { AENDP_BY_PACKETS = 0, AENDP_BY_BYTES = 1 };

struct aendp_row {
	uint8_t ver;
	uint8_t addr[16];
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
};

/*
 * At most max_entries addresses are kept (IPv4 and IPv6 together); packets of addresses that did
 * not fit are counted in a row "other". Returns NULL if out of memory.
 */
aendp_t *aendp_new(uint32_t max_entries);
/*
 * Counts every IP layer of the frame: its source sends, its destination receives wirelen bytes.
 * As tshark, an IPv6 fragment with more fragments to come is not counted.
 */
void aendp_add(aendp_t *e, const struct alayers *l, uint32_t wirelen);
/*
 * The top n rows of IP version ver by packets or bytes (ties: the other measure, then the
 * address) into rows (room for n). Returns how many were written.
 */
size_t aendp_top(const aendp_t *e, int ver, enum aendp_sort by, struct aendp_row *rows, size_t n);
/* Prints both tables (top n each) as text or JSON. */
void aendp_print(const aendp_t *e, FILE *out, int json, size_t n, enum aendp_sort by);
void aendp_free(aendp_t *e); /* NULL-safe */

/* ----------------------------------------------------------------------------------------- */
/* asusp (analyze_susp.c): findings (floods, amplification, scans, large transfers, rare ports) */

typedef struct asusp asusp_t;

enum asusp_severity { ASUSP_INFO = 0, ASUSP_LOW = 1, ASUSP_MEDIUM = 2, ASUSP_HIGH = 3 };

/* Returns NULL if out of memory. */
asusp_t *asusp_new(void);
/* Feeds one packet (first pass). */
void asusp_add(asusp_t *s, const struct apkt *p, const struct alayers *l);
/* Ends the first pass: turns the counters into findings. Call once. */
void asusp_finish(asusp_t *s);
/* Number of findings at or above min severity. */
size_t asusp_count(const asusp_t *s, enum asusp_severity min);
/*
 * Second pass (-w): nonzero if the packet belongs to one of the findings at or above min
 * (same packet time window, same hosts and ports as the finding describes).
 */
int asusp_match(const asusp_t *s, const struct apkt *p, const struct alayers *l,
		enum asusp_severity min);
void asusp_print(const asusp_t *s, FILE *out, int json, enum asusp_severity min);
const char *asusp_severity_name(int sev);
/* The finding types found at or above min, comma separated, in a fixed order (for tests). */
void asusp_types(const asusp_t *s, enum asusp_severity min, char *buf, size_t len);
void asusp_free(asusp_t *s); /* NULL-safe */

/* ----------------------------------------------------------------------------------------- */
/* alist (analyze_list.c): the continuous and incident captures under an output folder.        */

struct alist_entry {
	char *path;   /* full path */
	char *name;   /* path relative to the folder ("pcaps/capture_...pcap") */
	int incident; /* 0 continuous (DIR/pcaps), 1 incident (DIR/incidents) */
	int writing;  /* a .part file: still being written (or left by a crash) */
	uint64_t size;
	uint64_t packets;
	int64_t first_ns, last_ns; /* valid if packets > 0 */
	char *error;		   /* NULL, or why the file could not be read completely */
};

struct alist {
	struct alist_entry *e;
	size_t n, cap;
};

/*
 * Finds the files: DIR/pcaps/capture_*.pcap[.part] in sequence order, then *.pcap, *.pcapng and
 * *.part under DIR/incidents (searched 4 levels deep, sorted by path). At most 100000 files.
 * Returns 0, or -1 with a message in err if DIR/pcaps and DIR/incidents are both missing or
 * unreadable. The caller then reads each file (alist_entry fields packets..error).
 */
int alist_scan(const char *dir, struct alist *l, char *err, size_t errlen);
void alist_print(const struct alist *l, const char *dir, FILE *out, int json);
void alist_free(struct alist *l); /* NULL-safe */

/*
 * The continuous files of DIR/pcaps (capture_*.pcap and .part) in sequence order, for --all.
 * Returns the number of paths put in *paths (caller frees each and the array), or -1 with a
 * message in err.
 */
long alist_continuous(const char *dir, char ***paths, char *err, size_t errlen);

#endif
