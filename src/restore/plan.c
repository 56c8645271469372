/* The flat plan for the restore blob, and the jump into it. */
#include "restore/plan.h"
#include "restore/load.h"
#include "restore/mapimg.h"
#include "restore/mem.h"
#include "restore/blob/abi.h"
#include "restore/spawn.h"
#include "common/fault.h"
#include "restore/blob/blob.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_UNMAP 4096 /* restorer mappings the blob unmaps */

extern const char stasis_blob_start[], stasis_blob_end[];
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static uint64_t page_up(uint64_t x)
{
	return (x + 4095) & ~4095ull;
}

static uint64_t code_size(void)
{
	return page_up(stasis_blob_end - stasis_blob_start);
}

/* a region splits into at most 2 mappings more per run of chunks mapped from
 * the image file (mapimg.c) */
static uint32_t max_moves(const struct rst_image *img)
{
	return img->nvmas + 2 * img->nchunks;
}

size_t rst_plan_size(const struct rst_image *img)
{
	return page_up(sizeof(struct blob_plan) + MAX_UNMAP * sizeof(struct blob_range) +
		       BLOB_MAX_SPECIAL * sizeof(struct blob_move) +
		       max_moves(img) * sizeof(struct blob_move) +
		       img->nthreads * sizeof(struct blob_thread));
}

static uint64_t specials_size(const struct rst_image *img)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < img->nvmas; i++) {
		uint32_t k = img->vmas[i].kind;
		if (k == IMG_VMA_VDSO || k == IMG_VMA_VVAR || k == IMG_VMA_VVAR_VCLOCK)
			n += img->vmas[i].end - img->vmas[i].start;
	}
	return page_up(n) + (1 << 20);
}

size_t rst_blob_area_size(const struct rst_image *img)
{
	return code_size() + rst_plan_size(img) + (img->nthreads + 1) * BLOB_THREAD_STACK +
	       specials_size(img);
}

static const struct img_vma *target_special(const struct rst_image *img, uint32_t kind)
{
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (img->vmas[i].kind == kind)
			return &img->vmas[i];
	return NULL;
}

int rst_maps_read(struct rst_map *out, uint32_t cap)
{
	FILE *f = fopen("/proc/self/maps", "re"); /* allocates now, not while reading */
	char line[PATH_MAX + 128];
	uint32_t n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char name[PATH_MAX] = "";
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %4095s", &s, &e, name) < 2)
			continue;
		if (n == cap) {
			fclose(f);
			errno = ENOSPC;
			return -1;
		}
		out[n++] = (struct rst_map){s, e, img_vma_special(name)};
	}
	fclose(f);
	return n;
}

/* Our own mappings: unmap them all, except the blob area, the scratch range and
 * the kernel's special mappings, which move to the target's addresses. */
static int plan_maps(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l,
		     const struct rst_map *maps, uint32_t n)
{
	struct blob_range *un = (void *)((char *)p + p->unmap_off);
	struct blob_move *sp = (void *)((char *)p + p->special_off);
	for (const struct rst_map *m = maps; m < maps + n; m++) {
		if (m->special == IMG_VMA_VSYSCALL ||
		    (m->start >= l->blob_addr && m->end <= l->blob_addr + l->blob_len) ||
		    (m->start >= l->scratch_addr && m->end <= l->scratch_addr + l->scratch_len))
			continue;
		if (m->special) {
			const struct img_vma *t = target_special(img, m->special);
			if (!t || t->end - t->start != m->end - m->start)
				return error(
				    "this kernel's %s differs from the one in the image "
				    "(another kernel?): restart on a host with the same kernel",
				    img_vma_kind_name(m->special));
			if (p->nspecial == BLOB_MAX_SPECIAL)
				return error("more than %d special kernel mappings (vdso, vvar)",
					     BLOB_MAX_SPECIAL);
			sp[p->nspecial++] =
			    (struct blob_move){m->start, t->start, m->end - m->start};
			continue;
		}
		if (p->nunmap >= MAX_UNMAP)
			return error("too many restorer mappings (over %d)", MAX_UNMAP);
		un[p->nunmap++] = (struct blob_range){m->start, m->end - m->start};
	}
	return 0;
}

static uint64_t premap_end(const struct rst_image *img, const struct rst_layout *l, uint32_t i)
{
	return l->premap[i] + img->vmas[i].end - img->vmas[i].start;
}

/* One move per mapping: a region partly mapped from the image file is several
 * mappings, and mremap moves only one at a time on kernels before 6.17. A
 * mapping may also reach beyond its region (PROT_NONE regions merge with the
 * reservation around them): moves are clipped to the regions. */
static int plan_moves(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l,
		      const struct rst_map *maps, uint32_t n)
{
	struct blob_move *mv = (void *)((char *)p + p->moves_off);
	uint32_t cap = max_moves(img), i = 0;
	for (const struct rst_map *m = maps; m < maps + n; m++) {
		for (; i < img->nvmas; i++) {
			if (!l->premap[i] || premap_end(img, l, i) <= m->start)
				continue;
			if (l->premap[i] >= m->end)
				break; /* the region starts in a later mapping */
			uint64_t a = m->start > l->premap[i] ? m->start : l->premap[i];
			uint64_t b =
			    m->end < premap_end(img, l, i) ? m->end : premap_end(img, l, i);
			if (p->nmoves >= cap)
				return error("too many memory mappings to move (%u)", cap);
			mv[p->nmoves++] =
			    (struct blob_move){a, img->vmas[i].start + (a - l->premap[i]), b - a};
			if (b < premap_end(img, l, i))
				break; /* the rest of region i is in the next mapping */
		}
	}
	return 0;
}

