/*
 * export.h - shipping evidence to S3-compatible object storage (AWS S3, Ceph RGW, MinIO): the
 * settings, the queue worker of the agent, and one-off exports.
 *
 * DESIGN: the queue lives in the index (db.h, export_queue), so a restart, a crash or an
 * unreachable endpoint never loses an export. The store queues an incident once its capture is
 * sealed and it has resolved; the continuous recorder's finisher queues a finished file
 * (incidents+pcaps). One worker thread with its own s3_t takes the due row with a state
 * transition (db_export_claim: two exporters never hold one row) and uploads it:
 *   - an incident capture: with encrypted=false the plaintext, decrypted from the sealed file on
 *     the fly (vault_read_range, one 64 KiB segment cached) and never written to disk; read once
 *     to hash (SigV4 signs the real SHA-256 of the payload, of each part for multipart) and once
 *     to send. With encrypted=true the sealed file as it is. Then PREFIX/AGENT/incidents/ID.json
 *     (the incident's metadata and what was uploaded) next to it, after the capture.
 *   - a continuous file: PREFIX/AGENT/pcaps/NAME as it is on disk (continuous files are not
 *     sealed locally, so encrypted=true does not apply to them).
 * Every upload is checked by HEAD (size, and ETag when it is an MD5) inside s3.c. Outcomes:
 * done; a failure that may pass (network, server, auth, a missing bucket, ...) goes back to
 * queued with an exponential backoff (export_backoff_ns); one that cannot (the local file was
 * deleted by retention first, a sealed file that does not verify) becomes failed, which only
 * `ringcap export ID' retries. Each outcome is written to the audit trail (export_done,
 * export_retry, export_failed) and, for incidents, into ID.json's storage.export through the
 * store. A multipart upload left open by a failure (the abort did not get through) is recorded
 * in the row and aborted before the next attempt. A bucket that does not exist is created
 * (PUT bucket) on the first NoSuchBucket reply.
 *
 * Object keys: [PREFIX/]AGENT/incidents/ID.pcap (.pcapng; + .enc when encrypted), ID.json next
 * to it, and [PREFIX/]AGENT/pcaps/capture_YYYYMMDD_HHMMSS_NNNN.pcap. Objects carry
 * x-amz-meta-ringcap-agent and x-amz-meta-ringcap-sha256 (the SHA-256 of the plaintext capture).
 *
 * Secrets: the secret key comes from S3_SECRET_KEY (environment or config file, never a flag) or
 * from S3_CREDENTIALS_FILE, refused like the vault's key file when it is a symbolic link, not a
 * regular file, owned by another user, or readable by group or others. It is never logged, and
 * wiped when the configuration is freed.
 *
 * Errors: functions return 0 or a negative code with a message in the caller's err buffer.
 */
#ifndef RINGCAP_EXPORT_H
#define RINGCAP_EXPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "vault/db.h"
#include "export/s3.h"
#include "vault/store.h"

#define EXPORT_MODES "off|incidents|incidents+pcaps"
#define EXPORT_DEFAULT_MULTIPART_MIB 64
#define EXPORT_BACKOFF_BASE_NS (5LL * 1000000000LL) /* first retry within 2.5..5 s */
#define EXPORT_BACKOFF_MAX_NS (3600LL * 1000000000LL)
#define EXPORT_KEY_MAX 512

enum export_mode { EXPORT_OFF = 0, EXPORT_INCIDENTS, EXPORT_INCIDENTS_PCAPS };

enum {
	EXPORT_ERROR = -1,	/* a failure, in err */
	EXPORT_EBUSY = -2,	/* another live process is uploading this row */
	EXPORT_EDONE = -3,	/* exported already (and not forced) */
	EXPORT_ENOTFOUND = -4,	/* no such incident, or nothing to export for it */
};

