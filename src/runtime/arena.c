/* Checkpoint-time memory: one reserved mapping, bump-allocated and reset after
 * each checkpoint. Nothing here touches the application's malloc, and the
 * arena's pages are never stored in an image (mem.c skips them). */
#include "runtime/arena.h"
#include "common/fault.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define ARENA_SIZE (4ull << 30) /* reserved NORESERVE: pages cost only when used */

static char *arena;
static size_t arena_used;

/* A flag no application mapping has (VM_DONTDUMP) keeps the kernel from
 * merging the arena with an adjacent anonymous mapping of the same protection
 * (jemalloc's extents are MAP_NORESERVE too): merged, the two were one line of
 * /proc/self/maps before a checkpoint and two after the restart, which moves
 * them separately. Set again after a restart, whose arena is a new mapping.
 * Core dumps lose nothing of the program's by it. */
static void keep_apart(void)
{
	if (arena)
		madvise(arena, ARENA_SIZE, MADV_DONTDUMP);
}

int rt_arena_init(void)
{
	arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (arena == MAP_FAILED) {
		arena = NULL;
		return -1;
	}
	keep_apart();
	return 0;
}

void *rt_alloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	if (!arena || size > ARENA_SIZE - arena_used || fault_hit(FAULT_RT_ALLOC))
		return errno = ENOMEM, NULL;
	void *p = arena + arena_used;
	arena_used += size;
	return p;
}

void rt_arena_reset(void)
{
	/* give the pages back: the next checkpoint starts from zero-filled memory */
	if (arena && arena_used)
		madvise(arena, (arena_used + 4095) & ~4095ull, MADV_DONTNEED);
	arena_used = 0;
	keep_apart();
}

int rt_arena_contains(uint64_t addr, uint64_t *start, uint64_t *end)
{
	uint64_t a = (uint64_t)(uintptr_t)arena;
	*start = a;
	*end = a + ARENA_SIZE;
	return arena && addr >= a && addr < a + ARENA_SIZE;
}
