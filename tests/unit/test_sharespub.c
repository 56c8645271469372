/* Unit tests of the descriptor lists processes publish to each other during
 * a checkpoint (runtime/shares_pub.h): a list read back is the one written; a
 * file that is not a whole valid list (damaged, foreign, longer than the
 * reader holds) is refused and leaves the reader's buffer pointer as it was
 * (a failed read once left a short arena buffer in it, which the fallback
 * listing then overran with up to 65536 entries). */
#include "runtime/arena.h"
#include "runtime/shares_pub.h"
#include "runtime/state.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rt_state rt; /* the runtime's state: the fields the files are named by */

#define PID 4242
#define N 5

static struct rt_fdesc list[N];

static char dir[64];

/* Each test its own run directory (the tests may run in one process: CK_FORK=no) */
static void setup(void)
{
	static int arena;
	snprintf(dir, sizeof(dir), "/tmp/stasis-sharespub-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("STASIS_RUN_DIR", dir, 1);
	if (!arena)
		ck_assert_int_eq(rt_arena_init(), 0);
	arena = 1;
	rt.port = 7777;
	rt.comp_id = 0x1234;
	rt.gen = 3;
	for (int k = 0; k < N; k++)
		list[k] =
		    (struct rt_fdesc){.fd = k, .first = k < 2 ? 0 : (uint32_t)k, .ino = 10 + k};
	rt_pub_begin();
	rt_pub_list(PID, 1, list, N);
}

static void teardown(void)
{
	rt_pub_done(PID); /* removes the list this process published */
	ck_assert_int_eq(rmdir(dir), 0);
}

/* The published file, its last byte of the body changed by delta (its first
 * entry's run made to start after it: not a valid list) */
static void damage(void)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/fdorder-%016llx-%u-%u", getenv("STASIS_RUN_DIR"),
		 (unsigned long long)rt.comp_id, PID, (unsigned)rt.port);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint32_t bad = 3;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t first = end - (off_t)(N * sizeof(struct rt_fdesc)) + offsetof(struct rt_fdesc, first);
	ck_assert_int_eq(pwrite(fd, &bad, sizeof(bad), first), sizeof(bad));
	close(fd);
}

START_TEST(test_read_back)
{
	struct rt_fdesc *v = NULL;
	uint32_t ppid = 0;
	setup();
	ck_assert_int_eq(rt_pub_read_list(PID, &v, 65536, &ppid), N);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(ppid, 1);
	ck_assert_int_eq(memcmp(v, list, sizeof(list)), 0);
}
END_TEST

START_TEST(test_damaged_list_leaves_the_pointer)
{
	struct rt_fdesc *v = NULL, mine[N], *given = mine;
	uint32_t ppid = 77;
	setup();
	damage();
	ck_assert_int_eq(rt_pub_read_list(PID, &v, 65536, &ppid), -1);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(ppid, 77);
	ck_assert_int_eq(rt_pub_read_list(PID, &given, N, &ppid), -1);
	ck_assert_ptr_eq(given, mine);
}
END_TEST

START_TEST(test_longer_than_the_reader_holds)
{
	struct rt_fdesc mine[N - 1], *given = mine, *v = NULL;
	uint32_t ppid = 77;
	setup();
	ck_assert_int_eq(rt_pub_read_list(PID, &given, N - 1, &ppid), -1);
	ck_assert_int_eq(rt_pub_read_list(PID, &v, N - 1, &ppid), -1);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(ppid, 77);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sharespub");
	TCase *tc = tcase_create("sharespub");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_read_back);
	tcase_add_test(tc, test_damaged_list_leaves_the_pointer);
	tcase_add_test(tc, test_longer_than_the_reader_holds);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
