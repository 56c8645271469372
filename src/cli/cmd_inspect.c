/* stasis inspect: print an image and verify every checksum in it. */
#include "cli/cli.h"
#include "cli/opts.h"
#include "common/log.h"
#include "restore/chain.h"
#include "restore/load.h"
#include "image/describe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum { OPT_JSON = 256 };
static const struct cli_opt opts[] = {
    {"json", OPT_JSON, NULL, "print one JSON object instead of text"},
    {NULL},
};
static const struct cli_command cmd = {
    .name = "inspect",
    .synopsis = "IMAGE [--json]",
    .about = "Prints every record of the image (header, sections, process, threads, signal\n"
	     "actions, descriptors with their kinds' records, files, shared descriptions,\n"
	     "locks, zombies, IPC objects, members, plugins, memory regions and chunks), after\n"
	     "verifying every checksum in it.",
    .opts = opts,
    .operands = "IMAGE",
    .min_operands = 1,
    .max_operands = 1,
};

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

/* A block of records: a list in JSON, a heading and a line each in text. */
static void begin_block(struct img_out *o, const char *key, const char *title, uint32_t n)
{
	if (o->json)
		out_begin_list(o, key);
	else
		printf("\n%s (%u)\n", title, n);
}

static void begin_record(struct img_out *o)
{
	if (!o->json) {
		fputs("  ", stdout);
		o->count[o->depth] = 0;
		return;
	}
	out_begin_object(o, NULL);
}

static void end_record(struct img_out *o)
{
	if (o->json)
		out_end(o, 0);
	else
		putchar('\n');
}

static void end_block(struct img_out *o)
{
	if (o->json)
		out_end(o, 1);
}

/* A record of its own: an object in JSON, a heading and a line in text. */
static void begin_single(struct img_out *o, const char *key, const char *title)
{
	if (o->json) {
		out_begin_object(o, key);
		return;
	}
	printf("\n%s\n", title);
	begin_record(o);
}

/* The records of section s (n of them at recs), by the section's kind. */
static void kind_block(const struct img_view *v, uint32_t s, const char *key, const char *title,
		       const void *recs, uint32_t n, struct img_out *o)
{
	const struct img_kind *k = img_section_kind(s);
	begin_block(o, key, title, n);
	for (uint32_t i = 0; i < n; i++) {
		begin_record(o);
		k->describe(v, i, (const uint8_t *)recs + (size_t)i * k->size, k->size, o);
		end_record(o);
	}
	end_block(o);
}

static void header_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	begin_single(o, "header", "header");
	img_describe_header(&img->r.hdr, o);
	end_record(o);
	begin_block(o, "sections", "sections", img->r.hdr.nsections);
	for (uint32_t i = 0; i < img->r.hdr.nsections; i++) {
		begin_record(o);
		img_describe_section(&img->r.sec[i], o);
		end_record(o);
	}
	end_block(o);
	begin_single(o, "proc", "process");
	img_describe_proc(&v, img->proc, o);
	end_record(o);
}

static int is_default(const struct img_sigaction *a)
{
	return !a->handler && !a->flags && !a->mask;
}

static void thread_blocks(struct rst_image *img, struct img_out *o)
{
	begin_block(o, "threads", "threads", img->nthreads);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *t = &img->threads[i];
		begin_record(o);
		img_describe_thread(t, o);
		out_bool(o, "main", t->flags & IMG_THREAD_MAIN);
		out_bool(o, "checkpoint_thread", t->flags & IMG_THREAD_CKPT);
		end_record(o);
	}
	end_block(o);
	uint32_t set = 0; /* as text, only the actions that are not SIG_DFL */
	for (int sig = 1; sig <= 64; sig++)
		set += !is_default(&img->sigact[sig - 1]);
	begin_block(o, "sigactions", "signal actions not SIG_DFL", o->json ? 64 : set);
	for (int sig = 1; sig <= 64; sig++) {
		if (!o->json && is_default(&img->sigact[sig - 1]))
			continue;
		begin_record(o);
		img_describe_sigaction(sig, &img->sigact[sig - 1], o);
		end_record(o);
	}
	end_block(o);
}

static void fd_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	begin_block(o, "fds", "file descriptors", img->nfds);
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fdx *x = img->fds[i].share < 0 ? rst_fdx(img, &img->fds[i]) : NULL;
		begin_record(o);
		img_describe_fd(&v, i, x ? rst_fdx_payload(x) : NULL, x ? x->len : 0, o);
		end_record(o);
	}
	end_block(o);
	kind_block(&v, IMG_SEC_FILES, "files", "files", img->files, img->nfiles, o);
	kind_block(&v, IMG_SEC_SHARES, "shares", "descriptions other processes hold too",
		   img->shares, img->nshares, o);
	kind_block(&v, IMG_SEC_LOCKS, "locks", "file locks", img->locks, img->nlocks, o);
	kind_block(&v, IMG_SEC_ZOMBIES, "zombies", "zombies", img->zombies, img->nzombies, o);
	kind_block(&v, IMG_SEC_IPC, "ipc", "SysV IPC objects", img->ipc, img->nipc, o);
	kind_block(&v, IMG_SEC_MEMBERS, "members", "processes of the checkpoint", img->members,
		   img->nmembers, o);
	kind_block(&v, IMG_SEC_PLUGINS, "plugins", "plugins and the bytes they saved", img->plugins,
		   img->nplugins, o);
}

static void memory_blocks(struct rst_image *img, struct img_out *o)
{
	const struct img_view v = rst_view(img);
	const struct img_parent *parent = rst_chain_record(img);
	begin_block(o, "vmas", "memory regions", img->nvmas);
	for (uint32_t i = 0; i < img->nvmas; i++) {
		begin_record(o);
		img_describe_vma(&v, &img->vmas[i], o);
		end_record(o);
	}
	end_block(o);
	begin_block(o, "memory_chunks", "memory chunks", img->nchunks);
	for (uint32_t i = 0; i < img->nchunks; i++) {
		begin_record(o);
		img_describe_chunk(&img->chunks[i], o);
		out_u64(o, "image", rst_piece_file(img, i)); /* 0: this one, k: k-th parent */
		end_record(o);
	}
	end_block(o);
	if (!parent)
		return;
	begin_single(o, "parent_record", "parent image");
	img_describe_parent(parent, o);
	end_record(o);
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
	const char *path, *arg;
	int json = 0;
	char err[1024] = "";
	struct cli_args a;
	cli_args_start(&a, &cmd, argc, argv);
	for (int key; (key = cli_next(&a, &arg));)
		if (key == OPT_JSON)
			log_set_json(json = 1); /* an image that cannot be read: {"error": ...} */
	path = argv[a.next];
	struct rst_image img;
	struct totals t;
	if (rst_load(&img, path, err, sizeof(err)) < 0) {
		error("%s", err);
		return 1;
	}
	t.bad = verify_chunks(&img, &t.raw, &t.stored, err, sizeof(err));
	print(&img, &t, json);
	rst_free(&img);
	log_set_json(0); /* the JSON printed says which chunks failed */
	if (t.bad) {
		error("%d memory chunk%s failed: %s", t.bad, t.bad == 1 ? "" : "s", err);
		return 1;
	}
	return 0;
}
