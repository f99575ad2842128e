/*
 * cmd_export.c - exports to object storage from the command line:
 *   ringcap export ID [-o DIR] [--force] [--json] [S3 settings]   export one incident now
 *   ringcap export --status [-o DIR] [--json]                     show the export queue
 * Safe while the agent runs on DIR: the queue row is claimed in the shared index, so the agent
 * and this command never upload the same row at once.
 */
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "export/export.h"
#include "outputs/flow_json.h"
#include "base/log.h"
#include "vault/store.h"

#define DAY_NS (86400.0 * 1e9)

struct export_cmd_settings {
	const char *outdir;
	double retention_days;
	int status, json, force, verbose, quiet;
	struct export_settings s3;
};

#define OFF(f) offsetof(struct export_cmd_settings, f)
static const struct cfg_opt export_opts[] = {
	{NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	 "the evidence folder (default ./output)"},
	{NULL, "status", 0, CFG_SET, OFF(status), 1, 0, NULL, NULL,
	 "show the export queue instead of exporting"},
	{NULL, "force", 0, CFG_SET, OFF(force), 1, 0, NULL, NULL,
	 "upload again an incident that is exported already"},
	{NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "print JSON"},
	{"RETENTION_DAYS", "retention-days", 0, CFG_DOUBLE, OFF(retention_days), 0, 36500, NULL,
	 "DAYS", "as the agent's, for the incident's rewritten metadata (default 7)"},
	EXPORT_OPTS(struct export_cmd_settings, s3),
	{NULL, "verbose", 'v', CFG_SET, OFF(verbose), 1, 0, NULL, NULL, "more log lines"},
	{NULL, "quiet", 'q', CFG_SET, OFF(quiet), 1, 0, NULL, NULL, "only warnings and errors"},
};
#define N_EXPORT_OPTS (sizeof export_opts / sizeof export_opts[0])

static const char usage_text[] =
	"ringcap export ID [-o DIR] [--force] [--json] [S3 settings]\n"
	"       ringcap export --status [-o DIR] [--json]";

/* Environment, then flags with positional arguments anywhere. Returns -1 to go on, or the exit
 * status. */
static int parse(struct export_cmd_settings *s, int argc, char **argv, char **pos, int maxpos,
		 int *npos)
{
	char err[1024];
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->retention_days = 7;
	int rc = cfg_parse_command(export_opts, N_EXPORT_OPTS, s, argc, argv, pos, maxpos, npos,
				   usage_text, err, sizeof err);
	if (rc < 0)
		log_err("%s", err);
	return rc < 0 ? EXIT_USAGE : rc > 0 ? 0 : -1;
}

static json_t *time_or_null(int64_t ns)
{
	char b[40];
	return ns ? json_string(flow_json_time(ns, b, sizeof b)) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *row_json(const struct db_export *e)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:i}", "kind", e->kind, "ref", e->ref, "state",
			      e->state, "attempts", e->attempts);
	if (!o)
		return NULL;
	json_object_set_new(o, "bucket", str_or_null(e->bucket));
	json_object_set_new(o, "object_key", str_or_null(e->object_key));
	json_object_set_new(o, "etag", str_or_null(e->etag));
	json_object_set_new(o, "bytes", e->etag[0] ? json_integer((json_int_t)e->size) : json_null());
	json_object_set_new(o, "sha256", str_or_null(e->sha256));
	json_object_set_new(o, "queued_at", time_or_null(e->queued_ns));
	json_object_set_new(o, "started_at", time_or_null(e->started_ns));
	json_object_set_new(o, "exported_at",
			    time_or_null(strcmp(e->state, "done") == 0 ? e->done_ns : 0));
	json_object_set_new(o, "next_attempt_at",
			    time_or_null(strcmp(e->state, "queued") == 0 ? e->next_attempt_ns : 0));
	json_object_set_new(o, "last_error", str_or_null(e->last_error));
	json_object_set_new(o, "owner", str_or_null(e->owner));
	return o;
}

static void print_row(const struct db_export *e)
{
	char t[40];
	printf("%-8s %-34s %-9s %2d  ", e->kind, e->ref, e->state, e->attempts);
	if (!strcmp(e->state, "done"))
		printf("s3://%s/%s  %llu bytes  ETag %s  at %s\n", e->bucket, e->object_key,
		       (unsigned long long)e->size, e->etag, flow_json_time(e->done_ns, t, sizeof t));
	else if (!strcmp(e->state, "queued"))
		printf("next attempt at %s\n", flow_json_time(e->next_attempt_ns, t, sizeof t));
	else if (!strcmp(e->state, "uploading"))
		printf("by process %.*s since %s\n", (int)strcspn(e->owner, ":"), e->owner,
		       flow_json_time(e->started_ns, t, sizeof t));
	else
		printf("\n");
	if (e->last_error[0] && strcmp(e->state, "done"))
		printf("    last error: %s\n", e->last_error);
}

