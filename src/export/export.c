/*
 * export.c - the export queue worker and one-off exports to S3-compatible object storage; see
 * export.h for the design.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/clock.h"
#include "vault/audit.h"
#include "export/export.h"
#include "outputs/flow_json.h"
#include "base/files.h"
#include "base/log.h"
#include "outputs/pcapw.h"

#define IDLE_POLL_NS (30 * NS_PER_S) /* look at the queue at least this often */
#define CRED_FILE_MAX 4096

/* ---- settings ----------------------------------------------------------------------------- */

int export_parse_credentials(const char *text, size_t len, const char *path, char *access,
			     size_t alen, char *secret, size_t slen, char *err, size_t errlen)
{
	int have_a = 0, have_s = 0, lineno = 0;
	const char *p = text, *end = text + len;
	access[0] = secret[0] = '\0';
	if (memchr(text, '\0', len)) {
		set_err(err, errlen, "credentials file `%s' is not text", path);
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *k, *ke, *v, *ve, *eq;
		lineno++;
		k = p;
		p = nl ? nl + 1 : end;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		ve = le;
		while (ve > k && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		if (k == ve || *k == '#')
			continue;
		eq = memchr(k, '=', (size_t)(ve - k));
		if (!eq) {
			set_err(err, errlen, "%s:%d: expected `access_key = ...' or `secret_key = ...'",
				path, lineno);
			return -1;
		}
		ke = eq;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		v = eq + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		size_t kl = (size_t)(ke - k), vl = (size_t)(ve - v);
		char *dst;
		size_t cap;
		int *seen;
		if (kl == 10 && !memcmp(k, "access_key", 10)) {
			dst = access, cap = alen, seen = &have_a;
		} else if (kl == 10 && !memcmp(k, "secret_key", 10)) {
			dst = secret, cap = slen, seen = &have_s;
		} else {
			set_err(err, errlen, "%s:%d: unknown key (expected access_key or secret_key)",
				path, lineno);
			return -1;
		}
		if (*seen) {
			set_err(err, errlen, "%s:%d: %.10s given twice", path, lineno, k);
			return -1;
		}
		if (!vl || vl >= cap) {
			set_err(err, errlen, "%s:%d: %.10s is empty or too long", path, lineno, k);
			return -1;
		}
		for (size_t i = 0; i < vl; i++)
			if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) {
				set_err(err, errlen, "%s:%d: %.10s holds a blank or control character",
					path, lineno, k);
				return -1;
			}
		memcpy(dst, v, vl);
		dst[vl] = '\0';
		*seen = 1;
	}
	if (!have_a || !have_s) {
		set_err(err, errlen, "credentials file `%s' lacks %s", path,
			!have_a ? "access_key = ..." : "secret_key = ...");
		OPENSSL_cleanse(secret, slen);
		return -1;
	}
	return 0;
}

/* Reads S3_CREDENTIALS_FILE, refusing it like the vault's key file when others could read it. */
static int load_credentials(const char *path, struct export_config *c, char *err, size_t errlen)
{
	char buf[CRED_FILE_MAX + 1];
	size_t len = 0;
	int ret = -1;

	if (files_read_secret("S3_CREDENTIALS_FILE", path, geteuid(), buf, sizeof buf, &len, err,
			      errlen) != 0)
		goto out;
	ret = export_parse_credentials(buf, len, path, c->access_key, sizeof c->access_key,
				       c->secret_key, sizeof c->secret_key, err, errlen);
out:
	OPENSSL_cleanse(buf, sizeof buf);
	return ret;
}

/* PREFIX: printable, no "." or ".." segment, no empty segment; leading/trailing '/' dropped. */
static int prefix_ok(const char *in, char *out, size_t len, char *err, size_t errlen)
{
	while (*in == '/')
		in++;
	size_t n = strlen(in);
	while (n && in[n - 1] == '/')
		n--;
	if (n >= len || n > 200) {
		set_err(err, errlen, "invalid S3_PREFIX `%.60s...': longer than 200 bytes", in);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f || in[i] == '\\') {
			set_err(err, errlen, "invalid S3_PREFIX `%.200s': control character or "
				"backslash", in);
			return -1;
		}
	memcpy(out, in, n);
	out[n] = '\0';
	for (char *seg = out; seg && *seg;) {
		char *slash = strchr(seg, '/');
		size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
		if (!sl || (sl == 1 && seg[0] == '.') || (sl == 2 && !memcmp(seg, "..", 2))) {
			set_err(err, errlen, "invalid S3_PREFIX `%s': empty, `.' or `..' path segment",
				out);
			return -1;
		}
		seg = slash ? slash + 1 : NULL;
	}
	return 0;
}

static int agent_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-';
}

static int agent_from(const char *given, char *out, size_t len, char *err, size_t errlen)
{
	if (given) {
		size_t n = strlen(given);
		int ok = n >= 1 && n < len && n <= 64 && strcmp(given, ".") && strcmp(given, "..");
		for (size_t i = 0; ok && i < n; i++)
			ok = agent_char(given[i]);
		if (!ok) {
			set_err(err, errlen, "invalid RINGCAP_AGENT `%.100s': expected 1..64 characters "
				"of [A-Za-z0-9._-]", given);
			return -1;
		}
		snprintf(out, len, "%s", given);
		return 0;
	}
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	size_t w = 0;
	for (size_t i = 0; host[i] && w + 1 < len && w < 64; i++)
		out[w++] = agent_char(host[i]) ? host[i] : '-';
	out[w] = '\0';
	if (!w || !strcmp(out, ".") || !strcmp(out, ".."))
		snprintf(out, len, "agent");
	return 0;
}

