/* Wrappers that keep the checkpoint signal usable whatever the program does:
 * it can never be blocked, caught, ignored or waited for by the application.
 * What the program asked for is remembered and reported back to it. The real
 * functions are libc.h's. */
#include "runtime/state.h"
#include "runtime/libc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static struct sigaction app_action; /* what the program set for the checkpoint signal */
static __thread int app_blocked;    /* the program asked to block it in this thread */

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
	return mask_call(REAL(sigprocmask), how, set, old);
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call(REAL(pthread_sigmask), how, set, old);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction copy;
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
	return REAL(sigaction)(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	if (guarded() && sig == rt.sig) {
		sighandler_t old = app_action.sa_handler;
		memset(&app_action, 0, sizeof(app_action));
		app_action.sa_handler = handler;
		return old;
	}
	return REAL(signal)(sig, handler);
}

EXPORT int sigsuspend(const sigset_t *mask)
{
	sigset_t copy;
	if (guarded() && sigismember(mask, rt.sig)) {
		copy = *mask;
		sigdelset(&copy, rt.sig);
		mask = &copy;
	}
	return REAL(sigsuspend)(mask);
}
