/* Shared by the unit test programs: run one Check suite, print Check's summary
 * line, exit non-zero on any failure. */
#ifndef STASIS_TESTS_UNIT_H
#define STASIS_TESTS_UNIT_H

#include <check.h>

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif
