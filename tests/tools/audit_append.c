/*
 * audit_append - test tool: appends records to the audit trail of DIR, as the agent would.
 *
 *   audit_append DIR EVENT N [KEY=VALUE...]
 *
 * Opens DIR/audit with the key file keys_path(DIR) (created if missing, as the agent does),
 * appends N records of EVENT with the given members (VALUE as a JSON integer if it is one,
 * true/false/null as such, else a string; "%i" in a VALUE becomes the record's index 1..N), and
 * closes the trail (which writes the final checkpoint). Prints the seq of the last record.
 * Exit status 0, 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/audit.h"
#include "vault/keys.h"

static json_t *value(const char *v, long i)
{
	char buf[1024];
	const char *p = strstr(v, "%i");
	if (p) {
		snprintf(buf, sizeof buf, "%.*s%ld%s", (int)(p - v), v, i, p + 2);
		v = buf;
	}
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (*v && !*end && !errno)
		return json_integer(n);
	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	if (strcmp(v, "null") == 0)
		return json_null();
	return json_string(v);
}

int main(int argc, char **argv)
{
	char kpath[4096], err[8600];
	keys_t *keys = NULL;
	audit_t *a = NULL;
	if (argc < 4) {
		fprintf(stderr, "usage: audit_append DIR EVENT N [KEY=VALUE...]\n");
		return 2;
	}
	char *end;
	long n = strtol(argv[3], &end, 10);
	if (*end || n < 0) {
		fprintf(stderr, "audit_append: bad count `%s'\n", argv[3]);
		return 2;
	}
	for (int j = 4; j < argc; j++)
		if (!strchr(argv[j], '=') || argv[j][0] == '=') {
			fprintf(stderr, "audit_append: expected KEY=VALUE, not `%s'\n", argv[j]);
			return 2;
		}
	if (keys_path(argv[1], kpath, sizeof kpath) != 0 ||
	    keys_load_or_create(kpath, &keys, err, sizeof err) != 0 ||
	    audit_open(argv[1], keys, &a, err, sizeof err) != 0) {
		fprintf(stderr, "audit_append: %s\n", err);
		keys_free(keys);
		return 1;
	}
	long seq = 0;
	for (long i = 1; i <= n; i++) {
		json_t *f = json_object();
		for (int j = 4; f && j < argc; j++) {
			char key[256];
			const char *eq = strchr(argv[j], '=');
			snprintf(key, sizeof key, "%.*s", (int)(eq - argv[j]), argv[j]);
			json_object_set_new(f, key, value(eq + 1, i));
		}
		seq = audit_append(a, argv[2], f, err, sizeof err);
		if (seq < 0) {
			fprintf(stderr, "audit_append: %s\n", err);
			audit_close(a);
			keys_free(keys);
			return 1;
		}
	}
	audit_close(a);
	keys_free(keys);
	printf("%ld\n", seq);
	return 0;
}
