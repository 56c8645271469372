/* Memory that the image writer shares out between its two threads
 * (image/chunk.c, runtime/write_pipe.c): MIB MiB in 1 MiB blocks whose
 * contents are compressible (blocks 0-7), incompressible (8-27: long enough for
 * the writer to store chunks raw without sampling them), then a mix of random,
 * text and half-untouched blocks. After the restarts every block is compared with its
 * contents made again from its seed: a chunk lost, written twice, out of
 * order or with another chunk's bytes fails.
 *
 *   perf_mixed VERIFY_FILE [MIB]
 */
#include "zdtm.h"

#include <stdint.h>
#include <sys/mman.h>

#define BLOCK (1u << 20)

enum kind { RANDOM, TEXT, HALF };

static enum kind kind_of(size_t k)
{
	if (k < 8)
		return TEXT;
	if (k < 28)
		return RANDOM; /* a long incompressible run */
	return (enum kind)(k % 3);
}

static void fill(uint8_t *b, size_t k)
{
	static const char t[] = "a block of text that compresses well, number ";
	uint64_t x = 0x9E3779B97F4A7C15ull * (k + 1);
	switch (kind_of(k)) {
	case RANDOM:
		for (size_t i = 0; i < BLOCK / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			((uint64_t *)b)[i] = x;
		}
		break;
	case TEXT:
		for (size_t i = 0; i < BLOCK; i++)
			b[i] = i % 64 == 63 ? (uint8_t)('0' + k % 10)
					    : (uint8_t)t[i % (sizeof(t) - 1)];
		break;
	case HALF: /* the second half is never touched: no pages to store */
		for (size_t i = 0; i < BLOCK / 2 / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			((uint64_t *)b)[i] = x;
		}
		break;
	}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 48;
	uint8_t *mem =
	    mmap(NULL, mib * BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *want = malloc(BLOCK);
	if (mem == MAP_FAILED || !want) {
		zd_fail("cannot allocate %zu MiB: %s", mib, strerror(errno));
		return zd_finish();
	}
	for (size_t k = 0; k < mib; k++)
		fill(mem + k * BLOCK, k);
	zd_ready();
	zd_wait();
	for (size_t k = 0; k < mib; k++) {
		memset(want, 0, BLOCK);
		fill(want, k);
		zd_check(!memcmp(mem + k * BLOCK, want, BLOCK), "block %zu (kind %d) differs", k,
			 kind_of(k));
	}
	return zd_finish();
}
