/*
 * tokens.c - the HTTP API's bearer tokens (see tokens.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/tokens.h"
#include "base/log.h"

#define PATH_MAX_LEN 4096

struct token_entry {
	char name[TOKEN_NAME_MAX + 1];
	uint8_t hash[SHA256_DIGEST_LENGTH];
	char created[TOKEN_TIME_MAX];
	int role;
};

static const char *const role_names[] = {NULL, "viewer", "operator", "admin"};

const char *tokens_role_name(int role)
{
	return role >= TOKEN_VIEWER && role <= TOKEN_ADMIN ? role_names[role] : "?";
}

int tokens_role_parse(const char *s)
{
	for (int r = TOKEN_VIEWER; s && r <= TOKEN_ADMIN; r++)
		if (strcmp(s, role_names[r]) == 0)
			return r;
	return -1;
}

struct token_set {
	struct token_entry *v;
	size_t n;
};

/* What identifies one version of the file on disk. */
struct file_sig {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct tokens {
	char path[PATH_MAX_LEN];
	pthread_mutex_t mu;
	int loaded; /* sig describes the file the set (or the error) came from */
	struct file_sig sig;
	struct token_set set;
	int bad; /* that version of the file was refused: bad_code, bad_msg */
	int bad_code;
	char bad_msg[512];
};

static void set_free(struct token_set *s)
{
	if (s->v) {
		OPENSSL_cleanse(s->v, s->n * sizeof *s->v);
		free(s->v);
	}
	s->v = NULL;
	s->n = 0;
}

int tokens_name_valid(const char *name)
{
	size_t n = 0;
	if (!name)
		return 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (n >= TOKEN_NAME_MAX)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int time_valid(const char *s, size_t len)
{
	if (len == 0 || len >= TOKEN_TIME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || c == 'T' || c == 'Z' || c == ':' || c == '.' ||
		      c == '-' || c == '+'))
			return 0;
	}
	return 1;
}

/* Splits a line into at most max fields on spaces/tabs; returns the count (max + 1 if more). */
static int split(const char *line, size_t len, const char **f, size_t *fl, int max)
{
	int n = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= len)
			break;
		size_t s = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (n == max)
			return max + 1;
		f[n] = line + s;
		fl[n] = i - s;
		n++;
	}
	return n;
}

