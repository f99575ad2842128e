/* log.c - see log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum log_level cur_level = LOG_INFO;

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

__attribute__((format(printf, 2, 0))) static void vlog(enum log_level lvl, const char *fmt,
							      va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (lvl > cur_level)
		return;
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	fprintf(stderr, "ringcap: %s: %s\n", names[lvl], line);
}

#define LOG_FN(name, lvl)                                                                   \
	void name(const char *fmt, ...)                                                       \
	{                                                                                     \
		va_list ap;                                                                   \
		va_start(ap, fmt);                                                            \
		vlog(lvl, fmt, ap);                                                           \
		va_end(ap);                                                                   \
	}

LOG_FN(log_err, LOG_ERR)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void log_set_verbosity(int quiet, int verbose)
{
	if (quiet)
		log_set_level(LOG_WARN);
	if (verbose)
		log_set_level(LOG_DEBUG);
}
