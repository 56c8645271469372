/* The coordinator protocol: framing, message types, payloads, authentication.
 * docs/protocol.md describes the same bytes for readers of the wire.
 *
 * Every message is a 16-byte header followed by `len` payload bytes.
 * All integers are little-endian.
 *
 *   offset size  field
 *   0      4     magic    0x4d535453 ("STSM")
 *   4      2     version  PROTO_VERSION
 *   6      2     type     enum proto_type
 *   8      4     len      payload bytes, at most PROTO_MAX_PAYLOAD
 *   12     4     reserved must be 0
 *
 * Session: on connect the coordinator speaks first with CHALLENGE (a fresh
 * 32-byte nonce). The peer answers HELLO, whose mac is
 * HMAC-SHA256(key = the 32-byte token, msg = nonce || role(le32) || pid(le32)).
 * The coordinator answers WELCOME or REFUSE (then closes). Any other first
 * message, a bad mac, a bad magic/version/length, or an unknown type closes the
 * connection; the coordinator itself keeps running.
 *
 * Checkpoint (coordinator -> every process, then barriers):
 *   CKPT_BEGIN; each process suspends its threads and sends BARRIER{SUSPENDED};
 *   when every live process has reached it, the coordinator sends BARRIER{SUSPENDED}
 *   to all (pass). Same for DRAINED. Then each process writes its image and sends
 *   IMAGE_DONE (or CKPT_ERROR) followed by BARRIER{WRITTEN}. When all have reached
 *   WRITTEN the coordinator answers the requesting control client with CKPT_RESULT and
 *   either passes WRITTEN (processes resume; with ABORT if it failed) or, for a
 *   --kill checkpoint that fully succeeded, sends KILL. A CMD_CHECKPOINT while one
 *   runs (or with no process, or during a restart) is not queued: it gets
 *   CKPT_RESULT{1, gen 0} and a reason. Every second of a checkpoint the
 *   coordinator sends PING to its members and to the client that asked; a member
 *   silent for longer than the coordinator's --timeout is given up.
 * Restart: the restorer connects with HELLO flags HELLO_RESTART, the image's comp_id,
 *   gen and nprocs; the restored runtime later sends BARRIER{RESTARTED} and waits for
 *   the pass, which comes once nprocs processes have reached it.
 */
#ifndef STASIS_COMMON_PROTO_H
#define STASIS_COMMON_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x4d535453u
#define PROTO_VERSION 1
#define PROTO_MAX_PAYLOAD (4u << 20) /* room for PROTO_MAX_MEMBERS struct proto_member */
#define PROTO_NONCE_LEN 32
#define PROTO_TOKEN_LEN 32
#define PROTO_MAC_LEN 32
#define PROTO_NAME_LEN 48
#define STASIS_DEFAULT_PORT 7779
#define PROTO_HANDSHAKE_MS 5000 /* connect, challenge, welcome: all within this */
#define PROTO_SILENCE_MS                                                                           \
	15000 /* a peer waiting for the coordinator gives up after this                            \
		 long without a word (it pings every second of a checkpoint) */

struct proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t reserved;
};

/* On-wire codes: fixed, append-only. */
enum proto_type {
	MSG_CHALLENGE = 1, /* s->c: u8 nonce[32] */
	MSG_HELLO = 2,	   /* c->s: struct proto_hello */
	MSG_WELCOME = 3,   /* s->c: struct proto_welcome, then ckpt_dir (no NUL) */
	MSG_REFUSE = 4,	   /* s->c: reason text (no NUL) */

	MSG_CKPT_BEGIN = 16, /* s->c: struct proto_ckpt_begin, then ckpt_dir (no NUL) */
	MSG_BARRIER = 17,    /* both ways: struct proto_barrier */
	MSG_IMAGE_DONE = 18, /* c->s: struct proto_image_done, then path (no NUL) */
	MSG_CKPT_ERROR = 19, /* c->s: message text (no NUL) */
	MSG_KILL = 20,	     /* s->c: empty; the process exits */

