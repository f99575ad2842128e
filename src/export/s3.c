/*
 * s3.c - S3 client: SigV4 signing (OpenSSL), requests (libcurl), single and multipart uploads
 * with verification, presigned GET URLs. See s3.h for the design.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "export/s3.h"
#include "base/log.h"

#include "base/libload.h"

#ifndef RINGCAP_VERSION
#define RINGCAP_VERSION "0"
#endif

#define IOBUF_LEN (256u << 10)	  /* hashing reads */
#define REPLY_MAX (256u << 10)	  /* an XML reply kept for parsing; the rest is dropped */
#define SIGN_MAX (1u << 20)	  /* a canonical request or a URL */
#define COMPLETE_MAX (2u << 20)	  /* CompleteMultipartUpload body: 10,000 parts fit */
#define KEY_MAX 1024u		  /* S3's limit for an object key, in bytes */

/* ------------------------------------------------------------------------------------------ */
/* Small helpers: error text, a bounded growable string, hex, hashes                            */

/* Appends to the message already in err. */
static void adderr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void adderr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!err || !errlen)
		return;
	n = strnlen(err, errlen);
	if (n + 1 >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
}

/* A NUL-terminated string that grows up to max bytes; after a failure (cap or malloc) every
 * further append fails too, so a caller checks once at the end. */
struct sbuf {
	char *p;
	size_t len, cap, max;
	int failed;
};

static void sb_init(struct sbuf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

static void sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int sb_grow(struct sbuf *b, size_t add)
{
	size_t need, ncap;
	char *np;

	if (b->failed)
		return -1;
	if (add >= b->max || b->len + add + 1 > b->max) {
		b->failed = 1;
		return -1;
	}
	need = b->len + add + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	np = realloc(b->p, ncap);
	if (!np) {
		b->failed = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static int sb_add(struct sbuf *b, const void *d, size_t n)
{
	if (sb_grow(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int sb_adds(struct sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

static int sb_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(b, (size_t)n)) {
		b->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int sb_uri(struct sbuf *b, const char *s, size_t len, int keep_slash)
{
	size_t n = s3_uri_encode(s, len, keep_slash, NULL, 0);

	if (sb_grow(b, n))
		return -1;
	s3_uri_encode(s, len, keep_slash, b->p + b->len, n + 1);
	b->len += n;
	return 0;
}

/* Hands the string over (never NULL unless malloc fails) and resets b. */
static char *sb_take(struct sbuf *b)
{
	char *p = b->p;

	if (!p)
		p = strdup("");
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
	unsigned int olen = 0;

	if (klen > 1024 || !HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) || olen != 32)
		return -1;
	return 0;
}

int s3_sha256_hex(const void *data, size_t len, char hex[65])
{
	uint8_t md[32];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		hex[0] = '\0';
		return -1;
	}
	hex_encode(md, 32, hex);
	return 0;
}

/* SHA-256 and MD5 of the same bytes in one pass. */
struct digest {
	EVP_MD_CTX *sha, *md5;
};

static int digest_init(struct digest *d)
{
	d->sha = EVP_MD_CTX_new();
	d->md5 = EVP_MD_CTX_new();
	if (!d->sha || !d->md5 || !EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(d->md5, EVP_md5(), NULL))
		return -1;
	return 0;
}

static int digest_update(struct digest *d, const void *p, size_t n)
{
	return EVP_DigestUpdate(d->sha, p, n) && EVP_DigestUpdate(d->md5, p, n) ? 0 : -1;
}

static int digest_final(struct digest *d, uint8_t sha[32], uint8_t md5[16])
{
	unsigned int a = 0, b = 0;

	if (!EVP_DigestFinal_ex(d->sha, sha, &a) || !EVP_DigestFinal_ex(d->md5, md5, &b) ||
	    a != 32 || b != 16)
		return -1;
	return 0;
}

static void digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->sha);
	EVP_MD_CTX_free(d->md5);
	d->sha = d->md5 = NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Signature Version 4                                                                          */

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t s3_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t outlen)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = 0, w = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			if (out && n + 1 < outlen) {
				out[n] = (char)c;
				w = n + 1;
			}
			n += 1;
		} else {
			if (out && n + 3 < outlen) {
				out[n] = '%';
				out[n + 1] = digits[c >> 4];
				out[n + 2] = digits[c & 15];
				w = n + 3;
			}
			n += 3;
		}
	}
	if (out && outlen)
		out[w] = '\0';
	return n;
}

int s3_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			 const char *service, uint8_t key[32])
{
	size_t sl = strlen(secret);
	uint8_t k1[32], k2[32], k3[32];
	char *k0 = malloc(sl + 5);
	int ret = -1;

	if (!k0)
		return -1;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, sl + 1);
	if (hmac256(k0, sl + 4, date8, strlen(date8), k1) ||
	    hmac256(k1, 32, region, strlen(region), k2) ||
	    hmac256(k2, 32, service, strlen(service), k3) ||
	    hmac256(k3, 32, "aws4_request", 12, key))
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(k0, sl + 4);
	OPENSSL_cleanse(k1, sizeof k1);
	OPENSSL_cleanse(k2, sizeof k2);
	OPENSSL_cleanse(k3, sizeof k3);
	free(k0);
	if (ret)
		OPENSSL_cleanse(key, 32);
	return ret;
}

struct pair {
	char *name, *value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

static void pairs_free(struct pair *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static int amz_date_ok(const char *d)
{
	if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return 0;
	return 1;
}

/* Header value as SigV4 wants it: leading and trailing blanks cut, runs of blanks made one. */
static char *trim_value(const char *v)
{
	size_t n = strlen(v), w = 0;
	char *o = malloc(n + 1);
	int space = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == ' ' || c == '\t') {
			space = 1;
			continue;
		}
		if (space && w)
			o[w++] = ' ';
		space = 0;
		o[w++] = c;
	}
	o[w] = '\0';
	return o;
}

void s3_sigv4_free(struct s3_sigv4 *sig)
{
	if (!sig)
		return;
	free(sig->canonical_query);
	free(sig->canonical_request);
	free(sig->string_to_sign);
	free(sig->signed_headers);
	free(sig->credential);
	free(sig->authorization);
	memset(sig, 0, sizeof *sig);
}

