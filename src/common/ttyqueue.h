/* Bytes in flight in a pty: taken out of it and put back as they were, by the
 * runtime at a checkpoint (the pty goes on) and by the restorer into the new
 * pty. Two queues:
 *  - input: what the master wrote that the slave's reader has not read yet,
 *    after input processing (a partly typed line of a canonical terminal
 *    included: it is read out in non-canonical mode);
 *  - output: what the slave wrote that the master's reader has not read yet,
 *    after output processing.
 * Putting them back runs them through the line discipline again with its
 * processing off (and input echo on, to know when the kernel has passed them
 * on), then gives the pty its settings back. */
#ifndef STASIS_COMMON_TTYQUEUE_H
#define STASIS_COMMON_TTYQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#define TTYQ_MAX 65536 /* bytes per queue; a pty holds far less */

struct tty_queues {
	uint8_t *in, *out; /* each TTYQ_MAX bytes */
	uint32_t in_len, out_len;
};

/* Take both queues out of the pty: master (any description; -1: the input
 * queue only), slave (one of its own, from TIOCGPTPEER, O_NONBLOCK, or any
 * with master -1). The slave is left in non-canonical mode: tty_queues_put()
 * or tty_queues_type() gives it tio back. 0, or -1 with err set; q holds what
 * was taken out in both cases (to be put back). */
int tty_queues_take(int master, int slave, struct tty_queues *q, char *err, size_t errlen);

/* Put the queues into the pty (empty), then apply tio to it. 0, or -1 with
 * err set (the settings are applied in both cases). */
int tty_queues_put(int master, int slave, const struct termios *tio, const struct tty_queues *q,
		   char *err, size_t errlen);

/* The input queue of the caller's controlling terminal fd, put back without
 * its master, byte by byte (TIOCSTI, which passes each byte on at once), then
 * tio applied. tty_queues_may_type(): whether the kernel allows TIOCSTI here
 * (dev.tty.legacy_tiocsti, and fd the caller's controlling terminal). */
int tty_queues_may_type(int fd);
int tty_queues_type(int fd, const struct termios *tio, const struct tty_queues *q, char *err,
		    size_t errlen);

#endif
