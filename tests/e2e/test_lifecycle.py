"""Lifecycle of a computation and its coordinator: restart right after kill,
restart refused while the computation runs, every wait bounded (peers that are
not coordinators, stopped processes), no coordinator left behind, stasis's own
commands never part of a computation, periodic checkpoints that fail, and the
faults a checkpointer must survive: SIGKILL of the computation or of the
coordinator while a checkpoint is written (docs/reliability.md)."""
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import PROGRAMS, STASIS, _descendants, _reap_all, free_port, program
from helpers import (coordinator, finish, generations, gone, kill_all, listening,
                     newest_complete, restart_dir, runs_on, start_tree, status_of, wait_until)


# ---- defect 2: a restart right after a kill ----------------------------------

def test_restart_right_after_kill(st):
    """kill, then restart --dir after any delay, with the coordinator launch
    started (it exits 1.5 s after its last process): every restart works."""
    p, out = start_tree(st)
    st.checkpoint(kill=False)
    for delay in (0, 1.0, 1.45, 1.5, 1.55, 1.6):
        kill_all(st)
        p.wait(30)
        time.sleep(delay)  # the delay is what is tested, not a wait for a state
        p = st.restart(directory=st.ckpt_dir)
        st.wait_registered(proc=p)
    finish(st, p, out)


def test_restart_right_after_checkpoint_kill(st):
    """checkpoint --kill returns once every process is gone, so a restart
    started the moment it returns never finds the computation running (its
    children, slower to die with their memory, were still registered)."""
    p, out = start_tree(st, nchild=3, mib=64)
    for _ in range(3):
        st.checkpoint(kill=True)
        p = st.restart(directory=st.ckpt_dir)
        st.wait_registered(nprocs=4, proc=p)
    finish(st, p, out)


# ---- defect 3: a computation restarted while it runs, or twice ---------------

def refusal(comp, port, holder):
    return (f"stasis: error: cannot restart: computation {comp} is already running under the "
            f"coordinator on port {port} ({holder}): end it first with 'stasis kill -p {port}'\n")


def test_restart_refused_while_running(st):
    """restart refuses a computation that runs, before creating anything: on
    its coordinator's port (naming its processes) and on another port (naming
    the coordinator that serves it)."""
    p, out = start_tree(st, nchild=1)
    st.checkpoint(kill=False)
    before = status_of(st)
    procs = ", ".join(f"{x['pid']} (lifecycle)" for x in sorted(before["procs"],
                                                                 key=lambda x: x["pid"]))
    known = set(_descendants(os.getpid()))
    r = st.stasis("restart", "-p", st.port, "--dir", st.ckpt_dir, timeout=30)
    assert r.returncode == 1
    assert r.stderr == refusal(before["comp_id"], st.port, f"processes {procs}"), r.stderr
    other = free_port()
    r = st.stasis("restart", "-p", other, "--dir", st.ckpt_dir, timeout=30)
    assert r.returncode == 1
    assert r.stderr == refusal(before["comp_id"], st.port, f"pid {before['pid']}"), r.stderr
    assert not listening(other), "a coordinator was started for a refused restart"
    _reap_all()
    assert not [d for d in set(_descendants(os.getpid())) - known if not gone(d)]
    after = status_of(st)
    assert after["procs"] == before["procs"] and after["state"] == "idle", after
    runs_on(st, out)
    finish(st, p, out)


@pytest.mark.parametrize("coord", ["running", "started by each restart"])
def test_restart_twice_at_once(st, coord):
    """Two restarts of one computation at once: one is refused, naming the
    computation's processes, and leaves nothing. With no coordinator, the
    first to lock the computation starts one and restores its processes
    meanwhile (restore/gate.c); the other waits until they have joined, then
    is refused the same way, before it makes anything."""
    p, out = start_tree(st)
    comp = status_of(st)["comp_id"]
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    if coord != "running":
        st.stasis("kill", "-p", st.port, "--coordinator", timeout=20)
        wait_until(lambda: not listening(st.port), 20, "the coordinator gone")
    a = st.restart(imgs)
    b = st.restart(imgs)
    wait_until(lambda: not a.running() or not b.running(), 30, "one restart refused")
    loser, winner = (a, b) if not a.running() else (b, a)
    assert loser.wait(5) == 1, st.describe_all()
    pid = int(re.search(r"_(\d+)_g1\.stasis$", imgs[0]).group(1))
    assert loser.err.read_text() == refusal(comp, st.port, f"processes {pid} (lifecycle)"), (
        loser.err.read_text())
    st.wait_registered(proc=winner)
    assert [x["pid"] for x in status_of(st)["procs"]] == [pid]
    finish(st, winner, out)


