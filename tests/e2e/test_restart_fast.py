"""The fixed cost of a restart (docs/performance.md, "Where a small restart's
time goes"). When no coordinator runs on its port, restart starts one and
does not wait for it: PID 1 and the processes are made and restore their
memory while it comes up, and restart joins them once it listens; each
process waits at a gate until then (restore/gate.c). The coordinator is the
process its starter's child forks and execs, with nothing in between
(cli/coordctl.c), and nothing on the way is written durably. What the
program sees is unchanged: no process runs before every process has joined,
and a restart that fails then leaves nothing (a corrupt mapped chunk:
test_mapped.py)."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import _descendants, nspid, program
from helpers import listening, live_descendants, start_tree, wait_until
from test_faults import ABORTED
from test_locks import check_held

SYNCS = ("fsync", "fdatasync", "sync", "syncfs", "sync_file_range")


def no_coordinator(st):
    """After checkpoint --kill the coordinator lingers: end it."""
    st.stasis("kill", "-p", st.port, "--coordinator", timeout=20)
    wait_until(lambda: not listening(st.port), 20, "the coordinator gone")


def memhog_image(st, mib=4):
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), mib, "rand", 0, out=out)
    st.wait_for(out, "tick 0 ok", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    no_coordinator(st)
    return imgs, out


def strace_lines(path):
    """[(pid, text)] of an `strace -f -o` file."""
    out = []
    for line in path.read_text().splitlines():
        pid, _, text = line.partition(" ")
        if pid.isdigit():
            out.append((int(pid), text.strip()))
    return out


def test_restart_restores_while_its_coordinator_starts(st):
    """No coordinator on the port: restart enters its namespaces (and PID 1
    makes the process) before it has joined the coordinator it started; the
    process that execs `stasis coordinator` is the one that listens; nothing
    is fsynced on the way (the token file was). The program goes on ok."""
    strace = shutil.which("strace")
    assert strace, "strace is missing: install it (scripts/deps.sh lists it)"
    imgs, out = memhog_image(st)
    trace = st.tmp / "restart.strace"
    argv = [strace, "-f", "-qq", "-o", str(trace), "-e",
            "trace=execve,unshare,connect,listen," + ",".join(SYNCS),
            str(st.bin), "restart", "-p", str(st.port), *imgs]
    r = st._spawn(argv, None, None, "strace stasis restart")
    st.wait_for(out, "tick 1 ok", proc=r)
    st.wait_registered(proc=r)
    st.stasis("kill", "-p", st.port)
    assert r.wait(30) == 128 + signal.SIGKILL, st.describe_all()
    text = out.read_text()
    assert "CORRUPT" not in text and "tick 1 ok" in text, text
    lines = strace_lines(trace)  # once strace has ended: it buffers
    restart = lines[0][0]
    mine = [t for pid, t in lines if pid == restart]
    port = f"sin_port=htons({st.port})"
    connects = [i for i, t in enumerate(mine) if t.startswith("connect(") and port in t]
    unshare = [i for i, t in enumerate(mine) if t.startswith("unshare(")]
    # one look for a coordinator first (refused), the process's join after
    assert len(unshare) == 1 and len(connects) == 2 and \
        connects[0] < unshare[0] < connects[1], "\n".join(mine)
    execs = [pid for pid, t in lines if t.startswith("execve(") and '"coordinator"' in t]
    listens = [pid for pid, t in lines if t.startswith("listen(")]
    assert len(execs) == 1 and listens == execs, "\n".join(f"{p} {t}" for p, t in lines)
    synced = [f"{p} {t}" for p, t in lines if t.split("(")[0] in SYNCS]
    assert not synced, "\n".join(synced)


def test_restart_whose_coordinator_fails_to_start_leaves_nothing(st):
    """The coordinator restart started fails (its --log-file cannot be
    written) after the processes were made: restart says why, exits 1, and
    none of them is left; the program never ran, and the images restart."""
    imgs, out = memhog_image(st)
    before = out.read_text()
    r = st.stasis("restart", "-p", st.port, "--log-file", st.tmp / "no" / "such" / "log", *imgs,
                  timeout=30)
    assert r.returncode == 1, r.stderr
    assert re.search(r"^stasis: error: cannot open log file \S+/no/such/log: No such file or "
                     r"directory \(give a writable path to --log-file\)$", r.stderr, re.M), r.stderr
    wait_until(lambda: not live_descendants(), 10, "every process of the restart gone")
    assert out.read_text() == before, "the program ran"
    p = st.restart(imgs)
    st.wait_for(out, "tick 1 ok", proc=p)


def coordinators():
    found = set()
    for d in live_descendants():
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read().split(b"\0")[1:2] == [b"coordinator"]:
                    found.add(d)
        except OSError:
            pass
    return found


def at_the_gate(pid):
    """pid waits in read(2) on a pipe (restore/gate.c)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            call = f.read().split()
        return call[0] == "0" and os.readlink(f"/proc/{pid}/fd/{int(call[1], 16)}").startswith(
            "pipe:")
    except (OSError, IndexError, ValueError):
        return False


