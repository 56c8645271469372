/* Pending signals. A thread's own pending signals are taken out by the thread
 * itself in the checkpoint handler (all signals are blocked there), the
 * process-wide ones by the checkpoint thread, so that the image records them
 * with their siginfo. They go back into the kernel's queues at once, in their
 * order, while every process of the checkpoint is still stopped (none can
 * queue a signal behind them, nor fill the queue first), and the threads keep
 * them blocked until they are released. After a restart (the TIDs are the
 * same) the recorded ones are queued when the threads are released. */
#include "runtime/sigqueue.h"
#include "runtime/state.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t pending_mask(const char *path, const char *key)
{
	char buf[4096];
	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return 0;
	char *p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

static uint64_t takeable(uint64_t mask)
{
	mask &= ~(1ull << (rt.sig - 1));
	return mask & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
}

/* Dequeue one pending signal of sig into *info; 1 if there was one. */
static int take_one(int sig, siginfo_t *info)
{
	uint64_t one = 1ull << (sig - 1);
	struct timespec zero = {0, 0};
	return syscall(SYS_rt_sigtimedwait, &one, info, &zero, 8) == sig;
}

/* Every pending signal of this thread (at most RT_MAX_PENDING) into q. */
void rt_take_thread_pending(struct rt_thread *t)
{
	struct rt_sigq *q = &t->pending;
	uint64_t mask = takeable(pending_mask("/proc/thread-self/status", "SigPnd:"));
	q->n = q->more = 0;
	for (int sig = 1; sig <= 64; sig++)
		while ((mask & (1ull << (sig - 1))) && q->n < RT_MAX_PENDING &&
		       take_one(sig, &q->info[q->n]))
			q->n++;
	q->more = q->n == RT_MAX_PENDING &&
		  takeable(pending_mask("/proc/thread-self/status", "SigPnd:")) != 0;
}

/* Room for one more process-wide signal: past `small`, a mapping that grows
 * (by mremap). */
static int shared_room(struct rt_sigq_shared *q)
{
	if (!q->info) {
		q->info = q->small;
		q->cap = RT_MAX_PENDING;
	}
	if (q->n < q->cap)
		return 0;
	size_t cap = 2 * q->cap, old = q->cap * sizeof(siginfo_t);
	void *p = q->info != q->small
		      ? mremap(q->info, old, cap * sizeof(siginfo_t), MREMAP_MAYMOVE)
		      : mmap(NULL, cap * sizeof(siginfo_t), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (q->info == q->small)
		memcpy(p, q->small, old);
	q->info = p;
	q->cap = cap;
	return 0;
}

void rt_take_shared_pending(void)
{
	struct rt_sigq_shared *q = &rt.shared_pending;
	uint64_t mask = takeable(pending_mask("/proc/self/status", "ShdPnd:"));
	q->n = q->more = 0;
	for (int sig = 1; sig <= 64 && !q->more; sig++) {
		if (!(mask & (1ull << (sig - 1))))
			continue;
		while (!(q->more = shared_room(q) < 0) && take_one(sig, &q->info[q->n])) {
			debug("took signal %d (code %d)", sig, q->info[q->n].si_code);
			q->n++;
		}
	}
}

#define REQUEUE_TRIES 1000 /* 1 ms apart: a queue at RLIMIT_SIGPENDING drains */

static long queue_one(int tid, const siginfo_t *info)
{
	int sig = info->si_signo;
	for (int i = 0;; i++) {
		long rc = tid ? syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, info)
			      : syscall(SYS_rt_sigqueueinfo, getpid(), sig, info);
		if (rc == 0 || errno != EAGAIN || i == REQUEUE_TRIES)
			return rc;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
}

/* Signals queued by a process (sigqueue, tgkill, timers: si_code < 0) count
 * against RLIMIT_SIGPENDING, those the kernel or kill() sends do not: the
 * first go back first, while the room the taking made is still there. Signals
 * of one number keep their order; different numbers are queued apart. */
static void requeue(int tid, const siginfo_t *info, int n)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			if ((info[i].si_code < 0) != (pass == 0))
				continue;
			if (queue_one(tid, &info[i]) < 0)
				warn("pid %d: pending signal %d could not be queued again (%s): it "
				     "is lost",
				     getpid(), info[i].si_signo, strerror(errno));
		}
}

/* The kernel lets only the receiving thread (and, for process-wide signals, the
 * thread-group leader) queue a signal with a sender's siginfo: each thread puts
 * its own back. */
void rt_requeue_self(struct rt_thread *t, int keep)
{
	requeue(t->tid, t->pending.info, t->pending.n);
	if (t->tid == getpid())
		requeue(0, rt.shared_pending.info, rt.shared_pending.n);
	if (keep)
		return;
	t->pending.n = 0;
	if (t->tid == getpid())
		rt.shared_pending.n = 0;
}