/* Copies a setting into a fixed field; -1 with a message naming var if it does not fit. */
static int copy_setting(char *dst, size_t cap, const char *v, const char *var, char *err,
			size_t errlen)
{
	if (strlen(v) >= cap) {
		set_err(err, errlen, "invalid %s: longer than %zu bytes", var, cap - 1);
		return -1;
	}
	snprintf(dst, cap, "%s", v);
	return 0;
}

int export_config_load(const struct export_settings *st, int need_s3, struct export_config *c,
		       char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->mode = st->mode == 1 ? EXPORT_INCIDENTS : st->mode == 2 ? EXPORT_INCIDENTS_PCAPS
								   : EXPORT_OFF;
	c->encrypted = st->encrypted;
	c->multipart_bytes =
		(uint64_t)(st->multipart_mib ? st->multipart_mib : EXPORT_DEFAULT_MULTIPART_MIB) << 20;
	c->max_send_rate = st->max_send_rate;
	if (c->mode != EXPORT_OFF)
		need_s3 = 1;
	if (prefix_ok(st->prefix ? st->prefix : "", c->prefix, sizeof c->prefix, err, errlen) ||
	    agent_from(st->agent, c->agent, sizeof c->agent, err, errlen))
		goto fail;
	if (!need_s3)
		return 0;
	if (!st->endpoint || !*st->endpoint) {
		set_err(err, errlen, "S3_ENDPOINT is not set: expected http[s]://HOST[:PORT] of the "
			"object store (--s3-endpoint)");
		goto fail;
	}
	if (strncmp(st->endpoint, "http://", 7) && strncmp(st->endpoint, "https://", 8)) {
		set_err(err, errlen, "invalid S3_ENDPOINT `%.200s': expected http[s]://HOST[:PORT]",
			st->endpoint);
		goto fail;
	}
	if (!st->bucket || !*st->bucket) {
		set_err(err, errlen, "S3_BUCKET is not set (--s3-bucket)");
		goto fail;
	}
	if (copy_setting(c->endpoint, sizeof c->endpoint, st->endpoint, "S3_ENDPOINT", err,
			 errlen) ||
	    copy_setting(c->bucket, sizeof c->bucket, st->bucket, "S3_BUCKET", err, errlen) ||
	    copy_setting(c->region, sizeof c->region,
			 st->region && *st->region ? st->region : S3_DEFAULT_REGION, "S3_REGION", err,
			 errlen))
		goto fail;
	if (st->credentials_file && *st->credentials_file) {
		if ((st->access_key && *st->access_key) || (st->secret_key && *st->secret_key)) {
			set_err(err, errlen, "give either S3_CREDENTIALS_FILE or S3_ACCESS_KEY and "
				"S3_SECRET_KEY, not both");
			goto fail;
		}
		if (load_credentials(st->credentials_file, c, err, errlen))
			goto fail;
	} else {
		if (!st->access_key || !*st->access_key) {
			set_err(err, errlen, "S3_ACCESS_KEY is not set (or give S3_CREDENTIALS_FILE)");
			goto fail;
		}
		if (!st->secret_key || !*st->secret_key) {
			set_err(err, errlen, "S3_SECRET_KEY is not set (or give S3_CREDENTIALS_FILE)");
			goto fail;
		}
		if (copy_setting(c->access_key, sizeof c->access_key, st->access_key, "S3_ACCESS_KEY",
				 err, errlen) ||
		    copy_setting(c->secret_key, sizeof c->secret_key, st->secret_key, "S3_SECRET_KEY",
				 err, errlen))
			goto fail;
	}
	/* the client checks the rest (endpoint form, bucket name, key characters, region) */
	struct s3_config sc;
	char e2[S3_ERRBUF_SIZE];
	export_s3_config(c, &sc);
	s3_t *probe = s3_new(&sc, e2, sizeof e2);
	if (!probe) {
		const char *var = strstr(e2, "endpoint")     ? "S3_ENDPOINT"
				  : strstr(e2, "bucket")     ? "S3_BUCKET"
				  : strstr(e2, "access key") ? "S3_ACCESS_KEY"
				  : strstr(e2, "secret key") ? "S3_SECRET_KEY"
				  : strstr(e2, "region")     ? "S3_REGION"
							     : "S3 settings";
		set_err(err, errlen, "%s: %s", var, e2);
		goto fail;
	}
	s3_free(probe);
	return 0;
fail:
	export_config_clear(c);
	return -1;
}

void export_config_clear(struct export_config *c)
{
	OPENSSL_cleanse(c->secret_key, sizeof c->secret_key);
}

