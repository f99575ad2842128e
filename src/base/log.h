/*
 * log.h - the only place that prints diagnostics. Messages go to stderr, one line each, prefixed
 * with "ringcap: " and the level (and with journald's "<N>" priority when stderr is the journal),
 * or to syslog after log_to_syslog(); log_set_level() silences the lower levels.
 */
#ifndef RINGCAP_LOG_H
#define RINGCAP_LOG_H

#include <stddef.h>

enum log_level { LOG_ERR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* -q and -v of the commands: quiet leaves warnings and errors, verbose adds debug lines */
void log_set_verbosity(int quiet, int verbose);

/*
 * From now on, lines go to the system logger (base/syslog.h) instead of stderr: socket_path NULL
 * for /dev/log, facility NULL for daemon. Returns 0 or -1 (text in err; lines stay on stderr).
 */
int log_to_syslog(const char *socket_path, const char *facility, char *err, size_t errlen);
/* Nonzero when stderr is the journald stream systemd gave the service (JOURNAL_STREAM): lines
 * then start with the "<N>" priority prefix journald reads. */
int log_stderr_is_journal(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Formats a message into err (errlen bytes, always terminated) for the caller to report: the
 * `char *err, size_t errlen' convention of the modules. Does nothing when err is NULL or errlen 0.
 */
void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
