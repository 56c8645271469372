/* Messages sent alike to many connections: a checkpoint's SUSPENDED pass
 * carries the pids of every member of a host (128 KiB at 32768), and a copy
 * in each connection's output would cost the square of the processes. The
 * message is built once; each connection's output holds a reference to it
 * after the bytes queued before it (conn->out), and queues what follows it in
 * conn->after (coord_conn.c flushes them in that order). */
#include "coordinator/coord_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct shared *shared_new(uint16_t type, const struct iovec *iov, int n)
{
	struct proto_hdr h = {.magic = PROTO_MAGIC, .version = PROTO_VERSION, .type = type};
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > PROTO_MAX_PAYLOAD)
		return NULL;
	struct shared *s = malloc(sizeof(*s) + sizeof(h) + len);
	if (!s)
		return NULL;
	h.len = (uint32_t)len;
	s->refs = 1;
	s->len = sizeof(h) + len;
	memcpy(s->data, &h, sizeof(h));
	uint8_t *p = s->data + sizeof(h);
	for (int i = 0; i < n; p += iov[i].iov_len, i++)
		if (iov[i].iov_len)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
	return s;
}

void shared_put(struct shared *s)
{
	if (s && !--s->refs)
		free(s);
}
