"""Fault injection (STASIS_FAULT, src/common/fault.h): each numbered point of
the checkpoint and restart paths (writes, renames, fsyncs, allocations,
messages) failed in turn, and every Nth point reached across a checkpoint and
a restart, on tests/programs/family (a parent and two children with threads,
a pipe and shared memory, checking their state all the time).

After a fault at checkpoint: the command fails with a message naming what
failed (or the fault is survived, where it can be: the checkpoint starts
again, or writes without forking), no temp file is left, no image of a failed
generation remains for restart --dir, the program runs on unharmed, no process
is left behind; at the end the newest complete generation restarts and
verifies. After a fault at restart: restart fails naming what failed, no
process is left, and the next restart works. docs/reliability.md lists the
points and what the user sees."""
import os
import re
import subprocess
import time

import pytest

from conftest import STASIS
from helpers import (coordinator, finish, generations, kill_all, live_descendants, restart_dir,
                     runs_on, start_tree, status_of, wait_until)

NPROCS = 3  # family: a parent and two children


def fault_points():
    """{name: number} from `STASIS_FAULT=list stasis`."""
    env = dict(os.environ, STASIS_FAULT="list")
    out = subprocess.run([str(STASIS)], env=env, capture_output=True, text=True, check=True)
    return {m.group(2): int(m.group(1))
            for m in re.finditer(r"^\s*(\d+) (\S+)\s", out.stdout, re.M)}


def launch_family(st, fault=None, log=None):
    """family (2 children, 2 MiB each, 1 thread each) under STASIS_FAULT=fault
    (launch's environment only: the runtime and the coordinator it starts)."""
    env = dict(st.env)
    st.env.update({k: v for k, v in (("STASIS_FAULT", fault), ("STASIS_FAULT_LOG", log)) if v})
    try:
        p, out = start_tree(st, nchild=2, mib=2, name="family", extra=(1,))
    finally:
        st.env = env
    return p, out


def program_pids(st):
    return {x["pid"] for x in status_of(st)["procs"]}


def failed_gen(stderr):
    m = re.match(r"stasis: error: checkpoint generation (\d+) failed:\n", stderr)
    return int(m.group(1)) if m else None


def error_lines(stderr):
    """The lines after 'checkpoint generation G failed:'."""
    return stderr.split("\n")[1:-1]


def check_after(st, out, r, procs, coord):
    """What a checkpoint that met a fault leaves: no temp file, no file of a
    failed generation, a restart script naming only complete generations,
    the program running with its processes (rejoined, if they lost the
    coordinator), nothing else running. Returns the generation written, or
    None."""
    gen = failed_gen(r.stderr)
    if r.stderr == (f"stasis: error: no reply from the coordinator on port {st.port}: it "
                    "closed the connection\n"):  # coord-send dropped the client: ask after
        s = wait_until(lambda: (lambda s: s["state"] == "idle" and s)(status_of(st)), 20, "idle")
        ok, bad = (s[k]["gen"] if s[k] else 0 for k in ("last_ok", "last_error"))
        if ok > bad:
            r = subprocess.CompletedProcess(r.args, 0, " ".join(
                str(st.ckpt_dir / f) for f in generations(st)[ok]), "")
        gen = bad
    if r.returncode == 0:
        imgs = r.stdout.split()
        gens = {int(re.search(r"_g(\d+)\.stasis$", i).group(1)) for i in imgs}
        assert len(imgs) == NPROCS and len(gens) == 1, imgs
        gen = gens.pop()
        assert len(generations(st)[gen]) == NPROCS
    else:
        assert r.returncode == 1 and gen, r.stderr
        wait_until(lambda: gen not in generations(st), 10,
                   f"the files of failed generation {gen} removed: {generations(st)}")
    wait_until(lambda: not list(st.ckpt_dir.glob("*.tmp*")), 10,
               f"no temp file left: {sorted(os.listdir(st.ckpt_dir))}")
    script = next(st.ckpt_dir.glob("stasis_restart_*.sh")).read_text()
    named = {int(g) for g in re.findall(r"_g(\d+)\.stasis", script)}
    assert len(named) == 1 and len(generations(st)[named.pop()]) == NPROCS, script
    st.wait_registered(nprocs=NPROCS)
    assert program_pids(st) == procs
    runs_on(st, out, n=1)
    assert live_descendants() == procs | {coord}, "a process was left behind"
    assert "FAIL" not in out.read_text()
    return gen if r.returncode == 0 else None


def end_and_restart(st, p, good):
    """The computation killed, restart --dir brings back generation good."""
    kill_all(st)
    p.wait(30)
    p, gen = restart_dir(st, NPROCS)
    assert gen == good
    return p


# ---- one point at a time, at checkpoint ----------------------------------------

