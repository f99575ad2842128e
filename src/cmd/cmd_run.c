/*
 * cmd_run.c - `ringcap run': settings -> source + pipeline -> loop -> summary.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "base/files.h"
#include "api/ctl.h"
#include "recorder/detect.h"
#include "export/export.h"
#include "api/httpd.h"
#include "base/log.h"
#include "pipeline/pipeline.h"
#include "capture/source.h"
#include "vault/store.h"


struct run_settings {
	const char *iface, *file, *outdir, *filter;
	uint32_t snaplen, buffer_mb;
	int promisc, precision, save_pcap, verbose, quiet, no_recorder;
	uint64_t rotate_bytes;
	uint32_t retention, max_flows;
	int64_t flow_idle_ns, flow_active_ns;
	const char *config_file;
	uint32_t ring_packets, ring_mb, window_ms, incident_max_packets;
	struct manual_limits manual;
	int64_t ring_age_ns, resolve_ns;
	int incident_format;
	uint64_t th_pps, th_mbps, th_syn, th_udp, th_icmp, th_host_pps, th_host_mbps;
	const char *http, *public_url, *group;
	struct log_settings log;
	double retention_days;
	uint32_t url_ttl;
	struct export_settings s3;
};

#define OFF(f) offsetof(struct run_settings, f)
static const struct cfg_opt run_opts[] = {
	{ NULL, "interface", 'i', CFG_STR, OFF(iface), 0, 0, NULL, "IFACE", "capture live on IFACE" },
	{ NULL, "read", 'r', CFG_STR, OFF(file), 0, 0, NULL, "FILE",
	  "read a pcap/pcapng file as if it were live traffic ('-' for stdin)" },
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "write everything under DIR (default ./output)" },
	{ "RINGCAP_GROUP", "group", 0, CFG_STR, OFF(group), 0, 0, NULL, "GROUP",
	  "let GROUP read the continuous files and captures (0640 files, 0750 folders; default: "
	  "owner only)" },
	{ NULL, "snaplen", 's', CFG_U32, OFF(snaplen), 1, 262144, NULL, "BYTES",
	  "bytes kept per packet (default 262144)" },
	{ NULL, "buffer-size", 'B', CFG_U32, OFF(buffer_mb), 1, 4096, NULL, "MB",
	  "kernel capture buffer in MiB (default: a quarter of a second at the link's speed, 32..128; 64 when unknown)" },
	{ NULL, "no-promiscuous-mode", 'p', CFG_SET, OFF(promisc), 0, 0, NULL, NULL,
	  "do not put the interface into promiscuous mode" },
	{ NULL, "tstamp-precision", 0, CFG_CHOICE, OFF(precision), 0, 0, "micro|nano", "micro|nano",
	  "timestamp precision of the pcap files (default micro)" },
	{ "SAVE_PCAP", "save-pcap", 0, CFG_BOOL, OFF(save_pcap), 0, 0, NULL, "true|false",
	  "write continuous rotated pcap files (default true)" },
	{ "PCAP_ROTATION_SIZE", "rotation-size", 'C', CFG_MB, OFF(rotate_bytes), 0, 1e9, NULL, "MB",
	  "start a new file before one would exceed MB (1 MB = 1,000,000 bytes; default 100)" },
	{ "PCAP_RETENTION_COUNT", "retention-count", 'W', CFG_U32, OFF(retention), 0, 100000000, NULL,
	  "N", "keep the newest N finished files, 0 keeps all (default 10)" },
	{ "WIRESHARK_FILTER", "filter", 'f', CFG_STR, OFF(filter), 0, 0, NULL, "EXPR",
	  "capture filter in BPF syntax (also: trailing arguments, as tcpdump)" },
	{ NULL, "flow-idle", 0, CFG_SECONDS, OFF(flow_idle_ns), 0.001, 86400, NULL, "S",
	  "end a flow after S seconds without packets (default 60)" },
	{ NULL, "flow-active", 0, CFG_SECONDS, OFF(flow_active_ns), 0.001, 86400 * 7, NULL, "S",
	  "end and restart a flow that lasts longer than S seconds (default 300)" },
	{ NULL, "max-flows", 0, CFG_U32, OFF(max_flows), 1, 50000000, NULL, "N",
	  "flow table size; when full the least recently active flow is evicted (default 262144)" },
	{ "RING_PACKETS", "ring-packets", 0, CFG_U32, OFF(ring_packets), 1, 1048576, NULL, "N",
	  "an incident capture starts N packets before the attack's onset (default 500)" },
	{ "RING_SECONDS", "ring-seconds", 0, CFG_SECONDS, OFF(ring_age_ns), 0, 3600, NULL, "S",
	  "the ring keeps the last S seconds and the N packets before them (default 0: the "
	  "detection window + 1 s)" },
	{ "RING_MB", "ring-mb", 0, CFG_U32, OFF(ring_mb), 1, 65536, NULL, "MIB",
	  "memory for the ring, MiB (default 64)" },
	{ "DETECT_WINDOW_MS", "detect-window-ms", 0, CFG_U32, OFF(window_ms), 100, 10000, NULL, "MS",
	  "rates are compared with the thresholds over this window, a multiple of 100 (default 200)" },
	{ "THRESHOLD_PPS", "threshold-pps", 0, CFG_UINT, OFF(th_pps), 0, 1e12, NULL, "N",
	  "incident above N packets/s in all (default 100000; 0 disables)" },
	{ "THRESHOLD_MBPS", "threshold-mbps", 0, CFG_UINT, OFF(th_mbps), 0, 1e9, NULL, "N",
	  "incident above N Mbit/s in all (default 1000)" },
	{ "THRESHOLD_SYN_PPS", "threshold-syn-pps", 0, CFG_UINT, OFF(th_syn), 0, 1e12, NULL, "N",
	  "incident above N TCP SYN (without ACK) packets/s (default 5000)" },
	{ "THRESHOLD_UDP_PPS", "threshold-udp-pps", 0, CFG_UINT, OFF(th_udp), 0, 1e12, NULL, "N",
	  "incident above N UDP packets/s (default 50000)" },
	{ "THRESHOLD_ICMP_PPS", "threshold-icmp-pps", 0, CFG_UINT, OFF(th_icmp), 0, 1e12, NULL, "N",
	  "incident above N ICMP/ICMPv6 packets/s (default 5000)" },
	{ "THRESHOLD_HOST_PPS", "threshold-host-pps", 0, CFG_UINT, OFF(th_host_pps), 0, 1e12, NULL,
	  "N", "incident above N packets/s towards one destination address (default 50000)" },
	{ "THRESHOLD_HOST_MBPS", "threshold-host-mbps", 0, CFG_UINT, OFF(th_host_mbps), 0, 1e9, NULL,
	  "N", "incident above N Mbit/s towards one destination address (default 500)" },
	{ "RESOLVE_SECONDS", "resolve-seconds", 0, CFG_SECONDS, OFF(resolve_ns), 0.1, 86400, NULL,
	  "S", "an incident resolves after S seconds below every threshold (default 30)" },
	{ "INCIDENT_MAX_PACKETS", "incident-max-packets", 0, CFG_U32, OFF(incident_max_packets), 1,
	  100000000, NULL, "N", "packets kept per incident capture, ring included (default 10000)" },
	{ "MANUAL_MAX_OPEN", "manual-max-open", 0, CFG_U32, OFF(manual.max_open), 1,
	  INCIDENT_MAX_OPEN - 1, NULL, "N",
	  "manual captures running at once (default 2; one slot is always kept for incidents)" },
	{ "MANUAL_MAX_PACKETS", "manual-max-packets", 0, CFG_U32, OFF(manual.max_packets), 1, 1000000,
	  NULL, "N", "packets one manual capture may ask for (default 100000)" },
	{ "MANUAL_MAX_SECONDS", "manual-max-seconds", 0, CFG_U32, OFF(manual.max_seconds), 1, 3600,
	  NULL, "S", "seconds one manual capture may ask for (default 600)" },
	{ "INCIDENT_FORMAT", "incident-format", 0, CFG_CHOICE, OFF(incident_format), 0, 0,
	  "pcap|pcapng", "pcap|pcapng", "format of incident captures (default pcap)" },
	{ "RETENTION_DAYS", "retention-days", 0, CFG_DOUBLE, OFF(retention_days), 0, 36500, NULL,
	  "DAYS", "delete incident captures DAYS after the incident resolved (default 7; 0 keeps)" },
	{ "RINGCAP_HTTP", "http", 0, CFG_STR, OFF(http), 0, 0, NULL, "ADDR:PORT|off",
	  "serve the HTTP API and console (default 127.0.0.1:8080 with -i; off with -r)" },
	{ "PUBLIC_URL", "public-url", 0, CFG_STR, OFF(public_url), 0, 0, NULL, "BASE",
	  "base of signed download URLs (default http://ADDR:PORT of --http)" },
	{ "URL_TTL_SECONDS", "url-ttl", 0, CFG_U32, OFF(url_ttl), 1, 86400 * 7, NULL, "S",
	  "signed download URLs expire after S seconds (default 900)" },
	EXPORT_OPTS(struct run_settings, s3),
	{ "RINGCAP_CONFIG", "config", 0, CFG_STR, OFF(config_file), 0, 0, NULL, "FILE",
	  "read settings from FILE: `key = value' lines, keys as the flags or variables" },
	{ NULL, "no-recorder", 0, CFG_SET, OFF(no_recorder), 1, 0, NULL, NULL,
	  "no pre-trigger ring and no detection (to measure their cost); manual captures still work" },
	LOG_OPTS(struct run_settings, log),
	{ NULL, "verbose", 'v', CFG_SET, OFF(verbose), 1, 0, NULL, NULL, "more log lines" },
	{ NULL, "quiet", 'q', CFG_SET, OFF(quiet), 1, 0, NULL, NULL, "only warnings and errors" },
};
#define N_RUN_OPTS (sizeof run_opts / sizeof run_opts[0])

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void on_packet(void *user, const struct pcap_pkthdr *h, const uint8_t *data)
{
	pipeline_packet(user, h, data);
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: ringcap run (-i IFACE | -r FILE) [options] [filter expression]\n\n");
	cfg_print_help(run_opts, N_RUN_OPTS, out);
}

/* Joins the trailing arguments into one filter expression, as tcpdump does. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = calloc(1, len), *p = s;
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++)
		p += snprintf(p, len - (size_t)(p - s), "%s%s", i ? " " : "", argv[i]);
	return s;
}

/* The export line of the summary. */
static void print_export(exporter_t *exp, const struct export_config *ec)
{
	struct export_stats es;
	if (!exp)
		return;
	export_stats(exp, &es);
	printf("  exported to S3        %u uploaded, %u to retry, %u failed -> s3://%s/%s%s%s/\n",
	       es.done, es.retried, es.failed, ec->bucket, ec->prefix, ec->prefix[0] ? "/" : "",
	       ec->agent);
}

