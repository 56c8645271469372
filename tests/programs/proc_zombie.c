/* proc_zombie: children that exited but were not reaped stay zombies across
 * checkpoints, with their PIDs and exit statuses.
 *
 *   proc_zombie VERIFY_FILE
 *
 * Three children end before "ready" and are not reaped: one exits 7, one is
 * killed by SIGUSR1, one by SIGKILL. At verify each must still be a zombie
 * (state Z in /proc), waitpid() must give its status, no SIGCHLD may have
 * arrived since "ready" (the recreated zombies must not signal again), and no
 * other child is left.
 */
#include "zdtm.h"

#include <signal.h>
#include <sys/wait.h>

static volatile int nchld;

static void on_chld(int sig)
{
	(void)sig;
	nchld++;
}

static pid_t child_that(int how)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (how == 0)
			_exit(7);
		for (;;)
			pause();
	}
	if (pid > 0 && how)
		kill(pid, how);
	return pid;
}

/* Wait until pid has ended, without reaping it. */
static void wait_dead(pid_t pid)
{
	siginfo_t si;
	while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
}

static char state_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] ? p[2] : '?';
}

static void check_status(pid_t pid, int how)
{
	int st;
	zd_check(state_of(pid) == 'Z', "child %d is in state %c, not a zombie", pid, state_of(pid));
	zd_check(waitpid(pid, &st, WNOHANG) == pid, "waitpid(%d): %s", pid, strerror(errno));
	if (how == 0)
		zd_check(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child %d: status %#x, want exit 7",
			 pid, st);
	else
		zd_check(WIFSIGNALED(st) && WTERMSIG(st) == how,
			 "child %d: status %#x, want killed by signal %d", pid, st, how);
}

int main(int argc, char **argv)
{
	const int how[3] = {0, SIGUSR1, SIGKILL};
	pid_t pids[3];
	zd_init(argc, argv);
	signal(SIGCHLD, on_chld);
	for (int i = 0; i < 3; i++)
		pids[i] = child_that(how[i]);
	for (int i = 0; i < 3; i++)
		wait_dead(pids[i]);
	zd_sleep_ms(100);
	int chld0 = nchld;
	printf("zombies %d %d %d\n", pids[0], pids[1], pids[2]);
	zd_ready();
	zd_wait();
	zd_check(nchld == chld0, "%d SIGCHLD arrived after ready", nchld - chld0);
	for (int i = 0; i < 3; i++)
		check_status(pids[i], how[i]);
	zd_check(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD,
		 "a child is left after reaping the three");
	return zd_finish();
}
