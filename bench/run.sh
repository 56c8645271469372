#!/usr/bin/env bash
# The Stasis benchmark (`make bench`). For each workload (memhog from
# tests/programs/memhog.c (= shared/workloads/memhog.c): 1 GiB random, text and untouched-zero memory,
# 64 MiB with 8 threads; bench/pyhog.py: BENCH_PY_MIB MiB of python3 objects
# and bytes) it measures, as medians of BENCH_RUNS runs:
#   stasis   checkpoint time (wall time of `stasis checkpoint`, fsync included),
#            image size, and restart time (from `stasis restart` to the first new
#            "tick" line the program prints), compressed (default) and --no-compress
#   dd       the hardware limit: writing as many bytes of random data with
#            conv=fsync, and to the page cache only
#   native   the program alone, from exec to its first tick
#   dmtcp, criu   the same cycle, when dmtcp_launch / criu are on PATH and work
#            here (a smoke test / `criu check`: the bench says why when not)
# and the launch overhead of `stasis launch /bin/true` over /bin/true (median of
# BENCH_LAUNCH_RUNS, coordinator already running); the pause of a forked
# checkpoint of BENCH_MIB MiB (workload "pause": the time the program's threads
# are held, from the runtime's STASIS_LOG=debug "threads paused" line, and the
# wall time of that `stasis checkpoint`), and the same for BENCH_SHM_MIB MiB of
# shared memory (workload "pause_shm": tests/programs/shmhog.c). Then (workloads "mapped",
# "incremental", "redis"): restart of a --no-compress image to the program's
# next instruction, mapped / mapped without checksums / read; the size of an
# incremental image of BENCH_MIB MiB with BENCH_INCR_DIRTY_MIB (10) MiB
# rewritten; redis-benchmark natively and under stasis launch, when installed. It prints a table with the
# ratios, writes bench/results/runs.csv (every measurement) and results.csv
# (medians and ratios), and PNG charts when gnuplot is installed.
#
# Environment: BENCH_RUNS (3), BENCH_MIB (1024), BENCH_LAUNCH_RUNS (20),
# BENCH_TMP (/var/tmp: images and dd files go there, it must be a real disk),
# BENCH_RESULTS (bench/results), BENCH_PY_MIB (256), BENCH_PYTHON
# (/usr/bin/python3), BENCH_SHM_MIB (256), BENCH_ONLY (space-separated workload
# names: rand text zero threads python true pause pause_shm mapped incremental
# redis).
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STASIS=$ROOT/build/bin/stasis
MEMHOG=$ROOT/build/tests/programs/memhog
SHMHOG=$ROOT/build/tests/programs/shmhog
RUNS=${BENCH_RUNS:-3}
MIB=${BENCH_MIB:-1024}
LAUNCH_RUNS=${BENCH_LAUNCH_RUNS:-20}
INCR_DIRTY_MIB=${BENCH_INCR_DIRTY_MIB:-10}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
TMPBASE=${BENCH_TMP:-/var/tmp}
PY_MIB=${BENCH_PY_MIB:-256}
SHM_MIB=${BENCH_SHM_MIB:-256}
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
TICK_TIMEOUT_US=120000000

# name|command (words)|MiB written by dd for the limit
WORKLOADS=("rand|$MEMHOG $MIB rand 0|$MIB" "text|$MEMHOG $MIB text 0|$MIB"
	"zero|$MEMHOG $MIB zero 0|$MIB" "threads|$MEMHOG 64 rand 8|64"
	"python|$PYTHON $ROOT/bench/pyhog.py $PY_MIB|$PY_MIB")

WORK=""
NAPFD=""
PIDS=()
PORTS=()
FAILURES=0

log() { printf '%s\n' "$*" >&2; }
now() { printf -v "$1" '%s' "${EPOCHREALTIME/./}"; }
nap() { read -rt 0.002 -u "$NAPFD" _ || true; }
usecs() { awk -v u="$1" 'BEGIN { printf "%.6f", u / 1e6 }'; }

# One measurement: workload,system,variant,metric,run,value
record() { printf '%s,%s,%s,%s,%s,%s\n' "$@" >>"$RESULTS/runs.csv"; }

cleanup() {
	local p
	for p in "${PORTS[@]}"; do
		"$STASIS" kill -p "$p" --coordinator >/dev/null 2>&1 || true
	done
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	[[ -z $WORK ]] || rm -rf "$WORK"
}

# PORT: a TCP port on 127.0.0.1 that nothing listens on (remembered for cleanup).
free_port() {
	local p
	for _ in {1..50}; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			PORTS+=("$p")
			PORT=$p
			return 0
		fi
	done
	log "bench: no free port"
	return 1
}

# Start a command in the background, disowned (bash reaps it and does not
# report its death); its pid is in BG_PID.
spawn() {
	"$@" &
	BG_PID=$!
	disown "$BG_PID"
	PIDS+=("$BG_PID")
}

