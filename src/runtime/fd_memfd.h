/* fd_memfd.c: memfd descriptors (kind memfd in fdkinds.c). */
#ifndef STASIS_RUNTIME_FD_MEMFD_H
#define STASIS_RUNTIME_FD_MEMFD_H

/* 1 for the S_ISREG descriptors that are kinds of their own (memfd, mqueue) */
int rt_fd_not_regular(int fd, const char *link);

#endif
