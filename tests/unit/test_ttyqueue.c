/* Unit tests of the bytes in flight in a pty (common/ttyqueue.c), on a real
 * pty: taken out and put back, the pty reads as before (lines, a line not
 * finished, output after ONLCR), in packet mode too; put into a fresh pty. */
#include "common/ttyqueue.h"
#include "common/ttyrelay.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static uint8_t in_buf[TTYQ_MAX], out_buf[TTYQ_MAX];

static void wait_queued(int fd, int want)
{
	int n = -1;
	for (int i = 0; i < 2000 && (ioctl(fd, FIONREAD, &n), n < want); i++)
		usleep(1000);
	ck_assert_int_eq(n, want);
}

/* a pty whose slave's reader got nothing yet of "one\ntwo\rpar" (ICRNL) and
 * whose master's reader got nothing of "out\n" and the echo */
static void fill(int m, int s)
{
	ck_assert_int_eq(write(s, "out\n", 4), 4);
	wait_queued(m, 5);
	ck_assert_int_eq(write(m, "one\ntwo\rpar", 11), 11);
	wait_queued(m, 5 + 13);
}

static void check_pty(int m, int s, int pkt)
{
	char buf[64];
	ssize_t n = read(m, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	ck_assert_str_eq(buf + pkt, "out\r\none\r\ntwo\r\npar");
	n = read(s, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	ck_assert_str_eq(buf, "one\n");
	n = read(s, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	ck_assert_str_eq(buf, "two\n");
	ck_assert_int_eq(write(m, "t\n", 2), 2);
	n = read(s, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	ck_assert_str_eq(buf, "part\n");
}

static void round_trip(int pkt)
{
	int m, s, idx;
	char err[256];
	struct tty_queues q = {in_buf, out_buf, 0, 0};
	struct termios tio;
	ck_assert_int_eq(tty_open_pty(-1, &m, &s, &idx), 0);
	if (pkt)
		ck_assert_int_eq(ioctl(m, TIOCPKT, &pkt), 0);
	fill(m, s);
	int own = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(own, 0);
	ck_assert_int_eq(tcgetattr(own, &tio), 0);
	ck_assert_msg(tty_queues_take(m, own, &q, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(q.in_len, 11);
	ck_assert_mem_eq(q.in, "one\ntwo\npar", 11);
	ck_assert_int_eq(q.out_len, 18);
	ck_assert_mem_eq(q.out, "out\r\none\r\ntwo\r\npar", 18);
	ck_assert_msg(tty_queues_put(m, own, &tio, &q, err, sizeof(err)) == 0, "%s", err);
	close(own);
	check_pty(m, s, pkt);
	close(m);
	close(s);
}

START_TEST(test_take_and_put_back)
{
	round_trip(0);
}
END_TEST

START_TEST(test_packet_mode)
{
	round_trip(1);
}
END_TEST

START_TEST(test_into_a_new_pty)
{
	int m, s, m2, s2, idx;
	char err[256];
	struct tty_queues q = {in_buf, out_buf, 0, 0};
	struct termios tio;
	ck_assert_int_eq(tty_open_pty(-1, &m, &s, &idx), 0);
	fill(m, s);
	ck_assert_int_eq(tcgetattr(s, &tio), 0);
	ck_assert_msg(tty_queues_take(m, s, &q, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(tty_open_pty(-1, &m2, &s2, &idx), 0);
	ck_assert_msg(tty_queues_put(m2, s2, &tio, &q, err, sizeof(err)) == 0, "%s", err);
	check_pty(m2, s2, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ttyqueue");
	TCase *tc = tcase_create("ttyqueue");
	tcase_add_test(tc, test_take_and_put_back);
	tcase_add_test(tc, test_packet_mode);
	tcase_add_test(tc, test_into_a_new_pty);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
