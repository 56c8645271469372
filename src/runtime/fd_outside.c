/* Descriptors that lead outside the computation (fd_outside.h). A pipe or
 * socket on 0-2 is the outside's only if it came from outside: one that
 * joins two processes of the computation (MPICH's proxy and its ranks) is
 * restored as what it is (fd_pipe.c, fd_unix.c). */
#include "runtime/fd_outside.h"
#include "runtime/exec.h"
#include "runtime/fdkinds.h"
#include "runtime/libc.h"
#include "runtime/dirlist.h"
#include "runtime/state.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUTSIDE_LIST (256 * 42)

/* Note one object of the outside and append "dev:ino" to the list at *p. */
static void add_outside(uint64_t dev, uint64_t ino, char *buf, char **p)
{
	if (rt.ninherited >= 256)
		return;
	rt.inherited[rt.ninherited].dev = dev;
	rt.inherited[rt.ninherited++].ino = ino;
	*p += snprintf(*p, buf + OUTSIDE_LIST - *p, "%s%llx:%llx", *p == buf ? "" : ",",
		       (unsigned long long)dev, (unsigned long long)ino);
}

/* Pipes and sockets the launched program inherited lead outside the
 * computation. The launched process records them and passes the list down in
 * $STASIS_EXTERNAL ("dev:ino,..."), so that its children tell a pipe from their
 * parent (inside) from one of the launching shell's (outside). */
void rt_note_inherited_fds(void)
{
	const char *ext = secure_getenv("STASIS_EXTERNAL");
	char buf[OUTSIDE_LIST] = "", *p = buf;
	if (ext) {
		unsigned long long dev, ino;
		int used;
		while (rt.ninherited < 256 && sscanf(ext, "%llx:%llx%n", &dev, &ino, &used) == 2) {
			rt.inherited[rt.ninherited].dev = dev;
			rt.inherited[rt.ninherited++].ino = ino;
			ext += used + (ext[used] == ',');
		}
		return;
	}
	int fds[256];
	int n = rt_list_numeric("/proc/self/fd", fds, 256, NULL);
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (fstat(fds[i], &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
			add_outside(st.st_dev, st.st_ino, buf, &p);
	}
	/* libc's setenv: bash exports its own, which before main starts bash's variable
	 * table with this one variable and then hides all others from its getenv */
	REAL(setenv)("STASIS_EXTERNAL", buf, 1);
}

/* After a restart the launching shell's pipes are gone: what leads outside now
 * are the pipes and sockets among restart's own stdin, stdout and stderr,
 * which the restorer lists. Programs exec'd from now on get the new list
 * (exec.c), so that an outside pipe stays outside across any number of
 * restarts. Called with the program's threads held: no malloc, no setenv. */
void rt_outside_restarted(const struct rt_restart_info *ri)
{
	static char buf[OUTSIDE_LIST];
	char *p = buf;
	buf[0] = 0;
	rt.ninherited = 0;
	for (uint32_t i = 0; i < ri->nouter && i < 3; i++)
		add_outside(ri->outer[i].dev, ri->outer[i].ino, buf, &p);
	rt_exec_set_external(buf);
}

int rt_fd_inherited(const struct stat *st)
{
	for (int i = 0; i < rt.ninherited; i++)
		if (rt.inherited[i].ino == st->st_ino && rt.inherited[i].dev == st->st_dev)
			return 1;
	return 0;
}

/* A terminal, or on 0-2 a pipe or socket from outside: restart's own fd `std`. */
static int stdio_match(int fd, const char *link, const struct stat *st)
{
	(void)link;
	return (S_ISCHR(st->st_mode) && isatty(fd)) || /* a terminal is a character device */
	       (fd <= 2 && (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) && rt_fd_inherited(st));
}

static int stdio_dump(struct rt_fd_ctx *c)
{
	c->e->type = IMG_FD_STDIO;
	c->e->std = c->fd <= 2 ? c->fd : (c->e->open_flags & O_ACCMODE) == O_RDONLY ? 0 : 1;
	return 0;
}

/* Another pipe or socket from outside: /dev/null at restart. */
static int external_match(int fd, const char *link, const struct stat *st)
{
	(void)fd, (void)link;
	return (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) && rt_fd_inherited(st);
}

static int external_dump(struct rt_fd_ctx *c)
{
	c->e->type = IMG_FD_EXTERNAL;
	return 0;
}

const struct rt_fd_kind rt_fd_stdio = {"stdio", stdio_match, stdio_dump};
const struct rt_fd_kind rt_fd_external = {"external", external_match, external_dump};
