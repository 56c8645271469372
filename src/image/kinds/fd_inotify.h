/* inotify: the IMG_FD_INOTIFY payload (kind "inotify"): struct
 * img_inotify, then nwatches struct img_inotify_watch. Saved by
 * runtime/fd_inotify.c, restored by restore/fd_inotify.c. */
#ifndef STASIS_IMAGE_KINDS_FD_INOTIFY_H
#define STASIS_IMAGE_KINDS_FD_INOTIFY_H

#include <stdint.h>

struct img_inotify {
	uint32_t nwatches;
	uint32_t reserved;
};
struct img_inotify_watch {
	int32_t wd;
	uint32_t mask;	   /* as the kernel keeps it (IN_* events and flags) */
	uint32_t path_str; /* strings offset: the absolute path it was added with */
	uint32_t reserved;
	uint64_t ino, dev; /* of the watched inode, to warn when the path changed */
};
_Static_assert(sizeof(struct img_inotify) == 8, "img_inotify");
_Static_assert(sizeof(struct img_inotify_watch) == 32, "img_inotify_watch");

#endif
