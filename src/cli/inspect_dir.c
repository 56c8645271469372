/* stasis inspect --dir DIR [VIEW]: a whole checkpoint, as CRIU's `crit x`
 * shows one (inspect.h). Every record is printed by its kind's printer or
 * image/describe.h's, as for one image; this file only chooses which, in
 * which order (the process tree), and adds the totals. */
#include "cli/cli.h"
#include "cli/inspect.h"
#include "common/log.h"
#include "image/describe.h"
#include "restore/chain.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ckpt {
	const char *dir;
	int n;
	struct rst_image *img;
	int *order; /* the processes in tree order: indexes into img */
	int *depth; /* of each process in the tree (by index into img) */
	int *seen;
};

static int find_pid(const struct ckpt *c, uint32_t pid)
{
	for (int i = 0; i < c->n; i++)
		if (c->img[i].proc->pid == pid)
			return i;
	return -1;
}

/* i, then its children by pid, depth first. */
static void walk(struct ckpt *c, int i, int depth, int *k)
{
	c->seen[i] = 1;
	c->depth[i] = depth;
	c->order[(*k)++] = i;
	for (;;) {
		int next = -1;
		for (int j = 0; j < c->n; j++)
			if (!c->seen[j] && c->img[j].proc->ppid == c->img[i].proc->pid &&
			    (next < 0 || c->img[j].proc->pid < c->img[next].proc->pid))
				next = j;
		if (next < 0)
			return;
		walk(c, next, depth + 1, k);
	}
}

/* The roots (their parent is not in the checkpoint) by pid, each with its
 * tree; then any process left (a loop of parents in a damaged set). */
static void tree_order(struct ckpt *c)
{
	int k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (;;) {
			int next = -1;
			for (int j = 0; j < c->n; j++)
				if (!c->seen[j] &&
				    (pass || find_pid(c, c->img[j].proc->ppid) < 0) &&
				    (next < 0 || c->img[j].proc->pid < c->img[next].proc->pid))
					next = j;
			if (next < 0)
				break;
			walk(c, next, 0, &k);
		}
}

static void ckpt_free(struct ckpt *c)
{
	for (int i = 0; c->img && i < c->n; i++)
		if (c->img[i].proc)
			rst_free(&c->img[i]);
	free(c->img);
	free(c->order);
	free(c->depth);
	free(c->seen);
}

static int ckpt_load(struct ckpt *c, const char *dir)
{
	char **paths, err[1024];
	memset(c, 0, sizeof(*c));
	c->dir = dir;
	c->n = cli_newest_in_dir(dir, &paths, 0);
	if (c->n <= 0)
		return -1;
	c->img = calloc(c->n, sizeof(*c->img));
	c->order = calloc(c->n, sizeof(int));
	c->depth = calloc(c->n, sizeof(int));
	c->seen = calloc(c->n, sizeof(int));
	if (!c->img || !c->order || !c->depth || !c->seen)
		die("out of memory");
	int rc = 0;
	for (int i = 0; i < c->n; i++) {
		if (rc == 0 && rst_load(&c->img[i], paths[i], err, sizeof(err)) < 0)
			rc = error("%s", err);
		free(paths[i]);
	}
	free(paths);
	if (rc == 0)
		tree_order(c);
	return rc;
}

/* The image that the checkpoint's time and first host come from: the root's. */
static const struct rst_image *first(const struct ckpt *c)
{
	return &c->img[c->order[0]];
}

static void when(uint64_t ns, const char *fmt, char *buf, size_t size)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, fmt, &tm))
		snprintf(buf, size, "%llu ns", (unsigned long long)ns);
}

static uint64_t total_bytes(const struct ckpt *c)
{
	uint64_t n = 0;
	for (int i = 0; i < c->n; i++)
		n += c->img[i].r.hdr.file_size;
	return n;
}

/* "host1: kernel 6.18.0 (#1 SMP ...)", a line per host and kernel. */
static void hosts_text(const struct ckpt *c)
{
	int any = 0;
	for (int k = 0; k < c->n; k++) {
		const struct rst_image *m = &c->img[c->order[k]];
		const struct img_origin *g = m->origin;
		int again = 0;
		for (int j = 0; g && j < k && !again; j++) {
			const struct rst_image *p = &c->img[c->order[j]];
			again =
			    p->origin &&
			    !strcmp(rst_str(p, p->origin->host_str), rst_str(m, g->host_str)) &&
			    !strcmp(rst_str(p, p->origin->release_str), rst_str(m, g->release_str));
		}
		if (!g || again)
			continue;
		printf("host        %s: kernel %s (%s)\n", rst_str(m, g->host_str),
		       rst_str(m, g->release_str), rst_str(m, g->version_str));
		any = 1;
	}
	if (!any)
		printf("host        not recorded (images of an older Stasis)\n");
}

