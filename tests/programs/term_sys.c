/* What terminal programs do that the runtime must survive (zdtm protocol):
 *  - close every descriptor above 2 at start (screen), and closefrom(3) (tmux):
 *    the process must stay in the computation;
 *  - threads blocked in poll() and epoll_wait() with every signal blocked, for
 *    which EINTR is fatal (script): the checkpoint signal must not show;
 *  - a periodic timer_create(SIGEV_THREAD) timer (vim): checkpoints must not
 *    wait for glibc's helper thread, and the timer goes on after a restart. */
#include "zdtm.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>

static int wake[2];
static int epfd;
static volatile int ticks;
static const char *outcome[2] = {"not returned", "not returned"};

static void *poller(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	struct pollfd p = {wake[0], POLLIN, 0};
	int rc = poll(&p, 1, -1);
	outcome[0] = rc == 1 ? "ok" : rc < 0 && errno == EINTR ? "EINTR" : "other";
	return arg;
}

static void *epoller(void *arg)
{
	sigset_t all;
	struct epoll_event ev;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	int rc = epoll_wait(epfd, &ev, 1, -1);
	outcome[1] = rc == 1 ? "ok" : rc < 0 && errno == EINTR ? "EINTR" : "other";
	return arg;
}

static void tick(union sigval v)
{
	(void)v;
	__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
}

static int start_timer(void)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = tick};
	struct itimerspec its = {{0, 10000000}, {0, 10000000}};
	timer_t id;
	if (timer_create(CLOCK_MONOTONIC, &sev, &id) < 0 || timer_settime(id, 0, &its, NULL) < 0)
		return -1;
	return 0;
}

/* Four more ticks of the 10 ms timer within 5 s: each runs in a thread glibc
 * creates for it, which a loaded machine may start late (1 s was once too
 * short under CI-like load); a timer that stopped never gets there. */
static int ticks_go_on(void)
{
	int before = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
	for (int i = 0; i < 500; i++) {
		zd_sleep_ms(10);
		if (__atomic_load_n(&ticks, __ATOMIC_RELAXED) > before + 3)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	struct epoll_event ev = {.events = EPOLLIN};
	zd_init(argc, argv);
	for (int fd = 3; fd < 1024; fd++) /* as screen does */
		close(fd);
	closefrom(3); /* as tmux does */
	if (pipe(wake) < 0 || (epfd = epoll_create1(0)) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, wake[0], &ev) < 0 || start_timer() < 0) {
		perror("setup");
		return 2;
	}
	pthread_create(&t[0], NULL, poller, NULL);
	pthread_create(&t[1], NULL, epoller, NULL);
	zd_check(ticks_go_on(), "the SIGEV_THREAD timer does not tick");
	zd_ready();
	zd_wait();
	zd_check(ticks_go_on(), "the SIGEV_THREAD timer stopped (%d ticks)", ticks);
	zd_check(!strcmp(outcome[0], "not returned"), "poll returned early: %s", outcome[0]);
	zd_check(!strcmp(outcome[1], "not returned"), "epoll_wait returned early: %s", outcome[1]);
	if (write(wake[1], "x", 1) != 1)
		zd_fail("write: %s", strerror(errno));
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	zd_check(!strcmp(outcome[0], "ok"), "poll: %s", outcome[0]);
	zd_check(!strcmp(outcome[1], "ok"), "epoll_wait: %s", outcome[1]);
	return zd_finish();
}
