"""Every way of making a process joins the computation and comes back after a
restart (two checkpoint/kill/restart cycles each), zombies come back as
zombies with their exit status, and a process that exits leaves the
computation. Programs: tests/programs/proc_*.c."""

import subprocess

import pytest

from conftest import program as program_path

PIPED = ["fork_mt", "vfork_exec", "clone_glibc", "clone_raw", "clone3_raw", "spawn",
         "popen_r", "popen_w"]


@pytest.mark.parametrize("method", PIPED)
def test_child_made_by(st, method):
    """The child writes a sequence to its parent (or reads one from it) through
    a pipe across two restarts: nothing lost or repeated, and the parent can
    still wait for it."""
    st.zdtm("proc_create", method, nprocs=2)


def test_system(st):
    """system() blocks in waitpid (SIGCHLD blocked, SIGINT ignored) across two
    restarts and returns the command's exit status."""
    st.zdtm("proc_create", "system", nprocs=2)


def test_zombies(st):
    """Children that exited (7), were killed by SIGUSR1 and by SIGKILL, not
    reaped: after two restarts they are zombies with the same PIDs, waitpid()
    gives each status, and no SIGCHLD comes from their re-creation."""
    text = st.zdtm("proc_zombie")
    assert "zombies " in text


@pytest.mark.parametrize("method", ["fork_exit", "vfork_exit"])
def test_children_that_exit_all_the_time(st, method):
    """Children made and reaped all the time (each checked for its exit code):
    checkpoints taken meanwhile leave them out (they start again when a child
    was being born or left) and the churn goes on after each restart."""
    st.zdtm("proc_create", method)


def test_child_forked_just_before_its_parent_execs(st):
    """A child forked right before its parent execs (DMTCP's dmtcp5) joins the
    computation of the exec'd parent, whichever of the two joins first: both
    come back from two restarts, and the parent reaps the child."""
    st.zdtm("fork_then_exec", nprocs=2)


def test_exec_stays_in_the_computation(st):
    """A process that execs joins its coordinator again as the same
    computation, at the same generation (it was a new computation, numbered
    from 0, when it joined alone)."""
    p = subprocess.Popen([str(st.bin), "launch", "-p", str(st.port), "--ckpt-dir",
                          str(st.ckpt_dir), program_path("echo_lines")], cwd=st.tmp, env=st.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert p.stdout.readline() == b"ready\n"
        before = st.wait_registered()
        img = st.checkpoint(kill=False)[0]
        assert f"_{before['comp_id']}_" in img and img.endswith("_g1.stasis"), img
        p.stdin.write(b"exec\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"got 1: exec\n"
        assert p.stdout.readline() == b"ready\n"
        after = st.wait_registered()
        assert (after["comp_id"], after["gen"]) == (before["comp_id"], 1), (before, after)
        img = st.checkpoint(kill=True)[0]
        assert f"_{before['comp_id']}_" in img and img.endswith("_g2.stasis"), img
        assert p.wait(30) == -9
    finally:
        p.kill()
        p.wait()


EXITER = r"""
import os, sys, time
verify = sys.argv[1]
pid = os.fork()
if pid == 0:
    time.sleep(0.3)
    os._exit(0)
print("forked", pid, flush=True)
os.waitpid(pid, 0)
print("reaped", flush=True)
while not os.path.exists(verify):
    time.sleep(0.02)
print("PASS", flush=True)
"""


def test_exited_process_leaves_the_computation(st):
    """A child that exited and was reaped is no longer a process of the
    computation: the next checkpoints write one image, without waiting."""
    import time
    out = st.tmp / "exiter.out"
    verify = st.tmp / "verify"
    p = st.launch("/usr/bin/python3", "-c", EXITER, verify, out=out)
    st.wait_for(out, "forked", proc=p)
    st.wait_for(out, "reaped", proc=p)
    for cycle in range(2):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 1, imgs
        # a checkpoint that waited for the gone child would have started again
        # (each attempt takes a generation): this one is the first attempt
        assert str(imgs[0]).endswith(f"_g{cycle + 1}.stasis"), imgs
        st.wait_killed(p)
        p = st.restart(imgs)
        status = st.wait_registered(proc=p)
        assert status["nprocs"] == 1, status
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    assert out.read_text().rstrip().endswith("PASS"), out.read_text()


def test_child_sharing_memory_is_refused(st):
    """A child made by clone(CLONE_VM) shares its parent's memory: it cannot
    be a process of its own image. The checkpoint fails (after waiting for it
    to join), names it, writes no image, and both go on running."""
    import os
    import re
    out, verify = st.tmp / "vm.out", st.tmp / "verify"
    p = st.launch(program_path("proc_create"), verify, "clone_vm", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    r = st.checkpoint(kill=True, expect_ok=False)
    assert r.returncode != 0, r.stdout
    m = re.search(r"child process (\d+) did not join the computation.*CLONE_VM", r.stderr)
    assert m, r.stderr
    assert not [f for f in os.listdir(st.ckpt_dir) if f.endswith(".stasis")]
    assert p.running(), st.describe_all()
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    assert "PASS" in out.read_text()
