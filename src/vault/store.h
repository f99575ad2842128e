/*
 * store.h - the evidence store: sealing finished incident captures, the index, retention, and
 * the keys, audit trail and clock the rest of the vault uses.
 *
 * DESIGN: one store per agent process over DIR. It owns the key file (keys.h), the index
 * (db.h), the audit trail (audit.h), and a worker thread that does all the slow or ordered
 * writing so that the capture loop never waits on a disk or a cipher:
 *   - metadata: incident.c hands every new version of an incident's metadata to store_meta();
 *     the worker writes DIR/incidents/ID.json (temporary file + rename; fsync when final), with
 *     the storage members merged in ("pcap_file" and "storage"), and upserts the index row (whose
 *     copy of the metadata is the version without "storage": readers build that object from
 *     the row with store_storage_json()). The worker is the only writer of
 *     ID.json while a store is open.
 *   - sealing: store_seal() queues a finished plaintext capture (DIR/incidents/ID.pcap.part,
 *     closed and fsync'd); the worker seals it under the primary key into ID.pcap.enc.tmp,
 *     fsyncs, renames it to ID.pcap.enc, fsyncs the folder, indexes the file, rewrites ID.json
 *     and only then unlinks the plaintext. A crash at any point leaves either the plaintext
 *     (sealed again at the next start) or a complete sealed file (the plaintext is then removed).
 *   - retention: a sweep at start and every hour deletes sealed captures RETENTION_DAYS after
 *     their incident resolved (wall clock when the agent recorded the resolution), marks them
 *     expired in the index and in ID.json, and writes each deletion to the audit trail.
 *   - export: with export_incidents, an incident whose capture is sealed and indexed and which
 *     has resolved (whichever comes last) gets a row in the index's export queue (db.h), and the
 *     export hook is called; the uploading is export.c's. ID.json's storage.export is read
 *     from that row each time ID.json is written; store_refresh_meta() asks for a rewrite.
 * The clock is store_now_ns(): the wall clock, or the time in $RINGCAP_NOW (a test hook: epoch
 * seconds, or RFC 3339 UTC) when set.
 */
#ifndef RINGCAP_STORE_H
#define RINGCAP_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "recorder/incident.h"
#include "vault/audit.h"
#include "vault/db.h"
#include "vault/keys.h"
#include "vault/vault.h"

#define STORE_NOW_ENV CLOCK_NOW_ENV /* base/clock.h: the test clock */
#define STORE_SEALED_EXT ".enc"

typedef struct store store_t;

enum {
	STORE_ERROR = -1,
	STORE_ENOTFOUND = -2, /* no such incident */
	STORE_ENOFILE = -3,   /* the incident has no capture (statistics-only, or not sealed yet) */
	STORE_EEXPIRED = -4,  /* the capture was deleted by retention */
	STORE_EVAULT = -5,    /* the sealed file does not open or verify (message names it) */
};

struct store_config {
	const char *dir;      /* DIR */
	int64_t retention_ns; /* RETENTION_DAYS; 0 keeps captures forever */
	int worker;           /* start the worker (agent); 0 for commands that only read */
	int export_incidents; /* queue resolved, sealed captures for export to object storage */
};

/*
 * Opens the key file (creating it if missing), the index (migrating it) and the audit trail, and
 * starts the worker if asked, which seals plaintext captures left by a crash and runs a first
 * retention sweep. Returns NULL with a message in err.
 */
store_t *store_open(const struct store_config *c, char *err, size_t errlen);

/* Waits for the worker to finish everything queued, stops it, closes everything. NULL-safe. */
void store_close(store_t *s);

/* Wall clock in ns, or $RINGCAP_NOW. */
int64_t store_now_ns(void);

/* ---- for incident.c (capture thread; never blocks on disk) ---- */

/* A new version of incident id's metadata (reference stolen). final: the incident has ended. */
void store_meta(store_t *s, long id, json_t *meta, int final);

/*
 * Queues the finished plaintext capture DIR/incidents/part_name (e.g. "7.pcap.part") of incident
 * id for sealing; format is "pcap" or "pcapng".
 */
void store_seal(store_t *s, long id, const char *part_name, const char *format);

/* The recorder's incident_sink (recorder/incident.h) that calls store_meta() and store_seal(). */
struct incident_sink store_sink(store_t *s);

/*
 * Called on the worker thread (or the caller's, without a worker) after an incident was added
 * to the export queue, so that the exporter wakes up; it must be quick and must not call the
 * store (it runs under the store's queue lock). May be set once the store is open; NULL removes
 * it, and once that returns the hook is not running and will not be called.
 */
void store_set_export_hook(store_t *s, void (*queued)(void *ud, long id), void *ud);

/* Queues a rewrite of incident id's ID.json (its export state changed). Without a worker the
 * rewrite happens now. */
void store_refresh_meta(store_t *s, long id);

/* Blocks until everything queued so far is written (end of run, tests). */
void store_drain(store_t *s);

/* ---- for the HTTP API and the commands ---- */

db_t *store_db(store_t *s);
audit_t *store_audit(store_t *s);
const char *store_dir(const store_t *s);
int64_t store_retention_ns(const store_t *s);

/*
 * The URL-signing key for key id kid (NULL: the primary key), derived with KEYS_PURPOSE_URL; the
 * key id used is copied to kid_out (VAULT_KEY_ID_MAX + 1 bytes). Reloads the key file if it
 * changed on disk (rotation by another process). Returns 0, or -1 if there is no such key.
 */
int store_url_key(store_t *s, const char *kid, uint8_t key[VAULT_KEY_LEN], char *kid_out);

/*
 * Opens incident id's sealed capture for reading: 0 and a reader in *out (close it with
 * vault_reader_close) and the incident in *inc; or STORE_ENOTFOUND, STORE_ENOFILE,
 * STORE_EEXPIRED, STORE_EVAULT, STORE_ERROR with a message in err. Thread-safe.
 */
int store_open_capture(store_t *s, long id, vault_reader_t **out, struct db_incident *inc,
		       char *err, size_t errlen);

/*
 * Opens incident id's sealed file itself (ciphertext, read-only): 0 and the descriptor in *fd
 * (the caller closes it) and the incident in *inc, or the codes of store_open_capture().
 */
int store_open_sealed(store_t *s, long id, int *fd, struct db_incident *inc, char *err,
		      size_t errlen);

/*
 * The "storage" object of the API and of ID.json for inc (from db_get_incident): {"state":
 * "sealed"|"pending"|"expired"|"none", "encrypted", "file", "format", "plain_bytes",
 * "sealed_bytes", "sha256", "key_id", "sealed_at", "retention_days", "expires_at", "export"}.
 * "export" is null until the incident is queued for export, then {"state": "queued" |
 * "uploading" | "done" | "failed", "bucket", "object_key", "etag", "bytes", "sha256",
 * "attempts", "queued_at", "exported_at", "next_attempt_at", "last_error"} from the queue row
 * (members not known yet are null). A new reference; NULL only when out of memory.
 */
json_t *store_storage_json(const store_t *s, const struct db_incident *inc);

/* One retention sweep at now_ns (the worker calls it; `ringcap retention' too). Returns the number
 * of captures deleted, or -1 (err). */
int store_sweep(store_t *s, int64_t now_ns, char *err, size_t errlen);

/*
 * Key rotation: a new primary key, then every sealed capture re-wrapped under it (vault_rewrap),
 * then a key_rotated audit record. Returns the number of files re-wrapped, or -1 (err).
 */
int store_rotate_keys(store_t *s, char *new_id, size_t new_id_len, char *err, size_t errlen);

#endif
