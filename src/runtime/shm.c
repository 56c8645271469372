/* Shared memory objects at checkpoint: shared anonymous memory, memfds and
 * files deleted while mapped shared are recorded once per process as an
 * IMG_FILE_SHMEM record named by its inode, so that the restorer recreates one
 * object for all its holders. Their pages are stored by the holder whose parent
 * does not map the same range (forked children share their parent's), and small
 * shared-mapped files keep a copy of their contents in case they are gone at
 * restart (the JVM deletes its hsperfdata file when it exits). */
#include "runtime/shm.h"
#include "runtime/fdkinds.h"
#include "runtime/arena.h"
#include "runtime/fds.h"
#include "runtime/write_pipe.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define KEEP_ANY_MAX (1ull << 20)    /* shared-mapped files up to 1 MiB are kept */
#define KEEP_TMPFS_MAX (64ull << 20) /* and those on tmpfs or in /tmp up to 64 MiB */
#define PARENT_MAPS_MAX (8u << 20)

static struct img_file *find_shm(struct rt_files *f, uint64_t ino, uint64_t dev)
{
	int i = rt_file_find(f, dev, ino, IMG_FILE_SHMEM);
	return i >= 0 ? &f->files[i] : NULL;
}

int rt_shm_object(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t ino,
		  uint64_t dev, uint64_t end, char *err, size_t errlen)
{
	struct img_file *r = find_shm(f, ino, dev);
	if (r) {
		if (!(r->flags & IMG_FILE_SAVED) && end > r->size)
			r->size = end;
		return r - f->files;
	}
	char clean[PATH_MAX];
	snprintf(clean, sizeof(clean), "%s", path);
	size_t n = strlen(clean);
	if (n > 10 && !strcmp(clean + n - 10, " (deleted)"))
		clean[n - 10] = 0;
	if (!(r = rt_file_new(f)))
		return errf(err, errlen, "too many files (over %d)", RT_FILES_MAX);
	r->path_str = rt_str_add(tab, clean);
	r->flags = IMG_FILE_SHMEM;
	r->ino = ino;
	r->dev = dev;
	r->size = end;
	r->mode = S_IFREG | 0600;
	return r - f->files;
}

/* Keep `size` bytes of fd's contents in filedata for record idx. */
int rt_shm_save_fd(struct rt_files *f, int idx, int fd, uint64_t size, char *err, size_t errlen)
{
	struct img_file *r = &f->files[idx];
	uint8_t *room = rt_filedata_room(f, size);
	if (!room)
		return errf(err, errlen,
			    "cannot keep the %llu bytes of a shared file: over %llu bytes of saved "
			    "files in all",
			    (unsigned long long)size, RT_FILEDATA_MAX);
	if (pread_full(fd, room, size, 0) != (ssize_t)size)
		return errf(err, errlen, "cannot read the contents of fd %d: %s", fd,
			    strerror(errno));
	r->data_off = f->data_len;
	r->size = size;
	r->flags |= IMG_FILE_SAVED;
	f->data_len += size;
	return 0;
}

/* Shared-mapped files whose contents are kept, read once every region is
 * known (rt_shm_keep_pending). */
static struct {
	int *idx;
	uint32_t n;
	struct rt_files *f;
	const struct rt_strtab *tab;
	int rc;
	char *err;
	size_t errlen;
} keep;

/* A file mapped shared: small ones and those on tmpfs or in a temporary
 * directory are kept, so that restart can recreate them if they are gone (and
 * put back the contents of the latter, which are the computation's own: POSIX
 * shared memory, an MPI library's session files). */
int rt_shm_keep_file(struct rt_files *f, const struct rt_strtab *tab, int idx, char *err,
		     size_t errlen)
{
	const struct img_file *r = &f->files[idx];
	if (r->flags & (IMG_FILE_SAVED | IMG_FILE_DELETED) || r->size > KEEP_TMPFS_MAX)
		return 0;
	for (uint32_t i = 0; i < keep.n; i++)
		if (keep.idx[i] == idx)
			return 0;
	if (!keep.idx && !(keep.idx = rt_alloc(RT_FILES_MAX * sizeof(int))))
		return errf(err, errlen, "out of checkpoint memory");
	keep.idx[keep.n++] = idx;
	keep.f = f;
	keep.tab = tab;
	return 0;
}

static int under(const char *path, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n > 1 && !strncmp(path, dir, n) && path[n] == '/';
}

/* In the system's temporary directory: gone after a reboot, not on another
 * host, and written only by the programs that made it (Open MPI's session
 * directory, /tmp/ompi.HOST.UID, maps its PMIx store from there). */
static int in_temp_dir(const char *path)
{
	return under(path, "/tmp") || under(path, "/var/tmp") || under(path, getenv("TMPDIR"));
}

static void keep_one(struct rt_files *f, const char *path, int idx)
{
	struct img_file *r = &f->files[idx];
	struct statfs sfs;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return; /* not ours to read: it is mapped again from the path */
	int own = (fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) || in_temp_dir(path);
	if (r->size <= KEEP_ANY_MAX || own) {
		if (rt_shm_save_fd(f, idx, fd, r->size, keep.err, keep.errlen) < 0)
			keep.rc = -1;
		else if (own)
			r->flags |= IMG_FILE_RESTORE;
	}
	close(fd);
}

