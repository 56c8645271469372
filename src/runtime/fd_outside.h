/* fd_outside.c: descriptors that lead outside the computation (kinds stdio
 * and external, image/kinds/fd_outside.h): the pipes and sockets the
 * launched program inherited, and after a restart those among restart's own
 * stdin, stdout and stderr. */
#ifndef STASIS_RUNTIME_FD_OUTSIDE_H
#define STASIS_RUNTIME_FD_OUTSIDE_H

#include "restore/blob/restart_info.h"

#include <sys/stat.h>

/* The pipes and sockets the launched program inherited lead outside
 * ($STASIS_EXTERNAL, which its descendants inherit). */
void rt_note_inherited_fds(void);
/* After a restart, those among restart's own stdin, stdout and stderr do. */
void rt_outside_restarted(const struct rt_restart_info *ri);
/* Whether the file st leads outside. */
int rt_fd_inherited(const struct stat *st);

#endif
