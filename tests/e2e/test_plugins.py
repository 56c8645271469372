"""Plugins (issue 13, docs/plugins.md): events in their order in every process,
bytes saved in the image and read back, the name service, the errors (ABI,
a failing event, a plugin missing at restart), and the two example plugins
(modify-env, pathvirt)."""
import os
import shutil
import time
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import BUILD, program, section

EVENTLOG = BUILD / "tests" / "programs" / "plugins" / "eventlog.so"
BADABI = BUILD / "tests" / "programs" / "plugins" / "badabi.so"
MODIFY_ENV = BUILD / "lib" / "plugins" / "modify-env.so"
PATHVIRT = BUILD / "lib" / "plugins" / "pathvirt.so"


def built(path):
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with 'make -j2'")
    return str(path)


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def saved_bytes(n, gen, pid):
    return bytes((i * 7 + gen + pid) & 0xFF for i in range(n))


def by_pid(log):
    """The plugin log's lines, per pid, without the pid."""
    lines = defaultdict(list)
    for line in Path(log).read_text().splitlines():
        pid, rest = line.split(" ", 1)
        lines[int(pid)].append(rest)
    return dict(lines)


def launch_pair(st, log, env=(), plugins=(EVENTLOG,)):
    st.env["PLUGIN_LOG"] = str(log)
    st.env.update(dict(env))
    out = st.tmp / "pair.out"
    opts = [a for p in plugins for a in ("--plugin", built(p))]
    p = st.launch(program("plugin_pair"), st.tmp / "verify", out=out, opts=opts)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    return p, out


def restart(st, *opts, images=None):
    """`stasis restart OPTS` of images (else of the checkpoint directory)."""
    what = [str(i) for i in images] if images else ["--dir", str(st.ckpt_dir)]
    argv = [str(st.bin), "restart", "-p", str(st.port), *opts, *what]
    return st._spawn(argv, None, None, "restart")


def kill_and_restart(st, p, nprocs=2):
    """checkpoint --kill, then restart the newest checkpoint; the restart."""
    st.checkpoint(kill=True)
    st.wait_killed(p)
    p = st.restart(directory=st.ckpt_dir)
    st.wait_registered(nprocs=nprocs, proc=p)
    return p


def child_of(pids, parent):
    (child,) = [p for p in pids if p != parent]
    return child


def finish(st, p, out):
    (st.tmp / "verify").touch()
    rc = p.wait(timeout=30)
    text = out.read_text()
    assert rc == 0 and "PASS" in text, f"exit {rc}: {text}\n{st.describe_all()}"


# ---- events -------------------------------------------------------------------

def test_events_in_order_in_both_processes(st):
    """start, a checkpoint that runs on (checkpoint, resume), two checkpoint
    --kill / restart cycles (checkpoint, then restart), exit: the exact lines
    of each of the two processes."""
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log)
    parent = p.pid
    st.checkpoint(kill=False)
    for _ in range(2):
        p = kill_and_restart(st, p)
    finish(st, p, out)
    lines = by_pid(log)
    child = child_of(lines, parent)
    common = ["checkpoint 1", "resume 1 ok", "checkpoint 2", "restart 2", "checkpoint 3",
              "restart 3", "exit 3"]
    assert lines == {parent: ["start 0"] + common, child: ["start 0 forked"] + common}


def test_exit_waits_for_the_resume_event(st):
    """The program ends at once after a checkpoint it went on from, while
    each process's RESUME event still runs (500 ms): exit() waits for it, so
    every process sees RESUME, then EXIT (the child ended first, and its
    RESUME never came; the parent's came after its EXIT)."""
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log, env={"PLUGIN_RESUME_SLEEP": "500"})
    parent = p.pid
    st.checkpoint(kill=False)
    finish(st, p, out)
    lines = by_pid(log)
    child = child_of(lines, parent)
    common = ["checkpoint 1", "resume 1 ok", "exit 1"]
    assert lines == {parent: ["start 0"] + common, child: ["start 0 forked"] + common}


