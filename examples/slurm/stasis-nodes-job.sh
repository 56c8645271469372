#!/bin/bash
# A Slurm batch job over several nodes that outlives its time limit with Stasis
# (docs/slurm.md, "Jobs over several nodes").
#
#   sbatch -N NODES stasis-nodes-job.sh PROGRAM [ARGS...]
#       the program runs as a job step (srun): a task per node, or as many as
#       sbatch's --ntasks-per-node says
#   sbatch -N NODES --export=ALL,STASIS_IN_SCRIPT=1 stasis-nodes-job.sh LAUNCHER [ARGS...]
#       the program runs in this script and starts its processes on the other
#       nodes itself, over ssh: an MPI launcher (Open MPI's mpirun with
#       --mca plm rsh, MPICH's mpiexec -launcher ssh); set STASIS_SSH to the
#       ssh command if it is not `ssh`
#
# As stasis-job.sh does on one node: Slurm sends USR1 to this script before
# the time limit; it checkpoints every process of the job on every node, ends
# them and requeues the job; the next run restarts them from the images, on
# the nodes Slurm then gives the job (node i of the old run's list on node i
# of the new one). The job's coordinator runs in this script, on the first
# node, listening on the node's name; every node reads its token and writes
# its images in the job's checkpoint directory, which must be on a file
# system that every node sees (the submit directory, by default).
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append

export STASIS_CKPT_DIR=${STASIS_CKPT_DIR:-$SLURM_SUBMIT_DIR/stasis-ckpt-$SLURM_JOB_ID}
ckpt_dir=$STASIS_CKPT_DIR
run=$((${SLURM_RESTART_COUNT:-0} + 1))
say() { echo "stasis-job: job $SLURM_JOB_ID run $run: $*"; }
mkdir -p -m 700 "$ckpt_dir" || exit 1

# The job's coordinator on this node, listening on the node's address in
# Slurm (NodeAddr, resolved); its port file and a copy of its token where
# every node reads them.
node_addr() {
	local a
	a=$(scontrol show node "$SLURMD_NODENAME" | sed -n 's/.*NodeAddr=\([^ ]*\).*/\1/p')
	getent ahostsv4 "$a" | awk '{ print $1; exit }'
}
export STASIS_COORD_HOST=${STASIS_COORD_HOST:-$(node_addr)}
export STASIS_TOKEN_FILE=$ckpt_dir/coord.token
export STASIS_RUN_DIR=${STASIS_RUN_DIR:-/tmp/stasis-$(id -u)-slurm-$SLURM_JOB_ID}
rm -f "$ckpt_dir/coord.port"
mkdir -p -m 700 "$STASIS_RUN_DIR" || exit 1
# Processes on the coordinator's node write where the coordinator keeps its
# checkpoints: with a job step, that is node 0's directory (the first node
# runs this script); with a launcher in this script, the job's directory.
coord_dir=$ckpt_dir
[[ ${STASIS_IN_SCRIPT:-} == 1 ]] || coord_dir=$ckpt_dir/node0
mkdir -p -m 700 "$coord_dir" || exit 1
stasis coordinator --bind "$STASIS_COORD_HOST" --ckpt-dir "$coord_dir" \
	--port-file "$ckpt_dir/coord.port" --log-file "$STASIS_RUN_DIR/coordinator.log" &
coord=$!
trap 'kill "$coord" 2>/dev/null' EXIT # it ends with this script, whichever way
for _ in {1..300}; do # 30 s at most
	[[ -s $ckpt_dir/coord.port ]] && break
	kill -0 "$coord" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -s $ckpt_dir/coord.port ]]; then
	echo "stasis-job: the coordinator did not start on $STASIS_COORD_HOST:" \
		"$(tail -n 3 "$STASIS_RUN_DIR/coordinator.log")" >&2
	exit 1
fi
STASIS_PORT=$(<"$ckpt_dir/coord.port")
export STASIS_PORT
install -m 600 "$STASIS_RUN_DIR/coord-$STASIS_PORT.token" "$STASIS_TOKEN_FILE" || exit 1

# On the signal: checkpoint every node's processes (the image paths go to the
# job's output), end them, requeue. A checkpoint refused because the program
# is not ready yet (a restart still restoring it) is tried again for a minute.
checkpoint_and_requeue() {
	say "checkpoint before the time limit"
	for _ in {1..12}; do
		if stasis checkpoint --kill; then
			scontrol requeue "$SLURM_JOB_ID" && exit 0
			return
		fi
		kill -0 "$pid" 2>/dev/null || return
		sleep 5
	done
	echo "stasis-job: no checkpoint: the program runs on" >&2
}
trap checkpoint_and_requeue USR1

nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
if [[ ${STASIS_IN_SCRIPT:-} == 1 ]]; then
	if compgen -G "$ckpt_dir/*.stasis" >/dev/null; then
		# the restart script of the newest checkpoint: this node's part here,
		# the other nodes' over ssh, each old node's on the new node of its rank
		script=$(ls -t "$ckpt_dir"/stasis_restart_*.sh | head -n 1)
		map=() old=($(<"$ckpt_dir/nodes")) new=($nodes)
		for i in "${!old[@]}"; do map+=(--host-map "${old[i]}=${new[i]}"); done
		say "restart from $ckpt_dir"
		STASIS_REMOTE_TOKEN_FILE=$STASIS_TOKEN_FILE \
			sh "$script" "${map[@]}" --coord-host "$STASIS_COORD_HOST" &
	else
		echo "$nodes" >"$ckpt_dir/nodes"
		say "launch $*"
		stasis launch --ckpt-dir "$ckpt_dir" -- "$@" &
	fi
else
	# each node's images in a directory of its own, restarted on the node of
	# the same index
	for ((i = 0; i < SLURM_JOB_NUM_NODES; i++)); do mkdir -p -m 700 "$ckpt_dir/node$i"; done
	if compgen -G "$ckpt_dir/node*/*.stasis" >/dev/null; then
		say "restart from $ckpt_dir"
		srun -N "$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 \
			bash -c 'exec stasis restart --dir "$STASIS_CKPT_DIR/node$SLURM_NODEID"' &
	else
		say "launch $*"
		srun bash -c 'exec stasis launch --ckpt-dir "$STASIS_CKPT_DIR/node$SLURM_NODEID" -- "$@"' \
			stasis-launch "$@" &
	fi
fi
pid=$!
# The trap interrupts wait (status > 128): wait again while the program runs.
wait "$pid"
status=$?
while ((status > 128)) && kill -0 "$pid" 2>/dev/null; do
	wait "$pid"
	status=$?
done
say "the program ended with status $status"
exit "$status"
