/* share_event: a timerfd, an epoll watching it, an eventfd, a signalfd, an
 * inotify instance and a memfd, made by the parent, kept by its two children
 * after the parent closed them all, stay one description each across
 * checkpoint/restart.
 *
 *   share_event VERIFY_FILE
 *
 * After VERIFY_FILE, child A sets O_NONBLOCK on them all (a description's
 * status flags), re-arms the timer (20 ms, interval 777 s), adds the eventfd
 * to the epoll and adds 5 to it, and moves the memfd's offset to 1234. Child B
 * must then see the flags, the timer's new interval, both events in its
 * epoll_wait, the offset, and take the expiration and the 5; A then finds
 * nothing left to read in either.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#define TIMER_KEY 0x7fdull
#define EVENT_KEY 0xefdull
#define NFDS 6

static int tfd, ep, efd, sfd, ifd, mfd;

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static void child_a(int to_b, int from_b)
{
	char c;
	struct itimerspec its = {.it_value = {0, 20000000}, .it_interval = {777, 0}};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = EVENT_KEY};
	uint64_t five = 5, v;
	zd_wait();
	int fds[NFDS] = {tfd, ep, efd, sfd, ifd, mfd};
	for (int k = 0; k < NFDS; k++)
		zd_check(fcntl(fds[k], F_SETFL, O_NONBLOCK) == 0, "A: F_SETFL fd %d: %s", fds[k],
			 strerror(errno));
	zd_check(lseek(mfd, 1234, SEEK_SET) == 1234, "A: lseek memfd: %s", strerror(errno));
	zd_check(timerfd_settime(tfd, 0, &its, NULL) == 0, "A: timerfd_settime: %s",
		 strerror(errno));
	zd_check(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "A: epoll_ctl: %s", strerror(errno));
	zd_check(write(efd, &five, 8) == 8, "A: eventfd write: %s", strerror(errno));
	must(write(to_b, "x", 1) == 1 && read(from_b, &c, 1) == 1, "A: turn");
	zd_check(read(tfd, &v, 8) < 0 && errno == EAGAIN,
		 "A: the timer still has an expiration B took (or blocks)");
	zd_check(read(efd, &v, 8) < 0 && errno == EAGAIN,
		 "A: the eventfd still has a count B took (or blocks)");
	_exit(zd_failed);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Both events through B's copy of the epoll, within 2 s (the eventfd is ready
 * at once, the timer 20 ms after A armed it). */
static void wait_both(void)
{
	int seen_timer = 0, seen_event = 0;
	for (double end = now_s() + 2; now_s() < end && !(seen_timer && seen_event);) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, 20);
		for (int k = 0; k < n; k++) {
			seen_timer |= evs[k].data.u64 == TIMER_KEY;
			seen_event |= evs[k].data.u64 == EVENT_KEY;
		}
		if (n > 0 && !seen_timer)
			zd_sleep_ms(5); /* the eventfd stays ready: let the timer come */
	}
	zd_check(seen_timer, "B: the epoll never reported the timer A re-armed");
	zd_check(seen_event, "B: the epoll never reported the eventfd A added to it");
}

static void child_b(int from_a, int to_a)
{
	char c;
	struct itimerspec its;
	uint64_t v = 0;
	zd_wait();
	must(read(from_a, &c, 1) == 1, "B: turn");
	int fds[NFDS] = {tfd, ep, efd, sfd, ifd, mfd};
	for (int k = 0; k < NFDS; k++)
		if (!(fcntl(fds[k], F_GETFL) & O_NONBLOCK)) {
			zd_fail("B: fd %d is not O_NONBLOCK: A set it on another description",
				fds[k]);
			fcntl(fds[k], F_SETFL, O_NONBLOCK); /* the checks below must not block */
		}
	zd_check(timerfd_gettime(tfd, &its) == 0 && its.it_interval.tv_sec == 777,
		 "B: the timer's interval is %lld s, not the 777 s A set",
		 (long long)its.it_interval.tv_sec);
	zd_check(lseek(mfd, 0, SEEK_CUR) == 1234, "B: memfd offset %ld, not the 1234 A set",
		 (long)lseek(mfd, 0, SEEK_CUR));
	wait_both();
	zd_check(read(tfd, &v, 8) == 8 && v == 1, "B: timer expirations %llu, not 1",
		 (unsigned long long)v);
	zd_check(read(efd, &v, 8) == 8 && v == 5, "B: eventfd count %llu, not 5",
		 (unsigned long long)v);
	must(write(to_a, "y", 1) == 1, "B: turn back");
	_exit(zd_failed);
}

int main(int argc, char **argv)
{
	int ab[2], ba[2], st;
	struct itimerspec hour = {.it_value = {3600, 0}};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TIMER_KEY};
	sigset_t usr1;
	zd_init(argc, argv);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sfd = signalfd(-1, &usr1, 0);
	ifd = inotify_init1(0);
	mfd = memfd_create("share_event", 0);
	must(sfd >= 0 && ifd >= 0 && mfd >= 0 && ftruncate(mfd, 4096) == 0 &&
		 lseek(mfd, 100, SEEK_SET) == 100,
	     "signalfd, inotify, memfd");
	setvbuf(stdout, NULL, _IONBF, 0);
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	ep = epoll_create1(0);
	efd = eventfd(0, 0);
	must(tfd >= 0 && ep >= 0 && efd >= 0 && timerfd_settime(tfd, 0, &hour, NULL) == 0 &&
		 epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0 && pipe(ab) == 0 && pipe(ba) == 0,
	     "setup");
	pid_t a = fork();
	if (a == 0)
		child_a(ab[1], ba[0]);
	pid_t b = fork();
	if (b == 0)
		child_b(ab[0], ba[1]);
	close(tfd);
	close(ep);
	close(efd);
	close(sfd);
	close(ifd);
	close(mfd);
	close(ab[0]);
	close(ab[1]);
	close(ba[0]);
	close(ba[1]);
	zd_ready();
	zd_wait();
	zd_check(waitpid(a, &st, 0) == a && WIFEXITED(st) && !WEXITSTATUS(st), "A ended with %#x",
		 st);
	zd_check(waitpid(b, &st, 0) == b && WIFEXITED(st) && !WEXITSTATUS(st), "B ended with %#x",
		 st);
	return zd_finish();
}