def test_saved_bytes_come_back_exactly(st):
    log = st.tmp / "events.log"
    n = 100000
    p, out = launch_pair(st, log, env={"PLUGIN_SAVE": str(n)})
    parent = p.pid
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    # inspect shows the record: the plugin's name and size
    for img in imgs:
        info = st.inspect(img)
        (rec,) = info["plugins"]
        assert (rec["name"], rec["path"], rec["size"], rec["flags"]) == (
            "eventlog", str(EVENTLOG), n, ["saved"])
    p = st.restart(imgs)
    st.wait_registered(nprocs=2, proc=p)
    finish(st, p, out)
    lines = by_pid(log)
    for pid in (parent, child_of(lines, parent)):
        h = fnv(saved_bytes(n, 1, pid))
        assert lines[pid][1:5] == ["checkpoint 1", f"save {n} {h}", "restart 1",
                                   f"load {n} {h}"], lines[pid]


def test_saved_bytes_are_checksummed(st):
    """A byte of a plugin's record changed in the image: restart refuses it,
    naming the section, and creates nothing."""
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log, env={"PLUGIN_SAVE": "64"})
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    info = st.inspect(imgs[0])
    sec = section(info, "plugins")
    data = bytearray(Path(imgs[0]).read_bytes())
    data[sec["offset"] + 1] ^= 0xFF
    Path(imgs[0]).write_bytes(bytes(data))
    r = st.stasis("restart", "-p", st.port, *imgs)
    assert r.returncode == 1
    assert "section plugins" in r.stderr and "checksum" in r.stderr, r.stderr


def test_name_service_between_the_two_processes(st):
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log, env={"PLUGIN_NS": "1"})
    parent = p.pid
    p = kill_and_restart(st, p)
    finish(st, p, out)
    lines = by_pid(log)
    child = child_of(lines, parent)
    ev_ckpt, ev_restart = 2, 4  # STASIS_EVENT_CHECKPOINT, STASIS_EVENT_RESTART
    assert lines[parent] == ["start 0", "checkpoint 1", f"ns child={child} {ev_ckpt} 1",
                             "restart 1", f"ns child={child} {ev_restart} 1", "exit 1"]
    assert lines[child] == ["start 0 forked", "checkpoint 1",
                            f"ns parent={parent} {ev_ckpt} 1", "restart 1",
                            f"ns parent={parent} {ev_restart} 1", "exit 1"]


def test_checkpoint_requested_while_a_resume_event_waits_on_the_name_service(st):
    """The parent's RESUME event of generation 1 looks a name up for 3 s (no
    process publishes it); the second checkpoint is asked for meanwhile. Its
    CKPT_BEGIN, which came while the runtime waited for the name's answer, is
    kept and handled after the event: the checkpoint succeeds once the lookup
    times out, well within the coordinator's 20 s barrier timeout (it was
    dropped, and the checkpoint timed out)."""
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log, env={"PLUGIN_RESUME_LOOKUP": "3000"})
    parent = p.pid
    st.checkpoint(kill=False)
    t0 = time.monotonic()
    imgs = st.checkpoint(kill=False)
    took = time.monotonic() - t0
    assert len(imgs) == 2 and took < 10, f"{took:.1f} s: {imgs}\n{st.describe_all()}"
    finish(st, p, out)
    lines = by_pid(log)
    child = child_of(lines, parent)
    common = ["checkpoint 1", "resume 1 ok"]
    after = ["checkpoint 2", "resume 2 ok", "exit 2"]
    assert lines == {
        parent: ["start 0"] + common + ["ns later: Connection timed out"] + after,
        child: ["start 0 forked"] + common + after}


def test_kill_while_a_resume_event_waits_on_the_name_service(st):
    """`stasis kill` while the parent's RESUME event waits 3 s for a name: the
    lookup fails at once (ECONNRESET) and the process ends by SIGKILL after
    the event (the KILL was taken for a lost coordinator, and the process
    went on, trying to join again)."""
    log = st.tmp / "events.log"
    p, out = launch_pair(st, log, env={"PLUGIN_RESUME_LOOKUP": "3000"})
    parent = p.pid
    st.checkpoint(kill=False)
    r = st.stasis("kill", "-p", st.port)
    assert r.returncode == 0, r.stderr
    st.wait_killed(p, timeout=10)
    lines = by_pid(log)
    child = child_of(lines, parent)
    common = ["checkpoint 1", "resume 1 ok"]
    assert lines == {parent: ["start 0"] + common + ["ns later: Connection reset by peer"],
                     child: ["start 0 forked"] + common}


