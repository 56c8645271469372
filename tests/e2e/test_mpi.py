"""MPI jobs (issue 10): `stasis launch mpirun -np 4 ./app`, both MPIs of Debian.

Every job is launched whole under Stasis (the launcher, its daemons or
proxies, the ranks), checkpointed while it runs on, then twice checkpointed
with --kill and restarted. Its output must be, byte for byte, the output of
the same job run without Stasis: the programs (tests/mpi/*.c) print only
what an uninterrupted run prints, each checking its state against a closed
formula at every step. A test waits for the job to print a step it has not
printed yet before each checkpoint, so that every checkpoint falls in the
middle of the work.

Open MPI refuses to run as root without --allow-run-as-root; the tests run
as root with Open MPI's two variables that say so (as a root user must), and
once as a plain user (nobody), which needs neither. On 2 cores Open MPI needs
--oversubscribe for 4 ranks. Nothing else is set for the MPIs.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD, STASIS, _descendants, free_port, kill_descendants
from dist import cluster  # noqa: F401  (the fixture)
from test_distributed import copy_images

MPI_BIN = BUILD / "tests" / "mpi"
NOBODY = 65534
LAUNCHERS = {
    "openmpi": ["mpirun.openmpi", "--oversubscribe"],
    "mpich": ["mpiexec.mpich"],
}
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def mpi_program(mpi, name):
    """The program built for this MPI; skips (fails in CI) when the MPI is missing."""
    launcher = LAUNCHERS[mpi][0]
    if not shutil.which(launcher) or not shutil.which(f"mpicc.{mpi}"):
        why = (f"{launcher} or mpicc.{mpi} not installed (Debian: apt-get install "
               f"{'openmpi-bin libopenmpi-dev' if mpi == 'openmpi' else 'mpich libmpich-dev'})")
        if os.environ.get("STASIS_CI"):
            pytest.fail(why + ", and CI must run this test", pytrace=False)
        pytest.skip(why)
    p = MPI_BIN / f"{name}.{mpi}"
    if not p.exists():
        pytest.fail(f"{p} is missing: build it with 'make -j2'")
    return str(p)


class Job:
    """One MPI job in a directory of its own, as root or as nobody."""

    def __init__(self, mpi, argv, user=None, nranks=4, env=None):
        self.dir = Path(tempfile.mkdtemp(prefix=f"stasis-mpi-{mpi}-"))
        os.chmod(self.dir, 0o755)
        self.user = user
        self.ckpt = self.dir / "ckpt"
        self.ckpt.mkdir()
        run = self.dir / "run"
        run.mkdir(mode=0o700)
        if user is not None:
            for p in (self.dir, self.ckpt, run):
                os.chown(p, user, user)
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("STASIS_", "OMPI_", "PMIX_", "LD_PRELOAD"))}
        self.env.update(STASIS_RUN_DIR=str(run), STASIS_PORT=str(self.port),
                        HOME=str(self.dir), TMPDIR="/tmp")
        if user is None:
            self.env.update(ROOT_ENV)
        self.env.update(env or {})
        self.cmd = [*LAUNCHERS[mpi], "-np", str(nranks), *map(str, argv)]
        # the processes of the job: the launcher, MPICH's proxy, the ranks
        self.nprocs = 1 + (mpi == "mpich") + nranks
        self.out = self.dir / "out"
        self.procs = []
        self.leftovers = set()  # the MPI's files a killed job leaves (cleanup)

    def _as_user(self, argv):
        if self.user is None:
            return argv
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups",
                *argv]

    def _spawn(self, argv, out, err):
        for f in (out, err):  # restart opens them again by path, as the user
            Path(f).touch()
            if self.user is not None:
                os.chown(f, self.user, self.user)
        with open(out, "ab") as fo, open(err, "ab") as fe:
            p = subprocess.Popen(self._as_user(argv), cwd=self.dir, env=self.env,
                                 stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                 start_new_session=True)
        self.procs.append(p)
        return p

    def stasis(self, *args, timeout=60):
        return subprocess.run(self._as_user([str(STASIS), *map(str, args)]), cwd=self.dir,
                              env=self.env, capture_output=True, text=True, timeout=timeout)

    def native(self, cmd=None):
        """The job (or cmd) without Stasis: its output."""
        r = subprocess.run(self._as_user(cmd or self.cmd), cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"native run failed ({r.returncode}): {r.stdout}{r.stderr}"
        return r.stdout

    def launch(self):
        # stdout a file of its own, written by the launcher (its I/O forwarding)
        return self._spawn([str(STASIS), "launch", "--ckpt-dir", self.ckpt, "--", *self.cmd],
                           self.out, self.dir / "launch.err")

    def restart(self, n):
        return self._spawn([str(STASIS), "restart", "--dir", self.ckpt], self.dir / f"restart{n}.out",
                           self.dir / f"restart{n}.err")

    def steps(self):
        return len(re.findall(r"^step ", self.out.read_text(errors="replace"), re.M))

    def describe(self):
        s = ""
        for f in sorted(self.dir.glob("*.out")) + sorted(self.dir.glob("*.err")):
            s += f"--- {f.name}:\n{f.read_text(errors='replace')[-3000:]}\n"
        log = list((self.dir / "run").glob("coord-*.log"))
        if log:
            s += f"--- {log[0].name}:\n{log[0].read_text(errors='replace')[-3000:]}\n"
        return s

    def wait_more_steps(self, proc, more=10, timeout=60):
        """Wait until the job has printed `more` steps past those it has now."""
        want = self.steps() + more
        deadline = time.monotonic() + timeout
        while self.steps() < want:
            if proc.poll() is not None:
                pytest.fail(f"the job ended ({proc.returncode}) before step {want}\n"
                            f"{self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no step {want} within {timeout} s\n{self.describe()}")
            time.sleep(0.02)

    def checkpoint(self, kill):
        r = self.stasis("checkpoint", *(["--kill"] if kill else []))
        assert r.returncode == 0, f"checkpoint failed: {r.stderr}\n{self.describe()}"
        return r.stdout.split()

    def cleanup(self):
        self.stasis("kill", timeout=20)
        remove_session(self.leftovers)
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 9)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def jobs():
    made = []

    def make(*args, **kw):
        made.append(Job(*args, **kw))
        return made[-1]

    yield make
    for j in made:
        j.cleanup()
    kill_descendants()  # the coordinators: we are a subreaper (conftest.py)


def session_files(proc):
    """The files the MPI library keeps for the job in the temporary
    directories (Open MPI's session directory, shared-memory segments) that
    proc and its descendants map: a restart on another host, or after a
    reboot, does not find them."""
    found = set()
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    path = parts[5].strip() if len(parts) > 5 else ""
                    if path.startswith(("/tmp/ompi", "/dev/shm/")):
                        found.add(path.replace(" (deleted)", ""))
        except OSError:
            pass
    return found


def remove_session(files):
    """Remove the MPI's files in temporary directories (and Open MPI's session
    directories holding them): a job ended by checkpoint --kill or stasis
    kill never removes them, and its segments in /dev/shm take memory."""
    for path in files:
        if not os.path.isdir(path):
            Path(path).unlink(missing_ok=True)
    for d in {m.group(0) for m in (re.match(r"/tmp/ompi[^/]*/pid\.\d+", f) for f in files) if m}:
        shutil.rmtree(d, ignore_errors=True)


def cycles(job, drop_session=False):
    """Launch, checkpoint running on, then twice checkpoint --kill and
    restart, each after steps the job had not printed; then let it end.
    Returns the output and the stderr of every restart."""
    p = job.launch()
    job.wait_more_steps(p)
    job.leftovers |= session_files(p)
    imgs = job.checkpoint(kill=False)
    assert len(imgs) == job.nprocs, imgs
    job.wait_more_steps(p)
    for n in (1, 2):
        job.checkpoint(kill=True)
        rc = p.wait(timeout=30)
        assert rc == -9 or rc == 128 + 9, f"after checkpoint --kill the job ended with {rc}"
        if drop_session:
            remove_session(job.leftovers)
        p = job.restart(n)
        job.wait_more_steps(p)
        job.leftovers |= session_files(p)
    rc = p.wait(timeout=120)
    assert rc == 0, f"the job ended with {rc}\n{job.describe()}"
    return job.out.read_text(errors="replace")


RING = ("ring", 150, 20, 262144)  # 150 steps of 20 ms, 2 MiB per rank passed on


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
def test_ring_as_root(jobs, mpi):
    name, *args = RING
    job = jobs(mpi, [mpi_program(mpi, name), *args])
    expect = job.native()
    assert expect.startswith("ready 4 ranks\n") and "PASS" in expect, expect
    out = cycles(job)
    assert out == expect, f"output differs from the uninterrupted run's\n{job.describe()}"
    assert not list(job.dir.glob("restart*.err")) or all(
        f.read_text() == "" for f in job.dir.glob("restart*.err")), job.describe()


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
def test_ring_as_plain_user(jobs, mpi):
    if os.geteuid() != 0:
        pytest.skip("switching to user nobody needs root (CI runs as root)")
    name, *args = RING
    job = jobs(mpi, [mpi_program(mpi, name), *args], user=NOBODY)
    expect = job.native()
    out = cycles(job)
    assert out == expect, f"output differs from the uninterrupted run's\n{job.describe()}"


def test_ring_restarts_without_session_files(jobs):
    """Open MPI's session directory (/tmp/ompi.HOST.UID/pid.N: PMIx's store,
    4 MiB files mapped shared, hwloc's topology, a FIFO) and its shared-memory
    segments in /dev/shm are gone at restart, as on another host or after a
    reboot: they come back from the images, silently (failed before: 'cannot make FIFO
    /tmp/ompi.HOST.0/pid.N/0/debugger_attach_fifo again', then 'cannot open
    .../smdataseg-...: No such file or directory')."""
    name, *args = RING
    job = jobs("openmpi", [mpi_program("openmpi", name), *args])
    expect = job.native()
    out = cycles(job, drop_session=True)
    assert out == expect, f"output differs from the uninterrupted run's\n{job.describe()}"
    for n in (1, 2):  # routine: the restart says nothing of it (but with STASIS_LOG=debug)
        err = (job.dir / f"restart{n}.err").read_text()
        assert err == "", err


# (program, its arguments, ranks, environment): 2 cycles each, both MPIs
STEP2 = {
    # 4 messages in flight per rank for most of each step: 2 of 8 words, 2 of 1 MiB
    "nonblocking": (("nonblocking", 150, 20, 131072), 4, {}),
    # 2 ranks of 4 threads of libgomp's pool each
    "openmp": (("openmp", 150, 20, 262144), 2, {"OMP_NUM_THREADS": "4"}),
    # the same program built with clang: LLVM's libomp
    "openmp_libomp": (("openmp_libomp", 150, 20, 262144), 2, {"OMP_NUM_THREADS": "4"}),
}


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
@pytest.mark.parametrize("what", sorted(STEP2))
def test_step2_programs(jobs, mpi, what):
    (name, *args), nranks, env = STEP2[what]
    if name == "openmp_libomp" and not shutil.which("clang"):
        why = "clang not installed (Debian: apt-get install clang libomp-dev)"
        if os.environ.get("STASIS_CI"):
            pytest.fail(why + ", and CI must run this test", pytrace=False)
        pytest.skip(why)
    job = jobs(mpi, [mpi_program(mpi, name), *args], nranks=nranks, env=env)
    expect = job.native()
    assert f"ready {nranks} ranks" in expect and "PASS" in expect, expect
    out = cycles(job)
    assert out == expect, f"output differs from the uninterrupted run's\n{job.describe()}"


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
def test_mpiio_shared_file(jobs, mpi):
    """Every rank writes its blocks into one file with MPI-IO's collective
    writes; the file the job ends with is the uninterrupted run's, byte for
    byte (4 ranks, 150 steps of 128 KiB each: 75 MiB)."""
    prog = mpi_program(mpi, "mpiio")
    job = jobs(mpi, [prog, 150, 20, 16384, "job.dat"])
    expect = job.native([*job.cmd[:-1], "native.dat"])
    out = cycles(job)
    assert out == expect, f"output differs from the uninterrupted run's\n{job.describe()}"
    a, b = (job.dir / "native.dat").read_bytes(), (job.dir / "job.dat").read_bytes()
    assert len(a) == 150 * 4 * 16384 * 8 and a == b, (
        f"job.dat ({len(b)} bytes) differs from native.dat ({len(a)} bytes)")


# ---- two hosts ---------------------------------------------------------------

def two_host_cmd(mpi, ssh, prog, args):
    """mpirun/mpiexec on host1 for 2 ranks on each host, its remote daemon
    (Open MPI's orted, MPICH's hydra_pmi_proxy) started over ssh (the script
    ssh: ssh with the fixture's configuration)."""
    if mpi == "openmpi":
        return ["mpirun.openmpi", "--host", "host1:2,host2:2", "-np", "4",
                "--mca", "plm_rsh_agent", ssh, prog, *map(str, args)]
    return ["mpiexec.mpich", "-hosts", "host1:2,host2:2", "-np", "4", "-launcher", "ssh",
            "-launcher-exec", ssh, prog, *map(str, args)]


def steps_in(out):
    return len(re.findall(r"^step ", out.read_text(errors="replace"), re.M))


def wait_steps(st, out, procs, more=10, timeout=60):
    want = steps_in(out) + more
    deadline = time.monotonic() + timeout
    while steps_in(out) < want:
        if any(not p.running() for p in procs):
            pytest.fail(f"the job ended before step {want}\n{st.cluster.describe_all()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no step {want} within {timeout} s\n{st.cluster.describe_all()}")
        time.sleep(0.02)


@pytest.mark.parametrize("mpi", ["openmpi", "mpich"])
def test_ring_on_two_hosts(cluster, mpi):
    """2 ranks on host1 (with mpirun), 2 on host2 (with the daemon mpirun
    starts there over ssh, through the fixture's sshd): checkpoint running
    on, then checkpoint --kill and restart on the same hosts, then
    checkpoint --kill and restart on two other hosts (host1's part on host3,
    host2's on host4); the output is the uninterrupted run's, byte for byte.
    (Not the hosts swapped: the ranks' listening ports, which Open MPI takes
    from 1024 up on every host, still have connections of the killed ranks
    in TIME-WAIT on the other host for a minute, and a restart there
    cannot listen on them again until then.)"""
    try:
        ring_on_hosts(cluster, mpi)
    finally:  # the killed jobs' files, named after the fixture's hosts
        remove_session(glob.glob("/dev/shm/vader_segment.host[1-4].*") +
                       glob.glob("/tmp/ompi.host[1-4].*/pid.*/*"))


def ring_on_hosts(cluster, mpi):
    name, *args = RING
    prog = mpi_program(mpi, name)
    c, hs = cluster(4, sshd=True)
    a, b = c.on(hs[0], "host1part"), c.on(hs[1], "host2part")
    b.ckpt_dir = a.ckpt_dir  # the remote part writes where the local one does, on host2
    b.private_ckpt_dir()
    ssh = c.tmp / "ssh"
    ssh.write_text(f'#!/bin/sh\nexec ssh -F {hs.ssh_config} "$@"\n')
    ssh.chmod(0o755)
    for st in (a, b):
        st.env.update(ROOT_ENV)
        if mpi == "mpich":
            # The fixture's hosts share one kernel, so one boot id: UCX (MPICH's
            # transport) takes them for one machine and would copy between hosts
            # with process_vm_readv and shared memory, which real hosts cannot
            # (and which fails once each host's part runs in a PID namespace of
            # its own restart): TCP between hosts, as on real ones
            st.env["UCX_TLS"] = "tcp,self"
    # The uninterrupted run's output (the same wherever the ranks run), on this
    # machine's own network: a run on the hosts would leave connections in
    # TIME-WAIT on the ports the job's ranks then take
    native = subprocess.run([*LAUNCHERS[mpi], "-np", "4", prog, *map(str, args)],
                            env=dict(a.env, **ROOT_ENV), cwd=a.tmp, capture_output=True,
                            text=True, timeout=120)
    assert native.returncode == 0, native.stderr
    out = a.tmp / "job.out"
    cmd = two_host_cmd(mpi, ssh, prog, args)
    p = a.launch(cmd[0], *cmd[1:], out=out)
    wait_steps(a, out, [p])
    imgs = checkpoint(a, c, kill=False)
    # launcher, its remote daemon, MPICH's local proxy, 4 ranks, the 2 ssh relays
    assert len(imgs) == (8 if mpi == "openmpi" else 9), imgs
    wait_steps(a, out, [p])
    checkpoint(a, c)
    a.wait_killed(p)
    ends = [a.restart(directory=a.ckpt_dir), b.restart(directory=b.ckpt_dir)]
    wait_steps(a, out, ends)
    checkpoint(a, c)
    for e in ends:
        e.wait(timeout=30)
    h3, h4 = c.on(hs[2], "host3part"), c.on(hs[3], "host4part")
    copy_images(a.ckpt_dir, h3.ckpt_dir)
    r = hs[1].run("sh", "-c", f"cp {a.ckpt_dir}/*.stasis {h4.ckpt_dir}")
    assert r.returncode == 0, r.stderr
    ends = [h3.restart(directory=h3.ckpt_dir), h4.restart(directory=h4.ckpt_dir)]
    wait_steps(a, out, ends)
    assert ends[0].wait(timeout=120) == 0, c.describe_all()
    assert ends[1].wait(timeout=30) == 0, c.describe_all()
    assert out.read_text() == native.stdout, c.describe_all()


def checkpoint(st, c, kill=True):
    r = st.stasis("checkpoint", *(["--kill"] if kill else []))
    assert r.returncode == 0, f"{r.stderr}\n{c.describe_all()}"
    return r.stdout.split()
