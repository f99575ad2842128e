/*
 * test_audit.c - the audit trail: records and their hash chain (checked here with independent
 * code), checkpoints and their signatures, and every kind of tampering audit_verify() must catch
 * and name (modified, re-hashed, deleted, inserted, swapped, cut off the end, forged or foreign
 * checkpoints), torn last lines repaired at open and accepted as damage, concurrent appends from
 * threads and from processes, listing, the checkpoint schedule and the test clock.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/clock.h"
#include "vault/audit.h"
#include "vault/keys.h"
#include "base/log.h"
#include "testhelp.h"

#define HEXA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEXB "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* rep holds s; prints the report when it does not */
#define CHECK_HAS(rep, s)                                                                          \
	do {                                                                                       \
		CHECK((rep) && strstr((rep), (s)) != NULL);                                        \
		if (!(rep) || !strstr((rep), (s)))                                                 \
			printf("  report:\n%s", (rep) ? (rep) : "(none)\n");                       \
	} while (0)

static char tdir[256];
static keys_t *ka;	 /* ka = HEXA, primary */
static keys_t *ka_wrong; /* ka = HEXB: same id, other key */
static keys_t *krot;	 /* ka = HEXA and kb = HEXB primary: after a rotation */
static keys_t *kz;	 /* kz = HEXA: no key named ka */

static keys_t *mkkeys(const char *text)
{
	char err[256];
	keys_t *k = NULL;
	if (keys_parse(text, strlen(text), "test.key", &k, err, sizeof err) != 0)
		printf("  keys_parse: %s\n", err);
	return k;
}

static void dpath(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tdir, name);
}

static void trail(char *out, size_t len, const char *dir)
{
	snprintf(out, len, "%s/audit/audit.jsonl", dir);
}

static void cpfile(char *out, size_t len, const char *dir)
{
	snprintf(out, len, "%s/audit/checkpoints.jsonl", dir);
}

/* Builds DIR = tdir/name with n url_issued records signed under keys; returns 0. */
static int build(const char *name, int n, keys_t *keys)
{
	char dir[512], err[512];
	audit_t *a = NULL;
	dpath(dir, sizeof dir, name);
	if (audit_open(dir, keys, &a, err, sizeof err) != 0) {
		printf("  audit_open: %s\n", err);
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		json_t *f = json_pack("{s:s, s:s, s:i}", "actor", "alice", "client", "127.0.0.1",
				      "incident", i);
		if (audit_append(a, "url_issued", f, err, sizeof err) <= 0) {
			printf("  audit_append: %s\n", err);
			audit_close(a);
			return -1;
		}
	}
	audit_close(a);
	return 0;
}

/* Runs audit_verify on tdir/name; *rep gets the report (caller frees). */
static int verify(const char *name, keys_t *keys, char **rep)
{
	char dir[512], err[512];
	size_t len;
	FILE *f = open_memstream(rep, &len);
	dpath(dir, sizeof dir, name);
	int rc = audit_verify(dir, keys, f, err, sizeof err);
	fclose(f);
	if (rc < 0)
		printf("  audit_verify: %s\n", err);
	return rc;
}

/* The lines of a file, without their newlines (a last line without one included). */
static int read_lines(const char *path, char ***out)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0;
	*out = NULL;
	if (!f)
		return 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		*out = realloc(*out, (size_t)(count + 1) * sizeof **out);
		(*out)[count++] = strdup(line);
	}
	free(line);
	fclose(f);
	return count;
}

static void write_lines(const char *path, char **l, int n)
{
	FILE *f = fopen(path, "w");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s\n", l[i]);
	fclose(f);
}

