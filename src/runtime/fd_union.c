/* The union of every process's sorted descriptor list (fd_union.h).
 *
 * Each list is a sequence of runs (one per open file description: its dups,
 * lowest first). A group is one description and the runs of every list that
 * holds it, chained; a sequence of groups is in the lists' common order. Two
 * sequences merge in one pass: equal groups become one. Each list added is a
 * sequence of rank 0; two sequences of equal rank on top of the stack merge
 * into one of the next rank, so each run is merged about log2(P) times. */
#include "runtime/fd_union.h"

#include "runtime/sort.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RANKS 64

struct fu_run {
	uint32_t list, start, end; /* the run is entries [start, end) of that list */
	struct fu_run *next;	   /* the next run of the same description */
};

struct fu_group {
	struct fu_run *head, *tail;
};

struct fu_seq {
	struct fu_group *g;
	uint32_t n, rank;
};

struct fu {
	fu_cmp_fn cmp;
	void *ctx;
	fu_alloc_fn alloc;
	struct fu_list *lists;
	uint32_t nlists, maxlists;
	struct fu_seq stack[MAX_RANKS];
	uint32_t depth;
	uint64_t compared;
};

struct fu *fu_new(uint32_t maxlists, fu_cmp_fn cmp, void *ctx, fu_alloc_fn alloc)
{
	struct fu *u = alloc(sizeof(*u));
	if (!u)
		return NULL;
	u->lists = alloc((maxlists ? maxlists : 1) * sizeof(*u->lists));
	if (!u->lists)
		return NULL;
	u->cmp = cmp;
	u->ctx = ctx;
	u->alloc = alloc;
	u->maxlists = maxlists;
	return u;
}

uint64_t fu_compared(const struct fu *u)
{
	return u->compared;
}

static int group_cmp(struct fu *u, const struct fu_group *a, const struct fu_group *b)
{
	const struct fu_list *la = &u->lists[a->head->list], *lb = &u->lists[b->head->list];
	u->compared++;
	return u->cmp(u->ctx, la->pid, &la->v[a->head->start], lb->pid, &lb->v[b->head->start]);
}

/* a and b into one sequence: equal groups are one description. */
static int merge(struct fu *u, struct fu_seq *a, const struct fu_seq *b)
{
	struct fu_group *g = u->alloc(((size_t)a->n + b->n) * sizeof(*g));
	uint32_t i = 0, j = 0, n = 0;
	if (!g)
		return -1;
	while (i < a->n && j < b->n) {
		int c = group_cmp(u, &a->g[i], &b->g[j]);
		if (c < 0) {
			g[n++] = a->g[i++];
		} else if (c > 0) {
			g[n++] = b->g[j++];
		} else {
			a->g[i].tail->next = b->g[j].head;
			g[n] = a->g[i++];
			g[n++].tail = b->g[j++].tail;
		}
	}
	while (i < a->n)
		g[n++] = a->g[i++];
	while (j < b->n)
		g[n++] = b->g[j++];
	a->g = g;
	a->n = n;
	a->rank = (a->rank > b->rank ? a->rank : b->rank) + 1;
	return 0;
}

/* Merge the two sequences on top of the stack (while they have one rank, or
 * all that are left when all is set). */
static int settle(struct fu *u, int all)
{
	while (u->depth >= 2 &&
	       (all || u->stack[u->depth - 1].rank == u->stack[u->depth - 2].rank)) {
		if (merge(u, &u->stack[u->depth - 2], &u->stack[u->depth - 1]) < 0)
			return -1;
		u->depth--;
	}
	return 0;
}

/* Entry k starts a run (a list from another process is read as it comes:
 * any entry that does not point to itself continues the run before). */
static int run_starts(const struct fu_list *l, uint32_t k)
{
	return !k || l->v[k].first == k;
}

static uint32_t count_runs(const struct fu_list *l)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < l->n; k++)
		n += run_starts(l, k);
	return n;
}

