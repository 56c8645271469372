/* mem.c: the memory regions of the process and their pages.
 * rt_plan_memory runs while every process is stopped (regions, the files
 * behind them, a copy of the shared pages this process stores: snap.c);
 * rt_dump_memory runs in the writer, which stores the pages. */
#ifndef STASIS_RUNTIME_MEM_H
#define STASIS_RUNTIME_MEM_H

#include "image/format.h"

#include <stddef.h>
#include <stdint.h>

struct img_writer;
struct rt_strtab;
struct rt_files;
struct rt_vmas {
	struct img_vma *vmas;
	uint8_t *how; /* per region: how the writer stores its pages */
	uint32_t nvmas;
	struct img_chunk *chunks;
	uint32_t nchunks, chunk_cap;
	struct img_zero_run *zero; /* pages that mapped the zero page (best effort) */
	uint32_t nzero;
	uint64_t vdso_size, vvar_size;
};
/* /proc/self/smaps, in checkpoint memory; NULL with err set. */
char *rt_read_smaps(char *err, size_t errlen);
/* Whether a forked writer may write the image (no MADV_DONTFORK or
 * MADV_WIPEONFORK region). */
int rt_fork_safe(const char *smaps);
enum rt_plan_mode {
	RT_PLAN_COPY = 0, /* copy the shared pages this process stores */
	RT_PLAN_LIVE,	  /* no copy: no process runs before every image is written */
	RT_PLAN_ESTIMATE, /* before the stop: only how much the copy would be (snap.c) */
};
int rt_plan_memory(struct rt_vmas *out, struct rt_strtab *tab, struct rt_files *files,
		   const char *smaps, int mode, char *err, size_t errlen);
int rt_dump_memory(struct img_writer *w, struct rt_vmas *out, char *err, size_t errlen);

#endif
