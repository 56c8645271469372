"""Slurm across nodes (issue 10): a cluster of network-namespace hosts
(tests/e2e/slurm.py's NodesCluster: slurmctld on host1, a slurmd on host2 and
on host3, each in its host's own network), running
examples/slurm/stasis-nodes-job.sh.

test_two_node_job_outlives_its_time_limit: `sbatch -N2` with tests/programs/
series as a job step, one task per node, the work (66 s) longer than the time
limit (1 minute): Slurm's own signal checkpoints both nodes' processes into
one consistent cut, the job requeues itself, and the next run restarts each
node's part on the node of its index, as many times as it takes; the job ends
COMPLETED with the uninterrupted result on each node.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import slurm
from conftest import ROOT, program
from hosts import Hosts
from test_mpi import LAUNCHERS, ROOT_ENV, mpi_program
from test_slurm import LIMIT, N, NOISE, PACE_MS, STEP, check_output

SCRIPT = ROOT / "examples" / "slurm" / "stasis-nodes-job.sh"


@pytest.fixture(scope="module")
def nodes(request):
    slurm.require()
    d = tempfile.mkdtemp(prefix="stasis-slurm-nodes-")
    os.chmod(d, 0o755)  # munged: its socket reachable by all
    hosts = Hosts(d + "/hosts", 3, sshd=True)
    c = None
    left = []
    try:
        c = slurm.NodesCluster(d + "/cluster", hosts.start())
        c.start()
        yield c
    finally:
        left = c.stop() if c else hosts.close()
        shutil.rmtree(d, ignore_errors=True)
    if not request.session.testsfailed:
        assert not left, f"still running after the cluster stopped: {left}"


def submit(cluster, name, args, opts):
    sub = cluster.dir / f"submit-{name}"
    sub.mkdir()
    log = sub / "job.out"
    job = cluster.sbatch(SCRIPT, *args, opts=[*opts, f"--output={log}"], cwd=sub)
    return job, sub, log


def test_two_node_job_outlives_its_time_limit(nodes):
    job, sub, log = submit(nodes, "series", [program("series"), N, STEP, PACE_MS],
                           ["-N2", *LIMIT])
    info = nodes.wait_done(job, timeout=300)
    text = log.read_text(errors="replace")
    assert (info["JobState"], info["ExitCode"]) == ("COMPLETED", "0:0"), f"{info}\n{text}"
    runs = int(info["Restarts"]) + 1
    assert runs >= 2, text
    images = check_output(text, job, sub, runs, PACE_MS, tasks=2, image_dir=r"node[01]/")
    # one image per node and checkpoint, the newest two generations kept on each
    ckpt = sub / f"stasis-ckpt-{job}"
    for n in (0, 1):
        mine = [i for i in images if f"/node{n}/" in i]
        assert len(mine) == runs - 1, text
        assert sorted(str(p) for p in (ckpt / f"node{n}").glob("*.stasis")) == sorted(mine[-2:])
    nodes.wait_no_processes(job)


# ---- MPI jobs under Slurm ----------------------------------------------------

ONE_NODE = ROOT / "examples" / "slurm" / "stasis-job.sh"
RING = (300, 50, 262144)  # 300 steps of 50 ms, 2 MiB per rank passed on


def mpi_cmd(mpi, nnodes, ssh, prog):
    """The launcher's command line in the job: the ranks' hosts come from
    Slurm's allocation (4 ranks on one node, 2 on each of two); across nodes
    the remote daemon is started over ssh, not with srun (a daemon slurmstepd
    starts is outside the computation)."""
    args = [prog, *RING]
    if mpi == "openmpi":
        remote = ["--mca", "plm", "rsh", "--mca", "plm_rsh_agent", ssh] if nnodes > 1 else []
        return ["mpirun.openmpi", *remote, "-np", 4, *args]
    launcher = ["-launcher", "ssh", "-launcher-exec", ssh] if nnodes > 1 else ["-launcher",
                                                                                 "fork"]
    return ["mpiexec.mpich", *launcher, "-np", 4, *args]


def steps_in(log):
    text = log.read_text(errors="replace") if log.exists() else ""
    return len(re.findall(r"^step ", text, re.M)), text


def wait_running(cluster, job, log, more, after=""):
    """Wait until the job's output has `more` steps past the line `after`
    (a run's first line): the program runs, and a checkpoint falls mid-work."""
    deadline = time.monotonic() + 120
    while True:
        n, text = steps_in(log)
        if after in text and steps_in_after(text, after) >= more:
            return
        state = cluster.job(job).get("JobState")
        assert time.monotonic() < deadline and state not in slurm.ENDED, (
            f"job {job} {state}, {n} steps\n{text}\n{cluster.describe()}")
        time.sleep(0.1)


def steps_in_after(text, after):
    return len(re.findall(r"^step ", text[text.index(after):] if after else text, re.M))


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
@pytest.mark.parametrize("nnodes", [1, 2])
def test_mpi_job(nodes, mpi, nnodes):
    """A 4-rank MPI ring (test_mpi.py's) as a Slurm job, on one node
    (stasis-job.sh) and on two (stasis-nodes-job.sh, the launcher in the
    script): checkpointed and requeued twice (scancel --signal=USR1 --batch,
    each time after steps not seen before), restarted by the requeued runs
    on the nodes Slurm gives; the job's output but the script's, the images'
    and Slurm's lines is the uninterrupted run's, byte for byte."""
    prog = mpi_program(mpi, "ring")
    ssh = nodes.dir / "ssh"
    ssh.write_text(f'#!/bin/sh\nexec ssh -F {nodes.hosts.ssh_config} "$@"\n')
    ssh.chmod(0o755)
    env = dict(nodes.env, **ROOT_ENV, STASIS_SSH=str(ssh))
    if mpi == "mpich" and nnodes > 1:
        env["UCX_TLS"] = "tcp,self"  # the hosts share a kernel: test_mpi.py's two-host test
    native = subprocess.run([*LAUNCHERS[mpi], "-np", "4", prog, *map(str, RING)], env=env,
                            capture_output=True, text=True, timeout=120, cwd=nodes.dir)
    assert native.returncode == 0, native.stderr
    opts = ["-N", nnodes, f"--ntasks-per-node={4 // nnodes}", "--time=10"]
    script = ONE_NODE
    if nnodes > 1:
        script = SCRIPT
        env["STASIS_IN_SCRIPT"] = "1"
    sub = nodes.dir / f"submit-{mpi}-{nnodes}"
    sub.mkdir()
    log = sub / "job.out"
    job = nodes.sbatch(script, *mpi_cmd(mpi, nnodes, ssh, prog),
                       opts=[*opts, f"--output={log}"], cwd=sub, env=env)
    for run in (1, 2):
        wait_running(nodes, job, log, 10, f"job {job} run {run}: ")
        nodes.run("scancel", "--signal=USR1", "--batch", job)
    # 15 s of work, but 4 ranks and their proxies on 2 shared cores: at load 12
    # the last run of the MPICH job on two nodes took over 4 minutes
    info = nodes.wait_done(job, timeout=600)
    text = log.read_text(errors="replace")
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("COMPLETED", "0:0", "2"), (
        f"{info}\n{text}\n{nodes.describe()}")
    ours = [l for l in text.splitlines(keepends=True)
            if not l.startswith("stasis-job: ") and not l.rstrip().endswith(".stasis")
            and not any(re.fullmatch(n, l.rstrip("\n")) for n in NOISE)]
    assert "".join(ours) == native.stdout, text
    nodes.wait_no_processes(job)
