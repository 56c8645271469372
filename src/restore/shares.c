/* Open file descriptions several processes hold, restored as one description
 * again. Each image names, per descriptor that another process holds too,
 * the description's owner: the lowest (pid, fd) holding it (IMG_SEC_SHARES).
 *
 * Most such descriptions come from fork and are handed down from parent to
 * child (img_fd.parent_fd1, fds.c), and that path is left as it is when it
 * reaches every holder. The others (passed between siblings with SCM_RIGHTS,
 * kept by two children after their parent closed it, inherited from a
 * grandparent by way of a parent that closed it) become a shared object
 * (objs.c): the nearest common ancestor of the holders makes it before it
 * forks, by running the owner's own open path for that descriptor, at a fixed
 * number every holder inherits and takes its descriptor from. Only the owner
 * then runs the kind's `late` step (an epoll's interest list, which names the
 * owner's descriptor numbers). */
#include "restore/shares.h"
#include "restore/fds.h"
#include "restore/load.h"
#include "restore/objs.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/shares.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE_KIND 0x53480000u /* rst_obj keys: ("SH" << 16) | fd type; ino, dev: owner */

/* Kinds whose description another process can make for the holders. Not:
 * pipes, sockets and eventfds (one description per object already, objs.c);
 * stdio, external and the runtime's connection (restart's own, per process);
 * terminals (opening one in another process could make it that process's
 * controlling terminal; fd_tty.c keeps sessions right); pidfds (the process
 * named may not exist yet when the ancestor forks). */
static int makeable(uint32_t type)
{
	switch (type) {
	case IMG_FD_REG:
	case IMG_FD_DIR:
	case IMG_FD_CHR:
	case IMG_FD_FIFO:
	case IMG_FD_TIMERFD:
	case IMG_FD_SIGNALFD:
	case IMG_FD_EPOLL:
	case IMG_FD_INOTIFY:
	case IMG_FD_MEMFD:
	case IMG_FD_MQUEUE:
		return 1;
	}
	return 0;
}

static const struct img_fd *find_fd(const struct rst_image *img, int fd)
{
	struct img_view v = rst_view(img);
	return img_view_fd(&v, fd);
}

