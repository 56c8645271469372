/* The restorer: loads and validates an image, creates the process with its
 * exact PID in a fresh user+PID namespace, rebuilds its kernel state and hands
 * a flat plan to the restore blob. */
#ifndef STASIS_RESTORE_RESTORE_H
#define STASIS_RESTORE_RESTORE_H

#include "image/image.h"
#include "common/proto.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	uint8_t *fdx;		    /* IMG_SEC_FDX, NULL in images without one */
	struct img_zombie *zombies; /* IMG_SEC_ZOMBIES, NULL in images without one */
	uint32_t nzombies;
	struct img_lock *locks; /* IMG_SEC_LOCKS, NULL in images without one */
	uint32_t nlocks;
	struct img_share *shares; /* IMG_SEC_SHARES, NULL in images without one */
	uint32_t nshares;
	struct img_member *members; /* IMG_SEC_MEMBERS, NULL in images without one */
	uint32_t nmembers;
	uint32_t nthreads, nvmas, nchunks, nfds, nfiles;
	size_t strings_len, filedata_len, fdx_len;
	struct rst_chain *chain;   /* chain.c: an incremental image's parents, else NULL */
	struct rst_src *chunk_src; /* chain.c: where each chunk's pages are, else NULL */
};

/* load.c: open, verify every checksum of the metadata and every index; an
 * incremental image's parents are loaded and its chunks resolved (chain.c). */
int rst_load(struct rst_image *img, const char *path, char *err, size_t errlen);
int rst_load_depth(struct rst_image *img, const char *path, int depth, char *err, size_t errlen);

/* chain.c: incremental images. After rst_chain_load, img->chunks are pieces
 * of the stored chunks of the chain's files (img->chunk_src says which); read
 * them with rst_read_piece, given the files opened by rst_chain_open
 * (rst_chain_files(img) readers; none for an image without a parent). */
int rst_chain_load(struct rst_image *img, int depth, char *err, size_t errlen);
void rst_chain_free(struct rst_image *img);
uint32_t rst_chain_base_gen(const struct rst_image *img);
uint32_t rst_chain_files(const struct rst_image *img);
const char *rst_chain_path(const struct rst_image *img, uint32_t k); /* k < files */
/* which file holds piece i: 0 this image, k the k-th image below it */
uint32_t rst_piece_file(const struct rst_image *img, uint32_t i);
/* the parent's path (NULL for a full image), its generation and chain depth */
const char *rst_chain_parent(const struct rst_image *img, uint32_t *gen, uint32_t *depth);
int rst_chain_open(const struct rst_image *img, struct img_reader *readers, char *err,
		   size_t errlen);
void rst_chain_close(const struct rst_image *img, struct img_reader *readers, uint32_t n);
/* whole_buf: IMG_CHUNK_PAGES pages, for pieces that are part of a chunk */
int rst_read_piece(struct rst_image *img, struct img_reader *readers, uint32_t i, void *dst,
		   struct ZSTD_DCtx_s *dctx, void *tmp, size_t tmpsize, void *whole_buf, char *err,
		   size_t errlen);
void rst_free(struct rst_image *img);
const char *rst_str(const struct rst_image *img, uint32_t off);
/* load.c: the IMG_SEC_FDX record of a descriptor of a kind that has one
 * (checked by rst_load: in range, of the descriptor's type); its payload
 * follows the header. */
const struct img_fdx *rst_fdx(const struct rst_image *img, const struct img_fd *d);
static inline const void *rst_fdx_payload(const struct img_fdx *x)
{
	return x + 1;
}

struct rst_opts {
	uint16_t port;
	int part;     /* the image is of one host's part of its generation (HELLO_PART) */
	int coord_fd; /* socket joined to the coordinator (rst_join) */
	struct proto_welcome welcome;
	char ckpt_dir[PATH_MAX];
};

/* Join the coordinator on o->port as the image's process (HELLO_RESTART), before
 * anything is created: a coordinator that has a process does not exit. */
