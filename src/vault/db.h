/*
 * db.h - the index of incidents and their capture files: an SQLite database, DIR/index.db.
 *
 * DESIGN: the index is what the HTTP API, `ringcap incidents' and the retention sweep read. It is
 * written by one thread of the agent (the store's worker) and read by any number of threads and
 * processes: WAL journal mode, synchronous=NORMAL (FULL for file rows), a busy timeout of 5 s, and
 * one connection per db_t guarded by a mutex, so a db_t may be shared by threads.
 * The schema is versioned with PRAGMA user_version: db_open() applies the migrations the file has
 * not seen yet, each in its own transaction, and refuses a file whose version is newer than this
 * binary knows. The index never points at a capture file that is not complete: a file row is
 * inserted only after the sealed file has been fsync'd and renamed to its final name.
 *
 * Schema (version 1):
 *   incidents(id INTEGER PRIMARY KEY, state TEXT, trigger TEXT, classification TEXT,
 *             started_ns INTEGER, resolved_ns INTEGER NULL, resolved_wall_ns INTEGER NULL,
 *             pcap_packets INTEGER, cap_reached INTEGER, meta TEXT,  -- meta: the ID.json text
 *             expired INTEGER DEFAULT 0, updated_ns INTEGER)
 *   files(incident_id INTEGER PRIMARY KEY REFERENCES incidents(id), name TEXT, format TEXT,
 *         plain_bytes INTEGER, sealed_bytes INTEGER, sha256 TEXT, key_id TEXT, sealed_ns INTEGER,
 *         deleted_ns INTEGER NULL, deleted_reason TEXT NULL)
 *   index on incidents(resolved_wall_ns) for the retention sweep.
 * Version 2 adds the export queue (see "the export queue" below):
 *   export_queue(id INTEGER PRIMARY KEY, kind TEXT ('incident'|'pcap'), ref TEXT, UNIQUE(kind, ref),
 *                state TEXT ('queued'|'uploading'|'done'|'failed'), attempts INTEGER,
 *                next_attempt_ns INTEGER, last_error TEXT, bucket TEXT, object_key TEXT,
 *                etag TEXT, size INTEGER, sha256 TEXT, upload_id TEXT, owner TEXT,
 *                queued_ns INTEGER, started_ns INTEGER, done_ns INTEGER, updated_ns INTEGER)
 *   index on export_queue(state, next_attempt_ns) for the worker.
 *
 * Times are nanoseconds since the epoch. resolved_ns is packet time (what the incident saw);
 * resolved_wall_ns is the wall clock when the agent recorded the resolution, the base of
 * retention (a replayed 2011 capture must not expire the moment it is indexed).
 *
 * Errors: functions return 0 on success, DB_ENOTFOUND where a row is missing, or DB_ERROR with a
 * message in err naming the database path and SQLite's message.
 */
#ifndef RINGCAP_DB_H
#define RINGCAP_DB_H

#include <stddef.h>
#include <stdint.h>

#define DB_FILE "index.db"
#define DB_SCHEMA_VERSION 2

enum {
	DB_ERROR = -1,
	DB_ENOTFOUND = -2,
	DB_EBUSY = -3, /* an export row is being uploaded by another live process */
};

typedef struct db db_t;

/* The capture file of an incident, as the store recorded it. */
struct db_file {
	char name[48];      /* sealed file name in DIR/incidents, e.g. "7.pcap.enc" */
	char format[8];     /* "pcap" or "pcapng" */
	uint64_t plain_bytes, sealed_bytes;
	char sha256[65];    /* SHA-256 of the plaintext capture, lowercase hex */
	char key_id[17];    /* vault key id it is sealed under */
	int64_t sealed_ns;  /* wall clock */
	int64_t deleted_ns; /* 0 while the file exists */
	char deleted_reason[16]; /* "retention", "" */
};