static void free_lines(char **l, int n)
{
	for (int i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static int count_lines(const char *path)
{
	char **l;
	int n = read_lines(path, &l);
	free_lines(l, n);
	return n;
}

static void sha256hex(const char *s, char out[65])
{
	uint8_t md[32];
	unsigned int n;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void hmachex(const char *s, const keys_t *k, char out[65])
{
	uint8_t key[32], md[32];
	unsigned int n = 0;
	if (keys_subkey(k, AUDIT_MAC_PURPOSE, key) != 0)
		memset(key, 0, sizeof key);
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)s, strlen(s), md, &n);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * The line with prev_hash set to prev and hash recomputed: mode 0 SHA-256 as the old unkeyed
 * chain (what an attacker without the key can do), 1 the same with mac_key removed (posing as
 * a legacy record), 2 HMAC under ka (someone holding the key).
 */
static char *restamp_mode(const char *line, const char *prev, char hash[65], int mode)
{
	json_t *o = json_loads(line, 0, NULL);
	json_object_set_new(o, "prev_hash", json_string(prev));
	json_object_del(o, "hash");
	if (mode == 1)
		json_object_del(o, "mac_key");
	char *c = json_dumps(o, FLAGS);
	if (mode == 2)
		hmachex(c, ka, hash);
	else
		sha256hex(c, hash);
	free(c);
	json_object_set_new(o, "hash", json_string(hash));
	char *r = json_dumps(o, FLAGS);
	json_decref(o);
	return r;
}

/* The line with prev_hash set to prev and hash recomputed (what a careful attacker does). */
static char *restamp(const char *line, const char *prev, char hash[65])
{
	json_t *o = json_loads(line, 0, NULL);
	json_object_set_new(o, "prev_hash", json_string(prev));
	json_object_del(o, "hash");
	char *c = json_dumps(o, FLAGS);
	sha256hex(c, hash);
	free(c);
	json_object_set_new(o, "hash", json_string(hash));
	char *r = json_dumps(o, FLAGS);
	json_decref(o);
	return r;
}

static const char *member(const char *line, const char *key, char *buf, size_t len)
{
	json_t *o = json_loads(line, 0, NULL);
	const char *s = json_string_value(json_object_get(o, key));
	snprintf(buf, len, "%s", s ? s : "");
	json_decref(o);
	return buf;
}

/* ---- tests ---- */

static void test_chain_verifies(void)
{
	char dir[512], p[600], **l, *rep = NULL;
	struct stat st;
	CHECK_EQ_INT(build("chain", 40, ka), 0);
	CHECK_EQ_INT(verify("chain", ka, &rep), 0);
	CHECK_HAS(rep, "40 records, 3 checkpoints: intact");
	free(rep);

	/* the chain, checked with code of its own */
	dpath(dir, sizeof dir, "chain");
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 40);
	char prev[65] = ZEROS;
	for (int i = 0; i < n; i++) {
		json_t *o = json_loads(l[i], JSON_REJECT_DUPLICATES, NULL);
		CHECK(o != NULL);
		if (!o)
			break;
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "seq")), i + 1);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "event")), "url_issued");
		CHECK_EQ_STR(json_string_value(json_object_get(o, "actor")), "alice");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "incident")), i + 1);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "prev_hash")), prev);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "mac_key")), "ka");
		const char *t = json_string_value(json_object_get(o, "time"));
		CHECK(t && strlen(t) == 27 && t[10] == 'T' && t[19] == '.' && t[26] == 'Z');
		char stored[65], calc[65];
		snprintf(stored, sizeof stored, "%s",
			 json_string_value(json_object_get(o, "hash")));
		json_object_del(o, "hash");
		char *c = json_dumps(o, FLAGS);
		hmachex(c, ka, calc); /* HMAC-SHA256 under ka's AUDIT_MAC_PURPOSE subkey */
		free(c);
		CHECK_EQ_STR(stored, calc);
		char plain[65];
		sha256hex(c = json_dumps(o, FLAGS), plain); /* not the unkeyed hash */
		free(c);
		CHECK(strcmp(stored, plain) != 0);
		memcpy(prev, calc, sizeof prev);
		json_decref(o);
	}
	free_lines(l, n);

	/* the checkpoints: seq 16, 32 (every 16) and 40 (close), Ed25519 over the documented
	 * message under the audit subkey of ka */
	uint8_t seed[32];
	CHECK_EQ_INT(keys_subkey(ka, KEYS_PURPOSE_AUDIT, seed), 0);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	uint8_t pub[32];
	size_t publen = 32;
	char pubhex[65];
	EVP_PKEY_get_raw_public_key(pk, pub, &publen);
	for (int i = 0; i < 32; i++)
		snprintf(pubhex + 2 * i, 3, "%02x", pub[i]);
	cpfile(p, sizeof p, dir);
	n = read_lines(p, &l);
	CHECK_EQ_INT(n, 3);
	static const int want[] = {16, 32, 40};
	for (int i = 0; i < n && i < 3; i++) {
		json_t *o = json_loads(l[i], 0, NULL);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "seq")), want[i]);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "key_id")), "ka");
		CHECK_EQ_STR(json_string_value(json_object_get(o, "pubkey")), pubhex);
		char msg[256];
		int mlen = snprintf(msg, sizeof msg, "ringcap audit checkpoint v1\n%d\n%s", want[i],
				    json_string_value(json_object_get(o, "head")));
		const char *sh = json_string_value(json_object_get(o, "sig"));
		uint8_t sig[64];
		for (int j = 0; j < 64 && sh && strlen(sh) == 128; j++)
			sscanf(sh + 2 * j, "%2hhx", &sig[j]);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		CHECK(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		      EVP_DigestVerify(ctx, sig, 64, (const uint8_t *)msg, (size_t)mlen) == 1);
		EVP_MD_CTX_free(ctx);
		json_decref(o);
	}
	free_lines(l, n);
	EVP_PKEY_free(pk);

	/* files 0600 in a 0700 folder */
	trail(p, sizeof p, dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	cpfile(p, sizeof p, dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(p, sizeof p, "%s/audit", dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0700);
}

/* Builds tdir/name (40 records), edits its trail with fn, verifies with keys. */
static int tamper(const char *name, void (*fn)(char ***l, int *n), keys_t *keys, char **rep)
{
	char dir[512], p[600], **l;
	if (build(name, 40, ka) != 0)
		return -2;
	dpath(dir, sizeof dir, name);
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	fn(&l, &n);
	write_lines(p, l, n);
	free_lines(l, n);
	return verify(name, keys, rep);
}

static void edit_byte(char ***l, int *n)
{
	(void)n;
	char *s = strstr((*l)[4], "alice");
	s[4] = 'f'; /* alicf */
}

static void edit_rehash(char ***l, int *n)
{
	(void)n;
	char prev[65], h[65];
	char *s = strstr((*l)[4], "alice");
	s[0] = 'm'; /* mlice, with a hash that matches */
	char *r = restamp((*l)[4], member((*l)[3], "hash", prev, sizeof prev), h);
	free((*l)[4]);
	(*l)[4] = r;
}

static void edit_rewrite_chain(char ***l, int *n)
{
	char h[65];
	char *s = strstr((*l)[4], "alice");
	s[0] = 'm';
	member((*l)[3], "hash", h, sizeof h);
	for (int i = 4; i < *n; i++) {
		char nh[65];
		char *r = restamp((*l)[i], h, nh);
		free((*l)[i]);
		(*l)[i] = r;
		memcpy(h, nh, sizeof h);
	}
}

static void edit_delete(char ***l, int *n)
{
	free((*l)[4]);
	memmove(&(*l)[4], &(*l)[5], (size_t)(*n - 5) * sizeof **l);
	(*n)--;
}

static void edit_insert(char ***l, int *n)
{
	char prev[65], h[65];
	/* a well-formed record 5 chained to record 4, before the real record 5 */
	json_t *o = json_loads((*l)[4], 0, NULL);
	json_object_set_new(o, "actor", json_string("mallory"));
	char *tmp = json_dumps(o, FLAGS);
	json_decref(o);
	char *r = restamp(tmp, member((*l)[3], "hash", prev, sizeof prev), h);
	free(tmp);
	*l = realloc(*l, (size_t)(*n + 1) * sizeof **l);
	memmove(&(*l)[5], &(*l)[4], (size_t)(*n - 4) * sizeof **l);
	(*l)[4] = r;
	(*n)++;
}

static void edit_swap(char ***l, int *n)
{
	(void)n;
	char *t = (*l)[4];
	(*l)[4] = (*l)[5];
	(*l)[5] = t;
}

static void edit_cut_last(char ***l, int *n)
{
	free((*l)[--*n]);
	(void)l;
}

static void edit_duplicate_key(char ***l, int *n)
{
	(void)n;
	/* a parser that keeps the first of two members would read "evil" */
	const char *s = (*l)[4];
	size_t len = strlen(s) + 32;
	char *r = malloc(len);
	snprintf(r, len, "{\"actor\":\"evil\",%s", s + 1);
	free((*l)[4]);
	(*l)[4] = r;
}

static void test_tamper_modified(void)
{
	char *rep = NULL;
	CHECK_EQ_INT(tamper("t_mod", edit_byte, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (seq 5): the MAC does not match");
	CHECK_HAS(rep, "modified");
	CHECK_HAS(rep, "NOT intact, 1 problem");
	free(rep);
	rep = NULL;
	/* re-hashed without the key: the MAC does not match, and the next prev_hash neither */
	CHECK_EQ_INT(tamper("t_rehash", edit_rehash, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (seq 5): the MAC does not match the record's content: "
		       "the record was modified, or re-hashed without the key");
	CHECK_HAS(rep, "audit.jsonl line 6 (seq 6): prev_hash is not the hash of seq 5");
	free(rep);
	rep = NULL;
	/* the whole chain rewritten from record 5: only the signed heads catch it */
	CHECK_EQ_INT(tamper("t_rewrite", edit_rewrite_chain, ka, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 1 (seq 16): the head signed at seq 16 is not the "
		       "hash of audit.jsonl line 16");
	CHECK_HAS(rep, "checkpoints.jsonl line 3 (seq 40)");
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(tamper("t_dupkey", edit_duplicate_key, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (offset ");
	CHECK_HAS(rep, "does not parse as a record");
	free(rep);
}

static void test_tamper_deleted_inserted_swapped(void)
{
	char *rep = NULL;
	CHECK_EQ_INT(tamper("t_del", edit_delete, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (seq 6): seq 5 expected after seq 4 (line 4): record "
		       "5 is missing");
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(tamper("t_ins", edit_insert, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 6 (seq 5): does not follow seq 5 (line 5)");
	CHECK_HAS(rep, "inserted");
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(tamper("t_swap", edit_swap, ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (seq 6)");
	CHECK_HAS(rep, "audit.jsonl line 6 (seq 5): does not follow seq 6");
	/* the first problem printed is the first record that does not verify */
	CHECK(strncmp(rep, "audit.jsonl line 5 (seq 6)", 26) == 0);
	free(rep);
}

static void test_tamper_cut_off_end(void)
{
	char *rep = NULL;
	CHECK_EQ_INT(tamper("t_cut", edit_cut_last, ka, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 3 (seq 40): seq 40 is beyond the end of the "
		       "trail (last seq 39): records were cut off the end");
	free(rep);

	/* cut in the middle of the last line */
	char dir[512], p[600];
	struct stat st;
	CHECK_EQ_INT(build("t_cutmid", 40, ka), 0);
	dpath(dir, sizeof dir, "t_cutmid");
	trail(p, sizeof p, dir);
	stat(p, &st);
	CHECK_EQ_INT(truncate(p, st.st_size - 30), 0);
	rep = NULL;
	CHECK_EQ_INT(verify("t_cutmid", ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 40 (offset ");
	CHECK_HAS(rep, "after seq 39): incomplete last line");
	CHECK_HAS(rep, "seq 40 is beyond the end");
	free(rep);

	/* the whole trail deleted, the checkpoints kept */
	CHECK_EQ_INT(unlink(p), 0);
	rep = NULL;
	CHECK_EQ_INT(verify("t_cutmid", ka, &rep), 1);
	CHECK_HAS(rep, "does not exist");
	CHECK_HAS(rep, "beyond the end of the trail (last seq 0)");
	free(rep);
}

static void test_checkpoint_forged(void)
{
	char dir[512], p[600], **l, *rep = NULL;
	CHECK_EQ_INT(build("cp_forge", 40, ka), 0);
	dpath(dir, sizeof dir, "cp_forge");
	cpfile(p, sizeof p, dir);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 3);
	char *s = strstr(l[0], "\"sig\":\"");
	s[7] = s[7] == '0' ? '1' : '0';
	write_lines(p, l, n);
	CHECK_EQ_INT(verify("cp_forge", ka, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 1 (seq 16): the signature does not verify under "
		       "key `ka'");
	free(rep);
	free_lines(l, n);

	/* a checkpoint moved to another head with its signature kept */
	CHECK_EQ_INT(build("cp_move", 40, ka), 0);
	dpath(dir, sizeof dir, "cp_move");
	cpfile(p, sizeof p, dir);
	n = read_lines(p, &l);
	s = strstr(l[2], "\"seq\":40");
	s[7] = '1'; /* seq 41: what an attacker who added a record would want */
	write_lines(p, l, n);
	rep = NULL;
	CHECK_EQ_INT(verify("cp_move", ka, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 3 (seq 41): the signature does not verify");
	free(rep);
	free_lines(l, n);

	/* a checkpoint line that is not JSON at all: reported and ignored */
	CHECK_EQ_INT(build("cp_garbage", 40, ka), 0);
	dpath(dir, sizeof dir, "cp_garbage");
	cpfile(p, sizeof p, dir);
	FILE *f = fopen(p, "a");
	fputs("{\"seq\":4\n", f);
	fclose(f);
	rep = NULL;
	CHECK_EQ_INT(verify("cp_garbage", ka, &rep), 0);
	CHECK_HAS(rep, "checkpoints.jsonl line 4 (offset ");
	CHECK_HAS(rep, "intact (1 damaged line");
	free(rep);
}

static void test_wrong_key(void)
{
	char *rep = NULL;
	/* signed under another key that has the same id (pubkey member self-consistent) */
	CHECK_EQ_INT(build("wrongkey", 40, ka_wrong), 0);
	CHECK_EQ_INT(verify("wrongkey", ka, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 1 (seq 16): the signature does not verify under "
		       "key `ka'");
	CHECK_HAS(rep, "checkpoints.jsonl line 3 (seq 40)");
	CHECK_HAS(rep, "audit.jsonl line 1 (seq 1): the MAC does not match");
	CHECK_HAS(rep, "audit.jsonl line 40 (seq 40): the MAC does not match");
	CHECK_HAS(rep, "43 problems");
	free(rep);
	rep = NULL;
	/* a key id the key file does not have */
	CHECK_EQ_INT(verify("wrongkey", kz, &rep), 1);
	CHECK_HAS(rep, "checkpoints.jsonl line 1 (seq 16): signed with key `ka', which is not "
		       "in the key file");
	CHECK_HAS(rep, "audit.jsonl line 1 (seq 1): keyed with mac_key `ka', which is not a key "
		       "of the key file");
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(verify("wrongkey", ka_wrong, &rep), 0);
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(audit_verify("/nonexistent-dir", NULL, NULL, NULL, 0), 0);
	(void)rep;
}

static void test_rotation(void)
{
	char *rep = NULL, dir[512], p[600], **l;
	CHECK_EQ_INT(build("rot", 10, ka), 0);
	CHECK_EQ_INT(build("rot", 10, krot), 0);
	CHECK_EQ_INT(verify("rot", krot, &rep), 0);
	CHECK_HAS(rep, "20 records, 2 checkpoints: intact");
	free(rep);
	dpath(dir, sizeof dir, "rot");
	cpfile(p, sizeof p, dir);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK(strstr(l[0], "\"key_id\":\"ka\"") != NULL);
		CHECK(strstr(l[1], "\"key_id\":\"kb\"") != NULL);
	}
	free_lines(l, n);
	rep = NULL;
	CHECK_EQ_INT(verify("rot", ka, &rep), 1); /* kb is not in the old key file */
	CHECK_HAS(rep, "signed with key `kb'");
	free(rep);
}

static void test_torn_repaired(void)
{
	char dir[512], p[600], **l, *rep = NULL, err[512], h20[65], b[200];
	struct stat st;
	audit_t *a = NULL;
	CHECK_EQ_INT(build("torn", 20, ka), 0);
	dpath(dir, sizeof dir, "torn");
	trail(p, sizeof p, dir);
	stat(p, &st);
	off_t off = st.st_size;
	FILE *f = fopen(p, "a");
	fputs("{\"actor\":\"bob\",\"cli", f); /* 19 bytes, no newline: a crash mid-write */
	fclose(f);

	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	audit_close(a);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 22);
	if (n == 22) {
		CHECK_EQ_STR(l[20], "{\"actor\":\"bob\",\"cli");
		json_t *o = json_loads(l[21], 0, NULL);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "event")), "torn_record");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "offset")), off);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "length")), 19);
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "seq")), 21);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "prev_hash")),
			     member(l[19], "hash", h20, sizeof h20));
		json_decref(o);
	}
	free_lines(l, n);
	CHECK_EQ_INT(verify("torn", ka, &rep), 0);
	snprintf(b, sizeof b,
		 "audit.jsonl line 21 (offset %lld, 19 bytes): torn write, "
		 "acknowledged by the torn_record at line 22 (seq 21)",
		 (long long)off);
	CHECK_HAS(rep, b);
	CHECK_HAS(rep, "21 records, 3 checkpoints: intact (1 damaged line");
	free(rep);
	rep = NULL;

	/* a torn line that ends with a newline but is not a record, then more records */
	f = fopen(p, "a");
	fputs("{\"seq\":22,\"event\"\n", f);
	fclose(f);
	CHECK_EQ_INT(build("torn", 5, ka), 0);
	CHECK_EQ_INT(verify("torn", ka, &rep), 0);
	CHECK_HAS(rep, "audit.jsonl line 23 (offset ");
	CHECK_HAS(rep, "27 records");
	CHECK_HAS(rep, "intact (2 damaged lines");
	free(rep);
	rep = NULL;

	/* removing an acknowledged torn line is caught */
	n = read_lines(p, &l);
	free(l[20]);
	memmove(&l[20], &l[21], (size_t)(n - 21) * sizeof *l);
	n--;
	write_lines(p, l, n);
	free_lines(l, n);
	CHECK_EQ_INT(verify("torn", ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 21 (seq 21): torn_record names a torn line that is not "
		       "the line before it");
	free(rep);
	rep = NULL;

	/* garbage in the middle is not acknowledged damage */
	CHECK_EQ_INT(build("torn_mid", 10, ka), 0);
	dpath(dir, sizeof dir, "torn_mid");
	trail(p, sizeof p, dir);
	n = read_lines(p, &l);
	free(l[4]);
	l[4] = strdup("not json");
	write_lines(p, l, n);
	free_lines(l, n);
	CHECK_EQ_INT(verify("torn_mid", ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 5 (offset ");
	CHECK_HAS(rep, "after seq 4): does not parse as a record");
	free(rep);
}

struct thr {
	audit_t *a;
	long seqs[50];
	int fails;
};

static void *append_thread(void *arg)
{
	struct thr *t = arg;
	char err[256];
	for (int i = 0; i < 50; i++) {
		t->seqs[i] = audit_append(
		    t->a, "download_started",
		    json_pack("{s:s, s:i}", "client", "10.0.0.1", "url_id", i), err, sizeof err);
		if (t->seqs[i] <= 0)
			t->fails++;
	}
	return NULL;
}

static void test_threads(void)
{
	char dir[512], err[512], *rep = NULL;
	audit_t *a = NULL;
	struct thr t[4];
	pthread_t th[4];
	int seen[201] = {0};
	dpath(dir, sizeof dir, "threads");
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	for (int i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof t[i]);
		t[i].a = a;
		pthread_create(&th[i], NULL, append_thread, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(t[i].fails, 0);
		for (int j = 0; j < 50; j++) {
			if (j)
				CHECK(t[i].seqs[j] > t[i].seqs[j - 1]);
			if (t[i].seqs[j] >= 1 && t[i].seqs[j] <= 200)
				seen[t[i].seqs[j]]++;
		}
	}
	audit_close(a);
	for (int s = 1; s <= 200; s++)
		CHECK_EQ_INT(seen[s], 1);
	CHECK_EQ_INT(verify("threads", ka, &rep), 0);
	CHECK_HAS(rep, "200 records");
	CHECK_HAS(rep, ": intact");
	free(rep);
}

static void test_processes(void)
{
	char dir[512], p[600], *rep = NULL, **l;
	pid_t kids[2];
	int go[2];
	dpath(dir, sizeof dir, "procs");
	CHECK_EQ_INT(pipe(go), 0);
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			char err[256], c;
			audit_t *a = NULL;
			close(go[1]);
			if (read(go[0], &c, 1) < 0) /* wait for the start: EOF */
				_exit(3);
			int bad = audit_open(dir, ka, &a, err, sizeof err) != 0;
			for (int i = 0; !bad && i < 100; i++)
				bad = audit_append(a, "capture_started",
						   json_pack("{s:i, s:i}", "proc", k, "i", i), err,
						   sizeof err) <= 0;
			audit_close(a);
			_exit(bad);
		}
	}
	close(go[0]);
	close(go[1]);
	/* and this process at the same time, with its own handle */
	CHECK_EQ_INT(build("procs", 100, ka), 0);
	for (int k = 0; k < 2; k++) {
		int status = -1;
		waitpid(kids[k], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ_INT(verify("procs", ka, &rep), 0);
	CHECK_HAS(rep, "300 records");
	CHECK_HAS(rep, ": intact");
	free(rep);
	/* how much the writers interleaved (for information: the scheduler decides) */
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l), switches = 0;
	for (int i = 1; i < n; i++) {
		char a[16], b[16];
		if (strcmp(member(l[i], "event", a, sizeof a),
			   member(l[i - 1], "event", b, sizeof b)) ||
		    (strstr(l[i], "\"proc\":0") != NULL) !=
			(strstr(l[i - 1], "\"proc\":0") != NULL))
			switches++;
	}
	printf("  3 processes x 100 records: the writer changed %d times\n", switches);
	free_lines(l, n);
}

static void test_list(void)
{
	char dir[512], p[600], err[256];
	long total = -1;
	CHECK_EQ_INT(build("list", 30, ka), 0);
	dpath(dir, sizeof dir, "list");
	trail(p, sizeof p, dir);
	FILE *f = fopen(p, "a");
	fputs("garbage line\n", f);
	fclose(f);
	json_t *arr = audit_list(dir, 0, 10, &total, err, sizeof err);
	CHECK(arr != NULL);
	CHECK_EQ_INT(total, 30);
	CHECK_EQ_INT(json_array_size(arr), 10);
	for (size_t i = 0; i < json_array_size(arr); i++)
		CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, i), "seq")),
			     30 - (long)i);
	json_decref(arr);
	arr = audit_list(dir, 21, 10, &total, err, sizeof err);
	CHECK_EQ_INT(json_array_size(arr), 10);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 0), "seq")), 20);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 9), "seq")), 11);
	json_decref(arr);
	arr = audit_list(dir, 5, 10, &total, err, sizeof err);
	CHECK_EQ_INT(json_array_size(arr), 4);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 3), "seq")), 1);
	json_decref(arr);
	arr = audit_list(dir, 0, 0, &total, err, sizeof err);
	CHECK(arr && json_array_size(arr) == 0);
	CHECK_EQ_INT(total, 30);
	json_decref(arr);
	arr = audit_list(dir, 0, 1000, NULL, err, sizeof err);
	CHECK_EQ_INT(json_array_size(arr), 30);
	json_decref(arr);
	CHECK(audit_list(dir, 0, -1, &total, err, sizeof err) == NULL);
	CHECK(strstr(err, "limit") != NULL);
	dpath(dir, sizeof dir, "list-missing");
	arr = audit_list(dir, 0, 10, &total, err, sizeof err);
	CHECK(arr && json_array_size(arr) == 0);
	CHECK_EQ_INT(total, 0);
	json_decref(arr);
}