	MSG_CMD_CHECKPOINT = 32,   /* control c->s: struct proto_cmd_checkpoint, then
				      optionally an absolute directory (no NUL): the
				      coordinator's checkpoint directory from this one on */
	MSG_CKPT_RESULT = 33,	   /* s->c: struct proto_ckpt_result, then text */
	MSG_CMD_STATUS = 34,	   /* control c->s: u32 json (0 or 1) */
	MSG_STATUS_REPLY = 35,	   /* s->c: text (human or JSON) */
	MSG_CMD_KILL = 36,	   /* control c->s: empty; reply MSG_OK */
	MSG_CMD_SET_INTERVAL = 37, /* control c->s: u32 seconds (0 = off); reply MSG_OK */
	MSG_OK = 38,		   /* s->c: empty */
	MSG_CMD_QUIT = 39,	   /* control c->s: coordinator exits after MSG_OK */
	MSG_PROGRESS = 41,	   /* process c->s while writing, s->requesting control client:
				      struct proto_progress (bytes of memory written / to write) */
	MSG_EXEC = 43,		   /* process c->s: u32 1 = about to exec (it will join again with
				      the same pid: checkpoints wait for it), 0 = the exec failed,
				      EXEC_EXITING = it exits (a checkpoint let it go on) */
	MSG_CHILDREN = 42,	   /* process c->s after CKPT_BEGIN: u32 pids of its child
				      processes; a child that is not a process of the computation
				      fails the checkpoint */
	MSG_INTERVAL = 44,	   /* s->process: u32 seconds between checkpoints (after WELCOME
				      and on change); process->s after a restart or a rejoin: the
				      interval its computation had */
	MSG_ERROR = 45,		   /* s->control: the command failed: text */
	MSG_PING = 46,		   /* s->c, empty: still working (every second of a checkpoint) */
	MSG_RETAIN = 47,	   /* process c->s before IMAGE_DONE: u32 gen; once every image
				      of this generation is written, the coordinator removes the
				      process's images of generations below it */
	MSG_TCP_REPORT = 48,	   /* process c->s after the SUSPENDED pass: struct
				      proto_tcp_report, then its TCP connections */
	MSG_TCP_MATCH = 49,	   /* s->c once every process reported: struct proto_tcp_match,
				      then one struct proto_tcp_peer per reported end */
	MSG_NAME_PUBLISH = 50,	   /* c->s at restart: struct proto_name, where a connection's
				      listening end now waits */
	MSG_NAME_LOOKUP = 51,	   /* c->s at restart: u64 conn_id; answered by NAME_ANSWER
				      once that connection is published */
	MSG_NAME_ANSWER = 52,	   /* s->c: struct proto_name */
	MSG_HOST = 53,		   /* process c->s after WELCOME: struct proto_host */
	MSG_MEMBERS = 54,	   /* s->c before the DRAINED pass: struct proto_member of every
				      process of the checkpoint to the lowest pid of each host,
				      of itself alone to the others (recorded in the images:
				      a host's part names every process of the computation) */
	MSG_CMD_RESTART_WAIT = 55, /* control c->s from restart: struct proto_restart_wait, then
				      the generation's struct proto_member from its images */
	MSG_RESTART_RESULT = 56,   /* s->c: struct proto_ckpt_result (gen 0: failed), then text */
	MSG_CMD_SET_DIR = 57,	   /* control c->s from launch or restart: the absolute checkpoint
				      directory it was given (no NUL); MSG_OK if the coordinator
				      takes it (--exit-on-last, its computation over), else
				      MSG_ERROR naming the one it keeps */
	MSG_KV_PUBLISH = 58,	   /* process c->s, a plugin's name (plugin.h): struct proto_kv,
				      then len bytes of value; answered by KV_ANSWER (status) */
	MSG_KV_LOOKUP = 59,	   /* process c->s: struct proto_kv (len 0); answered by
				      KV_ANSWER once some process published the key */
	MSG_KV_ANSWER = 60,	   /* s->c: struct proto_kv (status 0 or an errno), then the
				      value (a lookup's) */
	MSG_JOINED_WAIT = 61,	   /* control c->s from PID 1 of a restart's part, before it
				      makes its TCP connections: empty; answered by JOINED */
	MSG_JOINED = 62,	   /* s->c, empty: every process of the generation being
				      restarted has joined (so every part holds its ports) */
};