/* The settings as parsed by config.h (strings point into argv, environ or a config file). */
struct export_settings {
	const char *endpoint, *bucket, *region, *prefix, *agent;
	const char *access_key, *secret_key, *credentials_file;
	int mode;		/* index in EXPORT_MODES */
	int encrypted;		/* S3_EXPORT_ENCRYPTED */
	uint32_t multipart_mib; /* 0 -> EXPORT_DEFAULT_MULTIPART_MIB */
	uint64_t max_send_rate; /* bytes per second, 0 unlimited */
};

/* config.h table entries for the connection settings, then for all of them, into member m (a
 * struct export_settings) of the settings struct type. */
#define EXPORT_S3_OPTS(type, m)                                                                 \
	{"S3_ENDPOINT", "s3-endpoint", 0, CFG_STR, offsetof(type, m.endpoint), 0, 0, NULL, "URL",  \
	 "S3-compatible endpoint, http[s]://HOST[:PORT]"},                                        \
	{"S3_BUCKET", "s3-bucket", 0, CFG_STR, offsetof(type, m.bucket), 0, 0, NULL, "NAME",       \
	 "bucket for exported evidence (created if missing)"},                                    \
	{"S3_REGION", "s3-region", 0, CFG_STR, offsetof(type, m.region), 0, 0, NULL, "REGION",     \
	 "region the requests are signed for (default us-east-1)"},                               \
	{"S3_ACCESS_KEY", "s3-access-key", 0, CFG_STR, offsetof(type, m.access_key), 0, 0, NULL,   \
	 "ID", "access key id"},                                                                  \
	{"S3_SECRET_KEY", NULL, 0, CFG_STR, offsetof(type, m.secret_key), 0, 0, NULL, NULL,        \
	 "(no flag) secret key: environment or config file only"},                                \
	{"S3_CREDENTIALS_FILE", "s3-credentials-file", 0, CFG_STR,                                 \
	 offsetof(type, m.credentials_file), 0, 0, NULL, "FILE",                                  \
	 "read access_key = ... and secret_key = ... from FILE (mode 0600) instead"}
#define EXPORT_OPTS(type, m)                                                                    \
	EXPORT_S3_OPTS(type, m),                                                                \
	{"S3_EXPORT", "s3-export", 0, CFG_CHOICE, offsetof(type, m.mode), 0, 0, EXPORT_MODES,      \
	 EXPORT_MODES, "what the agent ships to S3 (default off)"},                               \
	{"S3_EXPORT_ENCRYPTED", "s3-export-encrypted", 0, CFG_BOOL, offsetof(type, m.encrypted), 0, \
	 0, NULL, "true|false",                                                                   \
	 "ship incident captures as the vault's encrypted files (default false: plain pcap)"},    \
	{"S3_PREFIX", "s3-prefix", 0, CFG_STR, offsetof(type, m.prefix), 0, 0, NULL, "PREFIX",     \
	 "object keys start with PREFIX/ (default none)"},                                        \
	{"RINGCAP_AGENT", "agent", 0, CFG_STR, offsetof(type, m.agent), 0, 0, NULL, "NAME",        \
	 "this agent's name in object keys (default the host name)"},                             \
	{"S3_MULTIPART_SIZE", "s3-multipart-size", 0, CFG_U32, offsetof(type, m.multipart_mib), 5, \
	 5120, NULL, "MiB", "upload files of MiB or more in parts of MiB (default 64)"},          \
	{"S3_MAX_SEND_RATE", "s3-max-send-rate", 0, CFG_UINT, offsetof(type, m.max_send_rate), 0,  \
	 1e12, NULL, "BYTES", "at most BYTES per second for uploads (default 0: no limit)"}

/* A checked configuration. Holds copies of everything; free with export_config_clear(). */
struct export_config {
	enum export_mode mode;
	int encrypted;
	char endpoint[256], bucket[64], region[64];
	char prefix[256]; /* without leading or trailing '/'; "" for none */
	char agent[65];
	char access_key[129], secret_key[513];
	uint64_t multipart_bytes, max_send_rate;
};

