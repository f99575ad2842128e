/*
 * store.c - the evidence store: one worker thread seals finished captures, writes incident
 * metadata and the index, and runs the retention sweep (see store.h for the design).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outputs/flow_json.h"
#include "recorder/incident.h"
#include "base/clock.h"
#include "base/files.h"
#include "base/log.h"
#include "vault/store.h"

#define SWEEP_EVERY_NS (3600 * NS_PER_S)
#define RETRY_MAX 64

enum job_type { JOB_META, JOB_SEAL, JOB_REFRESH };

struct job {
	enum job_type type;
	long id;
	json_t *meta;
	int final;
	char name[64];
	char format[8];
	struct job *next;
};

struct store {
	struct store_config cfg;
	char *dir;
	char incdir[PATH_MAX];
	int incfd;

	char keypath[PATH_MAX];
	keys_t *keys;
	struct stat keyst;
	pthread_mutex_t keymu;

	db_t *db;
	audit_t *audit;

	pthread_t th;
	int running, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv, idle_cv;
	struct job *head, *tail;
	int busy;

	/* captures whose sealing failed (disk full...): retried at the next sweep */
	struct job retry[RETRY_MAX];
	int nretry;

	/* the exporter's wake-up, under mu */
	void (*export_hook)(void *ud, long id);
	void *export_ud;
};

/* ---- clock -------------------------------------------------------------------------------- */


int64_t store_now_ns(void)
{
	return clock_now_ns();
}

static json_t *json_time_or_null(int64_t ns)
{
	char buf[40];
	return ns ? json_string(flow_json_time(ns, buf, sizeof buf)) : json_null();
}

/* ---- keys --------------------------------------------------------------------------------- */

/* Reloads the key file if it changed on disk (rotation by `ringcap keys rotate'). Under keymu. */
static int keys_refresh(store_t *s, char *err, size_t errlen)
{
	struct stat st;
	if (s->keys && stat(s->keypath, &st) == 0 && st.st_ino == s->keyst.st_ino &&
	    st.st_size == s->keyst.st_size && st.st_mtim.tv_sec == s->keyst.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->keyst.st_mtim.tv_nsec)
		return 0;
	keys_t *k = NULL;
	if (keys_load_or_create(s->keypath, &k, err, errlen) != 0) {
		if (s->keys) {
			log_warn("%s; keeping the keys loaded before", err);
			return 0;
		}
		return -1;
	}
	keys_free(s->keys);
	s->keys = k;
	if (stat(s->keypath, &s->keyst) != 0)
		memset(&s->keyst, 0, sizeof s->keyst);
	return 0;
}

int store_url_key(store_t *s, const char *kid, uint8_t key[VAULT_KEY_LEN], char *kid_out)
{
	char err[512];
	int ret = -1;
	pthread_mutex_lock(&s->keymu);
	keys_refresh(s, err, sizeof err);
	const char *id = kid ? kid : keys_primary(s->keys)->id;
	if (keys_subkey_for(s->keys, id, KEYS_PURPOSE_URL, key) == 0) {
		if (kid_out)
			snprintf(kid_out, VAULT_KEY_ID_MAX + 1, "%s", id);
		ret = 0;
	}
	pthread_mutex_unlock(&s->keymu);
	return ret;
}

/* ---- files in DIR/incidents ---------------------------------------------------------------- */

static void sync_incdir(store_t *s)
{
	if (fsync(s->incfd) != 0)
		log_debug("fsync of `%s': %s", s->incdir, strerror(errno));
}

/* Writes DIR/incidents/name whole: exclusive temporary file (the pid in its name: `ringcap
 * export' may rewrite ID.json while the agent does), (fsync), rename. Returns 0 or -1 (logged). */
static int write_whole(store_t *s, const char *name, const char *text, int do_sync)
{
	char err[512];
	if (files_replace_at(s->incfd, name, text, strlen(text), do_sync, err, sizeof err) != 0) {
		log_warn("`%s': %s", s->incdir, err);
		return -1;
	}
	return 0;
}

