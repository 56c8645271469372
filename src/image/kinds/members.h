/* Members (IMG_SEC_MEMBERS, kind "member"): every process of the checkpoint,
 * on every host, as the coordinator listed them, so that a restart of one
 * host's part can name those that did not come back. Saved by
 * runtime/members.c, read by restore/tree.c.
 *   0 4 pid   4 4 flags (IMG_MEMBER_SELF: this image's process)   8 64 host
 *   (NUL-padded)   72 32 name (the program, NUL-padded) */
#ifndef STASIS_IMAGE_KINDS_MEMBERS_H
#define STASIS_IMAGE_KINDS_MEMBERS_H

#include <stdint.h>

#define IMG_MEMBER_SELF (1u << 0)
struct img_member {
	uint32_t pid;
	uint32_t flags;
	char host[64];
	char name[32];
};
_Static_assert(sizeof(struct img_member) == 104, "img_member");

#endif
