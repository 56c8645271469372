/* stasis restart passes the signals sent to it on to the restarted program
 * (common/sigfwd.h). Restart runs outside the restart's PID namespace: it asks
 * the namespace's PID 1 with a queued SIGRTMIN whose value is the signal, and
 * PID 1 sends that to the program (the processes it created: one per program
 * launched into the computation). PID 1
 * ignores the signals themselves: one sent to restart's whole process group
 * must neither end it (which would end the namespace) nor reach the program
 * a second time. */
#include "restore/sigfwd.h"
#include "common/sigfwd.h"

#include <errno.h>
#include <string.h>

static pid_t init_pid;	      /* in restart: PID 1 of the namespace */
static int in_group;	      /* the program is in restart's process group */
static const pid_t *programs; /* in PID 1: the program's processes */
static int nprograms;

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int e = errno;
	if (init_pid > 0 && sigfwd_wanted(sig, si, in_group))
		sigqueue(init_pid, SIGRTMIN, (union sigval){.sival_int = sig});
	errno = e;
}

void rst_sigfwd_restart(pid_t init, int own_terminal)
{
	init_pid = init;
	in_group = !own_terminal;
	sigfwd_install(pass_on);
}

static void on_request(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int e = errno;
	for (int i = 0; si->si_code == SI_QUEUE && i < nprograms; i++)
		kill(programs[i], si->si_value.sival_int);
	errno = e;
}

void rst_sigfwd_init(void)
{
	struct sigaction sa;
	sigfwd_install(NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_request;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGRTMIN, &sa, NULL);
}

void rst_sigfwd_programs(const pid_t *pids, int n)
{
	programs = pids;
	nprograms = n;
}
