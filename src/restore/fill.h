/* fill.c: every chunk read into its premapped region, in parallel. */
#ifndef STASIS_RESTORE_FILL_H
#define STASIS_RESTORE_FILL_H

#include "restore/mem.h"

int rst_fill(struct rst_image *img, const struct rst_layout *l);

#endif
