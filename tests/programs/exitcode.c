/* exitcode: prints "ready", waits for VERIFY_FILE, then exits with CODE (or,
 * with "signal", kills itself with SIGTERM).
 *
 *   exitcode VERIFY_FILE CODE|signal
 */
#include "zdtm.h"

#include <signal.h>

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	zd_ready();
	zd_wait();
	if (argc > 2 && !strcmp(argv[2], "signal")) {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	return argc > 2 ? atoi(argv[2]) : 0;
}
