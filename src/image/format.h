/* The Stasis image format, version 1. docs/format.md has the same tables.
 * All integers little-endian; every structure has a fixed size, asserted below.
 * On-disk codes (section types, vma kinds, fd types) are fixed and append-only,
 * separate from any in-memory enum.
 *
 * File layout:
 *   header (128 bytes at offset 0)
 *   memory chunks (raw chunks start on a 4096-byte boundary so that an
 *                  uncompressed image can be mapped; compressed chunks are packed)
 *   metadata sections (any order)
 *   section table (nsections x 32 bytes)
 *   trailer (32 bytes, the last bytes of the file)
 *
 * Header (struct img_header):
 *   off size field
 *   0   8    magic "STASISIM"
 *   8   4    version (IMG_VERSION)
 *   12  4    header_size (128)
 *   16  8    flags (IMG_F_*)
 *   24  8    comp_id: the computation this image belongs to
 *   32  4    gen: checkpoint generation
 *   36  4    nprocs: processes in this generation's image set
 *   40  4    pid: the process (as it saw itself)
 *   44  4    nsections
 *   48  8    table_off: offset of the section table
 *   56  8    file_size: total bytes of the file (truncation check)
 *   64  8    created_ns: CLOCK_REALTIME at checkpoint
 *   72  8    table_sum: XXH3-64 of the section table
 *   80  40   reserved (0)
 *   120 8    header_sum: XXH3-64 of bytes 0..119
 *
 * Section table entry (struct img_section):
 *   0  4 type (IMG_SEC_*)   4 4 flags (IMG_SECF_SKIPPABLE: a reader that does not
 *   know the type may ignore it)   8 8 offset   16 8 size   24 8 sum (XXH3-64)
 *
 * Trailer (struct img_trailer): 0 8 magic "STASISND"  8 8 file_size
 *   16 8 header_sum (copy)  24 8 reserved.
 */
#ifndef STASIS_IMAGE_FORMAT_H
#define STASIS_IMAGE_FORMAT_H

#include "image/context_abi.h"

#include <stddef.h>
#include <stdint.h>

#define IMG_MAGIC "STASISIM"
#define IMG_TRAILER_MAGIC "STASISND"
#define IMG_VERSION 1
#define IMG_VERSION_MIN 1 /* oldest version this reader accepts */
#define IMG_PAGE 4096
#define IMG_CHUNK_PAGES 256 /* 1 MiB of memory per chunk */

#define IMG_F_COMPRESSED (1u << 0)  /* some chunks are zstd-compressed */
#define IMG_F_INCREMENTAL (1u << 1) /* builds on a parent image (IMG_SEC_PARENT) */

struct img_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t flags;
	uint64_t comp_id;
	uint32_t gen;
	uint32_t nprocs;
	uint32_t pid;
	uint32_t nsections;
	uint64_t table_off;
	uint64_t file_size;
	uint64_t created_ns;
	uint64_t table_sum;
	uint8_t reserved[40];
	uint64_t header_sum;
};

enum img_section_type {
	IMG_SEC_PROC = 1,      /* struct img_proc */
	IMG_SEC_THREADS = 2,   /* struct img_thread[] */
	IMG_SEC_SIGACT = 3,    /* struct img_sigaction[64] */
	IMG_SEC_VMAS = 4,      /* struct img_vma[] */
	IMG_SEC_CHUNKS = 5,    /* struct img_chunk[] */
	IMG_SEC_FDS = 6,       /* struct img_fd[] */
	IMG_SEC_STRINGS = 7,   /* NUL-terminated strings, referenced by offset */
	IMG_SEC_FILEDATA = 8,  /* contents of deleted files, referenced by img_file */
	IMG_SEC_FILES = 9,     /* struct img_file[] */
	IMG_SEC_TIMERS = 10,   /* struct img_timer[] (POSIX timers) */
	IMG_SEC_SIGQUEUE = 11, /* struct img_siginfo[] (pending signals) */
	IMG_SEC_FDX = 12,      /* kind-specific records of descriptors (struct img_fdx) */
	IMG_SEC_IPC = 13,      /* SysV and POSIX IPC objects of the computation */
	IMG_SEC_TTY = 14,      /* terminal state: termios, window size, foreground group */
	IMG_SEC_PARENT = 15,   /* incremental checkpoint: the image this one builds on */
	IMG_SEC_ZOMBIES = 16,  /* struct img_zombie[]: exited children not yet reaped */
	IMG_SEC_SHARES = 17,   /* struct img_share[]: descriptions other processes hold too */
	IMG_SEC_LOCKS = 18,    /* struct img_lock[]: file locks held through descriptors */
	IMG_SEC_MEMBERS = 19,  /* struct img_member[]: every process of the generation */
	IMG_SEC_ORIGIN = 20,   /* struct img_origin: host, kernel, command line (skippable) */
	IMG_SEC_PLUGINS = 21,  /* struct img_plugin[]: the plugins loaded, their saved bytes */
	IMG_SEC_ZERO = 22,     /* struct img_zero_run[]: pages that mapped the zero page */
};
#define IMG_SECF_SKIPPABLE (1u << 0)

