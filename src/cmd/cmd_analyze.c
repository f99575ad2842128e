/*
 * cmd_analyze.c - `ringcap analyze list|protocols|endpoints|suspicious': settings -> files ->
 * read loop (alayers + one analyser) -> table or JSON on stdout.
 *
 * The commands are a table that also prints the help. Files come as arguments (any pcap or
 * pcapng, several are read in order as one capture) or, with --all, as every continuous file of
 * DIR/pcaps in sequence order. A damaged file is reported on stderr with its byte offset, the
 * packets before the damage are analysed, the other files are still read, and the exit status is
 * 1 after the results are printed. On a terminal, reading shows a progress bar on stderr.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "base/log.h"
#include "outputs/pcapfile.h"

struct an_settings {
	const char *outdir;
	const char *write;
	int all, json, sort, min_sev, no_progress;
	uint32_t top, max_endpoints;
};

#define OFF(f) offsetof(struct an_settings, f)
#define OPT_OUTPUT                                                                                 \
	{                                                                                          \
		NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",                      \
		    "the folder `ringcap run -o' wrote to (default ./output)"                      \
	}
#define OPT_ALL                                                                                    \
	{                                                                                          \
		NULL, "all", 'a', CFG_SET, OFF(all), 1, 0, NULL, NULL,                             \
		    "read every continuous file of DIR/pcaps, in sequence order"                   \
	}
#define OPT_JSON                                                                                   \
	{                                                                                          \
		NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "print JSON for scripts"    \
	}
#define OPT_NOPROG                                                                                 \
	{                                                                                          \
		NULL, "no-progress", 0, CFG_SET, OFF(no_progress), 1, 0, NULL, NULL,               \
		    "no progress bar, even on a terminal"                                          \
	}

static const struct cfg_opt list_opts[] = {OPT_OUTPUT, OPT_JSON, OPT_NOPROG};
static const struct cfg_opt proto_opts[] = {OPT_ALL, OPT_OUTPUT, OPT_JSON, OPT_NOPROG};
static const struct cfg_opt endp_opts[] = {
    OPT_ALL,
    OPT_OUTPUT,
    OPT_JSON,
    OPT_NOPROG,
    {NULL, "top", 'n', CFG_U32, OFF(top), 1, 1000000, NULL, "N",
     "show the N busiest addresses of each IP version (default 20)"},
    {NULL, "sort", 0, CFG_CHOICE, OFF(sort), 0, 0, "packets|bytes", "packets|bytes",
     "order by packets or by bytes (default packets)"},
    {NULL, "max-endpoints", 0, CFG_U32, OFF(max_endpoints), 1, 50000000, NULL, "N",
     "addresses kept; the rest are counted as `other' (default 1000000)"},
};
static const struct cfg_opt susp_opts[] = {
    OPT_ALL,
    OPT_OUTPUT,
    OPT_JSON,
    OPT_NOPROG,
    {NULL, "write", 'w', CFG_STR, OFF(write), 0, 0, NULL, "OUT.pcap",
     "write the packets behind the findings to OUT.pcap (reads the input twice)"},
    {NULL, "min-severity", 0, CFG_CHOICE, OFF(min_sev), 0, 0, "info|low|medium|high",
     "info|low|medium|high", "report (and write) findings from this severity up (default info)"},
};
#undef OFF

struct an_cmd;
typedef int (*an_run_fn)(const struct an_cmd *c, struct an_settings *s, char **files, size_t n);

struct an_cmd {
	const char *name;
	const char *args;
	const char *summary;
	const char *more; /* printed after the options by --help */
	const struct cfg_opt *opts;
	size_t nopts;
	an_run_fn run;
};

static int an_list(const struct an_cmd *c, struct an_settings *s, char **files, size_t n);
static int an_protocols(const struct an_cmd *c, struct an_settings *s, char **files, size_t n);
static int an_endpoints(const struct an_cmd *c, struct an_settings *s, char **files, size_t n);
static int an_suspicious(const struct an_cmd *c, struct an_settings *s, char **files, size_t n);

