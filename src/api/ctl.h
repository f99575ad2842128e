/*
 * ctl.h - the local control socket of a running agent: DIR/control.sock, mode 0600.
 *
 * DESIGN: a Unix stream socket served from the capture loop without ever blocking it: the
 * listening socket and its clients are non-blocking, polled next to the capture fd, and each
 * client sends one request line (at most CTL_LINE_MAX bytes, within 2 s) and gets one reply line
 * of JSON, then the connection is closed. Only the owner (root) can connect: the socket is
 * created with mode 0600. `ringcap capture' is the client; the HTTP API uses the same requests.
 *
 * Requests:  capture [seconds=N] [packets=N] [actor=NAME] [client=ADDR]
 *                                                -> {"ok":true,"id":7,...}
 *            (actor and client go to the audit trail's capture_started record; default "cli")
 *            status                              -> {"ok":true,...counters...}
 */
#ifndef RINGCAP_CTL_H
#define RINGCAP_CTL_H

#include <stddef.h>

#define CTL_LINE_MAX 512
#define CTL_CLIENTS 8
#define CTL_SOCKET_NAME "control.sock"

typedef struct ctl ctl_t;

/*
 * Creates and listens on path. A stale socket left by a dead agent is replaced; a live one (another
 * agent on the same folder) is an error. Returns NULL with a message in err.
 */
ctl_t *ctl_open(const char *path, char *err, size_t errlen);

/* The fds to poll for reading (listening socket and clients); returns how many were written. */
int ctl_pollfds(const ctl_t *c, int *fds, int max);

/*
 * Handles one request line; writes one JSON reply (without newline) into reply. The line has no
 * trailing newline and is NUL-terminated.
 */
typedef void (*ctl_handler)(void *user, const char *line, char *reply, size_t replylen);

/* Accepts, reads and answers whatever is ready, without blocking. Call when poll says so or often. */
void ctl_service(ctl_t *c, ctl_handler h, void *user);

/* Closes every connection and removes the socket file. NULL-safe. */
void ctl_close(ctl_t *c);

/*
 * Client side: sends one request line to the agent at path and reads its reply line into reply
 * (timeout 5 s). Returns 0, or -1 with a message in err (no agent running, timeout...).
 */
int ctl_request(const char *path, const char *line, char *reply, size_t replylen, char *err,
		size_t errlen);

#endif
