/* Quiescing the application's threads.
 *
 * The checkpoint thread sends the checkpoint signal to every other thread. Each
 * thread's handler records what the kernel keeps for it (TLS base, robust list,
 * clear-child-tid address, alternate stack, capabilities), saves its context
 * with rt_save_context() and waits on a futex. The registers of the interrupted
 * code are already in the signal frame on the thread's stack, so they travel
 * with the memory. After a restart the blob resumes each thread at its save
 * point (rt_save_context returns 1); the thread re-registers its kernel state
 * and waits again until the checkpoint thread releases everyone.
 */
#include "runtime/api.h"
#include "runtime/quiesce.h"
#include "restore/blob/abi.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/sigqueue.h"
#include "runtime/state.h"
#include "runtime/sysrestart.h"
#include "runtime/write_pipe.h"
#include "runtime/libc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <asm/prctl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

int rt_futex_wait(int *addr, int val)
{
	return syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

int rt_futex_wait_ms(int *addr, int val, int ms)
{
	struct timespec t = {ms / 1000, ms % 1000 * 1000000L};
	return syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, &t, NULL, 0);
}

void rt_futex_wake(int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
}

static struct rt_thread *slot_claim(int tid)
{
	for (int i = 0; i < RT_MAX_THREADS; i++) {
		int expect = RT_FREE;
		if (__atomic_compare_exchange_n(&rt.threads[i].state, &expect, RT_CLAIMED, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			rt.threads[i].tid = tid;
			return &rt.threads[i];
		}
	}
	return NULL;
}

void rt_thread_capture_self(struct rt_thread *t)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	syscall(SYS_arch_prctl, ARCH_GET_FS, &t->fs_base);
	syscall(SYS_get_robust_list, 0, &t->robust_head, &t->robust_len);
	prctl(PR_GET_TID_ADDRESS, &t->clear_tid, 0, 0, 0);
	sigaltstack(NULL, &t->altstack);
	prctl(PR_GET_NAME, t->comm, 0, 0, 0);
	if (syscall(SYS_capget, &h, d) == 0)
		for (int i = 0; i < 2; i++) {
			t->cap_eff[i] = d[i].effective;
			t->cap_prm[i] = d[i].permitted;
			t->cap_inh[i] = d[i].inheritable;
		}
}

/* A restored thread is a new kernel task: give it back what the kernel held. */
void rt_thread_reinstate_self(const struct rt_thread *t)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (&__rseq_size && __rseq_size) {
		char *tp;
		__asm__("mov %%fs:0, %0" : "=r"(tp));
		syscall(SYS_rseq, tp + __rseq_offset, __rseq_size < 32 ? 32 : __rseq_size, 0,
			RSEQ_SIG);
	}
	if (t->robust_head)
		syscall(SYS_set_robust_list, t->robust_head, t->robust_len);
	syscall(SYS_set_tid_address, t->clear_tid);
	prctl(PR_SET_NAME, t->comm, 0, 0, 0);
	if (t->altstack.ss_sp && !(t->altstack.ss_flags & SS_ONSTACK)) {
		stack_t ss = t->altstack;
		ss.ss_flags &= SS_AUTODISARM;
		sigaltstack(&ss, NULL);
	}
	for (int i = 0; i < 2; i++) {
		d[i].effective = t->cap_eff[i];
		d[i].permitted = t->cap_prm[i];
		d[i].inheritable = t->cap_inh[i];
	}
	syscall(SYS_capset, &h, d);
}

static void wait_change(int *word, int old)
{
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old)
		rt_futex_wait(word, old);
}

