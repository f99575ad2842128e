/* pipeline.c - see pipeline.h. */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "capture/decode.h"
#include "outputs/flow.h"
#include "outputs/flow_json.h"
#include "outputs/flowsink.h"
#include "base/files.h"
#include "base/log.h"
#include "recorder/incident.h"
#include "outputs/pcapw.h"
#include "recorder/ring.h"


struct pipeline {
	struct pipeline_config cfg;
	pcapw_t *pw;
	flow_table_t *ft;
	void *fs[FLOW_SINKS_MAX]; /* flow_sinks[i]'s state; NULL: off */
	ring_t *ring;
	detect_t *det;
	uint32_t trigger_weight; /* frame bytes of the packet being detected (Mbit/s onsets) */
	incidents_t *inc;
	int64_t clock_ns;       /* highest time seen: packet time, or wall clock when live and idle */
	int64_t last_expire_ns; /* clock at the last flow expiry */
	int finished;
	struct pipeline_stats st;
};

/*
 * A flow's tag names the continuous file that holds its first packet: the sequence number + 1 in
 * the high half (0: no file) and the file's start second in the low half (unsigned 32-bit, which
 * classic pcap timestamps are anyway). Sequence numbers start at 1.
 */
static uint64_t tag_from_id(const struct pcapw_fileid *id)
{
	if (id->seq == 0) /* the packet could not be saved */
		return 0;
	return ((uint64_t)id->seq + 1) << 32 | (uint32_t)id->start_s;
}

static void emit_flow(void *ctx, const struct flow_record *r)
{
	struct pipeline *p = ctx;
	char name[64];
	const char *file = NULL;
	if (r->tag) {
		struct pcapw_fileid id = { .start_s = (int64_t)(uint32_t)r->tag,
					   .seq = (uint32_t)((r->tag >> 32) - 1) };
		file = pcapw_file_name(&id, name, sizeof name);
	}
	for (int i = 0; flow_sinks[i]; i++)
		if (p->fs[i])
			flow_sinks[i]->record(p->fs[i], r, file);
	p->st.flows_written++;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (files_mkdir(path) == 0) {
		struct stat sb;
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return 0;
		snprintf(err, errlen, "cannot use `%s' as output folder: it is not a folder", path);
		return -1;
	}
	snprintf(err, errlen, "cannot create output folder `%s': %s", path, strerror(errno));
	return -1;
}

pipeline_t *pipeline_new(const struct pipeline_config *cfg, char *err, size_t errlen)
{
	char path[4096];
	struct pipeline *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	if (make_dir(cfg->outdir, err, errlen) != 0)
		goto fail;
	p->det = detect_new(&cfg->detect, err, errlen);
	if (!p->det)
		goto fail;
	snprintf(path, sizeof path, "%s/%s", cfg->outdir, incidents_subdir());
	struct incidents_config ic = {
		.sink = cfg->sink,
		.dir = path,
		.dlt = cfg->dlt,
		.dlt_ext = cfg->dlt_ext,
		.snaplen = cfg->snaplen,
		.nano = cfg->nano,
		.pcapng = cfg->incident_pcapng,
		.max_packets = cfg->incident_max_packets,
		.source = cfg->source_name,
		.stats_only = cfg->stats_only,
		.manual = cfg->manual,
	};
	p->inc = incidents_new(&ic, err, errlen);
	if (!p->inc)
		goto fail;
	if (cfg->stats_only) {
		p->clock_ns = INT64_MIN;
		return p;
	}
	struct ring_config rc;
	if (cfg->no_recorder)
		goto no_ring;
	pipeline_ring_config(cfg, &rc);
	p->ring = ring_new(&rc, err, errlen);
	if (!p->ring)
		goto fail;
no_ring:
	if (cfg->save_pcap) {
		snprintf(path, sizeof path, "%s/pcaps", cfg->outdir);
		struct pcapw_config pc = {
			.dir = path,
			.rotate_bytes = cfg->rotate_bytes,
			.retention = cfg->retention,
			.linktype = cfg->dlt,
			.linktype_ext = cfg->dlt_ext,
			.snaplen = cfg->snaplen,
			.nano = cfg->nano,
			.async = 1,
			.on_finished = cfg->pcap_finished,
			.on_finished_ud = cfg->pcap_finished_ud,
		};
		p->pw = pcapw_open(&pc, err, errlen);
		if (!p->pw)
			goto fail;
	}
	struct flow_config fc = {
		.max_flows = cfg->max_flows,
		.idle_ns = cfg->flow_idle_ns,
		.active_ns = cfg->flow_active_ns,
	};
	p->ft = flow_table_new(&fc, emit_flow, p, err, errlen);
	if (!p->ft)
		goto fail;
	struct flow_sink_config fsc = {.outdir = cfg->outdir};
	for (int i = 0; flow_sinks[i]; i++)
		if (i >= FLOW_SINKS_MAX || flow_sinks[i]->open(&fsc, &p->fs[i], err, errlen) != 0)
			goto fail;
	p->clock_ns = INT64_MIN;
	return p;
fail:
	pipeline_free(p);
	return NULL;
}

