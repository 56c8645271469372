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

/* Callee-saved context of a thread at its save point (see runtime/context.S). */
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
 * then zero padding to a multiple of 8. */
struct img_fdx {
	uint32_t type; /* enum img_fd_type, the same as its img_fd's */
	uint32_t len;  /* payload bytes */
	uint64_t ino;  /* identity of the object (socket inode, ...), 0 if none */
};

/* IMG_FD_UNIX payload: struct img_unix, then `npending` u64 inodes (a
 * listener's connections not yet accepted: their client sockets, in queue
 * order), then `nmsgs` messages of the receive queue, each a u32 length and its
 * bytes, packed (a stream socket's queue is one message). */
enum img_unix_state {
	IMG_UNIX_UNCONNECTED = 1, /* maybe bound (name) */
	IMG_UNIX_LISTEN = 2,	  /* bound and listening */
	IMG_UNIX_CONNECTED = 3,	  /* one end of a pair with `peer` (0: the peer closed) */
	IMG_UNIX_PENDING = 4,	  /* connected to listener `peer` (peer_name), not accepted */
	IMG_UNIX_DGRAM_TO = 5,	  /* datagram socket connected to `peer` (0: outside) by name */
};
#define IMG_UNIX_PASSCRED (1u << 0) /* SO_PASSCRED */
#define IMG_UNIX_PASSSEC (1u << 1)  /* SO_PASSSEC */
#define IMG_UNIX_QUEUE (1u << 2)    /* this record holds the receive queue (one holder's does) */
struct img_unix {
	uint32_t type;		/* SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_SEQPACKET 5 */
	uint32_t state;		/* enum img_unix_state */
	uint64_t peer;		/* inode of the peer socket (see state), 0 if none */
	uint32_t shutdown;	/* bit 0: receive side shut down, bit 1: send side */
	uint32_t backlog;	/* listen() backlog */
	int32_t rcvbuf, sndbuf; /* value to give SO_RCVBUF/SO_SNDBUF, 0 = the default */
	uint32_t flags;		/* IMG_UNIX_* */
	uint32_t name_len;	/* bytes of name, 0: unnamed; name[0] == 0: abstract */
	uint32_t peer_name_len; /* bytes of peer_name */
	uint32_t npending;
	uint32_t nmsgs;
	uint32_t reserved;
	uint64_t data_len; /* bytes of the messages (with their length words) */
	char name[108];
	char peer_name[108];
};

/* IMG_FD_INET payload: a TCP or UDP socket (IPv4 or IPv6). */
enum img_inet_state {
	IMG_INET_FRESH = 1,	/* neither bound nor connected */
	IMG_INET_BOUND = 2,	/* bound (a UDP socket, or TCP not yet listening) */
	IMG_INET_LISTEN = 3,	/* TCP listening */
	IMG_INET_UDP_CONN = 4,	/* UDP connected to peer */
	IMG_INET_TCP_RESET = 5, /* a TCP connection: comes back reset (ECONNRESET) */
	IMG_INET_TCP_CONN = 6,	/* a TCP connection to a peer in the computation: made again
				   through the coordinator (struct img_tcp follows) */
};
#define IMG_INET_REUSEADDR (1u << 0)
#define IMG_INET_REUSEPORT (1u << 1)
#define IMG_INET_V6ONLY (1u << 2)
#define IMG_INET_NODELAY (1u << 3)
#define IMG_INET_KEEPALIVE (1u << 4)
#define IMG_INET_BROADCAST (1u << 5)
struct img_inet {
	uint32_t family; /* AF_INET 2, AF_INET6 10 */
	uint32_t proto;	 /* IPPROTO_TCP 6, IPPROTO_UDP 17 */
	uint32_t state;	 /* enum img_inet_state */
	uint32_t backlog;
	uint8_t local[16], peer[16]; /* addresses, network order (IPv4: first 4 bytes) */
	uint16_t lport, pport;	     /* ports, host order */
	uint32_t flags;		     /* IMG_INET_* */
	int32_t rcvbuf, sndbuf;	     /* value to give SO_RCVBUF/SO_SNDBUF, 0 = the default */
	uint32_t scope_id;	     /* IPv6 scope of local */
	uint32_t reserved;
};