int rst_join(struct rst_image *img, struct rst_opts *o, char *err, size_t errlen);

struct rst_set;
/* The processes of one checkpoint, restarted together. Descriptors the
 * restorers need sit at fixed numbers from `base` up, above every process's own:
 *   base+0..2          restart's stdin, stdout, stderr
 *   base+3+i           process i's coordinator connection
 *   base+3+n+i         process i's image file
 *   base+3+2n+2k, +1   the two ends of shared object k (struct rst_obj)
 * and `top` (= base+3+2n+2*nobjs) is where every process's restorer
 * descriptors start. */
/* An object several processes of the set hold (a pipe, a socket pair, shared
 * memory, ...): created once, by the nearest common ancestor of its holders
 * (-1: PID 1) before it forks, at two fixed descriptor numbers every holder
 * inherits; each holder then takes its end with rst_obj_fd. */
struct rst_obj;
typedef int (*rst_obj_create_fn)(const struct rst_set *set, const struct rst_obj *o, int fd[2]);
struct rst_obj {
	uint32_t kind; /* enum img_fd_type (or a module's own key space) */
	uint64_t ino, dev;
	int creator;
	rst_obj_create_fn create; /* fills fd[0], fd[1] (-1 if unused), O_CLOEXEC */
	uint32_t capacity;
	const uint8_t *data; /* e.g. bytes in flight */
	uint64_t len;
	const void *priv; /* the module's own description */
};

struct rst_set {
	int n;
	int part;   /* the images are one host's part of their generation (n < nprocs) */
	int wait_s; /* how long the other parts may take to come back (restart --wait) */
	struct rst_image *img;
	struct rst_opts *opts;
	int *parent; /* index of the parent in the set, or -1 */
	int nobjs;
	struct rst_obj *objs; /* at base+3+2n+2k and +1 */
	int base, top;
	/* --debug-pause: each process stops before it goes on (SIGSTOP);
	 * host_proc: the host's /proc (for its host PID), at a number >= top */
	int debug_pause, host_proc;
};

/* objs.c: the object (kind, ino, dev), held by process `holder`, added if new
 * (with `create`); its creator moves up to a common ancestor of all holders. */
struct rst_obj *rst_obj_get(struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev,
			    int holder, rst_obj_create_fn create);
/* objs.c: the fixed number of end `end` (0 or 1) of an object, or -1 (ENOENT) */
int rst_obj_fd(const struct rst_set *set, uint32_t kind, uint64_t ino, uint64_t dev, int end);
/* objs.c: find every object of the set (pipes and the kinds' scanners) */
int rst_objs_find(struct rst_set *set, char *err, size_t errlen);
/* objs.c: create the objects process i (-1: PID 1) must create, at their numbers */
int rst_objs_create(const struct rst_set *set, int i);

/* fdkinds.c: descriptors of the kinds with an IMG_SEC_FDX record. `scan` runs
 * once per set before anything is created (to register shared objects),
 * `open` gives a new descriptor (O_CLOEXEC) for d, and `late` runs once the
 * process's descriptors are all in place and its children exist (epoll
 * interest lists, pidfds), with the descriptor already at d->fd. */
struct rst_fd_kind {
	uint32_t type;
	int (*scan)(struct rst_set *set, int i, const struct img_fd *d, const struct img_fdx *x,
		    char *err, size_t errlen);
	int (*open)(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x);
	int (*late)(const struct rst_set *set, int i, const struct img_fd *d,
		    const struct img_fdx *x);
	/* late_inherited: `late` also runs for a descriptor taken from the parent
	 * (what the parent had when it forked was a placeholder: pidfds);
	 * late_pass 1: after every other kind's `late` (epoll: its targets) */
	int late_inherited, late_pass;
};
const struct rst_fd_kind *rst_fd_kind(uint32_t type);
/* fdkinds.c: every `late` step of process i's descriptors */
int rst_fds_late(const struct rst_set *set, int i);