static void plan_threads(struct blob_plan *p, const struct rst_image *img, uint64_t stacks)
{
	struct blob_thread *t = (void *)((char *)p + p->threads_off);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *s = &img->threads[i];
		t[i] = (struct blob_thread){
		    .fs_base = s->fs_base,
		    .stack_top = stacks + (i + 1) * BLOB_THREAD_STACK,
		    .tid = s->tid,
		    .main = !!(s->flags & IMG_THREAD_MAIN),
		    .ctx = s->ctx,
		};
	}
	p->nthreads = img->nthreads;
}

static void plan_mm(struct blob_plan *p, const struct rst_image *img, int close_from)
{
	const struct img_mm *mm = &img->proc->mm;
	const char *exe = rst_str(img, img->proc->exe_str);
	int fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fd < close_from) {
		int nfd = fcntl(fd, F_DUPFD_CLOEXEC, close_from);
		close(fd);
		fd = nfd;
	}
	p->mm = (struct blob_mm_map){
	    .start_code = mm->start_code,
	    .end_code = mm->end_code,
	    .start_data = mm->start_data,
	    .end_data = mm->end_data,
	    .start_brk = mm->start_brk,
	    .brk = mm->brk,
	    .start_stack = mm->start_stack,
	    .arg_start = mm->arg_start,
	    .arg_end = mm->arg_end,
	    .env_start = mm->env_start,
	    .env_end = mm->env_end,
	    .auxv_size = mm->auxv_words * 8,
	    .exe_fd = fd >= 0 ? (uint32_t)fd : ~0u,
	};
	memcpy(p->auxv, mm->auxv, sizeof(p->auxv));
}

static void unregister_rseq(void)
{
	if (!&__rseq_size || !__rseq_size)
		return;
	char *tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	if (syscall(SYS_rseq, tp + __rseq_offset, 32, 1, RSEQ_SIG) < 0)
		syscall(SYS_rseq, tp + __rseq_offset, __rseq_size, 1, RSEQ_SIG);
}

int rst_plan(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l,
	     const struct rst_map *maps, uint32_t n, uint64_t stacks, int close_from)
{
	memset(p, 0, sizeof(*p));
	p->close_from = close_from;
	p->scratch_addr = l->scratch_addr;
	p->scratch_len = l->scratch_len;
	p->tmp_addr = stacks + (img->nthreads + 1) * BLOB_THREAD_STACK;
	p->unmap_off = sizeof(*p);
	p->special_off = p->unmap_off + MAX_UNMAP * sizeof(struct blob_range);
	p->moves_off = p->special_off + BLOB_MAX_SPECIAL * sizeof(struct blob_move);
	p->threads_off = p->moves_off + max_moves(img) * sizeof(struct blob_move);
	if (plan_moves(p, img, l, maps, n) < 0 || plan_maps(p, img, l, maps, n) < 0)
		return -1;
	plan_threads(p, img, stacks);
	plan_mm(p, img, close_from);
	return 0;
}

/* Lines of /proc/self/maps before the jump: the restorer's own mappings, the
 * premapped regions, and each run mapped from an image file with the anonymous
 * parts around it. */
static uint32_t maps_cap(const struct rst_image *img)
{
	return MAX_UNMAP + 64 + img->nvmas + 2 * RST_MAX_MAPPINGS;
}

void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
{
	char *base = (char *)l->blob_addr;
	uint64_t code = code_size(), plan = rst_plan_size(img);
	uint64_t stacks = l->blob_addr + code + plan;
	struct blob_plan *p = (void *)(base + code);
	struct rst_map *maps = calloc(maps_cap(img), sizeof(*maps));
	if (!maps || mprotect(base, l->blob_len, PROT_READ | PROT_WRITE) < 0)
		rst_abort("pid %u: cannot prepare the restore blob: %s", img->proc->pid,
			  strerror(errno));
	memcpy(base, stasis_blob_start, stasis_blob_end - stasis_blob_start);
	int n = mprotect(base, code, PROT_READ | PROT_EXEC) < 0
		    ? -1
		    : rst_maps_read(maps, maps_cap(img)); /* the last mapping made */
	if (n < 0)
		rst_abort("pid %u: cannot read its mappings (/proc/self/maps): %s", img->proc->pid,
			  strerror(errno));
	if (rst_plan(p, img, l, maps, n, stacks, close_from) < 0)
		rst_abort("pid %u: cannot prepare the restore blob", img->proc->pid);
	p->log_fd = log_fd;
	p->fault = fault_check(FAULT_RST_BLOB);
	unregister_rseq();
	((blob_entry_fn)(void *)base)(p, stacks + (img->nthreads + 1) * BLOB_THREAD_STACK);
	__builtin_unreachable();
}