def img_error(op, path, why):
    return rf"process (\d+) \(family\): cannot {op} {path}: {why}"


NOSPACE = (r"No space left on device: the file system of {dir} has \d+ bytes \([\d.]+ MiB\) "
           r"free, and this image needs up to \d+ bytes \([\d.]+ MiB\), its memory "
           r"uncompressed \(\d+ bytes \([\d.]+ MiB\) written so far\); make room there, or "
           r"checkpoint to another directory \(--ckpt-dir\)")
IMAGE = r"{dir}/ckpt_family_\w+_\1_g2\.stasis"
LOST = (r"process (\d+) \(family\) lost its connection to the coordinator during the "
        r"checkpoint, before its image was written: it goes on, and joins the computation "
        r"again")
SCRIPT = r"{dir}/stasis_restart_\w+\.sh"

# point and nth in generation 2 -> the error line each process (or the
# coordinator) reports, or None: the fault is survived
AT_CHECKPOINT = {
    "img-create:1": [img_error("create", IMAGE + r"\.tmp", NOSPACE)] * NPROCS,
    "img-write:1": [img_error("write", IMAGE + r"\.tmp", NOSPACE)] * NPROCS,
    "img-write:40": [img_error("write", IMAGE + r"\.tmp", NOSPACE)] * NPROCS,
    "img-fsync:1": [img_error("fsync", IMAGE + r"\.tmp", "Input/output error")] * NPROCS,
    "img-close:1": [img_error("close", IMAGE + r"\.tmp", "Input/output error")] * NPROCS,
    "img-rename:1": [img_error("rename", IMAGE + r"\.tmp", "Input/output error")] * NPROCS,
    "img-fsync-dir:1": [img_error("fsync the directory of", IMAGE,
                                  "Input/output error")] * NPROCS,
    "rt-snap:1": None,  # the buffer is made again at the stop
    "rt-snap:1,g2:rt-snap:2": [
        r"process (\d+) \(family\): pid \1: cannot copy the 4 KiB of shared memory it stores: "
        r"Cannot allocate memory; the program goes on: free some memory, or checkpoint with "
        r"--kill \(which copies nothing\)"],
    "rt-fork:1": None,  # written by the process itself
    "msg-send:1": None,  # before the stop: the checkpoint starts again without them
    "msg-send:4": [LOST] * NPROCS,
    "msg-recv:1": None,
    "msg-recv:3": [LOST] * NPROCS,
    "coord-send:1": None,
    "coord-alloc:1": [r"the coordinator ran out of memory recording the image of process "
                      r"\d+ \(family\)"],
    "script-create:1": [rf"cannot create the restart script {SCRIPT}\.tmp\.\d+: No space left "
                        r"on device"],
    "script-write:1": [rf"cannot write the restart script {SCRIPT}\.tmp\.\d+: No space left "
                       r"on device"],
    "script-fsync:1": [rf"cannot fsync the restart script {SCRIPT}\.tmp\.\d+: Input/output "
                       r"error"],
    "script-rename:1": [rf"cannot rename the restart script {SCRIPT}: Input/output error"],
}


@pytest.mark.parametrize("fault", sorted(AT_CHECKPOINT))
def test_fault_at_checkpoint(st, fault):
    p, out = launch_family(st, fault="g2:" + fault)
    procs, coord = program_pids(st), status_of(st)["pid"]
    assert check_after(st, out, st.checkpoint(kill=False, expect_ok=False), procs, coord) == 1
    r = st.checkpoint(kill=False, expect_ok=False)
    want = AT_CHECKPOINT[fault]
    good = check_after(st, out, r, procs, coord)
    if want is None:
        assert r.returncode == 0 and good >= 2, r.stderr
    else:
        assert good is None and failed_gen(r.stderr) == 2, r.stderr
        lines = error_lines(r.stderr)
        d = re.escape(str(st.ckpt_dir))
        for pattern in want:
            pattern = pattern.replace("{dir}", d)
            hit = [l for l in lines if re.fullmatch(pattern, l)]
            assert hit, f"no line matches {pattern!r}:\n{r.stderr}"
            lines.remove(hit[0])
        assert not lines, f"unexpected lines:\n{r.stderr}"
        good = 1
    p = end_and_restart(st, p, good)
    finish(st, p, out)


# ---- one point at a time, at restart -------------------------------------------

ABORTED = re.escape(
    "stasis: error: cannot restart: a process failed while it was restored (above); every "
    "process of the restart was ended, nothing of the computation runs")
IMG = r"{dir}/ckpt_family_\w+_\d+_g1\.stasis"
NO_COMPLETE = (r"stasis: error: no complete checkpoint in {dir} \(no valid \*\.stasis image, or "
               r"a generation with images missing\)")
EACH = "each"  # a line from each restored process that met the fault before PID 1 ended them

