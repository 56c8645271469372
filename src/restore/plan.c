/* The flat plan for the restore blob, and the jump into it. */
#include "restore/restore.h"
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

#define THREAD_STACK 65536
#define MAX_UNMAP 4096
#define RSEQ_SIG 0x53053053

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

static uint64_t plan_size(const struct rst_image *img)
{
	return page_up(sizeof(struct blob_plan) + MAX_UNMAP * sizeof(struct blob_range) +
		       8 * sizeof(struct blob_move) + max_moves(img) * sizeof(struct blob_move) +
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
	return code_size() + plan_size(img) + (img->nthreads + 1) * THREAD_STACK +
	       specials_size(img);
}

static uint32_t special_kind(const char *name)
{
	if (!strcmp(name, "[vdso]"))
		return IMG_VMA_VDSO;
	if (!strcmp(name, "[vvar]"))
		return IMG_VMA_VVAR;
	if (!strcmp(name, "[vvar_vclock]"))
		return IMG_VMA_VVAR_VCLOCK;
	if (!strcmp(name, "[vsyscall]"))
		return IMG_VMA_VSYSCALL;
	return 0;
}

static const struct img_vma *target_special(const struct rst_image *img, uint32_t kind)
{
	for (uint32_t i = 0; i < img->nvmas; i++)
		if (img->vmas[i].kind == kind)
			return &img->vmas[i];
	return NULL;
}

/* Our own mappings: unmap them all, except the blob area, the scratch range and
 * the kernel's special mappings, which move to the target's addresses. */
static int plan_maps(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l)
{
	struct blob_range *un = (void *)((char *)p + p->unmap_off);
	struct blob_move *sp = (void *)((char *)p + p->special_off);
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	if (!f)
		return error("cannot read /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		char name[PATH_MAX] = "";
		if (sscanf(line, "%llx-%llx %*s %*s %*s %*s %4095s", &s, &e, name) < 2)
			continue;
		uint32_t kind = special_kind(name);
		if (kind == IMG_VMA_VSYSCALL ||
		    (s >= l->blob_addr && e <= l->blob_addr + l->blob_len) ||
		    (s >= l->scratch_addr && e <= l->scratch_addr + l->scratch_len))
			continue;
		if (kind) {
			const struct img_vma *t = target_special(img, kind);
			if (!t || t->end - t->start != e - s) {
				fclose(f);
				return error(
				    "this kernel's %s differs from the one in the image "
				    "(another kernel?): restart on a host with the same kernel",
				    name);
			}
			sp[p->nspecial++] = (struct blob_move){s, t->start, e - s};
			continue;
		}
		if (p->nunmap >= MAX_UNMAP) {
			fclose(f);
			return error("too many restorer mappings");
		}
		un[p->nunmap++] = (struct blob_range){s, e - s};
	}
	fclose(f);
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
static int plan_moves(struct blob_plan *p, const struct rst_image *img, const struct rst_layout *l)
{
	struct blob_move *m = (void *)((char *)p + p->moves_off);
	uint32_t cap = max_moves(img), i = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	if (!f)
		return error("cannot read /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		if (sscanf(line, "%llx-%llx", &s, &e) != 2)
			continue;
		for (; i < img->nvmas; i++) {
			if (!l->premap[i] || premap_end(img, l, i) <= s)
				continue;
			if (l->premap[i] >= e)
				break; /* the region starts in a later mapping */
			uint64_t a = s > l->premap[i] ? s : l->premap[i];
			uint64_t b = e < premap_end(img, l, i) ? e : premap_end(img, l, i);
			if (p->nmoves >= cap) {
				fclose(f);
				return error("too many memory mappings to move (%u)", cap);
			}
			m[p->nmoves++] =
			    (struct blob_move){a, img->vmas[i].start + (a - l->premap[i]), b - a};
			if (b < premap_end(img, l, i))
				break; /* the rest of region i is in the next mapping */
		}
	}
	fclose(f);
	return 0;
}

static void plan_threads(struct blob_plan *p, const struct rst_image *img, uint64_t stacks)
{
	struct blob_thread *t = (void *)((char *)p + p->threads_off);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *s = &img->threads[i];
		t[i] = (struct blob_thread){
		    .fs_base = s->fs_base,
		    .stack_top = stacks + (i + 1) * THREAD_STACK,
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

void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
{
	char *base = (char *)l->blob_addr;
	uint64_t code = code_size(), plan = plan_size(img);
	uint64_t stacks = l->blob_addr + code + plan;
	struct blob_plan *p = (void *)(base + code);
	if (mprotect(base, l->blob_len, PROT_READ | PROT_WRITE) < 0)
		rst_abort("pid %u: cannot prepare the restore blob: %s", img->proc->pid,
			  strerror(errno));
	memcpy(base, stasis_blob_start, stasis_blob_end - stasis_blob_start);
	memset(p, 0, sizeof(*p));
	p->log_fd = log_fd;
	p->close_from = close_from;
	p->scratch_addr = l->scratch_addr;
	p->scratch_len = l->scratch_len;
	p->tmp_addr = stacks + (img->nthreads + 1) * THREAD_STACK;
	p->unmap_off = sizeof(*p);
	p->special_off = p->unmap_off + MAX_UNMAP * sizeof(struct blob_range);
	p->moves_off = p->special_off + 8 * sizeof(struct blob_move);
	p->threads_off = p->moves_off + max_moves(img) * sizeof(struct blob_move);
	if (plan_moves(p, img, l) < 0)
		rst_abort("pid %u: cannot prepare the restore blob: too many memory moves",
			  img->proc->pid);
	plan_threads(p, img, stacks);
	plan_mm(p, img, close_from);
	p->fault = fault_check(FAULT_RST_BLOB);
	if (mprotect(base, code, PROT_READ | PROT_EXEC) < 0 || plan_maps(p, img, l) < 0)
		rst_abort("pid %u: cannot prepare the restore blob: %s", img->proc->pid,
			  strerror(errno));
	unregister_rseq();
	((blob_entry_fn)(void *)base)(p, stacks + (img->nthreads + 1) * THREAD_STACK);
	__builtin_unreachable();
}
