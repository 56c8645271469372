/* mem_zeropage: pages read but never written (they map the shared zero page)
 * across checkpoint/restart.
 *
 *   mem_zeropage VERIFY_FILE
 *
 * 64 MiB of private anonymous memory: the first 32 MiB read page by page
 * (each maps the zero page), the page at +40 MiB written, the rest never
 * touched. Prints "region ADDR" before "ready", so that the test can look at
 * which of its pages are mapped after a restart (tests/e2e/test_memory.py).
 * Verifies that the written page holds its pattern and every other page
 * reads zero.
 */
#include "memtest.h"

#include <sys/mman.h>

#define LEN (64 * MiB)
#define READ_LEN (32 * MiB)
#define WRITTEN (40 * MiB)

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	uint8_t *r = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		zd_fail("mmap of 64 MiB: %s", strerror(errno));
		return zd_finish();
	}
	volatile uint8_t sink = 0;
	for (size_t off = 0; off < READ_LEN; off += PG)
		sink ^= ((volatile uint8_t *)r)[off];
	fill(r + WRITTEN, PG, 9);
	printf("region %p\n", (void *)r);
	fflush(stdout);
	zd_ready();
	zd_wait();
	CHECK_PAT(r + WRITTEN, PG, 9, "the written page");
	zd_check(check_zero(r, WRITTEN) < 0 && check_zero(r + WRITTEN + PG, LEN - WRITTEN - PG) < 0,
		 "a page never written does not read zero");
	return zd_finish();
}
