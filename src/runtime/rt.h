/* Internal state of the preloaded runtime (libstasis.so). */
#ifndef STASIS_RUNTIME_RT_H
#define STASIS_RUNTIME_RT_H

#include "image/format.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

struct rt_strtab;
struct rt_files;

#define RT_MAX_THREADS 1024
#define RT_SUSPEND_TIMEOUT 10		       /* seconds for every thread to reach the handler */
#define RT_RESTART_MAGIC 0x5453524154534552ull /* "RESTARTS" */
#define RT_MAX_MAPPED 64		       /* ranges in rt_restart_info.mapped */

enum rt_thread_state {
	RT_FREE = 0,
	RT_CLAIMED,   /* in the handler, saving */
	RT_SUSPENDED, /* saved, waiting for release */
};

#define RT_MAX_PENDING 64
struct rt_sigq {
	int n;
	int more; /* more than RT_MAX_PENDING were queued: the rest stayed in the kernel */
	siginfo_t info[RT_MAX_PENDING];
};

/* The process-wide queue, as long as it is (up to RLIMIT_SIGPENDING: a
 * sender that fills it must lose nothing): in `small`, and past
 * RT_MAX_PENDING in a mapping of its own, which grows and is part of the
 * image (a mapping that a program with few signals never gets). */
struct rt_sigq_shared {
	uint32_t n, cap;
	int more;	 /* no memory for the rest: they stayed in the kernel */
	siginfo_t *info; /* small, or the mapping */
	siginfo_t small[RT_MAX_PENDING];
};

#define RT_MAX_TIMERS 64
struct rt_timer {
	int id, signo, notify, tid, clock;
	uint64_t value;
	struct itimerspec spec;
};

/* Per-thread record filled by the thread itself in the checkpoint handler. */
struct rt_thread {
	int state; /* enum rt_thread_state, atomic */
	int tid;
	uint64_t fs_base;
	uint64_t sigmask;
	uint64_t robust_head;
	uint64_t robust_len;
	uint64_t clear_tid;
	stack_t altstack;
	char comm[16];
	uint32_t cap_eff[2], cap_prm[2], cap_inh[2];
	struct rt_sigq pending; /* taken out of the kernel during the checkpoint */
	struct img_context ctx;
};

/* Written by the restorer into the restored process's memory (at the address
 * recorded in img_proc.runtime_info) before the address-space swap. */
struct rt_restart_info {
	uint64_t magic;	    /* RT_RESTART_MAGIC once written */
	uint64_t blob_addr; /* the restore blob's area, to unmap */
	uint64_t blob_len;
	uint64_t comp_id;
	uint32_t gen;
	uint32_t flags;	      /* enum proto_ckpt_flags defaults */
	uint32_t port;	      /* the coordinator of the restarted computation */
	uint32_t debug_pause; /* stop (SIGSTOP) before the program goes on */
	char ckpt_dir[PATH_MAX];
	/* address ranges (a superset) the restorer mapped from image files
	 * (restore/mapimg.c), for the madvise wrapper in mapped.c */
	uint32_t nmapped;
	uint32_t base_gen; /* the full image the restarted image's chain begins with */
	uint64_t mapped[RT_MAX_MAPPED][2];
	/* the pipes and sockets among restart's own stdin, stdout and stderr:
	 * the computation's outside from now on (fds.c) */
	uint32_t nouter;
	uint32_t reserved2;
	struct {
		uint64_t dev, ino;
	} outer[3];
};