static void test_schedule_and_clock(void)
{
	char dir[512], p[600], err[256], **l;
	audit_t *a = NULL;
	dpath(dir, sizeof dir, "sched");
	cpfile(p, sizeof p, dir);
	setenv("RINGCAP_NOW", "1000", 1);
	clock_reload();
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	CHECK_EQ_INT(
	    audit_append(a, "token_added", json_pack("{s:s}", "name", "ci"), err, sizeof err), 1);
	CHECK_EQ_INT(count_lines(p), 0);
	setenv("RINGCAP_NOW", "1059.999", 1);
	clock_reload();
	CHECK_EQ_INT(audit_append(a, "token_added", NULL, err, sizeof err), 2);
	CHECK_EQ_INT(count_lines(p), 0);
	setenv("RINGCAP_NOW", "2024-05-01T12:00:00.5+02:00", 1);
	clock_reload();
	CHECK_EQ_INT(audit_append(a, "token_revoked", NULL, err, sizeof err), 3);
	CHECK_EQ_INT(count_lines(p), 1); /* 60 s passed: a checkpoint */
	for (int i = 4; i <= 18; i++)
		audit_append(a, "token_added", NULL, err, sizeof err);
	CHECK_EQ_INT(count_lines(p), 1);
	audit_append(a, "token_added", NULL, err, sizeof err); /* 19: 16 since seq 3 */
	CHECK_EQ_INT(count_lines(p), 2);
	CHECK_EQ_INT(audit_checkpoint(a, err, sizeof err), 0); /* nothing new: no checkpoint */
	CHECK_EQ_INT(count_lines(p), 2);
	audit_close(a);
	CHECK_EQ_INT(count_lines(p), 2);
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	audit_close(a); /* nothing appended: no checkpoint */
	CHECK_EQ_INT(count_lines(p), 2);
	unsetenv("RINGCAP_NOW");
	clock_reload();

	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 19);
	char b[64];
	if (n == 19) {
		CHECK_EQ_STR(member(l[0], "time", b, sizeof b), "1970-01-01T00:16:40.000000Z");
		CHECK_EQ_STR(member(l[1], "time", b, sizeof b), "1970-01-01T00:17:39.999000Z");
		CHECK_EQ_STR(member(l[2], "time", b, sizeof b), "2024-05-01T10:00:00.500000Z");
	}
	free_lines(l, n);
}