/* After a struct img_inet of state IMG_INET_TCP_CONN: the connection, then
 * data_len bytes, what was in flight to this end (its receive queue). One
 * holder's record (the process that drained it) has this; the others' say
 * IMG_INET_TCP_RESET and take the socket from it. */
#define IMG_TCP_SHUT_WR (1u << 0)   /* this end had shut its sending side (FIN sent) */
#define IMG_TCP_PEER_SHUT (1u << 1) /* the peer had: reads end after the data */
struct img_tcp {
	uint64_t conn_id;  /* unique among the connections of its generation */
	uint32_t side;	   /* at restart, side 0 listens and side 1 connects */
	uint32_t flags;	   /* IMG_TCP_* */
	uint64_t data_len; /* bytes that follow */
};

/* IMG_FD_FIFO payload: struct img_fifo, then data_len bytes in flight. */
struct img_fifo {
	uint32_t path_str; /* strings offset: the FIFO's path */
	uint32_t mode;	   /* st_mode */
	uint64_t ino, dev;
	uint32_t capacity; /* F_GETPIPE_SZ */
	uint32_t reserved;
	uint64_t data_len;
};

/* Payload of IMG_FD_PTY_MASTER, IMG_FD_PTY_SLAVE and IMG_FD_TTY records: one
 * pty (/dev/pts/index of the devpts instance dev) and its terminal state. */
#define IMG_TTY_CTTY (1u << 0)	  /* the process's controlling terminal; it leads its session */
#define IMG_TTY_LOCKED (1u << 1)  /* master: the slave is still locked (no unlockpt) */
#define IMG_TTY_PKTMODE (1u << 2) /* master: packet mode (TIOCPKT) */
/* master: the bytes in flight follow the record (struct img_tty_queues) */
#define IMG_TTY_QUEUES (1u << 3)
struct img_tty {
	uint32_t index;	  /* N of /dev/pts/N */
	uint32_t flags;	  /* IMG_TTY_* */
	uint64_t dev;	  /* st_dev of the devpts instance: with index, names the pty */
	uint32_t sid;	  /* session whose controlling terminal it is, 0 if unknown */
	uint32_t fg_pgrp; /* its foreground process group, 0 if unknown */
	uint32_t iflag, oflag, cflag, lflag; /* termios */
	uint32_t ispeed, ospeed;
	uint8_t cc[32];			     /* termios c_cc */
	uint16_t rows, cols, xpixel, ypixel; /* struct winsize */
	uint8_t line;			     /* termios c_line */
	uint8_t reserved0;
	uint16_t term_modes; /* IMG_FD_TTY: modes the program set in the user's terminal
				(alternate screen, keypad, mouse...; common/ttymodes.h) */
	uint8_t reserved[4];
};

/* After an IMG_TTY_QUEUES master's struct img_tty: this header, the pty's
 * input queue (in_len bytes), then its output queue (out_len bytes). */