struct rt_state {
	int enabled;
	int sig;      /* checkpoint signal */
	int coord_fd; /* socket to the coordinator */
	int ckpt_tid; /* the checkpoint thread */
	int pid;      /* the process that joined with coord_fd (a vfork child is not it) */
	uint16_t port;
	uint64_t comp_id;
	uint32_t gen;
	uint32_t flags;
	uint32_t interval; /* the computation's checkpoint interval (MSG_INTERVAL) */
	int coord_lost;	   /* the checkpoint gave the coordinator up: join again */
	int let_go;	   /* a checkpoint let the threads go on before its end (forked writer) */
	char name[64];
	char ckpt_dir[PATH_MAX];
	/* quiesce */
	int release_seq;	/* futex: incremented to release suspended threads */
	int nsuspended;		/* futex: threads that reached RT_SUSPENDED */
	int nrestored;		/* futex: threads that resumed after a restart */
	int take_seq;		/* futex: incremented when threads may take their pending signals */
	int ntaken;		/* futex: threads that took them */
	int requeue_seq;	/* futex: incremented when threads may queue them again */
	int nrequeued;		/* futex: threads that did */
	int take_due;		/* the held threads wait for rt_take_pending() */
	int suspending;		/* 1 while threads are being held for a checkpoint */
	int writer_child;	/* 1 in the forked child that writes an image */
	uint32_t ckpt_nprocs;	/* processes in the running checkpoint (barrier pass) */
	uint32_t barrier_flags; /* of the last barrier pass (BARRIER_F_ABORT) */
	struct rt_thread threads[RT_MAX_THREADS];
	struct rt_thread ckpt_self; /* the checkpoint thread's own record */
	/* API: stasis_checkpoint() */
	int api_seq;	/* futex: incremented when an API request completes */
	int api_result; /* STASIS_CKPT_* or -1 */
	int api_pending;
	/* API: critical sections, generation, restarts (api.c) */
	int crit;		/* futex: critical sections open in the process */
	int crit_gate;		/* futex: 1 from a checkpoint's start until its threads go on */
	uint32_t committed_gen; /* the last complete checkpoint's generation */
	uint32_t restarts;	/* times this process came back from an image */
	int ninherited; /* fds open when the program started: pipes among them lead outside */
	struct {
		int fd;
		uint64_t ino, dev;
	} inherited[256];
	struct rt_sigq_shared shared_pending;
	int ntimers;
	struct rt_timer timers[RT_MAX_TIMERS];
	struct itimerval itimers[3]; /* saved at checkpoint, re-armed at restart */
	struct rt_restart_info restart;
};

extern struct rt_state rt;

int rt_save_context(struct img_context *ctx) __attribute__((returns_twice));

/* quiesce.c */
int rt_install_handler(void);
int rt_suspend_all(void);
void rt_release_all(void);
void rt_thread_capture_self(struct rt_thread *t);
void rt_thread_reinstate_self(const struct rt_thread *t);
int rt_futex_wait(int *addr, int val);
/* api.c: a checkpoint closes the gate of critical sections and waits for the
 * open ones (-1, ETIMEDOUT after RT_SUSPEND_TIMEOUT s); rt_release_all opens it */
int rt_crit_close(void);
void rt_crit_open(void);
void rt_crit_forked(void);
void rt_futex_wake(int *addr);

/* sysrestart.c: a call interrupted by the checkpoint signal starts again */
void rt_sysrestart_reset(void);
void rt_sysrestart_note(int tid);
void rt_sysrestart_fix(int tid, ucontext_t *uc);

/* arena.c: checkpoint-time memory that never touches malloc */
int rt_arena_init(void);
void *rt_alloc(size_t size);
void rt_arena_reset(void);
int rt_arena_contains(uint64_t addr, uint64_t *start, uint64_t *end);

/* ckpt.c */
int rt_start_ckpt_thread(void);

/* write.c: the image of this process. With may_fork, a child process (a
 * copy-on-write snapshot) writes the memory while the caller releases the
 * threads; rt_image_wait() then collects its result. */
struct rt_image_job {
	int forked;
	int pid, result_fd;
	int rc;
	uint64_t size;
	uint64_t header_sum; /* of the image written */
};
/* locks.c: file locks held through the descriptors (IMG_SEC_LOCKS) */
struct rt_fds;
struct rt_locks {
	struct img_lock *locks;
	uint32_t n;
};
int rt_dump_locks(struct rt_locks *out, const struct rt_fds *fds, char *err, size_t errlen);
int rt_holds_posix_lock(uint64_t dev, uint64_t ino);

