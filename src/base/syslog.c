/* syslog.c - see syslog.h. */
#include "base/syslog.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int sl_fd = -1, sl_fac = 3 << 3;
static uint64_t sl_lost;
static struct sockaddr_un sl_addr;

int syslog_facility(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} t[] = {{"user", 1},	 {"daemon", 3}, {"auth", 4},	 {"authpriv", 10}, {"local0", 16},
		 {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},   {"local5", 21},
		 {"local6", 22}, {"local7", 23}};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcmp(t[i].name, name) == 0)
			return t[i].code << 3;
	return -1;
}

int syslog_open(const char *path, int facility, char *err, size_t errlen)
{
	if (!path || !*path)
		path = SYSLOG_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof sl_addr.sun_path) {
		set_err(err, errlen, "syslog socket name too long: `%s'", path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_err(err, errlen, "cannot create a socket for syslog: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		set_err(err, errlen, "cannot reach the system logger at `%s': %s", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (sl_fd >= 0)
		close(sl_fd);
	sl_fd = fd;
	sl_fac = facility;
	sl_addr = a;
	return 0;
}

int syslog_is_open(void)
{
	return sl_fd >= 0;
}

uint64_t syslog_lost(void)
{
	return sl_lost;
}

void syslog_line(int severity, const char *line)
{
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	char msg[2200];
	struct tm tm;
	time_t now = time(NULL);
	if (sl_fd < 0)
		return;
	localtime_r(&now, &tm);
	int n = snprintf(msg, sizeof msg, "<%d>%s %2d %02d:%02d:%02d ringcap[%ld]: %s",
			 sl_fac | (severity & 7), mon[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long)getpid(), line);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
	if (send(sl_fd, msg, len, MSG_NOSIGNAL) < 0) {
		/* the logger restarted: reconnect once */
		if (errno == ECONNREFUSED || errno == ENOTCONN) {
			if (connect(sl_fd, (struct sockaddr *)&sl_addr, sizeof sl_addr) == 0 &&
			    send(sl_fd, msg, len, MSG_NOSIGNAL) >= 0)
				return;
		}
		sl_lost++;
	}
}