/* fd_tty.c: terminals. rst_tty_prepare (restart, in its namespaces, before
 * PID 1) mounts a devpts of the restart's own and makes the computation's
 * terminal; rst_tty_relay relays the user's terminal to it until done_fd is
 * readable; rst_tty_leads_session says whether a process with no parent in the
 * set leads a session of its own again; rst_tty_session (process i, its
 * children in their groups) takes its controlling terminal back. */
extern const struct rst_fd_kind rst_fd_kind_pty_master, rst_fd_kind_pty_slave, rst_fd_kind_tty;
int rst_tty_prepare(const struct rst_set *set);
int rst_tty_relay(int done_fd);
/* Whether the computation has a terminal of its own that restart relays to. */
int rst_tty_own(void);

/* sigfwd.c: signals sent to restart go to the program. In restart, once PID
 * 1 (init) exists; own_terminal: the program is not in restart's process
 * group. In PID 1: rst_sigfwd_init first, rst_sigfwd_programs once the
 * program's processes (those without a parent in the set) exist. */
void rst_sigfwd_restart(pid_t init, int own_terminal);
void rst_sigfwd_init(void);
void rst_sigfwd_programs(const pid_t *pids, int n);
int rst_tty_leads_session(const struct rst_set *set, int i);
int rst_tty_session(const struct rst_set *set, int i);

/* fd_inet.c: a TCP/UDP socket's options as the record has them */
void rst_inet_options(int s, const struct img_inet *r);
/* fd_tcp.c: TCP connections between processes of the computation (records
 * IMG_INET_TCP_CONN). rst_tcp_restore (PID 1, before it creates any object)
 * makes all of the set's again through the coordinator with their bytes in
 * flight; rst_tcp_take hands one to its object. */
int rst_tcp_restore(const struct rst_set *set);
int rst_tcp_take(const struct rst_obj *o, int fd[2]);

/* tree.c: the images are one checkpoint, complete; parents from their ppids. */
int rst_set_check(struct rst_set *set, char *err, size_t errlen);
/* tree.c: once joined to the coordinator, the restorer fds to the fixed layout. */
int rst_set_layout(struct rst_set *set, char *err, size_t errlen);

/* spawn.c: run the restored computation in the foreground; returns the wait
 * status of its first root process (as waitpid gives it), or -1 after printing
 * why it could not start (quietly after rst_stop). */
int rst_run(struct rst_set *set);
/* spawn.c: from another thread, end the restarted computation (its PID 1 and
 * with it every process of the namespace): rst_run then returns -1. */
void rst_stop(void);

/* Inside the new process i (its PID is the image's): creates its children, then
 * becomes its image. Never returns on success. */
void rst_process(struct rst_set *set, int i) __attribute__((noreturn));
/* spawn.c: a process of the restart failed before it became its image: say
 * why (if fmt), and end the whole restart (PID 1 ends the namespace). */
