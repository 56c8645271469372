/* Coordinator internals shared by coord*.c; not an API for other parts. */
#ifndef STASIS_COORDINATOR_COORD_INT_H
#define STASIS_COORDINATOR_COORD_INT_H

#include "common/clock.h"
#include "common/log.h"
#include "common/proto.h"
#include "coordinator/coord.h"
#include "coordinator/loop.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; p is NUL-terminated whenever it is not NULL. */
struct sbuf {
	char *p;
	size_t len, cap;
};

/* Make room for n more bytes (plus the NUL). */
int sbuf_reserve(struct sbuf *b, size_t n);
int sbuf_add(struct sbuf *b, const void *data, size_t n);
int sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sbuf_add_shell_quoted(struct sbuf *b, const char *s);
int sbuf_add_json_string(struct sbuf *b, const char *s);
void sbuf_consume(struct sbuf *b, size_t n);
/* Sort the buffer's newline-terminated lines (a stable, readable order). */
int sbuf_sort_lines(struct sbuf *b);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

enum conn_state {
	CONN_HELLO,   /* challenge sent, waiting for HELLO */
	CONN_READY,   /* authenticated */
	CONN_CLOSING, /* close once the output is flushed */
	CONN_DEAD,    /* closed and freed by the before-sleep hook */
};

struct coord;

/* One message sent alike to many connections (a barrier pass with its pids):
 * built once, referenced by each connection's output until sent
 * (coord_shared.c). */
struct shared {
	unsigned refs;
	size_t len;
	uint8_t data[]; /* header and payload */
};

struct conn {
	struct coord *c;
	int fd;
	uint64_t id;
	enum conn_state state;
	uint32_t role, pid;
	char name[PROTO_NAME_LEN + 1];
	uint8_t nonce[PROTO_NONCE_LEN];
	struct sbuf in, out;
	struct shared *sh; /* after out: a shared message, sent from sh_off on */
	size_t sh_off;
	struct sbuf after;	 /* what was sent while sh waits, after it */
	uint32_t barrier;	 /* last barrier reached in the current round (its position in
				    the checkpoint's order, coord_ckpt.c; or BARRIER_RESTARTED) */
	int member;		 /* takes part in the running checkpoint */
	int restarted;		 /* waits for the RESTARTED pass */
	int wrote;		 /* sent IMAGE_DONE in the running checkpoint */
	char *image;		 /* its path (malloc'ed), or NULL */
	uint32_t keep_from;	 /* MSG_RETAIN: its images below this generation may go */
	uint64_t done, total;	 /* its last MSG_PROGRESS in the running checkpoint */
	int execing;		 /* said MSG_EXEC 1: its leaving is an exec (a launch: its
				    program is being started) */
	int exiting;		 /* said MSG_EXEC EXEC_EXITING: it leaves on purpose */
	uint32_t flags;		 /* its hello's HELLO_* flags */
	uint32_t restart_id;	 /* HELLO_RESTART: the 'stasis restart' it came with */
	uint8_t origin[16];	 /* HELLO_PART: the host it ran on (proto_origin) */
	int joined;		 /* a process of the restart in progress, counted in njoined */
	long long heard_ms;	 /* when it last said something, or was last asked to */
	long long sent_ms;	 /* when it was last sent something */
	uint32_t abandoned;	 /* the generation whose checkpoint gave up on it, or 0 */
	int killing;		 /* sent KILL by CMD_KILL */
	int waits_kill;		 /* a control client waiting for CMD_KILL to complete */
	struct sbuf kill_result; /* checkpoint --kill: its MSG_CKPT_RESULT, sent once every
				    process is gone (payload as sent, or empty) */
	/* its TCP report in the running checkpoint (coord_tcp.c) */
	struct proto_tcp_end *tcp;
	struct proto_tcp_peer *tcp_out;
	uint32_t ntcp;
	int tcp_reported;
	uint8_t tcp_host[16];
	/* where it runs (MSG_HOST): key as in TCP reports, 0 if it did not say */
	int has_host;
	uint8_t host_key[16], pids_key[16];
	char host[65], orig_host[65];
	struct conn *next;
	struct conn *pid_next; /* the next process of its bucket of by_pid (coord_conn.c) */
	int in_by_pid;
};

