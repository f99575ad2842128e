/*
 * clock.h - the one clock of the agent and the one RFC 3339 parser and formatter.
 *
 * The wall clock is the real one unless $RINGCAP_NOW is set (tests and replays of retention),
 * read at the first call and kept: epoch seconds ("1700000000", "1700000000.25") or RFC 3339 with
 * any offset ("2024-05-01T12:00:00.5+02:00"). An invalid value is reported once (log_warn) and
 * the real clock is used.
 */
#ifndef RINGCAP_CLOCK_H
#define RINGCAP_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define CLOCK_NOW_ENV "RINGCAP_NOW"

/* Wall clock in ns since the epoch, or $RINGCAP_NOW. Thread-safe. */
int64_t clock_now_ns(void);

/* Reads $RINGCAP_NOW again at the next clock_now_ns() (for tests that change it). */
void clock_reload(void);

/*
 * RFC 3339 date-time: YYYY-MM-DD(T|t)HH:MM:SS[.F{1,9}](Z|z|+HH:MM|-HH:MM) -> ns since the epoch.
 * Returns 0, or -1 on anything else: a day not in its month, more than 9 fraction digits, a time
 * outside int64 ns.
 */
int clock_parse_rfc3339(const char *s, int64_t *ns);

/* Epoch seconds with an optional fraction ("1700000000.25"), or RFC 3339. 0 or -1. */
int clock_parse(const char *s, int64_t *ns);

/*
 * ns since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds; at least 28 bytes).
 * Returns buf.
 */
const char *clock_format_rfc3339(int64_t ns, char *buf, size_t len);

#endif
