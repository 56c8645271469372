/* Descriptions shared between processes (IMG_SEC_SHARES, kind "share"): one
 * record per descriptor (the lowest of its dups) whose open file description
 * another process of the checkpoint holds too, in fd order. Its owner, the
 * lowest (pid, fd) holding the description in the whole computation, names
 * the description: every holder's record has the same one. Saved by
 * runtime/shares.c, restored by restore/shares.c.
 *   0 4 fd   4 4 owner_pid   8 4 owner_fd   12 4 reserved (0) */
#ifndef STASIS_IMAGE_KINDS_SHARES_H
#define STASIS_IMAGE_KINDS_SHARES_H

#include <stdint.h>

struct img_share {
	int32_t fd;
	uint32_t owner_pid;
	int32_t owner_fd;
	uint32_t reserved;
};
_Static_assert(sizeof(struct img_share) == 16, "img_share");

#endif
