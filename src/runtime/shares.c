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
 * Each process sorts its own list of descriptors by description (fd_order.c)
 * and publishes it in the run directory (shares_pub.c); the lowest pid of the
 * checkpoint, the leader, makes the union of every list (fd_union.c: O(N log
 * P) kcmp calls for N descriptors in P processes, about N when the processes
 * inherited the same descriptions) and answers each process: for each of its
 * descriptors, the description's owner, whether another process holds it,
 * and the parent's descriptor of it (the dump's parent_fd1, fds.c). Each list
 * is sorted once and compared once: merging every list with every other took
 * O(N P) calls, 0.1 s per process for 9 processes holding 1000 descriptions
 * of one file. The leader lists and sorts itself the lists that do not come
 * within PUBLISH_WAIT_MS (one bound for the whole pass), and at once those of
 * processes in another mount namespace (another host sharing the PID
 * namespace), which publish where it does not look. A process that is not in
 * the leader's mount namespace, or gets no usable answer in time, merges its
 * list with every other list itself, as before the leader. */
#include "runtime/shares.h"
#include "runtime/arena.h"
#include "runtime/fd_order.h"
#include "runtime/fd_sock.h"
#include "runtime/fd_union.h"
#include "runtime/fds.h"
#include "runtime/shares_pub.h"
#include "runtime/state.h"
#include "common/clock.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/shares.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PUBLISH_WAIT_MS 5000
#define ANSWER_WAIT_MS (2 * PUBLISH_WAIT_MS) /* the leader's wait, then its own sorts */

/* Who else holds each of our descriptors' descriptions (indexed like mine). */
struct owner {
	uint32_t pid; /* the description's owner so far */
	int fd;
	int others;    /* another process holds the description */
	int parent_fd; /* the parent's descriptor of it (the union's answer), or -1 */
};

static struct rt_fdesc *mine;
static struct owner *own;
static uint32_t nmine;
static uint32_t *byfd; /* 1 + the index in mine of each fd up to maxfd, 0: none */
static int maxfd;
static uint64_t scan_key = ~0ull;
static char scan_err[320];
static int have_mine;	 /* mine holds our sorted list of this checkpoint */
static int have_parents; /* own[].parent_fd is the union's answer */

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
	if (n < 0 && !scan_err[0])
		snprintf(scan_err, sizeof(scan_err),
			 "pid %u: cannot list the descriptors of pid %u of the checkpoint "
			 "(/proc/%u/fd): %s",
			 self, pid, pid, strerror(errno));
	return n;
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

/* A poll of the run directory: 0.1 ms at first, doubling up to 2 ms. */
static void pause_poll(long *ns)
{
	struct timespec t = {0, *ns};
	nanosleep(&t, NULL);
	*ns = *ns < 1000000 ? 2 * *ns : 2000000;
}

/* ---- each process against every other (without an answer from the leader) ---- */

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
static void merge_with(uint32_t pid, uint32_t self, const struct rt_fdesc *peer, uint32_t n)
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

/* pid's sorted list (in *v, or allocated when *v is NULL): published by pid
 * (it sorts its own while we sort ours), or, if it does not come by end,
 * listed and sorted here. */
static int peer_list(uint32_t pid, uint32_t self, struct rt_fdesc **v, uint32_t *ppid, int *fds,
		     uint64_t end)
{
	long ns = 100000;
	int wait = same_mounts(pid);
	for (;;) {
		int n = rt_pub_read_list(pid, v, RT_FDS_MAX, ppid);
		if (n >= 0)
			return n;
		if (!wait || (uint64_t)now_ns() >= end)
			break;
		pause_poll(&ns);
	}
	if (wait)
		debug("pid %u: no descriptor list published by pid %u in time: sorting it here",
		      self, pid);
	*ppid = 0; /* the union finds no parent for it: that process compares itself */
	if (!*v && !(*v = rt_alloc(RT_FDS_MAX * sizeof(**v))))
		return -1;
	return list_fds(pid, self, *v, fds);
}

