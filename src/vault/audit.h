/*
 * audit.h - the tamper-evident audit trail: DIR/audit/audit.jsonl plus signed checkpoints.
 *
 * DESIGN: one JSON object per line, so the file can be shipped to a SIEM as it is. Every record
 * carries "seq" (1, 2, ...), "time" (RFC 3339 UTC with microseconds, wall clock), "event",
 * "prev_hash" (the previous record's "hash"; 64 zeros for seq 1) and "hash": SHA-256, in lowercase
 * hex, over the record's canonical form, which is the record without "hash", serialised by jansson
 * with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII. Changing, deleting, inserting or
 * reordering a record therefore breaks the chain at that record.
 * Cutting records off the end keeps the chain intact, so the head is also signed: a checkpoint
 * ({"seq":N,"head":HASH,"time":...,"pubkey":HEX,"sig":HEX}, Ed25519 over "ringcap audit
 * checkpoint v1\n" || N || "\n" || HEAD) is appended to DIR/audit/checkpoints.jsonl, apart from
 * the trail, at least every AUDIT_CHECKPOINT_EVERY records, at least every 60 s while records are
 * being added, and when the trail is closed. The Ed25519 private key's 32-byte seed is the key
 * file's KEYS_PURPOSE_AUDIT subkey of the primary key (keys_subkey_for), and the checkpoint names
 * that key ("key_id"), so verification re-derives the public key from the key file for each
 * checkpoint (after a rotation too) and never trusts the "pubkey" written in a checkpoint.
 *
 * Appends: the whole line is written with one write(2) on an O_APPEND descriptor under flock(),
 * then fsync'd, so records from several threads and processes (`ringcap run` and `ringcap
 * serve` on one DIR) never interleave, and the chain head is re-read from the file when another
 * process has appended since. A crash mid-write can leave a torn last line (no newline or not
 * JSON): audit_open() detects it, reports it (log_warn with its offset and length), ends it with a
 * newline and appends a "torn_record" record naming its offset and length, chained to the last
 * good record. `audit verify' reports such a line as acknowledged damage, not as tampering.
 *
 * Files are created mode 0600 in DIR/audit (0700). Readers (audit_verify, audit_list) take a
 * shared flock(), so they never see half a line. The written line is the canonical form with
 * "hash" added (all keys sorted), so the stored bytes are fully determined by the record: a line
 * whose bytes differ from that serialisation fails verification even if its content hashes right.
 */
#ifndef RINGCAP_AUDIT_H
#define RINGCAP_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vault/keys.h"

#define AUDIT_SUBDIR "audit"
#define AUDIT_FILE "audit.jsonl"
#define AUDIT_CHECKPOINTS "checkpoints.jsonl"
#define AUDIT_CHECKPOINT_EVERY 16
/* HKDF purpose of the records' HMAC key (keys_subkey_for), apart from the checkpoint seed */
/* `audit verify' fails when records have been unsigned this long (the agent signs at its hourly
 * store sweep at the latest, and at open and close) */
#define AUDIT_UNSIGNED_MAX_S 3660
#define AUDIT_MAC_PURPOSE "ringcap audit record mac v2"

typedef struct audit audit_t;

/*
 * Opens (creating if needed) DIR/audit/audit.jsonl for appending; checks the last line (torn ->
 * repaired and recorded as above). Checkpoints are signed with the audit subkey of keys' primary
 * key, derived here (keys is only used during this call). Creates DIR and DIR/audit (0700) if
 * missing. After fork(), a child opens its own audit_t rather than using the parent's. Returns 0
 * and *out, or -1 with a message in err.
 */
int audit_open(const char *dir, const keys_t *keys, audit_t **out, char *err, size_t errlen);

/*
 * Appends one record: event (e.g. "url_issued"), and the members of fields (may be NULL; the
 * reference is stolen) merged in; "seq", "time", "prev_hash" and "hash" are set here and any
 * such member of fields is ignored. Thread-safe. Returns the record's seq (> 0), or -1 with a
 * message in err (the record was not written; also when fields is not an object or the line
 * would exceed 1 MiB). A checkpoint due after the record that cannot be written is logged
 * (log_warn), not returned: the record itself is in the trail.
 *
 * Events and their fields used by ringcap:
 *   url_issued         actor, client, incident, url_id, expires
 *   download_started   client, incident, url_id, range ("bytes=..." or null)
 *   download_completed client, incident, url_id, bytes, sha256, complete (bool)
 *   request_denied     actor (or null), client, method, path (no query string), status, reason
 *   capture_started    actor, client, incident, seconds, packets
 *   retention_deleted  incident, file, resolved_at, retention_days
 *   key_rotated        key_id, files_rewrapped, files_failed
 *   capture_decrypted  actor ("cli"), incident, file (where it was written), bytes, sha256
 *   token_added / token_revoked   name
 *   torn_record        offset, length
 */
long audit_append(audit_t *a, const char *event, json_t *fields, char *err, size_t errlen);

/* Writes a checkpoint now if records were added since the last one. Returns 0 or -1 (err). */
int audit_checkpoint(audit_t *a, char *err, size_t errlen);

/* Writes a final checkpoint and frees a. NULL-safe. */
void audit_close(audit_t *a);

/*
 * Checks DIR/audit: every line parses, seq runs 1, 2, ... without gaps, each prev_hash is the
 * previous hash, each hash matches the canonical form; every checkpoint's signature verifies
 * under the public key of its key_id in keys, its seq is within the trail and its head equals
 * that record's hash. Prints one line per problem to report (the first record that does not
 * verify is named by line number and seq, with what is wrong), and a summary line:
 *   audit trail `DIR/audit/audit.jsonl': 42 records, 4 checkpoints: intact
 * (or ": NOT intact, N problems"). report may be NULL. Returns 0 when all is intact (acknowledged
 * torn lines allowed), 1 when anything does not verify, -1 when the trail cannot be read (err).
 * A missing trail is intact with 0 records unless checkpoints name records. A checkpoint line
 * that is not JSON at all (a torn write) is reported and ignored, since removing a checkpoint
 * cannot be detected either; one that parses but does not verify is a failure, and so is a
 * checkpoint whose key_id is not in keys.
 */
int audit_verify(const char *dir, const keys_t *keys, FILE *report, char *err, size_t errlen);

/*
 * As audit_verify(), and also checks the trail against checkpoints kept elsewhere (witness: a
 * file of checkpoint lines, e.g. from syslog, S3 or GET /api/v1/audit/checkpoint): each must
 * verify, and its seq and head must be a record of the local trail, so a trail cut or rewritten
 * after the witness saw it fails even when it was re-signed with the key. witness NULL: as
 * audit_verify(). A witness that cannot be read is -1 (err).
 */
int audit_verify_witness(const char *dir, const keys_t *keys, const char *witness, FILE *report,
			 char *err, size_t errlen);

/*
 * Reads records for listing, newest first: those with seq < before_seq (0: from the newest), at
 * most limit. Returns a new JSON array (caller decrefs) or NULL with a message in err. *total
 * gets the number of records if total is not NULL. Lines that do not parse are skipped.
 * "Newest first" is file order reversed. limit 0 gives an empty array (and *total); a negative
 * limit is an error; a missing trail gives an empty array. Records are not verified here.
 */
json_t *audit_list(const char *dir, long before_seq, int limit, long *total, char *err,
		   size_t errlen);

#endif
