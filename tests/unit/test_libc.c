/* Unit tests of the runtime's libc table (runtime/libc.h): every entry is
 * resolved to libc's function at load, and a test can put its own function
 * in an entry (fault injection) and take libc's back. */
#include "runtime/libc.h"

#include "unit.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_every_entry_resolved)
{
	/* the constructor ran before main: no entry is left to resolve later */
	for (int i = 0; i < RT_LIBC_N; i++) {
		ck_assert_ptr_nonnull(rt_libc[i].name);
		ck_assert_msg(rt_libc[i].fn != NULL, "%s not resolved", rt_libc[i].name);
		ck_assert_ptr_eq(rt_libc[i].fn, dlsym(RTLD_DEFAULT, rt_libc[i].name));
	}
	ck_assert_str_eq(rt_libc[RT_LIBC_close].name, "close");
	ck_assert_str_eq(rt_libc[RT_LIBC_msgget].name, "msgget");
}
END_TEST

static int closed_fd;
static int failing_close(int fd)
{
	closed_fd = fd;
	errno = EIO;
	return -1;
}

START_TEST(test_replace_an_entry)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	void *libc_close = rt_libc_replace(RT_LIBC_close, (void *)failing_close);
	ck_assert_ptr_eq(libc_close, dlsym(RTLD_DEFAULT, "close"));
	ck_assert_int_eq(REAL(close)(fds[0]), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(closed_fd, fds[0]);
	ck_assert_ptr_eq(rt_libc_replace(RT_LIBC_close, libc_close), (void *)failing_close);
	ck_assert_int_eq(REAL(close)(fds[0]), 0);
	ck_assert_int_eq(REAL(close)(fds[1]), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("libc");
	TCase *tc = tcase_create("libc");
	tcase_add_test(tc, test_every_entry_resolved);
	tcase_add_test(tc, test_replace_an_entry);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