static void test_fields(void)
{
	char dir[512], p[600], err[256], **l, *rep = NULL;
	audit_t *a = NULL;
	dpath(dir, sizeof dir, "fields");
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	json_t *f =
	    json_pack("{s:i, s:s, s:s, s:s, s:s, s:{s:i, s:s}, s:n, s:b, s:s}", "seq", 999, "hash",
		      "x", "prev_hash", "y", "time", "z", "event", "other", "nested", "z", 1, "a",
		      "\xc3\xa9t\xc3\xa9", "actor", "complete", 1, "path", "/a/\"b\"\\c\n");
	CHECK_EQ_INT(audit_append(a, "request_denied", f, err, sizeof err), 1);
	CHECK_EQ_INT(audit_append(a, "url_issued", json_array(), err, sizeof err), -1);
	CHECK(strstr(err, "not a JSON object") != NULL);
	CHECK_EQ_INT(audit_append(a, "", NULL, err, sizeof err), -1);
	CHECK_EQ_INT(audit_append(a, "key_rotated", NULL, err, sizeof err), 2);
	audit_close(a);
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	CHECK_EQ_INT(n, 2);
	char b[80];
	if (n == 2) {
		CHECK_EQ_STR(member(l[0], "event", b, sizeof b), "request_denied");
		CHECK_EQ_STR(member(l[0], "prev_hash", b, sizeof b), ZEROS);
		CHECK(strstr(l[0], "\"seq\":1,") != NULL);
		CHECK(strstr(l[0], "\"nested\":{\"a\":\"\\u00E9t\\u00E9\",\"z\":1}") != NULL);
		CHECK(strstr(l[0], "\"actor\":null") != NULL);
	}
	free_lines(l, n);
	CHECK_EQ_INT(verify("fields", ka, &rep), 0);
	free(rep);
}

