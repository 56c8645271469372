/* File descriptors, the files behind them and behind file mappings, and the
 * string table of an image. Whatever cannot be restored yet is refused here,
 * at checkpoint time, with a message that names it. */
#include "runtime/rt.h"
#include "common/io.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STRTAB_MAX (16u << 20)
#define FILES_MAX 65536
#define FILEDATA_MAX (1ull << 30)
#define FDS_MAX 65536
#define FDX_MAX (1ull << 30) /* address space of the arena, used as needed */

uint32_t rt_str_add(struct rt_strtab *t, const char *s)
{
	size_t n = strlen(s) + 1;
	if (!t->buf) {
		t->buf = rt_alloc(STRTAB_MAX);
		t->cap = t->buf ? STRTAB_MAX : 0;
		t->len = 1; /* offset 0 is the empty string */
	}
	if (!t->buf || n > t->cap - t->len)
		return 0;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	return t->len - n;
}

static int file_find(struct rt_files *f, const struct stat *st)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (f->files[i].ino == st->st_ino && f->files[i].dev == st->st_dev)
			return i;
	return -1;
}

static int reopen_readable(int fd)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* A descriptor to read a deleted file through. One open write-only (a log
 * the program appends to) cannot be read: the file is opened again for
 * reading through its /proc/self/fd link. When its mode denies reading to
 * the owner (0200), read permission is lent for that open and taken back:
 * only the file's ctime shows it. Returns fd itself, a new descriptor the
 * caller closes, or -1 with errno set. */
static int readable_fd(int fd, const struct img_file *r)
{
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return fd;
	int rfd = reopen_readable(fd);
	if (rfd >= 0 || errno != EACCES || (r->mode & S_IRUSR))
		return rfd;
	if (fchmod(fd, (r->mode & 07777) | S_IRUSR) < 0) {
		errno = EACCES;
		return -1;
	}
	rfd = reopen_readable(fd);
	int e = errno;
	fchmod(fd, r->mode & 07777);
	errno = e;
	return rfd;
}

static int save_contents(struct rt_files *f, struct img_file *r, int fd, const char *path,
			 char *err, size_t errlen)
{
	if (!f->data) {
		f->data = rt_alloc(FILEDATA_MAX);
		f->data_cap = f->data ? FILEDATA_MAX : 0;
	}
	if (r->size > f->data_cap - f->data_len) {
		snprintf(err, errlen, "deleted file %s is too large to keep (%llu bytes)", path,
			 (unsigned long long)r->size);
		return -1;
	}
	r->data_off = f->data_len;
	int rfd = readable_fd(fd, r);
	if (rfd < 0) {
		snprintf(err, errlen,
			 "pid %d fd %d: cannot open deleted file %s for reading to keep its "
			 "contents: %s; close it before checkpointing",
			 getpid(), fd, path, strerror(errno));
		return -1;
	}
	ssize_t n = pread_full(rfd, f->data + f->data_len, r->size, 0);
	int e = errno;
	if (rfd != fd)
		close(rfd);
	if (n != (ssize_t)r->size) {
		snprintf(err, errlen, "pid %d fd %d: cannot read deleted file %s: %s", getpid(), fd,
			 path, n < 0 ? strerror(e) : "it shrank while being read");
		return -1;
	}
	f->data_len += r->size;
	r->flags |= IMG_FILE_DELETED;
	return 0;
}

static int ends_with_deleted(const char *s)
{
	size_t n = strlen(s);
	return n > 10 && !strcmp(s + n - 10, " (deleted)");
}