void export_s3_config(const struct export_config *c, struct s3_config *out)
{
	memset(out, 0, sizeof *out);
	out->endpoint = c->endpoint;
	out->region = c->region;
	out->bucket = c->bucket;
	out->access_key = c->access_key;
	out->secret_key = c->secret_key;
	out->addressing = S3_ADDR_AUTO;
	out->multipart_threshold = c->multipart_bytes;
	out->part_size = c->multipart_bytes;
	out->max_send_rate = c->max_send_rate;
	out->part_retries = 2;
}

int export_object_key(const struct export_config *c, const char *dir, const char *name,
		      char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s%s/%s/%s", c->prefix, c->prefix[0] ? "/" : "", c->agent,
			 dir, name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int64_t export_backoff_ns(int attempts, uint32_t rnd)
{
	int64_t d = EXPORT_BACKOFF_BASE_NS;
	for (int i = 1; i < attempts && d < EXPORT_BACKOFF_MAX_NS; i++)
		d *= 2;
	if (d > EXPORT_BACKOFF_MAX_NS)
		d = EXPORT_BACKOFF_MAX_NS;
	/* "equal jitter": half fixed, half random, so retries of many rows spread out */
	int64_t half = d / 2;
	return half + (int64_t)((double)(d - half) * ((double)rnd / 4294967296.0));
}

/* ---- owners ------------------------------------------------------------------------------- */

/* Field 22 of /proc/PID/stat (start time in clock ticks); 0 if unreadable. */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024];
	unsigned long long v = 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++) { /* p is before field 3 */
		p = strchr(p + 1, ' ');
	}
	if (p && sscanf(p, " %llu", &v) != 1)
		v = 0;
	return v;
}

void export_owner_self(char *out, size_t len)
{
	long pid = (long)getpid();
	snprintf(out, len, "%ld:%llu", pid, proc_start(pid));
}

int export_owner_alive(void *unused, const char *owner)
{
	long pid;
	unsigned long long start;
	(void)unused;
	if (!owner || sscanf(owner, "%ld:%llu", &pid, &start) != 2 || pid <= 0)
		return 0;
	unsigned long long now = proc_start(pid);
	return now != 0 && now == start;
}

/* ---- the exporter ------------------------------------------------------------------------- */

/* A sealed capture decrypted on the fly, for s3_put_reader: one segment cached. */
struct plain_src {
	vault_reader_t *r;
	uint64_t size;
	uint8_t *seg;
	uint64_t seg_off;
	size_t seg_len;
	int have;
	char verr[512]; /* set when a segment did not verify */
};

struct exporter {
	store_t *store;
	db_t *db;
	struct export_config cfg;
	s3_t *s3;
	char owner[DB_EXPORT_OWNER_MAX];
	char pcapdir[PATH_MAX];
	uint8_t *seg; /* VAULT_SEG_LEN, for plain_src */
	struct db_export *cur; /* the row being uploaded, for the multipart hook */
	int bucket_made;

	pthread_t th;
	int running, stop, wake;
	unsigned gen, idle_gen; /* drain: idle_gen catches up with gen when nothing is due */
	pthread_mutex_t mu;
	pthread_cond_t cv, idle_cv;
	struct export_stats stats;
};

static int64_t now_ns(void)
{
	return store_now_ns();
}

static uint32_t rand32(void)
{
	uint32_t v = 0;
	if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
		v = (uint32_t)now_ns();
	return v;
}

static void time_str(int64_t ns, char *buf, size_t len)
{
	flow_json_time(ns, buf, len);
}

static void wake(exporter_t *e)
{
	pthread_mutex_lock(&e->mu);
	e->wake = 1;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

/* The multipart hook: keep the id of an open upload in the row, to abort it after a crash or
 * a failure whose abort did not get through. */
static void on_upload(void *ud, const char *key, const char *upload_id)
{
	exporter_t *e = ud;
	char err[512];
	(void)key;
	if (!e->cur)
		return;
	snprintf(e->cur->upload_id, sizeof e->cur->upload_id, "%s", upload_id ? upload_id : "");
	if (db_export_update(e->db, e->cur, e->owner, now_ns(), err, sizeof err) != 0)
		log_warn("export: %s", err);
}

exporter_t *export_new(store_t *store, const struct export_config *c, char *err, size_t errlen)
{
	exporter_t *e = calloc(1, sizeof *e);
	struct s3_config sc;
	if (!e || !(e->seg = malloc(VAULT_SEG_LEN))) {
		set_err(err, errlen, "out of memory");
		free(e);
		return NULL;
	}
	e->store = store;
	e->db = store_db(store);
	e->cfg = *c;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the worker's sleeps */
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, &ca);
	pthread_cond_init(&e->idle_cv, NULL);
	pthread_condattr_destroy(&ca);
	export_owner_self(e->owner, sizeof e->owner);
	export_s3_config(&e->cfg, &sc);
	e->s3 = s3_new(&sc, err, errlen);
	if (!e->s3) {
		export_free(e);
		return NULL;
	}
	s3_set_upload_hook(e->s3, on_upload, e);
	return e;
}

/* vault_read_range's sink: the segment into the cache. */
static int seg_sink(void *arg, const uint8_t *data, size_t len)
{
	struct plain_src *p = arg;
	if (len > VAULT_SEG_LEN - p->seg_len)
		return -1;
	memcpy(p->seg + p->seg_len, data, len);
	p->seg_len += len;
	return 0;
}

