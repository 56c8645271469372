/* dirlist.c: numeric entries of a /proc directory (getdents64, no malloc). */
#ifndef STASIS_RUNTIME_DIRLIST_H
#define STASIS_RUNTIME_DIRLIST_H

/* Sorted, at most max; *self_fd gets the listing's own fd number (closed on
 * return). The count, or -1 with errno. */
int rt_list_numeric(const char *dir, int *out, int max, int *self_fd);
/* This process's open descriptors, the same way (*self_fd: -1 when none was
 * opened to find them). */
int rt_list_own_fds(int *out, int max, int *self_fd);

#endif