/* Parses the file text into set (if not NULL). Returns the count or TOKENS_EFORMAT. */
static int parse_text(const char *text, size_t len, const char *path, struct token_set *set,
		      char *err, size_t errlen)
{
	struct token_set s = {0};
	size_t cap = 0, lineno = 0, pos = 0;
	int ret = TOKENS_EFORMAT;

	if (len > TOKENS_FILE_MAX) {
		set_err(err, errlen, "`%s' is too large (%zu bytes, at most %u)", path, len,
			TOKENS_FILE_MAX);
		return TOKENS_EFORMAT;
	}
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (memchr(line, '\0', ll)) {
			set_err(err, errlen, "`%s' line %zu: a NUL byte", path, lineno);
			goto out;
		}
		if (ll == 0 || line[0] == '#')
			continue;
		const char *f[4];
		size_t fl[4];
		int nf = split(line, ll, f, fl, 4);
		if (nf == 0)
			continue;
		if (nf != 3 && nf != 4) {
			set_err(err, errlen,
				"`%s' line %zu: expected `NAME SHA256HEX CREATED [ROLE]' (3 or 4 "
				"fields), found %s",
				path, lineno,
				nf > 4	  ? "more"
				: nf == 1 ? "1"
					  : "2");
			goto out;
		}
		struct token_entry e;
		memset(&e, 0, sizeof e);
		if (fl[0] > TOKEN_NAME_MAX) {
			set_err(err, errlen, "`%s' line %zu: the name is longer than %u characters",
				path, lineno, TOKEN_NAME_MAX);
			goto out;
		}
		memcpy(e.name, f[0], fl[0]);
		if (!tokens_name_valid(e.name)) {
			set_err(err, errlen,
				"`%s' line %zu: invalid name `%s': expected 1..32 characters of "
				"[A-Za-z0-9._-]",
				path, lineno, e.name);
			goto out;
		}
		if (fl[1] != 2 * SHA256_DIGEST_LENGTH) {
			set_err(err, errlen,
				"`%s' line %zu: the hash is not 64 lowercase hex digits", path,
				lineno);
			goto out;
		}
		for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
			int hi = hexval(f[1][2 * i]), lo = hexval(f[1][2 * i + 1]);
			if (hi < 0 || lo < 0) {
				set_err(err, errlen,
					"`%s' line %zu: the hash is not 64 lowercase hex digits",
					path, lineno);
				goto out;
			}
			e.hash[i] = (uint8_t)(hi << 4 | lo);
		}
		if (!time_valid(f[2], fl[2])) {
			set_err(err, errlen,
				"`%s' line %zu: invalid creation time (expected RFC 3339)", path,
				lineno);
			goto out;
		}
		memcpy(e.created, f[2], fl[2]);
		e.role = TOKEN_ADMIN; /* a line from before roles */
		if (nf == 4) {
			char rn[16] = "";
			if (fl[3] < sizeof rn)
				memcpy(rn, f[3], fl[3]);
			e.role = tokens_role_parse(rn);
			if (e.role < 0) {
				set_err(err, errlen,
					"`%s' line %zu: invalid role `%.*s': expected viewer, "
					"operator or admin",
					path, lineno, (int)(fl[3] > 16 ? 16 : fl[3]), f[3]);
				goto out;
			}
		}
		for (size_t i = 0; i < s.n; i++)
			if (strcmp(s.v[i].name, e.name) == 0) {
				set_err(err, errlen, "`%s' line %zu: the name `%s' is used twice",
					path, lineno, e.name);
				goto out;
			}
		if (s.n >= TOKENS_MAX) {
			set_err(err, errlen, "`%s' line %zu: more than %u tokens", path, lineno,
				TOKENS_MAX);
			goto out;
		}
		if (s.n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct token_entry *nv = calloc(nc, sizeof *nv);
			if (!nv) {
				set_err(err, errlen, "`%s': out of memory", path);
				goto out;
			}
			if (s.n)
				memcpy(nv, s.v, s.n * sizeof *nv);
			set_free(&(struct token_set){s.v, s.n});
			s.v = nv;
			cap = nc;
		}
		s.v[s.n++] = e;
		OPENSSL_cleanse(&e, sizeof e);
	}
	ret = (int)s.n;
	if (set) {
		*set = s;
		s = (struct token_set){0};
	}
out:
	set_free(&s);
	return ret;
}

int tokens_parse(const char *text, size_t len, const char *path, char *err, size_t errlen)
{
	return parse_text(text, len, path, NULL, err, errlen);
}

static void sig_of(const struct stat *st, struct file_sig *sig)
{
	memset(sig, 0, sizeof *sig);
	sig->exists = 1;
	sig->dev = st->st_dev;
	sig->ino = st->st_ino;
	sig->size = st->st_size;
	sig->mtim = st->st_mtim;
	sig->ctim = st->st_ctim;
}

static int sig_eq(const struct file_sig *a, const struct file_sig *b)
{
	if (a->exists != b->exists)
		return 0;
	if (!a->exists)
		return 1;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/*
 * Reads and parses path safely. A missing file is an empty set (sig->exists = 0). Returns the
 * count or a negative code; sig describes the file read.
 */
static int load_file(const char *path, struct token_set *set, struct file_sig *sig, char *err,
		     size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int ret = TOKENS_EIO;

	memset(set, 0, sizeof *set);
	memset(sig, 0, sizeof *sig);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			set_err(err, errlen, "`%s' is a symbolic link: refusing it", path);
			return TOKENS_EUNSAFE;
		}
		set_err(err, errlen, "cannot open `%s': %s", path, strerror(errno));
		return TOKENS_EIO;
	}
	if (fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot stat `%s': %s", path, strerror(errno));
		goto out;
	}
	sig_of(&st, sig);
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "`%s' is not a regular file: refusing it", path);
		ret = TOKENS_EUNSAFE;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		set_err(err, errlen,
			"`%s' is owned by uid %lu, not by uid %lu that ringcap runs as; chown it",
			path, (unsigned long)st.st_uid, (unsigned long)geteuid());
		ret = TOKENS_EUNSAFE;
		goto out;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen,
			"`%s' is readable by group or others (mode %04o); chmod 600 it", path,
			(unsigned)(st.st_mode & 07777));
		ret = TOKENS_EUNSAFE;
		goto out;
	}
	if (st.st_size > (off_t)TOKENS_FILE_MAX) {
		set_err(err, errlen, "`%s' is too large (%lld bytes, at most %u)", path,
			(long long)st.st_size, TOKENS_FILE_MAX);
		ret = TOKENS_EFORMAT;
		goto out;
	}
	buf = malloc(TOKENS_FILE_MAX + 1);
	if (!buf) {
		set_err(err, errlen, "`%s': out of memory", path);
		ret = TOKENS_EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, TOKENS_FILE_MAX + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_err(err, errlen, "cannot read `%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > TOKENS_FILE_MAX)
			break;
	}
	ret = parse_text(buf, len, path, set, err, errlen);
out:
	if (buf) {
		OPENSSL_cleanse(buf, TOKENS_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return ret;
}

static int join(char *out, size_t outlen, const char *dir, const char *name, char *err,
		size_t errlen)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outlen) {
		set_err(err, errlen, "the folder name `%s' is too long", dir);
		return TOKENS_EINVAL;
	}
	return 0;
}