static ssize_t plain_read(void *ud, void *buf, size_t len, uint64_t off)
{
	struct plain_src *p = ud;
	if (off >= p->size)
		return 0;
	uint64_t base = off - off % VAULT_SEG_LEN;
	if (!p->have || p->seg_off != base) {
		uint64_t n = p->size - base < VAULT_SEG_LEN ? p->size - base : VAULT_SEG_LEN;
		p->have = 0;
		p->seg_len = 0;
		if (vault_read_range(p->r, base, n, seg_sink, p, p->verr, sizeof p->verr) != 0) {
			if (!p->verr[0])
				snprintf(p->verr, sizeof p->verr, "decryption failed");
			errno = EIO;
			return -1;
		}
		p->seg_off = base;
		p->have = 1;
	}
	size_t in = (size_t)(off - base);
	if (in >= p->seg_len) {
		errno = EIO;
		return -1;
	}
	size_t n = p->seg_len - in < len ? p->seg_len - in : len;
	memcpy(buf, p->seg + in, n);
	return (ssize_t)n;
}

static ssize_t fd_read(void *ud, void *buf, size_t len, uint64_t off)
{
	ssize_t got;
	do
		got = pread(*(const int *)ud, buf, len, (off_t)off);
	while (got < 0 && errno == EINTR);
	return got;
}

/* Uploads; on NoSuchBucket creates the bucket once and tries again. */
static int put_with_bucket(exporter_t *e, s3_read_fn rd, void *ud, uint64_t size,
			   const char *key, const struct s3_put_opts *o, struct s3_put_result *res,
			   char *err, size_t errlen)
{
	int r = s3_put_reader(e->s3, rd, ud, size, key, o, res, err, errlen);
	if (r == S3_ENOTFOUND && strstr(err, "NoSuchBucket") && !e->bucket_made) {
		char e2[S3_ERRBUF_SIZE];
		int b = s3_ensure_bucket(e->s3, e2, sizeof e2);
		if (b) {
			set_err(err, errlen, "the bucket `%s' does not exist and cannot be created: %s",
				e->cfg.bucket, e2);
			return b;
		}
		log_info("export: created bucket `%s' at %s", e->cfg.bucket, e->cfg.endpoint);
		e->bucket_made = 1;
		r = s3_put_reader(e->s3, rd, ud, size, key, o, res, err, errlen);
	}
	return r;
}

/* Outcome classes of one attempt. */
enum outcome { OUT_DONE, OUT_RETRY, OUT_FAILED, OUT_CANCELLED };

/* The outcome of a failed upload of the capture: cancelled, refused for good, or worth a retry. */
static enum outcome upload_outcome(int r)
{
	return r == S3_ECANCEL ? OUT_CANCELLED : r == S3_EINVAL ? OUT_FAILED : OUT_RETRY;
}

/* Records in the queue row what the bucket acknowledged. */
static void take_result(struct db_export *row, const struct s3_put_result *res)
{
	snprintf(row->etag, sizeof row->etag, "%s", res->etag);
	snprintf(row->sha256, sizeof row->sha256, "%s", res->sha256);
	row->size = res->size;
}

/* The metadata JSON next to an incident's capture: the index's copy of ID.json and an "export"
 * object saying what was uploaded. A new string or NULL. */
static char *incident_json(exporter_t *e, const struct db_incident *inc, const char *key,
			   const struct s3_put_result *res)
{
	char *text = NULL, err[512], when[40];
	json_error_t jerr;
	json_t *o = NULL;
	if (db_get_meta(e->db, inc->id, &text, err, sizeof err) == 0)
		o = json_loads(text, 0, &jerr);
	free(text);
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_pack("{s:I}", "id", (json_int_t)inc->id);
	}
	if (!o)
		return NULL;
	json_object_del(o, "storage");
	time_str(now_ns(), when, sizeof when);
	json_t *x = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "agent",
			      e->cfg.agent, "bucket", e->cfg.bucket, "object_key", key, "bytes",
			      (json_int_t)res->size, "etag", res->etag, "sha256", res->sha256,
			      "encrypted", e->cfg.encrypted, "format", inc->file.format,
			      "plain_sha256", inc->file.sha256, "exported_at", when,
			      "ringcap_version", RINGCAP_VERSION);
	if (x && e->cfg.encrypted)
		json_object_set_new(x, "key_id", json_string(inc->file.key_id));
	json_object_set_new(o, "export", x ? x : json_null());
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	return s;
}

/*
 * One attempt at an incident row (claimed). Sets row's key, etag, size, sha256 as it goes;
 * returns the outcome class with the error in err.
 */
/*
 * Before uploading row to key: aborts the multipart upload a failed attempt left open (its id is
 * in the row), then records the bucket and key in the row, so that an upload started now and cut
 * off is found and aborted next time. Returns 0, or -1 with *out and err set.
 */
