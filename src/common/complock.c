/* Which coordinator serves a computation: an flock'ed file in the run dir. */
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

static int lock_path(uint64_t comp_id, char *buf, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "comp-%016llx.lock", (unsigned long long)comp_id);
	return proto_run_path(name, buf, size);
}

static void read_holder(int fd, struct complock_holder *h)
{
	char text[64];
	ssize_t n = pread_full(fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = 0;
	h->port = 0;
	h->pid = 0;
	if (sscanf(text, "%u %d", &h->port, &h->pid) != 2)
		h->port = h->pid = 0;
}

/* The file at path is still the one fd has open (a releaser may have removed it). */
static int still_linked(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int complock_take(uint64_t comp_id, unsigned port, int *fd, struct complock_holder *h)
{
	char path[4200], text[64];
	if (lock_path(comp_id, path, sizeof(path)) < 0)
		return -1;
	for (int attempt = 1; attempt <= 20; attempt++) {
		int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lfd < 0)
			return -1;
		if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			int saved = errno;
			read_holder(lfd, h);
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
		int n = snprintf(text, sizeof(text), "%u %d\n", port, (int)getpid());
		if (ftruncate(lfd, 0) < 0 || pwrite_full(lfd, text, n, 0) < 0) {
			int saved = errno;
			complock_release(comp_id, lfd);
			errno = saved;
			return -1;
		}
		*fd = lfd;
		return 0;
	}
	errno = EAGAIN; /* removed under us again and again */
	return -1;
}

void complock_release(uint64_t comp_id, int fd)
{
	char path[4200];
	if (fd < 0)
		return;
	if (lock_path(comp_id, path, sizeof(path)) == 0 && still_linked(fd, path))
		unlink(path);
	close(fd);
}

int complock_holder(uint64_t comp_id, struct complock_holder *h)
{
	char path[4200];
	if (lock_path(comp_id, path, sizeof(path)) < 0)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (held)
		read_holder(fd, h);
	close(fd); /* also drops the probe's shared lock */
	return held && h->port;
}
