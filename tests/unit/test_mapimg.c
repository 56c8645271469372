/* Unit tests of restore/mapimg.c's budget: the runs a process may map from
 * its images leave vm.max_map_count room for its own regions and 1024 more
 * (each run splits its region: 2 more mappings), at most RST_MAX_MAPPINGS. */
#include "restore/mapimg.h"

#include "unit.h"

#include <check.h>

START_TEST(test_budget_follows_max_map_count)
{
	ck_assert_int_eq(rst_map_budget(65530, 100), RST_MAX_MAPPINGS);
	ck_assert_int_eq(rst_map_budget(262144, 100), RST_MAX_MAPPINGS);
	/* a program with 50000 regions: (65530 - 50000 - 1024) / 2 */
	ck_assert_int_eq(rst_map_budget(65530, 50000), 7253);
	ck_assert_int_eq(rst_map_budget(65530, 64506), 0);
	ck_assert_int_eq(rst_map_budget(65530, 65530), 0);
	ck_assert_int_eq(rst_map_budget(1000, 10), 0);
	ck_assert_int_eq(rst_map_budget(1100, 10), 33);
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
