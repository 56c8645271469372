/* eventfd: the IMG_FD_EVENTFD payload (kind "eventfd"); img_fdx.ino is the
 * kernel's eventfd-id. Saved by runtime/fd_eventfd.c, restored by
 * restore/fd_eventfd.c. */
#ifndef STASIS_IMAGE_KINDS_FD_EVENTFD_H
#define STASIS_IMAGE_KINDS_FD_EVENTFD_H

#include <stdint.h>

#define IMG_EVENTFD_SEMAPHORE (1u << 0)
struct img_eventfd {
	uint64_t count;
	uint32_t flags; /* IMG_EVENTFD_* */
	uint32_t reserved;
};
_Static_assert(sizeof(struct img_eventfd) == 16, "img_eventfd");

#endif
