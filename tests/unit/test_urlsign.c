/*
 * test_urlsign.c - signed download URLs: a known answer (HMAC-SHA256 over the documented
 * message), sign -> query -> parse -> verify, every changed character of every parameter fails
 * verification, another incident id or key fails, and malformed query strings are refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testhelp.h"
#include "vault/urlsign.h"

static uint8_t key[VAULT_KEY_LEN];

static void setup_key(void)
{
	for (unsigned i = 0; i < VAULT_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

/* Computed independently (Python hmac) over
 * "GET\n/api/v1/incidents/7/pcap\n7\n1700000000\n00112233445566778899aabbccddeeff\nk20261122". */
static void test_known_answer(void)
{
	struct urlsign_params p;
	memset(&p, 0, sizeof p);
	snprintf(p.kid, sizeof p.kid, "k20261122");
	p.exp = 1700000000;
	snprintf(p.uid, sizeof p.uid, "00112233445566778899aabbccddeeff");
	snprintf(p.sig, sizeof p.sig,
		 "7d3f6996815d05e3f588b69bb1c43ff316e49db0a22be5a15514f08d19f9ea0c");
	CHECK_EQ_INT(urlsign_verify(key, 7, &p), 0);
	CHECK_EQ_INT(urlsign_verify(key, 8, &p), -1);
	p.exp++;
	CHECK_EQ_INT(urlsign_verify(key, 7, &p), -1);
}

