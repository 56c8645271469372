/* The restorer: loads and validates an image, creates the process with its
 * exact PID in a fresh user+PID namespace, rebuilds its kernel state and hands
 * a flat plan to the restore blob. */
#ifndef STASIS_RESTORE_RESTORE_H
#define STASIS_RESTORE_RESTORE_H

#include "image/image.h"
#include "common/proto.h"

#include <stddef.h>
#include <stdint.h>

struct rst_image {
	struct img_reader r;
	struct img_proc *proc;
	struct img_thread *threads;
	struct img_sigaction *sigact;
	struct img_vma *vmas;
	struct img_chunk *chunks;
	struct img_fd *fds;
	struct img_file *files;
	char *strings;
	uint8_t *filedata;
	uint32_t nthreads, nvmas, nchunks, nfds, nfiles;
	size_t strings_len, filedata_len;
};

/* load.c: open, verify every checksum of the metadata and every index. */
int rst_load(struct rst_image *img, const char *path, char *err, size_t errlen);
void rst_free(struct rst_image *img);
const char *rst_str(const struct rst_image *img, uint32_t off);

struct rst_opts {
	uint16_t port;
	int coord_fd; /* socket joined to the coordinator (rst_join) */
	struct proto_welcome welcome;
	char ckpt_dir[PATH_MAX];
};

/* Join the coordinator on o->port as the image's process (HELLO_RESTART), before
 * anything is created: a coordinator that has a process does not exit. */
int rst_join(struct rst_image *img, struct rst_opts *o, char *err, size_t errlen);

/* The processes of one checkpoint, restarted together. Descriptors the
 * restorers need sit at fixed numbers from `base` up, above every process's own:
 *   base+0..2          restart's stdin, stdout, stderr
 *   base+3+i           process i's coordinator connection
 *   base+3+n+i         process i's image file
 * and `top` (= base+3+2n) is where every process's restorer descriptors start. */
struct rst_pipe {
	uint64_t ino, dev;
	int creator; /* the process that creates it before forking, -1 for PID 1 */
	uint32_t capacity;
	const uint8_t *data; /* bytes in flight */
	uint64_t len;
};

struct rst_set {
	int n;
	struct rst_image *img;
	struct rst_opts *opts;
	int *parent; /* index of the parent in the set, or -1 */
	int npipes;
	struct rst_pipe *pipes; /* ends at base+3+2n+2k (read) and +1 (write) */
	int base, top;
};

/* tree.c: the pipe an image's file record is, and its end's fixed number. */
int rst_pipe_fd(const struct rst_set *set, const struct img_file *f, int write_end);
/* tree.c: create the pipes process i (-1: PID 1) must create, at their numbers. */
int rst_create_pipes(const struct rst_set *set, int i);

/* tree.c: the images are one checkpoint, complete; parents from their ppids. */
int rst_set_check(struct rst_set *set, char *err, size_t errlen);
/* tree.c: once joined to the coordinator, the restorer fds to the fixed layout. */
int rst_set_layout(struct rst_set *set, char *err, size_t errlen);

/* spawn.c: run the restored computation in the foreground; returns the wait
 * status of its first root process (as waitpid gives it), or -1 after printing
 * why it could not start. */
int rst_run(struct rst_set *set);

/* Inside the new process i (its PID is the image's): creates its children, then
 * becomes its image. Never returns on success. */
void rst_process(struct rst_set *set, int i) __attribute__((noreturn));

/* mem.c: open the file behind a mapping or fd (recreating deleted ones). */
int rst_open_file(const struct rst_image *img, int idx, int flags);

/* fds.c: process i's descriptors at their numbers (shared with its parent's
 * where they were); on return every fd below set->top is the target's. */
int rst_fds(struct rst_set *set, int i);

/* mem.c */
struct rst_layout {
	uint64_t blob_addr, blob_len;
	uint64_t scratch_addr, scratch_len;
	uint64_t *premap; /* per vma: its scratch address, 0 if not premapped */
};
int rst_memory(struct rst_image *img, struct rst_layout *l, size_t blob_len);
int rst_write_target(struct rst_image *img, struct rst_layout *l, uint64_t addr, const void *src,
		     size_t len);

/* fill.c: read every chunk into its premapped region, in parallel */
int rst_fill(struct rst_image *img, const struct rst_layout *l);

/* plan.c */
void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
    __attribute__((noreturn));
size_t rst_blob_area_size(const struct rst_image *img);

#endif
