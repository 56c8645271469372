/* stasis inspect: print an image and verify every checksum in it, or show a
 * whole checkpoint (inspect_dir.c). */
#include "cli/cli.h"
#include "cli/inspect.h"
#include "cli/opts.h"
#include "common/log.h"
#include "restore/chain.h"
#include "restore/load.h"
#include "image/describe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum { OPT_DIR = 256 };
static const struct cli_opt opts[] = {
    {"dir", OPT_DIR, "DIR",
     "show the newest complete checkpoint in DIR, every process of it, instead of one image "
     "(VIEW: ps, threads, fds, mem, ipc or all, the default)"},
    {"json", CLI_KEY_JSON, NULL, "print one JSON object instead of text"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "inspect",
    .synopsis = "IMAGE [--json]\n"
		"       stasis inspect --dir DIR [ps|threads|fds|mem|ipc|all] [--json]",
    .about = "Prints every record of the image (header, sections, process, origin, threads,\n"
	     "signal actions, descriptors with their kinds' records, files, shared\n"
	     "descriptions, locks, zombies, IPC objects, members, plugins, memory regions and\n"
	     "chunks), after verifying every checksum in it.\n"
	     "\n"
	     "With --dir, shows the checkpoint whole, as restart --dir would take it: when,\n"
	     "where (host, kernel) and what (computation, generation, images); then by VIEW\n"
	     "ps: the process tree (pid, ppid, pgid, sid, threads, command line; zombies);\n"
	     "threads: each process's threads; fds: its descriptors with their kinds' records,\n"
	     "the descriptions it shares, its locks; mem: its memory regions, each with its\n"
	     "size, the bytes of it in the image and as stored; ipc: its SysV IPC objects.\n"
	     "The metadata of every image is verified; the memory chunks are not read\n"
	     "(inspect IMAGE verifies them).",
    .opts = opts,
    .operands = "IMAGE (or --dir DIR)",
    .max_operands = 1,
};

static const char *const views[] = {"ps", "threads", "fds", "mem", "ipc", "all"};

/* VIEW as INSP_* bits (NULL: all). */
static unsigned parse_view(const char *s)
{
	for (unsigned k = 0; s && k < sizeof(views) / sizeof(views[0]); k++)
		if (!strcmp(s, views[k]))
			return k < 5 ? 1u << k : INSP_ALL;
	if (s)
		cli_usage_error(&cmd, "unknown view '%s' (ps, threads, fds, mem, ipc or all)", s);
	return INSP_ALL;
}

/* Read every chunk: returns the number that fail, with the first error in err. */
static int verify_chunks(struct rst_image *img, uint64_t *raw, uint64_t *stored, char *err,
			 size_t errlen)
{
	size_t tmpsize = ZSTD_compressBound(IMG_CHUNK_PAGES * IMG_PAGE);
	void *dst = malloc(IMG_CHUNK_PAGES * IMG_PAGE), *tmp = malloc(tmpsize);
	void *whole = malloc(IMG_CHUNK_PAGES * IMG_PAGE);
	struct img_reader *readers = calloc(rst_chain_files(img) + 1, sizeof(*readers));
	ZSTD_DCtx *d = ZSTD_createDCtx();
	int bad = 0;
	char e[512];
	*raw = *stored = 0;
	if (!dst || !tmp || !d || !whole || !readers)
		die("out of memory");
	if (rst_chain_open(img, readers, err, errlen) < 0)
		return 1;
	for (uint32_t i = 0; i < img->nchunks; i++) {
		const struct img_chunk *c = &img->chunks[i];
		*raw += (uint64_t)c->npages * IMG_PAGE;
		/* pieces from parent images count in the image that stores them */
		*stored += rst_piece_file(img, i) ? 0 : c->stored_size;
		if (rst_read_piece(img, readers, i, dst, d, tmp, tmpsize, whole, e, sizeof(e)) <
			0 &&
		    !bad++)
			snprintf(err, errlen, "%s", e);
	}
	rst_chain_close(img, readers, rst_chain_files(img));
	free(readers);
	free(whole);
	ZSTD_freeDCtx(d);
	free(dst);
	free(tmp);
	return bad;
}

/* What verify_chunks found. */
struct totals {
	uint64_t raw, stored;
	int bad;
};

static void summary_text(struct rst_image *img, const struct totals *t)
{
	const struct img_header *h = &img->r.hdr;
	const struct img_proc *p = img->proc;
	uint32_t pgen, depth;
	const char *parent = rst_chain_parent(img, &pgen, &depth);
	printf("image      %s\nformat     version %u, %llu bytes, %u sections%s\n", img->r.path,
	       h->version, (unsigned long long)h->file_size, h->nsections,
	       h->flags & IMG_F_COMPRESSED ? ", zstd" : "");
	printf("checkpoint computation %016llx generation %u (%u process%s)\n",
	       (unsigned long long)h->comp_id, h->gen, h->nprocs, h->nprocs == 1 ? "" : "es");
	printf("process    pid %u ppid %u pgid %u sid %u uid %u gid %u umask %03o\n", p->pid,
	       p->ppid, p->pgid, p->sid, p->uid, p->gid, p->umask);
	printf("program    %s (%s)\ncwd        %s\n", rst_str(img, p->name_str),
	       rst_str(img, p->exe_str), rst_str(img, p->cwd_str));
	printf("memory     %llu bytes in %u chunks, stored as %llu bytes\n",
	       (unsigned long long)t->raw, img->nchunks, (unsigned long long)t->stored);
	printf("checksums  %s\n", t->bad ? "FAILED" : "all verified");
	if (parent)
		printf("parent     %s (generation %u; %u image%s below this one)\n", parent, pgen,
		       depth, depth == 1 ? "" : "s");
}

static void summary_json(struct rst_image *img, const struct totals *t, struct img_out *o)
{
	const struct img_header *h = &img->r.hdr;
	const struct img_proc *p = img->proc;
	char id[17];
	uint32_t pgen, depth;
	const char *parent = rst_chain_parent(img, &pgen, &depth);
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)h->comp_id);
	out_str(o, "image", img->r.path);
	out_u64(o, "version", h->version);
	out_u64(o, "file_size", h->file_size);
	out_bool(o, "compressed", h->flags & IMG_F_COMPRESSED);
	out_str(o, "comp_id", id);
	out_u64(o, "gen", h->gen);
	out_u64(o, "nprocs", h->nprocs);
	out_u64(o, "pid", p->pid);
	out_u64(o, "ppid", p->ppid);
	out_u64(o, "uid", p->uid);
	out_str(o, "name", rst_str(img, p->name_str));
	out_str(o, "exe", rst_str(img, p->exe_str));
	out_str(o, "cwd", rst_str(img, p->cwd_str));
	out_u64(o, "memory_bytes", t->raw);
	out_u64(o, "stored_bytes", t->stored);
	out_u64(o, "chunks", img->nchunks);
	out_bool(o, "checksums_ok", !t->bad);
	if (parent)
		out_str(o, "parent", parent);
	else
		out_null(o, "parent");
	out_u64(o, "chain_depth", parent ? depth : 0);
}

