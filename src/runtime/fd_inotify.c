/* inotify: its watches. fdinfo gives each watch's wd, inode and mask but not
 * the path, so the runtime wraps inotify_add_watch() and inotify_rm_watch()
 * and remembers the absolute path of each watch (by wd and watched inode:
 * enough to tell apart the watches of several inotify instances). A watch
 * the runtime did not see being added fails the checkpoint. Events queued
 * but not yet read are not kept (an inotify queue cannot be read without
 * consuming it): docs/supported.md. */
#include "runtime/arena.h"
#include "runtime/fd_info.h"
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "runtime/libc.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_inotify.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WATCHES_MAX 16384 /* reserved NORESERVE: pages cost only when used */
#define IN_INFO_MAX (4u << 20)

struct watch {
	int wd; /* 0: free slot */
	uint64_t ino, dev;
	char path[PATH_MAX];
};

static struct watch *watches;
static int nslots; /* slots used so far: the rest of the table is never read */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct watch *slot_for(int wd, uint64_t ino, uint64_t dev)
{
	struct watch *free_slot = NULL;
	if (!watches) {
		/* a PROT_NONE page after it: the table would otherwise merge with
		 * the runtime's arena (mapped just above), which a restart maps
		 * apart, and the process's map would change across a restart */
		size_t len = WATCHES_MAX * sizeof(struct watch);
		len = (len + 4095) & ~(size_t)4095;
		char *m = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED && mprotect(m + len, 4096, PROT_NONE) == 0)
			watches = (struct watch *)m;
	}
	for (int i = 0; watches && i < nslots; i++) {
		if (watches[i].wd == wd && watches[i].ino == ino && watches[i].dev == dev)
			return &watches[i];
		if (!watches[i].wd && !free_slot)
			free_slot = &watches[i];
	}
	if (!free_slot && watches && nslots < WATCHES_MAX)
		free_slot = &watches[nslots++];
	return free_slot;
}

static const struct watch *find_watch(int wd, uint64_t ino, uint64_t dev)
{
	for (int i = 0; watches && i < nslots; i++)
		if (watches[i].wd == wd && watches[i].ino == ino && watches[i].dev == dev)
			return &watches[i];
	return NULL;
}

static void remember(int wd, const char *path, uint32_t mask)
{
	struct stat st;
	char abs[PATH_MAX];
	int follow = !(mask & IN_DONT_FOLLOW);
	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
		return; /* gone already: the watch will fail the checkpoint clearly */
	if (path[0] == '/' || !getcwd(abs, sizeof(abs)))
		snprintf(abs, sizeof(abs), "%s", path);
	else if (snprintf(abs + strlen(abs), sizeof(abs) - strlen(abs), "/%s", path) < 0)
		return;
	pthread_mutex_lock(&lock);
	struct watch *w = slot_for(wd, st.st_ino, st.st_dev);
	if (w) {
		w->wd = wd;
		w->ino = st.st_ino;
		w->dev = st.st_dev;
		snprintf(w->path, sizeof(w->path), "%s", abs);
	}
	pthread_mutex_unlock(&lock);
}

/* The kernel's dev_t in fdinfo ("sdev") is MAJOR << 20 | MINOR. */
static uint64_t user_dev(unsigned long long sdev)
{
	return makedev(sdev >> 20, sdev & 0xfffff);
}

EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
	int wd = REAL(inotify_add_watch)(fd, path, mask);
	if (wd > 0) {
		int saved = errno;
		remember(wd, path, mask);
		errno = saved;
	}
	return wd;
}

/* The instance's fdinfo into *info: the caller's buffer of *size bytes, or
 * a mapping of up to IN_INFO_MAX when it holds more watches than that
 * (*info and *size are then the mapping's). -1 if it cannot be read. */
static ssize_t read_info(int fd, char **info, size_t *size)
{
	ssize_t n;
	char *own = NULL;
	while ((n = rt_fdinfo_read(fd, *info, *size)) < 0 && errno == E2BIG &&
	       *size < IN_INFO_MAX) {
		if (own)
			munmap(own, *size);
		*size *= 8;
		own = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (own == MAP_FAILED)
			return -1;
		*info = own;
	}
	return n;
}

/* Under lock: 0 if no watch recorded has number wd, 1 if those that have
 * it all watch one inode (*ino, *dev: they are alike), 2 if they differ
 * (watches of several instances). */