static json_t *load_meta(store_t *s, long id)
{
	char name[48];
	json_error_t jerr;
	snprintf(name, sizeof name, "%ld.json", id);
	int fd = openat(s->incfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	json_t *o = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (!o)
		log_warn("incident %ld: metadata `%s/%s' unreadable: %s (line %d)", id, s->incdir,
			 name, jerr.text, jerr.line);
	return o;
}

/* storage.export: the incident's export queue row, or null. */
static json_t *export_json(const store_t *s, long id)
{
	struct db_export e;
	char ref[24], err[512];
	snprintf(ref, sizeof ref, "%ld", id);
	if (!s->db || db_export_get(s->db, "incident", ref, &e, err, sizeof err) != 0)
		return json_null();
	json_t *o = json_object();
	if (!o)
		return json_null();
	int done = strcmp(e.state, "done") == 0;
	json_object_set_new(o, "state", json_string(e.state));
	json_object_set_new(o, "bucket", e.bucket[0] ? json_string(e.bucket) : json_null());
	json_object_set_new(o, "object_key",
			    e.object_key[0] ? json_string(e.object_key) : json_null());
	json_object_set_new(o, "etag", e.etag[0] ? json_string(e.etag) : json_null());
	json_object_set_new(o, "bytes", e.etag[0] ? json_integer((json_int_t)e.size) : json_null());
	json_object_set_new(o, "sha256", e.sha256[0] ? json_string(e.sha256) : json_null());
	json_object_set_new(o, "attempts", json_integer(e.attempts));
	json_object_set_new(o, "queued_at", json_time_or_null(e.queued_ns));
	json_object_set_new(o, "exported_at", json_time_or_null(done ? e.done_ns : 0));
	json_object_set_new(o, "next_attempt_at",
			    json_time_or_null(strcmp(e.state, "queued") == 0 ? e.next_attempt_ns : 0));
	json_object_set_new(o, "last_error",
			    e.last_error[0] ? json_string(e.last_error) : json_null());
	return o;
}

json_t *store_storage_json(const store_t *s, const struct db_incident *inc)
{
	const struct db_file *f = &inc->file;
	int64_t ret_ns = s->cfg.retention_ns;
	/* no file: being sealed, unless the incident ended with nothing captured */
	const char *state = inc->expired    ? "expired"
			    : inc->has_file ? "sealed"
			    : strcmp(inc->state, "resolved") == 0 && !inc->pcap_packets ? "none"
										  : "pending";
	int64_t expires = 0;
	if (inc->resolved_wall_ns && ret_ns > 0)
		expires = inc->resolved_wall_ns + ret_ns;
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "encrypted", json_boolean(inc->has_file));
	json_object_set_new(o, "file", inc->has_file ? json_string(f->name) : json_null());
	json_object_set_new(o, "format", inc->has_file ? json_string(f->format) : json_null());
	json_object_set_new(o, "plain_bytes",
			    inc->has_file ? json_integer((json_int_t)f->plain_bytes) : json_null());
	json_object_set_new(o, "sealed_bytes",
			    inc->has_file ? json_integer((json_int_t)f->sealed_bytes) : json_null());
	json_object_set_new(o, "sha256", inc->has_file ? json_string(f->sha256) : json_null());
	json_object_set_new(o, "key_id", inc->has_file ? json_string(f->key_id) : json_null());
	json_object_set_new(o, "sealed_at", json_time_or_null(inc->has_file ? f->sealed_ns : 0));
	json_object_set_new(o, "retention_days", json_real((double)ret_ns / (86400.0 * NS_PER_S)));
	json_object_set_new(o, "expires_at", json_time_or_null(expires));
	json_object_set_new(o, "deleted_at",
			    json_time_or_null(inc->has_file ? f->deleted_ns : 0));
	json_object_set_new(o, "export", export_json(s, inc->id));
	return o;
}

/*
 * With export on, queues the incident once its capture is sealed and indexed and it has
 * resolved (sealing may come first when the cap is reached, or last), and wakes the exporter.
 */
static void maybe_queue_export(store_t *s, const struct db_incident *inc)
{
	char err[512], ref[24];
	if (!s->cfg.export_incidents || !inc->has_file || inc->expired ||
	    strcmp(inc->state, "resolved") != 0)
		return;
	snprintf(ref, sizeof ref, "%ld", inc->id);
	int r = db_export_enqueue(s->db, "incident", ref, store_now_ns(), err, sizeof err);
	if (r < 0) {
		log_warn("incident %ld: not queued for export: %s; it will be at the next start",
			 inc->id, err);
		return;
	}
	if (r == 0)
		return; /* queued before */
	log_debug("incident %ld: queued for export", inc->id);
	/* called under mu: once store_set_export_hook(NULL) returns, the hook's owner may go */
	pthread_mutex_lock(&s->mu);
	if (s->export_hook)
		s->export_hook(s->export_ud, inc->id);
	pthread_mutex_unlock(&s->mu);
}

