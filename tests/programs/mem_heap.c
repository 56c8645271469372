/* mem_heap: the heap across checkpoint/restart.
 *
 *   mem_heap VERIFY_FILE
 *
 * Many small brk blocks and one 32 MiB mmap'ed malloc block keep their
 * contents and the program break its place; after the restart the heap keeps
 * growing (128 MiB of mallocs, sbrk of 16 MiB) and freed small blocks are
 * allocated again next to the old ones.
 */
#include "memtest.h"

#define NSMALL 3000
#define NGROW 512

static uint8_t *small[NSMALL];
static size_t small_len[NSMALL];

static void grow_malloc(void)
{
	static uint8_t *grow[NGROW];
	for (int i = 0; i < NGROW; i++) {
		grow[i] = malloc(256 * 1024);
		if (!grow[i]) {
			zd_fail("malloc after restart failed at %d MiB", i / 4);
			break;
		}
		memset(grow[i], i & 0xff, 256 * 1024);
	}
	for (int i = 0; i < NGROW && grow[i]; i++)
		if (grow[i][0] != (i & 0xff) || grow[i][256 * 1024 - 1] != (i & 0xff)) {
			zd_fail("heap block %d grown after restart is corrupt", i);
			break;
		}
}

static void grow_brk(void)
{
	uint8_t *b0 = sbrk(0);
	uint8_t *nb = sbrk(16 * MiB);
	if (nb == (void *)-1) {
		zd_fail("sbrk(16 MiB) after restart: %s", strerror(errno));
		return;
	}
	zd_check(nb == b0, "sbrk returned %p, break was %p", (void *)nb, (void *)b0);
	fill(nb, 16 * MiB, 20);
	CHECK_PAT(nb, 16 * MiB, 20, "brk area grown after restart");
	zd_check(sbrk(0) == b0 + 16 * MiB, "break did not move by 16 MiB");
}

/* small mallocs still work next to the old blocks */
static void realloc_small(void)
{
	for (int i = 0; i < NSMALL; i += 2)
		free(small[i]);
	for (int i = 0; i < NSMALL; i += 2) {
		small[i] = malloc(small_len[i]);
		fill(small[i], small_len[i], 3000 + i);
	}
	for (int i = 1; i < NSMALL; i += 2)
		if (check(small[i], small_len[i], 1000 + i) >= 0) {
			zd_fail("heap block %d corrupt after new allocations", i);
			break;
		}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	for (int i = 0; i < NSMALL; i++) {
		small_len[i] = 16 + (i * 37) % 2000;
		small[i] = malloc(small_len[i]);
		fill(small[i], small_len[i], 1000 + i);
	}
	size_t big_len = 32 * MiB;
	uint8_t *big = malloc(big_len);
	fill(big, big_len, 5);
	void *brk_before = sbrk(0);

	zd_ready();
	zd_wait();

	void *brk_after = sbrk(0);
	zd_check(brk_after == brk_before, "program break %p, was %p", brk_after, brk_before);
	for (int i = 0; i < NSMALL; i++) {
		long at = check(small[i], small_len[i], 1000 + i);
		if (at >= 0) {
			zd_fail("heap block %d (%zu bytes at %p): byte %ld differs", i,
				small_len[i], (void *)small[i], at);
			break;
		}
	}
	CHECK_PAT(big, big_len, 5, "32 MiB malloc block");
	grow_malloc();
	grow_brk();
	realloc_small();
	return zd_finish();
}