void rst_abort(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* locks.c: the image's file locks name restored regular-file fds (rst_load) */
int rst_locks_check(const struct rst_image *img, char *err, size_t errlen);
/* locks.c: inside the process, last before the jump: its file locks again */
int rst_locks_take(const struct rst_image *img);
/* zombies.c: the image's zombies are valid (called by rst_load) */
int rst_zombies_check(const struct rst_image *img, char *err, size_t errlen);
/* zombies.c: inside process i, once its children exist: its zombies again,
 * with their PIDs and exit statuses, not reaped. */
int rst_zombies(const struct rst_set *set, int i);

/* mem.c: open the file behind a mapping or fd (recreating deleted ones). */
int rst_open_file(const struct rst_image *img, int idx, int flags);
/* mem.c: a new unlinked file that shows as "PATH (deleted)" (made in PATH's
 * directory, or /tmp), O_RDWR|O_CLOEXEC */
int rst_tmpfile_named(const char *path, unsigned mode);

/* shm.c: shared memory objects (IMG_FILE_SHMEM), one rst_obj each */
int rst_shm_scan(struct rst_set *set, int i, char *err, size_t errlen);
int rst_shm_region(const struct rst_image *img, const struct img_vma *v); /* filled by creator */
void *rst_shm_map(const struct rst_image *img, const struct img_vma *v, uint64_t at, int prot,
		  int flags);
/* sysv.c: SysV IPC objects (IMG_SEC_IPC), created by PID 1 */
int rst_sysv_scan(struct rst_set *set, int i, char *err, size_t errlen);
int rst_sysv_create(const struct rst_set *set);
void *rst_sysv_map(const struct rst_set *set, const struct img_vma *v, uint64_t shmid, uint64_t at,
		   int prot);
int rst_shm_recreate_file(const struct rst_image *img, const struct img_file *f, int flags);
/* Make the missing directories above path (mode 0700): a file or FIFO of a
 * temporary directory removed whole (an MPI session directory) comes back. */
void rst_make_parents(const char *path);
/* A POSIX shm file (IMG_FILE_RESTORE) that exists: its contents, size and
 * mtime become the checkpoint's again. 0, or -1 with a message. */
int rst_shm_put_back(const struct rst_image *img, const struct img_file *f);

/* fds.c: process i's descriptors at their numbers (shared with its parent's
 * where they were); on return every fd below set->top is the target's. */
int rst_fds(struct rst_set *set, int i);
/* fds.c: a new open file description for process i's descriptor d, as its own
 * restore would make it (for shares.c, which makes it in another process) */
int rst_fd_open(const struct rst_set *set, int i, const struct img_fd *d);

/* shares.c: open file descriptions several processes hold (IMG_SEC_SHARES)
 * that inheritance from the parent cannot give all of them (passed between
 * siblings, kept after the parent closed it, from a grandparent): each is an
 * rst_obj made by the nearest common ancestor of its holders through its
 * owner's open path. rst_shares_check (rst_load) checks one image's records;
 * rst_shares_find (rst_objs_find, after every other object) registers them;
 * rst_share_slot is the fixed fd a holder takes d from (-1: not such a share);
 * rst_share_late says whether d's `late` step runs in process i (1), not (0),
 * or follows the usual rule (-1): only the owner fills an epoll's list. */
int rst_shares_check(const struct rst_image *img, char *err, size_t errlen);
int rst_shares_find(struct rst_set *set, char *err, size_t errlen);
int rst_share_slot(const struct rst_set *set, int i, const struct img_fd *d);
int rst_share_late(const struct rst_set *set, int i, const struct img_fd *d);

/* mem.c */
struct rst_layout {
	uint64_t blob_addr, blob_len;
	uint64_t scratch_addr, scratch_len;
	uint64_t *premap;    /* per vma: its scratch address, 0 if not premapped */
	uint8_t *mapped;     /* per chunk: 1 if mapped from the image file (mapimg.c) */
	uint64_t (*runs)[2]; /* target address ranges mapped from image files */
	uint32_t nruns;
};
int rst_memory(struct rst_image *img, struct rst_layout *l, size_t blob_len);
int rst_write_target(struct rst_image *img, struct rst_layout *l, uint64_t addr, const void *src,
		     size_t len);

/* fill.c: read every chunk into its premapped region, in parallel */
int rst_fill(struct rst_image *img, const struct rst_layout *l);

/* mapimg.c: map the raw chunks of anonymous regions from the image file
 * instead of reading them (instant restart); rst_map_images = 0 (restart
 * --no-map) reads everything. Sets l->mapped[chunk]. */
extern int rst_map_images;
/* 1: checksum mapped chunks through the mapping (restart --no-verify: 0, pages
 * then arrive only when the program touches them) */
extern int rst_verify_mapped;
#define RST_MAX_RUNS 64 /* = RT_MAX_MAPPED */
int rst_map_chunks(struct rst_image *img, struct rst_layout *l, uint8_t *mapped);

/* plan.c */
void rst_jump(struct rst_image *img, struct rst_layout *l, int close_from, int log_fd)
    __attribute__((noreturn));
size_t rst_blob_area_size(const struct rst_image *img);

#endif
