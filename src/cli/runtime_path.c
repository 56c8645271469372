/* Where the runtime (libstasis.so) is, relative to this executable, so that
 * an installed stasis finds its own runtime wherever it was installed:
 *   $STASIS_LIB                          the override (a path to the library)
 *   PREFIX/lib/stasis/libstasis.so       installed: PREFIX/bin/stasis
 *   PREFIX/lib/libstasis.so              the build tree: build/bin/stasis */
#include "cli/cli.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const candidates[] = {"lib/stasis/libstasis.so", "lib/libstasis.so"};
#define NCANDIDATES (sizeof(candidates) / sizeof(candidates[0]))

int cli_runtime_path(char *out, size_t size)
{
	const char *over = getenv("STASIS_LIB");
	if (over && *over) {
		snprintf(out, size, "%s", over);
		if (access(out, R_OK) < 0)
			return error("runtime library %s (from $STASIS_LIB): %s; unset STASIS_LIB "
				     "to use the one installed with stasis",
				     out, strerror(errno));
		return 0;
	}
	const char *prefix = cli_self_dir();
	for (size_t i = 0; i < NCANDIDATES; i++) {
		snprintf(out, size, "%s/%s", prefix, candidates[i]);
		if (access(out, R_OK) == 0)
			return 0;
	}
	return error("runtime library libstasis.so not found: neither %s/%s nor %s/%s is "
		     "readable; reinstall stasis (make install), build it (make), or name the "
		     "library with STASIS_LIB=/path/to/libstasis.so",
		     prefix, candidates[0], prefix, candidates[1]);
}