/* Appends a forged download_completed chained to the last record (mode as restamp_mode). */
static void append_forged(const char *name, int mode)
{
	char dir[512], p[600], **l, h[65], prev[65];
	dpath(dir, sizeof dir, name);
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	json_t *o = json_loads(l[n - 1], 0, NULL);
	json_int_t seq = json_integer_value(json_object_get(o, "seq"));
	json_decref(o);
	o = json_pack("{s:s, s:s, s:i, s:s, s:I, s:s, s:s, s:s}", "event", "download_completed",
		      "client", "10.9.9.9", "incident", 7, "url_id", "forged", "seq",
		      seq + 1, "time", "2026-01-01T00:00:00.000000Z", "mac_key", "ka", "hash", "");
	char *tmp = json_dumps(o, FLAGS);
	json_decref(o);
	char *r = restamp_mode(tmp, member(l[n - 1], "hash", prev, sizeof prev), h, mode);
	free(tmp);
	l = realloc(l, (size_t)(n + 1) * sizeof *l);
	l[n++] = r;
	write_lines(p, l, n);
	free_lines(l, n);
}

/* Rewrites records from index from on (mode as restamp_mode), "alice" -> "mlice". */
static void rewrite_from(const char *name, int from, int mode)
{
	char dir[512], p[600], **l, h[65];
	dpath(dir, sizeof dir, name);
	trail(p, sizeof p, dir);
	int n = read_lines(p, &l);
	if (from > 0)
		member(l[from - 1], "hash", h, sizeof h);
	else
		memcpy(h, ZEROS, sizeof h);
	for (int i = from; i < n; i++) {
		char nh[65], *a = strstr(l[i], "alice");
		if (a)
			a[0] = 'm';
		char *r = restamp_mode(l[i], h, nh, mode);
		free(l[i]);
		l[i] = r;
		memcpy(h, nh, sizeof h);
	}
	write_lines(p, l, n);
	free_lines(l, n);
}

