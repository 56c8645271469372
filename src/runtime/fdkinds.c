/* The descriptor kinds, each defined in its own module (fd_KIND.c, described
 * by image/kinds/fd_KIND.h); this table is the one place that lists them. */
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "runtime/state.h"

#include <stddef.h>
#include <sys/statfs.h>

#define FSTYPES 8

extern const struct rt_fd_kind rt_fd_kind_tty, rt_fd_pipe, rt_fd_stdio, rt_fd_memfd, rt_fd_mqueue,
    rt_fd_file, rt_fd_external, rt_fd_unix, rt_fd_inet, rt_fd_fifo, rt_fd_eventfd, rt_fd_timerfd,
    rt_fd_signalfd, rt_fd_epoll, rt_fd_inotify, rt_fd_pidfd;

/* In the order they are tried: ptys before other terminals, a pipe of the
 * computation before one from outside, memfd and mqueue before files. */
static const struct rt_fd_kind *const kinds[] = {
    &rt_fd_kind_tty, &rt_fd_pipe,  &rt_fd_stdio,   &rt_fd_memfd, &rt_fd_mqueue,	 &rt_fd_file,
    &rt_fd_external, &rt_fd_unix,  &rt_fd_inet,	   &rt_fd_fifo,	 &rt_fd_eventfd, &rt_fd_timerfd,
    &rt_fd_signalfd, &rt_fd_epoll, &rt_fd_inotify, &rt_fd_pidfd, NULL,
};

int rt_fd_kinds_dump(struct rt_fd_ctx *c)
{
	for (size_t k = 0; kinds[k]; k++) {
		if (!kinds[k]->match(c->fd, c->link, c->st))
			continue;
		return kinds[k]->dump(c) < 0 ? -1 : 1;
	}
	return 0;
}

/* The last devices asked about, for one checkpoint. */
static struct {
	uint64_t key, dev;
	long type;
} fstypes[FSTYPES];
static unsigned next_fstype;

long rt_fd_fstype(int fd, const struct stat *st)
{
	uint64_t key = rt.comp_id ^ ((uint64_t)rt.gen << 40) ^ 1;
	struct statfs sfs;
	for (unsigned k = 0; k < FSTYPES; k++)
		if (fstypes[k].key == key && fstypes[k].dev == (uint64_t)st->st_dev)
			return fstypes[k].type;
	if (fstatfs(fd, &sfs) < 0)
		return 0;
	fstypes[next_fstype++ % FSTYPES] = (typeof(fstypes[0])){key, st->st_dev, (long)sfs.f_type};
	return (long)sfs.f_type;
}

int rt_fd_record(struct rt_fd_ctx *c, uint32_t type, uint64_t ino, const void *p, uint32_t len)
{
	return rt_fd_record2(c, type, ino, p, len, NULL, 0);
}

int rt_fd_record2(struct rt_fd_ctx *c, uint32_t type, uint64_t ino, const void *head, uint32_t hlen,
		  const void *tail, uint64_t tlen)
{
	int64_t at = rt_fdx_add2(c->fds, type, ino, head, hlen, tail, tlen, c->err, c->errlen);
	if (at < 0)
		return -1;
	c->e->type = type;
	c->e->pos = at;
	return 0;
}
