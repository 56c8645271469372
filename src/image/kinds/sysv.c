/* SysV IPC objects: their records checked and described (sysv.h). */
#include "image/kinds/sysv.h"
#include "image/kinds/kind.h"
#include "common/log.h"

static int validate(const struct img_view *v, uint32_t i, const void *rec, uint32_t len, char *why,
		    size_t whylen)
{
	const struct img_ipc *o = rec;
	(void)len;
	if (o->type < IMG_IPC_SHM || o->type > IMG_IPC_MSG || o->id > INT32_MAX ||
	    !img_view_has_data(v, o->data_off, o->data_len) ||
	    (o->type == IMG_IPC_SHM && o->data_len > o->size) ||
	    (o->type == IMG_IPC_SEM && o->data_len != o->size * sizeof(unsigned short)))
		return errf(why, whylen, "IPC object %u is invalid", i);
	return 0;
}

static const char *const types[] = {
    [IMG_IPC_SHM] = "shm", [IMG_IPC_SEM] = "sem", [IMG_IPC_MSG] = "msg"};
static const char *const flags[] = {"removed"};

static void describe(const struct img_view *v, uint32_t i, const void *rec, uint32_t len,
		     struct img_out *o)
{
	const struct img_ipc *r = rec;
	(void)i, (void)len;
	out_enum(o, "ipc", r->type, OUT_NAMES(types));
	out_u64(o, "id", r->id);
	out_i64(o, "key", r->key);
	out_u64(o, "mode", r->mode);
	out_u64(o, "uid", r->uid);
	out_u64(o, "gid", r->gid);
	out_u64(o, "size", r->size);
	out_u64(o, "count", r->count);
	out_flags(o, "flags", r->flags, OUT_NAMES(flags));
	out_bytes(o, "data", v->filedata + r->data_off, r->data_len);
}

const struct img_kind img_kind_ipc = {
    .name = "ipc",
    .about = "a SysV shared memory segment, semaphore set or message queue",
    .section = IMG_SEC_IPC,
    .size = sizeof(struct img_ipc),
    .validate = validate,
    .describe = describe,
};
