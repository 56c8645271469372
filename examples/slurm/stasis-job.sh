#!/bin/bash
# A Slurm batch job that outlives its time limit with Stasis (docs/slurm.md).
#
#   sbatch stasis-job.sh PROGRAM [ARGS...]     the program runs in this script
#   sbatch --export=ALL,STASIS_SRUN=1 [-n TASKS] stasis-job.sh PROGRAM [ARGS...]
#                                              the program runs as a job step (srun),
#                                              once per task, all on one node
#
# The program runs under `stasis launch`. Slurm sends USR1 to this script
# (B:, the batch shell only) 5 minutes before the time limit: the script then
# checkpoints the program, ends it and requeues the job. The requeued job keeps
# its job id, so its next run finds the images in the job's checkpoint
# directory and restarts the program from them, as many times as it takes.
# stasis takes its port, token and checkpoint directory from the job: no
# options needed.
#
# Change --time to what your site allows; keep the lead of --signal above the
# time a checkpoint takes plus 30 s (Slurm looks at time limits every 30 s).
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append

ckpt_dir=${STASIS_CKPT_DIR:-$SLURM_SUBMIT_DIR/stasis-ckpt-$SLURM_JOB_ID}
run=$((${SLURM_RESTART_COUNT:-0} + 1))
launch_step=() restart_step=()
if [[ ${STASIS_SRUN:-} == 1 ]]; then
	# a launch per task of the job (sbatch -n): their processes make one
	# computation, which one restart brings back whole, with the job's CPUs
	launch_step=(srun)
	restart_step=(srun --ntasks=1 --cpus-per-task="${SLURM_CPUS_ON_NODE:-1}")
fi

# On the signal: checkpoint (the image paths go to the job's output), end the
# program, requeue. A checkpoint refused because the program is not ready yet
# (a restart still restoring it) is tried again for a minute.
checkpoint_and_requeue() {
	echo "stasis-job: job $SLURM_JOB_ID run $run: checkpoint before the time limit"
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

if compgen -G "$ckpt_dir/*.stasis" >/dev/null; then
	echo "stasis-job: job $SLURM_JOB_ID run $run: restart from $ckpt_dir"
	"${restart_step[@]}" stasis restart --dir "$ckpt_dir" &
else
	echo "stasis-job: job $SLURM_JOB_ID run $run: launch $*"
	"${launch_step[@]}" stasis launch -- "$@" &
fi
pid=$!
# The trap interrupts wait (status > 128): wait again while the program runs.
wait "$pid"
status=$?
while ((status > 128)) && kill -0 "$pid" 2>/dev/null; do
	wait "$pid"
	status=$?
done
echo "stasis-job: job $SLURM_JOB_ID run $run: the program ended with status $status"
exit "$status"
