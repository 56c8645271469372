/* plugin_pair: a computation of two processes for the plugin tests: the
 * program forks a child; both tick until VERIFY_FILE exists, then the child
 * exits 0 and the parent waits for it and says PASS. Both end with exit()
 * (the plugins' EXIT event).
 *
 *   plugin_pair VERIFY_FILE
 */
#include "zdtm.h"

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	pid_t child = fork();
	if (child < 0)
		return perror("fork"), 1;
	if (child == 0) {
		zd_wait();
		exit(0);
	}
	zd_ready();
	zd_wait();
	int status;
	zd_check(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0,
		 "the child ended with status %#x", status);
	return zd_finish();
}