int s3_sigv4_sign(const struct s3_sigv4_request *req, struct s3_sigv4 *out, char *err,
		  size_t errlen)
{
	struct pair *q = NULL, *h = NULL;
	struct sbuf b;
	char date8[9], creq_hash[65];
	uint8_t key[32], mac[32];
	int ret = S3_EINVAL;

	memset(out, 0, sizeof *out);
	sb_init(&b, SIGN_MAX);
	if (!req->method || !req->path || req->path[0] != '/' || !req->payload_hash ||
	    !req->region || !req->service || !req->access_key || !req->secret_key ||
	    (!req->headers && req->nheaders) || (!req->query && req->nquery)) {
		set_err(err, errlen,
			"sigv4: incomplete request (method, path starting with '/', "
			"payload hash, region, service and keys are required)");
		goto out;
	}
	if (!amz_date_ok(req->amz_date)) {
		set_err(err, errlen, "sigv4: invalid date `%s': expected YYYYMMDDTHHMMSSZ",
			req->amz_date ? req->amz_date : "(null)");
		goto out;
	}
	memcpy(date8, req->amz_date, 8);
	date8[8] = '\0';

	/* canonical query: names and values encoded (a '/' too), sorted by name, then value */
	if (req->nquery && !(q = calloc(req->nquery, sizeof *q)))
		goto oom;
	for (size_t i = 0; i < req->nquery; i++) {
		struct sbuf e;
		const char *v = req->query[i].value ? req->query[i].value : "";

		if (!req->query[i].name) {
			set_err(err, errlen, "sigv4: query parameter %zu has no name", i);
			goto out;
		}
		sb_init(&e, SIGN_MAX);
		sb_uri(&e, req->query[i].name, strlen(req->query[i].name), 0);
		if (e.failed || !(q[i].name = sb_take(&e)))
			goto oom;
		sb_uri(&e, v, strlen(v), 0);
		if (e.failed || !(q[i].value = sb_take(&e)))
			goto oom;
	}
	if (req->nquery)
		qsort(q, req->nquery, sizeof *q, pair_cmp);
	for (size_t i = 0; i < req->nquery; i++)
		sb_addf(&b, "%s%s=%s", i ? "&" : "", q[i].name, q[i].value);
	if (b.failed || !(out->canonical_query = sb_take(&b)))
		goto oom;

	/* canonical headers: lowercase names, trimmed values, sorted; every one signed */
	if (req->nheaders && !(h = calloc(req->nheaders, sizeof *h)))
		goto oom;
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *n = req->headers[i].name;

		if (!n || !*n || !req->headers[i].value || strpbrk(n, " \t:\r\n")) {
			set_err(err, errlen, "sigv4: invalid header name `%s'", n ? n : "(null)");
			goto out;
		}
		if (!(h[i].name = strdup(n)) || !(h[i].value = trim_value(req->headers[i].value)))
			goto oom;
		for (char *p = h[i].name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	if (req->nheaders)
		qsort(h, req->nheaders, sizeof *h, pair_cmp);
	for (size_t i = 1; i < req->nheaders; i++)
		if (!strcmp(h[i].name, h[i - 1].name)) {
			set_err(err, errlen, "sigv4: header `%s' given twice", h[i].name);
			goto out;
		}
	for (size_t i = 0; i < req->nheaders; i++)
		sb_addf(&b, "%s%s", i ? ";" : "", h[i].name);
	if (b.failed || !(out->signed_headers = sb_take(&b)))
		goto oom;

	/* Task 1: the canonical request */
	sb_addf(&b, "%s\n", req->method);
	sb_uri(&b, req->path, strlen(req->path), 1);
	sb_addf(&b, "\n%s\n", out->canonical_query);
	for (size_t i = 0; i < req->nheaders; i++)
		sb_addf(&b, "%s:%s\n", h[i].name, h[i].value);
	sb_addf(&b, "\n%s\n%s", out->signed_headers, req->payload_hash);
	if (b.failed || !(out->canonical_request = sb_take(&b)))
		goto oom;

	/* Task 2: the string to sign */
	if (s3_sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash))
		goto crypto;
	sb_addf(&b, "%s/%s/%s/%s/aws4_request", req->access_key, date8, req->region, req->service);
	if (b.failed || !(out->credential = sb_take(&b)))
		goto oom;
	sb_addf(&b, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", req->amz_date, date8,
		req->region, req->service, creq_hash);
	if (b.failed || !(out->string_to_sign = sb_take(&b)))
		goto oom;

	/* Task 3: the signature */
	if (s3_sigv4_signing_key(req->secret_key, date8, req->region, req->service, key) ||
	    hmac256(key, 32, out->string_to_sign, strlen(out->string_to_sign), mac))
		goto crypto;
	hex_encode(mac, 32, out->signature);
	sb_addf(&b, "AWS4-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s",
		out->credential, out->signed_headers, out->signature);
	if (b.failed || !(out->authorization = sb_take(&b)))
		goto oom;
	ret = 0;
	goto out;
crypto:
	set_err(err, errlen, "sigv4: the crypto library failed");
	goto out;
oom:
	set_err(err, errlen, "sigv4: out of memory, or a request over %u bytes", SIGN_MAX);
out:
	OPENSSL_cleanse(key, sizeof key);
	sb_free(&b);
	pairs_free(q, req->nquery);
	pairs_free(h, req->nheaders);
	if (ret)
		s3_sigv4_free(out);
	return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* XML replies                                                                                  */

static const char *memfind(const char *h, size_t hl, const char *n, size_t nl)
{
	if (!nl || nl > hl)
		return NULL;
	for (size_t i = 0; i + nl <= hl; i++)
		if (h[i] == n[0] && !memcmp(h + i, n, nl))
			return h + i;
	return NULL;
}

/* Writes the UTF-8 encoding of code point cp; returns its length (0 if invalid). */
static size_t utf8_put(unsigned long cp, char *o)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
	char open[72], close[72];
	const char *s, *e, *p;
	size_t w = 0, tl = strlen(tag);

	if (!xml || !outlen || !tl || tl > 64)
		return -1;
	out[0] = '\0';
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	s = memfind(xml, len, open, tl + 2);
	if (!s)
		return -1;
	s += tl + 2;
	e = memfind(s, len - (size_t)(s - xml), close, tl + 3);
	if (!e)
		return -1;
	for (p = s; p < e;) {
		char enc[4];
		size_t n = 0, adv = 1;

		if (*p == '&') {
			size_t left = (size_t)(e - p);
			size_t k;

			for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
				size_t el = strlen(ents[k].ent);

				if (left >= el && !memcmp(p, ents[k].ent, el)) {
					enc[0] = ents[k].c;
					n = 1;
					adv = el;
					break;
				}
			}
			if (!n && left >= 4 && p[1] == '#') {
				const char *q = p + 2;
				int base = 10;
				unsigned long cp = 0;
				int digits = 0;

				if (*q == 'x' || *q == 'X') {
					base = 16;
					q++;
				}
				for (; q < e && digits < 8; q++, digits++) {
					int v;

					if (*q >= '0' && *q <= '9')
						v = *q - '0';
					else if (base == 16 && *q >= 'a' && *q <= 'f')
						v = *q - 'a' + 10;
					else if (base == 16 && *q >= 'A' && *q <= 'F')
						v = *q - 'A' + 10;
					else
						break;
					cp = cp * (unsigned long)base + (unsigned long)v;
				}
				if (digits && q < e && *q == ';' && (n = utf8_put(cp, enc)))
					adv = (size_t)(q + 1 - p);
			}
		}
		if (!n && *p) {
			enc[0] = *p;
			n = 1;
			adv = 1;
		}
		/* a raw NUL (not XML) is dropped, so the result is one C string of the length
		   returned */
		for (size_t i = 0; i < n && w + 1 < outlen; i++)
			out[w++] = enc[i];
		p += adv;
	}
	out[w] = '\0';
	return (int)w;
}

/* ------------------------------------------------------------------------------------------ */
/* The client                                                                                   */

struct s3 {
	char *endpoint;	   /* as configured, for messages */
	char *base_url;	   /* scheme://host[:port], with the bucket in front if virtual-hosted */
	char *host;	   /* the Host header sent and signed */
	char *path_prefix; /* "/bucket" (path style) or "" (virtual-hosted) */
	char *region, *bucket, *access_key, *secret_key, *ca_file;
	uint64_t threshold, part_size, max_send_rate;
	long connect_timeout, stall_timeout, request_timeout;
	unsigned part_retries;
	int skip_etag;
	CURL *curl;
	uint8_t *iobuf;
	atomic_int cancel;
	char curl_err[CURL_ERROR_SIZE];
	s3_upload_fn upload_hook;
	void *upload_ud;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int s3_retryable(int code)
{
	return code == S3_ENET || code == S3_ESERVER || code == S3_EVERIFY;
}

const char *s3_strerror(int code)
{
	switch (code) {
	case 0:
		return "ok";
	case S3_EINVAL:
		return "invalid";
	case S3_EIO:
		return "file";
	case S3_ENET:
		return "network";
	case S3_EAUTH:
		return "auth";
	case S3_ENOTFOUND:
		return "not found";
	case S3_EHTTP:
		return "http";
	case S3_ESERVER:
		return "server";
	case S3_EVERIFY:
		return "verify";
	case S3_ECANCEL:
		return "cancelled";
	}
	return "unknown";
}

static int bucket_ok(const char *b)
{
	size_t n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '.' && c != '-')
			return 0;
		if ((i == 0 || i == n - 1) && !alnum)
			return 0;
	}
	return 1;
}