/* A small file of a temporary directory or tmpfs held by a descriptor (Open
 * MPI's hwloc.sm in its session directory): kept and put back at restart like
 * one mapped shared. Write-only descriptors cannot read it: not kept. */
int rt_shm_keep_fd_file(struct rt_files *f, int idx, int fd, int open_flags, const struct stat *st,
			const char *path, char *err, size_t errlen)
{
	struct img_file *r = &f->files[idx];
	if (r->flags & (IMG_FILE_SAVED | IMG_FILE_DELETED) || !S_ISREG(r->mode) ||
	    r->size > KEEP_ANY_MAX || (open_flags & O_ACCMODE) == O_WRONLY)
		return 0;
	if (!in_temp_dir(path) && rt_fd_fstype(fd, st) != TMPFS_MAGIC)
		return 0;
	if (rt_shm_save_fd(f, idx, fd, r->size, err, errlen) < 0)
		return -1;
	r->flags |= IMG_FILE_RESTORE;
	return 0;
}

static void keep_all(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < keep.n && keep.rc == 0; i++)
		keep_one(keep.f, keep.tab->buf + keep.f->files[keep.idx[i]].path_str, keep.idx[i]);
}

/* Read the kept files on a thread with its own copy of the descriptor table:
 * its close() drops no POSIX lock of the program's (a lock belongs to the
 * table), and its open() takes no number the program may be about to use. */
int rt_shm_keep_pending(char *err, size_t errlen)
{
	keep.rc = 0;
	keep.err = err;
	keep.errlen = errlen;
	if (keep.n && rt_run_private_files(keep_all, NULL) < 0) {
		keep.rc =
		    errf(err, errlen, "pid %d: cannot start a thread to read shared files: %s",
			 getpid(), strerror(errno));
	}
	keep.n = 0;
	keep.idx = NULL; /* arena memory: gone with this checkpoint */
	return keep.rc;
}

/* The parent's maps, read at most once per checkpoint. */
static struct {
	int read;
	int nomem; /* no memory to read them: no answer */
	char *maps;
} parent;

void rt_shm_reset(void)
{
	parent.read = 0;
	parent.nomem = 0;
	parent.maps = NULL;
	keep.n = 0;
	keep.idx = NULL;
}

static int line_covers(const char *line, uint64_t ino, uint64_t dev, uint64_t pgoff, uint64_t len)
{
	unsigned long long s, e, off, i;
	unsigned maj, min;
	char perms[8];
	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &s, &e, perms, &off, &maj, &min, &i) != 7)
		return 0;
	return perms[3] == 's' && i == ino && makedev(maj, min) == dev && off <= pgoff &&
	       off + (e - s) >= pgoff + len;
}

/* 1 if our parent, a process of the computation (it runs the runtime), maps
 * the same range of the object: it stores the pages, we do not. Read while
 * every process is stopped: both decide on the same maps. */
int rt_shm_parent_stores(uint64_t ino, uint64_t dev, uint64_t pgoff, uint64_t len)
{
	char path[64];
	pid_t ppid = getppid();
	if (ppid <= 1)
		return 0;
	if (!parent.read) { /* once per checkpoint */
		parent.read = 1;
		parent.maps = rt_alloc(PARENT_MAPS_MAX);
		parent.nomem = !parent.maps;
		snprintf(path, sizeof(path), "/proc/%d/maps", ppid);
		ssize_t n = parent.maps ? read_small_file(path, parent.maps, PARENT_MAPS_MAX) : -1;
		if (n <= 0 || n >= (ssize_t)PARENT_MAPS_MAX - 1 ||
		    !strstr(parent.maps, "/libstasis.so"))
			parent.maps = NULL;
	}
	char *buf = parent.maps;
	if (parent.nomem)
		return errno = ENOMEM, -1;
	if (!buf)
		return 0;
	for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : 0)
		if (line_covers(line, ino, dev, pgoff, len))
			return 1;
	return 0;
}

/* 1 if record idx already holds the whole contents (a memfd's descriptor). */
int rt_shm_saved(const struct rt_files *f, int idx)
{
	return idx >= 0 && (f->files[idx].flags & IMG_FILE_SAVED);
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* A mapping shown as "DIR/X (deleted)" may be of a file that lives on under
 * another name in the same directory: glibc's sem_open maps a temporary file,
 * then links it to the semaphore's name and unlinks the temporary one. Fills
 * out with that name and returns 1 if so. getdents64, not opendir: no malloc. */
int rt_shm_linked_path(const char *path, uint64_t ino, uint64_t dev, char *out, size_t outlen)
{
	size_t n = strlen(path);
	if (path[0] != '/' || n <= 10 || strcmp(path + n - 10, " (deleted)"))
		return 0;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%.*s", (int)(n - 10), path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *buf = fd < 0 ? NULL : rt_alloc(65536);
	int found = fd >= 0 && !buf ? -1 : 0;
	long got;
	while (buf && !found && (got = syscall(SYS_getdents64, fd, buf, 65536)) > 0)
		for (long off = 0; off < got && !found;) {
			struct linux_dirent64 *d = (void *)(buf + off);
			struct stat st;
			off += d->d_reclen;
			if (d->d_ino != ino ||
			    fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    st.st_dev != dev || !S_ISREG(st.st_mode))
				continue;
			snprintf(out, outlen, "%s/%s", dir, d->d_name);
			found = 1;
		}
	if (fd >= 0)
		close(fd);
	return found;
}
