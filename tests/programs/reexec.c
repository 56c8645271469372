/* reexec: clears its environment and execs itself (execv and execle with an
 * environment of its own); the new program must still run under Stasis. Then
 * the zdtm protocol: ready, wait, and PASS if it is still under Stasis.
 *
 *   reexec VERIFY_FILE [stage]
 */
#include "zdtm.h"

#include <stasis/stasis.h>

int main(int argc, char **argv)
{
	int stage = argc > 2 ? atoi(argv[2]) : 0;
	if (stage == 0) {
		clearenv();
		setenv("FOO", "bar", 1);
		execv("/proc/self/exe", (char *[]){argv[0], argv[1], "1", NULL});
		return 2;
	}
	if (stage == 1) {
		char *env[] = {"ONLY=this", NULL};
		execle("/proc/self/exe", argv[0], argv[1], "2", (char *)NULL, env);
		return 2;
	}
	zd_init(argc, argv);
	zd_check(stasis_is_enabled(), "the exec'd program runs without Stasis");
	zd_check(getenv("ONLY") && !strcmp(getenv("ONLY"), "this"),
		 "the program's own environment was lost");
	zd_ready();
	zd_wait();
	zd_check(stasis_is_enabled(), "not under Stasis after restart");
	return zd_finish();
}
