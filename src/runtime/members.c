/* The processes of the running checkpoint on every host, as the coordinator
 * lists them before the DRAINED pass (MSG_MEMBERS): written into the image
 * (IMG_SEC_MEMBERS) so that a restart of one host's part can name the
 * processes that do not come back, and where they ran. */
#include "runtime/members.h"
#include "runtime/state.h"
#include "common/proto.h"

#include <string.h>
#include <unistd.h>

static struct img_member members[PROTO_MAX_MEMBERS];
static uint32_t nmembers;

void rt_members_note(const void *payload, size_t len)
{
	char host[64];
	proto_host_name(host);
	nmembers = 0;
	for (size_t off = 0;
	     off + sizeof(struct proto_member) <= len && nmembers < PROTO_MAX_MEMBERS;
	     off += sizeof(struct proto_member)) {
		struct proto_member m;
		memcpy(&m, (const char *)payload + off, sizeof(m));
		struct img_member *e = &members[nmembers++];
		_Static_assert(sizeof(*e) == sizeof(m), "img_member is proto_member");
		memcpy(e, &m, sizeof(m));
		e->flags = m.pid == (uint32_t)getpid() && !strncmp(m.host, host, sizeof(host))
			       ? IMG_MEMBER_SELF
			       : 0;
	}
}

const struct img_member *rt_members_list(uint32_t *n)
{
	*n = nmembers;
	return members;
}
