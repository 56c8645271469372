/* procinfo.c: the process's own state: ids, mm fields, auxv, cwd, umask,
 * rlimits, itimers, personality (IMG_SEC_PROC), signal actions
 * (IMG_SEC_SIGACT), and its children. */
#ifndef STASIS_RUNTIME_PROCINFO_H
#define STASIS_RUNTIME_PROCINFO_H

#include "image/format.h"

#include <stddef.h>
#include <stdint.h>

struct img_proc;
struct img_sigaction;
struct rt_strtab;
int rt_dump_proc(struct img_proc *p, struct rt_strtab *tab, char *err, size_t errlen);
void rt_dump_sigactions(struct img_sigaction *sa);
/* The host, kernel and command line (IMG_SEC_ORIGIN, image/kinds/origin.h);
 * what cannot be read is left empty. */
struct img_origin;
void rt_dump_origin(struct img_origin *g, struct rt_strtab *tab);
void rt_restore_itimers(void);
/* The live children of this process that are part of the computation: how
 * many (at most max), or -1 without the memory to read them. */
int rt_list_children(uint32_t *pids, int max);

#endif
