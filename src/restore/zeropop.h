/* zeropop.c: the pages that mapped the shared zero page at the checkpoint
 * (IMG_SEC_ZERO) mapped to it again before the program runs. */
#ifndef STASIS_RESTORE_ZEROPOP_H
#define STASIS_RESTORE_ZEROPOP_H

#include "restore/load.h"
#include "restore/mem.h"

/* Best effort, after the regions are premapped and filled: nothing fails. */
void rst_zero_pages(const struct rst_image *img, const struct rst_layout *l);

#endif
