/*
 * topk.h - bounded "top talkers": the heaviest keys (addresses, ports) of a stream, by packets.
 *
 * DESIGN: Space-Saving (Metwally, Agrawal, El Abbadi, ICDT 2005) with weighted updates in a fixed
 * number of counters. A key that has a counter is incremented; a new key takes a free counter,
 * or, when all are taken, the counter with the fewest packets: it inherits that counter's
 * packets and bytes and remembers them as its error. The counters always add up to the packets
 * added, so the smallest is at most total/capacity, every key with more true packets than that
 * has a counter, and for every key reported
 *     pkts - err_pkts <= true packets <= pkts,     bytes - err_bytes <= true bytes.
 * (bytes is only a lower bound plus the inherited bytes: the counter given up is the one with the
 * fewest packets, not bytes.) Keys counted only while the table has room are exact (err 0).
 *
 * A min-heap on packets finds the smallest counter and an open-addressing hash table finds a
 * key: O(log capacity) per update (O(1) when a counter only grows at the bottom of the heap, the
 * common case for heavy keys), nothing allocated after topk_new(). The hash seed comes from
 * getrandom() so that remote hosts cannot aim keys at one chain; it never changes the results,
 * which depend only on the sequence of topk_add() calls.
 */
#ifndef RINGCAP_TOPK_H
#define RINGCAP_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct topk topk_t;

#define TOPK_KEY_MAX 17		     /* a version byte and an IPv6 address */
#define TOPK_MAX_CAPACITY (1u << 20) /* largest capacity topk_new() accepts */

struct topk_item {
	uint8_t key[TOPK_KEY_MAX]; /* the first keylen bytes are the key */
	uint8_t keylen;
	uint64_t pkts, bytes;	      /* estimates (upper bound for pkts) */
	uint64_t err_pkts, err_bytes; /* inherited when the key took over a counter, else 0 */
};

/*
 * Creates a table of capacity counters (1 .. TOPK_MAX_CAPACITY). Returns NULL and writes a
 * message into err on failure (bad capacity or no memory). Free with topk_free().
 */
topk_t *topk_new(unsigned capacity, char *err, size_t errlen);

/* NULL-safe. */
void topk_free(topk_t *t);

/*
 * Counts pkts packets and bytes bytes for the key (keylen bytes, 1 .. TOPK_KEY_MAX; keys of
 * different lengths are different keys). Calls with pkts == 0 or a bad keylen are ignored.
 */
void topk_add(topk_t *t, const uint8_t *key, unsigned keylen, uint64_t pkts, uint64_t bytes);

/*
 * Copies the min(n, topk_size()) keys with the most packets into out, sorted by packets, most
 * first; ties by key bytes (memcmp, then the shorter key first). Returns how many were copied.
 * Cost O(capacity log n).
 */
unsigned topk_top(const topk_t *t, struct topk_item *out, unsigned n);

/* Number of keys with a counter (at most the capacity). */
unsigned topk_size(const topk_t *t);

/* Packets and bytes added since creation or the last topk_clear(). */
void topk_totals(const topk_t *t, uint64_t *pkts, uint64_t *bytes);

/* Forgets every key and the totals; the table can be used again. */
void topk_clear(topk_t *t);

/*
 * Key builders. An address key is the IP version byte (4 or 6) then the 4 or 16 address bytes
 * (pkt_meta layout in, so IPv4 keys are 5 bytes); a port key is the protocol byte then the port,
 * big-endian (3 bytes), so that the byte order of keys is the numeric order. They return the key
 * length (0 for an ip_version other than 4 or 6).
 */
unsigned topk_key_addr(uint8_t key[TOPK_KEY_MAX], uint8_t ip_version, const uint8_t addr[16]);
unsigned topk_key_port(uint8_t key[TOPK_KEY_MAX], uint8_t proto, uint16_t port);

#endif
