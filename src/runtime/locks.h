/* locks.c: the file locks held through the process's descriptors
 * (IMG_SEC_LOCKS). */
#ifndef STASIS_RUNTIME_LOCKS_H
#define STASIS_RUNTIME_LOCKS_H

#include "image/format.h"
#include "image/kinds/locks.h"

#include <stddef.h>
#include <stdint.h>

struct rt_fds;
struct rt_files;
struct rt_locks {
	struct img_lock *locks;
	uint32_t n;
};
int rt_dump_locks(struct rt_locks *out, const struct rt_fds *fds, const struct rt_files *files,
		  char *err, size_t errlen);
int rt_holds_posix_lock(uint64_t dev, uint64_t ino);

#endif
