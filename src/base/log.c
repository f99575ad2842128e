/* log.c - see log.h. */
#include "base/log.h"

#include "base/syslog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
/* stderr is a journald stream: lines carry "<N>" so the journal keeps their priority */
static int journal_prefix = -1;
static int to_syslog;

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
	static const int sev[] = { 3, 4, 6, 7 };
	char line[2048];
	vsnprintf(line, sizeof line, fmt, ap);
	if (to_syslog && syslog_is_open()) {
		char l2[2100];
		snprintf(l2, sizeof l2, "%s: %s", names[lvl], line);
		syslog_line(sev[lvl], l2);
		return;
	}
	if (journal_prefix < 0)
		journal_prefix = log_stderr_is_journal();
	if (journal_prefix)
		fprintf(stderr, "<%d>ringcap: %s: %s\n", sev[lvl], names[lvl], line);
	else
		fprintf(stderr, "ringcap: %s: %s\n", names[lvl], line);
}

int log_stderr_is_journal(void)
{
	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected stdout/stderr to */
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int log_to_syslog(const char *socket_path, const char *facility, char *err, size_t errlen)
{
	int fac = syslog_facility(facility && *facility ? facility : "daemon");
	if (fac < 0) {
		set_err(err, errlen,
			"invalid SYSLOG_FACILITY `%s': expected daemon, user, auth, authpriv or "
			"local0..local7",
			facility);
		return -1;
	}
	if (syslog_open(socket_path, fac, err, errlen) != 0)
		return -1;
	to_syslog = 1;
	return 0;
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