# gone PID: wait up to 10 s for PID to end, then kill it.
gone() {
	local t t_end
	now t
	t_end=$((t + 10000000))
	while kill -0 "$1" 2>/dev/null; do
		now t
		if ((t > t_end)); then
			log "bench: pid $1 did not end; killing it"
			kill -KILL "$1" 2>/dev/null || true
			return 1
		fi
		nap
	done
}

# wait_line FILE SKIP PID: wait until FILE has a complete line SKIP+1; fail
# when PID ends first or after TICK_TIMEOUT_US.
wait_line() {
	local fd part acc="" n=0 t t_end
	now t
	t_end=$((t + TICK_TIMEOUT_US))
	exec {fd}<"$1"
	while :; do
		if IFS= read -r -u "$fd" part; then
			if ((n++ == $2)); then
				exec {fd}<&-
				return 0
			fi
			acc=""
			continue
		fi
		acc+=$part
		now t
		if ((t > t_end)) || ! kill -0 "$3" 2>/dev/null; then
			exec {fd}<&-
			log "bench: no new line in $1 (pid $3 ended, or after $((TICK_TIMEOUT_US / 1000000)) s)"
			return 1
		fi
		nap
	done
}

count_lines() {
	local -a lines
	mapfile -t lines <"$1"
	echo "${#lines[@]}"
}

# check_continued FILE SKIP: line SKIP+1 must be the tick after line SKIP, "ok".
check_continued() {
	local -a lines
	local prev next
	mapfile -t lines <"$1"
	read -r _ prev _ <<<"${lines[$2 - 1]}"
	read -r _ next _ <<<"${lines[$2]}"
	if [[ ${lines[$2]} != "tick $((prev + 1)) ok" ]]; then
		log "bench: after '${lines[$2 - 1]}' the restarted program printed '${lines[$2]}'"
		return 1
	fi
	[[ $next == $((prev + 1)) ]]
}

# ---- the hardware limit and the native run ----

make_source() {
	log "bench: writing $MIB MiB of random data for dd"
	dd if=/dev/urandom of="$WORK/random.src" bs=1M count="$MIB" iflag=fullblock status=none
}

dd_runs() {
	local name=$1 mib=$2 run t0 t1
	for ((run = 1; run <= RUNS; run++)); do
		sync
		now t0
		dd if="$WORK/random.src" of="$WORK/dd.out" bs=1M count="$mib" conv=fsync status=none
		now t1
		record "$name" dd fsync write_s "$run" "$(usecs $((t1 - t0)))"
		rm -f "$WORK/dd.out"
		sync
		now t0
		dd if="$WORK/random.src" of="$WORK/dd.out" bs=1M count="$mib" status=none
		now t1
		record "$name" dd cache write_s "$run" "$(usecs $((t1 - t0)))"
		rm -f "$WORK/dd.out"
	done
}

native_runs() {
	local name=$1 args=$2 run t0 t1 out=$WORK/native.log
	for ((run = 1; run <= RUNS; run++)); do
		: >"$out"
		now t0
		# shellcheck disable=SC2086 # args are words
		spawn $args >"$out" 2>&1
		wait_line "$out" 0 "$BG_PID"
		now t1
		kill -KILL "$BG_PID"
		gone "$BG_PID"
		record "$name" native run first_tick_s "$run" "$(usecs $((t1 - t0)))"
	done
}

# ---- stasis ----

# stasis_once NAME ARGS VARIANT RUN: one launch, checkpoint --kill, restart.
stasis_once() {
	local name=$1 args=$2 variant=$3 run=$4 port ck out img n t0 t1 rc=0
	local flag=()
	[[ $variant == raw ]] && flag=(--no-compress)
	free_port
	port=$PORT
	ck=$WORK/ck.$name.$variant.$run
	out=$WORK/stasis.log
	mkdir -p "$ck"
	: >"$out"
	# shellcheck disable=SC2086 # args are words
	spawn "$STASIS" launch -p "$port" --ckpt-dir "$ck" $args >"$out" 2>"$WORK/launch.err"
	local lpid=$BG_PID
	if ! wait_line "$out" 0 "$lpid"; then
		log "bench: stasis launch of $args printed no tick: $(tail -n 5 "$WORK/launch.err")"
		return 1
	fi
	sync
	now t0
	img=$("$STASIS" checkpoint -p "$port" --kill "${flag[@]}" 2>"$WORK/checkpoint.err") || {
		log "bench: stasis checkpoint failed: $(cat "$WORK/checkpoint.err")"
		return 1
	}
	now t1
	img=$(grep '\.stasis$' <<<"$img" | head -n 1)
	record "$name" stasis "$variant" ckpt_s "$run" "$(usecs $((t1 - t0)))"
	record "$name" stasis "$variant" image_bytes "$run" "$(stat -c %s "$img")"
	gone "$lpid" || rc=1
	n=$(count_lines "$out")
	now t0
	spawn "$STASIS" restart -p "$port" "$img" >"$WORK/restart.out" 2>"$WORK/restart.err"
	local rpid=$BG_PID
	if wait_line "$out" "$n" "$rpid"; then
		now t1
		record "$name" stasis "$variant" restart_s "$run" "$(usecs $((t1 - t0)))"
		check_continued "$out" "$n" || rc=1
	else
		log "bench: stasis restart printed no tick: $(tail -n 5 "$WORK/restart.err")"
		rc=1
	fi
	"$STASIS" kill -p "$port" --coordinator >/dev/null 2>&1 || true
	gone "$rpid" || rc=1
	rm -rf "$ck"
	return "$rc"
}

