/*
 * urlsign.c - signed download URLs (see urlsign.h).
 */
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "vault/urlsign.h"

#define EXP_DIGITS_MAX 18 /* up to year 31 billion: enough, and no overflow */

static int kid_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static int kid_valid(const char *kid)
{
	size_t n = 0;
	if (!kid)
		return 0;
	for (; kid[n]; n++)
		if (n >= VAULT_KEY_ID_MAX || !kid_char(kid[n]))
			return 0;
	return n > 0;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The hex HMAC of the message for (id, p's exp, uid, kid). Returns 0 or -1. */
static int mac_hex(const uint8_t key[VAULT_KEY_LEN], long id, const struct urlsign_params *p,
		   char out[URLSIGN_SIG_HEX + 1])
{
	char msg[256];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int n =
	    snprintf(msg, sizeof msg, "GET\n/api/v1/incidents/%ld/pcap\n%ld\n%" PRId64 "\n%s\n%s",
		     id, id, p->exp, p->uid, p->kid);
	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	if (!HMAC(EVP_sha256(), key, (int)VAULT_KEY_LEN, (const unsigned char *)msg, (size_t)n, mac,
		  &maclen) ||
	    maclen != URLSIGN_SIG_HEX / 2)
		return -1;
	hex(mac, maclen, out);
	OPENSSL_cleanse(mac, sizeof mac);
	return 0;
}

int urlsign_sign(const uint8_t key[VAULT_KEY_LEN], const char *kid, long id, int64_t exp,
		 struct urlsign_params *p, char *err, size_t errlen)
{
	uint8_t rnd[URLSIGN_UID_HEX / 2];
	memset(p, 0, sizeof *p);
	if (!kid_valid(kid)) {
		snprintf(err, errlen, "invalid key id `%s'", kid ? kid : "");
		return -1;
	}
	if (id < 1 || id > URLSIGN_ID_MAX) {
		snprintf(err, errlen, "invalid incident id %ld", id);
		return -1;
	}
	if (exp < 0 || exp > 999999999999999999LL) {
		snprintf(err, errlen, "invalid expiry %" PRId64, exp);
		return -1;
	}
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		snprintf(err, errlen, "the random generator failed");
		return -1;
	}
	snprintf(p->kid, sizeof p->kid, "%s", kid);
	p->exp = exp;
	hex(rnd, sizeof rnd, p->uid);
	if (mac_hex(key, id, p, p->sig) != 0) {
		snprintf(err, errlen, "HMAC-SHA256 failed");
		return -1;
	}
	return 0;
}

int urlsign_query(const struct urlsign_params *p, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "kid=%s&exp=%" PRId64 "&uid=%s&sig=%s", p->kid, p->exp,
			 p->uid, p->sig);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

enum { P_KID, P_EXP, P_UID, P_SIG, P_N };

int urlsign_parse(const char *query, size_t len, struct urlsign_params *p, char *err, size_t errlen)
{
	static const char *const names[P_N] = {"kid", "exp", "uid", "sig"};
	static const size_t maxlen[P_N] = {VAULT_KEY_ID_MAX, EXP_DIGITS_MAX, URLSIGN_UID_HEX,
					   URLSIGN_SIG_HEX};
	int seen[P_N] = {0};
	size_t pos = 0;

	memset(p, 0, sizeof *p);
	if (!query) {
		snprintf(err, errlen, "the signed URL has no query string (kid, exp, uid, sig)");
		return -1;
	}
	while (pos <= len) {
		const char *kv = query + pos;
		const char *amp = memchr(kv, '&', len - pos);
		size_t kl = amp ? (size_t)(amp - kv) : len - pos;
		pos += kl + 1;
		if (kl == 0) {
			snprintf(err, errlen, "malformed query string: an empty parameter");
			return -1;
		}
		const char *eq = memchr(kv, '=', kl);
		if (!eq) {
			snprintf(err, errlen, "malformed query string: a parameter without `='");
			return -1;
		}
		size_t nl = (size_t)(eq - kv), vl = kl - nl - 1;
		const char *v = eq + 1;
		int which = -1;
		for (int i = 0; i < P_N; i++)
			if (nl == 3 && memcmp(kv, names[i], 3) == 0)
				which = i;
		if (which < 0) {
			snprintf(
			    err, errlen,
			    "malformed query string: unknown parameter (expected kid, exp, uid, "
			    "sig)");
			return -1;
		}
		if (seen[which]) {
			snprintf(err, errlen, "malformed query string: `%s' is given twice",
				 names[which]);
			return -1;
		}
		seen[which] = 1;
		if (vl == 0 || vl > maxlen[which]) {
			snprintf(err, errlen, "malformed query string: `%s' is empty or too long",
				 names[which]);
			return -1;
		}
		for (size_t i = 0; i < vl; i++)
			if (which == P_EXP ? !(v[i] >= '0' && v[i] <= '9') : !kid_char(v[i])) {
				snprintf(err, errlen,
					 "malformed query string: `%s' holds a character it cannot",
					 names[which]);
				return -1;
			}
		switch (which) {
		case P_KID:
			memcpy(p->kid, v, vl);
			break;
		case P_UID:
			memcpy(p->uid, v, vl);
			break;
		case P_SIG:
			memcpy(p->sig, v, vl);
			break;
		default:
			p->exp = 0;
			for (size_t i = 0; i < vl; i++)
				p->exp = p->exp * 10 + (v[i] - '0');
		}
		if (!amp)
			break;
	}
	for (int i = 0; i < P_N; i++)
		if (!seen[i]) {
			snprintf(err, errlen, "malformed query string: `%s' is missing", names[i]);
			return -1;
		}
	return 0;
}

int urlsign_verify(const uint8_t key[VAULT_KEY_LEN], long id, const struct urlsign_params *p)
{
	char want[URLSIGN_SIG_HEX + 1], got[URLSIGN_SIG_HEX + 1];
	if (id < 1 || id > URLSIGN_ID_MAX || !kid_valid(p->kid))
		return -1;
	if (mac_hex(key, id, p, want) != 0)
		return -1;
	/* compare fixed-size buffers so that a shorter sig costs the same time */
	memset(got, 0, sizeof got);
	size_t n = strnlen(p->sig, URLSIGN_SIG_HEX);
	memcpy(got, p->sig, n);
	int ok = CRYPTO_memcmp(want, got, URLSIGN_SIG_HEX) == 0 && n == URLSIGN_SIG_HEX;
	OPENSSL_cleanse(want, sizeof want);
	return ok ? 0 : -1;
}
