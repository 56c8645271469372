/* mem.c: the memory of the process: a blob area and a scratch range free in
 * both the restorer's and the target's layout, every region premapped there
 * with its contents (fill.c, mapimg.c). */
#ifndef STASIS_RESTORE_MEM_H
#define STASIS_RESTORE_MEM_H

#include "restore/load.h"
#include "restore/set.h"

#include <stddef.h>
#include <stdint.h>

struct rst_layout {
	const struct rst_options *opt;
	uint64_t blob_addr, blob_len;
	uint64_t scratch_addr, scratch_len;
	uint64_t *premap;    /* per vma: its scratch address, 0 if not premapped */
	uint8_t *mapped;     /* per chunk: 1 if mapped from the image file (mapimg.c) */
	uint64_t (*runs)[2]; /* target address ranges mapped from image files */
	uint32_t nruns;
};
/* Where region v is premapped in the scratch range, from its first free
 * address at: a region of 2 MiB or more at an address congruent to its own
 * modulo 2 MiB (less than 2 MiB above at), so that the blob's mremap moves
 * whole page tables; a smaller one at at. */
uint64_t rst_premap_at(const struct img_vma *v, uint64_t at);
/* l->opt set by the caller. */
int rst_memory(struct rst_image *img, struct rst_layout *l, size_t blob_len);
/* Write or read the target's memory at addr (premapped, filled): 0, or -1
 * if no premapped region holds it all (or, writing, it is not writable). */
int rst_write_target(struct rst_image *img, struct rst_layout *l, uint64_t addr, const void *src,
		     size_t len);
int rst_read_target(const struct rst_image *img, const struct rst_layout *l, uint64_t addr,
		    void *dst, size_t len);

#endif
