/*
 * fuzz_config.c - the `key = value' config file parser (--config FILE) on untrusted bytes, with a
 * table that has every setting type: it must accept or refuse with a message, never crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/config.h"

struct fz_settings {
	int b, choice, set;
	uint64_t u, mb;
	uint32_t u32;
	int64_t sec;
	double d;
	const char *s;
};

#define OFF(f) offsetof(struct fz_settings, f)
static const struct cfg_opt fz_opts[] = {
	{ "FZ_BOOL", "bool", 0, CFG_BOOL, OFF(b), 0, 0, NULL, NULL, NULL },
	{ "FZ_UINT", "uint", 0, CFG_UINT, OFF(u), 0, 1e12, NULL, NULL, NULL },
	{ "FZ_U32", "u32", 0, CFG_U32, OFF(u32), 1, 100000, NULL, NULL, NULL },
	{ "FZ_MB", "mb", 0, CFG_MB, OFF(mb), 0, 1e9, NULL, NULL, NULL },
	{ "FZ_SEC", "sec", 0, CFG_SECONDS, OFF(sec), 0.001, 86400, NULL, NULL, NULL },
	{ "FZ_STR", "str", 0, CFG_STR, OFF(s), 0, 0, NULL, NULL, NULL },
	{ "FZ_CHOICE", "choice", 0, CFG_CHOICE, OFF(choice), 0, 0, "pcap|pcapng", NULL, NULL },
	{ NULL, "set", 0, CFG_SET, OFF(set), 1, 0, NULL, NULL, NULL },
	{ "FZ_DOUBLE", "double", 0, CFG_DOUBLE, OFF(d), -1, 1, NULL, NULL, NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/ringcap-fuzz-config-XXXXXX", err[1024];
	int fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	struct fz_settings s = { 0 };
	char *text = NULL;
	cfg_from_file(fz_opts, sizeof fz_opts / sizeof fz_opts[0], &s, path, &text, err, sizeof err);
	free(text);
	unlink(path);
	return 0;
}