struct ckpt {
	int active;
	uint32_t gen, flags, stage;
	uint64_t requester; /* control client id, 0 for the interval timer */
	int failed;
	int transient;	       /* failed only because processes came or went: try again */
	int tcp_answered;      /* MSG_TCP_MATCH went to every member */
	struct sbuf hostpaths; /* "host<TAB>image path" lines, for the restart script */
	uint8_t nonce[16];
	struct sbuf paths, errors;
	long long start_ms; /* now_ms() at its start */
	uint64_t bytes;	    /* of the images written so far */
	/* kept as messages come and go, over the members that are CONN_READY
	 * (ckpt_count): how many, how many reached the current stage, reported
	 * their TCP sockets, and their progress; members closed and not yet
	 * counted out of the checkpoint (member_gone) */
	uint32_t nmem, nreached, nreported, ndead;
	uint64_t done, total;
};

/* How a checkpoint ended, for status */
struct ckpt_outcome {
	uint32_t gen;
	long long at_ms;  /* now_ms() when it ended */
	long long wall_s; /* time(NULL) then */
	long long dur_ms; /* from its start */
	uint64_t bytes;	  /* of its images (success) */
	char text[1024];  /* its errors (failure) */
};

struct name;
struct lookup;
struct waiter;

#define COORD_PID_BUCKETS 8192

struct coord {
	struct coord_opts opts;
	uint16_t port;
	char bind_addr[64];
	int port_lock_fd; /* <rundir>/coord-PORT.lock (common/complock.h), held while listening */
	char ckpt_dir[PATH_MAX];
	char self_exe[PATH_MAX];
	char token_path[PATH_MAX];
	char log_path[PATH_MAX];  /* --log-file, or a daemon's log file, or "" */
	char port_file[PATH_MAX]; /* --port-file once written, or "" */
	uint8_t token[PROTO_TOKEN_LEN];
	int listen_fd, sig_fd;
	struct loop *loop;
	struct conn *conns;
	struct conn *by_pid[COORD_PID_BUCKETS]; /* processes (joined) by pid: conn_of_pid */
	int nprocs;				/* CONN_READY processes */
	int ndead_conns;			/* CONN_DEAD, not freed yet (conn_reap) */
	uint32_t nrestarted;	/* CONN_READY processes waiting for the RESTARTED pass */
	int reserve_fd;		/* /dev/null, closed to make room (coord_fds.c) */
	long long accept_timer; /* accepting resumes then */
	int accept_failing;	/* since the last accept that worked (warned once) */
	uint64_t next_client_id;
	uint64_t comp_id;
	uint32_t gen; /* last generation started */
	unsigned interval;
	long long interval_timer, exit_timer, watchdog_timer, kill_timer;
	long long linger_until_ms; /* --exit-on-last: not before this */
	unsigned served;	   /* processes and holding clients that said hello */
	long long kill_since_ms;   /* a CMD_KILL is under way since */
	int kill_escalated;
	unsigned timeout_ms; /* a checkpoint gives up on a silent process after this */
	int interval_set;    /* given by option or command: a restart does not replace it */
	int lock_fd;	     /* the computation's lock (common/complock.h), or -1 */
	uint64_t locked_comp;
	struct ckpt_outcome last_ok, last_err; /* the last checkpoint that succeeded, and that
						  failed */
	struct sbuf last_images;	       /* last_ok's image paths, one per line */
	int restarting;
	uint32_t restart_nprocs;
	uint32_t failed_restart; /* restart_id of the last restart that failed */
	/* processes that left to exec: a checkpoint waits for them to join again */
	struct {
		uint32_t pid;
		long long deadline_ms;
	} execs[64];
	int nexecs;
	struct {
		int pending;
		uint32_t flags;
		uint64_t requester;
	} deferred;
	struct {
		int pending;
		uint32_t flags;
		uint64_t requester; /* a control client: never the interval timer */
	} queued; /* asked for while a checkpoint ran: begins once that one is over */
	long long defer_timer;
	long long retry_until_ms; /* a checkpoint that failed transiently is retried until */
	unsigned retries;	  /* and at least once: the retries of this request */
	struct ckpt ckpt;
	int status;
	/* the name service: a restart's connections, plugins (coord_names.c) */
	struct name *names;
	struct lookup *lookups;
	size_t nnames;
	/* restarts in parts (coord_restart.c) */
	struct waiter *waiters;
	struct proto_member *expected; /* the generation's processes, from the images */
	uint32_t nexpected;
	uint32_t njoined;	 /* processes of the restart in progress that joined */
	struct joiner *joiners;	 /* PID 1s of its parts waiting for all (MSG_JOINED_WAIT) */
	uint64_t restarted_comp; /* the last restart that came back whole */
	uint32_t restarted_gen;
};

