/* Terminals: the payload of IMG_FD_PTY_MASTER, IMG_FD_PTY_SLAVE and
 * IMG_FD_TTY records (kinds "pty-master", "pty-slave", "tty"): one pty
 * (/dev/pts/index of the devpts instance dev) and its terminal state. After an
 * IMG_TTY_QUEUES master's struct img_tty: struct img_tty_queues, the pty's
 * input queue (in_len bytes), then its output queue (out_len bytes), each at
 * most TTYQ_MAX (common/ttyqueue.h). Saved by
 * runtime/fd_tty.c, restored by restore/fd_tty.c. */
#ifndef STASIS_IMAGE_KINDS_FD_TTY_H
#define STASIS_IMAGE_KINDS_FD_TTY_H

#include <stdint.h>

#define IMG_TTY_CTTY (1u << 0)	  /* the process's controlling terminal; it leads its session */
#define IMG_TTY_LOCKED (1u << 1)  /* master: the slave is still locked (no unlockpt) */
#define IMG_TTY_PKTMODE (1u << 2) /* master: packet mode (TIOCPKT) */
/* master: the bytes in flight follow the record (struct img_tty_queues) */
#define IMG_TTY_QUEUES (1u << 3)
struct img_tty {
	uint32_t index;	  /* N of /dev/pts/N */
	uint32_t flags;	  /* IMG_TTY_* */
	uint64_t dev;	  /* st_dev of the devpts instance: with index, names the pty */
	uint32_t sid;	  /* session whose controlling terminal it is, 0 if unknown */
	uint32_t fg_pgrp; /* its foreground process group, 0 if unknown */
	uint32_t iflag, oflag, cflag, lflag; /* termios */
	uint32_t ispeed, ospeed;
	uint8_t cc[32];			     /* termios c_cc */
	uint16_t rows, cols, xpixel, ypixel; /* struct winsize */
	uint8_t line;			     /* termios c_line */
	uint8_t reserved0;
	uint16_t term_modes; /* IMG_FD_TTY: modes the program set in the user's terminal
				(alternate screen, keypad, mouse...; common/ttymodes.h) */
	uint8_t reserved[4];
};
struct img_tty_queues {
	uint32_t in_len;  /* written by the master, not read yet by the slave's reader */
	uint32_t out_len; /* written by the slave, not read yet by the master's reader */
};
_Static_assert(sizeof(struct img_tty) == 96, "img_tty");
_Static_assert(sizeof(struct img_tty_queues) == 8, "img_tty_queues");

#endif
