"""SIGKILL of `stasis restart` while it loads: while it reads the images,
while a restored process fills its memory, while one is in the restore blob,
and while the others wait for the RESTARTED barrier. The moment is held with
a fault point that stops the process there (STASIS_FAULT=POINT@PID/stop,
src/common/fault.h). After the kill: the images are unchanged (their
checksums), no process of the restart is left, the coordinator is idle with
no process, and the next restart works (docs/reliability.md)."""
import hashlib
import signal
import subprocess

import pytest

from conftest import _descendants, nspid
from helpers import (coordinator, finish, live_descendants, start_tree, status_of,
                     wait_until)


def digests(d):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(d.iterdir())}


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0]
    except FileNotFoundError:
        return None


def restored(restart, pid):
    """Host pid of the restart's process that sees itself as pid, or None."""
    for d in _descendants(restart.pid):
        ns = nspid(d)
        if len(ns) > 1 and ns[-1] == pid:
            return d
    return None


# moment -> (STASIS_FAULT for restart, the process it stops: "restart" or "child")
MOMENTS = {
    "reading the images": ("img-read:10/stop", "restart"),
    "filling memory": ("rst-alloc:1@{child}/stop", "child"),
    "in the blob": ("rst-blob:1@{child}/stop", "child"),
    "waiting for RESTARTED": ("rst-blob:1@{child}/stop", "child"),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_of_restart_while_it_loads(st, moment):
    coord = coordinator(st)
    p, out = start_tree(st, nchild=2, mib=8, name="family", extra=(1,))
    child = max(x["pid"] for x in status_of(st)["procs"])
    st.checkpoint(kill=True)
    st.wait_killed(p)
    before = digests(st.ckpt_dir)
    fault, who = MOMENTS[moment]
    r = subprocess.Popen([str(st.bin), "restart", "-p", str(st.port), "--dir", str(st.ckpt_dir)],
                         env=dict(st.env, STASIS_FAULT=fault.format(child=child)), cwd=st.tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        held = r.pid if who == "restart" else wait_until(lambda: restored(r, child), 20,
                                                         "the child restored")
        wait_until(lambda: state(held) == "T", 20, f"the restart held {moment}")
        if moment == "waiting for RESTARTED":
            wait_until(lambda: sum(x["restored"] for x in status_of(st)["procs"]) == 2, 20,
                       "the two other processes waiting for RESTARTED")
        r.kill()
        assert r.wait(10) == -signal.SIGKILL
    finally:
        if r.poll() is None:
            r.kill()
    wait_until(lambda: live_descendants() == {coord}, 10, "every process of the restart gone")
    s = status_of(st)
    assert s["nprocs"] == 0 and s["state"] == "idle", s
    assert digests(st.ckpt_dir) == before, "the images changed"
    assert "stopping at" in r.stderr.read()
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=3, proc=p)
    finish(st, p, out)
