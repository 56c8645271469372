/* idle: waits until it is killed, or with an argument prints "idle ran" and
 * exits 3. Built twice: idle (dynamically linked) and idle_static (-static:
 * the runtime cannot be preloaded into it). */
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return write(1, "idle ran\n", 9) == 9 ? 3 : 1;
	for (;;)
		pause();
}
