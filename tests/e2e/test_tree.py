"""Process trees: forked and exec'd children are part of the computation and
come back with their PIDs, their parent, the descriptors they share with it
(one offset), and waitpid() on them still works."""

import os
import re
import signal

import pytest

from conftest import nspid


def ns_pids(st, restart_proc):
    """{pid in the namespace: host pid} of the restart's processes."""
    from conftest import _descendants
    out = {}
    for d in _descendants(restart_proc.pid):
        ns = nspid(d)
        if len(ns) > 1:
            out[ns[-1]] = d
    return out


def test_shell_and_child(st):
    out = st.tmp / "sh.out"
    p = st.launch("/bin/sh", "-c", "echo start; sleep 120 & echo child $!; wait; echo waited",
                  out=out)
    st.wait_for(out, "child ", proc=p)
    status = st.wait_registered(nprocs=2, proc=p)
    child = int(re.search(r"child (\d+)", out.read_text()).group(1))
    shell = p.pid
    assert {q["pid"] for q in status["procs"]} == {shell, child}
    imgs = st.checkpoint(kill=True)
    assert len(imgs) == 2
    r = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=2, proc=r)
    pids = ns_pids(st, r)
    assert shell in pids and child in pids, f"PIDs {sorted(pids)}, want {shell} and {child}"
    ppid = int(re.search(r"^PPid:\s*(\d+)", open(f"/proc/{pids[child]}/status").read(),
                         re.M).group(1))
    assert ppid == pids[shell], "the restored child is not the restored shell's child"
    import os
    import signal
    os.kill(pids[child], signal.SIGTERM)  # the shell's wait returns, it goes on
    assert r.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert text.count("start") == 1 and text.rstrip().endswith("waited"), text


FORKER = r"""
import os, sys, time
verify = sys.argv[1]
pid = os.fork()
if pid == 0:
    n = 0
    while True:
        n += 1
        print("child", os.getpid(), os.getppid(), n, flush=True)
        time.sleep(0.05)
print("parent", os.getpid(), "forked", pid, flush=True)
while not os.path.exists(verify):
    time.sleep(0.02)
os.kill(pid, 15)
w, status = os.waitpid(pid, 0)
ok = w == pid and os.WIFSIGNALED(status) and os.WTERMSIG(status) == 15
print("PASS" if ok else "FAIL: waitpid gave %d %d" % (w, status), flush=True)
sys.exit(0 if ok else 1)
"""


