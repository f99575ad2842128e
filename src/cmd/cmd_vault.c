/*
 * cmd_vault.c - the evidence vault's maintenance commands:
 *   ringcap keys list [-o DIR]        the key ids in the key file and which one is primary
 *   ringcap keys rotate [-o DIR]      a new primary key; every sealed capture re-wrapped under it
 *   ringcap retention [-o DIR] [--retention-days D]   one retention sweep now
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "base/config.h"
#include "base/log.h"
#include "vault/store.h"

struct vault_settings {
	const char *outdir;
	double retention_days;
};

#define OFF(f) offsetof(struct vault_settings, f)
static const struct cfg_opt keys_opts[] = {
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "the agent's output folder (default ./output); the key file is $RINGCAP_KEY_FILE or "
	  "DIR/keys/master.key" },
};
static const struct cfg_opt ret_opts[] = {
	{ NULL, "output", 'o', CFG_STR, OFF(outdir), 0, 0, NULL, "DIR",
	  "the agent's output folder (default ./output)" },
	{ "RETENTION_DAYS", "retention-days", 0, CFG_DOUBLE, OFF(retention_days), 0, 36500, NULL,
	  "DAYS", "delete captures DAYS after their incident resolved (default 7; 0 keeps)" },
};
#define N_OPTS(t) (sizeof t / sizeof t[0])

/* Parses options; returns -1 to go on, or an exit status. */
static int parse(const struct cfg_opt *opts, size_t n, struct vault_settings *s, int argc,
		 char **argv, const char *usage)
{
	char err[512];
	int help = 0, rest = 0;
	s->outdir = "./output";
	s->retention_days = 7;
	if (cfg_from_config_option(opts, n, s, &argc, argv, err, sizeof err) != 0 ||
	    cfg_from_env(opts, n, s, err, sizeof err) != 0 ||
	    cfg_from_args(opts, n, s, argc, argv, &rest, &help, err, sizeof err) != 0) {
		log_err("%s", err);
		return EXIT_USAGE;
	}
	if (help) {
		printf("Usage: %s\n\n", usage);
		cfg_print_help(opts, n, stdout);
		return 0;
	}
	if (rest < argc) {
		log_err("unexpected argument `%s'", argv[rest]);
		return EXIT_USAGE;
	}
	return -1;
}

int cmd_keys_main(int argc, char **argv)
{
	const char *usage = "ringcap keys (list | rotate) [-o DIR]";
	struct vault_settings s;
	char err[4600], path[4200];
	if (argc < 2 || (strcmp(argv[1], "rotate") != 0 && strcmp(argv[1], "list") != 0)) {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			printf("Usage: %s\n", usage);
			return 0;
		}
		log_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	int rc = parse(keys_opts, N_OPTS(keys_opts), &s, argc - 1, argv + 1, usage);
	if (rc >= 0)
		return rc;
	if (strcmp(argv[1], "list") == 0) {
		keys_t *k = NULL;
		if (keys_path(s.outdir, path, sizeof path) != 0 ||
		    keys_load_or_create(path, &k, err, sizeof err) != 0) {
			log_err("%s", err);
			return 1;
		}
		struct vault_keyring ring;
		keys_ring(k, &ring);
		printf("key file %s\n", path);
		for (size_t i = 0; i < ring.n; i++)
			printf("  %s%s\n", ring.keys[i].id,
			       strcmp(ring.keys[i].id, keys_primary(k)->id) == 0 ? " (primary)" : "");
		keys_free(k);
		return 0;
	}
	struct store_config sc = { .dir = s.outdir };
	store_t *st = store_open(&sc, err, sizeof err);
	if (!st) {
		log_err("%s", err);
		return 1;
	}
	char id[VAULT_KEY_ID_MAX + 1] = "";
	int n = store_rotate_keys(st, id, sizeof id, err, sizeof err);
	store_close(st);
	if (n < 0) {
		log_err("key rotation: %s", err);
		if (*id)
			log_err("the new primary key is `%s': new captures are sealed under it", id);
		return 1;
	}
	printf("new primary key %s; %d sealed capture(s) re-wrapped under it (old keys kept: they "
	       "still open older copies)\n",
	       id, n);
	return 0;
}

int cmd_retention_main(int argc, char **argv)
{
	const char *usage = "ringcap retention [-o DIR] [--retention-days DAYS]";
	struct vault_settings s;
	char err[4600];
	int rc = parse(ret_opts, N_OPTS(ret_opts), &s, argc, argv, usage);
	if (rc >= 0)
		return rc;
	struct store_config sc = { .dir = s.outdir,
				   .retention_ns = (int64_t)(s.retention_days * 86400.0 * 1e9) };
	store_t *st = store_open(&sc, err, sizeof err);
	if (!st) {
		log_err("%s", err);
		return 1;
	}
	int n = store_sweep(st, store_now_ns(), err, sizeof err);
	store_close(st);
	if (n < 0) {
		log_err("retention sweep: %s", err);
		return 1;
	}
	printf("retention: %d capture(s) deleted (older than %g days after their incident "
	       "resolved)\n",
	       n, s.retention_days);
	return 0;
}