struct img_tty_queues {
	uint32_t in_len;  /* written by the master, not read yet by the slave's reader */
	uint32_t out_len; /* written by the slave, not read yet by the master's reader */
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

/* fdx payloads of the event descriptors (docs/format.md has the byte tables). */
#define IMG_EVENTFD_SEMAPHORE (1u << 0)
struct img_eventfd { /* IMG_FD_EVENTFD; img_fdx.ino = the kernel's eventfd-id */
	uint64_t count;
	uint32_t flags; /* IMG_EVENTFD_* */
	uint32_t reserved;
};
struct img_timerfd {		/* IMG_FD_TIMERFD */
	int32_t clock;		/* CLOCK_REALTIME, CLOCK_MONOTONIC or CLOCK_BOOTTIME */
	uint32_t settime_flags; /* TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET */
	uint64_t ticks;		/* expirations not yet read */
	int64_t value_ns;	/* ABSTIME: expiry on `clock`; else time left; 0 disarmed */
	int64_t interval_ns;
};
struct img_signalfd {	  /* IMG_FD_SIGNALFD */
	uint64_t sigmask; /* bit sig-1 for signal sig */
};
struct img_epoll { /* IMG_FD_EPOLL, followed by nitems struct img_epoll_item */
	uint32_t nitems;
	uint32_t reserved;
};
struct img_epoll_item {
	int32_t tfd;	 /* the fd number the item was added with (its key) */
	uint32_t events; /* EPOLL* including EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE */
	uint64_t data;
	int32_t src_fd; /* an fd of the process with the target's description (tfd if open);
			   -1: only the parent holds it (the epoll is the parent's too) */
	uint32_t reserved;
};
struct img_inotify { /* IMG_FD_INOTIFY, followed by nwatches struct img_inotify_watch */
	uint32_t nwatches;
	uint32_t reserved;
};
struct img_inotify_watch {
	int32_t wd;
	uint32_t mask;	   /* as the kernel keeps it (IN_* events and flags) */
	uint32_t path_str; /* strings offset: the absolute path it was added with */
	uint32_t reserved;
	uint64_t ino, dev; /* of the watched inode, to warn when the path changed */
};
struct img_pidfd {	/* IMG_FD_PIDFD */
	int32_t pid;	/* in the computation's PID namespace */
	uint32_t flags; /* PIDFD_NONBLOCK, PIDFD_THREAD as pidfd_open takes them */
};

/* IMG_FD_MEMFD payload: the object is the descriptor's img_file (IMG_FILE_SHMEM,
 * path "/memfd:NAME", contents saved) */
struct img_memfd {
	uint64_t pos;	   /* file offset */
	uint32_t seals;	   /* F_GET_SEALS */
	uint32_t reserved; /* 0 */
};

/* IMG_SEC_IPC: struct img_ipc[], the SysV IPC objects of the computation (a
 * process records those it got from shmget/semget/msgget, attached, or last
 * used); restart recreates each once, with its id, in a new IPC namespace.
 * Contents are in IMG_SEC_FILEDATA at data_off: shm: the segment's first
 * data_len bytes (the rest is zero); sem: `size` u16 values; msg: `count`
 * records {u64 mtype, u64 len, len bytes, zero padding to 8}. */
enum img_ipc_type {
	IMG_IPC_SHM = 1,
	IMG_IPC_SEM = 2,
	IMG_IPC_MSG = 3,
};
#define IMG_IPC_REMOVED (1u << 0) /* shm marked for removal (IPC_RMID) while attached */
struct img_ipc {
	uint32_t type; /* enum img_ipc_type */
	uint32_t id;
	int32_t key;
	uint32_t mode; /* permission bits */
	uint32_t uid, gid;
	uint64_t size; /* shm: bytes; sem: semaphores; msg: msg_qbytes */
	uint64_t data_off, data_len;
	uint32_t count; /* msg: messages */
	uint32_t flags; /* IMG_IPC_* */
};

/* IMG_FD_MQUEUE payload. The descriptor's img_file (path "/NAME", IMG_FILE_SAVED)
 * holds the queued messages in filedata, in receive order: records
 * {u32 prio, u32 len, len bytes, zero padding to 8}. */
struct img_mqueue {
	int64_t maxmsg, msgsize, curmsgs;
	uint32_t unlinked; /* 1: the name was removed (mq_unlink) */
	uint32_t reserved; /* 0 */
};

/* A child that has exited but was not reaped (a zombie), recorded in its
 * parent's image and recreated as a zombie with the same PID and status.
 *   0 4 pid   4 4 pgid   8 4 sid   12 4 exit_signal (what the parent gets, 0 if none)
 *   16 4 code: CLD_EXITED (1), CLD_KILLED (2) or CLD_DUMPED (3), as waitid gives it
 *   20 4 status: exit code, or the signal that ended it */
struct img_zombie {
	uint32_t pid, pgid, sid;
	int32_t exit_signal;
	int32_t code, status;
};

/* A file lock the process holds (IMG_SEC_LOCKS), taken again at restart
 * through descriptor `fd`. POSIX locks belong to the process, flock and OFD
 * locks to the open file description (recorded once, on its lowest fd). */
enum img_lock_kind {
	IMG_LOCK_POSIX = 1, /* fcntl F_SETLK */
	IMG_LOCK_FLOCK = 2, /* flock */
	IMG_LOCK_OFD = 3,   /* fcntl F_OFD_SETLK */
};
struct img_lock {
	int32_t fd;
	uint32_t kind;	/* enum img_lock_kind */
	uint32_t write; /* 1: exclusive (F_WRLCK, LOCK_EX), 0: shared */
	uint32_t reserved;
	int64_t start; /* first byte (0 for flock) */
	int64_t end;   /* last byte, -1: to the end of the file (and beyond) */
};

/* IMG_SEC_MEMBERS: every process of the checkpoint, on every host, as the
 * coordinator listed them: a restart of one host's part can name those that
 * did not come back.
 *   0 4 pid   4 4 flags (IMG_MEMBER_SELF: this image's process)   8 64 host
 *   (NUL-padded)   72 32 name (the program, NUL-padded) */
#define IMG_MEMBER_SELF (1u << 0)
struct img_member {
	uint32_t pid;
	uint32_t flags;
	char host[64];
	char name[32];
};

/* IMG_SEC_SHARES: one record per descriptor (the lowest of its dups) whose open
 * file description another process of the checkpoint holds too, in fd order.
 * Its owner, the lowest (pid, fd) holding the description in the whole
 * computation, names the description: every holder's record has the same one.
 *   0 4 fd   4 4 owner_pid   8 4 owner_fd   12 4 reserved (0) */
struct img_share {
	int32_t fd;
	uint32_t owner_pid;
	int32_t owner_fd;
	uint32_t reserved;
};

_Static_assert(sizeof(struct img_header) == 128, "img_header");
_Static_assert(sizeof(struct img_section) == 32, "img_section");
_Static_assert(sizeof(struct img_trailer) == 32, "img_trailer");
_Static_assert(sizeof(struct img_context) == 72, "img_context");
_Static_assert(sizeof(struct img_vma) == 48, "img_vma");
_Static_assert(sizeof(struct img_chunk) == 40, "img_chunk");
_Static_assert(sizeof(struct img_fd) == 40, "img_fd");
_Static_assert(sizeof(struct img_fdx) == 16, "img_fdx");
_Static_assert(sizeof(struct img_eventfd) == 16, "img_eventfd");
_Static_assert(sizeof(struct img_timerfd) == 32, "img_timerfd");
_Static_assert(sizeof(struct img_signalfd) == 8, "img_signalfd");
_Static_assert(sizeof(struct img_epoll) == 8, "img_epoll");
_Static_assert(sizeof(struct img_epoll_item) == 24, "img_epoll_item");
_Static_assert(sizeof(struct img_inotify) == 8, "img_inotify");
_Static_assert(sizeof(struct img_inotify_watch) == 32, "img_inotify_watch");
_Static_assert(sizeof(struct img_pidfd) == 8, "img_pidfd");
_Static_assert(sizeof(struct img_memfd) == 16, "img_memfd");
_Static_assert(sizeof(struct img_ipc) == 56, "img_ipc");
_Static_assert(sizeof(struct img_mqueue) == 32, "img_mqueue");
_Static_assert(sizeof(struct img_unix) == 280, "img_unix");
_Static_assert(sizeof(struct img_inet) == 72, "img_inet");
_Static_assert(sizeof(struct img_tcp) == 24, "img_tcp");
_Static_assert(sizeof(struct img_fifo) == 40, "img_fifo");
_Static_assert(sizeof(struct img_tty) == 96, "img_tty");
_Static_assert(sizeof(struct img_tty_queues) == 8, "img_tty_queues");
_Static_assert(sizeof(struct img_zombie) == 24, "img_zombie");
_Static_assert(sizeof(struct img_lock) == 32, "img_lock");
_Static_assert(sizeof(struct img_parent) == 288, "img_parent");
_Static_assert(sizeof(struct img_share) == 16, "img_share");
_Static_assert(sizeof(struct img_member) == 104, "img_member");

#endif