static void compare_each(uint32_t self, const uint32_t *pids, size_t n, int *fds)
{
	struct rt_fdesc *peer = rt_alloc(RT_FDS_MAX * sizeof(*peer));
	uint64_t end = (uint64_t)now_ns() + PUBLISH_WAIT_MS * 1000000ull;
	uint32_t ppid;
	if (!peer) {
		snprintf(scan_err, sizeof(scan_err), "pid %u: out of checkpoint memory", self);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		int got = pids[k] == self ? -1 : peer_list(pids[k], self, &peer, &ppid, fds, end);
		if (got >= 0)
			merge_with(pids[k], self, peer, got);
	}
}

/* ---- the leader's union ---- */

static int cmp_desc(void *ctx, uint32_t pa, const struct rt_fdesc *a, uint32_t pb,
		    const struct rt_fdesc *b)
{
	(void)ctx;
	return rt_fdesc_cmp(pa, a, pb, b);
}

static void take_answer(const struct fu_out *out)
{
	for (uint32_t k = 0; k < nmine; k++)
		own[k] = (struct owner){out[k].owner_pid, out[k].owner_fd, (int)out[k].others,
					out[k].parent_fd};
	have_parents = 1;
}

/* A list in the union: whose, how many entries, and whether we made it here
 * (that process did not publish it in time, or cannot see our answer). */
struct in_union {
	uint32_t pid, n;
	int listed_here;
};

/* Every list into the union, ours first (in[k] says what the k-th is). */
static int add_lists(struct fu *u, uint32_t self, const uint32_t *pids, size_t n, int *fds,
		     struct in_union *in)
{
	struct fu_list l = {self, getppid(), mine, nmine};
	uint64_t end = (uint64_t)now_ns() + PUBLISH_WAIT_MS * 1000000ull;
	uint8_t *state = rt_alloc(n + 1); /* 0: waited for, 1: in, 2: to list here */
	size_t left = n, nl = 1;
	long ns = 100000;
	if (!state || fu_add(u, &l) < 0)
		return -1;
	in[0] = (struct in_union){self, nmine, 0};
	for (size_t k = 0; k < n; k++)
		state[k] = pids[k] == self ? 1 : same_mounts(pids[k]) ? 0 : 2;
	while (left) {
		int came = 0;
		left = 0;
		for (size_t k = 0; k < n; k++) {
			struct rt_fdesc *v = NULL;
			int got = state[k] ? -1 : rt_pub_read_list(pids[k], &v, 0, &l.ppid);
			if (state[k] == 1 || (got < 0 && !state[k] && (uint64_t)now_ns() < end)) {
				left += state[k] != 1;
				continue;
			}
			int here = got < 0;
			if (here)
				got = peer_list(pids[k], self, &v, &l.ppid, fds, 0);
			state[k] = 1;
			came++;
			if (got < 0)
				continue; /* scan_err says why */
			l = (struct fu_list){pids[k], l.ppid, v, (uint32_t)got};
			in[nl++] = (struct in_union){pids[k], (uint32_t)got, here};
			if (fu_add(u, &l) < 0)
				return -1;
		}
		if (left && !came)
			pause_poll(&ns);
	}
	return (int)nl;
}

/* Each process that can see our answer gets it; one whose list we made
 * ourselves compares itself (its list may differ from ours by its runtime's
 * own descriptors, and its parent is not known here). */
static void answer_all(const struct in_union *in, int nl, struct fu_out **out)
{
	for (int k = 1; k < nl; k++) {
		if (in[k].listed_here && !same_mounts(in[k].pid))
			continue; /* it cannot see our answer */
		if (in[k].listed_here)
			rt_pub_answer(in[k].pid, RT_ANSWER_COMPARE, NULL, 0, NULL);
		else if (scan_err[0])
			rt_pub_answer(in[k].pid, RT_ANSWER_FAILED, NULL, 0, scan_err);
		else
			rt_pub_answer(in[k].pid, RT_ANSWER_OK, out[k], in[k].n, NULL);
	}
}

