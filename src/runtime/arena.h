/* arena.c: checkpoint-time memory that never touches the program's malloc
 * (mmap'd once, reset after each checkpoint). */
#ifndef STASIS_RUNTIME_ARENA_H
#define STASIS_RUNTIME_ARENA_H

#include <stddef.h>
#include <stdint.h>

int rt_arena_init(void);
void *rt_alloc(size_t size);
void rt_arena_reset(void);
/* Whether addr is in the arena; its bounds in *start, *end. */
int rt_arena_contains(uint64_t addr, uint64_t *start, uint64_t *end);

#endif
