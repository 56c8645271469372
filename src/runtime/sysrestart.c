/* Hiding the checkpoint signal from interrupted system calls.
 *
 * The checkpoint signal has a handler, so a thread blocked in poll, select,
 * epoll_wait, sigsuspend, a futex wait with a timeout, ... comes back from it
 * with EINTR (the kernel restarts only ERESTARTSYS calls for SA_RESTART
 * handlers). Many programs treat that EINTR as fatal: script(1) blocks every
 * signal, reads them from a signalfd and ends its session when poll fails.
 * The program did not get a signal of its own, so it must not see EINTR.
 *
 * The signal frame does not keep the call's number (rax holds -EINTR), so
 * before the checkpoint thread signals a thread it reads
 * /proc/self/task/TID/syscall: number, arguments, stack pointer and address.
 * The handler then checks that its frame is that very call, returned with
 * EINTR, and rewinds it as the kernel does for a restartable call: rax = the
 * number, rip back over the 2-byte syscall instruction. A relative sleep
 * (nanosleep, relative clock_nanosleep) goes on with the time left, which the
 * kernel has written to its `rem` argument: the request register is pointed at
 * it. One without `rem` (usleep) keeps its EINTR (docs/supported.md). A wait with a timeout starts
 * again with its whole timeout, except those the kernel counts down in the caller's memory (select,
 * pselect6, ppoll), which go on with what was left.
 */
#include "runtime/sysrestart.h"
#include "runtime/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

struct sysrestart_call {
	int tid; /* atomic; 0 for a free slot */
	long nr;
	unsigned long args[6], sp, pc;
};

static struct sysrestart_call calls[RT_MAX_THREADS];

void rt_sysrestart_reset(void)
{
	for (int i = 0; i < RT_MAX_THREADS; i++)
		__atomic_store_n(&calls[i].tid, 0, __ATOMIC_RELEASE);
}

/* "nr a1 a2 a3 a4 a5 a6 sp pc" of a thread blocked in a call; "running" or
 * "-1 sp pc" otherwise. */
static int parse_syscall_line(const char *s, struct sysrestart_call *c)
{
	char *end;
	c->nr = strtol(s, &end, 10);
	if (end == s || c->nr < 0)
		return -1;
	for (int i = 0; i < 8; i++) {
		s = end;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s)
			return -1;
		if (i < 6)
			c->args[i] = v;
		else if (i == 6)
			c->sp = v;
		else
			c->pc = v;
	}
	return 0;
}

/* Record the call thread tid is blocked in, if any (before signalling it). */
void rt_sysrestart_note(int tid)
{
	char path[64], buf[256];
	struct sysrestart_call c;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (parse_syscall_line(buf, &c) < 0)
		return;
	for (int i = 0; i < RT_MAX_THREADS; i++) {
		int t = __atomic_load_n(&calls[i].tid, __ATOMIC_ACQUIRE);
		if (t != 0 && t != tid)
			continue;
		calls[i].nr = c.nr;
		memcpy(calls[i].args, c.args, sizeof(c.args));
		calls[i].sp = c.sp;
		calls[i].pc = c.pc;
		__atomic_store_n(&calls[i].tid, tid, __ATOMIC_RELEASE);
		return;
	}
}

static const struct sysrestart_call *find_call(int tid)
{
	for (int i = 0; i < RT_MAX_THREADS; i++)
		if (__atomic_load_n(&calls[i].tid, __ATOMIC_ACQUIRE) == tid)
			return &calls[i];
	return NULL;
}

/* A sleep for a relative time: restarting it as it was would sleep the whole
 * time again. Returns the argument register holding the request, -1 if not. */
static int relative_sleep(const struct sysrestart_call *c, int *rem_arg)
{
	if (c->nr == SYS_nanosleep)
		return *rem_arg = 1, 0;
	if (c->nr == SYS_clock_nanosleep && !(c->args[1] & TIMER_ABSTIME))
		return *rem_arg = 3, 2;
	return -1;
}

static int same_call(const struct sysrestart_call *c, const greg_t *g)
{
	static const int regs[6] = {REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9};
	if ((unsigned long)g[REG_RIP] != c->pc || (unsigned long)g[REG_RSP] != c->sp)
		return 0;
	for (int i = 0; i < 6; i++)
		if ((unsigned long)g[regs[i]] != c->args[i])
			return 0;
	/* the 2 bytes before the return address are the syscall instruction */
	const unsigned char *ip = (const unsigned char *)c->pc;
	return ip[-2] == 0x0f && ip[-1] == 0x05;
}

/* In the checkpoint handler, before the context is saved: make the
 * interrupted call start again when the thread returns from the handler. */
void rt_sysrestart_fix(int tid, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	if (g[REG_RAX] != -EINTR)
		return;
	static const int regs[6] = {REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9};
	const struct sysrestart_call *c = find_call(tid);
	int rem_arg, req_arg;
	if (!c || !same_call(c, g))
		return;
	if ((req_arg = relative_sleep(c, &rem_arg)) >= 0) {
		if (!c->args[rem_arg])
			return;			     /* the time left is not known: EINTR */
		g[regs[req_arg]] = c->args[rem_arg]; /* sleep what is left */
	}
	g[REG_RAX] = c->nr;
	g[REG_RIP] -= 2;
}
