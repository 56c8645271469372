/* Fields of a record as text or JSON (kind.h, struct img_out). */
#include "image/kinds/kind.h"

#define TEXT_BYTES 64 /* of a byte string shown as text */

void out_init(struct img_out *o, FILE *f, int json)
{
	*o = (struct img_out){.f = f, .json = json};
}

/* The separator and key before a field or element. */
static void field(struct img_out *o, const char *key)
{
	int first = o->count[o->depth]++ == 0;
	if (!first)
		fputs(o->json ? "," : " ", o->f);
	if (!key)
		return;
	if (o->json)
		fprintf(o->f, "\"%s\":", key);
	else
		fprintf(o->f, "%s=", key);
}

static void begin(struct img_out *o, const char *key, const char *open)
{
	field(o, key);
	fputs(open, o->f);
	if (o->depth + 1 < (int)(sizeof(o->count) / sizeof(o->count[0])))
		o->depth++;
	o->count[o->depth] = 0;
}

void out_begin_object(struct img_out *o, const char *key)
{
	begin(o, key, "{");
}

void out_begin_list(struct img_out *o, const char *key)
{
	begin(o, key, "[");
}

void out_end(struct img_out *o, int list)
{
	if (o->depth > 0)
		o->depth--;
	fputs(list ? "]" : "}", o->f);
}

void out_u64(struct img_out *o, const char *key, uint64_t v)
{
	field(o, key);
	fprintf(o->f, "%llu", (unsigned long long)v);
}

void out_i64(struct img_out *o, const char *key, int64_t v)
{
	field(o, key);
	fprintf(o->f, "%lld", (long long)v);
}

void out_hex(struct img_out *o, const char *key, uint64_t v)
{
	field(o, key);
	fprintf(o->f, o->json ? "%llu" : "%#llx", (unsigned long long)v);
}

void out_null(struct img_out *o, const char *key)
{
	field(o, key);
	fputs(o->json ? "null" : "none", o->f);
}

void out_bool(struct img_out *o, const char *key, int v)
{
	field(o, key);
	fputs(v ? "true" : "false", o->f);
}

/* One byte inside a quoted string: JSON escapes, or C's for text. */
static void quoted_byte(struct img_out *o, unsigned char c)
{
	if (c == '"' || c == '\\')
		fprintf(o->f, "\\%c", c);
	else if (c < 0x20 || c >= 0x7f)
		fprintf(o->f, o->json ? "\\u%04x" : "\\x%02x", c);
	else
		fputc(c, o->f);
}

void out_strn(struct img_out *o, const char *key, const char *s, size_t n)
{
	field(o, key);
	fputc('"', o->f);
	for (size_t i = 0; i < n && s[i]; i++)
		quoted_byte(o, (unsigned char)s[i]);
	fputc('"', o->f);
}

void out_str(struct img_out *o, const char *key, const char *s)
{
	out_strn(o, key, s, (size_t)-1);
}

void out_bytes(struct img_out *o, const char *key, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t shown = o->json || n <= TEXT_BYTES ? n : TEXT_BYTES;
	field(o, key);
	fputc('"', o->f);
	for (size_t i = 0; i < shown; i++)
		quoted_byte(o, b[i]);
	fputc('"', o->f);
	if (shown < n)
		fprintf(o->f, "...(%zu bytes)", n);
}

void out_enum(struct img_out *o, const char *key, uint32_t v, const char *const *names, size_t n)
{
	if (v < n && names[v])
		out_str(o, key, names[v]);
	else
		out_u64(o, key, v);
}

void out_flags(struct img_out *o, const char *key, uint64_t v, const char *const *names, size_t n)
{
	out_begin_list(o, key);
	for (size_t k = 0; k < 64; k++)
		if (v & (1ull << k)) {
			if (k < n && names[k])
				out_str(o, NULL, names[k]);
			else
				out_u64(o, NULL, 1ull << k);
		}
	out_end(o, 1);
}