#define N_OPTS(t) (sizeof(t) / sizeof((t)[0]))
/* clang-format off */
static const struct an_cmd an_cmds[] = {
	{ "list", "[-o DIR]", "the continuous and incident captures under DIR",
	  "Lists DIR/pcaps/capture_*.pcap (and the .part being written) in sequence order, then\n"
	  "*.pcap, *.pcapng and *.part files under DIR/incidents, with size, packets, first and\n"
	  "last packet time (UTC) and state: finished, writing (.part) or damaged.\n",
	  list_opts, N_OPTS(list_opts), an_list },
	{ "protocols", "(FILE... | --all [-o DIR])",
	  "protocol hierarchy: frames and bytes per protocol (like tshark -z io,phs)",
	  "A frame counts at every protocol of its path (eth/vlan/ip/udp/dns ...), named as\n"
	  "tshark names them. Application protocols come from well-known ports; for TCP only\n"
	  "segments with payload are named, so those counts differ from tshark's, which counts\n"
	  "reassembled messages. IP fragments but the last are \"data\", as after tshark's\n"
	  "reassembly.\n",
	  proto_opts, N_OPTS(proto_opts), an_protocols },
	{ "endpoints", "(FILE... | --all [-o DIR])",
	  "busiest IPv4 and IPv6 addresses, sent and received (like tshark -z endpoints,ip)",
	  "Every IP layer of a frame counts (tunnels too); bytes are frame lengths.\n",
	  endp_opts, N_OPTS(endp_opts), an_endpoints },
	{ "suspicious", "(FILE... | --all [-o DIR]) [-w OUT.pcap]",
	  "floods, amplification, scans, large transfers and rare ports, with evidence",
	  "Findings (rates are packets in one second, at the peak):\n"
	  "  syn-flood        >= 100 SYNs to a host from many source ports, <= 10% completed\n"
	  "  udp-flood        >= 200/s from >= 50 sources, or >= 1000/s one way\n"
	  "  icmp-flood       >= 200/s to a host (>= 1000/s: high)\n"
	  "  amplification    responses from DNS, NTP, SSDP, memcached, SNMP, CLDAP or chargen\n"
	  "                   ports that the host did not ask for, or large ones\n"
	  "  vertical-scan    one source probes >= 100 ports of a host\n"
	  "  horizontal-scan  one source probes a port on >= 64 hosts, most unanswered, or\n"
	  "                   pings >= 64 hosts\n"
	  "  large-transfer   >= 1 MB of payload one way in one flow (info)\n"
	  "  rare-port        payload both ways on an uncommon service port (info)\n"
	  "high and medium findings are alarming; low and info ones are leads.\n",
	  susp_opts, N_OPTS(susp_opts), an_suspicious },
};
/* clang-format on */

static void an_usage(FILE *out)
{
	fprintf(out, "Usage: ringcap analyze <command> [options]\n\nCommands:\n");
	for (size_t i = 0; i < N_OPTS(an_cmds); i++)
		fprintf(out, "  %-11s %s\n", an_cmds[i].name, an_cmds[i].summary);
	fprintf(out,
		"\nFILE is any pcap or pcapng file; several are read in order as one capture.\n"
		"`ringcap analyze <command> --help' describes a command's options.\n");
}

static void an_cmd_usage(const struct an_cmd *c, FILE *out)
{
	fprintf(out, "Usage: ringcap analyze %s %s [options]\n  %s\n\n", c->name, c->args,
		c->summary);
	cfg_print_help(c->opts, c->nopts, out);
	if (c->more)
		fprintf(out, "\n%s", c->more);
}

/* --- the progress bar --- */

struct an_progress {
	int on, shown;
	double delay; /* seconds before the bar appears (small files never show one) */
	struct timespec t0, last;
	uint64_t total;	 /* bytes of all files (0: unknown) */
	uint64_t before; /* bytes of the files already read */
	uint64_t pkts_before;
};