# point and nth for `stasis restart --dir` -> its stderr lines (pattern, how
# many times), or None: survived
AT_RESTART = {
    "img-open:1": [(rf"stasis: warning: skipping cannot open image {IMG}: Input/output error", 1),
                   (NO_COMPLETE, 1)],
    "img-open:4": [(rf"stasis: error: cannot restart: cannot open image {IMG}: Input/output "
                    r"error", 1)],
    "img-read:6": [(rf"stasis: warning: skipping cannot read the section table of {IMG}: "
                    r"Input/output error", 1), (NO_COMPLETE, 1)],
    "img-alloc:5": [(rf"stasis: error: cannot restart: cannot read section proc of {IMG} "
                     r"\(offset \d+, \d+ bytes\): Cannot allocate memory", 1)],
    "rst-clone:1": [(r"stasis: error: cannot create the restart namespace's first process: "
                     r"Resource temporarily unavailable", 1)],
    "rst-clone:2": [(r"stasis: error: cannot create pid \d+ in the restart namespace: Resource "
                     r"temporarily unavailable", 1), (ABORTED, 1)],
    "rst-mmap:1": [(r"stasis: error: pid (\d+): cannot map its memory region 0x[0-9a-f]+-"
                    r"0x[0-9a-f]+ \([\w-]+\): Cannot allocate memory", EACH), (ABORTED, 1)],
    "rst-alloc:1": [(rf"stasis: error: pid (\d+): no memory for the buffers reading {IMG}", EACH),
                    (ABORTED, 1)],
    "rst-blob:1": [(r"stasis: error: injected fault \(rst-blob\) at 0x0{16} errno "
                    r"0x0{15}5 ", EACH), (ABORTED, 1)],
    "msg-send:1": None,  # the connection is made again
    "msg-recv:1": None,
}


def match_lines(lines, want, d):
    """lines are want's patterns in order, each as many times as it says."""
    for pattern, times in want:
        pattern = pattern.replace("{dir}", d)
        n = 0
        while lines and re.fullmatch(pattern, lines[0]):
            lines.pop(0)
            n += 1
        assert n == times or (times == EACH and 1 <= n <= NPROCS), (pattern, n, lines)
    assert not lines, f"unexpected lines: {lines}"


def restart_with(st, fault, timeout=30):
    """`stasis restart --dir` under STASIS_FAULT=fault, to its end when it
    fails, or until its processes are back when it works (None then)."""
    p = subprocess.Popen([str(st.bin), "restart", "-p", str(st.port), "--dir", str(st.ckpt_dir)],
                         env=dict(st.env, STASIS_FAULT=fault), cwd=st.tmp, text=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return p.wait(timeout=0.05), p.stderr.read()
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"restart under STASIS_FAULT={fault} neither failed nor brought the "
                        f"program back within {timeout} s: {p.communicate()[1]}\n"
                        f"{status_of(st)}")
        s = status_of(st)
        if s["nprocs"] == NPROCS and s["state"] == "idle":
            kill_all(st)
            p.wait(timeout)
            return None, p.stderr.read()


def test_faults_at_restart(st):
    """Each point of the restart failed in turn: restart fails saying what
    failed (or survives it), no process is left, the coordinator is idle with
    no process; then a restart without faults works."""
    coord = coordinator(st)
    p, out = launch_family(st)
    st.checkpoint(kill=True)
    st.wait_killed(p)
    d = re.escape(str(st.ckpt_dir))
    # the faults restart survives last: the program they bring back writes to
    # its output file, which later restarts then warn about
    for fault, want in sorted(AT_RESTART.items(), key=lambda x: (x[1] is None, x[0])):
        rc, err = restart_with(st, fault)
        if want is None:
            assert rc is None, f"{fault}: {err}"
        else:
            lines = [l for l in err.splitlines() if not l.startswith("stasis: fault:")]
            assert rc == 1, f"{fault}: exit {rc}: {err}"
            match_lines(lines, want, d)
        assert re.search(rf"^stasis: fault: pid \d+: injecting {fault.split(':')[0]} ", err,
                         re.M), f"{fault}: not injected:\n{err}"
        wait_until(lambda: live_descendants() == {coord}, 10, f"{fault}: no process left")
        s = status_of(st)
        assert s["nprocs"] == 0 and s["state"] == "idle", (fault, s)
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=NPROCS, proc=p)
    finish(st, p, out)


def test_every_point_is_listed_and_tested():
    """The list names every point once; each is failed by a test above."""
    points = fault_points()
    assert sorted(points.values()) == list(range(1, len(points) + 1))
    tested = {f.split(":")[0] for f in AT_CHECKPOINT} | {f.split(":")[0] for f in AT_RESTART}
    tested |= {"rt-alloc"}  # walked below, every hit
    tested |= {"coord-ready"}  # test_restart_fast.py: a coordinator that never says it listens
    tested |= {"rst-map-run"}  # test_mapped.py: a mapping refused is read instead
    assert sorted(set(points) - tested) == []


