/* fd_union.c: the union of the sorted descriptor lists (fd_order.h) of every
 * process of a checkpoint, made by one process: which process holds each open
 * file description, its owner (the lowest (pid, fd) holding it), and for each
 * descriptor the parent's descriptor of the same description. The lists are
 * merged as they come, like the digits of a binary counter (two merged lists
 * of equal rank make one of the next rank): O(N log P) comparisons for N
 * descriptors in P lists at worst, about N when the lists hold the same
 * descriptions (inherited ones), where merging every list with every other
 * takes O(N P). Pure: memory and the comparison come from the caller (the
 * runtime's arena and kcmp; the unit test's malloc and a table). */
#ifndef STASIS_RUNTIME_FD_UNION_H
#define STASIS_RUNTIME_FD_UNION_H

#include "runtime/fd_order.h"

#include <stddef.h>
#include <stdint.h>

/* One process's list: sorted, dups in runs (fd_order.h), at most 2^31 entries. */
struct fu_list {
	uint32_t pid, ppid;
	const struct rt_fdesc *v;
	uint32_t n;
};

/* What the union says of one entry of a list (the same index). */
struct fu_out {
	int32_t fd;
	uint32_t owner_pid; /* the lowest (pid, fd) holding the description */
	int32_t owner_fd;
	int32_t parent_fd; /* the parent's descriptor of it: the same number if the
			      parent holds that one, else its lowest; -1: none, or
			      the parent's list is not in the union */
	uint32_t others;   /* 1: another process of the union holds it */
	uint32_t reserved;
};

/* a of process pa against b of pb: <0, 0 (one description), >0; a total order */
typedef int (*fu_cmp_fn)(void *ctx, uint32_t pa, const struct rt_fdesc *a, uint32_t pb,
			 const struct rt_fdesc *b);
/* zeroed memory that stays until the union is no longer used, or NULL */
typedef void *(*fu_alloc_fn)(size_t size);

struct fu;
/* A union of at most maxlists lists, or NULL (no memory). */
struct fu *fu_new(uint32_t maxlists, fu_cmp_fn cmp, void *ctx, fu_alloc_fn alloc);
/* Add a list (the union keeps l->v, not *l); 0, or -1: too many, no memory. */
int fu_add(struct fu *u, const struct fu_list *l);
/* Merge what is left and fill out[i] (l->n entries) for the i-th list added;
 * 0, or -1: no memory. Once. */
int fu_finish(struct fu *u, struct fu_out **out);
/* How many comparisons the union made. */
uint64_t fu_compared(const struct fu *u);

#endif
