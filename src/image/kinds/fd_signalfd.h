/* signalfd: the IMG_FD_SIGNALFD payload (kind "signalfd"). Saved by
 * runtime/fd_signalfd.c, restored by restore/fd_signalfd.c. */
#ifndef STASIS_IMAGE_KINDS_FD_SIGNALFD_H
#define STASIS_IMAGE_KINDS_FD_SIGNALFD_H

#include <stdint.h>

struct img_signalfd {
	uint64_t sigmask; /* bit sig-1 for signal sig */
};
_Static_assert(sizeof(struct img_signalfd) == 8, "img_signalfd");

#endif
