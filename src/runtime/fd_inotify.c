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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WATCHES_MAX 16384 /* reserved NORESERVE: pages cost only when used */
#define IN_INFO_MAX (4u << 20)

/* What finds a watch, scanned at each call: its path apart (paths[i] is the
 * path of watches[i]), so that a scan reads 32 bytes a watch, not a page. */
struct watch {
	int wd;	  /* 0: free slot */
	int fd;	  /* of the instance, when the watch was added */
	int live; /* compact(): some instance still has it */
	uint64_t ino, dev;
};

static struct watch *watches;
static char (*paths)[PATH_MAX];
static int nslots; /* slots used so far: the rest of the table is never read */
/* records made since the last compact(): a table full of watches that are
 * all there is compacted again only after this many more (a program with
 * more watches than the table gets each added quickly, not remembered) */
static int added;
#define COMPACT_AFTER (WATCHES_MAX / 8)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void compact(void);

static struct watch *slot_for(int wd, uint64_t ino, uint64_t dev)
{
	struct watch *free_slot = NULL;
	if (!watches) {
		/* a PROT_NONE page after it: the table would otherwise merge with
		 * the runtime's arena (mapped just above), which a restart maps
		 * apart, and the process's map would change across a restart */
		size_t keys = (WATCHES_MAX * sizeof(struct watch) + 4095) & ~(size_t)4095;
		size_t len = keys + WATCHES_MAX * sizeof(*paths);
		char *m = mmap(NULL, len + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED && mprotect(m + len, 4096, PROT_NONE) == 0) {
			watches = (struct watch *)m;
			paths = (char(*)[PATH_MAX])(m + keys);
		}
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

static void remember(int fd, int wd, const char *path, uint32_t mask)
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
	if (!w && watches && added >= COMPACT_AFTER) {
		compact();
		added = 0;
		w = slot_for(wd, st.st_ino, st.st_dev);
	}
	if (w) {
		added += w->wd != wd || w->ino != (uint64_t)st.st_ino ||
			 w->dev != (uint64_t)st.st_dev; /* a new record */
		w->wd = wd;
		w->fd = fd;
		w->ino = st.st_ino;
		w->dev = st.st_dev;
		snprintf(paths[w - watches], sizeof(*paths), "%s", abs);
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
		remember(fd, wd, path, mask);
		errno = saved;
	}
	return wd;
}

/* The instance's fdinfo into *info: small (*size bytes), or a mapping of
 * up to IN_INFO_MAX when it holds more watches than that (*info and *size
 * are then the mapping's, for the caller to unmap). -1 if it cannot be read. */
static ssize_t read_info(int fd, char *small, char **info, size_t *size)
{
	ssize_t n;
	*info = small;
	while ((n = rt_fdinfo_read(fd, *info, *size)) < 0 && errno == E2BIG &&
	       *size < IN_INFO_MAX) {
		char *more = mmap(NULL, *size * 8, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (more == MAP_FAILED)
			return -1;
		if (*info != small)
			munmap(*info, *size);
		*info = more;
		*size *= 8;
	}
	return n;
}

/* Under lock: the one record of watch wd if it was added through fd (then
 * it is that instance's), else NULL (none, or several instances' watches
 * have that number). */
static struct watch *only_record(int fd, int wd)
{
	struct watch *w = NULL;
	for (int i = 0; watches && i < nslots; i++) {
		if (watches[i].wd != wd)
			continue;
		if (w)
			return NULL;
		w = &watches[i];
	}
	return w && w->fd == fd ? w : NULL;
}

/* Under lock: mark the records of the watches instance fd has; -1 if its
 * fdinfo cannot be read. */
static int mark_live(int fd)
{
	char small[8192], *info = small;
	size_t size = sizeof(small);
	const char *key = "inotify wd:";
	if (read_info(fd, small, &info, &size) < 0)
		return -1;
	for (const char *p = info; (p = strstr(p, key)); p++) {
		unsigned wd;
		unsigned long long ino, sdev;
		if (sscanf(p + strlen(key), "%x ino:%llx sdev:%llx", &wd, &ino, &sdev) != 3)
			continue;
		struct watch *w = (struct watch *)find_watch((int)wd, ino, user_dev(sdev));
		if (w)
			w->live = 1;
	}
	if (info != small)
		munmap(info, size);
	return 0;
}

/* Under lock, with the table full: the records of watches no instance of
 * the process has any more are dropped (an instance closed, or a watch the
 * kernel removed itself: its file deleted, IN_ONESHOT, an unmount). All are
 * kept when the process's descriptors cannot all be read. */
static void compact(void)
{
	char buf[4096], link[64], path[64];
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok = dir >= 0;
	ssize_t got;
	for (int i = 0; i < nslots; i++)
		watches[i].live = 0;
	while (ok && (got = getdents64(dir, buf, sizeof(buf))) != 0) {
		ok = got > 0;
		for (ssize_t off = 0; ok && off < got;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			off += e->d_reclen;
			int fd = atoi(e->d_name);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			ssize_t n = e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd != dir
					? readlink(path, link, sizeof(link) - 1)
					: -1;
			if (n > 0 && (link[n] = 0, !strcmp(link, "anon_inode:inotify")))
				ok = mark_live(fd) == 0;
		}
	}
	if (dir >= 0)
		close(dir);
	for (int i = 0; ok && i < nslots; i++)
		if (!watches[i].live)
			watches[i].wd = 0;
}

/* The inode instance fd watches as wd, from its fdinfo; -1 if not found. */
static int watched_inode(int fd, int wd, uint64_t *ino, uint64_t *dev)
{
	char small[8192], *info = small, key[32];
	size_t size = sizeof(small);
	unsigned long long i, sdev;
	snprintf(key, sizeof(key), "inotify wd:%x ", wd);
	const char *p = read_info(fd, small, &info, &size) < 0 ? NULL : strstr(info, key);
	int found = p && sscanf(p + strlen(key), "ino:%llx sdev:%llx", &i, &sdev) == 2;
	if (info != small)
		munmap(info, size);
	if (!found)
		return -1;
	*ino = i;
	*dev = user_dev(sdev);
	return 0;
}

/* The watch is forgotten once the kernel removed it: the one record of its
 * number added through fd, or the one of the inode the instance's fdinfo
 * gives for it (read before it goes). */
EXPORT int inotify_rm_watch(int fd, int wd)
{
	int saved = errno, known;
	uint64_t ino = 0, dev = 0;
	pthread_mutex_lock(&lock);
	struct watch *w = only_record(fd, wd);
	if (w) {
		ino = w->ino;
		dev = w->dev;
	}
	pthread_mutex_unlock(&lock);
	known = w || watched_inode(fd, wd, &ino, &dev) == 0;
	errno = saved;
	int rc = REAL(inotify_rm_watch)(fd, wd);
	if (rc == 0 && known) {
		pthread_mutex_lock(&lock);
		if ((w = (struct watch *)find_watch(wd, ino, dev)))
			w->wd = 0;
		pthread_mutex_unlock(&lock);
	}
	return rc;
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
	w->path_str = rt_str_add(c->tab, paths[r - watches]);
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
