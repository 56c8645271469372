/* A set of images restarted together: who is whose parent, and the fixed
 * descriptor layout every restorer process relies on. */
#include "restore/tree.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/io.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int check_members(struct rst_set *set, char *err, size_t errlen)
{
	const struct img_header *h0 = &set->img[0].r.hdr;
	for (int i = 0; i < set->n; i++) {
		const struct img_header *h = &set->img[i].r.hdr;
		if (h->comp_id != h0->comp_id || h->gen != h0->gen)
			return errf(err, errlen,
				    "%s and %s are not of the same checkpoint (computation "
				    "%016llx generation %u, and %016llx generation %u)",
				    set->img[0].r.path, set->img[i].r.path,
				    (unsigned long long)h0->comp_id, h0->gen,
				    (unsigned long long)h->comp_id, h->gen);
		if (h->nprocs != (uint32_t)set->n && !(set->part && h->nprocs > (uint32_t)set->n))
			return errf(err, errlen,
				    "%s is one of %u processes, but %d image%s given: give every "
				    "image of generation %u (or use --dir; a part of them, whose "
				    "other processes are restarted on other hosts: with "
				    "--coord-host or --wait)",
				    set->img[i].r.path, h->nprocs, set->n,
				    set->n == 1 ? " was" : "s were", h->gen);
		for (int j = 0; j < i; j++)
			if (set->img[j].proc->pid == set->img[i].proc->pid)
				return errf(err, errlen, "%s and %s are the same process %u",
					    set->img[j].r.path, set->img[i].r.path,
					    set->img[i].proc->pid);
	}
	return 0;
}

static void find_parents(struct rst_set *set)
{
	for (int i = 0; i < set->n; i++) {
		set->parent[i] = -1;
		for (int j = 0; j < set->n; j++)
			if (j != i && set->img[j].proc->pid == set->img[i].proc->ppid)
				set->parent[i] = j;
	}
}

/* Move fd to number want (closing whatever the caller had there). */
static int place_at(int fd, int want)
{
	if (fd == want)
		return 0;
	if (dup3(fd, want, O_CLOEXEC) < 0)
		return -1;
	close(fd);
	return 0;
}

/* The fixed layout may go beyond the soft RLIMIT_NOFILE (many shared
 * objects, e.g. TCP connections): raise it, up to the hard limit. The
 * processes get theirs back last (spawn.c). */
static int room_for_fds(int need, char *err, size_t errlen)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0 || r.rlim_cur >= (rlim_t)need)
		return 0;
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < (rlim_t)need)
		return snprintf(
			   err, errlen,
			   "the restart needs %d descriptors, more than its hard limit (%llu): "
			   "raise it (ulimit -Hn)",
			   need, (unsigned long long)r.rlim_max),
		       -1;
	r.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0)
		return snprintf(err, errlen, "cannot raise the descriptor limit to %d: %s", need,
				strerror(errno)),
		       -1;
	return 0;
}

int rst_set_check(struct rst_set *set, char *err, size_t errlen)
{
	if (check_members(set, err, errlen) < 0)
		return -1;
	find_parents(set);
	return rst_objs_find(set, err, errlen);
}

int rst_set_layout(struct rst_set *set, char *err, size_t errlen)
{
	int maxfd = 2;
	for (int i = 0; i < set->n; i++) {
		const struct rst_image *img = &set->img[i];
		for (uint32_t k = 0; k < img->nfds; k++)
			if (img->fds[k].fd > maxfd)
				maxfd = img->fds[k].fd;
		if (img->r.fd > maxfd)
			maxfd = img->r.fd;
		if (set->conn[i].coord_fd > maxfd)
			maxfd = set->conn[i].coord_fd;
	}
	for (int k = 0; k < set->nobjs; k++)
		if (set->objs[k].early && set->objs[k].early_fd > maxfd)
			maxfd = set->objs[k].early_fd;
	set->base = maxfd + 16;
	set->top = set->base + 3 + 2 * set->n + 2 * set->nobjs;
	if (room_for_fds(set->top + 64 + 2 * set->nobjs, err, errlen) < 0) /* + fd_tcp.c's */
		return -1;
	for (int k = 0; k < 3; k++) {
		int fd = fcntl(k, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0 || place_at(fd, set->base + k) < 0)
			goto fail;
	}
	for (int i = 0; i < set->n; i++) {
		if (place_at(set->conn[i].coord_fd, set->base + 3 + i) < 0 ||
		    place_at(set->img[i].r.fd, set->base + 3 + set->n + i) < 0)
			goto fail;
		set->conn[i].coord_fd = set->base + 3 + i;
		set->img[i].r.fd = set->base + 3 + set->n + i;
	}
	for (int k = 0; k < set->nobjs; k++) {
		struct rst_obj *o = &set->objs[k];
		int at = set->base + 3 + 2 * set->n + 2 * k;
		if (!o->early)
			continue;
		if (place_at(o->early_fd, at) < 0)
			goto fail;
		o->early_fd = at;
	}
	return 0;
fail:
	return errf(err, errlen, "cannot arrange descriptors for the restart: %s", strerror(errno));
}
