/*
 * keys.c - the vault's key file: load (with permission checks), create, rotate, subkeys.
 * See keys.h for the format and the rules.
 */
#include "vault/keys.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

struct keys {
	struct vault_key v[KEYS_MAX];
	char ids[KEYS_MAX][VAULT_KEY_ID_MAX + 1];
	size_t n;
	size_t primary;
};

int keys_path(const char *dir, char *out, size_t outlen)
{
	const char *env = getenv(KEYS_ENV);
	int n;

	if (env && *env)
		n = snprintf(out, outlen, "%s", env);
	else
		n = snprintf(out, outlen, "%s/%s", dir ? dir : ".", KEYS_DEFAULT_SUBPATH);
	return (n < 0 || (size_t)n >= outlen) ? KEYS_EINVAL : 0;
}

static int id_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > VAULT_KEY_ID_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int find_id(const keys_t *k, const char *id)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->ids[i], id) == 0)
			return 1;
	return 0;
}

/* Appends a key (id already validated) and points its vault_key at the stored id. */
static void add_key(keys_t *k, const char *id, size_t idlen, const uint8_t master[VAULT_KEY_LEN])
{
	memcpy(k->ids[k->n], id, idlen);
	k->ids[k->n][idlen] = '\0';
	k->v[k->n].id = k->ids[k->n];
	memcpy(k->v[k->n].master, master, VAULT_KEY_LEN);
	k->n++;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits [p, end) into at most max fields separated by blanks; returns the count or max + 1. */
static size_t split(const char *p, const char *end, const char **f, size_t *flen, size_t max)
{
	size_t n = 0;

	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		if (n == max)
			return max + 1;
		f[n] = p;
		while (p < end && !is_blank(*p))
			p++;
		flen[n] = (size_t)(p - f[n]);
		n++;
	}
	return n;
}

int keys_parse(const char *text, size_t len, const char *path, keys_t **out, char *err,
	       size_t errlen)
{
	keys_t *k = NULL;
	const char *p = text, *end = text + len;
	uint8_t master[VAULT_KEY_LEN];
	int line = 0, primary_line = 0, ret = KEYS_EFORMAT;

	*out = NULL;
	if (len > KEYS_FILE_MAX) {
		set_err(err, errlen, "`%s' is too large (%zu bytes, at most %u)", path, len,
			KEYS_FILE_MAX);
		return KEYS_EFORMAT;
	}
	if (memchr(text, '\0', len)) {
		set_err(err, errlen, "`%s' contains a NUL byte: not a key file", path);
		return KEYS_EFORMAT;
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		set_err(err, errlen, "`%s': out of memory", path);
		return KEYS_EINVAL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *f[3];
		size_t flen[3], nf, i;
		char id[VAULT_KEY_ID_MAX + 1];

		line++;
		nf = split(p, eol, f, flen, 3);
		if (nf == 0 || *p == '#')
			goto next;
		if (nf < 2 || nf > 3) {
			set_err(err, errlen,
				"`%s' line %d: expected `ID HEX64 [primary]' (%s fields)", path,
				line, nf < 2 ? "too few" : "too many");
			goto out;
		}
		if (!id_valid(f[0], flen[0])) {
			set_err(err, errlen,
				"`%s' line %d: bad key id `%.*s': expected 1..%u of [A-Za-z0-9._-]",
				path, line, (int)(flen[0] > 40 ? 40 : flen[0]), f[0],
				VAULT_KEY_ID_MAX);
			goto out;
		}
		memcpy(id, f[0], flen[0]);
		id[flen[0]] = '\0';
		if (find_id(k, id)) {
			set_err(err, errlen, "`%s' line %d: duplicate key id `%s'", path, line, id);
			goto out;
		}
		if (flen[1] != 2 * VAULT_KEY_LEN) {
			set_err(
			    err, errlen,
			    "`%s' line %d: key `%s' must be %u hex digits (found %zu characters)",
			    path, line, id, 2 * VAULT_KEY_LEN, flen[1]);
			goto out;
		}
		for (i = 0; i < VAULT_KEY_LEN; i++) {
			int hi = hexval(f[1][2 * i]), lo = hexval(f[1][2 * i + 1]);

			if (hi < 0 || lo < 0) {
				set_err(err, errlen,
					"`%s' line %d: key `%s' has a non-hex character at "
					"position %zu",
					path, line, id, 2 * i + (hi < 0 ? 1 : 2));
				goto out;
			}
			master[i] = (uint8_t)(hi << 4 | lo);
		}
		if (nf == 3) {
			if (flen[2] != 7 || memcmp(f[2], "primary", 7) != 0) {
				set_err(err, errlen,
					"`%s' line %d: unexpected `%.*s' after the key: expected "
					"`primary' "
					"or nothing",
					path, line, (int)(flen[2] > 40 ? 40 : flen[2]), f[2]);
				goto out;
			}
			if (primary_line) {
				set_err(err, errlen,
					"`%s' line %d: a second primary key (line %d is primary "
					"already)",
					path, line, primary_line);
				goto out;
			}
			primary_line = line;
			k->primary = k->n;
		}
		if (k->n == KEYS_MAX) {
			set_err(err, errlen, "`%s' line %d: too many keys (at most %u)", path, line,
				KEYS_MAX);
			goto out;
		}
		add_key(k, id, flen[0], master);
next:
		p = nl ? nl + 1 : end;
}
	if (k->n == 0) {
		set_err(err, errlen, "`%s' holds no keys", path);
		goto out;
	}
	if (!primary_line) {
		set_err(
		    err, errlen,
		    "`%s' line %d: end of file and no key is marked primary (exactly one must be)",
		    path, line);
		goto out;
	}
	*out = k;
	k = NULL;
	ret = 0;
out:
	OPENSSL_cleanse(master, sizeof master);
	keys_free(k);
	return ret;
}

