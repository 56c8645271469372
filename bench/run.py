#!/usr/bin/python3
"""The Stasis benchmark: `make bench`, or `make bench PEERS=1` for DMTCP and CRIU beside it.

Every workload is measured in BENCH_ROUNDS rounds; in each round the tools run one after the
other on the same workload (Stasis, Stasis --no-compress, DMTCP --no-gzip, [DMTCP gzip], CRIU,
the order turned by one each round, then dd), so every ratio compares runs taken minutes apart
at most, on the same disk. Tables give
the median of each time and the median of the per-round ratios.

Per tool and workload: the durable checkpoint time (Stasis fsyncs its images; the peers' image
files are synced after they are written, inside the timed span), the image bytes, and the restart
time (from the start of the restart command to the program's next tick: the first write of the
restored program, seen as a new modification of its log, or a tick line on the restart command's
own stdout, where DMTCP puts it). Stasis also: the peak RSS of its writer and of its restorer
beyond the program's own. The hardware limit: `dd conv=fsync` of as many bytes as Stasis stored,
and a read of Stasis's image from the page cache.

Workloads (BENCH_ONLY picks some, by name):
  rand text zero       memhog BENCH_MIB MiB random / text / untouched (tests/programs/memhog.c)
  threads              memhog 64 MiB random, 8 threads
  python               bench/pyhog.py, BENCH_PY_MIB MiB of python3 objects and bytes
  randsmall randmid    memhog BENCH_MIB/16 and BENCH_MIB/4 MiB random (the size chart)
  tree16 tree64        tests/programs/manyhog.c: 16 / 64 processes sharing BENCH_MIB MiB
  tree16big            16 processes x BENCH_MIB/4 MiB (16 x 256 MiB at the default size)
  threads1000          one process, 1000 threads, 64 MiB
  fds10k               one process, 10000 descriptors (each its own description of one file)
  fdshare              9 processes sharing 1000 descriptions of one file (the sharing pass);
                       both tick every 10 ms (the others every 100 ms)
  big                  memhog BENCH_BIG_MIB (8192) MiB random: only when named in BENCH_ONLY
                       or BENCH_BIG=1 (8 GiB x 4 tools x rounds: about 5 min a round)
  pause                forked checkpoint of BENCH_MIB MiB (and BENCH_BIG_MIB with big): the time
                       the program is held (runtime's STASIS_LOG=debug "threads paused")
  pause_shm            the same for BENCH_SHM_MIB (256) MiB of MAP_SHARED memory held by two
                       processes (tests/programs/shmhog.c: copied while the program is stopped)
  coord                bench/coordload.c against one coordinator: BENCH_COORD_PROCS simulated
                       processes (1000 10000 32000), a full checkpoint's barriers
  mapped incremental redis true   Stasis only: restart to the next instruction (BENCH_MIB,
                       and BENCH_BIG_MIB with big), incremental image size, redis-benchmark,
                       launch overhead
  decompress           Stasis only: memhog BENCH_MIB MiB text restarted from its compressed
                       image: GB/s of memory the restorer's threads decompress
  chain16              Stasis only: pagemem BENCH_MIB MiB, 16 incremental checkpoints, restart
                       from the chain of 16 images and from the same memory merged into one
  hosts4               Stasis only, root only (network namespaces): a computation over 4 hosts
                       made as the distributed tests make them (tcp_pair server and 3 clients,
                       a memhog of BENCH_HOSTS_MIB (64) MiB on each host), checkpoint --kill
                       and restart from its restart script (over ssh) and per host, beside the
                       same computation on one host (bench/hosts4.py)
  mpi                  not this script's: bench/mpi.py, which `make bench` runs after it (4 MPI
                       ranks, checkpoint, restart, ping-pong); with BENCH_ONLY set, only if named

Environment: BENCH_ROUNDS (3; BENCH_RUNS is the old name), BENCH_MIB (1024), BENCH_BIG_MIB
(8192), BENCH_BIG (0), BENCH_ONLY (names above; default: all but big), BENCH_PEERS (make's
PEERS=1), BENCH_PEERS_PREFIX ($HOME/.cache/stasis-peers), BENCH_DMTCP_GZIP (0: DMTCP's gzip
default is slow, ~45 s a GiB of random memory; 1 measures it too), BENCH_TMP (/var/tmp: images
and dd files, a real disk), BENCH_RESULTS (bench/results), BENCH_PY_MIB (256), BENCH_PYTHON
(/usr/bin/python3), BENCH_COORD_PROCS ("1000 10000 32000"), BENCH_LAUNCH_RUNS (20),
BENCH_INCR_DIRTY_MIB (10), BENCH_SHM_MIB (256), BENCH_HOSTS_MIB (64), BENCH_PAUSE_WAIT (300: seconds the pause
workload waits for the first checkpoint's huge-page collapse to end before the second).

Outputs in BENCH_RESULTS: runs.csv (every measurement), results.csv (medians and median
ratios), tables.md (the tables of docs/performance.md), peers.txt, coord.csv, and gnuplot charts
size.png (time against memory size), procs.png (against process count), coord.png (coordinator
against simulated processes). Exit status 1 if any series failed.
"""
import csv
import ctypes
import glob
import itertools
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import hosts4
from benchutil import TICK, tail

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
STASIS = os.path.join(BUILD, "bin/stasis")
MEMHOG = os.path.join(BUILD, "tests/programs/memhog")
SHMHOG = os.path.join(BUILD, "tests/programs/shmhog")
MANYHOG = os.path.join(BUILD, "tests/programs/manyhog")
COORDLOAD = os.path.join(BUILD, "bench/coordload")
RESUME = os.path.join(BUILD, "tests/programs/resume_clock")
PAGEMEM = os.path.join(BUILD, "tests/programs/pagemem")
TCPMANY = os.path.join(BUILD, "tests/programs/tcp_many")
PEERS_BUILD = os.path.normpath(os.path.join(ROOT, "..", "shared", "peers", "build.sh"))
MiB = 1 << 20


def env_int(name, default, old=None):
    v = os.environ.get(name) or (os.environ.get(old) if old else None)
    return int(v) if v else default


class Cfg:
    rounds = env_int("BENCH_ROUNDS", 3, "BENCH_RUNS")
    mib = env_int("BENCH_MIB", 1024)
    big_mib = env_int("BENCH_BIG_MIB", 8192)
    py_mib = env_int("BENCH_PY_MIB", 256)
    shm_mib = env_int("BENCH_SHM_MIB", 256)
    only = os.environ.get("BENCH_ONLY", "").split()
    big = os.environ.get("BENCH_BIG", "0") == "1" or "big" in only
    peers = os.environ.get("BENCH_PEERS", "") not in ("", "0")
    peers_prefix = os.environ.get("BENCH_PEERS_PREFIX",
                                  os.path.expanduser("~/.cache/stasis-peers"))
    dmtcp_gzip = os.environ.get("BENCH_DMTCP_GZIP", "0") == "1"
    tmp = os.environ.get("BENCH_TMP", "/var/tmp")
    results = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench/results"))
    python = os.environ.get("BENCH_PYTHON", "/usr/bin/python3")
    coord_procs = [int(x) for x in os.environ.get("BENCH_COORD_PROCS",
                                                  "1000 10000 32000").split()]
    launch_runs = env_int("BENCH_LAUNCH_RUNS", 20)
    incr_dirty_mib = env_int("BENCH_INCR_DIRTY_MIB", 10)
    tcp_conns = env_int("BENCH_TCP_CONNS", 100)
    tcp_kib = env_int("BENCH_TCP_KIB", 1024)  # in flight each way on each connection
    hosts_mib = env_int("BENCH_HOSTS_MIB", 64)  # each memhog of the hosts4 computation
    pause_wait = env_int("BENCH_PAUSE_WAIT", 300)


class BenchError(Exception):
    pass


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- processes: we are a child subreaper, so everything we start stays ours to reap ----

