/* Descriptors passed over a Unix socket (SCM_RIGHTS), for the test programs. */
#ifndef STASIS_TESTS_FDPASS_H
#define STASIS_TESTS_FDPASS_H

#include <string.h>
#include <sys/socket.h>

#define ZD_FDPASS_MAX 64

/* n (at most ZD_FDPASS_MAX) descriptors in one message of one byte: 0 or -1. */
__attribute__((unused)) static int zd_send_fds(int s, const int *fds, int n)
{
	char c = 'F', ctl[CMSG_SPACE(ZD_FDPASS_MAX * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl,
			   .msg_controllen = CMSG_SPACE(n * sizeof(int))};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(h), fds, n * sizeof(int));
	return sendmsg(s, &m, 0) == 1 ? 0 : -1;
}

/* The descriptors of one message (at most max): how many, or -1. */
__attribute__((unused)) static int zd_recv_fds(int s, int *fds, int max)
{
	char c, ctl[CMSG_SPACE(ZD_FDPASS_MAX * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	if (recvmsg(s, &m, 0) != 1)
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
		return -1;
	int n = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	n = n < max ? n : max;
	memcpy(fds, CMSG_DATA(h), n * sizeof(int));
	return n;
}

#endif
