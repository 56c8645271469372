/* Which coordinator serves a computation, or a port of the run directory:
 * an flock'ed file in the run dir whose text names its holder. */
#include "common/complock.h"
#include "common/io.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int comp_path(uint64_t comp_id, char *buf, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "comp-%016llx.lock", (unsigned long long)comp_id);
	return proto_run_path(name, buf, size);
}

static int restart_path(uint64_t comp_id, char *buf, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "comp-%016llx.restart.lock", (unsigned long long)comp_id);
	return proto_run_path(name, buf, size);
}

int portlock_path(unsigned port, char *buf, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "coord-%u.lock", port);
	return proto_run_path(name, buf, size);
}

/* The holder's text (NUL-terminated, "" if none) into text. */
static void read_text(int fd, char *text, size_t size)
{
	ssize_t n = pread_full(fd, text, size - 1, 0);
	text[n > 0 ? n : 0] = 0;
}

/* The file at path is still the one fd has open (a releaser may have removed it). */
static int still_linked(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* path: NULL if it could not be made (too long) */
static void release(const char *path, int fd)
{
	if (fd < 0)
		return;
	if (path && still_linked(fd, path))
		unlink(path);
	close(fd);
}

/* Lock path and write text there: 0 and the lock's fd in *fd; -1 with errno
 * EWOULDBLOCK and the holder's text in held when another holds it, or with
 * another errno when the file cannot be used. */
static int take(const char *path, const char *text, int *fd, char *held, size_t heldlen)
{
	if (!path)
		return -1; /* errno: why it could not be made */
	for (int attempt = 1; attempt <= 20; attempt++) {
		int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lfd < 0)
			return -1;
		if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			int saved = errno;
			read_text(lfd, held, heldlen);
			close(lfd);
			errno = saved;
			if (saved != EWOULDBLOCK || attempt == 10)
				return -1;
			/* a reader's probe (complock_holder) holds it for a moment */
			nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
			continue;
		}
		if (!still_linked(lfd, path)) {
			close(lfd);
			continue;
		}
		if (ftruncate(lfd, 0) < 0 || pwrite_full(lfd, text, strlen(text), 0) < 0) {
			int saved = errno;
			release(path, lfd);
			errno = saved;
			return -1;
		}
		*fd = lfd;
		return 0;
	}
	errno = EAGAIN; /* removed under us again and again */
	return -1;
}

static void comp_holder(const char *text, struct complock_holder *h)
{
	if (sscanf(text, "%u %d", &h->port, &h->pid) != 2)
		h->port = h->pid = 0;
}

int complock_take(uint64_t comp_id, unsigned port, int *fd, struct complock_holder *h)
{
	char path[4200], text[64], held[64] = "";
	snprintf(text, sizeof(text), "%u %d\n", port, (int)getpid());
	int rc = take(comp_path(comp_id, path, sizeof(path)) ? NULL : path, text, fd, held,
		      sizeof(held));
	if (rc < 0) {
		int saved = errno;
		comp_holder(held, h);
		errno = saved;
	}
	return rc;
}

void complock_release(uint64_t comp_id, int fd)
{
	char path[4200];
	release(comp_path(comp_id, path, sizeof(path)) ? NULL : path, fd);
}

int complock_holder(uint64_t comp_id, struct complock_holder *h)
{
	char path[4200], text[64];
	if (comp_path(comp_id, path, sizeof(path)) < 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (held) {
		read_text(fd, text, sizeof(text));
		comp_holder(text, h);
	}
	close(fd); /* also drops the probe's shared lock */
	return held && h->port;
}

int portlock_take(unsigned port, const char *addr, int *fd, struct portlock_holder *h)
{
	char path[4200], text[128], held[128] = "";
	snprintf(text, sizeof(text), "%d %s\n", (int)getpid(), addr);
	int rc = take(portlock_path(port, path, sizeof(path)) ? NULL : path, text, fd, held,
		      sizeof(held));
	if (rc < 0) {
		int saved = errno;
		if (sscanf(held, "%d %63s", &h->pid, h->addr) != 2)
			h->pid = 0, h->addr[0] = 0;
		errno = saved;
	}
	return rc;
}

void portlock_release(unsigned port, int fd)
{
	char path[4200];
	release(portlock_path(port, path, sizeof(path)) ? NULL : path, fd);
}

/* A POSIX lock on an empty file: not inherited by restart's children, its
 * holder known from F_GETLK, and nothing written (the data block of a text
 * cost 0.3 ms at the close that removed it, on ext4: on restart's way to the
 * program's first instruction). */
int restartlock_take(uint64_t comp_id, int *fd, int *pid)
{
	char path[4200];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (restart_path(comp_id, path, sizeof(path)) < 0)
		return -1;
	for (int attempt = 1; attempt <= 20; attempt++) {
		int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lfd < 0)
			return -1;
		if (fcntl(lfd, F_SETLK, &fl) < 0) {
			int saved = errno;
			struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			*pid =
			    fcntl(lfd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? who.l_pid : 0;
			close(lfd);
			errno = saved == EACCES || saved == EAGAIN ? EWOULDBLOCK : saved;
			return -1;
		}
		if (still_linked(lfd, path)) {
			*fd = lfd;
			return 0;
		}
		close(lfd); /* removed by its last holder meanwhile */
	}
	errno = EAGAIN;
	return -1;
}

void restartlock_release(uint64_t comp_id, int fd)
{
	char path[4200];
	release(restart_path(comp_id, path, sizeof(path)) ? NULL : path, fd);
}
