/* ev_pidfd: pidfds of a child and of the process itself point to the same
 * processes after the restarts, an epoll watches the child's, and waitid()
 * through it gets the child's exit status.
 *   ev_pidfd VERIFY_FILE           as above
 *   ev_pidfd VERIFY_FILE outside   a pidfd of the parent (outside the
 *                                  computation): prints "fd N", checkpoints fail
 */
#include "zdtm.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static long info_pid(int fd)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	char *p = strstr(buf, "Pid:");
	return p ? strtol(p + 4, NULL, 10) : -2;
}

static int outside(void)
{
	char line[64];
	int fd = pidfd_open(getppid(), 0);
	if (fd < 0)
		zd_fail("pidfd_open(parent): %s", strerror(errno));
	snprintf(line, sizeof(line), "fd %d", fd);
	zd_say(line);
	zd_ready();
	zd_wait();
	zd_check(info_pid(fd) == getppid(), "the pidfd changed");
	return zd_finish();
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (argc > 2 && !strcmp(argv[2], "outside"))
		return outside();
	pid_t child = fork();
	if (child == 0) {
		zd_wait();
		_exit(7);
	}
	int pfd = pidfd_open(child, PIDFD_NONBLOCK), self = pidfd_open(getpid(), 0);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 99};
	if (pfd < 0 || self < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev) < 0)
		zd_fail("setup: %s", strerror(errno));
	zd_ready();
	zd_wait();
	zd_check(info_pid(pfd) == child && info_pid(self) == getpid(), "pidfds point to %ld %ld",
		 info_pid(pfd), info_pid(self));
	zd_check(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0) == 0, "child unreachable: %s",
		 strerror(errno));
	int n = epoll_wait(ep, &ev, 1, 10000);
	zd_check(n == 1 && ev.data.u64 == 99, "the child's exit not seen through epoll");
	siginfo_t si = {0};
	zd_check(waitid(P_PIDFD, pfd, &si, WEXITED) == 0 && si.si_pid == child && si.si_status == 7,
		 "waitid: %s, pid %d status %d", strerror(errno), si.si_pid, si.si_status);
	return zd_finish();
}
