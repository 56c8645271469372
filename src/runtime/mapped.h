/* mapped.c: the memory a restart mapped from its image (restore/mapimg.c),
 * which the madvise wrapper keeps from being dropped; each line of
 * /proc/self/maps (read without malloc); whether a line is a private mapping
 * of a stasis image (its range and protection). */
#ifndef STASIS_RUNTIME_MAPPED_H
#define STASIS_RUNTIME_MAPPED_H

#include <stdint.h>

void rt_maps_lines(void (*fn)(const char *line, void *arg), void *arg);
int rt_image_mapping(const char *line, uint64_t *s, uint64_t *e, int *prot);

#endif
