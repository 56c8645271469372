/* SysV IPC objects at checkpoint (IMG_SEC_IPC). Which objects belong to the
 * computation: those a process got from shmget/semget/msgget (wrapped here; the
 * list lives in the runtime's memory, so forked children and restarted
 * processes keep it), the shm segments it has attached, and those whose
 * creator or last user (/proc/sysvipc cpid, lpid, lspid, lrpid) it is.
 * Several processes may record one object: restart creates it once. Contents
 * are read without changing anything: shm through a read-only attach, message
 * queues with msgrcv(MSG_COPY). */
#include "runtime/sysv.h"
#include "runtime/arena.h"
#include "runtime/fds.h"
#include "runtime/shm.h"
#include "runtime/libc.h"
#include "common/io.h"
#include "common/log.h"
#include "image/format.h"
#include "image/kinds/sysv.h"
#include "runtime/fd_file.h"
#include "runtime/strtab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

#define USED_MAX 1024
#define OBJS_MAX 4096
#define PROCFILE_MAX (4u << 20)
#define MSGBUF_MAX (1u << 20)

static struct {
	int type, id;
} used[USED_MAX];
static int nused;

static void note_used(int type, int id)
{
	if (id < 0)
		return;
	for (int i = 0; i < __atomic_load_n(&nused, __ATOMIC_ACQUIRE) && i < USED_MAX; i++)
		if (used[i].type == type && used[i].id == id)
			return;
	int k = __atomic_fetch_add(&nused, 1, __ATOMIC_ACQ_REL);
	if (k < USED_MAX)
		used[k].type = type, used[k].id = id;
	else
		__atomic_store_n(&nused, USED_MAX, __ATOMIC_RELEASE);
}

static int was_used(int type, int id)
{
	int n = __atomic_load_n(&nused, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n && i < USED_MAX; i++)
		if (used[i].type == type && used[i].id == id)
			return 1;
	return 0;
}

EXPORT int shmget(key_t key, size_t size, int flg)
{
	int id = REAL(shmget)(key, size, flg);
	note_used(IMG_IPC_SHM, id);
	return id;
}

EXPORT int semget(key_t key, int nsems, int flg)
{
	int id = REAL(semget)(key, nsems, flg);
	note_used(IMG_IPC_SEM, id);
	return id;
}

EXPORT int msgget(key_t key, int flg)
{
	int id = REAL(msgget)(key, flg);
	note_used(IMG_IPC_MSG, id);
	return id;
}

/* The mapping of a SysV segment, a record naming it by shmid: shmat maps it
 * whole again at restart, so a mapping of part of it is refused. */
int rt_sysv_vma(struct rt_files *f, struct rt_strtab *tab, const char *path, uint64_t shmid,
		uint64_t pgoff, uint64_t len, char *err, size_t errlen)
{
	struct shmid_ds ds;
	if (shmctl(shmid, IPC_STAT, &ds) < 0 || pgoff || len != ((ds.shm_segsz + 4095) & ~4095ull))
		return errf(err, errlen,
			    "pid %d: SysV shm %llu is mapped in part (offset %llu, %llu bytes): "
			    "not supported; attach whole segments",
			    getpid(), (unsigned long long)shmid, (unsigned long long)pgoff,
			    (unsigned long long)len);
	int idx = rt_shm_object(f, tab, path, shmid, 0, len, err, errlen);
	if (idx >= 0)
		f->files[idx].flags = IMG_FILE_SYSV;
	return idx;
}

struct sysv_ctx {
	struct rt_ipc *out;
	struct rt_files *files;
	char *maps;	 /* /proc/self/maps: attached segments */
	long long since; /* when this process started (started_at), -1: not read yet */
	char *err;
	size_t errlen;
};

static void *data_reserve(struct rt_files *f, uint64_t len, uint64_t *off)
{
	len = (len + 7) & ~7ull;
	uint8_t *room = rt_filedata_room(f, len);
	if (!room)
		return NULL;
	*off = f->data_len;
	f->data_len += len;
	return room;
}

static int attached(const char *maps, int id)
{
	for (const char *p = strstr(maps, "/SYSV"); p; p = strstr(p + 1, "/SYSV")) {
		const char *bol = p;
		while (bol > maps && bol[-1] != '\n')
			bol--;
		/* start-end perms offset dev inode: the inode is the shmid */
		unsigned long long ino;
		if (sscanf(bol, "%*s %*s %*s %*s %llu", &ino) == 1 && ino == (unsigned)id)
			return 1;
	}
	return 0;
}

