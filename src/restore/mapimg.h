/* mapimg.c: the raw chunks of anonymous regions mapped from the image file
 * instead of read (instant restart), unless l->opt->map_images is 0 (restart
 * --no-map). Sets mapped[chunk]. */
#ifndef STASIS_RESTORE_MAPIMG_H
#define STASIS_RESTORE_MAPIMG_H

#include "restore/mem.h"

#include <stdint.h>

int rst_map_chunks(struct rst_image *img, struct rst_layout *l, uint8_t *mapped);

#endif
