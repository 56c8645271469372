/* The images of a checkpoint directory (cli.h: cli_newest_in_dir), for
 * restart --dir and inspect --dir. */
#include "cli/cli.h"
#include "common/log.h"
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

struct found {
	uint64_t comp_id, created;
	uint32_t gen, nprocs;
	char path[PATH_MAX];
};

/* Every valid image header in dir (invalid ones are named and skipped). */
static int scan_dir(const char *dir, struct found **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0, cap = 0;
	*out = NULL;
	if (!d)
		return error("cannot open checkpoint directory %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char path[PATH_MAX], err[512];
		struct img_reader r;
		if (!ends_with(e->d_name, ".stasis"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (img_open(&r, path, err, sizeof(err)) < 0) {
			warn("skipping %s", err);
			continue;
		}
		if (n == cap && !(*out = realloc(*out, sizeof(**out) * (cap = cap * 2 + 8))))
			die("out of memory");
		(*out)[n] =
		    (struct found){r.hdr.comp_id, r.hdr.created_ns, r.hdr.gen, r.hdr.nprocs};
		snprintf((*out)[n++].path, PATH_MAX, "%s", path);
		img_close(&r);
	}
	closedir(d);
	return n;
}

/* The newest complete checkpoint in dir: the newest image whose generation has
 * all its processes' images there; with part, the newest image's generation
 * (the other processes' images are on other hosts). Returns how many (their
 * paths in *out). */
int cli_newest_in_dir(const char *dir, char ***out, int part)
{
	struct found *f;
	int n = scan_dir(dir, &f), best = -1, k = 0;
	for (int i = 0; i < n; i++) {
		uint32_t have = 0;
		for (int j = 0; j < n; j++)
			have += f[j].comp_id == f[i].comp_id && f[j].gen == f[i].gen;
		if ((part || have >= f[i].nprocs) && (best < 0 || f[i].created > f[best].created))
			best = i;
	}
	if (best < 0) {
		free(f);
		return n < 0 ? -1
			     : error("no complete checkpoint in %s (no valid *.stasis image, or a "
				     "generation with images missing)",
				     dir);
	}
	debug("restarting generation %u of computation %016llx from %s (%u images)", f[best].gen,
	      (unsigned long long)f[best].comp_id, dir, f[best].nprocs);
	*out = calloc(f[best].nprocs + 1, sizeof(char *));
	for (int j = 0; j < n && *out && k < (int)f[best].nprocs; j++)
		if (f[j].comp_id == f[best].comp_id && f[j].gen == f[best].gen)
			(*out)[k++] = strdup(f[j].path);
	free(f);
	return *out ? k : error("out of memory");
}