static void ckpt_handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	int saved_errno = errno;
	const int seq = __atomic_load_n(&rt.release_seq, __ATOMIC_ACQUIRE);
	const int take = __atomic_load_n(&rt.take_seq, __ATOMIC_ACQUIRE);
	const int requeue = __atomic_load_n(&rt.requeue_seq, __ATOMIC_ACQUIRE);
	rt_sysrestart_fix(rt_gettid(), uc);
	if (!__atomic_load_n(&rt.suspending, __ATOMIC_ACQUIRE))
		return; /* a late signal from a checkpoint that gave up waiting for us */
	struct rt_thread *const t = slot_claim(rt_gettid());
	if (!t)
		return; /* more threads than slots: the checkpoint thread reports it */
	memcpy(&t->sigmask, &uc->uc_sigmask, sizeof(t->sigmask));
	rt_thread_capture_self(t);
	if (rt_save_context(&t->ctx) == 0) {
		__atomic_store_n(&t->state, RT_SUSPENDED, __ATOMIC_RELEASE);
		__atomic_add_fetch(&rt.nsuspended, 1, __ATOMIC_ACQ_REL);
		rt_futex_wake(&rt.nsuspended);
		/* once the process-wide queue is empty, our own queue is ours alone */
		wait_change(&rt.take_seq, take);
		rt_take_thread_pending(t);
		__atomic_add_fetch(&rt.ntaken, 1, __ATOMIC_ACQ_REL);
		rt_futex_wake(&rt.ntaken);
		/* once every thread took its own: all go back, in order, and stay
		 * blocked here; the records stay for the image */
		wait_change(&rt.requeue_seq, requeue);
		rt_requeue_self(t, 1);
	} else {
		/* a new process: the image's pending signals go into its queues
		 * before any process of the restart runs (rt_requeue_restored) */
		int rq = __atomic_load_n(&rt.requeue_seq, __ATOMIC_ACQUIRE);
		rt_thread_reinstate_self(t);
		__atomic_add_fetch(&rt.nrestored, 1, __ATOMIC_ACQ_REL);
		rt_futex_wake(&rt.nrestored);
		wait_change(&rt.requeue_seq, rq);
		rt_requeue_self(t, 0);
	}
	__atomic_add_fetch(&rt.nrequeued, 1, __ATOMIC_ACQ_REL);
	rt_futex_wake(&rt.nrequeued);
	wait_change(&rt.release_seq, seq);
	__atomic_store_n(&t->state, RT_FREE, __ATOMIC_RELEASE);
	errno = saved_errno;
}

int rt_install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = ckpt_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return REAL(sigaction)(rt.sig, &sa, NULL);
}

static int thread_is_suspended(int tid)
{
	for (int i = 0; i < RT_MAX_THREADS; i++)
		if (rt.threads[i].tid == tid &&
		    __atomic_load_n(&rt.threads[i].state, __ATOMIC_ACQUIRE) == RT_SUSPENDED)
			return 1;
	return 0;
}

struct round {
	int *signalled, *nsig;
	int sent, err;
};

/* On the private-files helper (rt_run_private_files): it lists the threads and
 * reads their calls without taking a descriptor number from the program. */
static void signal_round_private(void *arg)
{
	struct round *r = arg;
	int tids[RT_MAX_THREADS + 2];
	int self = rt_gettid();
	int n = rt_list_numeric("/proc/self/task", tids, RT_MAX_THREADS + 2, NULL);
	r->sent = 0;
	r->err = 0;
	if (n < 0) {
		r->sent = -1;
		r->err = errno;
		return;
	}
	if (n > RT_MAX_THREADS + 1) { /* more than the runtime can hold: none may be missed */
		r->sent = -1;
		r->err = E2BIG;
		return;
	}
	for (int k = 0; k < n; k++) {
		int tid = tids[k], already = 0;
		if (tid == self || tid == rt.ckpt_tid || thread_is_suspended(tid))
			continue;
		for (int i = 0; i < *r->nsig; i++)
			already |= r->signalled[i] == tid;
		if (already)
			continue;
		if (*r->nsig >= RT_MAX_THREADS) {
			r->sent = -1;
			r->err = E2BIG;
			return;
		}
		rt_sysrestart_note(tid);
		if (syscall(SYS_tgkill, getpid(), tid, rt.sig) == 0) {
			r->signalled[(*r->nsig)++] = tid;
			r->sent++;
		}
	}
}

/* Signal every thread not yet in the handler; returns how many were signalled.
 * The program's threads still run: what is opened here must not take one of
 * their descriptor numbers (rt_run_private_files). */
static int signal_round(int *signalled, int *nsig)
{
	struct round r = {.signalled = signalled, .nsig = nsig};
	if (rt_run_private_files(signal_round_private, &r) < 0)
		return -1;
	if (r.sent < 0)
		errno = r.err;
	return r.sent;
}

