/* static_pause: a statically linked program (built with -static): the
 * runtime cannot be preloaded into it. It waits until it is killed, or with
 * an argument prints "static ran" and exits 3. */
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return write(1, "static ran\n", 11) == 11 ? 3 : 1;
	for (;;)
		pause();
}