/* coord_conn.c */
void conn_accept(struct loop *l, int fd, void *data, int mask);
/* The last process that joined with pid, or NULL; the others with that pid
 * (several hosts may have one) follow along o->pid_next, among those of other
 * pids: check o->pid. A process is there until its connection is freed,
 * whatever its state. */
struct conn *conn_of_pid(const struct coord *c, uint32_t pid);
int conn_send(struct conn *k, uint16_t type, const void *a, size_t alen, const void *b,
	      size_t blen);
/* Close k (deferred to the before-sleep hook); logs why when why is not NULL. */
void conn_drop(struct conn *k, const char *why);
struct conn *conn_by_id(struct coord *c, uint64_t id);
int conn_is_process(const struct conn *k);
int coord_nprocs(const struct coord *c);
/* Close and free dead connections; returns how many processes left. */
int conn_reap(struct coord *c);
void conn_flush_all(struct coord *c);
void conn_free_all(struct coord *c);

/* coord_shared.c: shared_new builds the message once (NULL: out of memory);
 * conn_send_shared queues it on k; shared_put drops a reference. */
struct iovec;
struct shared *shared_new(uint16_t type, const struct iovec *iov, int n);
int conn_send_shared(struct conn *k, struct shared *s);
void shared_put(struct shared *s);

/* coord_pass.c: a checkpoint barrier's pass to every member (the SUSPENDED
 * one with the pids of each member's host); members_sorted: the CONN_READY
 * members in cmp's order (malloc'ed; *n of them; NULL: none, or no memory) */
void pass_send(struct coord *c, const struct proto_barrier *pass);
struct conn **members_sorted(struct coord *c, int (*cmp)(const void *, const void *), size_t *n);

/* coord_fds.c: the descriptor limit. fds_setup raises the soft limit to the
 * hard one and keeps a descriptor in reserve; fds_accept_failed pauses
 * accepting for a moment on EMFILE/ENFILE (1: it did); fds_release and
 * fds_reserve free and take back the reserve around what must not fail. */
void fds_setup(struct coord *c);
int fds_accept_failed(struct coord *c, int err);
void fds_accepted(struct coord *c);
void fds_release(struct coord *c);
void fds_reserve(struct coord *c);

/* coord_ckpt.c */
/* Add (sign 1) or take away (-1) what k counts for in the running checkpoint:
 * before and after a change of its state, membership, barrier or report. */
void ckpt_count(struct conn *k, int sign);
/* 1 while a checkpoint runs, or is about to begin or to start again */
int ckpt_busy(const struct coord *c);
int ckpt_start(struct coord *c, uint32_t flags, uint64_t requester, char *err, size_t errlen);
void ckpt_on_barrier(struct conn *k, const struct proto_barrier *b);
void ckpt_on_image(struct conn *k, const struct proto_msg *m);
void ckpt_on_retain(struct conn *k, const struct proto_msg *m);
void ckpt_on_error(struct conn *k, const struct proto_msg *m);
void ckpt_on_progress(struct conn *k, const struct proto_msg *m);
/* The running checkpoint's progress, summed over its processes */
struct proto_progress ckpt_progress(const struct coord *c);
void ckpt_on_children(struct conn *k, const struct proto_msg *m);
void ckpt_exec_left(struct coord *c, uint32_t pid);
void ckpt_exec_joined(struct coord *c, uint32_t pid);
int ckpt_exec_pending(const struct coord *c, uint32_t pid);
void ckpt_proc_left(struct conn *k);
void restart_on_barrier(struct conn *k);
void ckpt_free(struct ckpt *ck);

/* coord_tcp.c: TCP reports after the SUSPENDED pass; tcp_check_reports
 * answers once every member has reported (also when one leaves) */
void tcp_on_report(struct conn *k, const struct proto_msg *m);
void tcp_check_reports(struct coord *c);
void tcp_forget(struct conn *k);

/* coord_names.c: MSG_NAME_PUBLISH, MSG_NAME_LOOKUP, MSG_KV_PUBLISH and
 * MSG_KV_LOOKUP from any peer (0, or -1: malformed); names_forget when a
 * checkpoint begins and once a restart is complete */
int names_dispatch(struct conn *k, const struct proto_msg *m);
void names_forget(struct coord *c);

