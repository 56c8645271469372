#!/usr/bin/env bash
# The Debian package, built and tried as a user gets it:
#   1. `dpkg-buildpackage -us -uc -b` in a copy of the source tree (its
#      outputs go to the copy's parent, a temporary directory, not ours);
#   2. lintian on the .deb and the .changes: any error or warning fails;
#   3. the package installed: with --install for real (`dpkg -i`, as CI does
#      on its own machine; removed again at the end), otherwise into a
#      private dpkg root (`dpkg --root`), which leaves this machine as it is;
#   4. the installed stasis runs a program, checkpoints it, kills it,
#      restarts it and checks that it goes on where it was; its version,
#      man page and bash completion are where they belong.
# Usage: scripts/deb-check.sh [--install] [--keep]
#   --keep: leave the temporary directory (the .deb is in it) and say where.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTALL=0 KEEP=0
for a in "$@"; do
	case $a in
	--install) INSTALL=1 ;;
	--keep) KEEP=1 ;;
	*)
		echo "usage: $0 [--install] [--keep]" >&2
		exit 2
		;;
	esac
done

if ((INSTALL && EUID != 0)); then
	echo "==> deb: --install runs dpkg -i, which needs root (without it, the package is" \
		"installed into a private dpkg root)" >&2
	exit 2
fi

WORK=$(mktemp -d /tmp/stasis-deb.XXXXXX)
PREFIX="" # where the package's /usr is: $WORK/root/usr, or /usr
RESTART_PID="" LAUNCH_PID="" PORT=""

say() { printf '==> deb: %s\n' "$*"; }
fail() {
	printf '==> deb FAILED: %s\n' "$*" >&2
	local f
	for f in "$WORK"/*.err; do
		[[ -s $f ]] && { printf -- '--- %s\n' "${f##*/}" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}