struct img_section {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint64_t size;
	uint64_t sum;
};

struct img_trailer {
	char magic[8];
	uint64_t file_size;
	uint64_t header_sum;
	uint64_t reserved;
};

#define IMG_NRLIMIT 16
#define IMG_AUXV_WORDS 64

/* mm fields as PR_SET_MM_MAP takes them */
struct img_mm {
	uint64_t start_code, end_code, start_data, end_data;
	uint64_t start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv[IMG_AUXV_WORDS];
	uint32_t auxv_words;
	uint32_t reserved;
};

struct img_proc {
	uint32_t pid, ppid, pgid, sid;
	uint32_t uid, gid, umask, nthreads;
	uint32_t ckpt_signal;		     /* the runtime's checkpoint signal */
	uint32_t exe_str, cwd_str, name_str; /* offsets into IMG_SEC_STRINGS */
	uint64_t runtime_info;		     /* address of the runtime's struct rt_restart_info */
	uint64_t vdso_size, vvar_size;	     /* of the host that wrote the image (0 if absent) */
	struct img_mm mm;
	struct {
		uint64_t cur, max;
	} rlimits[IMG_NRLIMIT];
	struct {
		uint64_t interval_us, value_us;
	} itimers[3]; /* ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF */
	uint32_t personality;
	uint32_t reserved;
};

/* Callee-saved context of a thread at its save point, saved by
 * runtime/context.S and loaded by restore/blob/entry.S, which find its fields
 * at the offsets of image/context_abi.h (asserted below). */
struct img_context {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
	uint32_t mxcsr;
	uint16_t fpucw;
	uint16_t reserved;
};

#define IMG_THREAD_MAIN (1u << 0) /* the thread-group leader */
#define IMG_THREAD_CKPT (1u << 1) /* the runtime's checkpoint thread */
struct img_thread {
	uint32_t tid;
	uint32_t flags;
	uint64_t fs_base, gs_base;
	uint64_t sigmask; /* the mask of the interrupted code */
	struct img_context ctx;
	uint64_t altstack_sp, altstack_size;
	uint32_t altstack_flags;
	uint32_t reserved;
	char comm[16]; /* thread name (PR_SET_NAME), NUL-padded */
};

struct img_sigaction { /* the kernel's struct sigaction (x86_64) */
	uint64_t handler, flags, restorer, mask;
};

enum img_vma_kind {
	IMG_VMA_ANON = 1,	  /* private anonymous */
	IMG_VMA_FILE_PRIVATE = 2, /* private file mapping: file + stored COW pages */
	IMG_VMA_FILE_SHARED = 3,  /* shared file mapping: the file holds the data */
	IMG_VMA_SHMEM = 4,	  /* MAP_SHARED|MAP_ANONYMOUS: all resident pages stored */
	IMG_VMA_VDSO = 5,
	IMG_VMA_VVAR = 6,
	IMG_VMA_VVAR_VCLOCK = 7,
	IMG_VMA_VSYSCALL = 8,
	IMG_VMA_STACK = 9, /* the main thread's stack (grows down) */
	IMG_VMA_HEAP = 10, /* [heap] (brk area) */
	IMG_VMA_SKIP = 11, /* runtime scratch: recreated empty */
};

#define IMG_PROT_READ 1
#define IMG_PROT_WRITE 2
#define IMG_PROT_EXEC 4
#define IMG_VMAF_GROWSDOWN (1u << 0)
#define IMG_VMAF_NORESERVE (1u << 1)

