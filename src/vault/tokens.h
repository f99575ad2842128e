/*
 * tokens.h - the HTTP API's bearer tokens: DIR/tokens.
 *
 * DESIGN: a token is "rct_" followed by 43 base64url characters (32 random bytes from
 * RAND_bytes); it is shown once, when it is made, and only its SHA-256 is stored, so the file
 * gives nothing to a reader that could be presented to the API. A presented token is hashed and
 * compared with every stored hash with CRYPTO_memcmp (no early exit). The server keeps the file
 * loaded and reloads it when it changes on disk (device, inode, size, mtime, ctime), so `ringcap
 * token add/revoke' take effect on a running server without a restart.
 * Like the key file (keys.h), the file is refused unless it is a regular file (not a symbolic
 * link) owned by the effective uid with no group or other permission bit. It is always written
 * whole (temporary file 0600, fsync, rename, fsync of the folder) under an flock() on
 * DIR/tokens.lock, so concurrent add/revoke never lose each other's change.
 *
 * File format (text, at most TOKENS_FILE_MAX bytes, at most TOKENS_MAX lines of tokens):
 *
 *   # comment                        ('#' in the first column; blank lines allowed)
 *   NAME SHA256HEX CREATED [ROLE]
 *
 *   NAME       1..32 characters of [A-Za-z0-9._-], unique in the file
 *   SHA256HEX  SHA-256 of the whole token text, 64 lowercase hex digits
 *   CREATED    RFC 3339 UTC time the token was made, e.g. 2026-11-22T07:41:20Z
 *   ROLE       viewer | operator | admin. A line without it (a file written before roles
 *              existed) is an admin token: every token could do everything then, and a server
 *              upgrade must not lock its operators out. Written back with the role spelled out.
 *
 * Roles are ordered: viewer reads (incidents, status, audit trail); operator also issues
 * download URLs and starts manual captures; admin also verifies the audit trail and manages
 * tokens. The API enforces them (httpd.h); `ringcap token add' makes operator tokens unless
 * --role says otherwise, and the first-start token is admin.
 *
 * Errors: functions return 0 (or a count) on success and a negative TOKENS_E* code on failure,
 * with a message in the caller's err buffer naming the path (and the line for a parse error);
 * token text and hashes are never quoted in a message.
 */
#ifndef RINGCAP_TOKENS_H
#define RINGCAP_TOKENS_H

#include <stddef.h>

#define TOKENS_FILE "tokens"
#define TOKENS_LOCK_FILE "tokens.lock"
#define TOKENS_ADMIN_FILE "admin.token"
#define TOKENS_FILE_MAX 262144u
#define TOKENS_MAX 1024u
#define TOKEN_PREFIX "rct_"
#define TOKEN_LEN 47u /* "rct_" + 43 base64url characters */
#define TOKEN_NAME_MAX 32u
#define TOKEN_TIME_MAX 32u /* room for the CREATED field */

enum {
	TOKENS_EIO = -1,       /* open/read/write/fsync/rename/lock failed */
	TOKENS_EUNSAFE = -2,   /* not a regular file, wrong owner, group/other permission bits */
	TOKENS_EFORMAT = -3,   /* a malformed line, duplicate name, too big */
	TOKENS_EINVAL = -4,    /* bad name, or a crypto library failure */
	TOKENS_ENOTFOUND = -5, /* no such token (check) or name (revoke) */
	TOKENS_EEXIST = -6,    /* add: the name is taken */
};

typedef struct tokens tokens_t;

enum token_role { TOKEN_VIEWER = 1, TOKEN_OPERATOR = 2, TOKEN_ADMIN = 3 };
#define TOKEN_ROLE_DEFAULT TOKEN_OPERATOR /* of `ringcap token add' */

/* "viewer", "operator", "admin" ("?" for anything else). */
const char *tokens_role_name(int role);

/* The role named s, or -1. */
int tokens_role_parse(const char *s);

/* A token as listed: never its hash. */
struct token_info {
	char name[TOKEN_NAME_MAX + 1];
	char created[TOKEN_TIME_MAX];
	int role; /* enum token_role */
};

/* 1 if name is 1..32 characters of [A-Za-z0-9._-], else 0. */
int tokens_name_valid(const char *name);

/*
 * A checker over dir/tokens for the server. The file is read at the first check and whenever it
 * changes; a missing file holds no token. Returns 0 and *out (free with tokens_close), or
 * TOKENS_EINVAL (out of memory, path too long) with a message in err.
 */
int tokens_open(const char *dir, tokens_t **out, char *err, size_t errlen);

/* NULL-safe. Wipes the hashes held. */
void tokens_close(tokens_t *t);

/*
 * Checks a presented token (any text; NULL is unknown). Returns 0 and copies its name to name_out
 * (TOKEN_NAME_MAX + 1 bytes) when it is one of the file's tokens; TOKENS_ENOTFOUND when it is not;
 * or another TOKENS_E* code when the file cannot be read or is refused (err; every token is then
 * refused until the file is fixed). Thread-safe.
 */
int tokens_check(tokens_t *t, const char *token, char *name_out, char *err, size_t errlen);

/* tokens_check(), and the token's role in *role_out (not NULL) when it returns 0. */
int tokens_check_role(tokens_t *t, const char *token, char *name_out, int *role_out, char *err,
		      size_t errlen);

/*
 * Makes a new token named name in dir/tokens (created 0600 if missing) at the wall clock time.
 * The token text is written to token_out (TOKEN_LEN + 1 bytes) and nowhere else. Returns 0,
 * TOKENS_EEXIST if the name is taken, or another TOKENS_E* code (err).
 */
int tokens_add(const char *dir, const char *name, char *token_out, char *err, size_t errlen);

/* tokens_add() with a role (enum token_role; TOKENS_EINVAL for another value). tokens_add()
 * makes a TOKEN_ROLE_DEFAULT token. */
int tokens_add_role(const char *dir, const char *name, int role, char *token_out, char *err,
		    size_t errlen);

/* Removes the token named name. Returns 0, TOKENS_ENOTFOUND, or another TOKENS_E* code (err). */
int tokens_revoke(const char *dir, const char *name, char *err, size_t errlen);

/*
 * The tokens of dir/tokens in file order: a malloc'd array in *out (caller frees; NULL when there
 * is none) and its length as the return value (>= 0), or a negative TOKENS_E* code (err).
 */
int tokens_list(const char *dir, struct token_info **out, char *err, size_t errlen);

/*
 * First start of a server: if dir/tokens holds no token at all, makes an admin token named "admin" and writes
 * its text to dir/admin.token (mode 0600, created exclusively: an existing admin.token is an
 * error). Returns 1 and the path of that file in path_out when it made one, 0 when tokens exist,
 * or a negative TOKENS_E* code (err).
 */
int tokens_bootstrap(const char *dir, char *path_out, size_t path_len, char *err, size_t errlen);

/*
 * Parses tokens file text (path is only used in messages). Returns the number of tokens (>= 0)
 * or TOKENS_EFORMAT (err). Exposed for tests and fuzzing.
 */
int tokens_parse(const char *text, size_t len, const char *path, char *err, size_t errlen);

#endif
