/* The libc functions behind the runtime's wrappers: one table of {name, real
 * pointer}, resolved once when the runtime is loaded (dlsym(RTLD_NEXT): the
 * next definition after the runtime's own, libc's), never later: several
 * wrapped calls are async-signal-safe (close, dup2, sigaction) and may first
 * be called from a signal handler, where dlsym is not. A test replaces an
 * entry with rt_libc_replace (fault injection hooks there).
 *
 *   REAL(close)(fd)     libc's close, with the type of close's declaration
 *   EXPORT              a symbol the program sees (exports.map lists them)
 */
#ifndef STASIS_RUNTIME_LIBC_H
#define STASIS_RUNTIME_LIBC_H

#define EXPORT __attribute__((visibility("default")))

/* Every function reached through the table, in the order of its entries. */
#define RT_LIBC_FUNCTIONS(X)                                                                       \
	X(sigprocmask)                                                                             \
	X(pthread_sigmask)                                                                         \
	X(sigaction)                                                                               \
	X(signal)                                                                                  \
	X(sigsuspend)                                                                              \
	X(ppoll)                                                                                   \
	X(pselect)                                                                                 \
	X(epoll_pwait)                                                                             \
	X(epoll_pwait2)                                                                            \
	X(sigwait)                                                                                 \
	X(sigwaitinfo)                                                                             \
	X(sigtimedwait)                                                                            \
	X(signalfd)                                                                                \
	X(execve)                                                                                  \
	X(execvpe)                                                                                 \
	X(posix_spawn)                                                                             \
	X(posix_spawnp)                                                                            \
	X(clone)                                                                                   \
	X(syscall)                                                                                 \
	X(close)                                                                                   \
	X(dup2)                                                                                    \
	X(dup3)                                                                                    \
	X(setenv)                                                                                  \
	X(inotify_add_watch)                                                                       \
	X(inotify_rm_watch)                                                                        \
	X(timer_create)                                                                            \
	X(timer_delete)                                                                            \
	X(shmget)                                                                                  \
	X(semget)                                                                                  \
	X(msgget)                                                                                  \
	X(accept)                                                                                  \
	X(accept4)                                                                                 \
	X(open)                                                                                    \
	X(open64)                                                                                  \
	X(openat)                                                                                  \
	X(openat64)                                                                                \
	X(fopen)                                                                                   \
	X(fopen64)                                                                                 \
	X(stat)                                                                                    \
	X(stat64)                                                                                  \
	X(lstat)                                                                                   \
	X(lstat64)                                                                                 \
	X(fstatat)                                                                                 \
	X(fstatat64)                                                                               \
	X(access)                                                                                  \
	X(opendir)                                                                                 \
	X(mkdir)                                                                                   \
	X(unlink)

enum rt_libc_id {
#define RT_LIBC_ID(name) RT_LIBC_##name,
	RT_LIBC_FUNCTIONS(RT_LIBC_ID)
#undef RT_LIBC_ID
	    RT_LIBC_N
};

struct rt_libc_entry {
	const char *name;
	void *fn; /* NULL until resolved, or if libc has no such function */
};
extern struct rt_libc_entry rt_libc[RT_LIBC_N];

/* Resolve every entry (a constructor runs it at load; a wrapper called
 * earlier, from another library's constructor, runs it first). */
void rt_libc_init(void);
/* Put fn in entry id; returns what was there. */
void *rt_libc_replace(enum rt_libc_id id, void *fn);

static inline void *rt_libc_get(enum rt_libc_id id)
{
	void *fn = __atomic_load_n(&rt_libc[id].fn, __ATOMIC_ACQUIRE);
	if (!fn) {
		rt_libc_init();
		fn = __atomic_load_n(&rt_libc[id].fn, __ATOMIC_ACQUIRE);
	}
	return fn;
}

#define REAL(name) ((__typeof__(&name))rt_libc_get(RT_LIBC_##name))

#endif
