/* members.c: every process of the running checkpoint (MSG_MEMBERS), for
 * the image's IMG_SEC_MEMBERS. */
#ifndef STASIS_RUNTIME_MEMBERS_H
#define STASIS_RUNTIME_MEMBERS_H

#include "image/kinds/members.h"

#include <stddef.h>
#include <stdint.h>

void rt_members_note(const void *payload, size_t len);
const struct img_member *rt_members_list(uint32_t *n);

#endif
