#!/usr/bin/env bash
# The Stasis demo (`make demo`): run a real program under Stasis, checkpoint it,
# kill it, restart it from its image and show that it carried on where it was.
#
# The program is memhog (tests/programs/memhog.c, the peers' benchmark workload): it fills 64 MiB with
# random bytes, starts 2 spinning threads, then prints "tick N ok" every 100 ms
# after re-verifying a checksum of the whole buffer. After the restart the ticks
# must go on from N+1, still "ok": the memory came back bit for bit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STASIS=$ROOT/build/bin/stasis
MEMHOG=$ROOT/build/tests/programs/memhog
MIB=64
THREADS=2

WORK=""
PORT=""
LAUNCH_PID=""
RESTART_PID=""

BOLD="" PLAIN=""
if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; fi

step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '    %s\n' "$*"; }
fail() {
	printf '\ndemo FAILED: %s\n' "$*" >&2
	show_errors
	exit 1
}

show_errors() {
	local f
	[[ -n $WORK ]] || return 0
	for f in "$WORK"/*.err; do
		[[ -s $f ]] || continue
		printf -- '--- %s\n' "${f##*/}" >&2
		tail -n 20 "$f" >&2
	done
}

cleanup() {
	local pid
	if [[ -n $PORT ]]; then
		"$STASIS" kill -p "$PORT" --coordinator >/dev/null 2>&1 || true
	fi
	for pid in $LAUNCH_PID $RESTART_PID; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	[[ -z $WORK ]] || rm -rf "$WORK"
}

# Background commands are disowned: bash reaps them, and does not print
# "Killed" when checkpoint --kill ends one. gone PID SECONDS waits for the end.
gone() {
	local deadline=$(($(now_ms) + $2 * 1000))
	while kill -0 "$1" 2>/dev/null; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p tries
	for tries in {1..50}; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found after $tries tries" >&2
	return 1
}

now_ms() { date +%s%3N; }

ticks() { grep -c '^tick ' "$WORK/memhog.log" 2>/dev/null || true; }

last_tick() { grep '^tick ' "$WORK/memhog.log" | tail -n 1; }

# wait_ticks N SECONDS: until the log holds at least N tick lines.
wait_ticks() {
	local want=$1 deadline=$(($(now_ms) + $2 * 1000))
	while (($(ticks) < want)); do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

gone_coordinator() {
	local deadline=$(($(now_ms) + 5000))
	while "$STASIS" status -p "$PORT" >/dev/null 2>&1; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

check_built() {
	[[ -x $STASIS && -x $MEMHOG && -f $ROOT/build/lib/libstasis.so ]] ||
		fail "stasis is not built: run 'make' (or 'make demo') first"
}

setup() {
	WORK=$(mktemp -d /tmp/stasis-demo.XXXXXX)
	mkdir -p "$WORK/run" "$WORK/ckpt"
	export STASIS_RUN_DIR=$WORK/run
	PORT=$(free_port)
	say "work directory  $WORK"
	say "coordinator     127.0.0.1:$PORT (started by launch, ends with the computation)"
}

launch() {
	step "launch: memhog $MIB rand $THREADS under Stasis, stdout to memhog.log"
	say "\$ stasis launch -p $PORT --ckpt-dir ckpt memhog $MIB rand $THREADS > memhog.log &"
	"$STASIS" launch -p "$PORT" --ckpt-dir "$WORK/ckpt" "$MEMHOG" "$MIB" rand "$THREADS" \
		>"$WORK/memhog.log" 2>"$WORK/launch.err" &
	LAUNCH_PID=$!
	disown "$LAUNCH_PID"
	wait_ticks 5 20 || fail "memhog printed no ticks within 20 s"
	say "running as pid $LAUNCH_PID; its log so far:"
	tail -n 3 "$WORK/memhog.log" | sed 's/^/      /'
}

checkpoint() {
	step "checkpoint --kill: write the image, make it durable, end the program"
	local t0 t1 out
	t0=$(now_ms)
	out=$("$STASIS" checkpoint -p "$PORT" --kill 2>"$WORK/checkpoint.err") ||
		fail "stasis checkpoint failed"
	t1=$(now_ms)
	IMAGE=$(grep '\.stasis$' <<<"$out" | head -n 1)
	[[ -n $IMAGE && -f $IMAGE ]] || fail "checkpoint printed no image file: '$out'"
	say "image written in $((t1 - t0)) ms: ${IMAGE#"$WORK"/}"
	gone "$LAUNCH_PID" 5 || fail "the program still runs after checkpoint --kill"
	LAUNCH_PID=""
	say "the launched program is gone"
	BEFORE=$(last_tick)
	NBEFORE=$(ticks)
	say "last line it wrote: '$BEFORE'"
	sleep 0.3
	(($(ticks) == NBEFORE)) || fail "the log still grows after checkpoint --kill"
}

inspect() {
	step "inspect: the image, every checksum verified"
	"$STASIS" inspect "$IMAGE" >"$WORK/inspect.out" 2>"$WORK/inspect.err" ||
		fail "stasis inspect failed"
	sed -e '/^$/,$d' -e "s|$WORK/||" -e 's/^/    /' "$WORK/inspect.out"
}

restart() {
	step "restart: same PIDs (new PID namespace), memory and threads from the image"
	say "\$ stasis restart -p $PORT ckpt/${IMAGE##*/} &"
	"$STASIS" restart -p "$PORT" "$IMAGE" >"$WORK/restart.out" 2>"$WORK/restart.err" &
	RESTART_PID=$!
	disown "$RESTART_PID"
	wait_ticks $((NBEFORE + 5)) 20 || fail "no new ticks within 20 s of the restart"
}

verify() {
	step "verify: the ticks continue where they stopped"
	local first n_before n_first state bad
	first=$(sed -n "$((NBEFORE + 1))p" "$WORK/memhog.log")
	say "last tick before the checkpoint:  $BEFORE"
	say "first ticks after the restart:"
	sed -n "$((NBEFORE + 1)),$((NBEFORE + 5))p" "$WORK/memhog.log" | sed 's/^/      /'
	n_before=$(awk '{print $2}' <<<"$BEFORE")
	read -r _ n_first state <<<"$first"
	[[ $n_first == $((n_before + 1)) ]] ||
		fail "expected tick $((n_before + 1)) after the restart, got '$first'"
	[[ $state == ok ]] || fail "memory corrupt after the restart: '$first'"
	bad=$(tail -n +"$((NBEFORE + 1))" "$WORK/memhog.log" | grep -vc ' ok$' || true)
	((bad == 0)) || fail "$bad tick lines after the restart are not 'ok'"
	say "OK: tick $n_first follows tick $n_before and the 64 MiB checksum still matches"
}

finish() {
	step "status and kill"
	"$STASIS" status -p "$PORT" | sed 's/^/    /' || fail "stasis status failed"
	"$STASIS" kill -p "$PORT" >/dev/null 2>"$WORK/kill.err" || fail "stasis kill failed"
	gone "$RESTART_PID" 5 || fail "the restarted program still runs after stasis kill"
	RESTART_PID=""
	say "stasis kill ended the restarted program"
	gone_coordinator || fail "the coordinator on port $PORT did not exit after the last process"
	PORT=""
	say "the coordinator exited with its last process"
}

main() {
	check_built
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	step "Stasis demo: checkpoint, kill and restart a running program"
	setup
	launch
	checkpoint
	inspect
	restart
	verify
	finish
	printf '\n%sdemo passed%s\n' "$BOLD" "$PLAIN"
}

main "$@"
