/* File locks held through the process's descriptors (IMG_SEC_LOCKS). The
 * kernel lists them in /proc/self/fdinfo/FD ("lock:" lines): the POSIX locks
 * this process owns on the fd's file, and the flock and OFD locks of the fd's
 * open file description. */
#include "runtime/locks.h"
#include "runtime/arena.h"
#include "runtime/fd_info.h"
#include "runtime/fds.h"
#include "runtime/fd_file.h"
#include "runtime/sort.h"

#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/locks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#define LOCKS_MAX 4096
#define PID_NS_INIT_INO 0xEFFFFFFCu /* the initial PID namespace's inode (PROC_PID_INIT_INO) */
#define INFO_SIZE 65536
/* /proc/locks is read only for more regular-file descriptions than this: its
 * read takes the kernel's file-lock rwsem for writing, which waits for an RCU
 * grace period unless it was read in the last ~10 ms (6-22 ms here, with the
 * threads held), against 3 us per fdinfo read. */
#define SHORTCUT_MIN 2000

struct lock_line {
	char kind[16], type[16], end[32];
	long long start;
};

/* "lock:\t1: POSIX  ADVISORY  WRITE 1234 08:02:1234 0 EOF" */
static int parse_line(const char *p, struct lock_line *l)
{
	char adv[16], devino[64];
	int pid;
	return sscanf(p, "lock: %*d: %15s %15s %15s %d %63s %lld %31s", l->kind, adv, l->type, &pid,
		      devino, &l->start, l->end) == 7;
}

static int kind_of(const char *k)
{
	if (!strcmp(k, "POSIX"))
		return IMG_LOCK_POSIX;
	if (!strcmp(k, "FLOCK"))
		return IMG_LOCK_FLOCK;
	if (!strcmp(k, "OFDLCK"))
		return IMG_LOCK_OFD;
	return 0;
}

/* A POSIX lock shows on every fd of its file: keep it once per inode. */
static int seen_posix(const struct rt_locks *out, const struct rt_fds *fds,
		      const struct img_lock *l, const struct stat *st)
{
	for (uint32_t i = 0; i < out->n; i++) {
		const struct img_lock *o = &out->locks[i];
		struct stat ost;
		if (o->kind != IMG_LOCK_POSIX || o->start != l->start || o->end != l->end ||
		    o->write != l->write || fstat(o->fd, &ost) < 0)
			continue;
		if (ost.st_ino == st->st_ino && ost.st_dev == st->st_dev)
			return 1;
	}
	(void)fds;
	return 0;
}

static int add_lock(struct rt_locks *out, const struct rt_fds *fds, const struct img_fd *e,
		    const struct lock_line *ll, char *err, size_t errlen)
{
	struct img_lock l = {.fd = e->fd, .kind = kind_of(ll->kind)};
	struct stat st;
	if (!l.kind)
		return errf(err, errlen,
			    "pid %d fd %d holds a %s lock (a lease?): not supported; release it "
			    "before checkpointing",
			    getpid(), e->fd, ll->kind);
	l.write = !strcmp(ll->type, "WRITE");
	l.start = ll->start;
	l.end = !strcmp(ll->end, "EOF") ? -1 : strtoll(ll->end, NULL, 10);
	if (fstat(e->fd, &st) < 0 || (l.kind == IMG_LOCK_POSIX && seen_posix(out, fds, &l, &st)))
		return 0;
	if (l.kind != IMG_LOCK_POSIX && e->share >= 0)
		return 0; /* the description's lock, recorded on its lowest fd */
	if (out->n >= LOCKS_MAX)
		return errf(err, errlen, "pid %d holds more than %d file locks", getpid(),
			    LOCKS_MAX);
	out->locks[out->n++] = l;
	return 0;
}

/* /proc/locks whole, in the arena, or NULL. */
static char *read_proc_locks(void)
{
	size_t size = 1 << 20;
	char *buf = rt_alloc(size);
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	ssize_t n = buf && fd >= 0 ? read_full(fd, buf, size - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0 || (size_t)n == size - 1)
		return NULL;
	buf[n] = 0;
	return buf;
}

/* The inode number of a line of /proc/locks ("N: [-> ]KIND ... MAJ:MIN:INO
 * START END"), or 0. */
