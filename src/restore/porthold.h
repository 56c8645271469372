/* What holds a local port that a restart cannot bind again: the sockets on
 * it in /proc/net/{tcp,tcp6,udp,udp6} of this network namespace, with their
 * state and the process that holds each one, for the error message. */
#ifndef STASIS_RESTORE_PORTHOLD_H
#define STASIS_RESTORE_PORTHOLD_H

#include <stddef.h>
#include <stdint.h>

/* "LISTEN of process 123 (python3), TIME-WAIT" into buf (at most 4
 * sockets), or "" when none is found. proto: IPPROTO_TCP or IPPROTO_UDP. */
void rst_port_holders(uint32_t proto, uint16_t port, char *buf, size_t size);

#endif
