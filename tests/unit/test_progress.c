/* Unit tests of the progress line: its text, and that it is drawn on a terminal
 * only, only after a second, and cleared at the end. */
#include "common/progress.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_format)
{
	char buf[160];
	progress_format(buf, sizeof(buf), "stasis: checkpoint", 512ull << 20, 1024ull << 20, 0.5);
	ck_assert_str_eq(buf, "stasis: checkpoint: 512/1024 MiB, 1074 MB/s, ETA 0.5 s");
	progress_format(buf, sizeof(buf), "x", 1024ull << 20, 1024ull << 20, 2.0);
	ck_assert_str_eq(buf, "x: 1024/1024 MiB, 537 MB/s");
}
END_TEST

static ssize_t drain(int fd, char *buf, size_t size)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ssize_t n = read(fd, buf, size - 1);
	buf[n > 0 ? n : 0] = 0;
	return n;
}

START_TEST(test_terminal_only_after_a_second)
{
	int master, slave;
	char buf[512];
	struct progress p;
	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	progress_start(&p, "work", slave);
	progress_update(&p, 1, 10); /* too early: nothing */
	ck_assert_int_le(drain(master, buf, sizeof(buf)), 0);
	p.start.tv_sec -= 2; /* as if it had run for two seconds */
	p.last.tv_sec -= 2;
	progress_update(&p, 5ull << 20, 10ull << 20);
	ck_assert_int_gt(drain(master, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "work: 5/10 MiB"));
	progress_end(&p);
	ck_assert_int_gt(drain(master, buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\033[K"));

	int devnull = open("/dev/null", O_WRONLY);
	progress_start(&p, "work", devnull); /* not a terminal: never drawn */
	ck_assert_int_eq(p.fd, -1);
	close(devnull);
	close(master);
	close(slave);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("progress");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_terminal_only_after_a_second);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
