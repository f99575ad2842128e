/*
 * onset.h - where an attack began: the onset of the rate that opened an incident, found in the
 * pre-trigger ring when the detector fires.
 *
 * DESIGN: the detector fires on a window sum (detect.h), so by the time it does, an attack has
 * sent threshold x window of its packets. Those, and the packets before them, are in the ring;
 * onset_find() walks it once or twice (decoding each packet; at most a few hundred thousand, once
 * per incident) and finds the onset at packet resolution:
 *
 *   Let the metric's packets be those the trigger counts (all packets for pps/mbps, SYN without
 *   ACK, UDP, ICMP/ICMPv6, or those to the trigger's destination for host_*), each weighing one
 *   packet or its frame bytes (the Mbit/s metrics), and let the buckets be the detector's 100 ms
 *   of packet time. Let b be the earliest bucket such that every full bucket from b up to the
 *   trigger's bucket has its rate strictly above the threshold (b is the trigger's bucket when the
 *   one before it is not above). Let END be the start of bucket b + 1, or the trigger packet's
 *   time (the trigger packet included) if that is sooner. The onset is the first of the metric's
 *   packets from the start of bucket b - 1 up to END whose rate is strictly above the threshold
 *   both up to END (its weight and that of the metric's packets after it before END, over END
 *   minus its time) and over the ONSET_LOCAL_NS (25 ms) after it (or up to END if sooner); when
 *   there is none, the first of the metric's packets from the start of b on (the trigger packet
 *   at the latest). The first condition ties the onset to the run-up, the second keeps a
 *   background packet well before the attack from passing on the attack's weight.
 *
 * A flood at a steady rate above the threshold makes every bucket it covers fully above, so its
 * first packet is in bucket b - 1 or b and passes both tests: the onset is the flood's first
 * packet, or a packet of the background less than 25 ms before it. The run of full buckets above is
 * shorter than the detection window (else the window would have fired earlier), so the ring must
 * hold the window, one bucket more, and the RING_PACKETS before: the pipeline's ring keeps the
 * window plus 1 s and the keep_before packets before that (ring.h).
 */
#ifndef RINGCAP_ONSET_H
#define RINGCAP_ONSET_H

#include <stdint.h>

#include "recorder/detect.h"
#include "recorder/ring.h"

struct onset_query {
	int dlt;		  /* link type of the packets in the ring */
	int nano;		  /* ring timestamps are in ns (else us) */
	enum detect_metric metric; /* what fired */
	uint64_t limit;		  /* its threshold: packets/s or Mbit/s */
	uint8_t host_version;	  /* host_*: the destination (4 or 6) */
	uint8_t host[16];
	int64_t trigger_ns;	  /* time of the trigger packet (not in the ring) */
	uint32_t trigger_weight;  /* its weight: 1, or its frame bytes for the Mbit/s metrics */
	uint32_t pre_packets;	  /* packets wanted before the onset (RING_PACKETS) */
};

struct onset {
	int64_t onset_ns;   /* time of the onset packet */
	uint32_t onset_pos; /* its position in the ring (0: oldest); ring_count(): the trigger */
	uint32_t start_pos; /* the first ring packet of the capture: pre_packets before the onset,
			     * or the oldest held */
	int reached;	    /* 1: the ring holds everything since before bucket b - 1, so the
			     * onset found is the onset; 0: packets of the run-up were evicted for
			     * memory (a flood faster than the budget allows): the onset is at or
			     * before onset_ns and the capture starts as early as memory allowed */
};

/* Fills *o from ring r at the time the detector fired (before the trigger packet is pushed). */
void onset_find(const ring_t *r, const struct onset_query *q, struct onset *o);

#endif
