/* Putting bytes back into the receive queues of a TCP connection whose two
 * ends are both ours (the runtime after draining a connection at checkpoint,
 * the restorer after making it again at restart), without privileges: each
 * end sends its peer the bytes that belong in its own receive queue, framed
 * by their length; each end reads its peer's frame whole and sends those
 * bytes back, so that they land in the peer's receive queue behind the
 * frame, where the program will read them.
 *
 * Stream of each direction, from the end that writes it:
 *   pre       bytes that must go first (a drain marker, a cookie), may be empty
 *   length    u64 little-endian: bytes of own data that follow
 *   own data  what this end's program had not read yet
 *   echo      the peer's own data, sent back (left unread by the peer)
 * The reader reads pre-bytes itself (tcp_flow_begin_input says when they
 * are done), then the peer's length and data, exactly, never beyond: the
 * echo that follows is for the program.
 *
 * Non-blocking and poll-driven: tcp_flow_events says what to wait for,
 * tcp_flow_step moves what can move now. No allocation here: the peer's data
 * goes to memory from the caller's alloc function. */
#ifndef STASIS_COMMON_TCPFLOW_H
#define STASIS_COMMON_TCPFLOW_H

#include <stddef.h>
#include <stdint.h>

#define TCP_FLOW_MAX_DATA (1ull << 32) /* a peer announcing more is refused */

struct tcp_flow {
	int fd;
	/* out: pre, then (once own_final) the frame, then the echo */
	const uint8_t *pre;
	uint32_t pre_len, pre_done;
	const uint8_t *own;
	uint64_t own_len;
	int own_final;	     /* own data is complete: its frame may go */
	uint64_t frame_done; /* bytes of length + own data sent */
	uint8_t len_out[8];
	/* in: (once input_ready) the peer's length and data */
	int input_ready;
	uint8_t len_in[8];
	uint32_t len_got;
	uint8_t *theirs; /* the peer's data, from alloc */
	uint64_t theirs_len, theirs_got, echo_done;
	void *(*alloc)(size_t size, void *arg);
	void *alloc_arg;
	int locks, raised; /* SO_BUF_LOCK as it was (-1: unknown); buffers raised */
	int sndbuf_was;	   /* SO_SNDBUF before it was raised (0: it was not) */
	int short_room;	   /* a buffer could not be raised to what the bytes need */
	int failed;	   /* errno of a failure, or EPROTO for a bad frame */
};

/* Set up f for fd; pre may be NULL. The frame goes once own is final. */
void tcp_flow_init(struct tcp_flow *f, int fd, const uint8_t *pre, uint32_t pre_len,
		   void *(*alloc)(size_t, void *), void *alloc_arg);
void tcp_flow_set_own(struct tcp_flow *f, const uint8_t *own, uint64_t len);
/* poll events the flow waits for (0 when done) */
short tcp_flow_events(const struct tcp_flow *f);
/* Move what can move without blocking: bytes moved, or -1 (f->failed). */
int64_t tcp_flow_step(struct tcp_flow *f);
int tcp_flow_done(const struct tcp_flow *f);
/* The pre-bytes are all sent (a drain marker can be waited for). */
int tcp_flow_pre_sent(const struct tcp_flow *f);

#endif