static void test_roundtrip(void)
{
	struct urlsign_params p, q, r;
	char query[URLSIGN_QUERY_MAX], err[256];
	CHECK_EQ_INT(urlsign_sign(key, "k1", 42, 1800000000, &p, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(p.uid), URLSIGN_UID_HEX);
	CHECK_EQ_INT(strlen(p.sig), URLSIGN_SIG_HEX);
	CHECK_EQ_INT(urlsign_query(&p, query, sizeof query), 0);
	CHECK(strncmp(query, "kid=k1&exp=1800000000&uid=", 26) == 0);
	CHECK_EQ_INT(urlsign_parse(query, strlen(query), &q, err, sizeof err), 0);
	CHECK_EQ_STR(q.kid, "k1");
	CHECK_EQ_INT(q.exp, 1800000000);
	CHECK_EQ_STR(q.uid, p.uid);
	CHECK_EQ_STR(q.sig, p.sig);
	CHECK_EQ_INT(urlsign_verify(key, 42, &q), 0);
	CHECK_EQ_INT(urlsign_verify(key, 43, &q), -1);
	CHECK_EQ_INT(urlsign_verify(key, 4, &q), -1);
	/* another key */
	uint8_t other[VAULT_KEY_LEN];
	memcpy(other, key, sizeof other);
	other[31] ^= 1;
	CHECK_EQ_INT(urlsign_verify(other, 42, &q), -1);
	/* two URLs for the same incident differ by their uid */
	CHECK_EQ_INT(urlsign_sign(key, "k1", 42, 1800000000, &r, err, sizeof err), 0);
	CHECK(strcmp(r.uid, p.uid) != 0);
	CHECK(strcmp(r.sig, p.sig) != 0);
	/* the parameters may come in any order */
	char re[URLSIGN_QUERY_MAX];
	snprintf(re, sizeof re, "sig=%s&uid=%s&exp=1800000000&kid=k1", p.sig, p.uid);
	CHECK_EQ_INT(urlsign_parse(re, strlen(re), &q, err, sizeof err), 0);
	CHECK_EQ_INT(urlsign_verify(key, 42, &q), 0);
	/* refused arguments */
	CHECK_EQ_INT(urlsign_sign(key, "", 42, 1, &r, err, sizeof err), -1);
	CHECK_EQ_INT(urlsign_sign(key, "bad kid", 42, 1, &r, err, sizeof err), -1);
	CHECK_EQ_INT(urlsign_sign(key, "k1", 0, 1, &r, err, sizeof err), -1);
	CHECK_EQ_INT(urlsign_sign(key, "k1", URLSIGN_ID_MAX + 1, 1, &r, err, sizeof err), -1);
}

/* Every single-character change in the query that still parses must fail verification. */
static void test_every_changed_character(void)
{
	struct urlsign_params p, q;
	char query[URLSIGN_QUERY_MAX], mod[URLSIGN_QUERY_MAX], err[256];
	const char repl[] = "0a9fZ._-";
	int parsed = 0, verified = 0, tried = 0;
	CHECK_EQ_INT(urlsign_sign(key, "k20261122", 7, 1800000000, &p, err, sizeof err), 0);
	CHECK_EQ_INT(urlsign_query(&p, query, sizeof query), 0);
	size_t n = strlen(query);
	for (size_t i = 0; i < n; i++) {
		if (query[i] == '=' || query[i] == '&')
			continue;
		for (const char *c = repl; *c; c++) {
			if (*c == query[i])
				continue;
			memcpy(mod, query, n + 1);
			mod[i] = *c;
			tried++;
			if (urlsign_parse(mod, n, &q, err, sizeof err) != 0)
				continue; /* malformed (a name changed, a letter in exp): HTTP 400
					   */
			parsed++;
			if (urlsign_verify(key, 7, &q) == 0) {
				verified++;
				printf("  still verifies: %s\n", mod);
			}
		}
	}
	CHECK(tried > 500);
	CHECK(parsed > 400);
	CHECK_EQ_INT(verified, 0);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
	    "",
	    "&",
	    "kid=k1",
	    "kid=k1&exp=1&uid=aa&sig=bb&",
	    "kid=k1&exp=1&uid=aa&sig=bb&x=1",
	    "kid=k1&kid=k1&exp=1&uid=aa&sig=bb",
	    "kid=k1&exp=1&uid=aa&sig",
	    "kid=k1&exp=1&uid=aa&sig=",
	    "kid=k1&exp=-1&uid=aa&sig=bb",
	    "kid=k1&exp=1e9&uid=aa&sig=bb",
	    "kid=k1&exp=1234567890123456789&uid=aa&sig=bb",
	    "kid=k%31&exp=1&uid=aa&sig=bb",
	    "kid=k+1&exp=1&uid=aa&sig=bb",
	    "kid=k1&exp=1&uid=a/a&sig=bb",
	    "kid=k1&exp=1&uid=000000000000000000000000000000000&sig=bb",
	    "kid=k12345678901234567&exp=1&uid=aa&sig=bb",
	    "KID=k1&exp=1&uid=aa&sig=bb",
	    "kid=k1&&exp=1&uid=aa&sig=bb",
	};
	struct urlsign_params q;
	char err[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		int rc = urlsign_parse(bad[i], strlen(bad[i]), &q, err, sizeof err);
		if (rc == 0)
			printf("  accepted: `%s'\n", bad[i]);
		CHECK_EQ_INT(rc, -1);
		CHECK(strstr(err, "query") != NULL);
	}
	CHECK_EQ_INT(urlsign_parse(NULL, 0, &q, err, sizeof err), -1);
	/* a query with a NUL inside: the length counts, so the tail is seen */
	const char nul[] = "kid=k1&exp=1&uid=aa&sig=bb\0&x=1";
	CHECK_EQ_INT(urlsign_parse(nul, sizeof nul - 1, &q, err, sizeof err), -1);
	CHECK_EQ_INT(urlsign_parse(nul, strlen(nul), &q, err, sizeof err), 0);
	/* short or non-hex signatures parse but never verify */
	CHECK_EQ_INT(urlsign_verify(key, 7, &q), -1);
}

int main(void)
{
	setup_key();
	RUN(test_known_answer);
	RUN(test_roundtrip);
	RUN(test_every_changed_character);
	RUN(test_malformed);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
