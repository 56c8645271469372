/* thread_timer: a timer_create(SIGEV_THREAD) timer that fires every
 * millisecond goes on ticking after each restart.
 *
 *   thread_timer VERIFY_FILE
 *
 * At restart the runtime creates the timer again before the restored threads
 * are back in their own signal masks; at this rate it fires in that window
 * every time. A timer signal that reached a thread through a mask that let it
 * pass was discarded as ignored, and Linux 6.13+ then keeps such a timer
 * stopped for good: the program's timer stopped after its first restart. */
#include "zdtm.h"

#include <signal.h>

static volatile int ticks;

static void tick(union sigval v)
{
	(void)v;
	__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
}

/* Ten more ticks within 5 s (a loaded machine starts each tick's thread late);
 * a stopped timer never gets there. */
static int ticks_go_on(void)
{
	int before = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
	for (int i = 0; i < 500; i++) {
		zd_sleep_ms(10);
		if (__atomic_load_n(&ticks, __ATOMIC_RELAXED) >= before + 10)
			return 1;
	}
	return 0;
}

static void still_ticking(void)
{
	static int last = -1;
	int now = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
	if (now != last) {
		last = now;
		return;
	}
	zd_check(ticks_go_on(), "the timer stopped at %d ticks", now);
	last = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = tick};
	struct itimerspec its = {{0, 1000000}, {0, 1000000}};
	timer_t id;
	zd_init(argc, argv);
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) < 0 || timer_settime(id, 0, &its, NULL) < 0) {
		perror("timer_create");
		return 2;
	}
	zd_check(ticks_go_on(), "the timer does not tick");
	zd_ready();
	zd_wait_tick(still_ticking);
	zd_check(ticks_go_on(), "the timer stopped at %d ticks", ticks);
	return zd_finish();
}
