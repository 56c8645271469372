#!/usr/bin/python3
"""The MPI benchmark (make bench-mpi, and part of make bench): docs/performance.md, "MPI jobs".

1. Checkpoint and restart of a 4-rank job with BENCH_MPI_MIB (256) MiB of random data per rank
   (tests/mpi/hog.c), each MPI installed: the durable checkpoint while the job runs on, the
   checkpoint --kill (each after a sync, outside the timed span), the images' bytes, and the
   restart (from the start of `stasis restart` to the job's next tick line; the images are in
   the page cache). DMTCP on the same job when its binaries run it (BENCH_PEERS=1).
2. Ping-pong between 2 ranks (tests/mpi/pingpong.c, like the OSU latency and bandwidth tests),
   native and under `stasis launch`, alternating, BENCH_MPI_PINGPONG (7) runs each: medians.

Environment: BENCH_ONLY (when set, this runs only if it names mpi), BENCH_ROUNDS (3), BENCH_MPI_MIB (256), BENCH_MPI_PINGPONG (7), BENCH_TMP (/var/tmp:
images on a real disk), BENCH_RESULTS (bench/results: mpi.md), BENCH_PEERS, BENCH_PEERS_PREFIX.
"""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STASIS = ROOT / "build" / "bin" / "stasis"
MPI_BIN = ROOT / "build" / "tests" / "mpi"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
MIB = int(os.environ.get("BENCH_MPI_MIB", "256"))
PINGS = int(os.environ.get("BENCH_MPI_PINGPONG", "7"))
TMP = os.environ.get("BENCH_TMP", "/var/tmp")
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
PEERS = os.environ.get("BENCH_PEERS") == "1"
DMTCP = Path(os.environ.get("BENCH_PEERS_PREFIX", Path.home() / ".cache/stasis-peers")) / "dmtcp/bin"
LAUNCH = {"openmpi": ["mpirun.openmpi", "--oversubscribe"], "mpich": ["mpiexec.mpich"]}
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
for k in [k for k in ENV if k.startswith("STASIS_")]:
    del ENV[k]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ticks(path):
    try:
        return len(re.findall(r"^tick ", Path(path).read_text(errors="replace"), re.M))
    except FileNotFoundError:
        return 0


