/* pidfd at restart: the process it refers to may not exist yet when the
 * descriptors are placed (a child is created after its parent's
 * descriptors), so `open` puts a placeholder and `late` (children created)
 * opens the pidfd, waiting a little for a grandchild its parent is still
 * creating. A child's copy inherited from its parent was that placeholder
 * too: it opens its own (late_inherited); the two then no longer share one
 * description, which for a pidfd holds nothing but O_NONBLOCK. */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/set.h"
#include "image/kinds/fd_pidfd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000

static int open_placeholder(const struct rst_set *set, int i, const struct img_fd *d,
			    const struct img_fdx *x)
{
	(void)set, (void)i, (void)d, (void)x;
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static int pidfd_wait(const struct img_pidfd *p)
{
	struct timespec ms = {0, 1000000};
	for (int waited = 0;; waited++) {
		int fd = syscall(SYS_pidfd_open, p->pid, p->flags);
		if (fd >= 0 || errno != ESRCH || waited == WAIT_MS)
			return fd;
		nanosleep(&ms, NULL);
	}
}

static int late_pidfd(const struct rst_set *set, int i, const struct img_fd *d,
		      const struct img_fdx *x)
{
	int fd = pidfd_wait(rst_fdx_payload(x));
	return fd < 0 ? -1 : rst_ev_replace(&set->img[i], d, fd);
}

const struct rst_fd_kind rst_fd_pidfd = {
    .type = IMG_FD_PIDFD, .open = open_placeholder, .late = late_pidfd, .late_inherited = 1};
