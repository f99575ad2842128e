/*
 * cmd_incidents.c - reading incidents back and starting captures on a running agent:
 *   ringcap capture [-o DIR] [--seconds N] [--packets N]
 *   ringcap incidents [-o DIR] [--json]
 *   ringcap incident show ID [-o DIR] [--json]
 *   ringcap incident pcap ID -w FILE [-o DIR]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "base/config.h"
#include "api/ctl.h"
#include "base/fdio.h"
#include "base/files.h"
#include "recorder/incident.h"
#include "base/log.h"
#include "vault/store.h"

struct inc_settings {
	const char *outdir, *wfile;
	int json;
	uint32_t seconds, packets;
};

#define OFF(f) offsetof(struct inc_settings, f)
static const struct cfg_opt inc_opts[] = {
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "the agent's output folder (default ./output)" },
	{ NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "print JSON" },
	{ NULL, "write", 'w', CFG_STR, OFF(wfile), 0, 0, NULL, "FILE",
	  "incident pcap: where to write the capture" },
};
static const struct cfg_opt cap_opts[] = {
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "the running agent's output folder (default ./output)" },
	{ NULL, "seconds", 0, CFG_U32, OFF(seconds), 1, 3600, NULL, "N",
	  "stop after N seconds (default 30)" },
	{ NULL, "packets", 0, CFG_U32, OFF(packets), 1, 1000000, NULL, "N",
	  "stop after N packets (default 10000)" },
	{ NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "print the agent's JSON reply" },
};
#define N_OPTS(t) (sizeof t / sizeof t[0])

static int parse(const struct cfg_opt *opts, size_t n, struct inc_settings *s, int argc,
		 char **argv, int *rest, const char *usage)
{
	char err[512];
	int help = 0;
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->seconds = 30;
	s->packets = 10000;
	if (cfg_from_args(opts, n, s, argc, argv, rest, &help, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (help) {
		printf("Usage: %s\n\n", usage);
		cfg_print_help(opts, n, stdout);
		return 0;
	}
	return -1;
}

int cmd_capture_main(int argc, char **argv)
{
	struct inc_settings s;
	int rest, rc;
	char path[4096], line[128], reply[2048], err[8600];
	rc = parse(cap_opts, N_OPTS(cap_opts), &s, argc, argv, &rest,
		   "ringcap capture [-o DIR] [--seconds N] [--packets N]");
	if (rc >= 0)
		return rc;
	if (rest < argc) {
		log_err("unexpected argument `%s'", argv[rest]);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof path, "%s/%s", s.outdir, CTL_SOCKET_NAME);
	snprintf(line, sizeof line, "capture seconds=%u packets=%u", s.seconds, s.packets);
	if (ctl_request(path, line, reply, sizeof reply, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	json_error_t jerr;
	json_t *o = json_loads(reply, 0, &jerr);
	if (!o || !json_is_true(json_object_get(o, "ok"))) {
		const char *msg = o ? json_string_value(json_object_get(o, "error")) : NULL;
		log_err("the agent refused: %s", msg ? msg : reply);
		json_decref(o);
		return 1;
	}
	if (s.json)
		printf("%s\n", reply);
	else
		printf("manual capture %lld started: %u s or %u packets; see `ringcap incident show "
		       "%lld -o %s'\n",
		       (long long)json_integer_value(json_object_get(o, "id")), s.seconds, s.packets,
		       (long long)json_integer_value(json_object_get(o, "id")), s.outdir);
	json_decref(o);
	return 0;
}

/* Loads DIR/incidents/ID.json. Returns NULL with a message in err. */
static json_t *load_meta(const char *dir, long id, char *err, size_t errlen)
{
	char path[4200];
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/%s/%ld.json", dir, incidents_subdir(), id);
	json_t *o = json_load_file(path, 0, &jerr);
	if (!o) {
		if (access(path, F_OK) != 0)
			snprintf(err, errlen, "no incident %ld in `%s' (no %s)", id, dir, path);
		else
			snprintf(err, errlen, "cannot read `%s': %s (line %d)", path, jerr.text,
				 jerr.line);
	}
	return o;
}

static int id_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