/* No union from us: every process compares itself, or fails with scan_err. */
static void answer_each(uint32_t self, const uint32_t *pids, size_t n, enum rt_answer status)
{
	for (size_t k = 0; k < n; k++)
		if (pids[k] != self)
			rt_pub_answer(pids[k], status, NULL, 0, scan_err);
}

static void lead(uint32_t self, const uint32_t *pids, size_t n, int *fds)
{
	struct in_union *in = rt_alloc((n + 1) * sizeof(*in));
	struct fu_out **out = rt_alloc((n + 1) * sizeof(*out));
	struct fu *u = fu_new(n + 1, cmp_desc, NULL, rt_alloc);
	int nl = in && out && u ? add_lists(u, self, pids, n, fds, in) : -1;
	if (nl < 0 || fu_finish(u, out) < 0) {
		answer_each(self, pids, n, RT_ANSWER_COMPARE);
		debug("pid %u: out of checkpoint memory for the union of the descriptor lists: "
		      "each process compares its own",
		      self);
		compare_each(self, pids, n, fds);
		return;
	}
	take_answer(out[0]);
	debug("pid %u: the union of %d descriptor lists made with %llu comparisons", self, nl,
	      (unsigned long long)fu_compared(u));
	answer_all(in, nl, out);
}

/* The leader's answer for us: 0 once taken (or the pass failed: scan_err),
 * -1 if there is none to take (we compare ourselves). */
static int await_answer(uint32_t self, uint32_t leader)
{
	struct fu_out *out = rt_alloc((nmine ? nmine : 1) * sizeof(*out));
	uint64_t end = (uint64_t)now_ns() + ANSWER_WAIT_MS * 1000000ull;
	enum rt_answer status = RT_ANSWER_COMPARE;
	long ns = 100000;
	int got = 0;
	while (out &&
	       !(got = rt_pub_read_answer(self, out, nmine, &status, scan_err, sizeof(scan_err))) &&
	       (uint64_t)now_ns() < end)
		pause_poll(&ns);
	if (got == 1 && status == RT_ANSWER_FAILED)
		return 0;
	for (uint32_t k = 0; got == 1 && k < nmine; k++)
		if (out[k].fd != mine[k].fd)
			got = -1; /* not an answer for this list */
	if (got == 1) {
		take_answer(out);
		debug("pid %u: its descriptors compared by pid %u", self, leader);
		return 0;
	}
	debug("pid %u: no answer from pid %u %s: comparing with every process here", self, leader,
	      got ? "for its list" : "in time");
	return -1;
}

static void scan(uint32_t self, const uint32_t *pids, size_t n, int *fds)
{
	uint64_t t_start = (uint64_t)now_ns();
	uint32_t leader = pids[0]; /* the lowest (rt_members: in increasing order) */
	int got = list_fds(self, self, mine, fds);
	if (got < 0) {
		if (leader == self)
			answer_each(self, pids, n, RT_ANSWER_FAILED);
		return;
	}
	nmine = got;
	have_mine = 1;
	rt_pub_list(self, getppid(), mine, nmine);
	debug("pid %u: own list sorted and published in %.2f ms", self,
	      ((uint64_t)now_ns() - t_start) / 1e6);
	for (uint32_t k = 0; k < nmine; k++) /* at worst, its lowest dup here */
		own[k] = (struct owner){self, mine[mine[k].first].fd, 0, -1};
	if (leader == self)
		lead(self, pids, n, fds);
	else if (!same_mounts(leader) || await_answer(self, leader) < 0)
		compare_each(self, pids, n, fds);
	int kcmp_errno = rt_fdesc_errno(0);
	if (kcmp_errno && !scan_err[0])
		snprintf(scan_err, sizeof(scan_err),
			 "pid %u: cannot compare its descriptors with those of the other processes "
			 "of the checkpoint (kcmp): %s",
			 self, strerror(kcmp_errno));
}

void rt_shares_begin(void)
{
	rt_pub_begin();
}

void rt_shares_done(void)
{
	rt_pub_done(getpid());
}

