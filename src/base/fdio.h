/*
 * fdio.h - whole reads and writes at an offset, going on after short transfers and EINTR, for the
 * capture file writers (pcapfile, pcapng) and the repair walk.
 */
#ifndef RINGCAP_FDIO_H
#define RINGCAP_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Writes all of iov (cnt entries; iov is modified) at off. Returns 0 or a negative errno. */
int fdio_pwrite_all(int fd, struct iovec *iov, int cnt, uint64_t off);

/* Reads up to len bytes at off. Returns the count (short only at EOF) or a negative errno. */
ssize_t fdio_pread_all(int fd, uint8_t *buf, size_t len, uint64_t off);

#endif
