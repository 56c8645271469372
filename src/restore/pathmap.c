/* The restart's path map (pathmap.h). Mapped paths are made once and kept
 * for the restorer's life: callers keep the pointers rst_str gives. */
#include "restore/pathmap.h"
#include "restore/blob/restart_info.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MAPS 64

static struct {
	char *from, *to;
	size_t from_len;
} maps[MAX_MAPS];
static int nmaps;
static char text[RT_RESTART_PATH];

struct mapped {
	const char *orig;
	char *path;
	struct mapped *next;
};
static struct mapped *done;

/* Without the trailing slashes ("/" stays "/"). */
static char *trimmed(const char *s, size_t n)
{
	while (n > 1 && s[n - 1] == '/')
		n--;
	return strndup(s, n);
}

int rst_pathmap_add(const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (!eq || arg[0] != '/' || eq[1] != '/')
		return errf(err, errlen,
			    "invalid --path-map '%s': expected OLD=NEW, both absolute paths", arg);
	if (nmaps == MAX_MAPS)
		return errf(err, errlen, "more than %d --path-map options", MAX_MAPS);
	size_t len = strlen(text);
	if (len + strlen(arg) + 2 > sizeof(text))
		return errf(err, errlen, "the --path-map options are longer than %d bytes in all",
			    RT_RESTART_PATH - 1);
	char *from = trimmed(arg, eq - arg), *to = trimmed(eq + 1, strlen(eq + 1));
	if (!from || !to)
		return errf(err, errlen, "out of memory");
	maps[nmaps].from = from;
	maps[nmaps].to = to;
	maps[nmaps].from_len = strlen(from);
	snprintf(text + len, sizeof(text) - len, "%s%s=%s", nmaps ? "\n" : "", from, to);
	nmaps++;
	return 0;
}

/* The first map whose OLD is path or a directory above it. */
static int match(const char *path)
{
	for (int i = 0; i < nmaps; i++) {
		size_t n = maps[i].from_len;
		if (!strncmp(path, maps[i].from, n) &&
		    (path[n] == 0 || path[n] == '/' || (n == 1 && path[0] == '/')))
			return i;
	}
	return -1;
}

const char *rst_pathmap_apply(const char *path)
{
	int i = nmaps && path[0] == '/' ? match(path) : -1;
	if (i < 0)
		return path;
	for (struct mapped *m = done; m; m = m->next)
		if (m->orig == path)
			return m->path;
	const char *rest = path + (maps[i].from_len == 1 ? 0 : maps[i].from_len);
	struct mapped *m = malloc(sizeof(*m));
	if (!m || asprintf(&m->path, "%s%s", maps[i].to, rest) < 0) {
		free(m);
		return path; /* out of memory: the open that follows names the old path */
	}
	if (!strncmp(m->path, "//", 2)) /* NEW "/" */
		memmove(m->path, m->path + 1, strlen(m->path));
	m->orig = path;
	m->next = done;
	done = m;
	debug("path %s is %s now", path, m->path);
	return m->path;
}

const char *rst_pathmap_text(void)
{
	return text;
}
