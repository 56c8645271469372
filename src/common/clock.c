/* The monotonic clock (clock.h). */
#include "common/clock.h"

#include <time.h>

long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

long long now_ms(void)
{
	return now_ns() / 1000000;
}