struct image_parts;
/* write.c: descriptors, queues in flight, SysV objects, memory regions and a
 * copy of the shared pages (unless live: nobody runs before the images are
 * written), taken while every process of the checkpoint is stopped; NULL
 * with err set on failure */
struct image_parts *rt_capture(int live, char *err, size_t errlen);
int rt_write_image(struct image_parts *p, const char *path, int compress, int incremental,
		   int may_fork, struct rt_image_job *job, char *err, size_t errlen);
int rt_image_wait(struct rt_image_job *job, char *err, size_t errlen);
struct img_writer;
/* What failed writing w's image (w->failed, errno) into err: the file, and
 * for a full disk its directory, the space free there and the bytes the
 * image needs. */
void rt_image_error(const struct img_writer *w, char *err, size_t errlen);

/* write_pipe.c: bare helper threads (a clone sharing everything, every signal
 * blocked, the creator's TLS, which it must not touch): rt_helper_start runs
 * fn(arg) on one (-1 if none could be made), rt_helper_join waits until it
 * is gone. One compresses chunks while memory is written (when the writer
 * compresses; STASIS_WRITE_THREADS=1: never); rt_pipe_end stops it and
 * writes what it left: 0, or -1 with errno. */
struct img_writer;
struct rt_helper {
	uint32_t ctid;
	int running;
	long tid;
};
int rt_helper_start(struct rt_helper *h, void (*fn)(void *), void *arg);
void rt_helper_join(struct rt_helper *h);
int rt_one_thread(void); /* STASIS_WRITE_THREADS=1: no helper (compression, snap.c's copy) */
void rt_pipe_start(struct img_writer *w, struct rt_helper *h);
int rt_pipe_end(struct img_writer *w, struct rt_helper *h);
/* fn(arg) on a helper thread with a private copy of the descriptor table, for
 * files the checkpoint thread opens while the program's threads run. */
int rt_run_private_files(void (*fn)(void *), void *arg);

/* mapped.c: each line of /proc/self/maps (read without malloc); whether a
 * line is a private mapping of a stasis image (its range and protection). */
void rt_maps_lines(void (*fn)(const char *line, void *arg), void *arg);
int rt_image_mapping(const char *line, uint64_t *s, uint64_t *e, int *prot);
/* prefault.c: after a restart, the memory mapped from the image populated
 * ahead of the program: plan with its threads held, run once released. */
void rt_prefault_plan(void);
void rt_prefault_run(void);

/* huge.c: before the stop, while the program runs, collapse its fully
 * present private anonymous memory into huge pages (a shorter fork and smaps),
 * for at most 2 s; after a checkpoint, the rest, until done or until the
 * coordinator sends anything: rt_huge_hold with the threads held opens what
 * rt_huge_idle(1) reads on the checkpoint thread once they run (idle(0):
 * only close); rt_huge_forget in a restarted process (those numbers are not
 * its own). */
void rt_huge_prepare(void);
void rt_huge_hold(void);
void rt_huge_idle(int run);
void rt_huge_forget(void);

/* mem.c */
struct img_writer;
struct rt_vmas {
	struct img_vma *vmas;
	uint8_t *how; /* per region: how the writer stores its pages (mem.c) */
	uint32_t nvmas;
	struct img_chunk *chunks;
	uint32_t nchunks, chunk_cap;
	uint64_t vdso_size, vvar_size;
};
char *rt_read_smaps(char *err, size_t errlen);
int rt_fork_safe(const char *smaps);
/* rt_plan_memory while every process is stopped (regions, files, a copy of
 * the shared pages this process stores); rt_dump_memory by the writer, which
 * stores the pages. */
