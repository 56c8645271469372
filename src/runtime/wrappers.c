/* Wrappers that keep the checkpoint signal usable whatever the program does:
 * it can never be blocked, caught, ignored or waited for by the application.
 * What the program asked for is remembered and reported back to it. Every real
 * function is reached through one table, resolved once. */
#include "runtime/rt.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static struct {
	int (*sigprocmask)(int, const sigset_t *, sigset_t *);
	int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	sighandler_t (*signal)(int, sighandler_t);
	int (*sigsuspend)(const sigset_t *);
} real;

static struct sigaction app_action; /* what the program set for the checkpoint signal */
static __thread int app_blocked;    /* the program asked to block it in this thread */

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

void rt_wrappers_init(void)
{
	real.sigprocmask = next("sigprocmask");
	real.pthread_sigmask = next("pthread_sigmask");
	real.sigaction = next("sigaction");
	real.signal = next("signal");
	real.sigsuspend = next("sigsuspend");
}

void *rt_libc_fn(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = next(name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

int rt_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!real.sigaction)
		rt_wrappers_init();
	return real.sigaction(sig, act, old);
}

static int guarded(void)
{
	return rt.enabled && rt.sig > 0;
}

/* Strip the checkpoint signal from a mask the program wants applied. */
static const sigset_t *strip(int how, const sigset_t *set, sigset_t *copy)
{
	if (!guarded() || !set || how == SIG_UNBLOCK)
		return set;
	int want = sigismember(set, rt.sig);
	*copy = *set;
	sigdelset(copy, rt.sig);
	if (how == SIG_SETMASK)
		app_blocked = want;
	else if (want)
		app_blocked = 1;
	return copy;
}

static void report(int how, const sigset_t *set, sigset_t *old, int was_blocked)
{
	if (!guarded())
		return;
	if (old && was_blocked)
		sigaddset(old, rt.sig);
	if (how == SIG_UNBLOCK && set && sigismember(set, rt.sig))
		app_blocked = 0;
}

static int mask_call(int (*fn)(int, const sigset_t *, sigset_t *), int how, const sigset_t *set,
		     sigset_t *old)
{
	sigset_t copy;
	int was = app_blocked;
	int rc = fn(how, strip(how, set, &copy), old);
	if (rc == 0)
		report(how, set, old, was);
	return rc;
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!real.sigprocmask)
		rt_wrappers_init();
	return mask_call(real.sigprocmask, how, set, old);
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!real.pthread_sigmask)
		rt_wrappers_init();
	return mask_call(real.pthread_sigmask, how, set, old);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction copy;
	if (!real.sigaction)
		rt_wrappers_init();
	if (guarded() && sig == rt.sig) {
		if (old)
			*old = app_action;
		if (act)
			app_action = *act;
		return 0;
	}
	if (guarded() && act && sigismember(&act->sa_mask, rt.sig)) {
		copy = *act; /* a handler must not hold off checkpoints */
		sigdelset(&copy.sa_mask, rt.sig);
		act = &copy;
	}
	return real.sigaction(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	if (!real.signal)
		rt_wrappers_init();
	if (guarded() && sig == rt.sig) {
		sighandler_t old = app_action.sa_handler;
		memset(&app_action, 0, sizeof(app_action));
		app_action.sa_handler = handler;
		return old;
	}
	return real.signal(sig, handler);
}

EXPORT int sigsuspend(const sigset_t *mask)
{
	sigset_t copy;
	if (!real.sigsuspend)
		rt_wrappers_init();
	if (guarded() && sigismember(mask, rt.sig)) {
		copy = *mask;
		sigdelset(&copy, rt.sig);
		mask = &copy;
	}
	return real.sigsuspend(mask);
}
