/* timer_create(SIGEV_THREAD) done by the runtime.
 *
 * glibc runs SIGEV_THREAD timers from a helper thread of its own that blocks
 * every signal (the checkpoint signal too, set through an internal call that
 * no wrapper sees) and waits for its timer signal: that thread never reaches
 * the checkpoint handler, and every checkpoint of the process failed after
 * RT_SUSPEND_TIMEOUT (vim makes such a timer for 'redrawtime'). The runtime
 * keeps its own helper instead: a thread blocking every signal but the
 * checkpoint signal, so it is saved and restored like the program's threads.
 * A SIGEV_THREAD timer becomes a kernel timer that notifies that thread
 * (SIGEV_THREAD_ID, glibc's timer signal), with a record of the function as
 * its value; for each expiry the helper runs the function in a new thread, as
 * glibc does. The timer ID is the kernel's, which glibc's timer_settime,
 * timer_gettime, timer_getoverrun and timer_delete take as they are, and which
 * timers.c restores with its notification. Of the thread attributes given,
 * the stack and guard sizes are kept (glibc keeps the others too). */
#include "runtime/quiesce.h"
#include "runtime/state.h"
#include "runtime/libc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TIMER_SIG 32  /* glibc's SIGTIMER (__SIGRTMIN): never the program's */
#define SETXID_SIG 33 /* glibc's SIGSETXID: setuid() waits for every thread to take it */
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

struct thread_timer {
	struct thread_timer *next;
	int id; /* the kernel's timer ID */
	void (*fn)(union sigval);
	union sigval value;
	size_t stacksize, guardsize; /* 0: the default */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_timer *timers;
static int helper_tid; /* futex: 0 until the helper runs */

static uint64_t sigbit(int sig)
{
	return 1ull << (sig - 1);
}

struct expiry {
	void (*fn)(union sigval);
	union sigval value;
};

static void *notify_thread(void *arg)
{
	struct expiry e = *(struct expiry *)arg;
	free(arg);
	e.fn(e.value);
	return NULL;
}

/* Under lock: the timer whose record is rec and whose kernel ID is id, if it
 * was not deleted since (a record freed and allocated again for another
 * timer has that timer's ID: both must match). */
static struct thread_timer *live(const void *rec, int id)
{
	for (struct thread_timer *t = timers; t; t = t->next)
		if (t == rec && t->id == id)
			return t;
	return NULL;
}

static void notify(const void *rec, int id)
{
	pthread_attr_t a;
	pthread_t th;
	pthread_mutex_lock(&lock);
	struct thread_timer *t = live(rec, id);
	struct expiry *e = t ? malloc(sizeof(*e)) : NULL;
	if (!e) {
		pthread_mutex_unlock(&lock);
		return; /* deleted while its expiry was queued (or no memory) */
	}
	e->fn = t->fn;
	e->value = t->value;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (t->stacksize)
		pthread_attr_setstacksize(&a, t->stacksize);
	if (t->guardsize)
		pthread_attr_setguardsize(&a, t->guardsize);
	pthread_mutex_unlock(&lock);
	if (pthread_create(&th, &a, notify_thread, e) != 0)
		free(e); /* no thread: this expiry is lost, as with glibc */
	pthread_attr_destroy(&a);
}

/* Raw masks: glibc's sigset functions refuse its internal signals (32, 33). */
static void *helper(void *arg)
{
	(void)arg;
	uint64_t block = ~(sigbit(rt.sig) | sigbit(SETXID_SIG)), wait = sigbit(TIMER_SIG);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &block, NULL, sizeof(block));
	__atomic_store_n(&helper_tid, (int)rt_gettid(), __ATOMIC_RELEASE);
	rt_futex_wake(&helper_tid);
	for (;;) {
		siginfo_t si;
		if (syscall(SYS_rt_sigtimedwait, &wait, &si, NULL, sizeof(wait)) == TIMER_SIG &&
		    si.si_value.sival_ptr)
			notify(si.si_value.sival_ptr, si.si_timerid);
	}
	return NULL;
}

