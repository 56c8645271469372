/* shares_pub.c: the files of the descriptor-sharing pass (shares.c) in the run
 * directory. Each process publishes its sorted list of descriptors
 * (fdorder-<comp>-<pid>-<port>); the process that makes the union of the
 * lists (fd_union.h) answers each process (fdshare-<comp>-<pid>-<port>).
 * Each file is written whole then renamed (a reader sees all of it or
 * nothing) and belongs to one checkpoint: its computation, its generation,
 * written after this process saw that checkpoint's PREPARED pass. */
#ifndef STASIS_RUNTIME_SHARES_PUB_H
#define STASIS_RUNTIME_SHARES_PUB_H

#include "runtime/fd_order.h"
#include "runtime/fd_union.h"

#include <stddef.h>
#include <stdint.h>

enum rt_answer {
	RT_ANSWER_OK,	   /* the union's answer for each entry of the list */
	RT_ANSWER_FAILED,  /* the pass failed (why: in the answer) */
	RT_ANSWER_COMPARE, /* no answer: compare with the other lists yourself */
};

/* This checkpoint's PREPARED pass has passed here: files written before are stale. */
void rt_pub_begin(void);
/* Publish our list (best effort: a reader that finds none lists ours itself). */
void rt_pub_list(uint32_t pid, uint32_t ppid, const struct rt_fdesc *v, uint32_t n);
/* pid's published list: its count, *v (allocated from the arena if *v is NULL,
 * else at most max entries) and *ppid; -1 if it is not there (yet), not of
 * this checkpoint, or not a valid list. */
int rt_pub_read_list(uint32_t pid, struct rt_fdesc **v, uint32_t max, uint32_t *ppid);
/* Answer pid: out[0..n) (RT_ANSWER_OK), or why the pass failed, or that pid
 * compares itself; removed with our files by rt_pub_done. */
void rt_pub_answer(uint32_t pid, enum rt_answer status, const struct fu_out *out, uint32_t n,
		   const char *why);
/* Our answer, if it has come: 1 with out[0..n) (OK) or why (FAILED), 0 if it
 * has not come yet, -1 if it is unusable (COMPARE, or not for our list of n
 * entries). */
int rt_pub_read_answer(uint32_t pid, struct fu_out *out, uint32_t n, enum rt_answer *status,
		       char *why, size_t whylen);
/* DRAINED has passed: every process has read what it needed; our files go
 * (our list, our answer, those we wrote). */
void rt_pub_done(uint32_t self);

#endif
