/*
 * vault.c - the evidence vault's encrypted file format; see vault.h for the layout.
 *
 * All primitives come from libcrypto (AES-256-GCM through EVP, HKDF through EVP_KDF, RAND_bytes);
 * key material is wiped with OPENSSL_cleanse as soon as it is no longer needed.
 */
#include "vault/vault.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static const char vault_magic[8] = {'R', 'C', 'V', 'A', 'U', 'L', 'T', '1'};

#define VAULT_VERSION 1u
#define VAULT_NONCE_LEN 12u
#define VAULT_PREFIX_LEN 7u
#define VAULT_SEG_TOTAL (VAULT_SEG_LEN + VAULT_TAG_LEN)

/* header field offsets */
#define OFF_VERSION 8u
#define OFF_RESERVED 9u
#define OFF_PREFIX 12u
#define OFF_KEYID 19u
#define OFF_WNONCE 35u
#define OFF_WKEY 47u
#define OFF_WTAG 79u
#define SEG_AAD_LEN OFF_KEYID	/* magic, version, reserved, prefix */
#define WRAP_AAD_LEN OFF_WNONCE /* ... and the key id */

struct vault_reader {
	int fd;
	uint8_t hdr[VAULT_HDR_LEN];
	uint8_t dkey[VAULT_KEY_LEN];
	char key_id[VAULT_KEY_ID_MAX + 1];
	uint32_t nseg;
	uint32_t last_len; /* plaintext bytes in the final segment */
	uint64_t plain_size;
	EVP_CIPHER_CTX *ctx;
	uint8_t *ct; /* one segment of ciphertext and tag */
	uint8_t *pt; /* its plaintext */
};

int vault_derive(const uint8_t master[VAULT_KEY_LEN], const char *purpose,
		 uint8_t out[VAULT_KEY_LEN])
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[4];
	int ret = -1;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		goto out;
	kctx = EVP_KDF_CTX_new(kdf);
	if (!kctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] =
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, VAULT_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)purpose,
						      strlen(purpose));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, VAULT_KEY_LEN, params) != 1)
		goto out;
	ret = 0;
out:
	if (ret)
		OPENSSL_cleanse(out, VAULT_KEY_LEN);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* --- AES-256-GCM, one message; ctx is reused --- */

static int gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce,
		    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len, uint8_t *out,
		    uint8_t tag[VAULT_TAG_LEN])
{
	int n;

	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		return -1;
	if (EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		return -1;
	if (len && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1)
		return -1;
	if (EVP_EncryptFinal_ex(ctx, out + len, &n) != 1)
		return -1;
	return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VAULT_TAG_LEN, tag) == 1 ? 0 : -1;
}

/* Returns 0, 1 if the tag does not verify, -1 on a library failure. */
static int gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce,
		    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
		    const uint8_t tag[VAULT_TAG_LEN], uint8_t *out)
{
	int n;

	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) != 1)
		return -1;
	if (EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		return -1;
	if (len && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1)
		return -1;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VAULT_TAG_LEN, (void *)tag) != 1)
		return -1;
	if (EVP_DecryptFinal_ex(ctx, out + len, &n) != 1) {
		OPENSSL_cleanse(out, len);
		return 1;
	}
	return 0;
}

static void seg_nonce(const uint8_t *hdr, uint32_t i, int last, uint8_t nonce[VAULT_NONCE_LEN])
{
	memcpy(nonce, hdr + OFF_PREFIX, VAULT_PREFIX_LEN);
	nonce[7] = (uint8_t)(i >> 24);
	nonce[8] = (uint8_t)(i >> 16);
	nonce[9] = (uint8_t)(i >> 8);
	nonce[10] = (uint8_t)i;
	nonce[11] = last ? 1 : 0;
}

/* --- I/O that retries short transfers --- */

/* Reads up to len bytes, stopping only at EOF. Returns the count or -1 (errno set). */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
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

static ssize_t pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
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

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- header --- */

