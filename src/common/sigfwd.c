/* Passing on the signals sent to launch and restart; see sigfwd.h. */
#include "common/sigfwd.h"
#include "common/clock.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAME_SENDER_NS (100 * 1000 * 1000LL)

static const int forwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

void sigfwd_install(void (*handler)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	if (handler) {
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
	} else {
		sa.sa_handler = SIG_IGN;
	}
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaction(forwarded[i], &sa, NULL);
}

static int from_user(const siginfo_t *si)
{
	return si->si_code == SI_USER || si->si_code == SI_QUEUE || si->si_code == SI_TKILL;
}

int sigfwd_wanted(int sig, const siginfo_t *si, int in_group)
{
	static int last_sig;
	static pid_t last_pid;
	static long long last_ns;
	if (in_group &&
	    (si->si_code == SI_KERNEL || (from_user(si) && getpgid(si->si_pid) == getpgrp())))
		return 0;
	long long t = now_ns();
	if (from_user(si) && sig == last_sig && si->si_pid == last_pid &&
	    t - last_ns < SAME_SENDER_NS)
		return 0;
	last_sig = sig;
	last_pid = from_user(si) ? si->si_pid : 0;
	last_ns = t;
	return 1;
}
