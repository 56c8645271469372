/* fd_order.c: a process's descriptors sorted by the file each names, then
 * by open file description (kcmp order, the same from every process), then by
 * number; the descriptors of one description are a run, its lowest first. */
#ifndef STASIS_RUNTIME_FD_ORDER_H
#define STASIS_RUNTIME_FD_ORDER_H

#include <stdint.h>

struct rt_fdesc {
	int fd;
	uint32_t first; /* index of the first of its description's run */
	uint64_t ino, dev;
};
/* pid's descriptors (at most max; fds is scratch for max ints), without the
 * runtime's own and those gone meanwhile: the count, or -1 with errno. */
int rt_fds_sorted(uint32_t pid, struct rt_fdesc *out, int *fds, int max);
/* a of pa against b of pb: by file, then description; 0: the same description */
int rt_fdesc_cmp(uint32_t pa, const struct rt_fdesc *a, uint32_t pb, const struct rt_fdesc *b);
/* The index after the run that starts at v[k]. */
uint32_t rt_fdesc_next_run(const struct rt_fdesc *v, uint32_t k, uint32_t n);
/* The first kcmp failure other than a closed descriptor since the last reset. */
int rt_fdesc_errno(int reset);

#endif