cleanup() {
	local pid
	if [[ -n $PORT && -n $PREFIX ]]; then
		"$PREFIX/bin/stasis" kill -p "$PORT" --coordinator >/dev/null 2>&1 || true
	fi
	for pid in $LAUNCH_PID $RESTART_PID; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	if ((INSTALL)) && dpkg-query -W stasis >/dev/null 2>&1; then
		dpkg -r stasis >/dev/null || echo "==> deb: 'dpkg -r stasis' failed" >&2
	fi
	if ((KEEP)); then
		echo "==> deb: kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# until CMD succeeds, for at most $1 seconds
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

build() {
	local version src
	version=$(cat "$ROOT/VERSION")
	src=$WORK/stasis-$version
	mkdir -p "$src"
	# the tree as it is now (tracked files and new ones git does not ignore;
	# outside a git checkout, everything but the build)
	if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 cp --parents -t "$src")
	else
		(cd "$ROOT" && tar --exclude=./build -cf - .) | tar -xf - -C "$src"
	fi
	say "dpkg-buildpackage -us -uc -b in $src"
	(cd "$src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 ||
		{ tail -n 30 "$WORK/build.log" >&2; fail "dpkg-buildpackage failed"; }
	DEB=$(echo "$WORK"/stasis_"$version"_*.deb)
	[[ -f $DEB ]] || fail "no stasis_${version}_*.deb in $WORK"
	CHANGES=$(echo "$WORK"/stasis_"$version"_*.changes)
	say "built ${DEB##*/} ($(stat -c %s "$DEB") bytes)"
}

lint() {
	say "lintian ${CHANGES##*/}"
	lintian --fail-on error,warning "$CHANGES" >"$WORK/lintian.out" 2>&1 ||
		{ cat "$WORK/lintian.out" >&2; fail "lintian found errors or warnings"; }
	sed 's/^/    /' "$WORK/lintian.out"
}

install_pkg() {
	if ((INSTALL)); then
		say "dpkg -i ${DEB##*/}"
		dpkg -i "$DEB" >"$WORK/dpkg.err" 2>&1 || fail "dpkg -i failed"
		PREFIX=/usr
	else
		local r=$WORK/root
		mkdir -p "$r/var/lib/dpkg/updates" "$r/var/lib/dpkg/info"
		touch "$r/var/lib/dpkg/status"
		say "dpkg --root $r -i ${DEB##*/} (not on this machine: no --install)"
		dpkg --root="$r" --force-depends --force-not-root --log=/dev/null -i "$DEB" \
			>"$WORK/dpkg.err" 2>&1 || fail "dpkg --root -i failed"
		PREFIX=$r/usr
	fi
}

check_files() {
	local v want
	want=$(cat "$ROOT/VERSION")
	v=$("$PREFIX/bin/stasis" --version) || fail "stasis --version failed"
	[[ $v == "stasis $want "* ]] || fail "stasis --version says '$v', not $want"
	say "$v"
	for f in lib/stasis/libstasis.so lib/stasis/stasis-ssh include/stasis/stasis.h \
		share/pkgconfig/stasis.pc \
		share/bash-completion/completions/stasis share/man/man1/stasis.1.gz \
		share/man/man1/stasis-restart.1.gz share/man/man3/stasis.h.3.gz; do
		[[ -f $PREFIX/$f ]] || fail "the package has no $PREFIX/$f"
	done
	if ((INSTALL)); then
		[[ $(man -w stasis-launch) == /usr/share/man/man1/stasis-launch.1.gz ]] ||
			fail "man -w stasis-launch: $(man -w stasis-launch 2>&1)"
	fi
}

ticks() { grep -c '^tick ' "$WORK/ticks.log" 2>/dev/null || true; }
more_ticks() { (($(ticks) >= $1)); }
gone() { ! kill -0 "$1" 2>/dev/null; }

# a program with state in memory: a counter that goes on after the restart
smoke() {
	local stasis=$PREFIX/bin/stasis n before first
	export STASIS_RUN_DIR=$WORK/run
	mkdir -p "$WORK/ckpt"
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	say "$stasis launch: a shell counting in memory"
	"$stasis" launch -p "$PORT" --ckpt-dir "$WORK/ckpt" /bin/sh -c \
		'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done' \
		>"$WORK/ticks.log" 2>"$WORK/launch.err" </dev/null &
	LAUNCH_PID=$!
	disown "$LAUNCH_PID" # reaped by bash, without a "Killed" line at checkpoint --kill
	wait_for 20 more_ticks 5 || fail "the launched program printed no ticks"
	"$stasis" checkpoint -p "$PORT" --kill >"$WORK/ckpt.out" 2>"$WORK/checkpoint.err" ||
		fail "stasis checkpoint --kill failed"
	wait_for 10 gone "$LAUNCH_PID" || fail "the program still runs after checkpoint --kill"
	LAUNCH_PID=""
	n=$(ticks)
	before=$(grep '^tick ' "$WORK/ticks.log" | tail -n 1)
	say "checkpointed at '$before' into $(wc -l <"$WORK/ckpt.out") image(s); restarting"
	"$stasis" restart -p "$PORT" --dir "$WORK/ckpt" >>"$WORK/ticks.log" \
		2>"$WORK/restart.err" </dev/null &
	RESTART_PID=$!
	disown "$RESTART_PID"
	wait_for 20 more_ticks $((n + 5)) || fail "no ticks after the restart"
	first=$(sed -n "$((n + 1))p" "$WORK/ticks.log")
	[[ $first == "tick $((${before#tick } + 1))" ]] ||
		fail "after '$before' the restarted program printed '$first'"
	say "restarted: '$before' then '$first'"
	"$stasis" kill -p "$PORT" >/dev/null 2>"$WORK/kill.err" || fail "stasis kill failed"
	wait_for 10 gone "$RESTART_PID" || fail "the restarted program still runs after kill"
	RESTART_PID=""
}

build
lint
install_pkg
check_files
smoke
say "passed"
