/* sort.c: heapsort that allocates nothing (safe while threads are stopped). */
#ifndef STASIS_RUNTIME_SORT_H
#define STASIS_RUNTIME_SORT_H

#include <stddef.h>

void rt_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
