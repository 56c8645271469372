/* objs.c: objects several processes of a restarted set hold (struct rst_obj
 * in set.h): each is created once, by the nearest common ancestor of its
 * holders, before that process forks, at two fixed descriptor numbers all of
 * them inherit. */
#ifndef STASIS_RESTORE_OBJS_H
#define STASIS_RESTORE_OBJS_H

#include "restore/set.h"

#include <stddef.h>
#include <stdint.h>

/* The object (kind, ino, dev), held by process `holder`, added if new (with
 * `create`); its creator moves up to a common ancestor of all holders. */
struct rst_obj *rst_obj_get(struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev,
			    int holder, rst_obj_create_fn create);
/* The fixed number of end `end` (0 or 1) of an object, or -1 (ENOENT) */
int rst_obj_fd(const struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev, int end);
/* Find every object of the set (pipes and the kinds' scanners) */
int rst_objs_find(struct rst_set *set, char *err, size_t errlen);
/* Create the objects process i (-1: PID 1) must create, at their numbers
 * (not those restart made early: already there) */
int rst_objs_create(const struct rst_set *set, int i);

#endif
