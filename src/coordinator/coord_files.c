/* The files a coordinator writes for its user: --port-file (the port it
 * listens on, for batch scripts that start it on port 0), --log-file, and
 * the checkpoint directory. */
#include "common/io.h"
#include "common/log.h"
#include "coordinator/coord_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* path made absolute against the current directory (a daemon moves to /) */
static int absolute(const char *path, char *out, size_t size, char *err, size_t errlen)
{
	char cwd[PATH_MAX];
	if (path[0] == '/')
		return snprintf(out, size, "%s", path) < (int)size
			   ? 0
			   : errf(err, errlen, "path %s is too long", path);
	if (!getcwd(cwd, sizeof(cwd)))
		return errf(err, errlen, "cannot read the current directory for %s: %s", path,
			    strerror(errno));
	if (snprintf(out, size, "%s/%s", cwd, path) >= (int)size)
		return errf(err, errlen, "path %s/%s is too long", cwd, path);
	return 0;
}

/* --log-file: its directory must exist and the file be writable now, not
 * only once the coordinator is a daemon with nowhere to say so. */
static int check_log(struct coord *c, const char *path, char *err, size_t errlen)
{
	if (absolute(path, c->log_path, sizeof(c->log_path), err, errlen) < 0)
		return -1;
	int fd = open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errf(err, errlen,
			    "cannot open log file %s: %s (give a writable path to --log-file)",
			    c->log_path, strerror(errno));
	close(fd);
	return 0;
}

/* --port-file: written once the coordinator listens, atomically, so that a
 * script that sees the file reads a whole port of a coordinator that answers. */
static int write_port(struct coord *c, const char *path, char *err, size_t errlen)
{
	char line[16];
	if (absolute(path, c->port_file, sizeof(c->port_file), err, errlen) < 0)
		return -1;
	int n = snprintf(line, sizeof(line), "%u\n", c->port);
	if (write_file_atomic(c->port_file, line, (size_t)n) < 0) {
		errf(err, errlen,
		     "cannot write port file %s: %s (give a writable path to --port-file)",
		     c->port_file, strerror(errno));
		c->port_file[0] = 0;
		return -1;
	}
	return 0;
}

int files_setup(struct coord *c, char *err, size_t errlen)
{
	if (c->opts.log_file && check_log(c, c->opts.log_file, err, errlen) < 0)
		return -1;
	return c->opts.port_file ? write_port(c, c->opts.port_file, err, errlen) : 0;
}

/* At exit: a port file left behind would name a port nothing listens on. */
void files_forget(struct coord *c)
{
	if (c->port_file[0] && unlink(c->port_file) < 0 && errno != ENOENT)
		warn("cannot remove port file %s: %s", c->port_file, strerror(errno));
	c->port_file[0] = 0;
}

int files_resolve_dir(const char *dir, int create, char *out, char *err, size_t errlen)
{
	struct stat st;
	if (create && mkdir(dir, 0777) < 0 && errno != EEXIST)
		return errf(err, errlen, "cannot create checkpoint directory %s: %s", dir,
			    strerror(errno));
	if (!realpath(dir, out) || stat(out, &st) < 0)
		return errf(err, errlen, "cannot resolve checkpoint directory %s: %s", dir,
			    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errf(err, errlen, "checkpoint directory %s is not a directory", out);
	if (access(out, W_OK | X_OK) < 0)
		return errf(err, errlen, "checkpoint directory %s is not writable: %s", out,
			    strerror(errno));
	return 0;
}