/*
 * Checks st and fills c. need_s3: the connection settings must be there (S3_EXPORT not off, or
 * `ringcap export' / `ringcap url --s3'); otherwise a missing endpoint is fine and c->mode is
 * what S3_EXPORT says. Reads S3_CREDENTIALS_FILE. Returns 0, or -1 with a message naming the
 * variable in err (the caller exits with status 2). Secrets never appear in err.
 */
int export_config_load(const struct export_settings *st, int need_s3, struct export_config *c,
		       char *err, size_t errlen);

/* Wipes the secret key. */
void export_config_clear(struct export_config *c);

/* c's connection as an s3.h config (pointing into c). */
void export_s3_config(const struct export_config *c, struct s3_config *out);

/*
 * Parses credentials file text: `access_key = ...' and `secret_key = ...' lines, blank lines
 * and `#' comments; each key exactly once. path is for messages, which never quote a value.
 * Returns 0 or -1 (err).
 */
int export_parse_credentials(const char *text, size_t len, const char *path, char *access,
			     size_t alen, char *secret, size_t slen, char *err, size_t errlen);

/*
 * The object key for name ("7.pcap", "7.json", "capture_....pcap") under dir ("incidents" or
 * "pcaps"): [PREFIX/]AGENT/dir/name. Returns 0, or -1 if it does not fit in len.
 */
int export_object_key(const struct export_config *c, const char *dir, const char *name,
		      char *out, size_t len);

/* Delay before the next try after the attempts-th failed one (>= 1): EXPORT_BACKOFF_BASE_NS
 * doubled each time, at most EXPORT_BACKOFF_MAX_NS, jittered down to between half of that and
 * all of it by rnd (uniform over 32 bits). */
int64_t export_backoff_ns(int attempts, uint32_t rnd);

/* This process as a queue owner: "PID:START" (START from /proc/self/stat). */
void export_owner_self(char *out, size_t len);

/* 1 if the process named by owner ("PID:START") still runs, else 0. */
int export_owner_alive(void *unused, const char *owner);

typedef struct exporter exporter_t;

/*
 * An exporter over store with configuration c (copied; c->mode says whether continuous files
 * are shipped too): an S3 client, no thread yet. Returns NULL with a message in err.
 */
exporter_t *export_new(store_t *store, const struct export_config *c, char *err,
		       size_t errlen);

/*
 * Starts the agent's worker: rows left `uploading' by a process that is gone go back to queued,
 * sealed incidents (and with incidents+pcaps the finished files in pcap_dir) not queued yet are
 * queued, and the store's export hook is set. Returns 0 or -1 (err).
 */
int export_start(exporter_t *e, const char *pcap_dir, char *err, size_t errlen);

/* The continuous recorder finished file name in pcap_dir: queue it (incidents+pcaps) and wake
 * the worker. Any thread. */
void export_pcap_finished(void *e, const char *name);

/*
 * End of a run over a file: waits until no row is due (each one was tried; failures are
 * scheduled for later and stay queued), or *interrupt becomes nonzero. Returns 0.
 */
int export_drain(exporter_t *e, const volatile sig_atomic_t *interrupt);

/*
 * Exports incident id now, in the calling thread: claims its row (adding one if there is none),
 * uploads, records the outcome like the worker. force uploads a done row again. Returns 0 and
 * the row as it ended in *out; EXPORT_EDONE (out: the row), EXPORT_EBUSY (out: the row, with
 * its owner), EXPORT_ENOTFOUND, or EXPORT_ERROR (out: the row with last_error) with err.
 */
int export_incident_now(exporter_t *e, long id, int force, struct db_export *out, char *err,
			size_t errlen);

struct export_stats {
	unsigned done, retried, failed;
};
void export_stats(exporter_t *e, struct export_stats *st);

/* Stops the worker (an upload in progress is cancelled and stays queued, due at once) and
 * frees. NULL-safe. */
void export_free(exporter_t *e);

#endif