static void print_summary(source_t *src, const char *iface, const struct pipeline_stats *st,
			  const char *outdir, int save_pcap)
{
	struct source_stats ss;
	int have = src && source_stats(src, &ss) == 0;
	if (!src) {
		printf("ringcap run: interface %s (statistics-only mode)\n", iface);
		printf("  packets counted       %llu (%llu bytes, interface counters)\n",
		       (unsigned long long)st->packets, (unsigned long long)st->bytes);
		printf("  incidents opened      %u\n", st->incidents_opened);
		return;
	}
	printf("ringcap run: %s %s\n", source_is_live(src) ? "interface" : "file", source_name(src));
	printf("  packets seen          %llu (%llu bytes)\n", (unsigned long long)st->packets,
	       (unsigned long long)st->bytes);
	if (have)
		printf("  dropped by kernel     %llu\n  dropped by interface  %llu\n",
		       (unsigned long long)ss.dropped, (unsigned long long)ss.ifdropped);
	else
		printf("  dropped by kernel     0 (file)\n  dropped by interface  0 (file)\n");
	printf("  IP / non-IP           %llu / %llu\n", (unsigned long long)st->ip,
	       (unsigned long long)st->non_ip);
	printf("  malformed             %llu\n", (unsigned long long)st->malformed);
	if (st->unsupported)
		printf("  link type not decoded %llu\n", (unsigned long long)st->unsupported);
	printf("  flows written         %llu (%llu evicted) -> %s/traffic_flows.jsonb\n",
	       (unsigned long long)st->flows_written, (unsigned long long)st->flows_evicted, outdir);
	if (st->flow_lines_dropped)
		printf("  flow records lost     %llu (write errors)\n",
		       (unsigned long long)st->flow_lines_dropped);
	if (save_pcap) {
		printf("  files written         %u -> %s/pcaps/ (%u deleted by retention",
		       st->files_written, outdir, st->files_deleted);
		if (st->files_repaired)
			printf(", %u repaired", st->files_repaired);
		printf(")\n");
		if (st->pcap_dropped)
			printf("  packets not saved     %llu (%llu write errors)\n",
			       (unsigned long long)st->pcap_dropped,
			       (unsigned long long)st->pcap_write_errors);
	} else {
		printf("  files written         0 (SAVE_PCAP is off)\n");
	}
	printf("  incidents opened      %u", st->incidents_opened);
	if (st->incidents_opened)
		printf(" (last %ld; its pre-trigger packets written and fsync'd in %.2f ms)",
		       st->last_incident, st->last_flush_ms);
	printf(" -> %s/incidents/\n", outdir);
	if (st->manual_captures)
		printf("  manual captures       %u\n", st->manual_captures);
}

