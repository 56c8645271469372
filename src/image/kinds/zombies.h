/* Zombies (IMG_SEC_ZOMBIES, kind "zombie"): children that have exited but
 * were not reaped, recorded in their parent's image and recreated as zombies
 * with the same PID and status. Saved by runtime/zombies.c, restored by
 * restore/zombies.c.
 *   0 4 pid   4 4 pgid   8 4 sid   12 4 exit_signal (what the parent gets, 0 if none)
 *   16 4 code: CLD_EXITED (1), CLD_KILLED (2) or CLD_DUMPED (3), as waitid gives it
 *   20 4 status: exit code, or the signal that ended it */
#ifndef STASIS_IMAGE_KINDS_ZOMBIES_H
#define STASIS_IMAGE_KINDS_ZOMBIES_H

#include <stdint.h>

struct img_zombie {
	uint32_t pid, pgid, sid;
	int32_t exit_signal;
	int32_t code, status;
};
_Static_assert(sizeof(struct img_zombie) == 24, "img_zombie");

#endif
