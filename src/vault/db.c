/*
 * db.c - the SQLite index of incidents and their capture files. See db.h for the design and the
 * schema.
 *
 * One connection per db_t, opened SQLITE_OPEN_FULLMUTEX and also serialized by d->mu, so that
 * the message read with sqlite3_errmsg() belongs to the call that failed. Statements are prepared
 * per call (the index is not on the packet path). Every value is a bound parameter; the only SQL
 * text built at run time is `PRAGMA user_version = N' with N taken from the migrations table.
 * Writes that span several statements run in BEGIN IMMEDIATE transactions: a deferred one that
 * reads and then writes could fail with SQLITE_BUSY without waiting for the busy timeout.
 */
#include "vault/db.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "base/clock.h"

#define DB_BUSY_TIMEOUT_MS 5000

struct db {
	sqlite3 *db;
	pthread_mutex_t mu;
	int version;
	char path[PATH_MAX];
};

/*
 * migrations[i] upgrades a file from user_version i to i + 1 (run in one transaction together
 * with the new user_version). A new schema version appends one entry and bumps
 * DB_SCHEMA_VERSION; entries already released never change.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE incidents("
	" id INTEGER PRIMARY KEY, state TEXT NOT NULL, \"trigger\" TEXT NOT NULL,"
	" classification TEXT NOT NULL, started_ns INTEGER, resolved_ns INTEGER,"
	" resolved_wall_ns INTEGER, pcap_packets INTEGER NOT NULL DEFAULT 0,"
	" cap_reached INTEGER NOT NULL DEFAULT 0, meta TEXT NOT NULL,"
	" expired INTEGER NOT NULL DEFAULT 0, updated_ns INTEGER);"
	"CREATE TABLE files("
	" incident_id INTEGER PRIMARY KEY REFERENCES incidents(id), name TEXT NOT NULL,"
	" format TEXT NOT NULL, plain_bytes INTEGER, sealed_bytes INTEGER, sha256 TEXT,"
	" key_id TEXT, sealed_ns INTEGER, deleted_ns INTEGER, deleted_reason TEXT);"
	"CREATE INDEX incidents_resolved_wall ON incidents(resolved_wall_ns);",
	/* 1 -> 2: the export queue */
	"CREATE TABLE export_queue("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK(kind IN ('incident', 'pcap')),"
	" ref TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK(state IN ('queued', 'uploading', 'done', 'failed')),"
	" attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ns INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT, bucket TEXT, object_key TEXT, etag TEXT, size INTEGER, sha256 TEXT,"
	" upload_id TEXT, owner TEXT, queued_ns INTEGER, started_ns INTEGER, done_ns INTEGER,"
	" updated_ns INTEGER, UNIQUE(kind, ref));"
	"CREATE INDEX export_queue_due ON export_queue(state, next_attempt_ns);",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == DB_SCHEMA_VERSION,
	       "one migration per schema version");

/* ---- errors ---- */

/* "index `PATH': " followed by the message; returns DB_ERROR. */
static __attribute__((format(printf, 4, 5))) int errf(const char *path, char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return DB_ERROR;
	n = snprintf(err, errlen, "index `%s': ", path);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return DB_ERROR;
}

/* SQLite failed while doing `what': the path, what and SQLite's own message. */
static int sqlerr(db_t *d, char *err, size_t errlen, const char *what)
{
	return errf(d->path, err, errlen, "%s: %s", what, sqlite3_errmsg(d->db));
}

/* ---- statement helpers ---- */