static struct img_ipc *new_obj(struct sysv_ctx *c, uint32_t type, int id)
{
	if (!c->out->objs)
		c->out->objs = rt_alloc(OBJS_MAX * sizeof(struct img_ipc));
	if (!c->out->objs || c->out->n >= OBJS_MAX) {
		errf(c->err, c->errlen, "pid %d uses more than %d SysV IPC objects", getpid(),
		     OBJS_MAX);
		return NULL;
	}
	struct img_ipc *o = &c->out->objs[c->out->n++];
	memset(o, 0, sizeof(*o));
	o->type = type;
	o->id = id;
	return o;
}

static int dump_shm(struct sysv_ctx *c, int id)
{
	struct shmid_ds ds;
	struct img_ipc *o = new_obj(c, IMG_IPC_SHM, id);
	if (!o)
		return -1;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return errf(c->err, c->errlen, "pid %d: cannot read SysV shm %d: %s", getpid(), id,
			    strerror(errno));
	o->key = ds.shm_perm.__key;
	o->mode = ds.shm_perm.mode & 0777;
	o->flags = ds.shm_perm.mode & SHM_DEST ? IMG_IPC_REMOVED : 0;
	o->uid = ds.shm_perm.uid;
	o->gid = ds.shm_perm.gid;
	o->size = ds.shm_segsz;
	const uint8_t *m = shmat(id, NULL, SHM_RDONLY);
	if (m == (void *)-1)
		return errf(c->err, c->errlen, "pid %d: cannot read SysV shm %d: %s", getpid(), id,
			    strerror(errno));
	uint64_t len = o->size;
	while (len && !m[len - 1]) /* the zero tail costs nothing */
		len--;
	uint8_t *dst = data_reserve(c->files, len, &o->data_off);
	if (dst)
		memcpy(dst, m, len);
	shmdt(m);
	o->data_len = len;
	if (!dst && len)
		return errf(c->err, c->errlen,
			    "pid %d: SysV shm %d is too large to keep (%llu bytes)", getpid(), id,
			    (unsigned long long)len);
	return 0;
}

static int dump_sem(struct sysv_ctx *c, int id)
{
	struct semid_ds ds;
	struct img_ipc *o = new_obj(c, IMG_IPC_SEM, id);
	if (!o)
		return -1;
	if (semctl(id, 0, IPC_STAT, &ds) < 0)
		return errf(c->err, c->errlen, "pid %d: cannot read SysV semaphores %d: %s",
			    getpid(), id, strerror(errno));
	o->key = ds.sem_perm.__key;
	o->mode = ds.sem_perm.mode & 0777;
	o->uid = ds.sem_perm.uid;
	o->gid = ds.sem_perm.gid;
	o->size = ds.sem_nsems;
	o->data_len = ds.sem_nsems * sizeof(unsigned short);
	unsigned short *vals = data_reserve(c->files, o->data_len, &o->data_off);
	if (!vals || semctl(id, 0, GETALL, vals) < 0)
		return errf(c->err, c->errlen, "pid %d: cannot read SysV semaphores %d: %s",
			    getpid(), id, vals ? strerror(errno) : "too large");
	return 0;
}