static int start_attempt(exporter_t *e, struct db_export *row, const char *key, enum outcome *out,
			 char *err, size_t errlen)
{
	char e2[S3_ERRBUF_SIZE];
	if (row->upload_id[0] && row->object_key[0]) {
		int r = s3_abort_upload(e->s3, row->object_key, row->upload_id, e2, sizeof e2);
		if (r) {
			set_err(err, errlen, "cannot abort the multipart upload left by the last "
				"attempt: %s", e2);
			*out = r == S3_ECANCEL ? OUT_CANCELLED : OUT_RETRY;
			return -1;
		}
		log_info("export: aborted the multipart upload left open by the last attempt at "
			 "`%s'", row->object_key);
	}
	snprintf(row->bucket, sizeof row->bucket, "%s", e->cfg.bucket);
	snprintf(row->object_key, sizeof row->object_key, "%s", key);
	row->upload_id[0] = '\0';
	if (db_export_update(e->db, row, e->owner, now_ns(), e2, sizeof e2) != 0)
		log_warn("export: %s", e2);
	return 0;
}

static enum outcome export_incident_row(exporter_t *e, struct db_export *row, char *err,
					size_t errlen)
{
	char name[48], key[EXPORT_KEY_MAX], jkey[EXPORT_KEY_MAX], e2[S3_ERRBUF_SIZE];
	struct db_incident inc;
	struct s3_put_result res;
	vault_reader_t *vr = NULL;
	int fd = -1, r;
	enum outcome out = OUT_RETRY;
	char *end;
	errno = 0;
	long id = strtol(row->ref, &end, 10);
	if (errno || *end || id <= 0) {
		set_err(err, errlen, "bad incident reference `%s' in the export queue", row->ref);
		return OUT_FAILED;
	}
	if (e->cfg.encrypted)
		r = store_open_sealed(e->store, id, &fd, &inc, err, errlen);
	else
		r = store_open_capture(e->store, id, &vr, &inc, err, errlen);
	if (r == STORE_EEXPIRED) {
		if (inc.expired)
			set_err(err, errlen, "the capture of incident %ld was deleted by local "
				"retention (RETENTION_DAYS) before it could be exported", id);
		return OUT_FAILED; /* else err says the sealed file is missing */
	}
	if (r == STORE_ENOTFOUND || r == STORE_ENOFILE || r == STORE_EVAULT)
		return OUT_FAILED; /* err says which; a file that does not verify is not sent */
	if (r != 0)
		return OUT_RETRY;

	const char *fmt = strcmp(inc.file.format, "pcapng") == 0 ? "pcapng" : "pcap";
	snprintf(name, sizeof name, "%ld.%s%s", id, fmt, e->cfg.encrypted ? STORE_SEALED_EXT : "");
	if (export_object_key(&e->cfg, "incidents", name, key, sizeof key) ||
	    (snprintf(name, sizeof name, "%ld.json", id),
	     export_object_key(&e->cfg, "incidents", name, jkey, sizeof jkey))) {
		set_err(err, errlen, "the object key for incident %ld is too long", id);
		out = OUT_FAILED;
		goto done;
	}
	int same_object = !strcmp(row->object_key, key) && !strcmp(row->bucket, e->cfg.bucket);
	if (start_attempt(e, row, key, &out, err, errlen))
		goto done;

	/* the capture went up in an earlier attempt (the JSON did not): check it is still there */
	memset(&res, 0, sizeof res);
	int have = 0;
	if (same_object && row->etag[0]) {
		struct s3_object_info info;
		if (s3_head(e->s3, key, &info, e2, sizeof e2) == 0 && info.size == row->size &&
		    !strcasecmp(info.etag, row->etag)) {
			have = 1;
			res.size = row->size;
			snprintf(res.etag, sizeof res.etag, "%s", row->etag);
			snprintf(res.sha256, sizeof res.sha256, "%s", row->sha256);
		}
	}
	if (!have) {
		struct s3_kv meta[3] = {{"ringcap-agent", e->cfg.agent},
					{"ringcap-sha256", inc.file.sha256},
					{"ringcap-incident", row->ref}};
		struct s3_put_opts o = {.meta = meta, .nmeta = 3};
		struct plain_src ps = {0};
		row->etag[0] = row->sha256[0] = '\0';
		row->size = 0;
		if (e->cfg.encrypted) {
			struct stat st;
			o.content_type = "application/octet-stream";
			if (fstat(fd, &st) != 0) {
				set_err(err, errlen, "incident %ld: fstat: %s", id, strerror(errno));
				goto done;
			}
			r = put_with_bucket(e, fd_read, &fd, (uint64_t)st.st_size, key, &o, &res, err,
					    errlen);
		} else {
			o.content_type = strcmp(fmt, "pcapng") == 0 ? "application/x-pcapng"
								      : "application/vnd.tcpdump.pcap";
			ps.r = vr;
			ps.size = vault_plain_size(vr);
			ps.seg = e->seg;
			r = put_with_bucket(e, plain_read, &ps, ps.size, key, &o, &res, err, errlen);
			if (r == S3_EIO && ps.verr[0]) {
				set_err(err, errlen, "incident %ld: the sealed capture `%s' does not "
					"verify, nothing more is sent: %s", id, inc.file.name, ps.verr);
				out = OUT_FAILED;
				goto done;
			}
			if (!r && strcmp(res.sha256, inc.file.sha256)) {
				set_err(err, errlen, "incident %ld: the uploaded plaintext has SHA-256 %s, "
					"the index says %s", id, res.sha256, inc.file.sha256);
				out = OUT_FAILED;
				goto done;
			}
		}
		if (r) {
			out = upload_outcome(r);
			goto done;
		}
		take_result(row, &res);
		if (db_export_update(e->db, row, e->owner, now_ns(), e2, sizeof e2) != 0)
			log_warn("export: %s", e2);
	}

	/* the metadata next to it, after the capture */
	char *json = incident_json(e, &inc, key, &res);
	if (!json) {
		set_err(err, errlen, "incident %ld: out of memory formatting its metadata", id);
		goto done;
	}
	r = s3_put_buffer(e->s3, jkey, json, strlen(json), "application/json", NULL, err, errlen);
	free(json);
	if (r) {
		out = r == S3_ECANCEL ? OUT_CANCELLED : OUT_RETRY;
		goto done;
	}
	out = OUT_DONE;
done:
	vault_reader_close(vr);
	if (fd >= 0)
		close(fd);
	return out;
}

