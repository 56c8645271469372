/* inotify at restart: a new instance with every watch on its saved path and
 * with its saved watch descriptor. The kernel hands out wds in increasing
 * order (cyclically) per instance: a wd below the wanted one is taken and
 * given back until the next one is the wanted one; the IN_IGNORED events
 * that produces are read away before the program sees the instance. */
#include "restore/fd_evutil.h"
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/set.h"
#include "common/log.h"
#include "image/kinds/fd_inotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_wd(const void *a, const void *b)
{
	const struct img_inotify_watch *x = a, *y = b;
	return (x->wd > y->wd) - (x->wd < y->wd);
}

/* Add the watch with exactly w->wd. */
static int add_watch(int fd, const struct img_inotify_watch *w, const char *path, uint32_t pid)
{
	struct stat st;
	uint32_t mask = w->mask & ~IN_MASK_ADD;
	int (*look)(const char *, struct stat *) = (mask & IN_DONT_FOLLOW) ? lstat : stat;
	if (look(path, &st) == 0 && (st.st_ino != w->ino || st.st_dev != w->dev))
		warn("pid %u: inotify watch %d: %s is another file than at the checkpoint", pid,
		     w->wd, path);
	for (;;) {
		int wd = inotify_add_watch(fd, path, mask);
		if (wd < 0 || wd == w->wd)
			return wd < 0 ? -1 : 0;
		if (wd > w->wd || inotify_rm_watch(fd, wd) < 0) {
			errno = EEXIST; /* the wanted wd was handed out already */
			return -1;
		}
	}
}

static void drain(int fd)
{
	char buf[4096];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int add_all(int fd, const struct rst_set *set, int i, struct img_inotify_watch *w,
		   uint32_t n)
{
	const struct rst_image *img = &set->img[i];
	qsort(w, n, sizeof(*w), by_wd);
	for (uint32_t k = 0; k < n; k++) {
		const char *path = rst_str(img, w[k].path_str);
		if (add_watch(fd, &w[k], path, img->proc->pid) < 0)
			return error("pid %u: cannot watch %s again with inotify (wd %d, mask "
				     "%#x): %s",
				     img->proc->pid, path, w[k].wd, w[k].mask, strerror(errno));
	}
	return 0;
}

static int open_inotify(const struct rst_set *set, int i, const struct img_fd *d,
			const struct img_fdx *x)
{
	const struct img_inotify *h = rst_fdx_payload(x); /* its watches fit: kinds/fd_inotify.c */
	struct img_inotify_watch *w = malloc(h->nwatches * sizeof(*w) + 1);
	int fd = w ? inotify_init1(IN_CLOEXEC | IN_NONBLOCK) : -1;
	if (fd < 0) {
		free(w);
		return -1;
	}
	memcpy(w, h + 1, h->nwatches * sizeof(*w));
	int rc = add_all(fd, set, i, w, h->nwatches);
	free(w);
	drain(fd);
	if (rc < 0 || fcntl(fd, F_SETFL, d->open_flags & O_NONBLOCK) < 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

const struct rst_fd_kind rst_fd_inotify = {.type = IMG_FD_INOTIFY, .open = open_inotify};
