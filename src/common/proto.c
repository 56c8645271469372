/* The coordinator protocol: framing, authentication, token files and the client
 * handshake. Callable from the preloaded runtime: no global state, no printing;
 * every error goes into the caller's buffer.
 */
#include "common/proto.h"
#include "common/clock.h"
#include "common/fault.h"
#include "common/io.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire format is little-endian");
_Static_assert(sizeof(struct proto_hdr) == 16, "proto_hdr is 16 bytes");
_Static_assert(sizeof(struct proto_hello) == 128, "proto_hello is 128 bytes");
_Static_assert(sizeof(struct proto_welcome) == 24, "proto_welcome is 24 bytes");
_Static_assert(sizeof(struct proto_ckpt_begin) == 16, "proto_ckpt_begin is 16 bytes");
_Static_assert(sizeof(struct proto_barrier) == 16, "proto_barrier is 16 bytes");
_Static_assert(sizeof(struct proto_ckpt_result) == 8, "proto_ckpt_result is 8 bytes");

/* ---- framing ---- */

int proto_check_hdr(const struct proto_hdr *h)
{
	if (h->magic != PROTO_MAGIC || h->version != PROTO_VERSION || h->len > PROTO_MAX_PAYLOAD ||
	    h->reserved != 0) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Gather-write every iovec, retrying on EINTR and short writes. Sockets get
 * MSG_NOSIGNAL so that a closed peer never raises SIGPIPE in the application. */
static int writev_full(int fd, struct iovec *iov, int cnt)
{
	int is_sock = 1;
	while (cnt > 0) {
		ssize_t n;
		if (is_sock) {
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = cnt};
			n = sendmsg(fd, &mh, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				is_sock = 0;
				continue;
			}
		} else {
			n = writev(fd, iov, cnt);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

int proto_send(int fd, uint16_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen + blen > PROTO_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	struct proto_hdr h = {.magic = PROTO_MAGIC,
			      .version = PROTO_VERSION,
			      .type = type,
			      .len = (uint32_t)(alen + blen)};
	struct iovec iov[3] = {
	    {&h, sizeof(h)}, {(void *)a, a ? alen : 0}, {(void *)b, b ? blen : 0}};
	return fault_hit(FAULT_MSG_SEND) ? -1 : writev_full(fd, iov, 3);
}

/* len bytes before deadline_ms (monotonic; -1: none). ECONNRESET if the peer
 * closed first, ETIMEDOUT if the deadline passed. */
static int recv_exact(int fd, void *buf, size_t len, long long deadline_ms)
{
	char *p = buf;
	while (len) {
		if (deadline_ms >= 0) {
			long long left = deadline_ms - now_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (n == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
		}
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int recv_until(int fd, struct proto_msg *msg, void *buf, size_t bufsize,
		      long long deadline_ms)
{
	if (recv_exact(fd, &msg->hdr, sizeof(msg->hdr), deadline_ms) < 0 ||
	    fault_hit(FAULT_MSG_RECV))
		return -1;
	if (proto_check_hdr(&msg->hdr) < 0 || msg->hdr.len > bufsize) {
		errno = EPROTO;
		return -1;
	}
	msg->payload = buf;
	return recv_exact(fd, buf, msg->hdr.len, deadline_ms);
}

int proto_recv(int fd, struct proto_msg *msg, void *buf, size_t bufsize)
{
	return recv_until(fd, msg, buf, bufsize, -1);
}

int proto_recv_timeout(int fd, struct proto_msg *msg, void *buf, size_t bufsize, int timeout_ms)
{
	return recv_until(fd, msg, buf, bufsize, timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
}

/* ---- authentication ---- */

void proto_hello_mac(const uint8_t token[PROTO_TOKEN_LEN], const uint8_t nonce[PROTO_NONCE_LEN],
		     uint32_t role, uint32_t pid, uint8_t mac[PROTO_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, token, PROTO_TOKEN_LEN);
	crypto_auth_hmacsha256_update(&st, nonce, PROTO_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)&role, sizeof(role));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)&pid, sizeof(pid));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

const char *proto_tcp_addr(const uint8_t a[16], uint16_t port, char *buf, size_t size)
{
	static const uint8_t v4[12] = {[10] = 0xff, [11] = 0xff};
	char ip[INET6_ADDRSTRLEN] = "?";
	int is4 = !memcmp(a, v4, 12);
	inet_ntop(is4 ? AF_INET : AF_INET6, is4 ? a + 12 : a, ip, sizeof(ip));
	snprintf(buf, size, is4 ? "%s:%u" : "[%s]:%u", ip, port);
	return buf;
}

/* ---- token files ---- */

static int run_dir(char *buf, size_t size)
{
	const char *env = secure_getenv("STASIS_RUN_DIR");
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	int n;
	if (env && *env)
		n = snprintf(buf, size, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(buf, size, "%s/stasis", xdg);
	else
		n = snprintf(buf, size, "/tmp/stasis-%u", (unsigned)getuid());
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int proto_token_path(uint16_t port, char *buf, size_t size)
{
	char dir[4096];
	if (run_dir(dir, sizeof(dir)) < 0)
		return -1;
	int n = snprintf(buf, size, "%s/coord-%u.token", dir, (unsigned)port);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int proto_run_path(const char *name, char *buf, size_t size)
{
	char dir[4096];
	if (run_dir(dir, sizeof(dir)) < 0)
		return -1;
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int proto_run_file(uint16_t port, const char *name, char *buf, size_t size)
{
	char dir[4096];
	if (run_dir(dir, sizeof(dir)) < 0)
		return -1;
	int n = snprintf(buf, size, "%s/%s-%u", dir, name, (unsigned)port);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* An existing run directory must be ours and not writable by others (they
 * could replace the token file). */
int proto_run_dir_ensure(char *err, size_t errlen)
{
	char dir[4096];
	struct stat st;
	if (run_dir(dir, sizeof(dir)) < 0)
		return errf(err, errlen, "run directory path too long (check $STASIS_RUN_DIR)");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return errf(err, errlen, "cannot create run directory %s: %s", dir,
			    strerror(errno));
	if (stat(dir, &st) < 0)
		return errf(err, errlen, "cannot stat run directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return errf(err, errlen, "run directory %s is not a directory", dir);
	if (st.st_uid != getuid())
		return errf(err, errlen,
			    "run directory %s belongs to uid %u, not to us: set $STASIS_RUN_DIR "
			    "to a directory of yours",
			    dir, (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return errf(err, errlen,
			    "run directory %s is writable by group or others (mode %04o): run "
			    "'chmod 700 %s'",
			    dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex_decode(const char *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(in[2 * i]), lo = hex_val(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int read_token_fd(int fd, const char *path, uint8_t token[PROTO_TOKEN_LEN], char *err,
			 size_t errlen)
{
	struct stat st;
	char text[2 * PROTO_TOKEN_LEN + 2];
	if (fstat(fd, &st) < 0)
		return errf(err, errlen, "cannot stat token file %s: %s", path, strerror(errno));
	if (st.st_mode & 077)
		return errf(err, errlen,
			    "token file %s is readable by group or others (mode %04o): refusing "
			    "to use it; run 'chmod 600 %s'",
			    path, (unsigned)(st.st_mode & 07777), path);
	ssize_t n = read_full(fd, text, sizeof(text));
	if (n < 0)
		return errf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
	if (n < 2 * PROTO_TOKEN_LEN || hex_decode(text, token, PROTO_TOKEN_LEN) < 0)
		return errf(err, errlen, "token file %s is corrupt (expected %d hex digits)", path,
			    2 * PROTO_TOKEN_LEN);
	return 0;
}

/* $STASIS_TOKEN_FILE (--token-file), else the run directory's file of port */
static int client_token_path(uint16_t port, char *buf, size_t size)
{
	const char *f = secure_getenv("STASIS_TOKEN_FILE");
	if (!f || !*f)
		return proto_token_path(port, buf, size);
	int n = snprintf(buf, size, "%s", f);
	return n < 0 || (size_t)n >= size ? (errno = ENAMETOOLONG, -1) : 0;
}

int proto_token_load(uint16_t port, uint8_t token[PROTO_TOKEN_LEN], char *err, size_t errlen)
{
	char path[4096];
	const char *f = secure_getenv("STASIS_TOKEN_FILE");
	if (client_token_path(port, path, sizeof(path)) < 0)
		return errf(err, errlen, "token file path too long (check $STASIS_RUN_DIR)");
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && f && *f)
		return errf(err, errlen,
			    "cannot open token file %s ($STASIS_TOKEN_FILE, --token-file): %s "
			    "(copy the coordinator's token file there, mode 0600)",
			    path, strerror(errno));
	if (fd < 0)
		return errf(err, errlen,
			    "cannot open token file %s: %s (is the coordinator on port %u run "
			    "by another user or with another $STASIS_RUN_DIR? on another host: "
			    "give a copy of its token with --token-file)",
			    path, strerror(errno), (unsigned)port);
	int ret = read_token_fd(fd, path, token, err, errlen);
	int saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

static int write_token_tmp(const char *tmp, const uint8_t token[PROTO_TOKEN_LEN], char *err,
			   size_t errlen)
{
	char text[2 * PROTO_TOKEN_LEN + 1];
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return errf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
	hex_encode(token, PROTO_TOKEN_LEN, text);
	text[2 * PROTO_TOKEN_LEN] = '\n';
	/* Not fsynced: the token lives as long as its coordinator, which a crash
	 * ends too, so durability buys nothing; an fsync on a disk that others
	 * write to cost 0.5-20 ms of every coordinator start (docs/performance.md). */
	if (fchmod(fd, 0600) < 0 || write_full(fd, text, sizeof(text)) < 0) {
		errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0) {
		errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int proto_token_save(const char *name, const uint8_t token[PROTO_TOKEN_LEN], char *path,
		     size_t pathsize, char *err, size_t errlen)
{
	char tmp[4200];
	if (proto_run_dir_ensure(err, errlen) < 0)
		return -1;
	if (proto_run_path(name, path, pathsize) < 0)
		return errf(err, errlen, "token file path too long (check $STASIS_RUN_DIR)");
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (write_token_tmp(tmp, token, err, errlen) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		errf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int proto_token_create(uint16_t port, uint8_t token[PROTO_TOKEN_LEN], char *err, size_t errlen)
{
	char name[64], path[4096];
	snprintf(name, sizeof(name), "coord-%u.token", (unsigned)port);
	randombytes_buf(token, PROTO_TOKEN_LEN);
	return proto_token_save(name, token, path, sizeof(path), err, errlen);
}

void proto_token_to_hex(const uint8_t token[PROTO_TOKEN_LEN], char hex[2 * PROTO_TOKEN_LEN + 1])
{
	hex_encode(token, PROTO_TOKEN_LEN, hex);
	hex[2 * PROTO_TOKEN_LEN] = 0;
}

int proto_token_from_hex(const char *hex, uint8_t token[PROTO_TOKEN_LEN])
{
	return strlen(hex) == 2 * PROTO_TOKEN_LEN ? hex_decode(hex, token, PROTO_TOKEN_LEN) : -1;
}

/* ---- client side ---- */

uint16_t proto_parse_port(const char *s)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return 0;
	return (uint16_t)v;
}

uint16_t proto_default_port(void)
{
	const char *s = secure_getenv("STASIS_PORT");
	return s && *s ? proto_parse_port(s) : STASIS_DEFAULT_PORT;
}

static const char *coord_host(void)
{
	const char *h = secure_getenv("STASIS_COORD_HOST");
	return h && *h ? h : "127.0.0.1";
}

static int same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return a->sa_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

/* sa is an address of this host (of its network namespace): loopback, the
 * wildcard, or an address of one of its interfaces. */
static int addr_is_mine(const struct sockaddr *sa)
{
	struct ifaddrs *ifs;
	int mine = 0;
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		if (a >> 24 == 127 || a == INADDR_ANY)
			return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return 1;
	}
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (const struct ifaddrs *i = ifs; i && !mine; i = i->ifa_next)
		mine = i->ifa_addr && same_addr(i->ifa_addr, sa);
	freeifaddrs(ifs);
	return mine;
}

int proto_coord_remote(void)
{
	const char *h = coord_host();
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
	int mine = 0;
	if (!strcmp(h, "127.0.0.1") || !strcmp(h, "localhost") || !strcmp(h, "::1"))
		return 0;
	if (getaddrinfo(h, NULL, &hints, &res))
		return 1; /* cannot tell: as another host's (nothing started here for it) */
	for (const struct addrinfo *a = res; a && !mine; a = a->ai_next)
		mine = addr_is_mine(a->ai_addr);
	freeaddrinfo(res);
	return !mine;
}

/* connect(2) within the deadline; one interrupted by a signal goes on. */
static int connect_until(int fd, const struct sockaddr *sa, socklen_t salen, long long deadline)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINTR && errno != EINPROGRESS)
			return -1;
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		for (;;) {
			long long left = deadline - now_ms();
			int n = left > 0 ? poll(&p, 1, (int)left) : 0;
			if (n > 0)
				break;
			if (n == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (errno != EINTR)
				return -1;
		}
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			return -1;
		if (soerr) {
			errno = soerr;
			return -1;
		}
	}
	return fcntl(fd, F_SETFL, fl);
}

/* fd: a socket of the caller's (-1: make one). Returns the connected socket,
 * or -1 (one made here is closed). */
static int tcp_connect(int fd, const char *host, uint16_t port, long long deadline, char *err,
		       size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	char serv[8];
	int mine = fd < 0, domain = 0;
	socklen_t dlen = sizeof(domain);
	snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	int rc = getaddrinfo(host, serv, &hints, &res);
	if (rc)
		return errf(err, errlen,
			    "cannot resolve coordinator host '%s' ($STASIS_COORD_HOST): %s", host,
			    gai_strerror(rc));
	if (mine)
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0 ||
		 domain != res->ai_family) {
		freeaddrinfo(res);
		errno = EAFNOSUPPORT;
		return errf(err, errlen,
			    "cannot connect to the coordinator on %s:%u: a socket of "
			    "another address family",
			    host, (unsigned)port);
	}
	if (fd < 0) {
		freeaddrinfo(res);
		return errf(err, errlen, "cannot create a socket: %s", strerror(errno));
	}
	rc = connect_until(fd, res->ai_addr, res->ai_addrlen, deadline);
	freeaddrinfo(res);
	if (rc == 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return fd;
	}
	int saved = errno;
	if (mine)
		close(fd);
	errno = saved;
	if (saved == ECONNREFUSED)
		return errf(err, errlen,
			    "no coordinator on %s:%u (connection refused): start one with "
			    "'stasis coordinator' or use 'stasis launch'",
			    host, (unsigned)port);
	if (saved == ETIMEDOUT)
		return errf(err, errlen,
			    "cannot connect to the coordinator on %s:%u: no answer within %d s",
			    host, (unsigned)port, PROTO_HANDSHAKE_MS / 1000);
	return errf(err, errlen, "cannot connect to the coordinator on %s:%u: %s", host,
		    (unsigned)port, strerror(saved));
}

/* The challenge: a peer that sends none is not a coordinator, or is stopped. */
static int recv_challenge(int fd, uint16_t port, struct proto_msg *m, void *buf, size_t size,
			  long long deadline, char *err, size_t errlen)
{
	const char *host = coord_host();
	if (recv_until(fd, m, buf, size, deadline) == 0) {
		if (m->hdr.type == MSG_CHALLENGE && m->hdr.len == PROTO_NONCE_LEN)
			return 0;
		errno = EPROTO;
	}
	if (errno == ETIMEDOUT)
		return errf(err, errlen,
			    "the peer on %s:%u sent no stasis challenge within %d s: it is not a "
			    "stasis coordinator, or it is stopped",
			    host, (unsigned)port, PROTO_HANDSHAKE_MS / 1000);
	if (errno == EPROTO)
		return errf(err, errlen,
			    "the peer on %s:%u is not a stasis coordinator of this version (it "
			    "sent no valid challenge)",
			    host, (unsigned)port);
	if (errno == ECONNRESET) {
		errno = ECONNABORTED; /* a coordinator that is exiting: start another */
		return errf(err, errlen,
			    "the peer on %s:%u closed the connection before its challenge (a "
			    "coordinator that is exiting, or not a stasis coordinator)",
			    host, (unsigned)port);
	}
	return errf(err, errlen, "coordinator on %s:%u: receiving its challenge failed: %s", host,
		    (unsigned)port, strerror(errno));
}

static int recv_welcome(int fd, uint16_t port, struct proto_msg *m, void *buf, size_t size,
			long long deadline, char *err, size_t errlen)
{
	if (recv_until(fd, m, buf, size, deadline) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		return errf(err, errlen,
			    "coordinator on port %u did not answer our hello within %d s",
			    (unsigned)port, PROTO_HANDSHAKE_MS / 1000);
	if (errno == EPROTO)
		return errf(err, errlen,
			    "the peer on port %u is not a stasis coordinator of this version "
			    "(bad welcome)",
			    (unsigned)port);
	return errf(err, errlen, "coordinator on port %u: receiving its welcome failed: %s",
		    (unsigned)port, strerror(errno));
}

static int handle_refuse(uint16_t port, const struct proto_msg *m, char *err, size_t errlen)
{
	char path[4096] = "";
	int n = (int)(m->hdr.len > 200 ? 200 : m->hdr.len);
	const char *reason = (const char *)m->payload;
	client_token_path(port, path, sizeof(path));
	errno = EACCES;
	if (n == 9 && !memcmp(reason, "bad token", 9))
		return errf(err, errlen,
			    "coordinator on %s:%u refused us: bad token (token file %s "
			    "belongs to another coordinator?)",
			    coord_host(), (unsigned)port, path);
	return errf(err, errlen, "coordinator on %s:%u refused us: %.*s", coord_host(),
		    (unsigned)port, n, reason);
}

static int handle_welcome(const struct proto_msg *m, struct proto_welcome *welcome, char *ckpt_dir,
			  size_t dirsize, char *err, size_t errlen)
{
	size_t dlen = m->hdr.len - sizeof(*welcome);
	if (welcome)
		memcpy(welcome, m->payload, sizeof(*welcome));
	if (!ckpt_dir || !dirsize)
		return 0;
	if (dlen >= dirsize) {
		errno = ENAMETOOLONG;
		return errf(err, errlen, "checkpoint directory from the coordinator is too long");
	}
	memcpy(ckpt_dir, m->payload + sizeof(*welcome), dlen);
	ckpt_dir[dlen] = 0;
	return 0;
}

static int handshake(int fd, uint16_t port, struct proto_hello *hello,
		     struct proto_welcome *welcome, char *ckpt_dir, size_t dirsize,
		     long long deadline, char *err, size_t errlen)
{
	uint8_t buf[sizeof(struct proto_welcome) + 4096], token[PROTO_TOKEN_LEN];
	struct proto_msg m;
	if (recv_challenge(fd, port, &m, buf, sizeof(buf), deadline, err, errlen) < 0)
		return -1;
	if (proto_token_load(port, token, err, errlen) < 0)
		return -1;
	proto_hello_mac(token, m.payload, hello->role, hello->pid, hello->mac);
	sodium_memzero(token, sizeof(token));
	if (proto_send(fd, MSG_HELLO, hello, sizeof(*hello), NULL, 0) < 0)
		return errf(err, errlen, "cannot send hello to the coordinator on port %u: %s",
			    (unsigned)port, strerror(errno));
	if (recv_welcome(fd, port, &m, buf, sizeof(buf), deadline, err, errlen) < 0)
		return -1;
	if (m.hdr.type == MSG_REFUSE)
		return handle_refuse(port, &m, err, errlen);
	if (m.hdr.type != MSG_WELCOME || m.hdr.len < sizeof(struct proto_welcome)) {
		errno = EPROTO;
		return errf(err, errlen, "coordinator on port %u sent no valid welcome",
			    (unsigned)port);
	}
	return handle_welcome(&m, welcome, ckpt_dir, dirsize, err, errlen);
}

int proto_client_connect_fd(int fd, uint16_t port, struct proto_hello *hello,
			    struct proto_welcome *welcome, char *ckpt_dir, size_t dirsize,
			    char *err, size_t errlen)
{
	int mine = fd < 0;
	if (port == 0) {
		errno = EINVAL;
		return errf(err, errlen, "invalid coordinator port ($STASIS_PORT must be 1-65535)");
	}
	long long deadline = now_ms() + PROTO_HANDSHAKE_MS;
	fd = tcp_connect(fd, coord_host(), port, deadline, err, errlen);
	if (fd < 0)
		return -1;
	if (handshake(fd, port, hello, welcome, ckpt_dir, dirsize, deadline, err, errlen) < 0) {
		int saved = errno;
		if (mine)
			close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int proto_client_connect(uint16_t port, struct proto_hello *hello, struct proto_welcome *welcome,
			 char *ckpt_dir, size_t dirsize, char *err, size_t errlen)
{
	return proto_client_connect_fd(-1, port, hello, welcome, ckpt_dir, dirsize, err, errlen);
}

void proto_host_key(uint8_t key[16], const char *ns)
{
	char text[64] = "", path[64];
	struct stat st;
	unsigned b[16];
	memset(key, 0, 16);
	if (read_small_file("/proc/sys/kernel/random/boot_id", text, sizeof(text)) > 0 &&
	    sscanf(text, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x", &b[0], &b[1],
		   &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8], &b[9], &b[10], &b[11], &b[12],
		   &b[13], &b[14], &b[15]) == 16)
		for (int i = 0; i < 16; i++)
			key[i] = (uint8_t)b[i];
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &st) == 0)
		for (int i = 0; i < 8; i++)
			key[i] ^= (uint8_t)(st.st_ino >> (8 * i));
}

void proto_host_name(char name[64])
{
	struct utsname u;
	memset(name, 0, 64);
	if (uname(&u) == 0)
		snprintf(name, 64, "%s", u.nodename);
}

void proto_origin(uint8_t out[16], const char *host)
{
	crypto_generichash(out, 16, (const uint8_t *)host, strnlen(host, 64), NULL, 0);
}

void proto_host_fill(struct proto_host *h)
{
	memset(h, 0, sizeof(*h));
	proto_host_key(h->key, "net");
	proto_host_key(h->pids, "pid");
	proto_host_name(h->host);
}