/* One attempt at a continuous file row (claimed). */
static enum outcome export_pcap_row(exporter_t *e, struct db_export *row, char *err,
				    size_t errlen)
{
	char key[EXPORT_KEY_MAX], path[PATH_MAX + 64];
	struct s3_put_result res;
	struct stat st;
	enum outcome out = OUT_RETRY;
	int r;
	if (!pcapw_parse_name(row->ref, NULL, NULL) || strstr(row->ref, ".part")) {
		set_err(err, errlen, "bad file name `%s' in the export queue", row->ref);
		return OUT_FAILED;
	}
	if (export_object_key(&e->cfg, "pcaps", row->ref, key, sizeof key)) {
		set_err(err, errlen, "the object key for `%s' is too long", row->ref);
		return OUT_FAILED;
	}
	snprintf(path, sizeof path, "%s/%s", e->pcapdir, row->ref);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			set_err(err, errlen, "`%s' was deleted by local retention (PCAP_RETENTION_COUNT) "
				"before it could be exported", path);
			return OUT_FAILED;
		}
		set_err(err, errlen, "cannot open `%s': %s", path, strerror(errno));
		return errno == ELOOP ? OUT_FAILED : OUT_RETRY;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "`%s' is not a regular file", path);
		out = OUT_FAILED;
		goto done;
	}
	if (start_attempt(e, row, key, &out, err, errlen))
		goto done;
	struct s3_kv meta[1] = {{"ringcap-agent", e->cfg.agent}};
	struct s3_put_opts o = {.content_type = "application/vnd.tcpdump.pcap", .meta = meta,
				.nmeta = 1};
	r = put_with_bucket(e, fd_read, &fd, (uint64_t)st.st_size, key, &o, &res, err, errlen);
	if (r) {
		out = upload_outcome(r);
		goto done;
	}
	take_result(row, &res);
	out = OUT_DONE;
done:
	close(fd);
	return out;
}

/* Audit record for an outcome. */
static void audit_outcome(exporter_t *e, const struct db_export *row, enum outcome out,
			  const char *error, int64_t next_ns)
{
	char err[512], when[40];
	const char *event = out == OUT_DONE ? "export_done" : out == OUT_FAILED ? "export_failed"
										 : "export_retry";
	json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:i}", "kind", row->kind, "bucket", e->cfg.bucket,
			      "key", row->object_key, "endpoint", e->cfg.endpoint, "attempt",
			      row->attempts);
	if (!f)
		return;
	if (!strcmp(row->kind, "incident"))
		json_object_set_new(f, "incident", json_integer(strtol(row->ref, NULL, 10)));
	else
		json_object_set_new(f, "file", json_string(row->ref));
	if (out == OUT_DONE) {
		json_object_set_new(f, "etag", json_string(row->etag));
		json_object_set_new(f, "size", json_integer((json_int_t)row->size));
		json_object_set_new(f, "sha256", json_string(row->sha256));
		json_object_set_new(f, "encrypted",
				    json_boolean(e->cfg.encrypted && !strcmp(row->kind, "incident")));
	} else {
		json_object_set_new(f, "error", json_string(error));
		if (out != OUT_FAILED) {
			time_str(next_ns, when, sizeof when);
			json_object_set_new(f, "next_attempt_at", json_string(when));
		}
	}
	if (audit_append(store_audit(e->store), event, f, err, sizeof err) < 0)
		log_warn("export: audit record not written: %s", err);
}

/*
 * One claimed row: upload it and record the outcome (row, audit, log, ID.json). Returns the
 * outcome.
 */