static int live_unsuspended(int *signalled, int nsig)
{
	int n = 0;
	for (int i = 0; i < nsig; i++) {
		char path[64];
		if (thread_is_suspended(signalled[i]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d", signalled[i]);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* Wait until every signalled live thread is in the handler; -1 (ETIMEDOUT) if
 * one does not get there in time (it keeps signals blocked). */
static int wait_suspended(int *signalled, int nsig)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (live_unsuspended(signalled, nsig) > 0) {
		int n = __atomic_load_n(&rt.nsuspended, __ATOMIC_ACQUIRE);
		struct timespec ts = {0, 1000000};
		syscall(SYS_futex, &rt.nsuspended, FUTEX_WAIT_PRIVATE, n, &ts, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= RT_SUSPEND_TIMEOUT) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static void wait_count(int *word)
{
	for (;;) {
		int n = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if (n >= __atomic_load_n(&rt.nsuspended, __ATOMIC_ACQUIRE))
			break;
		rt_futex_wait(word, n);
	}
}

static void requeue_round(void)
{
	__atomic_store_n(&rt.nrequeued, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&rt.requeue_seq, 1, __ATOMIC_ACQ_REL);
	rt_futex_wake(&rt.requeue_seq);
	wait_count(&rt.nrequeued);
}

/* Once every process is stopped (SUSPENDED passed): take the process-wide
 * pending signals, then let each thread take its own (rt_sigtimedwait would
 * otherwise hand a thread signals of the process-wide queue too); then every
 * thread queues them back, none having come behind them. -1 (EOVERFLOW) if
 * some could not be recorded. */
int rt_take_pending(void)
{
	if (!rt.take_due)
		return 0;
	rt.take_due = 0;
	rt_take_shared_pending();
	__atomic_add_fetch(&rt.take_seq, 1, __ATOMIC_ACQ_REL);
	rt_futex_wake(&rt.take_seq);
	wait_count(&rt.ntaken);
	requeue_round();
	int more = rt.shared_pending.more;
	for (int i = 0; i < RT_MAX_THREADS; i++)
		more |= __atomic_load_n(&rt.threads[i].state, __ATOMIC_ACQUIRE) == RT_SUSPENDED &&
			rt.threads[i].pending.more;
	return more ? (errno = EOVERFLOW, -1) : 0;
}

void rt_requeue_restored(void)
{
	requeue_round();
}

/* Threads released by the previous checkpoint (or restored by a restart) leave
 * the handler on their own time; until they have, their slots still say
 * SUSPENDED and the next round would take that for this checkpoint's answer
 * (and miss the thread). Wait for every slot to be free. */
static int wait_slots_free(void)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < RT_MAX_THREADS; i++) {
		while (__atomic_load_n(&rt.threads[i].state, __ATOMIC_ACQUIRE) != RT_FREE) {
			struct timespec ms = {0, 1000000};
			nanosleep(&ms, NULL);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - start.tv_sec >= RT_SUSPEND_TIMEOUT) {
				errno = EBUSY;
				return -1;
			}
		}
	}
	return 0;
}

int rt_suspend_all(void)
{
	int *signalled = rt_alloc(sizeof(int) * RT_MAX_THREADS);
	int nsig = 0, rc = 0;
	if (!signalled || wait_slots_free() < 0)
		return -1;
	__atomic_store_n(&rt.nsuspended, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&rt.ntaken, 0, __ATOMIC_RELEASE);
	rt_sysrestart_reset();
	__atomic_store_n(&rt.suspending, 1, __ATOMIC_RELEASE);
	for (;;) {
		int sent = signal_round(signalled, &nsig);
		if (sent < 0 || wait_suspended(signalled, nsig) < 0) {
			rc = -1;
			break;
		}
		if (sent == 0)
			break; /* a full scan found no thread left running */
	}
	rt.take_due = 1; /* the threads that stopped wait for rt_take_pending() */
	return rc;
}

void rt_release_all(void)
{
	if (rt.take_due) /* a checkpoint given up before: they wait for it */
		rt_take_pending();
	__atomic_store_n(&rt.suspending, 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&rt.release_seq, 1, __ATOMIC_ACQ_REL);
	rt_futex_wake(&rt.release_seq);
	rt_crit_open();
}