static void summary_text(const struct ckpt *c)
{
	const struct img_header *h = &first(c)->r.hdr;
	char t[64];
	when(h->created_ns, "%Y-%m-%d %H:%M:%S UTC", t, sizeof(t));
	printf("checkpoint  %s\ncomputation %016llx generation %u\ntaken       %s\n", c->dir,
	       (unsigned long long)h->comp_id, h->gen, t);
	hosts_text(c);
	printf("images      %d, %llu bytes\n", c->n, (unsigned long long)total_bytes(c));
}

static void summary_json(const struct ckpt *c, struct img_out *o)
{
	const struct img_header *h = &first(c)->r.hdr;
	char t[64];
	when(h->created_ns, "%Y-%m-%dT%H:%M:%SZ", t, sizeof(t));
	out_str(o, "dir", c->dir);
	out_hex(o, "comp_id", h->comp_id);
	out_u64(o, "gen", h->gen);
	out_u64(o, "nprocs", h->nprocs);
	out_u64(o, "created_ns", h->created_ns);
	out_str(o, "created", t);
	out_u64(o, "bytes", total_bytes(c));
}

/* The command line: the origin record's argv, else [name]. */
static void command_text(const struct rst_image *m)
{
	const struct img_origin *g = m->origin;
	if (!g || !g->argc) {
		printf("[%s]", rst_str(m, m->proc->name_str));
		return;
	}
	uint32_t off = g->argv_str;
	for (uint32_t k = 0; k < g->argc; k++) {
		const char *s = rst_str(m, off);
		printf("%s%s", k ? " " : "", s);
		off += (uint32_t)strlen(s) + 1;
	}
	if (g->flags & IMG_ORIGIN_ARGV_CUT)
		printf(" ...");
}

static void ps_text(const struct ckpt *c)
{
	uint32_t zombies = 0;
	for (int i = 0; i < c->n; i++)
		zombies += c->img[i].nzombies;
	printf("\nprocess tree (%d process%s, %u zombie%s)\n", c->n, c->n == 1 ? "" : "es", zombies,
	       zombies == 1 ? "" : "s");
	printf("  %-8s %-8s %-8s %-8s %-8s %s\n", "PID", "PPID", "PGID", "SID", "THREADS",
	       "COMMAND");
	for (int k = 0; k < c->n; k++) {
		const struct rst_image *m = &c->img[c->order[k]];
		const struct img_proc *p = m->proc;
		int d = c->depth[c->order[k]];
		printf("  %-8u %-8u %-8u %-8u %-8u %*s", p->pid, p->ppid, p->pgid, p->sid,
		       m->nthreads, 2 * d, "");
		command_text(m);
		putchar('\n');
		for (uint32_t z = 0; z < m->nzombies; z++) {
			const struct img_zombie *s = &m->zombies[z];
			printf("  %-8u %-8u %-8u %-8u %-8s %*s<defunct: %s %d>\n", s->pid, p->pid,
			       s->pgid, s->sid, "-", 2 * d + 2, "",
			       s->code == CLD_EXITED ? "exit" : "signal", s->status);
		}
	}
}

/* Bytes of region r in the image's chunks, and as they are stored there
 * (chunks of a parent image count in the image that stores them). */
static void region_bytes(const struct rst_image *m, const struct img_vma *r, uint64_t *mem,
			 uint64_t *stored)
{
	*mem = *stored = 0;
	for (uint32_t i = r->first_chunk; i - r->first_chunk < r->nchunks && i < m->nchunks; i++) {
		*mem += (uint64_t)m->chunks[i].npages * IMG_PAGE;
		*stored += rst_piece_file(m, i) ? 0 : m->chunks[i].stored_size;
	}
}

