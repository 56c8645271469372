/* fd_pipe.c: pipes of the computation at checkpoint (kind pipe,
 * image/kinds/fd_pipe.h): one files record per pipe, with the bytes in
 * flight at its read end; and the copy of the bytes waiting in a pipe or
 * FIFO, which fd_fifo.c uses too. */
#ifndef STASIS_RUNTIME_FD_PIPE_H
#define STASIS_RUNTIME_FD_PIPE_H

#include <stdint.h>

/* The bytes waiting in the pipe or FIFO fd reads from, copied into buf (at
 * most cap) and left in place (tee(2)): 0 with their count in *len, or -1
 * with errno (ENOSPC: more than cap). */
int rt_pipe_peek(int fd, uint8_t *buf, uint64_t cap, uint64_t *len);

#endif
