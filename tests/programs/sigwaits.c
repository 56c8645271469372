/* A dedicated signal thread (every signal blocked, sigwaitinfo on the full
 * set) and a thread in ppoll() whose mask blocks every signal: neither may hold
 * a checkpoint off or swallow its signal. After the restarts, the signal thread
 * still gets the program's SIGUSR1 and the ppoll thread its byte. */
#include "zdtm.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>

static int wake[2];
static volatile int got_sig, polled;

static void *signal_thread(void *arg)
{
	sigset_t all;
	siginfo_t si;
	sigfillset(&all);
	for (;;) {
		int s = sigwaitinfo(&all, &si);
		if (s == SIGUSR1) {
			got_sig = 1;
			return arg;
		}
		if (s > 0)
			zd_fail("sigwaitinfo took signal %d", s);
	}
}

static void *poll_thread(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	struct pollfd p = {wake[0], POLLIN, 0};
	int rc = ppoll(&p, 1, NULL, &all);
	polled = rc == 1 ? 1 : -1;
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	sigset_t all;
	zd_init(argc, argv);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* every thread: the signal thread takes them */
	if (pipe(wake) < 0)
		zd_fail("pipe: %s", strerror(errno));
	pthread_create(&a, NULL, signal_thread, NULL);
	pthread_create(&b, NULL, poll_thread, NULL);
	zd_ready();
	zd_wait();
	zd_check(!got_sig && !polled, "a waiting thread returned before it was woken");
	kill(getpid(), SIGUSR1);
	zd_check(write(wake[1], "x", 1) == 1, "write: %s", strerror(errno));
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	zd_check(got_sig, "the signal thread did not get SIGUSR1");
	zd_check(polled == 1, "ppoll did not return the byte (%d)", polled);
	return zd_finish();
}