/* Record a file by path (fd = -1) or by open descriptor; returns its index. */
int rt_file_add(struct rt_files *f, struct rt_strtab *tab, const char *path, int fd, char *err,
		size_t errlen)
{
	struct stat st;
	char clean[PATH_MAX];
	int deleted = 0;
	snprintf(clean, sizeof(clean), "%s", path);
	if (ends_with_deleted(clean)) {
		clean[strlen(clean) - 10] = 0;
		deleted = 1;
	}
	if ((fd >= 0 ? fstat(fd, &st) : stat(clean, &st)) < 0) {
		snprintf(err, errlen, "cannot stat %s: %s", clean, strerror(errno));
		return -1;
	}
	int i = file_find(f, &st);
	if (i >= 0)
		return i;
	if (!f->files) {
		f->files = rt_alloc(FILES_MAX * sizeof(struct img_file));
		f->cap = f->files ? FILES_MAX : 0;
	}
	if (f->n >= f->cap) {
		snprintf(err, errlen, "too many files");
		return -1;
	}
	struct img_file *r = &f->files[f->n];
	memset(r, 0, sizeof(*r));
	r->path_str = rt_str_add(tab, clean);
	r->size = st.st_size;
	r->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	r->ino = st.st_ino;
	r->dev = st.st_dev;
	r->mode = st.st_mode;
	if (deleted && fd >= 0 && save_contents(f, r, fd, clean, err, errlen) < 0)
		return -1;
	return f->n++;
}

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

#define OUTSIDE_LIST (256 * 42)

/* Note one object of the outside and append "dev:ino" to the list at *p. */
static void add_outside(uint64_t dev, uint64_t ino, char *buf, char **p)
{
	if (rt.ninherited >= 256)
		return;
	rt.inherited[rt.ninherited].dev = dev;
	rt.inherited[rt.ninherited++].ino = ino;
	*p += snprintf(*p, buf + OUTSIDE_LIST - *p, "%s%llx:%llx", *p == buf ? "" : ",",
		       (unsigned long long)dev, (unsigned long long)ino);
}

/* Pipes and sockets the launched program inherited lead outside the
 * computation. The launched process records them and passes the list down in
 * $STASIS_EXTERNAL ("dev:ino,..."), so that its children tell a pipe from their
 * parent (inside) from one of the launching shell's (outside). */