# cycle_extra NAME: RUNS runs of NAME_once RUN
cycle_extra() {
	local run
	log "bench: $1"
	for ((run = 1; run <= RUNS; run++)); do
		if ! "${1}_once" "$run"; then
			log "bench: $1: run $run FAILED"
			FAILURES=$((FAILURES + 1))
			return 0
		fi
	done
}

# ---- peers, when installed ----

have() { command -v "$1" >/dev/null; }

# Peers run only when they work on this machine: PEERS lists those that do,
# PEER_NOTES says for each why it is or is not in the tables.
PEERS=""
PEER_NOTES=()

peer_note() {
	PEER_NOTES+=("$1")
	log "bench: $1"
}

# dmtcp_usable: dmtcp_launch is on PATH and runs /bin/true under a coordinator
# of its own (a present DMTCP may still not work on this kernel).
dmtcp_usable() {
	local out
	if ! have dmtcp_launch; then
		peer_note "DMTCP: not installed (no dmtcp_launch on PATH; Debian 12 has no package)"
		return 1
	fi
	if ! out=$(timeout 60 dmtcp_launch --new-coordinator /bin/true 2>&1 </dev/null); then
		peer_note "DMTCP: installed but not usable here: 'dmtcp_launch --new-coordinator /bin/true' failed: $(tail -n 1 <<<"$out")"
		return 1
	fi
	peer_note "DMTCP: $(dmtcp_launch --version 2>&1 | head -n 1): runs here, measured"
}

# criu_usable: criu is on PATH and `criu check` passes (it needs root, and
# criu 3.17 of Debian 12 fails on kernel 6.18: "vdso: Failed to fill self vdso
# symtable"); the first errors it gives are the reason printed.
criu_usable() {
	local out ver why
	if ! have criu; then
		peer_note "CRIU: not installed (no criu on PATH; apt-get install criu)"
		return 1
	fi
	ver=$(criu --version 2>/dev/null | sed -n 's/^Version: //p')
	if ! out=$(criu check 2>&1 </dev/null); then
		why=$(grep -v 'exited, status' <<<"$out" | sed 's/^Error ([^)]*): //' | head -n 2 | paste -sd ';' - | sed 's/;/; /g')
		peer_note "CRIU ${ver:-?}: installed but not usable here: 'criu check' fails: ${why:-no reason given}"
		return 1
	fi
	peer_note "CRIU ${ver:-?}: 'criu check' passes: measured"
}

detect_peers() {
	if dmtcp_usable; then PEERS+=" dmtcp"; fi
	if criu_usable; then PEERS+=" criu"; fi
	printf '%s\n' "${PEER_NOTES[@]}" >"$RESULTS/peers.txt"
}

peer() { [[ " $PEERS " == *" $1 "* ]]; }

# dmtcp_once NAME ARGS VARIANT RUN (variant gzip: DMTCP's default; raw: --no-gzip)
dmtcp_once() {
	local name=$1 args=$2 variant=$3 run=$4 port ck out img n t0 t1 rc=0
	local flag=()
	[[ $variant == raw ]] && flag=(--no-gzip)
	free_port
	port=$PORT
	ck=$WORK/dmtcp.$name.$variant.$run
	out=$WORK/dmtcp.log
	mkdir -p "$ck"
	: >"$out"
	dmtcp_coordinator --daemon -p "$port" --ckptdir "$ck" >/dev/null 2>&1 || return 1
	# shellcheck disable=SC2086 # args are words
	spawn dmtcp_launch -p "$port" "${flag[@]}" $args >"$out" 2>"$WORK/dmtcp.err"
	local lpid=$BG_PID
	wait_line "$out" 0 "$lpid" || rc=1
	now t0
	if ((rc == 0)) && ! dmtcp_command -p "$port" --bcheckpoint >/dev/null 2>&1; then
		rc=1
	fi
	now t1
	img=$(find "$ck" -name 'ckpt_*.dmtcp' | head -n 1)
	if ((rc == 0)) && [[ -n $img ]]; then
		record "$name" dmtcp "$variant" ckpt_s "$run" "$(usecs $((t1 - t0)))"
		record "$name" dmtcp "$variant" image_bytes "$run" "$(stat -c %s "$img")"
		dmtcp_command -p "$port" --kill >/dev/null 2>&1 || true
		gone "$lpid" || true
		n=$(count_lines "$out")
		now t0
		spawn dmtcp_restart -p "$port" "$img" >/dev/null 2>>"$WORK/dmtcp.err"
		if wait_line "$out" "$n" "$BG_PID"; then
			now t1
			record "$name" dmtcp "$variant" restart_s "$run" "$(usecs $((t1 - t0)))"
		else
			rc=1
		fi
		gone_after dmtcp_command -p "$port" --kill
	else
		rc=1
	fi
	dmtcp_command -p "$port" --quit >/dev/null 2>&1 || true
	kill -KILL "$lpid" 2>/dev/null || true
	rm -rf "$ck"
	return "$rc"
}