static enum outcome process_row(exporter_t *e, struct db_export *row)
{
	char err[S3_ERRBUF_SIZE], e2[512], what[96], when[40];
	enum outcome out;
	int incident = !strcmp(row->kind, "incident");
	err[0] = '\0';
	if (incident)
		snprintf(what, sizeof what, "incident %s", row->ref);
	else
		snprintf(what, sizeof what, "`%s'", row->ref);
	if (incident)
		store_refresh_meta(e->store, strtol(row->ref, NULL, 10)); /* "uploading" */
	e->cur = row;
	out = incident ? export_incident_row(e, row, err, sizeof err)
		       : export_pcap_row(e, row, err, sizeof err);
	e->cur = NULL;
	int64_t now = now_ns(), next = 0;
	switch (out) {
	case OUT_DONE:
		snprintf(row->state, sizeof row->state, "done");
		row->last_error[0] = '\0';
		row->done_ns = now;
		row->next_attempt_ns = 0;
		log_info("export: %s uploaded to s3://%s/%s (%llu bytes, ETag %s)", what,
			 e->cfg.bucket, row->object_key, (unsigned long long)row->size, row->etag);
		break;
	case OUT_FAILED:
		snprintf(row->state, sizeof row->state, "failed");
		snprintf(row->last_error, sizeof row->last_error, "%.*s",
			 (int)sizeof row->last_error - 1, err);
		log_warn("export: %s not exported: %s (`ringcap export' tries it again by hand)",
			 what, err);
		break;
	case OUT_CANCELLED:
		snprintf(row->state, sizeof row->state, "queued");
		snprintf(row->last_error, sizeof row->last_error,
			 "interrupted: the exporter stopped during the upload");
		row->next_attempt_ns = next = now;
		log_info("export: upload of %s interrupted; it stays queued", what);
		break;
	default:
		snprintf(row->state, sizeof row->state, "queued");
		snprintf(row->last_error, sizeof row->last_error, "%.*s",
			 (int)sizeof row->last_error - 1, err);
		next = now + export_backoff_ns(row->attempts, rand32());
		row->next_attempt_ns = next;
		time_str(next, when, sizeof when);
		log_warn("export: %s: attempt %d failed: %s; next attempt at %s", what, row->attempts,
			 err, when);
		break;
	}
	if (db_export_update(e->db, row, e->owner, now, e2, sizeof e2) != 0)
		log_warn("export: %s", e2);
	audit_outcome(e, row, out, out == OUT_CANCELLED ? row->last_error : err, next);
	if (incident)
		store_refresh_meta(e->store, strtol(row->ref, NULL, 10));
	pthread_mutex_lock(&e->mu);
	if (out == OUT_DONE)
		e->stats.done++;
	else if (out == OUT_FAILED)
		e->stats.failed++;
	else
		e->stats.retried++;
	pthread_mutex_unlock(&e->mu);
	return out;
}

static void *worker(void *arg)
{
	exporter_t *e = arg;
	char err[512];
	int warned = 0;
	pthread_setname_np(pthread_self(), "ringcap-export");
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		unsigned gen = e->gen;
		e->wake = 0;
		pthread_mutex_unlock(&e->mu);
		struct db_export row;
		int r = db_export_claim(e->db, 0, now_ns(), e->owner, 0, &row, err, sizeof err);
		if (r == 0) {
			warned = 0;
			process_row(e, &row);
			pthread_mutex_lock(&e->mu);
			continue;
		}
		if (r != DB_ENOTFOUND && !warned++)
			log_warn("export: %s", err);
		/* nothing due: sleep until the next row is due, a wake-up, or a while */
		int64_t when = 0, now = now_ns();
		int64_t wait = IDLE_POLL_NS;
		if (r == DB_ENOTFOUND && db_export_next_due(e->db, &when, err, sizeof err) == 0 &&
		    when - now < wait)
			wait = when > now ? when - now : 0;
		if (r != DB_ENOTFOUND)
			wait = NS_PER_S;
		pthread_mutex_lock(&e->mu);
		if (e->idle_gen < gen) { /* nothing due, or the index fails: a drain is over */
			e->idle_gen = gen;
			pthread_cond_broadcast(&e->idle_cv);
		}
		if (e->stop || e->wake || !wait)
			continue;
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		int64_t t = (int64_t)until.tv_sec * NS_PER_S + until.tv_nsec + wait;
		until.tv_sec = (time_t)(t / NS_PER_S);
		until.tv_nsec = (long)(t % NS_PER_S);
		pthread_cond_timedwait(&e->cv, &e->mu, &until);
	}
	e->idle_gen = e->gen;
	pthread_cond_broadcast(&e->idle_cv);
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

static void store_hook(void *ud, long id)
{
	(void)id;
	wake(ud);
}

void export_pcap_finished(void *ud, const char *name)
{
	exporter_t *e = ud;
	char err[512];
	if (!e || e->cfg.mode != EXPORT_INCIDENTS_PCAPS)
		return;
	int r = db_export_enqueue(e->db, "pcap", name, now_ns(), err, sizeof err);
	if (r < 0) {
		log_warn("export: `%s' not queued: %s; it will be at the next start", name, err);
		return;
	}
	if (r > 0)
		wake(e);
}

static int name_cmp(const void *a, const void *b)
{
	struct pcapw_fileid x, y;
	const char *const *na = a, *const *nb = b;
	pcapw_parse_name(*na, &x, NULL);
	pcapw_parse_name(*nb, &y, NULL);
	if (x.seq != y.seq)
		return x.seq < y.seq ? -1 : 1;
	return strcmp(*na, *nb);
}

