/* Following the terminal modes a program sets; see ttymodes.h. A small ECMA-48
 * parser: only CSI ? Pn;... h/l (DEC private modes), ESC = / ESC > (keypad)
 * and ESC c (full reset) change anything; every other sequence passes by. */
#include "common/ttymodes.h"
#include "common/io.h"
#include "common/proto.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_GROUND, S_ESC, S_CSI };

/* The DEC private modes followed. The index is the bit in images: append only.
 * They are undone in this order (the alternate screen last, so that the rest
 * is undone on the screen the program drew on) and set again in the reverse
 * order (the alternate screen first). */
static const unsigned tracked[] = {
    1,	  /* application cursor keys */
    25,	  /* cursor visible ("on" here means hidden) */
    1000, /* mouse: press and release */
    1002, /* mouse: drag */
    1003, /* mouse: any motion */
    1005, /* mouse: UTF-8 coordinates */
    1006, /* mouse: SGR coordinates */
    1015, /* mouse: urxvt coordinates */
    1004, /* focus in/out events */
    2004, /* bracketed paste */
    47,	  /* alternate screen */
    1047, /* alternate screen, cleared */
    1049, /* alternate screen, cursor saved */
};
#define NTRACKED (sizeof(tracked) / sizeof(tracked[0]))

void tty_modes_init(struct tty_modes *m)
{
	memset(m, 0, sizeof(*m));
}

static void set_mode(struct tty_modes *m, unsigned mode, int set)
{
	for (size_t i = 0; i < NTRACKED; i++)
		if (tracked[i] == mode)
			m->on[i] = mode == 25 ? !set : set;
}

static void csi_final(struct tty_modes *m, unsigned char c)
{
	if (!m->private_csi || (c != 'h' && c != 'l'))
		return;
	for (int i = 0; i < m->nparams && i < TTY_MODES_PARAMS; i++)
		set_mode(m, m->params[i], c == 'h');
}

static void csi_byte(struct tty_modes *m, unsigned char c)
{
	if (c == '?' && m->nparams == 0 && m->params[0] == 0) {
		m->private_csi = 1;
	} else if (c >= '0' && c <= '9') {
		if (m->nparams == 0)
			m->nparams = 1;
		if (m->nparams <= TTY_MODES_PARAMS)
			m->params[m->nparams - 1] = m->params[m->nparams - 1] * 10 + (c - '0');
	} else if (c == ';') {
		if (m->nparams == 0)
			m->nparams = 1;
		if (++m->nparams <= TTY_MODES_PARAMS)
			m->params[m->nparams - 1] = 0;
	} else if (c >= 0x40 && c <= 0x7e) {
		csi_final(m, c);
		m->state = S_GROUND;
	}
	/* other parameter and intermediate bytes: ignored */
}

static void esc_byte(struct tty_modes *m, unsigned char c)
{
	m->state = S_GROUND;
	if (c == '[') {
		m->state = S_CSI;
		m->private_csi = 0;
		m->nparams = 0;
		memset(m->params, 0, sizeof(m->params));
	} else if (c == '=' || c == '>') {
		m->keypad = c == '=';
	} else if (c == 'c') {
		memset(m->on, 0, sizeof(m->on));
		m->keypad = 0;
	} else if (c == 0x1b) {
		m->state = S_ESC;
	}
}

void tty_modes_feed(struct tty_modes *m, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == 0x18 || c == 0x1a) { /* CAN, SUB: the sequence is cancelled */
			m->state = S_GROUND;
			continue;
		}
		if (c == 0x1b && m->state != S_ESC) {
			m->state = S_ESC;
			continue;
		}
		if (m->state == S_ESC)
			esc_byte(m, c);
		else if (m->state == S_CSI)
			csi_byte(m, c);
	}
}

static void append(char *out, size_t size, size_t *len, const char *s)
{
	int k = *len < size ? snprintf(out + *len, size - *len, "%s", s) : 0;
	*len += k > 0 ? (size_t)k : 0;
}

/* CSI ? n h (on) or l (off); "on" of mode 25 means the cursor is hidden. */
static void append_mode(char *out, size_t size, size_t *len, size_t i, int on)
{
	char seq[16];
	int visible = tracked[i] == 25 ? !on : on;
	snprintf(seq, sizeof(seq), "\033[?%u%c", tracked[i], visible ? 'h' : 'l');
	append(out, size, len, seq);
}

static size_t clamp(size_t len, size_t size)
{
	return len < size ? len : (size ? size - 1 : 0);
}

size_t tty_modes_reset_seq(const struct tty_modes *m, char *out, size_t size)
{
	size_t len = 0;
	if (size)
		out[0] = 0;
	for (size_t i = 0; i < NTRACKED; i++)
		if (m->on[i])
			append_mode(out, size, &len, i, 0);
	if (m->keypad)
		append(out, size, &len, "\033>");
	return clamp(len, size);
}

size_t tty_modes_set_seq(const struct tty_modes *m, char *out, size_t size)
{
	size_t len = 0;
	if (size)
		out[0] = 0;
	for (size_t i = NTRACKED; i-- > 0;)
		if (m->on[i])
			append_mode(out, size, &len, i, 1);
	if (m->keypad)
		append(out, size, &len, "\033=");
	return clamp(len, size);
}

#define KEYPAD_BIT 15
_Static_assert(NTRACKED < KEYPAD_BIT && NTRACKED <= TTY_MODES_MAX, "bits of the modes");

uint16_t tty_modes_bits(const struct tty_modes *m)
{
	uint16_t bits = m->keypad ? 1u << KEYPAD_BIT : 0;
	for (size_t i = 0; i < NTRACKED; i++)
		if (m->on[i])
			bits |= 1u << i;
	return bits;
}

void tty_modes_set_bits(struct tty_modes *m, uint16_t bits)
{
	for (size_t i = 0; i < NTRACKED; i++)
		m->on[i] = (bits >> i) & 1;
	m->keypad = (bits >> KEYPAD_BIT) & 1;
}

/* ---- the file shared with the runtime ---- */

void tty_modes_save(uint16_t port, uint16_t bits)
{
	char path[4200], tmp[4300], text[16];
	if (proto_run_file(port, "tty-modes", path, sizeof(path)) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* no run dir: the modes are just not kept */
	int n = snprintf(text, sizeof(text), "%u\n", (unsigned)bits);
	int ok = write_full(fd, text, n) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

uint16_t tty_modes_load(uint16_t port)
{
	char path[4200], text[16];
	if (proto_run_file(port, "tty-modes", path, sizeof(path)) < 0 ||
	    read_small_file(path, text, sizeof(text)) <= 0)
		return 0;
	return (uint16_t)strtoul(text, NULL, 10);
}

void tty_modes_remove(uint16_t port)
{
	char path[4200];
	if (proto_run_file(port, "tty-modes", path, sizeof(path)) == 0)
		unlink(path);
}
