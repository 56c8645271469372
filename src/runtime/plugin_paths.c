/* The path calls a plugin's path callback sees (stasis/plugin.h: pathvirt):
 * exported wrappers of open, open64, openat, openat64, fopen, fopen64, stat,
 * stat64, lstat, lstat64, fstatat, fstatat64, access, opendir, mkdir and
 * unlink. Without such a plugin a wrapper is one test of rt_path_plugins and
 * the call through the libc table. Calls libc makes inside itself are not
 * seen (glibc's fopen opens through its own __open): each is wrapped by its
 * own name. */
#include "runtime/plugin.h"
#include "runtime/libc.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* real(PARAMS) with `path` translated when a plugin translates paths: out
 * of line, so that the common case has no PATH_MAX buffer. */
#define TRANSLATED(ret, name, real, PARAMS, ARGS)                                                  \
	static __attribute__((noinline)) ret name##_translated PARAMS                              \
	{                                                                                          \
		char buf[PATH_MAX];                                                                \
		path = rt_plugin_path(path, buf, sizeof(buf));                                     \
		return REAL(real) ARGS;                                                            \
	}
#define TRANSLATING() __builtin_expect(__atomic_load_n(&rt_path_plugins, __ATOMIC_RELAXED) != 0, 0)

/* name(PARAMS), which calls the real one with ARGS. */
#define PATH_WRAPPER(ret, name, PARAMS, ARGS)                                                      \
	TRANSLATED(ret, name, name, PARAMS, ARGS)                                                  \
	EXPORT ret name PARAMS                                                                     \
	{                                                                                          \
		if (TRANSLATING())                                                                 \
			return name##_translated ARGS;                                             \
		return REAL(name) ARGS;                                                            \
	}

PATH_WRAPPER(FILE *, fopen, (const char *path, const char *mode), (path, mode))
PATH_WRAPPER(FILE *, fopen64, (const char *path, const char *mode), (path, mode))
PATH_WRAPPER(int, stat, (const char *path, struct stat *st), (path, st))
PATH_WRAPPER(int, stat64, (const char *path, struct stat64 *st), (path, st))
PATH_WRAPPER(int, lstat, (const char *path, struct stat *st), (path, st))
PATH_WRAPPER(int, lstat64, (const char *path, struct stat64 *st), (path, st))
PATH_WRAPPER(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags),
	     (dirfd, path, st, flags))
PATH_WRAPPER(int, fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags),
	     (dirfd, path, st, flags))
PATH_WRAPPER(int, access, (const char *path, int mode), (path, mode))
PATH_WRAPPER(DIR *, opendir, (const char *path), (path))
PATH_WRAPPER(int, mkdir, (const char *path, mode_t mode), (path, mode))
PATH_WRAPPER(int, unlink, (const char *path), (path))
/* the open family: its mode argument is there with O_CREAT or O_TMPFILE */
#define OPEN_WRAPPER(name, PARAMS, ARGS, last)                                                     \
	TRANSLATED(int, name, name, PARAMS, ARGS)                                                  \
	EXPORT int name(PARAMS_##name, ...)                                                        \
	{                                                                                          \
		mode_t mode = 0;                                                                   \
		if (__OPEN_NEEDS_MODE(flags)) {                                                    \
			va_list ap;                                                                \
			va_start(ap, last);                                                        \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
		if (TRANSLATING())                                                                 \
			return name##_translated ARGS;                                             \
		return REAL(name) ARGS;                                                            \
	}
#define PARAMS_open const char *path, int flags
#define PARAMS_open64 const char *path, int flags
#define PARAMS_openat int dirfd, const char *path, int flags
#define PARAMS_openat64 int dirfd, const char *path, int flags
OPEN_WRAPPER(open, (const char *path, int flags, mode_t mode), (path, flags, mode), flags)
OPEN_WRAPPER(open64, (const char *path, int flags, mode_t mode), (path, flags, mode), flags)
OPEN_WRAPPER(openat, (int dirfd, const char *path, int flags, mode_t mode),
	     (dirfd, path, flags, mode), flags)
OPEN_WRAPPER(openat64, (int dirfd, const char *path, int flags, mode_t mode),
	     (dirfd, path, flags, mode), flags)
