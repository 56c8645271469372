/* Processes that run outside the computation although a process of it
 * started them: a program the runtime cannot be preloaded into (statically
 * linked, 32-bit, set-user-ID) that a process execs, what `stasis
 * nocheckpoint` runs, and the stasis command itself (its executable exports
 * stasis_cli_marker: the runtime stays off in it, and it starts again without
 * the runtime, cli/main.c). One rule each way: the exec wrapper says so when
 * a process execs one (a warning for the first three) and does not make the
 * coordinator wait for it to join again (rt_exec_leaves); a checkpoint leaves
 * out a child that does not map the runtime (rt_child_outside), instead of
 * failing because a child never joined. */
#include "runtime/outside.h"
#include "common/log.h"
#include "common/progkind.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char lib_path[PATH_MAX];	  /* the runtime as /proc/PID/maps names it */
static char relay_path[PATH_MAX]; /* stasis-ssh next to it, or empty */
static int self_is_relay;
static struct stat cli_st; /* the stasis command next to it (bin/../lib) */
static int have_cli;

int rt_in_stasis_cli(void)
{
	return dlsym(RTLD_DEFAULT, "stasis_cli_marker") != NULL;
}

void rt_outside_init(void)
{
	Dl_info info;
	char cli[PATH_MAX + 32];
	if (!dladdr((void *)rt_outside_init, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, lib_path))
		return;
	snprintf(cli, sizeof(cli), "%s", lib_path);
	char *slash = strrchr(cli, '/');
	if (!slash)
		return;
	snprintf(slash, cli + sizeof(cli) - slash, "/../bin/stasis");
	have_cli = stat(cli, &cli_st) == 0;
	snprintf(relay_path, sizeof(relay_path), "%.*s/stasis-ssh", (int)(slash - cli), cli);
	if (access(relay_path, X_OK) < 0)
		relay_path[0] = 0;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	self_is_relay = relay_path[0] && !strcmp(self, relay_path);
}

const char *rt_ssh_relay(void)
{
	return relay_path[0] && !self_is_relay ? relay_path : NULL;
}

static int is_cli(const struct stat *st)
{
	return have_cli && st->st_dev == cli_st.st_dev && st->st_ino == cli_st.st_ino;
}

int rt_exec_leaves(const char *file, int search)
{
	char path[PATH_MAX];
	struct stat st;
	if (!search)
		snprintf(path, sizeof(path), "%s", file);
	else if (prog_find(file, secure_getenv("PATH"), path, sizeof(path)) < 0)
		return 0;
	if (stat(path, &st) < 0)
		return 0; /* exec says why */
	if (is_cli(&st))
		return 1; /* stasis nocheckpoint, or any stasis command */
	enum prog_kind k = prog_kind(path);
	const char *what = k != PROG_DYNAMIC ? prog_kind_text(k) : NULL;
	if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
	    ((st.st_mode & S_ISGID) && st.st_gid != getegid()))
		what = "set-user-ID or set-group-ID (the dynamic loader ignores LD_PRELOAD)";
	if (!what)
		return 0;
	log_msg("warning",
		"pid %d execs %s, which is %s: the runtime cannot be loaded into it, so it "
		"runs outside the computation and is not checkpointed (nor restarted)",
		getpid(), path, what);
	return 1;
}

/* Whether the maps file names the runtime, read in pieces (no malloc here);
 * -1 if it is empty (a zombie). */
static int maps_runtime(int fd)
{
	char buf[8192 + PATH_MAX];
	size_t keep = 0, len = strlen(lib_path);
	for (int first = 1;; first = 0) {
		ssize_t n = read(fd, buf + keep, sizeof(buf) - 1 - keep);
		if (n <= 0)
			return first ? -1 : 0;
		buf[keep + n] = 0;
		if (strstr(buf, lib_path))
			return 1;
		size_t have = keep + n;
		keep = have < len ? have : len;
		memmove(buf, buf + have - keep, keep);
	}
}

int rt_child_outside(uint32_t pid)
{
	char p[64];
	if (!lib_path[0])
		return 0;
	snprintf(p, sizeof(p), "/proc/%u/maps", pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone: a zombie now, or reaped */
	int in = maps_runtime(fd);
	close(fd);
	return in == 0;
}
