/* dirlist.c: numeric entries of a /proc directory (getdents64, no malloc). */
#ifndef STASIS_RUNTIME_DIRLIST_H
#define STASIS_RUNTIME_DIRLIST_H

/* Sorted; *self_fd gets the listing's own fd number (closed on return). The
 * count, or -1 with errno: E2BIG when there are more than max, for a list
 * that silently missed some (descriptors a checkpoint would not record) is
 * never what a caller wants. */
int rt_list_numeric(const char *dir, int *out, int max, int *self_fd);
/* This process's open descriptors, the same way (*self_fd: -1 when none was
 * opened to find them). */
int rt_list_own_fds(int *out, int max, int *self_fd);

#endif
