/*
 * fuzz_vault.c - vault_open() and a full and a partial read of untrusted bytes.
 *
 * The input is put in a memfd and opened with the fixed test key below (key id "fuzz", master
 * key bytes 0x00..0x1f); the seeds in fuzz/corpus/vault/ are small files sealed under it, plus a
 * truncated and a corrupted one. A file that opens must read back exactly vault_plain_size()
 * bytes or fail with VAULT_EAUTH naming a segment; a broken property aborts.
 */
#include "vault/vault.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fuzz_count(void *arg, const uint8_t *d, size_t n)
{
	uint64_t *total = arg;
	volatile uint8_t x = 0;
	size_t i;

	for (i = 0; i < n; i++) /* touch every byte for ASan */
		x ^= d[i];
	(void)x;
	*total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_key k = {"fuzz", {0}};
	const struct vault_keyring ring = {&k, 1};
	vault_reader_t *r = NULL;
	char err[256];
	uint64_t total = 0, psize;
	int fd, rc, i;

	for (i = 0; i < (int)VAULT_KEY_LEN; i++)
		k.master[i] = (uint8_t)i;
	fd = memfd_create("fuzz_vault", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fuzz_write_all(fd, data, size) != 0)
		goto out;
	rc = vault_open_fd(fd, &ring, &r, err, sizeof err);
	if (rc) {
		if (r || rc > 0 || !err[0])
			abort();
		goto out;
	}
	psize = vault_plain_size(r);
	rc = vault_read_range(r, 0, psize, fuzz_count, &total, err, sizeof err);
	if (rc == 0 && total != psize)
		abort();
	if (rc != 0 && (rc != VAULT_EAUTH || !strstr(err, "segment ")))
		abort();
	total = 0;
	rc = vault_read_range(r, psize / 3, psize / 2, fuzz_count, &total, err, sizeof err);
	if (rc == 0 && total != psize / 2)
		abort();
	if (vault_read_range(r, psize, 1, fuzz_count, &total, err, sizeof err) != VAULT_EINVAL)
		abort();
out:
	vault_reader_close(r);
	close(fd);
	return 0;
}
