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
/* rt_shares_begin: this checkpoint's PREPARED barrier has passed (a list
 * published before is stale); rt_shares_done: DRAINED has passed, every
 * process has read our published list (removed). */
void rt_shares_begin(void);
void rt_shares_done(void);
/* rt_fds_sorted (fd_order.h), from what the sharing pass of this checkpoint
 * already has (our own list, a list another process published) when it can. */
struct rt_fdesc;
int rt_fds_sorted_known(uint32_t pid, struct rt_fdesc *out, int *fds, int max);
int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen);
/* The pid of the lowest (pid, fd) holding fd's description. */
uint32_t rt_share_owner(int fd);
/* Whether the union of this checkpoint's lists (fd_union.h) said which of our
 * parent's descriptors share each of ours; then rt_share_parent_fd gives it
 * for fd (*pfd: -1 for none) and returns 1, else 0. */
int rt_shares_parents_known(void);
int rt_share_parent_fd(int fd, int *pfd);

#endif
