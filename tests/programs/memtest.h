/* What the memory test programs (mem_*.c) share: a byte pattern to fill and
 * check regions with, whether an access faults, and how a region appears in
 * /proc/self/maps. */
#ifndef STASIS_TESTS_MEMTEST_H
#define STASIS_TESTS_MEMTEST_H

#include "zdtm.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#define PG 4096UL
#define MiB (1024UL * 1024)
#define GiB (1024UL * MiB)

__attribute__((unused)) static uint8_t pat(uintptr_t i, unsigned seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)seed * 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (uint8_t)(x ^ (x >> 17));
}

__attribute__((unused)) static void fill(void *p, size_t n, unsigned seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pat(i, seed);
}

/* index of the first byte that differs from the pattern, or -1 */
__attribute__((unused)) static long check(const void *p, size_t n, unsigned seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(i, seed))
			return (long)i;
	return -1;
}

__attribute__((unused)) static long check_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return (long)i;
	return -1;
}

#define CHECK_PAT(p, n, seed, what)                                                                \
	do {                                                                                       \
		long at_ = check((p), (n), (seed));                                                \
		zd_check(at_ < 0, "%s: byte %ld differs", (what), at_);                            \
	} while (0)

/* ---- faults: does a write/read at addr raise SIGSEGV? (mt_catch_faults first) ---- */
static sigjmp_buf mt_fault_jmp;
static volatile int mt_faulted;

__attribute__((unused)) static void mt_on_segv(int sig)
{
	(void)sig;
	mt_faulted = 1;
	siglongjmp(mt_fault_jmp, 1);
}

__attribute__((unused)) static void mt_catch_faults(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mt_on_segv;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
}

__attribute__((unused)) static int write_faults(volatile uint8_t *addr)
{
	mt_faulted = 0;
	if (!sigsetjmp(mt_fault_jmp, 1))
		*addr = 0x5a;
	return mt_faulted;
}

__attribute__((unused)) static int read_faults(volatile uint8_t *addr)
{
	mt_faulted = 0;
	if (!sigsetjmp(mt_fault_jmp, 1))
		(void)*addr;
	return mt_faulted;
}

/* ---- /proc/self/maps: the mapping that holds addr ---- */
__attribute__((unused)) static int maps_line(void *addr, uintptr_t *start, uintptr_t *end,
					     char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &s, &e, p) != 3)
			continue;
		if ((uintptr_t)addr >= s && (uintptr_t)addr < e) {
			*start = s;
			*end = e;
			memcpy(perms, p, 5);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

__attribute__((unused)) static int is_mapped(void *addr)
{
	unsigned char v;
	return mincore((void *)((uintptr_t)addr & ~(PG - 1)), PG, &v) == 0;
}

#endif