void rt_shares_scan(void)
{
	const uint32_t *pids;
	size_t n = rt_members(&pids);
	uint32_t self = getpid();
	uint64_t t0 = (uint64_t)now_ns();
	scan_key = ckpt_key();
	scan_err[0] = 0;
	rt_fdesc_errno(1);
	nmine = 0;
	have_mine = have_parents = 0;
	byfd = NULL;
	if (n < 2)
		return; /* nobody to share with */
	int *fds = rt_alloc(RT_FDS_MAX * sizeof(int));
	mine = rt_alloc(RT_FDS_MAX * sizeof(*mine));
	own = rt_alloc(RT_FDS_MAX * sizeof(*own));
	if (!fds || !mine || !own) {
		snprintf(scan_err, sizeof(scan_err), "pid %u: out of checkpoint memory", self);
		return;
	}
	scan(self, pids, n, fds);
	debug("pid %u: %u descriptors compared with %zu processes in %.2f ms", self, nmine, n - 1,
	      ((uint64_t)now_ns() - t0) / 1e6);
}

/* byfd, once per checkpoint: 0, or -1 (out of memory) */
static int index_fds(void)
{
	if (byfd)
		return 0;
	maxfd = -1;
	for (uint32_t k = 0; k < nmine; k++)
		if (mine[k].fd > maxfd)
			maxfd = mine[k].fd;
	byfd = rt_alloc(((size_t)maxfd + 1) * sizeof(*byfd) + 1);
	for (uint32_t k = 0; byfd && k < nmine; k++)
		byfd[mine[k].fd] = k + 1;
	return byfd ? 0 : -1;
}

/* The index in mine of fd, or -1. */
static int index_of(int fd)
{
	if (scan_key != ckpt_key() || !have_mine || index_fds() < 0)
		return -1;
	return fd >= 0 && fd <= maxfd ? (int)byfd[fd] - 1 : -1;
}

/* The process that speaks for the description at fd in this checkpoint: its
 * owner, this process when no other holds it. */
uint32_t rt_share_owner(int fd)
{
	int k = index_of(fd);
	return k >= 0 ? own[k].pid : (uint32_t)getpid();
}

int rt_share_parent_fd(int fd, int *pfd)
{
	int k = have_parents ? index_of(fd) : -1;
	if (k < 0)
		return 0;
	*pfd = own[k].parent_fd;
	return 1;
}

int rt_shares_parents_known(void)
{
	return scan_key == ckpt_key() && have_parents;
}

int rt_fds_sorted_known(uint32_t pid, struct rt_fdesc *out, int *fds, int max)
{
	int known = scan_key == ckpt_key() && have_mine;
	uint32_t ppid;
	if (known && pid == (uint32_t)getpid() && nmine <= (uint32_t)max) {
		memcpy(out, mine, nmine * sizeof(*out)); /* nothing has changed since */
		return nmine;
	}
	int n = known ? rt_pub_read_list(pid, &out, max, &ppid) : -1;
	return n >= 0 ? n : rt_fds_sorted(pid, out, fds, max);
}

int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen)
{
	out->shares = NULL;
	out->nshares = 0;
	if (scan_key != ckpt_key() || (!nmine && !scan_err[0]))
		return 0; /* one process: nothing is shared with another */
	if (scan_err[0])
		return errf(err, errlen, "%s; the program goes on", scan_err);
	out->shares = rt_alloc(out->n * sizeof(struct img_share) + 1);
	if (!out->shares || index_fds() < 0)
		return errf(err, errlen, "out of checkpoint memory");
	for (uint32_t k = 0; k < out->n; k++) {
		const struct img_fd *e = &out->fds[k];
		int at = e->share < 0 ? index_of(e->fd) : -1;
		const struct owner *m = at >= 0 ? &own[at] : NULL;
		if (!m || !m->others || e->type == IMG_FD_RUNTIME)
			continue;
		out->shares[out->nshares++] =
		    (struct img_share){.fd = e->fd, .owner_pid = m->pid, .owner_fd = m->fd};
	}
	return 0;
}
