/*
 * config.h - settings from environment variables, a `key = value' file and command-line flags,
 * described once in a table per subcommand.
 *
 * DESIGN: each subcommand declares a table of struct cfg_opt (name of the environment variable,
 * the long and short flag, a type, where the value goes, bounds and help). The same table parses
 * the environment, the config file and argv (getopt_long built from it), and prints the help, so
 * a setting cannot be spelled one way in one place and another way elsewhere. Precedence, lowest
 * first: built-in default, config file, environment, flags. Every error quotes the bad input and
 * names where it came from:  invalid PCAP_ROTATION_SIZE `abc': expected a number of MB
 */
#ifndef RINGCAP_CONFIG_H
#define RINGCAP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_type {
	CFG_BOOL,    /* int: true/false, yes/no, on/off, 1/0 */
	CFG_UINT,    /* uint64_t: whole number within [min, max] */
	CFG_U32,     /* uint32_t: whole number within [min, max] */
	CFG_MB,      /* uint64_t bytes: a decimal number of MB (1 MB = 1,000,000 bytes) */
	CFG_SECONDS, /* int64_t ns: a decimal number of seconds within [min, max] seconds */
	CFG_STR,     /* const char *: any text (points into argv/environ/file buffer) */
	CFG_CHOICE,  /* int: index of the value in choices ("micro|nano") */
	CFG_SET,     /* int: a flag without argument that stores min */
	CFG_DOUBLE,  /* double: a decimal number within [min, max] */
};

struct cfg_opt {
	const char *env;     /* environment variable, or NULL */
	const char *lng;     /* long flag without dashes, or NULL; also the config file key */
	int shrt;            /* short flag character, or 0 */
	enum cfg_type type;
	size_t off;          /* offsetof the value in the settings struct */
	double min, max;     /* bounds (CFG_UINT/U32/MB/SECONDS); value stored by CFG_SET */
	const char *choices; /* CFG_CHOICE: values separated by '|' */
	const char *arg;     /* name of the argument in the help, e.g. "MB" */
	const char *help;
};

/* Applies the environment variables of the table. Returns 0, or -1 with a message in err. */
int cfg_from_env(const struct cfg_opt *opts, size_t n, void *base, char *err, size_t errlen);

/*
 * Parses argv (argv[0] is the subcommand name) against the table; -h/--help sets *help.
 * *rest receives the index of the first non-flag argument. Returns 0 or -1 with a message in err.
 */
int cfg_from_args(const struct cfg_opt *opts, size_t n, void *base, int argc, char **argv,
		  int *rest, int *help, char *err, size_t errlen);

/*
 * Parses a config file of `key = value' lines (# comments, blank lines; keys are the long flag
 * names or the environment variable names). Unknown keys and bad values are errors naming the file
 * and line. The file's text is kept in *textp (caller frees) since string values point into it.
 * Returns 0 or -1 with a message in err.
 */
int cfg_from_file(const struct cfg_opt *opts, size_t n, void *base, const char *path,
		  char **textp, char *err, size_t errlen);

#define CFG_CONFIG_ENV "RINGCAP_CONFIG"

/*
 * The shared config file of a subcommand other than `run': `--config FILE' (removed from argv,
 * *argc adjusted) or $RINGCAP_CONFIG. Keys this table does not know are settings of other
 * subcommands and are skipped; a known key with a bad value is an error naming the file and line.
 * The file's text lives until exit. Call it before cfg_from_env() and cfg_from_args().
 * Returns 0 (also when no file is named) or -1 with a message in err.
 */
int cfg_from_config_option(const struct cfg_opt *opts, size_t n, void *base, int *argc,
			   char **argv, char *err, size_t errlen);

/* Prints the table as help lines. */
void cfg_print_help(const struct cfg_opt *opts, size_t n, FILE *out);

/* An incident id: decimal digits only, no sign, no leading zero, 1..max. Returns it, or -1. */
long cfg_parse_id(const char *s, long max);

/*
 * A subcommand's settings: the config file (cfg_from_config_option), the environment, then argv (argv[0] is the command name) with
 * positional arguments anywhere among the flags; the positionals go to pos[] (at most maxpos,
 * more is an error naming the argument and quoting usage). Defaults must be in base already.
 * Returns 0 to go on, 1 after --help was printed (to stdout, with usage), or -1 with a message
 * in err (a usage error; also when out of memory).
 */
int cfg_parse_command(const struct cfg_opt *opts, size_t n, void *base, int argc, char **argv,
		      char **pos, int maxpos, int *npos, const char *usage, char *err,
		      size_t errlen);

/* Parses one boolean word. Returns 0/1, or -1 if it is not one. */
int cfg_parse_bool(const char *s);


/* Where log lines go (base/log.h), the same settings in every long-running subcommand: embed a
 * struct log_settings as member m and put LOG_OPTS(type, m) in the option table. */
struct log_settings {
	int syslog;
	const char *socket, *facility;
};
#define LOG_OPTS(type, m)                                                                        \
	{NULL, "syslog", 0, CFG_SET, offsetof(type, m.syslog), 1, 0, NULL, NULL,                    \
	 "log to syslog instead of stderr (under systemd stderr goes to the journal, with "         \
	 "priorities, without it)"},                                                                \
	{"RINGCAP_SYSLOG", "log-to-syslog", 0, CFG_BOOL, offsetof(type, m.syslog), 0, 0, NULL,      \
	 "true|false", "the same as --syslog, for the environment and the config file (default "    \
	 "false)"},                                                                                 \
	{"SYSLOG_SOCKET", "syslog-socket", 0, CFG_STR, offsetof(type, m.socket), 0, 0, NULL, "PATH", \
	 "the system logger's socket (default /dev/log)"},                                          \
	{"SYSLOG_FACILITY", "syslog-facility", 0, CFG_STR, offsetof(type, m.facility), 0, 0, NULL,  \
	 "NAME", "syslog facility: daemon, user, auth, authpriv, local0..local7 (default daemon)"}

#endif
