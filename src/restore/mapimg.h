/* mapimg.c: the raw chunks of anonymous regions mapped from the image files
 * instead of read (instant restart), unless l->opt->map_images is 0 (restart
 * --no-map). Sets mapped[piece]. */
#ifndef STASIS_RESTORE_MAPIMG_H
#define STASIS_RESTORE_MAPIMG_H

#include "restore/mem.h"

#include <stdint.h>

/* runs mapped per process at most (each splits its region: up to 2 more
 * regions), and fewer when vm.max_map_count leaves less room beside its
 * regions (rst_map_budget) */
#define RST_MAX_MAPPINGS 8192

/* One mapping: len bytes at address vaddr from file (0: the image, k: the
 * k-th below it, as rst_piece_file) at offset off; it spans pieces
 * [first, last], of which those of its file are marked mapped. */
struct rst_map_run {
	uint32_t file, first, last;
	int map; /* worth a mapping */
	uint64_t vaddr, off, len;
};
typedef int (*rst_map_fn)(const struct img_vma *v, uint32_t vi, const struct rst_map_run *r,
			  void *arg);
/* The runs a restart maps under a vm.max_map_count of max_map_count (the
 * same for the restorer and for verify.c): each given to fn (if not NULL),
 * its pieces marked in mapped[]. */
int rst_map_plan(const struct rst_image *img, long max_map_count, uint8_t *mapped, rst_map_fn fn,
		 void *arg);
/* The runs a process of nvmas regions may map under a vm.max_map_count of
 * max_map_count (0..RST_MAX_MAPPINGS). */
int rst_map_budget(long max_map_count, uint32_t nvmas);
/* vm.max_map_count (65530 if it cannot be read). */
long rst_max_map_count(void);
int rst_map_chunks(struct rst_image *img, struct rst_layout *l, uint8_t *mapped);

#endif