enum rt_plan_mode {
	RT_PLAN_COPY = 0, /* copy the shared pages this process stores */
	RT_PLAN_LIVE,	  /* no copy: no process runs before every image is written */
	RT_PLAN_ESTIMATE, /* before the stop: only how much the copy would be (snap.c) */
};
int rt_plan_memory(struct rt_vmas *out, struct rt_strtab *tab, struct rt_files *files,
		   const char *smaps, int mode, char *err, size_t errlen);
int rt_dump_memory(struct img_writer *w, struct rt_vmas *out, char *err, size_t errlen);

/* snap.c: shared pages copied at the stop, for the writer. rt_snap_prepare,
 * before the stop, makes a buffer as large as the copy would be then;
 * rt_snap_contains says whether a range meets that buffer. rt_snap_note
 * records a region's resident pages (or all of them), rt_snap_copy copies
 * every run noted (unless live); rt_snap_lookup gives the runs that meet
 * [start, end) (by address, each with its offset in the copy) and the copy's
 * base (NULL when live: read the memory itself), or -1 if the copy is gone.
 * rt_snap_release unmaps the copy (a forked writer keeps its own); a
 * restarted process forgets it (it was never part of the image). */
struct rt_snap_run {
	uint64_t start, end;
	uint64_t off;
	uint32_t readable, reserved;
};
void rt_snap_prepare(void);
int rt_snap_contains(uint64_t start, uint64_t end);
void rt_snap_reset(void);
int rt_snap_note(uint64_t start, uint64_t end, int readable, int all, char *err, size_t errlen);
int rt_snap_copy(int live, char *err, size_t errlen);
int rt_snap_lookup(uint64_t start, uint64_t end, const struct rt_snap_run **runs, uint32_t *n,
		   const uint8_t **copy);
void rt_snap_release(void);
void rt_snap_forget(void);

/* strtab / files (fds.c) */
struct rt_strtab {
	char *buf;
	uint32_t len, cap;
};
uint32_t rt_str_add(struct rt_strtab *t, const char *s);

struct rt_files {
	struct img_file *files;
	uint32_t n, cap;
	char *data; /* deleted files' contents */
	uint64_t data_len, data_cap;
};
int rt_file_add(struct rt_files *f, struct rt_strtab *tab, const char *path, int fd, char *err,
		size_t errlen);

struct rt_fds {
	struct img_fd *fds;
	uint32_t n;
	uint8_t *fdx; /* IMG_SEC_FDX being built */
	uint64_t fdx_len, fdx_cap;
	struct img_share *shares; /* IMG_SEC_SHARES (fd_share.c) */
	uint32_t nshares;
};
/* fds.c: append a record (type, ino, payload) to IMG_SEC_FDX; returns its
 * offset (for img_fd.pos), or -1 with err set. */
int64_t rt_fdx_add(struct rt_fds *out, uint32_t type, uint64_t ino, const void *payload,
		   uint32_t len, char *err, size_t errlen);
/* the same with the payload in two parts: head, then tlen bytes of tail */
int64_t rt_fdx_add2(struct rt_fds *out, uint32_t type, uint64_t ino, const void *head,
		    uint32_t hlen, const void *tail, uint64_t tlen, char *err, size_t errlen);

/* fdkinds.c: descriptor kinds beyond files and pipes. `match` says whether fd
 * (st: its fstat, link: its /proc/self/fd target) is of the kind; `dump` fills
 * c->e (type, file, pos = the rt_fdx_add offset of its record). */
