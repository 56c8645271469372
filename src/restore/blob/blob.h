/* The restore blob's argument block: everything the freestanding blob needs,
 * fully prepared by the restorer (restore/plan.c). The blob makes no decision
 * the libc side could have made. Shared by both sides: stdint only.
 *
 * The plan lives in the blob area (free in both the restorer's and the target's
 * layout) right after the blob's code; arrays follow the struct, located by
 * byte offsets from the start of the plan.
 */
#ifndef STASIS_RESTORE_BLOB_H
#define STASIS_RESTORE_BLOB_H

#include "image/format.h"

#include <stdint.h>

/* A process that fails before it becomes its image sends this signal (35:
 * glibc's SIGRTMIN + 1, none of those restart passes on to the program, nor
 * SIGRTMIN, with which it does) to PID 1 of the restart's namespace, which
 * then ends the namespace and every process in it: a restart is all or
 * nothing. */
#define BLOB_ABORT_SIGNAL 35

struct blob_range {
	uint64_t addr, len;
};

struct blob_move {
	uint64_t src, dst, len;
};

struct blob_thread {
	uint64_t fs_base;
	uint64_t stack_top; /* a small stack in the blob area for the clone */
	uint32_t tid;
	uint32_t main; /* the thread-group leader: resumed by the blob itself */
	struct img_context ctx;
};

struct blob_mm_map { /* struct prctl_mm_map */
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv; /* pointer */
	uint32_t auxv_size;
	uint32_t exe_fd;
};

struct blob_plan {
	int32_t log_fd;
	int32_t close_from; /* every fd from here up is the restorer's */
	uint64_t rseq_addr; /* the restorer's own rseq area, to unregister */
	uint32_t rseq_len;
	uint32_t rseq_sig;
	uint64_t scratch_addr, scratch_len; /* premap reservation: unmapped after the moves */
	uint64_t tmp_addr;		    /* room for moving the vDSO in two steps */
	uint32_t nunmap, nspecial, nmoves, nthreads;
	uint64_t unmap_off, special_off, moves_off, threads_off; /* from the plan's start */
	struct blob_mm_map mm;
	uint64_t auxv[IMG_AUXV_WORDS];
	uint32_t fault; /* fault injection (rst-blob): 1 fail, 2 stop, once unmapped */
};

/* Entry at offset 0 of the blob: switches to stack_top and never returns. */
typedef void (*blob_entry_fn)(struct blob_plan *plan, uint64_t stack_top);

#endif
