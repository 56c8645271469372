/* The zdtm protocol shared by the end-to-end test programs (after CRIU's zdtm).
 *
 *   prog VERIFY_FILE [ARGS...]
 *
 * A program builds its state, calls zd_ready() ("ready" on stdout), then
 * zd_wait() loops every 20 ms (calling an optional tick function, which may
 * check state continuously) until VERIFY_FILE exists. It then verifies its
 * state, reporting each problem with zd_fail(), and returns zd_finish():
 * "PASS" and 0, or 1 after one or more "FAIL: ..." lines.
 * stdout is a file the harness reads: every line is flushed at once.
 */
#ifndef STASIS_TESTS_ZDTM_H
#define STASIS_TESTS_ZDTM_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *zd_verify_path;
static volatile int zd_failed;

__attribute__((format(printf, 1, 2), unused)) static void zd_fail(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one write(2): safe from any thread, never split */
	char line[600];
	int n = snprintf(line, sizeof(line), "FAIL: %s\n", buf);
	if (write(1, line, n) < 0)
		_exit(3);
	zd_failed = 1;
}

#define zd_check(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			zd_fail(__VA_ARGS__);                                                      \
	} while (0)

__attribute__((unused)) static void zd_say(const char *s)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s\n", s);
	if (write(1, line, n) < 0)
		_exit(3);
}

/* One line from fd, read a byte at a time (nothing read past it), without its
 * '\n' and any '\r' (a terminal's); -1 at end of file or on an error. */
__attribute__((unused)) static int zd_read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n += buf[n] != '\r';
	}
	buf[n] = 0;
	return (int)n;
}

__attribute__((unused)) static void zd_init(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s VERIFY_FILE [ARGS...]\n", argv[0]);
		exit(2);
	}
	zd_verify_path = argv[1];
}

__attribute__((unused)) static void zd_ready(void)
{
	fflush(stdout);
	zd_say("ready");
}

__attribute__((unused)) static void zd_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Wait until the verify file exists, calling tick (if any) every 20 ms. */
__attribute__((unused)) static void zd_wait_tick(void (*tick)(void))
{
	while (access(zd_verify_path, F_OK) < 0) {
		if (tick)
			tick();
		zd_sleep_ms(20);
	}
}

__attribute__((unused)) static void zd_wait(void)
{
	zd_wait_tick(NULL);
}

__attribute__((unused)) static int zd_finish(void)
{
	fflush(stdout);
	if (zd_failed)
		return 1;
	zd_say("PASS");
	return 0;
}

#endif