def wait_ticks(path, n, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while ticks(path) < n:
        if proc.poll() is not None and ticks(path) < n:
            raise RuntimeError(f"the job ended ({proc.returncode}) before tick {n}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no tick {n} within {timeout} s")
        time.sleep(0.005)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(argv, env, timeout=600):
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: {r.stderr.strip()}")
    return time.monotonic() - t0, r.stdout


def stasis_round(mpi, work):
    """One launch, checkpoint, checkpoint --kill, restart: (ckpt s, kill s, bytes, restart s)."""
    port = free_port()
    run, ck = work / "run", work / "ckpt"
    run.mkdir(mode=0o700)
    ck.mkdir()
    env = dict(ENV, STASIS_RUN_DIR=str(run), STASIS_PORT=str(port))
    out = work / "out"
    job = [*LAUNCH[mpi], "-np", "4", str(MPI_BIN / f"hog.{mpi}"), str(MIB), "200"]
    with open(out, "wb") as fo:
        p = subprocess.Popen([str(STASIS), "launch", "--ckpt-dir", str(ck), "--", *job], env=env,
                             stdout=fo, stderr=open(work / "err", "wb"), start_new_session=True)
    try:
        wait_ticks(out, 2, p)
        os.sync()  # nothing of an earlier write left for a checkpoint's fsync to wait for
        ckpt, _ = timed([str(STASIS), "checkpoint"], env)
        os.sync()
        kill, imgs = timed([str(STASIS), "checkpoint", "--kill"], env)
        p.wait(timeout=60)
        size = sum(os.path.getsize(i) for i in imgs.split())
        n = ticks(out)
        t0 = time.monotonic()
        r = subprocess.Popen([str(STASIS), "restart", "--dir", str(ck)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        wait_ticks(out, n + 1, r)
        restart = time.monotonic() - t0
        subprocess.run([str(STASIS), "kill"], env=env, capture_output=True, timeout=60)
        r.wait(timeout=60)
        return ckpt, kill, size, restart
    finally:
        for proc in (p,):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def dmtcp_try(mpi, work):
    """DMTCP on the same job: None if it ran, else what stopped it."""
    port = str(free_port())
    out = work / "dmtcp.out"
    job = [*LAUNCH[mpi], "-np", "4", str(MPI_BIN / f"hog.{mpi}"), str(MIB), "200"]
    with open(out, "wb") as fo, open(work / "dmtcp.err", "wb") as fe:
        p = subprocess.Popen([str(DMTCP / "dmtcp_launch"), "--new-coordinator", "-p", port,
                              "--no-gzip", "--ckptdir", str(work), *job], env=ENV, stdout=fo,
                             stderr=fe, start_new_session=True)
    try:
        wait_ticks(out, 2, p, timeout=120)
        t, _ = timed([str(DMTCP / "dmtcp_command"), "-p", port, "-bc"], ENV)
        return None, t
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        err = (work / "dmtcp.err").read_text(errors="replace") + out.read_text(errors="replace")
        why = [l for l in err.splitlines() if re.search(r"ASSERT|Segmentation|error", l)]
        return f"{e}: {why[0].strip() if why else err.strip()[-200:]}", None
    finally:
        subprocess.run([str(DMTCP / "dmtcp_command"), "-p", port, "-q"], capture_output=True,
                       timeout=30)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


def pingpong(mpi, under_stasis, work):
    argv = [*LAUNCH[mpi], "-np", "2", str(MPI_BIN / f"pingpong.{mpi}"), "20000"]
    env = dict(ENV)
    if under_stasis:
        run = Path(tempfile.mkdtemp(dir=work))
        os.chmod(run, 0o700)
        env.update(STASIS_RUN_DIR=str(run), STASIS_PORT=str(free_port()))
        argv = [str(STASIS), "launch", "--ckpt-dir", str(run), "--", *argv]
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    vals = dict(l.split() for l in r.stdout.splitlines() if l.startswith(("latency", "band")))
    return float(vals["latency_us"]), float(vals["bandwidth_mbs"])


def main():
    only = os.environ.get("BENCH_ONLY", "").split()
    if only and "mpi" not in only:
        log("bench/mpi.py: BENCH_ONLY does not name mpi: nothing measured")
        return 0
    mpis = [m for m in LAUNCH if (MPI_BIN / f"hog.{m}").exists() and shutil.which(LAUNCH[m][0])]
    if not mpis:
        log("bench/mpi.py: no MPI installed (openmpi-bin, mpich): nothing measured")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, pings, notes = [], [], []
    for mpi in mpis:
        res = []
        for rnd in range(ROUNDS):
            with tempfile.TemporaryDirectory(dir=TMP, prefix="stasis-bench-mpi-") as w:
                res.append(stasis_round(mpi, Path(w)))
                log(f"{mpi} round {rnd + 1}: checkpoint {res[-1][0]:.2f} s, --kill "
                    f"{res[-1][1]:.2f} s, {res[-1][2] / 2**20:.0f} MiB, restart "
                    f"{res[-1][3]:.2f} s")
        med = [statistics.median(r[i] for r in res) for i in range(4)]
        rows.append(f"| {mpi} | {med[0]:.2f} | {med[1]:.2f} | {med[2] / 2**20:.0f} | "
                    f"{med[3]:.2f} |")
        if PEERS:
            with tempfile.TemporaryDirectory(dir=TMP, prefix="stasis-bench-dmtcp-") as w:
                why, t = dmtcp_try(mpi, Path(w))
            notes.append(f"DMTCP ({mpi}): " + (why or f"checkpoint {t:.2f} s"))
            log(notes[-1])
        lat = {False: [], True: []}
        bw = {False: [], True: []}
        with tempfile.TemporaryDirectory(dir=TMP, prefix="stasis-bench-ping-") as w:
            for _ in range(PINGS):
                for st in (False, True):
                    a, b = pingpong(mpi, st, Path(w))
                    lat[st].append(a)
                    bw[st].append(b)
        ln, ls = statistics.median(lat[False]), statistics.median(lat[True])
        bn, bs = statistics.median(bw[False]), statistics.median(bw[True])
        pings.append(f"| {mpi} | {ln:.3f} | {ls:.3f} | {100 * (ls - ln) / ln:+.1f} % | "
                     f"{bn:.0f} | {bs:.0f} | {100 * (bs - bn) / bn:+.1f} % |")
        log(pings[-1])
    text = (f"4 ranks x {MIB} MiB of random data, medians of {ROUNDS} rounds (seconds):\n\n"
            "| MPI | checkpoint | checkpoint --kill | images MiB | restart |\n"
            "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"Ping-pong between 2 ranks, medians of {PINGS} runs each, alternating:\n\n"
            "| MPI | latency native (us) | under stasis | overhead | bandwidth native (MB/s) | "
            "under stasis | overhead |\n|---|---|---|---|---|---|---|\n" + "\n".join(pings) +
            "\n" + "".join(f"\n{n}\n" for n in notes))
    (RESULTS / "mpi.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
