/* Unit tests of the kinds of records (image/kinds/): one table with a kind
 * for every descriptor type and every section of kernel objects; each kind's
 * validate refuses a broken record; describe prints one record exactly, as
 * text and as JSON. */
#include "image/kinds/fd_eventfd.h"
#include "image/kinds/fd_unix.h"
#include "image/kinds/kind.h"
#include "image/kinds/locks.h"
#include "image/kinds/origin.h"
#include "image/kinds/zombies.h"

#include "unit.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

START_TEST(test_one_kind_per_type)
{
	for (uint32_t t = IMG_FD_REG; t < IMG_FD_NTYPES; t++) {
		const struct img_kind *k = img_fd_kind(t);
		ck_assert_msg(k != NULL, "no kind for descriptor type %u", t);
		ck_assert_uint_eq(k->fd_type, t);
		ck_assert_uint_eq(k->section, IMG_SEC_FDS);
		ck_assert_msg(!k->payload || k->size, "%s: a payload of no size", k->name);
		ck_assert_str_eq(img_fd_type_name(t), k->name);
	}
	ck_assert_ptr_null(img_fd_kind(0));
	ck_assert_ptr_null(img_fd_kind(IMG_FD_NTYPES));
	const uint32_t sections[] = {IMG_SEC_FILES,  IMG_SEC_ZOMBIES, IMG_SEC_LOCKS,
				     IMG_SEC_SHARES, IMG_SEC_IPC,     IMG_SEC_ORIGIN};
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct img_kind *k = img_section_kind(sections[i]);
		ck_assert_msg(k && k->size && k->validate && k->describe, "section %u",
			      sections[i]);
	}
	for (size_t i = 0; img_kinds[i]; i++)
		ck_assert_msg(img_kinds[i]->name && img_kinds[i]->about, "kind %zu", i);
}
END_TEST

static const struct img_fd fds[] = {
    {.fd = 3, .type = IMG_FD_REG, .file = -1, .share = -1},
    {.fd = 4, .type = IMG_FD_UNIX, .file = -1, .share = -1},
};
static const struct img_view view = {.path = "x", .pid = 100, .fds = fds, .nfds = 2};

