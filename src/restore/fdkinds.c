/* The descriptor kinds at restart, by type. Each kind's module (fd_KIND.c,
 * described by image/kinds/fd_KIND.h) defines its struct rst_fd_kind; this
 * table is the one place that lists them. */
#include "restore/fdkinds.h"
#include "restore/load.h"
#include "restore/set.h"
#include "restore/shares.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>

extern const struct rst_fd_kind rst_fd_file, rst_fd_dir, rst_fd_chardev, rst_fd_stdio,
    rst_fd_runtime, rst_fd_external, rst_fd_pipe, rst_fd_eventfd, rst_fd_timerfd, rst_fd_signalfd,
    rst_fd_epoll, rst_fd_inotify, rst_fd_pidfd, rst_fd_memfd, rst_fd_mqueue, rst_fd_unix,
    rst_fd_inet, rst_fd_fifo, rst_fd_kind_pty_master, rst_fd_kind_pty_slave, rst_fd_kind_tty;

static const struct rst_fd_kind *const kinds[] = {
    &rst_fd_file,
    &rst_fd_dir,
    &rst_fd_chardev,
    &rst_fd_stdio,
    &rst_fd_runtime,
    &rst_fd_external,
    &rst_fd_pipe,
    &rst_fd_eventfd,
    &rst_fd_timerfd,
    &rst_fd_signalfd,
    &rst_fd_epoll,
    &rst_fd_inotify,
    &rst_fd_pidfd,
    &rst_fd_memfd,
    &rst_fd_mqueue,
    &rst_fd_unix,
    &rst_fd_inet,
    &rst_fd_fifo,
    &rst_fd_kind_pty_master,
    &rst_fd_kind_pty_slave,
    &rst_fd_kind_tty,
    NULL,
};

const struct rst_fd_kind *rst_fd_kind(uint32_t type)
{
	for (size_t k = 0; kinds[k]; k++)
		if (kinds[k]->type == type)
			return kinds[k];
	return NULL;
}

static int late_pass(const struct rst_set *set, int i, int pass)
{
	const struct rst_image *img = &set->img[i];
	for (uint32_t k = 0; k < img->nfds; k++) {
		const struct img_fd *d = &img->fds[k];
		const struct rst_fd_kind *kind = rst_fd_kind(d->type);
		if (d->share >= 0 || !kind || !kind->late || kind->late_pass != pass)
			continue;
		int own = rst_share_late(set, i, d); /* a share: its owner's step only */
		if (!own ||
		    (own < 0 && d->parent_fd1 && set->parent[i] >= 0 && !kind->late_inherited))
			continue;
		if (kind->late(set, i, d, rst_fdx(img, d)) < 0)
			return error("cannot finish restoring fd %d (%s) of pid %u: %s", d->fd,
				     img_fd_type_name(d->type), img->proc->pid, strerror(errno));
	}
	return 0;
}

int rst_fds_late(const struct rst_set *set, int i)
{
	return late_pass(set, i, 0) < 0 || late_pass(set, i, 1) < 0 ? -1 : 0;
}
