/*
 * keys.h - the vault's key file: the master keys, which one is primary, and purpose subkeys.
 *
 * DESIGN: the key file is the only place master keys live on disk. It holds one or more 32-byte
 * master keys, each named by an id (the key id a vault file header records), and exactly one of
 * them is primary: new files are sealed under the primary, and every key still opens the files
 * sealed under it, so rotation (keys_rotate) adds a new primary and keeps the old keys. Other
 * purposes never use a master key directly: URL signing and audit checkpoints get their own
 * subkeys derived from the primary with HKDF (keys_subkey -> vault_derive), and the vault derives
 * its file-encryption key with VAULT_PURPOSE_FILE, so no two purposes share a key.
 * Like OpenSSH with a private key, the file is refused unless it is a regular file (not a
 * symbolic link, directory or device), owned by the effective uid, with no group or other
 * permission bits. It is created on first start if missing, and always written whole (temporary
 * file 0600, fsync, then link or rename, then fsync of the directory).
 *
 * File format (text, at most KEYS_FILE_MAX bytes), one key per line:
 *
 *   # comment                                   (a '#' in the first column; blank lines allowed)
 *   ID HEX64 [primary]
 *
 *   ID      1..16 characters of [A-Za-z0-9._-], unique in the file (the vault key id)
 *   HEX64   the 32-byte master key as 64 hex digits (either case)
 *   primary the literal word, on exactly one line
 *
 * Fields are separated by spaces or tabs; nothing else may follow. At most KEYS_MAX keys.
 * Errors name the path and the line ("`/x/master.key' line 3: ..."); key material is never
 * quoted in a message.
 *
 * Where the file is: $RINGCAP_KEY_FILE, else DIR/keys/master.key (keys_path()).
 *
 * Errors: functions return 0 on success and a negative KEYS_E* code on failure, with a message in
 * the caller's err buffer.
 */
#ifndef RINGCAP_KEYS_H
#define RINGCAP_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define KEYS_MAX 64u
#define KEYS_FILE_MAX 65536u
#define KEYS_ENV "RINGCAP_KEY_FILE"
#define KEYS_DEFAULT_SUBPATH "keys/master.key"
#define KEYS_PURPOSE_URL "ringcap url signing v1"
#define KEYS_PURPOSE_AUDIT "ringcap audit checkpoint v1"

enum {
	KEYS_EIO = -1,	   /* open/read/write/fsync/rename failed */
	KEYS_EUNSAFE = -2, /* not a regular file, wrong owner, or group/other permission bits */
	KEYS_EFORMAT = -3, /* a malformed line, duplicate id, not exactly one primary, too big */
	KEYS_EINVAL = -4,  /* bad argument, keyring full, or a crypto library failure */
};

typedef struct keys keys_t;

/*
 * Writes the key file path to out: the value of $RINGCAP_KEY_FILE if set and not empty, else
 * dir/keys/master.key. Returns 0, or KEYS_EINVAL if it does not fit in outlen.
 */
int keys_path(const char *dir, char *out, size_t outlen);

/*
 * Loads the key file at path. If it does not exist, creates its missing parent directories
 * (mode 0700) and the file (mode 0600) with one fresh random primary key; if another process
 * creates it at the same time, that file wins and is loaded. An existing file is opened with
 * O_NOFOLLOW and refused (KEYS_EUNSAFE) if it is a symbolic link, not a regular file, owned by
 * another uid, or has any group/other permission bit; then it is parsed strictly.
 * On success returns 0 and *out, freed by the caller with keys_free(); on failure returns a
 * negative KEYS_E* code with a message naming the path in err, and *out = NULL.
 */
int keys_load_or_create(const char *path, keys_t **out, char *err, size_t errlen);

/*
 * Parses key file text (the format above; path is only used in messages). Same result and
 * ownership as keys_load_or_create(). Exposed for tests and fuzzing.
 */
int keys_parse(const char *text, size_t len, const char *path, keys_t **out, char *err,
	       size_t errlen);

/* The primary key: seal new files with it. Owned by k, valid until keys_free(k). */
const struct vault_key *keys_primary(const keys_t *k);

/* Number of keys in k (at least 1). */
size_t keys_count(const keys_t *k);

/*
 * Fills *ring with a view of all keys in k, for vault_open()/vault_unseal_fd(). The view points
 * into k: it is valid until keys_free(k), and does not see keys added later by keys_rotate()
 * (call keys_ring() again).
 */
void keys_ring(const keys_t *k, struct vault_keyring *ring);

/*
 * Rotation: adds a fresh random key as the new primary (id "k" + UTC time as YYYYMMDDhhmmss,
 * or "kN" if that id is taken), keeps the old keys, and rewrites the file at path atomically
 * (path.tmp.XXXXXX mode 0600, fsync, rename, fsync of the directory). The new id is copied to
 * new_id_out (at least VAULT_KEY_ID_MAX + 1 bytes) if it is not NULL. On failure returns a
 * negative KEYS_E* code with a message in err, and k and the file are unchanged, except when
 * only the final directory fsync fails: then the new file is in place and k has the new key.
 */
int keys_rotate(const char *path, keys_t *k, char *new_id_out, size_t new_id_len, char *err,
		size_t errlen);

/*
 * Derives the 32-byte subkey for purpose (KEYS_PURPOSE_URL, KEYS_PURPOSE_AUDIT, or another
 * non-empty string) from the primary key with vault_derive(). VAULT_PURPOSE_FILE is refused: the
 * file-encryption key stays inside the vault module. Returns 0, or KEYS_EINVAL (out is zeroed).
 * The caller wipes out with OPENSSL_cleanse() when done.
 */
int keys_subkey(const keys_t *k, const char *purpose, uint8_t out[VAULT_KEY_LEN]);

/*
 * As keys_subkey(), from the key named id (NULL: the primary), so that a value signed under a key
 * that is no longer primary can still be checked. KEYS_EINVAL if there is no such key.
 */
int keys_subkey_for(const keys_t *k, const char *id, const char *purpose,
		    uint8_t out[VAULT_KEY_LEN]);

/* Wipes all key material (OPENSSL_cleanse) and frees k. NULL-safe. */
void keys_free(keys_t *k);

#endif
