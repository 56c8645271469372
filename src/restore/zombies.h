/* zombies.c: exited children not yet reaped (IMG_SEC_ZOMBIES). */
#ifndef STASIS_RESTORE_ZOMBIES_H
#define STASIS_RESTORE_ZOMBIES_H

#include "restore/set.h"

#include <stddef.h>

/* The image's zombies are valid (called by rst_load). */
int rst_zombies_check(const struct rst_image *img, char *err, size_t errlen);
/* Inside process i, once its children exist: its zombies again, with their
 * PIDs and exit statuses, not reaped. */
int rst_zombies(const struct rst_set *set, int i);

#endif
