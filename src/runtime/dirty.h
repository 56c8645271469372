/* dirty.c: incremental checkpoints (userfaultfd write-protect + PAGEMAP_SCAN).
 * rt_dirty_scan runs with the threads held, before the writer forks: it
 * registers and scans every private anonymous region; rt_dirty_lookup gives
 * the runs of a tracked region (sorted; written or unchanged since the last
 * image); rt_dirty_parent is the IMG_SEC_PARENT record when the image being
 * written is incremental. rt_dirty_done records a written image and returns
 * the oldest generation retention must keep. */
#ifndef STASIS_RUNTIME_DIRTY_H
#define STASIS_RUNTIME_DIRTY_H

#include "image/format.h"

#include <stddef.h>
#include <stdint.h>

struct rt_dirty_run {
	uint64_t start, end;
	uint32_t written;
	uint32_t reserved;
};
struct rt_dirty_vma {
	uint64_t start, end;
	uint32_t first_run, nruns;
};
int rt_dirty_scan(const char *smaps, const char *path, int want_incremental, char *err,
		  size_t errlen);
int rt_dirty_lookup(uint64_t start, uint64_t end, const struct rt_dirty_run **runs, uint32_t *n);
const struct img_parent *rt_dirty_parent(void);
uint32_t rt_dirty_done(const char *path, uint32_t gen, uint64_t header_sum, uint64_t size);
/* What rt_dirty_done would return for gen, changing nothing. */
uint32_t rt_dirty_keep_from(uint32_t gen);
int rt_dirty_fd(void);
/* The program dup2()s onto the userfaultfd's number: move it away. */
void rt_dirty_move_fd(int fd);
void rt_dirty_reset(uint32_t base_gen);

#endif
