/* Calls that take a signal set for the time they wait: the checkpoint signal
 * must stay deliverable in them. ppoll, pselect and epoll_pwait apply a mask
 * while they wait (one that blocks everything would hold the checkpoint off
 * until they return); sigwait, sigwaitinfo and sigtimedwait take the signals
 * of their set (a dedicated signal thread waiting for every signal would
 * swallow the checkpoint's). The runtime's signal is removed from the set, as
 * sigsuspend's wrapper does (wrappers.c). */
#include "runtime/state.h"
#include "runtime/libc.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>

/* set without the checkpoint signal (in *copy), or set itself */
static const sigset_t *without_ours(const sigset_t *set, sigset_t *copy)
{
	if (!set || !rt.enabled || rt.sig <= 0 || !sigismember(set, rt.sig))
		return set;
	*copy = *set;
	sigdelset(copy, rt.sig);
	return copy;
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
	sigset_t c;
	return REAL(ppoll)(fds, n, t, without_ours(mask, &c));
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
		   const sigset_t *mask)
{
	sigset_t c;
	return REAL(pselect)(n, r, w, e, t, without_ours(mask, &c));
}

EXPORT int epoll_pwait(int ep, struct epoll_event *ev, int max, int timeout, const sigset_t *mask)
{
	sigset_t c;
	return REAL(epoll_pwait)(ep, ev, max, timeout, without_ours(mask, &c));
}

EXPORT int epoll_pwait2(int ep, struct epoll_event *ev, int max, const struct timespec *t,
			const sigset_t *mask)
{
	sigset_t c;
	return REAL(epoll_pwait2)(ep, ev, max, t, without_ours(mask, &c));
}

EXPORT int sigwait(const sigset_t *set, int *sig)
{
	sigset_t c;
	return REAL(sigwait)(without_ours(set, &c), sig);
}

EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	sigset_t c;
	return REAL(sigwaitinfo)(without_ours(set, &c), info);
}

EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *t)
{
	sigset_t c;
	return REAL(sigtimedwait)(without_ours(set, &c), info, t);
}