#define EXEC_EXITING 2 /* MSG_EXEC: the process exits on purpose */

enum proto_role {
	ROLE_PROCESS = 1, /* a process of the computation (runtime or restorer) */
	ROLE_CONTROL = 2, /* the CLI */
};

enum proto_hello_flags {
	HELLO_RESTART = 1u << 0, /* a process coming back from an image */
	HELLO_HOLD = 1u << 1,	 /* control: keep the coordinator while connected (launch,
				    restart), and after a MSG_EXEC 1 for a moment more */
	HELLO_REJOIN = 1u << 2,	 /* process: back after losing its coordinator */
	/* 1u << 3: was HELLO_OUTSIDE, no longer sent (a stasis program started
	 * inside a computation starts again without the runtime: cli/main.c) */
	HELLO_PART = 1u << 4, /* with HELLO_RESTART: one host's part of its generation
				 (origin says which host it ran on) */
};

/* A checkpoint's barriers come in the order PREPARED, SUSPENDED, DRAINED,
 * WRITTEN (the codes are fixed, not the order). */
enum proto_barrier_id {
	BARRIER_SUSPENDED = 1,
	BARRIER_DRAINED = 2,
	BARRIER_WRITTEN = 3,
	BARRIER_RESTARTED = 4,
	BARRIER_PREPARED = 5, /* every process has prepared while it runs; then they stop */
};

enum proto_ckpt_flags {
	CKPT_KILL = 1u << 0,	    /* end the computation once the images are durable */
	CKPT_NO_COMPRESS = 1u << 1, /* store memory uncompressed */
	CKPT_INCREMENTAL = 1u << 2, /* store only pages written since the last image */
};

struct proto_hello { /* 128 bytes */
	uint32_t role;
	uint32_t pid;	     /* pid as the process sees itself (its namespace) */
	uint64_t comp_id;    /* 0 for a new computation */
	uint32_t gen;	     /* last checkpoint generation (restart), else 0 */
	uint32_t flags;	     /* enum proto_hello_flags */
	uint32_t nprocs;     /* processes in the image set (restart), else 0 */
	uint32_t restart_id; /* HELLO_RESTART: pid of the 'stasis restart' (one per restart) */
	char name[PROTO_NAME_LEN]; /* program name, NUL-padded */
	uint8_t origin[16];	   /* HELLO_PART: proto_origin() of the host it ran on */
	uint8_t mac[PROTO_MAC_LEN];
};

struct proto_welcome { /* 24 bytes + ckpt_dir */
	uint64_t client_id;
	uint64_t comp_id; /* assigned by the coordinator for a new computation */
	uint32_t gen;	  /* current generation */
	uint32_t flags;	  /* enum proto_ckpt_flags defaults (CKPT_NO_COMPRESS) */
};

struct proto_ckpt_begin { /* 16 bytes + ckpt_dir */
	uint64_t comp_id;
	uint32_t gen;	/* generation being written */
	uint32_t flags; /* enum proto_ckpt_flags */
};

#define BARRIER_F_ABORT                                                                            \
	(1u << 0) /* on a pass: the checkpoint has failed (SUSPENDED, DRAINED:                     \
		     write nothing; WRITTEN: keep the older images) */

struct proto_barrier {
	uint32_t id;	 /* enum proto_barrier_id */
	uint32_t nprocs; /* processes taking part (filled by the coordinator on pass) */
	uint32_t flags;	 /* BARRIER_F_* (coordinator -> process) */
	uint32_t reserved;
};
/* A checkpoint's SUSPENDED pass (coordinator -> process) is followed by the
 * u32 pids of the processes taking part on the process's host (at most
 * PROTO_MAX_MEMBERS; the other passes carry none): the runtime tells sockets
 * inside the computation from sockets to outside with them. 32768 covers
 * pid_max's default, and DMTCP's largest published run (32,752). */