static int key_id_valid(const char *id)
{
	size_t i, n;

	if (!id)
		return 0;
	n = strlen(id);
	if (n == 0 || n > VAULT_KEY_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return 0;
	return 1;
}

/*
 * Fills hdr from the fixed fields and the key id and wraps dkey under k. The nonce prefix must
 * already be in hdr. Returns 0 or a VAULT_E* code.
 */
static int hdr_wrap(uint8_t hdr[VAULT_HDR_LEN], const uint8_t dkey[VAULT_KEY_LEN],
		    const struct vault_key *k, EVP_CIPHER_CTX *ctx, char *err, size_t errlen)
{
	uint8_t fek[VAULT_KEY_LEN];
	int ret = VAULT_EINVAL;

	if (!key_id_valid(k->id)) {
		set_err(err, errlen, "invalid key id `%s': expected 1 to %u printable characters",
			k->id ? k->id : "(null)", VAULT_KEY_ID_MAX);
		return VAULT_EINVAL;
	}
	memcpy(hdr, vault_magic, sizeof vault_magic);
	hdr[OFF_VERSION] = VAULT_VERSION;
	memset(hdr + OFF_RESERVED, 0, 3);
	memset(hdr + OFF_KEYID, 0, VAULT_KEY_ID_MAX);
	memcpy(hdr + OFF_KEYID, k->id, strlen(k->id));
	if (vault_derive(k->master, VAULT_PURPOSE_FILE, fek) != 0 ||
	    RAND_bytes(hdr + OFF_WNONCE, VAULT_NONCE_LEN) != 1 ||
	    gcm_seal(ctx, fek, hdr + OFF_WNONCE, hdr, WRAP_AAD_LEN, dkey, VAULT_KEY_LEN,
		     hdr + OFF_WKEY, hdr + OFF_WTAG) != 0) {
		set_err(err, errlen, "cannot wrap the data key: crypto library failure");
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(fek, sizeof fek);
	return ret;
}

/* Checks the fixed fields of hdr and copies out the key id. Returns 0 or VAULT_EFORMAT. */
static int hdr_parse(const uint8_t hdr[VAULT_HDR_LEN], char id[VAULT_KEY_ID_MAX + 1], char *err,
		     size_t errlen)
{
	size_t i, n;

	if (memcmp(hdr, vault_magic, sizeof vault_magic) != 0) {
		set_err(err, errlen, "not a vault file: bad magic");
		return VAULT_EFORMAT;
	}
	if (hdr[OFF_VERSION] != VAULT_VERSION) {
		set_err(err, errlen, "unsupported vault version %u (expected %u)", hdr[OFF_VERSION],
			VAULT_VERSION);
		return VAULT_EFORMAT;
	}
	if (hdr[OFF_RESERVED] || hdr[OFF_RESERVED + 1] || hdr[OFF_RESERVED + 2]) {
		set_err(err, errlen, "bad vault header: reserved bytes are not zero");
		return VAULT_EFORMAT;
	}
	for (n = 0; n < VAULT_KEY_ID_MAX && hdr[OFF_KEYID + n]; n++)
		id[n] = (char)hdr[OFF_KEYID + n];
	id[n] = '\0';
	for (i = n; i < VAULT_KEY_ID_MAX; i++)
		if (hdr[OFF_KEYID + i]) {
			n = 0;
			break;
		}
	if (!key_id_valid(id) || n == 0) {
		set_err(err, errlen, "bad vault header: invalid key id");
		id[0] = '\0';
		return VAULT_EFORMAT;
	}
	return 0;
}

/* Finds the file's key in ring and unwraps the data key into dkey. */
static int hdr_unwrap(const uint8_t hdr[VAULT_HDR_LEN], const char *id,
		      const struct vault_keyring *ring, EVP_CIPHER_CTX *ctx,
		      uint8_t dkey[VAULT_KEY_LEN], char *err, size_t errlen)
{
	const struct vault_key *k = NULL;
	uint8_t fek[VAULT_KEY_LEN];
	size_t i;
	int ret = VAULT_EKEY, rc;

	for (i = 0; ring && i < ring->n; i++)
		if (ring->keys[i].id && strcmp(ring->keys[i].id, id) == 0) {
			k = &ring->keys[i];
			break;
		}
	if (!k) {
		set_err(err, errlen, "file is sealed under key `%s', which is not in the keyring",
			id);
		return VAULT_EKEY;
	}
	if (vault_derive(k->master, VAULT_PURPOSE_FILE, fek) != 0) {
		set_err(err, errlen, "cannot derive the file key: crypto library failure");
		return VAULT_EINVAL;
	}
	rc = gcm_open(ctx, fek, hdr + OFF_WNONCE, hdr, WRAP_AAD_LEN, hdr + OFF_WKEY, VAULT_KEY_LEN,
		      hdr + OFF_WTAG, dkey);
	if (rc < 0) {
		set_err(err, errlen, "cannot unwrap the data key: crypto library failure");
		ret = VAULT_EINVAL;
		goto out;
	}
	if (rc > 0) {
		set_err(err, errlen,
			"key `%s' does not open this file: wrong master key or modified header",
			id);
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(fek, sizeof fek);
	return ret;
}

/* --- sealing --- */

int vault_seal_fd(int in_fd, int out_fd, const struct vault_key *k, char *err, size_t errlen)
{
	uint8_t hdr[VAULT_HDR_LEN], dkey[VAULT_KEY_LEN], nonce[VAULT_NONCE_LEN];
	uint8_t *a = NULL, *b = NULL, *t;
	EVP_CIPHER_CTX *ctx = NULL;
	ssize_t n, m = 0;
	uint32_t i = 0;
	int ret = VAULT_EINVAL, last;

	a = malloc(VAULT_SEG_TOTAL);
	b = malloc(VAULT_SEG_TOTAL);
	ctx = EVP_CIPHER_CTX_new();
	if (!a || !b || !ctx) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	if (RAND_bytes(dkey, sizeof dkey) != 1 ||
	    RAND_bytes(hdr + OFF_PREFIX, VAULT_PREFIX_LEN) != 1) {
		set_err(err, errlen, "cannot get random bytes");
		goto out;
	}
	ret = hdr_wrap(hdr, dkey, k, ctx, err, errlen);
	if (ret)
		goto out;
	ret = VAULT_EIO;
	if (write_full(out_fd, hdr, sizeof hdr) != 0) {
		set_err(err, errlen, "cannot write the vault header: %s", strerror(errno));
		goto out;
	}
	n = read_full(in_fd, a, VAULT_SEG_LEN);
	if (n < 0)
		goto read_err;
	for (;;) {
		/* a full segment is the last one only if nothing follows it */
		last = 1;
		if (n == (ssize_t)VAULT_SEG_LEN) {
			m = read_full(in_fd, b, VAULT_SEG_LEN);
			if (m < 0)
				goto read_err;
			last = m == 0;
		}
		seg_nonce(hdr, i, last, nonce);
		if (gcm_seal(ctx, dkey, nonce, hdr, SEG_AAD_LEN, a, (size_t)n, a, a + n) != 0) {
			set_err(err, errlen, "cannot seal segment %u: crypto library failure", i);
			ret = VAULT_EINVAL;
			goto out;
		}
		if (write_full(out_fd, a, (size_t)n + VAULT_TAG_LEN) != 0) {
			set_err(err, errlen, "cannot write segment %u: %s", i, strerror(errno));
			goto out;
		}
		if (last)
			break;
		if (i == UINT32_MAX) {
			set_err(err, errlen, "plaintext too large: more than 2^32 segments");
			ret = VAULT_EINVAL;
			goto out;
		}
		i++;
		t = a;
		a = b;
		b = t;
		n = m;
	}
	ret = 0;
	goto out;
read_err:
	set_err(err, errlen, "cannot read the plaintext: %s", strerror(errno));
out:
	OPENSSL_cleanse(dkey, sizeof dkey);
	if (a)
		OPENSSL_cleanse(a, VAULT_SEG_TOTAL);
	if (b)
		OPENSSL_cleanse(b, VAULT_SEG_TOTAL);
	free(a);
	free(b);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/* --- reading --- */

/* Reads and verifies segment i into r->pt. Returns its plaintext length or a VAULT_E* code. */
static ssize_t seg_read(vault_reader_t *r, uint32_t i, char *err, size_t errlen)
{
	uint8_t nonce[VAULT_NONCE_LEN];
	int last = i == r->nseg - 1;
	size_t plen = last ? r->last_len : VAULT_SEG_LEN;
	uint64_t off = VAULT_HDR_LEN + (uint64_t)i * VAULT_SEG_TOTAL;
	ssize_t got;
	int rc;

	got = pread_full(r->fd, r->ct, plen + VAULT_TAG_LEN, off);
	if (got < 0) {
		set_err(err, errlen, "cannot read segment %u: %s", i, strerror(errno));
		return VAULT_EIO;
	}
	if ((size_t)got != plen + VAULT_TAG_LEN) {
		set_err(err, errlen, "segment %u does not verify: file was truncated", i);
		return VAULT_EAUTH;
	}
	seg_nonce(r->hdr, i, last, nonce);
	rc =
	    gcm_open(r->ctx, r->dkey, nonce, r->hdr, SEG_AAD_LEN, r->ct, plen, r->ct + plen, r->pt);
	if (rc < 0) {
		set_err(err, errlen, "cannot open segment %u: crypto library failure", i);
		return VAULT_EINVAL;
	}
	if (rc > 0) {
		set_err(err, errlen,
			"segment %u does not verify: modified, reordered, missing or truncated", i);
		return VAULT_EAUTH;
	}
	return (ssize_t)plen;
}

void vault_reader_close(vault_reader_t *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r->dkey, sizeof r->dkey);
	if (r->pt)
		OPENSSL_cleanse(r->pt, VAULT_SEG_LEN);
	free(r->pt);
	free(r->ct);
	EVP_CIPHER_CTX_free(r->ctx);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

/* Takes ownership of fd (closed on failure too). */
static int reader_open(int fd, const struct vault_keyring *ring, vault_reader_t **out, char *err,
		       size_t errlen)
{
	vault_reader_t *r;
	struct stat st;
	uint64_t body, nfull, rem;
	ssize_t got;
	int ret = VAULT_EINVAL;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (!r) {
		close(fd);
		set_err(err, errlen, "out of memory");
		return VAULT_EINVAL;
	}
	r->fd = fd;
	r->ct = malloc(VAULT_SEG_TOTAL);
	r->pt = malloc(VAULT_SEG_LEN);
	r->ctx = EVP_CIPHER_CTX_new();
	if (!r->ct || !r->pt || !r->ctx) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	ret = VAULT_EIO;
	if (fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot stat the vault file: %s", strerror(errno));
		goto out;
	}
	got = pread_full(fd, r->hdr, VAULT_HDR_LEN, 0);
	if (got < 0) {
		set_err(err, errlen, "cannot read the vault header: %s", strerror(errno));
		goto out;
	}
	ret = VAULT_EFORMAT;
	if (got < (ssize_t)VAULT_HDR_LEN) {
		set_err(err, errlen, "not a vault file: %zd bytes, shorter than the header", got);
		goto out;
	}
	ret = hdr_parse(r->hdr, r->key_id, err, errlen);
	if (ret)
		goto out;
	ret = VAULT_EFORMAT;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)(VAULT_HDR_LEN + VAULT_TAG_LEN)) {
		set_err(err, errlen,
			"segment 0 does not verify: file was truncated after the header");
		ret = VAULT_EAUTH;
		goto out;
	}
	body = (uint64_t)st.st_size - VAULT_HDR_LEN;
	nfull = body / VAULT_SEG_TOTAL;
	rem = body % VAULT_SEG_TOTAL;
	if (rem == 0) {
		r->last_len = VAULT_SEG_LEN;
	} else if (rem < VAULT_TAG_LEN || (rem == VAULT_TAG_LEN && nfull > 0)) {
		/* a cut inside a tag, or an empty segment after a full one */
		set_err(err, errlen, "segment %llu does not verify: file was truncated",
			(unsigned long long)nfull);
		ret = VAULT_EAUTH;
		goto out;
	} else {
		r->last_len = (uint32_t)(rem - VAULT_TAG_LEN);
		nfull++;
	}
	if (nfull > UINT32_MAX) {
		set_err(err, errlen, "bad vault file: more than 2^32 segments");
		goto out;
	}
	r->nseg = (uint32_t)nfull;
	r->plain_size = (uint64_t)(r->nseg - 1) * VAULT_SEG_LEN + r->last_len;
	ret = hdr_unwrap(r->hdr, r->key_id, ring, r->ctx, r->dkey, err, errlen);
	if (ret)
		goto out;
	/* the final segment proves the file was not cut (and so the size) */
	got = seg_read(r, r->nseg - 1, err, errlen);
	if (got < 0) {
		ret = (int)got;
		goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	vault_reader_close(r);
	return ret;
}

int vault_open(const char *path, const struct vault_keyring *ring, vault_reader_t **out, char *err,
	       size_t errlen)
{
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return VAULT_EIO;
	}
	ret = reader_open(fd, ring, out, err, errlen);
	if (ret && err && errlen) {
		char tmp[256];

		snprintf(tmp, sizeof tmp, "%s", err);
		set_err(err, errlen, "%s: %s", path, tmp);
	}
	return ret;
}

int vault_open_fd(int fd, const struct vault_keyring *ring, vault_reader_t **out, char *err,
		  size_t errlen)
{
	int d;

	*out = NULL;
	d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0) {
		set_err(err, errlen, "cannot dup the vault fd: %s", strerror(errno));
		return VAULT_EIO;
	}
	return reader_open(d, ring, out, err, errlen);
}

int vault_read_range(vault_reader_t *r, uint64_t off, uint64_t len, vault_sink_fn sink, void *arg,
		     char *err, size_t errlen)
{
	uint64_t end, pos;
	uint32_t i;
	ssize_t plen;

	if (off > r->plain_size || len > r->plain_size - off) {
		set_err(err, errlen, "range %llu+%llu is past the end (%llu bytes)",
			(unsigned long long)off, (unsigned long long)len,
			(unsigned long long)r->plain_size);
		return VAULT_EINVAL;
	}
	end = off + len;
	for (pos = off; pos < end;) {
		uint64_t seg_start, from, to;

		i = (uint32_t)(pos / VAULT_SEG_LEN);
		seg_start = (uint64_t)i * VAULT_SEG_LEN;
		plen = seg_read(r, i, err, errlen);
		if (plen < 0)
			return (int)plen;
		from = pos - seg_start;
		to = end - seg_start < (uint64_t)plen ? end - seg_start : (uint64_t)plen;
		if (sink(arg, r->pt + from, (size_t)(to - from)) != 0) {
			set_err(err, errlen, "output failed after segment %u", i);
			return VAULT_ESINK;
		}
		pos = seg_start + to;
	}
	return 0;
}

uint64_t vault_plain_size(const vault_reader_t *r)
{
	return r->plain_size;
}

uint32_t vault_segments(const vault_reader_t *r)
{
	return r->nseg;
}

const char *vault_key_id(const vault_reader_t *r)
{
	return r->key_id;
}

static int sink_fd(void *arg, const uint8_t *data, size_t len)
{
	return write_full(*(int *)arg, data, len);
}

int vault_unseal_fd(int in_fd, int out_fd, const struct vault_keyring *ring, char *err,
		    size_t errlen)
{
	vault_reader_t *r = NULL;
	int ret;

	ret = vault_open_fd(in_fd, ring, &r, err, errlen);
	if (ret)
		return ret;
	ret = vault_read_range(r, 0, r->plain_size, sink_fd, &out_fd, err, errlen);
	if (ret == VAULT_ESINK) {
		set_err(err, errlen, "cannot write the plaintext: %s", strerror(errno));
		ret = VAULT_EIO;
	}
	vault_reader_close(r);
	return ret;
}

/* --- key rotation --- */

int vault_rewrap(const char *path, const struct vault_keyring *old_ring,
		 const struct vault_key *new_key, char *err, size_t errlen)
{
	vault_reader_t *r = NULL;
	uint8_t hdr[VAULT_HDR_LEN];
	char tmp[PATH_MAX];
	uint64_t off, total;
	int fd = -1, ret, made = 0;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.rewrap.tmp", path) >= sizeof tmp) {
		set_err(err, errlen, "path too long: %s", path);
		return VAULT_EINVAL;
	}
	ret = vault_open(path, old_ring, &r, err, errlen);
	if (ret)
		goto out;
	memcpy(hdr, r->hdr, sizeof hdr);
	ret = hdr_wrap(hdr, r->dkey, new_key, r->ctx, err, errlen);
	if (ret)
		goto out;
	ret = VAULT_EIO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	made = 1;
	if (write_full(fd, hdr, sizeof hdr) != 0)
		goto io_err;
	total =
	    VAULT_HDR_LEN + (uint64_t)(r->nseg - 1) * VAULT_SEG_TOTAL + r->last_len + VAULT_TAG_LEN;
	for (off = VAULT_HDR_LEN; off < total;) {
		size_t want =
		    total - off < VAULT_SEG_TOTAL ? (size_t)(total - off) : VAULT_SEG_TOTAL;
		ssize_t got = pread_full(r->fd, r->ct, want, off);

		if (got != (ssize_t)want) {
			set_err(err, errlen, "cannot read %s: %s", path,
				got < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		if (write_full(fd, r->ct, want) != 0)
			goto io_err;
		off += want;
	}
	if (fsync(fd) != 0)
		goto io_err;
	if (close(fd) != 0) {
		fd = -1;
		goto io_err;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	made = 0;
	ret = 0;
	goto out;
io_err:
	set_err(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	OPENSSL_cleanse(hdr, sizeof hdr);
	vault_reader_close(r);
	return ret;
}
