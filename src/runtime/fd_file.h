/* fd_file.c: files at checkpoint: the files section (IMG_SEC_FILES, with the
 * saved contents in IMG_SEC_FILEDATA) that records the files behind
 * descriptors and mappings and the objects of other kinds (pipes, shared
 * memory, message queues, SysV segments), and the descriptor kind of regular
 * files, directories and character devices (image/kinds/fd_file.h). */
#ifndef STASIS_RUNTIME_FD_FILE_H
#define STASIS_RUNTIME_FD_FILE_H

#include "image/format.h"
#include "runtime/fds.h"

#include <stddef.h>
#include <stdint.h>

#define RT_FILES_MAX RT_FDS_MAX	     /* the files of descriptors, mappings and objects */
#define RT_FILEDATA_MAX (1ull << 30) /* bytes of saved contents, all files together */

struct rt_strtab;
struct stat;
struct rt_files {
	struct img_file *files;
	uint32_t n, cap;
	uint8_t *data; /* saved contents (IMG_SEC_FILEDATA) */
	uint64_t data_len, data_cap;
	/* the records by (dev, ino), chained in increasing order (rt_file_find) */
	int32_t *head, *tail, *next;
	uint32_t hashed; /* records [0, hashed) are chained */
};
/* A new zeroed record at the end of the table, NULL when there are too many;
 * its index is r - f->files. */
struct img_file *rt_file_new(struct rt_files *f);
/* Room for len bytes after the contents kept so far, NULL past
 * RT_FILEDATA_MAX; the caller adds what it keeps there to f->data_len. */
uint8_t *rt_filedata_room(struct rt_files *f, uint64_t len);
/* The first record of (dev, ino) whose flags include all of flags, or -1.
 * Records are found once they are filled (looked up before the next is made). */
int rt_file_find(struct rt_files *f, uint64_t dev, uint64_t ino, uint32_t flags);
/* Record a file by path (fd = -1) or by open descriptor (a deleted one's
 * contents are kept), whose stat the caller may give (st, else NULL); its
 * index, or -1 with err set. */
int rt_file_add(struct rt_files *f, struct rt_strtab *tab, const char *path, int fd,
		const struct stat *st, char *err, size_t errlen);

#endif
