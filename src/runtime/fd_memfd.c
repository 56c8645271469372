/* memfd descriptors: name, seals, offset and the whole contents. The object is
 * the same IMG_FILE_SHMEM record its mappings use (shm.c), so descriptors and
 * mappings of one memfd, in any process, share one object again at restart. */
#include "runtime/fdkinds.h"
#include "runtime/fds.h"
#include "runtime/shm.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/fd_memfd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static int memfd_match(int fd, const char *link, const struct stat *st)
{
	(void)fd;
	return S_ISREG(st->st_mode) && !strncmp(link, "/memfd:", 7);
}

static int memfd_dump(struct rt_fd_ctx *c)
{
	struct statfs sfs;
	if (fstatfs(c->fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC)
		return errf(c->err, c->errlen,
			    "pid %d fd %d is a hugetlb memfd (%s): not supported; close it "
			    "before checkpointing",
			    getpid(), c->fd, c->link);
	int idx = rt_shm_object(c->files, c->tab, c->link, c->st->st_ino, c->st->st_dev,
				c->st->st_size, c->err, c->errlen);
	if (idx < 0)
		return -1;
	if (!rt_shm_saved(c->files, idx) &&
	    rt_shm_save_fd(c->files, idx, c->fd, c->st->st_size, c->err, c->errlen) < 0)
		return -1;
	int seals = fcntl(c->fd, F_GET_SEALS);
	struct img_memfd m = {.pos = lseek(c->fd, 0, SEEK_CUR), .seals = seals < 0 ? 0 : seals};
	c->e->file = idx;
	return rt_fd_record(c, IMG_FD_MEMFD, c->st->st_ino, &m, sizeof(m));
}

const struct rt_fd_kind rt_fd_memfd = {"memfd", memfd_match, memfd_dump};
