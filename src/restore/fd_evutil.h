/* fd_evutil.c: what the event descriptors' kinds (eventfd, timerfd, signalfd,
 * epoll, inotify, pidfd) share at restart. */
#ifndef STASIS_RESTORE_FD_EVUTIL_H
#define STASIS_RESTORE_FD_EVUTIL_H

#include "restore/load.h"

#include <stddef.h>

/* The payload of x if it holds at least `len` bytes, else NULL
 * (errno EINVAL); a checked image never has a short one, but a kind reads
 * only what it checked. */
const void *rst_ev_payload(const struct img_fdx *x, size_t len);
/* Put a new descriptor `fd` at d's number with d's flags (and at every fd of
 * the image that shares d's description), closing fd. */
int rst_ev_replace(const struct rst_image *img, const struct img_fd *d, int fd);

#endif
