/* Relative sleeps across checkpoints: threads loop in nanosleep(), relative
 * clock_nanosleep() and sleep(), each with its `rem` argument, until the
 * verify file appears. The checkpoint signal interrupts them every time; they
 * must never see it (EINTR, or sleep() returning early), and go on with the
 * time that was left. */
#include "zdtm.h"

#include <pthread.h>

static volatile int stop;
static int early[3], rounds[3];

static void *nano(void *arg)
{
	(void)arg;
	while (!stop) {
		struct timespec req = {0, 300000000}, rem;
		if (nanosleep(&req, &rem) < 0)
			early[0]++;
		rounds[0]++;
	}
	return NULL;
}

static void *clock_rel(void *arg)
{
	(void)arg;
	while (!stop) {
		struct timespec req = {0, 200000000}, rem;
		if (clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem) != 0)
			early[1]++;
		rounds[1]++;
	}
	return NULL;
}

static void *secs(void *arg)
{
	(void)arg;
	while (!stop) {
		if (sleep(1) != 0)
			early[2]++;
		rounds[2]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[3];
	void *(*fn[3])(void *) = {nano, clock_rel, secs};
	static const char *name[3] = {"nanosleep", "clock_nanosleep", "sleep"};
	zd_init(argc, argv);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, fn[i], NULL);
	zd_ready();
	zd_wait();
	stop = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		zd_check(early[i] == 0, "%s came back early %d times in %d", name[i], early[i],
			 rounds[i]);
		zd_check(rounds[i] > 0, "%s never returned", name[i]);
	}
	return zd_finish();
}
