/* Sorting without memory: glibc's qsort may call malloc, and the checkpoint
 * sorts while the program's threads are stopped (one may hold malloc's lock). */
#include "runtime/sort.h"

#include <stdint.h>
#include <string.h>

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		unsigned char t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

static void sift(unsigned char *v, size_t at, size_t n, size_t size,
		 int (*cmp)(const void *, const void *))
{
	for (size_t c; (c = 2 * at + 1) < n; at = c) {
		if (c + 1 < n && cmp(v + c * size, v + (c + 1) * size) < 0)
			c++;
		if (cmp(v + at * size, v + c * size) >= 0)
			return;
		swap_bytes(v + at * size, v + c * size, size);
	}
}

void rt_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	unsigned char *v = base;
	for (size_t k = n / 2; k-- > 0;)
		sift(v, k, n, size, cmp);
	for (size_t end = n; end-- > 1;) {
		swap_bytes(v, v + end * size, size);
		sift(v, 0, end, size, cmp);
	}
}
