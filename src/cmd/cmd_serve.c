/*
 * cmd_serve.c - the HTTP API without capturing, signed URLs and API tokens from the command line:
 *   ringcap serve [-o DIR] [--http ADDR:PORT] [--public-url BASE] [--retention-days D]
 *                 [--url-ttl S]
 *   ringcap url ID [-o DIR] [--ttl SECONDS] [--public-url BASE]
 *   ringcap url ID --s3 [-o DIR] [--ttl SECONDS] [S3 settings]   (presigned GET from the bucket)
 *   ringcap token add NAME [-o DIR] | token list [-o DIR] | token revoke NAME [-o DIR]
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "vault/audit.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "export/export.h"
#include "outputs/flow_json.h"
#include "api/httpd.h"
#include "vault/keys.h"
#include "base/files.h"
#include "base/log.h"
#include "vault/store.h"
#include "vault/tokens.h"
#include "vault/urlsign.h"

#define DAY_NS (86400.0 * 1e9)
#define TTL_MAX (86400 * 7)

struct serve_settings {
	const char *outdir, *http, *public_url, *role, *group;
	struct log_settings log;
	double retention_days;
	uint32_t url_ttl;
	int verbose, quiet, json, s3;
	struct export_settings s3cfg;
};

#define OFF(f) offsetof(struct serve_settings, f)
static const struct cfg_opt serve_opts[] = {
    {NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
     "the evidence folder to serve (default ./output)"},
    {"RINGCAP_GROUP", "group", 0, CFG_STR, OFF(group), 0, 0, NULL, "GROUP",
     "let GROUP read what the server writes (0640/0750; default: owner only)"},
    {"RINGCAP_HTTP", "http", 0, CFG_STR, OFF(http), 0, 0, NULL, "ADDR:PORT",
     "listen on ADDR:PORT, [V6ADDR]:PORT or :PORT (all addresses); port 0 picks a free "
     "one (default 127.0.0.1:8080)"},
    {"PUBLIC_URL", "public-url", 0, CFG_STR, OFF(public_url), 0, 0, NULL, "BASE",
     "base of signed download URLs (default http://ADDR:PORT of --http)"},
    {"RETENTION_DAYS", "retention-days", 0, CFG_DOUBLE, OFF(retention_days), 0, 36500, NULL, "DAYS",
     "delete incident captures DAYS after the incident resolved (default 7; 0 keeps)"},
    {"URL_TTL_SECONDS", "url-ttl", 0, CFG_U32, OFF(url_ttl), 1, TTL_MAX, NULL, "S",
     "signed download URLs expire after S seconds (default 900)"},
    LOG_OPTS(struct serve_settings, log),
    {NULL, "verbose", 'v', CFG_SET, OFF(verbose), 1, 0, NULL, NULL, "more log lines"},
    {NULL, "quiet", 'q', CFG_SET, OFF(quiet), 1, 0, NULL, NULL, "only warnings and errors"},
};
static const struct cfg_opt url_opts[] = {
    {NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
     "the evidence folder (default ./output)"},
    {"URL_TTL_SECONDS", "ttl", 0, CFG_U32, OFF(url_ttl), 1, TTL_MAX, NULL, "SECONDS",
     "the URL expires after SECONDS (default 900)"},
    {"PUBLIC_URL", "public-url", 0, CFG_STR, OFF(public_url), 0, 0, NULL, "BASE",
     "base of the URL (default: the running server's, from DIR/http.json, else "
     "http://127.0.0.1:8080)"},
    {NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "print JSON"},
    {NULL, "s3", 0, CFG_SET, OFF(s3), 1, 0, NULL, NULL,
     "a presigned S3 GET URL of the exported capture, straight from the bucket"},
    EXPORT_S3_OPTS(struct serve_settings, s3cfg),
};
static const struct cfg_opt token_opts[] = {
    {NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
     "the evidence folder (default ./output)"},
    {NULL, "json", 0, CFG_SET, OFF(json), 1, 0, NULL, NULL, "token list: print JSON"},
    {NULL, "role", 0, CFG_STR, OFF(role), 0, 0, NULL, "ROLE",
     "token add: viewer (reads), operator (also download URLs, captures; the default) or "
     "admin (also audit verification, tokens)"},
};
#define N_OPTS(t) (sizeof t / sizeof t[0])

static void defaults(struct serve_settings *s)
{
	memset(s, 0, sizeof *s);
	s->outdir = "./output";
	s->http = HTTPD_DEFAULT_LISTEN;
	s->retention_days = 7;
	s->url_ttl = HTTPD_DEFAULT_TTL;
}

/*
 * Environment, then argv with positional arguments anywhere (argv[0] is the command name): the
 * positionals go to pos[] (at most maxpos; more is a usage error). Returns -1 to go on, or the
 * exit status (0 after --help, EXIT_USAGE on error).
 */
