/* fds.c: the process's descriptors (IMG_SEC_FDS), each recorded by its kind
 * (fdkinds.h), with the kinds' records in IMG_SEC_FDX. */
#ifndef STASIS_RUNTIME_FDS_H
#define STASIS_RUNTIME_FDS_H

#include "image/format.h"
#include "image/kinds/shares.h"

#include <stddef.h>
#include <stdint.h>

/* The descriptors of one process the runtime records at most (and the size
 * of every list of descriptor numbers it reads from /proc/PID/fd). */
#define RT_FDS_MAX 65536

struct rt_files;
struct rt_strtab;

struct rt_fds {
	struct img_fd *fds;
	uint32_t n;
	uint8_t *fdx; /* IMG_SEC_FDX being built */
	uint64_t fdx_len, fdx_cap;
	struct img_share *shares; /* IMG_SEC_SHARES (shares.c) */
	uint32_t nshares;
};
/* Append a record (type, ino, payload) to IMG_SEC_FDX; returns its offset
 * (for img_fd.pos), or -1 with err set. */
int64_t rt_fdx_add(struct rt_fds *out, uint32_t type, uint64_t ino, const void *payload,
		   uint32_t len, char *err, size_t errlen);
/* the same with the payload in two parts: head, then tlen bytes of tail */
int64_t rt_fdx_add2(struct rt_fds *out, uint32_t type, uint64_t ino, const void *head,
		    uint32_t hlen, const void *tail, uint64_t tlen, char *err, size_t errlen);
int rt_dump_fds(struct rt_fds *out, struct rt_files *files, struct rt_strtab *tab, char *err,
		size_t errlen);

#endif
