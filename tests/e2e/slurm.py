"""A real Slurm cluster for the tests: one node on loopback.

Debian's slurm-wlm and munge, started by the test and owned by it: munged with
a key made for this cluster, slurmctld and slurmd in the foreground (-D) on
ports of their own, every state, spool, log and pid file in the cluster's
directory, and SLURM_CONF pointing at the slurm.conf written there: nothing
is read from or written to /etc or the machine's own Slurm. proctrack/linuxproc
and task/none need no cgroups. Job ids start at a random FirstJobId, so that
the per-job directories stasis derives from them (docs/slurm.md) differ from
one run of the tests to the next.

Two settings differ from a site's for speed, and docs/slurm.md says what a real
cluster does instead: AuthInfo cred_expire=5 (a requeued job waits that long
before it may start again: 120 s by default) and sched_interval=1 (the main
scheduling loop every second instead of 60).

    cluster = Cluster(directory); cluster.start()  # waits until the node is idle
    job = cluster.sbatch(script, *args, opts=[...], cwd=submit_dir)
    cluster.wait_done(job)                         # the final scontrol fields
    cluster.stop()                                 # scancel, daemons stopped

Needs root (slurmd runs each job as its user), and the packages: without
either the test is skipped with the reason, except in CI (STASIS_CI), where
the packages are installed and a missing one fails.
"""

import os
import random
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, _descendants, _reap_all, free_port, kill_descendants

PROGRAMS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "squeue",
            "scancel", "sinfo")
ENDED = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY",
         "PREEMPTED", "BOOT_FAIL", "DEADLINE")
NODE = "stasisnode"


def require():
    """Skip (or fail, in CI) unless a cluster can be started here."""
    if os.geteuid() != 0:
        pytest.skip("a Slurm cluster needs root: slurmd runs each job as its user "
                    "(CI runs as root)")
    missing = [p for p in PROGRAMS if not _which(p)]
    if missing:
        why = f"{', '.join(missing)} not installed (Debian: apt-get install slurm-wlm munge)"
        if os.environ.get("STASIS_CI"):
            pytest.fail(why + ", and CI must run this test", pytrace=False)
        pytest.skip(why)