static int parse(const struct cfg_opt *opts, size_t n, struct serve_settings *s, int argc,
		 char **argv, char **pos, int maxpos, int *npos, const char *usage)
{
	char err[512];
	defaults(s);
	int rc = cfg_parse_command(opts, n, s, argc, argv, pos, maxpos, npos, usage, err,
				   sizeof err);
	if (rc < 0)
		log_err("%s", err);
	return rc < 0 ? EXIT_USAGE : rc > 0 ? 0 : -1;
}

/* ---- serve ---------------------------------------------------------------------------------- */

int cmd_serve_main(int argc, char **argv)
{
	struct serve_settings s;
	char err[8600];
	int npos;
	const char *usage = "ringcap serve [-o DIR] [--http ADDR:PORT] [--public-url BASE] "
			    "[--retention-days DAYS] [--url-ttl S]";
	int rc = parse(serve_opts, N_OPTS(serve_opts), &s, argc, argv, NULL, 0, &npos, usage);
	if (rc >= 0)
		return rc;
	log_set_verbosity(s.quiet, s.verbose);
	if (s.log.syslog && log_to_syslog(s.log.socket, s.log.facility, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}

	/*
	 * SIGINT/SIGTERM are blocked before any thread starts (the store's worker and
	 * libmicrohttpd's threads inherit the mask), so only sigwait() below receives them.
	 */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cmd_prepare_outdir(s.outdir, s.group) != 0)
		return EXIT_USAGE;
	/* the worker seals leftovers and sweeps retention hourly; serve captures nothing */
	struct store_config sc = {
	    .dir = s.outdir, .retention_ns = (int64_t)(s.retention_days * DAY_NS), .worker = 1};
	store_t *store = store_open(&sc, err, sizeof err);
	if (!store) {
		log_err("%s", err);
		return 1;
	}
	struct httpd_config hc = {
	    .listen = s.http, .public_url = s.public_url, .store = store, .url_ttl_s = s.url_ttl};
	httpd_t *h = httpd_start(&hc, err, sizeof err);
	if (!h) {
		log_err("%s", err);
		store_close(store);
		return strstr(err, "invalid") ? EXIT_USAGE : 1;
	}
	log_info(
	    "serving the HTTP API and console over %s on http://%s/ (review mode: no capture); "
	    "stop with Ctrl-C",
	    s.outdir, httpd_address(h));
	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	log_info("stopping on signal %d", sig);
	httpd_stop(h);
	store_close(store);
	return 0;
}

/* ---- url ------------------------------------------------------------------------------------ */

/* The public URL of the server running on dir (DIR/http.json), copied to out; 0 or -1. */
static int running_public_url(const char *dir, char *out, size_t len)
{
	char path[4200];
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/%s", dir, HTTPD_INFO_FILE);
	json_t *o = json_load_file(path, 0, &jerr);
	const char *u = json_string_value(json_object_get(o, "public_url"));
	int ok = u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
		 strlen(u) < len && !strpbrk(u, " \"?#");
	if (ok)
		snprintf(out, len, "%s", u);
	json_decref(o);
	return ok ? 0 : -1;
}

/*
 * `ringcap url ID --s3': a SigV4 presigned GET URL of the incident's exported capture, so that
 * a download does not pass through the agent. The object must be exported (queue row done).
 */