struct img_vma {
	uint64_t start, end;
	uint64_t pgoff;		       /* file offset, bytes */
	uint32_t kind;		       /* enum img_vma_kind */
	uint32_t prot;		       /* IMG_PROT_* */
	uint32_t flags;		       /* IMG_VMAF_* */
	int32_t file;		       /* index into IMG_SEC_FILES, -1 if none */
	uint32_t first_chunk, nchunks; /* into IMG_SEC_CHUNKS */
};

enum img_compression {
	IMG_COMP_NONE = 0,
	IMG_COMP_ZSTD = 1,
	IMG_COMP_PARENT = 2, /* unchanged since the parent image: its pages are there
				(offset, stored_size and sum are 0) */
};

/* IMG_SEC_ZERO: a run of private anonymous pages that mapped the shared zero
 * page at the checkpoint (read, never written): nothing of them is stored; a
 * restart maps them to the zero page again before the program runs
 * (restore/zeropop.c). Page-aligned, start < end, in one region, in address
 * order. */
struct img_zero_run {
	uint64_t start, end;
};

/* IMG_SEC_PARENT: the image an incremental checkpoint builds on. Its pages of
 * chunks with IMG_COMP_PARENT are looked up there (by address), recursively. */
struct img_parent {
	uint64_t header_sum; /* the parent's img_header.header_sum: its identity */
	uint64_t file_size;  /* the parent's size */
	uint32_t gen;	     /* the parent's generation */
	uint32_t depth;	     /* images in the chain below this one (1: the parent is full) */
	uint64_t reserved;
	char name[256]; /* the parent's file name, in this image's directory; NUL-padded */
};

struct img_chunk {
	uint64_t vaddr;	 /* where the pages go */
	uint64_t offset; /* of the stored bytes in the file */
	uint32_t npages;
	uint32_t comp; /* enum img_compression */
	uint64_t stored_size;
	uint64_t sum; /* XXH3-64 of the stored bytes */
};

#define IMG_FILE_DELETED (1u << 0) /* contents are in IMG_SEC_FILEDATA */
#define IMG_FILE_PIPE                                                                              \
	(1u << 1) /* a pipe: ino identifies it across processes; size                              \
		     bytes in flight (in IMG_SEC_FILEDATA) */
#define IMG_FILE_SHMEM                                                                             \
	(1u << 2) /* a shared memory object (shared anonymous, memfd, deleted                      \
		     file): ino/dev name it across the images; size = its bytes */
#define IMG_FILE_SYSV                                                                              \
	(1u << 4) /* the mapping of a SysV shm segment: ino is its shmid;                          \
		     the segment is an IMG_SEC_IPC record */
#define IMG_FILE_SAVED                                                                             \
	(1u << 3) /* size bytes of contents in IMG_SEC_FILEDATA: a shared-mapped                   \
		     file missing at restart is recreated from them */
#define IMG_FILE_RESTORE                                                                           \
	(1u << 5) /* with IMG_FILE_SAVED: a shared-mapped file on tmpfs (POSIX                     \
		     shared memory) whose saved contents are put back at restart */
struct img_file {
	uint32_t path_str;
	uint32_t flags;
	uint64_t size, mtime_ns, ino, dev;
	uint64_t data_off; /* into IMG_SEC_FILEDATA, if deleted or a pipe */
	uint32_t mode;
	uint32_t capacity; /* of a pipe (F_GETPIPE_SZ) */
};

