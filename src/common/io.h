/* EINTR-safe, short-transfer-safe I/O helpers. write_full/pwrite_full return 0 or -1
 * with errno set; read_full/pread_full return the bytes read, short only at end of file.
 */
#ifndef STASIS_COMMON_IO_H
#define STASIS_COMMON_IO_H

#include <stddef.h>
#include <sys/types.h>

int write_full(int fd, const void *buf, size_t len);
int pwrite_full(int fd, const void *buf, size_t len, off_t off);
ssize_t read_full(int fd, void *buf, size_t len);
ssize_t pread_full(int fd, void *buf, size_t len, off_t off);
/* Duplicate fd onto the lowest free number >= min, close-on-exec; closes fd. */
int fd_move_above(int fd, int min);
/* Read a small file (e.g. under /proc) into buf, NUL-terminated; returns length or -1. */
ssize_t read_small_file(const char *path, char *buf, size_t size);
/* Replace path with len bytes of buf atomically: a temporary file beside it
 * (path.tmp.PID), written, fsync'ed and renamed over path. 0, or -1 with
 * errno (the temporary file removed). */
int write_file_atomic(const char *path, const void *buf, size_t len);

#endif