# ---- errors ---------------------------------------------------------------------

def test_abi_mismatch_is_refused_naming_the_plugin(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "--plugin", built(BADABI),
                  program("idle"))
    assert r.returncode == 1
    assert (f"plugin {BADABI} was built for plugin ABI 2, this runtime has ABI 1: rebuild it "
            "against this Stasis's <stasis/plugin.h>") in r.stderr, r.stderr


def test_missing_plugin_at_launch(st):
    r = st.stasis("launch", "-p", st.port, "--plugin", st.tmp / "nope.so", program("idle"))
    assert r.returncode == 1
    assert f"plugin {st.tmp / 'nope.so'}: No such file or directory" in r.stderr, r.stderr


def test_failing_checkpoint_event_keeps_the_previous_checkpoint(st):
    log = st.tmp / "events.log"
    fail = st.tmp / "fail-now"
    p, out = launch_pair(st, log, env={"PLUGIN_FAIL_FILE": str(fail)})
    parent = p.pid
    good = st.checkpoint(kill=False)
    before = {i: Path(i).read_bytes() for i in good}
    fail.touch()
    r = st.checkpoint(kill=True, expect_ok=False)
    assert r.returncode == 1
    assert f"plugin eventlog failed its checkpoint event: told to fail by {fail}" in r.stderr
    assert sorted(str(x) for x in st.ckpt_dir.glob("*.stasis")) == sorted(good)
    assert {i: Path(i).read_bytes() for i in good} == before
    assert p.running()
    fail.unlink()
    finish(st, p, out)
    lines = by_pid(log)
    assert lines[parent] == ["start 0", "checkpoint 1", "resume 1 ok", "checkpoint 2",
                             "resume 2 failed", "exit 1"]
    # the good checkpoint restarts (and ends at once: the verify file exists)
    p = st.restart(good)
    assert p.wait(timeout=30) == 0, st.describe_all()


def test_failing_restart_event_fails_the_restart(st):
    log = st.tmp / "events.log"
    fail = st.tmp / "fail-now"
    p, out = launch_pair(st, log, env={"PLUGIN_FAIL_FILE": str(fail)})
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    fail.touch()
    r = st.stasis("restart", "-p", st.port, *imgs, timeout=60)
    assert r.returncode == 1
    assert ("cannot restart: a process failed while it was restored (above); every process "
            "of the restart was ended, nothing of the computation runs") in r.stderr, r.stderr
    # the message is the program's: on its stderr (launch's, as restart put it back)
    err = Path(p.err).read_text()
    assert f"plugin eventlog failed its restart event: told to fail by {fail}; the restart " \
        "fails" in err, err
    fail.unlink()
    p = st.restart(imgs)  # the images are intact
    st.wait_registered(nprocs=2, proc=p)
    finish(st, p, out)


def test_missing_plugin_at_restart(st):
    log = st.tmp / "events.log"
    plugin = st.tmp / "copy" / "eventlog.so"
    plugin.parent.mkdir()
    shutil.copy(built(EVENTLOG), plugin)
    p, out = launch_pair(st, log, plugins=(plugin,))
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    plugin.unlink()
    r = st.stasis("restart", "-p", st.port, *imgs)
    assert r.returncode == 1
    assert (f"plugin eventlog was loaded from {plugin}, which cannot be read now (No such "
            "file or directory): put the plugin back there, or give --path-map OLD=NEW if "
            "it moved") in r.stderr, r.stderr
    # moved: --path-map finds it
    moved = st.tmp / "moved"
    moved.mkdir()
    shutil.copy(built(EVENTLOG), moved / "eventlog.so")
    p = restart(st, "--path-map", f"{plugin.parent}={moved}", images=imgs)
    st.wait_registered(nprocs=2, proc=p)
    finish(st, p, out)


