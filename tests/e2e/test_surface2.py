"""The user's side, second part (issue 13): the interval changed while running
and kept across restarts, port 0 with --port-file, status's last checkpoint and
errors as JSON, the coordinator's log file, one checkpoint directory, and
`stasis check`."""
import json
import re
import os
import shutil
import time

import pytest

from conftest import program


def wait_status(st, pred, what, timeout=30, port=None):
    """Poll `status --json` until pred(status) holds; returns that status."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = st.stasis("status", "-p", port or st.port, "--json", timeout=10)
        if r.returncode == 0:
            last = json.loads(r.stdout)
            if pred(last):
                return last
        time.sleep(0.05)
    pytest.fail(f"{what} not seen within {timeout} s (last status {last})\n{st.describe_all()}")


def restart_with(st, *opts, env=None):
    argv = [str(st.bin), "restart", "-p", str(st.port), *opts, "--dir", str(st.ckpt_dir)]
    saved = st.env
    st.env = dict(saved, **(env or {}))
    try:
        return st._spawn(argv, None, None, "restart")
    finally:
        st.env = saved


def kill_and_wait(st, proc):
    st.checkpoint(kill=True)
    st.wait_killed(proc)


# ---- 1. the interval ----------------------------------------------------------

def test_interval_changed_while_running_and_kept_by_restart(st):
    p = st.launch(program("idle"))
    assert st.wait_registered(proc=p)["interval"] == 0
    r = st.stasis("interval", "-p", st.port, "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"the coordinator on port {st.port} checkpoints every 1 s\n"
    s = wait_status(st, lambda s: s["last_ok"] is not None, "a periodic checkpoint")
    assert s["interval"] == 1
    r = st.stasis("interval", "-p", st.port, "--json", "3600")
    assert (r.returncode, json.loads(r.stdout)) == (0, {"port": st.port, "interval": 3600})
    kill_and_wait(st, p)
    # the coordinator restart starts takes the interval the computation had
    p = restart_with(st)
    assert st.wait_registered(proc=p)["interval"] == 3600
    kill_and_wait(st, p)
    # unless -i says otherwise, or $STASIS_INTERVAL
    p = restart_with(st, "-i", "7")
    assert st.wait_registered(proc=p)["interval"] == 7
    kill_and_wait(st, p)
    p = restart_with(st, env={"STASIS_INTERVAL": "9"})
    assert st.wait_registered(proc=p)["interval"] == 9


def test_interval_from_the_environment_at_launch(st):
    st.env["STASIS_INTERVAL"] = "5"
    p = st.launch(program("idle"))
    assert st.wait_registered(proc=p)["interval"] == 5
    r = st.stasis("interval", "-p", st.port, "0")
    assert (r.returncode, r.stdout) == (
        0, f"the coordinator on port {st.port} no longer checkpoints periodically\n")
    assert st.status()["interval"] == 0


def test_interval_errors(st):
    r = st.stasis("interval", "-p", st.port, "soon")
    assert r.returncode == 2 and "invalid interval 'soon'" in r.stderr, r
    r = st.stasis("interval", "-p", st.port)
    assert r.returncode == 2 and r.stderr.startswith("stasis interval: missing SECONDS\n"), r
    r = st.stasis("interval", "-p", st.port, "--json", "5")
    assert r.returncode == 1, r
    err = json.loads(r.stdout)
    assert err == {"error": f"no coordinator on 127.0.0.1:{st.port} (connection refused): "
                   "start one with 'stasis coordinator' or use 'stasis launch'"}, r.stdout
    assert r.stderr == "", r.stderr
    st.env["STASIS_INTERVAL"] = "x"
    r = st.stasis("launch", "-p", st.port, "/bin/true")
    assert r.returncode == 2 and "invalid $STASIS_INTERVAL 'x'" in r.stderr, r


# ---- 2. port 0 and --port-file --------------------------------------------------

def wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} not written within {timeout} s")
        time.sleep(0.02)
    return path.read_text()


def wait_gone(path, timeout=10):
    deadline = time.monotonic() + timeout
    while path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} still there after {timeout} s")
        time.sleep(0.02)


def test_coordinator_on_port_zero_writes_its_port(st):
    pf = st.tmp / "port"
    r = st.stasis("coordinator", "-p", "0", "--port-file", pf, "--daemon",
                  "--ckpt-dir", st.ckpt_dir)
    assert r.returncode == 0, r.stderr
    text = pf.read_text()  # there once --daemon returns: it listens
    assert text.endswith("\n") and text.strip().isdigit(), repr(text)
    port = int(text)
    assert port != st.port and port > 0
    assert [f.name for f in st.tmp.iterdir() if f.name.startswith("port")] == ["port"]
    s = wait_status(st, lambda s: True, "the coordinator", port=port)
    assert (s["port"], s["ckpt_dir"]) == (port, str(st.ckpt_dir))
    r = st.stasis("kill", "-p", port, "--coordinator")
    assert r.returncode == 0, r.stderr
    wait_gone(pf)  # a port file left behind would name a port nothing listens on


def test_foreground_coordinator_port_file_written_once_listening(st):
    pf = st.tmp / "sub" / "port"
    pf.parent.mkdir()
    c = st._spawn([str(st.bin), "coordinator", "-p", "0", "--port-file", str(pf)], None, None,
                  "coordinator")
    port = int(wait_file(pf))
    r = st.stasis("status", "-p", port)
    assert r.returncode == 0 and f":{port} (pid {c.pid})" in r.stdout, r


def test_launch_on_port_zero(st):
    pf = st.tmp / "port"
    out = st.tmp / "out"
    p = st._spawn([str(st.bin), "launch", "-p", "0", "--port-file", str(pf), "--ckpt-dir",
                   str(st.ckpt_dir), program("idle")], out, None, "launch idle")
    port = int(wait_file(pf))
    assert port != st.port
    wait_status(st, lambda s: s["nprocs"] == 1 and s["state"] == "idle", "idle registered",
                port=port)
    r = st.stasis("checkpoint", "-p", port, "--kill")
    assert r.returncode == 0, r.stderr
    st.wait_killed(p)
    wait_gone(pf)  # its coordinator exited with its last process
    # without --port-file: a temporary one in the run directory, removed
    r = st.stasis("launch", "-p", "0", "--ckpt-dir", st.ckpt_dir, program("idle"), "x")
    assert (r.returncode, r.stdout) == (3, "idle ran\n"), r
    assert not list(st.run_dir.glob("launch-*")), list(st.run_dir.iterdir())


def test_port_file_that_cannot_be_written(st):
    pf = st.tmp / "missing" / "port"
    r = st.stasis("coordinator", "-p", "0", "--port-file", pf, "--daemon")
    assert r.returncode == 1, r
    assert f"cannot write port file {pf}: No such file or directory" in r.stderr, r.stderr
    r = st.stasis("launch", "-p", "0", "--port-file", pf, "/bin/true")
    assert r.returncode == 1 and f"cannot write port file {pf}" in r.stderr, r.stderr
    assert not list(st.run_dir.glob("*.token")), "a coordinator is left behind"


# ---- 3. status: the last checkpoint, one in progress, errors, the log file -----

def launch_with(st, prog, *args, opts=(), env=None, out=None):
    saved = st.env
    st.env = dict(saved, **(env or {}))
    try:
        return st.launch(prog, *args, opts=opts, out=out)
    finally:
        st.env = saved


def stopped_descendant(pid, timeout=30):
    """A descendant of pid stopped by SIGSTOP (the fault's /stop)."""
    from conftest import _descendants
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in _descendants(pid):
            try:
                with open(f"/proc/{d}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "T":
                        return d
            except FileNotFoundError:
                pass
        time.sleep(0.02)
    pytest.fail(f"no stopped descendant of {pid} within {timeout} s")


def test_status_shows_checkpoint_in_progress_and_last_one(st):
    out = st.tmp / "memhog.out"
    # the forked image writer stops at its 3rd write: the checkpoint is in progress
    p = launch_with(st, program("memhog"), "32", "rand", out=out,
                    env={"STASIS_FAULT": "img-write:3/stop"})
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    t0 = time.time()
    ck = st._spawn([str(st.bin), "checkpoint", "-p", str(st.port)], None, None, "checkpoint")
    writer = stopped_descendant(p.pid)
    s = wait_status(st, lambda s: s["checkpoint"] and s["checkpoint"]["bytes_done"] > 0,
                    "bytes written by the checkpoint")
    run = s["checkpoint"]
    assert (s["state"], run["gen"], run["nprocs"]) == ("checkpointing", 1, 1), s
    assert run["bytes_done"] < run["bytes_total"], run
    assert s["last_ok"] is None and s["last_error"] is None, s
    r = st.stasis("status", "-p", st.port)
    assert "\nin progress:    generation 1 for " in r.stdout, r.stdout
    os.kill(writer, 18)  # SIGCONT: it writes the rest
    assert ck.wait(timeout=60) == 0, ck.describe()
    image = ck.out.read_text().strip()
    t1 = time.time()
    s = st.status()
    last = s["last_ok"]
    assert (s["checkpoint"], last["gen"], last["images"]) == (None, 1, [image]), s
    assert last["bytes"] == os.path.getsize(image), (last, os.path.getsize(image))
    assert int(t0) <= last["time"] <= t1 and 0 < last["duration_ms"] <= (t1 - t0) * 1000, last
    r = st.stasis("status", "-p", st.port)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["time"]))
    assert f"\nlast success:   generation 1 at {when} (" in r.stdout, r.stdout
    assert f" of images\n  {image}\n" in r.stdout, r.stdout


