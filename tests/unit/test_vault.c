/*
 * test_vault.c - the encrypted vault format: round trips at segment-size edges, range reads,
 * tampering (header, segment bytes, tags, truncation, swapped segments), keys, and rewrap.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"
#include "vault/vault.h"

#define SEG VAULT_SEG_LEN
#define SEGT (VAULT_SEG_LEN + VAULT_TAG_LEN)

static char tdir[256];

static struct vault_key key_a = {"ops-2026", {1, 2, 3, 4, 5, 6, 7, 8}};
static struct vault_key key_b = {"ops-2027", {9, 9, 9, 9, 9, 9, 9, 9}};

static const struct vault_keyring ring_a = {&key_a, 1};
static const struct vault_keyring ring_b = {&key_b, 1};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static uint8_t *rnd_buf(size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
	return b;
}

static void tpath(char *p, size_t len, const char *name)
{
	snprintf(p, len, "%s/%s", tdir, name);
}

static int write_file(const char *p, const uint8_t *d, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = n == 0 || write(fd, d, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static uint8_t *read_file(const char *p, size_t *n)
{
	struct stat st;
	uint8_t *b;
	int fd = open(p, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	b = malloc((size_t)st.st_size + 1);
	*n = (size_t)read(fd, b, (size_t)st.st_size);
	close(fd);
	return b;
}

/* Seals plain into file name; returns the sealed size or -1. */
static long seal_to(const char *name, const uint8_t *plain, size_t n, const struct vault_key *k)
{
	char pin[300], pout[300], err[256];
	int in, out, rc;
	struct stat st;

	tpath(pin, sizeof pin, "plain.tmp");
	tpath(pout, sizeof pout, name);
	if (write_file(pin, plain, n) != 0)
		return -1;
	in = open(pin, O_RDONLY);
	out = open(pout, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	rc = vault_seal_fd(in, out, k, err, sizeof err);
	if (rc)
		printf("  seal: %s\n", err);
	close(in);
	close(out);
	unlink(pin);
	if (rc || stat(pout, &st) != 0)
		return -1;
	return (long)st.st_size;
}

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static int sink_buf(void *arg, const uint8_t *d, size_t n)
{
	struct buf *b = arg;

	if (b->n + n > b->cap)
		return -1;
	memcpy(b->p + b->n, d, n);
	b->n += n;
	return 0;
}

/* Opens name with ring and reads all of it; returns the VAULT_E* code, err holds the message. */
static int open_read_all(const char *name, const struct vault_keyring *ring, struct buf *b,
			 char *err, size_t errlen)
{
	char p[300];
	vault_reader_t *r = NULL;
	int rc;

	tpath(p, sizeof p, name);
	err[0] = '\0';
	rc = vault_open(p, ring, &r, err, errlen);
	if (rc)
		return rc;
	rc = vault_read_range(r, 0, vault_plain_size(r), sink_buf, b, err, errlen);
	vault_reader_close(r);
	return rc;
}

static const size_t rt_sizes[] = {0, 1, 65535, 65536, 65537, 3 * 65536 + 5, 1000003};

static void test_vault_round_trip(void)
{
	size_t i;

	for (i = 0; i < sizeof rt_sizes / sizeof rt_sizes[0]; i++) {
		size_t n = rt_sizes[i];
		uint8_t *plain = rnd_buf(n);
		struct buf b = {malloc(n + 1), 0, n + 1};
		char err[256];
		long sz = seal_to("rt.vault", plain, n, &key_a);
		size_t nseg = n == 0 ? 1 : (n + SEG - 1) / SEG;

		CHECK_EQ_INT(sz, (long)(VAULT_HDR_LEN + n + nseg * VAULT_TAG_LEN));
		CHECK_EQ_INT(open_read_all("rt.vault", &ring_a, &b, err, sizeof err), 0);
		CHECK_EQ_INT(b.n, n);
		CHECK(b.n == n && memcmp(b.p, plain, n) == 0);
		free(plain);
		free(b.p);
	}
}

static void test_vault_unseal_fd(void)
{
	size_t n = 3 * SEG + 5, got = 0;
	uint8_t *plain = rnd_buf(n), *out;
	char p[300], po[300], err[256];
	int in, fo;

	CHECK(seal_to("u.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "u.vault");
	tpath(po, sizeof po, "u.plain");
	in = open(p, O_RDONLY);
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ_INT(vault_unseal_fd(in, fo, &ring_a, err, sizeof err), 0);
	close(in);
	close(fo);
	out = read_file(po, &got);
	CHECK(out && got == n && memcmp(out, plain, n) == 0);
	free(out);
	free(plain);
}

static int check_range(vault_reader_t *r, const uint8_t *plain, uint64_t off, uint64_t len)
{
	struct buf b = {malloc(len + 1), 0, len + 1};
	char err[256];
	int ok;

	ok = vault_read_range(r, off, len, sink_buf, &b, err, sizeof err) == 0 && b.n == len &&
	     memcmp(b.p, plain + off, len) == 0;
	if (!ok)
		printf("  range %llu+%llu failed: %s\n", (unsigned long long)off,
		       (unsigned long long)len, err);
	free(b.p);
	return ok;
}

static void test_vault_ranges(void)
{
	size_t n = 5 * SEG + 777;
	uint8_t *plain = rnd_buf(n);
	vault_reader_t *r = NULL;
	char p[300], err[256];
	uint64_t s, off, len;
	int i;

	CHECK(seal_to("rg.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "rg.vault");
	CHECK_EQ_INT(vault_open(p, &ring_a, &r, err, sizeof err), 0);
	if (!r)
		goto out;
	CHECK_EQ_INT(vault_plain_size(r), n);
	CHECK_EQ_INT(vault_segments(r), 6);
	CHECK_EQ_STR(vault_key_id(r), "ops-2026");
	for (s = 0; s <= 6; s++) {
		uint64_t b = s * SEG < n ? s * SEG : n;

		for (off = b >= 3 ? b - 3 : 0; off <= b + 3 && off <= n; off++) {
			CHECK(check_range(r, plain, off, 0));
			if (off < n)
				CHECK(check_range(r, plain, off, 1));
			CHECK(check_range(r, plain, off, (n - off) < 7 ? n - off : 7));
			CHECK(check_range(r, plain, off, n - off));
			CHECK(check_range(r, plain, 0, off));
		}
	}
	for (i = 0; i < 200; i++) {
		off = rnd() % (n + 1);
		len = rnd() % (n - off + 1);
		if (i % 2)
			len %= 3000;
		CHECK(check_range(r, plain, off, len));
	}
	/* past the end */
	CHECK_EQ_INT(vault_read_range(r, n, 1, sink_buf, NULL, err, sizeof err), VAULT_EINVAL);
	CHECK_EQ_INT(vault_read_range(r, n + 1, 0, sink_buf, NULL, err, sizeof err), VAULT_EINVAL);
	CHECK_EQ_INT(vault_read_range(r, 1, UINT64_MAX, sink_buf, NULL, err, sizeof err),
		     VAULT_EINVAL);
out:
	vault_reader_close(r);
	free(plain);
}

/* Rewrites the sealed file orig (bytes d, n) into name with byte at pos xor'ed. */
static void flip_to(const char *name, const uint8_t *d, size_t n, size_t pos)
{
	uint8_t *c = malloc(n);
	char p[300];

	memcpy(c, d, n);
	c[pos] ^= 0x20;
	tpath(p, sizeof p, name);
	write_file(p, c, n);
	free(c);
}

static void expect_fail(const char *name, int code, const char *needle, size_t plain_n)
{
	struct buf b = {malloc(plain_n + 1), 0, plain_n + 1};
	char err[256];
	int rc = open_read_all(name, &ring_a, &b, err, sizeof err);

	CHECK_EQ_INT(rc, code);
	if (needle && !strstr(err, needle)) {
		printf("  error `%s' does not contain `%s'\n", err, needle);
		CHECK(0);
	}
	free(b.p);
}

static void test_vault_tamper(void)
{
	size_t n = 3 * SEG + 5, cn = 0, s, i;
	uint8_t *plain = rnd_buf(n), *c;
	char p[300], needle[64];
	static const size_t hdr_pos[] = {0, 7, 8, 9, 12, 18, 19, 34, 35, 50, 90, 94};

	CHECK(seal_to("t.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "t.vault");
	c = read_file(p, &cn);
	CHECK_EQ_INT(cn, VAULT_HDR_LEN + n + 4 * VAULT_TAG_LEN);
	/* the header: any byte is caught before a segment is read */
	for (i = 0; i < sizeof hdr_pos / sizeof hdr_pos[0]; i++) {
		struct buf b = {malloc(n), 0, n};
		char err[256];
		int rc;

		flip_to("f.vault", c, cn, hdr_pos[i]);
		rc = open_read_all("f.vault", &ring_a, &b, err, sizeof err);
		CHECK(rc == VAULT_EFORMAT || rc == VAULT_EKEY);
		CHECK_EQ_INT(b.n, 0);
		free(b.p);
	}
	/* a byte of each segment's ciphertext, first and last, and of each tag */
	for (s = 0; s < 4; s++) {
		size_t start = VAULT_HDR_LEN + s * SEGT;
		size_t plen = s < 3 ? SEG : 5;

		snprintf(needle, sizeof needle, "segment %zu does not verify", s);
		flip_to("f.vault", c, cn, start);
		expect_fail("f.vault", VAULT_EAUTH, needle, n);
		flip_to("f.vault", c, cn, start + plen - 1);
		expect_fail("f.vault", VAULT_EAUTH, needle, n);
		flip_to("f.vault", c, cn, start + plen);
		expect_fail("f.vault", VAULT_EAUTH, needle, n);
		flip_to("f.vault", c, cn, start + plen + VAULT_TAG_LEN - 1);
		expect_fail("f.vault", VAULT_EAUTH, needle, n);
	}
	free(c);
	free(plain);
}

static void test_vault_unseal_stops_at_bad_segment(void)
{
	size_t n = 3 * SEG + 5, cn = 0, got = 0;
	uint8_t *plain = rnd_buf(n), *c, *out;
	char p[300], po[300], err[256];
	int in, fo;

	CHECK(seal_to("s.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "s.vault");
	c = read_file(p, &cn);
	flip_to("s.vault", c, cn, VAULT_HDR_LEN + 2 * SEGT + 100);
	tpath(po, sizeof po, "s.plain");
	in = open(p, O_RDONLY);
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ_INT(vault_unseal_fd(in, fo, &ring_a, err, sizeof err), VAULT_EAUTH);
	CHECK(strstr(err, "segment 2 does not verify") != NULL);
	close(in);
	close(fo);
	out = read_file(po, &got);
	CHECK_EQ_INT(got, 2 * SEG);
	CHECK(out && memcmp(out, plain, 2 * SEG) == 0);
	free(out);
	free(c);
	free(plain);
}

static void test_vault_truncate_and_swap(void)
{
	size_t n = 3 * SEG + 5, cn = 0, i;
	uint8_t *plain = rnd_buf(n), *c, *sw;
	char p[300];
	/* lengths to cut the file to: each is caught by vault_open, before any byte is read */
	const size_t cuts[] = {
	    0,
	    10,
	    VAULT_HDR_LEN - 1,
	    VAULT_HDR_LEN,
	    VAULT_HDR_LEN + 8,
	    VAULT_HDR_LEN + 100,
	    VAULT_HDR_LEN + SEGT - 1,
	    VAULT_HDR_LEN + SEGT,	  /* at a boundary */
	    VAULT_HDR_LEN + SEGT + 16,	  /* an "empty" segment after a full one */
	    VAULT_HDR_LEN + 2 * SEGT + 3, /* mid segment */
	    VAULT_HDR_LEN + 3 * SEGT,	  /* the last segment removed */
	    VAULT_HDR_LEN + 3 * SEGT + 20,
	};

	CHECK(seal_to("c.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "c.vault");
	c = read_file(p, &cn);
	for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct buf b = {malloc(n), 0, n};
		char err[256];
		int rc;

		tpath(p, sizeof p, "cut.vault");
		write_file(p, c, cuts[i]);
		rc = open_read_all("cut.vault", &ring_a, &b, err, sizeof err);
		if (cuts[i] < VAULT_HDR_LEN)
			CHECK_EQ_INT(rc, VAULT_EFORMAT);
		else
			CHECK_EQ_INT(rc, VAULT_EAUTH);
		CHECK_EQ_INT(b.n, 0);
		free(b.p);
	}
	/* swap segments 0 and 1 (both full) */
	sw = malloc(cn);
	memcpy(sw, c, cn);
	memcpy(sw + VAULT_HDR_LEN, c + VAULT_HDR_LEN + SEGT, SEGT);
	memcpy(sw + VAULT_HDR_LEN + SEGT, c + VAULT_HDR_LEN, SEGT);
	tpath(p, sizeof p, "sw.vault");
	write_file(p, sw, cn);
	expect_fail("sw.vault", VAULT_EAUTH, "segment 0 does not verify", n);
	/* a segment duplicated over its neighbour */
	memcpy(sw, c, cn);
	memcpy(sw + VAULT_HDR_LEN + SEGT, c + VAULT_HDR_LEN, SEGT);
	write_file(p, sw, cn);
	expect_fail("sw.vault", VAULT_EAUTH, "segment 1 does not verify", n);
	free(sw);
	free(c);
	free(plain);
}

static void test_vault_splice_other_file(void)
{
	size_t n = 2 * SEG + 5, an = 0, bn = 0;
	uint8_t *plain = rnd_buf(n), *a, *b;
	char p[300];

	CHECK(seal_to("x1.vault", plain, n, &key_a) > 0);
	CHECK(seal_to("x2.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "x1.vault");
	a = read_file(p, &an);
	tpath(p, sizeof p, "x2.vault");
	b = read_file(p, &bn);
	CHECK(an == bn && memcmp(a + VAULT_HDR_LEN, b + VAULT_HDR_LEN, 100) != 0);
	memcpy(a + VAULT_HDR_LEN + SEGT, b + VAULT_HDR_LEN + SEGT, SEGT);
	tpath(p, sizeof p, "x3.vault");
	write_file(p, a, an);
	expect_fail("x3.vault", VAULT_EAUTH, "segment 1 does not verify", n);
	free(a);
	free(b);
	free(plain);
}

static void test_vault_keys(void)
{
	size_t n = 1000;
	uint8_t *plain = rnd_buf(n);
	struct vault_key wrong = {"ops-2026", {1, 2, 3, 4, 5, 6, 7, 9}};
	const struct vault_keyring ring_wrong = {&wrong, 1};
	struct vault_key two[2];
	const struct vault_keyring ring_two = {two, 2};
	struct vault_key bad = key_a;
	struct buf b = {malloc(n), 0, n};
	char err[256];
	int fd;

	CHECK(seal_to("k.vault", plain, n, &key_a) > 0);
	expect_fail("k.vault", 0, NULL, n);
	CHECK_EQ_INT(open_read_all("k.vault", &ring_wrong, &b, err, sizeof err), VAULT_EKEY);
	CHECK(strstr(err, "key `ops-2026' does not open this file") != NULL);
	CHECK_EQ_INT(open_read_all("k.vault", &ring_b, &b, err, sizeof err), VAULT_EKEY);
	CHECK(strstr(err, "`ops-2026', which is not in the keyring") != NULL);
	CHECK_EQ_INT(open_read_all("k.vault", NULL, &b, err, sizeof err), VAULT_EKEY);
	/* the right key found among several */
	two[0] = key_b;
	two[1] = key_a;
	b.n = 0;
	CHECK_EQ_INT(open_read_all("k.vault", &ring_two, &b, err, sizeof err), 0);
	CHECK(b.n == n && memcmp(b.p, plain, n) == 0);
	/* invalid key ids are refused when sealing */
	fd = open("/dev/null", O_RDONLY);
	bad.id = "";
	CHECK_EQ_INT(vault_seal_fd(fd, fd, &bad, err, sizeof err), VAULT_EINVAL);
	bad.id = "seventeen-chars-x";
	CHECK_EQ_INT(vault_seal_fd(fd, fd, &bad, err, sizeof err), VAULT_EINVAL);
	bad.id = "has space";
	CHECK_EQ_INT(vault_seal_fd(fd, fd, &bad, err, sizeof err), VAULT_EINVAL);
	close(fd);
	free(b.p);
	free(plain);
}

static void test_vault_derive(void)
{
	uint8_t a[32], b[32], c[32];

	CHECK_EQ_INT(vault_derive(key_a.master, VAULT_PURPOSE_FILE, a), 0);
	CHECK_EQ_INT(vault_derive(key_a.master, VAULT_PURPOSE_FILE, b), 0);
	CHECK_EQ_INT(vault_derive(key_a.master, "ringcap url signing v1", c), 0);
	CHECK(memcmp(a, b, 32) == 0);
	CHECK(memcmp(a, c, 32) != 0);
	CHECK(memcmp(a, key_a.master, 32) != 0);
}

static void test_vault_rewrap(void)
{
	size_t n = 2 * SEG + 9, on = 0, nn = 0;
	uint8_t *plain = rnd_buf(n), *o, *w;
	struct buf b = {malloc(n), 0, n};
	char p[300], err[256];

	CHECK(seal_to("rw.vault", plain, n, &key_a) > 0);
	tpath(p, sizeof p, "rw.vault");
	o = read_file(p, &on);
	/* the wrong old key changes nothing */
	CHECK_EQ_INT(vault_rewrap(p, &ring_b, &key_b, err, sizeof err), VAULT_EKEY);
	CHECK_EQ_INT(vault_rewrap(p, &ring_a, &key_b, err, sizeof err), 0);
	w = read_file(p, &nn);
	CHECK_EQ_INT(nn, on);
	CHECK(nn == on && memcmp(o + VAULT_HDR_LEN, w + VAULT_HDR_LEN, on - VAULT_HDR_LEN) == 0);
	CHECK(memcmp(o, w, VAULT_HDR_LEN) != 0);
	CHECK_EQ_INT(open_read_all("rw.vault", &ring_a, &b, err, sizeof err), VAULT_EKEY);
	CHECK_EQ_INT(open_read_all("rw.vault", &ring_b, &b, err, sizeof err), 0);
	CHECK(b.n == n && memcmp(b.p, plain, n) == 0);
	/* the temporary file is gone */
	tpath(p, sizeof p, "rw.vault.rewrap.tmp");
	CHECK(access(p, F_OK) != 0);
	free(o);
	free(w);
	free(b.p);
	free(plain);
}

static void test_vault_not_a_vault(void)
{
	char p[300], err[256];
	uint8_t junk[VAULT_HDR_LEN + 40];
	vault_reader_t *r = (vault_reader_t *)&err;

	tpath(p, sizeof p, "none.vault");
	CHECK_EQ_INT(vault_open(p, &ring_a, &r, err, sizeof err), VAULT_EIO);
	CHECK(r == NULL);
	CHECK(strstr(err, "none.vault") != NULL);
	memset(junk, 'x', sizeof junk);
	write_file(p, junk, sizeof junk);
	CHECK_EQ_INT(vault_open(p, &ring_a, &r, err, sizeof err), VAULT_EFORMAT);
	CHECK(strstr(err, "bad magic") != NULL);
}

static int rm_dir(const char *d)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	return system(cmd);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tdir, sizeof tdir, "%s/test_vault.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_vault_derive);
	RUN(test_vault_round_trip);
	RUN(test_vault_unseal_fd);
	RUN(test_vault_ranges);
	RUN(test_vault_tamper);
	RUN(test_vault_unseal_stops_at_bad_segment);
	RUN(test_vault_truncate_and_swap);
	RUN(test_vault_splice_other_file);
	RUN(test_vault_keys);
	RUN(test_vault_rewrap);
	RUN(test_vault_not_a_vault);
	if (rm_dir(tdir) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	return test_main_end();
}
