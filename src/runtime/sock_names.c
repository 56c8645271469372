/* getsockname and getpeername of the TCP sockets a restart made again
 * (connections, and listeners bound elsewhere after a migration): they return
 * what the program saw at the checkpoint (programs use them as identities),
 * wherever the ends run now. At every checkpoint the socket dump notes, per
 * descriptor of a TCP socket with a name, the names the program saw;
 * after a restart those notes become the table the wrappers answer from,
 * keyed by the new sockets' inodes, so that a descriptor number reused for
 * another socket later gets the real answer. A checkpoint that the program
 * survives changes nothing. */
#include "runtime/sock_names.h"
#include "runtime/state.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define NAMES_MAX 16384

struct name {
	int32_t fd;
	uint32_t llen, plen;
	uint64_t ino;
	struct sockaddr_in6 local, peer; /* an IPv4 sockaddr_in fits */
};

static struct name noted[NAMES_MAX]; /* at the last checkpoint */
static uint32_t nnoted;
static struct name table[NAMES_MAX]; /* in use since the last restart */
static uint32_t ntable;

void rt_names_begin(void)
{
	nnoted = 0;
}

void rt_names_note(int fd, const struct sockaddr *local, socklen_t llen,
		   const struct sockaddr *peer, socklen_t plen)
{
	if (nnoted == NAMES_MAX || llen > sizeof(struct sockaddr_in6) ||
	    plen > sizeof(struct sockaddr_in6))
		return;
	struct name *n = &noted[nnoted++];
	memset(n, 0, sizeof(*n));
	n->fd = fd;
	n->llen = llen;
	n->plen = plen;
	memcpy(&n->local, local, llen);
	memcpy(&n->peer, peer, plen);
}

void rt_names_restarted(void)
{
	ntable = 0;
	for (uint32_t i = 0; i < nnoted; i++) {
		struct stat st;
		if (fstat(noted[i].fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		table[ntable] = noted[i];
		table[ntable++].ino = st.st_ino;
	}
}

static const struct name *lookup(int fd)
{
	struct stat st;
	if (!ntable || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return NULL;
	for (uint32_t i = 0; i < ntable; i++)
		if (table[i].ino == st.st_ino)
			return &table[i];
	return NULL;
}

static int answer(const struct sockaddr_in6 *sa, uint32_t len, struct sockaddr *addr,
		  socklen_t *addrlen)
{
	if (!addr || !addrlen)
		return errno = EFAULT, -1;
	memcpy(addr, sa, *addrlen < len ? *addrlen : len);
	*addrlen = len;
	return 0;
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	const struct name *n = lookup(fd);
	if (n)
		return answer(&n->local, n->llen, addr, addrlen);
	return (int)syscall(SYS_getsockname, fd, addr, addrlen);
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	const struct name *n = lookup(fd);
	if (n && n->plen) /* else not connected: the kernel says so */
		return answer(&n->peer, n->plen, addr, addrlen);
	return (int)syscall(SYS_getpeername, fd, addr, addrlen);
}