/* The timer signal ignored, so that it can never end the process (its
 * default action) should it reach a thread that lets it through. It must not
 * reach one: Linux 6.13+ keeps a timer whose signal was discarded as ignored
 * stopped until the signal is no longer ignored. The helper blocks it always
 * (in the checkpoint handler too; at restart the blob blocks every signal
 * until each thread is back in its own mask: restore/blob/blob.c), and a
 * blocked signal is never discarded: it stays queued for rt_sigtimedwait. A
 * later pthread_cancel() installs glibc's handler, which ignores it too (it
 * takes only tgkill signals of its own process). Raw: glibc refuses 32. */
static void ignore_timer_signal(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} act = {SIG_IGN, 0, NULL, 0}, old;
	if (syscall(SYS_rt_sigaction, TIMER_SIG, NULL, &old, sizeof(uint64_t)) == 0 &&
	    old.handler == SIG_DFL)
		syscall(SYS_rt_sigaction, TIMER_SIG, &act, NULL, sizeof(uint64_t));
}

/* Under lock. The helper's TID, starting it the first time. */
static int helper_start(void)
{
	pthread_t th;
	pthread_attr_t a;
	if (helper_tid)
		return helper_tid;
	ignore_timer_signal();
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &a, helper, NULL);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		errno = rc == EAGAIN ? EAGAIN : ENOMEM;
		return -1;
	}
	while (!__atomic_load_n(&helper_tid, __ATOMIC_ACQUIRE))
		rt_futex_wait(&helper_tid, 0);
	return helper_tid;
}

static void keep_attr(struct thread_timer *t, const pthread_attr_t *a)
{
	if (!a)
		return;
	pthread_attr_getstacksize(a, &t->stacksize);
	pthread_attr_getguardsize(a, &t->guardsize);
}

static int thread_timer_create(clockid_t clock, const struct sigevent *sev, timer_t *out)
{
	struct thread_timer *t = calloc(1, sizeof(*t));
	struct sigevent k;
	if (!t)
		return -1;
	t->fn = sev->sigev_notify_function;
	t->value = sev->sigev_value;
	keep_attr(t, sev->sigev_notify_attributes);
	memset(&k, 0, sizeof(k));
	k.sigev_notify = SIGEV_THREAD_ID;
	k.sigev_signo = TIMER_SIG;
	k.sigev_value.sival_ptr = t;
	pthread_mutex_lock(&lock);
	k._sigev_un._tid = helper_start();
	if (k._sigev_un._tid < 0 || syscall(SYS_timer_create, clock, &k, &t->id) < 0) {
		pthread_mutex_unlock(&lock);
		free(t);
		return -1;
	}
	t->next = timers;
	timers = t;
	pthread_mutex_unlock(&lock);
	*out = (timer_t)(intptr_t)t->id;
	return 0;
}

EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *out)
{
	if (sev && sev->sigev_notify == SIGEV_THREAD && rt.enabled)
		return thread_timer_create(clock, sev, out);
	return REAL(timer_create)(clock, sev, out);
}

EXPORT int timer_delete(timer_t id)
{
	struct thread_timer **p, *gone = NULL;
	pthread_mutex_lock(&lock);
	for (p = &timers; *p; p = &(*p)->next)
		if ((intptr_t)id >= 0 && (*p)->id == (int)(intptr_t)id) {
			gone = *p;
			*p = gone->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	int rc = REAL(timer_delete)(id);
	free(gone); /* an expiry still queued finds it gone (notify) */
	return rc;
}

/* Timers are not inherited across fork, and the helper thread is not either. */
static void forked_child(void)
{
	pthread_mutex_init(&lock, NULL);
	timers = NULL;
	helper_tid = 0;
}

__attribute__((constructor)) static void thread_timers_init(void)
{
	pthread_atfork(NULL, NULL, forked_child);
}
