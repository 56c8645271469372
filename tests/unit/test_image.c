/* Unit tests of the image library: round trip of sections and memory chunks
 * (raw and zstd), and every kind of damage the reader must name: truncation,
 * flipped bytes in header, table, sections and chunks, another version, a file
 * that is not an image. */
#include "image/image.h"

#include "unit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char dir[64], path[128];
static uint8_t raw_mem[4 * IMG_PAGE], text_mem[8 * IMG_PAGE];
static struct img_chunk chunks[2];

static void write_image(int compress)
{
	struct img_writer w;
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t zs = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *zbuf = malloc(zs);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < sizeof(raw_mem); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		raw_mem[i] = (uint8_t)x;
	}
	for (size_t i = 0; i < sizeof(text_mem); i++)
		text_mem[i] = "stasis "[i % 7];
	ck_assert_int_eq(img_writer_open(&w, path), 0);
	if (compress)
		img_writer_compress(&w, c, zbuf, zs, 1);
	ck_assert_int_eq(img_write_chunk(&w, raw_mem, 4, 0x10000, &chunks[0]), 0);
	ck_assert_int_eq(img_write_chunk(&w, text_mem, 8, 0x20000, &chunks[1]), 0);
	ck_assert_int_eq(img_write_section(&w, IMG_SEC_CHUNKS, 0, chunks, sizeof(chunks)), 0);
	ck_assert_int_eq(img_write_section(&w, IMG_SEC_STRINGS, 0, "\0hello", 7), 0);
	w.hdr.comp_id = 0x1234;
	w.hdr.gen = 3;
	w.hdr.nprocs = 1;
	w.hdr.pid = 42;
	ck_assert_int_eq(img_writer_finish(&w), 0);
	ZSTD_freeCCtx(c);
	free(zbuf);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/stasis-test-image-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.stasis", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void patch(off_t off, uint8_t x)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= x;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Open (and read every chunk); returns the error message, or "" on success. */
static const char *try_open(void)
{
	static char err[512];
	struct img_reader r;
	uint8_t dst[8 * IMG_PAGE];
	uint8_t tmp[ZSTD_COMPRESSBOUND(8 * IMG_PAGE)];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t n;
	err[0] = 0;
	if (img_open(&r, path, err, sizeof(err)) < 0)
		goto out;
	struct img_chunk *c = img_load(&r, IMG_SEC_CHUNKS, sizeof(*c), &n, 0, err, sizeof(err));
	if (c) {
		for (size_t i = 0; i < n / sizeof(*c); i++)
			if (img_read_chunk(&r, &c[i], dst, d, tmp, sizeof(tmp), err, sizeof(err)) <
			    0)
				break;
		free(c);
	}
	img_close(&r);
out:
	ZSTD_freeDCtx(d);
	return err;
}

static void round_trip(int compress)
{
	struct img_reader r;
	char err[256];
	size_t n;
	uint8_t dst[8 * IMG_PAGE], tmp[ZSTD_COMPRESSBOUND(8 * IMG_PAGE)];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	write_image(compress);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(img_open(&r, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.hdr.comp_id, 0x1234);
	ck_assert_uint_eq(r.hdr.gen, 3);
	ck_assert_uint_eq(r.hdr.pid, 42);
	struct img_chunk *c = img_load(&r, IMG_SEC_CHUNKS, sizeof(*c), &n, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(n, sizeof(chunks));
	ck_assert_uint_eq(c[0].comp, IMG_COMP_NONE); /* random data is stored raw */
	ck_assert_uint_eq(c[0].offset % IMG_PAGE, 0);
	ck_assert_uint_eq(c[1].comp, compress ? IMG_COMP_ZSTD : IMG_COMP_NONE);
	ck_assert_int_eq(img_read_chunk(&r, &c[0], dst, d, tmp, sizeof(tmp), err, sizeof(err)), 0);
	ck_assert_mem_eq(dst, raw_mem, sizeof(raw_mem));
	ck_assert_int_eq(img_read_chunk(&r, &c[1], dst, d, tmp, sizeof(tmp), err, sizeof(err)), 0);
	ck_assert_mem_eq(dst, text_mem, sizeof(text_mem));
	ck_assert_ptr_null(img_load(&r, IMG_SEC_PROC, 0, &n, 1, err, sizeof(err)));
	free(c);
	img_close(&r);
	ZSTD_freeDCtx(d);
}

START_TEST(test_round_trip_raw)
{
	round_trip(0);
}
END_TEST

START_TEST(test_round_trip_zstd)
{
	round_trip(1);
}
END_TEST

START_TEST(test_no_temp_left)
{
	char tmp[160];
	write_image(1);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	ck_assert_str_eq(try_open(), "");
}
END_TEST

START_TEST(test_truncated)
{
	write_image(1);
	struct stat st;
	stat(path, &st);
	ck_assert_int_eq(truncate(path, st.st_size - 100), 0);
	ck_assert_ptr_nonnull(strstr(try_open(), "truncated"));
}
END_TEST

START_TEST(test_header_flip)
{
	write_image(0);
	patch(30, 0x40);
	ck_assert_ptr_nonnull(strstr(try_open(), "header checksum"));
}
END_TEST

START_TEST(test_bad_magic)
{
	write_image(0);
	patch(0, 0x01);
	ck_assert_ptr_nonnull(strstr(try_open(), "not a stasis image"));
}
END_TEST

START_TEST(test_other_version)
{
	write_image(0);
	patch(8, 0x07); /* version 1 -> 6: reported before the checksum */
	ck_assert_ptr_nonnull(strstr(try_open(), "version 6"));
}
END_TEST

START_TEST(test_chunk_flip)
{
	write_image(0);
	patch(IMG_PAGE + 17, 0x80); /* inside the first (raw, page-aligned) chunk */
	const char *e = try_open();
	ck_assert_ptr_nonnull(strstr(e, "memory chunk"));
	ck_assert_ptr_nonnull(strstr(e, "checksum"));
}
END_TEST

START_TEST(test_compressed_chunk_flip)
{
	write_image(1);
	patch(chunks[1].offset + 3, 0x10);
	ck_assert_ptr_nonnull(strstr(try_open(), "memory chunk"));
}
END_TEST

START_TEST(test_table_flip)
{
	struct img_reader r;
	char err[256];
	write_image(0);
	ck_assert_int_eq(img_open(&r, path, err, sizeof(err)), 0);
	off_t t = r.hdr.table_off;
	img_close(&r);
	patch(t + 9, 0x01);
	ck_assert_ptr_nonnull(strstr(try_open(), "section table"));
}
END_TEST

START_TEST(test_not_an_image)
{
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 1000; i++)
		fputs("hello world\n", f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(try_open(), "not a stasis image"));
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_ptr_nonnull(strstr(try_open(), "not a stasis image"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("image");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip_raw);
	tcase_add_test(tc, test_round_trip_zstd);
	tcase_add_test(tc, test_no_temp_left);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_header_flip);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_other_version);
	tcase_add_test(tc, test_chunk_flip);
	tcase_add_test(tc, test_compressed_chunk_flip);
	tcase_add_test(tc, test_table_flip);
	tcase_add_test(tc, test_not_an_image);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
