/* fds.c: the process's descriptors (IMG_SEC_FDS, and the kinds' records in
 * IMG_SEC_FDX), the files behind them and behind file mappings
 * (IMG_SEC_FILES, IMG_SEC_FILEDATA), the image's string table, and which
 * pipes and sockets lead outside the computation. */
#ifndef STASIS_RUNTIME_FDS_H
#define STASIS_RUNTIME_FDS_H

#include "restore/blob/restart_info.h"
#include "image/format.h"

#include <stddef.h>
#include <stdint.h>

struct rt_strtab {
	char *buf;
	uint32_t len, cap;
};
/* The offset of s in the table (added), 0 if it is full. */
uint32_t rt_str_add(struct rt_strtab *t, const char *s);

struct rt_files {
	struct img_file *files;
	uint32_t n, cap;
	char *data; /* deleted files' contents */
	uint64_t data_len, data_cap;
};
/* Record a file by path (fd = -1) or by open descriptor; its index, or -1
 * with err set. */
int rt_file_add(struct rt_files *f, struct rt_strtab *tab, const char *path, int fd, char *err,
		size_t errlen);

struct rt_fds {
	struct img_fd *fds;
	uint32_t n;
	uint8_t *fdx; /* IMG_SEC_FDX being built */
	uint64_t fdx_len, fdx_cap;
	struct img_share *shares; /* IMG_SEC_SHARES (fd_share.c) */
	uint32_t nshares;
};
/* Append a record (type, ino, payload) to IMG_SEC_FDX; returns its offset
 * (for img_fd.pos), or -1 with err set. */
int64_t rt_fdx_add(struct rt_fds *out, uint32_t type, uint64_t ino, const void *payload,
		   uint32_t len, char *err, size_t errlen);
int rt_dump_fds(struct rt_fds *out, struct rt_files *files, struct rt_strtab *tab, char *err,
		size_t errlen);

/* The pipes and sockets the launched program inherited lead outside
 * ($STASIS_EXTERNAL); after a restart, those among restart's own stdin,
 * stdout and stderr do. */
void rt_note_inherited_fds(void);
void rt_outside_restarted(const struct rt_restart_info *ri);

#endif
