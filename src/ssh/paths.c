/* Where stasis-ssh and stasis are (see ssh.h). */
#include "ssh/ssh.h"
#include "common/log.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int ssh_self_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* bin/stasis next to lib/stasis-ssh (the build tree) or lib/stasis/stasis-ssh
 * (installed). */
int ssh_stasis_path(char *buf, size_t size, char *err, size_t errlen)
{
	static const char *const rel[] = {"/../bin/stasis", "/../../bin/stasis"};
	char self[PATH_MAX];
	if (ssh_self_path(self, sizeof(self)) < 0)
		return errf(err, errlen, "cannot read /proc/self/exe");
	*strrchr(self, '/') = 0;
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, size, "%s%s", self, rel[i]);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return errf(err, errlen, "stasis not found next to %s (%s%s, %s%s)", self, self, rel[0],
		    self, rel[1]);
}
