/* Terminal modes a program switched on by writing escape sequences (the
 * alternate screen, application cursor keys and keypad, mouse reporting,
 * bracketed paste, a hidden cursor...). They live in the user's terminal, not
 * in the kernel: the relay follows them in what the computation writes. When
 * the computation ends or is killed by a checkpoint, the relay switches them
 * off so that the user's shell gets a sane terminal; a checkpoint records them
 * and the restart's relay switches them on in the new terminal. */
#ifndef STASIS_COMMON_TTYMODES_H
#define STASIS_COMMON_TTYMODES_H

#include <stddef.h>
#include <stdint.h>

#define TTY_MODES_MAX 16
#define TTY_MODES_PARAMS 16

struct tty_modes {
	/* the parser, fed the program's output in pieces */
	int state;
	int private_csi;
	int nparams;
	unsigned params[TTY_MODES_PARAMS];
	/* what is on: DEC private modes by number (25: the cursor hidden) */
	unsigned char on[TTY_MODES_MAX];
	int keypad; /* application keypad (ESC =) */
};

void tty_modes_init(struct tty_modes *m);

/* Follow the output bytes buf[0..n). */
void tty_modes_feed(struct tty_modes *m, const char *buf, size_t n);

/* The sequence that switches every tracked mode back off, NUL-terminated in
 * out; returns its length (0: nothing to undo). */
size_t tty_modes_reset_seq(const struct tty_modes *m, char *out, size_t size);
/* The sequence that switches them on again (in a new terminal, at restart). */
size_t tty_modes_set_seq(const struct tty_modes *m, char *out, size_t size);

/* The modes as the bits stored in images (img_tty.term_modes, docs/format.md):
 * bit i is the i-th DEC private mode of the list in ttymodes.c, bit 15 the
 * application keypad. */
uint16_t tty_modes_bits(const struct tty_modes *m);
void tty_modes_set_bits(struct tty_modes *m, uint16_t bits);

/* The relay keeps the modes in <rundir>/tty-modes-<port> (mode 0600) for the
 * runtime to put in the checkpoint: save (atomically), load (0 when there is
 * none), remove. */
void tty_modes_save(uint16_t port, uint16_t bits);
uint16_t tty_modes_load(uint16_t port);
void tty_modes_remove(uint16_t port);

#endif