/* coord_hosts.c: where processes run. host_on sets k's host (MSG_HOST);
 * same_host says whether two processes see the same pids (one machine, one
 * PID namespace; a process that did not say where it runs shares everyone's);
 * members_send
 * gives the lowest pid of each host the list of every member of the running
 * checkpoint, the others their own entry (MSG_MEMBERS). */
void host_on(struct conn *k, const struct proto_msg *m);
int same_host(const struct conn *a, const struct conn *b);
void members_send(struct coord *c);

/* coord_restart.c: MSG_CMD_RESTART_WAIT and MSG_JOINED_WAIT (0, or -1:
 * malformed); restart_on_join and restart_on_leave for each process of a
 * restart that joins and leaves; restart_done once the RESTARTED barrier
 * passed, restart_over whenever a restart ends; restart_forget at exit */
int restart_on_wait(struct conn *k, const struct proto_msg *m);
int restart_on_joined_wait(struct conn *k, const struct proto_msg *m);
void restart_on_join(struct conn *k);
void restart_on_leave(struct conn *k);
void restart_done(struct coord *c);
void restart_over(struct coord *c);
void restart_forget(struct coord *c);
/* k has reached checkpoint barrier id in the running checkpoint */
int ckpt_reached(const struct conn *k, uint32_t id);
/* id is one of a checkpoint's barriers */
int ckpt_stage_known(uint32_t id);
void ckpt_fail(struct coord *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ckpt_advance(struct coord *c);
void ckpt_remove_generation(struct coord *c, uint32_t gen);

/* coord_watch.c: a checkpoint's bounds: pings, silent processes given up */
void watch_tick(struct coord *c);
void watch_abandon(struct conn *k);
int watch_on_abandoned(struct conn *k, const struct proto_msg *m);
int watch_refuse_abandoned(struct coord *c, char *err, size_t errlen);

/* coord_status.c: the reply to CMD_STATUS, as text or JSON (-1: out of memory) */
int status_text(struct coord *c, struct sbuf *s);
int status_json(struct coord *c, struct sbuf *s);

/* coord_ctl.c */
int ctl_dispatch(struct conn *k, const struct proto_msg *m);
int ctl_set_interval(struct coord *c, unsigned seconds);
void ctl_send_interval(struct conn *k);
void ctl_on_interval(struct conn *k, const struct proto_msg *m);

/* coord_kill.c: CMD_KILL ends every process, stopped ones included */
void kill_start(struct conn *requester);
/* checkpoint --kill succeeded: KILL to every process; the requester (may be NULL)
 * gets result (the MSG_CKPT_RESULT payload) once they are gone, as `kill` would. */
void kill_after_checkpoint(struct coord *c, struct conn *requester, const void *result, size_t len);
void kill_check(struct coord *c);

/* coord_peer.c: the process at the other end of a local connection */
/* The host pid of the process holding the other end of fd that sees itself as
 * pid (innermost PID namespace), or -1 (another host, or not found). */
int peer_host_pid(int fd, uint32_t pid);
/* A process of this host that sees itself as pid, named name (the runtime's
 * name for it), runs and is not ending: a peer whose connection closed is
 * still there (it lost the connection; it was not killed). */
int peer_runs(uint32_t pid, const char *name);
/* Its state from /proc/PID/stat ('T' stopped), or 0. */
char peer_state(int host_pid);
/* "it is stopped (SIGSTOP ...)" or what else is known of a process that does
 * not answer, for messages. */
void peer_describe(const struct conn *k, char *buf, size_t size);

/* coord_life.c: --exit-on-last, the computation's lock, the log */
void life_linger(struct coord *c, long long ms);
void life_check_exit(struct coord *c);
int life_adopt(struct coord *c, uint64_t comp_id, char *err, size_t errlen);
void life_release(struct coord *c);
/* Remove the token, then close the listening socket (in that order). */
void life_stop_listening(struct coord *c);
int life_open_log(struct coord *c);

/* coord_files.c: --log-file checked and --port-file written once listening
 * (0, or -1 with err); files_forget removes the port file at exit */
int files_setup(struct coord *c, char *err, size_t errlen);
/* The checkpoint directory dir made absolute in out (PATH_MAX), created if
 * missing with create; it must be a writable directory (0, or -1 with err). */
int files_resolve_dir(const char *dir, int create, char *out, char *err, size_t errlen);
void files_forget(struct coord *c);

#endif
