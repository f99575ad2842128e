/*
 * vault.h - the encrypted-at-rest file format of the evidence vault (AES-256-GCM, streaming).
 *
 * DESIGN: a file is a fixed header and a run of segments, after Tink's streaming AEAD and age's
 * STREAM. Each file has its own random 32-byte data key; the header holds it wrapped (AES-256-GCM)
 * under a file-encryption key derived with HKDF-SHA256 from a 32-byte master key named by a key
 * id, so a keyring can hold several master keys and rotation only rewrites the header
 * (vault_rewrap). Every segment is sealed on its own with the data key and a nonce holding its
 * index and a last-segment flag, so a modified, reordered, duplicated or missing segment fails its
 * tag, and so does a file cut at any point (the segment that becomes the last was sealed with the
 * flag clear). Any byte range is decrypted by reading only the segments it covers (HTTP Range).
 * The plaintext length is not stored: it follows from the file size, and vault_open() verifies the
 * last segment, so the size a reader reports is authenticated.
 *
 * On-disk layout (all integers big-endian; SEG = 65536):
 *
 *   offset len  header (VAULT_HDR_LEN = 95 bytes)
 *        0   8  magic "RCVAULT1"
 *        8   1  version, 1
 *        9   3  reserved, zero
 *       12   7  nonce prefix, random per file
 *       19  16  key id: the master key's name, 1..16 printable ASCII bytes, zero padded
 *       35  12  wrap nonce, random
 *       47  32  wrapped data key: AES-256-GCM(FEK, wrap nonce, AAD = bytes 0..34, data key)
 *       79  16  wrap tag
 *
 *   segment i (i = 0, 1, ... < 2^32), at 95 + i * (SEG + 16):
 *            n  AES-256-GCM(data key, nonce = prefix(7) || be32(i) || last(1), AAD = bytes 0..18)
 *           16  tag
 *   where last is 1 for the final segment and 0 otherwise, n = SEG for all but the final segment,
 *   and 1 <= n <= SEG for the final one, except that a file of empty plaintext is one empty
 *   segment (n = 0). Segments therefore bind magic, version and nonce prefix but not the key id
 *   or the wrapped key, which vault_rewrap() replaces without touching a segment byte.
 *   FEK = HKDF-SHA256(master key, no salt, info VAULT_PURPOSE_FILE).
 *
 * Errors: functions return 0 (or a size) on success and a negative VAULT_E* code on failure, with
 * a message in the caller's err buffer (naming the segment for VAULT_EAUTH).
 */
#ifndef RINGCAP_VAULT_H
#define RINGCAP_VAULT_H

#include <stddef.h>
#include <stdint.h>

#define VAULT_KEY_LEN 32u
#define VAULT_KEY_ID_MAX 16u
#define VAULT_SEG_LEN 65536u
#define VAULT_TAG_LEN 16u
#define VAULT_HDR_LEN 95u
#define VAULT_PURPOSE_FILE "ringcap file encryption v1"

enum {
	VAULT_EIO = -1,	    /* read/write/open failed, or the file changed under us */
	VAULT_EFORMAT = -2, /* not a vault file: magic, version, reserved bytes, key id, size */
	VAULT_EKEY = -3,    /* no key with the file's key id, or the key does not open the header */
	VAULT_EAUTH = -4,   /* a segment does not verify: modified, reordered, missing, truncated */
	VAULT_ESINK = -5,   /* the caller's sink returned nonzero */
	VAULT_EINVAL = -6,  /* bad argument (key id, range), or a crypto library failure */
};

/* A master key and its name (1..VAULT_KEY_ID_MAX printable ASCII characters, no spaces). */
struct vault_key {
	const char *id;
	uint8_t master[VAULT_KEY_LEN];
};

/* The master keys a file may be sealed under; the file's key id picks one. */
struct vault_keyring {
	const struct vault_key *keys;
	size_t n;
};

typedef struct vault_reader vault_reader_t;