gone_after() { "$@" >/dev/null 2>&1 || true; gone "$BG_PID" || true; }

# criu_once NAME ARGS VARIANT RUN (CRIU stores raw pages only)
criu_once() {
	local name=$1 args=$2 variant=$3 run=$4 ck out n pid t0 t1 rc=0
	ck=$WORK/criu.$name.$run
	out=$WORK/criu.log
	mkdir -p "$ck"
	: >"$out"
	# shellcheck disable=SC2086 # args are words
	spawn setsid $args >"$out" 2>/dev/null </dev/null
	pid=$BG_PID
	wait_line "$out" 0 "$pid" || rc=1
	now t0
	if ((rc == 0)) && ! criu dump -t "$pid" -D "$ck" -o dump.log >/dev/null 2>&1; then
		rc=1
	fi
	now t1
	if ((rc == 0)); then
		record "$name" criu "$variant" ckpt_s "$run" "$(usecs $((t1 - t0)))"
		record "$name" criu "$variant" image_bytes "$run" "$(du -sb "$ck" | cut -f1)"
		gone "$pid" || true
		n=$(count_lines "$out")
		now t0
		if criu restore -D "$ck" -d -o restore.log >/dev/null 2>&1 &&
			wait_line "$out" "$n" "$pid"; then
			now t1
			record "$name" criu "$variant" restart_s "$run" "$(usecs $((t1 - t0)))"
		else
			rc=1
		fi
	else
		log "bench: criu dump failed (see criu's log in a kept BENCH_TMP to know why)"
	fi
	kill -KILL "$pid" 2>/dev/null || true
	gone "$pid" || true
	rm -rf "$ck"
	return "$rc"
}

# cycle SYSTEM NAME ARGS VARIANT: RUNS runs of SYSTEM_once.
cycle() {
	local system=$1 name=$2 args=$3 variant=$4 run
	for ((run = 1; run <= RUNS; run++)); do
		if ! "${system}_once" "$name" "$args" "$variant" "$run"; then
			log "bench: $system $variant on $name: run $run FAILED"
			FAILURES=$((FAILURES + 1))
			return 0
		fi
	done
}

peer_cycles() {
	local name=$1 args=$2
	if peer dmtcp; then
		cycle dmtcp "$name" "$args" gzip
		cycle dmtcp "$name" "$args" raw
	fi
	if peer criu; then
		cycle criu "$name" "$args" raw
	fi
}

# ---- launch overhead ----

launch_overhead() {
	local port run t0 t1
	free_port
	port=$PORT
	"$STASIS" coordinator -p "$port" --daemon --ckpt-dir "$WORK" >/dev/null
	for ((run = 1; run <= LAUNCH_RUNS; run++)); do
		now t0
		/bin/true
		now t1
		record true native run launch_ms "$run" "$(awk -v u=$((t1 - t0)) 'BEGIN{print u/1000}')"
		now t0
		"$STASIS" launch -p "$port" --ckpt-dir "$WORK" /bin/true
		now t1
		record true stasis launch launch_ms "$run" "$(awk -v u=$((t1 - t0)) 'BEGIN{print u/1000}')"
	done
	"$STASIS" kill -p "$port" --coordinator >/dev/null 2>&1 || true
}

# ---- instant restart, incremental checkpoints, redis (issue 4) ----

RESUME=$ROOT/build/tests/programs/resume_clock
PAGEMEM=$ROOT/build/tests/programs/pagemem

