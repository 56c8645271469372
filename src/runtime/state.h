/* The runtime's state (libstasis.so): one struct rt_state, `rt`, that its
 * modules share, with a record per thread that the thread fills itself in
 * the checkpoint handler (quiesce.c). Defined in ckpt.c. */
#ifndef STASIS_RUNTIME_STATE_H
#define STASIS_RUNTIME_STATE_H

#include "image/format.h"
#include "restore/blob/restart_info.h"

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RT_MAX_THREADS 1024
#define RT_SUSPEND_TIMEOUT 10 /* seconds for every thread to reach the handler */

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
	struct itimerval itimers[3];	/* saved at checkpoint, re-armed at restart */
	struct rt_restart_info restart; /* the restorer's handoff (restore/blob/restart_info.h) */
};

extern struct rt_state rt;

/* context.S: the caller's callee-saved registers, stack pointer and return
 * address into ctx; returns 0, and 1 when a restarted thread resumes there. */
int rt_save_context(struct img_context *ctx) __attribute__((returns_twice));

static inline long rt_gettid(void)
{
	return syscall(SYS_gettid);
}

#endif
