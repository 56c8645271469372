/* shares.c: open file descriptions several processes hold (IMG_SEC_SHARES)
 * that inheritance from the parent cannot give all of them (passed between
 * siblings, kept after the parent closed it, from a grandparent): each is an
 * rst_obj made by the nearest common ancestor of its holders through its
 * owner's open path (image/kinds/shares.c checks each record when the image
 * is loaded). rst_shares_find (rst_objs_find, after every other object) registers them;
 * rst_share_slot is the fixed fd a holder takes d from (-1: not such a share);
 * rst_share_late says whether d's `late` step runs in process i (1), not (0),
 * or follows the usual rule (-1): only the owner fills an epoll's list. */
#ifndef STASIS_RESTORE_SHARES_H
#define STASIS_RESTORE_SHARES_H

#include "restore/set.h"

#include <stddef.h>

int rst_shares_find(struct rst_set *set, char *err, size_t errlen);
int rst_share_slot(const struct rst_set *set, int i, const struct img_fd *d);
int rst_share_late(const struct rst_set *set, int i, const struct img_fd *d);

#endif
