/*
 * cmd_run.c - `ringcap run': settings -> source + pipeline -> loop -> summary.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "source.h"

#define NS_PER_S 1000000000LL

struct run_settings {
	const char *iface, *file, *outdir, *filter;
	uint32_t snaplen, buffer_mb;
	int promisc, precision, save_pcap, verbose, quiet;
	uint64_t rotate_bytes;
	uint32_t retention, max_flows;
	int64_t flow_idle_ns, flow_active_ns;
};

#define OFF(f) offsetof(struct run_settings, f)
static const struct cfg_opt run_opts[] = {
	{ NULL, "interface", 'i', CFG_STR, OFF(iface), 0, 0, NULL, "IFACE", "capture live on IFACE" },
	{ NULL, "read", 'r', CFG_STR, OFF(file), 0, 0, NULL, "FILE",
	  "read a pcap/pcapng file as if it were live traffic ('-' for stdin)" },
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "write everything under DIR (default ./output)" },
	{ NULL, "snaplen", 's', CFG_U32, OFF(snaplen), 1, 262144, NULL, "BYTES",
	  "bytes kept per packet (default 262144)" },
	{ NULL, "buffer-size", 'B', CFG_U32, OFF(buffer_mb), 1, 4096, NULL, "MB",
	  "kernel capture buffer in MB (default: libpcap's)" },
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

static void print_summary(source_t *src, const struct pipeline_stats *st, const char *outdir,
			  int save_pcap)
{
	struct source_stats ss;
	int have = source_stats(src, &ss) == 0;
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
}

int cmd_run_main(int argc, char **argv)
{
	int ret = EXIT_USAGE, rest = 0, help = 0;
	char err[1024];
	char *joined = NULL;
	struct run_settings s;
	source_t *src = NULL;
	pipeline_t *pl = NULL;

	settings_defaults(&s);
	if (cfg_from_env(run_opts, N_RUN_OPTS, &s, err, sizeof err) != 0 ||
	    cfg_from_args(run_opts, N_RUN_OPTS, &s, argc, argv, &rest, &help, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	if (help) {
		usage(stdout);
		ret = 0;
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
	if (s.quiet)
		log_set_level(LOG_WARN);
	if (s.verbose)
		log_set_level(LOG_DEBUG);
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
	int rc = source_open(&so, &src, err, sizeof err);
	if (rc != 0) {
		log_err("%s", err);
		ret = rc == SOURCE_EFILTER ? EXIT_USAGE : 1;
		goto out;
	}

	struct pipeline_config pc = {
		.outdir = s.outdir,
		.dlt = source_datalink(src),
		.dlt_ext = source_datalink_ext(src),
		.snaplen = (uint32_t)source_snaplen(src),
		.nano = source_is_nano(src),
		.save_pcap = s.save_pcap,
		.rotate_bytes = s.rotate_bytes,
		.retention = s.retention,
		.max_flows = s.max_flows,
		.flow_idle_ns = s.flow_idle_ns,
		.flow_active_ns = s.flow_active_ns,
	};
	pl = pipeline_new(&pc, err, sizeof err);
	if (!pl) {
		log_err("%s", err);
		ret = 1;
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("capturing from %s %s%s%s", source_is_live(src) ? "interface" : "file",
		 source_name(src), s.filter && *s.filter ? " with filter " : "",
		 s.filter && *s.filter ? s.filter : "");
	ret = 0;
	int live = source_is_live(src);
	while (!stop_signal) {
		if (live) {
			struct pollfd pfd = { .fd = source_fd(src), .events = POLLIN };
			if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
				log_err("poll on %s: %s", source_name(src), strerror(errno));
				ret = 1;
				break;
			}
		}
		int n = source_dispatch(src, live ? -1 : 4096, on_packet, pl, err,
					sizeof err);
		if (n == SOURCE_EOF)
			break;
		if (n < 0) {
			log_err("%s", err);
			if (!live)
				log_err("the packets before the damage were processed and saved");
			ret = 1;
			break;
		}
		pipeline_tick(pl, live ? wall_ns() : 0);
	}
	if (stop_signal)
		log_info("stopping on signal %d", (int)stop_signal);
	if (pipeline_finish(pl) != 0)
		log_warn("some output could not be written completely (see the warnings above)");
	struct pipeline_stats st;
	pipeline_stats(pl, &st);
	print_summary(src, &st, s.outdir, s.save_pcap);
out:
	pipeline_free(pl);
	source_close(src);
	free(joined);
	return ret;
}
