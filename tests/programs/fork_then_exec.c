/* fork_then_exec: a child forked just before its parent execs (DMTCP's
 * dmtcp5) is in the same computation as the exec'd parent.
 *
 *   fork_then_exec VERIFY_FILE [execd]
 *
 * The parent forks and execs itself at once; the child waits for VERIFY_FILE
 * and exits 7. The exec'd parent says "ready", waits for VERIFY_FILE, and
 * reaps the child, which must have exited 7.
 */
#include "zdtm.h"

#include <sys/wait.h>

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc < 3) {
		pid_t pid = fork();
		if (pid == 0) {
			zd_wait();
			_exit(7);
		}
		if (pid < 0) {
			zd_fail("fork: %s", strerror(errno));
			return zd_finish();
		}
		char exe[4096];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		execl(exe, argv[0], argv[1], "execd", (char *)NULL);
		zd_fail("exec %s: %s", exe, strerror(errno));
		return zd_finish();
	}
	zd_ready();
	zd_wait();
	int status = 0;
	pid_t pid = wait(&status);
	zd_check(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 7,
		 "the child (pid %d) ended with status %#x, want exit 7", pid, status);
	return zd_finish();
}
