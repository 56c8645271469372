/* Members: their records checked and described (members.h). */
#include "image/kinds/members.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <string.h>

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_member *m = rec;
	(void)len;
	(void)v;
	if (!m->pid || m->pid > 4194304 || (m->flags & ~IMG_MEMBER_SELF))
		return errf(why, whylen, "member %u (pid %u, flags %#x) is invalid", i, m->pid,
			    m->flags);
	return 0;
}

static const char *const flags[] = {"self"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_member *m = rec;
	(void)v, (void)i, (void)len;
	out_u64(o, "pid", m->pid);
	out_flags(o, "flags", m->flags, OUT_NAMES(flags));
	out_strn(o, "host", m->host, strnlen(m->host, sizeof(m->host)));
	out_strn(o, "name", m->name, strnlen(m->name, sizeof(m->name)));
}

const struct img_kind img_kind_member = {
    .name = "member",
    .about = "a process of the checkpoint, on its host",
    .section = IMG_SEC_MEMBERS,
    .size = sizeof(struct img_member),
    .validate = validate,
    .describe = describe,
};