# mapped_once RUN: RESUME_MIB of random memory checkpointed with --no-compress,
# then restarted three ways (mapped and verified: the default; --no-verify;
# --no-map: read), each timed from `stasis restart` to the program's first
# instruction after it (resume_clock prints the CLOCK_REALTIME it resumed at).
mapped_once() {
	local run=$1 port ck out img size variant opt t0 rpid resumed rc=0
	free_port
	port=$PORT
	ck=$WORK/ck.mapped.$run
	out=$WORK/resume.log
	mkdir -p "$ck"
	: >"$out"
	spawn "$STASIS" launch -p "$port" --ckpt-dir "$ck" --no-compress "$RESUME" "$MIB" >"$out" 2>"$WORK/launch.err"
	wait_line "$out" 0 "$BG_PID" || return 1
	img=$("$STASIS" checkpoint -p "$port" --kill 2>"$WORK/checkpoint.err" | grep '\.stasis$') || return 1
	gone "$BG_PID" || true
	size=$(stat -c %s "$out")
	for variant in mapped noverify read; do
		case $variant in
		mapped) opt=() ;;
		noverify) opt=(--no-verify) ;;
		read) opt=(--no-map) ;;
		esac
		truncate -s "$size" "$out"
		now t0
		spawn "$STASIS" restart -p "$port" "${opt[@]}" "$img" >/dev/null 2>"$WORK/restart.err"
		rpid=$BG_PID
		if wait_line "$out" 1 "$rpid"; then
			read -r _ resumed <<<"$(sed -n 2p "$out")"
			record mapped stasis "$variant" restart_next_s "$run" "$(awk -v a="$resumed" -v b="$t0" 'BEGIN { printf "%.6f", (a / 1000 - b) / 1e6 }')"
		else
			log "bench: restart $variant printed nothing: $(tail -n 3 "$WORK/restart.err")"
			rc=1
		fi
		"$STASIS" kill -p "$port" >/dev/null 2>&1 || true
		gone "$rpid" || true
	done
	"$STASIS" kill -p "$port" --coordinator >/dev/null 2>&1 || true
	rm -rf "$ck"
	return "$rc"
}

# pause_run NAME RUN CMD...: CMD (memhog's tick protocol) launched with
# STASIS_LOG=debug, and one checkpoint that does not end it: the runtime forks
# a writer and releases the program's threads, logging "threads paused N ms"
# (from the suspend signal to the release) in each process. Records the
# longest of those pauses and the wall time of `stasis checkpoint` (which
# returns when the child has written).
pause_run() {
	local name=$1 run=$2 port ck out err t0 t1 ms rc=0
	shift 2
	free_port
	port=$PORT
	ck=$WORK/ck.$name.$run
	out=$WORK/$name.log
	err=$WORK/$name.err
	mkdir -p "$ck"
	: >"$out"
	spawn env STASIS_LOG=debug "$STASIS" launch -p "$port" --ckpt-dir "$ck" "$@" >"$out" 2>"$err"
	local lpid=$BG_PID
	wait_line "$out" 0 "$lpid" || return 1
	sync
	now t0
	if "$STASIS" checkpoint -p "$port" >/dev/null 2>"$WORK/checkpoint.err"; then
		now t1
		record "$name" stasis forked ckpt_s "$run" "$(usecs $((t1 - t0)))"
		ms=$(grep -o 'threads paused [0-9.]* ms' "$err" | cut -d' ' -f3 | sort -g | tail -n 1)
		if [[ -n $ms ]]; then
			record "$name" stasis forked pause_ms "$run" "$ms"
		else
			log "bench: the runtime logged no 'threads paused' line (was the writer forked?)"
			rc=1
		fi
	else
		log "bench: forked checkpoint failed: $(cat "$WORK/checkpoint.err")"
		rc=1
	fi
	"$STASIS" kill -p "$port" --coordinator >/dev/null 2>&1 || true
	gone "$lpid" || true
	rm -rf "$ck"
	return "$rc"
}

# pause_once RUN: memhog with MIB MiB of random (private) memory.
pause_once() { pause_run pause "$1" "$MEMHOG" "$MIB" rand 0; }

# pause_shm_once RUN: shmhog with SHM_MIB MiB of random shared memory, mapped
# by it and a forked child (its pages are copied while the program is stopped).
pause_shm_once() { pause_run pause_shm "$1" "$SHMHOG" "$SHM_MIB"; }

# incremental_once RUN: pagemem with MIB MiB; a full checkpoint, then a step
# that rewrites about INCR_DIRTY_MIB MiB, then an incremental checkpoint (the
# program runs on). Records both images' sizes and times.
incremental_once() {
	local run=$1 port ck out stride img t0 t1 k rc=0
	free_port
	port=$PORT
	ck=$WORK/ck.incr.$run
	out=$WORK/pagemem.log
	stride=$((MIB / INCR_DIRTY_MIB))
	mkdir -p "$ck"
	: >"$out"
	rm -f "$WORK/verify.step"
	spawn "$STASIS" launch -p "$port" --ckpt-dir "$ck" --incremental "$PAGEMEM" "$WORK/verify" "$MIB" "$stride" >"$out" 2>"$WORK/launch.err"
	local lpid=$BG_PID
	wait_line "$out" 0 "$lpid" || return 1
	for k in 0 1; do
		if ((k)); then
			echo "$k" >"$WORK/verify.step"
			wait_line "$out" "$k" "$lpid" || rc=1
		fi
		sync
		now t0
		img=$("$STASIS" checkpoint -p "$port" 2>"$WORK/checkpoint.err" | grep '\.stasis$') || {
			log "bench: incremental checkpoint failed: $(cat "$WORK/checkpoint.err")"
			rc=1
			break
		}
		now t1
		local variant=full
		((k)) && variant=incremental
		record incremental stasis "$variant" ckpt_s "$run" "$(usecs $((t1 - t0)))"
		record incremental stasis "$variant" image_bytes "$run" "$(stat -c %s "$img")"
	done
	"$STASIS" kill -p "$port" --coordinator >/dev/null 2>&1 || true
	gone "$lpid" || true
	rm -rf "$ck"
	return "$rc"
}

