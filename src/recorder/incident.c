/* incident.c - incident captures and their metadata; see incident.h. */
#include "recorder/incident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "outputs/flow_json.h"
#include "base/files.h"
#include "base/log.h"
#include "outputs/pcapfile.h"
#include "outputs/pcapng.h"
#include "recorder/topk.h"

#define TOPK_CAPACITY 256
#define TOP_REPORTED 10

/* UDP source ports of reflection/amplification services, and the names of their attacks. */
static const struct {
	uint16_t port;
	const char *name;
} amp_ports[] = {
	{ 53, "dns_amplification" },   { 123, "ntp_amplification" },
	{ 1900, "ssdp_amplification" }, { 11211, "memcached_amplification" },
	{ 161, "snmp_amplification" },  { 389, "cldap_amplification" },
	{ 19, "chargen_amplification" },
};
#define N_AMP (sizeof amp_ports / sizeof amp_ports[0])

enum { TK_SRC, TK_DST, TK_SPORT, TK_DPORT, TK_N };

struct cap {
	int used, manual;
	long id;
	char threshold[24], unit[16];
	double limit, value;
	int64_t trigger_ns;
	uint8_t host_version, host[16];

	int64_t started_ns, resolved_ns, deadline_ns;
	uint32_t max_packets;
	pcapfile_t *pf;
	pcapng_t *ng;
	char name[48];     /* final capture file name, "" until it is finished */
	char partname[56]; /* the .part being written */
	uint64_t pcap_packets, pcap_bytes, pre_packets, inc_packets;
	int cap_reached;
	const char *resolve_reason;
	double flush_ms;

	uint64_t seen_pkts, seen_bytes;
	int64_t sec;
	uint64_t sec_pkts, sec_bytes;
	double peak_pps, peak_bps;
	int rates_fd;
	topk_t *tk[TK_N];
	uint64_t n_tcp, n_syn, n_udp, n_icmp, n_amp[N_AMP];
	int64_t meta_ms;

	/* automatic incidents: where the attack began (onset.h) and the ring it was found in */
	int has_onset, onset_reached;
	int64_t onset_ns;
	uint64_t onset_frame, trigger_frame; /* 1-based positions in the capture, 0: not in it */
	uint64_t pre_onset, onset_to_trigger; /* packets of the ring section on either side */
	uint64_t ring_held;		      /* packets in the ring at the trigger */
	struct ring_stats ring;
};

