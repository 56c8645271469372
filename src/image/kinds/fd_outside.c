/* Descriptors that stand for the outside: checked and described
 * (fd_outside.h). */
#include "image/kinds/fd_outside.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	(void)rec, (void)len;
	if (v->fds[i].std < 0 || v->fds[i].std > 2)
		return errf(why, whylen, "std %d", v->fds[i].std);
	return 0;
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	(void)rec, (void)len;
	out_i64(o, "std", v->fds[i].std);
}

const struct img_kind img_kind_stdio = {
    .name = "stdio",
    .about = "a terminal or pipe to outside: restart's own fd `std`",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_STDIO,
    .validate = validate,
    .describe = describe,
};
const struct img_kind img_kind_runtime = {
    .name = "runtime",
    .about = "the runtime's coordinator socket: provided by the restorer",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_RUNTIME,
};
const struct img_kind img_kind_external = {
    .name = "external",
    .about = "a pipe or socket inherited from outside: /dev/null at restart",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_EXTERNAL,
};
