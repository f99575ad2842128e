/*
 * flowsink.c - the table of flow-record consumers (outputs/flowsink.h). One line per consumer.
 */
#include "outputs/flowsink.h"

#include "outputs/flow_json.h"

const struct flow_sink_ops *const flow_sinks[] = {
	&flow_json_sink, /* DIR/traffic_flows.jsonb */
	NULL,
};