void pipeline_ring_config(const struct pipeline_config *cfg, struct ring_config *rc)
{
	ring_config_init(rc);
	rc->keep_before = cfg->ring_packets ? cfg->ring_packets : RING_DEFAULT_PACKETS;
	rc->max_age_ns = cfg->ring_age_ns > 0 ? cfg->ring_age_ns
					      : cfg->detect.window_ns + PIPELINE_RING_MARGIN_NS;
	if (cfg->ring_budget)
		rc->budget_bytes = cfg->ring_budget;
	rc->max_caplen = cfg->snaplen && cfg->snaplen < RING_MAX_CAPLEN ? cfg->snaplen
									: RING_MAX_CAPLEN;
}

int pipeline_config_check(const struct pipeline_config *cfg, char *err, size_t errlen)
{
	struct ring_config rc;
	if (detect_config_check(&cfg->detect, err, errlen) != 0)
		return -1;
	pipeline_ring_config(cfg, &rc);
	if (rc.keep_before >= cfg->incident_max_packets) {
		snprintf(err, errlen,
			 "RING_PACKETS %u is not less than INCIDENT_MAX_PACKETS %u: an incident "
			 "capture would hold only packets from before the attack",
			 rc.keep_before, cfg->incident_max_packets);
		return -1;
	}
	if (rc.max_age_ns && rc.max_age_ns < cfg->detect.window_ns + DETECT_BUCKET_NS) {
		snprintf(err, errlen,
			 "RING_SECONDS %.3f is shorter than the detection window and one bucket "
			 "(%.1f s): the ring could not reach back to an attack's onset",
			 (double)rc.max_age_ns / 1e9,
			 (double)(cfg->detect.window_ns + DETECT_BUCKET_NS) / 1e9);
		return -1;
	}
	return ring_config_check(&rc, err, errlen);
}

static void on_detect(struct pipeline *p, int ev, const struct detect_trigger *t)
{
	if (ev & DETECT_RESOLVE)
		incidents_resolve(p->inc, detect_resolved_at(p->det), "quiet");
	if (ev & DETECT_OPEN) {
		struct incident_trigger it = {
			.threshold = t->name,
			.unit = (t->metric == DETECT_MBPS || t->metric == DETECT_HOST_MBPS) ? "Mbit/s"
											    : "packets/s",
			.limit = (double)t->limit,
			.value = t->value,
			.ts_ns = t->ts_ns,
			.host_version = t->dst.ip_version,
		};
		memcpy(it.host, t->dst.addr, sizeof it.host);
		struct onset on, *onp = NULL;
		if (p->ring) {
			struct onset_query q = {
				.dlt = p->cfg.dlt,
				.nano = p->cfg.nano,
				.metric = t->metric,
				.limit = t->limit,
				.host_version = t->dst.ip_version,
				.trigger_ns = t->ts_ns,
				.trigger_weight = (t->metric == DETECT_MBPS ||
						   t->metric == DETECT_HOST_MBPS)
							  ? p->trigger_weight
							  : 1,
				.pre_packets = p->cfg.ring_packets ? p->cfg.ring_packets
								   : RING_DEFAULT_PACKETS,
			};
			memcpy(q.host, t->dst.addr, sizeof q.host);
			onset_find(p->ring, &q, &on);
			onp = &on;
		}
		incidents_open(p->inc, &it, p->ring, onp);
	}
}

static void advance_clock(struct pipeline *p, int64_t ts)
{
	if (ts <= p->clock_ns)
		return;
	if (p->clock_ns == INT64_MIN)
		p->last_expire_ns = ts;
	p->clock_ns = ts;
	if (p->clock_ns - p->last_expire_ns >= NS_PER_S) {
		flow_table_expire(p->ft, p->clock_ns);
		p->last_expire_ns = p->clock_ns;
	}
}

void pipeline_packet(pipeline_t *p, const struct pcap_pkthdr *h, const uint8_t *data)
{
	int64_t ts = (int64_t)h->ts.tv_sec * NS_PER_S +
		     (int64_t)h->ts.tv_usec * (p->cfg.nano ? 1 : 1000);
	struct pkt_meta m;
	uint64_t tag = 0;

	p->st.packets++;
	p->st.bytes += h->len;
	advance_clock(p, ts);
	int dr = decode_packet(p->cfg.dlt, data, h->caplen, h->len, &m);
	if (p->ring) {
		struct detect_trigger trig;
		p->trigger_weight = h->len ? h->len : 1;
		int ev = detect_packet(p->det, &m, ts, &trig);
		if (ev)
			on_detect(p, ev, &trig);
		if (incidents_any_open(p->inc))
			incidents_packet(p->inc, h, data, &m, dr, ts);
		ring_push(p->ring, h->ts.tv_sec, (uint32_t)h->ts.tv_usec, ts, h->caplen, h->len,
			  data);
	} else if (incidents_any_open(p->inc)) {
		incidents_packet(p->inc, h, data, &m, dr, ts); /* manual captures */
	}
	if (p->pw) {
		struct pcapw_fileid id;
		pcapw_write(p->pw, h->ts.tv_sec, (uint32_t)h->ts.tv_usec, h->caplen, h->len, data, &id);
		tag = tag_from_id(&id);
	}
	switch (dr) {
	case DEC_IP:
		p->st.ip++;
		flow_table_update(p->ft, &m, ts, tag);
		break;
	case DEC_NONIP:
		p->st.non_ip++;
		break;
	case DEC_MALFORMED:
		p->st.malformed++;
		break;
	default:
		p->st.unsupported++;
		break;
	}
}