struct rt_fd_ctx {
	struct img_fd *e;
	int fd;
	const char *link;
	const struct stat *st;
	struct rt_fds *fds;
	struct rt_files *files;
	struct rt_strtab *tab;
	char *err;
	size_t errlen;
};
struct rt_fd_kind {
	const char *name;
	int (*match)(int fd, const char *link, const struct stat *st);
	int (*dump)(struct rt_fd_ctx *c);
};
/* 1 if a kind took the descriptor, 0 if none matches, -1 on error (c->err) */
int rt_fd_kinds_dump(struct rt_fd_ctx *c);
extern const struct rt_fd_kind rt_fd_kind_tty; /* fd_tty.c: ptys and launch's terminal */
/* fd_tty.c: after a restart, the programs on launch's pty draw their screen again */
void rt_tty_restarted(void);
void rt_note_inherited_fds(void);
void rt_inet_before_kill(void);
void rt_outside_restarted(const struct rt_restart_info *ri);
int rt_dump_fds(struct rt_fds *out, struct rt_files *files, struct rt_strtab *tab, char *err,
		size_t errlen);

/* shm.c: shared memory objects (IMG_FILE_SHMEM records, one per inode) and
 * the saved contents of small shared-mapped files */
int rt_shm_object(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t ino,
		  uint64_t dev, uint64_t end, char *err, size_t errlen);
int rt_shm_save_fd(struct rt_files *f, int idx, int fd, uint64_t size, char *err, size_t errlen);
int rt_shm_keep_file(struct rt_files *f, const struct rt_strtab *tab, int idx, char *err,
		     size_t errlen);
int rt_shm_keep_pending(char *err, size_t errlen);
void rt_shm_reset(void); /* a new checkpoint: forget the parent's maps */
/* 1 if the parent stores the range's pages, 0 if not, -1 (ENOMEM) if unknown */
int rt_shm_parent_stores(uint64_t ino, uint64_t dev, uint64_t pgoff, uint64_t len);
int rt_shm_saved(const struct rt_files *f, int idx);
/* fd_memfd.c: 1 for the S_ISREG descriptors that are kinds (memfd, mqueue) */
int rt_fd_not_regular(int fd, const char *link);
/* 1 and its name in out, 0 if not linked, -1 (ENOMEM) if unknown */
int rt_shm_linked_path(const char *path, uint64_t ino, uint64_t dev, char *out, size_t outlen);

/* sysv.c: the SysV IPC objects this process uses (IMG_SEC_IPC) */
struct rt_ipc {
	struct img_ipc *objs;
	uint32_t n;
};
int rt_dump_sysv(struct rt_ipc *out, struct rt_files *files, char *err, size_t errlen);
int rt_sysv_vma(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t shmid,
		uint64_t pgoff, uint64_t len, char *err, size_t errlen);
/* fd_sock.c: the pids of the processes taking part in the checkpoint, from a
 * barrier pass (u32 each); sockets whose peer none of them holds lead outside. */
void rt_note_members(const void *pids, size_t len);
size_t rt_members(const uint32_t **pids); /* the last list noted */
/* fd_order.c: a process's descriptors sorted by the file each names, then by
 * open file description (kcmp order, the same from every process), then by
 * number; the descriptors of one description are a run, its lowest first. */
struct rt_fdesc {
	int fd;
	uint32_t first; /* index of the first of its description's run */
	uint64_t ino, dev;
};
/* pid's descriptors (at most max; fds is scratch for max ints), without the
 * runtime's own and those gone meanwhile: the count, or -1 with errno. */
int rt_fds_sorted(uint32_t pid, struct rt_fdesc *out, int *fds, int max);
/* a of pa against b of pb: by file, then description; 0: the same description */
int rt_fdesc_cmp(uint32_t pa, const struct rt_fdesc *a, uint32_t pb, const struct rt_fdesc *b);
/* The index after the run that starts at v[k]. */
uint32_t rt_fdesc_next_run(const struct rt_fdesc *v, uint32_t k, uint32_t n);
/* The first kcmp failure other than a closed descriptor since the last reset. */
int rt_fdesc_errno(int reset);
/* fd_share.c: descriptions other processes of the checkpoint hold too.
 * rt_shares_scan runs while every process is stopped (after the SUSPENDED
 * barrier); rt_shares_dump then names each shared one of out's descriptors by
 * its owner (out->shares), or fails with what the scan could not read. */
