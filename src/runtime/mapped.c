/* Memory a restart mapped from its image file (restore/mapimg.c) is a private
 * file mapping, not anonymous memory: MADV_DONTNEED or MADV_FREE there would
 * bring back the image's bytes where the program (its allocator, jemalloc for
 * one) counts on zeros. The wrappers below make such pages anonymous again
 * (a fresh MAP_ANONYMOUS mapping over them, which reads as zeros, as the
 * advice would) before the advice runs, and follow the mapped ranges through
 * mremap. rt.restart.mapped is a quick filter: it is a superset, and
 * /proc/self/maps says which parts really are image mappings. Nothing here
 * calls malloc: the caller may be an allocator holding its own locks. */
#include "runtime/mapped.h"
#include "restore/blob/restart_info.h"
#include "runtime/state.h"
#include "runtime/libc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

static int overlaps_mapped(uint64_t a, uint64_t len)
{
	const struct rt_restart_info *ri = &rt.restart;
	for (uint32_t i = 0; i < ri->nmapped && i < RT_MAX_MAPPED; i++)
		if (a < ri->mapped[i][1] && a + len > ri->mapped[i][0])
			return 1;
	return 0;
}

static int prot_of(const char *perms)
{
	return (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
	       (perms[2] == 'x' ? PROT_EXEC : 0);
}

int rt_image_mapping(const char *line, uint64_t *s, uint64_t *e, int *prot)
{
	unsigned long long start, end;
	char perms[8];
	int n = 0;
	if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &start, &end, perms, &n) < 3 || !n ||
	    perms[3] != 'p' || !strstr(line + n, ".stasis"))
		return 0;
	*s = start;
	*e = end;
	*prot = prot_of(perms);
	return 1;
}

void rt_maps_lines(void (*fn)(const char *line, void *arg), void *arg)
{
	char buf[8192], line[4200];
	size_t ll = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return;
	/* the kernel gives whole lines per read; map changes during the walk
	 * are ours and only split lines we have already passed */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			fn(line, arg);
		}
	close(fd);
}

/* One line of /proc/self/maps: a private mapping of a stasis image that
 * overlaps [a, b) becomes anonymous memory over the overlap. */
static void anonymize_line(const char *line, void *arg)
{
	const uint64_t *ab = arg;
	uint64_t s, e;
	int prot;
	if (!rt_image_mapping(line, &s, &e, &prot))
		return;
	uint64_t from = s > ab[0] ? s : ab[0], to = e < ab[1] ? e : ab[1];
	if (from < to)
		syscall(SYS_mmap, from, to - from, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			-1, 0);
}

/* PROCMAP_QUERY (Linux 6.11, uapi/linux/fs.h): the mapping at or after an
 * address, without reading all of /proc/self/maps (a restart from a chain of
 * images leaves thousands of image mappings: reading them all for each
 * MADV_DONTNEED made 2570 calls take 19 s) */
#define PROCMAP_QUERY 0xc0686611
#define PROCMAP_QUERY_VMA_READABLE 0x01
#define PROCMAP_QUERY_VMA_WRITABLE 0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_VMA_SHARED 0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#define PROCMAP_QUERY_FILE_BACKED_VMA 0x20
struct procmap_query {
	uint64_t size, query_flags, query_addr;
	uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};

static int prot_of_query(uint64_t f)
{
	return (f & PROCMAP_QUERY_VMA_READABLE ? PROT_READ : 0) |
	       (f & PROCMAP_QUERY_VMA_WRITABLE ? PROT_WRITE : 0) |
	       (f & PROCMAP_QUERY_VMA_EXECUTABLE ? PROT_EXEC : 0);
}

/* The private mappings of stasis images over [a, b) made anonymous, found by
 * PROCMAP_QUERY; -1 if this kernel has none (nothing done). */
static int anonymize_queried(uint64_t a, uint64_t b)
{
	char name[4200];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), rc = 0;
	if (fd < 0)
		return -1;
	for (uint64_t at = a; at < b;) {
		struct procmap_query q = {.size = sizeof(q),
					  .query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA |
							 PROCMAP_QUERY_FILE_BACKED_VMA,
					  .query_addr = at,
					  .vma_name_addr = (uint64_t)(uintptr_t)name,
					  .vma_name_size = sizeof(name)};
		if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
			rc = at == a && errno != ENOENT ? -1 : 0; /* ENOENT: no mapping after */
			break;
		}
		if (q.vma_start >= b)
			break;
		uint64_t from = q.vma_start > a ? q.vma_start : a,
			 to = q.vma_end < b ? q.vma_end : b;
		if (!(q.vma_flags & PROCMAP_QUERY_VMA_SHARED) && q.vma_name_size &&
		    strstr(name, ".stasis"))
			syscall(SYS_mmap, from, to - from, prot_of_query(q.vma_flags),
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		at = q.vma_end;
	}
	close(fd);
	return rc;
}

static void anonymize(uint64_t a, uint64_t b)
{
	uint64_t ab[2] = {a, b};
	if (anonymize_queried(a, b) < 0)
		rt_maps_lines(anonymize_line, ab);
}

static int drops_pages(int advice)
{
	return advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE ||
	       advice == MADV_DONTNEED_LOCKED;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	uint64_t a = (uint64_t)(uintptr_t)addr;
	if (rt.restart.nmapped && drops_pages(advice) && overlaps_mapped(a, len))
		anonymize(a, a + len);
	long r = syscall(SYS_madvise, addr, len, advice);
	return r < 0 ? -1 : 0;
}

static void add_range(uint64_t a, uint64_t len)
{
	struct rt_restart_info *ri = &rt.restart;
	uint32_t i = ri->nmapped < RT_MAX_MAPPED ? ri->nmapped++ : RT_MAX_MAPPED - 1;
	if (i == RT_MAX_MAPPED - 1 && ri->mapped[i][1]) { /* full: grow the last one */
		if (a < ri->mapped[i][0])
			ri->mapped[i][0] = a;
		if (a + len > ri->mapped[i][1])
			ri->mapped[i][1] = a + len;
		return;
	}
	ri->mapped[i][0] = a;
	ri->mapped[i][1] = a + len;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *want = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	long r = syscall(SYS_mremap, old, old_len, new_len, flags, want);
	if (r < 0 && r > -4096)
		return MAP_FAILED;
	if (rt.restart.nmapped && overlaps_mapped((uint64_t)(uintptr_t)old, old_len))
		add_range((uint64_t)r, new_len);
	return (void *)r;
}
