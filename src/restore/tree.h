/* tree.c: the images of a restart are one checkpoint, complete, and form a
 * process tree; the restorers' descriptors in their fixed layout (set.h). */
#ifndef STASIS_RESTORE_TREE_H
#define STASIS_RESTORE_TREE_H

#include "restore/set.h"

#include <stddef.h>

/* The images are one checkpoint, complete; parents from their ppids. */
int rst_set_check(struct rst_set *set, char *err, size_t errlen);
/* Once joined to the coordinator, the restorer fds to the fixed layout (the
 * objects made early at theirs). */
int rst_set_layout(struct rst_set *set, char *err, size_t errlen);

#endif
