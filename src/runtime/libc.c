/* The table of libc functions behind the runtime's wrappers (libc.h). */
#include "runtime/libc.h"

#include <dlfcn.h>
#include <stddef.h>

struct rt_libc_entry rt_libc[RT_LIBC_N] = {
#define RT_LIBC_ENTRY(name) [RT_LIBC_##name] = {#name, NULL},
    RT_LIBC_FUNCTIONS(RT_LIBC_ENTRY)
#undef RT_LIBC_ENTRY
};

static int resolved;

/* Before any other constructor of the runtime (they call wrapped functions). */
__attribute__((constructor(101))) void rt_libc_init(void)
{
	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
		return;
	for (int i = 0; i < RT_LIBC_N; i++)
		if (!__atomic_load_n(&rt_libc[i].fn, __ATOMIC_ACQUIRE))
			__atomic_store_n(&rt_libc[i].fn, dlsym(RTLD_NEXT, rt_libc[i].name),
					 __ATOMIC_RELEASE);
	__atomic_store_n(&resolved, 1, __ATOMIC_RELEASE);
}

void *rt_libc_replace(enum rt_libc_id id, void *fn)
{
	rt_libc_init();
	return __atomic_exchange_n(&rt_libc[id].fn, fn, __ATOMIC_ACQ_REL);
}
