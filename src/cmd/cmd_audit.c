/*
 * cmd_audit.c - reading and checking the audit trail (audit.h):
 *   ringcap audit [-o DIR] [--json] [--limit N] [--before SEQ]   records, newest first
 *   ringcap audit verify [-o DIR] [--witness FILE]                 check chain and checkpoints
 * verify exits 0 only when the trail is intact, 1 when it is not (or cannot be checked), 2 for bad
 * usage. It needs the key file the checkpoints were signed with and never creates one.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vault/audit.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "vault/keys.h"
#include "base/log.h"

struct audit_settings {
	const char *outdir;
	int json;
	uint32_t limit;
	uint64_t before;
	const char *witness;
};

#define OFF(f) offsetof(struct audit_settings, f)
static const struct cfg_opt list_opts[] = {
    {NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
     "the agent's output folder (default ./output)"},
    {NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL,
     "print the records as they are stored, one JSON object per line"},
    {NULL, "limit", 'n', CFG_U32, OFF(limit), 1, 1000000, NULL, "N",
     "print at most N records (default 50)"},
    {NULL, "before", 0, CFG_UINT, OFF(before), 2, (double)LONG_MAX, NULL, "SEQ",
     "only records with a seq below SEQ (paging back)"},
};
static const struct cfg_opt verify_opts[] = {
    {NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
     "the agent's output folder (default ./output)"},
    {NULL, "witness", 0, CFG_STR, OFF(witness), 0, 0, NULL, "FILE",
     "checkpoints kept outside DIR (syslog, S3, GET /api/v1/audit/checkpoint): the trail "
     "must extend each of them"},
};
#define N_OPTS(t) (sizeof t / sizeof t[0])

static const char usage_list[] = "ringcap audit [-o DIR] [--json] [--limit N] [--before SEQ]";
static const char usage_verify[] = "ringcap audit verify [-o DIR] [--witness FILE]";

/* Returns -1 to go on, or the exit status (help printed, or bad usage). */
static int parse(const struct cfg_opt *opts, size_t n, struct audit_settings *s, int argc,
		 char **argv, const char *usage)
{
	char err[512];
	int help = 0, rest;
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->limit = 50;
	if (cfg_from_args(opts, n, s, argc, argv, &rest, &help, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (help) {
		printf("Usage: %s\n\n", usage);
		cfg_print_help(opts, n, stdout);
		return 0;
	}
	if (rest < argc) {
		if (strcmp(argv[rest], "verify") == 0)
			log_err("`verify' goes right after `audit': %s", usage_verify);
		else
			log_err("unexpected argument `%s'; usage: %s", argv[rest], usage);
		return EXIT_USAGE;
	}
	return -1;
}

/* A member for the table: strings as they are (printable), other values as JSON, null as "-". */
static void cell(json_t *v, char *out, size_t len)
{
	const char *s = json_string_value(v);
	if (!v || json_is_null(v)) {
		snprintf(out, len, "-");
		return;
	}
	char *t = s ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	const char *src = s ? s : t ? t : "?";
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 1 < len; i++)
		out[j++] = (unsigned char)src[i] >= 0x20 && src[i] != 0x7f ? src[i] : '?';
	out[j] = 0;
	free(t);
}

/* The members other than the columns, as k=v pairs, cut to fit. */
static void detail(json_t *rec, char *out, size_t len)
{
	static const char *const shown[] = {"seq",	"time",	     "event", "actor",
					    "incident", "prev_hash", "hash", "mac_key"};
	const char *k;
	json_t *v;
	size_t used = 0;
	out[0] = 0;
	json_object_foreach(rec, k, v)
	{
		size_t i;
		for (i = 0; i < sizeof shown / sizeof shown[0] && strcmp(k, shown[i]) != 0; i++)
			;
		if (i < sizeof shown / sizeof shown[0])
			continue;
		char val[128];
		cell(v, val, sizeof val);
		int n = snprintf(out + used, len - used, "%s%s=%s", used ? " " : "", k, val);
		if (n < 0 || (size_t)n >= len - used) {
			if (len > 4)
				memcpy(out + len - 4, "...", 4);
			return;
		}
		used += (size_t)n;
	}
}

static int list_main(int argc, char **argv)
{
	struct audit_settings s;
	char err[8600];
	long total = 0;
	struct stat st;
	int rc = parse(list_opts, N_OPTS(list_opts), &s, argc, argv, usage_list);
	if (rc >= 0)
		return rc;
	if (stat(s.outdir, &st) != 0) {
		log_err("cannot use the output folder `%s': %s", s.outdir, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("`%s' is not a folder", s.outdir);
		return 1;
	}
	json_t *arr = audit_list(s.outdir, (long)s.before, (int)s.limit, &total, err, sizeof err);
	if (!arr) {
		log_err("%s", err);
		return 1;
	}
	size_t i;
	json_t *rec;
	if (s.json) {
		json_array_foreach(arr, i, rec)
		{
			char *t =
			    json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
			if (t)
				printf("%s\n", t);
			free(t);
		}
		json_decref(arr);
		return 0;
	}
	if (json_array_size(arr) == 0) {
		printf("no audit records in `%s/%s/%s'%s\n", s.outdir, AUDIT_SUBDIR, AUDIT_FILE,
		       total ? " with that seq" : "");
		json_decref(arr);
		return 0;
	}
	printf("%-6s %-27s %-18s %-12s %-8s %s\n", "SEQ", "TIME", "EVENT", "ACTOR", "INCIDENT",
	       "DETAIL");
	json_array_foreach(arr, i, rec)
	{
		char ev[64], actor[64], inc[32], det[81], t[40];
		cell(json_object_get(rec, "event"), ev, sizeof ev);
		cell(json_object_get(rec, "actor"), actor, sizeof actor);
		cell(json_object_get(rec, "incident"), inc, sizeof inc);
		cell(json_object_get(rec, "time"), t, sizeof t);
		detail(rec, det, sizeof det);
		printf("%-6lld %-27s %-18s %-12s %-8s %s\n",
		       (long long)json_integer_value(json_object_get(rec, "seq")), t, ev, actor,
		       inc, det);
	}
	printf("(%zu of %ld records; `ringcap audit verify' checks them)\n", json_array_size(arr),
	       total);
	json_decref(arr);
	return 0;
}

static int verify_main(int argc, char **argv)
{
	struct audit_settings s;
	char err[8600], kpath[4096];
	struct stat st;
	keys_t *keys = NULL;
	int rc = parse(verify_opts, N_OPTS(verify_opts), &s, argc, argv, usage_verify);
	if (rc >= 0)
		return rc;
	if (keys_path(s.outdir, kpath, sizeof kpath) != 0) {
		log_err("folder name too long: `%s'", s.outdir);
		return EXIT_USAGE;
	}
	/* never create a key file here: a fresh key would only make every checkpoint unverifiable
	 */
	if (stat(kpath, &st) != 0) {
		if (errno == ENOENT)
			log_err(
			    "no key file `%s': the audit checkpoints cannot be verified without "
			    "the key they were signed with (set %s if the key file is elsewhere)",
			    kpath, KEYS_ENV);
		else
			log_err("cannot use the key file `%s': %s", kpath, strerror(errno));
		return 1;
	}
	if (keys_load_or_create(kpath, &keys, err, sizeof err) != 0) {
		log_err("%s", err);
		return 1;
	}
	rc = audit_verify_witness(s.outdir, keys, s.witness, stdout, err, sizeof err);
	keys_free(keys);
	fflush(stdout);
	if (rc < 0) {
		log_err("%s", err);
		return 1;
	}
	return rc == 0 ? 0 : 1;
}

int cmd_audit_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return verify_main(argc - 1, argv + 1);
	return list_main(argc, argv);
}