def test_launches_at_once_share_one_coordinator(st):
    """Four launches started together on a port where no coordinator runs (the
    tasks of `srun -n 4 stasis launch`) each start one; exactly one listens
    and writes the token file, and all four programs join it. The others used
    to bind the port too (SO_REUSEADDR), overwrite or remove the winner's token
    file, then fail to listen: launches failed with "bad token", "cannot
    listen" or "cannot open token file"."""
    for _ in range(20):
        st.port = free_port()
        st.env["STASIS_PORT"] = str(st.port)
        procs = [st.launch(program("idle")) for _ in range(4)]
        wait_until(lambda: (st.status() or {}).get("nprocs") == 4
                   or any(not p.running() for p in procs), 30, "4 processes registered")
        assert all(p.running() for p in procs), st.describe_all()
        assert [p.err.read_text() for p in procs] == [""] * 4
        r = st.stasis("kill", "-p", st.port)
        assert r.returncode == 0, r.stderr
        for p in procs:
            assert p.wait(30) == -signal.SIGKILL, st.describe_all()


# ---- defect 4: every wait has a bound ------------------------------------------

class Silent:
    """A TCP server that accepts connections and never says anything, or
    dribbles a well-formed challenge one byte every 0.3 s (a wait bounded per
    read would last as long as the peer likes)."""

    CHALLENGE = struct.pack("<IHHII", 0x4d535453, 1, 1, 32, 0) + bytes(range(32))

    def __init__(self, dribble=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.dribble = dribble
        self.conns = []
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                self.conns.append([self.sock.accept()[0], 0])
            except OSError:
                pass
            if self.dribble:
                for c in self.conns:
                    try:
                        c[0].send(self.CHALLENGE[c[1] % len(self.CHALLENGE):][:1])
                        c[1] += 1
                    except OSError:
                        pass
                time.sleep(0.3)

    def close(self):
        self.stop = True
        for c in self.conns:
            c[0].close()
        self.sock.close()


@pytest.mark.parametrize("dribble", [False, True])
def test_commands_against_a_peer_that_is_not_a_coordinator(st, dribble):
    srv = Silent(dribble)
    try:
        cmds = [["status"], ["checkpoint"], ["kill"],
                ["launch", "--ckpt-dir", st.ckpt_dir, "/bin/true"]]
        procs = [subprocess.Popen([str(STASIS), c[0], "-p", str(srv.port), *map(str, c[1:])],
                                  env=st.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, start_new_session=True) for c in cmds]
        t0 = time.monotonic()
        for c, pr in zip(cmds, procs):
            try:
                _, err = pr.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                pr.kill()
                pytest.fail(f"stasis {c[0]} against a silent peer still waits after 20 s")
            assert pr.returncode == 1, (c, pr.returncode, err)
            assert err == (f"stasis: error: the peer on 127.0.0.1:{srv.port} sent no stasis "
                           f"challenge within 5 s: it is not a stasis coordinator, or it is "
                           f"stopped\n"), (c, err)
        assert time.monotonic() - t0 < 12
    finally:
        srv.close()


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] == "T"


