/* Unit tests of the runtime's /proc listings (runtime/dirlist.h): every
 * descriptor listed, sorted, and a list that cannot hold them all is an error
 * (E2BIG), never a shorter list: a checkpoint that recorded only the first
 * descriptors brought back a program without the others. */
#include "runtime/dirlist.h"

#include "unit.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define NOPEN 64

static int opened[NOPEN];

/* NOPEN more descriptors, a hole among them (a sparse table is listed, a
 * dense one probed: both ways are taken) */
static void open_some(int hole)
{
	for (int i = 0; i < NOPEN; i++)
		ck_assert_int_ge(opened[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	if (hole)
		close(opened[NOPEN / 2]), opened[NOPEN / 2] = -1;
}

static void close_some(void)
{
	for (int i = 0; i < NOPEN; i++)
		if (opened[i] >= 0)
			close(opened[i]);
}

static void lists_every_descriptor(int hole)
{
	int all[4096], n;
	open_some(hole);
	n = rt_list_own_fds(all, 4096, NULL);
	ck_assert_int_ge(n, NOPEN - hole);
	for (int i = 1; i < n; i++)
		ck_assert_int_lt(all[i - 1], all[i]);
	for (int i = 0, k = 0; i < NOPEN; i++) {
		if (opened[i] < 0)
			continue;
		while (k < n && all[k] < opened[i])
			k++;
		ck_assert_msg(k < n && all[k] == opened[i], "fd %d not listed", opened[i]);
	}
	int few[8];
	errno = 0;
	ck_assert_int_eq(rt_list_own_fds(few, 8, NULL), -1);
	ck_assert_int_eq(errno, E2BIG);
	errno = 0;
	ck_assert_int_eq(rt_list_numeric("/proc/self/fd", few, 8, NULL), -1);
	ck_assert_int_eq(errno, E2BIG);
	close_some();
}

START_TEST(test_dense_table)
{
	lists_every_descriptor(0);
}
END_TEST

START_TEST(test_sparse_table)
{
	lists_every_descriptor(1);
}
END_TEST

/* A list just large enough is whole (the numeric listing also sees the
 * descriptor it lists with, and names it) */
START_TEST(test_exactly_full)
{
	int all[2048], exact[2048], self = -1;
	int n = rt_list_own_fds(all, 2048, NULL);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(rt_list_own_fds(exact, n, NULL), n);
	ck_assert_int_eq(rt_list_numeric("/proc/self/fd", exact, n + 1, &self), n + 1);
	ck_assert_int_ge(self, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dirlist");
	TCase *tc = tcase_create("dirlist");
	tcase_add_test(tc, test_dense_table);
	tcase_add_test(tc, test_sparse_table);
	tcase_add_test(tc, test_exactly_full);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
