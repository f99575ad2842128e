/*
 * files.c - private file creation, exclusive temporary names, atomic replacement, secret files
 * and the DIR ownership check (see files.h).
 */
#include "base/files.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

static gid_t files_gid = (gid_t)-1;

void files_set_group(gid_t gid)
{
	files_gid = gid;
}

mode_t files_file_mode(void)
{
	return files_gid == (gid_t)-1 ? 0600 : 0640;
}

mode_t files_dir_mode(void)
{
	return files_gid == (gid_t)-1 ? 0700 : 0750;
}

int files_parse_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group *g = getgrnam(name);
	char *end;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (*name && !*end && !errno && v < (unsigned long)(gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	set_err(err, errlen, "unknown group `%s': expected a group name or number", name);
	return -1;
}

/* Gives fd the group and the mode (a umask may have narrowed the create mode). */
static int apply_group(int fd, mode_t mode)
{
	if (files_gid != (gid_t)-1 && fchown(fd, (uid_t)-1, files_gid) != 0)
		return -1;
	return fchmod(fd, mode);
}

int files_create_at(int dirfd, const char *name, int flags)
{
	mode_t mode = files_file_mode();
	int fd = openat(dirfd, name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 || files_gid == (gid_t)-1)
		return fd;
	if (apply_group(fd, mode) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int files_mkdir(const char *path)
{
	mode_t mode = files_dir_mode();

	if (mkdir(path, mode) != 0)
		return errno == EEXIST ? 0 : -1;
	if (files_gid == (gid_t)-1)
		return 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = apply_group(fd, mode);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int files_mkdirs(const char *path)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, path, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (files_mkdir(p) != 0)
			return -1;
		*s = '/';
	}
	return files_mkdir(p);
}

int files_write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len > 0) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int files_create_tmp(int dirfd, const char *name, char *tmp, size_t tmplen)
{
	const char *base = strrchr(name, '/');
	size_t dirlen = base ? (size_t)(base - name) + 1 : 0;
	base = base ? base + 1 : name;

	for (int tries = 0; tries < 100; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned long r = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16) ^
				  ((unsigned long)tries * 2654435761u);
		int n = snprintf(tmp, tmplen, "%.*s.%s.%ld.%06lx.tmp", (int)dirlen, name, base,
				 (long)getpid(), r & 0xffffff);
		if (n < 0 || (size_t)n >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		int fd = files_create_at(dirfd, tmp, O_WRONLY | O_EXCL);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

static int sync_parent(int dirfd, const char *name)
{
	int fd;

	if (dirfd != AT_FDCWD && !strchr(name, '/'))
		return fsync(dirfd) != 0 && errno != EINVAL ? -1 : 0;
	char d[PATH_MAX];
	const char *sl = strrchr(name, '/');
	if (!sl)
		snprintf(d, sizeof d, ".");
	else if (sl == name)
		snprintf(d, sizeof d, "/");
	else
		snprintf(d, sizeof d, "%.*s", (int)(sl - name), name);
	fd = openat(dirfd, d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
	close(fd);
	return r;
}

int files_commit_tmp(int dirfd, int fd, const char *tmp, const char *name, int do_sync)
{
	int e = 0;

	if (do_sync && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && renameat(dirfd, tmp, dirfd, name) != 0)
		e = errno;
	if (e) {
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	if (do_sync && sync_parent(dirfd, name) != 0)
		return -1;
	return 0;
}

int files_replace_at(int dirfd, const char *name, const void *buf, size_t len, int do_sync,
		     char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd = files_create_tmp(dirfd, name, tmp, sizeof tmp);

	if (fd < 0) {
		set_err(err, errlen, "cannot create a temporary file for `%s': %s", name,
			strerror(errno));
		return -1;
	}
	if (files_write_all(fd, buf, len) != 0) {
		set_err(err, errlen, "cannot write `%s': %s", tmp, strerror(errno));
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (files_commit_tmp(dirfd, fd, tmp, name, do_sync) != 0) {
		set_err(err, errlen, "cannot replace `%s': %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int files_read_secret(const char *what, const char *path, uid_t uid, char *buf, size_t cap,
		      size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	int ret = -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		if (errno == ELOOP)
			set_err(err, errlen, "%s `%s' is a symbolic link: refused (give the file "
				"itself)", what, path);
		else
			set_err(err, errlen, "cannot open %s `%s': %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot stat %s `%s': %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s `%s' is not a regular file: refused", what, path);
		goto out;
	}
	if (st.st_uid != uid) {
		set_err(err, errlen, "%s `%s' is owned by uid %u, not by this user (uid %u): refused "
			"(chown it)", what, path, (unsigned)st.st_uid, (unsigned)uid);
		goto out;
	}
	if (st.st_mode & 077) {
		set_err(err, errlen, "%s `%s' has mode %04o: group or others may read it, refused "
			"(chmod 600 it)", what, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((uint64_t)st.st_size >= cap) {
		set_err(err, errlen, "%s `%s' is %lld bytes: more than the %zu allowed", what, path,
			(long long)st.st_size, cap - 1);
		goto out;
	}
	while (got < cap - 1) {
		ssize_t n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "cannot read %s `%s': %s", what, path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* One folder: owned by uid or root, not writable by group or others (sticky allowed for a
 * parent). */
static int check_one(const char *p, uid_t uid, int is_target, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(p, &st) != 0) {
		set_err(err, errlen, "cannot stat `%s': %s", p, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode) && !is_target) {
		if (stat(p, &st) != 0) {
			set_err(err, errlen, "cannot stat `%s': %s", p, strerror(errno));
			return -1;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "`%s' is not a folder: refused", p);
		return -1;
	}
	if (is_target && st.st_uid != uid) {
		set_err(err, errlen, "`%s' is owned by uid %u, not by the agent's user (uid %u): "
			"refused (fix: chown %u `%s')", p, (unsigned)st.st_uid, (unsigned)uid,
			(unsigned)uid, p);
		return -1;
	}
	if (!is_target && st.st_uid != uid && st.st_uid != 0) {
		set_err(err, errlen, "`%s' (a parent of the output folder) is owned by uid %u, "
			"neither root nor the agent's user (uid %u): refused (fix: chown root `%s')",
			p, (unsigned)st.st_uid, (unsigned)uid, p);
		return -1;
	}
	if ((st.st_mode & 022) && !(!is_target && (st.st_mode & S_ISVTX))) {
		set_err(err, errlen, "`%s' has mode %04o: another user could write it and plant "
			"links, refused (fix: chmod go-w `%s')", p, (unsigned)(st.st_mode & 07777), p);
		return -1;
	}
	return 0;
}

int files_check_dir(const char *path, uid_t uid, char *err, size_t errlen)
{
	char p[PATH_MAX];

	if (!realpath(path, p)) {
		set_err(err, errlen, "cannot resolve `%s': %s", path, strerror(errno));
		return -1;
	}
	if (check_one(p, uid, 1, err, errlen) != 0)
		return -1;
	for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
		if (s == p) {
			p[1] = '\0';
			return check_one(p, uid, 0, err, errlen);
		}
		*s = '\0';
		if (check_one(p, uid, 0, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int files_prepare_dir(const char *path, uid_t uid, const char *const *subdirs, char *err,
		      size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;
	mode_t want = files_dir_mode();

	if (files_mkdirs(path) != 0) {
		set_err(err, errlen, "cannot create the output folder `%s': %s", path,
			strerror(errno));
		return -1;
	}
	if (files_check_dir(path, uid, err, errlen) != 0)
		return -1;
	for (size_t i = 0; subdirs && subdirs[i]; i++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", path, subdirs[i]) >= sizeof p) {
			set_err(err, errlen, "output folder name too long: `%s'", path);
			return -1;
		}
		if (lstat(p, &st) != 0) {
			if (errno == ENOENT)
				continue;
			set_err(err, errlen, "cannot stat `%s': %s", p, strerror(errno));
			return -1;
		}
		if (S_ISLNK(st.st_mode)) {
			set_err(err, errlen, "`%s' is a symbolic link: refused (the agent's folders "
				"must be real folders under the output folder)", p);
			return -1;
		}
		if (check_one(p, uid, 1, err, errlen) != 0)
			return -1;
	}
	/* folders of older versions (0755) become private: files inside are then out of reach */
	for (size_t i = 0; i == 0 || (subdirs && subdirs[i - 1]); i++) {
		const char *q = path;
		if (i > 0) {
			snprintf(p, sizeof p, "%s/%s", path, subdirs[i - 1]);
			q = p;
		}
		if (stat(q, &st) != 0)
			continue;
		if ((st.st_mode & 0777 & ~want) && chmod(q, want) != 0) {
			set_err(err, errlen, "cannot make `%s' private (mode %04o): %s", q,
				(unsigned)want, strerror(errno));
			return -1;
		}
	}
	return 0;
}