static int url_s3(const struct serve_settings *s, long id)
{
	char err[S3_ERRBUF_SIZE + 512], ref[24], url[4096], when[48];
	struct export_config ec;
	struct db_export row;
	struct s3_config sc;
	s3_t *c = NULL;
	int ret = 1;
	if (export_config_load(&s->s3cfg, 1, &ec, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	struct stat st;
	store_t *store = NULL;
	if (stat(s->outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("no evidence folder `%s' (give the agent's -o DIR)", s->outdir);
		goto out;
	}
	struct store_config stc = {.dir = s->outdir, .retention_ns = 0, .worker = 0};
	store = store_open(&stc, err, sizeof err);
	if (!store) {
		log_err("%s", err);
		goto out;
	}
	snprintf(ref, sizeof ref, "%ld", id);
	int rc = db_export_get(store_db(store), "incident", ref, &row, err, sizeof err);
	if (rc == DB_ENOTFOUND) {
		log_err("incident %ld is not exported to S3 (not in the export queue: `ringcap "
			"export %ld')", id, id);
		goto out;
	}
	if (rc != 0) {
		log_err("%s", err);
		goto out;
	}
	if (strcmp(row.state, "done") != 0) {
		log_err("incident %ld is not exported yet (export %s%s%s)", id, row.state,
			row.last_error[0] ? ": " : "", row.last_error);
		goto out;
	}
	if (strcmp(row.bucket, ec.bucket) != 0) {
		log_err("incident %ld was exported to bucket `%s', not to S3_BUCKET `%s'", id,
			row.bucket, ec.bucket);
		goto out;
	}
	export_s3_config(&ec, &sc);
	c = s3_new(&sc, err, sizeof err);
	if (!c) {
		log_err("%s", err);
		goto out;
	}
	time_t now = (time_t)(store_now_ns() / NS_PER_S);
	if (s3_presign_get(c, row.object_key, (long)s->url_ttl, now, url, sizeof url, err,
			   sizeof err) != 0) {
		log_err("cannot sign the S3 URL: %s", err);
		goto out;
	}
	flow_json_time(((int64_t)now + s->url_ttl) * NS_PER_S, when, sizeof when);
	json_t *f = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "actor", "cli", "client", "local",
			      "incident", (json_int_t)id, "bucket", row.bucket, "key",
			      row.object_key, "expires", when);
	if (audit_append(store_audit(store), "s3_url_issued", f, err, sizeof err) < 0) {
		log_err("the audit trail cannot be written, so no URL is issued: %s", err);
		goto out;
	}
	if (s->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", url, "bucket", row.bucket,
				      "key", row.object_key, "expires_at", when, "expires_in",
				      (json_int_t)s->url_ttl);
		char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(o);
	} else {
		printf("%s\n", url);
		printf("expires at %s (in %" PRIu32 " s)\n", when, s->url_ttl);
	}
	ret = 0;
out:
	s3_free(c);
	export_config_clear(&ec);
	store_close(store);
	return ret;
}

int cmd_url_main(int argc, char **argv)
{
	struct serve_settings s;
	char err[8600], base[600], kid[VAULT_KEY_ID_MAX + 1], query[URLSIGN_QUERY_MAX], when[48];
	char *pos[1];
	int npos, ret = 1;
	uint8_t key[VAULT_KEY_LEN];
	struct urlsign_params p;
	struct db_incident inc;
	const char *usage = "ringcap url ID [-o DIR] [--ttl SECONDS] [--public-url BASE] [--json]\n"
			    "       ringcap url ID --s3 [-o DIR] [--ttl SECONDS] [--json] [S3 settings]";
	int rc = parse(url_opts, N_OPTS(url_opts), &s, argc, argv, pos, 1, &npos, usage);
	if (rc >= 0)
		return rc;
	if (npos != 1) {
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	long id = cfg_parse_id(pos[0], URLSIGN_ID_MAX);
	if (id < 0) {
		log_err("invalid incident ID `%s': expected a whole number from 1 to %ld", pos[0],
			URLSIGN_ID_MAX);
		return EXIT_USAGE;
	}
	if (s.s3)
		return url_s3(&s, id);
	const char *b = s.public_url;
	if (!b || !*b)
		b = running_public_url(s.outdir, base, sizeof base) == 0
			? base
			: "http://" HTTPD_DEFAULT_LISTEN;
	size_t bl = strlen(b);
	while (bl && b[bl - 1] == '/')
		bl--;
	if ((strncmp(b, "http://", 7) != 0 && strncmp(b, "https://", 8) != 0) ||
	    strpbrk(b, " \"?#")) {
		log_err("invalid --public-url `%s': expected http://HOST[:PORT][/PREFIX]", b);
		return EXIT_USAGE;
	}
	struct stat st;
	if (stat(s.outdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		log_err("no evidence folder `%s' (give the agent's -o DIR)", s.outdir);
		return 1;
	}
	struct store_config sc = {.dir = s.outdir, .retention_ns = 0, .worker = 0};
	store_t *store = store_open(&sc, err, sizeof err);
	if (!store) {
		log_err("%s", err);
		return 1;
	}
	rc = db_get_incident(store_db(store), id, &inc, err, sizeof err);
	if (rc == DB_ENOTFOUND) {
		log_err("no incident %ld in `%s'", id, s.outdir);
		goto out;
	}
	if (rc != 0) {
		log_err("%s", err);
		goto out;
	}
	if (inc.expired) {
		log_err("the capture of incident %ld was deleted by retention: nothing to download",
			id);
		goto out;
	}
	if (!inc.has_file) {
		log_err("incident %ld has no sealed capture (yet): nothing to download", id);
		goto out;
	}
	int64_t exp = store_now_ns() / NS_PER_S + s.url_ttl;
	if (store_url_key(store, NULL, key, kid) != 0) {
		log_err("no URL signing key in the key file of `%s'", s.outdir);
		goto out;
	}
	rc = urlsign_sign(key, kid, id, exp, &p, err, sizeof err);
	OPENSSL_cleanse(key, sizeof key);
	if (rc != 0 || urlsign_query(&p, query, sizeof query) != 0) {
		log_err("cannot sign the URL: %s", err);
		goto out;
	}
	flow_json_time(exp * NS_PER_S, when, sizeof when);
	json_t *f = json_pack("{s:s,s:s,s:I,s:s,s:s}", "actor", "cli", "client", "local",
			      "incident", (json_int_t)id, "url_id", p.uid, "expires", when);
	if (audit_append(store_audit(store), "url_issued", f, err, sizeof err) < 0) {
		log_err("the audit trail cannot be written, so no URL is issued: %s", err);
		goto out;
	}
	if (s.json) {
		char url[1200];
		snprintf(url, sizeof url, "%.*s/api/v1/incidents/%ld/pcap?%s", (int)bl, b, id,
			 query);
		json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "url", url, "url_id", p.uid,
				      "expires_at", when, "expires_in", (json_int_t)s.url_ttl);
		char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(o);
	} else {
		printf("%.*s/api/v1/incidents/%ld/pcap?%s\n", (int)bl, b, id, query);
		printf("expires at %s (in %" PRIu32 " s)\n", when, s.url_ttl);
		printf("wget -O incident-%ld.%s \"%.*s/api/v1/incidents/%ld/pcap?%s\"\n", id,
		       strcmp(inc.file.format, "pcapng") == 0 ? "pcapng" : "pcap", (int)bl, b, id,
		       query);
	}
	ret = 0;
out:
	store_close(store);
	return ret;
}

/* ---- token ---------------------------------------------------------------------------------- */

/* Writes token_added/token_revoked to DIR's audit trail. Returns 0 or -1 (err). */
static int token_audit(const char *dir, const char *event, const char *name, const char *role,
		       char *err, size_t errlen)
{
	char kpath[4200];
	keys_t *k = NULL;
	audit_t *a = NULL;
	int ret = -1;
	if (keys_path(dir, kpath, sizeof kpath) != 0) {
		snprintf(err, errlen, "the folder name `%s' is too long", dir);
		return -1;
	}
	if (keys_load_or_create(kpath, &k, err, errlen) != 0)
		return -1;
	if (audit_open(dir, k, &a, err, errlen) == 0 &&
	    audit_append(a, event,
			 role ? json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "actor", "cli")
			      : json_pack("{s:s,s:s}", "name", name, "actor", "cli"),
			 err, errlen) > 0)
		ret = 0;
	audit_close(a);
	keys_free(k);
	return ret;
}

int cmd_token_main(int argc, char **argv)
{
	struct serve_settings s;
	char err[8600], tok[TOKEN_LEN + 1];
	char *pos[2];
	int npos;
	const char *usage = "ringcap token add NAME [--role viewer|operator|admin] [-o DIR]\n"
			    "       ringcap token list [-o DIR] [--json]\n"
			    "       ringcap token revoke NAME [-o DIR]";
	int rc = parse(token_opts, N_OPTS(token_opts), &s, argc, argv, pos, 2, &npos, usage);
	if (rc >= 0)
		return rc;
	const char *verb = npos ? pos[0] : "";
	int add = strcmp(verb, "add") == 0, revoke = strcmp(verb, "revoke") == 0,
	    list = strcmp(verb, "list") == 0;
	if (!(add || revoke || list) || npos != (list ? 1 : 2)) {
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	if (list) {
		struct token_info *v = NULL;
		int n = tokens_list(s.outdir, &v, err, sizeof err);
		if (n < 0) {
			log_err("%s", err);
			return 1;
		}
		if (s.json) {
			for (int i = 0; i < n; i++)
				printf("{\"name\":\"%s\",\"created\":\"%s\",\"role\":\"%s\"}\n",
				       v[i].name, v[i].created, tokens_role_name(v[i].role));
		} else {
			printf("%-32s %-8s %s\n", "NAME", "ROLE", "CREATED");
			for (int i = 0; i < n; i++)
				printf("%-32s %-8s %s\n", v[i].name, tokens_role_name(v[i].role),
				       v[i].created);
		}
		free(v);
		return 0;
	}
	const char *name = pos[1];
	int role = TOKEN_ROLE_DEFAULT;
	if (s.role && (!add || (role = tokens_role_parse(s.role)) < 0)) {
		if (!add)
			log_err("--role goes with `token add' only");
		else
			log_err("invalid --role `%s': expected viewer, operator or admin", s.role);
		return EXIT_USAGE;
	}
	if (!tokens_name_valid(name)) {
		log_err("invalid token name `%s': expected 1..32 characters of [A-Za-z0-9._-]",
			name);
		return EXIT_USAGE;
	}
	if (revoke) {
		rc = tokens_revoke(s.outdir, name, err, sizeof err);
		if (rc != 0) {
			log_err("%s", err);
			return 1;
		}
		if (token_audit(s.outdir, "token_revoked", name, NULL, err, sizeof err) != 0)
			log_warn("token `%s' revoked, but the audit trail cannot be written: %s",
				 name, err);
		log_info("token `%s' revoked", name);
		return 0;
	}
	if (files_mkdirs(s.outdir) != 0) {
		log_err("cannot create folder `%s': %s", s.outdir, strerror(errno));
		return 1;
	}
	rc = tokens_add_role(s.outdir, name, role, tok, err, sizeof err);
	if (rc != 0) {
		log_err("%s", err);
		return 1;
	}
	if (token_audit(s.outdir, "token_added", name, tokens_role_name(role), err, sizeof err) != 0) {
		char e2[512];
		log_err("the audit trail cannot be written, so the token is withdrawn: %s", err);
		if (tokens_revoke(s.outdir, name, e2, sizeof e2) != 0)
			log_err("%s", e2);
		OPENSSL_cleanse(tok, sizeof tok);
		return 1;
	}
	printf("%s\n", tok);
	fflush(stdout);
	OPENSSL_cleanse(tok, sizeof tok);
	log_info("token `%s' (%s) added; it is shown only now (the server keeps only its SHA-256). "
		 "Use it as: Authorization: Bearer TOKEN",
		 name, tokens_role_name(role));
	return 0;
}
