/* Fault injection (common/fault.h): the STASIS_FAULT grammar, which hit of
 * which point fails, generations, prefixes, and the list. */
#include "common/fault.h"

#include "unit.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* hits 1..n of p: a bit per hit that failed */
static unsigned fails(enum fault_point p, int n)
{
	unsigned bits = 0;
	for (int i = 0; i < n; i++)
		if (fault_hit(p))
			bits |= 1u << i;
	return bits;
}

START_TEST(test_nth_hit_fails_once)
{
	ck_assert_int_eq(fault_configure("img-write:3"), 0);
	errno = 0;
	ck_assert_uint_eq(fails(FAULT_IMG_WRITE, 8), 1u << 2);
	ck_assert_uint_eq(fails(FAULT_IMG_FSYNC, 8), 0);
	ck_assert_int_eq(fault_configure("3"), 0); /* by number, first hit */
	ck_assert_uint_eq(fails(FAULT_IMG_FSYNC, 4), 1u);
	ck_assert_int_eq(fault_configure("img-fsync"), 0);
	ck_assert_int_eq(fault_hit(FAULT_IMG_FSYNC), 1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(fault_configure(NULL), 0);
	ck_assert_uint_eq(fails(FAULT_IMG_FSYNC, 8), 0);
}
END_TEST

START_TEST(test_all_and_prefix_count_every_matching_point)
{
	ck_assert_int_eq(fault_configure("all:3"), 0);
	ck_assert_int_eq(fault_hit(FAULT_MSG_SEND), 0);
	ck_assert_int_eq(fault_hit(FAULT_RT_ALLOC), 0);
	ck_assert_int_eq(fault_hit(FAULT_SCRIPT_WRITE), 1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(fault_configure("img-*:2"), 0);
	ck_assert_int_eq(fault_hit(FAULT_IMG_OPEN), 0);
	ck_assert_int_eq(fault_hit(FAULT_RT_ALLOC), 0); /* not an img- point */
	ck_assert_int_eq(fault_hit(FAULT_IMG_READ), 1);
	/* two items: both count every hit, each fails its own */
	ck_assert_int_eq(fault_configure("rt-snap:1,rt-snap:2"), 0);
	ck_assert_uint_eq(fails(FAULT_RT_SNAP, 4), 3u);
}
END_TEST

START_TEST(test_generation_items_count_from_their_generation)
{
	ck_assert_int_eq(fault_configure("g2:msg-send:2,g3:msg-send"), 0);
	ck_assert_uint_eq(fails(FAULT_MSG_SEND, 4), 0); /* no generation yet */
	fault_generation(1);
	ck_assert_uint_eq(fails(FAULT_MSG_SEND, 4), 0);
	fault_generation(2);
	ck_assert_uint_eq(fails(FAULT_MSG_SEND, 4), 1u << 1);
	fault_generation(0);
	fault_generation(3);
	ck_assert_uint_eq(fails(FAULT_MSG_SEND, 4), 1u);
	ck_assert_int_eq(errno, EPIPE);
}
END_TEST

START_TEST(test_pid_scope_and_stop)
{
	char spec[64];
	snprintf(spec, sizeof(spec), "rst-mmap:2@%d,rst-clone@%d", (int)getpid() + 1,
		 (int)getpid());
	ck_assert_int_eq(fault_configure(spec), 0);
	ck_assert_uint_eq(fails(FAULT_RST_MMAP, 4), 0); /* another process's */
	ck_assert_uint_eq(fails(FAULT_RST_CLONE, 4), 1u);
	ck_assert_int_eq(fault_configure("g2:rst-blob:2/stop,rst-blob:3"), 0);
	fault_generation(2);
	ck_assert_int_eq(fault_check(FAULT_RST_BLOB), 0);
	ck_assert_int_eq(fault_check(FAULT_RST_BLOB), FAULT_STOP);
	ck_assert_int_eq(fault_check(FAULT_RST_BLOB), FAULT_FAIL);
	ck_assert_int_eq(fault_configure("rst-blob/stop@3"), -1); /* /stop comes last */
}
END_TEST

START_TEST(test_bad_items_are_refused)
{
	const char *bad[] = {"img-nope",     "img-write:0", "img-write:x", "g0:img-write",
			     "gx:img-write", "99",	    "0",	   "img-write:1:2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(fault_configure(bad[i]) == -1, "'%s' accepted", bad[i]);
	ck_assert_int_eq(fault_hit(FAULT_IMG_WRITE), 0); /* nothing armed then */
	ck_assert_int_eq(fault_configure("img-write,,g4:rst-mmap:7,list"), -1);
	ck_assert_int_eq(fault_configure("img-write,,g4:rst-mmap:7"), 0);
	ck_assert_int_eq(fault_configure("list"), 0);
}
END_TEST

START_TEST(test_every_point_has_a_name_and_is_listed)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fault_list(f);
	fclose(f);
	for (int p = 1; p < FAULT_NPOINTS; p++) {
		char line[64];
		snprintf(line, sizeof(line), "\n%3d %-14s ", p, fault_name(p));
		ck_assert_msg(strcmp(fault_name(p), "none") && strstr(text, line),
			      "point %d missing from the list:\n%s", p, text);
	}
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("fault");
	tcase_add_test(tc, test_nth_hit_fails_once);
	tcase_add_test(tc, test_all_and_prefix_count_every_matching_point);
	tcase_add_test(tc, test_generation_items_count_from_their_generation);
	tcase_add_test(tc, test_pid_scope_and_stop);
	tcase_add_test(tc, test_bad_items_are_refused);
	tcase_add_test(tc, test_every_point_has_a_name_and_is_listed);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