static void header_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	insp_begin_single(o, "header", "header");
	img_describe_header(&img->r.hdr, o);
	insp_end_record(o);
	insp_begin_block(o, "sections", "sections", img->r.hdr.nsections);
	for (uint32_t i = 0; i < img->r.hdr.nsections; i++) {
		insp_begin_record(o);
		img_describe_section(&img->r.sec[i], o);
		insp_end_record(o);
	}
	insp_end_block(o);
	insp_begin_single(o, "proc", "process");
	img_describe_proc(&v, img->proc, o);
	insp_end_record(o);
	insp_kind_block(&v, IMG_SEC_ORIGIN, "origin", "origin", img->origin, img->norigin, o);
}

static int is_default(const struct img_sigaction *a)
{
	return !a->handler && !a->flags && !a->mask;
}

static void thread_blocks(struct rst_image *img, struct img_out *o)
{
	insp_threads(img, "threads", o);
	uint32_t set = 0; /* as text, only the actions that are not SIG_DFL */
	for (int sig = 1; sig <= 64; sig++)
		set += !is_default(&img->sigact[sig - 1]);
	insp_begin_block(o, "sigactions", "signal actions not SIG_DFL", o->json ? 64 : set);
	for (int sig = 1; sig <= 64; sig++) {
		if (!o->json && is_default(&img->sigact[sig - 1]))
			continue;
		insp_begin_record(o);
		img_describe_sigaction(sig, &img->sigact[sig - 1], o);
		insp_end_record(o);
	}
	insp_end_block(o);
}

