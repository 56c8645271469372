/* share_grand: a file a grandchild inherited from its grandparent, by way of
 * a parent that closed it, stays one open file description with the
 * grandparent's (one offset) across checkpoint/restart.
 *
 *   share_grand VERIFY_FILE DIR
 *
 * The grandparent G opens DIR/data ("0123456789") at offset 3 and forks M,
 * which forks K and closes the file. After VERIFY_FILE, G writes "G" (the
 * shared offset becomes 4), K sees 4 and reads "45" (6), G sees 6.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <sys/wait.h>

static void must(int ok, const char *what)
{
	if (!ok) {
		printf("setup failed: %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

static long pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

static void grandchild(int f, int from_g, int to_g)
{
	char buf[8] = "", c;
	must(write(to_g, "r", 1) == 1, "K: ready");
	zd_wait();
	must(read(from_g, &c, 1) == 1, "K: turn");
	zd_check(pos(f) == 4,
		 "K: offset %ld after G wrote 1 byte, not 4 (G wrote through "
		 "another description)",
		 pos(f));
	zd_check(read(f, buf, 2) == 2 && !strcmp(buf, "45"), "K: read '%s', not '45'", buf);
	must(write(to_g, "k", 1) == 1, "K: turn back");
	_exit(zd_failed);
}

/* M: K's parent, which holds neither the file nor the pipes. */
static void middle(int f, const int *gk, const int *kg)
{
	int st;
	pid_t k = fork();
	if (k == 0) {
		close(gk[1]);
		close(kg[0]);
		grandchild(f, gk[0], kg[1]);
	}
	must(k > 0, "fork K");
	close(f);
	close(gk[0]);
	close(gk[1]);
	close(kg[0]);
	close(kg[1]);
	zd_wait();
	_exit(waitpid(k, &st, 0) == k && WIFEXITED(st) ? WEXITSTATUS(st) : 3);
}

int main(int argc, char **argv)
{
	char path[4096], c;
	int gk[2], kg[2], st;
	zd_init(argc, argv);
	setvbuf(stdout, NULL, _IONBF, 0);
	snprintf(path, sizeof(path), "%s/data", argc > 2 ? argv[2] : ".");
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	must(f >= 0 && write(f, "0123456789", 10) == 10 && lseek(f, 3, SEEK_SET) == 3, "file");
	must(pipe(gk) == 0 && pipe(kg) == 0, "pipes");
	pid_t m = fork();
	if (m == 0)
		middle(f, gk, kg);
	close(gk[0]);
	close(kg[1]);
	must(read(kg[0], &c, 1) == 1, "K ready");
	zd_ready();
	zd_wait();
	zd_check(pos(f) == 3, "G: offset %ld before writing, not 3", pos(f));
	zd_check(write(f, "G", 1) == 1, "G: write: %s", strerror(errno));
	must(write(gk[1], "g", 1) == 1 && read(kg[0], &c, 1) == 1, "G: turn");
	zd_check(pos(f) == 6,
		 "G: offset %ld after K read 2 bytes, not 6 (K's reads moved "
		 "another offset)",
		 pos(f));
	zd_check(waitpid(m, &st, 0) == m && WIFEXITED(st) && !WEXITSTATUS(st),
		 "M (and K) ended with %#x", st);
	return zd_finish();
}