/* Queues the finished continuous files in pcapdir that are not queued yet, oldest first. */
static int backfill_pcaps(exporter_t *e, char *err, size_t errlen)
{
	DIR *d = opendir(e->pcapdir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int added = 0;
	struct dirent *de;
	if (!d)
		return errno == ENOENT ? 0 : (set_err(err, errlen, "cannot list `%s': %s",
						      e->pcapdir, strerror(errno)), -1);
	while ((de = readdir(d)) != NULL) {
		int part;
		if (!pcapw_parse_name(de->d_name, NULL, &part) || part)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nn = realloc(names, nc * sizeof *nn);
			if (!nn)
				break;
			names = nn;
			cap = nc;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n; i++) {
		int r = db_export_enqueue(e->db, "pcap", names[i], now_ns(), err, errlen);
		if (r > 0)
			added++;
		free(names[i]);
	}
	free(names);
	return added;
}

int export_start(exporter_t *e, const char *pcap_dir, char *err, size_t errlen)
{
	int64_t now = now_ns();
	int r;
	snprintf(e->pcapdir, sizeof e->pcapdir, "%s", pcap_dir ? pcap_dir : "");
	r = db_export_requeue_stale(e->db, export_owner_alive, NULL, now, err, errlen);
	if (r < 0)
		return -1;
	if (r)
		log_info("export: %d upload(s) interrupted by a stop or crash queued again", r);
	r = db_export_backfill(e->db, now, err, errlen);
	if (r < 0)
		return -1;
	if (r)
		log_info("export: %d sealed incident capture(s) queued", r);
	if (e->cfg.mode == EXPORT_INCIDENTS_PCAPS && e->pcapdir[0]) {
		r = backfill_pcaps(e, err, errlen);
		if (r < 0)
			return -1;
		if (r)
			log_info("export: %d finished continuous file(s) queued", r);
	}
	if (pthread_create(&e->th, NULL, worker, e) != 0) {
		set_err(err, errlen, "cannot start the export thread");
		return -1;
	}
	e->running = 1;
	store_set_export_hook(e->store, store_hook, e);
	return 0;
}

int export_drain(exporter_t *e, const volatile sig_atomic_t *interrupt)
{
	if (!e || !e->running)
		return 0;
	pthread_mutex_lock(&e->mu);
	unsigned gen = ++e->gen;
	e->wake = 1;
	pthread_cond_signal(&e->cv);
	while (e->idle_gen < gen && !(interrupt && *interrupt)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000 * 1000;
		if (until.tv_nsec >= NS_PER_S) {
			until.tv_sec++;
			until.tv_nsec -= NS_PER_S;
		}
		pthread_cond_timedwait(&e->idle_cv, &e->mu, &until);
	}
	pthread_mutex_unlock(&e->mu);
	return 0;
}

int export_incident_now(exporter_t *e, long id, int force, struct db_export *out, char *err,
			size_t errlen)
{
	char ref[24];
	struct db_incident inc;
	memset(out, 0, sizeof *out);
	snprintf(ref, sizeof ref, "%ld", id);
	int r = db_get_incident(e->db, id, &inc, err, errlen);
	if (r == DB_ENOTFOUND) {
		set_err(err, errlen, "no incident %ld", id);
		return EXPORT_ENOTFOUND;
	}
	if (r)
		return EXPORT_ERROR;
	if (db_export_get(e->db, "incident", ref, out, err, errlen) == DB_ENOTFOUND) {
		/* not queued: only a sealed capture can go */
		if (inc.expired || !inc.has_file) {
			set_err(err, errlen, "incident %ld has no sealed capture to export%s", id,
				inc.expired ? " (deleted by retention)"
				: !strcmp(inc.state, "open") ? " (it is still open)" : "");
			return EXPORT_ENOTFOUND;
		}
		if (db_export_enqueue(e->db, "incident", ref, now_ns(), err, errlen) < 0 ||
		    db_export_get(e->db, "incident", ref, out, err, errlen) != 0)
			return EXPORT_ERROR;
	}
	r = db_export_claim(e->db, out->row, now_ns(), e->owner, force, out, err, errlen);
	if (r == DB_EBUSY && !export_owner_alive(NULL, out->owner)) {
		/* left `uploading' by a process that is gone (the agent puts such rows back at
		   its start; do it here too) */
		if (db_export_requeue_stale(e->db, export_owner_alive, NULL, now_ns(), err,
					    errlen) < 0)
			return EXPORT_ERROR;
		r = db_export_claim(e->db, out->row, now_ns(), e->owner, force, out, err, errlen);
	}
	if (r == DB_EBUSY)
		return EXPORT_EBUSY;
	if (r == DB_ENOTFOUND && !strcmp(out->state, "done"))
		return EXPORT_EDONE;
	if (r)
		return EXPORT_ERROR;
	enum outcome o = process_row(e, out);
	if (o == OUT_DONE)
		return 0;
	set_err(err, errlen, "%s", out->last_error);
	return EXPORT_ERROR;
}

void export_stats(exporter_t *e, struct export_stats *st)
{
	memset(st, 0, sizeof *st);
	if (!e)
		return;
	pthread_mutex_lock(&e->mu);
	*st = e->stats;
	pthread_mutex_unlock(&e->mu);
}

void export_free(exporter_t *e)
{
	if (!e)
		return;
	if (e->running) {
		store_set_export_hook(e->store, NULL, NULL);
		pthread_mutex_lock(&e->mu);
		e->stop = 1;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		s3_cancel(e->s3);
		pthread_join(e->th, NULL);
		e->running = 0;
	}
	s3_free(e->s3);
	export_config_clear(&e->cfg);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	pthread_cond_destroy(&e->idle_cv);
	free(e->seg);
	free(e);
}
