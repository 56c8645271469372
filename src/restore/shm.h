/* shm.c: shared memory objects (IMG_FILE_SHMEM), one rst_obj each, and the
 * saved contents of shared-mapped files. */
#ifndef STASIS_RESTORE_SHM_H
#define STASIS_RESTORE_SHM_H

#include "restore/set.h"
#include "image/kinds/fd_memfd.h"

#include <stddef.h>
#include <stdint.h>

int rst_shm_scan(struct rst_set *set, int i, char *err, size_t errlen);
/* The object behind record f, held by process i (memfd descriptors: with
 * the memfd's seals, fd_memfd.c); 0, or -1 out of memory. */
int rst_shm_note(struct rst_set *set, int i, const struct img_file *f, const struct img_memfd *m);
int rst_shm_region(const struct rst_image *img, const struct img_vma *v); /* filled by creator */
void *rst_shm_map(const struct rst_image *img, const struct img_vma *v, uint64_t at, int prot,
		  int flags);
int rst_shm_recreate_file(const struct rst_image *img, const struct img_file *f, int flags);
/* Make the missing directories above path (mode 0700): a file or FIFO of a
 * temporary directory removed whole (an MPI session directory) comes back. */
void rst_make_parents(const char *path);
/* A POSIX shm file (IMG_FILE_RESTORE) that exists: its contents, size and
 * mtime become the checkpoint's again. 0, or -1 with a message. */
int rst_shm_put_back(const struct rst_image *img, const struct img_file *f);

#endif
