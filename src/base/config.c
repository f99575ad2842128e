/* config.c - see config.h. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cfg_parse_bool(const char *s)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int parse_number(const char *s, double *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int parse_whole(const char *s, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static void fmt_bound(double v, char *buf, size_t len)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
}

/* Stores the value text for opt; where names the source ("PCAP_ROTATION_SIZE", "--snaplen"). */
static int set_value(const struct cfg_opt *o, void *base, const char *val, const char *where,
		     char *err, size_t errlen)
{
	char *p = (char *)base + o->off;
	char lo[32], hi[32];
	fmt_bound(o->min, lo, sizeof lo);
	fmt_bound(o->max, hi, sizeof hi);

	switch (o->type) {
	case CFG_BOOL: {
		int b = cfg_parse_bool(val);
		if (b < 0) {
			snprintf(err, errlen, "invalid %s `%s': expected true or false", where, val);
			return -1;
		}
		*(int *)(void *)p = b;
		return 0;
	}
	case CFG_UINT:
	case CFG_U32: {
		uint64_t v;
		if (parse_whole(val, &v) != 0 || (double)v < o->min || (double)v > o->max) {
			snprintf(err, errlen, "invalid %s `%s': expected a whole number from %s to %s",
				 where, val, lo, hi);
			return -1;
		}
		if (o->type == CFG_UINT)
			*(uint64_t *)(void *)p = v;
		else
			*(uint32_t *)(void *)p = (uint32_t)v;
		return 0;
	}
	case CFG_MB: {
		double v;
		if (parse_number(val, &v) != 0 || v < o->min || v > o->max || v <= 0) {
			snprintf(err, errlen,
				 "invalid %s `%s': expected a number of MB (1 MB = 1,000,000 bytes) "
				 "above 0 and at most %s",
				 where, val, hi);
			return -1;
		}
		uint64_t bytes = (uint64_t)llround(v * 1e6);
		*(uint64_t *)(void *)p = bytes ? bytes : 1;
		return 0;
	}
	case CFG_SECONDS: {
		double v;
		if (parse_number(val, &v) != 0 || v < o->min || v > o->max) {
			snprintf(err, errlen, "invalid %s `%s': expected a number of seconds from %s to %s",
				 where, val, lo, hi);
			return -1;
		}
		*(int64_t *)(void *)p = (int64_t)llround(v * 1e9);
		return 0;
	}
	case CFG_DOUBLE: {
		double v;
		if (parse_number(val, &v) != 0 || v < o->min || v > o->max) {
			snprintf(err, errlen, "invalid %s `%s': expected a number from %s to %s", where,
				 val, lo, hi);
			return -1;
		}
		*(double *)(void *)p = v;
		return 0;
	}
	case CFG_STR:
		*(const char **)(void *)p = val;
		return 0;
	case CFG_CHOICE: {
		const char *c = o->choices;
		for (int idx = 0; c && *c; idx++) {
			size_t len = strcspn(c, "|");
			if (strlen(val) == len && strncmp(val, c, len) == 0) {
				*(int *)(void *)p = idx;
				return 0;
			}
			c += len + (c[len] == '|');
		}
		snprintf(err, errlen, "invalid %s `%s': expected one of %s", where, val,
			 o->choices ? o->choices : "");
		return -1;
	}
	case CFG_SET:
		*(int *)(void *)p = (int)o->min;
		return 0;
	}
	snprintf(err, errlen, "internal error: unknown setting type for %s", where);
	return -1;
}