def stopped_as_it_joins(st, args, pids):
    """`stasis restart -p PORT ARGS`, stopped as it joins its first process
    (STASIS_FAULT msg-send:1/stop: it started the coordinator), once its
    processes (pids, as in the images) wait at the gate, restored."""
    r = subprocess.Popen([str(st.bin), "restart", "-p", str(st.port), *map(str, args)],
                         env=dict(st.env, STASIS_FAULT="msg-send:1/stop"), cwd=st.tmp,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        wait_until(lambda: open(f"/proc/{r.pid}/stat").read().rsplit(") ", 1)[1][0] == "T", 20,
                   "restart stopped as it joins")

        def waiting():
            restored = [d for d in _descendants(r.pid) if len(nspid(d)) > 1 and
                        nspid(d)[-1] in pids]
            return len(restored) == len(pids) and all(at_the_gate(d) for d in restored)

        wait_until(waiting, 20, f"the {len(pids)} restored processes at the gate")
    except BaseException:
        r.kill()
        raise
    return r


def test_sigkill_of_restart_while_its_processes_wait_at_the_gate(st):
    """restart stopped as it joins the first process (STASIS_FAULT
    msg-send:1/stop) while the three processes of a tree, restored, wait at
    the gate; SIGKILL then: none of them is left, the program never ran, the
    coordinator restart started has no process, and the next restart works."""
    p, out = start_tree(st, nchild=2, mib=8, name="family", extra=(1,))
    pids = [x["pid"] for x in st.status()["procs"]]
    st.checkpoint(kill=True)
    st.wait_killed(p)
    no_coordinator(st)
    before = out.read_text()
    r = stopped_as_it_joins(st, ["--dir", st.ckpt_dir], pids)
    try:
        r.kill()
        assert r.wait(10) == -signal.SIGKILL
    finally:
        if r.poll() is None:
            r.kill()
    # what is left is the coordinator restart started (it ends 5 s after its start
    # without a process), or nothing
    wait_until(lambda: not live_descendants() - coordinators(), 10,
               "every process of the restart gone")
    assert "stopping at msg-send" in r.stderr.read()
    assert out.read_text() == before, "the program ran"
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=3, proc=p)
    (st.tmp / "verify").touch()
    rc = p.wait(60)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, f"exit {rc}:\n{text}"


