/* plan.c: the blob's plan (blob/blob.h), built from the premapped layout,
 * and the jump into the blob. */
#ifndef STASIS_RESTORE_PLAN_H
#define STASIS_RESTORE_PLAN_H

#include "restore/mem.h"

#include <stddef.h>

void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
    __attribute__((noreturn));
size_t rst_blob_area_size(const struct rst_image *img);

#endif
