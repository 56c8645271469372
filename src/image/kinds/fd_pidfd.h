/* pidfd: the IMG_FD_PIDFD payload (kind "pidfd"). Saved by
 * runtime/fd_pidfd.c, restored by restore/fd_pidfd.c. */
#ifndef STASIS_IMAGE_KINDS_FD_PIDFD_H
#define STASIS_IMAGE_KINDS_FD_PIDFD_H

#include <stdint.h>

struct img_pidfd {
	int32_t pid;	/* in the computation's PID namespace */
	uint32_t flags; /* PIDFD_NONBLOCK, PIDFD_THREAD as pidfd_open takes them */
};
_Static_assert(sizeof(struct img_pidfd) == 8, "img_pidfd");

#endif
