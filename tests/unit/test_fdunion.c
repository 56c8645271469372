/* Unit tests of the union of sorted descriptor lists (runtime/fd_union.h),
 * which one process of a checkpoint makes for all: with a table for kcmp
 * (each entry's ino is its open file description), the union names each
 * description's owner (the lowest (pid, fd) holding it), says whether
 * another process holds it and which parent descriptor each descriptor
 * shares, exactly as comparing every process with every other does; and it
 * compares about once per descriptor when the processes inherited the same
 * descriptions. */
#include "runtime/fd_union.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 16
#define MAXN 4096

struct proc {
	uint32_t pid, ppid;
	struct rt_fdesc v[MAXN];
	uint32_t n;
};

static struct proc procs[MAXP];
static int nprocs;

static void **given; /* what zalloc gave, freed by release */
static size_t ngiven;

static void *zalloc(size_t size)
{
	void **grown = realloc(given, (ngiven + 1) * sizeof(*given));
	ck_assert_ptr_nonnull(grown);
	given = grown;
	return given[ngiven++] = calloc(1, size);
}

/* The union's memory back, as the runtime's arena is reset after a checkpoint. */
static void release(void)
{
	while (ngiven)
		free(given[--ngiven]);
	free(given);
	given = NULL;
}

/* The table's kcmp: descriptions are ordered by their number (ino). */
static int cmp_table(void *ctx, uint32_t pa, const struct rt_fdesc *a, uint32_t pb,
		     const struct rt_fdesc *b)
{
	(void)ctx, (void)pa, (void)pb;
	return (a->ino > b->ino) - (a->ino < b->ino);
}

static int by_desc(const void *x, const void *y)
{
	const struct rt_fdesc *a = x, *b = y;
	if (a->ino != b->ino)
		return (a->ino > b->ino) - (a->ino < b->ino);
	return (a->fd > b->fd) - (a->fd < b->fd);
}

