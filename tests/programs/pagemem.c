/* pagemem: memory that changes between checkpoints, verified word by word.
 *
 *   pagemem VERIFY_FILE MIB [STRIDE [RUN]]
 *
 * Fills MIB MiB of anonymous memory (mmap: page-aligned, so that madvise works) with an
 * incompressible pattern and a 1 MiB side region, prints "ready", then polls VERIFY_FILE.step: when
 * it holds a number k greater than the last step done, it runs step k and prints "step k done".
 * Step k rewrites every page p with (p / RUN) % STRIDE == k % STRIDE (default 16 and 1: every
 * 16th page, 1/16 of the memory; RUN 64: every 16th block of 64 pages),
 * gives back (MADV_DONTNEED: zero again) the pages with p % 64 == (k + 8) % 64, and at k == 2 moves
 * the side region elsewhere (mremap) and rewrites half of it. The expected contents of each page
 * follow from a per-page generation, so the final check (when VERIFY_FILE exists) compares every
 * word: a page restored from the wrong checkpoint, or a page given back but restored with data, is
 * reported.
 */
#include "zdtm.h"

#include <stdint.h>
#include <sys/mman.h>

#define PG 4096ul
#define ZERO 0xffff /* generation of a page given back: all zero */

static uint64_t *buf, *side;
static uint16_t *gen;
static size_t pages;
static long done_step;
static size_t stride = 16, run = 1;
static char step_path[4096];

static uint64_t word(uint64_t i, uint64_t g)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull + g * 0xbf58476d1ce4e5b9ull;
	x ^= x >> 31;
	return x * 0x94d049bb133111ebull;
}

static void write_page(uint64_t *base, size_t p, uint64_t g)
{
	for (size_t w = p * 512; w < p * 512 + 512; w++)
		base[w] = word(w, g);
}

static void run_step(long k)
{
	for (size_t b = k % stride; b * run < pages; b += stride)
		for (size_t p = b * run; p < (b + 1) * run && p < pages; p++) {
			gen[p] = gen[p] == ZERO ? (uint16_t)k : gen[p] + 1;
			write_page(buf, p, gen[p]);
		}
	for (size_t p = (k + 8) % 64; p < pages; p += 64) {
		if (madvise((char *)buf + p * PG, PG, MADV_DONTNEED) < 0)
			zd_fail("madvise: %s", strerror(errno));
		gen[p] = ZERO;
	}
	if (k == 2) {
		void *to = mmap(NULL, 8 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		side = mremap(side, 1 << 20, 1 << 20, MREMAP_MAYMOVE | MREMAP_FIXED,
			      (char *)to + (4 << 20));
		if (side == MAP_FAILED)
			zd_fail("mremap: %s", strerror(errno));
		for (size_t p = 0; p < 128; p++)
			write_page(side, p, 1000 + k);
	}
	char line[64];
	snprintf(line, sizeof(line), "step %ld done", k);
	zd_say(line);
}

static void tick(void)
{
	char txt[32] = "";
	FILE *f = fopen(step_path, "r");
	if (!f)
		return;
	long k = fgets(txt, sizeof(txt), f) ? atol(txt) : 0;
	fclose(f);
	/* the test asks one step at a time: a bigger jump means this memory is
	 * older than the checkpoint it was restarted from */
	if (k > done_step + 1)
		zd_fail("step %ld asked after step %ld: restored from an older state", k,
			done_step);
	else if (k == done_step + 1)
		run_step(++done_step);
}

static void check(void)
{
	for (size_t p = 0; p < pages; p++)
		for (size_t w = p * 512; w < p * 512 + 512; w++) {
			uint64_t want = gen[p] == ZERO ? 0 : word(w, gen[p]);
			if (buf[w] != want) {
				zd_fail("page %zu (generation %u) word %zu is %#llx, not %#llx", p,
					gen[p], w - p * 512, (unsigned long long)buf[w],
					(unsigned long long)want);
				return;
			}
		}
	for (size_t p = 0; p < 256; p++)
		for (size_t w = p * 512; w < p * 512 + 512; w++)
			if (side[w] != word(w, p < 128 && done_step >= 2 ? 1002 : 7)) {
				zd_fail("side region page %zu word %zu is wrong", p, w - p * 512);
				return;
			}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
	snprintf(step_path, sizeof(step_path), "%s.step", argv[1]);
	if (argc > 3 && atol(argv[3]) > 0)
		stride = atol(argv[3]);
	if (argc > 4 && atol(argv[4]) > 0)
		run = atol(argv[4]);
	pages = (mib << 20) / PG;
	buf = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gen = calloc(pages, sizeof(*gen));
	side = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || !gen || side == MAP_FAILED)
		return 2;
	for (size_t p = 0; p < pages; p++)
		write_page(buf, p, 0);
	for (size_t p = 0; p < 256; p++)
		write_page(side, p, 7);
	zd_ready();
	zd_wait_tick(tick);
	tick();
	check();
	return zd_finish();
}
