/* The monotonic clock in the units Stasis counts time in (deadlines, timers,
 * rates): milliseconds and nanoseconds since an arbitrary start. */
#ifndef STASIS_COMMON_CLOCK_H
#define STASIS_COMMON_CLOCK_H

long long now_ms(void);
long long now_ns(void);

#endif
