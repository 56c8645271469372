/* Event descriptors at restart (eventfd, timerfd, signalfd, epoll, inotify,
 * pidfd): the kinds fdkinds.c lists. */
#ifndef STASIS_RESTORE_FD_EVENT_H
#define STASIS_RESTORE_FD_EVENT_H

#include "restore/restore.h"

extern const struct rst_fd_kind rst_fd_eventfd, rst_fd_timerfd, rst_fd_signalfd, rst_fd_epoll,
    rst_fd_inotify, rst_fd_pidfd;

/* fd_evutil.c: the payload of x if it holds at least `len` bytes, else NULL
 * (errno EINVAL); a checked image never has a short one, but a kind reads
 * only what it checked. */
const void *rst_ev_payload(const struct img_fdx *x, size_t len);
/* Put a new descriptor `fd` at d's number with d's flags (and at every fd of
 * the image that shares d's description), closing fd. */
int rst_ev_replace(const struct rst_image *img, const struct img_fd *d, int fd);

#endif
