/* fd_info.c: reading /proc/self/fdinfo, which the event descriptors' kinds
 * (eventfd, timerfd, signalfd, epoll, inotify, pidfd) and locks.c share. */
#ifndef STASIS_RUNTIME_FD_INFO_H
#define STASIS_RUNTIME_FD_INFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/self/fdinfo/FD into buf, NUL-terminated; its length or -1
 * (errno; E2BIG when it does not fit). */
ssize_t rt_fdinfo_read(int fd, char *buf, size_t size);
/* The text after `key` at the start of a line of info (key includes its
 * ':'), blanks skipped; NULL if there is no such line. */
const char *rt_fdinfo_field(const char *info, const char *key);
/* Parse a number of the field in `base` into *v; -1 if absent. */
int rt_fdinfo_u64(const char *info, const char *key, int base, unsigned long long *v);

#endif