START_TEST(test_validate_refuses)
{
	char why[256] = "";
	struct img_unix u = {.type = 1, .state = IMG_UNIX_UNCONNECTED, .name_len = 200};
	const struct img_kind *unix_kind = img_fd_kind(IMG_FD_UNIX);
	ck_assert_int_eq(unix_kind->validate(&view, 1, &u, sizeof(u), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "its name is too long");
	u.name_len = 0;
	ck_assert_int_eq(unix_kind->validate(&view, 1, &u, sizeof(u), why, sizeof(why)), 0);
	u.nmsgs = 1; /* a message that is not there */
	ck_assert_int_eq(unix_kind->validate(&view, 1, &u, sizeof(u), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "its queue does not fit the record");

	struct img_zombie z = {.pid = 101, .code = CLD_EXITED, .status = 300};
	const struct img_kind *zk = img_section_kind(IMG_SEC_ZOMBIES);
	ck_assert_int_eq(zk->validate(&view, 2, &z, sizeof(z), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "zombie entry 2 (pid 101, code 1, status 300) is invalid");
	z.status = 7;
	ck_assert_int_eq(zk->validate(&view, 2, &z, sizeof(z), why, sizeof(why)), 0);
	z.pid = 100; /* the process itself */
	ck_assert_int_eq(zk->validate(&view, 2, &z, sizeof(z), why, sizeof(why)), -1);

	struct img_lock l = {.fd = 4, .kind = IMG_LOCK_POSIX, .end = -1};
	const struct img_kind *lk = img_section_kind(IMG_SEC_LOCKS);
	ck_assert_int_eq(lk->validate(&view, 0, &l, sizeof(l), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "file lock 0 (fd 4) is invalid"); /* fd 4 is not a file */
	l.fd = 3;
	ck_assert_int_eq(lk->validate(&view, 0, &l, sizeof(l), why, sizeof(why)), 0);
}
END_TEST

/* What k's describe prints for rec, as JSON (json) or text, in buf. */
static void describe(const struct img_kind *k, const void *rec, uint32_t len, int json, char *buf,
		     size_t size)
{
	struct img_out o;
	memset(buf, 0, size);
	FILE *f = fmemopen(buf, size - 1, "w");
	out_init(&o, f, json);
	out_begin_object(&o, NULL);
	k->describe(&view, 1, rec, len, &o);
	out_end(&o, 0);
	fclose(f);
}

START_TEST(test_describe)
{
	char buf[1024];
	struct img_eventfd e = {.count = 5, .flags = IMG_EVENTFD_SEMAPHORE};
	describe(img_fd_kind(IMG_FD_EVENTFD), &e, sizeof(e), 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"count\":5,\"flags\":[\"semaphore\"]}");
	describe(img_fd_kind(IMG_FD_EVENTFD), &e, sizeof(e), 0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{count=5 flags=[\"semaphore\"]}");

	uint8_t rec[sizeof(struct img_unix) + 4 + 3];
	struct img_unix u = {.type = 2,
			     .state = IMG_UNIX_CONNECTED,
			     .peer = 9,
			     .nmsgs = 1,
			     .data_len = 7,
			     .name_len = 5,
			     .name = "\0abcd"};
	uint32_t n = 3;
	memcpy(rec, &u, sizeof(u));
	memcpy(rec + sizeof(u), &n, 4);
	memcpy(rec + sizeof(u) + 4, "a\"\n", 3);
	describe(img_fd_kind(IMG_FD_UNIX), rec, sizeof(rec), 1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"sock_type\":\"dgram\",\"state\":\"connected\",\"name\":\"@abcd\","
			      "\"peer\":9,\"shutdown\":0,\"backlog\":0,\"rcvbuf\":0,\"sndbuf\":0,\"rcvlowat\":0,"
			      "\"flags\":[],\"pending\":[],\"queue\":[\"a\\\"\\u000a\"]}");
}
END_TEST

/* The origin record: its strings in the table, its argv as a list. */
static const char origin_strings[] = "\0host1\0"
				     "6.18\0"
				     "#1\0"
				     "prog\0"
				     "a b";
static const struct img_view origin_view = {
    .path = "x", .pid = 100, .strings = origin_strings, .strings_len = sizeof(origin_strings)};

START_TEST(test_origin)
{
	char why[256] = "", buf[1024];
	const struct img_kind *k = img_section_kind(IMG_SEC_ORIGIN);
	struct img_origin g = {
	    .host_str = 1, .release_str = 7, .version_str = 12, .argv_str = 15, .argc = 2};
	ck_assert_int_eq(k->validate(&origin_view, 0, &g, sizeof(g), why, sizeof(why)), 0);
	struct img_out o;
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	memset(buf, 0, sizeof(buf));
	out_init(&o, f, 1);
	out_begin_object(&o, NULL);
	k->describe(&origin_view, 0, &g, sizeof(g), &o);
	out_end(&o, 0);
	fclose(f);
	ck_assert_str_eq(buf, "{\"host\":\"host1\",\"kernel\":\"6.18\",\"kernel_version\":\"#1\","
			      "\"argv\":[\"prog\",\"a b\"],\"argv_cut\":false}");
	g.argc = 3; /* past the table's end */
	ck_assert_int_eq(k->validate(&origin_view, 0, &g, sizeof(g), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the origin record points outside the string table");
	g.argc = 2;
	g.host_str = sizeof(origin_strings);
	ck_assert_int_eq(k->validate(&origin_view, 0, &g, sizeof(g), why, sizeof(why)), -1);
	g.host_str = 1;
	ck_assert_int_eq(k->validate(&origin_view, 1, &g, sizeof(g), why, sizeof(why)), -1);
	ck_assert_str_eq(why, "origin record 1: an image has one");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kinds");
	TCase *tc = tcase_create("kinds");
	tcase_add_test(tc, test_one_kind_per_type);
	tcase_add_test(tc, test_validate_refuses);
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_origin);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
