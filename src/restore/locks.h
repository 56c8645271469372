/* locks.c: file locks (IMG_SEC_LOCKS). */
#ifndef STASIS_RESTORE_LOCKS_H
#define STASIS_RESTORE_LOCKS_H

#include "restore/load.h"

#include <stddef.h>

/* The image's file locks name restored regular-file fds (rst_load). */
int rst_locks_check(const struct rst_image *img, char *err, size_t errlen);
/* Inside the process, last before the jump: its file locks again. */
int rst_locks_take(const struct rst_image *img);

#endif