struct db_incident {
	long id;
	char state[12];           /* "open" or "resolved" */
	char trigger[24];         /* threshold name ("pps", "syn_pps", ...) or "manual" */
	char classification[40];
	int64_t started_ns, resolved_ns, resolved_wall_ns; /* 0 when not set */
	uint64_t pcap_packets;
	int cap_reached;
	int expired;              /* the capture was deleted by retention; metadata stays */
	int has_file;             /* file below is valid (a row in files) */
	struct db_file file;
};

/*
 * Opens (creating if missing, unless readonly) dir/index.db and migrates it to
 * DB_SCHEMA_VERSION. readonly opens an existing file for reading only (DB_ENOTFOUND if there is
 * none). Returns 0 and *out, or a negative code with a message in err and *out = NULL. Refused
 * (DB_ERROR): a file that is not an SQLite database, a schema newer than DB_SCHEMA_VERSION, and
 * read-only, a schema older than it (a read-only handle cannot migrate). Created with mode 0600.
 */
int db_open(const char *dir, int readonly, db_t **out, char *err, size_t errlen);

/* NULL-safe. */
void db_close(db_t *d);

/* The schema version of the open file (after migration). */
int db_schema_version(db_t *d);

/*
 * Inserts or updates the incident described by meta_json (the text of ID.json: "id", "state",
 * "trigger": {"threshold"}, "classification", "started_at", "resolved_at", "pcap_packets",
 * "cap_reached"; RFC 3339 times). The first time the state is "resolved", resolved_wall_ns is set
 * to wall_ns. The expired flag and the file row are left as they are. DB_ERROR if meta_json does
 * not parse or lacks "id".
 */
int db_put_incident(db_t *d, const char *meta_json, int64_t wall_ns, char *err, size_t errlen);

/*
 * Records the incident's sealed capture file (insert or replace), synced (synchronous=FULL)
 * before it returns. The incident row must exist: DB_ERROR otherwise.
 */
int db_put_file(db_t *d, long id, const struct db_file *f, char *err, size_t errlen);

/* Reads one incident (and its file row). DB_ENOTFOUND if there is no such incident. */
int db_get_incident(db_t *d, long id, struct db_incident *out, char *err, size_t errlen);

/*
 * The stored metadata text of an incident, malloc'd (caller frees) in *out. DB_ENOTFOUND if
 * there is no such incident.
 */
int db_get_meta(db_t *d, long id, char **out, char *err, size_t errlen);

/*
 * Lists incidents newest first (highest id first), those with id < before_id (0: from the
 * newest), at most limit of them, into out[] (capacity limit). Returns how many were written
 * (>= 0) or DB_ERROR (also for limit < 0; limit 0 only counts). *total gets the number of incidents in the index if total is not NULL.
 */
int db_list_incidents(db_t *d, long before_id, int limit, struct db_incident *out, long *total,
		      char *err, size_t errlen);

/*
 * Incidents whose capture is due for deletion at now_ns: resolved, resolved_wall_ns +
 * retention_ns <= now_ns, a file row not yet deleted. Writes up to max ids to ids (oldest first);
 * returns how many or DB_ERROR (also for a negative retention_ns).
 */
int db_due_for_retention(db_t *d, int64_t now_ns, int64_t retention_ns, long *ids, int max,
			 char *err, size_t errlen);

/*
 * Marks the capture of id deleted at now_ns for reason and the incident expired, in one
 * transaction. DB_ENOTFOUND if id has no file row. Marking again keeps the first time and reason.
 */
int db_mark_deleted(db_t *d, long id, int64_t now_ns, const char *reason, char *err,
		    size_t errlen);

/*
 * ---- the export queue ----
 *
 * One row per thing to ship to object storage: an incident's capture ("incident", ref = the id
 * in decimal) or a continuous file ("pcap", ref = its file name). States:
 *
 *   queued --claim--> uploading --done--> done
 *     ^                  |  \--permanent failure--> failed --claim (by hand)--> uploading
 *     \--retry (backoff)-/
 *
 * A claim is a state transition inside a BEGIN IMMEDIATE transaction, so two exporters (the
 * agent's worker and `ringcap export' in another process) never hold the same row: the row
 * records its owner ("PID:START", START being the process start time from /proc, so a reused
 * pid is not mistaken for the owner), and every later update of the row is made only by that
 * owner. Rows left `uploading' by a process that is gone go back to `queued'
 * (db_export_requeue_stale). Times are wall-clock ns; 0 is "not set" (NULL).
 */
