/*
 * audit.c - the tamper-evident audit trail; see audit.h for the design and the file formats.
 *
 * Locking: a mutex serialises the threads using one audit_t, and flock(LOCK_EX) on the file
 * serialises the processes (and the separate audit_t of one process, which have their own open
 * file descriptions). Under the lock an appender compares the file size with the size it last
 * saw; when they differ someone else appended, so it re-reads the last line for the chain head.
 * Readers (audit_verify, audit_list) take LOCK_SH, so they never see half a line.
 *
 * Torn lines: a line is "acknowledged" when the record right after it is a torn_record naming its
 * offset and length; audit_open() (and an append that finds a torn tail left by a crashed
 * process) writes that record. audit_verify() leaves acknowledged lines out of the chain.
 */
#include "vault/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/clock.h"
#include "base/log.h"

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define LINE_MAX_BYTES (1u << 20) /* a record line is refused above this; longer lines are bad */
#define HEX_HASH 64		  /* SHA-256 in hex */
#define SIG_LEN 64		  /* Ed25519 signature */
#define CP_INTERVAL_NS (60 * NS_PER_S)
#define REPORT_MAX 200	      /* problem lines printed by audit_verify; the rest are counted */
#define PATH_LEN 4096

static const char zero_hash[HEX_HASH + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";
static const char cp_prefix[] = "ringcap audit checkpoint v1\n";
/* the HKDF purpose of the record MAC key: apart from the checkpoint signing seed */
#define MAC_PURPOSE AUDIT_MAC_PURPOSE
#define MAC_FIELD "mac_key" /* the key id whose MAC_PURPOSE subkey keys the record's "hash" */

static int verify_mode(const char *dir, const keys_t *keys, const char *witness, int live,
		       long *signed_upto, FILE *report, char *err, size_t errlen);

struct audit {
	pthread_mutex_t mu;
	int fd, cfd; /* audit.jsonl, checkpoints.jsonl: O_RDWR | O_APPEND */
	char path[PATH_LEN], cpath[PATH_LEN];
	long seq; /* chain head: last seq and its hash */
	char head[HEX_HASH + 1];
	off_t known;	/* trail size after our last read or write (-1: unknown) */
	long cp_seq;	/* head seq at our last checkpoint */
	int64_t cp_ns;	/* time of our last checkpoint (or of audit_open) */
	EVP_PKEY *pkey; /* Ed25519 key for checkpoints */
	char key_id[VAULT_KEY_ID_MAX + 1];
	char pubhex[2 * 32 + 1];
	uint8_t mac[VAULT_KEY_LEN]; /* HMAC-SHA256 key of the records */
	int refuse; /* the trail did not verify at audit_open: no checkpoint signs it */
};

/* ---- clock ---- */






/* RFC 3339 UTC with microseconds: 2024-05-01T12:00:00.123456Z */
static void fmt_time(int64_t ns, char *out, size_t len)
{
	int64_t sec = ns / NS_PER_S, rem = ns % NS_PER_S;
	if (rem < 0) {
		rem += NS_PER_S;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	char s[40];
	if (!gmtime_r(&t, &tm) || strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(s, sizeof s, "1970-01-01T00:00:00");
	snprintf(out, len, "%s.%06ldZ", s, (long)(rem / 1000));
}

/* ---- hashing and records ---- */

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = 0;
}

static int from_hex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return s[2 * n] ? -1 : 0;
}

/* Is s exactly n lowercase hex digits? */
static int is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int sha256_hex(const char *data, size_t len, char out[HEX_HASH + 1])
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	to_hex(md, 32, out);
	return 0;
}

/* The hash of rec, which must not hold "hash": SHA-256 over its canonical form. */
static int canon_hash(const json_t *rec, char out[HEX_HASH + 1])
{
	char *c = json_dumps(rec, CANON_FLAGS);
	if (!c)
		return -1;
	int rc = sha256_hex(c, strlen(c), out);
	free(c);
	return rc;
}

/* The keyed hash of rec (without "hash"): HMAC-SHA256 under key over its canonical form. */
static int canon_mac(const json_t *rec, const uint8_t key[VAULT_KEY_LEN], char out[HEX_HASH + 1])
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	char *c = json_dumps(rec, CANON_FLAGS);
	if (!c)
		return -1;
	int ok = HMAC(EVP_sha256(), key, VAULT_KEY_LEN, (const unsigned char *)c, strlen(c), md,
		      &mdlen) != NULL &&
		 mdlen == 32;
	free(c);
	if (!ok)
		return -1;
	to_hex(md, 32, out);
	return 0;
}

/* Copies text for a message: printable ASCII only, at most outlen - 1 bytes. */
static void printable(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < outlen; i++)
		out[j++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[j] = 0;
}

/*
 * Parses one line as a record: a JSON object with "seq" (integer >= 1), "event" and "time"
 * (strings), "prev_hash" and "hash" (64 lowercase hex digits). Returns it, or NULL with the reason
 * in why.
 */
static json_t *parse_record(const char *text, size_t len, char *why, size_t whylen)
{
	json_error_t je;
	json_t *o = json_loadb(text, len, PARSE_FLAGS, &je);
	const char *bad = NULL;
	if (!o) {
		char t[120];
		printable(je.text, strlen(je.text), t, sizeof t);
		set_err(why, whylen, "not JSON: %s at column %d", t, je.column);
		return NULL;
	}
	json_t *seq = json_object_get(o, "seq");
	if (!json_is_object(o))
		bad = "not a JSON object";
	else if (!json_is_integer(seq) || json_integer_value(seq) < 1 ||
		 json_integer_value(seq) >= LONG_MAX)
		bad = "no valid \"seq\"";
	else if (!json_is_string(json_object_get(o, "event")))
		bad = "no \"event\"";
	else if (!json_is_string(json_object_get(o, "time")))
		bad = "no \"time\"";
	else if (!is_hex(json_string_value(json_object_get(o, "prev_hash")), HEX_HASH))
		bad = "no valid \"prev_hash\"";
	else if (!is_hex(json_string_value(json_object_get(o, "hash")), HEX_HASH))
		bad = "no valid \"hash\"";
	if (bad) {
		set_err(why, whylen, "%s", bad);
		json_decref(o);
		return NULL;
	}
	return o;
}

static long rec_seq(const json_t *r)
{
	return (long)json_integer_value(json_object_get(r, "seq"));
}

static const char *rec_str(const json_t *r, const char *k)
{
	return json_string_value(json_object_get(r, k));
}

/* ---- file helpers ---- */