static int show_status(store_t *st, const struct export_cmd_settings *s)
{
	char err[1024];
	struct db_export page[64];
	long after = 0, total = 0;
	unsigned counts[4] = {0};
	static const char *const states[] = {"queued", "uploading", "done", "failed"};
	json_t *arr = s->json ? json_array() : NULL;
	if (!s->json)
		printf("%-8s %-34s %-9s %2s  %s\n", "KIND", "REF", "STATE", "N", "WHERE / WHEN");
	for (;;) {
		int n = db_export_list(store_db(st), after, page, 64, &total, err, sizeof err);
		if (n < 0) {
			log_err("%s", err);
			json_decref(arr);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			after = page[i].row;
			for (int k = 0; k < 4; k++)
				if (!strcmp(page[i].state, states[k]))
					counts[k]++;
			if (arr)
				json_array_append_new(arr, row_json(&page[i]));
			else
				print_row(&page[i]);
		}
		if (n < 64)
			break;
	}
	if (arr) {
		char *t = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", t ? t : "[]");
		free(t);
		json_decref(arr);
	} else {
		printf("%ld in the queue: %u queued, %u uploading, %u done, %u failed\n", total,
		       counts[0], counts[1], counts[2], counts[3]);
	}
	return 0;
}

static void print_result(const struct db_export *e, int json, const char *note)
{
	if (json) {
		json_t *o = row_json(e);
		if (o && note)
			json_object_set_new(o, "note", json_string(note));
		char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(o);
		return;
	}
	printf("s3://%s/%s\n", e->bucket, e->object_key);
	printf("  key     %s\n  etag    %s\n  size    %llu\n  sha256  %s\n", e->object_key, e->etag,
	       (unsigned long long)e->size, e->sha256);
	if (note)
		printf("  note    %s\n", note);
}

int cmd_export_main(int argc, char **argv)
{
	struct export_cmd_settings s;
	struct export_config ec;
	char err[S3_ERRBUF_SIZE + 512], *pos[1];
	int npos, ret = 1;
	store_t *st = NULL;
	exporter_t *e = NULL;
	int rc = parse(&s, argc, argv, pos, 1, &npos);
	if (rc >= 0)
		return rc;
	log_set_verbosity(s.quiet, s.verbose);
	memset(&ec, 0, sizeof ec);
	long id = 0;
	if (s.status ? npos != 0 : npos != 1) {
		log_err("usage: %s", usage_text);
		return EXIT_USAGE;
	}
	if (!s.status && (id = cfg_parse_id(pos[0], LONG_MAX)) < 0) {
		log_err("invalid incident ID `%s': expected a whole number from 1", pos[0]);
		return EXIT_USAGE;
	}
	if (!s.status && export_config_load(&s.s3, 1, &ec, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	struct stat sb;
	if (stat(s.outdir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		log_err("no evidence folder `%s' (give the agent's -o DIR)", s.outdir);
		goto out;
	}
	struct store_config sc = {.dir = s.outdir,
				  .retention_ns = (int64_t)(s.retention_days * DAY_NS)};
	st = store_open(&sc, err, sizeof err);
	if (!st) {
		log_err("%s", err);
		goto out;
	}
	if (s.status) {
		ret = show_status(st, &s);
		goto out;
	}
	e = export_new(st, &ec, err, sizeof err);
	if (!e) {
		log_err("%s", err);
		goto out;
	}
	struct db_export row;
	rc = export_incident_now(e, id, s.force, &row, err, sizeof err);
	switch (rc) {
	case 0:
		print_result(&row, s.json, NULL);
		ret = 0;
		break;
	case EXPORT_EDONE: {
		char t[40], note[160];
		snprintf(note, sizeof note, "exported already at %s (--force uploads it again)",
			 flow_json_time(row.done_ns, t, sizeof t));
		print_result(&row, s.json, note);
		ret = 0;
		break;
	}
	case EXPORT_EBUSY:
		log_err("incident %ld is being uploaded by process %.*s right now; see `ringcap "
			"export --status'", id, (int)strcspn(row.owner, ":"), row.owner);
		break;
	default:
		log_err("incident %ld: %s", id, err);
		if (rc == EXPORT_ERROR && !strcmp(row.state, "queued"))
			log_err("the export stays queued (`ringcap export --status')");
		break;
	}
out:
	export_free(e);
	export_config_clear(&ec);
	store_close(st);
	return ret;
}
