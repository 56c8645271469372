/* loader: the dynamic loader and what it loads on demand, after a restart.
 *
 *   loader VERIFY_FILE
 *
 * dlopen of a library already linked (libm) and of one never loaded before
 * the checkpoint (libz), used and closed again; getaddrinfo, whose NSS
 * modules are loaded now; the C.UTF-8 locale set before the checkpoint
 * (multibyte conversion, case mapping).
 */
#include "zdtm.h"

#include <dlfcn.h>
#include <locale.h>
#include <netdb.h>
#include <wchar.h>
#include <wctype.h>

static void check_dlopen(void)
{
	void *m = dlopen("libm.so.6", RTLD_NOW);
	if (!m) {
		zd_fail("dlopen libm.so.6 after restart: %s", dlerror());
	} else {
		double (*cosp)(double) = (double (*)(double))dlsym(m, "cos");
		zd_check(cosp && cosp(0.0) == 1.0, "cos from dlopen'ed libm");
	}
	void *z = dlopen("libz.so.1", RTLD_NOW);
	if (!z) {
		zd_fail("dlopen libz.so.1 after restart: %s", dlerror());
		return;
	}
	const char *(*zv)(void) = (const char *(*)(void))dlsym(z, "zlibVersion");
	zd_check(zv && zv()[0] == '1', "zlibVersion from dlopen'ed libz");
	zd_check(dlclose(z) == 0, "dlclose libz: %s", dlerror());
}

static void check_getaddrinfo(void)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int g = getaddrinfo("localhost", "80", &hints, &res);
	if (g) {
		zd_fail("getaddrinfo(localhost) after restart: %s", gai_strerror(g));
		return;
	}
	int ok = 0;
	for (struct addrinfo *a = res; a; a = a->ai_next)
		ok |= a->ai_family == AF_INET || a->ai_family == AF_INET6;
	zd_check(ok, "getaddrinfo(localhost) gave no inet address");
	freeaddrinfo(res);
}

static void check_locale(void)
{
	const char *loc = setlocale(LC_ALL, NULL);
	zd_check(loc && !strcmp(loc, "C.UTF-8"), "locale is '%s', want C.UTF-8", loc ? loc : "");
	zd_check(MB_CUR_MAX > 1, "MB_CUR_MAX %zu in C.UTF-8", (size_t)MB_CUR_MAX);
	wchar_t wc = 0;
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	size_t r = mbrtowc(&wc, "\xc3\xa9", 2, &st);
	zd_check(r == 2 && wc == 0xe9, "mbrtowc of U+00E9: %zd, %#x", (ssize_t)r, (unsigned)wc);
	zd_check(towupper(0xe9) == 0xc9, "towupper(U+00E9) = %#x", (unsigned)towupper(0xe9));
}

int main(int argc, char **argv)
{
	zd_init(argc, argv);
	if (!setlocale(LC_ALL, "C.UTF-8"))
		zd_fail("setlocale C.UTF-8 failed");
	zd_check(!dlopen("libz.so.1", RTLD_NOLOAD | RTLD_NOW),
		 "libz is already loaded before the test");
	zd_ready();
	zd_wait();
	check_dlopen();
	check_getaddrinfo();
	check_locale();
	return zd_finish();
}