static int exec(db_t *d, const char *sql, const char *what, char *err, size_t errlen)
{
	if (sqlite3_exec(d->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sqlerr(d, err, errlen, what);
	return 0;
}

static int prepare(db_t *d, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(d->db, sql, -1, st, NULL) != SQLITE_OK)
		return sqlerr(d, err, errlen, "cannot prepare a statement");
	return 0;
}

/* Runs a statement that returns no row. */
static int step_done(db_t *d, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return sqlerr(d, err, errlen, what);
	return 0;
}

/* Call after the error message is written: ROLLBACK resets sqlite3_errmsg(). */
static void rollback(db_t *d)
{
	if (!sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* 0 ("not set") is stored as NULL. */
static void bind_ns(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* A fixed-size char array of a struct, not trusted to be terminated; "" as NULL if nullable. */
static void bind_field(sqlite3_stmt *st, int i, const char *s, size_t cap, int nullable)
{
	size_t n = strnlen(s, cap);

	if (!n && nullable)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

static void col_str(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

/* ---- open, migrate, close ---- */

static int read_version(db_t *d, int *v, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		return 0;
	}
	if (sqlite3_errcode(d->db) == SQLITE_NOTADB)
		errf(d->path, err, errlen, "not an SQLite database (%s)", sqlite3_errmsg(d->db));
	else
		sqlerr(d, err, errlen, "cannot read the schema version");
	sqlite3_finalize(st);
	return DB_ERROR;
}

static int check_newer(db_t *d, int v, char *err, size_t errlen)
{
	if (v > DB_SCHEMA_VERSION)
		snprintf(err, errlen,
			 "index `%s' has schema version %d; this ringcap knows up to %d: upgrade "
			 "ringcap", d->path, v, DB_SCHEMA_VERSION);
	return v > DB_SCHEMA_VERSION ? DB_ERROR : 0;
}

/*
 * Applies the missing migrations, one transaction each. The version is read again under the
 * write lock: another process may have migrated the file since we last looked.
 */
static int migrate(db_t *d, int *version, char *err, size_t errlen)
{
	char sql[48], what[64];
	int v;

	for (;;) {
		if (exec(d, "BEGIN IMMEDIATE", "cannot begin the schema migration", err, errlen))
			return DB_ERROR;
		if (read_version(d, &v, err, errlen) || check_newer(d, v, err, errlen))
			goto fail;
		if (v == DB_SCHEMA_VERSION)
			break;
		snprintf(what, sizeof what, "schema migration %d -> %d failed", v, v + 1);
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (exec(d, migrations[v], what, err, errlen) || exec(d, sql, what, err, errlen) ||
		    exec(d, "COMMIT", what, err, errlen))
			goto fail;
	}
	if (exec(d, "COMMIT", "cannot end the schema migration", err, errlen))
		goto fail;
	*version = v;
	return 0;
fail:
	rollback(d);
	return DB_ERROR;
}

/*
 * PRAGMA journal_mode=WAL, checking that SQLite did switch (it answers with the mode in force).
 * The switch of a new file needs an exclusive lock that SQLite does not wait for with the busy
 * handler (another connection creating the same file gets SQLITE_BUSY at once), so a busy answer
 * is retried here for as long as the busy timeout.
 */
static int set_wal(db_t *d, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char mode[16] = "";
	int rc, waited = 0;

	if (prepare(d, "PRAGMA journal_mode=WAL", &st, err, errlen))
		return DB_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_BUSY && waited < DB_BUSY_TIMEOUT_MS) {
		sqlite3_reset(st);
		sqlite3_sleep(10);
		waited += 10;
	}
	if (rc == SQLITE_ROW)
		col_str(st, 0, mode, sizeof mode);
	else
		sqlerr(d, err, errlen, "cannot switch to WAL journal mode");
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return DB_ERROR;
	if (strcmp(mode, "wal") != 0)
		return errf(d->path, err, errlen, "cannot switch to WAL journal mode (still `%s')",
			    mode);
	return 0;
}

int db_open(const char *dir, int readonly, db_t **out, char *err, size_t errlen)
{
	int rc = DB_ERROR, fd, v = 0, n;
	struct stat sb;
	db_t *d;

	*out = NULL;
	d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "index in `%s': out of memory", dir);
		return DB_ERROR;
	}
	pthread_mutex_init(&d->mu, NULL);
	n = snprintf(d->path, sizeof d->path, "%s/%s", dir, DB_FILE);
	if (n < 0 || (size_t)n >= sizeof d->path) {
		snprintf(err, errlen, "index in `%s': path too long", dir);
		goto fail;
	}
	if (readonly) {
		if (stat(d->path, &sb) != 0) {
			rc = errno == ENOENT ? DB_ENOTFOUND : DB_ERROR;
			errf(d->path, err, errlen, "cannot open: %s", strerror(errno));
			goto fail;
		}
	} else {
		/* created here with mode 0600 (it holds evidence metadata): SQLite would use 0644,
		 * and gives the -wal and -shm files the mode of the database file */
		fd = open(d->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			errf(d->path, err, errlen, "cannot open for writing: %s", strerror(errno));
			goto fail;
		}
		close(fd);
	}
	if (sqlite3_open_v2(d->path, &d->db,
			    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		if (d->db)
			sqlerr(d, err, errlen, "cannot open");
		else
			errf(d->path, err, errlen, "cannot open: out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(d->db, DB_BUSY_TIMEOUT_MS);
	/* the version first: a file from a newer ringcap is left exactly as it is */
	if (read_version(d, &v, err, errlen) || check_newer(d, v, err, errlen))
		goto fail;
	if (exec(d, "PRAGMA foreign_keys=ON", "cannot enable foreign keys", err, errlen))
		goto fail;
	if (readonly) {
		if (v < DB_SCHEMA_VERSION) {
			errf(d->path, err, errlen,
			     "has schema version %d, older than %d, and is opened read-only: start "
			     "the agent once to migrate it",
			     v, DB_SCHEMA_VERSION);
			goto fail;
		}
	} else {
		if (set_wal(d, err, errlen) ||
		    exec(d, "PRAGMA synchronous=NORMAL", "cannot set synchronous mode", err,
			 errlen) ||
		    migrate(d, &v, err, errlen))
			goto fail;
	}
	d->version = v;
	*out = d;
	return 0;
fail:
	db_close(d);
	return rc;
}

void db_close(db_t *d)
{
	if (!d)
		return;
	sqlite3_close(d->db); /* every statement is finalized by the call that prepared it */
	pthread_mutex_destroy(&d->mu);
	free(d);
}

int db_schema_version(db_t *d)
{
	return d ? d->version : 0;
}



/* A string member of o: absent or null gives "", another type an error. */
static int get_str(const char *path, json_t *o, const char *key, const char **out, char *err,
		   size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = "";
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return errf(path, err, errlen, "incident metadata: `%s' is not a string", key);
	*out = json_string_value(v);
	return 0;
}

/* An RFC 3339 time member of o: absent or null gives 0. */
static int get_time(const char *path, json_t *o, const char *key, int64_t *ns, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*ns = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || clock_parse_rfc3339(json_string_value(v), ns))
		return errf(path, err, errlen,
			    "incident metadata: `%s' is not an RFC 3339 time: `%.64s'", key,
			    json_is_string(v) ? json_string_value(v) : "(not a string)");
	return 0;
}

int db_put_incident(db_t *d, const char *meta_json, int64_t wall_ns, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO incidents(id, state, \"trigger\", classification, started_ns,"
		" resolved_ns, resolved_wall_ns, pcap_packets, cap_reached, meta, updated_ns)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		" ON CONFLICT(id) DO UPDATE SET state = excluded.state,"
		" \"trigger\" = excluded.\"trigger\", classification = excluded.classification,"
		" started_ns = excluded.started_ns, resolved_ns = excluded.resolved_ns,"
		" resolved_wall_ns ="
		"  COALESCE(incidents.resolved_wall_ns, excluded.resolved_wall_ns),"
		" pcap_packets = excluded.pcap_packets, cap_reached = excluded.cap_reached,"
		" meta = excluded.meta, updated_ns = excluded.updated_ns";
	const char *state, *trigger = "", *cls;
	int64_t started, resolved;
	json_int_t id, packets = 0;
	sqlite3_stmt *st = NULL;
	json_error_t jerr;
	json_t *root, *v;
	int ret = DB_ERROR;

	root = json_loads(meta_json ? meta_json : "", 0, &jerr);
	if (!root || !json_is_object(root)) {
		if (root)
			errf(d->path, err, errlen, "incident metadata is not a JSON object");
		else
			errf(d->path, err, errlen, "incident metadata does not parse: %s (line %d, "
			     "column %d)", jerr.text, jerr.line, jerr.column);
		json_decref(root);
		return DB_ERROR;
	}
	v = json_object_get(root, "id");
	id = json_is_integer(v) ? json_integer_value(v) : 0;
	if (id < 1 || id > LONG_MAX) {
		errf(d->path, err, errlen, "incident metadata lacks a positive integer `id'");
		goto out;
	}
	v = json_object_get(root, "trigger");
	if (v && !json_is_null(v) && !json_is_object(v)) {
		errf(d->path, err, errlen, "incident metadata: `trigger' is not an object");
		goto out;
	}
	if (v && get_str(d->path, v, "threshold", &trigger, err, errlen))
		goto out;
	if (get_str(d->path, root, "state", &state, err, errlen) ||
	    get_str(d->path, root, "classification", &cls, err, errlen) ||
	    get_time(d->path, root, "started_at", &started, err, errlen) ||
	    get_time(d->path, root, "resolved_at", &resolved, err, errlen))
		goto out;
	v = json_object_get(root, "pcap_packets");
	if (v && !json_is_null(v)) {
		packets = json_is_integer(v) ? json_integer_value(v) : -1;
		if (packets < 0) {
			errf(d->path, err, errlen,
			     "incident metadata: `pcap_packets' is not a count");
			goto out;
		}
	}

	pthread_mutex_lock(&d->mu);
	if (prepare(d, sql, &st, err, errlen))
		goto unlock;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, trigger, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cls, -1, SQLITE_STATIC);
	bind_ns(st, 5, started);
	bind_ns(st, 6, resolved);
	bind_ns(st, 7, strcmp(state, "resolved") == 0 ? wall_ns : 0);
	sqlite3_bind_int64(st, 8, packets);
	sqlite3_bind_int(st, 9, json_is_true(json_object_get(root, "cap_reached")));
	sqlite3_bind_text(st, 10, meta_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, wall_ns);
	ret = step_done(d, st, "cannot record the incident", err, errlen);
unlock:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
out:
	json_decref(root);
	return ret;
}

/* ---- files ---- */

int db_put_file(db_t *d, long id, const struct db_file *f, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO files(incident_id, name, format, plain_bytes, sealed_bytes,"
		" sha256, key_id, sealed_ns, deleted_ns, deleted_reason)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	if (!strnlen(f->name, sizeof f->name))
		return errf(d->path, err, errlen, "the file of incident %ld has no name", id);
	pthread_mutex_lock(&d->mu);
	/* a file row is what makes a capture findable: it is synced before we return */
	if (exec(d, "PRAGMA synchronous=FULL", "cannot set synchronous mode", err, errlen) ||
	    prepare(d, sql, &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	bind_field(st, 2, f->name, sizeof f->name, 0);
	bind_field(st, 3, f->format, sizeof f->format, 0);
	sqlite3_bind_int64(st, 4, (int64_t)f->plain_bytes);
	sqlite3_bind_int64(st, 5, (int64_t)f->sealed_bytes);
	bind_field(st, 6, f->sha256, sizeof f->sha256, 1);
	bind_field(st, 7, f->key_id, sizeof f->key_id, 1);
	bind_ns(st, 8, f->sealed_ns);
	bind_ns(st, 9, f->deleted_ns);
	bind_field(st, 10, f->deleted_reason, sizeof f->deleted_reason, 1);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(d->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			errf(d->path, err, errlen,
			     "cannot record file `%.*s': no incident %ld (%s)",
			     (int)strnlen(f->name, sizeof f->name), f->name, id,
			     sqlite3_errmsg(d->db));
		else
			sqlerr(d, err, errlen, "cannot record the file of an incident");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	sqlite3_exec(d->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* ---- reads ---- */

#define INCIDENT_SELECT                                                                        \
	"SELECT i.id, i.state, i.\"trigger\", i.classification, i.started_ns, i.resolved_ns,"  \
	" i.resolved_wall_ns, i.pcap_packets, i.cap_reached, i.expired, f.incident_id,"        \
	" f.name, f.format, f.plain_bytes, f.sealed_bytes, f.sha256, f.key_id, f.sealed_ns,"   \
	" f.deleted_ns, f.deleted_reason"                                                      \
	" FROM incidents i LEFT JOIN files f ON f.incident_id = i.id"

static void read_incident(sqlite3_stmt *st, struct db_incident *o)
{
	struct db_file *f = &o->file;

	memset(o, 0, sizeof *o);
	o->id = (long)sqlite3_column_int64(st, 0);
	col_str(st, 1, o->state, sizeof o->state);
	col_str(st, 2, o->trigger, sizeof o->trigger);
	col_str(st, 3, o->classification, sizeof o->classification);
	o->started_ns = sqlite3_column_int64(st, 4); /* NULL reads as 0 */
	o->resolved_ns = sqlite3_column_int64(st, 5);
	o->resolved_wall_ns = sqlite3_column_int64(st, 6);
	o->pcap_packets = (uint64_t)sqlite3_column_int64(st, 7);
	o->cap_reached = sqlite3_column_int(st, 8);
	o->expired = sqlite3_column_int(st, 9);
	o->has_file = sqlite3_column_type(st, 10) != SQLITE_NULL;
	if (!o->has_file)
		return;
	col_str(st, 11, f->name, sizeof f->name);
	col_str(st, 12, f->format, sizeof f->format);
	f->plain_bytes = (uint64_t)sqlite3_column_int64(st, 13);
	f->sealed_bytes = (uint64_t)sqlite3_column_int64(st, 14);
	col_str(st, 15, f->sha256, sizeof f->sha256);
	col_str(st, 16, f->key_id, sizeof f->key_id);
	f->sealed_ns = sqlite3_column_int64(st, 17);
	f->deleted_ns = sqlite3_column_int64(st, 18);
	col_str(st, 19, f->deleted_reason, sizeof f->deleted_reason);
}

int db_get_incident(db_t *d, long id, struct db_incident *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, rc;

	pthread_mutex_lock(&d->mu);
	if (prepare(d, INCIDENT_SELECT " WHERE i.id = ?1", &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_incident(st, out);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		errf(d->path, err, errlen, "no incident %ld", id);
		ret = DB_ENOTFOUND;
	} else {
		sqlerr(d, err, errlen, "cannot read an incident");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_get_meta(db_t *d, long id, char **out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, rc;

	*out = NULL;
	pthread_mutex_lock(&d->mu);
	if (prepare(d, "SELECT meta FROM incidents WHERE id = ?1", &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		*out = strdup(t ? t : "");
		if (*out)
			ret = 0;
		else
			errf(d->path, err, errlen, "out of memory reading incident %ld", id);
	} else if (rc == SQLITE_DONE) {
		errf(d->path, err, errlen, "no incident %ld", id);
		ret = DB_ENOTFOUND;
	} else {
		sqlerr(d, err, errlen, "cannot read incident metadata");
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* *total = the one number sql selects (under d->mu). Returns 0 or DB_ERROR (err names what). */
static int count_rows(db_t *d, const char *sql, const char *what, long *total, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	if (prepare(d, sql, &st, err, errlen))
		return DB_ERROR;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*total = (long)sqlite3_column_int64(st, 0);
		ret = 0;
	} else {
		char w[96];
		snprintf(w, sizeof w, "cannot count %s", what);
		sqlerr(d, err, errlen, w);
	}
	sqlite3_finalize(st);
	return ret;
}

int db_list_incidents(db_t *d, long before_id, int limit, struct db_incident *out, long *total,
		      char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, n = 0, rc = SQLITE_DONE;

	if (limit < 0)
		return errf(d->path, err, errlen, "invalid list limit %d", limit);
	pthread_mutex_lock(&d->mu);
	/* one read transaction: the page and the total come from the same snapshot */
	if (exec(d, "BEGIN", "cannot begin a read", err, errlen))
		goto out;
	if (total && count_rows(d, "SELECT count(*) FROM incidents", "incidents", total, err,
				errlen))
		goto out;
	if (prepare(d, INCIDENT_SELECT " WHERE i.id < ?1 ORDER BY i.id DESC LIMIT ?2", &st, err,
		    errlen))
		goto out;
	sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int(st, 2, limit);
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW)
		read_incident(st, &out[n++]);
	if (n < limit && rc != SQLITE_DONE) {
		sqlerr(d, err, errlen, "cannot list incidents");
		goto out;
	}
	ret = n;
out:
	sqlite3_finalize(st);
	rollback(d); /* ends the read transaction */
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* ---- retention ---- */

int db_due_for_retention(db_t *d, int64_t now_ns, int64_t retention_ns, long *ids, int max,
			 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, n = 0, rc = SQLITE_DONE;
	int64_t cutoff;

	if (retention_ns < 0)
		return errf(d->path, err, errlen, "negative retention %lld ns",
			    (long long)retention_ns);
	/* resolved_wall_ns + retention_ns <= now_ns, without overflowing */
	if (__builtin_sub_overflow(now_ns, retention_ns, &cutoff) || max <= 0)
		return 0;
	pthread_mutex_lock(&d->mu);
	if (prepare(d,
		    "SELECT i.id FROM incidents i JOIN files f ON f.incident_id = i.id"
		    " WHERE i.state = 'resolved' AND i.resolved_wall_ns <= ?1"
		    " AND f.deleted_ns IS NULL ORDER BY i.resolved_wall_ns, i.id LIMIT ?2",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int(st, 2, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = (long)sqlite3_column_int64(st, 0);
	if (n < max && rc != SQLITE_DONE) {
		sqlerr(d, err, errlen, "cannot list captures due for retention");
		goto out;
	}
	ret = n;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_mark_deleted(db_t *d, long id, int64_t now_ns, const char *reason, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	pthread_mutex_lock(&d->mu);
	if (exec(d, "PRAGMA synchronous=FULL", "cannot set synchronous mode", err, errlen) ||
	    exec(d, "BEGIN IMMEDIATE", "cannot begin a write", err, errlen))
		goto out;
	/* a second mark keeps the first time and reason */
	if (prepare(d,
		    "UPDATE files SET deleted_ns = COALESCE(deleted_ns, ?2),"
		    " deleted_reason = COALESCE(deleted_reason, ?3) WHERE incident_id = ?1",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ns);
	sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
	if (step_done(d, st, "cannot mark a capture deleted", err, errlen))
		goto out;
	if (sqlite3_changes(d->db) == 0) {
		errf(d->path, err, errlen, "incident %ld has no capture file to mark deleted", id);
		ret = DB_ENOTFOUND;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (prepare(d, "UPDATE incidents SET expired = 1 WHERE id = ?1", &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (!step_done(d, st, "cannot mark an incident expired", err, errlen) &&
	    !exec(d, "COMMIT", "cannot commit", err, errlen))
		ret = 0;
out:
	sqlite3_finalize(st);
	rollback(d);
	sqlite3_exec(d->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* ---- the export queue ---- */

#define EXPORT_SELECT                                                                          \
	"SELECT id, kind, ref, state, attempts, next_attempt_ns, last_error, bucket, object_key,"  \
	" etag, size, sha256, upload_id, owner, queued_ns, started_ns, done_ns, updated_ns"       \
	" FROM export_queue"

static int kind_ok(const char *kind)
{
	return kind && (!strcmp(kind, "incident") || !strcmp(kind, "pcap"));
}

static void read_export(sqlite3_stmt *st, struct db_export *e)
{
	memset(e, 0, sizeof *e);
	e->row = (long)sqlite3_column_int64(st, 0);
	col_str(st, 1, e->kind, sizeof e->kind);
	col_str(st, 2, e->ref, sizeof e->ref);
	col_str(st, 3, e->state, sizeof e->state);
	e->attempts = sqlite3_column_int(st, 4);
	e->next_attempt_ns = sqlite3_column_int64(st, 5);
	col_str(st, 6, e->last_error, sizeof e->last_error);
	col_str(st, 7, e->bucket, sizeof e->bucket);
	col_str(st, 8, e->object_key, sizeof e->object_key);
	col_str(st, 9, e->etag, sizeof e->etag);
	e->size = (uint64_t)sqlite3_column_int64(st, 10);
	col_str(st, 11, e->sha256, sizeof e->sha256);
	col_str(st, 12, e->upload_id, sizeof e->upload_id);
	col_str(st, 13, e->owner, sizeof e->owner);
	e->queued_ns = sqlite3_column_int64(st, 14);
	e->started_ns = sqlite3_column_int64(st, 15);
	e->done_ns = sqlite3_column_int64(st, 16);
	e->updated_ns = sqlite3_column_int64(st, 17);
}

int db_export_enqueue(db_t *d, const char *kind, const char *ref, int64_t now_ns, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	if (!kind_ok(kind) || !ref || !*ref || strlen(ref) >= sizeof(((struct db_export *)0)->ref))
		return errf(d->path, err, errlen, "cannot queue `%s' `%s' for export: bad kind or "
			    "reference", kind ? kind : "", ref ? ref : "");
	pthread_mutex_lock(&d->mu);
	if (prepare(d,
		    "INSERT OR IGNORE INTO export_queue(kind, ref, state, attempts, next_attempt_ns,"
		    " queued_ns, updated_ns) VALUES(?1, ?2, 'queued', 0, ?3, ?3, ?3)",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ns);
	if (!step_done(d, st, "cannot queue an export", err, errlen))
		ret = sqlite3_changes(d->db) > 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_export_backfill(db_t *d, int64_t now_ns, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	pthread_mutex_lock(&d->mu);
	if (prepare(d,
		    "INSERT OR IGNORE INTO export_queue(kind, ref, state, attempts, next_attempt_ns,"
		    " queued_ns, updated_ns)"
		    " SELECT 'incident', CAST(i.id AS TEXT), 'queued', 0, ?1, ?1, ?1"
		    " FROM incidents i JOIN files f ON f.incident_id = i.id"
		    " WHERE i.state = 'resolved' AND i.expired = 0 AND f.deleted_ns IS NULL"
		    " ORDER BY i.id",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, now_ns);
	if (!step_done(d, st, "cannot queue sealed captures for export", err, errlen))
		ret = sqlite3_changes(d->db);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* Steps st (a bound EXPORT_SELECT) once into *out and finalizes it. Returns 0, DB_ENOTFOUND
 * (no row; the caller says which) or DB_ERROR (err). */
static int step_export(db_t *d, sqlite3_stmt *st, struct db_export *out, char *err, size_t errlen)
{
	int ret = DB_ERROR, rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		read_export(st, out);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = DB_ENOTFOUND;
	} else {
		sqlerr(d, err, errlen, "cannot read the export queue");
	}
	sqlite3_finalize(st);
	return ret;
}

/* One row by kind/ref (under d->mu). */
static int get_export_locked(db_t *d, const char *kind, const char *ref, struct db_export *out,
			     char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(d, EXPORT_SELECT " WHERE kind = ?1 AND ref = ?2", &st, err, errlen))
		return DB_ERROR;
	sqlite3_bind_text(st, 1, kind ? kind : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ref ? ref : "", -1, SQLITE_STATIC);
	rc = step_export(d, st, out, err, errlen);
	if (rc == DB_ENOTFOUND)
		errf(d->path, err, errlen, "no export of %s %s", kind ? kind : "",
		     ref ? ref : "");
	return rc;
}

int db_export_get(db_t *d, const char *kind, const char *ref, struct db_export *out, char *err,
		  size_t errlen)
{
	int ret;

	pthread_mutex_lock(&d->mu);
	ret = get_export_locked(d, kind, ref, out, err, errlen);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_export_list(db_t *d, long after_row, struct db_export *out, int max, long *total,
		   char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, n = 0, rc = SQLITE_DONE;

	if (max < 0)
		return errf(d->path, err, errlen, "invalid list limit %d", max);
	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN", "cannot begin a read", err, errlen))
		goto out;
	if (total && count_rows(d, "SELECT count(*) FROM export_queue", "the export queue", total,
				err, errlen))
		goto out;
	if (prepare(d, EXPORT_SELECT " WHERE id > ?1 ORDER BY id LIMIT ?2", &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, after_row);
	sqlite3_bind_int(st, 2, max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		read_export(st, &out[n++]);
	if (n < max && rc != SQLITE_DONE) {
		sqlerr(d, err, errlen, "cannot list the export queue");
		goto out;
	}
	ret = n;
out:
	sqlite3_finalize(st);
	rollback(d);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* The row with id row (under d->mu, in a transaction). */
static int export_by_row(db_t *d, long row, struct db_export *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(d, EXPORT_SELECT " WHERE id = ?1", &st, err, errlen))
		return DB_ERROR;
	sqlite3_bind_int64(st, 1, row);
	rc = step_export(d, st, out, err, errlen);
	if (rc == DB_ENOTFOUND)
		errf(d->path, err, errlen, "no export queue row %ld", row);
	return rc;
}

int db_export_claim(db_t *d, long row, int64_t now_ns, const char *owner, int force,
		    struct db_export *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, rc;
	struct db_export e;

	if (!owner || !*owner || strlen(owner) >= DB_EXPORT_OWNER_MAX)
		return errf(d->path, err, errlen, "export claim: bad owner");
	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN IMMEDIATE", "cannot begin a write", err, errlen))
		goto out;
	if (!row) {
		if (prepare(d,
			    "SELECT id FROM export_queue WHERE state = 'queued'"
			    " AND next_attempt_ns <= ?1 ORDER BY next_attempt_ns, id LIMIT 1",
			    &st, err, errlen))
			goto out;
		sqlite3_bind_int64(st, 1, now_ns);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			errf(d->path, err, errlen, "no export is due");
			ret = DB_ENOTFOUND;
			goto out;
		}
		if (rc != SQLITE_ROW) {
			sqlerr(d, err, errlen, "cannot read the export queue");
			goto out;
		}
		row = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
	}
	ret = export_by_row(d, row, &e, err, errlen);
	if (ret)
		goto out;
	ret = DB_ERROR;
	if (!strcmp(e.state, "uploading")) {
		*out = e;
		errf(d->path, err, errlen, "the export of %s %s is being uploaded by process %s",
		     e.kind, e.ref, e.owner);
		ret = DB_EBUSY;
		goto out;
	}
	if (!strcmp(e.state, "done") && !force) {
		*out = e;
		errf(d->path, err, errlen, "%s %s is exported already", e.kind, e.ref);
		ret = DB_ENOTFOUND;
		goto out;
	}
	if (prepare(d,
		    "UPDATE export_queue SET state = 'uploading', owner = ?2, attempts = attempts + 1,"
		    " started_ns = ?3, updated_ns = ?3 WHERE id = ?1 AND state = ?4",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, row);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ns);
	sqlite3_bind_text(st, 4, e.state, -1, SQLITE_STATIC);
	if (step_done(d, st, "cannot claim an export", err, errlen))
		goto out;
	if (sqlite3_changes(d->db) != 1) {
		errf(d->path, err, errlen, "the export of %s %s changed while it was claimed",
		     e.kind, e.ref);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (export_by_row(d, row, out, err, errlen) ||
	    exec(d, "COMMIT", "cannot commit", err, errlen))
		goto out;
	ret = 0;
out:
	sqlite3_finalize(st);
	rollback(d);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

/* Binds a text field that may be empty as NULL. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
	bind_field(st, i, s, cap, 1);
}

int db_export_update(db_t *d, const struct db_export *e, const char *owner, int64_t now_ns,
		     char *err, size_t errlen)
{
	static const char *const states[] = {"queued", "uploading", "done", "failed"};
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR, known = 0;

	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		known |= !strcmp(e->state, states[i]);
	if (!known)
		return errf(d->path, err, errlen, "invalid export state `%.12s'", e->state);
	pthread_mutex_lock(&d->mu);
	if (prepare(d,
		    "UPDATE export_queue SET state = ?3, next_attempt_ns = ?4, last_error = ?5,"
		    " bucket = ?6, object_key = ?7, etag = ?8, size = ?9, sha256 = ?10,"
		    " upload_id = ?11, done_ns = ?12, updated_ns = ?13,"
		    " owner = CASE WHEN ?3 = 'uploading' THEN owner END"
		    " WHERE id = ?1 AND state = 'uploading' AND owner = ?2",
		    &st, err, errlen))
		goto out;
	sqlite3_bind_int64(st, 1, e->row);
	sqlite3_bind_text(st, 2, owner ? owner : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, e->next_attempt_ns);
	bind_text_or_null(st, 5, e->last_error, sizeof e->last_error);
	bind_text_or_null(st, 6, e->bucket, sizeof e->bucket);
	bind_text_or_null(st, 7, e->object_key, sizeof e->object_key);
	bind_text_or_null(st, 8, e->etag, sizeof e->etag);
	if (e->etag[0] || e->size)
		sqlite3_bind_int64(st, 9, (int64_t)e->size);
	else
		sqlite3_bind_null(st, 9);
	bind_text_or_null(st, 10, e->sha256, sizeof e->sha256);
	bind_text_or_null(st, 11, e->upload_id, sizeof e->upload_id);
	bind_ns(st, 12, e->done_ns);
	sqlite3_bind_int64(st, 13, now_ns);
	if (step_done(d, st, "cannot record an export", err, errlen))
		goto out;
	if (sqlite3_changes(d->db) != 1) {
		errf(d->path, err, errlen, "export queue row %ld is not being uploaded by %s any "
		     "more", e->row, owner ? owner : "");
		ret = DB_ENOTFOUND;
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_export_requeue_stale(db_t *d, int (*alive)(void *ud, const char *owner), void *ud,
			    int64_t now_ns, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	int ret = DB_ERROR, n = 0, rc;

	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN IMMEDIATE", "cannot begin a write", err, errlen) ||
	    prepare(d, "SELECT id, owner FROM export_queue WHERE state = 'uploading'", &st, err,
		    errlen) ||
	    prepare(d,
		    "UPDATE export_queue SET state = 'queued', owner = NULL, next_attempt_ns = ?2,"
		    " updated_ns = ?2 WHERE id = ?1 AND state = 'uploading'",
		    &up, err, errlen))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char owner[DB_EXPORT_OWNER_MAX];

		col_str(st, 1, owner, sizeof owner);
		if (alive && alive(ud, owner))
			continue;
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
		sqlite3_bind_int64(up, 2, now_ns);
		if (step_done(d, up, "cannot requeue an export", err, errlen))
			goto out;
		n++;
	}
	if (rc != SQLITE_DONE) {
		sqlerr(d, err, errlen, "cannot read the export queue");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (exec(d, "COMMIT", "cannot commit", err, errlen))
		goto out;
	ret = n;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	rollback(d);
	pthread_mutex_unlock(&d->mu);
	return ret;
}

int db_export_next_due(db_t *d, int64_t *when, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ret = DB_ERROR;

	pthread_mutex_lock(&d->mu);
	if (prepare(d, "SELECT min(next_attempt_ns) FROM export_queue WHERE state = 'queued'", &st,
		    err, errlen))
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlerr(d, err, errlen, "cannot read the export queue");
		goto out;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		ret = DB_ENOTFOUND;
		goto out;
	}
	*when = sqlite3_column_int64(st, 0);
	ret = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return ret;
}
