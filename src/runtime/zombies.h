/* zombies.c: the exited children not yet reaped (IMG_SEC_ZOMBIES). */
#ifndef STASIS_RUNTIME_ZOMBIES_H
#define STASIS_RUNTIME_ZOMBIES_H

#include "image/format.h"
#include "image/kinds/zombies.h"

#include <stdint.h>

/* Take the zombies out of a list of children (returns how many live ones are
 * left in pids) and keep their records for the image. */
int rt_zombies_take(uint32_t *pids, int n);
const struct img_zombie *rt_zombies_list(uint32_t *n);

#endif
