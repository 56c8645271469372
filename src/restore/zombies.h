/* zombies.c: exited children not yet reaped (IMG_SEC_ZOMBIES). */
#ifndef STASIS_RESTORE_ZOMBIES_H
#define STASIS_RESTORE_ZOMBIES_H

#include "restore/set.h"

#include <stddef.h>

/* Inside process i, once its children exist: its zombies again, with their
 * PIDs and exit statuses, not reaped. */
int rst_zombies(const struct rst_set *set, int i);

#endif
