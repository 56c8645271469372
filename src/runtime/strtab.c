/* The image's string table (strtab.h). */
#include "runtime/strtab.h"
#include "runtime/arena.h"

#include <string.h>

#define STRTAB_MAX (16u << 20)

uint32_t rt_str_add(struct rt_strtab *t, const char *s)
{
	size_t n = strlen(s) + 1;
	if (!t->buf) {
		t->buf = rt_alloc(STRTAB_MAX);
		t->cap = t->buf ? STRTAB_MAX : 0;
		t->len = 1; /* offset 0 is the empty string */
	}
	if (!t->buf || n > t->cap - t->len)
		return 0;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return t->len - n;
}
