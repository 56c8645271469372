# Stasis build. `make` builds everything into build/; `make check` runs every test
# but the Slurm cluster over several hosts, which `make check-slurm` runs;
# `make demo` installs what is missing (as root), builds and runs the demo;
# `make install PREFIX=/usr DESTDIR=...` installs stasis (below).
CC ?= gcc
PYTHON ?= /usr/bin/python3
B := build
O := $(B)/obj
WARN := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation
CFLAGS ?= -O2 -g
BASE_CFLAGS := -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -fno-omit-frame-pointer \
	-D_GNU_SOURCE -Isrc -Isrc/include $(SAN)
LIBS := -lzstd -lxxhash -lsodium -lpthread
VERSION := $(shell cat VERSION)

# Where `make install` puts things. The runtime always goes to
# $(PREFIX)/lib/stasis/: the installed stasis finds it there, relative to its
# own path (src/cli/runtime_path.c), wherever PREFIX is.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig

COMMON_SRC := $(wildcard src/common/*.c)
IMAGE_SRC := $(wildcard src/image/*.c) $(wildcard src/image/kinds/*.c)
CLI_SRC := $(wildcard src/cli/*.c) $(wildcard src/coordinator/*.c) $(wildcard src/restore/*.c)
RT_SRC := $(wildcard src/runtime/*.c)
RT_ASM := $(wildcard src/runtime/*.S)
BLOB_SRC := $(wildcard src/restore/blob/*.c)
BLOB_ASM := $(wildcard src/restore/blob/*.S)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
PROG_SRC := $(wildcard tests/programs/*.c)
SSH_SRC := $(wildcard src/ssh/*.c)

obj = $(patsubst %.c,$(O)/%.o,$(patsubst %.S,$(O)/%.o,$(1)))
LIB_OBJ := $(call obj,$(COMMON_SRC) $(IMAGE_SRC))
CLI_OBJ := $(call obj,$(CLI_SRC)) $(O)/blob_embed.o
RT_OBJ := $(call obj,$(RT_SRC) $(RT_ASM))
SSH_OBJ := $(call obj,$(SSH_SRC))
BLOB_OBJ := $(patsubst %.c,$(O)/blob/%.o,$(BLOB_SRC)) $(patsubst %.S,$(O)/blob/%.o,$(BLOB_ASM))

STASIS := $(B)/bin/stasis
RUNTIME := $(B)/lib/libstasis.so
SSH_RELAY := $(B)/lib/stasis-ssh
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
PROGS := $(patsubst tests/programs/%.c,$(B)/tests/programs/%,$(PROG_SRC))
# plugins (docs/plugins.md): the examples, each examples/plugins/NAME/NAME.c,
# and the test plugins of tests/programs/plugins
PLUGINS := $(patsubst examples/plugins/%/,$(B)/lib/plugins/%.so,$(wildcard examples/plugins/*/))
TEST_PLUGINS := $(patsubst tests/programs/plugins/%.c,$(B)/tests/programs/plugins/%.so,\
	$(wildcard tests/programs/plugins/*.c))
PLUGIN_CFLAGS := -std=gnu11 -O2 -g $(WARN) -fPIC -shared -D_GNU_SOURCE -Isrc/include
# static programs run without the runtime: launch warns, and leaves no coordinator behind
PROGS += $(B)/tests/programs/idle_static
COORDLOAD := $(B)/bench/coordload
# MPI test programs (tests/mpi/*.c), built once per MPI whose compiler is
# installed: NAME.openmpi with mpicc.openmpi, NAME.mpich with mpicc.mpich
# (tests/e2e/test_mpi.py skips, saying so, for an MPI that is missing)
MPI_SRC := $(wildcard tests/mpi/*.c)
MPIS := $(foreach m,openmpi mpich,$(if $(shell command -v mpicc.$(m) 2>/dev/null),$(m)))
MPI_PROGS := $(foreach m,$(MPIS),$(patsubst tests/mpi/%.c,$(B)/tests/mpi/%.$(m),$(MPI_SRC)))
# the OpenMP program again with clang's OpenMP runtime (libomp), when clang is installed
MPI_PROGS += $(if $(shell command -v clang 2>/dev/null),$(foreach m,$(MPIS),$(B)/tests/mpi/openmp_libomp.$(m)))

.PHONY: all bin clean check check-slurm check-dmtcp unit e2e asan demo bench bench-mpi format deps install uninstall deb soak
all: $(STASIS) $(RUNTIME) $(SSH_RELAY) $(PLUGINS) $(PROGS) $(TEST_PLUGINS) $(COORDLOAD) $(MPI_PROGS)
bin: $(STASIS) $(RUNTIME) $(SSH_RELAY) $(PLUGINS)

$(O)/src/cli/main.o: VERSION
$(O)/src/cli/main.o: BASE_CFLAGS += -DSTASIS_VERSION='"$(VERSION)"'

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@
$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The restore blob: freestanding, position independent, no relocations, flat binary.
BLOB_CFLAGS := -std=gnu11 $(WARN) -O2 -ffreestanding -fno-builtin -nostdlib -fPIE \
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-jump-tables -mno-red-zone \
	-fvisibility=hidden -fcf-protection=none -Isrc -Isrc/include -DSTASIS_BLOB
$(O)/blob/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (blob)"
	@$(CC) $(BLOB_CFLAGS) -MMD -MP -c $< -o $@
$(O)/blob/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $< (blob)"
	@$(CC) $(BLOB_CFLAGS) -MMD -MP -c $< -o $@
$(O)/blob.elf: $(BLOB_OBJ) src/restore/blob/blob.lds
	@if readelf -r $(BLOB_OBJ) | grep -E "R_X86_64_(64|32S?) "; then \
		echo "the restore blob must have no absolute relocations" >&2; exit 1; fi
	$(CC) -nostdlib -static -Wl,-T,src/restore/blob/blob.lds -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments $(BLOB_OBJ) -o $@
$(O)/blob.bin: $(O)/blob.elf
	objcopy -O binary -j .blob $< $@
$(O)/blob_embed.o: src/restore/blob_embed.S $(O)/blob.bin
	@mkdir -p $(dir $@)
	$(CC) -c -DBLOB_BIN='"$(O)/blob.bin"' $< -o $@

# stasis_cli_marker (cli/main.c) tells a preloaded runtime that this is the
# stasis command, which never joins a computation
$(STASIS): $(CLI_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -Wl,--export-dynamic-symbol=stasis_cli_marker $^ -o $@ $(LIBS)
# what a process of the computation runs in place of ssh (src/ssh/ssh.h)
$(SSH_RELAY): $(SSH_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) $^ -o $@ $(LIBS)
$(RUNTIME): $(RT_OBJ) $(LIB_OBJ) src/runtime/exports.map
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-z,nodelete -Wl,--version-script=src/runtime/exports.map $(RT_OBJ) $(LIB_OBJ) -o $@ $(LIBS) -ldl

$(B)/tests/programs/%: tests/programs/%.c src/include/stasis/stasis.h tests/programs/zdtm.h \
		tests/programs/memtest.h tests/programs/fdpass.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc/include $< -o $@ -lpthread -lm -ldl
$(B)/tests/mpi/%.openmpi: tests/mpi/%.c tests/mpi/steps.h
	@mkdir -p $(dir $@)
	mpicc.openmpi -std=gnu11 -O1 -g -Wall -Wextra -Werror -fopenmp $< -o $@
$(B)/tests/mpi/%.mpich: tests/mpi/%.c tests/mpi/steps.h
	@mkdir -p $(dir $@)
	mpicc.mpich -std=gnu11 -O1 -g -Wall -Wextra -Werror -fopenmp $< -o $@
$(B)/tests/mpi/openmp_libomp.openmpi: tests/mpi/openmp.c tests/mpi/steps.h
	@mkdir -p $(dir $@)
	OMPI_CC=clang mpicc.openmpi -std=gnu11 -O1 -g -Wall -Wextra -Werror -fopenmp=libomp $< -o $@
$(B)/tests/mpi/openmp_libomp.mpich: tests/mpi/openmp.c tests/mpi/steps.h
	@mkdir -p $(dir $@)
	MPICH_CC=clang mpicc.mpich -std=gnu11 -O1 -g -Wall -Wextra -Werror -fopenmp=libomp $< -o $@
define plugin_rule
$(B)/lib/plugins/$(1).so: examples/plugins/$(1)/$(1).c src/include/stasis/plugin.h src/include/stasis/stasis.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(PLUGIN_CFLAGS) $$< -o $$@
endef
$(foreach p,$(patsubst examples/plugins/%/,%,$(wildcard examples/plugins/*/)),$(eval $(call plugin_rule,$(p))))
$(B)/tests/programs/plugins/%.so: tests/programs/plugins/%.c src/include/stasis/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $< -o $@
# a statically linked program, for the tests of programs the runtime cannot join
$(B)/tests/programs/idle_static: tests/programs/idle.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -static $< -o $@

