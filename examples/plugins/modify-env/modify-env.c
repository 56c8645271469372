/* modify-env: a Stasis plugin that changes the environment of the restarted
 * processes (after DMTCP's modify-env plugin; docs/plugins.md).
 *
 * At every restart, each process reads the file named by
 * $STASIS_MODIFY_ENV_FILE as the process had it (set it at launch; without
 * it: modify-env.txt in the process's checkpoint directory). Each line is
 *   NAME=value   set NAME (the value is taken as it is, to the line's end)
 *   NAME         unset NAME
 * where NAME is as a shell has it: letters, digits and '_', not first a digit.
 * Empty lines and lines starting with '#' are skipped. A missing file
 * changes nothing. The whole file is checked before anything is applied: a
 * malformed line fails the restart, naming the file and the line.
 *
 *   stasis launch --plugin PREFIX/lib/stasis/plugins/modify-env.so PROGRAM
 *   echo 'DISPLAY=:7' > modify-env.txt; stasis restart --dir DIR
 *
 * It runs in the RESTART event, while the program's threads are held: it
 * reads the file with open/read into a static buffer and calls setenv and
 * unsetenv (which allocate). */
#include <stasis/plugin.h>
#include <stasis/stasis.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_MAX (256 * 1024)

static char text[FILE_MAX + 1];

static int file_path(char *buf, size_t size)
{
	const char *env = getenv("STASIS_MODIFY_ENV_FILE");
	const char *dir = stasis_checkpoint_dir();
	if (env && *env)
		return snprintf(buf, size, "%s", env) < (int)size ? 0 : -1;
	return dir && snprintf(buf, size, "%s/modify-env.txt", dir) < (int)size ? 0 : -1;
}

/* The file into text: its length, 0 if there is none, or -1 with err set. */
static long read_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long len = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)), -1;
	for (ssize_t n; len < FILE_MAX && (n = read(fd, text + len, FILE_MAX - len)) != 0;) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		len += n;
	}
	char more;
	int too_long = len == FILE_MAX && read(fd, &more, 1) == 1;
	close(fd);
	if (too_long)
		return snprintf(err, errlen, "%s is larger than %d bytes", path, FILE_MAX), -1;
	text[len] = 0;
	return len;
}

/* Is name[0..n) a variable name as a shell takes it ([A-Za-z_][A-Za-z0-9_]*)? */
static int valid_name(const char *name, size_t n)
{
	if (!n || (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return 0;
	return 1;
}

/* Check every line (apply 0), then apply them (apply 1). */
static int each_line(const char *path, long len, int apply, char *err, size_t errlen)
{
	char *p = text, *end = text + len;
	for (int line = 1; p < end; line++) {
		char *nl = memchr(p, '\n', end - p);
		char *stop = nl ? nl : end;
		char *eq = memchr(p, '=', stop - p);
		size_t namelen = (eq ? eq : stop) - p;
		if (stop == p || *p == '#') {
			p = stop + 1;
			continue;
		}
		if (!valid_name(p, namelen) || memchr(p, '\0', stop - p))
			return snprintf(err, errlen, "%s:%d: expected NAME=value or NAME", path,
					line),
			       -1;
		if (apply) {
			*stop = 0;
			if (eq)
				*eq = 0;
			if ((eq ? setenv(p, eq + 1, 1) : unsetenv(p)) < 0)
				return snprintf(err, errlen, "%s:%d: cannot set %s: %s", path, line,
						p, strerror(errno)),
				       -1;
		}
		p = stop + 1;
	}
	return 0;
}

static int event(const struct stasis_event *ev, char *err, size_t errlen)
{
	char path[4096];
	if (ev->event != STASIS_EVENT_RESTART)
		return 0;
	if (file_path(path, sizeof(path)) < 0)
		return snprintf(err, errlen, "no file to read: set STASIS_MODIFY_ENV_FILE"), -1;
	long len = read_file(path, err, errlen);
	if (len <= 0)
		return (int)len;
	if (each_line(path, len, 0, err, errlen) < 0)
		return -1;
	return each_line(path, len, 1, err, errlen);
}

const struct stasis_plugin stasis_plugin = {
    .abi = STASIS_PLUGIN_ABI,
    .name = "modify-env",
    .event = event,
};
