/* stasis inspect: print an image and verify every checksum in it. */
#include "cli/cli.h"
#include "common/log.h"
#include "restore/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char usage[] = "usage: stasis inspect IMAGE [--json]\n"
			    "\n"
			    "Prints the image's header, process, threads, descriptors and memory\n"
			    "regions with their sizes, after verifying every checksum in it.\n";

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

static void print_text(struct rst_image *img, uint64_t raw, uint64_t stored, int bad)
{
	const struct img_header *h = &img->r.hdr;
	const struct img_proc *p = img->proc;
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
	       (unsigned long long)raw, img->nchunks, (unsigned long long)stored);
	printf("checksums  %s\n", bad ? "FAILED" : "all verified");
	uint32_t pgen, depth;
	const char *parent = rst_chain_parent(img, &pgen, &depth);
	if (parent)
		printf("parent     %s (generation %u; %u image%s below this one)\n", parent, pgen,
		       depth, depth == 1 ? "" : "s");
	printf("\nthreads (%u)\n", img->nthreads);
	for (uint32_t i = 0; i < img->nthreads; i++) {
		const struct img_thread *t = &img->threads[i];
		printf("  tid %-7u %-16.16s %-11s fs %#llx sigmask %#llx\n", t->tid, t->comm,
		       t->flags & IMG_THREAD_MAIN   ? "main"
		       : t->flags & IMG_THREAD_CKPT ? "checkpoint"
						    : "",
		       (unsigned long long)t->fs_base, (unsigned long long)t->sigmask);
	}
	printf("\nfile descriptors (%u)\n", img->nfds);
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fd *d = &img->fds[i];
		printf("  %-4d %-8s flags %#o pos %lld %s\n", d->fd, img_fd_type_name(d->type),
		       d->open_flags, (long long)d->pos,
		       d->file >= 0 ? rst_str(img, img->files[d->file].path_str) : "");
	}
	if (img->nshares)
		printf("\ndescriptions other processes hold too (%u)\n", img->nshares);
	for (uint32_t i = 0; i < img->nshares; i++)
		printf("  fd %-4d owner pid %u fd %d\n", img->shares[i].fd,
		       img->shares[i].owner_pid, img->shares[i].owner_fd);
	printf("\nmemory regions (%u)\n", img->nvmas);
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		uint64_t b = 0;
		for (uint32_t c = v->first_chunk; c < v->first_chunk + v->nchunks; c++)
			b += img->chunks[c].stored_size;
		printf("  %012llx-%012llx %c%c%c %-13s %6u chunks %10llu bytes %s\n",
		       (unsigned long long)v->start, (unsigned long long)v->end,
		       v->prot & IMG_PROT_READ ? 'r' : '-', v->prot & IMG_PROT_WRITE ? 'w' : '-',
		       v->prot & IMG_PROT_EXEC ? 'x' : '-', img_vma_kind_name(v->kind), v->nchunks,
		       (unsigned long long)b,
		       v->file >= 0 ? rst_str(img, img->files[v->file].path_str) : "");
	}
}

static void print_json(struct rst_image *img, uint64_t raw, uint64_t stored, int bad)
{
	const struct img_header *h = &img->r.hdr;
	const struct img_proc *p = img->proc;
	printf("{\"image\":");
	cli_json_string(img->r.path);
	printf(",\"version\":%u,\"file_size\":%llu,\"compressed\":%s,\"comp_id\":\"%016llx\","
	       "\"gen\":%u,\"nprocs\":%u,\"pid\":%u,\"ppid\":%u,\"uid\":%u,\"name\":",
	       h->version, (unsigned long long)h->file_size,
	       h->flags & IMG_F_COMPRESSED ? "true" : "false", (unsigned long long)h->comp_id,
	       h->gen, h->nprocs, p->pid, p->ppid, p->uid);
	cli_json_string(rst_str(img, p->name_str));
	printf(",\"exe\":");
	cli_json_string(rst_str(img, p->exe_str));
	printf(",\"cwd\":");
	cli_json_string(rst_str(img, p->cwd_str));
	printf(",\"memory_bytes\":%llu,\"stored_bytes\":%llu,\"chunks\":%u,\"checksums_ok\":%s",
	       (unsigned long long)raw, (unsigned long long)stored, img->nchunks,
	       bad ? "false" : "true");
	uint32_t pgen, depth;
	const char *parent = rst_chain_parent(img, &pgen, &depth);
	printf(",\"parent\":");
	if (parent)
		cli_json_string(parent);
	else
		printf("null");
	printf(",\"chain_depth\":%u", parent ? depth : 0);
	printf(",\"threads\":[");
	for (uint32_t i = 0; i < img->nthreads; i++)
		printf("%s{\"tid\":%u,\"main\":%s,\"checkpoint_thread\":%s}", i ? "," : "",
		       img->threads[i].tid,
		       img->threads[i].flags & IMG_THREAD_MAIN ? "true" : "false",
		       img->threads[i].flags & IMG_THREAD_CKPT ? "true" : "false");
	printf("],\"fds\":[");
	for (uint32_t i = 0; i < img->nfds; i++) {
		const struct img_fd *d = &img->fds[i];
		printf("%s{\"fd\":%d,\"type\":\"%s\",\"pos\":%lld,\"path\":", i ? "," : "", d->fd,
		       img_fd_type_name(d->type), (long long)d->pos);
		cli_json_string(d->file >= 0 ? rst_str(img, img->files[d->file].path_str) : "");
		putchar('}');
	}
	printf("],\"shares\":[");
	for (uint32_t i = 0; i < img->nshares; i++)
		printf("%s{\"fd\":%d,\"owner_pid\":%u,\"owner_fd\":%d}", i ? "," : "",
		       img->shares[i].fd, img->shares[i].owner_pid, img->shares[i].owner_fd);
	printf("],\"vmas\":[");
	for (uint32_t i = 0; i < img->nvmas; i++) {
		const struct img_vma *v = &img->vmas[i];
		printf("%s{\"start\":%llu,\"end\":%llu,\"prot\":%u,\"kind\":\"%s\",\"chunks\":%u}",
		       i ? "," : "", (unsigned long long)v->start, (unsigned long long)v->end,
		       v->prot, img_vma_kind_name(v->kind), v->nchunks);
	}
	printf("]}\n");
}

int cmd_inspect(int argc, char **argv)
{
	const char *path = NULL;
	int json = 0;
	char err[1024] = "";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			log_set_json(json = 1); /* an image that cannot be read: {"error": ...} */
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			fprintf(stderr, "stasis inspect: unexpected argument '%s'\n%s", argv[i],
				usage);
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	struct rst_image img;
	uint64_t raw, stored;
	if (rst_load(&img, path, err, sizeof(err)) < 0) {
		error("%s", err);
		return 1;
	}
	int bad = verify_chunks(&img, &raw, &stored, err, sizeof(err));
	if (json)
		print_json(&img, raw, stored, bad);
	else
		print_text(&img, raw, stored, bad);
	rst_free(&img);
	log_set_json(0); /* the JSON printed says which chunks failed */
	if (bad) {
		error("%d memory chunk%s failed: %s", bad, bad == 1 ? "" : "s", err);
		return 1;
	}
	return 0;
}
