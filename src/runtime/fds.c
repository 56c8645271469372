/* The process's descriptors: each one's number, flags, the description it
 * shares (with its own dups, with its parent's descriptors: fd_order.c; with
 * other processes': shares.c), and its kind, which records it (fdkinds.c).
 * Whatever cannot be restored yet is refused here, at checkpoint time, with
 * a message that names it. */
#include "runtime/fds.h"
#include "image/kinds/kind.h"
#include "restore/blob/restart_info.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/dirty.h"
#include "runtime/exec.h"
#include "runtime/fd_order.h"
#include "runtime/fd_owner.h"
#include "runtime/fd_sock.h"
#include "runtime/shares.h"
#include "runtime/fdkinds.h"
#include "runtime/state.h"
#include "runtime/libc.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FDX_MAX (1ull << 30) /* address space of the arena, used as needed */

static const char *type_name(mode_t m)
{
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISFIFO(m))
		return "a pipe";
	if (S_ISBLK(m))
		return "a block device";
	return "an unsupported kind of file";
}

/* The first kind that takes the descriptor records it (fdkinds.c). */
static int classify_fd(struct img_fd *e, int fd, const char *link, const struct stat *st,
		       struct rt_fds *fds, struct rt_files *files, struct rt_strtab *tab, char *err,
		       size_t errlen)
{
	struct rt_fd_ctx c = {e, fd, link, st, fds, files, tab, err, errlen};
	int taken = rt_fd_kinds_dump(&c);
	if (taken)
		return taken < 0 ? -1 : 0;
	return errf(err, errlen,
		    "pid %d fd %d is %s (%s): not supported yet; close it before checkpointing or "
		    "see docs/supported.md",
		    getpid(), fd, type_name(st->st_mode), link);
}

/* Our descriptors in description order (fd_order.c); for each fd up to maxfd,
 * the lowest fd of its open file description and the index in out->fds of
 * its entry (-1: none yet). */
struct fd_order {
	struct rt_fdesc *v;
	int n, maxfd;
	int *lowest, *entry;
};

static int order_fds(struct fd_order *o, const int *list, int n)
{
	o->maxfd = n ? list[n - 1] : 0;
	o->v = rt_alloc(RT_FDS_MAX * sizeof(*o->v));
	o->lowest = rt_alloc((o->maxfd + 1) * sizeof(int));
	o->entry = rt_alloc((o->maxfd + 1) * sizeof(int));
	int *scratch = rt_alloc(RT_FDS_MAX * sizeof(int));
	if (!o->v || !o->lowest || !o->entry || !scratch)
		return -1;
	for (int fd = 0; fd <= o->maxfd; fd++)
		o->lowest[fd] = fd, o->entry[fd] = -1;
	o->n = rt_fds_sorted_known(getpid(), o->v, scratch, RT_FDS_MAX);
	for (int k = 0; k < o->n; k++) /* a run starts with its lowest fd */
		if (o->v[k].fd <= o->maxfd)
			o->lowest[o->v[k].fd] = o->v[o->v[k].first].fd;
	return o->n < 0 ? -1 : 0;
}

/* The entry of a lower descriptor of fd's open file description, or -1. */
static int dup_entry(const struct fd_order *o, int fd)
{
	return fd <= o->maxfd && o->lowest[fd] < fd ? o->entry[o->lowest[fd]] : -1;
}

/* fd's /proc/self/fd link in link: 0, or -1 with errno. Another description
 * of a regular file already recorded (10000 of one file) is named by its
 * record instead (readlink of /proc/self/fd/N: 2 us): a file's record keeps
 * one path, the one the restart opens for all of them, and the kind of its
 * descriptions does not depend on which. Not so for the file system's own
 * (memfd, message queue) and objects of other kinds. */
