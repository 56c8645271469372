/* fd_tty.c: terminals: the ptys of the computation and launch's terminal
 * (kind tty in fdkinds.c). */
#ifndef STASIS_RUNTIME_FD_TTY_H
#define STASIS_RUNTIME_FD_TTY_H

/* After a restart, the programs on launch's pty draw their screen again. */
void rt_tty_restarted(void);

#endif
