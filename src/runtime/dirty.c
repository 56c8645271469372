/* Dirty-page tracking for incremental checkpoints, with userfaultfd
 * write-protection in asynchronous mode (Linux 6.7+): the kernel clears a
 * page's write-protect bit itself on the first write, no fault handler thread
 * is needed, and PAGEMAP_SCAN reports the pages written since
 * (PAGE_IS_WRITTEN) while write-protecting them again in the same pass
 * (PM_SCAN_WP_MATCHING). Soft-dirty bits are not available on these kernels.
 *
 * Only private anonymous memory (anon, [heap], [stack]) is tracked. Whatever
 * the tracking cannot vouch for counts as written and is stored again: a
 * region registered for the first time (no page of it is protected yet), a
 * region the program moved (mremap drops the registration and the bits), a
 * region that could not be registered (it is not tracked at all: mem.c stores
 * it as in a full checkpoint). Pages given back (MADV_DONTNEED) are no longer
 * present and are stored as nothing, i.e. zero. Pages that are present, not
 * written since the last image, are "in the parent" (IMG_COMP_PARENT); the
 * restorer checks that the parent chain holds them and refuses the chain
 * otherwise.
 *
 * Runs with the program's threads held (rt_write_image), before the writer
 * child is forked: the child's copy of the page tables has no protections. */
#include "runtime/dirty.h"
#include "runtime/arena.h"
#include "runtime/progress.h"
#include "runtime/snap.h"
#include "runtime/pagescan.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RUNS (1u << 20)
#define MAX_VMAS 65536
#define SCAN_VEC 1024
#define MAX_DEPTH 16 /* a chain this long gets a full image: restarts stay quick */

/* What tracking knows between checkpoints. Lives in the runtime's memory, so
 * a restarted process finds it again: rt_dirty_reset() then forgets it. */
static struct {
	int uffd;	   /* -1: none yet */
	int armed;	   /* pages are protected since the image below was written */
	uint32_t depth;	   /* of that image's chain (0: it is a full image) */
	uint32_t gen;	   /* its generation */
	uint32_t base_gen; /* generation of the full image its chain begins with (0: unknown) */
	uint64_t header_sum, size;
	char path[PATH_MAX];
} trk = {.uffd = -1};

/* This checkpoint's scan (arena memory). */
static struct {
	struct rt_dirty_vma *vmas;
	uint32_t nvmas;
	struct rt_dirty_run *runs;
	uint32_t nruns;
	int incremental;
	struct img_parent parent;
} cur;

static int open_uffd(char *err, size_t errlen)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	if (trk.uffd >= 0)
		return 0;
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0) {
		errf(err, errlen,
		     "pid %d: incremental checkpoints need userfaultfd with asynchronous "
		     "write-protection (Linux 6.7 or later): %s",
		     getpid(), strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	trk.uffd = fd_move_above(fd, 100);
	return trk.uffd < 0 ? -1 : 0;
}

/* A region whose pages tracking can follow: private, anonymous, writable,
 * not the runtime's own arena. */
static int trackable(const char *line, uint64_t s, uint64_t e, const char *perms, const char *path)
{
	uint64_t as, ae;
	(void)line;
	rt_arena_contains(0, &as, &ae);
	if (perms[1] != 'w' || perms[3] != 'p' || (s < ae && e > as) ||
	    s == (uint64_t)(uintptr_t)rt_prog || rt_snap_contains(s, e))
		return 0;
	return !path[0] || !strcmp(path, "[heap]") || !strcmp(path, "[stack]");
}

static int scan_vma(struct rt_dirty_vma *v, int pagemap, struct page_region *vec, char *err,
		    size_t errlen)
{
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .flags = PM_SCAN_WP_MATCHING,
	    .start = v->start,
	    .end = v->end,
	    .vec = (uint64_t)(uintptr_t)vec,
	    .vec_len = SCAN_VEC,
	    .category_inverted = PAGE_IS_PFNZERO,
	    .category_mask = PAGE_IS_PFNZERO,
	    .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	    .return_mask = PAGE_IS_WRITTEN,
	};
	v->first_run = cur.nruns;
	while (a.start < a.end) {
		long n = ioctl(pagemap, PAGEMAP_SCAN, &a);
		if (n < 0)
			return errf(err, errlen, "PAGEMAP_SCAN of %#" PRIx64 "-%#" PRIx64 ": %s",
				    v->start, v->end, strerror(errno));
		for (long i = 0; i < n; i++) {
			if (cur.nruns >= MAX_RUNS)
				return errf(err, errlen, "too many dirty page runs");
			cur.runs[cur.nruns++] = (struct rt_dirty_run){
			    vec[i].start, vec[i].end, !!(vec[i].categories & PAGE_IS_WRITTEN)};
		}
		a.start = pagescan_next(&a, vec, n);
	}
	v->nruns = cur.nruns - v->first_run;
	return 0;
}

/* Register region [s, e) (idempotent) and scan it; a region that cannot be
 * registered is left out, so mem.c stores it in full. */
static int track_vma(uint64_t s, uint64_t e, int pagemap, struct page_region *vec, char *err,
		     size_t errlen)
{
	struct uffdio_register r = {.range = {s, e - s}, .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(trk.uffd, UFFDIO_REGISTER, &r) < 0 || cur.nvmas >= MAX_VMAS)
		return 0;
	struct rt_dirty_vma *v = &cur.vmas[cur.nvmas++];
	*v = (struct rt_dirty_vma){.start = s, .end = e};
	return scan_vma(v, pagemap, vec, err, errlen);
}

