/* The relay between the user's terminal and the computation's own pty, run by
 * `stasis launch` and `stasis restart` (outside the computation): bytes both
 * ways, the user's terminal in raw mode (so that ^C, ^Z reach the pty's line
 * discipline and become signals there), window size changes forwarded. As a
 * background job (bg, or started with &) it neither reads the user's terminal
 * nor changes its modes, and it takes them up again when brought to the
 * foreground. When the program it runs stops (^Z), it stops too. */
#ifndef STASIS_COMMON_TTYRELAY_H
#define STASIS_COMMON_TTYRELAY_H

#include <stdint.h>
#include <sys/types.h>

struct tty_relay {
	int master;  /* the computation's pty */
	int in, out; /* the user's side (0 and 1) */
	int done_fd; /* readable once the computation has ended, or -1 */
	pid_t child; /* or: the process whose end ends the relay (reaped here), or 0;
		      * when it stops, the relay stops too, and continues it */
	int status;  /* the child's wait status */
	/* the computation's coordinator port: the relay keeps the terminal's
	 * modes in the run dir for its checkpoints (common/ttymodes.h); 0: not */
	uint16_t port;
	/* modes to switch on first in the user's terminal (at restart) */
	uint16_t modes;
};

/* The user's terminal (fd) in raw mode until tty_raw_end() or a fatal signal
 * (TERM, HUP: unless the caller handles them); nothing happens when fd is not
 * a terminal, or while we are not in its foreground process group. */
void tty_raw_begin(int fd);
void tty_raw_end(void);

/* Relay until done_fd is readable or child has ended, then copy what the pty
 * still holds. Returns 0, or -1 on an error it reported. */
int tty_relay_run(struct tty_relay *r);

/* A new pty pair: master and slave (O_CLOEXEC, O_NOCTTY), unlocked; *index
 * gets its number. With want >= 0, exactly /dev/pts/want (the lower free
 * numbers are taken and given back). Returns 0 or -1 (errno). */
int tty_open_pty(int want, int *master, int *slave, int *index);

#endif
