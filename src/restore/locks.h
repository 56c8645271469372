/* locks.c: file locks (IMG_SEC_LOCKS). */
#ifndef STASIS_RESTORE_LOCKS_H
#define STASIS_RESTORE_LOCKS_H

#include "restore/load.h"

#include <stddef.h>

/* Inside the process, last before the jump: its file locks again. */
int rst_locks_take(const struct rst_image *img);

#endif
