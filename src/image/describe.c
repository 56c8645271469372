/* The image's own records as text or JSON (describe.h). */
#include "image/describe.h"
#include "image/image.h"

static const char *const header_flags[] = {"compressed", "incremental"};
static const char *const thread_flags[] = {"main", "checkpoint"};
static const char *const vma_flags[] = {"growsdown", "noreserve"};
static const char *const comps[] = {
    [IMG_COMP_NONE] = "none", [IMG_COMP_ZSTD] = "zstd", [IMG_COMP_PARENT] = "parent"};

void img_describe_header(const struct img_header *h, struct img_out *o)
{
	out_u64(o, "version", h->version);
	out_u64(o, "header_size", h->header_size);
	out_flags(o, "flags", h->flags, OUT_NAMES(header_flags));
	out_hex(o, "comp_id", h->comp_id);
	out_u64(o, "gen", h->gen);
	out_u64(o, "nprocs", h->nprocs);
	out_u64(o, "pid", h->pid);
	out_u64(o, "nsections", h->nsections);
	out_u64(o, "table_off", h->table_off);
	out_u64(o, "file_size", h->file_size);
	out_u64(o, "created_ns", h->created_ns);
	out_hex(o, "table_sum", h->table_sum);
	out_hex(o, "header_sum", h->header_sum);
}

void img_describe_section(const struct img_section *s, struct img_out *o)
{
	out_u64(o, "type", s->type);
	out_str(o, "name", img_section_name(s->type));
	out_bool(o, "skippable", s->flags & IMG_SECF_SKIPPABLE);
	out_u64(o, "offset", s->offset);
	out_u64(o, "size", s->size);
	out_hex(o, "sum", s->sum);
}

static void describe_mm(const struct img_mm *m, struct img_out *o)
{
	out_begin_object(o, "mm");
	out_hex(o, "start_code", m->start_code);
	out_hex(o, "end_code", m->end_code);
	out_hex(o, "start_data", m->start_data);
	out_hex(o, "end_data", m->end_data);
	out_hex(o, "start_brk", m->start_brk);
	out_hex(o, "brk", m->brk);
	out_hex(o, "start_stack", m->start_stack);
	out_hex(o, "arg_start", m->arg_start);
	out_hex(o, "arg_end", m->arg_end);
	out_hex(o, "env_start", m->env_start);
	out_hex(o, "env_end", m->env_end);
	out_u64(o, "auxv_words", m->auxv_words);
	out_end(o, 0);
}

static void describe_limits(const struct img_proc *p, struct img_out *o)
{
	out_begin_list(o, "rlimits");
	for (int k = 0; k < IMG_NRLIMIT; k++) {
		out_begin_object(o, NULL);
		out_u64(o, "cur", p->rlimits[k].cur);
		out_u64(o, "max", p->rlimits[k].max);
		out_end(o, 0);
	}
	out_end(o, 1);
	out_begin_list(o, "itimers");
	for (int k = 0; k < 3; k++) {
		out_begin_object(o, NULL);
		out_u64(o, "interval_us", p->itimers[k].interval_us);
		out_u64(o, "value_us", p->itimers[k].value_us);
		out_end(o, 0);
	}
	out_end(o, 1);
}

void img_describe_proc(const struct img_view *v, const struct img_proc *p, struct img_out *o)
{
	out_u64(o, "pid", p->pid);
	out_u64(o, "ppid", p->ppid);
	out_u64(o, "pgid", p->pgid);
	out_u64(o, "sid", p->sid);
	out_u64(o, "uid", p->uid);
	out_u64(o, "gid", p->gid);
	out_u64(o, "umask", p->umask);
	out_u64(o, "nthreads", p->nthreads);
	out_u64(o, "ckpt_signal", p->ckpt_signal);
	out_str(o, "exe", img_view_str(v, p->exe_str));
	out_str(o, "cwd", img_view_str(v, p->cwd_str));
	out_str(o, "name", img_view_str(v, p->name_str));
	out_hex(o, "runtime_info", p->runtime_info);
	out_u64(o, "vdso_size", p->vdso_size);
	out_u64(o, "vvar_size", p->vvar_size);
	out_hex(o, "personality", p->personality);
	describe_mm(&p->mm, o);
	describe_limits(p, o);
}

