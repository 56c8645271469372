/* fd_tcp.c: TCP connections of the computation. After the SUSPENDED pass:
 * report this process's connections, get the coordinator's pairing, drain
 * them and put their bytes back (take_part 0: report none, drain none). 0,
 * -1 with err (the checkpoint fails), or RT_COORD_* (ckpt.h). rt_tcp_find
 * gives a connection drained in this checkpoint, by socket inode, for its
 * record. tcp_pending.c: the connections in the accept queues of listeners
 * (by port), as ends with PROTO_TCP_PENDING: how many, or -1 with errno. */
#ifndef STASIS_RUNTIME_FD_TCP_H
#define STASIS_RUNTIME_FD_TCP_H

#include <stddef.h>
#include <stdint.h>

int rt_tcp_checkpoint(int take_part, char *err, size_t errlen);
struct rt_tcp_conn {
	uint64_t ino, conn_id;
	uint32_t side, flags; /* PROTO_TCP_* of this end */
	const uint8_t *data;  /* the bytes in flight to this end */
	uint64_t len;
};
const struct rt_tcp_conn *rt_tcp_find(uint64_t ino);

struct rt_tcp_listener {
	uint16_t port;
	int fd;
};
struct proto_tcp_end;
int rt_tcp_pending(struct proto_tcp_end *out, uint32_t max, const struct rt_tcp_listener *l,
		   uint32_t nl);

#endif
