/*
 * syslog.h - log lines to the system logger, written by hand instead of through syslog(3) so
 * that the socket can be named (a container's or a chroot's /dev/log, a test's listener) and a
 * send never blocks the packet path: one RFC 3164 datagram per line to a unix datagram socket,
 * "<PRI>TIMESTAMP ringcap[PID]: MESSAGE", non-blocking; a full or absent logger loses the line
 * and counts it.
 */
#ifndef RINGCAP_SYSLOG_H
#define RINGCAP_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#define SYSLOG_DEFAULT_SOCKET "/dev/log"

/* Facility by name: daemon (default), user, local0..local7, auth, authpriv. Returns the code
 * (already shifted, e.g. 3 << 3 for daemon) or -1. */
int syslog_facility(const char *name);

/* Opens the datagram socket to path (NULL: /dev/log) with the facility code. Returns 0 or -1
 * (text in err). */
int syslog_open(const char *path, int facility, char *err, size_t errlen);

/* Sends one line with severity 0..7 (3 error, 4 warning, 6 info, 7 debug); never blocks. */
void syslog_line(int severity, const char *line);

/* Lines that could not be sent. */
uint64_t syslog_lost(void);

int syslog_is_open(void);

#endif