/* IDs of DIR/incidents/N.json, sorted. Returns the count (the array is malloc'd) or -1. */
static long list_ids(const char *dir, long **out, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, incidents_subdir());
	*out = NULL;
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot list `%s': %s", path, strerror(errno));
		return -1;
	}
	long n = 0, cap = 0, *v = NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long id = strtol(e->d_name, &end, 10);
		if (end == e->d_name || strcmp(end, ".json") != 0 || id <= 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			long *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				free(v);
				closedir(d);
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			v = nv;
		}
		v[n++] = id;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof *v, id_cmp);
	*out = v;
	return n;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

int cmd_incidents_main(int argc, char **argv)
{
	struct inc_settings s;
	int rest;
	char err[8600];
	long *ids;
	int rc = parse(inc_opts, N_OPTS(inc_opts), &s, argc, argv, &rest,
		       "ringcap incidents [-o DIR] [--json]");
	if (rc >= 0)
		return rc;
	long n = list_ids(s.outdir, &ids, err, sizeof err);
	if (n < 0) {
		log_err("%s", err);
		return 1;
	}
	if (!s.json)
		printf("%-5s %-9s %-10s %-27s %10s %8s %-4s %s\n", "ID", "STATE", "TRIGGER", "STARTED",
		       "DURATION", "PKTS", "CAP", "CLASSIFICATION");
	int ret = 0;
	for (long i = 0; i < n; i++) {
		json_t *o = load_meta(s.outdir, ids[i], err, sizeof err);
		if (!o) {
			log_warn("%s", err);
			ret = 1;
			continue;
		}
		if (s.json) {
			char *t = json_dumps(o, JSON_COMPACT);
			if (t)
				printf("%s\n", t);
			free(t);
		} else {
			json_t *trig = json_object_get(o, "trigger");
			printf("%-5ld %-9s %-10s %-27s %9.1fs %8lld %-4s %s\n", ids[i], jstr(o, "state"),
			       jstr(trig, "threshold"), jstr(o, "started_at"),
			       json_number_value(json_object_get(o, "duration_s")),
			       (long long)json_integer_value(json_object_get(o, "pcap_packets")),
			       json_is_true(json_object_get(o, "cap_reached")) ? "yes" : "no",
			       jstr(o, "classification"));
		}
		json_decref(o);
	}
	free(ids);
	return ret;
}

static long parse_id(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return -1;
	return v;
}

static int show(const struct inc_settings *s, long id)
{
	char err[8600];
	json_t *o = load_meta(s->outdir, id, err, sizeof err);
	if (!o) {
		log_err("%s", err);
		return 1;
	}
	if (s->json) {
		char *t = json_dumps(o, JSON_INDENT(2));
		if (t)
			printf("%s\n", t);
		free(t);
	} else {
		const char *key;
		json_t *v;
		json_object_foreach(o, key, v)
		{
			char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%-22s %s\n", key, t ? t : "?");
			free(t);
		}
	}
	json_decref(o);
	return 0;
}

struct sink_ctx {
	int fd;
	uint64_t off;
	EVP_MD_CTX *md;
};

static int sink_write(void *arg, const uint8_t *data, size_t len)
{
	struct sink_ctx *c = arg;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = len };
	EVP_DigestUpdate(c->md, data, len);
	int r = fdio_pwrite_all(c->fd, &iov, 1, c->off);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	c->off += len;
	return 0;
}

/*
 * Decrypts and verifies the sealed capture of incident id into wfile (tmp + rename: a file that
 * does not verify leaves no output), and records it in the audit trail.
 */
static int decrypt_pcap(const struct inc_settings *s, long id)
{
	char err[8600], tmp[4200], hex[65];
	int ret = 1, out = -1;
	vault_reader_t *r = NULL;
	struct db_incident inc;
	uint8_t md[32];
	unsigned mdlen = 0;
	struct sink_ctx sc = { .fd = -1, .md = EVP_MD_CTX_new() };
	struct store_config stc = { .dir = s->outdir };
	store_t *st = store_open(&stc, err, sizeof err);
	if (!st || !sc.md) {
		log_err("%s", st ? "out of memory" : err);
		goto out;
	}
	if (store_open_capture(st, id, &r, &inc, err, sizeof err) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* an exclusive temporary name in FILE's folder: a link planted there is not followed */
	out = files_create_tmp(AT_FDCWD, s->wfile, tmp, sizeof tmp);
	if (out < 0) {
		log_err("cannot create a temporary file for `%s': %s", s->wfile, strerror(errno));
		goto out;
	}
	sc.fd = out;
	EVP_DigestInit_ex(sc.md, EVP_sha256(), NULL);
	int vr = vault_read_range(r, 0, vault_plain_size(r), sink_write, &sc, err, sizeof err);
	if (vr == VAULT_ESINK) {
		log_err("cannot write `%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (vr != 0) {
		log_err("incident %ld: `%s/%s/%s': %s; nothing was written", id, s->outdir,
			incidents_subdir(), inc.file.name, err);
		goto out;
	}
	int cr = files_commit_tmp(AT_FDCWD, out, tmp, s->wfile, 1);
	out = -1;
	if (cr != 0) {
		log_err("cannot write `%s': %s", s->wfile, strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(sc.md, md, &mdlen);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	json_t *f = json_pack("{s:s,s:I,s:s,s:I,s:s}", "actor", "cli", "incident", (json_int_t)id,
			      "file", s->wfile, "bytes", (json_int_t)vault_plain_size(r), "sha256",
			      hex);
	if (audit_append(store_audit(st), "capture_decrypted", f, err, sizeof err) < 0)
		log_warn("audit record not written: %s", err);
	ret = 0;
out:
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
	EVP_MD_CTX_free(sc.md);
	vault_reader_close(r);
	store_close(st);
	return ret;
}

/* Copies the capture of incident id to the file wfile (written whole: tmp + rename). */
static int export_pcap(const struct inc_settings *s, long id)
{
	char err[8600], src[4300], tmp[4200];
	int ret = 1, in = -1, out = -1;
	json_t *o = load_meta(s->outdir, id, err, sizeof err);
	if (!o) {
		log_err("%s", err);
		return 1;
	}
	const char *name = json_string_value(json_object_get(o, "pcap_file"));
	if (json_is_object(json_object_get(o, "storage")) &&
	    strcmp(jstr(o, "mode"), "stats-only") != 0) {
		/* kept by the evidence store: sealed, pending or expired */
		ret = decrypt_pcap(s, id);
		goto out;
	}
	if (!name) {
		const char *mode = json_string_value(json_object_get(o, "mode"));
		if (mode && strcmp(mode, "stats-only") == 0)
			log_err("incident %ld has no capture: it was detected in statistics-only mode",
				id);
		else
			log_err("incident %ld has no finished capture yet (it is still being written)",
				id);
		goto out;
	}
	if (strchr(name, '/')) {
		log_err("incident %ld: bad pcap_file `%s' in its metadata", id, name);
		goto out;
	}

	snprintf(src, sizeof src, "%s/%s/%s", s->outdir, incidents_subdir(), name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		log_err("cannot read the capture of incident %ld, `%s': %s", id, src, strerror(errno));
		goto out;
	}
	out = files_create_tmp(AT_FDCWD, s->wfile, tmp, sizeof tmp);
	if (out < 0) {
		log_err("cannot create a temporary file for `%s': %s", s->wfile, strerror(errno));
		goto out;
	}
	char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("cannot read `%s': %s", src, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (files_write_all(out, buf, (size_t)n) != 0) {
			log_err("cannot write `%s': %s", tmp, strerror(errno));
			goto out;
		}
	}
	int cr = files_commit_tmp(AT_FDCWD, out, tmp, s->wfile, 1);
	out = -1;
	if (cr != 0) {
		log_err("cannot write `%s': %s", s->wfile, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0) {
		close(out);
		unlink(tmp);
	}
	json_decref(o);
	return ret;
}

int cmd_incident_main(int argc, char **argv)
{
	struct inc_settings s;
	int rest;
	const char *usage = "ringcap incident show ID [-o DIR] [--json]\n"
			    "       ringcap incident pcap ID -w FILE [-o DIR]";
	if (argc < 2 || (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "pcap") != 0)) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			printf("Usage: %s\n", usage);
			return 0;
		}
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (argc < 3 || argv[2][0] == '-') {
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	long id = parse_id(argv[2]);
	if (id < 0) {
		log_err("invalid incident ID `%s': expected a positive whole number", argv[2]);
		return EXIT_USAGE;
	}
	/* the options after the ID: parse them with the verb as argv[0] */
	char **av = calloc((size_t)argc, sizeof *av);
	if (!av)
		return 1;
	av[0] = argv[1];
	for (int i = 3; i < argc; i++)
		av[i - 2] = argv[i];
	int rc = parse(inc_opts, N_OPTS(inc_opts), &s, argc - 2, av, &rest, usage);
	int extra = rest < argc - 2;
	free(av);
	if (rc >= 0)
		return rc;
	if (extra) {
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	if (strcmp(verb, "show") == 0)
		return show(&s, id);
	if (!s.wfile) {
		log_err("incident pcap needs -w FILE");
		return EXIT_USAGE;
	}
	return export_pcap(&s, id);
}