void rt_note_inherited_fds(void)
{
	const char *ext = secure_getenv("STASIS_EXTERNAL");
	char buf[OUTSIDE_LIST] = "", *p = buf;
	if (ext) {
		unsigned long long dev, ino;
		int used;
		while (rt.ninherited < 256 && sscanf(ext, "%llx:%llx%n", &dev, &ino, &used) == 2) {
			rt.inherited[rt.ninherited].dev = dev;
			rt.inherited[rt.ninherited++].ino = ino;
			ext += used + (ext[used] == ',');
		}
		return;
	}
	int fds[256];
	int n = rt_list_numeric("/proc/self/fd", fds, 256, NULL);
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (fstat(fds[i], &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
			add_outside(st.st_dev, st.st_ino, buf, &p);
	}
	/* libc's setenv: bash exports its own, which before main starts bash's variable
	 * table with this one variable and then hides all others from its getenv */
	int (*libc_setenv)(const char *, const char *, int) = dlsym(RTLD_NEXT, "setenv");
	(libc_setenv ? libc_setenv : setenv)("STASIS_EXTERNAL", buf, 1);
}

/* After a restart the launching shell's pipes are gone: what leads outside now
 * are the pipes and sockets among restart's own stdin, stdout and stderr,
 * which the restorer lists. Programs exec'd from now on get the new list
 * (exec.c), so that an outside pipe stays outside across any number of
 * restarts. Called with the program's threads held: no malloc, no setenv. */
void rt_outside_restarted(const struct rt_restart_info *ri)
{
	static char buf[OUTSIDE_LIST];
	char *p = buf;
	buf[0] = 0;
	rt.ninherited = 0;
	for (uint32_t i = 0; i < ri->nouter && i < 3; i++)
		add_outside(ri->outer[i].dev, ri->outer[i].ino, buf, &p);
	rt_exec_set_external(buf);
}

static int inherited(int fd, const struct stat *st)
{
	(void)fd;
	for (int i = 0; i < rt.ninherited; i++)
		if (rt.inherited[i].ino == st->st_ino && rt.inherited[i].dev == st->st_dev)
			return 1;
	return 0;
}

/* The bytes in a pipe, copied without taking them (tee), for a read end. */
static int pipe_contents(struct rt_files *f, struct img_file *r, int fd, char *err, size_t errlen)
{
	int avail = 0, tp[2];
	if (ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
		return 0;
	if (!f->data) {
		f->data = rt_alloc(FILEDATA_MAX);
		f->data_cap = f->data ? FILEDATA_MAX : 0;
	}
	if ((uint64_t)avail > f->data_cap - f->data_len || pipe2(tp, O_CLOEXEC | O_NONBLOCK) < 0)
		return snprintf(err, errlen, "cannot keep the %d bytes in pipe fd %d", avail, fd),
		       -1;
	fcntl(tp[1], F_SETPIPE_SZ, r->capacity);
	ssize_t n = tee(fd, tp[1], avail, SPLICE_F_NONBLOCK);
	ssize_t got = n > 0 ? read_full(tp[0], f->data + f->data_len, n) : n;
	close(tp[0]);
	close(tp[1]);
	if (got != avail)
		return snprintf(err, errlen, "cannot copy the %d bytes in pipe fd %d: %s", avail,
				fd, strerror(errno)),
		       -1;
	r->data_off = f->data_len;
	r->size = avail;
	f->data_len += avail;
	return 0;
}

/* A pipe of the computation: one record per pipe (by inode), its data once. */
static int pipe_add(struct rt_files *f, struct rt_strtab *tab, int fd, const struct stat *st,
		    int read_end, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->n; i++)
		if ((f->files[i].flags & IMG_FILE_PIPE) && f->files[i].ino == st->st_ino)
			return i;
	if (!f->files) {
		f->files = rt_alloc(FILES_MAX * sizeof(struct img_file));
		f->cap = f->files ? FILES_MAX : 0;
	}
	if (f->n >= f->cap)
		return snprintf(err, errlen, "too many files"), -1;
	struct img_file *r = &f->files[f->n];
	memset(r, 0, sizeof(*r));
	r->path_str = rt_str_add(tab, "pipe");
	r->flags = IMG_FILE_PIPE;
	r->ino = st->st_ino;
	r->dev = st->st_dev;
	r->capacity = fcntl(fd, F_GETPIPE_SZ);
	if (read_end && pipe_contents(f, r, fd, err, errlen) < 0)
		return -1;
	return f->n++;
}

static int classify_fd(struct img_fd *e, int fd, const char *link, const struct stat *st,
		       struct rt_fds *fds, struct rt_files *files, struct rt_strtab *tab, char *err,
		       size_t errlen)
{
	struct rt_fd_ctx c = {e, fd, link, st, fds, files, tab, err, errlen};
	int taken = S_ISCHR(st->st_mode) ? rt_fd_kinds_dump(&c) : 0; /* ptys before terminals */
	if (taken)
		return taken < 0 ? -1 : 0;
	int pipe = S_ISFIFO(st->st_mode) && !strncmp(link, "pipe:", 5);
	if (pipe && !inherited(fd, st)) {
		e->type = IMG_FD_PIPE;
		e->file = pipe_add(files, tab, fd, st, (e->open_flags & O_ACCMODE) != O_WRONLY, err,
				   errlen);
		return e->file < 0 ? -1 : 0;
	}
	/* a pipe or socket on 0-2 is the outside's only if it came from outside: one
	 * that joins two processes of the computation (MPICH's proxy and its ranks)
	 * is restored as what it is */
	if (fd <= 2 && (isatty(fd) ||
			((S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) && inherited(fd, st)))) {
		e->type = IMG_FD_STDIO;
		e->std = fd;
		return 0;
	}
	if (isatty(fd)) { /* another terminal descriptor: the restart's terminal */
		e->type = IMG_FD_STDIO;
		e->std = (e->open_flags & O_ACCMODE) == O_RDONLY ? 0 : 1;
		return 0;
	}
	if (S_ISREG(st->st_mode) && !rt_fd_not_regular(fd, link)) { /* memfd, mqueue: kinds */
		e->type = IMG_FD_REG;
		e->file = rt_file_add(files, tab, link, fd, err, errlen);
		e->pos = lseek(fd, 0, SEEK_CUR);
		if (e->file < 0)
			return -1;
		return rt_shm_keep_fd_file(files, e->file, fd, link, err, errlen);
	}
	if (S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode)) {
		e->type = S_ISDIR(st->st_mode) ? IMG_FD_DIR : IMG_FD_CHR;
		e->file = rt_file_add(files, tab, link, fd, err, errlen);
		return e->file < 0 ? -1 : 0;
	}
	if ((S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) && inherited(fd, st)) {
		e->type = IMG_FD_EXTERNAL; /* leads outside the computation */
		return 0;
	}
	taken = rt_fd_kinds_dump(&c);
	if (taken)
		return taken < 0 ? -1 : 0;
	snprintf(err, errlen,
		 "pid %d fd %d is %s (%s): not supported yet; close it before checkpointing or "
		 "see docs/supported.md",
		 getpid(), fd, type_name(st->st_mode), link);
	return -1;
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
	o->v = rt_alloc(FDS_MAX * sizeof(*o->v));
	o->lowest = rt_alloc((o->maxfd + 1) * sizeof(int));
	o->entry = rt_alloc((o->maxfd + 1) * sizeof(int));
	int *scratch = rt_alloc(FDS_MAX * sizeof(int));
	if (!o->v || !o->lowest || !o->entry || !scratch)
		return -1;
	for (int fd = 0; fd <= o->maxfd; fd++)
		o->lowest[fd] = fd, o->entry[fd] = -1;
	o->n = rt_fds_sorted(getpid(), o->v, scratch, FDS_MAX);
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

static int dump_one(struct rt_fds *out, int fd, int dup, struct rt_files *files,
		    struct rt_strtab *tab, char *err, size_t errlen)
{
	char path[64], link[PATH_MAX];
	struct stat st;
	struct img_fd *e = &out->fds[out->n];
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->file = -1;
	e->share = -1;
	e->open_flags = fcntl(fd, F_GETFL);
	e->fd_flags = fcntl(fd, F_GETFD);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot inspect fd %d: %s", fd, strerror(errno));
		return -1;
	}
	link[n] = 0;
	if (fd == rt.coord_fd) {
		e->type = IMG_FD_RUNTIME;
		out->n++;
		return 0;
	}
	if (dup >= 0 && out->fds[dup].type != IMG_FD_RUNTIME) {
		*e = out->fds[dup];
		e->fd = fd;
		e->fd_flags = fcntl(fd, F_GETFD);
		e->share = out->fds[dup].share >= 0 ? out->fds[dup].share : out->fds[dup].fd;
		out->n++;
		return 0;
	}
	if (classify_fd(e, fd, link, &st, out, files, tab, err, errlen) < 0)
		return -1;
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

/* Which of our fds share an open file description with our parent's (inherited
 * across fork, or passed): the restorer then hands them down the same way.
 * Both lists in description order, merged. */
static int find_parent_shares(struct rt_fds *out, const struct fd_order *o)
{
	uint32_t self = getpid(), ppid = getppid();
	struct rt_fdesc *pv = rt_alloc(FDS_MAX * sizeof(*pv));
	int *scratch = rt_alloc(FDS_MAX * sizeof(int));
	if (!pv || !scratch)
		return -1;
	int pn = rt_fds_sorted(ppid, pv, scratch, FDS_MAX);
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
	if (!out->fdx) {
		out->fdx = rt_alloc(FDX_MAX);
		out->fdx_cap = out->fdx ? FDX_MAX : 0;
	}
	if (len > UINT32_MAX || need > out->fdx_cap - out->fdx_len)
		return snprintf(err, errlen,
				"pid %d: too much descriptor state for one image (over %llu bytes: "
				"bytes in flight in sockets and pipes, queued messages)",
				getpid(), (unsigned long long)FDX_MAX),
		       -1;
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
	int *list = rt_alloc(FDS_MAX * sizeof(int));
	int self = -1;
	out->fds = rt_alloc(FDS_MAX * sizeof(struct img_fd));
	out->n = 0;
	out->fdx_len = 0;
	struct fd_order o;
	int n = list ? rt_list_numeric("/proc/self/fd", list, FDS_MAX, &self) : -1;
	if (n < 0 || !out->fds) {
		snprintf(err, errlen, "cannot list /proc/self/fd: %s", strerror(errno));
		return -1;
	}
	if (order_fds(&o, list, n) < 0) {
		snprintf(err, errlen,
			 "cannot sort the %d descriptors of pid %d by open file "
			 "description: %s",
			 n, (int)getpid(), strerror(errno));
		return -1;
	}
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