def test_periodic_failure_in_log_file_and_status(st):
    log = st.tmp / "coord.log"
    ckdir = st.tmp / "gone"
    ckdir.mkdir()
    p = st.launch(program("idle"), opts=("--log-file", log, "--ckpt-dir", ckdir))
    s = st.wait_registered(proc=p)
    assert s["log"] == str(log), s
    ckdir.rmdir()  # the periodic checkpoint cannot write its image
    r = st.stasis("interval", "-p", st.port, "1")
    assert r.returncode == 0, r.stderr
    s = wait_status(st, lambda s: s["last_error"] is not None, "a failed periodic checkpoint")
    st.stasis("interval", "-p", st.port, "0")
    err = s["last_error"]
    assert err["gen"] == 1 and str(ckdir) in err["text"], err
    text = log.read_text()
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d stasis: coordinator listening on "
                     rf"127\.0\.0\.1:{st.port} ", text, re.M), text
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d stasis: warning: checkpoint "
                     rf"generation 1 of {s['comp_id']} failed:$", text, re.M), text
    r = st.stasis("status", "-p", st.port)
    assert f"\nlast error:     generation 1 at " in r.stdout and str(ckdir) in r.stdout, r.stdout
    assert f"\nlog:            {log}\n" in r.stdout, r.stdout