#define PROTO_MAX_MEMBERS 32768

/* TCP connections at checkpoint (runtime/fd_tcp.c, coordinator/coord_tcp.c).
 * After the SUSPENDED pass every process reports the TCP sockets it drains
 * (those it is the lowest pid to hold); the coordinator pairs the two ends of
 * each connection across processes and hosts and answers every process. */
struct proto_tcp_report { /* 24 bytes, then count struct proto_tcp_end */
	uint32_t count;
	uint32_t reserved;
	uint8_t host[16]; /* the network the sockets live in: boot id ^ netns inode */
};
#define PROTO_TCP_SHUT_WR (1u << 0)   /* this end sent its FIN (shutdown SHUT_WR) */
#define PROTO_TCP_PEER_SHUT (1u << 1) /* this end received the peer's FIN */
#define PROTO_TCP_URGENT (1u << 2)    /* urgent (out-of-band) data waits to be read */
#define PROTO_TCP_PENDING (1u << 3)   /* in the accept queue of listener `fd` (ino 0) */
struct proto_tcp_end {		      /* 64 bytes */
	uint64_t ino;		      /* socket inode */
	int32_t fd;		      /* its lowest descriptor in the process (for messages) */
	uint32_t state;		      /* TCP state, as linux/tcp.h numbers them (1 ESTABLISHED) */
	uint16_t family;	      /* AF_INET 2, AF_INET6 10 */
	uint16_t flags;		      /* PROTO_TCP_* */
	uint16_t lport, pport;	      /* host order */
	uint8_t local[16], peer[16];  /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	uint32_t outq, inq;	      /* SIOCOUTQ (sent, not acknowledged), SIOCINQ (unread) */
};
/* The address of an end ("1.2.3.4:80", "[::1]:80"), for messages. */
const char *proto_tcp_addr(const uint8_t a[16], uint16_t port, char *buf, size_t size);
#define PROTO_TCP_ABORT (1u << 0) /* the checkpoint failed: drain nothing */
struct proto_tcp_match {	  /* 24 bytes, then count struct proto_tcp_peer */
	uint32_t count;		  /* = the report's */
	uint32_t flags;		  /* PROTO_TCP_ABORT */
	uint8_t nonce[16];	  /* random, this checkpoint's: begins every drain marker */
};
struct proto_tcp_peer {	    /* 16 bytes, for the report's end of the same index */
	uint64_t conn_id;   /* 0: the peer is outside the computation */
	uint32_t side;	    /* 0 or 1; at restart side 0 listens and side 1 connects */
	uint32_t peer_outq; /* the peer end's SIOCOUTQ */
};
/* At restart: where a connection's side 0 listens now (publish), or the
 * answer to a lookup. The connecting side sends the cookie first. */
/* A name of the computation's name service (MSG_KV_*, plugin.h): the key
 * NUL-padded, the value's length; the value follows. */
#define PROTO_KEY_LEN 64
#define PROTO_VALUE_MAX 1024
struct proto_kv { /* 72 bytes */
	char key[PROTO_KEY_LEN];
	uint32_t len;	 /* bytes of value that follow */
	uint32_t status; /* KV_ANSWER: 0, or an errno (EEXIST: published already) */
};

struct proto_name { /* 48 bytes */
	uint64_t conn_id;
	uint16_t family; /* AF_INET or AF_INET6 */
	uint16_t port;	 /* host order */
	uint32_t reserved;
	uint8_t addr[16];   /* network order (IPv4: the first 4 bytes) */
	uint8_t cookie[16]; /* random: proves the connecting side asked the coordinator */
};

/* Where a process runs (MSG_HOST): its network's key (as in TCP_REPORT), its
 * host name, and for a process coming back from an image the host it ran
 * on at the checkpoint. */
