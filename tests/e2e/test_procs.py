"""Every way of making a process joins the computation and comes back after a
restart (two checkpoint/kill/restart cycles each), zombies come back as
zombies with their exit status, and a process that exits leaves the
computation. Programs: tests/programs/proc_*.c."""

import os
import re
import shutil
import signal
import struct
import subprocess
import time

import pytest

from conftest import free_port
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


def elf32_pause(path):
    """A minimal 32-bit (i386) program that pauses until it is killed, written
    byte by byte (no multilib compiler needed)."""
    code = bytes([0xb8, 29, 0, 0, 0, 0xcd, 0x80, 0xeb, 0xf7])  # eax = pause; int 0x80; again
    base, size = 0x08048000, 52 + 32 + len(code)
    ehdr = struct.pack("<4s5B7xHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, 2, 3, 1,
                       base + 52 + 32, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    phdr = struct.pack("<8I", 1, 0, base, base, size, size, 5, 0x1000)
    path.write_bytes(ehdr + phdr + code)
    path.chmod(0o755)
    return path


def test_launch_refuses_a_32bit_program(st):
    """The runtime cannot be loaded into a 32-bit program: launch says so and
    starts nothing (no coordinator either)."""
    prog = elf32_pause(st.tmp / "pause32")
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, prog, timeout=30)
    assert r.returncode == 126, r
    assert f"stasis: error: {prog} is a 32-bit program: Stasis checkpoints x86_64 programs " \
           "only" in r.stderr, r.stderr
    assert st.status() is None


def test_launch_runs_a_static_program_outside_stasis(st):
    """A statically linked program runs, with a warning that names it, without
    checkpoints; no coordinator is started for it."""
    prog = program_path("idle_static")
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, prog, "exit", timeout=30)
    assert (r.returncode, r.stdout) == (3, "idle ran\n"), r
    assert f"stasis: warning: {prog} is statically linked: the runtime cannot be loaded " \
           "into it, so it runs outside Stasis, without checkpoints" in r.stderr, r.stderr
    assert st.status() is None


def outside_pid(text):
    return int(re.search(r"^outside pid (\d+)$", text, re.M).group(1))


def still_runs(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] in "RS"


def setuid_copy(st, name):
    """A copy of a test program that runs as nobody (set-user-ID): the dynamic
    loader then ignores LD_PRELOAD."""
    if os.geteuid() != 0:
        pytest.skip("giving a set-user-ID program to another user needs root (CI runs as root)")
    path = st.tmp / name
    shutil.copy(program_path(name), path)
    os.chown(path, 65534, 65534)
    path.chmod(0o4755)
    return path


@pytest.mark.parametrize("kind", ["static", "32bit", "setuid"])
def test_exec_of_a_program_that_cannot_join(st, kind):
    """A child that execs a statically linked, a 32-bit or a set-user-ID program
    (the runtime cannot be loaded into any) leaves the computation with a
    warning that names the program; checkpoints go on without it (they neither
    wait for it nor fail) over two restarts, and it runs on outside
    (checkpoint --kill does not end it)."""
    prog = {"static": lambda: program_path("idle_static"),
            "32bit": lambda: elf32_pause(st.tmp / "p32"),
            "setuid": lambda: setuid_copy(st, "idle")}[kind]()
    what = {"static": "statically linked", "32bit": "a 32-bit program",
            "setuid": "set-user-ID or set-group-ID (the dynamic loader ignores LD_PRELOAD)"}[kind]
    text = st.zdtm("outside", "exec", prog, cycles=2)
    pid = outside_pid(text)
    assert still_runs(pid), f"the outside process {pid} is gone"
    err = st.procs[0].err.read_text()
    assert f"execs {prog}, which is {what}: the runtime cannot be loaded into it, so it runs " \
           "outside the computation" in err, err
    os.kill(pid, signal.SIGKILL)


def test_nocheckpoint(st):
    """`stasis nocheckpoint PROG` runs PROG outside the computation (DMTCP's
    dmtcp_nocheckpoint): without the runtime and any STASIS_* variable, with
    the LD_PRELOAD its parent gave (unset, empty, or a library of its own);
    such children run all the time while the parent is checkpointed and
    restarted twice, and a long-lived one runs on after checkpoint --kill."""
    text = st.zdtm("outside", "nocheckpoint", st.bin, cycles=2)
    pid = outside_pid(text)
    assert still_runs(pid), f"the outside process {pid} is gone"
    os.kill(pid, signal.SIGKILL)


def test_exec_after_a_restart_on_another_port(st):
    """A program exec'd after a restart on another coordinator port joins that
    coordinator (it joined the launch's port, left from its environment)."""
    p = subprocess.Popen([str(st.bin), "launch", "-p", str(st.port), "--ckpt-dir",
                          str(st.ckpt_dir), program_path("echo_lines")], cwd=st.tmp, env=st.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    r = None
    try:
        assert p.stdout.readline() == b"ready\n"
        st.wait_registered()
        st.checkpoint(kill=True)
        assert p.wait(30) == -9
        old, st.port = st.port, free_port()
        r = subprocess.Popen([str(st.bin), "restart", "-p", str(st.port), "--dir",
                              str(st.ckpt_dir)], cwd=st.tmp, env=st.env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, start_new_session=True)
        st.wait_registered()
        r.stdin.write(b"exec\n")
        r.stdin.flush()
        assert r.stdout.readline() == b"got 1: exec\n"
        assert r.stdout.readline() == b"ready\n"
        assert st.wait_registered()["nprocs"] == 1
        st.port = old  # nothing joined the launch's coordinator: it exits
        deadline = time.monotonic() + 10
        while (left := st.status()) is not None:
            assert time.monotonic() < deadline, f"the launch's coordinator stays: {left}"
            time.sleep(0.05)
    finally:
        for proc in (p, r):
            if proc:
                proc.kill()
                proc.wait()


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
