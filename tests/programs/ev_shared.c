/* ev_shared: an eventfd and an epoll inherited across fork stay one object:
 * the child adds 1 to the eventfd every 20 ms, the parent takes what the
 * shared epoll says is there; in the end the parent has received exactly
 * what the child sent (the child tells its total through a pipe), more than
 * 10 (it says "received over 10" once it has).
 *   ev_shared VERIFY_FILE
 */
#include "zdtm.h"

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

static int efd, ep;
static uint64_t received;

static void take(void)
{
	struct epoll_event ev;
	uint64_t v, before = received;
	if (epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.u64 == 0xefd && read(efd, &v, 8) == 8)
		received += v;
	if (before <= 10 && received > 10)
		zd_say("received over 10"); /* enough to verify */
}

static void child(int out)
{
	uint64_t one = 1, sent = 0;
	while (access(zd_verify_path, F_OK) < 0) {
		if (write(efd, &one, 8) == 8)
			sent++;
		zd_sleep_ms(20);
	}
	_exit(write(out, &sent, 8) == 8 ? 0 : 1);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	int p[2];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xefd};
	efd = eventfd(0, EFD_NONBLOCK);
	ep = epoll_create1(0);
	if (efd < 0 || ep < 0 || pipe(p) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		zd_fail("setup: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0)
		child(p[1]);
	zd_ready();
	zd_wait_tick(take);
	uint64_t sent = 0;
	int st;
	zd_check(read(p[0], &sent, 8) == 8, "no total from the child");
	zd_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st),
		 "child ended with %#x", st);
	take();
	zd_check(sent > 10 && received == sent, "sent %llu, received %llu",
		 (unsigned long long)sent, (unsigned long long)received);
	return zd_finish();
}