#define DB_EXPORT_OWNER_MAX 48

struct db_export {
	long row;
	char kind[12];		/* "incident" or "pcap" */
	char ref[64];		/* incident id in decimal, or the pcap file name */
	char state[12];		/* "queued", "uploading", "done", "failed" */
	int attempts;		/* claims so far */
	int64_t next_attempt_ns; /* a queued row is due from then on */
	char last_error[512];	/* "" when none */
	char bucket[64];	/* where it went (or goes) */
	char object_key[512];
	char etag[80];		/* of the capture object, once uploaded and verified */
	uint64_t size;
	char sha256[65];	/* of the object's bytes */
	char upload_id[512];	/* a multipart upload left open by a failed attempt: to abort */
	char owner[DB_EXPORT_OWNER_MAX]; /* who holds it `uploading' */
	int64_t queued_ns, started_ns, done_ns, updated_ns;
};

/*
 * Queues kind/ref at now_ns unless a row for it exists (whatever its state). Returns 1 if a
 * row was added, 0 if there was one, DB_ERROR (also for a kind other than "incident"/"pcap").
 */
int db_export_enqueue(db_t *d, const char *kind, const char *ref, int64_t now_ns, char *err,
		      size_t errlen);

/*
 * Queues every incident whose capture is sealed and still on disk, resolved, and not in the
 * queue yet (after a crash between sealing and queueing, or when export is turned on). Returns
 * how many rows were added, or DB_ERROR.
 */
int db_export_backfill(db_t *d, int64_t now_ns, char *err, size_t errlen);

/* The row for kind/ref. DB_ENOTFOUND if there is none. */
int db_export_get(db_t *d, const char *kind, const char *ref, struct db_export *out, char *err,
		  size_t errlen);

/*
 * Lists rows in queue order (by row number), those with row > after_row, at most max, into
 * out[]. Returns how many, or DB_ERROR. *total (may be NULL) gets the number of rows.
 */
int db_export_list(db_t *d, long after_row, struct db_export *out, int max, long *total,
		   char *err, size_t errlen);

/*
 * Claims a row for owner: state `uploading', attempts + 1, started_ns = now_ns. row 0 takes
 * the queued row due soonest with next_attempt_ns <= now_ns (DB_ENOTFOUND if none is due);
 * otherwise that row, if it is queued or failed, or done and force is set. A row `uploading'
 * gives DB_EBUSY with the row (and its owner) in *out; a done row without force DB_ENOTFOUND
 * with the row in *out. On success *out is the row as claimed.
 */
int db_export_claim(db_t *d, long row, int64_t now_ns, const char *owner, int force,
		    struct db_export *out, char *err, size_t errlen);

/*
 * Writes the outcome or progress of a claimed row: state, next_attempt_ns, last_error, bucket,
 * object_key, etag, size, sha256, upload_id, done_ns from e, updated_ns = now_ns; the owner is
 * kept while the state stays `uploading' and cleared otherwise. Only the owner that claimed the
 * row may do this: DB_ENOTFOUND if e->row is not `uploading' by owner any more.
 */
int db_export_update(db_t *d, const struct db_export *e, const char *owner, int64_t now_ns,
		     char *err, size_t errlen);

/*
 * Puts rows left `uploading' back to `queued' (due at once) when alive(ud, owner) says their
 * owner is gone, in one transaction. Returns how many, or DB_ERROR.
 */
int db_export_requeue_stale(db_t *d, int (*alive)(void *ud, const char *owner), void *ud,
			    int64_t now_ns, char *err, size_t errlen);

/* When the next queued row is due, in *when. DB_ENOTFOUND if nothing is queued. */
int db_export_next_due(db_t *d, int64_t *when, char *err, size_t errlen);

#endif