int tokens_open(const char *dir, tokens_t **out, char *err, size_t errlen)
{
	*out = NULL;
	tokens_t *t = calloc(1, sizeof *t);
	if (!t) {
		set_err(err, errlen, "out of memory");
		return TOKENS_EINVAL;
	}
	if (join(t->path, sizeof t->path, dir, TOKENS_FILE, err, errlen) != 0) {
		free(t);
		return TOKENS_EINVAL;
	}
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
}

void tokens_close(tokens_t *t)
{
	if (!t)
		return;
	set_free(&t->set);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Brings t up to date with the file. Called with t->mu held. Returns 0 or the file's error. */
static int refresh(tokens_t *t, char *err, size_t errlen)
{
	struct stat st;
	struct file_sig now;
	if (stat(t->path, &st) == 0) {
		sig_of(&st, &now);
	} else if (errno == ENOENT) {
		memset(&now, 0, sizeof now);
	} else {
		set_err(err, errlen, "cannot stat `%s': %s", t->path, strerror(errno));
		return TOKENS_EIO;
	}
	if (t->loaded && sig_eq(&now, &t->sig)) {
		if (t->bad)
			set_err(err, errlen, "%s", t->bad_msg);
		return t->bad ? t->bad_code : 0;
	}
	struct token_set set;
	struct file_sig sig;
	int rc = load_file(t->path, &set, &sig, t->bad_msg, sizeof t->bad_msg);
	set_free(&t->set);
	t->loaded = 1;
	t->sig = sig;
	if (rc < 0) {
		t->bad = 1;
		t->bad_code = rc;
		set_err(err, errlen, "%s", t->bad_msg);
		return rc;
	}
	t->bad = 0;
	t->set = set;
	return 0;
}

static int token_format_ok(const char *tok)
{
	if (strncmp(tok, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return 0;
	size_t n = 0;
	for (const char *p = tok + strlen(TOKEN_PREFIX); *p; p++, n++) {
		char c = *p;
		if (n >= TOKEN_LEN - strlen(TOKEN_PREFIX))
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return n == TOKEN_LEN - strlen(TOKEN_PREFIX);
}

int tokens_check(tokens_t *t, const char *token, char *name_out, char *err, size_t errlen)
{
	int role;
	return tokens_check_role(t, token, name_out, &role, err, errlen);
}

int tokens_check_role(tokens_t *t, const char *token, char *name_out, int *role_out, char *err,
		      size_t errlen)
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	int found = -1;
	pthread_mutex_lock(&t->mu);
	int rc = refresh(t, err, errlen);
	if (rc != 0)
		goto out;
	rc = TOKENS_ENOTFOUND;
	if (!token || !token_format_ok(token))
		goto out;
	SHA256((const unsigned char *)token, strlen(token), h);
	/* every entry is compared, in constant time each, whatever matched before */
	for (size_t i = 0; i < t->set.n; i++)
		if (CRYPTO_memcmp(h, t->set.v[i].hash, sizeof h) == 0)
			found = (int)i;
	if (found >= 0) {
		snprintf(name_out, TOKEN_NAME_MAX + 1, "%s", t->set.v[found].name);
		*role_out = t->set.v[found].role;
		rc = 0;
	}
out:
	pthread_mutex_unlock(&t->mu);
	OPENSSL_cleanse(h, sizeof h);
	return rc;
}

/* ---- writing ---- */

static int lock_dir(const char *dir, char *err, size_t errlen)
{
	char p[PATH_MAX_LEN];
	if (join(p, sizeof p, dir, TOKENS_LOCK_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	int fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_err(err, errlen, "cannot open `%s': %s", p, strerror(errno));
		return TOKENS_EIO;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		set_err(err, errlen, "cannot lock `%s': %s", p, strerror(errno));
		close(fd);
		return TOKENS_EIO;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes set as the whole of dir/tokens (tmp 0600, fsync, rename, fsync of dir). */
static int write_set(const char *dir, const struct token_set *set, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN], tmp[PATH_MAX_LEN + 16];
	if (join(path, sizeof path, dir, TOKENS_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
	size_t cap =
	    128 + set->n * (TOKEN_NAME_MAX + 2 * SHA256_DIGEST_LENGTH + TOKEN_TIME_MAX + 16);
	char *buf = malloc(cap);
	if (!buf) {
		set_err(err, errlen, "out of memory");
		return TOKENS_EINVAL;
	}
	size_t len = (size_t)snprintf(buf, cap,
				      "# ringcap API tokens: NAME SHA256 CREATED ROLE (hashes only; "
				      "see `ringcap token')\n");
	for (size_t i = 0; i < set->n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "%s ", set->v[i].name);
		for (size_t j = 0; j < SHA256_DIGEST_LENGTH; j++)
			len += (size_t)snprintf(buf + len, cap - len, "%02x", set->v[i].hash[j]);
		len += (size_t)snprintf(buf + len, cap - len, " %s %s\n", set->v[i].created,
					tokens_role_name(set->v[i].role));
	}
	int ret = TOKENS_EIO;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		set_err(err, errlen, "cannot create `%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write_all(fd, buf, len) != 0 || fsync(fd) != 0) {
		set_err(err, errlen, "cannot write `%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0) {
		set_err(err, errlen, "cannot write `%s': %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		set_err(err, errlen, "cannot rename `%s' to `%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_dir(dir) != 0) {
		set_err(err, errlen, "cannot fsync `%s': %s", dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return ret;
}

static void b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

static void now_rfc3339(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Adds name to the file under the lock; the caller holds it. */
static int add_locked(const char *dir, const char *name, int role, char *token_out,
		      int only_if_empty, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN];
	struct token_set set;
	struct file_sig sig;
	uint8_t raw[32];
	if (join(path, sizeof path, dir, TOKENS_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	int rc = load_file(path, &set, &sig, err, errlen);
	if (rc < 0)
		return rc;
	if (only_if_empty && set.n > 0) {
		set_free(&set);
		return 1;
	}
	for (size_t i = 0; i < set.n; i++)
		if (strcmp(set.v[i].name, name) == 0) {
			set_err(err, errlen, "a token named `%s' exists already in `%s'", name,
				path);
			set_free(&set);
			return TOKENS_EEXIST;
		}
	if (set.n >= TOKENS_MAX) {
		set_err(err, errlen, "`%s' holds %u tokens already", path, TOKENS_MAX);
		set_free(&set);
		return TOKENS_EFORMAT;
	}
	struct token_entry *nv = calloc(set.n + 1, sizeof *nv);
	if (!nv) {
		set_err(err, errlen, "out of memory");
		set_free(&set);
		return TOKENS_EINVAL;
	}
	if (set.n)
		memcpy(nv, set.v, set.n * sizeof *nv);
	set_free(&set);
	set.v = nv;
	set.n = (size_t)rc + 1;
	struct token_entry *e = &set.v[set.n - 1];
	if (RAND_bytes(raw, sizeof raw) != 1) {
		set_err(err, errlen, "cannot make a token: the random generator failed");
		set_free(&set);
		return TOKENS_EINVAL;
	}
	memcpy(token_out, TOKEN_PREFIX, strlen(TOKEN_PREFIX));
	b64url(raw, sizeof raw, token_out + strlen(TOKEN_PREFIX));
	OPENSSL_cleanse(raw, sizeof raw);
	snprintf(e->name, sizeof e->name, "%s", name);
	SHA256((const unsigned char *)token_out, strlen(token_out), e->hash);
	now_rfc3339(e->created, sizeof e->created);
	e->role = role;
	rc = write_set(dir, &set, err, errlen);
	set_free(&set);
	if (rc != 0)
		OPENSSL_cleanse(token_out, TOKEN_LEN + 1);
	return rc;
}

int tokens_add(const char *dir, const char *name, char *token_out, char *err, size_t errlen)
{
	return tokens_add_role(dir, name, TOKEN_ROLE_DEFAULT, token_out, err, errlen);
}

int tokens_add_role(const char *dir, const char *name, int role, char *token_out, char *err,
		    size_t errlen)
{
	if (role < TOKEN_VIEWER || role > TOKEN_ADMIN) {
		set_err(err, errlen, "invalid role %d: expected viewer, operator or admin", role);
		return TOKENS_EINVAL;
	}
	if (!tokens_name_valid(name)) {
		set_err(err, errlen,
			"invalid token name `%s': expected 1..32 characters of [A-Za-z0-9._-]",
			name ? name : "");
		return TOKENS_EINVAL;
	}
	int lk = lock_dir(dir, err, errlen);
	if (lk < 0)
		return lk;
	int rc = add_locked(dir, name, role, token_out, 0, err, errlen);
	close(lk);
	return rc;
}

int tokens_revoke(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN];
	struct token_set set;
	struct file_sig sig;
	if (join(path, sizeof path, dir, TOKENS_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	int lk = lock_dir(dir, err, errlen);
	if (lk < 0)
		return lk;
	int rc = load_file(path, &set, &sig, err, errlen);
	if (rc < 0)
		goto out;
	rc = TOKENS_ENOTFOUND;
	for (size_t i = 0; i < set.n; i++)
		if (strcmp(set.v[i].name, name) == 0) {
			memmove(&set.v[i], &set.v[i + 1], (set.n - i - 1) * sizeof set.v[i]);
			set.n--;
			rc = 0;
			break;
		}
	if (rc == 0)
		rc = write_set(dir, &set, err, errlen);
	else
		set_err(err, errlen, "no token named `%s' in `%s'", name, path);
	set_free(&set);
out:
	close(lk);
	return rc;
}

int tokens_list(const char *dir, struct token_info **out, char *err, size_t errlen)
{
	char path[PATH_MAX_LEN];
	struct token_set set;
	struct file_sig sig;
	*out = NULL;
	if (join(path, sizeof path, dir, TOKENS_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	int rc = load_file(path, &set, &sig, err, errlen);
	if (rc <= 0)
		return rc;
	struct token_info *v = calloc(set.n, sizeof *v);
	if (!v) {
		set_free(&set);
		set_err(err, errlen, "out of memory");
		return TOKENS_EINVAL;
	}
	for (size_t i = 0; i < set.n; i++) {
		memcpy(v[i].name, set.v[i].name, sizeof v[i].name);
		memcpy(v[i].created, set.v[i].created, sizeof v[i].created);
		v[i].role = set.v[i].role;
	}
	set_free(&set);
	*out = v;
	return rc;
}

int tokens_bootstrap(const char *dir, char *path_out, size_t path_len, char *err, size_t errlen)
{
	char tok[TOKEN_LEN + 1], apath[PATH_MAX_LEN];
	if (join(apath, sizeof apath, dir, TOKENS_ADMIN_FILE, err, errlen) != 0)
		return TOKENS_EINVAL;
	int lk = lock_dir(dir, err, errlen);
	if (lk < 0)
		return lk;
	int rc = add_locked(dir, "admin", TOKEN_ADMIN, tok, 1, err, errlen);
	if (rc == 1) { /* tokens exist */
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = TOKENS_EIO;
	int fd = open(apath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_err(
		    err, errlen,
		    "cannot create `%s': %s (the admin token was added but not saved; revoke it "
		    "with `ringcap token revoke admin')",
		    apath, strerror(errno));
		goto out;
	}
	tok[TOKEN_LEN] = '\n';
	int bad = fchmod(fd, 0600) != 0 || write_all(fd, tok, TOKEN_LEN + 1) != 0 || fsync(fd) != 0;
	if (close(fd) != 0)
		bad = 1;
	if (bad) {
		set_err(err, errlen, "cannot write `%s': %s", apath, strerror(errno));
		unlink(apath);
		goto out;
	}
	fsync_dir(dir);
	snprintf(path_out, path_len, "%s", apath);
	rc = 1;
out:
	OPENSSL_cleanse(tok, sizeof tok);
	close(lk);
	return rc;
}
