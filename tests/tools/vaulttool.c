/*
 * vaulttool.c - seals and opens vault files from the command line, for the tests and the bench.
 *
 *   vaulttool seal KEYFILE IN OUT           seal IN under the key file's primary key
 *   vaulttool open KEYFILE IN OUT           decrypt and verify all of IN
 *   vaulttool range KEYFILE IN OFF LEN OUT  decrypt plaintext bytes [OFF, OFF+LEN) of IN
 *   vaulttool roundtrip KEYFILE TMPDIR FILE...
 *       for each FILE: seal it into TMPDIR, open it again and compare with FILE, and decrypt its
 *       middle third alone and compare that; one process for a whole corpus (a sanitizer build
 *       pays its start-up once). Prints a line per failure and "N files, N failed".
 * The key file is created if missing (keys.h). Exit status 0, or 1 with the error on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/keys.h"
#include "vault/vault.h"

static int sink(void *arg, const uint8_t *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

/* Reads all of path into *buf (malloc'd). Returns its length, or -1. */
static long slurp(const char *path, uint8_t **buf)
{
	FILE *f = fopen(path, "rb");
	long n = -1;
	*buf = NULL;
	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		*buf = malloc((size_t)n + 1);
		if (!*buf || fread(*buf, 1, (size_t)n, f) != (size_t)n)
			n = -1;
	}
	if (f)
		fclose(f);
	return n;
}

struct cmp_sink {
	const uint8_t *want;
	size_t len, pos;
};

/* Compares what the vault hands out with the original bytes, in order. */
static int sink_cmp(void *arg, const uint8_t *data, size_t len)
{
	struct cmp_sink *c = arg;
	if (len > c->len - c->pos || memcmp(c->want + c->pos, data, len) != 0)
		return -1;
	c->pos += len;
	return 0;
}

/* One file of `roundtrip'. Returns 0, or -1 with the reason in err. */
static int roundtrip_one(const char *path, const char *enc, const struct vault_key *key,
			 const struct vault_keyring *ring, char *err, size_t errlen)
{
	uint8_t *want = NULL;
	long n = slurp(path, &want);
	int ret = -1, in = -1, out = -1;
	vault_reader_t *r = NULL;
	if (n < 0) {
		snprintf(err, errlen, "cannot read it");
		goto out;
	}
	in = open(path, O_RDONLY);
	out = open(enc, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0) {
		snprintf(err, errlen, "cannot open it or %.200s", enc);
		goto out;
	}
	if (vault_seal_fd(in, out, key, err, errlen) != 0)
		goto out;
	if (vault_open(enc, ring, &r, err, errlen) != 0)
		goto out;
	struct cmp_sink all = {.want = want, .len = (size_t)n};
	int rc = vault_read_range(r, 0, (uint64_t)n, sink_cmp, &all, err, errlen);
	if (rc != 0 || all.pos != (size_t)n) {
		if (rc == VAULT_ESINK || rc == 0)
			snprintf(err, errlen, "opened bytes differ from the file at %zu", all.pos);
		goto out;
	}
	if (vault_plain_size(r) != (uint64_t)n) {
		snprintf(err, errlen, "plaintext size %llu, file %ld",
			 (unsigned long long)vault_plain_size(r), n);
		goto out;
	}
	/* the middle third alone */
	size_t off = (size_t)n / 3, len = (size_t)n / 3;
	struct cmp_sink mid = {.want = want + off, .len = len};
	rc = vault_read_range(r, off, len, sink_cmp, &mid, err, errlen);
	if (rc != 0 || mid.pos != len) {
		if (rc == VAULT_ESINK || rc == 0)
			snprintf(err, errlen, "range %zu+%zu differs at %zu", off, len, mid.pos);
		goto out;
	}
	ret = 0;
out:
	vault_reader_close(r);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(want);
	return ret;
}

static int roundtrip(keys_t *k, const struct vault_keyring *ring, const char *tmpdir, int nfiles,
		     char **files)
{
	char enc[4096], err[1024];
	int failed = 0;
	snprintf(enc, sizeof enc, "%s/roundtrip.enc", tmpdir);
	for (int i = 0; i < nfiles; i++) {
		if (roundtrip_one(files[i], enc, keys_primary(k), ring, err, sizeof err) != 0) {
			printf("round trip failed: %s: %s\n", files[i], err);
			failed++;
		}
	}
	unlink(enc);
	printf("%d files, %d failed\n", nfiles, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	char err[1024];
	keys_t *k = NULL;
	int ret = 1, in = -1, out = -1;
	if (argc < 5 || (strcmp(argv[1], "range") == 0 && argc < 7)) {
		fprintf(stderr, "usage: vaulttool seal|open KEYFILE IN OUT | range KEYFILE IN OFF LEN OUT"
				" | roundtrip KEYFILE TMPDIR FILE...\n");
		return 2;
	}
	if (keys_load_or_create(argv[2], &k, err, sizeof err) != 0) {
		fprintf(stderr, "vaulttool: %s\n", err);
		return 1;
	}
	struct vault_keyring ring;
	keys_ring(k, &ring);
	if (strcmp(argv[1], "roundtrip") == 0) {
		ret = roundtrip(k, &ring, argv[3], argc - 4, argv + 4);
		goto out;
	}
	if (strcmp(argv[1], "range") == 0) {
		vault_reader_t *r = NULL;
		FILE *f = fopen(argv[6], "wb");
		if (!f || vault_open(argv[3], &ring, &r, err, sizeof err) != 0 ||
		    vault_read_range(r, strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10), sink,
				     f, err, sizeof err) != 0) {
			fprintf(stderr, "vaulttool: %s\n", f ? err : "cannot write the output");
		} else {
			ret = 0;
		}
		vault_reader_close(r);
		if (f && fclose(f) != 0)
			ret = 1;
		goto out;
	}
	in = open(argv[3], O_RDONLY);
	out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in < 0 || out < 0) {
		perror("vaulttool");
		goto out;
	}
	int r = strcmp(argv[1], "seal") == 0
			? vault_seal_fd(in, out, keys_primary(k), err, sizeof err)
			: vault_unseal_fd(in, out, &ring, err, sizeof err);
	if (r != 0)
		fprintf(stderr, "vaulttool: %s\n", err);
	else
		ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		ret = 1;
	keys_free(k);
	return ret;
}