struct proto_host {	    /* 160 bytes */
	uint8_t key[16];    /* its network */
	uint8_t pids[16];   /* its view of pids: boot id ^ PID namespace inode */
	char host[64];	    /* NUL-padded */
	char orig_host[64]; /* restart: the image's; else empty */
};
/* One process of a checkpoint (MSG_MEMBERS, MSG_CMD_RESTART_WAIT; the image
 * section members has the same 104 bytes). */
struct proto_member {
	uint32_t pid;
	uint32_t flags; /* in an image: 1 for the image's own process */
	char host[64];
	char name[32]; /* program name */
};
struct proto_restart_wait { /* 24 bytes, then nmembers struct proto_member */
	uint64_t comp_id;
	uint32_t gen;
	uint32_t seconds;  /* how long the coordinator waits for the whole generation */
	uint32_t nmembers; /* 0 when the images do not list them */
	uint32_t reserved;
};

/* The network a process's sockets live in (ns "net"), or the pids it sees
 * (ns "pid"): the boot id with that namespace's inode XORed into its first 8
 * bytes (zero if unknown). */
void proto_host_key(uint8_t key[16], const char *ns);
/* Both keys and the host name, for MSG_HOST */
void proto_host_fill(struct proto_host *h);
/* This host's name (uname), NUL-terminated in 64 bytes. */
void proto_host_name(char name[64]);
/* The hello's origin of a process that ran on host (a name) */
void proto_origin(uint8_t out[16], const char *host);

struct proto_image_done {
	uint64_t size; /* bytes of the image file */
};

struct proto_cmd_checkpoint {
	uint32_t flags; /* enum proto_ckpt_flags */
};

struct proto_ckpt_result { /* then text: image paths one per line, or the errors */
	uint32_t status;   /* 0 ok, else failed */
	uint32_t gen;	   /* 0: the checkpoint was not started */
};

struct proto_progress {
	uint64_t done, total; /* bytes of memory, summed over processes by the coordinator */
	uint32_t nprocs;      /* processes reporting (coordinator -> control client) */
	uint32_t reserved;
};

/* A received message: header plus payload in a caller-owned buffer. */
struct proto_msg {
	struct proto_hdr hdr;
	uint8_t *payload; /* points into the caller's buffer */
};

/* Blocking framing helpers for clients (CLI, runtime, restorer). */
int proto_send(int fd, uint16_t type, const void *a, size_t alen, const void *b, size_t blen);
/* Read one message; payload into buf (size bufsize). Returns 0, or -1 with errno
 * (EPROTO: bad header or too long; ECONNRESET: peer closed). */
int proto_recv(int fd, struct proto_msg *msg, void *buf, size_t bufsize);
/* The same within timeout_ms for the whole message (-1: no bound); ETIMEDOUT. */
int proto_recv_timeout(int fd, struct proto_msg *msg, void *buf, size_t bufsize, int timeout_ms);
/* Validate a header received from the wire: 0 if well-formed. */
int proto_check_hdr(const struct proto_hdr *h);

/* mac = HMAC-SHA256(token, nonce || role || pid) */
void proto_hello_mac(const uint8_t token[PROTO_TOKEN_LEN], const uint8_t nonce[PROTO_NONCE_LEN],
		     uint32_t role, uint32_t pid, uint8_t mac[PROTO_MAC_LEN]);

/* Token files: <rundir>/coord-<port>.token, 64 hex chars and a newline, mode 0600,
 * in a 0700 directory. rundir is $STASIS_RUN_DIR, else $XDG_RUNTIME_DIR/stasis, else
 * /tmp/stasis-<uid>. */
int proto_token_path(uint16_t port, char *buf, size_t size);
/* <rundir>/<name> */
int proto_run_path(const char *name, char *buf, size_t size);
/* The run directory exists (created 0700 if not), is ours and is not
 * writable by others: 0, or -1 with why in err. */
