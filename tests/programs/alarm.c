/* alarm: an alarm() set before the checkpoint fires after restart, once,
 * and not before its time (it was set to ALARM_S seconds of wall time at
 * launch; the checkpoint must keep the remaining time, not restart it).
 *
 *   alarm VERIFY_FILE
 */
#include "zdtm.h"

#include <signal.h>
#include <sys/time.h>

#define ALARM_S 3

static volatile sig_atomic_t fired;
static struct timespec set_at, fired_at;

static void on_alrm(int sig)
{
	(void)sig;
	if (!fired)
		clock_gettime(CLOCK_MONOTONIC, &fired_at);
	fired++;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct itimerval iv;
	zd_init(argc, argv);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &set_at);
	zd_check(alarm(ALARM_S) == 0, "an alarm was already set");
	getitimer(ITIMER_REAL, &iv);
	zd_check(iv.it_interval.tv_sec == 0 && iv.it_interval.tv_usec == 0,
		 "alarm has an interval");
	zd_ready();
	zd_wait();
	if (!fired) {
		getitimer(ITIMER_REAL, &iv);
		zd_check(iv.it_value.tv_sec != 0 || iv.it_value.tv_usec != 0,
			 "the alarm is disarmed after restart and never fired");
		zd_check(iv.it_value.tv_sec <= ALARM_S, "alarm remaining %ld s, more than %d s",
			 (long)iv.it_value.tv_sec, ALARM_S);
		zd_check(iv.it_interval.tv_sec == 0 && iv.it_interval.tv_usec == 0,
			 "alarm has an interval after restart");
		for (int i = 0; i < 500 && !fired; i++) /* up to 10 s */
			zd_sleep_ms(20);
	}
	zd_check(fired == 1, "SIGALRM fired %d times, want once", (int)fired);
	/* the process was running (or dead, between kill and restart) the whole
	 * time: the alarm cannot have come before ALARM_S seconds of wall time */
	double after =
	    (double)(fired_at.tv_sec - set_at.tv_sec) + (fired_at.tv_nsec - set_at.tv_nsec) / 1e9;
	zd_check(!fired || after >= ALARM_S - 0.05, "SIGALRM came %.3f s after alarm(%d)", after,
		 ALARM_S);
	zd_sleep_ms(100);
	zd_check(fired == 1, "SIGALRM fired again (%d)", (int)fired);
	return zd_finish();
}