static int walk(const char *smaps, char *err, size_t errlen)
{
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	struct page_region *vec = rt_alloc(SCAN_VEC * sizeof(*vec));
	int rc = 0;
	if (pagemap < 0 || !vec)
		return errf(err, errlen, "cannot open /proc/self/pagemap: %s", strerror(errno));
	for (const char *l = smaps; l && *l && rc == 0; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		unsigned long long s, e;
		char perms[8], path[256] = "";
		int n = 0;
		if (*l < '0' || (*l > '9' && *l < 'a') || *l > 'f')
			continue; /* "Rss:" and friends, VmFlags */
		if (sscanf(l, "%llx-%llx %7s %*s %*s %*s%n", &s, &e, perms, &n) < 3 || !n)
			continue;
		while (l[n] == ' ') /* not "%n" after a space: that would pass the newline */
			n++;
		sscanf(l + n, "%255[^\n]", path);
		if (trackable(l, s, e, perms, path))
			rc = track_vma(s, e, pagemap, vec, err, errlen);
	}
	close(pagemap);
	return rc;
}

static void fill_parent(void)
{
	const char *slash = strrchr(trk.path, '/');
	memset(&cur.parent, 0, sizeof(cur.parent));
	cur.parent.header_sum = trk.header_sum;
	cur.parent.file_size = trk.size;
	cur.parent.gen = trk.gen;
	cur.parent.depth = trk.depth + 1;
	snprintf(cur.parent.name, sizeof(cur.parent.name), "%s", slash ? slash + 1 : trk.path);
}

/* The last image still there, unchanged, and the chain not too long. */
static int parent_usable(const char *path)
{
	struct stat st;
	char a[PATH_MAX], b[PATH_MAX];
	snprintf(a, sizeof(a), "%s", path);
	snprintf(b, sizeof(b), "%s", trk.path);
	char *da = strrchr(a, '/'), *db = strrchr(b, '/');
	if (da)
		*da = 0;
	if (db)
		*db = 0;
	return trk.armed && trk.depth + 1 < MAX_DEPTH && strcmp(a, b) == 0 &&
	       stat(trk.path, &st) == 0 && (uint64_t)st.st_size == trk.size;
}

int rt_dirty_scan(const char *smaps, const char *path, int want_incremental, char *err,
		  size_t errlen)
{
	memset(&cur, 0, sizeof(cur));
	if (!want_incremental && trk.uffd < 0)
		return 0; /* nobody asked for tracking */
	cur.vmas = rt_alloc(MAX_VMAS * sizeof(*cur.vmas));
	cur.runs = rt_alloc(MAX_RUNS * sizeof(*cur.runs));
	if (!cur.vmas || !cur.runs)
		return errf(err, errlen, "out of checkpoint memory");
	if (open_uffd(err, errlen) < 0) { /* still correct: a full image */
		warn("%s; writing a full image", err);
		err[0] = 0;
		memset(&cur, 0, sizeof(cur));
		return 0;
	}
	cur.incremental = want_incremental && parent_usable(path);
	if (cur.incremental)
		fill_parent();
	/* from here on the protections are reset: only a successful image may
	 * become the next one's parent (rt_dirty_done) */
	trk.armed = 0;
	if (walk(smaps, err, errlen) < 0)
		return -1;
	uint64_t w = 0, u = 0;
	for (uint32_t i = 0; i < cur.nruns; i++)
		*(cur.runs[i].written ? &w : &u) += cur.runs[i].end - cur.runs[i].start;
	debug("%u regions tracked: %llu KiB written since the last image, %llu KiB not%s",
	      cur.nvmas, (unsigned long long)w >> 10, (unsigned long long)u >> 10,
	      cur.incremental ? " (incremental image)" : "");
	return 0;
}

int rt_dirty_lookup(uint64_t start, uint64_t end, const struct rt_dirty_run **runs, uint32_t *n)
{
	uint32_t lo = 0, hi = cur.nvmas;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (cur.vmas[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= cur.nvmas || cur.vmas[lo].start > start || cur.vmas[lo].end < end)
		return 0;
	*runs = cur.runs + cur.vmas[lo].first_run;
	*n = cur.vmas[lo].nruns;
	return 1;
}

const struct img_parent *rt_dirty_parent(void)
{
	return cur.incremental ? &cur.parent : NULL;
}

uint32_t rt_dirty_keep_from(uint32_t gen)
{
	/* the last image's chain began at base_gen (0: unknown, count it full) */
	uint32_t prev_base = trk.base_gen ? trk.base_gen : gen > 1 ? gen - 1 : 1;
	uint32_t keep = prev_base < gen - 1 ? prev_base : gen - 1;
	return keep ? keep : 1;
}

uint32_t rt_dirty_done(const char *path, uint32_t gen, uint64_t header_sum, uint64_t size)
{
	uint32_t keep = rt_dirty_keep_from(gen);
	trk.base_gen = cur.incremental ? trk.base_gen : gen;
	if (trk.uffd >= 0 && cur.vmas) {
		trk.depth = cur.incremental ? cur.parent.depth : 0;
		trk.gen = gen;
		trk.header_sum = header_sum;
		trk.size = size;
		snprintf(trk.path, sizeof(trk.path), "%s", path);
		trk.armed = 1;
	}
	return keep;
}

int rt_dirty_fd(void)
{
	return trk.uffd;
}

void rt_dirty_move_fd(int fd)
{
	if (fd < 0 || fd != trk.uffd)
		return;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (nfd >= 0)
		trk.uffd = nfd; /* the program's dup2/dup3 then replaces the old number */
}

void rt_dirty_reset(uint32_t base_gen)
{
	/* a restarted or forked process has no registrations and no such fd;
	 * base_gen: where the chain of the image it came from begins */
	trk.uffd = -1;
	trk.armed = 0;
	trk.base_gen = base_gen;
}