static void mem_block(const struct rst_image *m, struct img_out *o)
{
	const struct img_view v = rst_view(m);
	uint64_t mapped = 0, mem = 0, stored = 0, a, b;
	for (uint32_t i = 0; i < m->nvmas; i++) {
		region_bytes(m, &m->vmas[i], &a, &b);
		if (m->vmas[i].kind != IMG_VMA_SKIP) /* the runtime's scratch reservation */
			mapped += m->vmas[i].end - m->vmas[i].start;
		mem += a;
		stored += b;
	}
	if (o->json) {
		out_u64(o, "mapped_bytes", mapped);
		out_u64(o, "image_bytes", mem);
		out_u64(o, "stored_bytes", stored);
	} else {
		printf("\nmemory: %llu bytes mapped (the runtime's scratch not counted), %llu of "
		       "them in the image, stored as %llu bytes\n",
		       (unsigned long long)mapped, (unsigned long long)mem,
		       (unsigned long long)stored);
	}
	insp_begin_block(o, "vmas", "memory regions", m->nvmas);
	for (uint32_t i = 0; i < m->nvmas; i++) {
		region_bytes(m, &m->vmas[i], &a, &b);
		insp_begin_record(o);
		img_describe_vma(&v, &m->vmas[i], o);
		out_u64(o, "size", m->vmas[i].end - m->vmas[i].start);
		out_u64(o, "image_bytes", a);
		out_u64(o, "stored_bytes", b);
		insp_end_record(o);
	}
	insp_end_block(o);
}

/* A block of records of section s: in text only when there are some, unless
 * always. */
static void some(const struct rst_image *m, uint32_t s, const char *key, const char *title,
		 const void *recs, uint32_t n, int always, struct img_out *o)
{
	const struct img_view v = rst_view(m);
	if (n || always || o->json)
		insp_kind_block(&v, s, key, title, recs, n, o);
}

/* The process's own fields, and its origin. */
static void proc_json(const struct ckpt *c, int i, struct img_out *o)
{
	const struct rst_image *m = &c->img[i];
	const struct img_proc *p = m->proc;
	const struct img_view v = rst_view(m);
	out_u64(o, "pid", p->pid);
	out_u64(o, "ppid", p->ppid);
	out_u64(o, "pgid", p->pgid);
	out_u64(o, "sid", p->sid);
	out_u64(o, "depth", c->depth[i]);
	out_u64(o, "nthreads", m->nthreads);
	out_str(o, "name", rst_str(m, p->name_str));
	out_str(o, "exe", rst_str(m, p->exe_str));
	out_str(o, "cwd", rst_str(m, p->cwd_str));
	out_str(o, "image", m->r.path);
	if (!m->origin) {
		out_null(o, "origin");
		return;
	}
	out_begin_object(o, "origin");
	img_section_kind(IMG_SEC_ORIGIN)->describe(&v, 0, m->origin, sizeof(*m->origin), o);
	out_end(o, 0);
}

static void process(const struct ckpt *c, int i, unsigned views, struct img_out *o)
{
	const struct rst_image *m = &c->img[i];
	if (o->json) {
		out_begin_object(o, NULL);
		proc_json(c, i, o);
	} else {
		printf("\n== pid %u: ", m->proc->pid);
		command_text(m);
		putchar('\n');
	}
	if (views & INSP_PS)
		some(m, IMG_SEC_ZOMBIES, "zombies", "zombies", m->zombies, m->nzombies, 0, o);
	if (views & INSP_THREADS)
		insp_threads(m, "threads", o);
	if (views & INSP_FDS) {
		insp_fds(m, "file descriptors", o);
		some(m, IMG_SEC_SHARES, "shares", "descriptions other processes hold too",
		     m->shares, m->nshares, 0, o);
		some(m, IMG_SEC_LOCKS, "locks", "file locks", m->locks, m->nlocks, 0, o);
	}
	if (views & INSP_MEM)
		mem_block(m, o);
	if (views & INSP_IPC)
		some(m, IMG_SEC_IPC, "ipc", "SysV IPC objects", m->ipc, m->nipc, views == INSP_IPC,
		     o);
	if (o->json)
		out_end(o, 0);
}

static void print(const struct ckpt *c, unsigned views, int json)
{
	struct img_out o;
	out_init(&o, stdout, json);
	if (json) {
		out_begin_object(&o, NULL);
		summary_json(c, &o);
		out_begin_list(&o, "processes");
	} else {
		summary_text(c);
		if (views & INSP_PS)
			ps_text(c);
	}
	for (int k = 0; k < c->n && (json || views & ~INSP_PS); k++)
		process(c, c->order[k], views, &o);
	if (json) {
		out_end(&o, 1);
		out_end(&o, 0);
		putchar('\n');
	}
}

int cli_inspect_dir(const char *dir, unsigned views, int json)
{
	struct ckpt c;
	int rc = ckpt_load(&c, dir);
	if (rc == 0)
		print(&c, views, json);
	ckpt_free(&c);
	return rc < 0 ? 1 : 0;
}
