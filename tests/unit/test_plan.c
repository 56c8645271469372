/* Unit tests of the planner (restore/plan.c): given an image, its premapped
 * layout and the restorer's own mappings (parsed maps, not this process's),
 * the blob's plan unmaps the restorer but the blob area and the scratch
 * range, moves the kernel's special mappings and each piece of a premapped
 * region to the target, and refuses another kernel's vDSO or more special
 * mappings than the plan holds. */
#include "restore/plan.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define BLOB 0x70000000ull
#define SCRATCH 0x60000000ull
#define STACKS 0x71000000ull

static struct img_vma vmas[] = {
    {.start = 0x10000000, .end = 0x10003000, .kind = IMG_VMA_ANON, .file = -1},
    {.start = 0x20000000, .end = 0x20001000, .kind = IMG_VMA_VDSO, .file = -1},
    {.start = 0x20002000, .end = 0x20006000, .kind = IMG_VMA_VVAR, .file = -1},
};
static struct img_thread threads[] = {
    {.tid = 100, .flags = IMG_THREAD_MAIN, .fs_base = 0x1234, .ctx = {.rip = 0x4321}},
    {.tid = 101, .fs_base = 0x5678},
};
static struct img_proc proc = {.pid = 100, .exe_str = 1};
static char strings[] = "\0/nonexistent";
static struct rst_image img = {
    .proc = &proc,
    .threads = threads,
    .nthreads = 2,
    .vmas = vmas,
    .nvmas = 3,
    .strings = strings,
    .strings_len = sizeof(strings),
};
static uint64_t premap[] = {SCRATCH, 0, 0};
static struct rst_layout layout = {.blob_addr = BLOB,
				   .blob_len = 0x100000,
				   .scratch_addr = SCRATCH,
				   .scratch_len = 0x10000,
				   .premap = premap};

static struct blob_plan *plan(const struct rst_map *maps, uint32_t n, int *rc)
{
	struct blob_plan *p = calloc(1, rst_plan_size(&img));
	ck_assert_ptr_nonnull(p);
	*rc = rst_plan(p, &img, &layout, maps, n, STACKS, 1000);
	return p;
}

#define ARRAY(p, off, type) ((type *)((char *)(p) + (p)->off))

START_TEST(test_plan_from_maps)
{
	const struct rst_map maps[] = {
	    {0x400000, 0x401000, 0},		     /* the restorer's code */
	    {SCRATCH, SCRATCH + 0x1000, 0},	     /* region 0, mapped from an image */
	    {SCRATCH + 0x1000, SCRATCH + 0x3000, 0}, /* region 0, read */
	    {BLOB, BLOB + 0x100000, 0},		     /* the blob area */
	    {0x7fff0000, 0x7fff1000, IMG_VMA_VDSO},  /* this kernel's vdso */
	    {0x7fff2000, 0x7fff6000, IMG_VMA_VVAR},  /* and vvar */
	    {0xffffffffff600000, 0xffffffffff601000, IMG_VMA_VSYSCALL}, /* stays */
	};
	int rc;
	struct blob_plan *p = plan(maps, sizeof(maps) / sizeof(maps[0]), &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(p->nunmap, 1);
	const struct blob_range *un = ARRAY(p, unmap_off, struct blob_range);
	ck_assert_uint_eq(un[0].addr, 0x400000);
	ck_assert_uint_eq(un[0].len, 0x1000);
	ck_assert_uint_eq(p->nspecial, 2);
	const struct blob_move *sp = ARRAY(p, special_off, struct blob_move);
	ck_assert(sp[0].src == 0x7fff0000 && sp[0].dst == 0x20000000 && sp[0].len == 0x1000);
	ck_assert(sp[1].src == 0x7fff2000 && sp[1].dst == 0x20002000 && sp[1].len == 0x4000);
	ck_assert_uint_eq(p->nmoves, 2); /* a move per mapping of region 0 */
	const struct blob_move *mv = ARRAY(p, moves_off, struct blob_move);
	ck_assert(mv[0].src == SCRATCH && mv[0].dst == 0x10000000 && mv[0].len == 0x1000);
	ck_assert(mv[1].src == SCRATCH + 0x1000 && mv[1].dst == 0x10001000 && mv[1].len == 0x2000);
	ck_assert_uint_eq(p->nthreads, 2);
	const struct blob_thread *t = ARRAY(p, threads_off, struct blob_thread);
	ck_assert(t[0].tid == 100 && t[0].main && t[0].fs_base == 0x1234 && t[0].ctx.rip == 0x4321);
	ck_assert(t[1].tid == 101 && !t[1].main && t[1].fs_base == 0x5678);
	ck_assert_uint_eq(t[0].stack_top, STACKS + BLOB_THREAD_STACK);
	ck_assert_uint_eq(t[1].stack_top, STACKS + 2 * BLOB_THREAD_STACK);
	ck_assert_uint_eq(p->tmp_addr, STACKS + 3 * BLOB_THREAD_STACK);
	ck_assert_uint_eq(p->mm.exe_fd, ~0u); /* the exe is not there: not set */
	ck_assert_int_eq(p->close_from, 1000);
	free(p);
}
END_TEST

START_TEST(test_another_kernels_vdso)
{
	const struct rst_map maps[] = {{0x7fff0000, 0x7fff2000, IMG_VMA_VDSO}}; /* 2 pages */
	int rc;
	free(plan(maps, 1, &rc));
	ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(test_special_mappings_bounded)
{
	struct rst_map maps[BLOB_MAX_SPECIAL + 1];
	for (int k = 0; k <= BLOB_MAX_SPECIAL; k++)
		maps[k] = (struct rst_map){0x7f000000 + k * 0x2000ull, 0x7f001000 + k * 0x2000ull,
					   IMG_VMA_VDSO};
	int rc;
	struct blob_plan *p = plan(maps, BLOB_MAX_SPECIAL + 1, &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_uint_eq(p->nspecial, BLOB_MAX_SPECIAL);
	free(p);
}
END_TEST

START_TEST(test_maps_of_this_process)
{
	struct rst_map maps[4096];
	int n = rst_maps_read(maps, 4096);
	ck_assert_int_gt(n, 3);
	int vdso = 0;
	for (int k = 0; k < n; k++) {
		ck_assert_uint_lt(maps[k].start, maps[k].end);
		vdso += maps[k].special == IMG_VMA_VDSO;
	}
	ck_assert_int_eq(vdso, 1);
	ck_assert_int_eq(rst_maps_read(maps, 2), -1);
}
END_TEST

START_TEST(test_premap_keeps_the_offset_in_2_mib)
{
	struct img_vma big = {.start = 0x7f0000123000, .end = 0x7f0040123000},
		       small = {.start = 0x7f0000123000, .end = 0x7f0000124000};
	for (uint64_t at = 0x600000000000; at < 0x600000000000 + (4 << 20); at += 0x1000) {
		uint64_t p = rst_premap_at(&big, at);
		ck_assert(p >= at && p < at + (2 << 20));
		ck_assert_uint_eq(p % (2 << 20), big.start % (2 << 20));
		ck_assert_uint_eq(rst_premap_at(&small, at), at);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");
	tcase_add_test(tc, test_plan_from_maps);
	tcase_add_test(tc, test_another_kernels_vdso);
	tcase_add_test(tc, test_special_mappings_bounded);
	tcase_add_test(tc, test_maps_of_this_process);
	tcase_add_test(tc, test_premap_keeps_the_offset_in_2_mib);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
