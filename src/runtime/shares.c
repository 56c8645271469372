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
 * Each list of descriptors is sorted by description (fd_order.c); ours is
 * merged with each other process's list: O(n log n) kcmp calls per process
 * compared, where comparing every pair would take n^2 (1000 fds of /dev/null
 * in each of 9 processes: 12 s per process). Each process sorts its own list
 * only and publishes it in the run directory (fdorder-<comp>-<pid>-<port>);
 * the others read it there instead of sorting it again, so that P processes
 * make P sorts, not P^2 (9 processes holding 1000 descriptions of one file:
 * 0.47 s each before). The lists that do not come within PUBLISH_WAIT_MS (one
 * bound for the whole pass) are listed and sorted by the reader, as before; so
 * are, at once, those of processes in another mount namespace (another host
 * sharing the PID namespace), which publish where the reader does not look. */
#include "runtime/shares.h"
#include "runtime/arena.h"
#include "runtime/fd_order.h"
#include "runtime/fd_sock.h"
#include "runtime/fds.h"
#include "runtime/state.h"
#include "common/clock.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/shares.h"

#include "common/io.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PUBLISH_MAGIC 0x53464f31u /* "1OFS" */
#define PUBLISH_WAIT_MS 5000

/* The head of a published list; the sorted struct rt_fdesc follow. */
struct published {
	uint32_t magic, pid;
	uint64_t comp_id;
	uint32_t gen, n;
	uint64_t stamp_ns; /* CLOCK_MONOTONIC when written: after this checkpoint began */
};

/* Who else holds each of our descriptors' descriptions (indexed like mine). */
struct owner {
	uint32_t pid; /* the description's owner so far */
	int fd;
	int others; /* another process holds the description */
};

static struct rt_fdesc *mine;
static struct owner *own;
static uint32_t nmine;
static struct rt_fdesc *peer; /* a peer's descriptors, reused for each */
static uint64_t scan_key = ~0ull;
static char scan_err[320];
static char published_path[PATH_MAX]; /* ours, removed once DRAINED passes */
static int have_mine;		      /* mine holds our sorted list of this checkpoint */
static uint64_t began_ns;	      /* this checkpoint's PREPARED pass, here */

/* What the scan computed belongs to one checkpoint (the arena is reset after). */
static uint64_t ckpt_key(void)
{
	return rt.comp_id ^ ((uint64_t)rt.gen << 40);
}

/* The sorted descriptors of pid; transient ones gone by the time they are
 * looked at (a process's runtime lists its own /proc too) are not the
 * program's and are left out. */
static int list_fds(uint32_t pid, uint32_t self, struct rt_fdesc *out, int *fds)
{
	int n = rt_fds_sorted(pid, out, fds, RT_FDS_MAX);
	if (n < 0)
		snprintf(scan_err, sizeof(scan_err),
			 "pid %u: cannot list the descriptors of pid %u of the checkpoint "
			 "(/proc/%u/fd): %s",
			 self, pid, pid, strerror(errno));
	return n;
}

/* Our run (dups of one description) at mine[i] is the description the peer
 * holds at pfd, its lowest descriptor of it. */
static void matched(uint32_t i, uint32_t pid, int pfd)
{
	for (uint32_t run = mine[i].first; i < nmine && mine[i].first == run; i++) {
		struct owner *m = &own[i];
		m->others = 1;
		if (pid < m->pid || (pid == m->pid && pfd < m->fd)) {
			m->pid = pid;
			m->fd = pfd;
		}
	}
}

/* Merge our sorted list with a peer's: equal runs are one description. */
static void merge_with(uint32_t pid, uint32_t self, uint32_t n)
{
	uint32_t i = 0, j = 0;
	while (i < nmine && j < n) {
		int c = rt_fdesc_cmp(self, &mine[i], pid, &peer[j]);
		if (!c)
			matched(i, pid, peer[j].fd); /* a run starts with its lowest fd */
		if (c <= 0)
			i = rt_fdesc_next_run(mine, i, nmine);
		if (c >= 0)
			j = rt_fdesc_next_run(peer, j, n);
	}
}

void rt_shares_begin(void)
{
	began_ns = (uint64_t)now_ns();
}

static int order_path(uint32_t pid, char *buf, size_t size)
{
	char name[96];
	snprintf(name, sizeof(name), "fdorder-%016llx-%u", (unsigned long long)rt.comp_id, pid);
	return proto_run_file(rt.port, name, buf, size);
}

/* Our sorted list, for the others (written whole, then renamed: a reader
 * sees all of it or nothing). Best effort: a reader that finds none sorts. */
static void publish(uint32_t self)
{
	char tmp[PATH_MAX + 8];
	struct published h = {PUBLISH_MAGIC, self, rt.comp_id, rt.gen, nmine, (uint64_t)now_ns()};
	if (order_path(self, published_path, sizeof(published_path)) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", published_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && write_full(fd, &h, sizeof(h)) == 0 &&
	    write_full(fd, mine, (size_t)nmine * sizeof(*mine)) == 0 && close(fd) == 0 &&
	    rename(tmp, published_path) == 0)
		return;
	if (fd >= 0)
		unlink(tmp);
	published_path[0] = 0;
}