def test_forked_child_and_shared_stdout(st):
    out = st.tmp / "fork.out"
    verify = st.tmp / "verify"
    p = st.launch("/usr/bin/python3", "-c", FORKER, verify, out=out)
    st.wait_for(out, "forked", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    parent = p.pid
    child = int(re.search(r"forked (\d+)", out.read_text()).group(1))
    for cycle in range(2):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 2, imgs
        before = out.read_text().count("\n")
        r = st.restart(imgs)
        st.wait_registered(nprocs=2, proc=r)
        pids = ns_pids(st, r)
        assert parent in pids and child in pids, sorted(pids)
        # the child writes on at the shared offset: nothing is overwritten
        import time
        deadline = time.monotonic() + 10
        while out.read_text().count("\n") < before + 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        lines = out.read_text().splitlines()
        counts = [int(l.split()[3]) for l in lines if l.startswith("child ")]
        assert counts == list(range(1, len(counts) + 1)), f"child lines lost or doubled: {lines}"
        assert all(l.startswith(("child ", "parent ")) for l in lines), lines
        for l in lines:
            if l.startswith("child "):
                assert l.split()[1:3] == [str(child), str(parent)], l
        p = r
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    assert out.read_text().rstrip().endswith("PASS"), out.read_text()[-500:]


PIPE = r"""
import os, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    n = 0
    while True:
        n += 1
        os.write(w, b"%d\n" % n)
        time.sleep(0.005)
os.close(w)
f = os.fdopen(r)
expect = 1
while True:
    time.sleep(0.05)  # the writer is faster: data is always in flight
    for _ in range(3):
        v = int(f.readline())
        print("got", v, "ok" if v == expect else "WRONG want %d" % expect, flush=True)
        expect = v + 1
"""


def last_got(out):
    """The last number the reader printed on a whole line (it may be writing
    the next one, and a restarted reader writes over what followed its
    checkpoint)."""
    return int(re.findall(r"^got (\d+) ok\n", out.read_text(), re.M)[-1])


def test_pipe_between_processes_with_data_in_flight(st):
    out = st.tmp / "pipe.out"
    p = st.launch("/usr/bin/python3", "-c", PIPE, out=out)
    st.wait_for(out, "got 10 ", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    import time
    for cycle in range(2):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 2
        last = last_got(out)
        r = st.restart(imgs)
        st.wait_registered(nprocs=2, proc=r)
        deadline = time.monotonic() + 10
        while last_got(out) < last + 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert last_got(out) >= last + 20, st.describe_all()
        p = r
    text = out.read_text()
    text = text[:text.rfind("\n") + 1]  # whole lines: the reader goes on
    assert "WRONG" not in text, [l for l in text.splitlines() if "WRONG" in l][:5]
    values = [int(l.split()[1]) for l in text.splitlines()]
    assert values == list(range(1, len(values) + 1)), "lines lost or repeated"


GROUPS = r"""
import os, sys, time
verify = sys.argv[1]
def child(setup):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        setup()
        os.write(w, b"x")                          # set up: the parent may go on
        os.close(w)
        while True:
            time.sleep(0.05)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.close(r)
    return pid
leader = child(lambda: None)
os.setpgid(leader, leader)                         # its own process group
member = child(lambda: None)
os.setpgid(member, leader)                         # joins the leader's group
session = child(lambda: os.setsid())               # its own session
print("ready", leader, member, session, flush=True)
while not os.path.exists(verify):
    time.sleep(0.02)
bad = []
if os.getpgid(leader) != leader: bad.append("leader pgid %d" % os.getpgid(leader))
if os.getpgid(member) != leader: bad.append("member pgid %d" % os.getpgid(member))
if os.getsid(session) != session: bad.append("session sid %d" % os.getsid(session))
if os.getsid(leader) != os.getsid(0): bad.append("leader left our session")
for p in (leader, member, session):
    os.kill(p, 9)
    os.waitpid(p, 0)
print("FAIL: " + ", ".join(bad) if bad else "PASS", flush=True)
sys.exit(1 if bad else 0)
"""


def test_process_groups_and_sessions_of_children(st):
    out = st.tmp / "groups.out"
    verify = st.tmp / "verify"
    p = st.launch("/usr/bin/python3", "-c", GROUPS, verify, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=4, proc=p)
    imgs = st.checkpoint(kill=True)
    assert len(imgs) == 4
    r = st.restart(imgs)
    st.wait_registered(nprocs=4, proc=r)
    verify.touch()
    assert r.wait(30) == 0, st.describe_all()
    assert out.read_text().rstrip().endswith("PASS"), out.read_text()


@pytest.mark.parametrize("first", [0, 1])
def test_programs_launched_side_by_side(st, first):
    """Two programs launched on one port (the tasks of `srun -n 2 stasis
    launch`) make one computation of two roots: one restart brings both back
    and runs until both have ended (it used to end when the first did, and the
    other went with its namespace), with the status of the one that failed."""
    from conftest import program
    outs, verify = [st.tmp / "a.out", st.tmp / "b.out"], [st.tmp / "va", st.tmp / "vb"]
    procs = [st.launch(program("lifecycle"), v, 0, 1, out=o) for o, v in zip(outs, verify)]
    for o, p in zip(outs, procs):
        st.wait_for(o, "tick 1", proc=p)
    st.wait_registered(nprocs=2)
    assert len(st.checkpoint(kill=True)) == 2
    for p in procs:
        st.wait_killed(p)
    r = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=2, proc=r)
    other = 1 - first
    verify[first].touch()
    st.wait_for(outs[first], "PASS", proc=r)
    st.wait_registered(nprocs=1, proc=r)  # the other runs on
    assert r.running() and st.status()["nprocs"] == 1
    n = outs[other].read_text().count("tick")
    st.wait_for(outs[other], f"tick {n + 1}", proc=r)
    os.kill(ns_pids(st, r)[procs[other].pid], signal.SIGTERM)
    assert r.wait(30) == -signal.SIGTERM, st.describe_all()  # restart ends as it did
