/* mem_vdso: the vDSO's clocks across checkpoint/restart.
 *
 *   mem_vdso VERIFY_FILE
 *
 * clock_gettime (CLOCK_REALTIME, CLOCK_MONOTONIC), gettimeofday and time,
 * answered by the vDSO, agree with the system call before the checkpoint and
 * after the restart (the vDSO and its data pages moved to where they were),
 * and CLOCK_MONOTONIC moves.
 */
#include "memtest.h"

#include <sys/syscall.h>
#include <sys/time.h>

static int64_t ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void check_clock(const char *when, clockid_t clock, const char *name)
{
	struct timespec v, s;
	clock_gettime(clock, &v);
	syscall(SYS_clock_gettime, clock, &s);
	zd_check(llabs(ns(v) - ns(s)) < 1000000000LL,
		 "%s: vDSO %s %lld differs from the syscall's %lld", when, name, (long long)ns(v),
		 (long long)ns(s));
}

static void check_clocks(const char *when)
{
	struct timespec v, s;
	struct timeval tv;
	check_clock(when, CLOCK_REALTIME, "CLOCK_REALTIME");
	check_clock(when, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	gettimeofday(&tv, NULL);
	syscall(SYS_clock_gettime, CLOCK_REALTIME, &s);
	zd_check(llabs((int64_t)tv.tv_sec - s.tv_sec) <= 1, "%s: gettimeofday %ld, syscall %ld",
		 when, (long)tv.tv_sec, (long)s.tv_sec);
	time_t t = time(NULL);
	zd_check(llabs((int64_t)t - s.tv_sec) <= 1, "%s: time() %ld, syscall %ld", when, (long)t,
		 (long)s.tv_sec);
	clock_gettime(CLOCK_MONOTONIC, &v);
	zd_sleep_ms(10);
	clock_gettime(CLOCK_MONOTONIC, &s);
	zd_check(ns(s) - ns(v) >= 9000000, "%s: CLOCK_MONOTONIC advanced %lld ns in 10 ms", when,
		 (long long)(ns(s) - ns(v)));
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	check_clocks("before");
	zd_ready();
	zd_wait();
	check_clocks("after restart");
	return zd_finish();
}
