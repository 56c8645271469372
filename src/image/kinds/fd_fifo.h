/* FIFOs (named pipes): the IMG_FD_FIFO payload (kind "fifo"): struct
 * img_fifo, then data_len bytes in flight. Saved by runtime/fd_fifo.c,
 * restored by restore/fd_fifo.c. */
#ifndef STASIS_IMAGE_KINDS_FD_FIFO_H
#define STASIS_IMAGE_KINDS_FD_FIFO_H

#include <stdint.h>

struct img_fifo {
	uint32_t path_str; /* strings offset: the FIFO's path */
	uint32_t mode;	   /* st_mode */
	uint64_t ino, dev;
	uint32_t capacity; /* F_GETPIPE_SZ */
	uint32_t reserved;
	uint64_t data_len;
};
_Static_assert(sizeof(struct img_fifo) == 40, "img_fifo");

#endif
