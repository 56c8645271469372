/* timerfd: clock, settime flags, time left, interval and the expirations not
 * yet read. An interval timer that expired is only moved on by the kernel
 * when it is read or queried: timerfd_gettime() moves it on and adds the
 * missed expirations to its ticks without consuming them, so fdinfo then
 * shows both the true tick count and the true time left. A relative timer
 * comes back with the time it had left (the time the computation was down
 * does not count); an absolute one (TFD_TIMER_ABSTIME) with its expiry on its
 * clock, so a wall-clock timer fires for the time it missed. */
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_timerfd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:[timerfd]");
}

static int64_t ns_of(long long sec, long long nsec)
{
	return (int64_t)sec * 1000000000ll + nsec;
}

/* One consistent view: fdinfo is printed under the timer's lock. */
static int read_state(int fd, struct img_timerfd *p, char *err, size_t errlen)
{
	char info[1024];
	unsigned long long clock, ticks, flags;
	long long vs, vns, is, ins;
	const char *v, *i;
	if (rt_fdinfo_read(fd, info, sizeof(info)) < 0 ||
	    rt_fdinfo_u64(info, "clockid:", 10, &clock) < 0 ||
	    rt_fdinfo_u64(info, "ticks:", 10, &ticks) < 0 ||
	    rt_fdinfo_u64(info, "settime flags:", 8, &flags) < 0 ||
	    !(v = rt_fdinfo_field(info, "it_value:")) ||
	    !(i = rt_fdinfo_field(info, "it_interval:")) ||
	    sscanf(v, "(%lld, %lld)", &vs, &vns) != 2 || sscanf(i, "(%lld, %lld)", &is, &ins) != 2)
		return errf(err, errlen,
			    "pid %d fd %d (timerfd): cannot read its state from "
			    "/proc/self/fdinfo",
			    getpid(), fd);
	*p = (struct img_timerfd){.clock = clock,
				  .settime_flags = flags,
				  .ticks = ticks,
				  .value_ns = ns_of(vs, vns),
				  .interval_ns = ns_of(is, ins)};
	return 0;
}

static int supported_clock(int clock)
{
	return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME;
}

static int dump(struct rt_fd_ctx *c)
{
	struct img_timerfd p;
	struct itimerspec cur;
	struct timespec now;
	/* an interval timer can expire again between the two reads: then its
	 * time left shows 0 until it is moved on once more */
	for (int tries = 0;; tries++) {
		if (timerfd_gettime(c->fd, &cur) < 0)
			return errf(c->err, c->errlen, "pid %d fd %d (timerfd): %s", getpid(),
				    c->fd, strerror(errno));
		if (read_state(c->fd, &p, c->err, c->errlen) < 0)
			return -1;
		clock_gettime(p.clock, &now);
		if (!(p.value_ns == 0 && p.interval_ns) || tries == 100)
			break;
	}
	if (!supported_clock(p.clock))
		return errf(c->err, c->errlen,
			    "pid %d fd %d is a timerfd on clock %d: only CLOCK_REALTIME, "
			    "CLOCK_MONOTONIC and CLOCK_BOOTTIME are supported (the alarm "
			    "clocks need CAP_WAKE_ALARM); close it before checkpointing",
			    getpid(), c->fd, p.clock);
	if (p.value_ns == 0 && p.interval_ns)
		p.value_ns = 1; /* due right now */
	if ((p.settime_flags & TFD_TIMER_ABSTIME) && p.value_ns)
		p.value_ns += ns_of(now.tv_sec, now.tv_nsec);
	return rt_fd_record(c, IMG_FD_TIMERFD, 0, &p, sizeof(p));
}

const struct rt_fd_kind rt_fd_timerfd = {"timerfd", match, dump};
