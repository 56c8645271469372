/* ev_eventfd: eventfds keep their counter, EFD_SEMAPHORE and EFD_NONBLOCK.
 *   ev_eventfd VERIFY_FILE
 */
#include "zdtm.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>

static int nonblocking(int fd)
{
	return !!(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

static uint64_t get(int fd)
{
	uint64_t v = 0;
	return read(fd, &v, 8) == 8 ? v : (uint64_t)-1;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	uint64_t ten = 10, big = 0xfffffffffffffff0ull;
	int plain = eventfd(5, 0);
	int sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	int empty = eventfd(0, EFD_NONBLOCK);
	int large = eventfd(0, 0);
	if (plain < 0 || sem < 0 || empty < 0 || large < 0 || write(plain, &ten, 8) != 8 ||
	    write(large, &big, 8) != 8)
		zd_fail("setup: %s", strerror(errno));
	zd_ready();
	zd_wait();
	zd_check(!nonblocking(plain) && nonblocking(sem) && nonblocking(empty),
		 "O_NONBLOCK flags lost: %d %d %d", nonblocking(plain), nonblocking(sem),
		 nonblocking(empty));
	uint64_t v = get(plain);
	zd_check(v == 15, "plain eventfd: %llu, want 15", (unsigned long long)v);
	for (int k = 0; k < 3; k++)
		zd_check((v = get(sem)) == 1, "semaphore read %d gave %llu, want 1", k,
			 (unsigned long long)v);
	zd_check(get(sem) == (uint64_t)-1 && errno == EAGAIN, "semaphore not empty after 3 reads");
	zd_check(get(empty) == (uint64_t)-1 && errno == EAGAIN, "empty eventfd is not empty");
	zd_check((v = get(large)) == big, "large counter %#llx", (unsigned long long)v);
	return zd_finish();
}
