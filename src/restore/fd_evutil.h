/* fd_evutil.c: what the event descriptors' kinds (eventfd, timerfd, signalfd,
 * epoll, inotify, pidfd) share at restart. */
#ifndef STASIS_RESTORE_FD_EVUTIL_H
#define STASIS_RESTORE_FD_EVUTIL_H

#include "restore/load.h"

#include <stddef.h>

/* Put a new descriptor `fd` at d's number with d's flags (and at every fd of
 * the image that shares d's description), closing fd. */
int rst_ev_replace(const struct rst_image *img, const struct img_fd *d, int fd);

#endif
