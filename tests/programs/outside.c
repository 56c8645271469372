/* outside: children that run outside the computation, across checkpoints.
 *
 *   outside VERIFY_FILE exec PROGRAM       a child execs PROGRAM (statically
 *                                          linked or 32-bit: it cannot join)
 *   outside VERIFY_FILE nocheckpoint STASIS  children run by STASIS nocheckpoint
 *   outside VERIFY_FILE child EXPECT       (a nocheckpoint child: its checks)
 *
 * exec: the child execs PROGRAM, which runs on (prints "outside pid N").
 * nocheckpoint: one child runs `STASIS nocheckpoint /bin/sleep 1000` and lives
 * on ("outside pid N"); every tick another runs `STASIS nocheckpoint outside
 * VERIFY child EXPECT` with LD_PRELOAD unset, empty or "libnone.so" (EXPECT),
 * which checks that it has no STASIS_* variable and exactly the LD_PRELOAD
 * its parent gave (without the runtime), and exits 0; the parent checks that.
 * Either way "ready" once the long-lived child runs outside. After
 * VERIFY_FILE (after restarts): that child is no longer this process's child
 * (not in the images: waitpid says ECHILD), and the ticks went on.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>

extern char **environ;

static const char *self, *stasis;
static long checked;

static int child_checks(const char *expect)
{
	const char *p = getenv("LD_PRELOAD");
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "STASIS_", 7))
			return 10;
	if (!strcmp(expect, "-"))
		return p && *p ? 11 : 0;
	return p && !strcmp(p, expect) ? 0 : 12;
}

/* the child's program is running: its /proc/PID/exe is no longer ours */
static void wait_exec(pid_t pid)
{
	char link[64], exe[PATH_MAX], mine[PATH_MAX];
	ssize_t m = readlink("/proc/self/exe", mine, sizeof(mine) - 1);
	mine[m > 0 ? m : 0] = 0;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	for (int i = 0; i < 1000; i++) {
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		if (n > 0 && strcmp(exe, mine) && strcmp(exe, stasis ? stasis : ""))
			return;
		zd_sleep_ms(10);
	}
	zd_fail("child %d did not exec within 10 s", pid);
}

/* argv in a child with LD_PRELOAD preload (NULL: unset); quiet: its stderr
 * goes to /dev/null (ld.so says libnone.so cannot be preloaded) */
static pid_t start(char *const argv[], const char *preload, int quiet)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (quiet && null >= 0)
			dup2(null, 2);
		if (!preload)
			unsetenv("LD_PRELOAD");
		else
			setenv("LD_PRELOAD", preload, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void tick(void)
{
	static const char *preloads[] = {NULL, "", "libnone.so"};
	const char *pre = preloads[checked % 3];
	char *argv[] = {(char *)stasis,
			"nocheckpoint",
			(char *)self,
			(char *)zd_verify_path,
			"child",
			(char *)(pre && *pre ? pre : "-"),
			NULL};
	int status = 0;
	pid_t pid = start(argv, pre, 1);
	if (pid > 0 && waitpid(pid, &status, 0) < 0) {
		/* a restart since the fork: the child was outside, not restored */
		zd_check(errno == ECHILD, "waitpid: %s", strerror(errno));
		return;
	}
	zd_check(pid > 0 && WIFEXITED(status) && !WEXITSTATUS(status),
		 "nocheckpoint child with LD_PRELOAD %s: status %#x", pre ? pre : "unset", status);
	checked++;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc > 3 && !strcmp(argv[2], "child"))
		return child_checks(argv[3]);
	self = argv[0];
	int noc = argc > 3 && !strcmp(argv[2], "nocheckpoint");
	stasis = noc ? argv[3] : NULL;
	char *sleeper[] = {(char *)stasis, "nocheckpoint", "/bin/sleep", "1000", NULL};
	char *prog[] = {argv[3], NULL};
	pid_t pid = start(noc ? sleeper : prog, getenv("LD_PRELOAD"), 0);
	wait_exec(pid);
	printf("outside pid %d\n", pid);
	zd_ready();
	zd_wait_tick(noc ? tick : NULL);
	int status;
	zd_check(waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD,
		 "pid %d is still a child after the restarts", pid);
	zd_check(!noc || checked > 0, "no nocheckpoint child ran");
	return zd_finish();
}
