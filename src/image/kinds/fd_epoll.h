/* epoll: the IMG_FD_EPOLL payload (kind "epoll"): struct img_epoll, then
 * nitems struct img_epoll_item, the whole interest list. Saved by
 * runtime/fd_epoll.c, restored by restore/fd_epoll.c. */
#ifndef STASIS_IMAGE_KINDS_FD_EPOLL_H
#define STASIS_IMAGE_KINDS_FD_EPOLL_H

#include <stdint.h>

struct img_epoll {
	uint32_t nitems;
	uint32_t reserved;
};
struct img_epoll_item {
	int32_t tfd;	 /* the fd number the item was added with (its key) */
	uint32_t events; /* EPOLL* including EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE */
	uint64_t data;
	int32_t src_fd; /* an fd of the process with the target's description (tfd if open);
			   -1: only the parent holds it (the epoll is the parent's too) */
	uint32_t reserved;
};
_Static_assert(sizeof(struct img_epoll) == 8, "img_epoll");
_Static_assert(sizeof(struct img_epoll_item) == 24, "img_epoll_item");

#endif