static int copy_messages(struct sysv_ctx *c, struct img_ipc *o, int id)
{
	struct {
		long mtype;
		char text[MSGBUF_MAX];
	} *buf = rt_alloc(sizeof(*buf));
	uint64_t start = c->files->data_len;
	for (uint32_t i = 0; buf && i < o->count; i++) {
		ssize_t n = msgrcv(id, buf, MSGBUF_MAX, i, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
		uint64_t off, hdr[2] = {buf->mtype, n};
		uint8_t *dst = n < 0 ? NULL : data_reserve(c->files, 16 + n, &off);
		if (!dst)
			return errf(c->err, c->errlen,
				    "pid %d: cannot copy message %u of SysV queue %d: %s%s",
				    getpid(), i, id, n < 0 ? strerror(errno) : "too large",
				    errno == ENOSYS ? " (the kernel lacks MSG_COPY)" : "");
		memcpy(dst, hdr, 16);
		memcpy(dst + 16, buf->text, n);
	}
	o->data_off = start;
	o->data_len = c->files->data_len - start;
	if (!buf)
		return snprintf(c->err, c->errlen,
				"pid %d: cannot copy SysV queue %d: out of "
				"checkpoint memory",
				getpid(), id),
		       -1;
	return 0;
}

static int dump_msg(struct sysv_ctx *c, int id)
{
	struct msqid_ds ds;
	struct img_ipc *o = new_obj(c, IMG_IPC_MSG, id);
	if (!o)
		return -1;
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return errf(c->err, c->errlen, "pid %d: cannot read SysV message queue %d: %s",
			    getpid(), id, strerror(errno));
	o->key = ds.msg_perm.__key;
	o->mode = ds.msg_perm.mode & 0777;
	o->uid = ds.msg_perm.uid;
	o->gid = ds.msg_perm.gid;
	o->size = ds.msg_qbytes;
	o->count = ds.msg_qnum;
	return copy_messages(c, o, id);
}

/* When this process started, in seconds since the epoch (0: unknown): its
 * start in clock ticks since boot (/proc/self/stat) against CLOCK_BOOTTIME. */
static long long started_at(void)
{
	char buf[1024];
	unsigned long long ticks;
	struct timespec boot;
	char *p;
	if (read_small_file("/proc/self/stat", buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &ticks) != 1 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return 0;
	long long up = (long long)(ticks / (unsigned long long)sysconf(_SC_CLK_TCK));
	return (long long)time(NULL) - (boot.tv_sec - up) - 1; /* a second's margin */
}

/* A pid column names this process only if the object is of its user and was
 * made (or last changed: ctime) since it started: pids are reused (32768 of
 * them by default), and a leftover object of an ended process with our pid,
 * another user's, failed the checkpoint ("cannot read SysV shm: Permission
 * denied"), or one of our user's would be saved as ours. The columns of the
 * creator's uid and of ctime, in shm's table and msg's alike: */
#define CUID_COL 9
#define CTIME_COL 13

/* Read only when a pid column names us: rarely, and not in every pause. */
static long long since(struct sysv_ctx *c)
{
	if (c->since < 0)
		c->since = started_at();
	return c->since;
}

/* One /proc/sysvipc file: each object this process uses is dumped. pidcols:
 * the columns (from 0) holding pids that make an object ours, or -1. */
static int scan_table(struct sysv_ctx *c, const char *file, uint32_t type, int pidcol1, int pidcol2)
{
	char *buf = rt_alloc(PROCFILE_MAX);
	if (!buf)
		return snprintf(c->err, c->errlen, "cannot read %s: out of checkpoint memory",
				file),
		       -1;
	if (read_small_file(file, buf, PROCFILE_MAX) < 0)
		return 0; /* no SysV IPC in this kernel: nothing to keep */
	int me = getpid();
	char *save = NULL;
	strtok_r(buf, "\n", &save); /* the header */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long col[16] = {0};
		int n = sscanf(line, "%ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld %ld",
			       &col[0], &col[1], &col[2], &col[3], &col[4], &col[5], &col[6],
			       &col[7], &col[8], &col[9], &col[10], &col[11], &col[12], &col[13]);
		if (n < 4)
			continue;
		int id = col[1];
		int by_pid = pidcol1 >= 0 && n > CTIME_COL &&
			     (col[pidcol1] == me || col[pidcol2] == me) &&
			     col[CUID_COL] == (long)geteuid() && col[CTIME_COL] >= since(c);
		int ours =
		    was_used(type, id) || by_pid || (type == IMG_IPC_SHM && attached(c->maps, id));
		if (!ours)
			continue;
		int rc = type == IMG_IPC_SHM   ? dump_shm(c, id)
			 : type == IMG_IPC_SEM ? dump_sem(c, id)
					       : dump_msg(c, id);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int rt_dump_sysv(struct rt_ipc *out, struct rt_files *files, char *err, size_t errlen)
{
	struct sysv_ctx c = {out, files, rt_alloc(PROCFILE_MAX), -1, err, errlen};
	out->n = 0;
	if (!c.maps || read_small_file("/proc/self/maps", c.maps, PROCFILE_MAX) < 0)
		return errf(err, errlen, "cannot read /proc/self/maps: %s", strerror(errno));
	/* shm: key shmid perms size cpid lpid ...; msg: key msqid perms cbytes qnum
	 * lspid lrpid ...; sem: key semid perms nsems ... (no pids) */
	if (scan_table(&c, "/proc/sysvipc/shm", IMG_IPC_SHM, 4, 5) < 0 ||
	    scan_table(&c, "/proc/sysvipc/sem", IMG_IPC_SEM, -1, -1) < 0 ||
	    scan_table(&c, "/proc/sysvipc/msg", IMG_IPC_MSG, 5, 6) < 0)
		return -1;
	return 0;
}
