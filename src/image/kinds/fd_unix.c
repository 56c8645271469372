/* Unix domain sockets: their payload checked and described (fd_unix.h). */
#include "image/kinds/fd_unix.h"
#include "image/kinds/kind.h"
#include "common/log.h"

#include <string.h>

const char *img_unix_addr(const char *name, uint32_t len, char *buf, size_t size)
{
	if (!len)
		return "an unnamed socket";
	if (name[0])
		snprintf(buf, size, "%.*s", (int)len, name);
	else
		snprintf(buf, size, "@%.*s", (int)len - 1, name + 1);
	return buf;
}

/* Every message inside data_len, and nothing after the last. */
static int messages_fit(const struct img_unix *u)
{
	const uint8_t *m = img_unix_msgs(u);
	uint64_t off = 0;
	for (uint32_t k = 0; k < u->nmsgs; k++) {
		uint32_t len;
		if (u->data_len - off < 4)
			return 0;
		memcpy(&len, m + off, 4);
		if (len > u->data_len - off - 4)
			return 0;
		off += 4 + len;
	}
	return off == u->data_len;
}

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_unix *u = rec;
	(void)v, (void)i;
	if (u->name_len > sizeof(u->name) || u->peer_name_len > sizeof(u->peer_name))
		return errf(why, whylen, "its name is too long");
	if (u->npending > (1u << 20) || len < sizeof(*u) + u->npending * 8ull ||
	    u->data_len != len - sizeof(*u) - u->npending * 8ull || !messages_fit(u))
		return errf(why, whylen, "its queue does not fit the record");
	return 0;
}

static const char *const types[] = {[1] = "stream", [2] = "dgram", [5] = "seqpacket"};
static const char *const states[] = {
    [IMG_UNIX_UNCONNECTED] = "unconnected", [IMG_UNIX_LISTEN] = "listen",
    [IMG_UNIX_CONNECTED] = "connected",	    [IMG_UNIX_PENDING] = "pending",
    [IMG_UNIX_DGRAM_TO] = "dgram-to",
};
static const char *const flags[] = {"passcred", "passsec", "queue"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_unix *u = rec;
	char a[160];
	(void)v, (void)i, (void)len;
	out_enum(o, "sock_type", u->type, OUT_NAMES(types));
	out_enum(o, "state", u->state, OUT_NAMES(states));
	out_str(o, "name", img_unix_addr(u->name, u->name_len, a, sizeof(a)));
	out_u64(o, "peer", u->peer);
	if (u->peer_name_len)
		out_str(o, "peer_name",
			img_unix_addr(u->peer_name, u->peer_name_len, a, sizeof(a)));
	out_u64(o, "shutdown", u->shutdown);
	out_u64(o, "backlog", u->backlog);
	out_i64(o, "rcvbuf", u->rcvbuf);
	out_i64(o, "sndbuf", u->sndbuf);
	out_i64(o, "rcvlowat", u->rcvlowat);
	out_flags(o, "flags", u->flags, OUT_NAMES(flags));
	out_begin_list(o, "pending");
	for (uint32_t k = 0; k < u->npending; k++)
		out_u64(o, NULL, img_unix_pending(u)[k]);
	out_end(o, 1);
	out_begin_list(o, "queue");
	for (uint64_t off = 0, k = 0; k < u->nmsgs; k++) {
		uint32_t n;
		memcpy(&n, img_unix_msgs(u) + off, 4);
		out_bytes(o, NULL, img_unix_msgs(u) + off + 4, n);
		off += 4 + n;
	}
	out_end(o, 1);
}

const struct img_kind img_kind_unix = {
    .name = "unix",
    .about = "Unix domain socket",
    .section = IMG_SEC_FDS,
    .fd_type = IMG_FD_UNIX,
    .size = sizeof(struct img_unix),
    .payload = 1,
    .validate = validate,
    .describe = describe,
};
