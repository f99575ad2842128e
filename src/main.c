/*
 * main.c - the ringcap binary: a table of subcommands, dispatched by name; the same table prints
 * `ringcap help' (after wireguard-tools src/wg.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "capture/source.h"

static int cmd_help_main(int argc, char **argv);
static int cmd_version_main(int argc, char **argv);

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
} subcommands[] = {
	{ "run", cmd_run_main, "capture from an interface or a file: rotated pcaps, flow records" },
	{ "capture", cmd_capture_main, "start a manual capture on the agent running on -o DIR" },
	{ "incidents", cmd_incidents_main, "list the incidents and captures under -o DIR" },
	{ "incident", cmd_incident_main, "show an incident's metadata, or write its capture (-w)" },
	{ "serve", cmd_serve_main, "serve the HTTP API over -o DIR without capturing (review station)" },
	{ "url", cmd_url_main, "print a signed download URL for an incident's capture (--s3: from S3)" },
	{ "export", cmd_export_main, "export an incident to S3 now, or show the export queue (--status)" },
	{ "token", cmd_token_main, "API tokens: add NAME, list, revoke NAME" },
	{ "audit", cmd_audit_main, "list the audit trail, or verify it (audit verify)" },
	{ "keys", cmd_keys_main, "vault keys: rotate (new primary key, re-wrap every capture)" },
	{ "retention", cmd_retention_main, "run one retention sweep over -o DIR now" },
	{ "analyze", cmd_analyze_main, "answers from capture files: list, protocols, endpoints, suspicious" },
	{ "version", cmd_version_main, "print the version of ringcap and of libpcap" },
	{ "help", cmd_help_main, "list the subcommands" },
};

static int cmd_help_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("Usage: ringcap <command> [options]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		printf("  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	printf("\n`ringcap <command> --help' describes a command's options.\n");
	return 0;
}

static int cmd_version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("ringcap %s\n%s\n", RINGCAP_VERSION, source_lib_version());
	return 0;
}

int main(int argc, char **argv)
{
	/* nothing the agent creates is for other users; files that a group may read get their mode
	   explicitly (base/files.c) */
	umask(077);
	if (argc < 2) {
		cmd_help_main(argc, argv);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		name = "help";
	if (strcmp(name, "--version") == 0)
		name = "version";
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
		if (strcmp(subcommands[i].name, name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	}
	fprintf(stderr, "ringcap: unknown command `%s'; `ringcap help' lists them\n", argv[1]);
	return EXIT_USAGE;
}
