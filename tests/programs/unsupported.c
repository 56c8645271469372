/* unsupported: holds a descriptor the runtime cannot checkpoint yet. The
 * checkpoint must fail with a message naming the fd, and the program must
 * go on running unharmed.
 *
 *   unsupported VERIFY_FILE unix PATH  a Unix stream connection to PATH (outside)
 *   unsupported VERIFY_FILE netlink    a netlink socket
 *   unsupported VERIFY_FILE uffd       a userfaultfd (user-mode only: no privileges)
 *
 * Prints "fd N" (the descriptor) and "ready"; after VERIFY_FILE: for unix it
 * sends "alive\n" on the connection; then checks its state and the fd.
 */
#include "zdtm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>

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
	if (!strcmp(mode, "unix") && argc > 3) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[3]);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			zd_fail("connect: %s", strerror(errno));
	} else if (!strcmp(mode, "netlink")) {
		fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		if (fd < 0)
			zd_fail("netlink: %s", strerror(errno));
	} else if (!strcmp(mode, "uffd")) {
		fd = syscall(SYS_userfaultfd, UFFD_USER_MODE_ONLY);
		if (fd < 0)
			zd_fail("userfaultfd: %s", strerror(errno));
	} else {
		fprintf(stderr, "usage: unsupported VERIFY_FILE unix PATH|netlink|uffd\n");
		return 2;
	}
	snprintf(line, sizeof(line), "fd %d", fd);
	zd_say(line);
	zd_ready();
	zd_wait_tick(tick);
	zd_check(ticks > 0, "no ticks");
	if (!strcmp(mode, "unix")) {
		zd_check(write(fd, "alive\n", 6) == 6, "write to the connection: %s",
			 strerror(errno));
	} else if (!strcmp(mode, "netlink")) {
		int dom = 0;
		socklen_t l = sizeof(dom);
		zd_check(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l) == 0 && dom == AF_NETLINK,
			 "the netlink socket is gone");
	} else {
		struct uffdio_api api = {.api = UFFD_API};
		zd_check(ioctl(fd, UFFDIO_API, &api) == 0, "the userfaultfd is broken: %s",
			 strerror(errno));
	}
	return zd_finish();
}