/*
 * Writes ID.json from meta (reference kept by the caller) with the storage members the index
 * knows merged in, and upserts the index row. The worker is the only writer of ID.json.
 */
static void put_meta(store_t *s, long id, json_t *meta, int final)
{
	char err[1024], name[48];
	struct db_incident inc;
	int have = db_get_incident(s->db, id, &inc, err, sizeof err) == 0;
	if (!have) {
		memset(&inc, 0, sizeof inc);
		inc.id = id;
	}
	/* the capture file is named only once it is sealed and indexed */
	json_object_set_new(meta, "pcap_file",
			    inc.has_file && !inc.expired ? json_string(inc.file.name) : json_null());
	char *text = json_dumps(meta, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	if (!text) {
		log_warn("incident %ld: cannot format its metadata", id);
		return;
	}
	if (db_put_incident(s->db, text, store_now_ns(), err, sizeof err) != 0)
		log_warn("incident %ld: %s", id, err);
	/* the storage object needs resolved_wall_ns, which db_put_incident may just have set */
	if (db_get_incident(s->db, id, &inc, err, sizeof err) == 0) {
		if (final)
			maybe_queue_export(s, &inc);
		json_object_set_new(meta, "storage", store_storage_json(s, &inc));
		free(text);
		text = json_dumps(meta, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		if (!text) {
			log_warn("incident %ld: cannot format its metadata", id);
			return;
		}
	}
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (line) {
		line[len] = '\n';
		line[len + 1] = 0;
		text = line;
	}
	snprintf(name, sizeof name, "%ld.json", id);
	write_whole(s, name, text, final);
	free(text);
}

/* Rewrites ID.json from its current text on disk (after sealing or a deletion). */
static void refresh_meta(store_t *s, long id)
{
	json_t *o = load_meta(s, id);
	if (!o)
		return;
	put_meta(s, id, o, 1);
	json_decref(o);
}

/* SHA-256 (hex) and size of the file on fd from its start. Returns 0 or -1 (errno). */
static int hash_fd(int fd, char hex[65], uint64_t *size)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t buf[1 << 16], md[32];
	unsigned mdlen = 0;
	uint64_t total = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof buf, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			EVP_MD_CTX_free(ctx);
			return -1;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = 0;
	*size = total;
	return 0;
}

/* Makes sure the incident has an index row (a crash may have left metadata the index lacks). */
static void ensure_indexed(store_t *s, long id)
{
	struct db_incident inc;
	char err[512];
	if (db_get_incident(s->db, id, &inc, err, sizeof err) == DB_ENOTFOUND)
		refresh_meta(s, id);
}

/*
 * Seals DIR/incidents/name (plaintext capture of incident id) into ID.FORMAT.enc, indexes it,
 * rewrites ID.json, then removes the plaintext. Returns 0, or -1 (logged) leaving the plaintext.
 */
static int seal_one(store_t *s, long id, const char *name, const char *format)
{
	char err[1024], sealed[40], tmp[56];
	int ret = -1, in = -1, out = -1;
	struct db_file f;
	memset(&f, 0, sizeof f);
	snprintf(sealed, sizeof sealed, "%ld.%s%s", id, format, STORE_SEALED_EXT);
	snprintf(tmp, sizeof tmp, "%s.tmp", sealed);

	in = openat(s->incfd, name, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		if (errno == ENOENT)
			return 0; /* sealed and removed already */
		log_warn("incident %ld: cannot open `%s/%s' to seal it: %s", id, s->incdir, name,
			 strerror(errno));
		return -1;
	}
	if (hash_fd(in, f.sha256, &f.plain_bytes) != 0) {
		log_warn("incident %ld: cannot read `%s/%s': %s", id, s->incdir, name,
			 strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&s->keymu);
	keys_refresh(s, err, sizeof err);
	const struct vault_key *k = keys_primary(s->keys);
	snprintf(f.key_id, sizeof f.key_id, "%s", k->id);
	out = openat(s->incfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = out < 0 ? VAULT_EIO : vault_seal_fd(in, out, k, err, sizeof err);
	pthread_mutex_unlock(&s->keymu);
	if (out < 0) {
		log_warn("incident %ld: cannot create `%s/%s': %s", id, s->incdir, tmp,
			 strerror(errno));
		goto out;
	}
	if (r != 0) {
		log_warn("incident %ld: sealing `%s/%s' failed: %s; the plaintext is kept and sealing "
			 "will be retried", id, s->incdir, name, err);
		goto out;
	}
	struct stat st;
	if (fsync(out) != 0 || fstat(out, &st) != 0) {
		log_warn("incident %ld: cannot write `%s/%s': %s; the plaintext is kept and sealing "
			 "will be retried", id, s->incdir, tmp, strerror(errno));
		goto out;
	}
	close(out);
	out = -1;
	if (renameat(s->incfd, tmp, s->incfd, sealed) != 0) {
		log_warn("incident %ld: cannot rename `%s/%s': %s", id, s->incdir, tmp,
			 strerror(errno));
		goto out;
	}
	sync_incdir(s);
	snprintf(f.name, sizeof f.name, "%s", sealed);
	snprintf(f.format, sizeof f.format, "%s", format);
	f.sealed_bytes = (uint64_t)st.st_size;
	f.sealed_ns = store_now_ns();
	ensure_indexed(s, id);
	if (db_put_file(s->db, id, &f, err, sizeof err) != 0) {
		log_warn("incident %ld: %s; the plaintext is kept and indexing will be retried", id,
			 err);
		goto out;
	}
	if (unlinkat(s->incfd, name, 0) != 0)
		log_warn("incident %ld: cannot remove the plaintext `%s/%s': %s", id, s->incdir,
			 name, strerror(errno));
	sync_incdir(s);
	struct db_incident inc;
	if (db_get_incident(s->db, id, &inc, err, sizeof err) == 0)
		maybe_queue_export(s, &inc);
	refresh_meta(s, id);
	log_info("incident %ld: capture sealed as %s/%s (%llu bytes, key %s)", id, s->incdir,
		 sealed, (unsigned long long)f.plain_bytes, f.key_id);
	ret = 0;
out:
	if (out >= 0) {
		close(out);
	}
	if (ret != 0)
		unlinkat(s->incfd, tmp, 0);
	if (in >= 0)
		close(in);
	return ret;
}

static void retry_add(store_t *s, const struct job *j)
{
	for (int i = 0; i < s->nretry; i++)
		if (s->retry[i].id == j->id && strcmp(s->retry[i].name, j->name) == 0)
			return;
	if (s->nretry < RETRY_MAX)
		s->retry[s->nretry++] = *j;
}

/* ---- retention ---------------------------------------------------------------------------- */

int store_sweep(store_t *s, int64_t now_ns, char *err, size_t errlen)
{
	long ids[256];
	int deleted = 0;
	if (s->cfg.retention_ns <= 0)
		return 0;
	for (;;) {
		int n = db_due_for_retention(s->db, now_ns, s->cfg.retention_ns, ids, 256, err,
					     errlen);
		if (n < 0)
			return -1;
		int progress = 0;
		for (int i = 0; i < n; i++) {
			struct db_incident inc;
			char e2[512];
			if (db_get_incident(s->db, ids[i], &inc, e2, sizeof e2) != 0 || !inc.has_file)
				continue;
			if (unlinkat(s->incfd, inc.file.name, 0) != 0 && errno != ENOENT) {
				log_warn("retention: cannot delete `%s/%s': %s", s->incdir,
					 inc.file.name, strerror(errno));
				continue;
			}
			sync_incdir(s);
			if (db_mark_deleted(s->db, ids[i], now_ns, "retention", e2, sizeof e2) != 0) {
				log_warn("retention: %s", e2);
				continue;
			}
			char rbuf[40];
			json_t *fields = json_pack(
				"{s:I,s:s,s:s,s:f}", "incident", (json_int_t)ids[i], "file",
				inc.file.name, "resolved_at",
				flow_json_time(inc.resolved_wall_ns, rbuf, sizeof rbuf),
				"retention_days", (double)s->cfg.retention_ns / (86400.0 * NS_PER_S));
			if (s->audit && audit_append(s->audit, "retention_deleted", fields, e2,
						     sizeof e2) < 0)
				log_warn("retention: audit record not written: %s", e2);
			refresh_meta(s, ids[i]);
			log_info("retention: incident %ld's capture `%s' deleted (resolved %s)", ids[i],
				 inc.file.name, rbuf);
			deleted++;
			progress++;
		}
		if (n < 256 || !progress)
			break;
	}
	return deleted;
}

/* ---- the worker --------------------------------------------------------------------------- */

static void run_job(store_t *s, struct job *j)
{
	if (j->type == JOB_META) {
		put_meta(s, j->id, j->meta, j->final);
		return;
	}
	if (j->type == JOB_REFRESH) {
		refresh_meta(s, j->id);
		return;
	}
	if (seal_one(s, j->id, j->name, j->format) != 0)
		retry_add(s, j);
}

static void periodic(store_t *s)
{
	char err[1024];
	/* captures whose sealing failed before */
	int n = s->nretry;
	struct job again[RETRY_MAX];
	memcpy(again, s->retry, sizeof again[0] * (size_t)n);
	s->nretry = 0;
	for (int i = 0; i < n; i++)
		run_job(s, &again[i]);
	if (store_sweep(s, store_now_ns(), err, sizeof err) < 0)
		log_warn("retention sweep: %s", err);
	if (s->audit && audit_checkpoint(s->audit, err, sizeof err) != 0)
		log_debug("audit checkpoint: %s", err);
}

static void *worker(void *arg)
{
	store_t *s = arg;
	struct timespec mono;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	int64_t next = (int64_t)mono.tv_sec * NS_PER_S + mono.tv_nsec; /* sweep at once */
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->stop) {
			clock_gettime(CLOCK_MONOTONIC, &mono);
			int64_t now = (int64_t)mono.tv_sec * NS_PER_S + mono.tv_nsec;
			if (now >= next) {
				s->busy = 1;
				pthread_mutex_unlock(&s->mu);
				periodic(s);
				pthread_mutex_lock(&s->mu);
				s->busy = 0;
				next = now + SWEEP_EVERY_NS;
				continue;
			}
			struct timespec until = { .tv_sec = (time_t)(next / NS_PER_S),
						  .tv_nsec = (long)(next % NS_PER_S) };
			pthread_cond_broadcast(&s->idle_cv);
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
		}
		if (!s->head && s->stop)
			break;
		struct job *j = s->head;
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->busy = 1;
		pthread_mutex_unlock(&s->mu);
		run_job(s, j);
		json_decref(j->meta);
		free(j);
		pthread_mutex_lock(&s->mu);
		s->busy = 0;
	}
	pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void enqueue(store_t *s, struct job *j)
{
	if (!s->running) { /* no worker (a command): do it now */
		run_job(s, j);
		json_decref(j->meta);
		free(j);
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void store_meta(store_t *s, long id, json_t *meta, int final)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		log_warn("incident %ld: out of memory; metadata not written", id);
		json_decref(meta);
		return;
	}
	j->type = JOB_META;
	j->id = id;
	j->meta = meta;
	j->final = final;
	enqueue(s, j);
}

void store_seal(store_t *s, long id, const char *part_name, const char *format)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		log_warn("incident %ld: out of memory; `%s' stays unsealed until the next start", id,
			 part_name);
		return;
	}
	j->type = JOB_SEAL;
	j->id = id;
	snprintf(j->name, sizeof j->name, "%s", part_name);
	snprintf(j->format, sizeof j->format, "%s", format);
	enqueue(s, j);
}

