/* unsupported: holds a descriptor the runtime cannot checkpoint yet. The
 * checkpoint must fail with a message naming the fd, and the program must
 * go on running unharmed.
 *
 *   unsupported VERIFY_FILE tcp PORT   a TCP connection to 127.0.0.1:PORT
 *   unsupported VERIFY_FILE listen     a listening TCP socket
 *   unsupported VERIFY_FILE uffd       a userfaultfd (user-mode only: no privileges)
 *
 * Prints "fd N" (the descriptor) and "ready"; after VERIFY_FILE: for tcp it
 * sends "alive\n" on the connection; then checks its state and the fd.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static volatile unsigned long ticks;

static void tick(void)
{
	ticks++;
}

int main(int argc, char **argv)
{
	int fd = -1;
	char line[64];
	zd_init(argc, argv);
	const char *mode = argc > 2 ? argv[2] : "";
	if (!strcmp(mode, "tcp") && argc > 3) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			zd_fail("connect: %s", strerror(errno));
	} else if (!strcmp(mode, "listen")) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
			zd_fail("listen: %s", strerror(errno));
	} else if (!strcmp(mode, "uffd")) {
		fd = syscall(SYS_userfaultfd, UFFD_USER_MODE_ONLY);
		if (fd < 0)
			zd_fail("userfaultfd: %s", strerror(errno));
	} else {
		fprintf(stderr, "usage: unsupported VERIFY_FILE tcp PORT|listen|uffd\n");
		return 2;
	}
	snprintf(line, sizeof(line), "fd %d", fd);
	zd_say(line);
	zd_ready();
	zd_wait_tick(tick);
	zd_check(ticks > 0, "no ticks");
	if (!strcmp(mode, "tcp")) {
		zd_check(write(fd, "alive\n", 6) == 6, "write to the connection: %s",
			 strerror(errno));
	} else if (!strcmp(mode, "listen")) {
		int one;
		socklen_t l = sizeof(one);
		zd_check(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &one, &l) == 0 && one,
			 "the socket no longer listens");
	} else {
		struct uffdio_api api = {.api = UFFD_API};
		zd_check(ioctl(fd, UFFDIO_API, &api) == 0, "the userfaultfd is broken: %s",
			 strerror(errno));
	}
	return zd_finish();
}