static int alike(int wd, uint64_t *ino, uint64_t *dev)
{
	int n = 0;
	for (int i = 0; watches && i < nslots; i++) {
		if (watches[i].wd != wd)
			continue;
		if (n && (watches[i].ino != *ino || watches[i].dev != *dev))
			return 2;
		*ino = watches[i].ino;
		*dev = watches[i].dev;
		n = 1;
	}
	return n;
}

/* The inode instance fd watches as wd, from its fdinfo; -1 if not found. */
static int watched_inode(int fd, int wd, uint64_t *ino, uint64_t *dev)
{
	char small[8192], *info = small, key[32];
	size_t size = sizeof(small);
	unsigned long long i, sdev;
	snprintf(key, sizeof(key), "inotify wd:%x ", wd);
	const char *p = read_info(fd, &info, &size) < 0 ? NULL : strstr(info, key);
	int found = p && sscanf(p + strlen(key), "ino:%llx sdev:%llx", &i, &sdev) == 2;
	if (info != small)
		munmap(info, size);
	if (!found)
		return -1;
	*ino = i;
	*dev = user_dev(sdev);
	return 0;
}

/* Forget the watch before the kernel does: the one record of its number, or
 * when several instances have watches of that number on different inodes,
 * the one of the inode fdinfo gives. */
static void forget(int fd, int wd)
{
	uint64_t ino = 0, dev = 0;
	pthread_mutex_lock(&lock);
	int kind = alike(wd, &ino, &dev);
	pthread_mutex_unlock(&lock);
	if (kind == 0 || (kind == 2 && watched_inode(fd, wd, &ino, &dev) < 0))
		return;
	pthread_mutex_lock(&lock);
	struct watch *w = (struct watch *)find_watch(wd, ino, dev);
	if (w)
		w->wd = 0;
	pthread_mutex_unlock(&lock);
}

EXPORT int inotify_rm_watch(int fd, int wd)
{
	int saved = errno;
	forget(fd, wd);
	errno = saved;
	return REAL(inotify_rm_watch)(fd, wd);
}

static int match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)st;
	return !strcmp(link, "anon_inode:inotify");
}

static int parse_watch(struct rt_fd_ctx *c, const char *line, struct img_inotify_watch *w)
{
	unsigned long long ino, sdev;
	unsigned mask;
	memset(w, 0, sizeof(*w));
	if (sscanf(line, "wd:%x ino:%llx sdev:%llx mask:%x", &w->wd, &ino, &sdev, &mask) != 4)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (inotify): cannot parse /proc/self/fdinfo", getpid(),
			    c->fd);
	const struct watch *r = find_watch(w->wd, ino, user_dev(sdev));
	if (!r)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (inotify): watch %d (inode %llu) was not added "
			    "through inotify_add_watch() with the runtime loaded, so its path "
			    "is unknown; remove it before checkpointing",
			    getpid(), c->fd, w->wd, ino);
	w->mask = mask;
	w->ino = ino;
	w->dev = r->dev;
	w->path_str = rt_str_add(c->tab, r->path);
	return w->path_str ? 0 : errf(c->err, c->errlen, "too many strings");
}

static int dump(struct rt_fd_ctx *c)
{
	char *info = rt_alloc(IN_INFO_MAX);
	if (!info || rt_fdinfo_read(c->fd, info, IN_INFO_MAX) < 0)
		return errf(c->err, c->errlen,
			    "pid %d fd %d (inotify): cannot read /proc/self/fdinfo: %s", getpid(),
			    c->fd, info ? strerror(errno) : "out of memory");
	int n = 0;
	for (const char *p = info; (p = rt_fdinfo_field(p, "inotify")); n++)
		;
	uint32_t len = sizeof(struct img_inotify) + n * sizeof(struct img_inotify_watch);
	struct img_inotify *h = rt_alloc(len);
	if (!h)
		return errf(c->err, c->errlen, "out of memory");
	*h = (struct img_inotify){.nwatches = n};
	struct img_inotify_watch *w = (struct img_inotify_watch *)(h + 1);
	const char *p = info;
	for (int i = 0; i < n; i++)
		if (!(p = rt_fdinfo_field(p, "inotify")) || parse_watch(c, p, &w[i]) < 0)
			return -1;
	return rt_fd_record(c, IMG_FD_INOTIFY, 0, h, len);
}

const struct rt_fd_kind rt_fd_inotify = {"inotify", match, dump};