def test_checkpoint_of_a_stopped_process(st):
    """A stopped process makes the checkpoint fail after the coordinator's
    --timeout, naming it; the next one is refused until it is continued; once
    continued it finishes the abandoned checkpoint alone and the computation
    is checkpointed and restarted as usual."""
    coordinator(st, "--exit-on-last", "--timeout", "2")
    p, out = start_tree(st, nchild=1)
    child = [x["pid"] for x in status_of(st)["procs"] if x["pid"] != p.pid][0]
    os.kill(child, signal.SIGSTOP)
    wait_until(lambda: stopped(child), 10, "the child stopped")
    t0 = time.monotonic()
    r = st.checkpoint(kill=False, expect_ok=False)
    assert time.monotonic() - t0 < 10
    assert r.returncode == 1
    assert r.stderr == ("stasis: error: checkpoint generation 1 failed:\n"
                        f"process {child} (lifecycle) did not answer within 2 s: it is "
                        f"stopped (SIGSTOP or a debugger; 'kill -CONT {child}' continues "
                        "it)\n"), r.stderr
    assert status_of(st)["state"] == "idle"
    runs_on(st, out)  # the other process goes on
    r = st.checkpoint(kill=False, expect_ok=False)
    assert r.returncode == 1
    assert r.stderr == (f"stasis: error: checkpoint not taken: process {child} (lifecycle) has "
                        "not answered since checkpoint generation 1 was given up: it is "
                        f"stopped (SIGSTOP or a debugger; 'kill -CONT {child}' continues "
                        "it)\n"), r.stderr
    os.kill(child, signal.SIGCONT)
    imgs = wait_until(lambda: (lambda r: r.returncode == 0 and r.stdout.split())(
        st.checkpoint(kill=False, expect_ok=False)), 20, "a checkpoint after SIGCONT")
    assert len(imgs) == 2 and all("_g2.stasis" in i for i in imgs), imgs  # refusals take no generation
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(imgs)
    st.wait_registered(nprocs=2, proc=p)
    finish(st, p, out)


def test_kill_ends_a_stopped_computation(st):
    """kill ends every process, stopped ones included, after a checkpoint
    that gave up on them; the coordinator is idle and exits with them."""
    coordinator(st, "--exit-on-last", "--timeout", "2")
    p, out = start_tree(st, nchild=2)
    pids = [x["pid"] for x in status_of(st)["procs"]]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    r = st.checkpoint(kill=False, expect_ok=False)
    assert r.returncode == 1 and "did not answer within 2 s" in r.stderr, r.stderr
    r = st.stasis("kill", "-p", st.port, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    for pid in pids:
        assert gone(pid), f"process {pid} survived kill"
    assert p.wait(10) == -signal.SIGKILL
    wait_until(lambda: not listening(st.port), 10, "the coordinator exiting")


# ---- defect 5: no coordinator left behind ------------------------------------

def test_launch_of_a_missing_program_leaves_no_coordinator(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, st.tmp / "nope")
    assert r.returncode == 127, r
    wait_until(lambda: not listening(st.port), 3, "the coordinator launch started exiting")
    assert not list(st.run_dir.glob("*.token"))


def test_launch_of_a_static_program_leaves_no_coordinator(st):
    """A static program runs without the runtime and never joins: the
    coordinator launch started for it exits after its grace (5 s), whether the
    program ends first or not."""
    prog = PROGRAMS / "idle_static"
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, prog, "exit")
    assert (r.returncode, r.stdout) == (3, "idle ran\n"), r
    wait_until(lambda: not listening(st.port), 8, "the coordinator exiting after its grace")
    p = st.launch(prog, out=st.tmp / "static.out")
    wait_until(lambda: os.readlink(f"/proc/{p.pid}/exe") == str(prog), 5,
               "launch running the static program")
    wait_until(lambda: not listening(st.port), 9, "the coordinator exiting while the static "
               "program runs")
    assert p.running()
    os.kill(p.pid, signal.SIGTERM)
    assert p.wait() == -signal.SIGTERM


# ---- defect 6: stasis's own commands inside a computation --------------------

def test_stasis_commands_inside_the_computation(st):
    """A shell under stasis runs stasis status, checkpoint and a coordinator:
    none of them joins; the checkpoint holds the shell only."""
    other = free_port()
    script = f"""
        stasis=$1
        "$stasis" checkpoint -p $STASIS_PORT > ck.out 2> ck.err; echo $? > ck.rc
        "$stasis" coordinator -p {other} --ckpt-dir ckpt > inner.log 2>&1 &
        inner=$!
        echo started > started
        while [ ! -e verify ]; do read -t 0.05 x < /dev/zero 2>/dev/null; done
        "$stasis" kill -p {other} --coordinator
        wait $inner
        echo shell done
    """
    p = st.launch("/bin/bash", "-c", script, "bash", STASIS)
    st.wait_for(st.tmp / "started", "started", proc=p)
    assert (st.tmp / "ck.rc").read_text() == "0\n", (st.tmp / "ck.err").read_text()
    imgs = (st.tmp / "ck.out").read_text().split()
    assert len(imgs) == 1 and os.path.basename(imgs[0]).startswith("ckpt_bash_"), imgs
    wait_until(lambda: listening(other), 10, "the inner coordinator listening")
    procs = status_of(st)["procs"]
    assert [x["name"] for x in procs] == ["bash"], procs
    assert status_of(st, other)["nprocs"] == 0
    imgs = st.checkpoint(kill=False)  # the inner coordinator is not a missing child
    assert len(imgs) == 1 and "ckpt_bash_" in imgs[0], imgs
    (st.tmp / "verify").touch()
    assert p.wait(30) == 0, st.describe_all()


