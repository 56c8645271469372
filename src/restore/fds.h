/* fds.c: descriptors at restart: every saved fd at its number, with its
 * flags and offset; the restorer's own fds are moved above all of them first. */
#ifndef STASIS_RESTORE_FDS_H
#define STASIS_RESTORE_FDS_H

#include "restore/set.h"

/* Process i's descriptors at their numbers (shared with its parent's where
 * they were); on return every fd below set->top is the target's. */
int rst_fds(struct rst_set *set, int i);
/* A new open file description for process i's descriptor d, as its own
 * restore would make it (for shares.c, which makes it in another process). */
int rst_fd_open(const struct rst_set *set, int i, const struct img_fd *d);

#endif
