/* env_ticker: prints the variables it is given whenever one changes, every
 * tick (20 ms): "NAME=value" or "NAME unset", for the modify-env plugin's
 * test (test_plugins.py).
 *
 *   env_ticker VERIFY_FILE NAME...
 */
#include "zdtm.h"

static char **names;
static int nnames;
static char last[4096];

static void tick(void)
{
	char now[4096];
	size_t len = 0;
	for (int i = 0; i < nnames; i++) {
		const char *v = getenv(names[i]);
		len += snprintf(now + len, sizeof(now) - len, "%s%s%s%s", i ? " " : "", names[i],
				v ? "=" : " unset", v ? v : "");
	}
	if (strcmp(now, last)) {
		zd_say(now);
		snprintf(last, sizeof(last), "%s", now);
	}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	names = argv + 2;
	nnames = argc - 2;
	tick();
	zd_ready();
	zd_wait_tick(tick);
	return zd_finish();
}
