/* pathvirt: a Stasis plugin for a computation whose files moved (after
 * DMTCP's pathvirt plugin; docs/plugins.md).
 *
 *   stasis launch --plugin PREFIX/lib/stasis/plugins/pathvirt.so PROGRAM
 *   ... checkpoint; mv /data/run1 /scratch/run1 (or copy it to another host)
 *   stasis restart --path-map /data/run1=/scratch/run1 --dir DIR
 *
 * `restart --path-map` alone reopens, under the new prefix, the files open
 * at the checkpoint, the mapped files and the working directory. This plugin
 * makes the program's later calls find the files by their old names too: it
 * takes the map in its RESTART event (stasis_plugin_path_map) and gives the
 * runtime a path callback, which the runtime's wrappers of open, openat,
 * fopen, stat, lstat, fstatat, access, opendir, mkdir and unlink (and their
 * 64 variants) call. The map is saved in every image (stasis_plugin_save)
 * and composed with the next restart's: after /a=/b, then /b=/c, a path
 * under /a goes to /c. The longest OLD that is the path or a directory above
 * it wins. Relative paths are left as they are (the working directory is
 * already the new one). */
#include <stasis/plugin.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_MAPS 64
#define PATH_LEN 1024

struct map {
	char from[PATH_LEN], to[PATH_LEN];
	size_t from_len;
};

static struct map maps[MAX_MAPS];
static int nmaps;
static char saved[MAX_MAPS * 2 * PATH_LEN]; /* the map as text, for the image */

/* The entry whose from is the longest prefix of path (at a '/'), or -1. */
static int longest(const struct map *m, int n, const char *path)
{
	int best = -1;
	for (int i = 0; i < n; i++) {
		size_t k = m[i].from_len;
		if (strncmp(path, m[i].from, k) || (path[k] && path[k] != '/'))
			continue;
		if (best < 0 || k > m[best].from_len)
			best = i;
	}
	return best;
}

/* to + the rest of path after m's from into buf: 0, or -1 if it is too long */
static int mapped(const struct map *m, const char *path, char *buf, size_t size)
{
	return snprintf(buf, size, "%s%s", m->to, path + m->from_len) < (int)size ? 0 : -1;
}

static const char *translate(const char *path, char *buf, size_t size)
{
	if (path[0] != '/')
		return NULL;
	int i = longest(maps, nmaps, path);
	return i >= 0 && mapped(&maps[i], path, buf, size) == 0 ? buf : NULL;
}

/* "OLD=NEW" lines into m: how many, or -1 */
static int parse(const char *text, size_t len, struct map *m, char *err, size_t errlen)
{
	int n = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', end - p), *stop = nl ? nl : end;
		const char *eq = memchr(p, '=', stop - p);
		if (stop > p) {
			if (!eq || n == MAX_MAPS || eq - p >= PATH_LEN || stop - eq - 1 >= PATH_LEN)
				return snprintf(err, errlen, "bad path map line '%.*s'",
						(int)(stop - p), p),
				       -1;
			snprintf(m[n].from, PATH_LEN, "%.*s", (int)(eq - p), p);
			snprintf(m[n].to, PATH_LEN, "%.*s", (int)(stop - eq - 1), eq + 1);
			m[n].from_len = strlen(m[n].from);
			n++;
		}
		p = stop + 1;
	}
	return n;
}

/* maps = the saved map with its targets moved by the new one, then the new
 * one itself: both old names and the last ones lead to the new place. */
static int compose(const char *now, char *err, size_t errlen)
{
	static struct map fresh[MAX_MAPS];
	int nf = parse(now, strlen(now), fresh, err, errlen);
	if (nf < 0)
		return -1;
	for (int i = 0; i < nmaps; i++) {
		int j = longest(fresh, nf, maps[i].to);
		char to[PATH_LEN];
		if (j >= 0 && mapped(&fresh[j], maps[i].to, to, sizeof(to)) == 0)
			memcpy(maps[i].to, to, sizeof(to));
	}
	for (int j = 0; j < nf; j++) {
		int i = longest(maps, nmaps, fresh[j].from);
		if (i >= 0 && maps[i].from_len == fresh[j].from_len) {
			maps[i] = fresh[j]; /* the same OLD: the new place wins */
			continue;
		}
		if (nmaps == MAX_MAPS)
			return snprintf(err, errlen, "more than %d paths mapped", MAX_MAPS), -1;
		maps[nmaps++] = fresh[j];
	}
	return 0;
}

extern const struct stasis_plugin stasis_plugin;

static int on_restart(char *err, size_t errlen)
{
	size_t len;
	const char *old = stasis_plugin_load(&stasis_plugin, &len);
	nmaps = 0;
	if (old && (nmaps = parse(old, len, maps, err, errlen)) < 0)
		return -1;
	return compose(stasis_plugin_path_map(), err, errlen);
}

static int on_checkpoint(char *err, size_t errlen)
{
	size_t len = 0;
	for (int i = 0; i < nmaps; i++)
		len +=
		    snprintf(saved + len, sizeof(saved) - len, "%s=%s\n", maps[i].from, maps[i].to);
	if (stasis_plugin_save(&stasis_plugin, saved, len) < 0)
		return snprintf(err, errlen, "cannot save the path map: %s", strerror(errno)), -1;
	return 0;
}

static int event(const struct stasis_event *ev, char *err, size_t errlen)
{
	if (ev->event == STASIS_EVENT_RESTART)
		return on_restart(err, errlen);
	if (ev->event == STASIS_EVENT_CHECKPOINT)
		return on_checkpoint(err, errlen);
	return 0;
}

const struct stasis_plugin stasis_plugin = {
    .abi = STASIS_PLUGIN_ABI,
    .name = "pathvirt",
    .event = event,
    .path = translate,
};