/*
 * Derives a 32-byte subkey for purpose (HKDF-SHA256, no salt, info = purpose) from a master key,
 * e.g. VAULT_PURPOSE_FILE; other modules derive theirs (URL signing, audit) with their own
 * purpose string. Returns 0, or -1 if the crypto library fails (out is then zeroed).
 */
int vault_derive(const uint8_t master[VAULT_KEY_LEN], const char *purpose,
		 uint8_t out[VAULT_KEY_LEN]);

/*
 * Reads in_fd to its end and writes the sealed file (header, then segments) to out_fd from its
 * current position, with a fresh data key and nonce prefix. Returns 0 or a negative VAULT_E*
 * code with a message in err; out_fd may then hold a partial file: the caller writes to a
 * temporary name and renames it only on success. Neither fd is closed; out_fd is not fsync'd.
 */
int vault_seal_fd(int in_fd, int out_fd, const struct vault_key *k, char *err, size_t errlen);

/*
 * Opens a sealed file: checks the header, finds the key id in ring, unwraps the data key, and
 * verifies the last segment (so truncation is caught here and vault_plain_size() is trusted).
 * On success returns 0 and a reader in *out that the caller frees with vault_reader_close().
 * On failure returns a negative VAULT_E* code with a message in err and *out = NULL.
 * vault_open_fd() uses its own dup of fd (the caller keeps and closes fd).
 */
int vault_open(const char *path, const struct vault_keyring *ring, vault_reader_t **out, char *err,
	       size_t errlen);
int vault_open_fd(int fd, const struct vault_keyring *ring, vault_reader_t **out, char *err,
		  size_t errlen);

/* Receives verified plaintext in order; a nonzero return stops the read with VAULT_ESINK. */
typedef int (*vault_sink_fn)(void *arg, const uint8_t *data, size_t len);

/*
 * Decrypts plaintext bytes [off, off + len) and hands them to sink, reading and verifying only
 * the segments the range covers. Each segment is verified before any of its bytes reach sink, so
 * sink never sees bytes of a bad segment. The range must lie within vault_plain_size()
 * (VAULT_EINVAL otherwise; len 0 is allowed). Returns 0 or a negative VAULT_E* code with a
 * message in err; VAULT_EAUTH names the segment ("segment 3 does not verify ...").
 */
int vault_read_range(vault_reader_t *r, uint64_t off, uint64_t len, vault_sink_fn sink, void *arg,
		     char *err, size_t errlen);

/* Plaintext length of the file (authenticated by vault_open). */
uint64_t vault_plain_size(const vault_reader_t *r);

/* Number of segments in the file (at least 1). */
uint32_t vault_segments(const vault_reader_t *r);

/* The key id the file is sealed under (NUL-terminated, owned by the reader). */
const char *vault_key_id(const vault_reader_t *r);

/* Wipes the data key, closes the reader's fd and frees it. NULL-safe. */
void vault_reader_close(vault_reader_t *r);

/*
 * Decrypts and verifies all of in_fd (a sealed file, read with pread from offset 0) and writes
 * the plaintext to out_fd. Segments are written in order as each one verifies, so on failure
 * out_fd holds exactly the segments before the bad one and nothing past it: the caller writes to
 * a temporary name and removes it on error. Returns 0 or a negative VAULT_E* code with a message
 * in err (naming the segment for VAULT_EAUTH).
 */
int vault_unseal_fd(int in_fd, int out_fd, const struct vault_keyring *ring, char *err,
		    size_t errlen);

/*
 * Key rotation: re-wraps the data key of the file at path under new_key (a new key id and/or
 * master key) without re-encrypting: the segments are copied byte for byte. The new file is
 * written to "path.rewrap.tmp", fsync'd and renamed over path, so path is always either the old
 * or the new file. The file must open with old_ring as for vault_open() (header and final
 * segment verified); the other segments are copied without being verified.
 * Returns 0 or a negative VAULT_E* code with a message in err (the temporary file is removed).
 */
int vault_rewrap(const char *path, const struct vault_keyring *old_ring,
		 const struct vault_key *new_key, char *err, size_t errlen);

#endif
