/* Open file descriptions held by several processes of the checkpoint, whoever
 * they came from (fork, SCM_RIGHTS, a grandparent): each is named by its
 * owner, the lowest (pid, fd) holding it in the whole computation, so that
 * every holder's image names it the same way (IMG_SEC_SHARES).
 *
 * The comparison runs right after the SUSPENDED barrier passes: every process
 * of the checkpoint is then stopped, and none resumes before the DRAINED
 * barrier, which waits for this process too. So the descriptor tables read in
 * /proc/PID/fd are the ones their images record, even when a process forks
 * its image writer and resumes early afterwards. Files are compared by inode
 * first (one stat per descriptor); kcmp(KCMP_FILE) decides. */
#include "runtime/rt.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FDS 65536

/* One descriptor: of this process (with what the scan found), or of a peer. */
struct desc {
	int fd;
	uint64_t ino, dev;
	uint32_t owner_pid;
	int owner_fd;
	int others; /* another process holds the description */
};

static struct desc *mine; /* sorted by (dev, ino, fd) */
static uint32_t nmine;
static struct desc *peer; /* a peer's descriptors, reused for each */
static uint64_t scan_key = ~0ull;
static char scan_err[320];

/* What the scan computed belongs to one checkpoint (the arena is reset after). */
static uint64_t ckpt_key(void)
{
	return rt.comp_id ^ ((uint64_t)rt.gen << 40);
}

static int cmp_desc(const void *a, const void *b)
{
	const struct desc *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The first of mine with the file (dev, ino), or nmine. */
static uint32_t first_of(uint64_t dev, uint64_t ino)
{
	uint32_t lo = 0, hi = nmine;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct desc *d = &mine[mid];
		if (d->dev < dev || (d->dev == dev && d->ino < ino))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Our own descriptors (not the coordinator connection, not the listing's). */
static int list_mine(int *fds)
{
	int self = -1;
	int n = rt_list_numeric("/proc/self/fd", fds, MAX_FDS, &self);
	if (n < 0)
		return snprintf(scan_err, sizeof(scan_err), "pid %d: cannot list /proc/self/fd: %s",
				getpid(), strerror(errno)),
		       -1;
	nmine = 0;
	for (int k = 0; k < n; k++) {
		struct stat st;
		if (fds[k] == self || fds[k] == rt.coord_fd || fstat(fds[k], &st) < 0)
			continue;
		mine[nmine++] = (struct desc){fds[k], st.st_ino, st.st_dev, UINT32_MAX, -1, 0};
	}
	qsort(mine, nmine, sizeof(*mine), cmp_desc);
	return 0;
}

/* A peer's descriptors with the file each names; transient ones that are gone
 * by the time they are looked at (a peer's runtime lists its own /proc too) are
 * not the program's and are left out. */
static int list_peer(uint32_t pid, int *fds)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	int n = rt_list_numeric(path, fds, MAX_FDS, NULL);
	if (n < 0)
		return snprintf(scan_err, sizeof(scan_err),
				"pid %d: cannot list the descriptors of pid %u of the checkpoint "
				"(%s): %s",
				getpid(), pid, path, strerror(errno)),
		       -1;
	int got = 0;
	for (int k = 0; k < n; k++) {
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%u/fd/%d", pid, fds[k]);
		if (stat(path, &st) == 0)
			peer[got++] = (struct desc){fds[k], st.st_ino, st.st_dev, 0, 0, 0};
	}
	return got;
}

static int lower(uint32_t pid, int fd, const struct desc *d)
{
	return pid < d->owner_pid || (pid == d->owner_pid && fd < d->owner_fd);
}

/* Compare fd of process pid with each of ours on the same file. */
static int compare_one(uint32_t pid, uint32_t self, const struct desc *p)
{
	for (uint32_t k = first_of(p->dev, p->ino);
	     k < nmine && mine[k].dev == p->dev && mine[k].ino == p->ino; k++) {
		struct desc *m = &mine[k];
		int news = pid != self && !m->others;
		if (!news && !lower(pid, p->fd, m))
			continue; /* nothing this match could change */
		long r = syscall(SYS_kcmp, pid, self, KCMP_FILE, p->fd, m->fd);
		if (r < 0 && errno == EBADF)
			continue; /* closed meanwhile: a runtime's own descriptor */
		if (r < 0)
			return snprintf(scan_err, sizeof(scan_err),
					"pid %u: cannot compare its fd %d with fd %d of pid %u of "
					"the checkpoint (kcmp): %s",
					self, m->fd, p->fd, pid, strerror(errno)),
			       -1;
		if (r != 0)
			continue;
		m->others |= pid != self;
		if (lower(pid, p->fd, m)) {
			m->owner_pid = pid;
			m->owner_fd = p->fd;
		}
	}
	return 0;
}

/* Our own descriptors go first (the dups of one description, lowest first):
 * then each one's owner is at worst its lowest dup, and a peer's matches only
 * need a kcmp when they could be lower. */
static int compare_with(uint32_t pid, uint32_t self, int *fds)
{
	int n = pid == self ? (int)nmine : list_peer(pid, fds);
	const struct desc *list = pid == self ? mine : peer;
	if (n < 0)
		return -1;
	for (int k = 0; k < n; k++)
		if (compare_one(pid, self, &list[k]) < 0)
			return -1;
	return 0;
}

void rt_shares_scan(void)
{
	const uint32_t *pids;
	size_t n = rt_members(&pids);
	uint32_t self = getpid();
	scan_key = ckpt_key();
	scan_err[0] = 0;
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
	if (list_mine(fds) < 0 || compare_with(self, self, fds) < 0)
		return;
	for (size_t k = 0; k < n; k++)
		if (pids[k] != self && compare_with(pids[k], self, fds) < 0)
			return;
}

static const struct desc *find_mine(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	for (uint32_t k = first_of(st.st_dev, st.st_ino);
	     k < nmine && mine[k].dev == st.st_dev && mine[k].ino == st.st_ino; k++)
		if (mine[k].fd == fd)
			return &mine[k];
	return NULL;
}

int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen)
{
	out->shares = NULL;
	out->nshares = 0;
	if (scan_key != ckpt_key() || !nmine)
		return 0; /* one process: nothing is shared with another */
	if (scan_err[0])
		return snprintf(err, errlen, "%s; the program goes on", scan_err), -1;
	out->shares = rt_alloc(out->n * sizeof(struct img_share) + 1);
	if (!out->shares)
		return snprintf(err, errlen, "out of checkpoint memory"), -1;
	for (uint32_t k = 0; k < out->n; k++) {
		const struct img_fd *e = &out->fds[k];
		const struct desc *m = e->share < 0 ? find_mine(e->fd) : NULL;
		if (!m || !m->others || e->type == IMG_FD_RUNTIME)
			continue;
		out->shares[out->nshares++] = (struct img_share){
		    .fd = e->fd, .owner_pid = m->owner_pid, .owner_fd = m->owner_fd};
	}
	return 0;
}