void rt_shares_done(void)
{
	if (published_path[0])
		unlink(published_path);
	published_path[0] = 0;
}

/* pid's list as pid published it for this checkpoint: its count, or -1 when
 * it is not there (yet), not of this checkpoint, or unreadable. */
static int read_published(uint32_t pid, struct rt_fdesc *into)
{
	char path[PATH_MAX];
	struct published h;
	if (order_path(pid, path, sizeof(path)) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t got = read_full(fd, &h, sizeof(h));
	int ok = got == sizeof(h) && h.magic == PUBLISH_MAGIC && h.pid == pid &&
		 h.comp_id == rt.comp_id && h.gen == rt.gen && h.n <= RT_FDS_MAX &&
		 h.stamp_ns >= began_ns;
	size_t want = ok ? (size_t)h.n * sizeof(*into) : 0;
	ok = ok && read_full(fd, into, want) == (ssize_t)want;
	close(fd);
	for (uint32_t k = 0; ok && k < h.n; k++)
		ok = into[k].first <= k && (!k || into[k].first >= into[k - 1].first);
	return ok ? (int)h.n : -1;
}

/* pid sees the same files as this process (its mount namespace): only then
 * is its published list where this process looks (a process of another host,
 * or of another container sharing the PID namespace, publishes elsewhere). */
static int same_mounts(uint32_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%u/ns/mnt", pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* pid's sorted list: published by pid (it sorts its own while we sort ours),
 * or, if it does not come by end (one bound for the whole pass), listed and
 * sorted here. */
static int peer_list(uint32_t pid, uint32_t self, int *fds, uint64_t end)
{
	struct timespec pause = {0, 200000};
	int wait = same_mounts(pid);
	for (;;) {
		int n = read_published(pid, peer);
		if (n >= 0)
			return n;
		if (!wait || (uint64_t)now_ns() >= end)
			break;
		nanosleep(&pause, NULL);
	}
	if (wait)
		debug("pid %u: no descriptor list published by pid %u in time: sorting it here",
		      self, pid);
	return list_fds(pid, self, peer, fds);
}

static void scan(uint32_t self, const uint32_t *pids, size_t n, int *fds)
{
	uint64_t t_start = (uint64_t)now_ns();
	int got = list_fds(self, self, mine, fds);
	if (got < 0)
		return;
	nmine = got;
	have_mine = 1;
	publish(self);
	debug("pid %u: own list sorted and published in %.2f ms", self,
	      ((uint64_t)now_ns() - t_start) / 1e6);
	for (uint32_t k = 0; k < nmine; k++) /* at worst, its lowest dup here */
		own[k] = (struct owner){self, mine[mine[k].first].fd, 0};
	uint64_t end = (uint64_t)now_ns() + PUBLISH_WAIT_MS * 1000000ull;
	for (size_t k = 0; k < n; k++) {
		if (pids[k] == self || (got = peer_list(pids[k], self, fds, end)) < 0)
			continue;
		merge_with(pids[k], self, got);
	}
	int kcmp_errno = rt_fdesc_errno(0);
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
	rt_fdesc_errno(1);
	nmine = 0;
	have_mine = 0;
	if (n < 2)
		return; /* nobody to share with */
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	mine = rt_alloc(RT_FDS_MAX * sizeof(*mine));
	own = rt_alloc(RT_FDS_MAX * sizeof(*own));
	peer = rt_alloc(RT_FDS_MAX * sizeof(*peer));
	if (!fds || !mine || !own || !peer) {
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
				return own[k].pid;
	return getpid();
}

int rt_fds_sorted_known(uint32_t pid, struct rt_fdesc *out, int *fds, int max)
{
	int known = scan_key == ckpt_key() && have_mine;
	if (known && pid == (uint32_t)getpid() && nmine <= (uint32_t)max) {
		memcpy(out, mine, nmine * sizeof(*out)); /* nothing has changed since */
		return nmine;
	}
	int n = known && max >= RT_FDS_MAX ? read_published(pid, out) : -1;
	return n >= 0 ? n : rt_fds_sorted(pid, out, fds, max);
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
		return errf(err, errlen, "%s; the program goes on", scan_err);
	int maxfd;
	uint32_t *byfd = index_by_fd(&maxfd);
	out->shares = rt_alloc(out->n * sizeof(struct img_share) + 1);
	if (!out->shares || !byfd)
		return errf(err, errlen, "out of checkpoint memory");
	for (uint32_t k = 0; k < out->n; k++) {
		const struct img_fd *e = &out->fds[k];
		uint32_t at = e->share < 0 && e->fd <= maxfd ? byfd[e->fd] : 0;
		const struct owner *m = at ? &own[at - 1] : NULL;
		if (!m || !m->others || e->type == IMG_FD_RUNTIME)
			continue;
		out->shares[out->nshares++] =
		    (struct img_share){.fd = e->fd, .owner_pid = m->pid, .owner_fd = m->fd};
	}
	return 0;
}
