/* Unit tests of restore/mapimg.c's budget: the runs a process may map from
 * its images leave vm.max_map_count room for its own regions, their guard
 * pages while restored, and 1024 more (each run splits its region: 2 more
 * mappings), at most RST_MAX_MAPPINGS. */
#include "restore/mapimg.h"

#include "unit.h"

#include <check.h>

START_TEST(test_budget_follows_max_map_count)
{
	/* (max_map_count - 2 nvmas - 1024) / 2, at most RST_MAX_MAPPINGS */
	ck_assert_int_eq(rst_map_budget(65530, 100), RST_MAX_MAPPINGS);
	ck_assert_int_eq(rst_map_budget(262144, 30000), RST_MAX_MAPPINGS);
	ck_assert_int_eq(rst_map_budget(65530, 25000), 7253);
	ck_assert_int_eq(rst_map_budget(65530, 32253), 0);
	ck_assert_int_eq(rst_map_budget(65530, 65530), 0);
	ck_assert_int_eq(rst_map_budget(1000, 10), 0);
	ck_assert_int_eq(rst_map_budget(1100, 10), 28);
	ck_assert_int_gt(rst_max_map_count(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapimg");
	TCase *tc = tcase_create("mapimg");
	tcase_add_test(tc, test_budget_follows_max_map_count);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
