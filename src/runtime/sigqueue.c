/* Pending signals. A thread's own pending signals are taken out by the thread
 * itself in the checkpoint handler (all signals are blocked there), the
 * process-wide ones by the checkpoint thread; all go back into the kernel's
 * queues, with their siginfo, when the threads are released, both after a
 * checkpoint and after a restart (the TIDs are the same). */
#include "runtime/sigqueue.h"
#include "runtime/state.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* Dequeue every pending signal in mask into q (at most RT_MAX_PENDING). */
static void take(uint64_t mask, struct rt_sigq *q)
{
	q->n = 0;
	mask &= ~(1ull << (rt.sig - 1));
	mask &= ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
	for (int sig = 1; sig <= 64 && q->n < RT_MAX_PENDING; sig++) {
		if (!(mask & (1ull << (sig - 1))))
			continue;
		uint64_t one = 1ull << (sig - 1);
		struct timespec zero = {0, 0};
		while (q->n < RT_MAX_PENDING &&
		       syscall(SYS_rt_sigtimedwait, &one, &q->info[q->n], &zero, 8) == sig) {
			debug("took signal %d (code %d) in %ld", sig, q->info[q->n].si_code,
			      rt_gettid());
			q->n++;
		}
	}
}

void rt_take_thread_pending(struct rt_thread *t)
{
	take(pending_mask("/proc/thread-self/status", "SigPnd:"), &t->pending);
}

void rt_take_shared_pending(void)
{
	take(pending_mask("/proc/self/status", "ShdPnd:"), &rt.shared_pending);
}

static void requeue(int tid, struct rt_sigq *q)
{
	for (int i = 0; i < q->n; i++) {
		int sig = q->info[i].si_signo;
		long rc = tid ? syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &q->info[i])
			      : syscall(SYS_rt_sigqueueinfo, getpid(), sig, &q->info[i]);
		debug("requeue signal %d to %s %d: %s", sig, tid ? "thread" : "process",
		      tid ? tid : getpid(), rc < 0 ? strerror(errno) : "ok");
	}
	q->n = 0;
}

/* The kernel lets only the receiving thread (and, for process-wide signals, the
 * thread-group leader) queue a signal with a sender's siginfo: each thread puts
 * its own back when it leaves the checkpoint handler. */
void rt_requeue_self(struct rt_thread *t)
{
	requeue(t->tid, &t->pending);
	if (t->tid == getpid())
		requeue(0, &rt.shared_pending);
}
