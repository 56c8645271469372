/* timerfd: the IMG_FD_TIMERFD payload (kind "timerfd"). Saved by
 * runtime/fd_timerfd.c, restored by restore/fd_timerfd.c. */
#ifndef STASIS_IMAGE_KINDS_FD_TIMERFD_H
#define STASIS_IMAGE_KINDS_FD_TIMERFD_H

#include <stdint.h>

struct img_timerfd {
	int32_t clock;		/* CLOCK_REALTIME, CLOCK_MONOTONIC or CLOCK_BOOTTIME */
	uint32_t settime_flags; /* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	uint64_t ticks;		/* expirations not yet read */
	int64_t value_ns;	/* ABSTIME: expiry on `clock`; else time left; 0 disarmed */
	int64_t interval_ns;
};
_Static_assert(sizeof(struct img_timerfd) == 32, "img_timerfd");

#endif