void img_describe_thread(const struct img_thread *t, struct img_out *o)
{
	out_u64(o, "tid", t->tid);
	out_flags(o, "flags", t->flags, OUT_NAMES(thread_flags));
	out_strn(o, "comm", t->comm, sizeof(t->comm));
	out_hex(o, "fs_base", t->fs_base);
	out_hex(o, "sigmask", t->sigmask);
	out_hex(o, "rip", t->ctx.rip);
	out_hex(o, "rsp", t->ctx.rsp);
	out_hex(o, "altstack_sp", t->altstack_sp);
	out_u64(o, "altstack_size", t->altstack_size);
}

void img_describe_sigaction(int sig, const struct img_sigaction *a, struct img_out *o)
{
	out_u64(o, "sig", sig);
	out_hex(o, "handler", a->handler);
	out_hex(o, "flags", a->flags);
	out_hex(o, "restorer", a->restorer);
	out_hex(o, "mask", a->mask);
}

void img_describe_vma(const struct img_view *v, const struct img_vma *m, struct img_out *o)
{
	out_hex(o, "start", m->start);
	out_hex(o, "end", m->end);
	out_u64(o, "prot", m->prot);
	out_str(o, "kind", img_vma_kind_name(m->kind));
	out_flags(o, "flags", m->flags, OUT_NAMES(vma_flags));
	out_u64(o, "pgoff", m->pgoff);
	out_i64(o, "file", m->file);
	if (m->file >= 0 && (uint32_t)m->file < v->nfiles)
		out_str(o, "path", img_view_str(v, v->files[m->file].path_str));
	out_u64(o, "first_chunk", m->first_chunk);
	out_u64(o, "chunks", m->nchunks);
}

void img_describe_chunk(const struct img_chunk *c, struct img_out *o)
{
	out_hex(o, "vaddr", c->vaddr);
	out_u64(o, "offset", c->offset);
	out_u64(o, "npages", c->npages);
	out_enum(o, "comp", c->comp, OUT_NAMES(comps));
	out_u64(o, "stored_size", c->stored_size);
	out_hex(o, "sum", c->sum);
}

void img_describe_zero_run(const struct img_zero_run *z, struct img_out *o)
{
	out_hex(o, "start", z->start);
	out_hex(o, "end", z->end);
	out_u64(o, "npages", (z->end - z->start) / IMG_PAGE);
}

void img_describe_parent(const struct img_parent *p, struct img_out *o)
{
	out_strn(o, "name", p->name, sizeof(p->name));
	out_u64(o, "gen", p->gen);
	out_u64(o, "depth", p->depth);
	out_hex(o, "header_sum", p->header_sum);
	out_u64(o, "file_size", p->file_size);
}

void img_describe_fd(const struct img_view *v, uint32_t i, const void *payload, uint32_t len,
		     struct img_out *o)
{
	const struct img_fd *d = &v->fds[i];
	const struct img_kind *k = img_fd_kind(d->type);
	out_i64(o, "fd", d->fd);
	out_str(o, "type", img_fd_type_name(d->type));
	out_hex(o, "open_flags", d->open_flags);
	out_u64(o, "fd_flags", d->fd_flags);
	out_i64(o, "pos", d->pos);
	out_i64(o, "file", d->file);
	out_str(o, "path",
		d->file >= 0 && (uint32_t)d->file < v->nfiles
		    ? img_view_str(v, v->files[d->file].path_str)
		    : "");
	out_i64(o, "share", d->share);
	out_i64(o, "parent_fd", (int64_t)d->parent_fd1 - 1);
	if (!k || !k->describe || d->share >= 0 || (k->payload && !payload))
		return;
	out_begin_object(o, "record");
	k->describe(v, i, payload, len, o);
	out_end(o, 0);
}