/* Keeps the first keep lines of a file. */
static void keep_lines(const char *path, int keep)
{
	char **l;
	int n = read_lines(path, &l);
	write_lines(path, l, keep < n ? keep : n);
	free_lines(l, n);
}

/* Copies line idx (0-based; -1 the last) of from into the file to. */
static void save_line(const char *from, int idx, const char *to)
{
	char **l;
	int n = read_lines(from, &l);
	FILE *f = fopen(to, "w");
	if (f && n > 0)
		fprintf(f, "%s\n", l[idx < 0 ? n - 1 : idx]);
	if (f)
		fclose(f);
	free_lines(l, n);
}

static int verify_w(const char *name, const char *witness, char **rep)
{
	char dir[512], err[512];
	size_t len;
	FILE *f = open_memstream(rep, &len);
	dpath(dir, sizeof dir, name);
	int rc = audit_verify_witness(dir, ka, witness, f, err, sizeof err);
	fclose(f);
	if (rc < 0)
		printf("  audit_verify_witness: %s\n", err);
	return rc;
}

/* Sets the test clock to now + sec (or back to the real clock when sec is 0). */
static void clock_ahead(long sec)
{
	char b[32];
	if (!sec) {
		unsetenv("RINGCAP_NOW");
		clock_reload();
		return;
	}
	snprintf(b, sizeof b, "%lld", (long long)time(NULL) + sec);
	setenv("RINGCAP_NOW", b, 1);
	clock_reload();
}