int cfg_from_env(const struct cfg_opt *opts, size_t n, void *base, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (!opts[i].env)
			continue;
		const char *v = getenv(opts[i].env);
		if (!v)
			continue;
		if (set_value(&opts[i], base, v, opts[i].env, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int cfg_from_args(const struct cfg_opt *opts, size_t n, void *base, int argc, char **argv,
		  int *rest, int *help, char *err, size_t errlen)
{
	int ret = -1;
	struct option *lopts = calloc(n + 2, sizeof *lopts);
	char *sopts = calloc(3 * n + 4, 1);
	if (!lopts || !sopts) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	size_t nl = 0, ns = 0;
	sopts[ns++] = '+'; /* stop at the first non-option: the filter expression */
	sopts[ns++] = ':';
	sopts[ns++] = 'h';
	for (size_t i = 0; i < n; i++) {
		int has_arg = opts[i].type == CFG_SET ? no_argument : required_argument;
		if (opts[i].lng) {
			lopts[nl].name = opts[i].lng;
			lopts[nl].has_arg = has_arg;
			lopts[nl].val = 256 + (int)i;
			nl++;
		}
		if (opts[i].shrt) {
			sopts[ns++] = (char)opts[i].shrt;
			if (has_arg == required_argument)
				sopts[ns++] = ':';
		}
	}
	lopts[nl].name = "help";
	lopts[nl].val = 'h';
	*help = 0;
	optind = 1;
	opterr = 0;
	for (;;) {
		int li = -1;
		int c = getopt_long(argc, argv, sopts, lopts, &li);
		if (c == -1)
			break;
		if (c == 'h') {
			*help = 1;
			continue;
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			if (optopt && optopt < 256)
				snprintf(err, errlen, "%s `-%c'", c == ':' ? "missing value for" : "unknown flag",
					 optopt);
			else
				snprintf(err, errlen, "%s `%s'", c == ':' ? "missing value for" : "unknown flag",
					 bad);
			goto out;
		}
		size_t idx = n;
		if (c >= 256)
			idx = (size_t)(c - 256);
		else
			for (size_t i = 0; i < n; i++)
				if (opts[i].shrt == c)
					idx = i;
		if (idx >= n) {
			snprintf(err, errlen, "unknown flag `-%c'", c);
			goto out;
		}
		char where[64];
		if (c >= 256)
			snprintf(where, sizeof where, "--%s", opts[idx].lng);
		else
			snprintf(where, sizeof where, "-%c", c);
		if (set_value(&opts[idx], base, optarg ? optarg : "", where, err, errlen) != 0)
			goto out;
	}
	*rest = optind;
	ret = 0;
out:
	free(lopts);
	free(sopts);
	return ret;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int load_file(const struct cfg_opt *opts, size_t n, void *base, const char *path,
		     int lenient, char **textp, char *err, size_t errlen)
{
	int ret = -1;
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "r");
	*textp = NULL;
	if (!f) {
		snprintf(err, errlen, "cannot read config file `%s': %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= (1u << 20)) {
				snprintf(err, errlen, "config file `%s' is larger than 1 MiB", path);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			char *nt = realloc(text, cap + 1);
			if (!nt) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			text = nt;
		}
		size_t r = fread(text + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read config file `%s': %s", path, strerror(errno));
		goto out;
	}
	if (!text) {
		ret = 0;
		goto out;
	}
	text[len] = 0;
	if (memchr(text, 0, len)) {
		snprintf(err, errlen, "config file `%s' is not text (it holds a NUL byte)", path);
		goto out;
	}
	int lineno = 0;
	for (char *line = text; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *s = trim(line);
		line = next;
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected `key = value', got `%s'", path, lineno, s);
			goto out;
		}
		*eq = 0;
		char *key = trim(s), *val = trim(eq + 1);
		const struct cfg_opt *o = NULL;
		for (size_t i = 0; i < n && !o; i++) {
			if ((opts[i].lng && strcmp(opts[i].lng, key) == 0) ||
			    (opts[i].env && strcasecmp(opts[i].env, key) == 0))
				o = &opts[i];
		}
		if (!o && lenient)
			continue; /* a setting of another subcommand */
		if (!o || o->type == CFG_SET) {
			snprintf(err, errlen, "%s:%d: unknown key `%s'", path, lineno, key);
			goto out;
		}
		char where[600];
		snprintf(where, sizeof where, "%s:%d: %s", path, lineno, key);
		if (set_value(o, base, val, where, err, errlen) != 0)
			goto out;
	}
	*textp = text;
	text = NULL;
	ret = 0;
out:
	fclose(f);
	free(text);
	return ret;
}

int cfg_from_file(const struct cfg_opt *opts, size_t n, void *base, const char *path,
		  char **textp, char *err, size_t errlen)
{
	return load_file(opts, n, base, path, 0, textp, err, errlen);
}

/* The config text of the subcommand being run: string settings point into it. */
static char *cmd_cfgtext;

static void free_cmd_cfgtext(void)
{
	free(cmd_cfgtext);
	cmd_cfgtext = NULL;
}

int cfg_from_config_option(const struct cfg_opt *opts, size_t n, void *base, int *argc,
			   char **argv, char *err, size_t errlen)
{
	const char *path = getenv(CFG_CONFIG_ENV);
	int ac = *argc;
	for (int i = 1; i < ac; i++) {
		const char *a = argv[i], *v = NULL;
		int take = 0;
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--config") == 0) {
			if (i + 1 >= ac) {
				snprintf(err, errlen, "option --config needs a value (FILE)");
				return -1;
			}
			v = argv[i + 1];
			take = 2;
		} else if (strncmp(a, "--config=", 9) == 0) {
			v = a + 9;
			take = 1;
		}
		if (!take)
			continue;
		path = v;
		memmove(argv + i, argv + i + take, (size_t)(ac - i - take + 1) * sizeof *argv);
		ac -= take;
		i--;
	}
	*argc = ac;
	if (!path || !*path)
		return 0;
	char *text = NULL;
	if (load_file(opts, n, base, path, 1, &text, err, errlen) != 0)
		return -1;
	if (text) {
		if (!cmd_cfgtext)
			atexit(free_cmd_cfgtext);
		free(cmd_cfgtext); /* settings of an earlier call no longer used */
		cmd_cfgtext = text;
	}
	return 0;
}

void cfg_print_help(const struct cfg_opt *opts, size_t n, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_opt *o = &opts[i];
		char flag[96] = "", *p = flag;
		size_t left = sizeof flag;
		int w;
		if (o->shrt) {
			w = snprintf(p, left, "-%c%s", o->shrt, o->lng ? ", " : "");
			p += w, left -= (size_t)w;
		}
		if (o->lng) {
			w = snprintf(p, left, "--%s", o->lng);
			p += w, left -= (size_t)w;
		}
		if (o->arg)
			snprintf(p, left, " %s", o->arg);
		fprintf(out, "  %-28s %s", flag, o->help ? o->help : "");
		if (o->env)
			fprintf(out, " [env %s]", o->env);
		fputc('\n', out);
	}
}

int cfg_parse_command(const struct cfg_opt *opts, size_t n, void *base, int argc, char **argv,
		      char **pos, int maxpos, int *npos, const char *usage, char *err,
		      size_t errlen)
{
	int help = 0, rest = 0, ret = -1;
	*npos = 0;
	char **av = calloc((size_t)argc + 1, sizeof *av);
	if (!av) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int ac = argc;
	memcpy(av, argv, (size_t)argc * sizeof *av);
	if (cfg_from_config_option(opts, n, base, &ac, av, err, errlen) != 0 ||
	    cfg_from_env(opts, n, base, err, errlen) != 0)
		goto out;
	for (;;) {
		if (cfg_from_args(opts, n, base, ac, av, &rest, &help, err, errlen) != 0)
			goto out;
		if (help || rest >= ac)
			break;
		if (*npos >= maxpos) {
			snprintf(err, errlen, "unexpected argument `%s'; usage: %s", av[rest], usage);
			goto out;
		}
		pos[(*npos)++] = av[rest];
		/* go on after it, with the command name as argv[0] */
		memmove(av + 1, av + rest + 1, (size_t)(ac - rest - 1) * sizeof *av);
		ac -= rest;
	}
	if (help) {
		printf("Usage: %s\n\n", usage);
		cfg_print_help(opts, n, stdout);
		printf("  %-28s settings file, as for `ringcap run' (%s); keys of other "
		       "subcommands in it are ignored\n",
		       "--config FILE", CFG_CONFIG_ENV);
		ret = 1;
	} else {
		ret = 0;
	}
out:
	free(av);
	return ret;
}

long cfg_parse_id(const char *s, long max)
{
	long v = 0;
	if (!s || *s < '1' || *s > '9')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}
