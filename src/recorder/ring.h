/*
 * ring.h - the pre-trigger ring of the flight recorder: always the last packets, in memory.
 *
 * DESIGN: all memory is allocated once by ring_new(): a byte arena used circularly for packet
 * data and a circular index of fixed-size entries (timestamp, lengths, arena position). A packet's
 * captured bytes are stored contiguously with one memcpy; one that does not fit before the end of
 * the arena starts again at the front, and the oldest packets are evicted until there is room.
 * Inserting is O(1) amortised (each packet is evicted at most once) and never allocates.
 * Timestamps (sec + fraction in the capture's unit, as in pcapfile.h) and bytes are kept bit for
 * bit; the ring never interprets or changes them.
 *
 * Two bounds, chosen by struct ring_config:
 *  - count mode (max_age_ns == 0): the last max_packets packets. The arena holds max_packets
 *    frames of min(max_caplen, 1514) bytes plus one of max_caplen, so any single packet fits and
 *    the default (500 packets, max_caplen 262144) needs under 1 MiB; when larger packets come,
 *    fewer than max_packets are held (counted in evicted_space).
 *  - time mode (max_age_ns > 0): the packets whose time is at most max_age_ns older than the
 *    newest packet's, and the keep_before packets just before them (however old), within
 *    budget_bytes of memory (index and data). A quarter of the budget goes to the index, the rest
 *    to the arena; when either is full the oldest packets are evicted even if younger than
 *    max_age_ns (evicted_space), so a flood shortens the window instead of growing memory.
 *    keep_before is what lets an incident capture start RING_PACKETS packets before the onset of
 *    an attack on a quiet link: the packets before the window are kept by number, not by age.
 *
 * Packet time: the ring keeps arrival order. Age is measured against the newest (last pushed)
 * packet and checked at the oldest end: after each push the oldest packet held is at most
 * max_age_ns older than the newest, while a packet stamped out of order further in stays until it
 * is the oldest. A step backwards in time evicts nothing for age (the older packets then look
 * younger) until time catches up again or space evicts them; a step forwards of more than
 * max_age_ns evicts everything before it.
 *
 * Freeze: there is none, and none is needed. The ring is single-threaded; at a trigger the
 * incident code calls ring_foreach() synchronously and writes every packet before it pushes the
 * next one, so the walk sees a consistent snapshot. The ring is not emptied by the walk: call
 * ring_clear() afterwards if those packets must not be written again by a later incident.
 */
#ifndef RINGCAP_RING_H
#define RINGCAP_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_DEFAULT_PACKETS 500u
#define RING_DEFAULT_BUDGET (64ull << 20) /* time mode: 64 MiB for index and data */
#define RING_MAX_CAPLEN 262144u		  /* largest max_caplen (libpcap's MAXIMUM_SNAPLEN) */
#define RING_MAX_PACKETS (1u << 20)	  /* largest max_packets in count mode */
#define RING_MIN_BUDGET (1ull << 20)	  /* time mode budget: 1 MiB ... */
#define RING_MAX_BUDGET (64ull << 30)	  /* ... to 64 GiB */

typedef struct ring ring_t;

struct ring_config {
	uint32_t max_packets;  /* count mode: packets held, 1..RING_MAX_PACKETS */
	int64_t max_age_ns;    /* 0: count mode; > 0: time mode, the window kept */
	uint64_t budget_bytes; /* time mode: memory for index and data */
	uint32_t max_caplen;   /* largest caplen stored (1..RING_MAX_CAPLEN): the snaplen */
	uint32_t keep_before;  /* time mode: packets kept before the max_age_ns window, 0.. */
};

/*
 * Fills c with the defaults: count mode, RING_DEFAULT_PACKETS packets, budget_bytes
 * RING_DEFAULT_BUDGET and keep_before RING_DEFAULT_PACKETS (used if the caller then sets
 * max_age_ns), max_caplen RING_MAX_CAPLEN.
 */
void ring_config_init(struct ring_config *c);