struct run_ctx {
	pipeline_t *pl;
	source_t *src;
	store_t *store;
	int stats_only;
	const char *name;
	const struct detect_thresholds *th;
	double retention_days;
	uint32_t url_ttl;
};

/* Writes capture_started to the audit trail: who asked (actor=, client= from the request). */
static void audit_capture(struct run_ctx *r, long id, const char *actor, const char *client,
			  double seconds, uint32_t packets)
{
	char err[512];
	json_t *f = json_pack("{s:s,s:s?,s:I,s:f,s:I}", "actor", actor ? actor : "cli", "client",
			      client, "incident", (json_int_t)id, "seconds", seconds, "packets",
			      (json_int_t)packets);
	if (audit_append(store_audit(r->store), "capture_started", f, err, sizeof err) < 0)
		log_warn("manual capture %ld: audit record not written: %s", id, err);
}

/* One control request: "capture [seconds=N] [packets=N]" or "status". */
static void on_ctl(void *user, const char *line, char *reply, size_t len)
{
	struct run_ctx *r = user;
	char buf[CTL_LINE_MAX + 1], err[512];
	json_t *o = NULL;
	snprintf(buf, sizeof buf, "%s", line);
	char *save = NULL, *cmd = strtok_r(buf, " \t", &save);
	if (cmd && strcmp(cmd, "capture") == 0) {
		double seconds = 30;
		uint32_t packets = 10000;
		const char *actor = NULL, *client = NULL;
		for (char *kv; (kv = strtok_r(NULL, " \t", &save)) != NULL;) {
			char *end;
			if (strncmp(kv, "actor=", 6) == 0 && kv[6]) {
				actor = kv + 6;
			} else if (strncmp(kv, "client=", 7) == 0 && kv[7]) {
				client = kv + 7;
			} else if (strncmp(kv, "seconds=", 8) == 0) {
				seconds = strtod(kv + 8, &end);
				if (end == kv + 8 || *end || !(seconds >= 1 && seconds <= 3600))
					goto bad_value;
			} else if (strncmp(kv, "packets=", 8) == 0) {
				unsigned long v = strtoul(kv + 8, &end, 10);
				if (end == kv + 8 || *end || v < 1 || v > 1000000)
					goto bad_value;
				packets = (uint32_t)v;
			} else {
				goto bad_value;
			}
			continue;
bad_value:
			o = json_pack("{s:b,s:s+}", "ok", 0, "error",
				      "bad parameter (seconds=1..3600, packets=1..1000000): ", kv);
			goto out;
		}
		long id = pipeline_manual_capture(r->pl, seconds, packets, err, sizeof err);
		if (id < 0)
			o = json_pack("{s:b,s:s,s:s?}", "ok", 0, "error", err, "refused",
				      id == INCIDENT_EBUSY    ? "busy"
				      : id == INCIDENT_ELIMIT ? "limit"
							      : NULL);
		else {
			audit_capture(r, id, actor, client, seconds, packets);
			o = json_pack("{s:b,s:I,s:f,s:I}", "ok", 1, "id", (json_int_t)id, "seconds",
				      seconds, "packets", (json_int_t)packets);
		}
	} else if (cmd && strcmp(cmd, "status") == 0) {
		struct pipeline_stats st;
		struct detect_rates dr;
		struct source_stats ss = { 0 };
		int open;
		pipeline_stats(r->pl, &st);
		pipeline_rates(r->pl, &dr, &open);
		if (r->src)
			source_stats(r->src, &ss);
		o = json_pack("{s:b,s:s,s:s,s:I,s:I,s:I,s:I,s:b,s:{s:f,s:f,s:f,s:f,s:f,s:f}}", "ok",
			      1, "mode", r->stats_only ? "stats-only" : "capture", "source",
			      r->name ? r->name : "", "packets", (json_int_t)st.packets, "bytes",
			      (json_int_t)st.bytes, "dropped", (json_int_t)ss.dropped, "ifdropped",
			      (json_int_t)ss.ifdropped, "incident_open", open, "rates", "pps", dr.pps,
			      "bps", dr.bps, "tcp_pps", dr.tcp_pps, "udp_pps", dr.udp_pps, "icmp_pps",
			      dr.icmp_pps, "syn_pps", dr.syn_pps);
		json_object_set_new(
			o, "thresholds",
			json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "pps", (json_int_t)r->th->pps,
				  "mbps", (json_int_t)r->th->mbps, "syn_pps",
				  (json_int_t)r->th->syn_pps, "udp_pps", (json_int_t)r->th->udp_pps,
				  "icmp_pps", (json_int_t)r->th->icmp_pps, "host_pps",
				  (json_int_t)r->th->host_pps, "host_mbps",
				  (json_int_t)r->th->host_mbps));
		json_object_set_new(o, "version", json_string(RINGCAP_VERSION));
		json_object_set_new(o, "retention_days", json_real(r->retention_days));
		json_object_set_new(o, "url_ttl_seconds", json_integer(r->url_ttl));
	} else {
		o = json_pack("{s:b,s:s}", "ok", 0, "error",
			      "unknown request (expected `capture [seconds=N] [packets=N]' or `status')");
	}
