/* Process-wide state: identity, mm fields, auxv, cwd, umask, rlimits, interval
 * timers and signal actions. */
#include "runtime/procinfo.h"
#include "runtime/arena.h"
#include "runtime/dirlist.h"
#include "runtime/fds.h"
#include "runtime/outside.h"
#include "runtime/state.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/origin.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

/* /proc/self/stat fields 1..52 (man 5 proc); the name is skipped. */
static int read_stat(uint64_t *f, int nf)
{
	char buf[2048];
	if (read_small_file("/proc/self/stat", buf, sizeof(buf)) < 0)
		return -1;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	memset(f, 0, nf * sizeof(*f));
	for (int i = 3; i < nf && *p; i++) {
		if (i == 3) { /* state letter */
			p += 2;
			continue;
		}
		f[i] = strtoull(p, &p, 10);
		while (*p == ' ')
			p++;
	}
	return 0;
}

static int dump_mm(struct img_mm *mm)
{
	uint64_t f[53];
	char auxv[IMG_AUXV_WORDS * 8];
	if (read_stat(f, 53) < 0)
		return -1;
	mm->start_code = f[26];
	mm->end_code = f[27];
	mm->start_stack = f[28];
	mm->start_data = f[45];
	mm->end_data = f[46];
	mm->start_brk = f[47];
	mm->arg_start = f[48];
	mm->arg_end = f[49];
	mm->env_start = f[50];
	mm->env_end = f[51];
	mm->brk = syscall(SYS_brk, 0);
	int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read_full(fd, auxv, sizeof(auxv));
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	memcpy(mm->auxv, auxv, n);
	mm->auxv_words = n / 8;
	return 0;
}

static uint32_t read_umask(void)
{
	char buf[4096];
	if (read_small_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return 022;
	char *p = strstr(buf, "Umask:");
	return p ? strtoul(p + 6, NULL, 8) : 022;
}

static uint32_t link_str(struct rt_strtab *tab, const char *link)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = 0;
	return rt_str_add(tab, buf);
}

int rt_dump_proc(struct img_proc *p, struct rt_strtab *tab, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->pid = getpid();
	p->ppid = getppid();
	p->pgid = getpgrp();
	p->sid = getsid(0);
	p->uid = getuid();
	p->gid = getgid();
	p->umask = read_umask();
	p->ckpt_signal = rt.sig;
	p->exe_str = link_str(tab, "/proc/self/exe");
	p->cwd_str = link_str(tab, "/proc/self/cwd");
	p->name_str = rt_str_add(tab, rt.name);
	p->runtime_info = (uint64_t)(uintptr_t)&rt.restart;
	p->personality = personality(0xffffffff);
	if (dump_mm(&p->mm) < 0)
		return errf(err, errlen, "cannot read /proc/self/stat or auxv: %s",
			    strerror(errno));
	for (int i = 0; i < IMG_NRLIMIT && i < RLIM_NLIMITS; i++) {
		struct rlimit r;
		getrlimit(i, &r);
		p->rlimits[i].cur = r.rlim_cur;
		p->rlimits[i].max = r.rlim_max;
	}
	for (int i = 0; i < 3; i++) {
		getitimer(i, &rt.itimers[i]);
		p->itimers[i].interval_us = rt.itimers[i].it_interval.tv_sec * 1000000ull +
					    rt.itimers[i].it_interval.tv_usec;
		p->itimers[i].value_us =
		    rt.itimers[i].it_value.tv_sec * 1000000ull + rt.itimers[i].it_value.tv_usec;
	}
	return 0;
}

void rt_dump_origin(struct img_origin *g, struct rt_strtab *tab)
{
	struct utsname u;
	char *cmd = rt_alloc(IMG_ORIGIN_MAX_ARGV + 1);
	ssize_t n = cmd ? read_small_file("/proc/self/cmdline", cmd, IMG_ORIGIN_MAX_ARGV + 1) : -1;
	memset(g, 0, sizeof(*g));
	if (uname(&u) == 0) {
		g->host_str = rt_str_add(tab, u.nodename);
		g->release_str = rt_str_add(tab, u.release);
		g->version_str = rt_str_add(tab, u.version);
	}
	if (n >= IMG_ORIGIN_MAX_ARGV)
		g->flags |= IMG_ORIGIN_ARGV_CUT;
	for (ssize_t at = 0; at < n; at += (ssize_t)strlen(cmd + at) + 1) {
		uint32_t off = rt_str_add(tab, cmd + at);
		if (!off) /* the table is full: the words so far */
			break;
		if (!g->argc++)
			g->argv_str = off;
	}
}

void rt_restore_itimers(void)
{
	for (int i = 0; i < 3; i++) {
		struct itimerval *t = &rt.itimers[i];
		if (!t->it_value.tv_sec && !t->it_value.tv_usec)
			t->it_value = t->it_interval; /* expired, waiting to be re-armed */
		if (t->it_value.tv_sec || t->it_value.tv_usec)
			setitimer(i, t, NULL);
	}
}

void rt_dump_sigactions(struct img_sigaction *sa)
{
	memset(sa, 0, 64 * sizeof(*sa));
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, NULL, &sa[sig - 1], 8);
}

/* The PIDs of this process's children (every thread's), for the coordinator. */
int rt_list_children(uint32_t *pids, int max)
{
	int tids[RT_MAX_THREADS], n = 0;
	int nt = rt_list_numeric("/proc/self/task", tids, RT_MAX_THREADS, NULL);
	char *buf = rt_alloc(65536);
	if (!buf)
		return -1;
	for (int i = 0; i < nt; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/task/%d/children", tids[i]);
		if (read_small_file(path, buf, 65536) < 0)
			continue;
		for (char *p = buf; *p && n < max;) {
			char *end;
			unsigned long pid = strtoul(p, &end, 10);
			if (end == p)
				break;
			if (!rt_child_outside(pid)) /* outside.c: not part of the computation */
				pids[n++] = pid;
			p = end;
		}
	}
	return n;
}