def test_errors_are_json_under_json(st):
    r = st.stasis("status", "-p", st.port, "--json")
    assert (r.returncode, r.stderr) == (1, ""), r
    assert json.loads(r.stdout) == {"error": f"no coordinator on 127.0.0.1:{st.port} "
                                    "(connection refused): start one with 'stasis "
                                    "coordinator' or use 'stasis launch'"}
    r = st.stasis("inspect", "--json", st.tmp / "none.stasis")
    assert (r.returncode, r.stderr) == (1, ""), r
    assert list(json.loads(r.stdout)) == ["error"] and "none.stasis" in r.stdout, r.stdout


# ---- 4. one checkpoint directory --------------------------------------------------

def files_in(d):
    return sorted(f.name for f in d.iterdir()) if d.exists() else []


def images_in(d):
    return [n for n in files_in(d) if n.endswith(".stasis")]


def one_checkpoint(st, *opts, kill=False):
    r = st.stasis("checkpoint", "-p", st.port, *opts, *(["--kill"] if kill else []))
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l]


def test_coordinator_directory_wins_over_launch(st):
    a, b = st.tmp / "a", st.tmp / "b"
    b.mkdir()
    r = st.stasis("coordinator", "-p", st.port, "--ckpt-dir", a, "--daemon", "--exit-on-last")
    assert r.returncode == 0, r.stderr
    p = st.launch(program("idle"), opts=("--ckpt-dir", b))  # st.launch gives --ckpt-dir too
    st.wait_registered(proc=p)
    assert st.status()["ckpt_dir"] == str(a)
    imgs = one_checkpoint(st)
    assert [os.path.dirname(i) for i in imgs] == [str(a)], imgs
    assert images_in(a) == [os.path.basename(imgs[0])]
    script = [n for n in files_in(a) if n.startswith("stasis_restart_")]
    assert len(script) == 1, files_in(a)
    assert files_in(b) == [] and images_in(st.ckpt_dir) == [], (files_in(b), files_in(st.ckpt_dir))
    st.kill_procs()
    warning = p.err.read_text()
    assert (f"stasis: warning: the coordinator on port {st.port} keeps checkpoints in {a} "
            f"(it was given that one): --ckpt-dir {b} ignored") in warning, warning