static void fd_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	insp_fds(img, "file descriptors", o);
	insp_kind_block(&v, IMG_SEC_FILES, "files", "files", img->files, img->nfiles, o);
	insp_kind_block(&v, IMG_SEC_SHARES, "shares", "descriptions other processes hold too",
			img->shares, img->nshares, o);
	insp_kind_block(&v, IMG_SEC_LOCKS, "locks", "file locks", img->locks, img->nlocks, o);
	insp_kind_block(&v, IMG_SEC_ZOMBIES, "zombies", "zombies", img->zombies, img->nzombies, o);
	insp_kind_block(&v, IMG_SEC_IPC, "ipc", "SysV IPC objects", img->ipc, img->nipc, o);
	insp_kind_block(&v, IMG_SEC_MEMBERS, "members", "processes of the checkpoint", img->members,
			img->nmembers, o);
	insp_kind_block(&v, IMG_SEC_PLUGINS, "plugins", "plugins and the bytes they saved",
			img->plugins, img->nplugins, o);
}

static void memory_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	const struct img_parent *parent = rst_chain_record(img);
	insp_begin_block(o, "vmas", "memory regions", img->nvmas);
	for (uint32_t i = 0; i < img->nvmas; i++) {
		insp_begin_record(o);
		img_describe_vma(&v, &img->vmas[i], o);
		insp_end_record(o);
	}
	insp_end_block(o);
	insp_begin_block(o, "memory_chunks", "memory chunks", img->nchunks);
	for (uint32_t i = 0; i < img->nchunks; i++) {
		insp_begin_record(o);
		img_describe_chunk(&img->chunks[i], o);
		out_u64(o, "image", rst_piece_file(img, i)); /* 0: this one, k: k-th parent */
		insp_end_record(o);
	}
	insp_end_block(o);
	insp_begin_block(o, "zero_runs", "pages that mapped the zero page (nothing stored)",
			 img->nzero);
	for (uint32_t i = 0; i < img->nzero; i++) {
		insp_begin_record(o);
		img_describe_zero_run(&img->zero[i], o);
		insp_end_record(o);
	}
	insp_end_block(o);
	if (!parent)
		return;
	insp_begin_single(o, "parent_record", "parent image");
	img_describe_parent(parent, o);
	insp_end_record(o);
}

static void print(struct rst_image *img, const struct totals *t, int json)
{
	struct img_out o;
	out_init(&o, stdout, json);
	if (json) {
		out_begin_object(&o, NULL);
		summary_json(img, t, &o);
	} else {
		summary_text(img, t);
	}
	header_blocks(img, &o);
	thread_blocks(img, &o);
	fd_blocks(img, &o);
	memory_blocks(img, &o);
	if (json) {
		out_end(&o, 0);
		putchar('\n');
	}
}

int cmd_inspect(int argc, char **argv)
{
	const char *path, *arg, *dir = NULL;
	char err[1024] = "";
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv); /* --json: a bad image: {"error": ...} */
	while (cli_next(&a, &arg))	      /* --dir: the only key it returns */
		dir = arg;
	path = a.next < argc ? argv[a.next] : NULL;
	if (dir)
		return cli_inspect_dir(dir, parse_view(path), a.json);
	if (!path)
		cli_usage_error(&cmd, "missing %s", cmd.operands);
	struct rst_image img;
	struct totals t;
	if (rst_load(&img, path, err, sizeof(err)) < 0) {
		error("%s", err);
		return 1;
	}
	t.bad = verify_chunks(&img, &t.raw, &t.stored, err, sizeof(err));
	print(&img, &t, a.json);
	rst_free(&img);
	log_set_json(0); /* the JSON printed says which chunks failed */
	if (t.bad) {
		error("%d memory chunk%s failed: %s", t.bad, t.bad == 1 ? "" : "s", err);
		return 1;
	}
	return 0;
}
