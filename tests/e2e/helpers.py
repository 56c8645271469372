"""Helpers shared by the end-to-end tests of faults and lifecycles
(test_lifecycle.py, test_faults.py, test_corrupt.py, test_soak.py,
test_load.py): bounded waits, the coordinator's status, the checkpoint
directory's generations, and the programs' "tick N" lines."""

import json
import os
import re
import socket
import time

import pytest

from conftest import _descendants, _reap_all, program


def wait_until(pred, timeout, what):
    """pred()'s first true value, polled every 10 ms; fails after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.01)


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def coordinator(st, *opts, port=None, env=None):
    """Start `stasis coordinator --daemon` on port (default st.port); returns its pid."""
    port = port or st.port
    r = st.stasis("coordinator", "--daemon", "-p", port, "--ckpt-dir", st.ckpt_dir, *opts,
                  timeout=20, env=env)
    assert r.returncode == 0, r.stderr
    return status_of(st, port)["pid"]


def status_of(st, port=None):
    r = st.stasis("status", "-p", port or st.port, "--json", timeout=20)
    assert r.returncode == 0, f"status failed: {r.stderr}\n{st.describe_all()}"
    return json.loads(r.stdout)


def ticks(path):
    """The last "tick N" the program printed (0 if none)."""
    found = re.findall(r"^tick (\d+)(?: .*)?$", path.read_text(errors="replace"), re.M)
    return int(found[-1]) if found else 0


def writes_on(st, r, out, size):
    """The program restored by r writes out past size within 30 s, every tick
    line "ok" and in sequence."""
    deadline = time.monotonic() + 30
    while out.stat().st_size <= size:
        assert r.running() and time.monotonic() < deadline, st.describe_all()
        time.sleep(0.01)
    found = re.findall(r"^tick (\d+) (\w+)$", out.read_text(), re.M)
    assert found == [(str(i), "ok") for i in range(len(found))], found


def runs_on(st, out, n=3):
    """The program prints n more ticks: it runs."""
    t0 = ticks(out)
    wait_until(lambda: ticks(out) >= t0 + n, 20, f"the program printing tick {t0 + n}")


def start_tree(st, nchild=0, mib=4, opts=(), name="lifecycle", extra=()):
    """tests/programs/NAME (lifecycle, family) with NCHILD children of MIB MiB
    each, launched and registered; returns (launch, its output file)."""
    out = st.tmp / f"{name}.out"
    p = st.launch(program(name), st.tmp / "verify", nchild, mib, *extra, out=out, opts=opts)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=1 + nchild, proc=p)
    return p, out


def finish(st, proc, out):
    (st.tmp / "verify").touch()
    rc = proc.wait(60)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, (
        f"exit {rc}:\n{text}\n{st.describe_all()}")


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def generations(st):
    """{gen: [image names]} of the checkpoint directory."""
    gens = {}
    for f in st.ckpt_dir.glob("ckpt_*.stasis"):
        gens.setdefault(int(re.search(r"_g(\d+)\.stasis$", f.name).group(1)), []).append(f.name)
    return gens


def newest_complete(st, nprocs):
    complete = [g for g, imgs in generations(st).items() if len(imgs) == nprocs]
    return max(complete) if complete else None


def restart_dir(st, nprocs):
    """restart --dir; returns it and the generation it chose (its debug log)."""
    st.env["STASIS_LOG"] = "debug"
    p = st.restart(directory=st.ckpt_dir)
    del st.env["STASIS_LOG"]
    st.wait_registered(nprocs=nprocs, proc=p)
    m = re.search(r"restarting generation (\d+) of computation", p.err.read_text())
    assert m, p.err.read_text()
    return p, int(m.group(1))


def kill_all(st):
    r = st.stasis("kill", "-p", st.port, timeout=30)
    assert r.returncode == 0, r.stderr


def live_descendants():
    """Our live descendants (the harness is a subreaper: whatever a test left
    running is here), zombies reaped first."""
    _reap_all()
    return {d for d in _descendants(os.getpid()) if not gone(d)}
