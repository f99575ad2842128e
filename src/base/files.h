/*
 * files.h - the one place files under DIR are created: owner-only modes (0600 files, 0700
 * folders; 0640/0750 with an optional group), never through a symbolic link, temporary names
 * taken exclusively, replacement by fsync + rename + folder fsync, and the secret-file reader.
 *
 * DESIGN: DIR may be writable by nobody but the agent's user (files_check_dir() refuses it
 * otherwise at start), yet every create still passes O_NOFOLLOW and every temporary name
 * O_EXCL, so a link planted in a folder is refused instead of followed.
 */
#ifndef RINGCAP_FILES_H
#define RINGCAP_FILES_H

#include <stddef.h>
#include <sys/types.h>

/* The group that may read files and folders (0640/0750); (gid_t)-1, the default: none. */
void files_set_group(gid_t gid);
/* Mode for a new file / folder under the current group setting. */
mode_t files_file_mode(void);
mode_t files_dir_mode(void);

/* Resolves a group name or number. Returns 0 or -1 (text in err). */
int files_parse_group(const char *name, gid_t *gid, char *err, size_t errlen);

/* Opens name under dirfd (AT_FDCWD for a path) with flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC
 * and the private file mode (group applied). Returns the fd or -1 (errno set). */
int files_create_at(int dirfd, const char *name, int flags);

/* Creates folder path (one level) with the private folder mode; an existing folder is fine.
 * Returns 0 or -1 (errno set). */
int files_mkdir(const char *path);
/* mkdir -p with the private folder mode. Returns 0 or -1 (errno set). */
int files_mkdirs(const char *path);

/* Writes all len bytes (short writes, EINTR). Returns 0 or -1 (errno set). */
int files_write_all(int fd, const void *buf, size_t len);

/* Temporary file next to name under dirfd, created exclusively (O_EXCL | O_NOFOLLOW): its name
 * goes into tmp (tmplen bytes). Returns the fd or -1 (errno set). */
int files_create_tmp(int dirfd, const char *name, char *tmp, size_t tmplen);
/* Completes a temporary file: fsync (when do_sync), close, rename to name, fsync the folder
 * (when do_sync). Always closes fd; the temporary name is removed on failure. Returns 0 or -1
 * (errno set). */
int files_commit_tmp(int dirfd, int fd, const char *tmp, const char *name, int do_sync);
/* Replaces name under dirfd by len bytes of buf through the two calls above. Returns 0 or -1
 * (text in err). */
int files_replace_at(int dirfd, const char *name, const void *buf, size_t len, int do_sync,
		     char *err, size_t errlen);

/* Reads a secret file whole: opened O_NONBLOCK | O_NOFOLLOW (a FIFO or link does not block or
 * redirect), a regular file owned by uid, not readable by group or others, at most cap - 1
 * bytes; buf is NUL-terminated and *len set. what names the file in errors (e.g.
 * "S3_CREDENTIALS_FILE"). Returns 0 or -1 (text in err). */
int files_read_secret(const char *what, const char *path, uid_t uid, char *buf, size_t cap,
		      size_t *len, char *err, size_t errlen);

/* Refuses path (a folder) unless it is owned by uid (or root) and no other user can write it
 * (sshd's StrictModes), with how to fix it in err; each parent folder up to / is checked the
 * same way, except that sticky folders (/tmp) are allowed as parents. Returns 0 or -1. */
int files_check_dir(const char *path, uid_t uid, char *err, size_t errlen);

/* Creates the output folder path (private mode) when missing, refuses it as files_check_dir()
 * does, refuses each existing subfolder named in the NULL-terminated list (e.g. "pcaps") that is
 * a link, owned by another user or writable by others, and takes group/other bits beyond the
 * private folder mode off path and those subfolders (folders left by older versions). Returns 0
 * or -1 (text in err, with how to fix it). */
int files_prepare_dir(const char *path, uid_t uid, const char *const *subdirs, char *err,
		      size_t errlen);

#endif
