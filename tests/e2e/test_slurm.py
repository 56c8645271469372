"""Slurm (issue 10): batch jobs that outlive their time limit.

A real one-node cluster (tests/e2e/slurm.py) runs the job script users copy,
examples/slurm/stasis-job.sh, on tests/programs/series, whose result can be
checked. In the two main tests its work (66 s, mostly asleep) is longer than
the job's time limit (1 minute): Slurm itself sends USR1 to the batch shell
50 s before the limit (--signal=B:USR1@50, delivered on its 30-second tick);
the script checkpoints the program into $SLURM_SUBMIT_DIR/stasis-ckpt-JOBID,
ends it and requeues the job; the next run restarts it from there, as many
times as it takes. The program runs in the batch script itself, and as a job
step (srun). Two more tests send the signal early (scancel --signal=USR1
--batch): a checkpoint on demand from outside the job, and a job step of two
tasks. Every job must end COMPLETED with the result of an uninterrupted run,
every progress line once, in order, and nothing of it left running.

The jobs run side by side (the node shares its 2 CPUs between them), so that
the file takes about 90 s, the time of the longest.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import slurm
from conftest import ROOT, program

SCRIPT = ROOT / "examples" / "slurm" / "stasis-job.sh"
N, STEP, PACE_MS = 3000000, 100000, 2200  # 30 steps of 2.2 s: 66 s of work
LIMIT = ["--time=1", "--signal=B:USR1@50"]
NOBODY = 65534

# What Slurm, srun and bash say when a run ends by the checkpoint and the
# requeue; nothing else may be in the job's output (no stasis warning).
NOISE = [
    r"/\S+/slurm_script: line \d+: +\d+ Killed +\"\$\{(launch|restart)_step\[@\]\}\" "
    r"stasis (launch|restart) .*",
    r"/\S+/slurm_script: line \d+: +\d+ Killed +stasis launch --ckpt-dir \"\$ckpt_dir\" -- "
    r"\"\$@\"",  # stasis-nodes-job.sh
    r"slurmstepd-\S+: error: \*\*\* (JOB|STEP) [\d.]+ ON \S+ CANCELLED AT \S+ DUE TO JOB "
    r"REQUEUE \*\*\*",
    r"srun: error: \S+: tasks? [\d-]+: (Killed|Exited with exit code 137)",
    r"srun: Force Terminated StepId=\d+\.\d+",
    # (cut short when srun is killed meanwhile)
    r"srun: Job step aborted(: Waiting up to \d+ seconds for job step to finish\.)?",
    r"srun: got SIGCONT",  # the requeue's signals to a step's srun
    r"srun: forcing job termination",
]


@pytest.fixture(scope="module")
def cluster(request):
    slurm.require()
    c = slurm.Cluster(tempfile.mkdtemp(prefix="stasis-slurm-"))
    left = []
    try:
        c.start()
        yield c
    finally:
        left = c.stop()
        shutil.rmtree(c.dir, ignore_errors=True)
    # after a failed test, what it left running is no news
    if not request.session.testsfailed:
        assert not left, f"still running after the cluster stopped: {left}"


@pytest.fixture(scope="module")
def jobs(cluster):
    """Both jobs, submitted together: {variant: (job id, submit dir, output)}."""
    out = {}
    for variant, opts in (("batch", []), ("srun", ["--export=ALL,STASIS_SRUN=1"])):
        sub = cluster.dir / f"submit-{variant}"
        sub.mkdir()
        log = sub / "job.out"
        job = cluster.sbatch(SCRIPT, program("series"), N, STEP, PACE_MS,
                             opts=[*LIMIT, *opts, f"--output={log}"], cwd=sub)
        out[variant] = (job, sub, log)
    return out


def reference():
    r = subprocess.run([program("series"), str(N), str(STEP), "0"], capture_output=True,
                       text=True, timeout=60, check=True)
    return r.stdout.splitlines()[-1]


def check_output(text, job, sub, runs, pace, tasks=1, image_dir=""):
    """The job's output, line by line: the script's lines for each run, the
    images each checkpoint wrote (one per task, in the checkpoint directory's
    subdirectory matching the pattern image_dir), every progress line once per
    task and in order, the uninterrupted run's result once per task, and
    nothing else but Slurm's own lines."""
    ckpt = sub / f"stasis-ckpt-{job}"
    lines = text.splitlines()
    want = []
    for r in range(1, runs + 1):
        head = f"stasis-job: job {job} run {r}: "
        want.append(head + (f"launch {program('series')} {N} {STEP} {pace}" if r == 1
                            else f"restart from {ckpt}"))
        if r < runs:
            want.append(head + "checkpoint before the time limit")
    want.append(f"stasis-job: job {job} run {runs}: the program ended with status 0")
    assert [l for l in lines if l.startswith("stasis-job: ")] == want, text
    progress = [int(l.split()[1]) for l in lines if l.startswith("progress ")]
    steps = list(range(STEP, N + 1, STEP))
    assert sorted(progress) == sorted(steps * tasks), text
    if tasks == 1:
        assert progress == steps, text
    assert [l for l in lines if l.startswith("result ")] == [reference()] * tasks, text
    images = [l for l in lines if l.endswith(".stasis")]
    assert len(images) == (runs - 1) * tasks, text
    for i in images:
        assert re.fullmatch(rf"{re.escape(str(ckpt))}/{image_dir}ckpt_series_[0-9a-f]+_\d+_g\d+"
                            r"\.stasis", i), i
    other = [l for l in lines if not l.startswith(("stasis-job: ", "progress ", "result "))
             and l not in images and not any(re.fullmatch(n, l) for n in NOISE)]
    assert other == [], text
    return images


