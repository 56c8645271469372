/* Processes made without fork(): glibc's clone() and the clone, clone3 and
 * fork system calls made through syscall(3) run no fork handlers, so the
 * runtime joins such a child to the computation itself, as fork's handler
 * does. Only children with memory and descriptor tables of their own join:
 * one that shares its parent's memory (CLONE_VM: a thread, vfork, or
 * posix_spawn's helper) or descriptor table (CLONE_FILES) cannot be a process
 * of its own image; it is left alone (a vfork child execs or exits soon, and
 * a checkpoint waits for it; the others make a checkpoint fail, by name). */
#include "runtime/ckpt.h"
#include "runtime/state.h"
#include "runtime/libc.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHARED_FLAGS (CLONE_VM | CLONE_THREAD | CLONE_FILES)

/* The child runs fn on the caller's stack; glibc ends it with exit(2), which
 * would leave the checkpoint thread running: end the whole process instead. */
struct trampoline {
	int (*fn)(void *);
	void *arg;
};

static int join_then_run(void *p)
{
	struct trampoline *t = p; /* our copy of the parent's memory */
	int saved = errno;
	rt_forked_child();
	errno = saved;
	_exit(t->fn(t->arg));
}

static int joins(unsigned long flags)
{
	return rt.enabled && !(flags & SHARED_FLAGS);
}

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!joins(flags) || !fn)
		return REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
	struct trampoline t = {fn, arg}; /* the child gets a copy of it */
	return REAL(clone)(join_then_run, stack, flags, &t, ptid, tls, ctid);
}

/* A process-making system call whose child goes on like fork's: on the same
 * stack (no new one: with a new stack it could not return from syscall()). */
static int fork_like(long n, const long *a)
{
	if (n == SYS_fork)
		return rt.enabled;
	if (n == SYS_clone)
		return joins(a[0]) && !a[1];
	if (n == SYS_clone3 && a[0] && (unsigned long)a[1] >= 64) {
		const struct clone_args *ca = (const struct clone_args *)a[0];
		return joins(ca->flags) && !ca->stack;
	}
	return 0;
}

EXPORT long syscall(long n, ...)
{
	long a[6];
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	int join = fork_like(n, a);
	long rc = REAL(syscall)(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (join && rc == 0) {
		int saved = errno;
		rt_forked_child();
		errno = saved;
	}
	return rc;
}
