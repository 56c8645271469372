/* shares.c: descriptions other processes of the checkpoint hold too.
 * rt_shares_scan runs while every process is stopped (after the SUSPENDED
 * barrier); rt_shares_dump then names each shared one of out's descriptors by
 * its owner (out->shares), or fails with what the scan could not read. */
#ifndef STASIS_RUNTIME_SHARES_H
#define STASIS_RUNTIME_SHARES_H

#include <stddef.h>
#include <stdint.h>

struct rt_fds;
void rt_shares_scan(void);
int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen);
/* The pid of the lowest (pid, fd) holding fd's description. */
uint32_t rt_share_owner(int fd);

#endif