static struct proc *add_proc(uint32_t pid, uint32_t ppid)
{
	struct proc *p = &procs[nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = ppid;
	return p;
}

/* fd of p names description desc */
static void hold(struct proc *p, int fd, uint64_t desc)
{
	p->v[p->n++] = (struct rt_fdesc){.fd = fd, .ino = desc};
}

/* Sorted as fd_order.c sorts: by description, then number; runs. */
static void sort_proc(struct proc *p)
{
	qsort(p->v, p->n, sizeof(p->v[0]), by_desc);
	for (uint32_t k = 0; k < p->n; k++)
		p->v[k].first = k && p->v[k - 1].ino == p->v[k].ino ? p->v[k - 1].first : k;
}

/* The union of every process's list, in the order given; out[i] for procs[i]. */
static uint64_t make_union(struct fu_out **out)
{
	struct fu *u = fu_new(nprocs, cmp_table, NULL, zalloc);
	ck_assert_ptr_nonnull(u);
	for (int i = 0; i < nprocs; i++) {
		sort_proc(&procs[i]);
		struct fu_list l = {procs[i].pid, procs[i].ppid, procs[i].v, procs[i].n};
		ck_assert_int_eq(fu_add(u, &l), 0);
	}
	ck_assert_int_eq(fu_finish(u, out), 0);
	return fu_compared(u);
}

/* What comparing every process with every other says of entry k of procs[i]. */
static struct fu_out expected(int i, uint32_t k)
{
	const struct rt_fdesc *e = &procs[i].v[k];
	struct fu_out x = {.fd = e->fd, .owner_pid = UINT32_MAX, .parent_fd = -1};
	for (int j = 0; j < nprocs; j++) {
		const struct proc *p = &procs[j];
		int lowest = -1, same = 0;
		for (uint32_t m = 0; m < p->n; m++) {
			if (p->v[m].ino != e->ino)
				continue;
			if (lowest < 0 || p->v[m].fd < lowest)
				lowest = p->v[m].fd;
			same |= p->v[m].fd == e->fd;
		}
		if (lowest < 0)
			continue;
		if (j != i)
			x.others = 1;
		if (p->pid < x.owner_pid || (p->pid == x.owner_pid && lowest < x.owner_fd))
			x.owner_pid = p->pid, x.owner_fd = lowest;
		if (p->pid == procs[i].ppid)
			x.parent_fd = same ? e->fd : lowest;
	}
	return x;
}

static void check_all(struct fu_out **out)
{
	for (int i = 0; i < nprocs; i++)
		for (uint32_t k = 0; k < procs[i].n; k++) {
			struct fu_out want = expected(i, k), *got = &out[i][k];
			if (memcmp(&want, got, sizeof(want)))
				ck_abort_msg("pid %u fd %d: owner %u/%d others %u parent %d, want "
					     "%u/%d %u %d",
					     procs[i].pid, got->fd, got->owner_pid, got->owner_fd,
					     got->others, got->parent_fd, want.owner_pid,
					     want.owner_fd, want.others, want.parent_fd);
		}
}

/* manyhog's tree (i forks 2i+1 and 2i+2) of 9 processes inheriting 1000
 * descriptions: one comparison per description and merge, 8000 in all
 * (merging every list with every other: 72000). */
START_TEST(test_inherited_lists_compared_once)
{
	struct fu_out *out[MAXP];
	nprocs = 0;
	for (int i = 0; i < 9; i++) {
		struct proc *p = add_proc(1000 + i, i ? 1000 + (i - 1) / 2 : 1);
		for (int d = 0; d < 1000; d++)
			hold(p, 3 + d, 5000 + d);
	}
	ck_assert_uint_eq(make_union(out), 8000);
	check_all(out);
	ck_assert_uint_eq(out[8][999].owner_pid, 1000);
	ck_assert_int_eq(out[8][999].owner_fd, 1002);
	ck_assert_int_eq(out[8][999].parent_fd, 1002);
	ck_assert_int_eq(out[0][0].parent_fd, -1); /* its parent has no list */
	release();
}
END_TEST

/* Nothing shared: each process owns its own; at most N log2 P comparisons. */
START_TEST(test_disjoint_lists)
{
	struct fu_out *out[MAXP];
	nprocs = 0;
	for (int i = 0; i < 8; i++) {
		struct proc *p = add_proc(200 + i, 199);
		for (int d = 0; d < 100; d++)
			hold(p, 3 + d, (uint64_t)(d * 8 + i)); /* interleaved in the order */
	}
	uint64_t n = make_union(out);
	ck_assert_uint_le(n, 800 * 3);
	check_all(out);
	ck_assert_uint_eq(out[5][7].owner_pid, 205);
	ck_assert_uint_eq(out[5][7].others, 0);
	ck_assert_int_eq(out[5][7].parent_fd, -1);
	release();
}
END_TEST

/* Dups, a description a grandchild holds from its grandparent through a
 * parent that closed it, one passed between siblings, the parent's same
 * number among its dups or only another number, and an owner by pid first. */
START_TEST(test_owners_and_parents)
{
	struct fu_out *out[MAXP];
	nprocs = 0;
	struct proc *g = add_proc(50, 1), *m = add_proc(60, 50), *k = add_proc(70, 60),
		    *s = add_proc(80, 60);
	hold(g, 9, 1); /* the grandparent's, inherited by k, closed by m */
	hold(k, 9, 1);
	hold(g, 4, 2); /* held by all three at 4; m dups it at 3 */
	hold(m, 3, 2);
	hold(m, 4, 2);
	hold(k, 4, 2);
	hold(k, 5, 3); /* k passed it to its sibling s, at 7 there */
	hold(s, 7, 3);
	hold(m, 6, 4); /* m's at 6, k's at 8: its parent's other number */
	hold(k, 8, 4);
	hold(s, 2, 5); /* s alone, under a low number */
	make_union(out);
	check_all(out);
	/* k's entries, sorted by description: 9 (1), 4 (2), 5 (3), 8 (4) */
	ck_assert_int_eq(out[2][0].fd, 9);
	ck_assert_uint_eq(out[2][0].owner_pid, 50);
	ck_assert_int_eq(out[2][0].parent_fd, -1);
	ck_assert_int_eq(out[2][1].owner_fd, 4); /* g's 4, not m's 3: pid first */
	ck_assert_int_eq(out[2][1].parent_fd, 4);
	ck_assert_uint_eq(out[3][0].owner_pid, 70); /* s's 7: k's 5 owns it */
	ck_assert_int_eq(out[3][0].owner_fd, 5);
	ck_assert_int_eq(out[3][0].parent_fd, -1);
	ck_assert_int_eq(out[2][3].parent_fd, 6);
	ck_assert_uint_eq(out[3][1].others, 0);
	release();
}
END_TEST

/* Random computations against comparing every pair: processes in a random
 * tree, each holding random descriptions of a small pool under random
 * numbers, dups included. */
START_TEST(test_random_against_every_pair)
{
	struct fu_out *out[MAXP];
	unsigned seed = 11;
	for (int round = 0; round < 200; round++) {
		nprocs = 0;
		int np = 1 + rand_r(&seed) % MAXP;
		for (int i = 0; i < np; i++) {
			uint32_t pid = 100 + 7 * i + rand_r(&seed) % 5;
			struct proc *p = add_proc(pid, i ? procs[rand_r(&seed) % i].pid : 1);
			int n = rand_r(&seed) % 40;
			for (int fd = 0; fd < n; fd++)
				if (rand_r(&seed) % 4)
					hold(p, fd, rand_r(&seed) % 30);
		}
		make_union(out);
		check_all(out);
		release();
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fdunion");
	TCase *tc = tcase_create("fdunion");
	tcase_add_test(tc, test_inherited_lists_compared_once);
	tcase_add_test(tc, test_disjoint_lists);
	tcase_add_test(tc, test_owners_and_parents);
	tcase_add_test(tc, test_random_against_every_pair);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
