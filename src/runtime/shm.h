/* shm.c: shared memory objects (IMG_FILE_SHMEM records, one per inode) and
 * the saved contents of small shared-mapped files. */
#ifndef STASIS_RUNTIME_SHM_H
#define STASIS_RUNTIME_SHM_H

#include <stddef.h>
#include <stdint.h>

struct rt_files;
struct rt_strtab;
struct stat;
int rt_shm_object(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t ino,
		  uint64_t dev, uint64_t end, char *err, size_t errlen);
int rt_shm_save_fd(struct rt_files *f, int idx, int fd, uint64_t size, char *err, size_t errlen);
/* fd (open with open_flags, st its fstat) holds record idx's file at path */
int rt_shm_keep_fd_file(struct rt_files *f, int idx, int fd, int open_flags, const struct stat *st,
			const char *path, char *err, size_t errlen);
int rt_shm_keep_file(struct rt_files *f, const struct rt_strtab *tab, int idx, char *err,
		     size_t errlen);
int rt_shm_keep_pending(char *err, size_t errlen);
void rt_shm_reset(void); /* a new checkpoint: forget the parent's maps */
/* 1 if the parent stores the range's pages, 0 if not, -1 (ENOMEM) if unknown */
int rt_shm_parent_stores(uint64_t ino, uint64_t dev, uint64_t pgoff, uint64_t len);
int rt_shm_saved(const struct rt_files *f, int idx);
/* 1 and its name in out, 0 if not linked, -1 (ENOMEM) if unknown */
int rt_shm_linked_path(const char *path, uint64_t ino, uint64_t dev, char *out, size_t outlen);

#endif
