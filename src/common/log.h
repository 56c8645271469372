/* Logging and error reporting shared by every part of Stasis.
 *
 * Messages go to stderr (or to the fd set with log_set_fd). Debug logging is
 * off by default; STASIS_LOG=debug (or =1) turns it on. error() returns -1 so
 * that `return error(...)` reads naturally; die() exits the CLI with status 1.
 * None of these allocate memory: they are safe on the checkpoint path.
 */
#ifndef STASIS_COMMON_LOG_H
#define STASIS_COMMON_LOG_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

void log_set_prefix(const char *prefix);
void log_set_fd(int fd);
/* Begin every line with the local date and time (a daemon's log file). */
void log_set_timestamps(int on);
int log_get_fd(void);
/* A command given --json: errors are {"error": "..."} lines on stdout. */
void log_set_json(int on);
int log_debug_enabled(void);

void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Format a message into the caller's buffer err (if not NULL), keeping errno;
 * returns -1, for code that reports its errors to its caller. */
int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define debug(...)                                                                                 \
	do {                                                                                       \
		if (log_debug_enabled())                                                           \
			log_msg("debug", __VA_ARGS__);                                             \
	} while (0)

#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (cond)                                                                          \
			die("BUG at %s:%d: %s", __FILE__, __LINE__, #cond);                        \
	} while (0)

#endif
