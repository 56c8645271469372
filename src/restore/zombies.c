/* Zombies: children that had exited but were not reaped when the checkpoint
 * was taken. Their parent creates each again with clone3(set_tid) and the
 * recorded exit signal; the child ends at once the way it ended before (same
 * exit code, or killed by the same signal), and stays a zombie until the
 * restored program reaps it with wait(). */
#include "restore/zombies.h"
#include "restore/load.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/zombies.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Back in the process group or session it had (best effort: a group of
 * another branch of the tree may not exist yet). */
static void rejoin_groups(const struct img_zombie *z)
{
	if (z->sid == z->pid)
		setsid();
	else if (z->pgid == z->pid)
		setpgid(0, 0);
	else if ((pid_t)z->pgid != getpgrp())
		setpgid(0, z->pgid);
}

/* In the new child: end as the recorded process ended. A killed process is
 * killed by its signal again (without a core dump: the core flag of the
 * status is not reproduced). */
__attribute__((noreturn)) static void end_as(const struct img_zombie *z)
{
	rejoin_groups(z);
	if (z->code != CLD_EXITED) {
		struct rlimit none = {0, 0};
		sigset_t one;
		setrlimit(RLIMIT_CORE, &none);
		signal(z->status, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, z->status);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
		kill(getpid(), z->status);
	}
	syscall(SYS_exit_group, z->code == CLD_EXITED ? z->status : 128 + z->status);
	__builtin_unreachable();
}

static pid_t clone_zombie(const struct img_zombie *z)
{
	struct clone_args a;
	pid_t pid = z->pid;
	memset(&a, 0, sizeof(a));
	a.exit_signal = z->exit_signal;
	a.set_tid = (uint64_t)(uintptr_t)&pid;
	a.set_tid_size = 1;
	return syscall(SYS_clone3, &a, sizeof(a));
}

/* The exit signal the new zombie sent us was not pending at the checkpoint
 * (the program's own pending signals come back from its memory later). */
static void drop_exit_signal(int sig)
{
	struct timespec zero = {0, 0};
	sigset_t one;
	if (sig <= 0)
		return;
	sigemptyset(&one);
	sigaddset(&one, sig);
	while (sigtimedwait(&one, NULL, &zero) > 0)
		;
}

static int make_zombie(const struct img_zombie *z, uint32_t parent)
{
	siginfo_t si;
	pid_t pid = clone_zombie(z);
	if (pid == 0)
		end_as(z);
	if (pid < 0)
		return error("pid %u cannot recreate its exited child %u (a zombie): %s", parent,
			     z->pid, strerror(errno));
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT | __WALL) < 0)
		if (errno != EINTR)
			return error("pid %u cannot see its recreated zombie %u end: %s", parent,
				     z->pid, strerror(errno));
	if (si.si_code != z->code && !(z->code == CLD_DUMPED && si.si_code == CLD_KILLED))
		warn("zombie %u of pid %u ended with code %d status %d, not %d %d", z->pid, parent,
		     si.si_code, si.si_status, z->code, z->status);
	drop_exit_signal(z->exit_signal);
	return 0;
}

int rst_zombies(const struct rst_set *set, int i)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nzombies; k++)
		if (make_zombie(&img->zombies[k], img->proc->pid) < 0)
			return -1;
	return 0;
}
