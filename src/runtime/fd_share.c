/* Open file descriptions held by several processes of the checkpoint, whoever
 * they came from (fork, SCM_RIGHTS, a grandparent): each is named by its
 * owner, the lowest (pid, fd) holding it in the whole computation, so that
 * every holder's image names it the same way (IMG_SEC_SHARES).
 *
 * The comparison runs right after the SUSPENDED barrier passes: every process
 * of the checkpoint is then stopped, and none resumes before the DRAINED
 * barrier, which waits for this process too. So the descriptor tables read in
 * /proc/PID/fd are the ones their images record, even when a process forks
 * its image writer and resumes early afterwards.
 *
 * kcmp(KCMP_FILE) orders open file descriptions (it compares their kernel
 * addresses, obfuscated by one per-boot bijection: a total order, the same
 * from every process). Each list of descriptors is sorted by the file it
 * names (one stat each), then by that order, then by fd; ours is merged with
 * each other process's list: O(n log n) kcmp calls per process compared,
 * where comparing every pair would take n^2 (1000 fds of /dev/null in each of
 * 9 processes: 12 s per process). */
#include "runtime/rt.h"
#include "common/log.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536

/* One descriptor: of this process (with what the scan found), or of a peer. */
struct desc {
	int fd;
	uint64_t ino, dev;
	uint32_t first;	    /* index of the first of its description's run in its list */
	uint32_t owner_pid; /* ours: the description's owner so far */
	int owner_fd;
	int others; /* ours: another process holds the description */
};

static struct desc *mine;
static uint32_t nmine;
static struct desc *peer; /* a peer's descriptors, reused for each */
static uint64_t scan_key = ~0ull;
static char scan_err[320];
static int kcmp_errno; /* the first kcmp failure that is not a closed descriptor */

/* What the scan computed belongs to one checkpoint (the arena is reset after). */
static uint64_t ckpt_key(void)
{
	return rt.comp_id ^ ((uint64_t)rt.gen << 40);
}

/* kcmp as -1, 0, 1; a descriptor closed meanwhile (a runtime's own) compares
 * as unequal, by number. */
static int kcmp_order(uint32_t pa, int a, uint32_t pb, int b)
{
	long r = syscall(SYS_kcmp, pa, pb, KCMP_FILE, a, b);
	if (r < 0 && errno != EBADF && !kcmp_errno)
		kcmp_errno = errno;
	if (r == 0 && (pa != pb || a == b))
		return 0;
	if (r == 1 || r == 2)
		return r == 1 ? -1 : 1;
	return (a > b) - (a < b);
}

