/* stasis check's probes: what this kernel and machine allow, each tried for
 * real (in a child process where it changes something), like criu check. */
#include "cli/check.h"
#include "runtime/pagescan.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define CHECK_PID 42 /* the PID asked of clone3 in the probe's namespace */

__attribute__((format(printf, 3, 4))) static void say(struct check *c, int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->ok = ok;
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static int read_int(const char *path, long *v)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	int n = f && fgets(buf, sizeof(buf), f) ? sscanf(buf, "%ld", v) : 0;
	if (f)
		fclose(f);
	return n == 1 ? 0 : -1;
}

/* Run fn in a child; its exit status (0: it worked, else an errno), or -1 */
static int in_child(int (*fn)(void))
{
	int st;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static int new_userns(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0 ? errno : 0;
}

void probe_userns(struct check *c)
{
	int e = in_child(new_userns);
	long max = -1;
	read_int("/proc/sys/user/max_user_namespaces", &max);
	if (!e) {
		say(c, 1, "restart can create a user and PID namespace");
		return;
	}
	say(c, 0,
	    "unshare(CLONE_NEWUSER | CLONE_NEWPID): %s (user.max_user_namespaces = %ld; "
	    "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns "
	    "may forbid them to plain users)",
	    strerror(e), max);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* PID 1 of the probe's namespace: clone3 with set_tid = CHECK_PID */
static int pid_one(void)
{
	pid_t want = CHECK_PID;
	struct clone_args a = {
	    .exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&want, .set_tid_size = 1};
	int st;
	long pid = syscall(SYS_clone3, &a, sizeof(a));
	if (pid == 0)
		_exit(getpid() == CHECK_PID ? 0 : EBADSLT);
	if (pid < 0)
		return errno;
	if (waitpid((pid_t)pid, &st, 0) < 0)
		return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
}

static int set_tid_in_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0)
		return errno;
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if (write_str("/proc/self/uid_map", map) < 0)
		return errno;
	write_str("/proc/self/setgroups", "deny\n");
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	if (write_str("/proc/self/gid_map", map) < 0)
		return errno;
	return in_child(pid_one);
}

void probe_set_tid(struct check *c)
{
	int e = in_child(set_tid_in_userns);
	if (!e)
		say(c, 1, "clone3 gave PID %d in a new user and PID namespace", CHECK_PID);
	else
		say(c, 0, "clone3 with set_tid in a user and PID namespace: %s", strerror(e));
}

void probe_pagemap_scan(struct check *c)
{
	struct page_region vec[4];
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long n = -1;
	if (p != MAP_FAILED && fd >= 0) {
		p[0] = 1;
		struct pm_scan_arg a = {.size = sizeof(a),
					.start = (uint64_t)(uintptr_t)p,
					.end = (uint64_t)(uintptr_t)p + 4096,
					.vec = (uint64_t)(uintptr_t)vec,
					.vec_len = 4,
					.category_mask = PAGE_IS_PRESENT,
					.return_mask = PAGE_IS_PRESENT};
		n = ioctl(fd, PAGEMAP_SCAN, &a);
	}
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	if (n == 1)
		say(c, 1, "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap works");
	else
		say(c, 0, "ioctl(PAGEMAP_SCAN): %s (Linux 6.7 or later)",
		    n < 0 ? strerror(e) : "no page reported");
}

void probe_uffd_wp(struct check *c)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	int ok = fd >= 0 && ioctl(fd, UFFDIO_API, &api) == 0, e = errno;
	if (fd >= 0)
		close(fd);
	if (ok)
		say(c, 1, "userfaultfd with asynchronous write-protection");
	else
		say(c, 0,
		    "userfaultfd with UFFD_FEATURE_WP_ASYNC: %s (Linux 6.7 or later; "
		    "vm.unprivileged_userfaultfd)",
		    strerror(e));
}

void probe_timer_ids(struct check *c)
{
	if (prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0) == 0) {
		prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
		say(c, 1,
		    "timer_create cannot be given an ID, but prctl(PR_TIMER_CREATE_RESTORE_IDS) "
		    "makes it take the ID in its sigevent%s",
		    "");
	} else {
		say(c, 0, "prctl(PR_TIMER_CREATE_RESTORE_IDS): %s (Linux 6.15 or later)",
		    strerror(errno));
	}
}

/* [vdso] and the vvar pages beside it, which restart moves to the addresses
 * the program had (the kernel's own, of this kernel's size) */
void probe_vdso(struct check *c)
{
	char line[512], found[192] = "";
	FILE *f = fopen("/proc/self/maps", "re");
	int vdso = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char name[64] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %63s", &s, &e, name) < 2 ||
		    name[0] != '[' || (strncmp(name, "[vdso", 5) && strncmp(name, "[vvar", 5)))
			continue;
		vdso |= !strcmp(name, "[vdso]");
		size_t n = strlen(found);
		snprintf(found + n, sizeof(found) - n, "%s%s %lu KiB", n ? ", " : "", name,
			 (e - s) / 1024);
	}
	if (f)
		fclose(f);
	if (vdso)
		say(c, 1, "%s", found);
	else
		say(c, 0, "no [vdso] in /proc/self/maps");
}

void probe_devpts(struct check *c)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1;
	const char *name = m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 ? ptsname(m) : NULL;
	if (name)
		s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	int e = errno;
	if (s >= 0)
		say(c, 1, "a pseudo-terminal opens (%s)", name);
	else
		say(c, 0, "cannot open a pseudo-terminal from /dev/ptmx: %s", strerror(e));
	if (s >= 0)
		close(s);
	if (m >= 0)
		close(m);
}

void probe_ptrace(struct check *c)
{
	long scope;
	if (read_int("/proc/sys/kernel/yama/ptrace_scope", &scope) < 0)
		say(c, 1, "no Yama restrictions (kernel.yama.ptrace_scope absent)");
	else if (scope == 0 || (scope < 3 && geteuid() == 0))
		say(c, 1, "kernel.yama.ptrace_scope = %ld: gdb -p attaches", scope);
	else
		say(c, 0, "kernel.yama.ptrace_scope = %ld: gdb -p cannot attach", scope);
}

void probe_collapse(struct check *c)
{
	size_t huge = 2u << 20;
	char *p = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say(c, 0, "cannot map 4 MiB: %s", strerror(errno));
		return;
	}
	char *a = (char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	memset(a, 1, huge);
	int rc = madvise(a, huge, MADV_COLLAPSE), e = errno;
	munmap(p, 2 * huge);
	if (rc == 0)
		say(c, 1, "madvise(MADV_COLLAPSE) made a huge page");
	else
		say(c, 0, "madvise(MADV_COLLAPSE): %s (Linux 6.1 or later, transparent huge pages)",
		    strerror(e));
}
