/* api: the C API of include/stasis/stasis.h.
 *
 *   api VERIFY_FILE direct    outside Stasis: stasis_is_enabled() == 0 and
 *                             stasis_checkpoint() == STASIS_NOT_ENABLED (0)
 *   api VERIFY_FILE managed   under Stasis: the first stasis_checkpoint()
 *                             returns STASIS_CKPT_ORIGINAL ("api1 1", then
 *                             "ready"); restarted from that image it returns
 *                             STASIS_CKPT_RESTARTED ("restarted1"), and the
 *                             restarted run checkpoints again ("api2 1",
 *                             "ready2"); restarted from that second image
 *                             ("restarted2") it waits for VERIFY_FILE and
 *                             checks that its state came through both.
 */
#include "zdtm.h"

#include <stasis/stasis.h>

static volatile unsigned long counter;
static char state[256];

static void print_ret(const char *what, int r)
{
	char line[64];
	snprintf(line, sizeof(line), "%s %d", what, r);
	zd_say(line);
}

/* sleep until killed (the harness restarts us from the image just taken) */
static void park(void)
{
	for (;;)
		zd_sleep_ms(20);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: api VERIFY_FILE direct|managed\n");
		return 2;
	}
	if (!strcmp(argv[2], "direct")) {
		zd_check(stasis_is_enabled() == 0, "stasis_is_enabled() = %d outside Stasis",
			 stasis_is_enabled());
		int r = stasis_checkpoint();
		zd_check(r == STASIS_NOT_ENABLED, "stasis_checkpoint() = %d outside Stasis", r);
		return zd_finish();
	}
	zd_check(stasis_is_enabled() == 1, "stasis_is_enabled() = %d under Stasis",
		 stasis_is_enabled());
	snprintf(state, sizeof(state), "state built before the first checkpoint");
	counter = 1000;

	int r = stasis_checkpoint();
	print_ret("api1", r);
	if (r == STASIS_CKPT_ORIGINAL) {
		zd_ready();
		park();
	}
	if (r != STASIS_CKPT_RESTARTED) {
		zd_fail("first stasis_checkpoint() returned %d (%s)", r,
			r < 0 ? strerror(errno) : "");
		return zd_finish();
	}
	zd_say("restarted1");
	zd_check(counter == 1000, "counter %lu after the first restart", counter);
	counter++;
	r = stasis_checkpoint();
	print_ret("api2", r);
	if (r == STASIS_CKPT_ORIGINAL) {
		zd_say("ready2");
		park();
	}
	if (r != STASIS_CKPT_RESTARTED) {
		zd_fail("second stasis_checkpoint() returned %d (%s)", r,
			r < 0 ? strerror(errno) : "");
		return zd_finish();
	}
	zd_say("restarted2");
	zd_check(stasis_is_enabled() == 1, "stasis_is_enabled() = %d after restart",
		 stasis_is_enabled());
	zd_wait();
	zd_check(counter == 1001, "counter %lu after the second restart, want 1001", counter);
	zd_check(!strcmp(state, "state built before the first checkpoint"), "state is '%s'", state);
	return zd_finish();
}
