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
#define DB_SCHEMA_VERSION 1

enum { DB_ERROR = -1, DB_ENOTFOUND = -2 };

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

#endif
