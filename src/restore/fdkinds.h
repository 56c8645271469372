/* fdkinds.c: the descriptor kinds at restart, in one table. `scan` runs once per set before
 * anything is created (to register shared objects), `open` gives a new descriptor (O_CLOEXEC) for
 * d, and `late` runs once the process's descriptors are all in place and its children exist (epoll
 * interest lists, pidfds), with the descriptor already at d->fd. */
#ifndef STASIS_RESTORE_FDKINDS_H
#define STASIS_RESTORE_FDKINDS_H

#include "restore/set.h"

#include <stddef.h>
#include <stdint.h>

struct rst_fd_kind {
	uint32_t type;
	int (*scan)(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		    char *err, size_t errlen);
	int (*open)(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x);
	int (*late)(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x);
	/* late_inherited: `late` also runs for a descriptor taken from the parent
	 * (what the parent had when it forked was a placeholder: pidfds);
	 * late_pass 1: after every other kind's `late` (epoll: its targets) */
	int late_inherited, late_pass;
};
const struct rst_fd_kind *rst_fd_kind(uint32_t type);
/* Every `late` step of process i's descriptors */
int rst_fds_late(const struct rst_set *set, int i);

#endif
