/* Origin: its record checked and described (origin.h). */
#include "image/kinds/origin.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <string.h>

/* The argc strings from argv_str lie in the table: 0, or -1. */
static int argv_in_table(const struct img_view *v, const struct img_origin *g)
{
	uint64_t off = g->argv_str;
	for (uint32_t k = 0; k < g->argc; k++) {
		if (off >= v->strings_len)
			return -1;
		off += strnlen(v->strings + off, v->strings_len - off) + 1;
	}
	return off <= v->strings_len ? 0 : -1;
}

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_origin *g = rec;
	(void)len;
	if (i > 0)
		return errf(why, whylen, "origin record %u: an image has one", i);
	if (g->host_str >= v->strings_len || g->release_str >= v->strings_len ||
	    g->version_str >= v->strings_len || g->argc > IMG_ORIGIN_MAX_ARGV / 2 ||
	    argv_in_table(v, g) < 0)
		return errf(why, whylen, "the origin record points outside the string table");
	return 0;
}

/* The command line's words (the argv of struct img_origin). */
void img_origin_argv(const struct img_view *v, const struct img_origin *g, struct img_out *o)
{
	uint32_t off = g->argv_str;
	out_begin_list(o, "argv");
	for (uint32_t k = 0; k < g->argc; k++) {
		const char *s = img_view_str(v, off);
		out_str(o, NULL, s);
		off += (uint32_t)strlen(s) + 1;
	}
	out_end(o, 1);
}

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_origin *g = rec;
	(void)i, (void)len;
	out_str(o, "host", img_view_str(v, g->host_str));
	out_str(o, "kernel", img_view_str(v, g->release_str));
	out_str(o, "kernel_version", img_view_str(v, g->version_str));
	img_origin_argv(v, g, o);
	out_bool(o, "argv_cut", g->flags & IMG_ORIGIN_ARGV_CUT);
}

const struct img_kind img_kind_origin = {
    .name = "origin",
    .about = "the host, kernel and command line of the process",
    .section = IMG_SEC_ORIGIN,
    .size = sizeof(struct img_origin),
    .validate = validate,
    .describe = describe,
};
