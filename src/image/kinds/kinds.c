/* The table of every kind (kind.h): this is the one place that lists them. */
#include "image/kinds/kind.h"

#include <string.h>

extern const struct img_kind img_kind_file, img_kind_dir, img_kind_chardev, img_kind_files,
    img_kind_pipe, img_kind_stdio, img_kind_runtime, img_kind_external, img_kind_unix,
    img_kind_inet, img_kind_fifo, img_kind_eventfd, img_kind_timerfd, img_kind_signalfd,
    img_kind_epoll, img_kind_inotify, img_kind_pidfd, img_kind_memfd, img_kind_mqueue,
    img_kind_pty_master, img_kind_pty_slave, img_kind_tty, img_kind_zombie, img_kind_lock,
    img_kind_share, img_kind_ipc, img_kind_member, img_kind_origin, img_kind_plugin;

const struct img_kind *const img_kinds[] = {
    &img_kind_file,	  &img_kind_dir,       &img_kind_chardev,
    &img_kind_stdio,	  &img_kind_runtime,   &img_kind_external,
    &img_kind_pipe,	  &img_kind_unix,      &img_kind_fifo,
    &img_kind_inet,	  &img_kind_eventfd,   &img_kind_timerfd,
    &img_kind_signalfd,	  &img_kind_epoll,     &img_kind_inotify,
    &img_kind_pidfd,	  &img_kind_memfd,     &img_kind_mqueue,
    &img_kind_pty_master, &img_kind_pty_slave, &img_kind_tty,
    &img_kind_files,	  &img_kind_zombie,    &img_kind_lock,
    &img_kind_share,	  &img_kind_ipc,       &img_kind_member,
    &img_kind_origin,	  &img_kind_plugin,    NULL,
};

const struct img_kind *img_fd_kind(uint32_t t)
{
	for (size_t k = 0; t && img_kinds[k]; k++)
		if (img_kinds[k]->fd_type == t)
			return img_kinds[k];
	return NULL;
}

const struct img_kind *img_section_kind(uint32_t s)
{
	for (size_t k = 0; img_kinds[k]; k++)
		if (img_kinds[k]->section == s && !img_kinds[k]->fd_type)
			return img_kinds[k];
	return NULL;
}

const char *img_fd_type_name(uint32_t type)
{
	const struct img_kind *k = img_fd_kind(type);
	return k ? k->name : "unknown";
}

const char *img_view_str(const struct img_view *v, uint32_t off)
{
	return off < v->strings_len ? v->strings + off : "";
}

int img_view_has_str(const struct img_view *v, uint32_t off)
{
	return off < v->strings_len && v->strings[off];
}

const struct img_fd *img_view_fd(const struct img_view *v, int fd)
{
	uint32_t lo = 0, hi = v->nfds;
	while (lo < hi) { /* the table is in increasing fd order (restore/load.c) */
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->fds[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->nfds && v->fds[lo].fd == fd ? &v->fds[lo] : NULL;
}

int img_view_has_data(const struct img_view *v, uint64_t off, uint64_t len)
{
	return off <= v->filedata_len && len <= v->filedata_len - off;
}