int fu_add(struct fu *u, const struct fu_list *l)
{
	if (u->nlists >= u->maxlists || u->depth >= MAX_RANKS)
		return -1;
	uint32_t nruns = count_runs(l), r = 0;
	struct fu_run *runs = u->alloc((nruns ? nruns : 1) * sizeof(*runs));
	struct fu_group *g = u->alloc((nruns ? nruns : 1) * sizeof(*g));
	if (!runs || !g)
		return -1;
	for (uint32_t k = 0; k < l->n; k++) {
		if (!run_starts(l, k)) {
			runs[r - 1].end = k + 1;
			continue;
		}
		runs[r] = (struct fu_run){.list = u->nlists, .start = k, .end = k + 1};
		g[r] = (struct fu_group){&runs[r], &runs[r]};
		r++;
	}
	u->lists[u->nlists++] = *l;
	u->stack[u->depth++] = (struct fu_seq){g, nruns, 0};
	return settle(u, 0);
}

/* The lists by pid, to find each one's parent. */
struct by_pid {
	uint32_t pid, list;
};

static int cmp_pid(const void *a, const void *b)
{
	const struct by_pid *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static struct by_pid *by_pid(struct fu *u)
{
	struct by_pid *v = u->alloc((u->nlists ? u->nlists : 1) * sizeof(*v));
	for (uint32_t i = 0; v && i < u->nlists; i++)
		v[i] = (struct by_pid){u->lists[i].pid, i};
	if (v)
		rt_sort(v, u->nlists, sizeof(*v), cmp_pid);
	return v;
}

/* The index of the list of pid, or -1. */
static int32_t list_of(const struct fu *u, const struct by_pid *v, uint32_t pid)
{
	struct by_pid key = {pid, 0};
	const struct by_pid *hit = bsearch(&key, v, u->nlists, sizeof(*v), cmp_pid);
	return hit ? (int32_t)hit->list : -1;
}

/* The parent's descriptor of fd's description (its run pr): fd itself if the
 * parent holds that number, else its lowest. */
static int32_t parent_fd(const struct fu_list *pl, const struct fu_run *pr, int fd)
{
	uint32_t lo = pr->start, hi = pr->end;
	while (lo < hi) { /* a run is in increasing fd order */
		uint32_t mid = lo + (hi - lo) / 2;
		if (pl->v[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pr->end && pl->v[lo].fd == fd ? fd : pl->v[pr->start].fd;
}

/* Every entry of the group's runs; slot[list] is its run of the group. */
static void fill_group(struct fu *u, const struct fu_group *g, const int32_t *parent,
		       struct fu_run **slot, struct fu_out **out)
{
	uint32_t opid = UINT32_MAX;
	int32_t ofd = 0;
	for (struct fu_run *r = g->head; r; r = r->next) {
		const struct fu_list *l = &u->lists[r->list];
		int fd = l->v[r->start].fd;
		if (l->pid < opid || (l->pid == opid && fd < ofd))
			opid = l->pid, ofd = fd;
		slot[r->list] = r;
	}
	for (struct fu_run *r = g->head; r; r = r->next) {
		const struct fu_list *l = &u->lists[r->list];
		const struct fu_run *pr = parent[r->list] >= 0 ? slot[parent[r->list]] : NULL;
		for (uint32_t k = r->start; k < r->end; k++) {
			int fd = l->v[k].fd;
			out[r->list][k] = (struct fu_out){
			    .fd = fd,
			    .owner_pid = opid,
			    .owner_fd = ofd,
			    .parent_fd = pr ? parent_fd(&u->lists[parent[r->list]], pr, fd) : -1,
			    .others = g->head->next != NULL};
		}
	}
	for (struct fu_run *r = g->head; r; r = r->next)
		slot[r->list] = NULL;
}

int fu_finish(struct fu *u, struct fu_out **out)
{
	if (settle(u, 1) < 0)
		return -1;
	struct by_pid *byp = by_pid(u);
	uint32_t n = u->nlists ? u->nlists : 1;
	int32_t *parent = u->alloc(n * sizeof(*parent));
	struct fu_run **slot = u->alloc(n * sizeof(*slot));
	if (!byp || !parent || !slot)
		return -1;
	for (uint32_t i = 0; i < u->nlists; i++) {
		parent[i] = list_of(u, byp, u->lists[i].ppid);
		out[i] = u->alloc((u->lists[i].n ? u->lists[i].n : 1) * sizeof(struct fu_out));
		if (!out[i])
			return -1;
	}
	const struct fu_seq *s = u->depth ? &u->stack[0] : NULL;
	for (uint32_t k = 0; s && k < s->n; k++)
		fill_group(u, &s->g[k], parent, slot, out);
	return 0;
}
