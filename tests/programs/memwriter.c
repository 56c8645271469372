/* memwriter VERIFY MIB [THREADS]: threads rewrite all their memory as fast as
 * they can, so that a checkpoint that lets the program run on (a forked
 * writer, huge pages split under it) must store each page exactly as it was
 * at the stop.
 *
 * Each thread owns a slice of pages and rewrites it pass after pass: page i
 * of pass g holds tag(g, i) in every word. Before it overwrites a page it
 * checks that the page holds the previous pass's tag; after it has written
 * page i it publishes pos = i + 1 (and at the end of a slice, g + 1 and 0).
 * An image with a page from after the stop (or from before it) makes the
 * restored thread find a wrong tag within one pass. At verify: every thread
 * completes one more whole pass, stops at a page boundary, and the slice
 * must hold tag(g, i) below pos and tag(g - 1, i) from pos on. */
#include "zdtm.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
#define MAX_THREADS 16

struct slice {
	uint64_t *mem;
	size_t pages;
	volatile uint64_t gen, pos, passes;
	volatile int stop, stopped;
	volatile int bad;
	char why[200];
	pthread_t t;
};

static struct slice sl[MAX_THREADS];

static uint64_t tag(uint64_t g, uint64_t i, uint64_t k)
{
	return ((g << 40) ^ (i << 12) ^ k) * 0x9e3779b97f4a7c15ull;
}

static int holds(const uint64_t *p, uint64_t g, size_t i)
{
	for (size_t k = 0; k < WORDS; k++)
		if (p[k] != tag(g, i, k))
			return 0;
	return 1;
}

static void *writer(void *arg)
{
	struct slice *s = arg;
	while (!s->stop) {
		size_t i = s->pos;
		uint64_t *p = s->mem + i * WORDS;
		if (!s->bad && !holds(p, s->gen - 1, i)) {
			snprintf(s->why, sizeof(s->why),
				 "page %zu of pass %llu held %#llx, not pass %llu's tag", i,
				 (unsigned long long)s->gen, (unsigned long long)p[0],
				 (unsigned long long)s->gen - 1);
			s->bad = 1;
		}
		for (size_t k = 0; k < WORDS; k++)
			p[k] = tag(s->gen, i, k);
		__atomic_store_n(&s->pos, i + 1, __ATOMIC_RELEASE);
		if (i + 1 == s->pages) {
			s->gen++;
			s->passes++;
			__atomic_store_n(&s->pos, 0, __ATOMIC_RELEASE);
		}
	}
	s->stopped = 1;
	return NULL;
}

static void verify(struct slice *s, int n)
{
	uint64_t passes = s->passes;
	for (int w = 0; s->passes < passes + 1 && w < 60000; w++)
		zd_sleep_ms(1);
	zd_check(s->passes >= passes + 1, "slice %d made no whole pass in 60 s", n);
	s->stop = 1;
	for (int w = 0; !s->stopped && w < 10000; w++)
		zd_sleep_ms(1);
	zd_check(s->stopped, "slice %d did not stop", n);
	zd_check(!s->bad, "slice %d: %s", n, s->why);
	for (size_t i = 0; i < s->pages && s->stopped; i++)
		if (!holds(s->mem + i * WORDS, i < s->pos ? s->gen : s->gen - 1, i)) {
			zd_fail("slice %d: page %zu does not hold pass %llu's tag (pos %llu)", n, i,
				(unsigned long long)(i < s->pos ? s->gen : s->gen - 1),
				(unsigned long long)s->pos);
			break;
		}
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
	int threads = argc > 3 ? atoi(argv[3]) : 2;
	if (threads < 1 || threads > MAX_THREADS || !mib)
		return 2;
	size_t len = mib << 20, huge = 2u << 20;
	/* 2 MiB-aligned, so that whole huge pages fit */
	uint8_t *raw =
	    mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 2;
	uint64_t *mem = (uint64_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	size_t per = len / PAGE / threads;
	for (int t = 0; t < threads; t++) {
		struct slice *s = &sl[t];
		s->mem = mem + (size_t)t * per * WORDS;
		s->pages = per;
		for (size_t i = 0; i < per; i++)
			for (size_t k = 0; k < WORDS; k++)
				s->mem[i * WORDS + k] = tag(0, i, k);
		s->gen = 1;
	}
	for (int t = 0; t < threads; t++)
		if (pthread_create(&sl[t].t, NULL, writer, &sl[t]) != 0)
			return 2;
	zd_ready();
	zd_wait();
	for (int t = 0; t < threads; t++)
		verify(&sl[t], t);
	return zd_finish();
}
