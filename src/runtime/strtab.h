/* strtab.c: the image's string table (IMG_SEC_STRINGS), built in checkpoint
 * memory; records name strings by their offset in it. */
#ifndef STASIS_RUNTIME_STRTAB_H
#define STASIS_RUNTIME_STRTAB_H

#include <stdint.h>

struct rt_strtab {
	char *buf;
	uint32_t len, cap;
};
/* The offset of s in the table (added), 0 if it is full. */
uint32_t rt_str_add(struct rt_strtab *t, const char *s);

#endif