struct incidents {
	struct incidents_config cfg;
	char *dir;
	int dirfd;
	long next_id;
	struct cap caps[INCIDENT_MAX_OPEN];
	int open;     /* captures in use */
	int auto_idx; /* index of the automatic incident, or -1 */
	struct incidents_stats st;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *incidents_subdir(void)
{
	return "incidents";
}

/* ---- files -------------------------------------------------------------------------------- */

static void sync_dir(incidents_t *s)
{
	if (fsync(s->dirfd) != 0 && errno != EINVAL)
		log_warn("cannot fsync folder `%s': %s", s->dir, strerror(errno));
}

/* Writes text to DIR/name through an exclusive temporary file and rename. Returns 0 or -1
 * (logged). */
static int write_whole(incidents_t *s, const char *name, const char *text, int do_sync)
{
	char err[512];
	if (files_replace_at(s->dirfd, name, text, strlen(text), do_sync, err, sizeof err) != 0) {
		log_warn("`%s': %s", s->dir, err);
		return -1;
	}
	return 0;
}

/* ---- metadata ----------------------------------------------------------------------------- */

static json_t *json_time(int64_t ns)
{
	char buf[40];
	return json_string(flow_json_time(ns, buf, sizeof buf));
}

static const char *classify(const struct cap *c)
{
	uint64_t n = c->seen_pkts;
	if (!n)
		return "other";
	for (size_t i = 0; i < N_AMP; i++)
		if (c->n_amp[i] * 2 > n)
			return amp_ports[i].name;
	if (c->n_syn * 2 > n)
		return "syn_flood";
	if (c->n_icmp * 2 > n)
		return "icmp_flood";
	if (c->n_udp * 2 > n)
		return "udp_flood";
	return "other";
}

static json_t *json_addr(uint8_t version, const uint8_t *addr)
{
	char buf[64];
	return json_string(decode_addr_str(version, addr, buf, sizeof buf));
}

static json_t *top_list(const struct cap *c, int which)
{
	struct topk_item items[TOP_REPORTED];
	json_t *arr = json_array();
	if (!c->tk[which])
		return arr;
	unsigned n = topk_top(c->tk[which], items, TOP_REPORTED);
	for (unsigned i = 0; i < n; i++) {
		json_t *o = json_object();
		if (which == TK_SRC || which == TK_DST) {
			json_object_set_new(o, "addr", json_addr(items[i].key[0], items[i].key + 1));
		} else {
			json_object_set_new(o, "port",
					    json_integer(items[i].key[1] << 8 | items[i].key[2]));
			json_object_set_new(o, "proto", json_integer(items[i].key[0]));
		}
		json_object_set_new(o, "packets", json_integer((json_int_t)items[i].pkts));
		json_object_set_new(o, "bytes", json_integer((json_int_t)items[i].bytes));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void write_meta(incidents_t *s, struct cap *c, int final)
{
	json_t *o = json_object(), *t = json_object();
	char name[32];
	int64_t end = c->resolved_ns ? c->resolved_ns : c->sec * NS_PER_S;
	if (end < c->started_ns)
		end = c->started_ns;

	json_object_set_new(o, "id", json_integer(c->id));
	json_object_set_new(o, "state", json_string(c->resolved_ns ? "resolved" : "open"));
	json_object_set_new(o, "mode", json_string(s->cfg.stats_only ? "stats-only" : "capture"));
	json_object_set_new(o, "source", json_string(s->cfg.source ? s->cfg.source : ""));
	json_object_set_new(t, "threshold", json_string(c->threshold));
	if (!c->manual) {
		json_object_set_new(t, "limit", json_real(c->limit));
		json_object_set_new(t, "value", json_real(c->value));
		json_object_set_new(t, "unit", json_string(c->unit));
	} else {
		json_object_set_new(t, "seconds",
				    json_real((double)(c->deadline_ns - c->started_ns) / 1e9));
		json_object_set_new(t, "packets", json_integer(c->max_packets));
	}
	json_object_set_new(t, "time", json_time(c->trigger_ns));
	json_object_set_new(t, "busiest_destination",
			    c->host_version ? json_addr(c->host_version, c->host) : json_null());
	json_object_set_new(o, "trigger", t);
	json_object_set_new(o, "started_at", json_time(c->started_ns));
	json_object_set_new(o, "resolved_at", c->resolved_ns ? json_time(c->resolved_ns) : json_null());
	json_object_set_new(o, "resolve_reason",
			    c->resolve_reason ? json_string(c->resolve_reason) : json_null());
	json_object_set_new(o, "duration_s", json_real((double)(end - c->started_ns) / 1e9));
	json_object_set_new(o, "pcap_file", c->name[0] ? json_string(c->name) : json_null());
	json_object_set_new(o, "pcap_format", json_string(s->cfg.stats_only ? "none"
							   : s->cfg.pcapng   ? "pcapng"
									     : "pcap"));
	json_object_set_new(o, "pcap_packets", json_integer((json_int_t)c->pcap_packets));
	json_object_set_new(o, "pcap_bytes", json_integer((json_int_t)c->pcap_bytes));
	json_object_set_new(o, "pre_trigger_packets", json_integer((json_int_t)c->pre_packets));
	if (c->has_onset) {
		json_t *on = json_object(), *rg = json_object();
		json_object_set_new(on, "time", json_time(c->onset_ns));
		json_object_set_new(on, "reached", json_boolean(c->onset_reached));
		json_object_set_new(on, "in_capture", json_boolean(c->onset_reached && c->onset_frame));
		json_object_set_new(on, "onset_frame",
				    c->onset_frame ? json_integer((json_int_t)c->onset_frame) : json_null());
		json_object_set_new(on, "trigger_frame", c->trigger_frame
							     ? json_integer((json_int_t)c->trigger_frame)
							     : json_null());
		json_object_set_new(on, "pre_onset_packets", json_integer((json_int_t)c->pre_onset));
		json_object_set_new(on, "onset_to_trigger_packets",
				    json_integer((json_int_t)c->onset_to_trigger));
		json_object_set_new(o, "onset", on);
		json_object_set_new(rg, "mode", json_string(c->ring.max_age_ns ? "time" : "count"));
		json_object_set_new(rg, "seconds", json_real((double)c->ring.max_age_ns / 1e9));
		json_object_set_new(rg, "packets_before_window",
				    json_integer((json_int_t)c->ring.keep_before));
		json_object_set_new(rg, "capacity_packets", json_integer((json_int_t)c->ring.capacity));
		json_object_set_new(rg, "memory_bytes", json_integer((json_int_t)c->ring.mem_bytes));
		json_object_set_new(rg, "held_at_trigger", json_integer((json_int_t)c->ring_held));
		json_object_set_new(rg, "evicted_for_memory",
				    json_integer((json_int_t)c->ring.evicted_space));
		json_object_set_new(o, "ring", rg);
	}
	json_object_set_new(o, "incident_packets", json_integer((json_int_t)c->inc_packets));
	json_object_set_new(o, "max_packets", json_integer(c->max_packets));
	json_object_set_new(o, "cap_reached", json_boolean(c->cap_reached));
	json_object_set_new(o, "pre_trigger_flush_ms", json_real(c->flush_ms));
	json_object_set_new(o, "packets_seen", json_integer((json_int_t)c->seen_pkts));
	json_object_set_new(o, "bytes_seen", json_integer((json_int_t)c->seen_bytes));
	json_object_set_new(o, "peak_pps", json_real(c->peak_pps));
	json_object_set_new(o, "peak_bps", json_real(c->peak_bps));
	json_object_set_new(o, "top_sources", top_list(c, TK_SRC));
	json_object_set_new(o, "top_destinations", top_list(c, TK_DST));
	json_object_set_new(o, "top_source_ports", top_list(c, TK_SPORT));
	json_object_set_new(o, "top_destination_ports", top_list(c, TK_DPORT));
	json_object_set_new(o, "classification", json_string(c->manual && !c->seen_pkts
								     ? "other"
								     : classify(c)));
	snprintf(name, sizeof name, "%ld.rates.jsonl", c->id);
	json_object_set_new(o, "rates_file", json_string(name));

	c->meta_ms = mono_ms();
	if (s->cfg.sink) {
		s->cfg.sink->meta(s->cfg.sink->ctx, c->id, o, final);
		return;
	}
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (!text) {
		log_warn("incident %ld: cannot format its metadata", c->id);
		return;
	}
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (line) {
		line[len] = '\n';
		line[len + 1] = 0;
		text = line;
	}
	snprintf(name, sizeof name, "%ld.json", c->id);
	write_whole(s, name, text, final);
	free(text);
}

/* ---- rates -------------------------------------------------------------------------------- */

static void rates_line(struct cap *c, int64_t sec, uint64_t pkts, uint64_t bytes)
{
	char line[160], ts[40];
	if (c->rates_fd < 0)
		return;
	int n = snprintf(line, sizeof line, "{\"t\":\"%s\",\"pps\":%" PRIu64 ",\"bps\":%" PRIu64 "}\n",
			 flow_json_time(sec * NS_PER_S, ts, sizeof ts), pkts, bytes * 8);
	if (n > 0 && write(c->rates_fd, line, (size_t)n) != n)
		log_debug("incident %ld: rates line not written: %s", c->id, strerror(errno));
}

/* Moves the per-second counters to the second of ts_ns, closing the previous second. */
static void rates_advance(struct cap *c, int64_t ts_ns)
{
	int64_t sec = ts_ns / NS_PER_S;
	if (sec <= c->sec)
		return;
	double pps = (double)c->sec_pkts, bps = (double)c->sec_bytes * 8;
	if (pps > c->peak_pps)
		c->peak_pps = pps;
	if (bps > c->peak_bps)
		c->peak_bps = bps;
	rates_line(c, c->sec, c->sec_pkts, c->sec_bytes);
	if (sec > c->sec + 1)
		rates_line(c, sec - 1, 0, 0); /* a quiet gap: drop to zero before the next second */
	c->sec = sec;
	c->sec_pkts = c->sec_bytes = 0;
}

/* ---- capture files ------------------------------------------------------------------------ */

static int cap_write(struct cap *c, int64_t sec, uint32_t frac, uint32_t caplen, uint32_t wirelen,
		     const uint8_t *data, const char *comment)
{
	if (c->pf)
		return pcapfile_write(c->pf, sec, frac, caplen, wirelen, data);
	if (c->ng)
		return pcapng_write(c->ng, sec, frac, caplen, wirelen, data, comment);
	return -EBADF;
}

/* Finishes the capture file: flush, fsync, close, rename to its final name. */
static void cap_finish_file(incidents_t *s, struct cap *c)
{
	int r;
	if (!c->pf && !c->ng)
		return;
	if (c->pf) {
		c->pcap_bytes = pcapfile_size(c->pf);
		r = pcapfile_close(c->pf, 1);
	} else {
		c->pcap_bytes = pcapng_size(c->ng);
		r = pcapng_close(c->ng, 1);
	}
	c->pf = NULL;
	c->ng = NULL;
	if (r < 0)
		log_warn("incident %ld: capture `%s/%s' may be incomplete: %s", c->id, s->dir,
			 c->partname, strerror(-r));
	if (s->cfg.sink) {
		s->cfg.sink->seal(s->cfg.sink->ctx, c->id, c->partname, s->cfg.pcapng ? "pcapng" : "pcap");
		return;
	}
	char final[48];
	snprintf(final, sizeof final, "%.*s", (int)(strlen(c->partname) - 5), c->partname);
	if (renameat(s->dirfd, c->partname, s->dirfd, final) != 0) {
		log_warn("incident %ld: cannot rename `%s/%s': %s", c->id, s->dir, c->partname,
			 strerror(errno));
		return;
	}
	sync_dir(s);
	snprintf(c->name, sizeof c->name, "%s", final);
}

static int cap_create_file(incidents_t *s, struct cap *c, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *ext = s->cfg.pcapng ? "pcapng" : "pcap";
	snprintf(c->partname, sizeof c->partname, "%ld.%s.part", c->id, ext);
	snprintf(path, sizeof path, "%s/%s", s->dir, c->partname);
	if (s->cfg.pcapng) {
		char comment[512], limit[64];
		if (c->manual)
			snprintf(limit, sizeof limit, "manual capture");
		else
			snprintf(limit, sizeof limit, "%s %.1f %s > limit %.1f", c->threshold,
				 c->value, c->unit, c->limit);
		char ts[40], host[64] = "";
		if (c->host_version) {
			char a[48];
			snprintf(host, sizeof host, "; busiest destination %s",
				 decode_addr_str(c->host_version, c->host, a, sizeof a));
		}
		snprintf(comment, sizeof comment, "ringcap incident %ld: %s at %s%s; source %s", c->id,
			 limit, flow_json_time(c->trigger_ns, ts, sizeof ts), host,
			 s->cfg.source ? s->cfg.source : "?");
		struct pcapng_opts o = {
			.linktype = s->cfg.dlt,
			.linktype_ext = s->cfg.dlt_ext,
			.snaplen = s->cfg.snaplen,
			.nano = s->cfg.nano,
			.shb_comment = comment,
			.shb_userappl = "ringcap " RINGCAP_VERSION,
			.if_name = s->cfg.source,
		};
		c->ng = pcapng_create(path, &o, err, errlen);
		return c->ng ? 0 : -1;
	}
	struct pcapfile_opts o = {
		.linktype = pcapfile_linktype_from_dlt(s->cfg.dlt),
		.linktype_ext = s->cfg.dlt_ext,
		.snaplen = s->cfg.snaplen,
		.nano = s->cfg.nano,
	};
	c->pf = pcapfile_create(path, &o, err, errlen);
	return c->pf ? 0 : -1;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void cap_release(struct cap *c)
{
	for (int i = 0; i < TK_N; i++)
		topk_free(c->tk[i]);
	if (c->rates_fd >= 0)
		close(c->rates_fd);
	memset(c, 0, sizeof *c);
	c->rates_fd = -1;
}

/* Takes a free slot and sets up counters; returns it or NULL with a message. */
static struct cap *cap_start(incidents_t *s, int manual, int64_t start_ns, char *err, size_t errlen)
{
	struct cap *c = NULL;
	for (int i = 0; i < INCIDENT_MAX_OPEN && !c; i++)
		if (!s->caps[i].used)
			c = &s->caps[i];
	if (!c) {
		snprintf(err, errlen, "%d captures are running already", INCIDENT_MAX_OPEN);
		return NULL;
	}
	memset(c, 0, sizeof *c);
	c->rates_fd = -1;
	c->used = 1;
	c->manual = manual;
	c->id = s->next_id++;
	c->started_ns = start_ns;
	c->trigger_ns = start_ns;
	c->sec = start_ns / NS_PER_S;
	for (int i = 0; i < TK_N; i++) {
		c->tk[i] = topk_new(TOPK_CAPACITY, err, errlen);
		if (!c->tk[i])
			goto fail;
	}
	char name[48];
	snprintf(name, sizeof name, "%ld.rates.jsonl", c->id);
	c->rates_fd = files_create_at(s->dirfd, name, O_WRONLY | O_TRUNC | O_APPEND);
	if (c->rates_fd < 0)
		log_warn("cannot create `%s/%s': %s", s->dir, name, strerror(errno));
	s->open++;
	return c;
fail:
	cap_release(c);
	return NULL;
}

/* Ends a capture: closes its file if still open, writes the final metadata, frees the slot. */
static void cap_end(incidents_t *s, struct cap *c, int64_t ts_ns, const char *reason)
{
	rates_advance(c, ts_ns < c->sec * NS_PER_S ? c->sec * NS_PER_S : ts_ns + NS_PER_S);
	cap_finish_file(s, c);
	c->resolved_ns = ts_ns < c->started_ns ? c->started_ns : ts_ns;
	c->resolve_reason = reason;
	write_meta(s, c, 1);
	log_info("incident %ld %s (%s): %" PRIu64 " packets in the capture, %" PRIu64 " seen",
		 c->id, c->manual ? "capture ended" : "resolved", reason, c->pcap_packets,
		 c->seen_pkts);
	if (s->auto_idx >= 0 && &s->caps[s->auto_idx] == c)
		s->auto_idx = -1;
	cap_release(c);
	s->open--;
}

struct ring_ctx {
	struct cap *c;
	uint32_t skip;	  /* no onset: ring packets left out (the oldest) */
	uint64_t onset;	  /* packets of the section before the onset packet */
	int err;
};

static int write_ring_packet(void *ctx, int64_t sec, uint32_t frac, uint32_t caplen,
			     uint32_t wirelen, const uint8_t *data)
{
	struct ring_ctx *rc = ctx;
	struct cap *c = rc->c;
	if (rc->skip) {
		rc->skip--;
		return 0;
	}
	if (c->pcap_packets >= c->max_packets)
		return 1; /* the cap, everything included: no room for the rest of the run-up */
	const char *what = !c->has_onset		? "pre-trigger"
			   : c->pre_packets < rc->onset ? "pre-onset"
							: "onset-to-trigger";
	int r = cap_write(c, sec, frac, caplen, wirelen, data, what);
	if (r < 0) {
		rc->err = r;
		return r;
	}
	if (c->has_onset) {
		if (c->pre_packets < rc->onset)
			c->pre_onset++;
		else
			c->onset_to_trigger++;
	}
	c->pre_packets++;
	c->pcap_packets++;
	return 0;
}

long incidents_open(incidents_t *s, const struct incident_trigger *t, const ring_t *ring,
		    const struct onset *on)
{
	char err[512];
	if (s->auto_idx >= 0)
		return -1;
	double t0 = mono_sec();
	struct cap *c = cap_start(s, 0, t->ts_ns, err, sizeof err);
	if (!c) {
		log_warn("cannot open an incident: %s", err);
		return -1;
	}
	snprintf(c->threshold, sizeof c->threshold, "%s", t->threshold);
	snprintf(c->unit, sizeof c->unit, "%s", t->unit ? t->unit : "");
	c->limit = t->limit;
	c->value = t->value;
	c->host_version = t->host_version;
	memcpy(c->host, t->host, sizeof c->host);
	c->max_packets = s->cfg.max_packets;
	if (ring && on) {
		c->has_onset = 1;
		c->onset_reached = on->reached;
		c->onset_ns = on->onset_ns;
		c->ring_held = ring_count(ring);
		ring_stats(ring, &c->ring);
	}
	s->auto_idx = (int)(c - s->caps);
	s->st.opened++;
	s->st.last_id = c->id;
	if (!s->cfg.stats_only) {
		if (cap_create_file(s, c, err, sizeof err) != 0) {
			log_warn("incident %ld: no capture: %s", c->id, err);
		} else if (ring) {
			uint32_t n = ring_count(ring);
			struct ring_ctx rc = { .c = c };
			if (on) {
				/* from pre_packets before the onset, until the cap */
				rc.onset = on->onset_pos - on->start_pos;
				ring_foreach_from(ring, on->start_pos, write_ring_packet, &rc);
				if (on->onset_pos < n && c->pcap_packets > rc.onset)
					c->onset_frame = rc.onset + 1;
				else if (on->onset_pos >= n && c->pcap_packets < c->max_packets)
					c->onset_frame = c->pcap_packets + 1; /* the trigger packet */
				if (c->pcap_packets < c->max_packets)
					c->trigger_frame = c->pcap_packets + 1;
			} else {
				rc.skip = n > c->max_packets ? n - c->max_packets : 0;
				ring_foreach(ring, write_ring_packet, &rc);
			}
			int r = c->pf ? pcapfile_sync(c->pf) : pcapng_sync(c->ng);
			if (rc.err || r)
				log_warn("incident %ld: pre-trigger packets not all written: %s", c->id,
					 strerror(-(rc.err ? rc.err : r)));
		}
	}
	c->flush_ms = (mono_sec() - t0) * 1000.0;
	s->st.last_flush_ms = c->flush_ms;
	char ts[40], ots[40];
	if (c->has_onset)
		log_info("incident %ld opened: %s %.1f %s > %.1f at %s, onset at %s%s; %" PRIu64
			 " packets from the ring (%" PRIu64 " before the onset) written in %.2f ms",
			 c->id, c->threshold, c->value, c->unit, c->limit,
			 flow_json_time(t->ts_ns, ts, sizeof ts),
			 flow_json_time(c->onset_ns, ots, sizeof ots),
			 c->onset_reached ? "" : " or earlier (the ring's memory did not reach back)",
			 c->pre_packets, c->pre_onset, c->flush_ms);
	else
		log_info("incident %ld opened: %s %.1f %s > %.1f at %s; %" PRIu64
			 " pre-trigger packets written in %.2f ms",
			 c->id, c->threshold, c->value, c->unit, c->limit,
			 flow_json_time(t->ts_ns, ts, sizeof ts), c->pre_packets, c->flush_ms);
	if (c->pcap_packets >= c->max_packets && (c->pf || c->ng)) {
		c->cap_reached = 1;
		cap_finish_file(s, c);
	}
	write_meta(s, c, 0);
	return c->id;
}

int manual_limits_check(struct manual_limits *m, char *err, size_t errlen)
{
	if (!m->max_open)
		m->max_open = MANUAL_DEFAULT_MAX_OPEN;
	if (!m->max_packets)
		m->max_packets = MANUAL_DEFAULT_MAX_PACKETS;
	if (!m->max_seconds)
		m->max_seconds = MANUAL_DEFAULT_MAX_SECONDS;
	if (m->max_open > INCIDENT_MAX_OPEN - 1) {
		snprintf(err, errlen,
			 "invalid MANUAL_MAX_OPEN `%u': at most %d manual captures can run at once "
			 "(one of the %d capture slots is kept for automatic incidents)",
			 m->max_open, INCIDENT_MAX_OPEN - 1, INCIDENT_MAX_OPEN);
		return -1;
	}
	return 0;
}

long incidents_manual(incidents_t *s, int64_t now_ns, int64_t dur_ns, uint32_t max_packets,
		      char *err, size_t errlen)
{
	const struct manual_limits *m = &s->cfg.manual;
	if (s->cfg.stats_only) {
		snprintf(err, errlen, "no capture in statistics-only mode (no permission to capture)");
		return -1;
	}
	if (dur_ns <= 0 || max_packets == 0) {
		snprintf(err, errlen, "a capture needs seconds > 0 and packets > 0");
		return -1;
	}
	if (max_packets > m->max_packets || dur_ns > (int64_t)m->max_seconds * NS_PER_S) {
		snprintf(err, errlen,
			 "a manual capture may take at most %" PRIu32 " packets and %" PRIu32
			 " seconds on this agent (MANUAL_MAX_PACKETS, MANUAL_MAX_SECONDS)",
			 m->max_packets, m->max_seconds);
		return INCIDENT_ELIMIT;
	}
	uint32_t running = 0;
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++)
		running += s->caps[i].used && s->caps[i].manual;
	if (running >= m->max_open) {
		snprintf(err, errlen,
			 "%" PRIu32 " manual captures are running already, the most this agent allows "
			 "at once (MANUAL_MAX_OPEN); try again when one has ended",
			 running);
		return INCIDENT_EBUSY;
	}
	struct cap *c = cap_start(s, 1, now_ns, err, errlen);
	if (!c)
		return -1;
	snprintf(c->threshold, sizeof c->threshold, "manual");
	c->deadline_ns = now_ns + dur_ns;
	c->max_packets = max_packets;
	if (cap_create_file(s, c, err, errlen) != 0) {
		cap_release(c);
		s->open--;
		return -1;
	}
	s->st.manual++;
	s->st.last_id = c->id;
	log_info("manual capture %ld started: %.0f s or %" PRIu32 " packets", c->id,
		 (double)dur_ns / 1e9, max_packets);
	write_meta(s, c, 0);
	return c->id;
}

int incidents_auto_open(const incidents_t *s)
{
	return s->auto_idx >= 0;
}

int incidents_any_open(const incidents_t *s)
{
	return s->open > 0;
}

static void count_packet(struct cap *c, const struct pkt_meta *m, int dec, uint32_t wirelen,
			 int64_t ts_ns)
{
	uint8_t key[17];
	rates_advance(c, ts_ns);
	c->seen_pkts++;
	c->seen_bytes += wirelen;
	c->sec_pkts++;
	c->sec_bytes += wirelen;
	if (dec != DEC_IP || !m)
		return;
	unsigned alen = m->ip_version == 4 ? 4 : 16;
	key[0] = m->ip_version;
	memcpy(key + 1, m->src, alen);
	topk_add(c->tk[TK_SRC], key, 1 + alen, 1, wirelen);
	memcpy(key + 1, m->dst, alen);
	topk_add(c->tk[TK_DST], key, 1 + alen, 1, wirelen);
	switch (m->proto) {
	case 6:
		c->n_tcp++;
		if ((m->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
			c->n_syn++;
		break;
	case 17:
		c->n_udp++;
		if (m->flags & PKT_F_L4)
			for (size_t i = 0; i < N_AMP; i++)
				if (m->sport == amp_ports[i].port)
					c->n_amp[i]++;
		break;
	case 1:
	case 58:
		c->n_icmp++;
		break;
	default:
		break;
	}
	if ((m->flags & PKT_F_L4) && (m->proto == 6 || m->proto == 17 || m->proto == 132)) {
		key[0] = m->proto;
		key[1] = (uint8_t)(m->sport >> 8);
		key[2] = (uint8_t)m->sport;
		topk_add(c->tk[TK_SPORT], key, 3, 1, wirelen);
		key[1] = (uint8_t)(m->dport >> 8);
		key[2] = (uint8_t)m->dport;
		topk_add(c->tk[TK_DPORT], key, 3, 1, wirelen);
	}
}

void incidents_packet(incidents_t *s, const struct pcap_pkthdr *h, const uint8_t *data,
		      const struct pkt_meta *m, int dec, int64_t ts_ns)
{
	if (!s->open)
		return;
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++) {
		struct cap *c = &s->caps[i];
		if (!c->used)
			continue;
		if (c->manual && ts_ns >= c->deadline_ns) {
			cap_end(s, c, c->deadline_ns, "time_limit");
			continue;
		}
		count_packet(c, m, dec, h->len, ts_ns);
		if (!c->pf && !c->ng)
			continue;
		if (cap_write(c, h->ts.tv_sec, (uint32_t)h->ts.tv_usec, h->caplen, h->len, data,
			      "incident") == 0) {
			c->inc_packets++;
			c->pcap_packets++;
		}
		if (c->pcap_packets >= c->max_packets) {
			c->cap_reached = 1;
			if (c->manual) {
				cap_end(s, c, ts_ns, "packet_limit");
				continue;
			}
			cap_finish_file(s, c);
			log_info("incident %ld: capture reached %" PRIu32
				 " packets; statistics go on until it resolves",
				 c->id, c->max_packets);
			write_meta(s, c, 0);
		}
	}
}

void incidents_counts(incidents_t *s, int64_t now_ns, uint64_t pkts, uint64_t bytes)
{
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++) {
		struct cap *c = &s->caps[i];
		if (!c->used)
			continue;
		rates_advance(c, now_ns - 1);
		c->seen_pkts += pkts;
		c->seen_bytes += bytes;
		c->sec_pkts += pkts;
		c->sec_bytes += bytes;
	}
}

void incidents_resolve(incidents_t *s, int64_t ts_ns, const char *reason)
{
	if (s->auto_idx < 0)
		return;
	cap_end(s, &s->caps[s->auto_idx], ts_ns, reason);
}

void incidents_tick(incidents_t *s, int64_t now_ns)
{
	if (!s->open)
		return;
	int64_t ms = mono_ms();
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++) {
		struct cap *c = &s->caps[i];
		if (!c->used)
			continue;
		if (c->manual && now_ns >= c->deadline_ns) {
			cap_end(s, c, c->deadline_ns, "time_limit");
			continue;
		}
		if (c->pf)
			pcapfile_flush(c->pf);
		if (c->ng)
			pcapng_flush(c->ng);
		if (ms - c->meta_ms >= 1000)
			write_meta(s, c, 0);
	}
}

void incidents_finish(incidents_t *s, int64_t now_ns)
{
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++)
		if (s->caps[i].used)
			cap_end(s, &s->caps[i], now_ns, "end_of_run");
}

void incidents_stats(const incidents_t *s, struct incidents_stats *st)
{
	*st = s->st;
	st->open_now = (uint32_t)s->open;
}

/* ---- start-up: folder, crash leftovers, next ID -------------------------------------------- */

/* "ID.<rest>" -> ID, or -1 if name does not start with digits and a dot. */
static long leading_id(const char *name)
{
	long v = 0;
	const char *p = name;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (v > 100000000L)
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	return *p == '.' ? v : -1;
}

/* Marks an incident left open by a crash as resolved, naming its repaired capture. */
static void close_stale_meta(incidents_t *s, long id, const char *capture)
{
	char name[48];
	snprintf(name, sizeof name, "%ld.json", id);
	int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	json_error_t jerr;
	json_t *o = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (!o) {
		log_warn("incident %ld: metadata `%s/%s' unreadable: %s (line %d)", id, s->dir, name,
			 jerr.text, jerr.line);
		return;
	}
	const char *state = json_string_value(json_object_get(o, "state"));
	if (state && strcmp(state, "open") == 0) {
		struct stat st;
		int64_t when = 0;
		if (fstatat(s->dirfd, name, &st, 0) == 0)
			when = (int64_t)st.st_mtim.tv_sec * NS_PER_S + st.st_mtim.tv_nsec;
		json_object_set_new(o, "state", json_string("resolved"));
		json_object_set_new(o, "resolved_at", json_time(when));
		json_object_set_new(o, "resolve_reason", json_string("agent_restart"));
		if (capture)
			json_object_set_new(o, "pcap_file", json_string(capture));
		log_warn("incident %ld was open when the agent stopped; marked resolved", id);
		if (s->cfg.sink) {
			s->cfg.sink->meta(s->cfg.sink->ctx, id, o, 1);
			return;
		}
		char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (text) {
			write_whole(s, name, text, 1);
			free(text);
		}
	}
	json_decref(o);
}

static int recover(incidents_t *s, char *err, size_t errlen)
{
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		snprintf(err, errlen, "cannot list `%s': %s", s->dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	long max_id = 0;
	long ids[64];
	char caps[64][48];
	int nstale = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		long id = leading_id(e->d_name);
		if (id < 0)
			continue;
		if (id > max_id)
			max_id = id;
		size_t len = strlen(e->d_name);
		const char *fmt = strstr(e->d_name, ".pcapng") ? "pcapng" : "pcap";
		char plain[48];
		snprintf(plain, sizeof plain, "%ld.%s", id, fmt);
		if (s->cfg.sink && strcmp(e->d_name, plain) == 0) {
			/* a plaintext capture from a run without a store, or before a crash */
			log_warn("incident %ld: plaintext capture `%s/%s' found; sealing it", id, s->dir,
				 e->d_name);
			s->cfg.sink->seal(s->cfg.sink->ctx, id, e->d_name, fmt);
			continue;
		}
		if (len < 6 || strcmp(e->d_name + len - 5, ".part") != 0 || nstale == 64)
			continue;
		char path[PATH_MAX], final[48];
		snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
		snprintf(final, sizeof final, "%.*s", (int)(len - 5), e->d_name);
		if (strstr(e->d_name, ".pcap.part")) {
			uint64_t cut = 0;
			char rerr[512];
			long n = pcapfile_repair(path, &cut, rerr, sizeof rerr);
			if (n < 0)
				log_warn("incident %ld: %s", id, rerr);
		}
		if (s->cfg.sink && strncmp(e->d_name, plain, strlen(plain)) == 0) {
			log_warn("incident %ld: capture `%s' left by a crash; sealing it", id,
				 e->d_name);
			s->cfg.sink->seal(s->cfg.sink->ctx, id, e->d_name, fmt);
			ids[nstale] = id;
			caps[nstale][0] = 0;
			nstale++;
			continue;
		}
		if (renameat(s->dirfd, e->d_name, s->dirfd, final) == 0) {
			log_warn("incident %ld: capture `%s' left by a crash kept as `%s'", id,
				 e->d_name, final);
			ids[nstale] = id;
			snprintf(caps[nstale], sizeof caps[nstale], "%s", final);
			nstale++;
		}
	}
	closedir(d);
	/* metadata still "open": mark resolved */
	for (long id = 1; id <= max_id && id <= 1000000; id++) {
		const char *cap = NULL;
		for (int i = 0; i < nstale; i++)
			if (ids[i] == id && caps[i][0])
				cap = caps[i];
		char name[48];
		snprintf(name, sizeof name, "%ld.json", id);
		if (faccessat(s->dirfd, name, F_OK, 0) == 0)
			close_stale_meta(s, id, cap);
	}
	s->next_id = max_id + 1;
	return 0;
}

incidents_t *incidents_new(const struct incidents_config *cfg, char *err, size_t errlen)
{
	incidents_t *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (manual_limits_check(&s->cfg.manual, err, errlen) != 0) {
		free(s);
		return NULL;
	}
	s->dirfd = -1;
	s->auto_idx = -1;
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++)
		s->caps[i].rates_fd = -1;
	s->dir = strdup(cfg->dir);
	if (!s->dir) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (files_mkdirs(s->dir) != 0) {
		snprintf(err, errlen, "cannot create folder `%s': %s", s->dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		snprintf(err, errlen, "cannot open folder `%s': %s", s->dir, strerror(errno));
		goto fail;
	}
	if (recover(s, err, errlen) != 0)
		goto fail;
	return s;
fail:
	incidents_free(s);
	return NULL;
}

void incidents_free(incidents_t *s)
{
	if (!s)
		return;
	for (int i = 0; i < INCIDENT_MAX_OPEN; i++) {
		struct cap *c = &s->caps[i];
		if (c->pf)
			pcapfile_close(c->pf, 0);
		if (c->ng)
			pcapng_close(c->ng, 0);
		c->pf = NULL;
		c->ng = NULL;
		cap_release(c);
	}
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}
