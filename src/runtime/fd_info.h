/* fd_info.c: what the event descriptors' kinds (eventfd, timerfd, signalfd,
 * epoll, inotify, pidfd) share: reading /proc/self/fdinfo, and recording a
 * descriptor's payload. */
#ifndef STASIS_RUNTIME_FD_INFO_H
#define STASIS_RUNTIME_FD_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rt_fd_ctx;

/* /proc/self/fdinfo/FD into buf, NUL-terminated; its length or -1
 * (errno; E2BIG when it does not fit). */
ssize_t rt_fdinfo_read(int fd, char *buf, size_t size);
/* The text after `key` at the start of a line of info (key includes its
 * ':'), blanks skipped; NULL if there is no such line. */
const char *rt_fdinfo_field(const char *info, const char *key);
/* Parse a number of the field in `base` into *v; -1 if absent. */
int rt_fdinfo_u64(const char *info, const char *key, int base, unsigned long long *v);
/* Record a payload for c's descriptor as `type` (fills c->e). */
int rt_fd_record(struct rt_fd_ctx *c, uint32_t type, uint64_t ino, const void *p, uint32_t len);

#endif
