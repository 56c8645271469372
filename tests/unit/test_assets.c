/* The image reader against kept images: every released format version must
 * still load, and thousands of damaged variants of it (flipped bits, random
 * fields, truncation) must be refused cleanly or loaded consistently, never
 * crash or overrun (this test also runs under ASan/UBSan in `make asan`). */
#include "restore/load.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define ASSET "tests/assets/v1-exitcode.stasis"

static uint8_t *orig;
static size_t orig_len;
static char tmp[64];

static void load_asset(void)
{
	struct stat st;
	int fd = open(ASSET, O_RDONLY);
	ck_assert_msg(fd >= 0, "cannot open %s (run from the repository root)", ASSET);
	ck_assert_int_eq(fstat(fd, &st), 0);
	orig_len = st.st_size;
	orig = malloc(orig_len);
	ck_assert_int_eq(read(fd, orig, orig_len), (ssize_t)orig_len);
	close(fd);
	snprintf(tmp, sizeof(tmp), "/tmp/stasis-test-assets-XXXXXX");
	ck_assert_int_ge(mkstemp(tmp), 0);
}

static void unload(void)
{
	unlink(tmp);
	free(orig);
}

/* Load and read every chunk; returns 0 if the whole image is accepted. */
static int try_image(const char *path, char *err, size_t errlen)
{
	struct rst_image img;
	if (rst_load(&img, path, err, errlen) < 0)
		return -1;
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *dst = malloc(IMG_CHUNK_PAGES * IMG_PAGE), *buf = malloc(tmpsize);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	int rc = 0;
	for (uint32_t i = 0; i < img.nchunks && rc == 0; i++)
		rc = img_read_chunk(&img.r, &img.chunks[i], dst, d, buf, tmpsize, err, errlen);
	ZSTD_freeDCtx(d);
	free(dst);
	free(buf);
	rst_free(&img);
	return rc;
}

START_TEST(test_v1_image_loads)
{
	char err[512] = "";
	struct rst_image img;
	ck_assert_msg(try_image(ASSET, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(rst_load(&img, ASSET, err, sizeof(err)), 0);
	ck_assert_uint_eq(img.r.hdr.version, 1);
	ck_assert_uint_eq(img.r.hdr.nprocs, 1);
	ck_assert_str_eq(rst_str(&img, img.proc->name_str), "exitcode");
	ck_assert_uint_eq(img.nthreads, 2);
	ck_assert_uint_gt(img.nvmas, 10);
	rst_free(&img);
}
END_TEST

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void mutate(uint8_t *b, size_t *len, uint64_t *x)
{
	size_t off = rnd(x) % *len;
	switch (rnd(x) % 5) {
	case 0: /* one bit */
		b[off] ^= 1u << (rnd(x) % 8);
		break;
	case 1: /* a random byte */
		b[off] = rnd(x);
		break;
	case 2: /* a random little-endian field of 4 or 8 bytes, 4-aligned */
		off &= ~(size_t)3;
		for (size_t i = 0; i < (rnd(x) & 1 ? 8 : 4) && off + i < *len; i++)
			b[off + i] = rnd(x);
		break;
	case 3: /* truncation */
		*len = off;
		break;
	default: /* a field set to a large value: sizes, offsets, counts */
		off &= ~(size_t)3;
		if (off + 4 <= *len)
			memcpy(b + off, (uint32_t[]){0xfffffff0u}, 4);
	}
}

START_TEST(test_damaged_images_are_refused_cleanly)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t *b = malloc(orig_len);
	int refused = 0;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = orig_len;
		char err[512] = "";
		memcpy(b, orig, orig_len);
		for (uint64_t m = 1 + rnd(&x) % 3; m; m--)
			if (len)
				mutate(b, &len, &x);
		FILE *f = fopen(tmp, "w");
		fwrite(b, 1, len, f);
		fclose(f);
		if (try_image(tmp, err, sizeof(err)) < 0) {
			refused++;
			ck_assert_msg(strstr(err, tmp) != NULL,
				      "iteration %d: message '%s' does "
				      "not name the file",
				      iter, err);
		}
	}
	/* damage in alignment padding is harmless and may pass; nearly all must not */
	ck_assert_int_gt(refused, 2900);
	free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("assets");
	TCase *tc = tcase_create("assets");
	tcase_add_checked_fixture(tc, load_asset, unload);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_v1_image_loads);
	tcase_add_test(tc, test_damaged_images_are_refused_cleanly);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