enum img_fd_type {
	IMG_FD_REG = 1,	     /* regular file (img_file) at pos */
	IMG_FD_DIR = 2,	     /* directory */
	IMG_FD_CHR = 3,	     /* character device reopened by path (/dev/null, ...) */
	IMG_FD_STDIO = 4,    /* terminal or pipe to outside: restart's own fd `std` */
	IMG_FD_RUNTIME = 5,  /* the runtime's coordinator socket: provided by the restorer */
	IMG_FD_EXTERNAL = 6, /* pipe or socket inherited from outside: /dev/null at restart */
	IMG_FD_PIPE = 7,     /* an end of a pipe of the computation (img_file IMG_FILE_PIPE) */
	/* Descriptors of the kinds below carry a record in IMG_SEC_FDX; their `pos`
	 * is that record's offset in the section. */
	IMG_FD_UNIX = 8,	/* Unix domain socket */
	IMG_FD_FIFO = 9,	/* named pipe */
	IMG_FD_INET = 10,	/* TCP or UDP socket (IPv4 or IPv6) */
	IMG_FD_EVENTFD = 11,	/* eventfd: counter and flags */
	IMG_FD_TIMERFD = 12,	/* timerfd: clock, setting, interval */
	IMG_FD_SIGNALFD = 13,	/* signalfd: mask */
	IMG_FD_EPOLL = 14,	/* epoll: the whole interest list */
	IMG_FD_INOTIFY = 15,	/* inotify: watches */
	IMG_FD_PIDFD = 16,	/* pidfd of a process of the computation */
	IMG_FD_MEMFD = 17,	/* memfd: name, seals, contents */
	IMG_FD_MQUEUE = 18,	/* POSIX message queue */
	IMG_FD_PTY_MASTER = 19, /* master side of a pty of the computation */
	IMG_FD_PTY_SLAVE = 20,	/* slave side of a pty of the computation */
	IMG_FD_TTY = 21,	/* the computation's controlling terminal */
	IMG_FD_NTYPES
};

/* A record in IMG_SEC_FDX: header, then `len` bytes of the kind's payload,
 * then zero padding to a multiple of 8. Each kind's payload is described in
 * image/kinds/ (fd_unix.h, fd_tty.h ...), with the kind's checks and how
 * inspect prints it; so are the records of IMG_SEC_ZOMBIES (kinds/zombies.h),
 * IMG_SEC_LOCKS (locks.h), IMG_SEC_SHARES (shares.h) and IMG_SEC_IPC
 * (sysv.h). */
struct img_fdx {
	uint32_t type; /* enum img_fd_type, the same as its img_fd's */
	uint32_t len;  /* payload bytes */
	uint64_t ino;  /* identity of the object (socket inode, ...), 0 if none */
};

struct img_fd {
	int32_t fd;
	uint32_t type;	     /* enum img_fd_type */
	uint32_t open_flags; /* O_* status flags (O_APPEND, access mode, ...) */
	uint32_t fd_flags;   /* FD_CLOEXEC */
	int64_t pos;
	int32_t file;  /* index into IMG_SEC_FILES, -1 if none */
	int32_t share; /* lowest fd sharing this open file description, or -1 */
	int32_t std;   /* for IMG_FD_STDIO: 0, 1 or 2 */
	uint32_t
	    parent_fd1; /* 1 + the parent's fd with the same open file description, 0 if none */
};

_Static_assert(sizeof(struct img_header) == 128, "img_header");
_Static_assert(sizeof(struct img_section) == 32, "img_section");
_Static_assert(sizeof(struct img_trailer) == 32, "img_trailer");
_Static_assert(sizeof(struct img_context) == IMG_CTX_SIZE, "img_context");
_Static_assert(offsetof(struct img_context, rbx) == IMG_CTX_RBX, "img_context.rbx");
_Static_assert(offsetof(struct img_context, rbp) == IMG_CTX_RBP, "img_context.rbp");
_Static_assert(offsetof(struct img_context, r12) == IMG_CTX_R12, "img_context.r12");
_Static_assert(offsetof(struct img_context, r13) == IMG_CTX_R13, "img_context.r13");
_Static_assert(offsetof(struct img_context, r14) == IMG_CTX_R14, "img_context.r14");
_Static_assert(offsetof(struct img_context, r15) == IMG_CTX_R15, "img_context.r15");
_Static_assert(offsetof(struct img_context, rsp) == IMG_CTX_RSP, "img_context.rsp");
_Static_assert(offsetof(struct img_context, rip) == IMG_CTX_RIP, "img_context.rip");
_Static_assert(offsetof(struct img_context, mxcsr) == IMG_CTX_MXCSR, "img_context.mxcsr");
_Static_assert(offsetof(struct img_context, fpucw) == IMG_CTX_FPUCW, "img_context.fpucw");
_Static_assert(sizeof(struct img_vma) == 48, "img_vma");
_Static_assert(sizeof(struct img_chunk) == 40, "img_chunk");
_Static_assert(sizeof(struct img_fd) == 40, "img_fd");
_Static_assert(sizeof(struct img_fdx) == 16, "img_fdx");
_Static_assert(sizeof(struct img_parent) == 288, "img_parent");
_Static_assert(sizeof(struct img_zero_run) == 16, "img_zero_run");

#endif
