/*
 * fuzz_pcaprepair.c - pcapfile_repair() on untrusted bytes.
 *
 * The input is written to a temporary file, repaired, and checked: a repair either refuses the
 * file and leaves it untouched, or keeps a prefix of it (size + cut = input size, at least the
 * 24-byte header, the kept bytes unchanged) that a second repair leaves exactly as it is. A broken
 * property aborts, so the fuzzer reports it like a crash. The file is deleted afterwards.
 */
#include "outputs/pcapfile.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* The file still holds data[0..len). */
static int fuzz_same_prefix(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint8_t buf[65536];
	size_t off = 0;
	int ok = 1;
	while (ok && off < len) {
		size_t want = len - off < sizeof buf ? len - off : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n <= 0 || memcmp(buf, data + off, (size_t)n) != 0)
			ok = 0;
		else
			off += (size_t)n;
	}
	close(fd);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	char path[512], err[1024];
	struct stat st;
	uint64_t cut = 0, cut2 = 0;

	snprintf(path, sizeof path, "%s/fuzz_pcaprepair_XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	int wr = fuzz_write_all(fd, data, size);
	close(fd);
	if (wr != 0)
		goto out;

	long n = pcapfile_repair(path, &cut, err, sizeof err);
	if (stat(path, &st) != 0)
		abort();
	if (n < 0) {
		/* refused: not touched, and said why */
		if ((uint64_t)st.st_size != size || cut != 0 || err[0] == '\0')
			abort();
		goto out;
	}
	if ((uint64_t)st.st_size + cut != size || st.st_size < (off_t)PCAPFILE_HDR_LEN)
		abort();
	if ((uint64_t)n * PCAPFILE_REC_HDR_LEN > (uint64_t)st.st_size - PCAPFILE_HDR_LEN)
		abort();
	if (!fuzz_same_prefix(path, data, (size_t)st.st_size))
		abort();
	if (pcapfile_repair(path, &cut2, err, sizeof err) != n || cut2 != 0)
		abort();
out:
	unlink(path);
	return 0;
}
