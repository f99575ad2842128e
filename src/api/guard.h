/*
 * guard.h - per-client-address throttling of failed authentication and aggregation of denials
 * for the HTTP API (no libmicrohttpd, no I/O: the caller passes the clock and writes records).
 *
 * DESIGN: a fixed table (GUARD_SETS x GUARD_WAYS entries, set-associative on a keyed hash of the
 * address, least recently used evicted within a set) keyed by the client address, IPv6 ones by
 * their /64 (one host holds a whole /64). An address gets GUARD_FREE_FAILS failed
 * authentications (unknown token, bad URL signature); each further one blocks it for 1, 2, 4 ...
 * seconds, at most GUARD_BLOCK_MAX_S; while blocked its requests that need credentials are
 * answered 429 with Retry-After and no credential is checked. Failures are forgotten
 * GUARD_FORGET_S after the last one; a success does not reset them (a holder of one token cannot
 * use it to brute-force the others).
 * Denials are aggregated per address per GUARD_INTERVAL_S: the first of an interval is recorded
 * in full by the caller, the others are counted and reported once (guard_flush, or when the
 * entry is evicted), so a flood from one address costs a few records a minute.
 * Thread-safe (one mutex).
 */
#ifndef RINGCAP_GUARD_H
#define RINGCAP_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_SETS 512
#define GUARD_WAYS 8
#define GUARD_FREE_FAILS 5
#define GUARD_BLOCK_MAX_S 300
#define GUARD_FORGET_S 900
#define GUARD_INTERVAL_S 60
#define GUARD_KEY_MAX 64

typedef struct guard guard_t;

/* The denials of one address over an interval, beyond the one recorded in full. */
struct guard_report {
	char client[GUARD_KEY_MAX]; /* the address, or PREFIX/64 */
	uint64_t count;		    /* denials not recorded in full */
	uint64_t by_status[4];	    /* of which 401, 403, 410, 429 */
	int64_t first_ms, last_ms;  /* of the whole interval */
};

/* Called with each report (under the guard's lock: it must not call back into the guard). */
typedef void (*guard_report_fn)(void *arg, const struct guard_report *r);

/* Returns a guard or NULL (out of memory). */
guard_t *guard_new(guard_report_fn fn, void *arg);

/* Reports what is pending (guard_flush(g, 0, 1)) and frees. NULL-safe. */
void guard_free(guard_t *g);

/* 0 when client may present credentials now, else the seconds to wait (>= 1). */
int guard_blocked(guard_t *g, const char *client, int64_t now_ms);

/* Counts a failed authentication of client (and blocks it past GUARD_FREE_FAILS). */
void guard_failure(guard_t *g, const char *client, int64_t now_ms);

/*
 * Counts a denial (status 401, 403, 410, 429 or other) of client. Returns 1 when the caller should
 * record it in full (the first of its interval), 0 when it was counted into a later report.
 */
int guard_denial(guard_t *g, const char *client, int status, int64_t now_ms);

/* Reports and resets the aggregates whose interval has ended (all of them when force). */
void guard_flush(guard_t *g, int64_t now_ms, int force);

/* The table key of an address: itself, or the /64 of an IPv6 address ("2001:db8:1:2::/64"). */
void guard_key(const char *client, char *out, size_t outlen);

#endif
