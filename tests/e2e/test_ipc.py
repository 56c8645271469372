"""Shared memory and IPC: objects shared by several processes of a computation
come back as one object each, shared again (a write by one process after the
restart is seen by the other), with their contents, two checkpoint/kill/restart
cycles each. The programs are tests/programs/ipc_*.c (zdtm protocol: the parent
prints PASS or FAIL after the verify file appears)."""

import json
import signal

from conftest import program


def cycles(st, name, nprocs, *args, count=2, between=None):
    """Launch NAME (a zdtm program whose computation has nprocs processes),
    checkpoint --kill and restart it `count` times, then let it verify itself.
    Returns its output."""
    out = st.tmp / f"{name}.out"
    verify = st.tmp / "verify"
    p = st.launch(program(name), verify, *args, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=nprocs, proc=p)
    for i in range(count):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == nprocs, imgs
        rc = p.wait(timeout=30)
        assert rc in (-signal.SIGKILL, 128 + signal.SIGKILL), st.describe_all()
        if between:
            between(i)
        p = st.restart(imgs)
        st.wait_registered(nprocs=nprocs, proc=p)
    verify.touch()
    rc = p.wait(timeout=60)
    text = out.read_text(errors="replace")
    assert "PASS" in text and rc == 0 and "FAIL" not in text, (
        f"{name}: exit {rc}, output:\n{text}\n{st.describe_all()}")
    assert text.count("ready") == 1, text
    return text


def test_shared_anonymous_memory_and_memfd_between_processes(st):
    cycles(st, "ipc_shm", 2)


def test_shared_pages_are_stored_once(st):
    """The child maps the same 1 MiB of shared memory as its parent: only the
    parent's image holds those pages."""
    out = st.tmp / "ipc_shm.out"
    p = st.launch(program("ipc_shm"), st.tmp / "verify", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    imgs = st.checkpoint(kill=True)
    stored = {}
    for img in imgs:
        r = st.stasis("inspect", img, "--json")
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        stored[info["pid"]] = sum(v["chunks"] for v in info["vmas"] if v["kind"] == "shmem")
    assert stored[p.pid] >= 1, stored  # the 1 MiB pattern and the memfd's pages
    child = [pid for pid in stored if pid != p.pid]
    assert len(child) == 1 and stored[child[0]] == 0, stored
    r = st.restart(imgs)
    st.wait_registered(nprocs=2, proc=r)
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0 and "PASS" in out.read_text(), st.describe_all()


def test_posix_shm_and_semaphores_with_a_waiting_child(st):
    """Cycle 1 restarts with the /dev/shm files in place, cycle 2 after they were
    removed: they come back from the image and are shared again."""
    import glob
    import os

    def between(i):
        files = [f for pid in [launched[0]] for f in
                 (f"/dev/shm/stasis-ipc-{pid}", f"/dev/shm/sem.stasis-ipc-sem-{pid}")]
        for f in files:
            assert os.path.exists(f), f
            if i == 1:
                os.unlink(f)
    launched = []
    orig = st.launch

    def launch(*a, **k):
        p = orig(*a, **k)
        launched.append(p.pid)
        return p
    st.launch = launch
    cycles(st, "ipc_sem", 2, between=between)
    assert not glob.glob(f"/dev/shm/*stasis-ipc*-{launched[0]}"), "files left behind"


def test_sysv_shm_semaphores_and_message_queue(st):
    try:
        cycles(st, "ipc_sysv", 2)
    finally:
        # the objects of the first run stay in the host's IPC namespace after
        # its checkpoint --kill (restarts ran in namespaces of their own)
        import re
        import subprocess
        text = (st.tmp / "ipc_sysv.out").read_text()
        m = re.search(r"ids (\d+) (\d+) (\d+) (\d+) (\d+)", text)
        if m:
            a, b, c, sem, q = m.groups()
            subprocess.run(["ipcrm", "-m", a, "-m", b, "-m", c, "-s", sem, "-q", q],
                           capture_output=True)


def test_posix_message_queues(st):
    import ctypes
    pids = []
    orig = st.launch

    def launch(*a, **k):
        p = orig(*a, **k)
        pids.append(p.pid)
        return p
    st.launch = launch
    try:
        cycles(st, "ipc_mq", 2)
    finally:
        # the first run's queue stays in the host's IPC namespace after its
        # checkpoint --kill (restarts ran in namespaces of their own)
        if pids:
            ctypes.CDLL(None).mq_unlink(f"/stasis-mq-{pids[0]}".encode())