def test_launch_directory_when_it_starts_the_coordinator(st):
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    assert st.status()["ckpt_dir"] == str(st.ckpt_dir)
    imgs = one_checkpoint(st)
    assert [os.path.dirname(i) for i in imgs] == [str(st.ckpt_dir)], imgs
    assert len([n for n in files_in(st.ckpt_dir) if n.startswith("stasis_restart_")]) == 1


def test_restart_from_a_copied_directory_checkpoints_there(st):
    import shutil
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    one_checkpoint(st, kill=True)
    st.wait_killed(p)
    copy = st.tmp / "copy"
    shutil.copytree(st.ckpt_dir, copy)
    shutil.rmtree(st.ckpt_dir)  # the directory of the first launch is gone
    p = restart_with_dir(st, copy)
    assert st.wait_registered(proc=p)["ckpt_dir"] == str(copy)
    imgs = one_checkpoint(st, kill=True)
    st.wait_killed(p)
    assert [os.path.dirname(i) for i in imgs] == [str(copy)], imgs
    assert not st.ckpt_dir.exists()
    # restart --ckpt-dir: elsewhere again
    other = st.tmp / "other"
    p = restart_with_dir(st, copy, "--ckpt-dir", other)
    assert st.wait_registered(proc=p)["ckpt_dir"] == str(other)
    imgs = one_checkpoint(st)
    assert [os.path.dirname(i) for i in imgs] == [str(other)], imgs
    assert len([n for n in files_in(other) if n.startswith("stasis_restart_")]) == 1


def restart_with_dir(st, d, *opts):
    argv = [str(st.bin), "restart", "-p", str(st.port), *map(str, opts), "--dir", str(d)]
    return st._spawn(argv, None, None, "restart")


def test_checkpoint_into_another_directory(st):
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    e = st.tmp / "e"
    e.mkdir()
    imgs = one_checkpoint(st, "--ckpt-dir", "e")  # relative to the command's directory
    assert [os.path.dirname(i) for i in imgs] == [str(e)], imgs
    assert st.status()["ckpt_dir"] == str(e)
    assert len([n for n in files_in(e) if n.startswith("stasis_restart_")]) == 1
    imgs = one_checkpoint(st)  # and the ones after it
    assert [os.path.dirname(i) for i in imgs] == [str(e)], imgs
    # bad directories change nothing
    (st.tmp / "file").write_text("x")
    for bad, why in (("file", f"checkpoint directory {st.tmp}/file is not a directory"),
                     ("missing", f"cannot resolve checkpoint directory {st.tmp}/missing: "
                                 "No such file or directory")):
        r = st.stasis("checkpoint", "-p", st.port, "--ckpt-dir", bad)
        assert r.returncode == 1 and f"checkpoint not taken: {why}" in r.stderr, r.stderr
        assert st.status()["ckpt_dir"] == str(e) and st.status()["gen"] == 2
    assert not (st.tmp / "missing").exists()