void store_refresh_meta(store_t *s, long id)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		log_warn("incident %ld: out of memory; metadata not rewritten", id);
		return;
	}
	j->type = JOB_REFRESH;
	j->id = id;
	enqueue(s, j);
}

void store_set_export_hook(store_t *s, void (*queued)(void *ud, long id), void *ud)
{
	pthread_mutex_lock(&s->mu);
	s->export_hook = queued;
	s->export_ud = ud;
	pthread_mutex_unlock(&s->mu);
}

void store_drain(store_t *s)
{
	if (!s || !s->running)
		return;
	pthread_mutex_lock(&s->mu);
	while (s->head || s->busy)
		pthread_cond_wait(&s->idle_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* The checks before reading incident id's sealed file: 0 or a STORE_E* code (err). */
static int capture_check(store_t *s, long id, struct db_incident *inc, char *err, size_t errlen)
{
	int r = db_get_incident(s->db, id, inc, err, errlen);
	if (r == DB_ENOTFOUND) {
		set_err(err, errlen, "no incident %ld", id);
		return STORE_ENOTFOUND;
	}
	if (r != 0)
		return STORE_ERROR;
	if (inc->expired) {
		char when[40];
		set_err(err, errlen, "the capture of incident %ld was deleted by retention at %s", id,
			flow_json_time(inc->file.deleted_ns, when, sizeof when));
		return STORE_EEXPIRED;
	}
	if (!inc->has_file) {
		if (strcmp(inc->state, "open") == 0)
			set_err(err, errlen, "incident %ld is open: its capture is still being written",
				id);
		else if (!inc->pcap_packets)
			set_err(err, errlen, "incident %ld has no capture", id);
		else
			set_err(err, errlen, "the capture of incident %ld is not sealed yet", id);
		return STORE_ENOFILE;
	}
	return 0;
}

int store_open_sealed(store_t *s, long id, int *fd, struct db_incident *inc, char *err,
		      size_t errlen)
{
	*fd = -1;
	int r = capture_check(s, id, inc, err, errlen);
	if (r != 0)
		return r;
	*fd = openat(s->incfd, inc->file.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		int e = errno;
		set_err(err, errlen, "incident %ld: cannot open `%s/%s': %s", id, s->incdir,
			inc->file.name, strerror(e));
		return e == ENOENT ? STORE_EEXPIRED : STORE_ERROR;
	}
	return 0;
}

int store_open_capture(store_t *s, long id, vault_reader_t **out, struct db_incident *inc,
		       char *err, size_t errlen)
{
	*out = NULL;
	int r = capture_check(s, id, inc, err, errlen);
	if (r != 0)
		return r;
	char path[PATH_MAX + 64], verr[512];
	snprintf(path, sizeof path, "%s/%s", s->incdir, inc->file.name);
	struct vault_keyring ring;
	pthread_mutex_lock(&s->keymu);
	keys_refresh(s, verr, sizeof verr);
	keys_ring(s->keys, &ring);
	r = vault_open(path, &ring, out, verr, sizeof verr);
	pthread_mutex_unlock(&s->keymu);
	if (r != 0) {
		set_err(err, errlen, "incident %ld: %s", id, verr);
		return STORE_EVAULT;
	}
	return 0;
}

/* ---- keys rotation ------------------------------------------------------------------------ */

int store_rotate_keys(store_t *s, char *new_id, size_t new_id_len, char *err, size_t errlen)
{
	char id[VAULT_KEY_ID_MAX + 1];
	struct vault_key old[KEYS_MAX];
	struct vault_keyring old_ring;
	int ret = -1, done = 0, failed = 0;
	pthread_mutex_lock(&s->keymu);
	keys_refresh(s, err, errlen);
	keys_ring(s->keys, &old_ring);
	if (old_ring.n > KEYS_MAX)
		old_ring.n = KEYS_MAX;
	memcpy(old, old_ring.keys, old_ring.n * sizeof old[0]);
	old_ring.keys = old;
	if (keys_rotate(s->keypath, s->keys, id, sizeof id, err, errlen) != 0) {
		pthread_mutex_unlock(&s->keymu);
		goto out;
	}
	stat(s->keypath, &s->keyst);
	struct vault_key primary = *keys_primary(s->keys);
	pthread_mutex_unlock(&s->keymu);
	log_info("new primary key `%s' in %s", id, s->keypath);

	/* re-wrap every sealed capture the index knows, newest first */
	struct db_incident page[64];
	long before = 0;
	for (;;) {
		long total;
		int n = db_list_incidents(s->db, before, 64, page, &total, err, errlen);
		if (n < 0)
			goto out;
		for (int i = 0; i < n; i++) {
			struct db_incident *inc = &page[i];
			before = inc->id;
			if (!inc->has_file || inc->expired || inc->file.deleted_ns)
				continue;
			char path[PATH_MAX + 64], e2[512];
			snprintf(path, sizeof path, "%s/%s", s->incdir, inc->file.name);
			if (vault_rewrap(path, &old_ring, &primary, e2, sizeof e2) != 0) {
				log_warn("incident %ld: %s", inc->id, e2);
				failed++;
				continue;
			}
			inc->file.deleted_ns = 0;
			snprintf(inc->file.key_id, sizeof inc->file.key_id, "%s", id);
			if (db_put_file(s->db, inc->id, &inc->file, e2, sizeof e2) != 0)
				log_warn("incident %ld: %s", inc->id, e2);
			done++;
		}
		if (n < 64)
			break;
	}
	json_t *fields = json_pack("{s:s,s:i,s:i}", "key_id", id, "files_rewrapped", done,
				   "files_failed", failed);
	char e3[512];
	if (s->audit && audit_append(s->audit, "key_rotated", fields, e3, sizeof e3) < 0)
		log_warn("key rotation: audit record not written: %s", e3);
	if (new_id)
		snprintf(new_id, new_id_len, "%s", id);
	if (failed) {
		set_err(err, errlen, "%d capture(s) could not be re-wrapped (see the warnings above); "
			"they stay readable with the old key", failed);
		goto out;
	}
	ret = done;
out:
	OPENSSL_cleanse(old, sizeof old);
	return ret;
}

/* ---- open / close ------------------------------------------------------------------------- */

store_t *store_open(const struct store_config *c, char *err, size_t errlen)
{
	store_t *s = calloc(1, sizeof *s);
	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *c;
	s->incfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->keymu, NULL);
	/* the worker's sleeps are deadlines on CLOCK_MONOTONIC: the condition must wait on that
	 * clock, or a deadline read as CLOCK_REALTIME is decades past and the worker spins */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->idle_cv, NULL);
	s->dir = strdup(c->dir);
	if (!s->dir) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	if (files_mkdirs(s->dir) != 0) {
		set_err(err, errlen, "cannot create folder `%s': %s", s->dir, strerror(errno));
		goto fail;
	}
	snprintf(s->incdir, sizeof s->incdir, "%s/%s", s->dir, incidents_subdir());
	if (files_mkdir(s->incdir) != 0) {
		set_err(err, errlen, "cannot create folder `%s': %s", s->incdir, strerror(errno));
		goto fail;
	}
	s->incfd = open(s->incdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->incfd < 0) {
		set_err(err, errlen, "cannot open folder `%s': %s", s->incdir, strerror(errno));
		goto fail;
	}
	if (keys_path(s->dir, s->keypath, sizeof s->keypath) != 0) {
		set_err(err, errlen, "key file path too long");
		goto fail;
	}
	if (keys_refresh(s, err, errlen) != 0)
		goto fail;
	if (db_open(s->dir, 0, &s->db, err, errlen) != 0)
		goto fail;
	if (audit_open(s->dir, s->keys, &s->audit, err, errlen) != 0)
		goto fail;
	if (c->worker) {
		if (pthread_create(&s->th, NULL, worker, s) != 0) {
			set_err(err, errlen, "cannot start the store's worker thread");
			goto fail;
		}
		s->running = 1;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(store_t *s)
{
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
		s->running = 0;
		for (int i = 0; i < s->nretry; i++)
			log_warn("incident %ld: `%s/%s' is still unsealed; it will be sealed at the next "
				 "start", s->retry[i].id, s->incdir, s->retry[i].name);
	}
	audit_close(s->audit);
	db_close(s->db);
	keys_free(s->keys);
	if (s->incfd >= 0)
		close(s->incfd);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->idle_cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->keymu);
	free(s->dir);
	free(s);
}

db_t *store_db(store_t *s)
{
	return s->db;
}

audit_t *store_audit(store_t *s)
{
	return s->audit;
}

const char *store_dir(const store_t *s)
{
	return s->dir;
}

int64_t store_retention_ns(const store_t *s)
{
	return s->cfg.retention_ns;
}

static void sink_meta(void *ctx, long id, json_t *meta, int final) { store_meta(ctx, id, meta, final); }

static void sink_seal(void *ctx, long id, const char *part_name, const char *format)
{
	store_seal(ctx, id, part_name, format);
}

struct incident_sink store_sink(store_t *s)
{
	return (struct incident_sink){.ctx = s, .meta = sink_meta, .seal = sink_seal};
}