def check_job(cluster, job, sub, log, pace=PACE_MS, tasks=1, more_images=(), uid=None):
    """The job ended well, its output is right (check_output), the newest two
    generations are in its directory, its coordinator used the port derived
    from the job id, and nothing of it runs any more. Returns its run count."""
    info = cluster.wait_done(job, timeout=300)
    text = log.read_text(errors="replace")
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), f"{info}\n{text}"
    runs = int(info["Restarts"]) + 1
    images = [*more_images, *check_output(text, job, sub, runs, pace, tasks)]
    # the newest two generations stay in the job's directory, with the script
    ckpt = sub / f"stasis-ckpt-{job}"
    assert sorted(str(p) for p in ckpt.glob("*.stasis")) == sorted(images[-2 * tasks:])
    assert len(list(ckpt.glob("stasis_restart_*.sh"))) == 1
    # the coordinator listened on the port derived from the job id (docs/slurm.md)
    port = 20000 + job % 10000
    rundir = Path(f"/tmp/stasis-{os.getuid() if uid is None else uid}-slurm-{job}")
    assert (rundir / f"coord-{port}.log").exists(), (
        f"no coordinator log for port {port} in {rundir}: {list(rundir.iterdir())} "
        f"(was something else listening on {port}?)")
    cluster.wait_no_processes(job)
    return runs


def test_checkpoint_on_demand(cluster, jobs):
    """From outside the job, as a user before a maintenance: stasis commands
    run in the job with srun --jobid --overlap find its coordinator with no
    option (status, a checkpoint the program goes on after), and scancel
    --signal=USR1 --batch runs the script's checkpoint and requeue at once.
    The job runs as a plain user (nobody), as jobs do.
    Runs while the two jobs below run (the node shares its CPUs)."""
    sub = cluster.dir / "submit-on-demand"
    sub.mkdir()
    os.chown(sub, NOBODY, NOBODY)
    log = sub / "job.out"
    job = cluster.sbatch(SCRIPT, program("series"), N, STEP, 500, cwd=sub,  # 15 s of work
                         opts=[f"--uid={NOBODY}", f"--gid={NOBODY}", f"--output={log}"])
    # as the job's user (root's srun into another user's job fails: "job has expired")
    overlap = ["runuser", "-u", "nobody", "--", "srun", f"--jobid={job}", "--overlap", "stasis"]
    deadline = time.monotonic() + 60
    while True:
        r = cluster.run(*overlap, "status", "--json", check=False)
        if r.returncode == 0 and json.loads(r.stdout)["nprocs"] == 1:
            break
        assert time.monotonic() < deadline, f"{r.stderr}\n{cluster.describe()}"
        time.sleep(0.5)
    status = json.loads(r.stdout)
    ckpt = sub / f"stasis-ckpt-{job}"
    assert (status["port"], status["ckpt_dir"]) == (20000 + job % 10000, str(ckpt))
    r = cluster.run(*overlap, "checkpoint")
    first = r.stdout.split()
    assert len(first) == 1 and first[0].startswith(f"{ckpt}/ckpt_series_"), r.stdout
    cluster.run("scancel", "--signal=USR1", "--batch", job)
    assert check_job(cluster, job, sub, log, pace=500, more_images=first, uid=NOBODY) == 2


def test_srun_tasks_make_one_computation(cluster, jobs):
    """sbatch -n 2 with the program as a job step: srun runs a stasis launch
    per task, the two launches start one coordinator between them (on the
    job's port) and join it as one computation; the checkpoint writes an image
    of each, and one restart (srun --ntasks=1) brings both back, each ending
    with the uninterrupted result. Runs beside the two jobs below."""
    sub = cluster.dir / "submit-tasks"
    sub.mkdir()
    log = sub / "job.out"
    job = cluster.sbatch(SCRIPT, program("series"), N, STEP, 500, cwd=sub,
                         opts=["--export=ALL,STASIS_SRUN=1", "--ntasks=2", f"--output={log}"])
    # both tasks' processes are in the job's computation (counting their
    # progress lines told only that they ran, maybe under two coordinators)
    status = ["srun", f"--jobid={job}", "--overlap", "--ntasks=1", "stasis", "status", "--json"]
    deadline = time.monotonic() + 60
    while True:
        r = cluster.run(*status, check=False)
        if r.returncode == 0 and json.loads(r.stdout)["nprocs"] == 2:
            break
        state = cluster.job(job).get("JobState")
        assert time.monotonic() < deadline and state in ("PENDING", "RUNNING"), (
            f"job {job} {state}: {r.stdout} {r.stderr}\n{cluster.describe()}")
        time.sleep(0.2)
    cluster.run("scancel", "--signal=USR1", "--batch", job)
    assert check_job(cluster, job, sub, log, pace=500, tasks=2) == 2


def test_batch_job_outlives_its_time_limit(cluster, jobs):
    """The program under stasis launch in the batch script itself."""
    # 66 s of work in runs of at most 60 s: at least one checkpoint and requeue
    assert check_job(cluster, *jobs["batch"]) >= 2


def test_srun_step_outlives_its_time_limit(cluster, jobs):
    """The program under stasis launch as a job step (srun): the batch
    script's stasis checkpoint finds the step's coordinator by the job id."""
    assert check_job(cluster, *jobs["srun"]) >= 2
