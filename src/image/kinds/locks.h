/* File locks (IMG_SEC_LOCKS, kind "lock"): a lock the process holds, taken
 * again at restart through descriptor `fd`. POSIX locks belong to the
 * process, flock and OFD locks to the open file description (recorded once,
 * on its lowest fd). Saved by runtime/locks.c, restored by restore/locks.c. */
#ifndef STASIS_IMAGE_KINDS_LOCKS_H
#define STASIS_IMAGE_KINDS_LOCKS_H

#include <stdint.h>

enum img_lock_kind {
	IMG_LOCK_POSIX = 1, /* fcntl F_SETLK */
	IMG_LOCK_FLOCK = 2, /* flock */
	IMG_LOCK_OFD = 3,   /* fcntl F_OFD_SETLK */
};
struct img_lock {
	int32_t fd;
	uint32_t kind;	/* enum img_lock_kind */
	uint32_t write; /* 1: exclusive (F_WRLCK, LOCK_EX), 0: shared */
	uint32_t reserved;
	int64_t start; /* first byte (0 for flock) */
	int64_t end;   /* last byte, -1: to the end of the file (and beyond) */
};
_Static_assert(sizeof(struct img_lock) == 32, "img_lock");

#endif
