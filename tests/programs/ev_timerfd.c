/* ev_timerfd: timerfds go on at their rate and keep unread expirations.
 *   ev_timerfd VERIFY_FILE
 * - rate: 50 ms interval on CLOCK_MONOTONIC, read every tick: the sum of what
 *   it read matches the time the program ran (gaps over 150 ms, the
 *   checkpoint/restart, do not count);
 * - backlog: 50 ms interval on CLOCK_BOOTTIME, never read until the end: its
 *   count matches the running time too (expirations before a checkpoint kept);
 * - fired: a one-shot that expired before "ready", read at the end: 1;
 * - later: a one-shot 1 hour away: still armed, with about 1 hour left;
 * - wall: TFD_TIMER_ABSTIME on CLOCK_REALTIME 1 hour away: same expiry;
 * and each clock and flag as fdinfo shows it. After each pause (a restart),
 * once it ran 10 ticks again, it says "ran 10 ticks after pause N". */
#include "zdtm.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/timerfd.h>

#define INTERVAL_MS 50

static int rate, backlog, fired, later, wall;
static uint64_t rate_ticks;
static double active_ms, last_ms;
static struct timespec wall_at;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void tick(void)
{
	static int pauses, since_pause = -1;
	uint64_t n;
	double t = now_ms();
	if (t - last_ms < 500) /* longer: the restart's downtime (1 s), not running */
		active_ms += t - last_ms;
	else
		pauses++, since_pause = 0;
	if (since_pause >= 0 && ++since_pause == 10) { /* 200 ms of running time counted */
		char line[64];
		snprintf(line, sizeof(line), "ran 10 ticks after pause %d", pauses);
		zd_say(line);
		since_pause = -1;
	}
	last_ms = t;
	if (read(rate, &n, 8) == 8)
		rate_ticks += n;
}

static int make(int clock, int flags, long value_ms, long interval_ms)
{
	int fd = timerfd_create(clock, TFD_NONBLOCK);
	struct itimerspec its = {{interval_ms / 1000, interval_ms % 1000 * 1000000},
				 {value_ms / 1000, value_ms % 1000 * 1000000}};
	if (fd < 0 || timerfd_settime(fd, flags, &its, NULL) < 0)
		zd_fail("timerfd: %s", strerror(errno));
	return fd;
}

static long long info(int fd, const char *key)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	char *p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 0) : -1;
}

static void check_count(const char *what, uint64_t got)
{
	double want = active_ms / INTERVAL_MS;
	zd_check(got + 3 >= want && got <= want + 4,
		 "%s: %llu expirations in %.0f ms of running time, want about %.0f", what,
		 (unsigned long long)got, active_ms, want);
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	clock_gettime(CLOCK_REALTIME, &wall_at);
	wall_at.tv_sec += 3600;
	last_ms = now_ms();
	rate = make(CLOCK_MONOTONIC, 0, INTERVAL_MS, INTERVAL_MS);
	backlog = make(CLOCK_BOOTTIME, 0, INTERVAL_MS, INTERVAL_MS);
	fired = make(CLOCK_MONOTONIC, 0, 5, 0);
	later = make(CLOCK_MONOTONIC, 0, 3600 * 1000, 0);
	wall = timerfd_create(CLOCK_REALTIME, 0);
	struct itimerspec its = {{0, 0}, wall_at};
	if (timerfd_settime(wall, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		zd_fail("abstime timer: %s", strerror(errno));
	for (int k = 0; k < 15; k++) { /* "backlog" and "fired" pile up unread */
		zd_sleep_ms(20);
		tick();
	}
	zd_ready();
	zd_wait_tick(tick);
	tick();
	uint64_t n = 0;
	check_count("read every tick", rate_ticks);
	zd_check(read(backlog, &n, 8) == 8, "backlog timer: nothing to read (%s)", strerror(errno));
	check_count("never read", n);
	zd_check(read(fired, &n, 8) == 8 && n == 1, "expired one-shot lost its expiration");
	struct itimerspec cur;
	timerfd_gettime(later, &cur);
	zd_check(cur.it_value.tv_sec > 3500 && cur.it_value.tv_sec < 3600 &&
		     !cur.it_interval.tv_sec,
		 "one-shot has %ld s left, want about 3600", (long)cur.it_value.tv_sec);
	timerfd_gettime(wall, &cur);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long left = (wall_at.tv_sec - now.tv_sec) - cur.it_value.tv_sec;
	zd_check(left >= -1 && left <= 1, "absolute timer moved by %lld s", left);
	zd_check(info(rate, "clockid:") == CLOCK_MONOTONIC &&
		     info(backlog, "clockid:") == CLOCK_BOOTTIME &&
		     info(wall, "clockid:") == CLOCK_REALTIME,
		 "clocks changed");
	zd_check(info(wall, "settime flags:") == TFD_TIMER_ABSTIME, "TFD_TIMER_ABSTIME lost");
	zd_check((fcntl(rate, F_GETFL) & O_NONBLOCK) && !(fcntl(wall, F_GETFL) & O_NONBLOCK),
		 "TFD_NONBLOCK changed");
	return zd_finish();
}
