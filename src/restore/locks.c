/* File locks at restart: taken again through the restored descriptors, as the
 * last step before the jump (any close of a descriptor to a file after its
 * POSIX locks are taken would drop them). */
#include "restore/locks.h"
#include "restore/load.h"
#include "common/log.h"
#include "image/kinds/locks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int take(const struct img_lock *l)
{
	struct flock fl = {.l_type = l->write ? F_WRLCK : F_RDLCK,
			   .l_whence = SEEK_SET,
			   .l_start = l->start,
			   .l_len = l->end < 0 ? 0 : l->end - l->start + 1};
	switch (l->kind) {
	case IMG_LOCK_POSIX:
		return fcntl(l->fd, F_SETLK, &fl);
	case IMG_LOCK_OFD:
		return fcntl(l->fd, F_OFD_SETLK, &fl);
	default:
		return flock(l->fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
	}
}

static const char *kind_name(uint32_t kind)
{
	return kind == IMG_LOCK_POSIX ? "POSIX" : kind == IMG_LOCK_OFD ? "OFD" : "flock";
}

static int lock_error(const struct rst_image *img, const struct img_lock *l)
{
	int saved = errno;
	char link[64], path[512] = "?", end[32] = "EOF";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", l->fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = 0;
	if (l->end >= 0)
		snprintf(end, sizeof(end), "%lld", (long long)l->end);
	return error("pid %u cannot take back its %s %s lock on fd %d (%s, bytes %lld-%s): %s; "
		     "another process holds it now (see /proc/locks): end it and restart again",
		     img->proc->pid, kind_name(l->kind), l->write ? "write" : "read", l->fd, path,
		     (long long)l->start, end, strerror(saved));
}

int rst_locks_take(const struct rst_image *img)
{
	for (uint32_t k = 0; k < img->nlocks; k++)
		if (take(&img->locks[k]) < 0)
			return lock_error(img, &img->locks[k]);
	return 0;
}
