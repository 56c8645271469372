/* The descriptor kinds beyond files and pipes, each defined in its own module;
 * this table is the one place that lists them. */
#include "runtime/rt.h"

#include <stddef.h>

static const struct rt_fd_kind *const kinds[] = {
    &rt_fd_kind_tty,
    NULL,
};

int rt_fd_kinds_dump(struct rt_fd_ctx *c)
{
	for (size_t k = 0; kinds[k]; k++) {
		if (!kinds[k]->match(c->fd, c->link, c->st))
			continue;
		return kinds[k]->dump(c) < 0 ? -1 : 1;
	}
	return 0;
}