# redis_bench: redis-benchmark against redis-server, natively and under
# `stasis launch`; throughput ratio (target >= 98 %).
redis_rps() { # PORT -> requests per second of SET and GET, summed
	redis-benchmark -p "$1" -q -n "${REDIS_REQUESTS:-200000}" -t set,get 2>/dev/null |
		awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { s += $i; break } } END { print s + 0 }'
}

redis_once() {
	local variant=$1 run=$2 port cport="" pid rps
	free_port
	port=$PORT
	if [[ $variant == native ]]; then
		spawn redis-server --port "$port" --save "" --appendonly no >"$WORK/redis.log" 2>&1
	else
		free_port
		cport=$PORT
		spawn "$STASIS" launch -p "$cport" --ckpt-dir "$WORK" redis-server --port "$port" --save "" --appendonly no >"$WORK/redis.log" 2>&1
	fi
	pid=$BG_PID
	for _ in {1..200}; do
		redis-cli -p "$port" ping >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		nap
	done
	if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
		log "bench: redis-server cannot run under stasis $variant yet: $(tail -n 3 "$WORK/redis.log")"
		kill -KILL "$pid" 2>/dev/null || true
		return 1
	fi
	rps=$(redis_rps "$port")
	record redis "$variant" run rps "$run" "$rps"
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
	[[ -n $cport ]] && "$STASIS" kill -p "$cport" --coordinator >/dev/null 2>&1
	gone "$pid" || true
}

redis_bench() {
	local run
	if ! have redis-server || ! have redis-benchmark; then
		log "bench: redis: redis-server/redis-benchmark not installed (apt-get install redis-server redis-tools)"
		return 0
	fi
	for ((run = 1; run <= RUNS; run++)); do
		redis_once native "$run" || return 0
		redis_once stasis "$run" || {
			log "bench: redis under stasis: not measured (it needs listening TCP sockets and epoll)"
			return 0
		}
	done
}

# The extra workloads' medians (summarize has put them in results.csv).
print_extra() {
	awk -F, -v mib="$MIB" -v dirty="$INCR_DIRTY_MIB" -v shm="$SHM_MIB" '
	NR > 1 { m[$1 "," $2 "," $3 "," $4] = $5 }
	function get(k) { return (k in m) ? m[k] : "" }
	END {
		if (get("mapped,stasis,mapped,restart_next_s") != "")
			printf "\n%s MiB random, --no-compress: restart to the next instruction (s)\n  mapped, checksums verified %.3f\n  mapped, --no-verify        %.3f\n  read, --no-map             %.3f\n", mib,
				get("mapped,stasis,mapped,restart_next_s"), get("mapped,stasis,noverify,restart_next_s"), get("mapped,stasis,read,restart_next_s")
		if (get("incremental,stasis,incremental,image_bytes") != "")
			printf "\n%s MiB, %s MiB rewritten between checkpoints\n  full image        %8.1f MiB %.3f s\n  incremental image %8.1f MiB %.3f s (%.2fx the rewritten bytes)\n", mib, dirty,
				get("incremental,stasis,full,image_bytes") / 1048576, get("incremental,stasis,full,ckpt_s"),
				get("incremental,stasis,incremental,image_bytes") / 1048576, get("incremental,stasis,incremental,ckpt_s"),
				get("incremental,stasis,incremental,image_bytes") / (dirty * 1048576)
		if (get("redis,native,run,rps") != "" && get("redis,stasis,run,rps") != "")
			printf "\nredis-benchmark SET+GET: native %.0f req/s, under stasis %.0f req/s (%.1f %%)\n",
				get("redis,native,run,rps"), get("redis,stasis,run,rps"), 100 * get("redis,stasis,run,rps") / get("redis,native,run,rps")
		if (get("pause,stasis,forked,pause_ms") != "")
			printf "\n%s MiB random, checkpoint that goes on (forked writer)\n  threads paused %.1f ms (target <= 100 ms), checkpoint wall time %.3f s\n", mib,
				get("pause,stasis,forked,pause_ms"), get("pause,stasis,forked,ckpt_s")
		if (get("pause_shm,stasis,forked,pause_ms") != "")
			printf "\n%s MiB random shared memory, two processes, checkpoint that goes on\n  threads paused %.1f ms (the shared pages are copied then), checkpoint wall time %.3f s\n", shm,
				get("pause_shm,stasis,forked,pause_ms"), get("pause_shm,stasis,forked,ckpt_s")
	}' "$RESULTS/results.csv"
}