# ---- 5. stasis check -------------------------------------------------------------

CHECKS = ["user namespaces", "clone3 set_tid", "PAGEMAP_SCAN", "userfaultfd write-protect",
          "POSIX timer IDs", "vDSO layout", "devpts", "ptrace scope", "MADV_COLLAPSE"]


def test_check_on_this_machine(st):
    r = st.stasis("check", "--json")
    assert r.returncode == 0, r
    out = json.loads(r.stdout)
    assert [c["name"] for c in out["checks"]] == CHECKS
    assert out["ok"] is True
    needed = {c["name"]: c["needed"] for c in out["checks"]}
    assert [n for n in CHECKS if needed[n]] == CHECKS[:3]
    # Linux 6.18 with THP: everything is there
    assert [(c["name"], c["ok"], c["cost"]) for c in out["checks"]] == \
        [(n, True, None) for n in CHECKS], out
    r = st.stasis("check")
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[-1] == "Stasis can checkpoint and restart here.", r
    assert [l.split()[0] for l in lines[:-1]] == ["ok"] * len(CHECKS), r.stdout
    assert "clone3 gave PID 42 in a new user and PID namespace" in r.stdout


NO_USERNS = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\""


def without_userns(st, *args, **kw):
    """Run a stasis command in a user namespace that allows no nested one."""
    return st.stasis_argv(["unshare", "--user", "--map-root-user", "sh", "-c", NO_USERNS, "sh",
                           str(st.bin), *map(str, args)], **kw)


def test_check_and_restart_without_user_namespaces(st):
    r = without_userns(st, "check", "--json")
    assert r.returncode == 1, r
    out = json.loads(r.stdout)
    assert out["ok"] is False
    missing = [(c["name"], c["cost"]) for c in out["checks"] if not c["ok"]]
    assert missing == [
        ("user namespaces", "restart is impossible: it gives processes their PIDs in a new "
                            "user and PID namespace"),
        ("clone3 set_tid", "restart is impossible: processes cannot get their PIDs back")], out
    userns = out["checks"][0]["detail"]
    assert userns.startswith("unshare(CLONE_NEWUSER | CLONE_NEWPID): No space left on device "
                             "(user.max_user_namespaces = 0;"), userns
    r = without_userns(st, "check")
    assert r.returncode == 1 and r.stdout.endswith(
        "Stasis cannot work here: a feature it needs is missing.\n"), r.stdout
    # restart says why it fails and where to look
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    r = without_userns(st, "restart", "-p", st.port, *imgs)
    assert r.returncode == 1, r
    assert ("cannot create a user and PID namespace for the restart: No space left on device"
            in r.stderr and "'stasis check' shows what this machine allows" in r.stderr), r.stderr


# ---- 6. stasis.h: critical sections, generation, directory, restarts -----------

def in_section(st):
    """api_crit launched, in its critical section: its control directory,
    output file and launch."""
    ctl = st.tmp / "ctl"
    ctl.mkdir()
    out = st.tmp / "api.out"
    p = st.launch(program("api_crit"), ctl, out=out)
    st.wait_for(out, "in section", proc=p)
    st.wait_registered(proc=p)
    return ctl, out, p