@pytest.mark.parametrize("first", ["killed", "left stopped"])
def test_second_restart_waits_until_the_first_has_joined(st, first):
    """Two restarts of one computation and no coordinator: the first started
    one and is stopped as it joins, its process restored at the gate, holding
    the program's file locks again. The second waits for it (it joined that
    coordinator first, then its process could not take the locks back,
    "another process holds it"; and it would have put back files a running
    computation of the first restart used). Once the first is killed, the
    second restarts the program, which holds every lock; while it is left
    stopped, the second gives up after twice $STASIS_COORD_START_TIMEOUT
    (1 s here), naming it, and makes nothing."""
    d = st.tmp / "locked"
    d.mkdir()
    out = st.tmp / "locks.out"
    p = st.launch(program("locks"), st.tmp / "verify", d, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    pid = st.status()["procs"][0]["pid"]
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    no_coordinator(st)
    comp = re.search(r"ckpt_locks_([0-9a-f]{16})_", imgs[0]).group(1)
    a = stopped_as_it_joins(st, imgs, [pid])
    try:
        st.env.update(STASIS_LOG="debug", STASIS_COORD_START_TIMEOUT="1")
        b = st.restart(imgs)
        del st.env["STASIS_LOG"], st.env["STASIS_COORD_START_TIMEOUT"]
        waits = re.compile(rf"^stasis: debug: \[[\d.]+\] computation {comp} is being restarted "
                           rf"by 'stasis restart' pid {a.pid}: waiting for it \(at most 2 s\)$",
                           re.M)
        wait_until(lambda: waits.search(b.err.read_text()) or not b.running(), 20,
                   "the second restart waiting")
        assert b.running(), b.err.read_text()
        if first == "left stopped":
            assert b.wait(10) == 1
            err = [l for l in b.err.read_text().splitlines() if ": debug: " not in l]
            assert err == [
                f"stasis: error: cannot restart: computation {comp} is being restarted by "
                f"'stasis restart' pid {a.pid}, which has not joined its processes to their "
                f"coordinator within 2 s: end it ('kill {a.pid}') and restart again"], err
            restored = [x for x in live_descendants() if nspid(x)[1:] == [pid]]
            assert len(restored) == 1, restored  # the first restart's, at the gate
            return
        a.kill()
        assert a.wait(10) == -signal.SIGKILL
    finally:
        if a.poll() is None:
            a.kill()
    st.wait_registered(proc=b)
    check_held(d)
    (st.tmp / "verify").touch()
    assert b.wait(30) == 0, st.describe_all()
    assert "PASS" in out.read_text(), out.read_text()



# a point restart meets once it started the coordinator -> the lines it says
# (after "stasis: fault: ..."); {port}, {img}: the test's
AFTER_START = {
    "msg-send:1": [r"stasis: error: cannot restart: cannot send hello to the coordinator on port "
                   r"{port}: Broken pipe"],
    "msg-recv:1": [r"stasis: error: cannot restart: the peer on 127\.0\.0\.1:{port} closed the "
                   r"connection before its challenge \(a coordinator that is exiting, or not a "
                   r"stasis coordinator\)"],
    "rst-clone:1": [r"stasis: error: cannot create the restart namespace's first process: "
                    r"Resource temporarily unavailable"],
    "rst-clone:2": [r"stasis: error: cannot create pid \d+ in the restart namespace: Resource "
                    r"temporarily unavailable", ABORTED],
    "rst-mmap:1": [r"stasis: error: pid \d+: cannot map its memory region 0x[0-9a-f]+-0x[0-9a-f]+ "
                   r"\([\w-]+\): Cannot allocate memory", ABORTED],
    "rst-alloc:1": [r"stasis: error: pid \d+: no memory for the buffers reading {img}", ABORTED],
    "rst-blob:1": [r"stasis: error: injected fault \(rst-blob\) at 0x0{{16}} errno 0x0{{15}}5 ",
                   ABORTED],
    # the coordinator ends before it says that it listens
    "coord-ready:1": [r"stasis: error: the coordinator did not start \(it said nothing\)"],
}


@pytest.mark.parametrize("fault", sorted(AFTER_START))
def test_fault_after_restart_started_the_coordinator(st, fault):
    """A point failed once restart has started the coordinator and is
    restoring meanwhile (a join, a process, PID 1, the coordinator before it
    says it listens): restart exits 1 saying
    what failed, and leaves nothing but the coordinator, without a process;
    then a restart works. (With a coordinator running, a join that fails is
    made again: test_faults.py.)"""
    imgs, out = memhog_image(st)
    r = st.stasis("restart", "-p", st.port, *imgs, timeout=30,
                  env=dict(st.env, STASIS_FAULT=fault))
    lines = [l for l in r.stderr.splitlines() if not l.startswith("stasis: fault:")]
    want = [w.format(port=st.port, img=re.escape(imgs[0])) for w in AFTER_START[fault]]
    assert r.returncode == 1 and len(lines) == len(want), r.stderr
    for line, pattern in zip(lines, want):
        assert re.fullmatch(pattern, line), (pattern, r.stderr)
    wait_until(lambda: not live_descendants() - coordinators(), 10, "no process left")
    if listening(st.port):  # the coordinator restart started, for 5 s without a process
        assert st.status()["nprocs"] == 0
    p = st.restart(imgs)
    st.wait_for(out, "tick 1 ok", proc=p)


@pytest.mark.parametrize("mib,opts", [(4, []), (32, ["--no-map"])])
def test_memory_read_on_one_thread_when_little(st, mib, opts):
    """The restorer reads memory on a thread per core (up to 4) only when
    there are 4 MiB or more to read: what a mapped image leaves (stacks,
    heaps, libraries' data) is read on one, without starting a thread."""
    imgs, out = memhog_image(st, mib)
    st.env["STASIS_LOG"] = "debug"
    r = st._spawn([str(st.bin), "restart", "-p", str(st.port), *opts, *imgs], None, None,
                  "restart")
    st.wait_for(out, "tick 1 ok", proc=r)
    m = re.findall(r"pid \d+: (\d+) KiB of memory to read, on (\d+) threads?$",
                   r.err.read_text(), re.M)
    assert len(m) == 1, r.err.read_text()
    kib, threads = int(m[0][0]), int(m[0][1])
    if opts:
        assert kib >= mib << 10 and threads == min(os.cpu_count(), 4), m
    else:
        assert kib < 4 << 10 and threads == 1, m


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(") ", 1)[1][0] == "T"


@pytest.mark.parametrize("command", ["launch", "restart"])
def test_started_coordinator_that_never_says_it_listens(st, command):
    """The coordinator that launch or restart started stops before it says
    it listens (STASIS_FAULT coord-ready/stop): the command gives up once
    $STASIS_COORD_START_TIMEOUT seconds have passed (2 here, 20 by default),
    says so and how to see whether it runs, and exits 1; restart ends the
    processes it restored meanwhile (the program never ran), launch started
    none. The coordinator is left as it is, stopped; continued, it says it
    listens to no one (it died of SIGPIPE there), serves without a process
    and exits after its grace, removing its token file."""
    if command == "restart":
        imgs, out = memhog_image(st)
        before = out.read_text()
        argv = ["restart", "-p", st.port, *imgs]
    else:
        argv = ["launch", "-p", st.port, "--", program("idle")]
    env = dict(st.env, STASIS_FAULT="coord-ready/stop", STASIS_COORD_START_TIMEOUT="2")
    t0 = time.monotonic()
    r = st.stasis(*argv, env=env, timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 1 and r.stderr == (
        f"stasis: error: the coordinator started for port {st.port} did not say within 2 s "
        f"that it listens (stopped? 'stasis status -p {st.port}' tells whether it runs)\n"), (
        r.stderr)
    assert 2 <= took < 10, took
    coord = coordinators()
    assert len(coord) == 1 and all(stopped(c) for c in coord), coord
    wait_until(lambda: not live_descendants() - coord, 10, "no process but the coordinator")
    for c in coord:
        os.kill(c, signal.SIGCONT)
    assert st.status()["nprocs"] == 0
    wait_until(lambda: not live_descendants(), 10, "the coordinator gone after its grace")
    assert not (st.run_dir / f"coord-{st.port}.token").exists()
    if command == "restart":
        assert out.read_text() == before, "the program ran"


@pytest.mark.parametrize("value", ["0", "x", "3601"])
def test_bad_coordinator_start_timeout(st, value):
    """A $STASIS_COORD_START_TIMEOUT that is not 1 to 3600 seconds: launch
    says so and exits 2 before it starts anything."""
    r = st.stasis("launch", "-p", st.port, "--", program("idle"),
                  env=dict(st.env, STASIS_COORD_START_TIMEOUT=value))
    assert r.returncode == 2 and r.stderr == (
        f"stasis: error: invalid $STASIS_COORD_START_TIMEOUT '{value}': expected a number of "
        "seconds from 1 to 3600\n"), r.stderr
    assert not live_descendants() and not listening(st.port)
