/* Growable text buffers, the quoting the coordinator needs (shell, JSON), and
 * error messages into a caller's buffer. */
#include "coordinator/coord_int.h"
#include "common/fault.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sbuf_reserve(struct sbuf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	char *p = fault_hit(FAULT_COORD_ALLOC) ? NULL : realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int sbuf_add(struct sbuf *b, const void *data, size_t n)
{
	if (!n)
		return 0;
	if (sbuf_reserve(b, n) < 0)
		return -1;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

int sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sbuf_reserve(b, n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

/* 'text', with each ' written as '\'' */
int sbuf_add_shell_quoted(struct sbuf *b, const char *s)
{
	int rc = sbuf_add(b, "'", 1);
	for (; *s && rc == 0; s++)
		rc = *s == '\'' ? sbuf_add(b, "'\\''", 4) : sbuf_add(b, s, 1);
	return rc ? rc : sbuf_add(b, "'", 1);
}

int sbuf_add_json_string(struct sbuf *b, const char *s)
{
	int rc = sbuf_add(b, "\"", 1);
	for (; *s && rc == 0; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			rc = sbuf_printf(b, "\\%c", ch);
		else if (ch < 0x20)
			rc = sbuf_printf(b, "\\u%04x", ch);
		else
			rc = sbuf_add(b, s, 1);
	}
	return rc ? rc : sbuf_add(b, "\"", 1);
}

void sbuf_consume(struct sbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->p, b->p + n, b->len - n);
		b->len -= n;
	}
	if (b->p)
		b->p[b->len] = 0;
}

void sbuf_reset(struct sbuf *b)
{
	sbuf_consume(b, b->len);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sbuf_sort_lines(struct sbuf *b)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < b->len; i++)
		n += b->p[i] == '\n';
	if (n < 2)
		return 0;
	char *copy = malloc(b->len + 1), **lines = malloc(n * sizeof(char *));
	if (!copy || !lines)
		return free(copy), free(lines), -1;
	memcpy(copy, b->p, b->len);
	copy[b->len] = 0;
	for (char *s = copy, *nl; k < n && (nl = strchr(s, '\n')); s = nl + 1) {
		*nl = 0;
		lines[k++] = s;
	}
	qsort(lines, k, sizeof(char *), cmp_str);
	b->len = 0;
	for (size_t i = 0; i < k; i++) {
		size_t l = strlen(lines[i]);
		memcpy(b->p + b->len, lines[i], l);
		b->p[b->len + l] = '\n';
		b->len += l + 1;
	}
	free(copy);
	free(lines);
	return 0;
}