static int cmp_file(const struct desc *a, const struct desc *b)
{
	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

/* Within one process: file, description, fd (dups are consecutive, lowest first). */
static int cmp_in(uint32_t pid, const struct desc *a, const struct desc *b)
{
	int c = cmp_file(a, b);
	if (c || a->fd == b->fd)
		return c ? c : 0;
	c = kcmp_order(pid, a->fd, pid, b->fd);
	return c ? c : (a->fd > b->fd) - (a->fd < b->fd);
}

/* Heapsort: no memory of the application's malloc (glibc's qsort may take some). */
static void sift(struct desc *v, uint32_t at, uint32_t n, uint32_t pid)
{
	for (uint32_t c; (c = 2 * at + 1) < n; at = c) {
		if (c + 1 < n && cmp_in(pid, &v[c], &v[c + 1]) < 0)
			c++;
		if (cmp_in(pid, &v[at], &v[c]) >= 0)
			return;
		struct desc t = v[at];
		v[at] = v[c];
		v[c] = t;
	}
}

static void sort_descs(struct desc *v, uint32_t n, uint32_t pid)
{
	for (uint32_t k = n / 2; k-- > 0;)
		sift(v, k, n, pid);
	for (uint32_t end = n; end-- > 1;) {
		struct desc t = v[0];
		v[0] = v[end];
		v[end] = t;
		sift(v, 0, end, pid);
	}
	for (uint32_t k = 0; k < n; k++) /* runs of one description */
		v[k].first =
		    k && !cmp_file(&v[k - 1], &v[k]) && !kcmp_order(pid, v[k - 1].fd, pid, v[k].fd)
			? v[k - 1].first
			: k;
}

/* The descriptors of pid with the file each names; transient ones gone by the
 * time they are looked at (a process's runtime lists its own /proc too) are
 * not the program's and are left out. */
static int list_fds(uint32_t pid, uint32_t self, struct desc *out, int *fds)
{
	char path[64];
	int self_fd = -1;
	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	int n = rt_list_numeric(path, fds, MAX_FDS, pid == self ? &self_fd : NULL);
	if (n < 0)
		return snprintf(scan_err, sizeof(scan_err),
				"pid %u: cannot list the descriptors of pid %u of the checkpoint "
				"(%s): %s",
				self, pid, path, strerror(errno)),
		       -1;
	int got = 0;
	for (int k = 0; k < n; k++) {
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%u/fd/%d", pid, fds[k]);
		if (fds[k] == self_fd || (pid == self && fds[k] == rt.coord_fd) ||
		    stat(path, &st) < 0)
			continue;
		out[got++] = (struct desc){fds[k], st.st_ino, st.st_dev, 0, pid, fds[k], 0};
	}
	sort_descs(out, got, pid);
	return got;
}

/* Our run (dups of one description) at mine[i] is the description the peer
 * holds at pfd, its lowest descriptor of it. */
static void matched(uint32_t i, uint32_t pid, int pfd)
{
	for (uint32_t run = mine[i].first; i < nmine && mine[i].first == run; i++) {
		struct desc *m = &mine[i];
		m->others = 1;
		if (pid < m->owner_pid || (pid == m->owner_pid && pfd < m->owner_fd)) {
			m->owner_pid = pid;
			m->owner_fd = pfd;
		}
	}
}

/* The index after the run that starts at v[k]. */
static uint32_t next_run(const struct desc *v, uint32_t k, uint32_t n)
{
	uint32_t run = v[k].first;
	while (k < n && v[k].first == run)
		k++;
	return k;
}

/* Merge our sorted list with a peer's: equal runs are one description. */
static void merge_with(uint32_t pid, uint32_t self, uint32_t n)
{
	uint32_t i = 0, j = 0;
	while (i < nmine && j < n) {
		int c = cmp_file(&mine[i], &peer[j]);
		if (!c)
			c = kcmp_order(self, mine[i].fd, pid, peer[j].fd);
		if (!c)
			matched(i, pid, peer[j].fd); /* a run starts with its lowest fd */
		if (c <= 0)
			i = next_run(mine, i, nmine);
		if (c >= 0)
			j = next_run(peer, j, n);
	}
}

static void scan(uint32_t self, const uint32_t *pids, size_t n, int *fds)
{
	int got = list_fds(self, self, mine, fds);
	if (got < 0)
		return;
	nmine = got;
	for (uint32_t k = 0; k < nmine; k++) { /* at worst, its lowest dup here */
		mine[k].owner_pid = self;
		mine[k].owner_fd = mine[mine[k].first].fd;
	}
	for (size_t k = 0; k < n; k++) {
		if (pids[k] == self || (got = list_fds(pids[k], self, peer, fds)) < 0)
			continue;
		merge_with(pids[k], self, got);
	}
	if (kcmp_errno && !scan_err[0])
		snprintf(scan_err, sizeof(scan_err),
			 "pid %u: cannot compare its descriptors with those of the other processes "
			 "of the checkpoint (kcmp): %s",
			 self, strerror(kcmp_errno));
}

void rt_shares_scan(void)
{
	const uint32_t *pids;
	size_t n = rt_members(&pids);
	uint32_t self = getpid();
	struct timespec t0, t1;
	scan_key = ckpt_key();
	scan_err[0] = 0;
	kcmp_errno = 0;
	nmine = 0;
	if (n < 2)
		return; /* nobody to share with */
	int *fds = rt_alloc(MAX_FDS * sizeof(int));
	mine = rt_alloc(MAX_FDS * sizeof(*mine));
	peer = rt_alloc(MAX_FDS * sizeof(*peer));
	if (!fds || !mine || !peer) {
		snprintf(scan_err, sizeof(scan_err), "pid %u: out of checkpoint memory", self);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan(self, pids, n, fds);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	debug("pid %u: %u descriptors compared with %zu processes in %.2f ms", self, nmine, n - 1,
	      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

/* The process that speaks for the description at fd in this checkpoint: its
 * owner, this process when no other holds it. */
uint32_t rt_share_owner(int fd)
{
	if (scan_key == ckpt_key())
		for (uint32_t k = 0; k < nmine; k++)
			if (mine[k].fd == fd)
				return mine[k].owner_pid;
	return getpid();
}

/* byfd[fd] = 1 + the index of fd in mine, 0 if none */
static uint32_t *index_by_fd(int *maxfd)
{
	*maxfd = -1;
	for (uint32_t k = 0; k < nmine; k++)
		if (mine[k].fd > *maxfd)
			*maxfd = mine[k].fd;
	uint32_t *byfd = rt_alloc((*maxfd + 1) * sizeof(uint32_t) + 1);
	if (!byfd)
		return NULL;
	memset(byfd, 0, (*maxfd + 1) * sizeof(uint32_t));
	for (uint32_t k = 0; k < nmine; k++)
		byfd[mine[k].fd] = k + 1;
	return byfd;
}

int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen)
{
	out->shares = NULL;
	out->nshares = 0;
	if (scan_key != ckpt_key() || (!nmine && !scan_err[0]))
		return 0; /* one process: nothing is shared with another */
	if (scan_err[0])
		return snprintf(err, errlen, "%s; the program goes on", scan_err), -1;
	int maxfd;
	uint32_t *byfd = index_by_fd(&maxfd);
	out->shares = rt_alloc(out->n * sizeof(struct img_share) + 1);
	if (!out->shares || !byfd)
		return snprintf(err, errlen, "out of checkpoint memory"), -1;
	for (uint32_t k = 0; k < out->n; k++) {
		const struct img_fd *e = &out->fds[k];
		uint32_t at = e->share < 0 && e->fd <= maxfd ? byfd[e->fd] : 0;
		const struct desc *m = at ? &mine[at - 1] : NULL;
		if (!m || !m->others || e->type == IMG_FD_RUNTIME)
			continue;
		out->shares[out->nshares++] = (struct img_share){
		    .fd = e->fd, .owner_pid = m->owner_pid, .owner_fd = m->owner_fd};
	}
	return 0;
}
