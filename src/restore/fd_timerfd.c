/* timerfd at restart: the same clock and flags, armed with the time it had
 * left (or its absolute expiry), and its unread expirations put back with
 * TFD_IOC_SET_TICKS (CONFIG_CHECKPOINT_RESTORE). */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/set.h"
#include "image/kinds/fd_timerfd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#ifndef TFD_IOC_SET_TICKS /* <linux/timerfd.h>, which clashes with glibc's headers */
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

static int arm(int fd, const struct img_timerfd *p)
{
	struct itimerspec its = {.it_interval = ts_of(p->interval_ns),
				 .it_value = ts_of(p->value_ns)};
	if (!p->value_ns)
		return 0;
	return timerfd_settime(fd, p->settime_flags, &its, NULL);
}

static int open_timerfd(const struct rst_set *set, int i, const struct img_fd *d,
			const struct img_fdx *x)
{
	(void)set, (void)i;
	const struct img_timerfd *p = rst_fdx_payload(x); /* times checked: kinds/fd_timerfd.c */
	int fd = timerfd_create(p->clock, TFD_CLOEXEC | (d->open_flags & O_NONBLOCK));
	if (fd < 0)
		return -1;
	uint64_t ticks = p->ticks;
	if (arm(fd, p) < 0 || (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

const struct rst_fd_kind rst_fd_timerfd = {.type = IMG_FD_TIMERFD, .open = open_timerfd};
