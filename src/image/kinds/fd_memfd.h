/* memfd: the IMG_FD_MEMFD payload (kind "memfd"). The object is the
 * descriptor's img_file (IMG_FILE_SHMEM, path "/memfd:NAME", contents saved).
 * Saved by runtime/fd_memfd.c, restored by restore/fd_memfd.c (the object by
 * restore/shm.c). */
#ifndef STASIS_IMAGE_KINDS_FD_MEMFD_H
#define STASIS_IMAGE_KINDS_FD_MEMFD_H

#include <stdint.h>

struct img_memfd {
	uint64_t pos;	   /* file offset */
	uint32_t seals;	   /* F_GET_SEALS */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct img_memfd) == 16, "img_memfd");

#endif