int proto_run_dir_ensure(char *err, size_t errlen);
/* <rundir>/<name>-<port>: a file of the computation on port, in the run dir */
int proto_run_file(uint16_t port, const char *name, char *buf, size_t size);
int proto_token_load(uint16_t port, uint8_t token[PROTO_TOKEN_LEN], char *err, size_t errlen);
int proto_token_create(uint16_t port, uint8_t token[PROTO_TOKEN_LEN], char *err, size_t errlen);
/* Write token to <rundir>/name (mode 0600, temp file and rename; the run
 * directory made 0700 if missing); its path in path. */
int proto_token_save(const char *name, const uint8_t token[PROTO_TOKEN_LEN], char *path,
		     size_t pathsize, char *err, size_t errlen);
/* The token as 64 hex digits and a NUL, and back (0, or -1 if malformed). */
void proto_token_to_hex(const uint8_t token[PROTO_TOKEN_LEN], char hex[2 * PROTO_TOKEN_LEN + 1]);
int proto_token_from_hex(const char *hex, uint8_t token[PROTO_TOKEN_LEN]);

/* Connect to 127.0.0.1:port (or $STASIS_COORD_HOST), run the handshake, both
 * within PROTO_HANDSHAKE_MS. hello: role, pid, comp_id, gen, flags, nprocs and
 * name filled by the caller; the mac is computed here. welcome and ckpt_dir may
 * be NULL. Returns the socket (O_CLOEXEC, blocking) or -1 with errno and a
 * user-facing message in err: ECONNREFUSED "no coordinator on 127.0.0.1:N
 * (connection refused): start one with ..."; ECONNABORTED when the peer closed
 * before its challenge (a coordinator that is exiting); ETIMEDOUT when it said
 * nothing (not a coordinator, or stopped). */
struct proto_hello;
int proto_client_connect(uint16_t port, struct proto_hello *hello, struct proto_welcome *welcome,
			 char *ckpt_dir, size_t dirsize, char *err, size_t errlen);
/* The same on fd, a stream socket the caller made (and keeps: it is not
 * closed on failure) of the coordinator host's address family: processes
 * forked before the connect hold the connected socket too (restart). */
int proto_client_connect_fd(int fd, uint16_t port, struct proto_hello *hello,
			    struct proto_welcome *welcome, char *ckpt_dir, size_t dirsize,
			    char *err, size_t errlen);

/* $STASIS_PORT, else 7779; 0 if $STASIS_PORT is set but is not a port number. */
uint16_t proto_default_port(void);
/* 1 when the coordinator is another host's: $STASIS_COORD_HOST is set and
 * none of its addresses is this host's (loopback, or an address of one of its
 * interfaces: a coordinator that listens on this host's own 192.0.2.1 is this
 * host's), or it cannot be resolved. This host's processes then write their
 * images in the directory their launch or restart was given, not in the
 * coordinator's, and no command starts a coordinator here for it. */
int proto_coord_remote(void);
/* A port number 1-65535 in decimal, or 0 if s is not one. */
uint16_t proto_parse_port(const char *s);

_Static_assert(sizeof(struct proto_tcp_report) == 24, "proto_tcp_report");
_Static_assert(sizeof(struct proto_tcp_end) == 64, "proto_tcp_end");
_Static_assert(sizeof(struct proto_tcp_match) == 24, "proto_tcp_match");
_Static_assert(sizeof(struct proto_tcp_peer) == 16, "proto_tcp_peer");
_Static_assert(sizeof(struct proto_name) == 48, "proto_name");
_Static_assert(sizeof(struct proto_kv) == 72, "proto_kv");
_Static_assert(sizeof(struct proto_host) == 160, "proto_host");
_Static_assert(sizeof(struct proto_member) == 104, "proto_member");
_Static_assert(sizeof(struct proto_restart_wait) +
		       PROTO_MAX_MEMBERS * sizeof(struct proto_member) <=
		   PROTO_MAX_PAYLOAD,
	       "every member fits one message");
_Static_assert(sizeof(struct proto_restart_wait) == 24, "proto_restart_wait");

#endif
