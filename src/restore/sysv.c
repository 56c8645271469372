/* SysV IPC objects at restart (IMG_SEC_IPC). The restart runs in a new IPC
 * namespace owned by its user namespace, where /proc/sys/kernel/{shm,sem,msg}
 * _next_id may be set: PID 1 creates every object once, with its id, key, mode,
 * contents, semaphore values and queued messages, before any process of the
 * set exists. Holders of a segment attach it at their premap address; one that
 * was removed (IPC_RMID) while attached is removed again once attached. */
#include "restore/sysv.h"
#include "restore/load.h"
#include "restore/set.h"
#include "common/io.h"
#include "common/log.h"
#include "image/kinds/sysv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

static const char *type_name(uint32_t t)
{
	return t == IMG_IPC_SHM ? "shm" : t == IMG_IPC_SEM ? "semaphore set" : "message queue";
}

static int set_next_id(const char *what, long id)
{
	char path[64], val[32];
	snprintf(path, sizeof(path), "/proc/sys/kernel/%s_next_id", what);
	snprintf(val, sizeof(val), "%ld", id);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = fd < 0 ? -1 : write_full(fd, val, strlen(val));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int fill_shm(const struct rst_image *img, const struct img_ipc *o)
{
	if (!o->data_len)
		return 0;
	void *m = shmat(o->id, NULL, 0);
	if (m == (void *)-1)
		return -1;
	memcpy(m, img->filedata + o->data_off, o->data_len);
	return shmdt(m);
}

static int fill_msg(const struct rst_image *img, const struct img_ipc *o)
{
	const uint8_t *p = img->filedata + o->data_off, *end = p + o->data_len;
	struct {
		long mtype;
		char text[];
	} *buf = NULL;
	if (o->size) {
		struct msqid_ds ds;
		if (msgctl(o->id, IPC_STAT, &ds) == 0 && ds.msg_qbytes != o->size) {
			ds.msg_qbytes = o->size;
			msgctl(o->id, IPC_SET, &ds);
		}
	}
	for (uint32_t i = 0; i < o->count; i++) {
		uint64_t hdr[2];
		if (end - p < 16 || (memcpy(hdr, p, 16), hdr[1] > (uint64_t)(end - p) - 16))
			return errno = EINVAL, -1;
		void *grown = realloc(buf, sizeof(long) + hdr[1] + 1);
		if (!grown)
			return free(buf), -1;
		buf = grown;
		buf->mtype = hdr[0];
		memcpy(buf->text, p + 16, hdr[1]);
		if (msgsnd(o->id, buf, hdr[1], IPC_NOWAIT) < 0)
			return free(buf), -1;
		p += 16 + ((hdr[1] + 7) & ~7ull);
	}
	free(buf);
	return 0;
}

static int create_one(const struct rst_image *img, const struct img_ipc *o)
{
	static const char *const next[] = {"", "shm", "sem", "msg"};
	int flg = IPC_CREAT | IPC_EXCL | (o->mode & 0777), id = -1;
	if (set_next_id(next[o->type], o->id) < 0)
		return -1;
	if (o->type == IMG_IPC_SHM)
		id = shmget(o->key, o->size, flg);
	else if (o->type == IMG_IPC_SEM)
		id = semget(o->key, o->size, flg);
	else
		id = msgget(o->key, flg);
	set_next_id(next[o->type], -1);
	if (id >= 0 && (uint32_t)id != o->id) {
		errno = EADDRINUSE;
		return -1;
	}
	if (id < 0)
		return -1;
	if (o->type == IMG_IPC_SHM)
		return fill_shm(img, o);
	if (o->type == IMG_IPC_SEM)
		return o->size ? semctl(id, 0, SETALL, img->filedata + o->data_off) : 0;
	return fill_msg(img, o);
}

static int created_before(const struct rst_set *set, int i, uint32_t k)
{
	const struct img_ipc *o = &set->img[i].ipc[k];
	for (int j = 0; j <= i; j++)
		for (uint32_t m = 0; m < (j == i ? k : set->img[j].nipc); m++)
			if (set->img[j].ipc[m].type == o->type && set->img[j].ipc[m].id == o->id)
				return 1;
	(void)set;
	return 0;
}

int rst_sysv_create(const struct rst_set *set)
{
	for (int i = 0; i < set->n; i++)
		for (uint32_t k = 0; k < set->img[i].nipc; k++) {
			const struct img_ipc *o = &set->img[i].ipc[k];
			if (created_before(set, i, k))
				continue;
			if (create_one(&set->img[i], o) < 0)
				return error("cannot recreate SysV %s %u (key %#x): %s",
					     type_name(o->type), o->id, (unsigned)o->key,
					     strerror(errno));
		}
	return 0;
}

void *rst_sysv_map(const struct rst_set *set, const struct img_vma *v, uint64_t shmid, uint64_t at,
		   int prot)
{
	void *p =
	    shmat(shmid, (void *)(uintptr_t)at, SHM_REMAP | (prot & PROT_WRITE ? 0 : SHM_RDONLY));
	if (p == (void *)-1)
		return MAP_FAILED;
	if (mprotect(p, v->end - v->start, prot) < 0)
		return MAP_FAILED;
	for (int i = 0; i < set->n; i++)
		for (uint32_t k = 0; k < set->img[i].nipc; k++)
			if (set->img[i].ipc[k].type == IMG_IPC_SHM &&
			    set->img[i].ipc[k].id == shmid &&
			    (set->img[i].ipc[k].flags & IMG_IPC_REMOVED))
				shmctl(shmid, IPC_RMID,
				       NULL); /* attached: it stays until detached */
	return p;
}
