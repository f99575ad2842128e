/*
 * flowsink.h - consumers of flow records: the extension point of the flow path.
 *
 * DESIGN: the pipeline hands every ended flow to each consumer listed in flow_sinks[]
 * (outputs/flowsink.c), in that order, on the packet thread: record() must not block on the disk
 * or the network (buffer, and write in flush() or on a thread of its own). A consumer that is off
 * for this run's settings returns 0 from open() with *h = NULL and is skipped. Adding one is a
 * new file with its `const struct flow_sink_ops' and one line in flow_sinks[] (CONTRIBUTING.md).
 */
#ifndef RINGCAP_FLOWSINK_H
#define RINGCAP_FLOWSINK_H

#include <stddef.h>
#include <stdint.h>

#include "outputs/flow.h"

/* What every consumer may read of the run's settings (grows with the consumers). */
struct flow_sink_config {
	const char *outdir; /* the output folder */
};

struct flow_sink_result {
	uint64_t records;   /* flows handed to record() */
	uint64_t delivered; /* of those, written or sent for good */
};

struct flow_sink_ops {
	const char *name; /* for messages: "flow log", "IPFIX", ... */
	/* Starts the consumer: *h is its state, NULL when it is off. 0, or -1 with a message in err. */
	int (*open)(const struct flow_sink_config *c, void **h, char *err, size_t errlen);
	/* One ended flow; pcap_file names the continuous file that holds its first packet, or NULL. */
	void (*record)(void *h, const struct flow_record *r, const char *pcap_file);
	/* Periodic (about once a second) or, with force, final write-out. */
	void (*flush)(void *h, int force);
	/* Flushes, stops and frees (NULL-safe); fills *res when not NULL. 0, or -1 if records were
	 * lost (the consumer has logged why). */
	int (*close)(void *h, struct flow_sink_result *res);
};

#define FLOW_SINKS_MAX 8 /* entries of flow_sinks[] */

/* The consumers, NULL-terminated. */
extern const struct flow_sink_ops *const flow_sinks[];

#endif