# ---- results ----

# results.csv: the median of every (workload, system, variant, metric), then ratios.
summarize() {
	awk -F, '
	function median(key,   n, i, j, t, a) {
		n = split(vals[key], a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	NR > 1 {
		key = $1 "," $2 "," $3 "," $4
		if (!(key in vals)) order[++nk] = key
		vals[key] = vals[key] " " $6
		runs[key]++
	}
	END {
		print "workload,system,variant,metric,median,runs"
		for (i = 1; i <= nk; i++) {
			m[order[i]] = median(order[i])
			print order[i] "," m[order[i]] "," runs[order[i]]
		}
		for (i = 1; i <= nk; i++) {
			split(order[i], k, ",")
			w = k[1]; s = k[2]; v = k[3]; met = k[4]; x = m[order[i]]
			if (s == "dd" || s == "native" || x == 0) continue
			if (met == "ckpt_s" && (w ",dd,fsync,write_s") in m)
				printf "%s,%s,%s,ckpt_vs_dd_fsync,%.3f,\n", w, s, v, x / m[w ",dd,fsync,write_s"]
			if (met == "restart_s" && (w ",native,run,first_tick_s") in m)
				printf "%s,%s,%s,restart_vs_native,%.3f,\n", w, s, v, x / m[w ",native,run,first_tick_s"]
			if (met == "launch_ms" && (w ",native,run,launch_ms") in m)
				printf "%s,%s,%s,launch_overhead_ms,%.3f,\n", w, s, v, x - m[w ",native,run,launch_ms"]
			if (s != "stasis" || (met != "ckpt_s" && met != "restart_s" && met != "image_bytes"))
				continue
			for (j = 1; j <= nk; j++) {
				split(order[j], p, ",")
				if (p[1] != w || p[4] != met || p[2] == "stasis" || p[2] == "dd" || p[2] == "native" || m[order[j]] == 0)
					continue
				printf "%s,%s,%s,%s_vs_%s_%s,%.3f,\n", w, s, v, met, p[2], p[3], x / m[order[j]]
			}
		}
	}' "$RESULTS/runs.csv" >"$RESULTS/results.csv"
}

print_table() {
	awk -F, -v mib="$MIB" -v py="$PY_MIB" '
	NR > 1 { m[$1 "," $2 "," $3 "," $4] = $5; if (!($1 in seen)) { seen[$1] = 1; ws[++nw] = $1 } }
	function get(k) { return (k in m) ? m[k] : "" }
	function sec(x) { return x == "" ? "-" : sprintf("%.3f", x) }
	function mb(x) { return x == "" ? "-" : sprintf("%.1f", x / 1048576) }
	function ratio(x) { return x == "" ? "-" : sprintf("%.2fx", x) }
	function row(w, s, v, label,   c) {
		c = get(w "," s "," v ",ckpt_s")
		if (c == "" && get(w "," s "," v ",restart_s") == "") return
		printf "  %-22s %10s %11s %10s %9s %15s\n", label, sec(c),
			mb(get(w "," s "," v ",image_bytes")), sec(get(w "," s "," v ",restart_s")),
			ratio(get(w "," s "," v ",ckpt_vs_dd_fsync")), ratio(get(w "," s "," v ",restart_vs_native"))
	}
	function peers(w,   k, n, a) {
		for (k in m) {
			n = split(k, a, ",")
			if (a[1] == w && a[2] == "stasis" && a[4] ~ /_vs_(dmtcp|criu)_/)
				printf "  %-40s %s\n", "stasis " a[3] " " a[4], ratio(m[k])
		}
	}
	END {
		title["rand"] = mib " MiB random"; title["text"] = mib " MiB text"
		title["zero"] = mib " MiB untouched (zero)"; title["threads"] = "64 MiB random, 8 threads"
		title["python"] = "python3, " py " MiB (bench/pyhog.py)"
		for (i = 1; i <= nw; i++) {
			w = ws[i]
			if (w == "true" || w == "pause" || w == "pause_shm" || w == "mapped" || w == "incremental" || w == "redis") continue
			printf "\n%s\n", (w in title) ? title[w] : w
			printf "  %-22s %10s %11s %10s %9s %15s\n", "", "ckpt s", "image MiB", "restart s", "ckpt/dd", "restart/native"
			row(w, "stasis", "zstd", "stasis (zstd)")
			row(w, "stasis", "raw", "stasis --no-compress")
			row(w, "dmtcp", "gzip", "dmtcp (gzip)")
			row(w, "dmtcp", "raw", "dmtcp --no-gzip")
			row(w, "criu", "raw", "criu")
			printf "  %-22s %10s\n", "dd conv=fsync (limit)", sec(get(w ",dd,fsync,write_s"))
			printf "  %-22s %10s\n", "dd to page cache", sec(get(w ",dd,cache,write_s"))
			printf "  %-22s %10s %11s %10s\n", "native first tick", "", "", sec(get(w ",native,run,first_tick_s"))
			peers(w)
		}
		if (("true,stasis,launch,launch_ms") in m)
			printf "\nlaunch /bin/true (median ms): native %.2f, stasis launch %.2f, overhead %.2f ms\n",
				get("true,native,run,launch_ms"), get("true,stasis,launch,launch_ms"),
				get("true,stasis,launch,launch_overhead_ms")
	}' "$RESULTS/results.csv"
}

# One gnuplot bar chart of METRIC per workload, one bar per system/variant
# (the checkpoint chart also shows dd with fsync, the limit).
chart() {
	local metric=$1 scale=$2 ylabel=$3 png=$4 dat=$WORK/$1.dat
	awk -F, -v met="$metric" -v scale="$scale" '
	NR > 1 && $1 !~ /^(true|pause|pause_shm|mapped|incremental|redis)$/ && ($4 == met || (met == "ckpt_s" && $2 $3 $4 == "ddfsyncwrite_s")) {
		s = $2 "-" $3; if (s == "dd-fsync") s = "dd-conv=fsync(limit)"
		if (!(s in si)) { si[s] = ++ns; sn[ns] = s }
		if (!($1 in wi)) { wi[$1] = ++nw; wn[nw] = $1 }
		v[$1, s] = $5 / scale
	}
	END {
		printf "workload"; for (j = 1; j <= ns; j++) printf " %s", sn[j]; print ""
		for (i = 1; i <= nw; i++) {
			printf "%s", wn[i]
			for (j = 1; j <= ns; j++) printf " %s", ((wn[i], sn[j]) in v) ? v[wn[i], sn[j]] : "?"
			print ""
		}
	}' "$RESULTS/results.csv" >"$dat"
	local ncols
	ncols=$(head -n 1 "$dat" | wc -w)
	gnuplot <<-EOF
		set terminal pngcairo size 900,500 noenhanced
		set output "$png"
		set datafile missing "?"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		set key top left
		set ylabel "$ylabel"
		set grid ytics
		set yrange [0:*]
		plot for [c=2:$ncols] "$dat" using c:xtic(1) title columnheader(c)
	EOF
}

charts() {
	if ! have gnuplot; then
		log "bench: gnuplot is not installed: no charts (apt-get install gnuplot-nox)"
		return 0
	fi
	if chart ckpt_s 1 "checkpoint time, s" "$RESULTS/checkpoint.png" &&
		chart restart_s 1 "restart to first tick, s" "$RESULTS/restart.png" &&
		chart image_bytes 1048576 "image size, MiB" "$RESULTS/image.png"; then
		log "bench: charts in $RESULTS/*.png"
	else
		log "bench: gnuplot failed; no charts"
	fi
}

# ---- main ----

selected() { [[ -z ${BENCH_ONLY:-} || " $BENCH_ONLY " == *" $1 "* ]]; }

run_workload() {
	local name=$1 args=$2 ddmib=$3
	log "bench: $name ($args): dd, native, stasis zstd, stasis --no-compress"
	dd_runs "$name" "$ddmib"
	native_runs "$name" "$args"
	cycle stasis "$name" "$args" zstd
	cycle stasis "$name" "$args" raw
	peer_cycles "$name" "$args"
}

main() {
	[[ -x $STASIS && -x $MEMHOG ]] || { log "bench: build first: make"; exit 1; }
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$RESULTS"
	WORK=$(mktemp -d "$TMPBASE/stasis-bench.XXXXXX")
	export STASIS_RUN_DIR=$WORK/run
	mkdir -p "$STASIS_RUN_DIR"
	exec {NAPFD}<> <(:)
	echo "workload,system,variant,metric,run,value" >"$RESULTS/runs.csv"
	log "bench: $RUNS runs each; images and dd files in $WORK ($(df -h --output=source,fstype "$WORK" | tail -n 1))"
	detect_peers
	make_source
	local w name args ddmib
	for w in "${WORKLOADS[@]}"; do
		IFS='|' read -r name args ddmib <<<"$w"
		selected "$name" || continue
		if [[ $name == python && ! -x $PYTHON ]]; then
			log "bench: python: $PYTHON is not installed (apt-get install python3): skipped"
			continue
		fi
		run_workload "$name" "$args" "$ddmib"
	done
	selected true && launch_overhead
	selected pause && cycle_extra pause
	selected pause_shm && cycle_extra pause_shm
	selected mapped && cycle_extra mapped
	selected incremental && cycle_extra incremental
	selected redis && redis_bench
	summarize
	print_table
	print_extra
	printf '\npeers:\n'
	printf '  %s\n' "${PEER_NOTES[@]}"
	charts
	log "bench: every measurement in $RESULTS/runs.csv, medians and ratios in $RESULTS/results.csv"
	if ((FAILURES)); then
		log "bench: $FAILURES series FAILED (see above)"
		exit 1
	fi
}

main "$@"
