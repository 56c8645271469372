#!/usr/bin/python3
"""Throughput of redis-server natively and under `stasis launch` (no
checkpoint during the run): issue 4 wants >= 98 %.

Three servers run side by side on free loopback ports: two native ones and
one under Stasis. redis-benchmark runs against each in turn, ROUNDS times,
rotating which goes first, so that the load of a shared machine falls on all
alike. Reported per test: the median requests per second and the server's
CPU time per request (all its threads, /proc/PID/task/*/schedstat), for the
Stasis server against the first native one, and for the second native one
against the first: that A/A ratio is how far this machine's noise alone moves
the numbers (on 2 shared cores, often 10 % or more).

    /usr/bin/python3 tests/perf_redis.py [ROUNDS] [REQUESTS]
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STASIS = ROOT / "build" / "bin" / "stasis"
# STASIS_PERF_PIN=1: server on CPU 0, client on CPU 1 (helps on an idle machine only)
PIN_SERVER, PIN_CLIENT = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) \
    if os.cpu_count() >= 2 and os.environ.get("STASIS_PERF_PIN") == "1" else ([], [])
CONFIGS = [("P16", ["-P", "16"]), ("P1", [])]
TESTS = ["SET", "GET"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ping(port, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"redis on port {port} did not answer within {timeout} s")


def cpu_seconds(pid):
    """CPU time of every thread of pid so far (schedstat: nanoseconds on CPU;
    /proc/PID/stat's clock ticks are too coarse for 100000 requests)."""
    ns = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            ns += int((t / "schedstat").read_text().split()[0])
        except (OSError, IndexError):
            pass  # a thread that just ended
    return ns / 1e9


def start(tmp, name, port, under_stasis):
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    env = dict(os.environ)
    if under_stasis:
        run = tmp / "run"
        run.mkdir(mode=0o700)
        env.update(STASIS_RUN_DIR=str(run))
        argv = [str(STASIS), "launch", "-p", str(free_port()), "--ckpt-dir", str(tmp), *argv]
    log = open(tmp / f"{name}.log", "wb")
    p = subprocess.Popen(PIN_SERVER + argv, cwd=tmp, env=env, stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    wait_ping(port)
    return p  # launch execs redis-server: p.pid is the server


def bench(port, pid, opts, n):
    """{test: (requests per second, server CPU microseconds per request)}"""
    out = {}
    for t in TESTS:
        c0 = cpu_seconds(pid)
        r = subprocess.run([*PIN_CLIENT, "redis-benchmark", "-p", str(port), "-q", "--csv", "-n", str(n),
                            "-t", t.lower(), *opts], capture_output=True, text=True,
                           timeout=600)
        c1 = cpu_seconds(pid)
        rows = [l.split(",") for l in r.stdout.splitlines() if l.startswith(f'"{t}"')]
        if r.returncode or not rows:
            sys.exit(f"redis-benchmark failed: {r.stdout} {r.stderr}")
        out[t] = (float(rows[0][1].strip('"')), (c1 - c0) * 1e6 / n)
    return out


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    if not shutil.which("redis-server") or not STASIS.exists():
        sys.exit("needs redis-server, redis-benchmark and build/bin/stasis ('make -j2')")
    with tempfile.TemporaryDirectory(prefix="perf_redis.") as d:
        tmp = Path(d)
        names = ["native", "native2", "stasis"]
        ports = {k: free_port() for k in names}
        procs = {}
        for k in names:
            (tmp / k).mkdir()
            procs[k] = start(tmp / k, k, ports[k], k == "stasis")
        res = {(k, c, t): [] for k in procs for c, _ in CONFIGS for t in TESTS}
        try:
            for r in range(rounds):
                order = names[r % 3:] + names[:r % 3]
                for cname, opts in CONFIGS:
                    for k in order:
                        for t, v in bench(ports[k], procs[k].pid, opts, n).items():
                            res[(k, cname, t)].append(v)
        finally:
            for p in procs.values():
                p.kill()
                p.wait()
    print(f"redis-benchmark -n {n}, {rounds} rounds; load {os.getloadavg()[0]:.2f}")
    print("medians of the runs, and of the ratios of runs of the same round")
    print(f"{'test':8} {'native':>8} {'stasis':>8} {'ratio':>6} {'A/A':>6}   "
          f"{'us/req native':>13} {'stasis':>6} {'ratio':>6} {'A/A':>6}")
    med = lambda k, c, t, i: statistics.median(x[i] for x in res[(k, c, t)])

    def paired(c, t, i, a, b):
        """median over rounds of a's value / b's value"""
        return statistics.median(x[i] / y[i] for x, y in zip(res[(a, c, t)], res[(b, c, t)]))
    for cname, _ in CONFIGS:
        for t in TESTS:
            r = [med(k, cname, t, 0) for k in ("native", "stasis")]
            u = [med(k, cname, t, 1) for k in ("native", "stasis")]
            print(f"{t + ' ' + cname:8} {r[0]:8.0f} {r[1]:8.0f} "
                  f"{paired(cname, t, 0, 'stasis', 'native'):6.1%} "
                  f"{paired(cname, t, 0, 'native2', 'native'):6.1%}   {u[0]:13.3f} {u[1]:6.3f} "
                  f"{paired(cname, t, 1, 'native', 'stasis'):6.1%} "
                  f"{paired(cname, t, 1, 'native', 'native2'):6.1%}")

if __name__ == "__main__":
    main()
