/* ctl.c - the control socket; see ctl.h. */
#include "api/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define CTL_TIMEOUT_MS 2000

struct ctl_client {
	int fd;                  /* -1: free */
	size_t len;
	int64_t deadline_ms;
	char buf[CTL_LINE_MAX + 1];
};

struct ctl {
	int lfd;
	char *path;
	struct ctl_client cl[CTL_CLIENTS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fill_addr(struct sockaddr_un *a, const char *path, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path) {
		snprintf(err, errlen, "control socket path `%s' is too long (at most %zu bytes)", path,
			 sizeof a->sun_path - 1);
		return -1;
	}
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

ctl_t *ctl_open(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct ctl *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->lfd = -1;
	for (int i = 0; i < CTL_CLIENTS; i++)
		c->cl[i].fd = -1;
	if (fill_addr(&a, path, err, errlen) != 0)
		goto fail;
	/* a socket already there: another agent, or a stale one from a crash */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&a, sizeof a) == 0) {
			close(probe);
			snprintf(err, errlen,
				 "another ringcap is running on this output folder (control socket `%s' "
				 "answers)",
				 path);
			goto fail;
		}
		close(probe);
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "`%s' exists and is not a socket; not replacing it", path);
			goto fail;
		}
		unlink(path);
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->lfd < 0) {
		snprintf(err, errlen, "cannot create control socket: %s", strerror(errno));
		goto fail;
	}
	mode_t old = umask(0177); /* the socket file is born 0600 */
	int rc = bind(c->lfd, (struct sockaddr *)&a, sizeof a);
	umask(old);
	if (rc != 0) {
		snprintf(err, errlen, "cannot create control socket `%s': %s", path, strerror(errno));
		goto fail;
	}
	chmod(path, 0600);
	if (listen(c->lfd, CTL_CLIENTS) != 0) {
		snprintf(err, errlen, "cannot listen on `%s': %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	c->path = strdup(path);
	if (!c->path) {
		unlink(path);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return c;
fail:
	if (c->lfd >= 0)
		close(c->lfd);
	free(c);
	return NULL;
}

int ctl_pollfds(const ctl_t *c, int *fds, int max)
{
	int n = 0;
	if (!c)
		return 0;
	if (n < max)
		fds[n++] = c->lfd;
	for (int i = 0; i < CTL_CLIENTS && n < max; i++)
		if (c->cl[i].fd >= 0)
			fds[n++] = c->cl[i].fd;
	return n;
}

static void client_reply(struct ctl_client *cl, const char *reply)
{
	char line[CTL_LINE_MAX * 4];
	int n = snprintf(line, sizeof line, "%s\n", reply);
	if (n > 0) {
		/* a short reply to a waiting client fits in the socket buffer */
		ssize_t w = send(cl->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w != n)
			log_debug("control: reply not sent whole");
	}
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
}

void ctl_service(ctl_t *c, ctl_handler h, void *user)
{
	if (!c)
		return;
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		struct ctl_client *cl = NULL;
		for (int i = 0; i < CTL_CLIENTS && !cl; i++)
			if (c->cl[i].fd < 0)
				cl = &c->cl[i];
		if (!cl) {
			const char *busy = "{\"ok\":false,\"error\":\"too many control connections\"}\n";
			ssize_t w = send(fd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->len = 0;
		cl->deadline_ms = now_ms() + CTL_TIMEOUT_MS;
	}
	int64_t now = now_ms();
	for (int i = 0; i < CTL_CLIENTS; i++) {
		struct ctl_client *cl = &c->cl[i];
		if (cl->fd < 0)
			continue;
		ssize_t n = recv(cl->fd, cl->buf + cl->len, CTL_LINE_MAX - cl->len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			close(cl->fd);
			cl->fd = -1;
			continue;
		}
		if (n > 0)
			cl->len += (size_t)n;
		cl->buf[cl->len] = 0;
		char *nl = memchr(cl->buf, '\n', cl->len);
		if (nl) {
			char reply[CTL_LINE_MAX * 2];
			*nl = 0;
			if (nl > cl->buf && nl[-1] == '\r')
				nl[-1] = 0;
			if (memchr(cl->buf, 0, (size_t)(nl - cl->buf)) != NULL)
				snprintf(reply, sizeof reply,
					 "{\"ok\":false,\"error\":\"request holds a NUL byte\"}");
			else
				h(user, cl->buf, reply, sizeof reply);
			client_reply(cl, reply);
		} else if (cl->len >= CTL_LINE_MAX) {
			client_reply(cl, "{\"ok\":false,\"error\":\"request line too long\"}");
		} else if (now > cl->deadline_ms) {
			client_reply(cl, "{\"ok\":false,\"error\":\"timeout waiting for the request\"}");
		}
	}
}

void ctl_close(ctl_t *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			close(c->cl[i].fd);
	close(c->lfd);
	unlink(c->path);
	free(c->path);
	free(c);
}

int ctl_request(const char *path, const char *line, char *reply, size_t replylen, char *err,
		size_t errlen)
{
	struct sockaddr_un a;
	int ret = -1;
	if (fill_addr(&a, path, err, errlen) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			snprintf(err, errlen, "no running agent: nothing answers on `%s' (%s)", path,
				 strerror(errno));
		else
			snprintf(err, errlen, "cannot reach the agent at `%s': %s", path,
				 strerror(errno));
		goto out;
	}
	size_t len = strlen(line);
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		snprintf(err, errlen, "cannot send to the agent: %s", strerror(errno));
		goto out;
	}
	size_t got = 0;
	int64_t deadline = now_ms() + 5000;
	while (got + 1 < replylen) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			snprintf(err, errlen, "the agent did not answer within 5 s");
			goto out;
		}
		ssize_t n = recv(fd, reply + got, replylen - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(reply, '\n', got))
			break;
	}
	reply[got] = 0;
	char *nl = strchr(reply, '\n');
	if (nl)
		*nl = 0;
	if (!got) {
		snprintf(err, errlen, "the agent closed the connection without answering");
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}