out:;
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	snprintf(reply, len, "%s", t ? t : "{\"ok\":false,\"error\":\"internal error\"}");
	free(t);
	json_decref(o);
}

/* Waits up to ms for the capture fd (or -1) and the control socket; returns poll's result. */
static int wait_ready(int capfd, ctl_t *ctl, int ms)
{
	struct pollfd pfd[1 + 1 + CTL_CLIENTS];
	int fds[1 + CTL_CLIENTS], n = 0;
	if (capfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = capfd, .events = POLLIN };
	int m = ctl_pollfds(ctl, fds, 1 + CTL_CLIENTS);
	for (int i = 0; i < m; i++)
		pfd[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	return n ? poll(pfd, (nfds_t)n, ms) : 0;
}

static int capture_loop(struct run_ctx *r, ctl_t *ctl)
{
	char err[1024];
	int live = source_is_live(r->src);
	while (!stop_signal) {
		if (wait_ready(live ? source_fd(r->src) : -1, ctl, live ? 100 : 0) < 0 &&
		    errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return 1;
		}
		ctl_service(ctl, on_ctl, r);
		int n = source_dispatch(r->src, live ? -1 : 4096, on_packet, r->pl, err,
					sizeof err);
		if (n == SOURCE_EOF)
			break;
		if (n < 0) {
			log_err("%s", err);
			if (!live)
				log_err("the packets before the damage were processed and saved");
			return 1;
		}
		pipeline_tick(r->pl, live ? wall_ns() : 0);
	}
	return 0;
}

static int read_counter(const char *iface, const char *name, uint64_t *v)
{
	char path[256];
	snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", iface, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	unsigned long long x;
	int ok = fscanf(f, "%llu", &x) == 1;
	fclose(f);
	if (!ok)
		return -1;
	*v = x;
	return 0;
}

/* Statistics-only mode: the interface's receive counters once a second. */
static int stats_loop(struct run_ctx *r, const char *iface, ctl_t *ctl)
{
	uint64_t p0, b0;
	if (strchr(iface, '/') || read_counter(iface, "rx_packets", &p0) != 0 ||
	    read_counter(iface, "rx_bytes", &b0) != 0) {
		log_err("cannot read the counters of interface `%s' in /sys/class/net/%s/statistics",
			iface, iface);
		return 1;
	}
	log_info("statistics-only mode on %s", iface);
	int64_t next = wall_ns() + NS_PER_S;
	while (!stop_signal) {
		int64_t now = wall_ns();
		if (now < next) {
			int ms = (int)((next - now) / 1000000) + 1;
			if (wait_ready(-1, ctl, ms > 100 ? 100 : ms) < 0 && errno != EINTR)
				return 1;
			ctl_service(ctl, on_ctl, r);
			continue;
		}
		next += NS_PER_S;
		if (next < now)
			next = now + NS_PER_S;
		uint64_t p1, b1;
		if (read_counter(iface, "rx_packets", &p1) != 0 ||
		    read_counter(iface, "rx_bytes", &b1) != 0) {
			log_warn("interface `%s' counters are gone; stopping", iface);
			return 1;
		}
		pipeline_counts(r->pl, now, p1 >= p0 ? p1 - p0 : 0, b1 >= b0 ? b1 - b0 : 0);
		p0 = p1;
		b0 = b1;
	}
	return 0;
}

static void settings_defaults(struct run_settings *s)
{
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->snaplen = 262144;
	s->promisc = 1;
	s->save_pcap = 1;
	s->rotate_bytes = 100ULL * 1000 * 1000;
	s->retention = 10;
	s->max_flows = 262144;
	s->flow_idle_ns = 60 * NS_PER_S;
	s->flow_active_ns = 300 * NS_PER_S;
	struct detect_config dc;
	detect_config_defaults(&dc);
	s->ring_packets = 500;
	s->ring_mb = 64;
	s->window_ms = (uint32_t)(dc.window_ns / 1000000);
	s->resolve_ns = dc.resolve_ns;
	s->incident_max_packets = 10000;
	s->th_pps = dc.th.pps;
	s->th_mbps = dc.th.mbps;
	s->th_syn = dc.th.syn_pps;
	s->th_udp = dc.th.udp_pps;
	s->th_icmp = dc.th.icmp_pps;
	s->th_host_pps = dc.th.host_pps;
	s->th_host_mbps = dc.th.host_mbps;
	s->retention_days = 7;
	s->url_ttl = HTTPD_DEFAULT_TTL;
}

/*
 * Settings in order of precedence, lowest first: defaults, the config file (--config or
 * RINGCAP_CONFIG), the environment, the flags. The config file is found first, then everything
 * is applied in that order.
 */
static int load_settings(struct run_settings *s, int argc, char **argv, int *rest, int *help,
			 char **cfgtext, char *err, size_t errlen)
{
	struct run_settings probe;
	settings_defaults(&probe);
	if (cfg_from_env(run_opts, N_RUN_OPTS, &probe, err, errlen) != 0 ||
	    cfg_from_args(run_opts, N_RUN_OPTS, &probe, argc, argv, rest, help, err, errlen) != 0)
		return -1;
	settings_defaults(s);
	if (probe.config_file &&
	    cfg_from_file(run_opts, N_RUN_OPTS, s, probe.config_file, cfgtext, err, errlen) != 0)
		return -1;
	if (cfg_from_env(run_opts, N_RUN_OPTS, s, err, errlen) != 0 ||
	    cfg_from_args(run_opts, N_RUN_OPTS, s, argc, argv, rest, help, err, errlen) != 0)
		return -1;
	if (s->window_ms % 100) {
		snprintf(err, errlen, "invalid --detect-window-ms `%u': expected a multiple of 100",
			 s->window_ms);
		return -1;
	}
	if (manual_limits_check(&s->manual, err, errlen) != 0)
		return -1;
	if (s->resolve_ns % 100000000) {
		snprintf(err, errlen,
			 "invalid --resolve-seconds (RESOLVE_SECONDS) `%.9g': expected a multiple of 0.1",
			 (double)s->resolve_ns / 1e9);
		return -1;
	}
	if (s->ring_age_ns % 100000000) {
		snprintf(err, errlen,
			 "invalid --ring-seconds (RING_SECONDS) `%.9g': expected a multiple of 0.1",
			 (double)s->ring_age_ns / 1e9);
		return -1;
	}
	return 0;
}

int cmd_prepare_outdir(const char *dir, const char *group)
{
	static const char *const folders[] = {"pcaps", "incidents", "audit", NULL};
	char err[PATH_MAX + 512];
	if (group && *group) {
		gid_t gid;
		if (files_parse_group(group, &gid, err, sizeof err) != 0) {
			log_err("invalid --group: %s", err);
			return -1;
		}
		files_set_group(gid);
	}
	if (files_prepare_dir(dir, geteuid(), folders, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	return 0;
}

int cmd_run_main(int argc, char **argv)
{
	int ret = EXIT_USAGE, rest = 0, help = 0;
	char err[1024];
	char *joined = NULL, *cfgtext = NULL;
	ctl_t *ctl = NULL;
	struct run_settings s;
	source_t *src = NULL;
	pipeline_t *pl = NULL;
	store_t *store = NULL;
	struct incident_sink sink;
	httpd_t *http = NULL;
	exporter_t *exp = NULL;
	struct export_config ec;

	memset(&ec, 0, sizeof ec);
	if (load_settings(&s, argc, argv, &rest, &help, &cfgtext, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (help) {
		usage(stdout);
		ret = 0;
		goto out;
	}
	if (export_config_load(&s.s3, 0, &ec, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* where the filter came from, for the error message if it does not compile */
	const char *forigin = getenv("WIRESHARK_FILTER") ? "WIRESHARK_FILTER" : "--filter";
	for (int i = 1; i < rest; i++)
		if (strcmp(argv[i], "-f") == 0 || strncmp(argv[i], "--filter", 8) == 0)
			forigin = "--filter";
	if (rest < argc) {
		joined = join_args(argc - rest, argv + rest);
		s.filter = joined;
		forigin = "capture filter";
	}
	log_set_verbosity(s.quiet, s.verbose);
	if (s.log.syslog && log_to_syslog(s.log.socket, s.log.facility, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if ((s.iface == NULL) == (s.file == NULL)) {
		log_err("give exactly one source: -i IFACE or -r FILE");
		usage(stderr);
		goto out;
	}

	struct source_opts so = {
		.iface = s.iface,
		.file = s.file,
		.snaplen = (int)s.snaplen,
		.buffer_mb = (int)s.buffer_mb,
		.promisc = s.promisc,
		.nano = s.precision == 1,
		.filter = s.filter,
		.filter_origin = forigin,
	};
	/* threads started from here on (reader, writers, store, HTTP) leave SIGINT/SIGTERM to
	   this thread, whose loop polls */
	sigset_t stopsigs, oldmask;
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stopsigs, &oldmask);
	int rc = source_open(&so, &src, err, sizeof err);
	int stats_only = 0;
	if (rc == SOURCE_EPERM && s.iface) {
		log_warn("%s", err);
		log_warn("continuing in statistics-only mode: rates from "
			 "/sys/class/net/%s/statistics once a second, no packets, no captures; to capture, "
			 "run as root or grant the capability: setcap cap_net_raw,cap_net_admin=eip %s",
			 s.iface, "$(command -v ringcap)");
		stats_only = 1;
	} else if (rc != 0) {
		log_err("%s", err);
		ret = rc == SOURCE_EFILTER ? EXIT_USAGE : 1;
		goto out;
	}

	struct pipeline_config pc = {
		.outdir = s.outdir,
		.dlt = src ? source_datalink(src) : 1,
		.dlt_ext = src ? source_datalink_ext(src) : 0,
		.snaplen = src ? (uint32_t)source_snaplen(src) : s.snaplen,
		.nano = src ? source_is_nano(src) : 0,
		.save_pcap = s.save_pcap && !stats_only,
		.rotate_bytes = s.rotate_bytes,
		.retention = s.retention,
		.max_flows = s.max_flows,
		.flow_idle_ns = s.flow_idle_ns,
		.flow_active_ns = s.flow_active_ns,
		.ring_packets = s.ring_packets,
		.ring_age_ns = s.ring_age_ns,
		.ring_budget = (uint64_t)s.ring_mb << 20,
		.incident_max_packets = s.incident_max_packets,
		.incident_pcapng = s.incident_format == 1,
		.manual = s.manual,
		.source_name = s.iface ? s.iface : s.file,
		.stats_only = stats_only,
		.no_recorder = s.no_recorder,
	};
	detect_config_defaults(&pc.detect);
	pc.detect.window_ns = (int64_t)s.window_ms * 1000000;
	pc.detect.resolve_ns = s.resolve_ns;
	pc.detect.th = (struct detect_thresholds){
		.pps = s.th_pps,
		.mbps = s.th_mbps,
		.syn_pps = s.th_syn,
		.udp_pps = s.th_udp,
		.icmp_pps = s.th_icmp,
		.host_pps = s.th_host_pps,
		.host_mbps = s.th_host_mbps,
	};
	/* the settings' rules, then the folder: after the source (a bad filter or interface writes
	 * nothing), before anything is written */
	if (pipeline_config_check(&pc, err, sizeof err) != 0) {
		log_err("%s", err);
		ret = EXIT_USAGE;
		goto out;
	}
	if (cmd_prepare_outdir(s.outdir, s.group) != 0) {
		ret = EXIT_USAGE;
		goto out;
	}
	struct store_config stc = {
		.dir = s.outdir,
		.retention_ns = (int64_t)(s.retention_days * 86400.0 * 1e9),
		.worker = 1,
		.export_incidents = ec.mode != EXPORT_OFF && !stats_only,
	};
	store = store_open(&stc, err, sizeof err);
	if (!store) {
		log_err("%s", err);
		ret = 1;
		goto out;
	}
	sink = store_sink(store);
	pc.sink = &sink;
	if (ec.mode != EXPORT_OFF && !stats_only) {
		exp = export_new(store, &ec, err, sizeof err);
		if (!exp) {
			log_err("%s", err);
			ret = 1;
			goto out;
		}
		if (ec.mode == EXPORT_INCIDENTS_PCAPS) {
			pc.pcap_finished = export_pcap_finished;
			pc.pcap_finished_ud = exp;
		}
	}
	pl = pipeline_new(&pc, err, sizeof err);
	if (!pl) {
		log_err("%s", err);
		ret = 1;
		goto out;
	}
	char sock[4200];
	snprintf(sock, sizeof sock, "%s/%s", s.outdir, CTL_SOCKET_NAME);
	ctl = ctl_open(sock, err, sizeof err);
	if (!ctl) {
		if (strstr(err, "another ringcap")) {
			log_err("%s", err);
			ret = 1;
			goto out;
		}
		log_warn("%s; manual captures from the command line are not available", err);
	}
	/* the export worker starts once this agent is known to be the only one on DIR */
	if (exp) {
		char pdir[4200];
		snprintf(pdir, sizeof pdir, "%s/pcaps", s.outdir);
		if (export_start(exp, pdir, err, sizeof err) != 0) {
			log_err("%s", err);
			ret = 1;
			goto out;
		}
		log_info("exporting %s to s3://%s/%s%s%s/ at %s",
			 ec.mode == EXPORT_INCIDENTS_PCAPS ? "incidents and continuous files"
							   : "incidents",
			 ec.bucket, ec.prefix, ec.prefix[0] ? "/" : "", ec.agent, ec.endpoint);
	}
	struct run_ctx rctx = { .pl = pl, .src = src, .store = store, .stats_only = stats_only,
				.name = s.iface ? s.iface : s.file, .th = &pc.detect.th,
				.retention_days = s.retention_days, .url_ttl = s.url_ttl };

	/* the HTTP API: on by default when live, only when asked with -r */
	const char *listen = s.http ? s.http : s.iface ? HTTPD_DEFAULT_LISTEN : "off";
	if (strcmp(listen, "off") != 0) {
		struct httpd_config hc = { .listen = listen, .public_url = s.public_url,
					   .store = store, .url_ttl_s = s.url_ttl };
		http = httpd_start(&hc, err, sizeof err);
		if (!http && s.http) {
			log_err("%s", err);
			ret = 1;
			goto out;
		}
		if (!http)
			log_warn("%s; the HTTP API is off (--http ADDR:PORT chooses another "
				 "address, --http off turns it off)",
				 err);
		else
			log_info("HTTP API and console on http://%s/", httpd_address(http));
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

	ret = 0;
	if (stats_only) {
		ret = stats_loop(&rctx, s.iface, ctl);
	} else {
		char kb[64] = "";
		if (source_is_live(src))
			snprintf(kb, sizeof kb, " (kernel buffer %d MiB)", source_buffer_mb(src));
		log_info("capturing from %s %s%s%s%s", source_is_live(src) ? "interface" : "file",
			 source_name(src), kb, s.filter && *s.filter ? " with filter " : "",
			 s.filter && *s.filter ? s.filter : "");
		ret = capture_loop(&rctx, ctl);
	}
	if (stop_signal)
		log_info("stopping on signal %d", (int)stop_signal);
	httpd_stop(http);
	http = NULL;
	if (pipeline_finish(pl) != 0)
		log_warn("some output could not be written completely (see the warnings above)");
	store_drain(store);
	/* after a file (not a signal): every export due now is tried once before the end; what
	   fails stays queued for the next start or `ringcap export' */
	if (exp && !stop_signal && !source_is_live(src))
		export_drain(exp, &stop_signal);
	struct pipeline_stats st;
	pipeline_stats(pl, &st);
	print_summary(src, s.iface, &st, s.outdir, s.save_pcap && !stats_only);
	print_export(exp, &ec);
out:
	httpd_stop(http);
	pipeline_free(pl);
	export_free(exp);
	export_config_clear(&ec);
	store_close(store);
	source_close(src);
	ctl_close(ctl);
	free(joined);
	free(cfgtext);
	return ret;
}