/* The attacks of issue 15 without the key: each fails and is named. */
static void test_keyless_attacks(void)
{
	char dir[512], p[600], cp[600], *rep = NULL, err0[256];
	/* a correctly chained forged record appended, unkeyed (as the old format allowed) */
	CHECK_EQ_INT(build("k_fapp", 40, ka), 0);
	append_forged("k_fapp", 1);
	CHECK_EQ_INT(verify("k_fapp", ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 41 (seq 41): an unkeyed (legacy SHA-256) record after "
		       "keyed record seq 1: written without the key, so forged or rewritten");
	free(rep);
	rep = NULL;
	/* the same posing as keyed: the MAC cannot be made without the key */
	CHECK_EQ_INT(build("k_fapp2", 40, ka), 0);
	append_forged("k_fapp2", 0);
	CHECK_EQ_INT(verify("k_fapp2", ka, &rep), 1);
	CHECK_HAS(rep, "audit.jsonl line 41 (seq 41): the MAC does not match");
	free(rep);
	rep = NULL;
	/* the whole history rehashed after an edit, as legacy records */
	CHECK_EQ_INT(build("k_rehash", 40, ka), 0);
	rewrite_from("k_rehash", 0, 1);
	dpath(dir, sizeof dir, "k_rehash");
	cpfile(cp, sizeof cp, dir);
	CHECK_EQ_INT(truncate(cp, 0), 0); /* and the checkpoints that would show it removed */
	clock_ahead(AUDIT_UNSIGNED_MAX_S + 1);
	CHECK_EQ_INT(verify("k_rehash", ka, &rep), 1);
	clock_ahead(0);
	CHECK_HAS(rep, "checkpoints.jsonl: no valid checkpoint although the trail holds 40 "
		       "records");
	free(rep);
	rep = NULL;
	/* the checkpoints emptied, the trail untouched */
	CHECK_EQ_INT(build("k_nocp", 20, ka), 0);
	dpath(dir, sizeof dir, "k_nocp");
	cpfile(cp, sizeof cp, dir);
	CHECK_EQ_INT(truncate(cp, 0), 0);
	CHECK_EQ_INT(verify("k_nocp", ka, &rep), 0); /* just written: a writer may be signing */
	free(rep);
	rep = NULL;
	clock_ahead(AUDIT_UNSIGNED_MAX_S + 1);
	CHECK_EQ_INT(verify("k_nocp", ka, &rep), 1);
	clock_ahead(0);
	CHECK_HAS(rep, "checkpoints.jsonl: no valid checkpoint although the trail holds 20 "
		       "records, the first written more than 3660 s ago: the checkpoints were "
		       "deleted, emptied or replaced");
	free(rep);
	rep = NULL;
	/* the later checkpoints removed: too long an unsigned tail */
	CHECK_EQ_INT(build("k_tail", 40, ka), 0);
	dpath(dir, sizeof dir, "k_tail");
	cpfile(cp, sizeof cp, dir);
	keep_lines(cp, 1);
	clock_ahead(AUDIT_UNSIGNED_MAX_S + 1);
	CHECK_EQ_INT(verify("k_tail", ka, &rep), 1);
	clock_ahead(0);
	CHECK_HAS(rep, "checkpoints.jsonl: the last checkpoint signs seq 16 but the trail goes on "
		       "to seq 40, unsigned for more than 3660 s");
	free(rep);
	rep = NULL;
	/* the agent, opening it, signs the tail: then it verifies */
	audit_t *a = NULL;
	CHECK_EQ_INT(audit_open(dir, ka, &a, err0, sizeof err0), 0);
	audit_close(a);
	clock_ahead(AUDIT_UNSIGNED_MAX_S + 1);
	CHECK_EQ_INT(verify("k_tail", ka, &rep), 0);
	clock_ahead(0);
	CHECK_HAS(rep, "40 records, 2 checkpoints: intact");
	free(rep);
	rep = NULL;
	/* the last records cut together with their checkpoint: a valid prefix locally, caught
	 * by a witness that kept the checkpoint */
	CHECK_EQ_INT(build("k_cut", 40, ka), 0);
	dpath(dir, sizeof dir, "k_cut");
	cpfile(cp, sizeof cp, dir);
	trail(p, sizeof p, dir);
	char wit[600];
	snprintf(wit, sizeof wit, "%s/witness.jsonl", tdir);
	save_line(cp, -1, wit);
	keep_lines(cp, 2);
	keep_lines(p, 32);
	CHECK_EQ_INT(verify("k_cut", ka, &rep), 0); /* what no local check can see */
	free(rep);
	rep = NULL;
	CHECK_EQ_INT(verify_w("k_cut", wit, &rep), 1);
	CHECK_HAS(rep, "witness line 1 (seq 40): the witness saw seq 40 but the local trail ends "
		       "at seq 32: records were cut off the end");
	free(rep);
	rep = NULL;
	/* a witness that is not one: a forged signature */
	CHECK_EQ_INT(build("k_wf", 20, ka), 0);
	char wf[600];
	snprintf(wf, sizeof wf, "%s/witness-forged.jsonl", tdir);
	FILE *f = fopen(wf, "w");
	fprintf(f, "{\"head\":\"%s\",\"key_id\":\"ka\",\"seq\":3,\"sig\":\"%s%s\"}\n", ZEROS, ZEROS,
		ZEROS);
	fclose(f);
	CHECK_EQ_INT(verify_w("k_wf", wf, &rep), 1);
	CHECK_HAS(rep, "witness line 1 (seq 3): the signature does not verify under key `ka'");
	free(rep);
	rep = NULL;
	snprintf(wf, sizeof wf, "%s/no-such-witness", tdir);
	char err[256];
	dpath(dir, sizeof dir, "k_wf");
	CHECK_EQ_INT(audit_verify_witness(dir, ka, wf, NULL, err, sizeof err), -1);
	CHECK(strstr(err, "cannot open the witness") != NULL);
}

/* Someone holding the key: a local rewrite verifies, the witness catches it. */
static void test_key_holder_rewrite(void)
{
	char dir[512], cp[600], wit[600], *rep = NULL;
	CHECK_EQ_INT(build("kh", 20, ka), 0);
	dpath(dir, sizeof dir, "kh");
	cpfile(cp, sizeof cp, dir);
	snprintf(wit, sizeof wit, "%s/witness-kh.jsonl", tdir);
	save_line(cp, -1, wit); /* the checkpoint the witness kept (seq 20) */
	CHECK_EQ_INT(verify_w("kh", wit, &rep), 0);
	CHECK_HAS(rep, "intact (extends the witness)");
	free(rep);
	rep = NULL;
	/* the history rewritten with the key and re-signed by the agent's own code */
	rewrite_from("kh", 4, 2);
	CHECK_EQ_INT(truncate(cp, 0), 0);
	/* a re-signing agent: its checkpoints would sign the rewrite, which does verify
	 * locally (once the attacker removes the refusing audit_open from the picture, i.e.
	 * signs with the key by hand); here: no checkpoints, the witness alone */
	CHECK_EQ_INT(verify_w("kh", wit, &rep), 1);
	CHECK_HAS(rep, "witness line 1 (seq 20): the witness saw another record seq 20 than "
		       "audit.jsonl line 20: the trail was rewritten after the witness checkpoint");
	free(rep);
}

/* The agent does not sign a trail that does not verify. */
static void test_refuses_to_sign(void)
{
	char dir[512], cp[600], err[256], *rep = NULL;
	audit_t *a = NULL;
	CHECK_EQ_INT(build("refuse", 20, ka), 0);
	append_forged("refuse", 1);
	dpath(dir, sizeof dir, "refuse");
	cpfile(cp, sizeof cp, dir);
	int before = count_lines(cp);
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	CHECK(audit_append(a, "token_added", json_pack("{s:s}", "name", "x"), err, sizeof err) ==
	      22); /* the record itself is kept */
	CHECK_EQ_INT(audit_checkpoint(a, err, sizeof err), -1);
	CHECK(strstr(err, "refusing to sign a checkpoint") != NULL);
	audit_close(a);
	CHECK_EQ_INT(count_lines(cp), before);
	CHECK_EQ_INT(verify("refuse", ka, &rep), 1);
	CHECK_HAS(rep, "line 21 (seq 21): an unkeyed (legacy SHA-256) record");
	free(rep);
}

/* A trail of the old format (unkeyed SHA-256 records) verifies with a statement, and the keyed
 * records the agent appends after it continue it. */
static void test_legacy_trail(void)
{
	char dir[512], p[600], cp[600], err[256], *rep = NULL;
	audit_t *a = NULL;
	CHECK_EQ_INT(build("legacy", 10, ka), 0);
	rewrite_from("legacy", 0, 1); /* as written by the old version */
	dpath(dir, sizeof dir, "legacy");
	cpfile(cp, sizeof cp, dir);
	trail(p, sizeof p, dir);
	/* its checkpoint, signed as the old version did (same message, same key) */
	char **l, head[65], msg[256], sighex[129];
	int n = read_lines(p, &l);
	member(l[n - 1], "hash", head, sizeof head);
	free_lines(l, n);
	uint8_t seed[32], sig[64];
	size_t slen = 64;
	CHECK_EQ_INT(keys_subkey(ka, KEYS_PURPOSE_AUDIT, seed), 0);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	int mlen = snprintf(msg, sizeof msg, "ringcap audit checkpoint v1\n10\n%s", head);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	CHECK(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) == 1 &&
	      EVP_DigestSign(ctx, sig, &slen, (const uint8_t *)msg, (size_t)mlen) == 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	for (int i = 0; i < 64; i++)
		snprintf(sighex + 2 * i, 3, "%02x", sig[i]);
	FILE *f = fopen(cp, "w");
	fprintf(f, "{\"head\":\"%s\",\"key_id\":\"ka\",\"seq\":10,\"sig\":\"%s\"}\n", head, sighex);
	fclose(f);
	CHECK_EQ_INT(verify("legacy", ka, &rep), 0);
	CHECK_HAS(rep, "note: 10 records (up to seq 10) are in the legacy format (unkeyed SHA-256 "
		       "chain)");
	CHECK_HAS(rep, "10 records, 1 checkpoint: intact (10 legacy)");
	free(rep);
	rep = NULL;
	/* the agent goes on with keyed records */
	CHECK_EQ_INT(audit_open(dir, ka, &a, err, sizeof err), 0);
	CHECK(audit_append(a, "token_added", NULL, err, sizeof err) == 11);
	audit_close(a);
	CHECK_EQ_INT(count_lines(cp), 2);
	CHECK_EQ_INT(verify("legacy", ka, &rep), 0);
	CHECK_HAS(rep, "11 records, 2 checkpoints: intact (10 legacy)");
	free(rep);
}

static void test_empty_and_missing(void)
{
	char dir[512], p[600], *rep = NULL;
	CHECK_EQ_INT(verify("nothing-here", ka, &rep), 0);
	CHECK_HAS(rep, "does not exist");
	CHECK_HAS(rep, "0 records, 0 checkpoints: intact");
	free(rep);
	dpath(dir, sizeof dir, "empty");
	mkdir(dir, 0700);
	snprintf(p, sizeof p, "%s/audit", dir);
	mkdir(p, 0700);
	trail(p, sizeof p, dir);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	rep = NULL;
	CHECK_EQ_INT(verify("empty", ka, &rep), 0);
	CHECK_HAS(rep, "0 records, 0 checkpoints: intact");
	CHECK(strstr(rep, "does not exist") == NULL);
	free(rep);
	char err[256];
	CHECK_EQ_INT(audit_verify("", ka, NULL, err, sizeof err), -1);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	umask(022);
	log_set_level(LOG_ERR); /* the torn-line warnings are expected here */
	unsetenv("RINGCAP_NOW");
	clock_reload();
	snprintf(tdir, sizeof tdir, "%s/test_audit.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	ka = mkkeys("ka " HEXA " primary\n");
	ka_wrong = mkkeys("ka " HEXB " primary\n");
	krot = mkkeys("ka " HEXA "\nkb " HEXB " primary\n");
	kz = mkkeys("kz " HEXA " primary\n");
	if (!ka || !ka_wrong || !krot || !kz)
		return 1;
	RUN(test_chain_verifies);
	RUN(test_tamper_modified);
	RUN(test_tamper_deleted_inserted_swapped);
	RUN(test_tamper_cut_off_end);
	RUN(test_checkpoint_forged);
	RUN(test_wrong_key);
	RUN(test_rotation);
	RUN(test_torn_repaired);
	RUN(test_threads);
	RUN(test_processes);
	RUN(test_list);
	RUN(test_schedule_and_clock);
	RUN(test_fields);
	RUN(test_empty_and_missing);
	RUN(test_keyless_attacks);
	RUN(test_key_holder_rewrite);
	RUN(test_refuses_to_sign);
	RUN(test_legacy_trail);
	keys_free(ka);
	keys_free(ka_wrong);
	keys_free(krot);
	keys_free(kz);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
