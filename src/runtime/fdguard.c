/* The runtime's descriptors (the coordinator socket, the userfaultfd that
 * tracks written pages) are not the program's to
 * close: daemons and terminal programs close every descriptor above 2 when
 * they start (screen loops close() up to the limit, tmux calls closefrom()),
 * which would silently take the process out of the computation. close(),
 * close_range() and closefrom() leave those descriptors open and report them
 * as not open; dup2()/dup3() onto one first move it to another number. */
#include "common/io.h"
#include "runtime/dirlist.h"
#include "runtime/dirty.h"
#include "runtime/state.h"
#include "runtime/libc.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int is_runtime_fd(int fd)
{
	return fd >= 0 &&
	       (fd == __atomic_load_n(&rt.coord_fd, __ATOMIC_ACQUIRE) || fd == rt_dirty_fd());
}

/* The runtime's descriptors inside [lo, hi], ascending; how many. */
static int guarded_in(unsigned lo, unsigned hi, unsigned out[2])
{
	int a = __atomic_load_n(&rt.coord_fd, __ATOMIC_ACQUIRE), b = rt_dirty_fd(), n = 0;
	if (a > b) {
		int t = a;
		a = b;
		b = t;
	}
	if (a >= 0 && (unsigned)a >= lo && (unsigned)a <= hi)
		out[n++] = a;
	if (b >= 0 && b != a && (unsigned)b >= lo && (unsigned)b <= hi)
		out[n++] = b;
	return n;
}

EXPORT int close(int fd)
{
	if (is_runtime_fd(fd)) {
		errno = EBADF;
		return -1;
	}
	return REAL(close)(fd);
}

/* close_range(2) over [lo, hi] except the runtime's descriptors. */
static int close_range_around(unsigned lo, unsigned hi, int flags)
{
	unsigned g[2], cur = lo;
	int n = guarded_in(lo, hi, g);
	for (int i = 0; i < n; i++) {
		if (g[i] > cur && syscall(SYS_close_range, cur, g[i] - 1, flags) < 0)
			return -1;
		cur = g[i] + 1;
	}
	if (n && g[n - 1] == hi)
		return 0;
	return syscall(SYS_close_range, cur, hi, flags);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (first > last) {
		errno = EINVAL;
		return -1;
	}
	return close_range_around(first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
	if (close_range_around(lowfd < 0 ? 0 : lowfd, ~0U, 0) == 0)
		return;
	/* no close_range (Linux < 5.9): one by one over what is open */
	int fds[4096], n = rt_list_numeric("/proc/self/fd", fds, 4096, NULL);
	for (int i = 0; i < n; i++)
		if (fds[i] >= lowfd)
			close(fds[i]);
}

/* The program wants the runtime's number for one of its own: give it. */
static void move_runtime_fd(int fd)
{
	if (fd < 0 || fd != __atomic_load_n(&rt.coord_fd, __ATOMIC_ACQUIRE)) {
		rt_dirty_move_fd(fd);
		return;
	}
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	if (nfd >= 0)
		__atomic_store_n(&rt.coord_fd, nfd, __ATOMIC_RELEASE);
}

EXPORT int dup2(int oldfd, int newfd)
{
	if (oldfd != newfd)
		move_runtime_fd(newfd);
	return REAL(dup2)(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (oldfd != newfd)
		move_runtime_fd(newfd);
	return REAL(dup3)(oldfd, newfd, flags);
}