static uint64_t line_inode(const char *line)
{
	for (const char *t = line; *t && *t != '\n';) {
		unsigned maj, min;
		unsigned long long ino;
		int used = 0;
		if (sscanf(t, "%x:%x:%llu%n", &maj, &min, &ino, &used) == 3 &&
		    (t[used] == ' ' || t[used] == '\n' || !t[used]))
			return ino;
		while (*t && *t != ' ' && *t != '\n')
			t++;
		while (*t == ' ')
			t++;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The inode numbers of every lock of the system (sorted, *n of them), when
 * /proc/locks shows them all: in the initial PID namespace the kernel hides
 * none (it hides those whose owner it cannot name in the reader's), so a file
 * whose number it does not list holds none, and its descriptors' fdinfo need
 * not be read (3 us each: 30 ms for 10000 descriptions). NULL otherwise:
 * every fdinfo is read. Numbers only, whatever the device: a lock is on the
 * inode the descriptor names, whose device /proc/locks may say otherwise than
 * stat (btrfs subvolumes). */
static uint64_t *locked_inodes(uint32_t *n)
{
	struct stat ns;
	char *text = stat("/proc/self/ns/pid", &ns) == 0 && ns.st_ino == PID_NS_INIT_INO
			 ? read_proc_locks()
			 : NULL;
	uint64_t *v = text ? rt_alloc((strlen(text) / 16 + 1) * sizeof(*v)) : NULL;
	*n = 0;
	for (const char *line = v ? text : NULL; line && *line;) {
		v[*n] = line_inode(line);
		*n += v[*n] != 0;
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (v)
		rt_sort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

int rt_dump_locks(struct rt_locks *out, const struct rt_fds *fds, const struct rt_files *files,
		  char *err, size_t errlen)
{
	char *info = rt_alloc(INFO_SIZE);
	uint32_t nlocked = 0, nfiles = 0;
	for (uint32_t i = 0; i < fds->n; i++)
		nfiles += fds->fds[i].type == IMG_FD_REG && fds->fds[i].share < 0;
	uint64_t *locked = nfiles > SHORTCUT_MIN ? locked_inodes(&nlocked) : NULL;
	if (locked)
		debug("pid %d: the locks of %u descriptions of files looked up in /proc/locks",
		      getpid(), nfiles);
	out->n = 0;
	out->locks = rt_alloc(LOCKS_MAX * sizeof(struct img_lock));
	if (!info || !out->locks)
		return errf(err, errlen, "out of checkpoint memory");
	for (uint32_t i = 0; i < fds->n; i++) {
		const struct img_fd *e = &fds->fds[i];
		uint64_t ino = e->file >= 0 ? files->files[e->file].ino : 0;
		/* a dup shows its lowest's locks: the description's, and the POSIX
		 * locks of the file, which show on every descriptor of it */
		if (e->type != IMG_FD_REG || e->share >= 0 ||
		    (locked && !bsearch(&ino, locked, nlocked, sizeof(*locked), cmp_u64)) ||
		    rt_fdinfo_read(e->fd, info, INFO_SIZE) < 0)
			continue;
		for (const char *p = strstr(info, "lock:"); p; p = strstr(p + 1, "\nlock:")) {
			struct lock_line ll;
			if (*p == '\n')
				p++;
			if (parse_line(p, &ll) && add_lock(out, fds, e, &ll, err, errlen) < 0)
				return -1;
		}
	}
	return 0;
}

/* Whether this process holds a POSIX lock on the file: then it must not open
 * and close that file itself (the close would drop the lock). No stdio: the
 * other threads are stopped, maybe inside malloc. */
int rt_holds_posix_lock(uint64_t dev, uint64_t ino)
{
	char *buf = read_proc_locks();
	if (!buf)
		return 1; /* cannot tell (or not all of it): assume it does */
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		char kind[16];
		int pid;
		unsigned maj, min;
		unsigned long long i;
		if (sscanf(line, "%*d: %15s %*s %*s %d %x:%x:%llu", kind, &pid, &maj, &min, &i) ==
			5 &&
		    !strcmp(kind, "POSIX") && pid == getpid() && i == ino &&
		    makedev(maj, min) == dev)
			return 1;
	}
	return 0;
}