/*
 * Creates a ring and allocates all its memory. Returns NULL with a message quoting the bad value
 * in err if the configuration is invalid (max_packets 0 or too large in count mode, a negative
 * max_age_ns, budget_bytes outside RING_MIN_BUDGET..RING_MAX_BUDGET in time mode, max_caplen 0 or
 * above RING_MAX_CAPLEN) or memory cannot be allocated. Count mode ignores budget_bytes and
 * time mode max_packets. Free with ring_free().
 */
ring_t *ring_new(const struct ring_config *c, char *err, size_t errlen);

/* The checks of ring_new() without allocating: 0, or -1 with the message in err. */
int ring_config_check(const struct ring_config *c, char *err, size_t errlen);

/*
 * Stores one packet as the newest, evicting the oldest ones as the bounds require. sec and frac
 * are kept as given; ts_ns is the same time in ns since the epoch, used for the age bound (and
 * ring_oldest_ns()/ring_newest_ns()). caplen bytes are copied from data (which may be NULL when
 * caplen is 0); wirelen is kept as given, even if smaller than caplen.
 * A packet with caplen > max_caplen is not stored (its bytes are never cut) and is counted in
 * ring_stats.too_big; the ring is then left as it was.
 */
void ring_push(ring_t *r, int64_t sec, uint32_t frac, int64_t ts_ns, uint32_t caplen,
	       uint32_t wirelen, const uint8_t *data);

/* Packets held now. */
uint32_t ring_count(const ring_t *r);

/*
 * Called by ring_foreach() for each packet, oldest first. data points into the ring (non-NULL,
 * even when caplen is 0) and is valid until the ring is next changed. Return 0 to go on, nonzero
 * to stop. It must not push to, clear or free the ring.
 */
typedef int (*ring_visit_fn)(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen,
			     uint32_t wirelen, const uint8_t *data);

/*
 * Visits every packet held, oldest first; the ring is not changed. Returns the number visited
 * (>= 0), or the first nonzero value fn returned, after which the walk stopped. Let fn return a
 * negative value (an -errno from pcapfile_write(), say) to tell the two apart.
 */
int ring_foreach(const ring_t *r, ring_visit_fn fn, void *ctx);

/* The same from the packet at position first (0: the oldest); visits nothing if first >= count. */
int ring_foreach_from(const ring_t *r, uint32_t first, ring_visit_fn fn, void *ctx);

/*
 * Nonzero when the ring holds every packet pushed since ring_new() or the last ring_clear()
 * (nothing evicted and nothing too big since): its oldest packet is then the first of the input.
 */
int ring_complete(const ring_t *r);

/*
 * Time (the ts_ns given to ring_push()) of the oldest / newest packet held. Return 0 and set
 * *ts_ns, or -1 if the ring is empty (*ts_ns is then left alone).
 */
int ring_oldest_ns(const ring_t *r, int64_t *ts_ns);
int ring_newest_ns(const ring_t *r, int64_t *ts_ns);

/* Drops every packet held (counted in ring_stats.cleared); the other counters go on. */
void ring_clear(ring_t *r);

/*
 * Counters since ring_new(). Every packet pushed ends up in exactly one of too_big,
 * evicted_count, evicted_age, evicted_space, cleared or count.
 */
struct ring_stats {
	uint64_t pushed;	/* ring_push() calls */
	uint64_t evicted_count; /* count mode: evicted because max_packets were held */
	uint64_t evicted_age;	/* time mode: evicted for being older than max_age_ns */
	uint64_t evicted_space; /* evicted for room: arena full, or (time mode) index full */
	uint64_t too_big;	/* not stored: caplen > max_caplen */
	uint64_t cleared;	/* dropped by ring_clear() */
	uint32_t count;		/* packets held now */
	uint32_t capacity;	/* most packets it can hold (max_packets, or the index size) */
	uint64_t bytes;		/* captured bytes held now */
	uint64_t data_bytes;	/* size of the data arena */
	uint64_t mem_bytes;	/* everything allocated: arena, index and the ring itself */
	int64_t max_age_ns;	/* the configuration: 0 in count mode */
	uint32_t keep_before;	/* time mode: packets kept before the window */
};

void ring_stats(const ring_t *r, struct ring_stats *st);

/* NULL-safe. */
void ring_free(ring_t *r);

#endif
