/* Terminals: their payload checked and described (fd_tty.h). */
#include "image/kinds/fd_tty.h"
#include "image/kinds/kind.h"
#include "common/log.h"
#include "common/ttyqueue.h"

#include <string.h>

/* A master's queues, if the record holds them: NULL if it does not. */
static const struct img_tty_queues *queues(const struct img_tty *t, uint32_t len)
{
	return (t->flags & IMG_TTY_QUEUES) && len >= sizeof(*t) + sizeof(struct img_tty_queues)
		   ? (const void *)(t + 1)
		   : NULL;
}

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_tty *t = rec;
	const struct img_tty_queues *q = queues(t, len);
	(void)v, (void)i;
	if ((t->flags & IMG_TTY_QUEUES) && !q)
		return errf(why, whylen, "its queues are truncated");
	if (q && (q->in_len > TTYQ_MAX || q->out_len > TTYQ_MAX ||
		  sizeof(*t) + sizeof(*q) + q->in_len + q->out_len > len))
		return errf(why, whylen, "its queues do not fit the record");
	return 0;
}

static const char *const flags[] = {"ctty", "locked", "pktmode", "queues"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_tty *t = rec;
	const struct img_tty_queues *q = queues(t, len);
	(void)v, (void)i;
	out_u64(o, "index", t->index);
	out_flags(o, "flags", t->flags, OUT_NAMES(flags));
	out_u64(o, "dev", t->dev);
	out_u64(o, "sid", t->sid);
	out_u64(o, "fg_pgrp", t->fg_pgrp);
	out_hex(o, "iflag", t->iflag);
	out_hex(o, "oflag", t->oflag);
	out_hex(o, "cflag", t->cflag);
	out_hex(o, "lflag", t->lflag);
	out_u64(o, "rows", t->rows);
	out_u64(o, "cols", t->cols);
	out_hex(o, "term_modes", t->term_modes);
	if (!q)
		return;
	out_bytes(o, "input", q + 1, q->in_len);
	out_bytes(o, "output", (const uint8_t *)(q + 1) + q->in_len, q->out_len);
}

#define TTY_KIND(n, t, a)                                                                          \
	{                                                                                          \
		.name = n, .about = a, .section = IMG_SEC_FDS, .fd_type = t,                       \
		.size = sizeof(struct img_tty), .payload = 1, .validate = validate,                \
		.describe = describe,                                                              \
	}
const struct img_kind img_kind_pty_master =
    TTY_KIND("pty-master", IMG_FD_PTY_MASTER, "master side of a pty of the computation");
const struct img_kind img_kind_pty_slave =
    TTY_KIND("pty-slave", IMG_FD_PTY_SLAVE, "slave side of a pty of the computation");
const struct img_kind img_kind_tty =
    TTY_KIND("tty", IMG_FD_TTY, "the computation's own terminal (launch's pty)");
