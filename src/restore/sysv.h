/* sysv.c: SysV IPC objects (IMG_SEC_IPC), created by PID 1 in the restart's
 * IPC namespace with their ids. */
#ifndef STASIS_RESTORE_SYSV_H
#define STASIS_RESTORE_SYSV_H

#include "restore/set.h"

#include <stddef.h>
#include <stdint.h>

int rst_sysv_create(const struct rst_set *set);
void *rst_sysv_map(const struct rst_set *set, const struct img_vma *v, uint64_t shmid, uint64_t at,
		   int prot);

#endif