# ---- the example plugins --------------------------------------------------------

def test_modify_env_changes_the_environment_at_restart(st):
    envfile = st.tmp / "env.txt"
    st.env.update({"X": "old", "Y": "going", "STASIS_MODIFY_ENV_FILE": str(envfile)})
    st.env.pop("Z", None)
    out = st.tmp / "env.out"
    p = st.launch(program("env_ticker"), st.tmp / "verify", "X", "Y", "Z", out=out,
                  opts=["--plugin", built(MODIFY_ENV)], append=True)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    # no file: nothing changes
    p = kill_and_restart(st, p, nprocs=1)
    envfile.write_text("# set X, unset Y, set Z\nX=new value=1\nY\n\nZ=\n")
    p = kill_and_restart(st, p, nprocs=1)
    st.wait_for(out, "X=new value=1 Y unset Z=", proc=p)
    envfile.write_text("X=third\nnot a name\n")
    st.checkpoint(kill=True)
    st.wait_killed(p)
    r = st.stasis("restart", "-p", st.port, "--dir", st.ckpt_dir)
    assert r.returncode == 1, r.stderr
    assert f"{envfile}:2: expected NAME=value or NAME" in out.read_text() + \
        Path(st.procs[0].err).read_text()
    envfile.write_text("X=third\n")
    p = st.restart(directory=st.ckpt_dir)
    st.wait_for(out, "X=third Y unset Z=", proc=p)
    (st.tmp / "verify").touch()
    assert p.wait(timeout=30) == 0
    assert out.read_text().splitlines() == [
        "X=old Y=going Z unset", "ready", "X=new value=1 Y unset Z=", "X=third Y unset Z=",
        "PASS"]


def test_pathvirt_follows_a_moved_data_directory(st):
    data = [st.tmp / f"data{i}" for i in range(3)]
    data[0].mkdir()
    (data[0] / "input").write_text("line1\nline2\n")
    out = st.tmp / "pv.out"
    p = st.launch(program("pathvirt_files"), st.tmp / "verify", data[0], out=out,
                  opts=["--plugin", built(PATHVIRT)], append=True)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    for i in range(2):
        st.checkpoint(kill=True)
        st.wait_killed(p)
        data[i].rename(data[i + 1])
        p = restart(st, "--path-map", f"{data[i]}={data[i + 1]}")
        st.wait_registered(proc=p)
    (st.tmp / "verify").touch()
    assert p.wait(timeout=30) == 0, st.describe_all()
    assert out.read_text() == "ready\nPASS\n"
    assert not data[0].exists() and not data[1].exists()
    assert (data[2] / "log").read_text() == "before\nafter\n"
    assert (data[2] / "new.txt").read_text() == "new\n"
    assert sorted(x.name for x in data[2].iterdir()) == [
        "created", "input", "log", "new.txt", "relative", "sub"]


def test_path_map_without_pathvirt_moves_only_the_open_files(st):
    """--path-map alone: the files open at the checkpoint and the working
    directory come back from the new place; a new file by its old name is not
    found (the program reports it)."""
    data = [st.tmp / "data0", st.tmp / "data1"]
    data[0].mkdir()
    (data[0] / "input").write_text("line1\nline2\n")
    out = st.tmp / "pv.out"
    p = st.launch(program("pathvirt_files"), st.tmp / "verify", data[0], out=out, append=True)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    st.checkpoint(kill=True)
    st.wait_killed(p)
    data[0].rename(data[1])
    p = restart(st, "--path-map", f"{data[0]}={data[1]}")
    st.wait_registered(proc=p)
    (st.tmp / "verify").touch()
    assert p.wait(timeout=30) == 1
    assert "FAIL: fopen new.txt: No such file or directory" in out.read_text()
    assert (data[1] / "log").read_text() == "before\nafter\n"
    assert (data[1] / "relative").exists()


def test_path_map_errors(st):
    r = st.stasis("restart", "-p", st.port, "--path-map", "relative=/x", "--dir", st.ckpt_dir)
    assert r.returncode == 2
    assert "invalid --path-map 'relative=/x': expected OLD=NEW, both absolute paths" in r.stderr
