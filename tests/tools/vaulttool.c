/*
 * vaulttool.c - seals and opens vault files from the command line, for the tests and the bench.
 *
 *   vaulttool seal KEYFILE IN OUT           seal IN under the key file's primary key
 *   vaulttool open KEYFILE IN OUT           decrypt and verify all of IN
 *   vaulttool range KEYFILE IN OFF LEN OUT  decrypt plaintext bytes [OFF, OFF+LEN) of IN
 * The key file is created if missing (keys.h). Exit status 0, or 1 with the error on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "vault.h"

static int sink(void *arg, const uint8_t *data, size_t len)
{
	return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
	char err[1024];
	keys_t *k = NULL;
	int ret = 1, in = -1, out = -1;
	if (argc < 5 || (strcmp(argv[1], "range") == 0 && argc < 7)) {
		fprintf(stderr, "usage: vaulttool seal|open KEYFILE IN OUT | range KEYFILE IN OFF LEN OUT\n");
		return 2;
	}
	if (keys_load_or_create(argv[2], &k, err, sizeof err) != 0) {
		fprintf(stderr, "vaulttool: %s\n", err);
		return 1;
	}
	struct vault_keyring ring;
	keys_ring(k, &ring);
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