static int lock_fd(int fd, int op)
{
	while (flock(fd, op) != 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static void unlock_fd(int fd)
{
	flock(fd, LOCK_UN);
}

/* Reads len bytes at off (short only at end of file). */
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The start of the line that ends at end (exclusive; the byte at end is '\n' or EOF). */
static int line_start(int fd, off_t end, off_t *start)
{
	char buf[4096];
	off_t pos = end;
	while (pos > 0) {
		size_t n = pos >= (off_t)sizeof buf ? sizeof buf : (size_t)pos;
		if (pread_full(fd, buf, n, pos - (off_t)n) != (ssize_t)n)
			return -1;
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				*start = pos - (off_t)n + (off_t)i;
				return 0;
			}
		pos -= (off_t)n;
	}
	*start = 0;
	return 0;
}

/* The record in the len bytes at off, or NULL (not a record, too long, or unreadable). */
static json_t *record_at(int fd, off_t off, size_t len)
{
	if (len > LINE_MAX_BYTES)
		return NULL;
	char *buf = malloc(len ? len : 1);
	json_t *r = NULL;
	char why[200];
	if (buf && pread_full(fd, buf, len, off) == (ssize_t)len)
		r = parse_record(buf, len, why, sizeof why);
	free(buf);
	return r;
}

/* Writes all of line with one write(2); takes a partial write back. */
static int write_line(int fd, const char *line, size_t len, off_t size_before, const char *path,
		      char *err, size_t errlen)
{
	ssize_t n;
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		int e = n < 0 ? errno : ENOSPC;
		if (n > 0 && ftruncate(fd, size_before) != 0)
			log_warn("cannot take back a partial line at offset %lld of `%s': %s",
				 (long long)size_before, path, strerror(errno));
		set_err(err, errlen, "cannot append to `%s': %s", path, strerror(e));
		return -1;
	}
	if (fsync(fd) != 0) {
		set_err(err, errlen, "cannot fsync `%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- appending ---- */

/* Sets seq, time, prev_hash and hash of rec and appends it. File lock and a->mu held. */
static long write_record(audit_t *a, json_t *rec, char *err, size_t errlen)
{
	char t[48], hash[HEX_HASH + 1];
	char *line = NULL;
	long ret = -1;
	if (a->seq >= LONG_MAX - 1) {
		set_err(err, errlen, "`%s': seq %ld cannot grow", a->path, a->seq);
		return -1;
	}
	long seq = a->seq + 1;
	fmt_time(clock_now_ns(), t, sizeof t);
	json_object_del(rec, "hash");
	if (json_object_set_new(rec, "seq", json_integer(seq)) != 0 ||
	    json_object_set_new(rec, "time", json_string(t)) != 0 ||
	    json_object_set_new(rec, "prev_hash", json_string(a->head)) != 0 ||
	    json_object_set_new(rec, MAC_FIELD, json_string(a->key_id)) != 0 ||
	    canon_mac(rec, a->mac, hash) != 0 ||
	    json_object_set_new(rec, "hash", json_string(hash)) != 0 ||
	    !(line = json_dumps(rec, CANON_FLAGS))) {
		set_err(err, errlen, "cannot serialise an audit record (out of memory?)");
		goto out;
	}
	size_t len = strlen(line);
	if (len + 1 > LINE_MAX_BYTES) {
		set_err(err, errlen, "audit record too long (%zu bytes, at most %u)", len + 1,
			LINE_MAX_BYTES);
		goto out;
	}
	char *nl = realloc(line, len + 2);
	if (!nl) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	line = nl;
	line[len] = '\n';
	line[len + 1] = 0;
	if (write_line(a->fd, line, len + 1, a->known, a->path, err, errlen) != 0) {
		a->known = -1; /* re-read the tail next time */
		goto out;
	}
	a->known += (off_t)(len + 1);
	a->seq = seq;
	memcpy(a->head, hash, sizeof a->head);
	ret = seq;
out:
	free(line);
	return ret;
}

/*
 * Reads the chain head from the last line of the trail (size bytes). A torn last line (no
 * newline and not a record, or not a record) is ended with a newline and acknowledged with a
 * torn_record record chained to the last good record. File lock and a->mu held. Returns 1 if a
 * torn_record was written, 0, or -1 (err).
 */
static int load_tail(audit_t *a, off_t size, char *err, size_t errlen)
{
	a->seq = 0;
	memcpy(a->head, zero_hash, sizeof a->head);
	a->known = size;
	if (size == 0)
		return 0;
	char last;
	off_t off;
	if (pread_full(a->fd, &last, 1, size - 1) != 1)
		goto ioerr;
	int has_nl = last == '\n';
	off_t end = has_nl ? size - 1 : size;
	if (line_start(a->fd, end, &off) != 0)
		goto ioerr;
	size_t len = (size_t)(end - off);
	json_t *r = record_at(a->fd, off, len);
	if (r) {
		a->seq = rec_seq(r);
		memcpy(a->head, rec_str(r, "hash"), HEX_HASH);
		json_decref(r);
		if (!has_nl) {
			log_warn("`%s': the last record (offset %lld) has no newline; adding it",
				 a->path, (long long)off);
			if (write_line(a->fd, "\n", 1, size, a->path, err, errlen) != 0)
				return -1;
			a->known = size + 1;
		}
		return 0;
	}
	log_warn("`%s': torn last line at offset %lld, length %zu (an interrupted write); "
		 "acknowledging it with a torn_record record",
		 a->path, (long long)off, len);
	if (!has_nl) {
		if (write_line(a->fd, "\n", 1, size, a->path, err, errlen) != 0)
			return -1;
		a->known = size + 1;
	}
	/* the last good record before the torn line */
	for (off_t e = off; e > 0;) {
		off_t s;
		if (line_start(a->fd, e - 1, &s) != 0)
			goto ioerr;
		r = record_at(a->fd, s, (size_t)(e - 1 - s));
		if (r) {
			a->seq = rec_seq(r);
			memcpy(a->head, rec_str(r, "hash"), HEX_HASH);
			json_decref(r);
			break;
		}
		e = s;
	}
	json_t *t = json_pack("{s:s, s:I, s:I}", "event", "torn_record", "offset", (json_int_t)off,
			      "length", (json_int_t)len);
	if (!t) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	long seq = write_record(a, t, err, errlen);
	json_decref(t);
	return seq > 0 ? 1 : -1;
ioerr:
	set_err(err, errlen, "cannot read `%s': %s", a->path, strerror(errno));
	return -1;
}

/* Re-reads the head if the trail changed since we last looked. File lock and a->mu held. */
static int sync_head(audit_t *a, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(a->fd, &st) != 0) {
		set_err(err, errlen, "cannot stat `%s': %s", a->path, strerror(errno));
		return -1;
	}
	if (st.st_size == a->known)
		return 0;
	return load_tail(a, st.st_size, err, errlen) < 0 ? -1 : 0;
}

/* Ends a torn last checkpoint line with a newline. File lock held. */
static int cp_fix_tail(audit_t *a, char *err, size_t errlen)
{
	struct stat st;
	char last;
	if (fstat(a->cfd, &st) != 0 ||
	    (st.st_size > 0 && pread_full(a->cfd, &last, 1, st.st_size - 1) != 1)) {
		set_err(err, errlen, "cannot read `%s': %s", a->cpath, strerror(errno));
		return -1;
	}
	if (st.st_size == 0 || last == '\n')
		return 0;
	log_warn("`%s': the last line (ending at offset %lld) has no newline (an interrupted "
		 "write); ending it",
		 a->cpath, (long long)st.st_size);
	return write_line(a->cfd, "\n", 1, st.st_size, a->cpath, err, errlen);
}

static int ed25519_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t len, uint8_t sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = SIG_LEN;
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		 EVP_DigestSign(ctx, sig, &slen, msg, len) == 1 && slen == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int ed25519_verify(EVP_PKEY *pkey, const uint8_t *msg, size_t len,
			  const uint8_t sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		 EVP_DigestVerify(ctx, sig, SIG_LEN, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The signed message: "ringcap audit checkpoint v1\n" seq "\n" head. */
static size_t cp_message(long seq, const char *head, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s%ld\n%s", cp_prefix, seq, head);
	return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

/* Signs the current head into checkpoints.jsonl if it moved since our last one. a->mu held. */
static int checkpoint_locked(audit_t *a, char *err, size_t errlen)
{
	char msg[256], sighex[2 * SIG_LEN + 1], t[48];
	uint8_t sig[SIG_LEN];
	char *line = NULL;
	int ret = -1;
	if (a->seq <= a->cp_seq || a->seq == 0)
		return 0;
	if (a->refuse) {
		set_err(err, errlen,
			"refusing to sign a checkpoint: `%s' did not verify when it was opened "
			"(run `ringcap audit verify')",
			a->path);
		return -1;
	}
	int64_t now = clock_now_ns();
	size_t mlen = cp_message(a->seq, a->head, msg, sizeof msg);
	if (!mlen || ed25519_sign(a->pkey, (const uint8_t *)msg, mlen, sig) != 0) {
		set_err(err, errlen, "cannot sign an audit checkpoint: crypto library failure");
		return -1;
	}
	to_hex(sig, SIG_LEN, sighex);
	fmt_time(now, t, sizeof t);
	json_t *cp =
	    json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)a->seq, "head", a->head,
		      "time", t, "key_id", a->key_id, "pubkey", a->pubhex, "sig", sighex);
	line = cp ? json_dumps(cp, CANON_FLAGS) : NULL;
	json_decref(cp);
	if (!line) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	size_t len = strlen(line);
	char *nl = realloc(line, len + 2);
	if (!nl) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	line = nl;
	line[len++] = '\n';
	line[len] = 0;
	if (lock_fd(a->cfd, LOCK_EX) != 0) {
		set_err(err, errlen, "cannot lock `%s': %s", a->cpath, strerror(errno));
		goto out;
	}
	struct stat st;
	if (cp_fix_tail(a, err, errlen) == 0) {
		if (fstat(a->cfd, &st) != 0)
			set_err(err, errlen, "cannot stat `%s': %s", a->cpath, strerror(errno));
		else if (write_line(a->cfd, line, len, st.st_size, a->cpath, err, errlen) == 0)
			ret = 0;
	}
	unlock_fd(a->cfd);
	if (ret == 0) {
		a->cp_seq = a->seq;
		a->cp_ns = now;
	}
out:
	free(line);
	return ret;
}

static int make_dir(const char *p, char *err, size_t errlen)
{
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		set_err(err, errlen, "cannot create `%s': %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

int audit_open(const char *dir, const keys_t *keys, audit_t **out, char *err, size_t errlen)
{
	char sub[PATH_LEN];
	uint8_t seed[VAULT_KEY_LEN], pub[32];
	size_t publen = sizeof pub;
	int ret = -1;
	*out = NULL;
	if (!dir || !*dir || !keys) {
		set_err(err, errlen, "audit_open: no folder or no keys");
		return -1;
	}
	audit_t *a = calloc(1, sizeof *a);
	if (!a) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	a->fd = a->cfd = -1;
	pthread_mutex_init(&a->mu, NULL);
	if (snprintf(sub, sizeof sub, "%s/%s", dir, AUDIT_SUBDIR) >= (int)sizeof sub ||
	    snprintf(a->path, sizeof a->path, "%s/%s", sub, AUDIT_FILE) >= (int)sizeof a->path ||
	    snprintf(a->cpath, sizeof a->cpath, "%s/%s", sub, AUDIT_CHECKPOINTS) >=
		(int)sizeof a->cpath) {
		set_err(err, errlen, "folder name too long: `%s'", dir);
		goto out;
	}
	if (make_dir(dir, err, errlen) != 0 || make_dir(sub, err, errlen) != 0)
		goto out;

	/* the checkpoint key: the audit subkey of the primary key */
	const struct vault_key *pk = keys_primary(keys);
	if (!pk || keys_subkey_for(keys, NULL, KEYS_PURPOSE_AUDIT, seed) != 0) {
		set_err(err, errlen, "cannot derive the audit checkpoint key");
		goto out;
	}
	a->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
	OPENSSL_cleanse(seed, sizeof seed);
	if (keys_subkey_for(keys, NULL, MAC_PURPOSE, a->mac) != 0) {
		set_err(err, errlen, "cannot derive the audit record key");
		goto out;
	}
	if (!a->pkey || EVP_PKEY_get_raw_public_key(a->pkey, pub, &publen) != 1 || publen != 32) {
		set_err(err, errlen,
			"cannot make the audit checkpoint key: crypto library failure");
		goto out;
	}
	to_hex(pub, 32, a->pubhex);
	snprintf(a->key_id, sizeof a->key_id, "%s", pk->id);

	a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		set_err(err, errlen, "cannot open `%s': %s", a->path, strerror(errno));
		goto out;
	}
	a->cfd = open(a->cpath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->cfd < 0) {
		set_err(err, errlen, "cannot open `%s': %s", a->cpath, strerror(errno));
		goto out;
	}
	if (lock_fd(a->fd, LOCK_EX) != 0) {
		set_err(err, errlen, "cannot lock `%s': %s", a->path, strerror(errno));
		goto out;
	}
	struct stat st;
	int torn = -1;
	if (fstat(a->fd, &st) != 0)
		set_err(err, errlen, "cannot stat `%s': %s", a->path, strerror(errno));
	else
		torn = load_tail(a, st.st_size, err, errlen);
	unlock_fd(a->fd);
	if (torn < 0)
		goto out;
	/* a torn_record written here is not covered yet: the next checkpoint signs it */
	a->cp_seq = a->seq - torn;
	a->cp_ns = clock_now_ns();
	/* never sign on top of a trail that does not verify: a checkpoint would vouch for it */
	char verr[256];
	long signed_upto = 0;
	int vrc = verify_mode(dir, keys, NULL, 1, &signed_upto, NULL, verr, sizeof verr);
	if (vrc == 0 && signed_upto < a->seq) {
		/* records nobody signed (a crash): the trail verifies, so sign them now */
		a->cp_seq = signed_upto;
		pthread_mutex_lock(&a->mu);
		int crc = checkpoint_locked(a, verr, sizeof verr);
		pthread_mutex_unlock(&a->mu);
		if (crc != 0)
			log_warn("audit checkpoint at open: %s", verr);
	}
	if (vrc != 0) {
		a->refuse = 1;
		log_err("AUDIT TRAIL `%s' DOES NOT VERIFY (%s): it may have been tampered with; "
			  "records are still appended but no checkpoint will be signed until it "
			  "is investigated (run `ringcap audit verify %s')",
			  a->path, vrc < 0 ? verr : "see the report", dir);
	}
	if (lock_fd(a->cfd, LOCK_EX) != 0) {
		set_err(err, errlen, "cannot lock `%s': %s", a->cpath, strerror(errno));
		goto out;
	}
	int cprc = cp_fix_tail(a, err, errlen);
	unlock_fd(a->cfd);
	if (cprc != 0)
		goto out;
	*out = a;
	a = NULL;
	ret = 0;
out:
	if (a) {
		if (a->fd >= 0)
			close(a->fd);
		if (a->cfd >= 0)
			close(a->cfd);
		EVP_PKEY_free(a->pkey);
		OPENSSL_cleanse(a->mac, sizeof a->mac);
		pthread_mutex_destroy(&a->mu);
		free(a);
	}
	return ret;
}

long audit_append(audit_t *a, const char *event, json_t *fields, char *err, size_t errlen)
{
	json_t *rec = fields ? fields : json_object();
	long seq = -1;
	if (!a || !event || !*event) {
		set_err(err, errlen, "audit_append: no trail or no event");
		json_decref(rec);
		return -1;
	}
	if (!json_is_object(rec)) {
		set_err(err, errlen, "audit record `%s': the fields are not a JSON object", event);
		json_decref(rec);
		return -1;
	}
	json_t *ev = json_string(event);
	if (!ev || json_object_set_new(rec, "event", ev) != 0) {
		set_err(err, errlen, "audit record: bad event name (not UTF-8?)");
		json_decref(rec);
		return -1;
	}
	pthread_mutex_lock(&a->mu);
	if (lock_fd(a->fd, LOCK_EX) != 0) {
		set_err(err, errlen, "cannot lock `%s': %s", a->path, strerror(errno));
	} else {
		if (sync_head(a, err, errlen) == 0)
			seq = write_record(a, rec, err, errlen);
		unlock_fd(a->fd);
	}
	if (seq > 0) {
		int64_t now = clock_now_ns();
		if (now < a->cp_ns)
			a->cp_ns = now; /* the clock went back */
		if (a->seq - a->cp_seq >= AUDIT_CHECKPOINT_EVERY ||
		    now - a->cp_ns >= CP_INTERVAL_NS) {
			char cerr[512];
			if (checkpoint_locked(a, cerr, sizeof cerr) != 0)
				log_warn("audit checkpoint: %s", cerr);
		}
	}
	pthread_mutex_unlock(&a->mu);
	json_decref(rec);
	return seq;
}

int audit_checkpoint(audit_t *a, char *err, size_t errlen)
{
	int ret = -1;
	if (!a) {
		set_err(err, errlen, "audit_checkpoint: no trail");
		return -1;
	}
	pthread_mutex_lock(&a->mu);
	if (lock_fd(a->fd, LOCK_EX) != 0) {
		set_err(err, errlen, "cannot lock `%s': %s", a->path, strerror(errno));
	} else {
		ret = sync_head(a, err, errlen);
		unlock_fd(a->fd);
	}
	if (ret == 0)
		ret = checkpoint_locked(a, err, errlen);
	pthread_mutex_unlock(&a->mu);
	return ret;
}

void audit_close(audit_t *a)
{
	char err[512];
	if (!a)
		return;
	if (audit_checkpoint(a, err, sizeof err) != 0)
		log_warn("audit: final checkpoint: %s", err);
	close(a->fd);
	close(a->cfd);
	EVP_PKEY_free(a->pkey);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ---- reading lines ---- */

struct lreader {
	int fd;
	int eof;
	char buf[65536];
	size_t beg, end;
	char *line; /* the current line, at most LINE_MAX_BYTES of it, NUL-terminated */
	size_t cap;
	uint64_t off; /* offset of the next line */
};

struct rline {
	const char *text;
	size_t len;    /* full length without the newline */
	size_t stored; /* bytes in text (less than len if the line is too long) */
	uint64_t off;
	int nl; /* ended by a newline */
};

/* Returns 1 and the next line, 0 at end of file, -1 on a read error (errno). */
static int lr_next(struct lreader *r, struct rline *out)
{
	size_t total = 0, stored = 0;
	int nl = 0;
	for (;;) {
		if (r->beg == r->end) {
			if (r->eof)
				break;
			ssize_t n = read(r->fd, r->buf, sizeof r->buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (n == 0) {
				r->eof = 1;
				break;
			}
			r->beg = 0;
			r->end = (size_t)n;
		}
		const char *p = memchr(r->buf + r->beg, '\n', r->end - r->beg);
		size_t take = p ? (size_t)(p - (r->buf + r->beg)) : r->end - r->beg;
		size_t keep = stored + take > LINE_MAX_BYTES ? LINE_MAX_BYTES - stored : take;
		if (stored + keep + 1 > r->cap) {
			size_t nc = r->cap ? r->cap : 4096;
			while (nc < stored + keep + 1)
				nc *= 2;
			char *nb = realloc(r->line, nc);
			if (!nb) {
				errno = ENOMEM;
				return -1;
			}
			r->line = nb;
			r->cap = nc;
		}
		memcpy(r->line + stored, r->buf + r->beg, keep);
		stored += keep;
		total += take;
		r->beg += take;
		if (p) {
			r->beg++;
			nl = 1;
			break;
		}
	}
	if (total == 0 && !nl)
		return 0;
	r->line[stored] = 0;
	out->text = r->line;
	out->len = total;
	out->stored = stored;
	out->off = r->off;
	out->nl = nl;
	r->off += total + (size_t)nl;
	return 1;
}

/* Opens path for reading under a shared lock. Returns the fd, -1 if missing, -2 on error. */
static int open_shared(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -1;
		set_err(err, errlen, "cannot open `%s': %s", path, strerror(errno));
		return -2;
	}
	if (lock_fd(fd, LOCK_SH) != 0 && errno != ENOLCK && errno != EOPNOTSUPP) {
		set_err(err, errlen, "cannot lock `%s': %s", path, strerror(errno));
		close(fd);
		return -2;
	}
	return fd;
}

static int paths(const char *dir, char *p, char *cp, char *err, size_t errlen)
{
	if (!dir || !*dir) {
		set_err(err, errlen, "no folder");
		return -1;
	}
	if (snprintf(p, PATH_LEN, "%s/%s/%s", dir, AUDIT_SUBDIR, AUDIT_FILE) >= PATH_LEN ||
	    snprintf(cp, PATH_LEN, "%s/%s/%s", dir, AUDIT_SUBDIR, AUDIT_CHECKPOINTS) >= PATH_LEN) {
		set_err(err, errlen, "folder name too long: `%s'", dir);
		return -1;
	}
	return 0;
}

/* ---- verification ---- */

struct cp {
	long seq;
	long line;
	char head[HEX_HASH + 1];
	char key_id[VAULT_KEY_ID_MAX + 1];
	int checked;
	int witness; /* from the --witness file, not DIR/audit */
};

struct keycache {
	char id[VAULT_KEY_ID_MAX + 1];
	EVP_PKEY *pkey; /* NULL: no such key in the key file */
	char pubhex[65];
	uint8_t mac[VAULT_KEY_LEN];
	int has_mac;
};

struct vline {
	long no;
	uint64_t off;
	size_t len;
	int nl;
	json_t *rec; /* NULL: not a record */
	char why[200];
	long seq;
	char hash[HEX_HASH + 1]; /* as written */
	char calc[HEX_HASH + 1]; /* of the content */
	int canon_ok;
	int keyed;  /* has MAC_FIELD: "hash" is an HMAC */
	int nokey;  /* keyed, but its key is not in the key file */
	int acked_prev; /* a torn_record that acknowledges the line before it */
};

struct verifier {
	FILE *out; /* the report (may be NULL) */
	long problems, damage, shown;
	const keys_t *keys;
	struct keycache kc[KEYS_MAX];
	size_t nkc;
	struct cp *cps;
	size_t ncp, cpcap;
	/* chain state */
	long records, prev_seq, prev_line, max_seq;
	long cp_lines; /* checkpoint lines that are JSON objects */
	long legacy, legacy_last; /* unkeyed (SHA-256) records, and the last such seq */
	long keyed_seen;	  /* seq of the first keyed record (0: none yet) */
	const char *cpname;	  /* the checkpoint file named in messages */
	int live;		  /* audit_open's check: a writer may be mid-checkpoint */
	long local_cp;		  /* the highest seq a local checkpoint signs */
	long tail_seq;		  /* the first unsigned record (local_cp + 1), if seen */
	int64_t tail_ns;	  /* its time (INT64_MIN: not parsed) */
	int witness;		  /* reading the witness file */
	char prev_hash[HEX_HASH + 1];
};

static void vsay(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints a line of the report. */
static void vsay(struct verifier *v, const char *fmt, ...)
{
	va_list ap;
	if (!v->out)
		return;
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->out);
}

static void problem(struct verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A problem: the trail does not verify. Printed up to REPORT_MAX, counted always. */
static void problem(struct verifier *v, const char *fmt, ...)
{
	va_list ap;
	v->problems++;
	if (!v->out || v->shown >= REPORT_MAX)
		return;
	v->shown++;
	va_start(ap, fmt);
	vfprintf(v->out, fmt, ap);
	va_end(ap);
	fputc('\n', v->out);
}

/* The verifying key of key id, from the key file (cached; pkey NULL if there is no such key). */
static struct keycache *key_for(struct verifier *v, const char *id)
{
	for (size_t i = 0; i < v->nkc; i++)
		if (strcmp(v->kc[i].id, id) == 0)
			return &v->kc[i];
	/* when the cache is full (many unknown ids), the last slot is reused */
	struct keycache *k = &v->kc[v->nkc < KEYS_MAX ? v->nkc++ : KEYS_MAX - 1];
	uint8_t seed[VAULT_KEY_LEN], pub[32];
	size_t publen = sizeof pub;
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof *k);
	snprintf(k->id, sizeof k->id, "%s", id);
	if (v->keys && keys_subkey_for(v->keys, id, KEYS_PURPOSE_AUDIT, seed) == 0) {
		k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
		if (k->pkey && EVP_PKEY_get_raw_public_key(k->pkey, pub, &publen) == 1 &&
		    publen == 32)
			to_hex(pub, 32, k->pubhex);
	}
	if (v->keys && keys_subkey_for(v->keys, id, MAC_PURPOSE, k->mac) == 0)
		k->has_mac = 1;
	OPENSSL_cleanse(seed, sizeof seed);
	return k;
}

static int cp_cmp(const void *x, const void *y)
{
	const struct cp *a = x, *b = y;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Checks one line of checkpoints.jsonl; a verified checkpoint is kept for the head check. */
static int check_cp_line(struct verifier *v, const struct rline *l, long no)
{
	json_error_t je;
	json_t *o = l->stored == l->len ? json_loadb(l->text, l->len, PARSE_FLAGS, &je) : NULL;
	int ret = 0;
	if (!json_is_object(o)) {
		/* Checkpoints only add evidence, and removing one cannot be detected, so a line
		 * that is not even JSON (a torn write) is reported and skipped. */
		v->damage++;
		vsay(v,
		     "%s line %ld (offset %" PRIu64 ", %zu bytes): does not parse (a torn "
		     "write?); ignored",
		     v->cpname, no, l->off, l->len);
		json_decref(o);
		return 0;
	}
	if (!v->witness)
		v->cp_lines++;
	json_t *js = json_object_get(o, "seq");
	const char *head = rec_str(o, "head"), *kid = rec_str(o, "key_id"),
		   *sig = rec_str(o, "sig"), *pubkey = rec_str(o, "pubkey");
	long seq = json_is_integer(js) ? (long)json_integer_value(js) : 0;
	uint8_t sigb[SIG_LEN];
	char msg[256];
	const char *bad = NULL;
	if (!json_is_integer(js) || json_integer_value(js) < 1 ||
	    json_integer_value(js) >= LONG_MAX)
		bad = "seq";
	else if (!is_hex(head, HEX_HASH))
		bad = "head";
	else if (!kid || !*kid || strlen(kid) > VAULT_KEY_ID_MAX)
		bad = "key_id";
	else if (!sig || strlen(sig) != 2 * SIG_LEN || from_hex(sig, sigb, SIG_LEN) != 0)
		bad = "sig";
	if (bad) {
		problem(v, "%s line %ld: not a valid checkpoint (bad or missing \"%s\"): modified",
			v->cpname, no, bad);
		goto out;
	}
	struct keycache *k = key_for(v, kid);
	if (!k->pkey) {
		char id[VAULT_KEY_ID_MAX + 1];
		printable(kid, strlen(kid), id, sizeof id);
		problem(v,
			"%s line %ld (seq %ld): signed with key `%s', which is not in the key "
			"file: cannot be verified",
			v->cpname, no, seq, id);
		goto out;
	}
	char kname[VAULT_KEY_ID_MAX + 1];
	printable(kid, strlen(kid), kname, sizeof kname);
	size_t mlen = cp_message(seq, head, msg, sizeof msg);
	if (!mlen || ed25519_verify(k->pkey, (const uint8_t *)msg, mlen, sigb) != 0) {
		problem(v,
			"%s line %ld (seq %ld): the signature does not verify under key `%s': "
			"the checkpoint was forged or modified",
			v->cpname, no, seq, kname);
		goto out;
	}
	if (pubkey && strcmp(pubkey, k->pubhex) != 0) {
		problem(v,
			"%s line %ld (seq %ld): \"pubkey\" is not the public key of key `%s': "
			"modified",
			v->cpname, no, seq, kname);
		goto out;
	}
	if (v->ncp == v->cpcap) {
		size_t nc = v->cpcap ? 2 * v->cpcap : 64;
		struct cp *n = realloc(v->cps, nc * sizeof *n);
		if (!n) {
			ret = -1;
			goto out;
		}
		v->cps = n;
		v->cpcap = nc;
	}
	struct cp *c = &v->cps[v->ncp++];
	c->seq = seq;
	c->line = no;
	c->checked = 0;
	c->witness = v->witness;
	memcpy(c->head, head, sizeof c->head);
	snprintf(c->key_id, sizeof c->key_id, "%s", kid);
out:
	json_decref(o);
	return ret;
}

/* Parses a trail line into l (the hashes are computed here). */
static void analyse(struct verifier *v, const struct rline *r, long no, struct vline *l)
{
	memset(l, 0, sizeof *l);
	l->no = no;
	l->off = r->off;
	l->len = r->len;
	l->nl = r->nl;
	if (r->stored < r->len) {
		set_err(l->why, sizeof l->why, "longer than %u bytes", LINE_MAX_BYTES);
		return;
	}
	l->rec = parse_record(r->text, r->len, l->why, sizeof l->why);
	if (!l->rec)
		return;
	l->seq = rec_seq(l->rec);
	memcpy(l->hash, rec_str(l->rec, "hash"), sizeof l->hash);
	char *line = json_dumps(l->rec, CANON_FLAGS);
	l->canon_ok = line && strlen(line) == r->len && memcmp(line, r->text, r->len) == 0;
	free(line);
	json_object_del(l->rec, "hash");
	json_t *mk = json_object_get(l->rec, MAC_FIELD);
	int rc = -1;
	if (mk) {
		l->keyed = 1;
		struct keycache *k = json_is_string(mk) ? key_for(v, json_string_value(mk)) : NULL;
		if (k && k->has_mac)
			rc = canon_mac(l->rec, k->mac, l->calc);
		else
			l->nokey = 1;
	} else {
		rc = canon_hash(l->rec, l->calc);
	}
	if (rc != 0)
		memset(l->calc, 0, sizeof l->calc);
}

static int is_torn_record(const struct vline *l)
{
	const char *ev = l->rec ? rec_str(l->rec, "event") : NULL;
	return ev && strcmp(ev, "torn_record") == 0;
}

/* Does the torn_record l name the line t? */
static int acknowledges(const struct vline *l, const struct vline *t)
{
	json_t *o = json_object_get(l->rec, "offset"), *n = json_object_get(l->rec, "length");
	return is_torn_record(l) && json_is_integer(o) && json_is_integer(n) &&
	       (uint64_t)json_integer_value(o) == t->off && json_integer_value(o) >= 0 &&
	       json_integer_value(n) >= 0 && (uint64_t)json_integer_value(n) == t->len;
}

/* Checks a trail line against the chain (and the checkpoints that name its seq). */
static void judge(struct verifier *v, const struct vline *l)
{
	if (!l->rec) {
		if (!l->nl)
			problem(v,
				"%s line %ld (offset %" PRIu64 ", %zu bytes, after seq %ld): "
				"incomplete last line, not a record (%s): cut off, or torn by a "
				"crash and not acknowledged yet",
				AUDIT_FILE, l->no, l->off, l->len, v->prev_seq, l->why);
		else
			problem(v,
				"%s line %ld (offset %" PRIu64 ", %zu bytes, after seq %ld): does "
				"not parse as a record (%s): the line was modified or inserted",
				AUDIT_FILE, l->no, l->off, l->len, v->prev_seq, l->why);
		return;
	}
	v->records++;
	if (l->nokey) {
		char id[VAULT_KEY_ID_MAX + 1];
		const char *mk = json_string_value(json_object_get(l->rec, MAC_FIELD));
		if (!mk)
			mk = "(not a string)";
		printable(mk, strlen(mk), id, sizeof id);
		problem(v,
			"%s line %ld (seq %ld): keyed with %s `%s', which is not a key of the key "
			"file: the MAC cannot be checked (forged, or the key file is not this "
			"vault's)",
			AUDIT_FILE, l->no, l->seq, MAC_FIELD, id);
	} else if (!l->keyed && v->keyed_seen)
		problem(v,
			"%s line %ld (seq %ld): an unkeyed (legacy SHA-256) record after keyed "
			"record seq %ld: written without the key, so forged or rewritten",
			AUDIT_FILE, l->no, l->seq, v->keyed_seen);
	else if (strcmp(l->calc, l->hash) != 0 && l->keyed)
		problem(v,
			"%s line %ld (seq %ld): the MAC does not match the record's content: the "
			"record was modified, or re-hashed without the key",
			AUDIT_FILE, l->no, l->seq);
	else if (strcmp(l->calc, l->hash) != 0)
		problem(v,
			"%s line %ld (seq %ld): the hash does not match the record's content: "
			"the record was modified",
			AUDIT_FILE, l->no, l->seq);
	else if (!l->canon_ok)
		problem(v,
			"%s line %ld (seq %ld): not in canonical form (the content hashes right "
			"but the bytes differ): the line was modified",
			AUDIT_FILE, l->no, l->seq);
	if (is_torn_record(l) && !l->acked_prev)
		problem(v,
			"%s line %ld (seq %ld): torn_record names a torn line that is not the "
			"line before it: a line was removed or moved",
			AUDIT_FILE, l->no, l->seq);
	if (l->seq == v->prev_seq + 2)
		problem(v,
			"%s line %ld (seq %ld): seq %ld expected after seq %ld (line %ld): "
			"record %ld is missing (deleted or moved)",
			AUDIT_FILE, l->no, l->seq, v->prev_seq + 1, v->prev_seq, v->prev_line,
			v->prev_seq + 1);
	else if (l->seq > v->prev_seq + 1)
		problem(v,
			"%s line %ld (seq %ld): seq %ld expected after seq %ld (line %ld): "
			"records %ld to %ld are missing (deleted or moved)",
			AUDIT_FILE, l->no, l->seq, v->prev_seq + 1, v->prev_seq, v->prev_line,
			v->prev_seq + 1, l->seq - 1);
	else if (l->seq <= v->prev_seq)
		problem(v,
			"%s line %ld (seq %ld): does not follow seq %ld (line %ld): a record "
			"was inserted, duplicated or moved",
			AUDIT_FILE, l->no, l->seq, v->prev_seq, v->prev_line);
	else if (strcmp(rec_str(l->rec, "prev_hash"), v->prev_hash) != 0 && v->prev_line)
		problem(v,
			"%s line %ld (seq %ld): prev_hash is not the hash of seq %ld (line %ld): "
			"a record before it was modified and re-hashed, or records were "
			"inserted, deleted or reordered",
			AUDIT_FILE, l->no, l->seq, v->prev_seq, v->prev_line);
	else if (strcmp(rec_str(l->rec, "prev_hash"), v->prev_hash) != 0)
		problem(v,
			"%s line %ld (seq %ld): prev_hash is not 64 zeros although it is the "
			"first record: records before it were deleted, or it was modified",
			AUDIT_FILE, l->no, l->seq);
	if (!l->nl)
		vsay(v, "%s line %ld (seq %ld): note: no newline at the end (audit_open adds it)",
		     AUDIT_FILE, l->no, l->seq);
	/* the checkpoints that sign this seq */
	struct cp key = {.seq = l->seq};
	struct cp *c = v->ncp ? bsearch(&key, v->cps, v->ncp, sizeof *v->cps, cp_cmp) : NULL;
	if (c) {
		while (c > v->cps && c[-1].seq == l->seq)
			c--;
		for (; c < v->cps + v->ncp && c->seq == l->seq; c++) {
			if (c->checked)
				continue;
			c->checked = 1;
			if (strcmp(c->head, l->calc) != 0 && c->witness)
				problem(v,
					"witness line %ld (seq %ld): the witness saw another "
					"record seq %ld than %s line %ld: the trail was rewritten "
					"after the witness checkpoint (by someone holding the key, "
					"or this is another trail)",
					c->line, c->seq, c->seq, AUDIT_FILE, l->no);
			else if (strcmp(c->head, l->calc) != 0)
				problem(v,
					"%s line %ld (seq %ld): the head signed at seq %ld is not "
					"the hash of %s line %ld: records up to seq %ld were "
					"modified or replaced after the checkpoint",
					AUDIT_CHECKPOINTS, c->line, c->seq, c->seq, AUDIT_FILE,
					l->no, c->seq);
		}
	}
	/* the chain goes on from the newest record seen: one moved or duplicated record is then
	 * reported once, not again at every record after it */
	if (l->seq > v->prev_seq) {
		v->prev_seq = l->seq;
		v->prev_line = l->no;
		memcpy(v->prev_hash, l->hash, sizeof v->prev_hash);
	}
	if (l->seq > v->max_seq)
		v->max_seq = l->seq;
	if (l->keyed && !v->keyed_seen)
		v->keyed_seen = l->seq;
	if (l->seq == v->local_cp + 1 && !v->tail_seq) {
		v->tail_seq = l->seq;
		if (clock_parse(rec_str(l->rec, "time"), &v->tail_ns) != 0)
			v->tail_ns = INT64_MIN;
	}
	if (!l->keyed) {
		v->legacy++;
		v->legacy_last = l->seq;
	}
}

/* Reads checkpoints.jsonl into v. Returns the number of lines, or -1 (err). */
static long read_checkpoints(struct verifier *v, const char *cpath, char *err, size_t errlen)
{
	int fd = open_shared(cpath, err, errlen);
	if (fd == -1 && v->witness) {
		set_err(err, errlen, "cannot open the witness `%s': %s", cpath, strerror(ENOENT));
		return -1;
	}
	if (fd == -1)
		return 0;
	if (fd < 0)
		return -1;
	struct lreader *r = calloc(1, sizeof *r);
	long no = 0, ret = -1;
	if (!r) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	r->fd = fd;
	struct rline l;
	int rc;
	while ((rc = lr_next(r, &l)) == 1) {
		no++;
		if (check_cp_line(v, &l, no) != 0) {
			set_err(err, errlen, "out of memory");
			goto out;
		}
	}
	if (rc < 0) {
		set_err(err, errlen, "cannot read `%s': %s", cpath, strerror(errno));
		goto out;
	}
	if (v->ncp)
		qsort(v->cps, v->ncp, sizeof *v->cps, cp_cmp);
	ret = no;
out:
	if (r)
		free(r->line);
	free(r);
	close(fd);
	return ret;
}

/* Walks the trail with one line of look-ahead (a torn_record acknowledges the line before it). */
static int read_trail(struct verifier *v, int fd, const char *path, char *err, size_t errlen)
{
	struct lreader *r = calloc(1, sizeof *r);
	struct vline pend, cur;
	int have = 0, ret = -1, rc;
	long no = 0;
	if (!r) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	r->fd = fd;
	struct rline l;
	while ((rc = lr_next(r, &l)) == 1) {
		analyse(v, &l, ++no, &cur);
		if (have) {
			if (acknowledges(&cur, &pend)) {
				cur.acked_prev = 1;
				v->damage++;
				vsay(v,
				     "%s line %ld (offset %" PRIu64 ", %zu bytes): torn write, "
				     "acknowledged by the torn_record at line %ld (seq %ld): "
				     "damage, not tampering",
				     AUDIT_FILE, pend.no, pend.off, pend.len, cur.no, cur.seq);
			} else {
				judge(v, &pend);
			}
			json_decref(pend.rec);
		}
		pend = cur;
		have = 1;
	}
	if (rc < 0) {
		set_err(err, errlen, "cannot read `%s': %s", path, strerror(errno));
		goto out;
	}
	if (have)
		judge(v, &pend);
	ret = 0;
out:
	if (have)
		json_decref(pend.rec);
	free(r->line);
	free(r);
	return ret;
}

int audit_verify(const char *dir, const keys_t *keys, FILE *report, char *err, size_t errlen)
{
	return verify_mode(dir, keys, NULL, 0, NULL, report, err, errlen);
}

int audit_verify_witness(const char *dir, const keys_t *keys, const char *witness, FILE *report,
			 char *err, size_t errlen)
{
	return verify_mode(dir, keys, witness, 0, NULL, report, err, errlen);
}

/*
 * live: called by audit_open, where another writer may have appended records it has not
 * signed yet, so the unsigned tail is not judged. *signed_upto (if not NULL) gets the highest
 * seq a local checkpoint signs.
 */
static int verify_mode(const char *dir, const keys_t *keys, const char *witness, int live,
		       long *signed_upto, FILE *report, char *err, size_t errlen)
{
	char path[PATH_LEN], cpath[PATH_LEN];
	int ret = -1, fd = -1;
	char *cpbuf = NULL;
	size_t cpbuflen = 0;
	if (paths(dir, path, cpath, err, errlen) != 0)
		return -1;
	struct verifier *v = calloc(1, sizeof *v);
	if (!v) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	v->keys = keys;
	v->cpname = AUDIT_CHECKPOINTS;
	memcpy(v->prev_hash, zero_hash, sizeof v->prev_hash);
	/* checkpoints first: any record a checkpoint names was written before it */
	FILE *cpout = report ? open_memstream(&cpbuf, &cpbuflen) : NULL;
	v->out = cpout;
	long cplines = read_checkpoints(v, cpath, err, errlen);
	size_t nlocal = v->ncp;
	v->live = live;
	for (size_t i = 0; i < nlocal; i++)
		if (v->cps[i].seq > v->local_cp)
			v->local_cp = v->cps[i].seq;
	long wlines = 0;
	if (cplines >= 0 && witness) {
		v->witness = 1;
		v->cpname = "witness";
		wlines = read_checkpoints(v, witness, err, errlen);
		if (wlines < 0)
			cplines = -1;
		else if (wlines == 0 || v->ncp == nlocal)
			problem(v, "witness `%s': holds no valid checkpoint", witness);
		v->cpname = AUDIT_CHECKPOINTS;
		v->witness = 0;
	}
	if (cpout)
		fclose(cpout);
	v->out = report;
	if (cplines < 0)
		goto out;
	fd = open_shared(path, err, errlen);
	if (fd == -2)
		goto out;
	if (fd == -1)
		vsay(v, "%s: does not exist (no records yet)", path);
	else if (read_trail(v, fd, path, err, errlen) != 0)
		goto out;
	if (report && cpbuf && cpbuflen)
		fwrite(cpbuf, 1, cpbuflen, report);
	long last_cp = 0;
	for (size_t i = 0; i < v->ncp; i++) {
		struct cp *c = &v->cps[i];
		if (c->witness) {
			if (!c->checked && c->seq > v->max_seq)
				problem(v,
					"witness line %ld (seq %ld): the witness saw seq %ld but "
					"the local trail ends at seq %ld: records were cut off the "
					"end (with their checkpoints)",
					c->line, c->seq, c->seq, v->max_seq);
			else if (!c->checked)
				problem(v,
					"witness line %ld (seq %ld): no record with seq %ld in the "
					"local trail: it was deleted",
					c->line, c->seq, c->seq);
			continue;
		}
		if (!c->checked && c->seq > v->max_seq)
			problem(v,
				"%s line %ld (seq %ld): seq %ld is beyond the end of the trail "
				"(last seq %ld): records were cut off the end",
				AUDIT_CHECKPOINTS, c->line, c->seq, c->seq, v->max_seq);
		else if (!c->checked)
			problem(v,
				"%s line %ld (seq %ld): no record with seq %ld in the trail: it "
				"was deleted",
				AUDIT_CHECKPOINTS, c->line, c->seq, c->seq);
		if (c->seq > last_cp)
			last_cp = c->seq;
	}
	int64_t now = clock_now_ns();
	int old_tail = v->tail_seq && v->max_seq > last_cp &&
		       (v->tail_ns == INT64_MIN ||
			v->tail_ns < now - (int64_t)AUDIT_UNSIGNED_MAX_S * NS_PER_S);
	if (signed_upto)
		*signed_upto = last_cp;
	if (!live && old_tail && nlocal == 0)
		problem(v,
			"%s: no valid checkpoint although the trail holds %ld records, the first "
			"written more than %d s ago: the checkpoints were deleted, emptied or "
			"replaced (the agent signs at least every %d records, every %d s while "
			"records are added, at its hourly sweep and when it closes the trail)",
			AUDIT_CHECKPOINTS, v->records, AUDIT_UNSIGNED_MAX_S, AUDIT_CHECKPOINT_EVERY,
			(int)(CP_INTERVAL_NS / NS_PER_S));
	else if (!live && old_tail)
		problem(v,
			"%s: the last checkpoint signs seq %ld but the trail goes on to seq %ld, "
			"unsigned for more than %d s: later checkpoints were removed, or the agent "
			"crashed and has not been restarted (it signs the tail when it opens the "
			"trail)",
			AUDIT_CHECKPOINTS, last_cp, v->max_seq, AUDIT_UNSIGNED_MAX_S);
	if (v->shown < v->problems)
		vsay(v, "... and %ld more problems", v->problems - v->shown);
	if (v->legacy)
		vsay(v,
		     "note: %ld record%s (up to seq %ld) are in the legacy format (unkeyed "
		     "SHA-256 chain): anyone who can write the file could have rewritten them "
		     "consistently; only the signed checkpoints protect them",
		     v->legacy, v->legacy == 1 ? "" : "s", v->legacy_last);
	if (!v->problems && v->max_seq > last_cp)
		vsay(v,
		     "note: records after seq %ld are not signed by a checkpoint yet "
		     "(they are when the trail is next closed or checkpointed)",
		     last_cp);
	char extra[96] = "";
	if (v->damage)
		snprintf(extra, sizeof extra, " (%ld damaged line%s acknowledged or ignored)",
			 v->damage, v->damage == 1 ? "" : "s");
	if (v->legacy)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " (%ld legacy)",
			 v->legacy);
	if (witness && !v->problems)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			 " (extends the witness)");
	char counts[96];
	snprintf(counts, sizeof counts, "%ld record%s, %ld checkpoint%s", v->records,
		 v->records == 1 ? "" : "s", v->cp_lines, v->cp_lines == 1 ? "" : "s");
	if (v->problems)
		vsay(v, "audit trail `%s': %s: NOT intact, %ld problem%s%s", path, counts,
		     v->problems, v->problems == 1 ? "" : "s", extra);
	else
		vsay(v, "audit trail `%s': %s: intact%s", path, counts, extra);
	ret = v->problems ? 1 : 0;
out:
	if (fd >= 0)
		close(fd);
	free(cpbuf);
	for (size_t i = 0; i < v->nkc; i++) {
		EVP_PKEY_free(v->kc[i].pkey);
		OPENSSL_cleanse(v->kc[i].mac, sizeof v->kc[i].mac);
	}
	free(v->cps);
	free(v);
	return ret;
}

/* ---- listing ---- */

json_t *audit_list(const char *dir, long before_seq, int limit, long *total, char *err,
		   size_t errlen)
{
	char path[PATH_LEN], cpath[PATH_LEN];
	json_t **ring = NULL, *arr = NULL;
	size_t n = 0, cap = 0, start = 0;
	long count = 0;
	struct lreader *r = NULL;
	if (total)
		*total = 0;
	if (limit < 0) {
		set_err(err, errlen, "invalid limit %d", limit);
		return NULL;
	}
	if (paths(dir, path, cpath, err, errlen) != 0)
		return NULL;
	int fd = open_shared(path, err, errlen);
	if (fd == -2)
		return NULL;
	if (fd >= 0) {
		r = calloc(1, sizeof *r);
		if (!r) {
			set_err(err, errlen, "out of memory");
			goto out;
		}
		r->fd = fd;
		struct rline l;
		int rc;
		char why[200];
		while ((rc = lr_next(r, &l)) == 1) {
			json_t *rec =
			    l.stored == l.len ? parse_record(l.text, l.len, why, sizeof why) : NULL;
			if (!rec)
				continue;
			count++;
			if ((before_seq > 0 && rec_seq(rec) >= before_seq) || limit == 0) {
				json_decref(rec);
				continue;
			}
			if (n < (size_t)limit) {
				if (n == cap) {
					size_t nc = cap ? 2 * cap : 64;
					if (nc > (size_t)limit)
						nc = (size_t)limit;
					json_t **nr = realloc(ring, nc * sizeof *nr);
					if (!nr) {
						json_decref(rec);
						set_err(err, errlen, "out of memory");
						goto out;
					}
					ring = nr;
					cap = nc;
				}
				ring[n++] = rec;
			} else { /* full: replace the oldest */
				json_decref(ring[start]);
				ring[start] = rec;
				start = (start + 1) % n;
			}
		}
		if (rc < 0) {
			set_err(err, errlen, "cannot read `%s': %s", path, strerror(errno));
			goto out;
		}
	}
	arr = json_array();
	if (!arr) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = n; i > 0; i--) {
		size_t k = (start + i - 1) % n;
		json_array_append_new(arr, ring[k]);
		ring[k] = NULL;
	}
	if (total)
		*total = count;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(ring[i]);
	free(ring);
	if (r)
		free(r->line);
	free(r);
	if (fd >= 0)
		close(fd);
	return arr;
}