void pipeline_tick(pipeline_t *p, int64_t now_ns)
{
	if (now_ns && p->clock_ns != INT64_MIN && !p->cfg.stats_only) {
		advance_clock(p, now_ns);
		int ev = p->ring ? detect_tick(p->det, p->clock_ns) : 0;
		if (ev)
			on_detect(p, ev, NULL);
	}
	if (p->clock_ns != INT64_MIN)
		incidents_tick(p->inc, p->clock_ns);
	if (p->pw)
		pcapw_tick(p->pw, 0);
	for (int i = 0; flow_sinks[i]; i++)
		if (p->fs[i])
			flow_sinks[i]->flush(p->fs[i], 0);
}

void pipeline_counts(pipeline_t *p, int64_t now_ns, uint64_t pkts, uint64_t bytes)
{
	struct detect_trigger trig;
	if (p->clock_ns != INT64_MIN && now_ns <= p->clock_ns)
		return;
	p->clock_ns = now_ns;
	p->st.packets += pkts;
	p->st.bytes += bytes;
	int ev = detect_add_counts(p->det, now_ns, pkts, bytes, &trig);
	if (ev)
		on_detect(p, ev, &trig);
	incidents_counts(p->inc, now_ns, pkts, bytes);
	incidents_tick(p->inc, now_ns);
}

long pipeline_manual_capture(pipeline_t *p, double seconds, uint32_t packets, char *err,
			     size_t errlen)
{
	int64_t now = p->clock_ns;
	if (now == INT64_MIN) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
	}
	return incidents_manual(p->inc, now, (int64_t)(seconds * 1e9), packets, err, errlen);
}

void pipeline_rates(const pipeline_t *p, struct detect_rates *r, int *incident_open)
{
	detect_rates(p->det, r);
	*incident_open = incidents_auto_open(p->inc);
}

int pipeline_finish(pipeline_t *p)
{
	int ret = 0;
	if (p->finished)
		return 0;
	p->finished = 1;
	if (p->clock_ns != INT64_MIN)
		incidents_finish(p->inc, p->clock_ns);
	struct incidents_stats is;
	incidents_stats(p->inc, &is);
	p->st.incidents_opened = is.opened;
	p->st.manual_captures = is.manual;
	p->st.last_incident = is.last_id;
	p->st.last_flush_ms = is.last_flush_ms;
	if (p->cfg.stats_only)
		return ret;
	flow_table_flush(p->ft);
	struct flow_stats fs;
	flow_table_stats(p->ft, &fs);
	p->st.flows_evicted = fs.flows_evicted;
	if (p->pw) {
		if (pcapw_end(p->pw) != 0)
			ret = -1;
		struct pcapw_stats ws;
		pcapw_stats(p->pw, &ws);
		p->st.pcap_packets = ws.packets;
		p->st.pcap_dropped = ws.packets_dropped;
		p->st.pcap_write_errors = ws.write_errors;
		p->st.files_written = ws.files_written;
		p->st.files_deleted = ws.files_deleted;
		p->st.files_repaired = ws.files_repaired;
		pcapw_close(p->pw);
		p->pw = NULL;
	}
	for (int i = 0; flow_sinks[i]; i++) {
		struct flow_sink_result res = {0};
		if (!p->fs[i])
			continue;
		if (flow_sinks[i]->close(p->fs[i], &res) != 0)
			ret = -1;
		p->fs[i] = NULL;
		if (flow_sinks[i] == &flow_json_sink) /* the flow log's losses are the run's */
			p->st.flow_lines_dropped = res.records - res.delivered;
	}
	return ret;
}

void pipeline_stats(const pipeline_t *p, struct pipeline_stats *st)
{
	*st = p->st;
}

void pipeline_free(pipeline_t *p)
{
	if (!p)
		return;
	pcapw_close(p->pw);
	for (int i = 0; flow_sinks[i]; i++)
		if (p->fs[i])
			flow_sinks[i]->close(p->fs[i], NULL);
	flow_table_free(p->ft);
	incidents_free(p->inc);
	ring_free(p->ring);
	detect_free(p->det);
	free(p);
}
