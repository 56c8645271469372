/* restart --path-map (restore/pathmap.c): which paths move, and the text the
 * restarted plugins get. */
#include "restore/pathmap.h"
#include "unit.h"

#include <check.h>

START_TEST(test_pathmap)
{
	char err[256];
	ck_assert_str_eq(rst_pathmap_text(), "");
	ck_assert_str_eq(rst_pathmap_apply("/data/run/log"), "/data/run/log");
	ck_assert_int_eq(rst_pathmap_add("relative=/x", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid --path-map 'relative=/x': expected OLD=NEW, both absolute "
			      "paths");
	ck_assert_int_eq(rst_pathmap_add("/data/run/=/scratch/run", err, sizeof(err)), 0);
	ck_assert_int_eq(rst_pathmap_add("/home/u=/", err, sizeof(err)), 0);
	ck_assert_str_eq(rst_pathmap_text(), "/data/run=/scratch/run\n/home/u=/");
	const char *p = "/data/run/log";
	ck_assert_str_eq(rst_pathmap_apply(p), "/scratch/run/log");
	ck_assert_ptr_eq(rst_pathmap_apply(p), rst_pathmap_apply(p)); /* made once */
	ck_assert_str_eq(rst_pathmap_apply("/data/run"), "/scratch/run");
	ck_assert_str_eq(rst_pathmap_apply("/data/running"), "/data/running"); /* not a dir */
	ck_assert_str_eq(rst_pathmap_apply("data/run/log"), "data/run/log");
	ck_assert_str_eq(rst_pathmap_apply("/home/u/.bashrc"), "/.bashrc");
	ck_assert_str_eq(rst_pathmap_apply("/home/u"), "/");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pathmap");
	TCase *tc = tcase_create("pathmap");
	tcase_add_test(tc, test_pathmap);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