static int key_ok(const char *key, char *err, size_t errlen)
{
	size_t n = key ? strlen(key) : 0;

	if (!n || n > KEY_MAX || key[0] == '/') {
		set_err(err, errlen,
			"invalid S3 object key `%.200s': expected 1..%u bytes, not "
			"starting with '/'",
			key ? key : "", KEY_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) {
			set_err(err, errlen,
				"invalid S3 object key `%.200s': control character "
				"at byte %zu",
				key, i);
			return -1;
		}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

void s3_free(s3_t *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->secret_key) {
		OPENSSL_cleanse(s->secret_key, strlen(s->secret_key));
		free(s->secret_key);
	}
	free(s->endpoint);
	free(s->base_url);
	free(s->host);
	free(s->path_prefix);
	free(s->region);
	free(s->bucket);
	free(s->access_key);
	free(s->ca_file);
	free(s->iobuf);
	free(s);
}

void s3_cancel(s3_t *s)
{
	atomic_store(&s->cancel, 1);
}

void s3_reset_cancel(s3_t *s)
{
	atomic_store(&s->cancel, 0);
}

s3_t *s3_new(const struct s3_config *cfg, char *err, size_t errlen)
{
	const char *ep = cfg->endpoint, *auth, *end, *colon, *scheme;
	char *hostport = NULL, *hostonly = NULL;
	struct sbuf b;
	s3_t *s = NULL;
	int https, virt;
	size_t alen;

	sb_init(&b, 4096);
	if (!ep || !*ep) {
		set_err(err, errlen, "no S3 endpoint: expected http[s]://host[:port]");
		return NULL;
	}
	if (!strncasecmp(ep, "https://", 8)) {
		https = 1;
		scheme = "https";
		auth = ep + 8;
	} else if (!strncasecmp(ep, "http://", 7)) {
		https = 0;
		scheme = "http";
		auth = ep + 7;
	} else {
		set_err(err, errlen, "invalid S3 endpoint `%.200s': expected http:// or https://",
			ep);
		return NULL;
	}
	end = auth + strcspn(auth, "/?#");
	alen = (size_t)(end - auth);
	if (!alen || (*end && strcmp(end, "/")) || memchr(auth, '@', alen) ||
	    strcspn(auth, " \t\r\n") < alen) {
		set_err(err, errlen,
			"invalid S3 endpoint `%.200s': expected http[s]://host[:port] "
			"with no path, user or spaces",
			ep);
		return NULL;
	}
	if (!cfg->bucket || !bucket_ok(cfg->bucket)) {
		set_err(err, errlen,
			"invalid S3 bucket `%.100s': expected 3..63 characters of a-z, "
			"0-9, '.' and '-', starting and ending with a letter or digit",
			cfg->bucket ? cfg->bucket : "");
		return NULL;
	}
	if (!cfg->access_key || !*cfg->access_key || strpbrk(cfg->access_key, "/ \t\r\n")) {
		set_err(err, errlen, "invalid S3 access key: empty, or has '/' or blanks");
		return NULL;
	}
	if (!cfg->secret_key || !*cfg->secret_key || strlen(cfg->secret_key) > 512) {
		set_err(err, errlen, "invalid S3 secret key: empty or over 512 characters");
		return NULL;
	}
	if (cfg->region && *cfg->region && strpbrk(cfg->region, "/ \t\r\n<>&")) {
		set_err(err, errlen, "invalid S3 region `%.100s'", cfg->region);
		return NULL;
	}
	if (cfg->part_size && cfg->part_size < S3_MIN_PART_SIZE) {
		set_err(err, errlen,
			"invalid S3 part size %llu bytes: S3 needs at least %llu (5 MiB)",
			(unsigned long long)cfg->part_size, (unsigned long long)S3_MIN_PART_SIZE);
		return NULL;
	}
	if (cfg->part_size > (5ull << 30)) {
		set_err(err, errlen, "invalid S3 part size %llu bytes: S3 allows at most 5 GiB",
			(unsigned long long)cfg->part_size);
		return NULL;
	}
	if (cfg->connect_timeout_s < 0 || cfg->stall_timeout_s < 0 || cfg->request_timeout_s < 0) {
		set_err(err, errlen, "invalid S3 timeout: negative");
		return NULL;
	}

	/* host[:port] lowercased; a default port is left out of the Host header */
	if (!(hostport = strndup(auth, alen)))
		goto oom;
	for (char *p = hostport; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	colon = strrchr(hostport, ':');
	if (colon && strchr(colon, ']'))
		colon = NULL; /* "[::1]" has no port */
	if (colon) {
		char *e2;
		unsigned long port = strtoul(colon + 1, &e2, 10);

		if (colon[1] < '0' || colon[1] > '9' || *e2 || port == 0 || port > 65535) {
			set_err(err, errlen, "invalid S3 endpoint `%.200s': bad port", ep);
			goto fail;
		}
		if ((https && port == 443) || (!https && port == 80))
			hostport[colon - hostport] = '\0';
	}
	if (!(hostonly = strdup(hostport)))
		goto oom;
	if ((colon = strrchr(hostonly, ':')) && !strchr(colon, ']'))
		hostonly[colon - hostonly] = '\0';

	switch (cfg->addressing) {
	case S3_ADDR_PATH:
		virt = 0;
		break;
	case S3_ADDR_VIRTUAL:
		virt = 1;
		break;
	default:
		/* a bucket with a dot would not match the wildcard TLS certificate */
		virt = (ends_with(hostonly, ".amazonaws.com") || !strcasecmp(hostonly, "amazonaws.com")) &&
		       !strchr(cfg->bucket, '.');
		break;
	}
	if (virt && hostonly[0] == '[') {
		set_err(err, errlen,
			"invalid S3 endpoint `%.200s': virtual-hosted addressing needs "
			"a host name",
			ep);
		goto fail;
	}

	if (!(s = calloc(1, sizeof *s)))
		goto oom;
	s->threshold = cfg->multipart_threshold ? cfg->multipart_threshold
						: S3_DEFAULT_MULTIPART_THRESHOLD;
	s->part_size = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
	s->connect_timeout = cfg->connect_timeout_s ? cfg->connect_timeout_s : 10;
	s->stall_timeout = cfg->stall_timeout_s ? cfg->stall_timeout_s : 60;
	s->request_timeout = cfg->request_timeout_s;
	s->max_send_rate = cfg->max_send_rate;
	s->part_retries = cfg->part_retries;
	s->skip_etag = cfg->skip_etag_check;
	atomic_init(&s->cancel, 0);
	if (!(s->endpoint = strdup(ep)) || !(s->bucket = strdup(cfg->bucket)) ||
	    !(s->region = strdup(cfg->region && *cfg->region ? cfg->region : S3_DEFAULT_REGION)) ||
	    !(s->access_key = strdup(cfg->access_key)) ||
	    !(s->secret_key = strdup(cfg->secret_key)) ||
	    (cfg->ca_file && !(s->ca_file = strdup(cfg->ca_file))) ||
	    !(s->iobuf = malloc(IOBUF_LEN)))
		goto oom;
	if (virt) {
		sb_addf(&b, "%s.%s", cfg->bucket, hostport);
		if (b.failed || !(s->host = sb_take(&b)))
			goto oom;
		s->path_prefix = strdup("");
	} else {
		s->host = strdup(hostport);
		sb_addf(&b, "/%s", cfg->bucket);
		s->path_prefix = sb_take(&b);
	}
	sb_addf(&b, "%s://%s", scheme, s->host ? s->host : "");
	if (!s->host || !s->path_prefix || b.failed || !(s->base_url = sb_take(&b)))
		goto oom;

	if (libload_curl(err, errlen) != 0)
		goto fail;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK || !(s->curl = curl_easy_init())) {
		set_err(err, errlen, "cannot set up libcurl");
		goto fail;
	}
	free(hostport);
	free(hostonly);
	sb_free(&b);
	return s;
oom:
	set_err(err, errlen, "out of memory");
fail:
	free(hostport);
	free(hostonly);
	sb_free(&b);
	s3_free(s);
	return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* One request                                                                                  */

struct req {
	const char *op;	    /* for messages: "PUT", "UploadPart 3", ... */
	const char *method; /* GET PUT POST DELETE HEAD */
	const char *key;    /* NULL: the bucket itself */
	const struct s3_kv *query;
	size_t nquery;
	const char *content_type; /* NULL: none sent */
	const char *content_md5;  /* base64, NULL: none */
	const char *payload_hash;
	const struct s3_kv *meta; /* x-amz-meta-* (names without the prefix) */
	size_t nmeta;
	/* body: memory, or a range read through rd */
	const void *mem;
	s3_read_fn rd;
	void *rd_ud;
	uint64_t off, len, pos;
	int read_errno, shrank;
	/* reply */
	long status;
	struct sbuf reply;
	char etag[80];
	uint64_t length;
	int have_length;
	char request_id[96];
	char url[512]; /* for messages, cut */
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct req *r = ud;
	size_t want = size * nitems;
	uint64_t left = r->len - r->pos;

	if (!left)
		return 0;
	if (want > left)
		want = (size_t)left;
	if (r->mem) {
		memcpy(buf, (const uint8_t *)r->mem + r->pos, want);
	} else {
		ssize_t got;

		errno = 0;
		got = r->rd ? r->rd(r->rd_ud, buf, want, r->off + r->pos) : -1;
		if (got < 0) {
			r->read_errno = errno ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		if ((size_t)got > want)
			got = (ssize_t)want;
		if (got == 0) {
			r->shrank = 1;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	r->pos += want;
	return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct req *r = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *buf, size_t size, size_t nitems, void *ud)
{
	struct req *r = ud;
	size_t n = size * nitems;

	if (r->reply.len + n < REPLY_MAX)
		sb_add(&r->reply, buf, n);
	return n; /* past the cap: dropped, the transfer goes on */
}

static void copy_trim(char *dst, size_t dlen, const char *v, size_t n, int unquote)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (unquote && n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= dlen)
		n = dlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct req *r = ud;
	size_t n = size * nitems;
	const char *colon = memchr(buf, ':', n);

	if (n >= 5 && !memcmp(buf, "HTTP/", 5)) { /* a new response (after a 100 Continue) */
		r->etag[0] = r->request_id[0] = '\0';
		r->have_length = 0;
		return n;
	}
	if (!colon)
		return n;
	size_t nl = (size_t)(colon - buf), vl = n - nl - 1;
	const char *v = colon + 1;

	if (nl == 4 && !strncasecmp(buf, "etag", 4)) {
		copy_trim(r->etag, sizeof r->etag, v, vl, 1);
	} else if (nl == 16 && !strncasecmp(buf, "x-amz-request-id", 16)) {
		copy_trim(r->request_id, sizeof r->request_id, v, vl, 0);
	} else if (nl == 14 && !strncasecmp(buf, "content-length", 14)) {
		char num[32], *e;
		unsigned long long x;

		copy_trim(num, sizeof num, v, vl, 0);
		errno = 0;
		x = strtoull(num, &e, 10);
		if (num[0] >= '0' && num[0] <= '9' && !*e && !errno) {
			r->length = x;
			r->have_length = 1;
		}
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
	const s3_t *s = ud;

	(void)dlt;
	(void)dln;
	(void)ult;
	(void)uln;
	return atomic_load(&s->cancel) ? 1 : 0;
}

/* Formats a transport failure. */
static int net_error(s3_t *s, struct req *r, CURLcode rc, char *err, size_t errlen)
{
	const char *detail = s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		set_err(err, errlen, "%s %s: connection refused to %s (%s)", r->op, r->url,
			s->endpoint, detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		set_err(err, errlen, "%s %s: cannot resolve the host of %s (%s)", r->op, r->url,
			s->endpoint, detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		set_err(err, errlen, "%s %s: timed out talking to %s (%s)", r->op, r->url,
			s->endpoint, detail);
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		set_err(err, errlen, "%s %s: connection to %s lost (%s)", r->op, r->url,
			s->endpoint, detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		set_err(err, errlen, "%s %s: TLS failure with %s (%s)", r->op, r->url, s->endpoint,
			detail);
		break;
	default:
		set_err(err, errlen, "%s %s: transfer with %s failed: %s (%s)", r->op, r->url,
			s->endpoint, curl_easy_strerror(rc), detail);
		break;
	}
	return S3_ENET;
}

/* Classifies a non-2xx reply and formats it with the S3 error Code and Message. */
static int http_error(struct req *r, char *err, size_t errlen)
{
	char code[96] = "", msg[384] = "";
	const char *hint = "";
	const char *body = r->reply.p ? r->reply.p : "";
	int ret;

	s3_xml_text(body, r->reply.len, "Code", code, sizeof code);
	s3_xml_text(body, r->reply.len, "Message", msg, sizeof msg);
	if (r->status == 401 || r->status == 403)
		ret = S3_EAUTH;
	else if (r->status == 404)
		ret = S3_ENOTFOUND;
	else if (r->status == 429 || r->status >= 500)
		ret = S3_ESERVER;
	else
		ret = S3_EHTTP;
	if (!strcmp(code, "RequestTimeout") || !strcmp(code, "SlowDown"))
		ret = S3_ESERVER;
	else if (!strcmp(code, "RequestTimeTooSkewed"))
		ret = S3_EAUTH;
	else if (!strcmp(code, "BadDigest") || !strcmp(code, "XAmzContentSHA256Mismatch"))
		ret = S3_EVERIFY;

	if (!strcmp(code, "SignatureDoesNotMatch"))
		hint = " (check the secret key)";
	else if (!strcmp(code, "InvalidAccessKeyId"))
		hint = " (check the access key)";
	else if (!strcmp(code, "RequestTimeTooSkewed"))
		hint = " (check this machine's clock)";
	else if (!strcmp(code, "NoSuchBucket"))
		hint = " (check the bucket name, or create it)";
	else if (!code[0] && !strcmp(r->method, "HEAD") && (r->status == 401 || r->status == 403))
		hint = " (a HEAD reply has no error body: check the keys and permissions)";
	else if (!code[0] && !strcmp(r->method, "HEAD") && r->status == 404)
		hint = r->key ? " (no such object, or no such bucket)" : " (no such bucket)";

	set_err(err, errlen, "%s %s: HTTP %ld%s%s%s%s%s", r->op, r->url, r->status,
		code[0] ? " " : "", code, msg[0] ? ": " : "", msg, hint);
	if (r->request_id[0])
		adderr(err, errlen, " [request id %s]", r->request_id);
	return ret;
}

static void amz_now(char out[17])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The raw (unencoded) path of key, or of the bucket when key is NULL. */
static int raw_path(const s3_t *s, const char *key, struct sbuf *b)
{
	if (key)
		return sb_addf(b, "%s/%s", s->path_prefix, key);
	return sb_adds(b, s->path_prefix[0] ? s->path_prefix : "/");
}

/* Signs and performs r. Returns 0 for a 2xx reply, else a negative S3_E* with a message. */
static int perform(s3_t *s, struct req *r, char *err, size_t errlen)
{
	struct s3_kv hdr[5 + S3_META_MAX];
	char metaname[S3_META_MAX][56];
	size_t nh = 0;
	struct s3_sigv4_request sr;
	struct s3_sigv4 sig;
	struct sbuf path, url, line;
	struct curl_slist *list = NULL, *l2;
	char date[17], serr[256];
	CURLcode rc;
	CURL *c = s->curl;
	int ret = S3_EINVAL;

	memset(&sig, 0, sizeof sig);
	sb_init(&path, SIGN_MAX);
	sb_init(&url, SIGN_MAX);
	sb_init(&line, 8192);
	sb_free(&r->reply);
	sb_init(&r->reply, REPLY_MAX);
	r->status = 0;
	r->pos = 0;
	r->read_errno = r->shrank = 0;
	r->etag[0] = r->request_id[0] = r->url[0] = '\0';
	r->have_length = 0;
	s->curl_err[0] = '\0';
	if (atomic_load(&s->cancel)) {
		set_err(err, errlen, "%s: cancelled", r->op);
		return S3_ECANCEL;
	}

	amz_now(date);
	hdr[nh++] = (struct s3_kv){"host", s->host};
	hdr[nh++] = (struct s3_kv){"x-amz-content-sha256", r->payload_hash};
	hdr[nh++] = (struct s3_kv){"x-amz-date", date};
	if (r->content_md5)
		hdr[nh++] = (struct s3_kv){"content-md5", r->content_md5};
	if (r->content_type)
		hdr[nh++] = (struct s3_kv){"content-type", r->content_type};
	for (size_t i = 0; i < r->nmeta && i < S3_META_MAX; i++) {
		snprintf(metaname[i], sizeof metaname[i], "x-amz-meta-%s", r->meta[i].name);
		hdr[nh++] = (struct s3_kv){metaname[i], r->meta[i].value};
	}
	raw_path(s, r->key, &path);
	if (path.failed)
		goto oom;
	sr = (struct s3_sigv4_request){.method = r->method,
				       .path = path.p,
				       .query = r->query,
				       .nquery = r->nquery,
				       .headers = hdr,
				       .nheaders = nh,
				       .payload_hash = r->payload_hash,
				       .amz_date = date,
				       .region = s->region,
				       .service = "s3",
				       .access_key = s->access_key,
				       .secret_key = s->secret_key};
	if (s3_sigv4_sign(&sr, &sig, serr, sizeof serr)) {
		set_err(err, errlen, "%s: %s", r->op, serr);
		goto out;
	}
	sb_adds(&url, s->base_url);
	sb_uri(&url, path.p, path.len, 1);
	if (sig.canonical_query[0])
		sb_addf(&url, "?%s", sig.canonical_query);
	if (url.failed)
		goto oom;
	snprintf(r->url, sizeof r->url, "%s", url.p);

	for (size_t i = 0; i < nh; i++) {
		sb_addf(&line, "%s: %s", i == 0 ? "Host" : hdr[i].name, hdr[i].value);
		if (line.failed || !(l2 = curl_slist_append(list, line.p)))
			goto oom;
		list = l2;
		line.len = 0;
	}
	sb_addf(&line, "Authorization: %s", sig.authorization);
	if (line.failed || !(l2 = curl_slist_append(list, line.p)))
		goto oom;
	list = l2;
	if (!r->content_type) { /* no default Content-Type from libcurl for a POST */
		if (!(l2 = curl_slist_append(list, "Content-Type:")))
			goto oom;
		list = l2;
	}

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url.p);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ringcap/" RINGCAP_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s->stall_timeout);
	if (s->request_timeout)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, s->request_timeout);
	if (s->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
		if (s->max_send_rate)
			curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE,
					 (curl_off_t)s->max_send_rate);
	} else if (!strcmp(r->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->mem ? (const char *)r->mem : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->mem ? r->len : 0));
	} else if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK) {
		if (r->read_errno) {
			set_err(err, errlen, "%s %s: reading the file at byte %llu: %s", r->op,
				r->url, (unsigned long long)(r->off + r->pos),
				strerror(r->read_errno));
			ret = S3_EIO;
		} else if (r->shrank) {
			set_err(err, errlen,
				"%s %s: the file ended at byte %llu, before the %llu "
				"bytes to send: it changed while being sent",
				r->op, r->url, (unsigned long long)(r->off + r->pos),
				(unsigned long long)(r->off + r->len));
			ret = S3_EIO;
		} else if (rc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&s->cancel)) {
			set_err(err, errlen, "%s %s: cancelled", r->op, r->url);
			ret = S3_ECANCEL;
		} else {
			ret = net_error(s, r, rc, err, errlen);
		}
		goto out;
	}
	if (r->status < 200 || r->status > 299) {
		ret = http_error(r, err, errlen);
		goto out;
	}
	ret = 0;
	goto out;
oom:
	set_err(err, errlen, "%s: out of memory", r->op);
	ret = S3_EINVAL;
out:
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(list);
	s3_sigv4_free(&sig);
	sb_free(&path);
	sb_free(&url);
	sb_free(&line);
	return ret;
}

/* perform() again after a retryable failure, up to s->part_retries times, backing off. */
static int perform_retry(s3_t *s, struct req *r, char *err, size_t errlen)
{
	int ret = perform(s, r, err, errlen);

	for (unsigned i = 0; ret && s3_retryable(ret) && i < s->part_retries; i++) {
		unsigned wait = 1u << (i < 3 ? i : 3);

		for (unsigned t = 0; t < wait * 10 && !atomic_load(&s->cancel); t++)
			usleep(100 * 1000);
		ret = perform(s, r, err, errlen);
	}
	return ret;
}

static void req_init(struct req *r, const char *op, const char *method, const char *key)
{
	memset(r, 0, sizeof *r);
	r->op = op;
	r->method = method;
	r->key = key;
	r->payload_hash = S3_EMPTY_SHA256;
	sb_init(&r->reply, REPLY_MAX);
}

static void req_done(struct req *r)
{
	sb_free(&r->reply);
}

/* ------------------------------------------------------------------------------------------ */
/* Operations                                                                                   */

int s3_ensure_bucket(s3_t *s, char *err, size_t errlen)
{
	struct req r;
	char body[512], hash[65], code[96] = "";
	int ret;

	req_init(&r, "HeadBucket", "HEAD", NULL);
	ret = perform(s, &r, err, errlen);
	req_done(&r);
	if (ret != S3_ENOTFOUND)
		return ret; /* exists (0), or a failure that creating it would not cure */

	body[0] = '\0';
	if (strcmp(s->region, "us-east-1"))
		snprintf(body, sizeof body,
			 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/"
			 "\"><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
			 s->region);
	if (s3_sha256_hex(body, strlen(body), hash)) {
		set_err(err, errlen, "CreateBucket: the crypto library failed");
		return S3_EINVAL;
	}
	req_init(&r, "CreateBucket", "PUT", NULL);
	r.mem = body;
	r.len = strlen(body);
	r.payload_hash = hash;
	if (r.len)
		r.content_type = "application/xml";
	ret = perform(s, &r, err, errlen);
	if (ret && r.reply.p)
		s3_xml_text(r.reply.p, r.reply.len, "Code", code, sizeof code);
	if (ret && !strcmp(code, "BucketAlreadyOwnedByYou"))
		ret = 0;
	else if (ret && !strcmp(code, "BucketAlreadyExists"))
		adderr(err, errlen, " (the name belongs to another account)");
	req_done(&r);
	return ret;
}

static int b64_md5(const uint8_t md5[16], char out[32])
{
	return EVP_EncodeBlock((unsigned char *)out, md5, 16) == 24 ? 0 : -1;
}

/* Hashes len bytes of the body at off (SHA-256 and MD5), also into whole if not NULL. */
static int hash_range(s3_t *s, s3_read_fn rd, void *ud, uint64_t off, uint64_t len,
		      uint8_t sha[32], uint8_t md5[16], struct digest *whole, char *err,
		      size_t errlen)
{
	struct digest d = {0};
	uint64_t done = 0;
	int ret = S3_EINVAL;

	if (digest_init(&d))
		goto crypto;
	while (done < len) {
		size_t want = len - done < IOBUF_LEN ? (size_t)(len - done) : IOBUF_LEN;
		ssize_t got;

		errno = 0;
		got = rd(ud, s->iobuf, want, off + done);
		if (got < 0) {
			if (!errno)
				errno = EIO;
			set_err(err, errlen, "reading the file at byte %llu: %s",
				(unsigned long long)(off + done), strerror(errno));
			ret = S3_EIO;
			goto out;
		}
		if (got == 0) {
			set_err(err, errlen,
				"the file ended at byte %llu, before its size of %llu "
				"bytes: it changed while being read",
				(unsigned long long)(off + done), (unsigned long long)(off + len));
			ret = S3_EIO;
			goto out;
		}
		if ((size_t)got > want)
			got = (ssize_t)want;
		if (digest_update(&d, s->iobuf, (size_t)got) ||
		    (whole && digest_update(whole, s->iobuf, (size_t)got)))
			goto crypto;
		done += (uint64_t)got;
		if (atomic_load(&s->cancel)) {
			set_err(err, errlen, "cancelled");
			ret = S3_ECANCEL;
			goto out;
		}
	}
	if (digest_final(&d, sha, md5))
		goto crypto;
	ret = 0;
	goto out;
crypto:
	set_err(err, errlen, "the crypto library failed");
out:
	digest_free(&d);
	return ret;
}

int s3_head(s3_t *s, const char *key, struct s3_object_info *info, char *err, size_t errlen)
{
	struct req r;
	int ret;

	if (key_ok(key, err, errlen))
		return S3_EINVAL;
	req_init(&r, "HEAD", "HEAD", key);
	ret = perform_retry(s, &r, err, errlen);
	if (!ret && !r.have_length) {
		set_err(err, errlen, "HEAD %s: the reply has no Content-Length", r.url);
		ret = S3_EHTTP;
	}
	if (!ret && info) {
		info->size = r.length;
		snprintf(info->etag, sizeof info->etag, "%s", r.etag);
	}
	req_done(&r);
	return ret;
}

/* HEAD key and compare with what was sent. */
static int verify_stored(s3_t *s, const char *key, uint64_t size, const char *etag, char *err,
			 size_t errlen)
{
	struct s3_object_info info;
	int ret = s3_head(s, key, &info, err, errlen);

	if (ret) {
		adderr(err, errlen, " (checking the upload)");
		return ret;
	}
	if (info.size != size) {
		set_err(err, errlen, "stored object `%.200s' has %llu bytes, %llu were sent", key,
			(unsigned long long)info.size, (unsigned long long)size);
		return S3_EVERIFY;
	}
	if (!s->skip_etag && strcasecmp(info.etag, etag)) {
		set_err(err, errlen,
			"stored object `%.200s' has ETag `%s', expected `%s' from what "
			"was sent",
			key, info.etag, etag);
		return S3_EVERIFY;
	}
	return 0;
}

/* One PUT of a file range or of memory, with hashes already computed, then the checks. */
static int put_single(s3_t *s, const char *key, s3_read_fn rd, void *ud, const void *mem,
		      uint64_t len, const struct s3_put_opts *o, const uint8_t sha[32],
		      const uint8_t md5[16], struct s3_put_result *res, char *err, size_t errlen)
{
	struct req r;
	char sha_hex[65], md5_hex[33], md5_b64[32];
	int ret;

	hex_encode(sha, 32, sha_hex);
	hex_encode(md5, 16, md5_hex);
	if (b64_md5(md5, md5_b64)) {
		set_err(err, errlen, "PUT: the crypto library failed");
		return S3_EINVAL;
	}
	req_init(&r, "PUT", "PUT", key);
	r.rd = rd;
	r.rd_ud = ud;
	r.mem = mem;
	r.len = len;
	r.payload_hash = sha_hex;
	r.content_md5 = md5_b64;
	r.content_type = o->content_type ? o->content_type : "application/octet-stream";
	r.meta = o->meta;
	r.nmeta = o->nmeta;
	ret = perform(s, &r, err, errlen);
	if (!ret && !s->skip_etag && r.etag[0] && strcasecmp(r.etag, md5_hex)) {
		set_err(err, errlen, "PUT %s: reply ETag `%s' is not the MD5 `%s' of what was sent",
			r.url, r.etag, md5_hex);
		ret = S3_EVERIFY;
	}
	req_done(&r);
	if (!ret)
		ret = verify_stored(s, key, len, md5_hex, err, errlen);
	if (!ret && res) {
		res->size = len;
		res->parts = 0;
		snprintf(res->etag, sizeof res->etag, "%s", md5_hex);
		snprintf(res->sha256, sizeof res->sha256, "%s", sha_hex);
		snprintf(res->md5, sizeof res->md5, "%s", md5_hex);
	}
	return ret;
}

static void abort_upload(s3_t *s, const char *key, const char *upload_id, char *err,
			 size_t errlen)
{
	struct req r;
	struct s3_kv q[1] = {{"uploadId", upload_id}};
	char e2[512];
	int cancelled = atomic_load(&s->cancel), ret;

	atomic_store(&s->cancel, 0); /* the abort still goes out after a cancel */
	req_init(&r, "AbortMultipartUpload", "DELETE", key);
	r.query = q;
	r.nquery = 1;
	ret = perform(s, &r, e2, sizeof e2);
	req_done(&r);
	if (cancelled)
		atomic_store(&s->cancel, 1);
	if (ret == S3_ENOTFOUND)
		ret = 0; /* NoSuchUpload: nothing left open */
	if (ret) {
		adderr(err, errlen, "; aborting the multipart upload failed too: %s", e2);
		return;
	}
	adderr(err, errlen, "; the multipart upload was aborted");
	if (s->upload_hook)
		s->upload_hook(s->upload_ud, key, NULL);
}

int s3_abort_upload(s3_t *s, const char *key, const char *upload_id, char *err, size_t errlen)
{
	struct req r;
	struct s3_kv q[1] = {{"uploadId", upload_id}};
	int ret;

	if (key_ok(key, err, errlen))
		return S3_EINVAL;
	if (!upload_id || !*upload_id) {
		set_err(err, errlen, "AbortMultipartUpload: no upload id");
		return S3_EINVAL;
	}
	req_init(&r, "AbortMultipartUpload", "DELETE", key);
	r.query = q;
	r.nquery = 1;
	ret = perform(s, &r, err, errlen);
	req_done(&r);
	if (ret == S3_ENOTFOUND)
		ret = 0;
	if (!ret && s->upload_hook)
		s->upload_hook(s->upload_ud, key, NULL);
	return ret;
}

void s3_set_upload_hook(s3_t *s, s3_upload_fn fn, void *ud)
{
	s->upload_hook = fn;
	s->upload_ud = ud;
}

static int put_multipart(s3_t *s, s3_read_fn rd, void *ud, const char *key, uint64_t size,
			 const struct s3_put_opts *o, struct s3_put_result *res, char *err,
			 size_t errlen)
{
	uint64_t part = s->part_size;
	unsigned nparts;
	uint8_t *md5s = NULL, sha[32], md5[16], whole_sha[32], whole_md5[16];
	char upload_id[512] = "", hash[65], md5_hex[33], md5_b64[32], pn[16], etag[80];
	struct digest whole = {0};
	struct sbuf body;
	struct req r;
	int ret = S3_EINVAL, created = 0;

	sb_init(&body, COMPLETE_MAX);
	if ((size + part - 1) / part > S3_MAX_PARTS) { /* grow the part, in whole MiB */
		part = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
		part = (part + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
	}
	nparts = (unsigned)((size + part - 1) / part);
	if (!(md5s = malloc((size_t)nparts * 16)) || digest_init(&whole)) {
		set_err(err, errlen, "multipart upload: out of memory");
		goto out;
	}

	struct s3_kv cq[1] = {{"uploads", ""}};
	req_init(&r, "CreateMultipartUpload", "POST", key);
	r.query = cq;
	r.nquery = 1;
	r.content_type = o->content_type ? o->content_type : "application/octet-stream";
	r.meta = o->meta;
	r.nmeta = o->nmeta;
	ret = perform(s, &r, err, errlen);
	if (!ret && (!r.reply.p || s3_xml_text(r.reply.p, r.reply.len, "UploadId", upload_id,
					       sizeof upload_id) <= 0)) {
		set_err(err, errlen, "CreateMultipartUpload %s: no UploadId in the reply", r.url);
		ret = S3_EHTTP;
	}
	req_done(&r);
	if (ret)
		goto out;
	created = 1;
	if (s->upload_hook)
		s->upload_hook(s->upload_ud, key, upload_id);

	for (unsigned i = 0; i < nparts; i++) {
		uint64_t off = (uint64_t)i * part, len = size - off < part ? size - off : part;
		char op[40];
		struct s3_kv pq[2] = {{"partNumber", pn}, {"uploadId", upload_id}};

		snprintf(pn, sizeof pn, "%u", i + 1);
		snprintf(op, sizeof op, "UploadPart %u/%u", i + 1, nparts);
		ret = hash_range(s, rd, ud, off, len, sha, md5s + (size_t)i * 16, &whole, err,
				 errlen);
		if (ret)
			goto fail;
		hex_encode(sha, 32, hash);
		hex_encode(md5s + (size_t)i * 16, 16, md5_hex);
		if (b64_md5(md5s + (size_t)i * 16, md5_b64)) {
			set_err(err, errlen, "%s: the crypto library failed", op);
			ret = S3_EINVAL;
			goto fail;
		}
		req_init(&r, op, "PUT", key);
		r.query = pq;
		r.nquery = 2;
		r.rd = rd;
		r.rd_ud = ud;
		r.off = off;
		r.len = len;
		r.payload_hash = hash;
		r.content_md5 = md5_b64;
		ret = perform_retry(s, &r, err, errlen);
		if (!ret && !s->skip_etag && r.etag[0] && strcasecmp(r.etag, md5_hex)) {
			set_err(err, errlen,
				"%s %s: reply ETag `%s' is not the MD5 `%s' of the part", op, r.url,
				r.etag, md5_hex);
			ret = S3_EVERIFY;
		}
		req_done(&r);
		if (ret)
			goto fail;
		sb_addf(&body, "%s<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
			i ? "" : "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
				 "2006-03-01/\">",
			i + 1, md5_hex);
	}
	sb_adds(&body, "</CompleteMultipartUpload>");
	if (body.failed || digest_final(&whole, whole_sha, whole_md5)) {
		set_err(err, errlen, "CompleteMultipartUpload: out of memory");
		ret = S3_EINVAL;
		goto fail;
	}

	/* the ETag S3 computes: MD5 of the parts' binary MD5s, "-" and the number of parts */
	if (!EVP_Digest(md5s, (size_t)nparts * 16, md5, NULL, EVP_md5(), NULL) ||
	    s3_sha256_hex(body.p, body.len, hash)) {
		set_err(err, errlen, "CompleteMultipartUpload: the crypto library failed");
		ret = S3_EINVAL;
		goto fail;
	}
	hex_encode(md5, 16, md5_hex);
	snprintf(etag, sizeof etag, "%s-%u", md5_hex, nparts);

	struct s3_kv fq[1] = {{"uploadId", upload_id}};
	req_init(&r, "CompleteMultipartUpload", "POST", key);
	r.query = fq;
	r.nquery = 1;
	r.mem = body.p;
	r.len = body.len;
	r.payload_hash = hash;
	r.content_type = "application/xml";
	ret = perform(s, &r, err, errlen);
	if (!ret && r.reply.p && memfind(r.reply.p, r.reply.len, "<Error>", 7)) {
		/* S3 may answer 200 and then report a failure in the body */
		ret = http_error(&r, err, errlen);
		if (ret == S3_EHTTP)
			ret = S3_ESERVER;
	}
	if (!ret && !s->skip_etag) {
		char got[80] = "";

		if (r.reply.p)
			s3_xml_text(r.reply.p, r.reply.len, "ETag", got, sizeof got);
		size_t gl = strlen(got);
		if (gl >= 2 && got[0] == '"' && got[gl - 1] == '"') {
			memmove(got, got + 1, gl - 2);
			got[gl - 2] = '\0';
		}
		if (got[0] && strcasecmp(got, etag)) {
			set_err(err, errlen,
				"CompleteMultipartUpload %s: reply ETag `%s', expected "
				"`%s' from the parts sent",
				r.url, got, etag);
			ret = S3_EVERIFY;
		}
	}
	req_done(&r);
	if (ret)
		goto fail;
	created = 0; /* complete: nothing to abort any more */
	if (s->upload_hook)
		s->upload_hook(s->upload_ud, key, NULL);
	ret = verify_stored(s, key, size, etag, err, errlen);
	if (ret)
		goto out;
	if (res) {
		res->size = size;
		res->parts = nparts;
		snprintf(res->etag, sizeof res->etag, "%s", etag);
		hex_encode(whole_sha, 32, res->sha256);
		hex_encode(whole_md5, 16, res->md5);
	}
	goto out;
fail:
	if (created)
		abort_upload(s, key, upload_id, err, errlen);
out:
	digest_free(&whole);
	sb_free(&body);
	free(md5s);
	return ret;
}

/* Metadata names and values that go into a header unchanged. */
static int meta_ok(const struct s3_put_opts *o, char *err, size_t errlen)
{
	if (o->nmeta > S3_META_MAX || (o->nmeta && !o->meta)) {
		set_err(err, errlen, "too much object metadata: at most %d entries", S3_META_MAX);
		return -1;
	}
	for (size_t i = 0; i < o->nmeta; i++) {
		const char *n = o->meta[i].name, *v = o->meta[i].value;
		size_t nl = n ? strlen(n) : 0, vl = v ? strlen(v) : 0;

		if (!nl || nl > 40 || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-") != nl) {
			set_err(err, errlen,
				"invalid object metadata name `%.60s': expected 1..40 of "
				"[a-z0-9-]",
				n ? n : "");
			return -1;
		}
		if (!vl || vl > 256) { /* an empty header would not be sent, yet signed */
			set_err(err, errlen, "object metadata `%s': value empty or over 256 bytes",
				n);
			return -1;
		}
		for (size_t k = 0; k < vl; k++)
			if (v[k] < 0x20 || v[k] > 0x7e) {
				set_err(err, errlen,
					"object metadata `%s': the value is not printable "
					"ASCII",
					n);
				return -1;
			}
	}
	return 0;
}

int s3_put_reader(s3_t *s, s3_read_fn rd, void *ud, uint64_t size, const char *key,
		  const struct s3_put_opts *opts, struct s3_put_result *res, char *err,
		  size_t errlen)
{
	static const struct s3_put_opts none = {0};
	const struct s3_put_opts *o = opts ? opts : &none;
	uint8_t sha[32], md5[16];
	int ret;

	if (key_ok(key, err, errlen) || meta_ok(o, err, errlen))
		return S3_EINVAL;
	if (!rd) {
		set_err(err, errlen, "upload of `%.200s': no body", key);
		return S3_EINVAL;
	}
	if (size > (5ull << 40)) {
		set_err(err, errlen, "upload of `%.200s': %llu bytes is over S3's 5 TiB limit", key,
			(unsigned long long)size);
		return S3_EINVAL;
	}
	if (size >= s->threshold && size > s->part_size)
		return put_multipart(s, rd, ud, key, size, o, res, err, errlen);
	ret = hash_range(s, rd, ud, 0, size, sha, md5, NULL, err, errlen);
	if (ret)
		return ret;
	return put_single(s, key, rd, ud, NULL, size, o, sha, md5, res, err, errlen);
}

/* The body of s3_put_fd(): pread on the descriptor ud points to. */
static ssize_t fd_read(void *ud, void *buf, size_t len, uint64_t off)
{
	ssize_t got;

	do
		got = pread(*(const int *)ud, buf, len, (off_t)off);
	while (got < 0 && errno == EINTR);
	return got;
}

int s3_put_fd(s3_t *s, int fd, const char *key, const char *content_type,
	      struct s3_put_result *res, char *err, size_t errlen)
{
	struct s3_put_opts o = {.content_type = content_type};
	struct stat st;

	if (key_ok(key, err, errlen))
		return S3_EINVAL;
	if (fstat(fd, &st)) {
		set_err(err, errlen, "upload of `%.200s': fstat: %s", key, strerror(errno));
		return S3_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "upload of `%.200s': not a regular file", key);
		return S3_EINVAL;
	}
	return s3_put_reader(s, fd_read, &fd, (uint64_t)st.st_size, key, &o, res, err, errlen);
}

int s3_put_file(s3_t *s, const char *path, const char *key, const char *content_type,
		struct s3_put_result *res, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0) {
		set_err(err, errlen, "cannot open `%.200s': %s", path, strerror(errno));
		return S3_EIO;
	}
	ret = s3_put_fd(s, fd, key, content_type, res, err, errlen);
	close(fd);
	return ret;
}

