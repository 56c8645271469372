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

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

static void anonymize(uint64_t a, uint64_t b)
{
	uint64_t ab[2] = {a, b};
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