def test_api_critical_section_generation_directory_restarts(st):
    ctl, out, p = in_section(st)
    assert out.read_text() == f"ready gen 0 restarts 0 dir {st.ckpt_dir}\nin section\n"
    ck = st._spawn([str(st.bin), "checkpoint", "-p", str(st.port)], None, None, "checkpoint")
    wait_status(st, lambda s: s["state"] == "checkpointing", "the checkpoint started")
    # the program checks, while in its section, that no checkpoint happens
    # held by the program's section: a checkpoint of this program takes a few
    # ms, this one is still waiting a second later, with no image (the
    # program also checks, in its section, that its generation stays 0)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        assert ck.running() and images_in(st.ckpt_dir) == [], (ck.describe(),
                                                                files_in(st.ckpt_dir))
        time.sleep(0.05)
    (ctl / "leave").touch()
    assert ck.wait(timeout=60) == 0, ck.describe()
    st.wait_for(out, "after gen 1", proc=p)
    assert out.read_text().endswith("in section\nleft section\nafter gen 1\n"), out.read_text()
    st.checkpoint(kill=True)
    st.wait_killed(p)
    r = st.restart(directory=st.ckpt_dir)
    st.wait_for(out, f"restarted 1 gen 2 dir {st.ckpt_dir}\n", proc=r)
    (ctl / "verify").touch()
    assert r.wait(timeout=30) == 0, st.describe_all()
    text = out.read_text()
    assert text.endswith("PASS\n") and "FAIL" not in text, text


def test_api_directory_after_a_restart_from_a_copy(st):
    """A restart from a copy of the checkpoint directory, given as the
    restart's --ckpt-dir: stasis_checkpoint_dir() names the copy at once,
    before any checkpoint (it named the launch's directory until the first)."""
    ctl, out, p = in_section(st)
    (ctl / "leave").touch()
    st.checkpoint(kill=False)
    st.wait_for(out, "after gen 1", proc=p)
    st.checkpoint(kill=True)
    st.wait_killed(p)
    moved = st.tmp / "moved"
    shutil.copytree(st.ckpt_dir, moved)
    r = st._spawn([str(st.bin), "restart", "-p", str(st.port), "--ckpt-dir", str(moved),
                   "--dir", str(moved)], None, None, "restart")
    st.wait_for(out, "restarted 1 gen 2 dir ", proc=r)
    assert out.read_text().endswith(f"restarted 1 gen 2 dir {moved}\n"), out.read_text()
    (ctl / "verify").touch()
    assert r.wait(timeout=30) == 0, st.describe_all()
    assert out.read_text().endswith("PASS\n"), out.read_text()


def test_api_outside_stasis():
    import subprocess
    r = subprocess.run([program("api_crit"), ".", "direct"], capture_output=True, text=True,
                       timeout=30)
    assert (r.returncode, r.stdout) == (0, "PASS\n"), r


def test_api_critical_section_too_long_fails_the_checkpoint(st):
    ctl, out, p = in_section(st)
    r = st.stasis("checkpoint", "-p", st.port)
    assert r.returncode == 1, r
    assert (f"pid {p.pid}: a critical section (stasis_disable_checkpoint) stayed open for "
            "more than 10 s; the program goes on") in r.stderr, r.stderr
    assert images_in(st.ckpt_dir) == []
    (ctl / "leave").touch()  # the program goes on, and is checkpointed once out of it
    st.wait_for(out, "left section", proc=p)
    imgs = one_checkpoint(st)
    assert [os.path.basename(i) for i in imgs] == images_in(st.ckpt_dir)
    st.wait_for(out, "after gen 2\n", proc=p)


def test_api_fork_during_another_threads_section(st):
    """A child forked while another thread of its parent is in a section has
    none open: a checkpoint of both goes through at once."""
    ctl = st.tmp / "ctl"
    ctl.mkdir()
    out = st.tmp / "api.out"
    p = st.launch(program("api_crit"), ctl, "fork", out=out)
    st.wait_for(out, "forked ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    t0 = time.monotonic()
    imgs = one_checkpoint(st)
    assert len(imgs) == 2 and time.monotonic() - t0 < 5, (imgs, time.monotonic() - t0)
    (ctl / "verify").touch()
    assert p.wait(timeout=30) == 0 and out.read_text() == "forked ready\nPASS\n", \
        out.read_text()
