/* Objects several processes of a restarted set hold: each is created once, by
 * the nearest common ancestor of its holders, before that process forks, at
 * two fixed descriptor numbers all of them inherit. The descriptor kinds of
 * fdkinds.c (pipes, sockets, FIFOs ...) register theirs from their `scan`
 * step, shm.c its shared memory objects. */
#include "restore/objs.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/set.h"
#include "restore/shares.h"
#include "restore/shm.h"
#include "restore/sysv.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ancestor_or_self(const struct rst_set *set, int a, int h)
{
	for (; h >= 0; h = set->parent[h])
		if (h == a)
			return 1;
	return 0;
}

static int obj_index(const struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev)
{
	for (int k = 0; k < set->nobjs; k++)
		if (set->objs[k].kind == kind && set->objs[k].ino == ino && set->objs[k].dev == dev)
			return k;
	return -1;
}

struct rst_obj *rst_obj_get(struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev,
			    int holder, rst_obj_create_fn create)
{
	int k = obj_index(set, kind, ino, dev);
	if (k < 0) {
		struct rst_obj *grown = realloc(set->objs, sizeof(*grown) * (set->nobjs + 1));
		if (!grown)
			return NULL;
		set->objs = grown;
		k = set->nobjs++;
		set->objs[k] = (struct rst_obj){
		    .kind = kind, .ino = ino, .dev = dev, .creator = holder, .create = create};
	}
	struct rst_obj *o = &set->objs[k];
	while (o->creator >= 0 && !ancestor_or_self(set, o->creator, holder))
		o->creator = set->parent[o->creator];
	return o;
}

int rst_obj_fd(const struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev, int end)
{
	int k = obj_index(set, kind, ino, dev);
	if (k < 0) {
		errno = ENOENT;
		return -1;
	}
	return set->base + 3 + 2 * set->n + 2 * k + !!end;
}

static int scan_kinds(struct rst_set *set, int i, char *err, size_t errlen)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		const struct rst_fd_kind *kind = rst_fd_kind(d->type);
		if (d->share >= 0 || !kind || !kind->scan)
			continue;
		if (kind->scan(set, i, d, rst_fdx(img, d), err, errlen) < 0)
			return -1;
	}
	return 0;
}

int rst_objs_find(struct rst_set *set, char *err, size_t errlen)
{
	for (int i = 0; i < set->n; i++) {
		if (scan_kinds(set, i, err, errlen) < 0 || rst_shm_scan(set, i, err, errlen) < 0)
			return -1;
	}
	return rst_shares_find(set, err, errlen); /* made from the objects above */
}

/* Move fd to number want (closing whatever the caller had there). */
static int place_at(int fd, int want)
{
	if (fd < 0 || fd == want)
		return 0;
	if (dup3(fd, want, O_CLOEXEC) < 0)
		return -1;
	close(fd);
	return 0;
}

int rst_objs_create(const struct rst_set *set, int i)
{
	for (int k = 0; k < set->nobjs; k++) {
		const struct rst_obj *o = &set->objs[k];
		int fd[2] = {-1, -1}, at = set->base + 3 + 2 * set->n + 2 * k;
		if (o->creator != i || o->early)
			continue;
		if (o->create(set, o, fd) < 0 || place_at(fd[0], at) < 0 ||
		    place_at(fd[1], at + 1) < 0)
			return error("cannot recreate a shared %s (inode %llu, %llu bytes in "
				     "flight): %s",
				     img_fd_type_name(o->kind), (unsigned long long)o->ino,
				     (unsigned long long)o->len, strerror(errno));
	}
	return 0;
}