static const struct img_share *find_share(const struct rst_image *img, int fd)
{
	uint32_t lo = 0, hi = img->nshares;
	while (lo < hi) { /* in increasing fd order too */
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->shares[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < img->nshares && img->shares[lo].fd == fd ? &img->shares[lo] : NULL;
}

/* One holder of a description: process i, its descriptor d. */
struct holder {
	int i;
	const struct img_share *s;
	const struct img_fd *d;
};

static int by_owner(const void *a, const void *b)
{
	const struct img_share *x = ((const struct holder *)a)->s,
			       *y = ((const struct holder *)b)->s;
	if (x->owner_pid != y->owner_pid)
		return x->owner_pid < y->owner_pid ? -1 : 1;
	return (x->owner_fd > y->owner_fd) - (x->owner_fd < y->owner_fd);
}

static int index_of(const struct rst_set *set, uint32_t pid)
{
	for (int i = 0; i < set->n; i++)
		if (set->img[i].proc->pid == pid)
			return i;
	return -1;
}

static int is_owner(const struct rst_set *set, int i, const struct img_share *s)
{
	return set->img[i].proc->pid == s->owner_pid && s->fd == s->owner_fd;
}

/* Made in the nearest common ancestor of the holders, as the owner makes it. */
static int make_shared(const struct rst_set *set, const struct rst_obj *o, int fd[2])
{
	const struct img_fd *d = o->priv;
	int m = index_of(set, (uint32_t)o->ino);
	fd[0] = m < 0 ? -1 : rst_fd_open(set, m, d);
	if (fd[0] < 0)
		return error("cannot make the open file description of pid %llu fd %d (%s), "
			     "which other processes share: %s",
			     (unsigned long long)o->ino, d->fd, img_fd_type_name(d->type),
			     strerror(errno));
	return 0;
}

/* Every holder gets its description from the parent: nothing to add. */
static int handed_down(const struct rst_set *set, const struct holder *h, int n)
{
	int tops = 0;
	for (int k = 0; k < n; k++)
		tops += set->parent[h[k].i] < 0 || !h[k].d->parent_fd1;
	return tops <= 1;
}

static int check_group(const struct rst_set *set, const struct holder *h, int n, char *err,
		       size_t errlen)
{
	for (int k = 0; k < n; k++)
		if (is_owner(set, h[k].i, h[k].s))
			return 0;
	return errf(err, errlen,
		    "the images do not agree: pid %u fd %d shares its open file description "
		    "with pid %u fd %d, which that process's image does not say; take a new "
		    "checkpoint",
		    set->img[h[0].i].proc->pid, h[0].s->fd, h[0].s->owner_pid, h[0].s->owner_fd);
}

/* Separate descriptions, as before, for kinds no other process can make or
 * when the holders did not record the same kind (a pipe from outside is
 * "stdio" on fd 1 and "external" on fd 5). */
static int makeable_group(const struct holder *h, int n)
{
	for (int k = 0; k < n; k++)
		if (h[k].d->type != h[0].d->type || !makeable(h[k].d->type))
			return 0;
	return 1;
}

static int add_group(struct rst_set *set, const struct holder *h, int n, char *err, size_t errlen)
{
	const struct img_fd *owner = NULL;
	if (check_group(set, h, n, err, errlen) < 0)
		return -1;
	if (n < 2 || handed_down(set, h, n) || !makeable_group(h, n))
		return 0;
	for (int k = 0; k < n; k++)
		if (is_owner(set, h[k].i, h[k].s))
			owner = h[k].d;
	for (int k = 0; k < n; k++) {
		struct rst_obj *o = rst_obj_get(set, SHARE_KIND | owner->type, h[k].s->owner_pid,
						(uint64_t)h[k].s->owner_fd, h[k].i, make_shared);
		if (!o)
			return errf(err, errlen, "out of memory");
		o->priv = owner;
	}
	return 0;
}

static int collect(const struct rst_set *set, struct holder *h)
{
	int n = 0;
	for (int i = 0; i < set->n; i++) {
		const struct rst_image *img = &set->img[i];
		for (uint32_t k = 0; k < img->nshares; k++)
			h[n++] =
			    (struct holder){i, &img->shares[k], find_fd(img, img->shares[k].fd)};
	}
	qsort(h, n, sizeof(*h), by_owner);
	return n;
}

int rst_shares_find(struct rst_set *set, char *err, size_t errlen)
{
	size_t total = 0;
	for (int i = 0; i < set->n; i++)
		total += set->img[i].nshares;
	struct holder *h = malloc((total + 1) * sizeof(*h));
	if (!h)
		return errf(err, errlen, "out of memory");
	int n = collect(set, h), rc = 0;
	for (int a = 0, b; a < n && rc == 0; a = b) {
		for (b = a + 1; b < n && by_owner(&h[a], &h[b]) == 0; b++)
			;
		rc = add_group(set, h + a, b - a, err, errlen);
	}
	free(h);
	return rc;
}

/* The object of d's description, or NULL when d is not such a share. */
static const struct img_share *share_of(const struct rst_set *set, int i, const struct img_fd *d,
					int *slot)
{
	const struct img_share *s = set->img[i].nshares ? find_share(&set->img[i], d->fd) : NULL;
	*slot =
	    s ? rst_obj_fd(set, SHARE_KIND | d->type, s->owner_pid, (uint64_t)s->owner_fd, 0) : -1;
	return *slot >= 0 ? s : NULL;
}

int rst_share_slot(const struct rst_set *set, int i, const struct img_fd *d)
{
	int slot;
	share_of(set, i, d, &slot);
	return slot;
}

int rst_share_late(const struct rst_set *set, int i, const struct img_fd *d)
{
	int slot;
	const struct img_share *s = share_of(set, i, d, &slot);
	return s ? is_owner(set, i, s) : -1;
}