# The coordinator load tool of the bench: the real protocol code (src/common).
$(COORDLOAD): $(O)/bench/coordload.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $^ -o $@ $(LIBS)

$(B)/tests/unit/%: tests/unit/%.c $(LIB_OBJ) $(filter-out $(O)/src/cli/main.o,$(CLI_OBJ)) \
		$(filter-out $(O)/src/ssh/main.o,$(SSH_OBJ)) \
		$(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(filter-out %.h,$^) -o $@ $(LIBS) -lutil $$(pkg-config --libs check)

# the runtime's libc table, tested on its own (it needs nothing else of the runtime),
# the blob, which resumes a context the runtime's rt_save_context saved, the
# union of the sharing pass's descriptor lists and their publication, and the
# runtime's /proc listings
$(B)/tests/unit/test_libc: $(O)/src/runtime/libc.o
$(B)/tests/unit/test_blob: $(O)/src/runtime/context.o
$(B)/tests/unit/test_fdunion: $(O)/src/runtime/fd_union.o $(O)/src/runtime/sort.o
$(B)/tests/unit/test_dirlist: $(O)/src/runtime/dirlist.o
$(B)/tests/unit/test_sharespub: $(O)/src/runtime/shares_pub.o $(O)/src/runtime/arena.o

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do CK_FORK=yes $$t; done

# The libc-side code again under AddressSanitizer and UBSan.
asan:
	$(MAKE) B=build/asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		CFLAGS="-O1 -g" build/asan/bin/stasis $(patsubst $(B)/%,build/asan/%,$(UNIT_BINS))
	@set -e; for t in $(patsubst $(B)/%,build/asan/%,$(UNIT_BINS)); do \
		ASAN_OPTIONS=detect_leaks=1 CK_FORK=no $$t; done

e2e: all
	$(PYTHON) -m pytest -q -p no:cacheprovider --ignore=$(SLURM_NODES) tests/e2e

check: all
	@scripts/check.sh

# The Slurm cluster over network-namespace hosts (docs/slurm.md): a 2-node job
# and MPI jobs on one node and two, about 6 minutes, outside `make check`.
SLURM_NODES := tests/e2e/test_slurm_nodes.py
check-slurm: all
	$(PYTHON) -m pytest -v -p no:cacheprovider $(SLURM_NODES)

# DMTCP's own test suite driven through Stasis (../shared/compat/dmtcp, next to
# the checkout; its README.md says how each test is judged), but for the tests
# the runner cannot judge, named with their reasons (scripts/dmtcp-suite.sh):
# about 30 minutes, outside `make check`, run by CI after it; results in
# ~/.cache/stasis-dmtcp-tests/results.md.
check-dmtcp: all
	scripts/dmtcp-suite.sh

# The long runs of the fault tests (docs/reliability.md), outside `make check`:
# 100 checkpoints and 100 kill/restart cycles of the soak, 2000 damaged image
# sets, 20 checkpoints under load on each side of a restart, and the fault
# walks. About 4 minutes here (2 cores).
soak: all
	STASIS_SOAK_CYCLES=100 STASIS_CORRUPT_MUTANTS=2000 STASIS_LOAD_ROUNDS=20 \
		$(PYTHON) -m pytest -v -s -p no:cacheprovider tests/e2e/test_soak.py \
		tests/e2e/test_corrupt.py tests/e2e/test_load.py tests/e2e/test_faults.py \
		tests/e2e/test_restart_killed.py tests/e2e/test_disk_full.py

# deps first, then the build: not as prerequisites, which -j would run in parallel
demo:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

deps:
	@scripts/deps.sh

# PEERS=1: DMTCP and CRIU too, built by ../shared/peers/build.sh if needed.
bench: all
	@BENCH_PEERS=$(PEERS) $(PYTHON) bench/run.py
	@BENCH_PEERS=$(PEERS) $(PYTHON) bench/mpi.py

# MPI jobs alone (bench/mpi.py): checkpoint and restart of 4 ranks x 256 MiB, ping-pong overhead
bench-mpi: all
	@BENCH_PEERS=$(PEERS) $(PYTHON) bench/mpi.py

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: bin
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PREFIX)/lib/stasis \
		$(DESTDIR)$(INCLUDEDIR)/stasis $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(PREFIX)/lib/stasis/plugins
	install -m 0755 $(STASIS) $(DESTDIR)$(BINDIR)/stasis
	install -m 0644 $(RUNTIME) $(DESTDIR)$(PREFIX)/lib/stasis/libstasis.so
	install -m 0755 $(SSH_RELAY) $(DESTDIR)$(PREFIX)/lib/stasis/stasis-ssh
	install -m 0644 src/include/stasis/stasis.h $(DESTDIR)$(INCLUDEDIR)/stasis/stasis.h
	install -m 0644 src/include/stasis/plugin.h $(DESTDIR)$(INCLUDEDIR)/stasis/plugin.h
	install -m 0644 $(PLUGINS) $(DESTDIR)$(PREFIX)/lib/stasis/plugins
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 0644 man/*.3 $(DESTDIR)$(MANDIR)/man3
	install -m 0644 completion/stasis.bash $(DESTDIR)$(BASHCOMPDIR)/stasis
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' stasis.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/stasis.pc

# The Debian package, built in a temporary copy, checked with lintian and tried
# (scripts/deb-check.sh); the .deb stays in the directory it names.
deb:
	@scripts/deb-check.sh --keep

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/stasis $(DESTDIR)$(PREFIX)/lib/stasis/libstasis.so \
		$(DESTDIR)$(PREFIX)/lib/stasis/stasis-ssh \
		$(DESTDIR)$(INCLUDEDIR)/stasis/stasis.h $(DESTDIR)$(INCLUDEDIR)/stasis/plugin.h \
		$(patsubst $(B)/lib/plugins/%,$(DESTDIR)$(PREFIX)/lib/stasis/plugins/%,$(PLUGINS)) \
		$(DESTDIR)$(BASHCOMPDIR)/stasis \
		$(DESTDIR)$(PKGCONFIGDIR)/stasis.pc \
		$(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard man/*.1)) \
		$(patsubst man/%,$(DESTDIR)$(MANDIR)/man3/%,$(wildcard man/*.3))
	-rmdir $(DESTDIR)$(PREFIX)/lib/stasis/plugins $(DESTDIR)$(PREFIX)/lib/stasis \
		$(DESTDIR)$(INCLUDEDIR)/stasis

clean:
	rm -rf build

-include $(shell find $(O) -name '*.d' 2>/dev/null)