# ---- every Nth point reached, in order -----------------------------------------

STRIDE = int(os.environ.get("STASIS_FAULT_STRIDE", "1"))


def walk(st, point):
    """Generation 3 + k fails at the (1 + k * STRIDE)th time a process reaches
    point ("all": any point), up to the most hits a process and its forked
    writer (which goes on from its parent's count) make in a checkpoint
    without faults (generation 2, counted with STASIS_FAULT_LOG). Returns
    (checkpoints taken, how many failed)."""
    items = ",".join(f"g{3 + k}:{point}:{1 + k * STRIDE}" for k in range(300))
    trace = st.tmp / "trace"
    p, out = launch_family(st, fault=items, log=str(trace))
    procs, coord = program_pids(st), status_of(st)["pid"]
    good = check_after(st, out, st.checkpoint(kill=False, expect_ok=False), procs, coord)
    good = check_after(st, out, st.checkpoint(kill=False, expect_ok=False), procs, coord)
    assert good == 2
    name = None if point == "all" else point
    top = most_hits(hits_per_process(trace, 2, name), procs, coord)
    taken = failed = 0
    while 1 + (status_of(st)["gen"] + 1 - 3) * STRIDE <= top:
        r = st.checkpoint(kill=False, expect_ok=False)
        taken += 1
        g = check_after(st, out, r, procs, coord)
        failed += g is None
        if g is None:
            assert all(re.match(r"process \d+ \(family\)|the coordinator |cannot \w+ the "
                                r"restart script ", l) for l in error_lines(r.stderr)), r.stderr
        good = g or good
    p = end_and_restart(st, p, good)
    finish(st, p, out)
    print(f"{point}: {taken} checkpoints, {failed} failed, up to hit {top}")
    return taken, failed


def most_hits(counts, procs, coord):
    """The most points one process and its forked writer reach in a
    checkpoint, from its {pid: hits}: the writer's hits go on from its
    parent's count. The largest own count plus the largest writer's (the
    parent of family reaches the most points, its writer no fewer than the
    others); the coordinator's count on its own. The sum of the two largest
    counts, taken before, was two processes' own: the walk went on 46
    checkpoints past the last point reached, and failed its ratio."""
    own = [n for pid, n in counts.items() if int(pid) in procs]
    writers = [n for pid, n in counts.items() if int(pid) not in procs and int(pid) != coord]
    return max(max(own) + max(writers, default=0), counts.get(str(coord), 0))


def hits_per_process(trace, gen, name=None):
    """{pid: points reached} in generation gen of a STASIS_FAULT_LOG file
    (only point name, if given)."""
    counts = {}
    for line in trace.read_text().splitlines():
        pid, g, point = line.split()
        if int(g) == gen and (name is None or point == name):
            counts[pid] = counts.get(pid, 0) + 1
    return counts


def test_walk_every_point_of_a_checkpoint(st):
    """STASIS_FAULT=gG:all:N: each checkpoint fails at the next point reached,
    whatever it is, in every process (and the coordinator) at once."""
    taken, failed = walk(st, "all")
    assert failed > taken / 2


def test_walk_every_allocation_of_a_checkpoint(st):
    """rt-alloc alone: every allocation of the checkpoint memory fails in turn."""
    taken, failed = walk(st, "rt-alloc")
    assert failed > taken / 2


def test_walk_every_point_of_a_restart(st):
    """STASIS_FAULT=all:N for `stasis restart --dir`, N = 1, 2, ... until no
    point fails any more: each restart fails saying what failed (or survives
    the fault), leaves no process and an idle coordinator; then a restart
    without faults brings the program back."""
    coord = coordinator(st)
    p, out = launch_family(st)
    st.checkpoint(kill=True)
    st.wait_killed(p)
    n = failed = 0
    while True:
        n += STRIDE
        rc, err = restart_with(st, f"all:{n}")
        if rc is not None:
            failed += 1
            lines = [l for l in err.splitlines() if not l.startswith("stasis: fault:")]
            assert rc == 1 and lines and all(l.startswith("stasis: ") for l in lines), err
            assert lines[-1].startswith("stasis: error: "), err
        wait_until(lambda: live_descendants() == {coord}, 10, f"all:{n}: no process left")
        s = status_of(st)
        assert s["nprocs"] == 0 and s["state"] == "idle", (n, s)
        if "injecting" not in err:
            break
    print(f"restart: {n // STRIDE} restarts, {failed} failed, up to hit {n}")
    assert failed > n // STRIDE / 2
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=NPROCS, proc=p)
    finish(st, p, out)
