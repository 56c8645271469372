/* SysV IPC objects (IMG_SEC_IPC, kind "ipc"): those a process got from
 * shmget/semget/msgget, attached, or last used; restart recreates each once,
 * with its id, in a new IPC namespace. Contents are in IMG_SEC_FILEDATA at
 * data_off: shm: the segment's first data_len bytes (the rest is zero); sem:
 * `size` u16 values; msg: `count` records {u64 mtype, u64 len, len bytes,
 * zero padding to 8}. Saved by runtime/sysv.c, restored by restore/sysv.c. */
#ifndef STASIS_IMAGE_KINDS_SYSV_H
#define STASIS_IMAGE_KINDS_SYSV_H

#include <stdint.h>

enum img_ipc_type {
	IMG_IPC_SHM = 1,
	IMG_IPC_SEM = 2,
	IMG_IPC_MSG = 3,
};
#define IMG_IPC_REMOVED (1u << 0) /* shm marked for removal (IPC_RMID) while attached */
struct img_ipc {
	uint32_t type; /* enum img_ipc_type */
	uint32_t id;
	int32_t key;
	uint32_t mode; /* permission bits */
	uint32_t uid, gid;
	uint64_t size; /* shm: bytes; sem: semaphores; msg: msg_qbytes */
	uint64_t data_off, data_len;
	uint32_t count; /* msg: messages */
	uint32_t flags; /* IMG_IPC_* */
};
_Static_assert(sizeof(struct img_ipc) == 56, "img_ipc");

#endif