static double an_since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void an_progress_draw(struct an_progress *pg, uint64_t bytes, uint64_t pkts)
{
	struct timespec now;
	char done[32], total[32];

	if (!pg->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double el = an_since(&pg->t0, &now);
	if (el < pg->delay || (pg->shown && an_since(&pg->last, &now) < 0.1))
		return;
	pg->last = now;
	pg->shown = 1;
	bytes += pg->before;
	pkts += pg->pkts_before;
	aout_bytes(bytes, done, sizeof done);
	if (pg->total) {
		double f = (double)bytes / (double)pg->total;
		if (f > 1)
			f = 1;
		int fill = (int)(f * 30);
		char bar[31];
		memset(bar, '=', (size_t)fill);
		memset(bar + fill, ' ', (size_t)(30 - fill));
		bar[30] = 0;
		aout_bytes(pg->total, total, sizeof total);
		fprintf(stderr, "\r[%s] %3d%%  %s of %s  %llu packets  %.0f packets/s\033[K", bar,
			(int)(f * 100), done, total, (unsigned long long)pkts, (double)pkts / el);
	} else {
		fprintf(stderr, "\r%s  %llu packets  %.0f packets/s\033[K", done,
			(unsigned long long)pkts, (double)pkts / el);
	}
	fflush(stderr);
}

/*
 * On only when stderr is a terminal. RINGCAP_PROGRESS_DELAY (seconds, default 0.5) is a hook for
 * the tests, which need the bar on a small file.
 */
static void an_progress_init(struct an_progress *pg, const struct an_settings *s)
{
	const char *d = getenv("RINGCAP_PROGRESS_DELAY");
	memset(pg, 0, sizeof *pg);
	pg->on = !s->no_progress && isatty(STDERR_FILENO);
	pg->delay = d ? strtod(d, NULL) : 0.5;
	clock_gettime(CLOCK_MONOTONIC, &pg->t0);
}

static void an_progress_end(struct an_progress *pg)
{
	if (pg->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	pg->shown = 0;
}

/* --- the read loop --- */

typedef void (*an_pkt_fn)(void *user, const struct apkt *p, const struct alayers *l);
/* Called when a file is opened (before its packets); may return -1 to skip the file. */
typedef int (*an_file_fn)(void *user, const afile_t *f, uint32_t index);

/*
 * Reads every file in order, decoding each packet and handing it to fn. Errors are logged and
 * reading goes on with the next file. Returns the number of files that could not be read
 * completely (all n if none could be opened), or -1 if out of memory. *opened (may be NULL)
 * receives the number of files opened.
 */
static int an_read(struct an_settings *s, char **files, size_t n, an_file_fn ffn, an_pkt_fn fn,
		   void *user, size_t *opened)
{
	struct an_progress pg;
	alayers_ctx_t *lc = alayers_new();
	int bad = 0;
	char err[1024];

	if (!lc) {
		log_err("out of memory");
		return -1;
	}
	an_progress_init(&pg, s);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
			pg.total += (uint64_t)st.st_size;
	}
	for (size_t i = 0; i < n; i++) {
		afile_t *f = afile_open(files[i], err, sizeof err);
		if (!f) {
			an_progress_end(&pg);
			log_err("%s", err);
			bad++;
			continue;
		}
		if (ffn && ffn(user, f, (uint32_t)i) != 0) {
			afile_close(f);
			bad++;
			continue;
		}
		if (opened)
			(*opened)++;
		struct apkt p;
		struct alayers l;
		int rc;
		uint64_t k = 0;
		while ((rc = afile_next(f, &p, err, sizeof err)) == 1) {
			p.file = (uint32_t)i;
			alayers_decode(lc, p.dlt, p.data, p.caplen, p.wirelen, &l);
			fn(user, &p, &l);
			if ((++k & 4095) == 0)
				an_progress_draw(&pg, afile_offset(f), k);
		}
		if (rc < 0) {
			an_progress_end(&pg);
			log_err("%s", err);
			bad++;
		}
		pg.before += afile_size(f) ? afile_size(f) : afile_offset(f);
		pg.pkts_before += k;
		afile_close(f);
	}
	an_progress_end(&pg);
	alayers_free(lc);
	return bad;
}

/* --- protocols --- */

static void an_proto_pkt(void *user, const struct apkt *p, const struct alayers *l)
{
	aproto_add(user, l, p->wirelen);
}

static int an_protocols(const struct an_cmd *c, struct an_settings *s, char **files, size_t n)
{
	(void)c;
	aproto_t *a = aproto_new();
	if (!a) {
		log_err("out of memory");
		return 1;
	}
	size_t opened = 0;
	int bad = an_read(s, files, n, NULL, an_proto_pkt, a, &opened);
	if (opened)
		aproto_print(a, stdout, s->json);
	aproto_free(a);
	return bad ? 1 : 0;
}

/* --- endpoints --- */

static void an_endp_pkt(void *user, const struct apkt *p, const struct alayers *l)
{
	aendp_add(user, l, p->wirelen);
}

static int an_endpoints(const struct an_cmd *c, struct an_settings *s, char **files, size_t n)
{
	(void)c;
	aendp_t *e = aendp_new(s->max_endpoints);
	if (!e) {
		log_err("out of memory");
		return 1;
	}
	size_t opened = 0;
	int bad = an_read(s, files, n, NULL, an_endp_pkt, e, &opened);
	if (opened)
		aendp_print(e, stdout, s->json, s->top,
			    s->sort ? AENDP_BY_BYTES : AENDP_BY_PACKETS);
	aendp_free(e);
	return bad ? 1 : 0;
}

/* --- suspicious --- */

static void an_susp_pkt(void *user, const struct apkt *p, const struct alayers *l)
{
	asusp_add(user, p, l);
}

/* Second pass of suspicious -w: the writer and what it needs. */
struct an_writer {
	asusp_t *s;
	enum asusp_severity min;
	pcapfile_t *out;
	char *tmp;
	int dlt; /* link type of the output (the first file's) */
	uint32_t snaplen;
	uint64_t written, skipped, errors;
	int skip_file; /* the current file has another link type */
	char **files;
};

static int an_writer_file(void *user, const afile_t *f, uint32_t index)
{
	struct an_writer *w = user;
	char err[1024];

	w->skip_file = 0;
	if (!w->out) {
		int lt = pcapfile_linktype_from_dlt(afile_dlt(f));
		struct pcapfile_opts o = {.linktype = lt, .snaplen = w->snaplen};
		if (lt < 0) {
			log_err("cannot write %s: link type %d of %s has no pcap link type", w->tmp,
				afile_dlt(f), afile_path(f));
			return -1;
		}
		w->out = pcapfile_create(w->tmp, &o, err, sizeof err);
		if (!w->out) {
			log_err("%s", err);
			return -1;
		}
		w->dlt = afile_dlt(f);
	} else if (afile_dlt(f) != w->dlt) {
		log_warn("%s: link type %d differs from the first file's (%d): its packets are not "
			 "written to the output",
			 w->files[index], afile_dlt(f), w->dlt);
		w->skip_file = 1;
	}
	return 0;
}

static void an_writer_pkt(void *user, const struct apkt *p, const struct alayers *l)
{
	struct an_writer *w = user;
	if (!asusp_match(w->s, p, l, w->min))
		return;
	if (w->skip_file || !w->out) {
		w->skipped++;
		return;
	}
	if (pcapfile_write_ns(w->out, p->ts_ns, p->caplen, p->wirelen, p->data) != 0)
		w->errors++;
	else
		w->written++;
}

static int an_write_matches(struct an_settings *s, asusp_t *a, char **files, size_t n)
{
	struct an_writer w;
	int ret = 1;
	size_t len = strlen(s->write) + 32;

	memset(&w, 0, sizeof w);
	w.s = a;
	w.min = (enum asusp_severity)s->min_sev;
	w.files = files;
	w.tmp = malloc(len);
	if (!w.tmp) {
		log_err("out of memory");
		return 1;
	}
	snprintf(w.tmp, len, "%s.tmp.%ld", s->write, (long)getpid());
	w.snaplen = 262144;
	int bad = an_read(s, files, n, an_writer_file, an_writer_pkt, &w, NULL);
	if (!w.out) {
		log_err("no output written to %s", s->write);
		goto out;
	}
	int rc = pcapfile_close(w.out, 1);
	w.out = NULL;
	if (rc != 0 || w.errors) {
		log_err("cannot write %s: %s", w.tmp, strerror(rc ? -rc : EIO));
		unlink(w.tmp);
		goto out;
	}
	if (rename(w.tmp, s->write) != 0) {
		log_err("cannot rename %s to %s: %s", w.tmp, s->write, strerror(errno));
		unlink(w.tmp);
		goto out;
	}
	log_info("%llu packets behind the findings written to %s", (unsigned long long)w.written,
		 s->write);
	if (w.skipped)
		log_warn("%llu packets of other link types not written",
			 (unsigned long long)w.skipped);
	ret = bad ? 1 : 0;
out:
	if (w.out) {
		pcapfile_close(w.out, 0);
		unlink(w.tmp);
	}
	free(w.tmp);
	return ret;
}

static int an_suspicious(const struct an_cmd *c, struct an_settings *s, char **files, size_t n)
{
	(void)c;
	asusp_t *a = asusp_new();
	int ret;

	if (!a) {
		log_err("out of memory");
		return 1;
	}
	for (size_t i = 0; s->write && i < n; i++) {
		if (strcmp(files[i], "-") == 0) {
			log_err("-w reads the input twice: it cannot read standard input");
			asusp_free(a);
			return EXIT_USAGE;
		}
	}
	size_t opened = 0;
	int bad = an_read(s, files, n, NULL, an_susp_pkt, a, &opened);
	ret = bad ? 1 : 0;
	if (opened) {
		asusp_finish(a);
		asusp_print(a, stdout, s->json, (enum asusp_severity)s->min_sev);
		fflush(stdout);
		if (s->write && an_write_matches(s, a, files, n) != 0)
			ret = 1;
	}
	asusp_free(a);
	return ret;
}

/* --- list --- */

static int an_list(const struct an_cmd *c, struct an_settings *s, char **files, size_t n)
{
	struct alist l = {0};
	char err[1024];
	int bad = 0;

	(void)c;
	(void)files;
	if (n) {
		log_err("analyze list takes no file arguments (it looks in -o DIR)");
		return EXIT_USAGE;
	}
	if (alist_scan(s->outdir, &l, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	struct an_progress pg;
	an_progress_init(&pg, s);
	for (size_t i = 0; i < l.n; i++)
		pg.total += l.e[i].size;
	for (size_t i = 0; i < l.n; i++) {
		struct alist_entry *e = &l.e[i];
		afile_t *f = afile_open(e->path, err, sizeof err);
		if (!f) {
			e->error = strdup(err);
			bad++;
			continue;
		}
		struct apkt p;
		int rc;
		while ((rc = afile_next(f, &p, err, sizeof err)) == 1) {
			if (!e->packets || p.ts_ns < e->first_ns)
				e->first_ns = p.ts_ns;
			if (!e->packets || p.ts_ns > e->last_ns)
				e->last_ns = p.ts_ns;
			e->packets++;
			if ((e->packets & 4095) == 0)
				an_progress_draw(&pg, afile_offset(f), e->packets);
		}
		/* a file still being written may end in a record not yet complete: not damage */
		if (rc < 0 &&
		    !(e->writing && afile_offset(f) + PCAPFILE_REC_HDR_LEN + 262144 >= e->size)) {
			e->error = strdup(err);
			bad++;
		}
		pg.before += e->size;
		pg.pkts_before += e->packets;
		afile_close(f);
	}
	an_progress_end(&pg);
	alist_print(&l, s->outdir, stdout, s->json);
	for (size_t i = 0; i < l.n; i++)
		if (l.e[i].error)
			log_err("%s", l.e[i].error);
	alist_free(&l);
	return bad ? 1 : 0;
}

/* --- dispatch --- */

static void an_defaults(struct an_settings *s)
{
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->top = 20;
	s->max_endpoints = 1000000;
}

int cmd_analyze_main(int argc, char **argv)
{
	struct an_settings s;
	const struct an_cmd *c = NULL;
	char err[1024];
	char **files = NULL, **found = NULL;
	long nfound = 0;
	size_t nf = 0;
	int ret = EXIT_USAGE, help = 0;

	if (argc < 2) {
		an_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		an_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < N_OPTS(an_cmds); i++)
		if (strcmp(an_cmds[i].name, argv[1]) == 0)
			c = &an_cmds[i];
	if (!c) {
		log_err("unknown analyze command `%s'; `ringcap analyze help' lists them", argv[1]);
		return EXIT_USAGE;
	}
	an_defaults(&s);
	files = calloc((size_t)argc, sizeof *files);
	if (!files) {
		log_err("out of memory");
		return 1;
	}
	/* options may come before and after the files: parse, take one file, parse on */
	int sargc = argc - 1;
	char **sargv = argv + 1;
	for (;;) {
		int rest = 0, h = 0;
		if (cfg_from_args(c->opts, c->nopts, &s, sargc, sargv, &rest, &h, err,
				  sizeof err) != 0) {
			log_err("%s", err);
			an_cmd_usage(c, stderr);
			goto out;
		}
		help |= h;
		if (rest >= sargc)
			break;
		files[nf++] = sargv[rest];
		sargv += rest;
		sargc -= rest;
	}
	if (help) {
		an_cmd_usage(c, stdout);
		ret = 0;
		goto out;
	}
	if (c->run != an_list) {
		if (s.all && nf) {
			log_err("give files or --all, not both");
			goto out;
		}
		if (!s.all && !nf) {
			log_err("no capture file given (FILE... or --all)");
			an_cmd_usage(c, stderr);
			goto out;
		}
		if (s.all) {
			nfound = alist_continuous(s.outdir, &found, err, sizeof err);
			if (nfound < 0) {
				log_err("%s", err);
				ret = 1;
				goto out;
			}
			if (nfound == 0) {
				log_err("no continuous capture files in %s/pcaps", s.outdir);
				ret = 1;
				goto out;
			}
		}
	}
	if (found)
		ret = c->run(c, &s, found, (size_t)nfound);
	else
		ret = c->run(c, &s, files, nf);
out:
	for (long i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	free(files);
	return ret;
}