def _which(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


class Cluster:
    def __init__(self, directory):
        # munged wants its socket's directory and every one above it not
        # writable by others, and the socket reachable by all: a directory of
        # its own under /tmp (pytest's are 0700).
        self.dir = Path(directory)
        self.dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "slurm.conf"
        self.first_job = random.randint(100000, 899999)
        self.ctld_port, self.slurmd_port = free_port(), free_port()
        self.daemons = {}
        self.jobs = []
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("STASIS_", "SLURM_")) and k != "LD_PRELOAD"}
        self.env["PATH"] = f"{BUILD / 'bin'}:{self.env.get('PATH', '/usr/bin:/bin')}"
        self.env["SLURM_CONF"] = str(self.conf)

    # ---- bringing it up ----------------------------------------------------
    def _write_files(self):
        for d, mode in (("munge", 0o755), ("key", 0o700), ("state", 0o755), ("spool", 0o755),
                        ("log", 0o755)):
            (self.dir / d).mkdir(mode=mode, exist_ok=True)
        (self.dir / "spool" / NODE).mkdir(exist_ok=True)
        key = self.dir / "key" / "munge.key"
        with open(key, "wb", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(os.urandom(1024))
        (self.dir / "plugstack.conf").write_text("")
        d = self.dir
        self.conf.write_text(f"""\
ClusterName=stasis
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={self.ctld_port}
SlurmdPort={self.slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/munge/munge.socket,cred_expire=5
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
PlugStackConfig={d}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobContainerType=job_container/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_interval=1
FirstJobId={self.first_job}
KillWait=5
ReturnToService=2
NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes={NODE} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2
""")

    def _daemon(self, name, argv):
        log = open(self.dir / "log" / f"{name}.out", "wb")
        self.daemons[name] = subprocess.Popen([_which(argv[0]), *argv[1:]], env=self.env,
                                              stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, cwd=self.dir,
                                              start_new_session=True)
        log.close()

    def start(self, timeout=60):
        """Start munged, slurmctld and slurmd; return once sinfo shows the node
        idle (or fail within timeout, with the daemons' logs)."""
        self._start_munged(timeout)
        self._daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._daemon("slurmd", ["slurmd", "-D", "-N", NODE, "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", timeout, f"node {NODE} idle in sinfo")

    def _start_munged(self, timeout):
        self._write_files()
        d = self.dir
        self._daemon("munged", ["munged", "-F", f"--key-file={d}/key/munge.key",
                                f"--socket={d}/munge/munge.socket",
                                f"--pid-file={d}/munge/munged.pid",
                                f"--log-file={d}/log/munged.log",
                                f"--seed-file={d}/munge/munged.seed"])
        self._wait(lambda: (d / "munge" / "munge.socket").exists(), timeout, "munged's socket")

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while not ready():
            for name, p in self.daemons.items():
                if p.poll() is not None:
                    pytest.fail(f"{name} exited ({p.returncode}) while waiting for {what}\n"
                                f"{self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout} s\n{self.describe()}")
            time.sleep(0.1)

    def node_state(self):
        r = self.run("sinfo", "-h", "-n", NODE, "-o", "%T", check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    # ---- using it ----------------------------------------------------------
    def run(self, *argv, check=True, timeout=30, cwd=None, env=None):
        """Run a Slurm command (or any) with the cluster's environment."""
        try:
            r = subprocess.run([str(a) for a in argv], env=env or self.env, cwd=cwd or self.dir,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(map(str, argv))} did not finish in {timeout} s\n"
                        f"{self.describe()}")
        if check and r.returncode != 0:
            pytest.fail(f"{' '.join(map(str, argv))} failed ({r.returncode}): {r.stderr}\n"
                        f"{self.describe()}")
        return r

    def sbatch(self, script, *args, opts=(), cwd, env=None):
        """Submit script ARGS from cwd (the job's SLURM_SUBMIT_DIR); its id."""
        r = self.run("sbatch", "--parsable", *opts, script, *args, cwd=cwd, env=env)
        job = int(r.stdout.strip().split(";")[0])
        self.jobs.append(job)
        return job

    def job(self, job):
        """scontrol's fields of the job ({} once Slurm forgot it)."""
        r = self.run("scontrol", "show", "job", "-o", job, check=False)
        return dict(re.findall(r"(\w+)=(\S*)", r.stdout)) if r.returncode == 0 else {}

    def wait_done(self, job, timeout):
        """Wait until the job has ended; its final scontrol fields."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job)
            if info.get("JobState") in ENDED:
                return info
            if time.monotonic() > deadline:
                pytest.fail(f"job {job} did not end within {timeout} s (last: "
                            f"{info.get('JobState')}, {info.get('Reason')})\n{self.describe()}")
            time.sleep(0.5)

    def job_processes(self, job):
        """Our descendants (pytest is a subreaper: every slurmstepd, job
        process and daemon they left lands under it) that run for the job."""
        mark = f"SLURM_JOB_ID={job}".encode()
        found = []
        for pid in _descendants(os.getpid()):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if mark in f.read().split(b"\0"):
                        found.append(pid)
            except OSError:
                pass
        return found

    def wait_no_processes(self, job, timeout=20):
        """Nothing of the job runs any more (the coordinator of a stasis
        launch exits 1.5 s after its last process)."""
        deadline = time.monotonic() + timeout
        while (left := self.job_processes(job)) and time.monotonic() < deadline:
            _reap_all()
            time.sleep(0.1)
        assert not left, f"job {job} ended, but these still run: {self._ps(left)}"

    @staticmethod
    def _ps(pids):
        out = []
        for pid in pids:
            try:
                out.append(f"{pid} " + Path(f"/proc/{pid}/cmdline").read_bytes()
                           .replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
        return out

    def describe(self):
        s = ""
        for f in sorted((self.dir / "log").glob("*")):
            s += f"--- {f}:\n{f.read_text(errors='replace')[-3000:]}\n"
        return s

    # ---- tearing it down ---------------------------------------------------
    def _daemons_stopped(self):
        pass

    def stop(self):
        """Cancel every job, stop the daemons (slurmd, slurmctld, munged), then
        kill whatever is left. Returns what was left running, if anything."""
        if self.jobs and self.daemons.get("slurmctld") and self.daemons["slurmctld"].poll() is None:
            self.run("scancel", *self.jobs, check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(
                    self.job(j).get("JobState") not in ENDED + (None,) for j in self.jobs):
                time.sleep(0.2)
        for name in [n for n in self.daemons if n.startswith("slurmd")] + ["slurmctld", "munged"]:
            p = self.daemons.get(name)
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        self._daemons_stopped()
        # a coordinator of a cancelled job exits 1.5 s after its last process
        deadline = time.monotonic() + 10
        while _descendants(os.getpid()) and time.monotonic() < deadline:
            _reap_all()
            time.sleep(0.1)
        left = self._ps(_descendants(os.getpid()))
        kill_descendants()
        for job in self.jobs:  # the run directories stasis made for them, any user's
            for d in Path("/tmp").glob(f"stasis-*-slurm-{job}"):
                shutil.rmtree(d, ignore_errors=True)
        return left


class NodesCluster(Cluster):
    """A cluster over network-namespace hosts (tests/e2e/nshosts.py): slurmctld
    on host1, a slurmd on each of the other hosts, each the node of its host's
    own network (its NodeAddr the host's 192.0.2.N, the same slurmd port on
    each: every host has its own ports), one munged for all of them (its
    socket is a path in the cluster's directory, which every host sees: the
    hosts share the file system). The Slurm commands run on host1. The hosts
    run sshd, for the jobs' own ssh (MPI launchers).

    Each node has 4 CPUs for Slurm (SlurmdParameters=config_overrides: the
    machine has 2), so that a node takes 4 ranks."""

    CPUS = 4

    def __init__(self, directory, hosts):
        super().__init__(directory)
        self.hosts = hosts
        self.ctl = hosts[0]
        self.nodes = [h.name for h in hosts[1:]]
        self.ctld_port, self.slurmd_port = 6817, 6818

    def _write_files(self):
        super()._write_files()
        for n in self.nodes:
            (self.dir / "spool" / n).mkdir(exist_ok=True)
        conf = self.conf.read_text()
        d, ctl = self.dir, self.ctl
        conf = conf.replace("SlurmctldHost=localhost(127.0.0.1)",
                            f"SlurmctldHost={ctl.name}({ctl.addr})")
        conf = conf.replace(f"SlurmdPidFile={d}/slurmd.pid", f"SlurmdPidFile={d}/slurmd.%n.pid")
        conf = conf.replace(f"SlurmdLogFile={d}/log/slurmd.log",
                            f"SlurmdLogFile={d}/log/slurmd.%n.log\n"
                            "SlurmdParameters=config_overrides")
        head = conf[:conf.index("NodeName=")]
        nodes = "".join(f"NodeName={h.name} NodeHostname={h.name} NodeAddr={h.addr} "
                        f"CPUs={self.CPUS} State=UNKNOWN\n" for h in self.hosts[1:])
        self.conf.write_text(head + nodes + f"PartitionName=test Nodes={','.join(self.nodes)} "
                             "Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:2\n")

    def _daemon(self, name, argv, host=None):
        log = open(self.dir / "log" / f"{name}.out", "wb")
        argv = [_which(argv[0]), *argv[1:]]
        self.daemons[name] = (host.popen if host else subprocess.Popen)(
            argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, cwd=self.dir, **({} if host else {
                "start_new_session": True}))
        log.close()

    def start(self, timeout=60):
        self._start_munged(timeout)
        self._daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)], self.ctl)
        for h in self.hosts[1:]:
            self._daemon(f"slurmd.{h.name}", ["slurmd", "-D", "-N", h.name, "-f", str(self.conf)],
                         h)
        self._wait(lambda: self.node_states() == {n: "idle" for n in self.nodes}, timeout,
                   f"nodes {', '.join(self.nodes)} idle in sinfo")

    def node_states(self):
        r = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False)
        return dict(l.split() for l in r.stdout.splitlines()) if r.returncode == 0 else None

    def run(self, *argv, check=True, timeout=30, cwd=None, env=None):
        # entering host1's mount namespace leaves nsenter in its /: env -C
        # goes back to the directory (the submit directory of sbatch)
        return super().run(*self.ctl.argv(["env", "-C", cwd or self.dir, *argv]), check=check,
                           timeout=timeout, env=env)

    def _daemons_stopped(self):
        self.hosts.close()  # what the jobs and daemons left on the hosts, the hosts
