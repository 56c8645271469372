/* mem_reserve: large address space that is not memory, across
 * checkpoint/restart.
 *
 *   mem_reserve VERIFY_FILE
 *
 * A 32 GiB PROT_NONE reservation with 1 MiB of it committed keeps its place,
 * size and protection (reading it faults), the committed part its contents,
 * and more of it can be committed after the restart; a 1 GiB MAP_NORESERVE
 * region keeps the pages written in it, the others read as zero. Neither is
 * read nor stored whole (tests/e2e/test_memory.py times it).
 */
#include "memtest.h"

static uint8_t *res, *res_used;
static const size_t res_len = 32 * GiB;

static void check_reservation(void)
{
	uintptr_t s, e;
	char perms[5];
	if (!maps_line(res, &s, &e, perms))
		zd_fail("32 GiB reservation at %p is gone", (void *)res);
	else
		zd_check(s <= (uintptr_t)res && e == (uintptr_t)res_used && !strcmp(perms, "---p"),
			 "reservation: %lx-%lx %s, want %p-%p ---p", (unsigned long)s,
			 (unsigned long)e, perms, (void *)res, (void *)res_used);
	if (!maps_line(res_used + MiB, &s, &e, perms))
		zd_fail("upper part of the reservation is gone");
	else
		zd_check(s == (uintptr_t)res_used + MiB && e >= (uintptr_t)res + res_len &&
			     !strcmp(perms, "---p"),
			 "upper reservation: %lx-%lx %s", (unsigned long)s, (unsigned long)e,
			 perms);
	zd_check(read_faults(res + 5 * PG), "reading the PROT_NONE reservation did not fault");
	CHECK_PAT(res_used, MiB, 6, "committed part of the reservation");
	uint8_t *more = res + 16 * GiB;
	if (mprotect(more, 64 * MiB, PROT_READ | PROT_WRITE) < 0) {
		zd_fail("committing more of the reservation: %s", strerror(errno));
		return;
	}
	fill(more, 64 * MiB, 17);
	CHECK_PAT(more, 64 * MiB, 17, "newly committed reservation");
}

static void check_noreserve(uint8_t *nr, size_t nr_len)
{
	for (size_t off = 0; off < nr_len; off += 64 * MiB) {
		long at = check(nr + off, PG, 7 + off / MiB);
		zd_check(at < 0, "MAP_NORESERVE page at +%zu MiB: byte %ld differs", off / MiB, at);
		zd_check(check_zero(nr + off + PG, PG) < 0,
			 "MAP_NORESERVE untouched page not zero");
	}
	fill(nr + 3 * PG, PG, 18);
	CHECK_PAT(nr + 3 * PG, PG, 18, "MAP_NORESERVE written after restart");
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	mt_catch_faults();
	res = mmap(NULL, res_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED) {
		zd_fail("mmap 32 GiB PROT_NONE: %s", strerror(errno));
		return zd_finish();
	}
	res_used = res + 4 * GiB;
	mprotect(res_used, MiB, PROT_READ | PROT_WRITE);
	fill(res_used, MiB, 6);
	size_t nr_len = GiB;
	uint8_t *nr = mmap(NULL, nr_len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	for (size_t off = 0; off < nr_len; off += 64 * MiB)
		fill(nr + off, PG, 7 + off / MiB);

	zd_ready();
	zd_wait();

	check_reservation();
	check_noreserve(nr, nr_len);
	return zd_finish();
}