# ---- defect 7: periodic checkpoints that fail --------------------------------

def test_interval_failure_reported_and_interval_kept(st):
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount of the checkpoint directory needs root")
    p, out = start_tree(st, opts=("-i", "1"))
    wait_until(lambda: status_of(st)["gen"] >= 1 and status_of(st)["state"] == "idle", 20,
               "a first periodic checkpoint")
    d = str(st.ckpt_dir)
    subprocess.run(["mount", "--bind", d, d], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", d, d], check=True)
        err = wait_until(lambda: status_of(st)["last_error"], 20, "a failed periodic checkpoint")
    finally:
        subprocess.run(["umount", d], check=True)
    assert "Read-only file system" in err["text"] and str(st.ckpt_dir) in err["text"], err
    log = (st.run_dir / f"coord-{st.port}.log").read_text()
    assert f"checkpoint generation {err['gen']} of {status_of(st)['comp_id']} failed" in log, log
    assert "Read-only file system" in log
    r = st.stasis("status", "-p", st.port)
    assert f"last error:     generation {err['gen']}" in r.stdout, r.stdout
    gen = status_of(st)["gen"]
    wait_until(lambda: status_of(st)["gen"] > gen + 1, 20, "periodic checkpoints again")
    imgs = wait_until(lambda: kill_checkpoint_between_ticks(st), 20, "a checkpoint --kill")
    st.wait_killed(p)
    wait_until(lambda: not listening(st.port), 10, "the coordinator exiting")
    p = st.restart(imgs)
    st.wait_registered(proc=p)
    assert status_of(st)["interval"] == 1  # a new coordinator, the computation's interval
    gen = status_of(st)["gen"]
    wait_until(lambda: status_of(st)["gen"] > gen, 20, "a periodic checkpoint after restart")
    finish(st, p, out)


def kill_checkpoint_between_ticks(st):
    """checkpoint --kill: one asked for while a periodic one runs waits for it."""
    r = st.checkpoint(kill=True, expect_ok=False)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


# ---- fault: SIGKILL of the computation while a checkpoint is written --------

@pytest.mark.parametrize("nchild,forked", [(0, True), (0, False), (2, True), (2, False)])
def test_sigkill_while_a_checkpoint_is_written(st, nchild, forked):
    if not forked:
        st.env["STASIS_NO_FORK"] = "1"
    p, out = start_tree(st, nchild=nchild, mib=96, opts=("--no-compress",))
    nprocs = 1 + nchild
    st.checkpoint(kill=False)
    victim = p.pid if nchild == 0 else random.choice(
        [x["pid"] for x in status_of(st)["procs"] if x["pid"] != p.pid])
    ck = subprocess.Popen([str(STASIS), "checkpoint", "-p", str(st.port)], env=st.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: list(st.ckpt_dir.glob(f"ckpt_*_{victim}_g2.stasis.tmp")), 20,
               "the victim writing its image")
    time.sleep(random.uniform(0, 0.05))
    os.kill(victim, signal.SIGKILL)
    try:
        _, err = ck.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        ck.kill()
        pytest.fail("stasis checkpoint hangs after its process was killed")
    if ck.returncode == 0:  # the image was complete just before the kill
        assert newest_complete(st, nprocs) == 2
    else:
        assert ck.returncode == 1
        assert err == ("stasis: error: checkpoint generation 2 failed:\n"
                       f"process {victim} (lifecycle) ended during the checkpoint, before its "
                       "image was written (killed by a signal)\n"), err
        assert newest_complete(st, nprocs) == 1, generations(st)
    assert not list(st.ckpt_dir.glob("*.tmp")), "a partial image was left"
    want = newest_complete(st, nprocs)
    if nchild:
        runs_on(st, out)  # the others resumed
    kill_all(st)
    p.wait(30)
    p, gen = restart_dir(st, nprocs)
    assert gen == want
    finish(st, p, out)


def writers_held(st, nchild, gen):
    """A tree of 1 + nchild processes whose forked writers of generation gen
    stop at their fsync (STASIS_FAULT): the generations before it taken, a
    `stasis checkpoint` of gen running. (p, out, that command, the writers)."""
    st.env["STASIS_FAULT"] = f"g{gen}:img-fsync/stop"
    try:
        p, out = start_tree(st, nchild=nchild)
    finally:
        del st.env["STASIS_FAULT"]
    for _ in range(gen - 1):
        st.checkpoint(kill=False)
    ck = subprocess.Popen([str(STASIS), "checkpoint", "-p", str(st.port)], env=st.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = wait_until(lambda: (lambda w: len(w) == 1 + nchild and w)(
        [d for d in _descendants(os.getpid()) if stopped(d)]), 20, "the writers held")
    return p, out, ck, writers


def test_the_writer_dies_with_its_process(st):
    """A forked writer still writing when its process is killed dies with it:
    nothing would take its result, and an orphan would go on writing the
    image of a checkpoint that failed (here it is held at its fsync, where it
    would wait for ever). The checkpoint fails, nothing of it is left, and
    the first generation restarts."""
    p, out, ck, [writer] = writers_held(st, 0, 2)
    os.kill(p.pid, signal.SIGKILL)
    wait_until(lambda: gone(writer), 10, f"the writer {writer} gone with its process")
    _, err = ck.communicate(timeout=30)
    assert ck.returncode == 1 and err == (
        "stasis: error: checkpoint generation 2 failed:\n"
        f"process {p.pid} (lifecycle) ended during the checkpoint, before its image was "
        "written (killed by a signal)\n"), err
    assert not list(st.ckpt_dir.glob("*.tmp")), "a partial image was left"
    assert newest_complete(st, 1) == 1, generations(st)
    p.wait(30)
    p, gen = restart_dir(st, 1)
    assert gen == 1
    finish(st, p, out)


def test_a_process_exiting_while_its_image_is_written(st):
    """A process that exits on purpose once a forked writer let it go on is
    not a fault: the checkpoint is taken again without it, and succeeds."""
    p, out = start_tree(st, nchild=1, mib=96, opts=("--no-compress",))
    st.checkpoint(kill=False)
    child = [x["pid"] for x in status_of(st)["procs"] if x["pid"] != p.pid][0]
    ck = subprocess.Popen([str(STASIS), "checkpoint", "-p", str(st.port)], env=st.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: list(st.ckpt_dir.glob(f"ckpt_*_{child}_g2.stasis.tmp")), 20,
               "the child's image being written")
    (st.tmp / "verify.exit").touch()
    imgs, err = ck.communicate(timeout=30)
    assert ck.returncode == 0, err
    imgs = imgs.split()
    if any(i.endswith("_g2.stasis") for i in imgs):  # its image was done before it left
        assert len(imgs) == 2 and all(i.endswith("_g2.stasis") for i in imgs), imgs
    else:
        assert imgs == [i for i in imgs if i.endswith(f"_{p.pid}_g3.stasis")] and len(imgs) == 1
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(imgs)
    st.wait_registered(proc=p)
    finish(st, p, out)


def test_a_long_attempt_is_started_again(st):
    """A checkpoint attempt that took longer than the 3 s its retries are
    allowed (large images, a slow disk: here its writers are held there) and
    failed because a process exited meanwhile starts again once, and
    succeeds; it failed for good before (test above, under load)."""
    p, out, ck, writers = writers_held(st, 1, 2)
    (st.tmp / "verify.exit").touch()  # the child exits while its image is not written
    time.sleep(3.2)  # the attempt outlasts the retries' 3 s: the delay is what is tested
    # the child's writer died with it (nothing would take its result)
    assert sum(gone(w) for w in writers) == 1, [(w, gone(w)) for w in writers]
    for w in writers:
        if not gone(w):
            os.kill(w, signal.SIGCONT)
    imgs, err = ck.communicate(timeout=30)
    assert ck.returncode == 0, err
    assert imgs.split() == [str(st.ckpt_dir / f) for f in generations(st)[3]], imgs
    assert len(imgs.split()) == 1 and f"_{p.pid}_g3.stasis" in imgs, imgs
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(imgs)
    st.wait_registered(proc=p)
    finish(st, p, out)


def test_checkpoint_asked_for_while_one_runs_waits_for_it(st):
    """A checkpoint asked for while another runs (a periodic one, say) is
    taken once that one is over, and its command answers with its own images
    (it was refused, "try again"). One waits at a time: a third request is
    refused, saying why; so is one into another directory."""
    p, out, first, writers = writers_held(st, 1, 1)
    second = subprocess.Popen([str(STASIS), "checkpoint", "-p", str(st.port)], env=st.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: status_of(st)["checkpoint"]["queued"] == 1, 10, "the second waiting")
    third = st.checkpoint(kill=False, expect_ok=False)
    assert third.returncode == 1 and third.stderr == (
        "stasis: error: checkpoint not taken: checkpoint generation 1 is running and another "
        "checkpoint waits to begin after it: checkpoint again when they complete\n"), third.stderr
    other = st.tmp / "other"
    other.mkdir()
    r = st.stasis("checkpoint", "-p", st.port, "--ckpt-dir", other)
    assert r.returncode == 1 and r.stderr == (
        f"stasis: error: checkpoint not taken: checkpoint generation 1 is running: checkpoint "
        f"into {other} again when it completes\n"), r.stderr
    assert second.poll() is None
    for w in writers:
        os.kill(w, signal.SIGCONT)
    imgs1, err1 = first.communicate(timeout=30)
    imgs2, err2 = second.communicate(timeout=30)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    gens = generations(st)
    assert sorted(imgs1.split()) == sorted(str(st.ckpt_dir / f) for f in gens[1]), imgs1
    assert sorted(imgs2.split()) == sorted(str(st.ckpt_dir / f) for f in gens[2]), imgs2
    assert len(imgs2.split()) == 2 and not list(other.iterdir())
    assert status_of(st)["gen"] == 2 and status_of(st)["checkpoint"] is None
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(imgs)
    st.wait_registered(nprocs=2, proc=p)
    finish(st, p, out)


# ---- fault: the coordinator killed -------------------------------------------

def test_coordinator_killed_while_the_computation_runs(st):
    p, out = start_tree(st, nchild=2)
    before = status_of(st)
    st.checkpoint(kill=False)
    os.kill(before["pid"], signal.SIGKILL)
    wait_until(lambda: not listening(st.port), 10, "the coordinator gone")
    runs_on(st, out)
    coordinator(st, "--exit-on-last")
    t0 = time.monotonic()
    st.wait_registered(nprocs=3, proc=p, timeout=10)
    assert time.monotonic() - t0 < 5
    now = status_of(st)
    assert now["comp_id"] == before["comp_id"] and now["gen"] == 1, now
    assert sorted(x["pid"] for x in now["procs"]) == sorted(x["pid"] for x in before["procs"])
    imgs = st.checkpoint(kill=False)
    assert len(imgs) == 3 and all(i.endswith("_g2.stasis") for i in imgs), imgs
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=3, proc=p)
    finish(st, p, out)


def test_coordinator_killed_during_a_checkpoint(st):
    p, out = start_tree(st, nchild=1, mib=96, opts=("--no-compress",))
    st.checkpoint(kill=False)
    coord = status_of(st)["pid"]
    ck = subprocess.Popen([str(STASIS), "checkpoint", "-p", str(st.port)], env=st.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: list(st.ckpt_dir.glob("ckpt_*_g2.stasis*")), 20, "images being written")
    os.kill(coord, signal.SIGKILL)
    _, err = ck.communicate(timeout=30)
    assert ck.returncode == 1
    assert err == (f"stasis: error: no reply from the coordinator on port {st.port}: it "
                   "closed the connection\n"), err
    runs_on(st, out)  # the processes resumed
    wait_until(lambda: 2 not in generations(st) and not list(st.ckpt_dir.glob("*.tmp")), 20,
               "the partial generation discarded")
    coordinator(st, "--exit-on-last")
    st.wait_registered(nprocs=2, proc=p, timeout=10)
    kill_all(st)
    p.wait(30)
    p, gen = restart_dir(st, 2)
    assert gen == 1
    finish(st, p, out)
