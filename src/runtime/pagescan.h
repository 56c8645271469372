/* PAGEMAP_SCAN (Linux 6.7+): which pages of a range are present, swapped, file
 * pages or the shared zero page. Debian 12's headers predate it. */
#ifndef STASIS_RUNTIME_PAGESCAN_H
#define STASIS_RUNTIME_PAGESCAN_H

#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <stdint.h>

#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* userfaultfd's asynchronous write-protection (Linux 6.7+), which the
 * dirty-page tracking uses with PAGEMAP_SCAN's PM_SCAN_WP_MATCHING */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING (1 << 0)
#endif

/* Where the next PAGEMAP_SCAN call of a walk starts, after one that returned
 * n regions into vec: the walk is over when the vector was not filled; else
 * it goes on after the last region reported. Not from walk_end alone: Linux
 * (6.18 here) leaves it at an earlier internal stop when a later internal
 * pass finished the range, and a call from there reports regions twice (with
 * PM_SCAN_WP_MATCHING the second time as not written: the pages it had just
 * protected). */
static inline uint64_t pagescan_next(const struct pm_scan_arg *a, const struct page_region *vec,
				     long n)
{
	if (n < (long)a->vec_len)
		return a->end;
	uint64_t last = vec[n - 1].end;
	return a->walk_end > last ? a->walk_end : last;
}

#endif
