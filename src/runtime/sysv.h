/* sysv.c: the SysV IPC objects this process uses (IMG_SEC_IPC), and the
 * wrappers of shmget, semget and msgget that note them. */
#ifndef STASIS_RUNTIME_SYSV_H
#define STASIS_RUNTIME_SYSV_H

#include "image/format.h"
#include "image/kinds/sysv.h"

#include <stddef.h>
#include <stdint.h>

struct rt_files;
struct rt_strtab;
struct rt_ipc {
	struct img_ipc *objs;
	uint32_t n;
};
int rt_dump_sysv(struct rt_ipc *out, struct rt_files *files, char *err, size_t errlen);
/* The mapping of a SysV segment: a file record naming it by shmid. */
int rt_sysv_vma(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t shmid,
		uint64_t pgoff, uint64_t len, char *err, size_t errlen);

#endif