void rt_shares_scan(void);
/* rt_shares_begin: this checkpoint's PREPARED barrier has passed (a list
 * published before is stale); rt_shares_done: DRAINED has passed, every
 * process has read our published list (removed). */
void rt_shares_begin(void);
void rt_shares_done(void);
/* rt_fds_sorted, from what the sharing pass of this checkpoint already has
 * (our own list, a list another process published) when it can. */
int rt_fds_sorted_known(uint32_t pid, struct rt_fdesc *out, int *fds, int max);
int rt_shares_dump(struct rt_fds *out, char *err, size_t errlen);
uint32_t rt_share_owner(int fd);
/* pid takes part in the running checkpoint (per the last barrier pass). */
int rt_is_member(uint32_t pid);

/* ckpt.c: the next message of `type` from the coordinator on the checkpoint
 * thread (a CKPT_RESULT meanwhile is handled): 0, RT_COORD_KILLED (KILL) or
 * RT_COORD_LOST */
#define RT_COORD_KILLED 1
#define RT_COORD_LOST (-2)
struct proto_msg;
int rt_coord_wait(uint16_t type, struct proto_msg *m, void *buf, size_t size);

/* members.c: every process of the running checkpoint (MSG_MEMBERS), for the
 * image's IMG_SEC_MEMBERS */
void rt_members_note(const void *payload, size_t len);
const struct img_member *rt_members_list(uint32_t *n);

/* fd_tcp.c: TCP connections of the computation. After the SUSPENDED pass:
 * report this process's connections, get the coordinator's pairing, drain
 * them and put their bytes back (take_part 0: report none, drain none).
 * 0, -1 with err (the checkpoint fails), or RT_COORD_*. rt_tcp_find gives a
 * connection drained in this checkpoint, by socket inode, for its record. */
int rt_tcp_checkpoint(int take_part, char *err, size_t errlen);
struct rt_tcp_conn {
	uint64_t ino, conn_id;
	uint32_t side, flags; /* PROTO_TCP_* of this end */
	const uint8_t *data;  /* the bytes in flight to this end */
	uint64_t len;
};
const struct rt_tcp_conn *rt_tcp_find(uint64_t ino);
/* tcp_pending.c: the connections in the accept queues of these listeners
 * (by port), as ends with PROTO_TCP_PENDING: how many, or -1 with errno */
struct rt_tcp_listener {
	uint16_t port;
	int fd;
};
struct proto_tcp_end;
int rt_tcp_pending(struct proto_tcp_end *out, uint32_t max, const struct rt_tcp_listener *l,
		   uint32_t nl);

/* sock_names.c: the names the program saw of its TCP connections, noted
 * at every checkpoint (rt_names_begin, then one rt_names_note per fd); after
 * a restart rt_names_restarted makes getsockname/getpeername answer them */
struct sockaddr;
void rt_names_begin(void);
void rt_names_note(int fd, const struct sockaddr *local, unsigned llen, const struct sockaddr *peer,
		   unsigned plen);
void rt_names_restarted(void);
/* outside.c: processes started from the computation that are not part of it */
int rt_in_stasis_cli(void);
void rt_outside_init(void);
int rt_exec_leaves(const char *file, int search);
/* stasis-ssh, which an exec of ssh runs instead (src/ssh/ssh.h); NULL in
 * stasis-ssh itself, or when it is not installed next to the runtime */
const char *rt_ssh_relay(void);
int rt_child_outside(uint32_t pid);

/* procinfo.c */
int rt_dump_proc(struct img_proc *p, struct rt_strtab *tab, char *err, size_t errlen);
void rt_dump_sigactions(struct img_sigaction *sa);
void rt_restore_itimers(void);
/* how many (at most max), or -1 without the memory to read them */
int rt_list_children(uint32_t *pids, int max);

/* progress.c: bytes of memory written by the checkpoint being taken, in a
 * shared page so that a forked writer's count is seen by the checkpoint thread,
 * which reports it to the coordinator (MSG_PROGRESS) four times a second. */
