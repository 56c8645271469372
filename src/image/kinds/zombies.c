/* Zombies: their records checked and described (zombies.h). */
#include "image/kinds/zombies.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <signal.h>

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_zombie *z = rec;
	int exited = z->code == CLD_EXITED && z->status >= 0 && z->status <= 255;
	int killed =
	    (z->code == CLD_KILLED || z->code == CLD_DUMPED) && z->status > 0 && z->status <= 64;
	(void)len;
	if (z->pid < 2 || z->pid > 4194304 || z->pid == v->pid || z->exit_signal < 0 ||
	    z->exit_signal > 64 || !(exited || killed))
		return errf(why, whylen, "zombie entry %u (pid %u, code %d, status %d) is invalid",
			    i, z->pid, z->code, z->status);
	return 0;
}

static const char *const codes[] = {
    [CLD_EXITED] = "exited", [CLD_KILLED] = "killed", [CLD_DUMPED] = "dumped"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_zombie *z = rec;
	(void)v, (void)i, (void)len;
	out_u64(o, "pid", z->pid);
	out_u64(o, "pgid", z->pgid);
	out_u64(o, "sid", z->sid);
	out_i64(o, "exit_signal", z->exit_signal);
	out_enum(o, "code", z->code, OUT_NAMES(codes));
	out_i64(o, "status", z->status);
}

const struct img_kind img_kind_zombie = {
    .name = "zombie",
    .about = "an exited child not yet reaped",
    .section = IMG_SEC_ZOMBIES,
    .size = sizeof(struct img_zombie),
    .validate = validate,
    .describe = describe,
};
