/* map_renamed: files whose mappings are recorded by path, renamed back and
 * forth by a thread as fast as it can, so that a name read at the stop is
 * gone a moment later.
 *
 *   map_renamed VERIFY_FILE
 *
 * Two files in VERIFY_FILE's directory: "priv" mapped private read-only, and
 * "shared" (small, so its bytes go into the image) mapped shared; a thread
 * renames each to NAME.moved and back. The harness gives each file both
 * names (a hard link) before a restart. At verify the mappings must hold the
 * files' patterns.
 */
#include "zdtm.h"

#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define SIZE (64 * 1024)

static char names[2][2][4200]; /* [file][0: name, 1: NAME.moved] */
static volatile int stop;

static uint8_t pattern(int file, size_t i)
{
	return (uint8_t)(i * 7 + file * 101);
}

static const uint8_t *map_file(int file, int flags)
{
	int fd = open(names[file][0], O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint8_t buf[SIZE];
	for (size_t i = 0; i < SIZE; i++)
		buf[i] = pattern(file, i);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE)
		return NULL;
	void *p = mmap(NULL, SIZE, PROT_READ, flags, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void *renamer(void *arg)
{
	(void)arg;
	while (!stop)
		for (int f = 0; f < 2; f++) {
			rename(names[f][0], names[f][1]);
			rename(names[f][1], names[f][0]);
		}
	return NULL;
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	char dir[4000];
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	dirname(dir);
	const char *base[2] = {"priv", "shared"};
	for (int f = 0; f < 2; f++) {
		snprintf(names[f][0], sizeof(names[f][0]), "%s/%s", dir, base[f]);
		snprintf(names[f][1], sizeof(names[f][1]), "%s/%s.moved", dir, base[f]);
	}
	const uint8_t *map[2] = {map_file(0, MAP_PRIVATE), map_file(1, MAP_SHARED)};
	pthread_t t;
	if (!map[0] || !map[1] || pthread_create(&t, NULL, renamer, NULL))
		return printf("cannot set up: %s\n", strerror(errno)), 2;
	zd_ready();
	zd_wait();
	stop = 1;
	pthread_join(t, NULL);
	for (int f = 0; f < 2; f++) {
		size_t bad = 0;
		for (size_t i = 0; i < SIZE; i++)
			bad += map[f][i] != pattern(f, i);
		zd_check(!bad, "%s: %zu bytes differ from the file's pattern", base[f], bad);
	}
	return zd_finish();
}