PR_SET_CHILD_SUBREAPER = 36
EXITED = {}  # pid -> wait status, for the children reaped by reap()


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise BenchError("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        EXITED[pid] = status


def spawn(argv, out, err, env=None, session=False):
    """Start argv in the background, stdin /dev/null, stdout and stderr to files."""
    fa = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
          (os.POSIX_SPAWN_OPEN, 2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    return os.posix_spawnp(argv[0], argv, env if env is not None else os.environ,
                           file_actions=fa, setsid=session)


def proc_state(pid):
    """The state letter of /proc/PID/stat, or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid):
    reap()
    return proc_state(pid) not in (None, "Z", "X")


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_gone(pids, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.005)
    return False


def kill_ours():
    """SIGKILL every process we started that is still there (we are their subreaper)."""
    for _ in range(50):
        pids = [p for p in descendants(os.getpid()) if proc_state(p) not in (None, "Z", "X")]
        if not pids:
            reap()
            return
        for p in pids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
        reap()
    log("some processes we started did not end: %s" % descendants(os.getpid()))


def run(argv, timeout=600, env=None, what=None):
    """Run a command to its end; BenchError with its stderr's last lines if it fails."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env, text=True)
    except subprocess.TimeoutExpired:
        raise BenchError("%s did not end within %d s" % (what or argv[0], timeout))
    except OSError as e:
        raise BenchError("cannot run %s: %s" % (argv[0], e.strerror))
    if r.returncode != 0:
        tail = " | ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
        raise BenchError("%s failed (exit %d): %s" % (what or " ".join(argv[:3]),
                                                       r.returncode, tail))
    return r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def sync_files(paths):
    """fsync every file and the directories holding them: what Stasis does for its images."""
    dirs = set()
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dirs.add(os.path.dirname(p))
    for d in dirs:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def files_under(d, pattern="*"):
    return sorted(p for p in glob.glob(os.path.join(d, "**", pattern), recursive=True)
                  if os.path.isfile(p) and not os.path.islink(p))


def total_bytes(paths):
    return sum(os.path.getsize(p) for p in paths)


# ---- ticks ----

def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def wait_first_tick(logpath, pid, timeout, errpath):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = TICK.search(read_bytes(logpath))
        if m:
            if m.group(2) != b"ok":
                raise BenchError("the program printed '%s' at start" % m.group(0).decode())
            return
        if not alive(pid):
            raise BenchError("the program ended before its first tick: %s" % tail(errpath))
        time.sleep(0.005)
    raise BenchError("no tick within %d s: %s" % (timeout, tail(errpath)))


class Ticks:
    """The next tick of a restored program: its log modified again (it writes from the
    checkpoint's offset, over lines it may have printed before), or a tick line on the
    restart command's stdout (DMTCP gives the restored program the restart's stdio)."""

    def __init__(self, logpath, restart_out):
        self.log, self.rout = logpath, restart_out
        st = os.stat(logpath)
        self.mtime, self.size = st.st_mtime_ns, st.st_size

    def where(self):
        if os.stat(self.log).st_mtime_ns != self.mtime:
            return "log"
        if TICK.search(read_bytes(self.rout)):
            return "rout"
        return None

    def wait(self, pid, timeout, errpath, fatal=None):
        """fatal: a pattern of the restart's stderr that means it will not get there."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            w = self.where()
            if w:
                return time.monotonic(), w
            if fatal and re.search(fatal, read_bytes(errpath).decode(errors="replace")):
                raise BenchError("the restart failed: %s" % tail(errpath))
            if pid and not alive(pid):
                w = self.where()
                if w:
                    return time.monotonic(), w
                raise BenchError("the restart ended before the program's next tick: %s"
                                 % tail(errpath))
            time.sleep(0.002)
        raise BenchError("no tick within %d s of the restart: %s" % (timeout, tail(errpath)))

    def verify(self, where, timeout=10):
        """The restored program goes on: every tick ok, in sequence, past the checkpoint."""
        if where == "rout":
            ticks = TICK.findall(read_bytes(self.rout))
            if ticks[0][1] != b"ok" or int(ticks[0][0]) == 0:
                raise BenchError("after the restart the program printed 'tick %s %s'"
                                 % (ticks[0][0].decode(), ticks[0][1].decode()))
            return
        end = time.monotonic() + timeout
        while os.path.getsize(self.log) <= self.size and time.monotonic() < end:
            time.sleep(0.01)
        ticks = TICK.findall(read_bytes(self.log))
        bad = [t for i, t in enumerate(ticks) if t != (str(i).encode(), b"ok")]
        if bad or os.path.getsize(self.log) <= self.size:
            raise BenchError("the restored program's log does not go on with ticks in "
                             "sequence and ok (first wrong: %s)" % (bad[:1],))


# ---- workloads ----

class Workload:
    def __init__(self, name, title, argv, mib, comm, nprocs=1, family=None, fill_s=120):
        self.name, self.title, self.argv, self.mib = name, title, argv, mib
        self.comm, self.nprocs, self.family, self.fill_s = comm, nprocs, family, fill_s
        self.wait_s = 60 + mib // 16  # bound of a restart to the next tick


def workloads(work):
    m, c = Cfg.mib, Cfg
    tree = lambda n, per, **kw: Workload(
        kw.pop("name"), "%d processes x %d MiB random" % (n, per),
        [MANYHOG, "-p", str(n), "-m", str(per)], n * per, "manyhog", nprocs=n, **kw)
    wl = [
        Workload("rand", "%d MiB random" % m, [MEMHOG, str(m), "rand", "0"], m, "memhog",
                 family="size"),
        Workload("text", "%d MiB text" % m, [MEMHOG, str(m), "text", "0"], m, "memhog"),
        Workload("zero", "%d MiB untouched (zero)" % m, [MEMHOG, str(m), "zero", "0"], m,
                 "memhog"),
        Workload("threads", "64 MiB random, 8 threads", [MEMHOG, "64", "rand", "8"], 64,
                 "memhog"),
        Workload("python", "python3, %d MiB (bench/pyhog.py)" % c.py_mib,
                 [c.python, os.path.join(ROOT, "bench/pyhog.py"), str(c.py_mib)], c.py_mib,
                 "python3"),
    ]
    wl += [Workload(name, "%d MiB random" % s, [MEMHOG, str(s), "rand", "0"], s, "memhog",
                    family="size") for name, s in (("randsmall", max(1, m // 16)),
                                                   ("randmid", max(2, m // 4)))]
    wl += [tree(16, max(1, m // 16), name="tree16", family="procs"),
           tree(64, max(1, m // 64), name="tree64", family="procs"),
           tree(16, max(1, m // 4), name="tree16big"),
           Workload("threads1000", "one process, 1000 threads, %d MiB" % min(64, m),
                    [MANYHOG, "-t", "1000", "-m", str(min(64, m))], min(64, m), "manyhog"),
           # ticks 10 ms apart: the restart is timed to the next tick, and each tool
           # restores the program's sleep with what was left of it (up to 100 ms)
           Workload("fds10k", "one process, 10000 descriptors of one file",
                    [MANYHOG, "-m", "1", "-f", "10000", "-F", os.path.join(work, "fds.dat"),
                     "-i", "10"], 1, "manyhog"),
           Workload("fdshare", "9 processes sharing 1000 descriptions of one file",
                    [MANYHOG, "-p", "9", "-m", "1", "-f", "1000", "-F",
                     os.path.join(work, "share.dat"), "-i", "10"], 9, "manyhog", nprocs=9)]
    if c.big:
        wl.append(Workload("big", "%d MiB random" % c.big_mib,
                           [MEMHOG, str(c.big_mib), "rand", "0"], c.big_mib, "memhog",
                           family="size", fill_s=600))
    return wl


def selected(name):
    if Cfg.only:
        return name in Cfg.only
    return name != "big" or Cfg.big


# ---- results ----

class Results:
    def __init__(self, d):
        self.dir = d
        self.rows = []  # (workload, tool, variant, metric, round, value)
        self.failures = []
        self.findings = []
        self.notes = []
        self.skipped = {}  # workload -> why it was not measured
        self.failed = {}  # (workload, tool, variant) -> why its last cycle failed

    def add(self, w, tool, variant, metric, rnd, value):
        self.rows.append((w, tool, variant, metric, rnd, value))

    def values(self, w, tool, variant, metric):
        return [r[5] for r in self.rows if r[:4] == (w, tool, variant, metric)]

    def by_round(self, w, tool, variant, metric):
        return {r[4]: r[5] for r in self.rows if r[:4] == (w, tool, variant, metric)}

    def median(self, w, tool, variant, metric):
        v = self.values(w, tool, variant, metric)
        return statistics.median(v) if v else None

    def median_ratio(self, w, a, b, metric):
        """The median over rounds of Stasis's variant a over variant b."""
        x, y = self.by_round(w, "stasis", a, metric), self.by_round(w, "stasis", b, metric)
        r = [x[k] / y[k] for k in x if k in y and y[k]]
        return statistics.median(r) if r else None

    def fail(self, what, err, peer=False):
        """A series that could not be measured. A peer's failure is a finding about the peer
        (listed with the tables); a failure of Stasis or of the bench fails the run."""
        msg = "%s: FAILED: %s" % (what, err)
        log(msg)
        (self.findings if peer else self.failures).append(msg)
        return msg

    def write_runs(self):
        with open(os.path.join(self.dir, "runs.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["workload", "tool", "variant", "metric", "round", "value"])
            w.writerows(self.rows)


# ---- Stasis ----

def stasis_ckpt_dir(work, tag):
    d = os.path.join(work, "ck." + tag)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def stasis_launch(wl, work, ck, port, logpath, env=None, flags=()):
    argv = [STASIS, "launch", "-p", str(port), "--ckpt-dir", ck, *flags, "--", *wl.argv]
    err = os.path.join(work, "launch.err")
    pid = spawn(argv, logpath, err, env=env)
    wait_first_tick(logpath, pid, wl.fill_s, err)
    return pid


def stasis_images(ck):
    return files_under(ck, "*.stasis")


def restored_pids(rpid, name):
    return [p for p in descendants(rpid) if comm(p) == name]


def tree_rss(pid, name):
    """{pid: VmRSS KiB} of the program's processes."""
    pids = [pid] + [p for p in descendants(pid) if comm(p) == name]
    return {p: status_kib(p, "VmRSS") for p in pids}


def ns_pid(pid):
    """The pid a process has in its own PID namespace (the restored one's original pid)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"^NSpid:.*?(\d+)$", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return None


def restorer_extra_kib(rpid, name, rss_before):
    """Peak RSS beyond the program's own: the restorer ran in each restored process (its
    buffers count in the process's VmHWM); the program's own is its VmRSS before the
    checkpoint. The largest over the processes."""
    extra = []
    for p in restored_pids(rpid, name):
        hwm, before = status_kib(p, "VmHWM"), rss_before.get(ns_pid(p))
        if hwm is not None and before is not None:
            extra.append(max(0, hwm - before))
    return max(extra) if extra else None


def stasis_cycle(wl, work, res, rnd, variant):
    """Launch, durable checkpoint --kill, restart to the next tick."""
    port, ck = free_port(), stasis_ckpt_dir(work, "stasis." + variant)
    logpath, rout, rerr = (os.path.join(work, n) for n in ("prog.log", "restart.out",
                                                           "restart.err"))
    flags = ["--no-compress"] if variant == "raw" else []
    pid = stasis_launch(wl, work, ck, port, logpath)
    rss_before = tree_rss(pid, wl.comm)
    os.sync()
    t0 = time.monotonic()
    run([STASIS, "checkpoint", "-p", str(port), "--kill", *flags], what="stasis checkpoint")
    t1 = time.monotonic()
    images = stasis_images(ck)
    if not images:
        raise BenchError("stasis checkpoint wrote no image in %s" % ck)
    res.add(wl.name, "stasis", variant, "ckpt_s", rnd, t1 - t0)
    res.add(wl.name, "stasis", variant, "image_bytes", rnd, total_bytes(images))
    if not wait_gone([pid], 30):
        raise BenchError("the checkpointed program did not end")
    kill_ours()
    ticks = Ticks(logpath, rout)
    t0 = time.monotonic()
    rpid = spawn([STASIS, "restart", "-p", str(port), "--dir", ck], rout, rerr)
    t1, where = ticks.wait(rpid, wl.wait_s, rerr)
    res.add(wl.name, "stasis", variant, "restart_s", rnd, t1 - t0)
    extra = restorer_extra_kib(rpid, wl.comm, rss_before)
    if extra is not None:
        res.add(wl.name, "stasis", variant, "restorer_extra_kib", rnd, extra)
    ticks.verify(where)
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    wait_gone([rpid], 10)
    kill_ours()
    return images


def stasis_writer_mem(wl, work, res, rnd):
    """Peak RSS of the in-process writer beyond the program's: VmHWM reset (clear_refs 5)
    before a checkpoint written in the process (STASIS_NO_FORK=1), read after it."""
    port, ck = free_port(), stasis_ckpt_dir(work, "mem")
    logpath, err = os.path.join(work, "mem.log"), os.path.join(work, "launch.err")
    env = dict(os.environ, STASIS_NO_FORK="1", STASIS_LOG="debug")
    pid = stasis_launch(wl, work, ck, port, logpath, env=env)
    pids = [pid] + [p for p in descendants(pid) if comm(p) == wl.comm]
    for p in pids:
        with open("/proc/%d/clear_refs" % p, "w") as f:
            f.write("5")
    before = {p: status_kib(p, "VmRSS") for p in pids}
    run([STASIS, "checkpoint", "-p", str(port)], what="stasis checkpoint (writer memory)")
    extra = [status_kib(p, "VmHWM") - before[p] for p in pids if before[p] is not None]
    res.add(wl.name, "stasis", "zstd", "writer_extra_kib", rnd, max(extra))
    share = [float(x) for x in re.findall(r"descriptors compared with \d+ processes in "
                                          r"([0-9.]+) ms", read_bytes(err).decode(errors="replace"))]
    if share:  # the descriptor-sharing pass of runtime/fd_share.c, slowest process
        res.add(wl.name, "stasis", "zstd", "share_pass_ms", rnd, max(share))
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


# ---- DMTCP ----

def dmtcp_cycle(wl, work, res, rnd, variant):
    """dmtcp_launch --ckptdir (where its images go), --bcheckpoint, sync, kill, dmtcp_restart."""
    port, ck = free_port(), os.path.join(work, "ck.dmtcp")
    shutil.rmtree(ck, ignore_errors=True)
    logpath, rout, rerr = (os.path.join(work, n) for n in ("prog.log", "restart.out",
                                                           "restart.err"))
    flags = ["--no-gzip"] if variant == "raw" else []
    argv = ["dmtcp_launch", "--new-coordinator", "--coord-port", str(port), "--ckptdir", ck,
            *flags, *wl.argv]
    err = os.path.join(work, "dmtcp.err")
    pid = spawn(argv, logpath, err)
    wait_first_tick(logpath, pid, wl.fill_s, err)
    os.sync()
    cmd = ["dmtcp_command", "--coord-port", str(port)]
    t0 = time.monotonic()
    run(cmd + ["--bcheckpoint"], what="dmtcp_command --bcheckpoint")
    images = files_under(ck, "ckpt_*.dmtcp")
    if len(images) != wl.nprocs:
        raise BenchError("DMTCP wrote %d images in %s, not %d" % (len(images), ck, wl.nprocs))
    sync_files(images)
    t1 = time.monotonic()
    res.add(wl.name, "dmtcp", variant, "ckpt_s", rnd, t1 - t0)
    res.add(wl.name, "dmtcp", variant, "image_bytes", rnd, total_bytes(images))
    subprocess.run(cmd + ["--quit"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=30)
    wait_gone([pid], 10)
    kill_ours()
    ticks = Ticks(logpath, rout)
    t0 = time.monotonic()
    rpid = spawn(["dmtcp_restart", "--new-coordinator", "--coord-port", str(port), *images],
                 rout, rerr)
    t1, where = ticks.wait(rpid, wl.wait_s, rerr, fatal=r"ASSERT at ")
    res.add(wl.name, "dmtcp", variant, "restart_s", rnd, t1 - t0)
    ticks.verify(where)
    subprocess.run(cmd + ["--quit"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=30)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


# ---- CRIU ----

def criu_cycle(wl, work, res, rnd, variant):
    """criu dump (the tree is killed after it), sync the image files, criu restore -d."""
    ck = os.path.join(work, "ck.criu")
    shutil.rmtree(ck, ignore_errors=True)
    os.makedirs(ck)
    logpath, rout, rerr = (os.path.join(work, n) for n in ("prog.log", "restart.out",
                                                           "restart.err"))
    err = os.path.join(work, "criu.err")
    pid = spawn(wl.argv, logpath, err, session=True)
    wait_first_tick(logpath, pid, wl.fill_s, err)
    tree = [pid] + descendants(pid)
    os.sync()
    t0 = time.monotonic()
    run(["criu", "dump", "-t", str(pid), "-D", ck, "-o", "dump.log"],
        what="criu dump (log: %s/dump.log)" % ck)
    images = [p for p in files_under(ck) if not p.endswith(".log")]
    sync_files(images)
    t1 = time.monotonic()
    res.add(wl.name, "criu", variant, "ckpt_s", rnd, t1 - t0)
    res.add(wl.name, "criu", variant, "image_bytes", rnd, total_bytes(images))
    if not wait_gone(tree, 10):
        raise BenchError("the tree criu dumped is still there")
    open(rout, "w").close()
    ticks = Ticks(logpath, rout)
    t0 = time.monotonic()
    run(["criu", "restore", "-D", ck, "-d", "-o", "restore.log"],
        what="criu restore (log: %s/restore.log)" % ck)
    t1, where = ticks.wait(pid, wl.wait_s, os.path.join(ck, "restore.log"))
    res.add(wl.name, "criu", variant, "restart_s", rnd, t1 - t0)
    ticks.verify(where)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


# ---- the hardware limit ----

def make_random_source(work, mib):
    path = os.path.join(work, "random.src")
    log("writing %d MiB of random data for dd" % mib)
    with open(path, "wb") as f:
        for _ in range(mib // 4 + 1):
            f.write(os.urandom(4 * MiB))
    return path


def dd_limit(wl, work, res, rnd, nbytes, images, src):
    """dd conv=fsync of as many bytes as Stasis stored; a read of Stasis's uncompressed
    (--no-compress) image from the page cache: the program's memory as bytes to restore."""
    mib = max(1, math.ceil(nbytes / MiB))
    out = os.path.join(work, "dd.out")
    os.sync()
    t0 = time.monotonic()
    run(["dd", "if=" + src, "of=" + out, "bs=1M", "count=%d" % mib, "conv=fsync",
         "status=none"], what="dd")
    res.add(wl.name, "dd", "fsync", "ckpt_s", rnd, time.monotonic() - t0)
    os.unlink(out)
    if images:
        buf = bytearray(4 * MiB)
        t0 = time.monotonic()
        for p in images:
            with open(p, "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass
        res.add(wl.name, "dd", "read", "restart_s", rnd, time.monotonic() - t0)


# ---- peers ----

def peer_note(res, msg):
    res.notes.append(msg)
    log(msg)


def peers_on_path(res):
    """PEERS=1: DMTCP and CRIU from BENCH_PEERS_PREFIX, built by ../shared/peers/build.sh if
    they are not there yet; returns the peers that work here."""
    pre = Cfg.peers_prefix
    dm, cr = os.path.join(pre, "dmtcp/bin"), os.path.join(pre, "criu")
    if not (os.access(os.path.join(dm, "dmtcp_launch"), os.X_OK)
            and os.access(os.path.join(cr, "criu"), os.X_OK)):
        if not os.path.exists(PEERS_BUILD):
            peer_note(res, "peers: %s is absent (it comes with the project's shared folder, "
                      "../shared beside the checkout): DMTCP and CRIU are not built; using "
                      "those on PATH, if any" % PEERS_BUILD)
        else:
            log("building DMTCP and CRIU into %s with %s (once, ~8 min)" % (pre, PEERS_BUILD))
            r = subprocess.run([PEERS_BUILD, pre], stdin=subprocess.DEVNULL, timeout=3600)
            if r.returncode != 0:
                peer_note(res, "peers: %s failed (exit %d): see its messages above"
                          % (PEERS_BUILD, r.returncode))
    os.environ["PATH"] = "%s:%s:%s" % (dm, cr, os.environ.get("PATH", ""))
    peers = []
    if dmtcp_usable(res):
        peers.append("dmtcp")
    if criu_usable(res):
        peers.append("criu")
    return peers


def dmtcp_usable(res):
    if not shutil.which("dmtcp_launch"):
        peer_note(res, "DMTCP: not installed (no dmtcp_launch on PATH)")
        return False
    port = free_port()
    r = subprocess.run(["dmtcp_launch", "--new-coordinator", "--coord-port", str(port),
                        "/bin/true"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    kill_ours()
    if r.returncode != 0:
        peer_note(res, "DMTCP: installed but not usable here: 'dmtcp_launch /bin/true' "
                  "failed: %s" % tail_text(r.stderr))
        return False
    ver = subprocess.run(["dmtcp_launch", "--version"], capture_output=True, text=True)
    peer_note(res, "DMTCP: %s (%s): measured; images synced after dmtcp_command "
              "--bcheckpoint returns, inside the timed span"
              % (ver.stdout.splitlines()[0] if ver.stdout else "?",
                 shutil.which("dmtcp_launch")))
    return True


def tail_text(s, n=2):
    return " | ".join(s.strip().splitlines()[-n:])


def criu_usable(res):
    if not shutil.which("criu"):
        peer_note(res, "CRIU: not installed (no criu on PATH)")
        return False
    ver = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout
    ver = (re.findall(r"Version: (\S+)", ver) or ["?"])[0]
    r = subprocess.run(["criu", "check"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        why = [l for l in (r.stderr + r.stdout).splitlines() if l.startswith("Error")]
        peer_note(res, "CRIU %s: installed but not usable here: 'criu check' fails: %s"
                  % (ver, "; ".join(why[:2]) or "no reason given"))
        return False
    peer_note(res, "CRIU %s (%s): 'criu check' passes: measured; image files synced after "
              "criu dump returns, inside the timed span" % (ver, shutil.which("criu")))
    return True


# ---- one workload, interleaved ----

def tools_of(peers):
    t = [("stasis", "zstd"), ("stasis", "raw")]
    if "dmtcp" in peers:
        t.append(("dmtcp", "raw"))
        if Cfg.dmtcp_gzip:
            t.append(("dmtcp", "gzip"))
    if "criu" in peers:
        t.append(("criu", "raw"))
    return t


CYCLES = {"stasis": stasis_cycle, "dmtcp": dmtcp_cycle, "criu": criu_cycle}


class Staged:
    """A cycle's measurements, kept only if the restored program went on correctly."""

    def __init__(self, res):
        self.res, self.rows = res, []

    def add(self, *row):
        self.rows.append(row)

    def commit(self):
        for row in self.rows:
            self.res.add(*row)


def one_round(wl, work, res, rnd, peers, src):
    """Every tool once, in an order that turns by one each round (the disk here slows
    down for minutes after a large write: no tool always follows the same one), then dd."""
    images, tools = {}, tools_of(peers)
    k = (rnd - 1) % len(tools)
    for tool, variant in tools[k:] + tools[:k]:
        try:
            staged = Staged(res)
            got = CYCLES[tool](wl, work, staged, rnd, variant)
            staged.commit()
            if tool == "stasis":
                images[variant] = got
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            res.fail("%s %s %s round %d" % (wl.name, tool, variant, rnd), e,
                     peer=tool != "stasis")
            res.failed[(wl.name, tool, variant)] = str(e)
        kill_ours()
    stored = total_bytes(images["zstd"]) if "zstd" in images else wl.mib * MiB
    try:
        dd_limit(wl, work, res, rnd, stored, images.get("raw", []), src)
    except (BenchError, OSError) as e:
        res.fail("%s dd round %d" % (wl.name, rnd), e)
    for v in ("zstd", "raw"):
        shutil.rmtree(os.path.join(work, "ck.stasis." + v), ignore_errors=True)


def run_workload(wl, work, res, peers, src):
    log("%s (%s): %d rounds of %s, dd" % (wl.name, wl.title, Cfg.rounds,
                                          ", ".join("%s %s" % t for t in tools_of(peers))))
    for rnd in range(1, Cfg.rounds + 1):
        one_round(wl, work, res, rnd, peers, src)
    try:
        stasis_writer_mem(wl, work, res, 1)
    except (BenchError, OSError) as e:
        res.fail("%s stasis writer memory" % wl.name, e)
    kill_ours()


# ---- Stasis alone: forked pause, mapped restart, incremental image, redis, launch ----

def pause_once(name, mib, work, res, rnd, shared=False):
    """Two checkpoints that let memhog (or, shared, shmhog: MAP_SHARED memory held by two
    processes, copied at the stop) run on: the runtime forks the writer and logs (with
    STASIS_LOG=debug) how long each process's threads were held; the longest counts. The
    runtime collapses a process's memory into huge pages ahead of its first checkpoint, while
    it waits for the coordinator (runtime/huge.c), and what is left after each checkpoint:
    each checkpoint comes once the runtime says its pass is done (at most BENCH_PAUSE_WAIT s
    after the last step; ahead_wait_s and collapse_wait_s say how long that was): pause_ms is
    the first's, pause2_ms the second's."""
    argv = [SHMHOG, str(mib)] if shared else [MEMHOG, str(mib), "rand", "0"]
    wl = Workload(name, "", argv, mib, "shmhog" if shared else "memhog",
                  fill_s=600 if mib > 2048 else 120)
    port, ck = free_port(), stasis_ckpt_dir(work, "pause")
    err = os.path.join(work, "launch.err")
    env = dict(os.environ, STASIS_LOG="debug")
    stasis_launch(wl, work, ck, port, os.path.join(work, "pause.log"), env=env)
    for k, metric in ((1, "pause_ms"), (2, "pause2_ms")):
        # the runtime collapses memory ahead of the first checkpoint (from 1 s after the
        # process joined, while it waits), and what is left after each checkpoint
        # (before the first: a pass that began once the program was ready, not one over
        # memory it was still filling)
        done = re.compile(r"(collapsed into huge pages|nothing to collapse|none collapsed) %s"
                          r"(?! in [0-9.]+ ms \(interrupted)" %
                          ("ahead of a checkpoint" if k == 1 else "after the checkpoint"))
        seen = len(done.findall(read_bytes(err).decode(errors="replace"))) if k == 1 else 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < Cfg.pause_wait and len(
                done.findall(read_bytes(err).decode(errors="replace"))) <= seen:
            time.sleep(0.1)
        res.add(name, "stasis", "forked", "collapse_wait_s" if k == 2 else "ahead_wait_s",
                rnd, time.monotonic() - t0)
        os.sync()
        t0 = time.monotonic()
        run([STASIS, "checkpoint", "-p", str(port)], what="forked stasis checkpoint")
        res.add(name, "stasis", "forked", "ckpt_s" if k == 1 else "ckpt2_s", rnd,
                time.monotonic() - t0)
        text = read_bytes(err).decode(errors="replace")
        m = re.findall(r"threads paused ([0-9.]+) ms", text)
        if len(m) < k:
            raise BenchError("the runtime logged no 'threads paused' line (was the writer "
                             "forked?)")
        # the longest of the processes' pauses of checkpoint k (one line per process)
        per = len(m) // k
        res.add(name, "stasis", "forked", metric, rnd, max(float(x) for x in m[-per:]))
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


def restart_to_blob(ck, port, work, opts=()):
    """stasis restart --dir ck with STASIS_LOG=debug: seconds from its start to the restorer's
    jump into the program ("into the blob", CLOCK_MONOTONIC like time.monotonic), and how
    long the memory took ("memory of pid N restored in X ms"), for the slowest process."""
    err = os.path.join(work, "restart.err")
    env = dict(os.environ, STASIS_LOG="debug")
    t0 = time.monotonic()
    rpid = spawn([STASIS, "restart", "-p", str(port), *opts, "--dir", ck],
                 os.path.join(work, "restart.out"), err, env=env)
    end = time.monotonic() + 300
    text = ""
    while time.monotonic() < end and "into the blob" not in text:
        if not alive(rpid):
            raise BenchError("the restart ended early: %s" % tail(err))
        time.sleep(0.005)
        text = read_bytes(err).decode(errors="replace")
    blob = [float(x) for x in re.findall(r"\[([0-9.]+)\] pid \d+: into the blob", text)]
    mem = [float(x) for x in re.findall(r"memory of pid \d+ restored in ([0-9.]+) ms", text)]
    if not blob or not mem:
        raise BenchError("no restore timeline in the restart's log: %s" % tail(err))
    subprocess.run([STASIS, "kill", "-p", str(port)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)
    wait_gone([rpid], 30)
    kill_ours()
    return max(blob) - t0, max(mem) / 1e3


def image_memory_bytes(img):
    out = run([STASIS, "inspect", img], what="stasis inspect")
    m = re.search(r"^memory\s+(\d+) bytes in \d+ chunks, stored as (\d+) bytes", out, re.M)
    if not m:
        raise BenchError("stasis inspect %s: no memory line" % img)
    return int(m.group(1)), int(m.group(2))


def decompress_once(work, res, rnd):
    """memhog BENCH_MIB MiB of text, checkpointed compressed (the default): the restorer's
    fill threads decompress it (restore/fill.c); GB/s of memory put back."""
    port, ck = free_port(), stasis_ckpt_dir(work, "decomp")
    wl = Workload("decompress", "", [MEMHOG, str(Cfg.mib), "text", "0"], Cfg.mib, "memhog")
    pid = stasis_launch(wl, work, ck, port, os.path.join(work, "decomp.log"))
    run([STASIS, "checkpoint", "-p", str(port), "--kill"], what="stasis checkpoint")
    wait_gone([pid], 30)
    mem, stored = image_memory_bytes(stasis_images(ck)[0])
    to_blob, fill = restart_to_blob(ck, port, work)
    res.add("decompress", "stasis", "zstd", "restart_blob_s", rnd, to_blob)
    res.add("decompress", "stasis", "zstd", "fill_s", rnd, fill)
    res.add("decompress", "stasis", "zstd", "gbps", rnd, mem / fill / 1e9)
    res.add("decompress", "stasis", "zstd", "image_bytes", rnd, stored)
    shutil.rmtree(ck, ignore_errors=True)


def chain_once(work, res, rnd):
    """pagemem BENCH_MIB MiB with --incremental: 16 forked checkpoints, BENCH_INCR_DIRTY_MIB
    MiB rewritten before each but the first, so that the last image is a chain of 16 files.
    Restarted from it, then from the same memory as one full image (stasis merge), to the
    jump into the program."""
    port, ck = free_port(), stasis_ckpt_dir(work, "chain")
    out, verify = os.path.join(work, "chain.log"), os.path.join(work, "verify")
    stride = max(1, Cfg.mib // Cfg.incr_dirty_mib)
    for f in (verify, verify + ".step"):
        if os.path.exists(f):
            os.unlink(f)
    pid = spawn([STASIS, "launch", "-p", str(port), "--ckpt-dir", ck, "--incremental", PAGEMEM,
                 verify, str(Cfg.mib), str(stride)], out, os.path.join(work, "launch.err"))
    wait_line(out, 1, pid, 120)
    last = None
    for k in range(16):
        if k:
            with open(verify + ".step", "w") as f:
                f.write("%d\n" % k)
            wait_line(out, 1 + k, pid, 120)
        lines = run([STASIS, "checkpoint", "-p", str(port)], what="stasis checkpoint")
        last = [l for l in lines.splitlines() if l.endswith(".stasis")][0]
    files = len(stasis_images(ck))  # generations 1-16: one chain (retention keeps it all)
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    wait_gone([pid], 30)
    kill_ours()
    full_dir = stasis_ckpt_dir(work, "chainfull")
    run([STASIS, "merge", last, os.path.join(full_dir, os.path.basename(last))],
        what="stasis merge")
    for variant, d, opts in (("chain", ck, ()), ("full", full_dir, ()),
                             ("fullread", full_dir, ("--no-map",))):
        to_blob, fill = restart_to_blob(d, port, work, opts)
        res.add("chain16", "stasis", variant, "restart_blob_s", rnd, to_blob)
        res.add("chain16", "stasis", variant, "fill_s", rnd, fill)
    res.add("chain16", "stasis", "chain", "files", rnd, files)
    shutil.rmtree(ck, ignore_errors=True)
    shutil.rmtree(full_dir, ignore_errors=True)


def mapped_once(work, res, rnd, name="mapped", mib=None):
    """A --no-compress image of mib (BENCH_MIB) MiB random, restarted mapped, mapped
    --no-verify and read (--no-map): time to the program's next instruction (resume_clock
    prints the CLOCK_REALTIME at which it finds itself resumed)."""
    mib = mib or Cfg.mib
    port, ck = free_port(), stasis_ckpt_dir(work, name)
    out = os.path.join(work, "resume.log")
    pid = spawn([STASIS, "launch", "-p", str(port), "--ckpt-dir", ck, "--no-compress", RESUME,
                 str(mib)], out, os.path.join(work, "launch.err"))
    wait_line(out, 1, pid, 600 if mib > 2048 else 120)
    run([STASIS, "checkpoint", "-p", str(port), "--kill"], what="stasis checkpoint")
    wait_gone([pid], 30)
    size = os.path.getsize(out)
    for variant, opt in (("mapped", []), ("noverify", ["--no-verify"]), ("read", ["--no-map"])):
        os.truncate(out, size)
        t0 = time.time()
        rpid = spawn([STASIS, "restart", "-p", str(port), *opt, "--dir", ck],
                     os.path.join(work, "restart.out"), os.path.join(work, "restart.err"))
        wait_line(out, 2, rpid, 120)
        resumed = int(read_bytes(out).splitlines()[1].split()[1])
        res.add(name, "stasis", variant, "restart_next_s", rnd, resumed / 1e9 - t0)
        subprocess.run([STASIS, "kill", "-p", str(port)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        wait_gone([rpid], 10)
        kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


def wait_line(path, n, pid, timeout):
    """Wait until path has n complete lines."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if read_bytes(path).count(b"\n") >= n:
            return
        if not alive(pid):
            raise BenchError("%s: the program ended before line %d" % (path, n))
        time.sleep(0.005)
    raise BenchError("%s: no line %d within %d s" % (path, n, timeout))


def incremental_once(work, res, rnd):
    """pagemem with BENCH_MIB MiB: a full checkpoint, BENCH_INCR_DIRTY_MIB MiB rewritten,
    then an incremental one (the program runs on)."""
    port, ck = free_port(), stasis_ckpt_dir(work, "incr")
    out, verify = os.path.join(work, "pagemem.log"), os.path.join(work, "verify")
    stride = max(1, Cfg.mib // Cfg.incr_dirty_mib)
    for f in (verify, verify + ".step"):  # the last round's: pagemem would run its step
        if os.path.exists(f):
            os.unlink(f)
    pid = spawn([STASIS, "launch", "-p", str(port), "--ckpt-dir", ck, "--incremental", PAGEMEM,
                 verify, str(Cfg.mib), str(stride)], out, os.path.join(work, "launch.err"))
    wait_line(out, 1, pid, 120)
    for k, variant in ((0, "full"), (1, "incremental")):
        if k:
            with open(verify + ".step", "w") as f:
                f.write("%d\n" % k)
            wait_line(out, 1 + k, pid, 120)
        os.sync()
        t0 = time.monotonic()
        lines = run([STASIS, "checkpoint", "-p", str(port)], what="stasis checkpoint")
        res.add("incremental", "stasis", variant, "ckpt_s", rnd, time.monotonic() - t0)
        img = [l for l in lines.splitlines() if l.endswith(".stasis")][0]
        res.add("incremental", "stasis", variant, "image_bytes", rnd, os.path.getsize(img))
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


def redis_once(work, res, rnd, variant):
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    cport = None
    if variant == "stasis":
        cport = free_port()
        argv = [STASIS, "launch", "-p", str(cport), "--ckpt-dir", work, "--", *argv]
    pid = spawn(argv, os.path.join(work, "redis.out"), os.path.join(work, "redis.log"))
    end = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode:
        if not alive(pid) or time.monotonic() > end:
            raise BenchError("redis-server under %s did not answer: %s"
                             % (variant, tail(os.path.join(work, "redis.log"))))
        time.sleep(0.01)
    out = run(["redis-benchmark", "-p", str(port), "-q", "-n",
               os.environ.get("REDIS_REQUESTS", "200000"), "-t", "set,get"], timeout=300)
    rps = sum(float(m) for m in re.findall(r"([0-9.]+) requests per second", out))
    res.add("redis", variant, "run", "rps", rnd, rps)
    if cport:
        subprocess.run([STASIS, "kill", "-p", str(cport), "--coordinator"],
                       capture_output=True, timeout=30)
    kill_ours()


def tcp_once(work, res, rnd):
    """tcp_many: BENCH_TCP_CONNS connections between two processes with BENCH_TCP_KIB KiB in
    flight each way on each. A checkpoint the program survives (the runtime's debug log gives
    the drain and refill time of each process: the slowest counts), then checkpoint --kill
    and restart to the coordinator's idle state; the program then checks every byte."""
    port, ck = free_port(), stasis_ckpt_dir(work, "tcp")
    out, err = os.path.join(work, "tcp.out"), os.path.join(work, "tcp.err")
    verify = os.path.join(work, "verify")
    if os.path.exists(verify):
        os.unlink(verify)
    env = dict(os.environ, STASIS_LOG="debug")
    pid = spawn([STASIS, "launch", "-p", str(port), "--ckpt-dir", ck, TCPMANY, verify,
                 str(Cfg.tcp_conns), str(Cfg.tcp_kib * 1024)], out, err, env=env)
    wait_line(out, 1, pid, 120)
    for variant in ("bounced", "copied"):  # the second finds the bytes acknowledged
        if variant == "copied":
            time.sleep(0.3)  # the receivers' delayed ACKs of the bytes bounced back
        before = read_bytes(err).count(b"drained and put back in")
        t0 = time.monotonic()
        run([STASIS, "checkpoint", "-p", str(port)], what="stasis checkpoint")
        res.add("tcp", "stasis", variant, "ckpt_s", rnd, time.monotonic() - t0)
        ms = [int(m) for m in re.findall(rb"drained and put back in (\d+) ms",
                                         read_bytes(err))[before:]]
        if ms:
            res.add("tcp", "stasis", variant, "drain_ms", rnd, max(ms))
    run([STASIS, "checkpoint", "-p", str(port), "--kill"], what="stasis checkpoint --kill")
    wait_gone([pid], 30)
    t0 = time.monotonic()
    rpid = spawn([STASIS, "restart", "-p", str(port), "--dir", ck],
                 os.path.join(work, "restart.out"), os.path.join(work, "restart.err"))
    end = time.monotonic() + 120
    while True:
        st = subprocess.run([STASIS, "status", "-p", str(port), "--json"], capture_output=True,
                            text=True)
        if st.returncode == 0 and '"state": "idle"' in st.stdout and '"nprocs": 2' in st.stdout:
            break
        if not alive(rpid) or time.monotonic() > end:
            raise BenchError("tcp: the restart did not come back: %s"
                             % tail(os.path.join(work, "restart.err")))
        time.sleep(0.005)
    res.add("tcp", "stasis", "restart", "restart_s", rnd, time.monotonic() - t0)
    with open(verify, "w"):
        pass
    wait_gone([rpid], 120)
    if b"PASS" not in read_bytes(out):
        raise BenchError("tcp: the program did not pass: %s" % tail(out))
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"], capture_output=True,
                   timeout=30)
    kill_ours()
    shutil.rmtree(ck, ignore_errors=True)


def launch_overhead(work, res):
    port = free_port()
    run([STASIS, "coordinator", "-p", str(port), "--daemon", "--ckpt-dir", work])
    for rnd in range(1, Cfg.launch_runs + 1):
        for tool, argv in (("native", ["/bin/true"]),
                           ("stasis", [STASIS, "launch", "-p", str(port), "--ckpt-dir", work,
                                       "/bin/true"])):
            t0 = time.monotonic()
            run(argv)
            res.add("true", tool, "launch", "launch_ms", rnd, (time.monotonic() - t0) * 1e3)
    subprocess.run([STASIS, "kill", "-p", str(port), "--coordinator"], capture_output=True,
                   timeout=30)
    kill_ours()


def extras(work, res):
    jobs = []
    if selected("pause"):
        jobs.append(("pause", lambda r: pause_once("pause", Cfg.mib, work, res, r)))
    if selected("pause_shm"):
        jobs.append(("pause_shm", lambda r: pause_once("pause_shm", Cfg.shm_mib, work, res, r,
                                                       shared=True)))
    if Cfg.big and (selected("pause") or selected("big")):
        jobs.append(("pause_big", lambda r: pause_once("pause_big", Cfg.big_mib, work, res, r)))
    if selected("mapped"):
        jobs.append(("mapped", lambda r: mapped_once(work, res, r)))
    if Cfg.big and (selected("mapped") or selected("big")):
        jobs.append(("mapped_big", lambda r: mapped_once(work, res, r, "mapped_big",
                                                         Cfg.big_mib)))
    if selected("incremental"):
        jobs.append(("incremental", lambda r: incremental_once(work, res, r)))
    if selected("tcp"):
        jobs.append(("tcp", lambda r: tcp_once(work, res, r)))
    if selected("decompress"):
        jobs.append(("decompress", lambda r: decompress_once(work, res, r)))
    if selected("chain16"):
        jobs.append(("chain16", lambda r: chain_once(work, res, r)))
    if selected("redis"):
        if shutil.which("redis-server") and shutil.which("redis-benchmark"):
            jobs.append(("redis", lambda r: (redis_once(work, res, r, "native"),
                                             redis_once(work, res, r, "stasis"))))
        else:
            log("redis: redis-server/redis-benchmark not installed: not measured")
    for name, job in jobs:
        log(name)
        for rnd in range(1, Cfg.rounds + 1):
            try:
                job(rnd)
            except (BenchError, OSError, subprocess.SubprocessError) as e:
                res.fail("%s round %d" % (name, rnd), e)
                kill_ours()
                break
    if selected("true"):
        try:
            launch_overhead(work, res)
        except BenchError as e:
            res.fail("true (launch overhead)", e)


# ---- a computation on 4 hosts (bench/hosts4.py) ----

def hosts_job(work, res):
    log("hosts4")
    add = lambda name, how, metric, rnd, value: res.add(
        "hosts4", "stasis", "%s-%s" % (name, how), metric, rnd, value)
    try:
        why = hosts4.run(work, Cfg.rounds, Cfg.hosts_mib, add, log)
    except (hosts4.Error, OSError, subprocess.SubprocessError) as e:
        res.fail("hosts4", e)
        why = None
    if why:
        res.skipped["hosts4"] = why
    kill_ours()


def hosts_table(res):
    if "hosts4" in res.skipped:
        return "### A computation on 4 hosts\n\nNot measured: %s.\n" % res.skipped["hosts4"]
    rows = []
    series = (("hosts4-script", "4 hosts, the restart script (other hosts over ssh)"),
              ("hosts4-direct", "4 hosts, `stasis restart --coord-host` on each host at once"),
              ("host1-script", "one host, the restart script"))
    for variant, what in series:
        g = lambda m: res.median("hosts4", "stasis", variant, m)
        if g("restart_s") is not None:
            rows.append("| %s | %.3f | %.3f | %.1f |" % (what, g("ckpt_s"), g("restart_s"),
                                                          g("image_bytes") / MiB))
    if not rows:
        return ""
    return ("### A computation on 4 hosts (bench/hosts4.py)\n\n11 processes: tcp_pair "
            "`serve` on host1 and a client on each other host (%d MiB held each way on each "
            "connection), a memhog of %d MiB random on each host.\n\n| computation, restart "
            "| checkpoint --kill s | restart to every process's next tick s | images MiB |\n"
            "|---|---:|---:|---:|\n" % (hosts4.BYTES_HELD // MiB, Cfg.hosts_mib)
            + "\n".join(rows) + "\n")


# ---- the coordinator at scale ----

def coord_sim(work, res):
    """bench/coordload: N simulated processes against one coordinator, one checkpoint."""
    for n in Cfg.coord_procs:
        d = os.path.join(work, "coord.%d" % n)
        os.makedirs(d, exist_ok=True)
        log("coord: %d simulated processes" % n)
        r = subprocess.run([COORDLOAD, "-s", STASIS, "-n", str(n), "-p", str(free_port()),
                            "-d", d], capture_output=True, text=True, timeout=1800)
        kill_ours()
        shutil.rmtree(d, ignore_errors=True)
        line = [l for l in r.stdout.splitlines() if l.startswith("result ")]
        if not line:
            res.fail("coord %d" % n, tail_text(r.stderr or r.stdout))
            continue
        kv = dict(f.split("=", 1) for f in line[0].split()[1:])
        for k, v in kv.items():
            try:
                res.add("coord", "stasis", str(n), k, 1, float(v))
            except ValueError:
                res.add("coord", "stasis", str(n), k, 1, v)
        notes = [l for l in r.stdout.splitlines() if not l.startswith("result ")]
        for l in notes:
            res.add("coord", "stasis", str(n), "note", 1, l)
        if r.returncode != 0:  # measured: where the coordinator breaks is a finding
            res.findings.append("coord %d: %s of %s simulated processes joined, checkpoint "
                                "status %s: %s" % (n, kv.get("joined"), n, kv.get("status"),
                                                   " / ".join(notes)))


# ---- medians, per-round ratios, tables ----

PEER_ROWS = [("dmtcp", "raw", "DMTCP --no-gzip"), ("dmtcp", "gzip", "DMTCP (gzip)"),
             ("criu", "raw", "CRIU")]
STASIS_ROWS = [("stasis", "zstd", "Stasis"), ("stasis", "raw", "Stasis --no-compress")]
METRICS = [("ckpt_s", "checkpoint s"), ("image_bytes", "image MiB"), ("restart_s", "restart s")]
LIMIT = {"ckpt_s": ("dd", "fsync"), "restart_s": ("dd", "read")}


def round_ratio(res, w, num, den_list, metric):
    """Median over rounds of num / min(den_list) taken in the same round."""
    a = res.by_round(w, *num, metric)
    out = []
    for r, v in a.items():
        dens = [res.by_round(w, *d, metric).get(r) for d in den_list]
        dens = [d for d in dens if d]
        if dens and v is not None:
            out.append(v / min(dens))
    return statistics.median(out) if out else None


def ratios(res, w):
    """{(variant, metric, against): median ratio} for Stasis's rows."""
    r = {}
    peers = [(t, v) for t, v, _ in PEER_ROWS if res.values(w, t, v, "ckpt_s")]
    for _, sv, _ in STASIS_ROWS:
        for metric, _ in METRICS:
            if peers:
                r[(sv, metric, "fastest peer")] = round_ratio(res, w, ("stasis", sv), peers,
                                                              metric)
            for t, v in peers:
                r[(sv, metric, t + " " + v)] = round_ratio(res, w, ("stasis", sv), [(t, v)],
                                                           metric)
            if metric in LIMIT:
                r[(sv, metric, "limit")] = round_ratio(res, w, ("stasis", sv),
                                                       [LIMIT[metric]], metric)
    return r


def fmt(x, metric):
    if x is None:
        return "-"
    if metric == "image_bytes":
        return "%.1f" % (x / MiB) if x >= MiB else "%.2f" % (x / MiB)
    return "%.3f" % x


def fx(x):
    return "-" if x is None else "%.2fx" % x


def short_reason(why):
    """The telling part of a tool's failure, for a table cell: DMTCP's ASSERT
    (where, and what failed or was exceeded), or what the program printed."""
    a = re.search(r"ASSERT at (\S+?:\d+):(.*?)(?: \||$)", why)
    if a:
        what = re.search(r"((?:\w+ )*(?:failed|exceeded)[\w ]*)", a.group(2))
        return "ASSERT at %s: %s" % (a.group(1), (what.group(1) if what else a.group(2)[-60:]))
    m = re.search(r"(printed '[^']+')", why)
    return (m.group(1) if m else why[:100]).replace("|", "/").strip()


def workload_table(res, wl):
    """Markdown: one row per tool, the medians, and Stasis's per-round ratios."""
    w, rt = wl.name, ratios(res, wl.name)
    head = ("| %s | checkpoint s | Stasis ÷ | image MiB | Stasis ÷ | restart s | Stasis ÷ |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n" % wl.title)
    rows = []
    for t, v, label in STASIS_ROWS + PEER_ROWS:
        if not any(res.values(w, t, v, m) for m, _ in METRICS):
            why = res.failed.get((w, t, v))
            if why:  # no cycle of it went through
                rows.append("| %s | failed: %s | | | | | |" % (label, short_reason(why)))
            continue
        cells = [label]
        for m, _ in METRICS:
            cells.append(fmt(res.median(w, t, v, m), m))
            key = ("zstd", m, t + " " + v) if t != "stasis" else (v, m, "fastest peer")
            cells.append(fx(rt.get(key)) + (" of fastest" if t == "stasis" and
                                            rt.get(key) else ""))
        rows.append("| " + " | ".join(cells) + " |")
    lim = [res.median(w, *LIMIT["ckpt_s"], "ckpt_s"), res.median(w, *LIMIT["restart_s"],
                                                                  "restart_s")]
    rows.append("| limit: dd conv=fsync of Stasis's bytes; read of its raw image | %s | %s | | "
                "| %s | %s |" % (fmt(lim[0], "ckpt_s"), fx(rt.get(("zstd", "ckpt_s", "limit"))),
                                 fmt(lim[1], "restart_s"),
                                 fx(rt.get(("zstd", "restart_s", "limit")))))
    mem = [res.median(w, "stasis", "zstd", k) for k in ("writer_extra_kib",
                                                        "restorer_extra_kib")]
    extra = "\nStasis's own peak memory beyond the program's: writer %s, restorer %s.\n" % (
        "-" if mem[0] is None else "%.1f MiB" % (mem[0] / 1024),
        "-" if mem[1] is None else "%.1f MiB" % (mem[1] / 1024))
    share = res.median(w, "stasis", "zstd", "share_pass_ms")
    if share is not None:
        extra += ("The descriptor-sharing pass (STASIS_LOG=debug): %.1f ms in the slowest "
                  "process.\n" % share)
    return "### %s\n\n%s%s\n%s" % (wl.title, head, "\n".join(rows), extra)


def extras_table(res):
    out = []
    for name, mib, what in (("pause", Cfg.mib, "random"), ("pause_big", Cfg.big_mib, "random"),
                            ("pause_shm", Cfg.shm_mib, "shared by 2 processes")):
        for metric, wall, which in (("pause_ms", "ckpt_s", "first"),
                                    ("pause2_ms", "ckpt2_s", "second")):
            p = res.values(name, "stasis", "forked", metric)
            if not p:
                continue
            wait = res.median(name, "stasis", "forked",
                              "collapse_wait_s" if which == "second" else "ahead_wait_s")
            when = ("" if wait is None else
                    " (%.1f s after the first: the huge-page collapse it left)" % wait
                    if which == "second" else
                    " (%.1f s after the program was ready: the collapse ahead of it)" % wait)
            out.append("| %s forked checkpoint of %d MiB %s%s: program held (threads paused) "
                       "| %.1f ms (%s) |" % (which, mib, what, when, statistics.median(p),
                                             ", ".join("%.1f" % x for x in p)))
            out.append("| same: wall time of that checkpoint (the program runs on) | %.3f s |"
                       % res.median(name, "stasis", "forked", wall))
    g = res.median("decompress", "stasis", "zstd", "gbps")
    if g is not None:
        out.append("| restart of %d MiB text from a compressed image: memory decompressed "
                   "(restore/fill.c) | %.2f GB/s (%.3f s; to the jump into the program "
                   "%.3f s; image %.1f MiB) |" % (
                       Cfg.mib, g, res.median("decompress", "stasis", "zstd", "fill_s"),
                       res.median("decompress", "stasis", "zstd", "restart_blob_s"),
                       res.median("decompress", "stasis", "zstd", "image_bytes") / MiB))
    ch, fu, fr = (res.median("chain16", "stasis", v, "restart_blob_s")
                  for v in ("chain", "full", "fullread"))
    if ch is not None and fu is not None and fr is not None:
        out.append("| restart of %d MiB (pagemem) to the jump into the program: from a chain "
                   "of %d images / from one full image (stasis merge), mapped / the same "
                   "read (--no-map) | %.3f s / %.3f s / %.3f s (%.2fx / %.2fx; memory %.3f / "
                   "%.3f / %.3f s) |" % (
                       Cfg.mib, res.median("chain16", "stasis", "chain", "files"), ch, fu, fr,
                       res.median_ratio("chain16", "chain", "full", "restart_blob_s"),
                       res.median_ratio("chain16", "chain", "fullread", "restart_blob_s"),
                       res.median("chain16", "stasis", "chain", "fill_s"),
                       res.median("chain16", "stasis", "full", "fill_s"),
                       res.median("chain16", "stasis", "fullread", "fill_s")))
    for (name, mib), (v, label) in itertools.product(
            (("mapped", Cfg.mib), ("mapped_big", Cfg.big_mib)),
            (("mapped", "mapped, checksums verified"), ("noverify", "mapped, --no-verify"),
             ("read", "read (--no-map)"))):
        x = res.median(name, "stasis", v, "restart_next_s")
        if x is not None:
            out.append("| restart of %d MiB random (--no-compress) to the next instruction, "
                       "%s | %.3f s |" % (mib, label, x))
    full, inc = (res.median("incremental", "stasis", v, "image_bytes")
                 for v in ("full", "incremental"))
    if inc is not None:
        out.append("| incremental image, %d MiB rewritten in %d MiB | %.1f MiB in %.3f s "
                   "(full: %.1f MiB, %.3f s) |" % (
                       Cfg.incr_dirty_mib, Cfg.mib, inc / MiB,
                       res.median("incremental", "stasis", "incremental", "ckpt_s"),
                       full / MiB, res.median("incremental", "stasis", "full", "ckpt_s")))
    for v, label in (("bounced", "bytes read to the markers and bounced back"),
                     ("copied", "bytes copied (all acknowledged)")):
        d = res.median("tcp", "stasis", v, "drain_ms")
        if d is not None:
            out.append("| %d TCP connections, %d KiB in flight each way on each: drain and "
                       "refill, %s | %.0f ms (checkpoint %.3f s) |" % (
                           Cfg.tcp_conns, Cfg.tcp_kib, label, d,
                           res.median("tcp", "stasis", v, "ckpt_s")))
    x = res.median("tcp", "stasis", "restart", "restart_s")
    if x is not None:
        out.append("| same: restart until every process is back (connections made again, "
                   "bytes put back) | %.3f s |" % x)
    nat, sta = (res.median("redis", v, "run", "rps") for v in ("native", "stasis"))
    if nat and sta:
        out.append("| redis-benchmark SET+GET, native / under stasis launch | %.0f / %.0f "
                   "req/s (%.1f %%) |" % (nat, sta, 100 * sta / nat))
    nat, sta = (res.median("true", v, "launch", "launch_ms") for v in ("native", "stasis"))
    if nat and sta:
        out.append("| launch overhead, stasis launch /bin/true (median of %d) | +%.2f ms "
                   "(%.2f against %.2f) |" % (Cfg.launch_runs, sta - nat, sta, nat))
    if not out:
        return ""
    return "### Stasis alone\n\n| measure | result |\n|---|---:|\n" + "\n".join(out) + "\n"


def coord_table(res):
    rows = []
    for n in Cfg.coord_procs:
        g = lambda k: res.median("coord", "stasis", str(n), k)
        if g("joined") is None:
            continue
        rows.append("| %d | %d | %.3f | %s | %.2f | %.0f | %.0f | %d |" % (
            n, g("joined"), g("join_s"),
            "%.3f" % g("ckpt_s") if g("status") == 0 else "failed (%.1f s)" % g("ckpt_s"),
            g("coord_cpu_ckpt_s"), g("bytes_per_proc"), g("hwm_kib") / 1024, g("pass_pids")))
    if not rows:
        return ""
    lim = res.values("coord", "stasis", str(Cfg.coord_procs[0]), "nofile_coord")
    return ("### The coordinator at scale (bench/coordload.c, simulated processes)\n\n"
            "| processes asked | joined | join s | checkpoint s (request to result) | "
            "coordinator CPU in it, s | coordinator RSS per process, bytes | coordinator "
            "peak RSS, MiB | pids in the SUSPENDED pass |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
            "\n" + "\n".join(rows) + "\n\nRLIMIT_NOFILE of the coordinator (soft/hard): %s.\n"
            % (lim[0] if lim else "?"))


def tables(res, wls):
    parts = [workload_table(res, wl) for wl in wls
             if any(res.values(wl.name, "stasis", v, "ckpt_s") for v in ("zstd", "raw"))
             or any(res.values(wl.name, t, v, "ckpt_s") for t, v, _ in PEER_ROWS)]
    parts += [extras_table(res), hosts_table(res), coord_table(res), targets_table(res, wls)]
    head = ("Medians of %d rounds (BENCH_MIB=%d). \"Stasis ÷\": on Stasis's rows, Stasis's "
            "time (or size) over the fastest (smallest) peer's of the same round; on the other "
            "rows, Stasis's (zstd) over that row's; the median of those per-round ratios. "
            "Peers' images are synced inside their timed span.\n"
            % (Cfg.rounds, Cfg.mib))
    return "\n".join([head] + [p for p in parts if p])


def verdict(x, limit):
    if x is None:
        return "not measured"
    return "met" if x <= limit else "gap: %.2fx" % x


def targets_table(res, wls):
    """Every target of issue 11 this run measured: met, or the gap."""
    rows = []
    for wl in wls:
        rt = ratios(res, wl.name)
        for key, limit, what in (
                (("zstd", "ckpt_s", "fastest peer"), 0.7, "checkpoint <= 0.7x the fastest peer"),
                (("zstd", "ckpt_s", "limit"), 1.1, "checkpoint <= 1.1x dd conv=fsync"),
                (("zstd", "image_bytes", "fastest peer"), 1.0, "image <= the smallest peer's"),
                (("zstd", "restart_s", "fastest peer"), 0.5, "restart <= 0.5x the fastest peer")):
            if rt.get(key) is not None:
                rows.append((wl.title, what, fx(rt[key]), verdict(rt[key], limit)))
        if wl.nprocs > 1:
            for m in ("ckpt_s", "restart_s"):
                x = rt.get(("zstd", m, "dmtcp raw"))
                if x is not None:
                    rows.append((wl.title, "%s <= 0.5x DMTCP's" % m.split("_")[0], fx(x),
                                 verdict(x, 0.5)))
        for k in ("writer_extra_kib", "restorer_extra_kib"):
            x = res.median(wl.name, "stasis", "zstd", k)
            if x is not None and wl.name in ("rand", "big"):
                rows.append((wl.title, "%s's own peak RSS <= 64 MiB" % k.split("_")[0],
                             "%.1f MiB" % (x / 1024), verdict(x / 1024 / 64, 1.0)))
        share = res.median(wl.name, "stasis", "zstd", "share_pass_ms")
        if share is not None:
            rows.append((wl.title, "sharing pass <= 0.1 s per process", "%.1f ms" % share,
                         verdict(share / 100, 1.0)))
    for name, mib, lim in (("pause", Cfg.mib, 5), ("pause_big", Cfg.big_mib, 10)):
        for metric, which in (("pause_ms", "first"), ("pause2_ms", "second")):
            x = res.median(name, "stasis", "forked", metric)
            if x is not None:
                rows.append(("%d MiB random" % mib, "pause of a forked checkpoint <= %d ms "
                             "(%s checkpoint of the process)" % (lim, which), "%.1f ms" % x,
                             verdict(x / lim, 1.0)))
    for name, mib in (("mapped", Cfg.mib), ("mapped_big", Cfg.big_mib)):
        x = res.median(name, "stasis", "mapped", "restart_next_s")
        if x is not None:
            rows.append(("%d MiB random" % mib, "restart to the first instruction <= 20 ms "
                         "(mapped, checksums verified)", "%.1f ms" % (x * 1e3),
                         verdict(x / 0.020, 1.0)))
    g = res.median("decompress", "stasis", "zstd", "gbps")
    if g is not None:
        rows.append(("%d MiB text" % Cfg.mib, "decompression at restart >= 2 GB/s",
                     "%.2f GB/s" % g, verdict(2 / g, 1.0)))
    x = res.median_ratio("chain16", "chain", "full", "restart_blob_s")
    if x is not None:
        rows.append(("%d MiB (pagemem)" % Cfg.mib, "chain of 16 images restarts <= 1.2x a "
                     "full image", fx(x), verdict(x / 1.2, 1.0)))
    for n in Cfg.coord_procs:
        g = lambda k: res.median("coord", "stasis", str(n), k)
        if g("ckpt_s") is not None:
            ok = g("status") == 0 and g("joined") == n
            if ok:
                got, v = "%.3f s" % g("ckpt_s"), verdict(g("ckpt_s"), 1.0)
            elif g("status") == 0:  # the others wait at the coordinator's descriptor limit
                got = "%d joined (descriptor limit): %.3f s" % (g("joined"), g("ckpt_s"))
                v = "gap: not all joined"
            else:
                got = "broke: %d joined, status %d" % (g("joined"), g("status"))
                v = "gap: see the coordinator table"
            rows.append(("%d simulated processes" % n, "coordinator checkpoint <= 1 s", got, v))
    if not rows:
        return ""
    return ("### Targets (issue 11)\n\n| workload | target | measured (median of per-round "
            "ratios) | verdict |\n|---|---|---:|---|\n"
            + "\n".join("| %s |" % " | ".join(r) for r in rows) + "\n")


def write_results(res, wls):
    res.write_runs()
    with open(os.path.join(res.dir, "results.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["workload", "tool", "variant", "metric", "median", "rounds"])
        keys = sorted(set(r[:4] for r in res.rows if isinstance(r[5], (int, float))))
        for k in keys:
            v = [x for x in res.values(*k) if isinstance(x, (int, float))]
            out.writerow([*k, "%.6g" % statistics.median(v), len(v)])
        for wl in wls:
            for (sv, m, against), x in sorted(ratios(res, wl.name).items()):
                if x is not None:
                    out.writerow([wl.name, "stasis", sv, "%s/%s" % (m, against.replace(" ", "_")),
                                  "%.4f" % x, ""])
    with open(os.path.join(res.dir, "peers.txt"), "w") as f:
        f.write("\n".join(res.notes) + "\n")
    with open(os.path.join(res.dir, "coord.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["n", "metric", "value"])
        out.writerows((r[2], r[3], r[5]) for r in res.rows if r[0] == "coord")
    text = tables(res, wls)
    with open(os.path.join(res.dir, "tables.md"), "w") as f:
        f.write(text)
    return text


# ---- charts ----

def chart_rows(res, points):
    """Rows: x, then ckpt_s and restart_s medians of stasis zstd, dmtcp raw, criu, dd."""
    cols = [("stasis", "zstd"), ("dmtcp", "raw"), ("criu", "raw")]
    rows = []
    for x, w in points:
        row = [x]
        for m in ("ckpt_s", "restart_s"):
            row += [res.median(w, t, v, m) for t, v in cols]
        row.append(res.median(w, "dd", "fsync", "ckpt_s"))
        if any(v is not None for v in row[1:]):
            rows.append(row)
    return rows


def gnuplot_lines(path, rows, xlabel, title):
    dat = path[:-4] + ".dat"
    with open(dat, "w") as f:
        f.write("# x stasis_ckpt dmtcp_ckpt criu_ckpt stasis_restart dmtcp_restart "
                "criu_restart dd_fsync\n")
        for r in rows:
            f.write(" ".join("?" if v is None else "%.6g" % v for v in r) + "\n")
    names = ["Stasis", "DMTCP --no-gzip", "CRIU"]
    plot = lambda cols, extra: ", ".join(
        ["'%s' using 1:%d with linespoints title '%s'" % (dat, c, n)
         for c, n in zip(cols, names)] + extra)
    script = """set terminal pngcairo size 1100,450 noenhanced
set output '%s'
set datafile missing '?'
set logscale xy
set grid
set key top left
set xlabel '%s'
set ylabel 'seconds'
set multiplot layout 1,2 title '%s'
set title 'durable checkpoint'
plot %s
set title 'restart to the next tick'
plot %s
unset multiplot
""" % (path, xlabel, title, plot([2, 3, 4], ["'%s' using 1:8 with linespoints dt 2 title "
                                             "'dd conv=fsync (limit)'" % dat]),
       plot([5, 6, 7], []))
    r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if r.returncode != 0:
        log("gnuplot failed on %s: %s" % (path, tail_text(r.stderr)))


def coord_chart(res, path):
    rows = []
    for n in Cfg.coord_procs:
        g = lambda k: res.median("coord", "stasis", str(n), k)
        if g("joined"):
            rows.append((g("joined"), g("join_s"), g("ckpt_s")))
    if not rows:
        return
    dat = path[:-4] + ".dat"
    with open(dat, "w") as f:
        f.write("# joined join_s ckpt_s\n" + "".join("%d %.6g %.6g\n" % r for r in rows))
    script = """set terminal pngcairo size 700,450 noenhanced
set output '%s'
set logscale xy
set grid
set key top left
set xlabel 'simulated processes joined'
set ylabel 'seconds'
set title 'one coordinator: time against processes'
plot '%s' using 1:3 with linespoints title 'checkpoint (request to result)', \\
     '%s' using 1:2 with linespoints title 'all joined'
""" % (path, dat, dat)
    subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)


def charts(res, wls):
    if not shutil.which("gnuplot"):
        log("gnuplot is not installed: no charts (apt-get install gnuplot-nox)")
        return
    by = {w.name: w for w in wls}
    size = sorted((w.mib, w.name) for w in wls if w.family == "size")
    procs = sorted((w.nprocs, w.name) for w in wls if w.family == "procs")
    if "rand" in by and procs:
        procs = [(1, "rand")] + procs
    if len(size) > 1:
        gnuplot_lines(os.path.join(res.dir, "size.png"), chart_rows(res, size),
                      "memory, MiB (memhog, random)", "time against memory size")
    if len(procs) > 1:
        gnuplot_lines(os.path.join(res.dir, "procs.png"), chart_rows(res, procs),
                      "processes (%d MiB random in all)" % Cfg.mib,
                      "time against process count")
    coord_chart(res, os.path.join(res.dir, "coord.png"))


# ---- main ----

def setup(work):
    for p in (STASIS, MEMHOG, MANYHOG, COORDLOAD):
        if not os.access(p, os.X_OK):
            raise BenchError("%s is missing: build first (make)" % p)
    become_subreaper()
    run_dir = os.path.join(work, "run")
    os.mkdir(run_dir, 0o700)
    os.environ["STASIS_RUN_DIR"] = run_dir
    os.makedirs(Cfg.results, exist_ok=True)


def measure(work, res):
    if Cfg.peers:
        peers = peers_on_path(res)
    else:
        peers = []
        peer_note(res, "peers: not run (make bench PEERS=1 runs DMTCP and CRIU beside Stasis)")
    wls = [w for w in workloads(work) if selected(w.name)]
    if wls:  # images hold a little more than the memory (a few MiB per process)
        src = make_random_source(work, max(w.mib + 4 * w.nprocs for w in wls) + 64)
    for wl in wls:
        run_workload(wl, work, res, peers, src)
    extras(work, res)
    if selected("hosts4"):
        hosts_job(work, res)
    if selected("coord"):
        coord_sim(work, res)
    return wls


def main():
    signal_exit = lambda *_: sys.exit(130)
    import signal
    signal.signal(signal.SIGTERM, signal_exit)
    work = tempfile.mkdtemp(prefix="stasis-bench.", dir=Cfg.tmp)
    res = Results(Cfg.results)
    t0 = time.monotonic()
    try:
        setup(work)
        log("%d rounds; images and dd files in %s; results in %s"
            % (Cfg.rounds, work, Cfg.results))
        wls = measure(work, res)
    except BenchError as e:
        log(str(e))
        return 1
    finally:
        kill_ours()
        shutil.rmtree(work, ignore_errors=True)
    text = write_results(res, wls)
    charts(res, wls)
    print(text)
    print("\n".join(["peers:"] + ["  " + n for n in res.notes]))
    if res.findings:
        print("\n".join(["\nfindings (measured, not bench failures):"]
                        + ["  " + f for f in res.findings]))
    log("%.0f s; every measurement in %s/runs.csv, medians and ratios in results.csv, "
        "tables in tables.md, charts *.png" % (time.monotonic() - t0, res.dir))
    if res.failures:
        log("%d series FAILED:\n  %s" % (len(res.failures), "\n  ".join(res.failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
