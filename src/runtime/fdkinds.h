/* fdkinds.c: the descriptor kinds, in one table.
 * `match` says whether fd (st: its fstat, link: its /proc/self/fd target) is
 * of the kind; `dump` fills c->e (type, file, pos = the rt_fdx_add offset of
 * its record). */
#ifndef STASIS_RUNTIME_FDKINDS_H
#define STASIS_RUNTIME_FDKINDS_H

#include "image/format.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct rt_fd_ctx {
	struct img_fd *e;
	int fd;
	const char *link;
	const struct stat *st;
	struct rt_fds *fds;
	struct rt_files *files;
	struct rt_strtab *tab;
	char *err;
	size_t errlen;
};
struct rt_fd_kind {
	const char *name;
	int (*match)(int fd, const char *link, const struct stat *st);
	int (*dump)(struct rt_fd_ctx *c);
};
/* 1 if a kind took the descriptor, 0 if none matches, -1 on error (c->err) */
int rt_fd_kinds_dump(struct rt_fd_ctx *c);
/* The type of the file system fd's file is on (statfs f_type), asked once per
 * device and checkpoint (a kind's match runs for each descriptor); 0 if
 * fstatfs fails. */
long rt_fd_fstype(int fd, const struct stat *st);
#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202 /* linux/magic.h of Debian 12 lacks it */
#endif
/* Record a payload for c's descriptor as `type` (fills c->e). */
int rt_fd_record(struct rt_fd_ctx *c, uint32_t type, uint64_t ino, const void *p, uint32_t len);
/* The same with the record in two parts: head, then tlen bytes of tail. */
int rt_fd_record2(struct rt_fd_ctx *c, uint32_t type, uint64_t ino, const void *head, uint32_t hlen,
		  const void *tail, uint64_t tlen);

#endif