/* Formats the file into a malloc'd buffer the caller wipes and frees. */
static char *format_file(const keys_t *k, size_t *lenp)
{
	static const char head[] = "# ringcap key file: ID HEX64 [primary], one key per line. "
				   "Keep it mode 0600.\n";
	size_t cap = sizeof head + k->n * (VAULT_KEY_ID_MAX + 2 * VAULT_KEY_LEN + 12), len = 0, i, j;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	memcpy(buf, head, sizeof head - 1);
	len = sizeof head - 1;
	for (i = 0; i < k->n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "%s ", k->ids[i]);
		for (j = 0; j < VAULT_KEY_LEN; j++) {
			buf[len++] = "0123456789abcdef"[k->v[i].master[j] >> 4];
			buf[len++] = "0123456789abcdef"[k->v[i].master[j] & 15];
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s\n",
					i == k->primary ? " primary" : "");
	}
	*lenp = len;
	return buf;
}

static int fsync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Writes k whole to a fresh temporary file next to path (mode 0600, fsync'd) and returns its
 * name in tmp; the caller links or renames it into place.
 */
static int write_tmp(const char *path, const keys_t *k, char *tmp, size_t tmplen, char *err,
		     size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, off = 0;
	int fd = -1, n, ret = KEYS_EIO;

	n = snprintf(tmp, tmplen, "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= tmplen) {
		set_err(err, errlen, "`%s': path too long", path);
		tmp[0] = '\0';
		return KEYS_EINVAL;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* O_CREAT | O_EXCL, mode 0600 */
	if (fd < 0) {
		set_err(err, errlen, "cannot create `%s': %s", tmp, strerror(errno));
		tmp[0] = '\0';
		return KEYS_EIO;
	}
	if (fchmod(fd, 0600) != 0) {
		set_err(err, errlen, "cannot chmod `%s': %s", tmp, strerror(errno));
		goto out;
	}
	buf = format_file(k, &len);
	if (!buf) {
		set_err(err, errlen, "`%s': out of memory", path);
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			set_err(err, errlen, "cannot write `%s': %s", tmp,
				w < 0 ? strerror(errno) : "short write");
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		set_err(err, errlen, "cannot fsync `%s': %s", tmp, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	if (close(fd) != 0 && ret == 0) {
		set_err(err, errlen, "cannot close `%s': %s", tmp, strerror(errno));
		ret = KEYS_EIO;
	}
	if (ret != 0) {
		unlink(tmp);
		tmp[0] = '\0';
	}
	return ret;
}

/* Creates the missing parent directories of path with mode 0700. */
static int mkdir_parents(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	size_t i, len = strlen(path);

	if (len >= sizeof dir) {
		set_err(err, errlen, "`%s': path too long", path);
		return KEYS_EINVAL;
	}
	memcpy(dir, path, len + 1);
	for (i = 1; i < len; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			set_err(err, errlen, "cannot create directory `%s' for `%s': %s", dir, path,
				strerror(errno));
			return KEYS_EIO;
		}
		dir[i] = '/';
	}
	return 0;
}

/* Makes a fresh key id not yet in k: "k" + UTC YYYYMMDDhhmmss, else "kN". */
static void new_id(const keys_t *k, char id[VAULT_KEY_ID_MAX + 1])
{
	time_t now = time(NULL);
	struct tm tm;
	size_t c;

	if (gmtime_r(&now, &tm) && strftime(id, VAULT_KEY_ID_MAX + 1, "k%Y%m%d%H%M%S", &tm) > 0 &&
	    !find_id(k, id))
		return;
	for (c = k->n + 1;; c++) {
		snprintf(id, VAULT_KEY_ID_MAX + 1, "k%zu", c);
		if (!find_id(k, id))
			return;
	}
}

/* Adds a fresh random primary key to k. */
static int add_random_primary(keys_t *k, char *err, size_t errlen)
{
	uint8_t master[VAULT_KEY_LEN];
	char id[VAULT_KEY_ID_MAX + 1];

	if (k->n == KEYS_MAX) {
		set_err(err, errlen, "the key file is full (%u keys): remove retired keys first",
			KEYS_MAX);
		return KEYS_EINVAL;
	}
	if (RAND_bytes(master, sizeof master) != 1) {
		set_err(err, errlen, "RAND_bytes failed: cannot make a key");
		return KEYS_EINVAL;
	}
	new_id(k, id);
	add_key(k, id, strlen(id), master);
	k->primary = k->n - 1;
	OPENSSL_cleanse(master, sizeof master);
	return 0;
}

/* Creates path with one new primary key; 1 if it appeared meanwhile (then load it). */
static int create_file(const char *path, keys_t **out, char *err, size_t errlen)
{
	char tmp[4200];
	keys_t *k = NULL;
	int ret;

	ret = mkdir_parents(path, err, errlen);
	if (ret)
		return ret;
	k = calloc(1, sizeof *k);
	if (!k) {
		set_err(err, errlen, "`%s': out of memory", path);
		return KEYS_EINVAL;
	}
	ret = add_random_primary(k, err, errlen);
	if (ret)
		goto out;
	ret = write_tmp(path, k, tmp, sizeof tmp, err, errlen);
	if (ret)
		goto out;
	/* link, not rename: if another process created path meanwhile, keep its file. */
	if (link(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		if (e == EEXIST) {
			ret = 1;
			goto out;
		}
		set_err(err, errlen, "cannot create `%s': %s", path, strerror(e));
		ret = KEYS_EIO;
		goto out;
	}
	unlink(tmp);
	if (fsync_dir_of(path) != 0) {
		set_err(err, errlen, "cannot fsync the directory of `%s': %s", path,
			strerror(errno));
		ret = KEYS_EIO;
		goto out;
	}
	*out = k;
	k = NULL;
	ret = 0;
out:
	keys_free(k);
	return ret;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/* Opens path safely; 1 if it does not exist. */
static int load_file(const char *path, keys_t **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret = KEYS_EIO;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == ELOOP) {
			set_err(
			    err, errlen,
			    "`%s' is a symbolic link: refusing it; point RINGCAP_KEY_FILE at the "
			    "real file",
			    path);
			return KEYS_EUNSAFE;
		}
		set_err(err, errlen, "cannot open `%s': %s", path, strerror(errno));
		return KEYS_EIO;
	}
	if (fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot stat `%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "`%s' is not a regular file (%s)", path,
			file_kind(st.st_mode));
		ret = KEYS_EUNSAFE;
		goto out;
	}
	if (st.st_uid != geteuid()) {
		set_err(err, errlen,
			"`%s' is owned by uid %lu, not by uid %lu that ringcap runs as; "
			"chown it",
			path, (unsigned long)st.st_uid, (unsigned long)geteuid());
		ret = KEYS_EUNSAFE;
		goto out;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen,
			"`%s' is readable by group or others (mode %04o); chmod 600 it", path,
			(unsigned)(st.st_mode & 07777));
		ret = KEYS_EUNSAFE;
		goto out;
	}
	if (st.st_size > (off_t)KEYS_FILE_MAX) {
		set_err(err, errlen, "`%s' is too large (%lld bytes, at most %u)", path,
			(long long)st.st_size, KEYS_FILE_MAX);
		ret = KEYS_EFORMAT;
		goto out;
	}
	buf = malloc(KEYS_FILE_MAX + 1);
	if (!buf) {
		set_err(err, errlen, "`%s': out of memory", path);
		ret = KEYS_EINVAL;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, KEYS_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			set_err(err, errlen, "cannot read `%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > KEYS_FILE_MAX)
			break;
	}
	ret = keys_parse(buf, len, path, out, err, errlen);
out:
	if (buf) {
		OPENSSL_cleanse(buf, KEYS_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return ret;
}

int keys_load_or_create(const char *path, keys_t **out, char *err, size_t errlen)
{
	int ret, tries;

	*out = NULL;
	if (!path || !*path) {
		set_err(err, errlen, "no key file path");
		return KEYS_EINVAL;
	}
	for (tries = 0; tries < 2; tries++) {
		ret = load_file(path, out, err, errlen);
		if (ret != 1)
			return ret;
		ret = create_file(path, out, err, errlen);
		if (ret != 1)
			return ret;
	}
	set_err(err, errlen, "`%s' keeps appearing and disappearing", path);
	return KEYS_EIO;
}

const struct vault_key *keys_primary(const keys_t *k)
{
	return &k->v[k->primary];
}

size_t keys_count(const keys_t *k)
{
	return k->n;
}

void keys_ring(const keys_t *k, struct vault_keyring *ring)
{
	ring->keys = k->v;
	ring->n = k->n;
}

int keys_rotate(const char *path, keys_t *k, char *new_id_out, size_t new_id_len, char *err,
		size_t errlen)
{
	char tmp[4200];
	size_t old_primary = k->primary;
	int ret;

	if (new_id_out && new_id_len < VAULT_KEY_ID_MAX + 1) {
		set_err(err, errlen, "keys_rotate: id buffer too small");
		return KEYS_EINVAL;
	}
	ret = add_random_primary(k, err, errlen);
	if (ret)
		return ret;
	ret = write_tmp(path, k, tmp, sizeof tmp, err, errlen);
	if (ret)
		goto out;
	if (rename(tmp, path) != 0) {
		set_err(err, errlen, "cannot rename `%s' to `%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		ret = KEYS_EIO;
		goto out;
	}
	if (fsync_dir_of(path) != 0) {
		/* The new file is in place; report, but keep the new key in memory too. */
		set_err(err, errlen, "cannot fsync the directory of `%s': %s", path,
			strerror(errno));
		ret = KEYS_EIO;
		goto out_keep;
	}
	ret = 0;
out_keep:
	if (new_id_out)
		snprintf(new_id_out, new_id_len, "%s", k->ids[k->primary]);
	return ret;
out:
	k->n--;
	OPENSSL_cleanse(&k->v[k->n], sizeof k->v[k->n]);
	OPENSSL_cleanse(k->ids[k->n], sizeof k->ids[k->n]);
	k->primary = old_primary;
	return ret;
}

int keys_subkey_for(const keys_t *k, const char *id, const char *purpose,
		    uint8_t out[VAULT_KEY_LEN])
{
	size_t i = 0;
	if (k && id)
		for (i = 0; i < k->n && strcmp(k->ids[i], id) != 0; i++)
			;
	else if (k)
		i = k->primary;
	if (!k || i >= k->n || !purpose || !*purpose || strcmp(purpose, VAULT_PURPOSE_FILE) == 0) {
		OPENSSL_cleanse(out, VAULT_KEY_LEN);
		return KEYS_EINVAL;
	}
	return vault_derive(k->v[i].master, purpose, out) == 0 ? 0 : KEYS_EINVAL;
}

int keys_subkey(const keys_t *k, const char *purpose, uint8_t out[VAULT_KEY_LEN])
{
	return keys_subkey_for(k, NULL, purpose, out);
}

void keys_free(keys_t *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof *k);
	free(k);
}