struct rt_progress {
	uint64_t done, total;
};
extern struct rt_progress *rt_prog;
int rt_progress_init(void);
void rt_progress_begin(uint64_t total);
void rt_progress_add(uint64_t bytes);
void rt_progress_report(int force);
uint64_t rt_smaps_anon_bytes(const char *smaps);

/* sort.c: heapsort that allocates nothing (safe while threads are stopped) */
void rt_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* dirlist.c: numeric entries of a /proc directory, sorted; *self_fd gets the
 * listing's own fd number (closed on return). */
int rt_list_numeric(const char *dir, int *out, int max, int *self_fd);

/* quiesce.c: once every process of the checkpoint is stopped, the pending
 * signals are recorded and queued again (-1, EOVERFLOW: not all of them
 * could be recorded); after a restart, those of the image are queued before
 * the RESTARTED barrier. */
int rt_take_pending(void);
void rt_requeue_restored(void);

/* sigqueue.c */
void rt_take_thread_pending(struct rt_thread *t);
void rt_take_shared_pending(void);
/* Queue them again: t's own, and in the main thread the process-wide ones.
 * keep: the records stay (for the image being written). */
void rt_requeue_self(struct rt_thread *t, int keep);

/* timers.c */
int rt_dump_timers(char *err, size_t errlen);
void rt_restore_timers(void);

/* exec.c */
void rt_exec_init(void);
/* MSG_EXEC to the coordinator: 1 about to exec, 0 the exec failed,
 * EXEC_EXITING exiting while a checkpoint let it go on (leave.c) */
void rt_note_leave(uint32_t state);
void rt_exec_set_external(const char *list);

/* ckpt.c: a new process (fork, clone) joins as a process of its own */
void rt_forked_child(void);
/* clone.c: the real syscall(3), for the runtime's own children */
long rt_syscall6(long n, long a, long b, long c, long d, long e, long f);

/* zombies.c: take the zombies out of a list of children (returns how many
 * live ones are left in pids) and keep their records for the image. */
int rt_zombies_take(uint32_t *pids, int n);
const struct img_zombie *rt_zombies_list(uint32_t *n);

/* wrappers.c */
void rt_wrappers_init(void);
int rt_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* wrappers.c: libc's `name` (the next definition after the runtime's), looked
 * up once and kept in *slot */
void *rt_libc_fn(void **slot, const char *name);

/* dirty.c: incremental checkpoints (userfaultfd write-protect + PAGEMAP_SCAN).
 * rt_dirty_scan runs with the threads held, before the writer forks: it
 * registers and scans every private anonymous region; rt_dirty_lookup gives
 * the runs of a tracked region (sorted; written or unchanged since the last
 * image); rt_dirty_parent is the IMG_SEC_PARENT record when the image being
 * written is incremental. rt_dirty_done records a written image and returns
 * the oldest generation retention must keep. */
struct rt_dirty_run {
	uint64_t start, end;
	uint32_t written;
	uint32_t reserved;
};
struct rt_dirty_vma {
	uint64_t start, end;
	uint32_t first_run, nruns;
};
int rt_dirty_scan(const char *smaps, const char *path, int want_incremental, char *err,
		  size_t errlen);
int rt_dirty_lookup(uint64_t start, uint64_t end, const struct rt_dirty_run **runs, uint32_t *n);
const struct img_parent *rt_dirty_parent(void);
uint32_t rt_dirty_done(const char *path, uint32_t gen, uint64_t header_sum, uint64_t size);
/* What rt_dirty_done would return for gen, changing nothing. */
uint32_t rt_dirty_keep_from(uint32_t gen);
int rt_dirty_fd(void);
/* dirty.c: the program dup2()s onto the userfaultfd's number: move it away */
void rt_dirty_move_fd(int fd);
void rt_dirty_reset(uint32_t base_gen);

/* raw syscalls the runtime needs */
long rt_gettid(void);

#endif
