/* POSIX message queues: the IMG_FD_MQUEUE payload (kind "mqueue"). The
 * descriptor's img_file (path "/NAME", IMG_FILE_SAVED) holds the queued
 * messages in filedata, in receive order: records {u32 prio, u32 len, len
 * bytes, zero padding to 8}. Saved by runtime/fd_mqueue.c, restored by
 * restore/fd_mqueue.c. */
#ifndef STASIS_IMAGE_KINDS_FD_MQUEUE_H
#define STASIS_IMAGE_KINDS_FD_MQUEUE_H

#include <stdint.h>

struct img_mqueue {
	int64_t maxmsg, msgsize, curmsgs;
	uint32_t unlinked; /* 1: the name was removed (mq_unlink) */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct img_mqueue) == 32, "img_mqueue");

#endif
