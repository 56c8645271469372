/* Whether a program can run under the runtime (see progkind.h). */
#include "common/progkind.h"
#include "common/io.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_PHDRS 64

/* An x86_64 ELF without a program interpreter is static, unless it is the
 * dynamic loader itself run as a program (which does read LD_PRELOAD). */
static enum prog_kind elf64_kind(int fd, const Elf64_Ehdr *eh, const char *path)
{
	Elf64_Phdr ph[MAX_PHDRS];
	size_t n = eh->e_phnum < MAX_PHDRS ? eh->e_phnum : MAX_PHDRS;
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    pread_full(fd, ph, n * sizeof(ph[0]), eh->e_phoff) != (ssize_t)(n * sizeof(ph[0])))
		return PROG_DYNAMIC;
	for (size_t i = 0; i < n; i++)
		if (ph[i].p_type == PT_INTERP)
			return PROG_DYNAMIC;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (eh->e_type == ET_DYN && !strncmp(base, "ld-", 3))
		return PROG_DYNAMIC;
	return PROG_STATIC;
}

/* "#!INTERP ...": the interpreter's path into out (empty if none). */
static void script_interp(const char *head, size_t len, char *out, size_t size)
{
	size_t i = 2, n = 0;
	while (i < len && (head[i] == ' ' || head[i] == '\t'))
		i++;
	while (i < len && n + 1 < size && head[i] != ' ' && head[i] != '\t' && head[i] != '\n')
		out[n++] = head[i++];
	out[n] = 0;
}

static enum prog_kind kind_of(const char *path, int depth)
{
	union {
		Elf64_Ehdr e64;
		char raw[256];
	} h;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PROG_DYNAMIC; /* exec says what is wrong */
	ssize_t len = pread_full(fd, &h, sizeof(h), 0);
	enum prog_kind k = PROG_DYNAMIC;
	if (len >= (ssize_t)sizeof(h.e64) && !memcmp(h.raw, ELFMAG, SELFMAG)) {
		if (h.raw[EI_CLASS] == ELFCLASS32)
			k = PROG_32BIT;
		else if (h.raw[EI_CLASS] == ELFCLASS64 && h.e64.e_machine == EM_X86_64)
			k = elf64_kind(fd, &h.e64, path);
	} else if (len > 2 && h.raw[0] == '#' && h.raw[1] == '!' && depth == 0) {
		char interp[256];
		script_interp(h.raw, len, interp, sizeof(interp));
		if (interp[0] == '/')
			k = kind_of(interp, 1);
	}
	close(fd);
	return k;
}

enum prog_kind prog_kind(const char *path)
{
	return kind_of(path, 0);
}

const char *prog_kind_text(enum prog_kind k)
{
	return k == PROG_STATIC ? "statically linked" : k == PROG_32BIT ? "a 32-bit program" : "";
}

int prog_find(const char *file, const char *path, char *out, size_t size)
{
	if (strchr(file, '/')) {
		snprintf(out, size, "%s", file);
		return 0;
	}
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);
		snprintf(out, size, "%.*s%s%s", len, p, len ? "/" : "", file);
		if (access(out, X_OK) == 0)
			return 0;
		if (!*end)
			return -1;
		p = end;
	}
}