static int fd_link(int fd, const struct stat *st, struct rt_files *files,
		   const struct rt_strtab *tab, char *link, size_t size)
{
	char path[64];
	int i = S_ISREG(st->st_mode) ? rt_file_find(files, st->st_dev, st->st_ino, 0) : -1;
	const struct img_file *r = i >= 0 ? &files->files[i] : NULL;
	if (r && !(r->flags & (IMG_FILE_PIPE | IMG_FILE_SHMEM | IMG_FILE_SYSV)) &&
	    rt_fd_fstype(fd, st) != MQUEUE_MAGIC) {
		snprintf(link, size, "%s%s", tab->buf + r->path_str,
			 (r->flags & IMG_FILE_DELETED) ? " (deleted)" : "");
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, size - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	return 0;
}

static int dump_one(struct rt_fds *out, int fd, int dup, struct rt_files *files,
		    struct rt_strtab *tab, char *err, size_t errlen)
{
	char link[PATH_MAX];
	struct stat st;
	struct img_fd *e = &out->fds[out->n];
	int fd_flags = fcntl(fd, F_GETFD);
	if (dup >= 0 && out->fds[dup].type != IMG_FD_RUNTIME) { /* its lowest said it all */
		*e = out->fds[dup];
		e->fd = fd;
		e->fd_flags = fd_flags;
		e->share = out->fds[dup].share >= 0 ? out->fds[dup].share : out->fds[dup].fd;
		out->n++;
		return 0;
	}
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->file = -1;
	e->share = -1;
	e->open_flags = fcntl(fd, F_GETFL);
	e->fd_flags = fd_flags;
	if (fstat(fd, &st) < 0 || fd_link(fd, &st, files, tab, link, sizeof(link)) < 0)
		return errf(err, errlen, "cannot inspect fd %d: %s", fd, strerror(errno));
	if (fd == rt.coord_fd) {
		e->type = IMG_FD_RUNTIME;
		out->n++;
		return 0;
	}
	if (classify_fd(e, fd, link, &st, out, files, tab, err, errlen) < 0)
		return -1;
	rt_fd_owner_note(fd, e->open_flags); /* once per description: dups share it */
	out->n++;
	return 0;
}

/* fd shares the description that the parent holds at run[0..n) (sorted by
 * number): the restorer hands it down from the parent's fd of the same number
 * when there is one (the usual inheritance), else from its lowest. */
static void note_parent_fd(struct rt_fds *out, const struct fd_order *o, int fd,
			   const struct rt_fdesc *run, uint32_t n)
{
	int at = fd <= o->maxfd ? o->entry[fd] : -1;
	if (at < 0 || out->fds[at].type == IMG_FD_RUNTIME)
		return;
	int pfd = run[0].fd;
	for (uint32_t lo = 0, hi = n; lo < hi;) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (run[mid].fd == fd) {
			pfd = fd;
			break;
		}
		if (run[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	out->fds[at].parent_fd1 = pfd + 1;
}

/* The union of the checkpoint's lists said it (shares.c). */
static void parent_shares_known(struct rt_fds *out)
{
	for (uint32_t k = 0; k < out->n; k++) {
		int pfd;
		if (out->fds[k].type != IMG_FD_RUNTIME &&
		    rt_share_parent_fd(out->fds[k].fd, &pfd) && pfd >= 0)
			out->fds[k].parent_fd1 = pfd + 1;
	}
}

/* Which of our fds share an open file description with our parent's (inherited
 * across fork, or passed): the restorer then hands them down the same way
 * (only from a parent of the checkpoint: one outside it has no image). Both
 * lists in description order, merged, unless the sharing pass did it. */
static int find_parent_shares(struct rt_fds *out, const struct fd_order *o)
{
	uint32_t self = getpid(), ppid = getppid();
	const uint32_t *pids;
	if (rt_shares_parents_known()) {
		parent_shares_known(out);
		return 0;
	}
	if (rt_members(&pids) && !rt_is_member(ppid))
		return 0;
	struct rt_fdesc *pv = rt_alloc(RT_FDS_MAX * sizeof(*pv));
	int *scratch = rt_alloc(RT_FDS_MAX * sizeof(int));
	if (!pv || !scratch)
		return -1;
	int pn = rt_fds_sorted_known(ppid, pv, scratch, RT_FDS_MAX);
	for (uint32_t i = 0, j = 0; pn > 0 && i < (uint32_t)o->n && j < (uint32_t)pn;) {
		int c = rt_fdesc_cmp(self, &o->v[i], ppid, &pv[j]);
		uint32_t inext = rt_fdesc_next_run(o->v, i, o->n);
		uint32_t jnext = rt_fdesc_next_run(pv, j, pn);
		for (uint32_t k = i; !c && k < inext; k++)
			note_parent_fd(out, o, o->v[k].fd, pv + j, jnext - j);
		if (c <= 0)
			i = inext;
		if (c >= 0)
			j = jnext;
	}
	return 0;
}

int64_t rt_fdx_add2(struct rt_fds *out, uint32_t type, uint64_t ino, const void *head,
		    uint32_t hlen, const void *tail, uint64_t tlen, char *err, size_t errlen)
{
	uint64_t len = hlen + tlen, need = sizeof(struct img_fdx) + ((len + 7ull) & ~7ull);
	const struct img_kind *k = img_fd_kind(type);
	if (!k || !k->payload || len < k->size) /* the description says otherwise */
		return errf(err, errlen,
			    "pid %d: a record of descriptor type %u and %llu bytes, which its kind "
			    "(image/kinds/) does not take: a bug of the runtime",
			    getpid(), type, (unsigned long long)len);
	if (!out->fdx) {
		out->fdx = rt_alloc(FDX_MAX);
		out->fdx_cap = out->fdx ? FDX_MAX : 0;
	}
	if (len > UINT32_MAX || need > out->fdx_cap - out->fdx_len)
		return errf(err, errlen,
			    "pid %d: too much descriptor state for one image (over %llu bytes: "
			    "bytes in flight in sockets and pipes, queued messages)",
			    getpid(), (unsigned long long)FDX_MAX);
	int64_t at = out->fdx_len;
	struct img_fdx x = {.type = type, .len = (uint32_t)len, .ino = ino};
	memcpy(out->fdx + at, &x, sizeof(x));
	memcpy(out->fdx + at + sizeof(x), head, hlen);
	if (tlen)
		memcpy(out->fdx + at + sizeof(x) + hlen, tail, tlen);
	memset(out->fdx + at + sizeof(x) + len, 0, need - sizeof(x) - len);
	out->fdx_len += need;
	return at;
}

int64_t rt_fdx_add(struct rt_fds *out, uint32_t type, uint64_t ino, const void *payload,
		   uint32_t len, char *err, size_t errlen)
{
	return rt_fdx_add2(out, type, ino, payload, len, NULL, 0, err, errlen);
}

int rt_dump_fds(struct rt_fds *out, struct rt_files *files, struct rt_strtab *tab, char *err,
		size_t errlen)
{
	int *list = rt_alloc(RT_FDS_MAX * sizeof(int));
	int self = -1;
	out->fds = rt_alloc(RT_FDS_MAX * sizeof(struct img_fd));
	out->n = 0;
	out->fdx_len = 0;
	rt_fd_owner_reset();
	struct fd_order o;
	int n = list ? rt_list_own_fds(list, RT_FDS_MAX, &self) : -1;
	if (n < 0 || !out->fds)
		return errf(err, errlen, "cannot list /proc/self/fd: %s", strerror(errno));
	if (order_fds(&o, list, n) < 0)
		return errf(err, errlen,
			    "cannot sort the %d descriptors of pid %d by open file "
			    "description: %s",
			    n, (int)getpid(), strerror(errno));
	for (int i = 0; i < n; i++) {
		if (list[i] == self || list[i] == rt_dirty_fd())
			continue;
		o.entry[list[i]] = out->n;
		if (dump_one(out, list[i], dup_entry(&o, list[i]), files, tab, err, errlen) < 0)
			return -1;
	}
	if (find_parent_shares(out, &o) < 0)
		return snprintf(err, errlen,
				"cannot compare the descriptors of pid %d with its parent's: out "
				"of checkpoint memory",
				(int)getpid()),
		       -1;
	return rt_shares_dump(out, err, errlen);
}
