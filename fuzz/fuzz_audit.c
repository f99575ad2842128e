/*
 * fuzz_audit.c - the audit trail readers on untrusted bytes (a trail or a checkpoint file someone
 * edited): audit_verify(), audit_list() and the tail check and repair of audit_open() must never
 * crash, and a trail that verifies must still verify after audit_open(), one append and
 * audit_close() (the repair and the append never break an intact trail).
 *
 * Input: the bytes of DIR/audit/audit.jsonl; if they hold a line "#checkpoints", what follows it
 * is DIR/audit/checkpoints.jsonl instead. Checkpoints verify under the key "fz" below (the seeds
 * in fuzz/corpus/audit were made with it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/audit.h"
#include "vault/keys.h"
#include "base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY "fz 5c1e0d2b9a8f7e6d5c4b3a29180706f5e4d3c2b1a09f8e7d6c5b4a3928170605 primary\n"
#define SPLIT "\n#checkpoints\n"

static char dir[256], sub[300], trail[340], cps[340];
static keys_t *keys;

static void cleanup(void)
{
	unlink(trail);
	unlink(cps);
	rmdir(sub);
	rmdir(dir);
	keys_free(keys);
}

static int setup(void)
{
	char err[256];
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/fuzz_audit.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sub, sizeof sub, "%s/%s", dir, AUDIT_SUBDIR);
	snprintf(trail, sizeof trail, "%s/%s", sub, AUDIT_FILE);
	snprintf(cps, sizeof cps, "%s/%s", sub, AUDIT_CHECKPOINTS);
	if (mkdir(sub, 0700) != 0 ||
	    keys_parse(FUZZ_KEY, strlen(FUZZ_KEY), "fuzz.key", &keys, err, sizeof err) != 0)
		return -1;
	log_set_level(LOG_ERR); /* torn lines are warned about: expected here */
	atexit(cleanup);
	return 0;
}

static void put(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

static int verify(void)
{
	char err[512], *rep = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&rep, &len);
	int rc = audit_verify(dir, keys, f, err, sizeof err);
	if (f)
		fclose(f);
	free(rep);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char err[512];
	if (!ready) {
		if (setup() != 0)
			abort();
		ready = 1;
	}
	size_t tlen = size, coff = size;
	const uint8_t *s = size >= strlen(SPLIT) ? memmem(data, size, SPLIT, strlen(SPLIT)) : NULL;
	if (s) {
		tlen = (size_t)(s - data) + 1; /* the trail keeps its newline */
		coff = (size_t)(s - data) + strlen(SPLIT);
	}
	put(trail, data, tlen);
	put(cps, data + coff, size - coff);

	int before = verify();
	long total = -1;
	json_t *arr = audit_list(dir, 0, 5, &total, err, sizeof err);
	if (arr && (json_array_size(arr) > 5 || total < (long)json_array_size(arr)))
		abort();
	json_decref(arr);
	arr = audit_list(dir, 3, 2, NULL, err, sizeof err);
	json_decref(arr);

	audit_t *a = NULL;
	if (audit_open(dir, keys, &a, err, sizeof err) == 0) {
		audit_append(a, "fuzz", json_pack("{s:i}", "n", 1), err, sizeof err);
		audit_close(a);
	}
	int after = verify();
	if (before == 0 && after != 0)
		abort(); /* repairing and appending broke an intact trail */
	return 0;
}