int s3_put_buffer(s3_t *s, const char *key, const void *data, size_t len,
		  const char *content_type, struct s3_put_result *res, char *err, size_t errlen)
{
	struct s3_put_opts o = {.content_type = content_type};
	struct digest d = {0};
	uint8_t sha[32], md5[16];
	int bad;

	if (key_ok(key, err, errlen))
		return S3_EINVAL;
	if ((uint64_t)len >= s->threshold || (!data && len)) {
		set_err(err, errlen,
			"upload of `%.200s': a buffer of %zu bytes must be under the "
			"multipart threshold",
			key, len);
		return S3_EINVAL;
	}
	bad = digest_init(&d) || digest_update(&d, data ? data : "", len) ||
	      digest_final(&d, sha, md5);
	digest_free(&d);
	if (bad) {
		set_err(err, errlen, "upload of `%.200s': the crypto library failed", key);
		return S3_EINVAL;
	}
	return put_single(s, key, NULL, NULL, data ? data : "", len, &o, sha, md5, res, err,
			  errlen);
}

int s3_presign_get(const s3_t *s, const char *key, long expires_s, time_t now, char *url,
		   size_t urllen, char *err, size_t errlen)
{
	char date[17], date8[9], exp[24], cred[1024];
	struct sbuf path, out;
	struct s3_sigv4 sig;
	struct tm tm;
	int ret = S3_EINVAL;

	if (urllen)
		url[0] = '\0';
	if (key_ok(key, err, errlen))
		return S3_EINVAL;
	if (expires_s < 1 || expires_s > S3_PRESIGN_MAX_EXPIRES) {
		set_err(err, errlen, "invalid presigned URL lifetime %ld s: expected 1..%ld",
			expires_s, S3_PRESIGN_MAX_EXPIRES);
		return S3_EINVAL;
	}
	if (!now)
		now = time(NULL);
	if (!gmtime_r(&now, &tm) || !strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm)) {
		set_err(err, errlen, "presign: bad time");
		return S3_EINVAL;
	}
	memcpy(date8, date, 8);
	date8[8] = '\0';
	snprintf(exp, sizeof exp, "%ld", expires_s);
	snprintf(cred, sizeof cred, "%s/%s/%s/s3/aws4_request", s->access_key, date8, s->region);

	struct s3_kv q[5] = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
			     {"X-Amz-Credential", cred},
			     {"X-Amz-Date", date},
			     {"X-Amz-Expires", exp},
			     {"X-Amz-SignedHeaders", "host"}};
	struct s3_kv h[1] = {{"host", s->host}};

	sb_init(&path, SIGN_MAX);
	sb_init(&out, SIGN_MAX);
	memset(&sig, 0, sizeof sig);
	raw_path(s, key, &path);
	if (path.failed) {
		set_err(err, errlen, "presign: out of memory");
		goto out;
	}
	struct s3_sigv4_request sr = {.method = "GET",
				      .path = path.p,
				      .query = q,
				      .nquery = 5,
				      .headers = h,
				      .nheaders = 1,
				      .payload_hash = S3_UNSIGNED_PAYLOAD,
				      .amz_date = date,
				      .region = s->region,
				      .service = "s3",
				      .access_key = s->access_key,
				      .secret_key = s->secret_key};
	if (s3_sigv4_sign(&sr, &sig, err, errlen))
		goto out;
	sb_adds(&out, s->base_url);
	sb_uri(&out, path.p, path.len, 1);
	sb_addf(&out, "?%s&X-Amz-Signature=%s", sig.canonical_query, sig.signature);
	if (out.failed || out.len + 1 > urllen) {
		set_err(err, errlen, "presign: the URL needs %zu bytes, the buffer has %zu",
			out.len + 1, urllen);
		goto out;
	}
	memcpy(url, out.p, out.len + 1);
	ret = 0;
out:
	s3_sigv4_free(&sig);
	sb_free(&path);
	sb_free(&out);
	return ret;
}
