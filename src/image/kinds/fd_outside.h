/* Descriptors that stand for what is outside the computation (kinds
 * "stdio", "runtime", "external"; no payload): a terminal or pipe to outside
 * becomes restart's own stdin, stdout or stderr (img_fd.std), the runtime's
 * coordinator socket is provided by the restorer, and a pipe or socket
 * inherited from outside becomes /dev/null. Saved by runtime/fds.c (which
 * are outside: runtime/outside.c), restored by restore/fds.c. */
#ifndef STASIS_IMAGE_KINDS_FD_OUTSIDE_H
#define STASIS_IMAGE_KINDS_FD_OUTSIDE_H

#endif
