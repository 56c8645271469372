/* plan.c: the blob's plan (blob/blob.h), built from the premapped layout and
 * the restorer's own mappings, and the jump into the blob. */
#ifndef STASIS_RESTORE_PLAN_H
#define STASIS_RESTORE_PLAN_H

#include "restore/blob/abi.h"
#include "restore/blob/blob.h"
#include "restore/mem.h"

#include <stddef.h>
#include <stdint.h>

/* One mapping of the restorer: its range, and its kind if the kernel provides
 * it (img_vma_special: vdso, vvar ...; 0 for any other). */
struct rst_map {
	uint64_t start, end;
	uint32_t special;
};
/* This process's mappings (/proc/self/maps), at most cap: how many, or -1
 * with errno (ENOSPC: more than cap). */
int rst_maps_read(struct rst_map *out, uint32_t cap);

/* The bytes of the plan (struct blob_plan and its arrays) for img. */
size_t rst_plan_size(const struct rst_image *img);
/* The blob area: its code, the plan, a stack per thread, room for moves. */
size_t rst_blob_area_size(const struct rst_image *img);
/* The blob's plan for img at p (rst_plan_size bytes), given the restorer's
 * mappings: unmap them all but the blob area (l->blob_addr) and the scratch
 * range; move the kernel's special mappings and every premapped region
 * (l->premap) to the target's addresses, a move per mapping; the threads,
 * with stacks from `stacks` up; the mm fields; the fds from close_from up
 * closed. 0, or -1 after printing why (another kernel's vDSO, too many
 * mappings). */
int rst_plan(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l,
	     const struct rst_map *maps, uint32_t n, uint64_t stacks, int close_from);
/* Copy the blob into the blob area, plan, and jump into it. */
void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
    __attribute__((noreturn));

#endif
