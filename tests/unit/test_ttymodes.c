/* Unit tests of the terminal mode tracker of the relay (common/ttymodes.c):
 * modes set and reset by the output, sequences split across reads, the bits
 * kept in images and the sequences that undo and redo them. */
#include "common/ttymodes.h"

#include "unit.h"

#include <check.h>
#include <string.h>

static void feed(struct tty_modes *m, const char *s)
{
	tty_modes_feed(m, s, strlen(s));
}

START_TEST(test_vim_like_output)
{
	struct tty_modes m;
	char seq[256];
	tty_modes_init(&m);
	feed(&m, "\033[?1049h\033[22;0;0t\033[?1h\033=\033[H\033[2Jhello\033[?25l\033[1;31m");
	ck_assert_int_eq(tty_modes_bits(&m), (1u << 12) | (1u << 0) | (1u << 1) | (1u << 15));
	tty_modes_reset_seq(&m, seq, sizeof(seq));
	ck_assert_str_eq(seq, "\033[?1l\033[?25h\033[?1049l\033>");
	tty_modes_set_seq(&m, seq, sizeof(seq));
	ck_assert_str_eq(seq, "\033[?1049h\033[?25l\033[?1h\033=");
	feed(&m, "\033[?1l\033>\033[?25h\033[?1049l");
	ck_assert_int_eq(tty_modes_bits(&m), 0);
	ck_assert_int_eq(tty_modes_reset_seq(&m, seq, sizeof(seq)), 0);
}
END_TEST

START_TEST(test_split_and_several_params)
{
	struct tty_modes m;
	const char *s = "x\033[?1000;1006;2004hy";
	tty_modes_init(&m);
	for (size_t i = 0; s[i]; i++) /* one byte per read */
		tty_modes_feed(&m, s + i, 1);
	ck_assert_int_eq(tty_modes_bits(&m), (1u << 2) | (1u << 6) | (1u << 9));
	feed(&m, "\033[1000l"); /* not private: an ANSI mode, not ours */
	ck_assert_int_eq(tty_modes_bits(&m), (1u << 2) | (1u << 6) | (1u << 9));
	feed(&m, "\033c"); /* full reset */
	ck_assert_int_eq(tty_modes_bits(&m), 0);
}
END_TEST

START_TEST(test_bits_round_trip)
{
	struct tty_modes a, b;
	tty_modes_init(&a);
	tty_modes_init(&b);
	feed(&a, "\033[?47h\033[?1004h\033=");
	tty_modes_set_bits(&b, tty_modes_bits(&a));
	ck_assert_int_eq(tty_modes_bits(&b), tty_modes_bits(&a));
	ck_assert_int_eq(b.keypad, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ttymodes");
	TCase *tc = tcase_create("ttymodes");
	tcase_add_test(tc, test_vim_like_output);
	tcase_add_test(tc, test_split_and_several_params);
	tcase_add_test(tc, test_bits_round_trip);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
