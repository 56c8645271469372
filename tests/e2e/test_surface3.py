"""The user's side, third part (issue 13): `inspect --dir` for a whole
checkpoint, restart's -p 0 / --port-file / --log-file, usage errors as JSON,
and a coordinator reached through one of this host's own addresses."""
import datetime
import json
import os
import re

from conftest import program, section
from dist import cluster  # noqa: F401  (the fixture)
from test_surface2 import kill_and_wait, wait_file, wait_gone, wait_status


# ---- restart -p 0, --port-file, --log-file ----------------------------------------

def test_restart_on_port_zero_with_port_file_and_log_file(st):
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    pf, log = st.tmp / "port", st.tmp / "coord.log"
    p = st._spawn([str(st.bin), "restart", "-p", "0", "--port-file", str(pf), "--log-file",
                   str(log), "--dir", str(st.ckpt_dir)], None, None, "restart")
    port = int(wait_file(pf))
    assert port != st.port
    s = wait_status(st, lambda s: s["nprocs"] == 1 and s["state"] == "idle", "idle back",
                    port=port)
    assert (s["port"], s["log"]) == (port, str(log)), s
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d stasis: coordinator listening on "
                     rf"127\.0\.0\.1:{port} ", log.read_text(), re.M), log.read_text()
    r = st.stasis("checkpoint", "-p", port, "--kill")
    assert r.returncode == 0, r.stderr
    st.wait_killed(p)
    wait_gone(pf)  # its coordinator exited with its last process


def test_restart_port_file_names_the_running_coordinator(st):
    r = st.stasis("coordinator", "-p", st.port, "--daemon", "--ckpt-dir", st.ckpt_dir)
    assert r.returncode == 0, r.stderr
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    pf = st.tmp / "port"
    p = st._spawn([str(st.bin), "restart", "-p", str(st.port), "--port-file", str(pf),
                   "--dir", str(st.ckpt_dir)], None, None, "restart")
    assert wait_file(pf) == f"{st.port}\n"
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    assert st.stasis("kill", "-p", st.port, "--coordinator").returncode == 0


# ---- usage errors as JSON -------------------------------------------------------

USAGE = [  # (argv, its message: the same with and without --json)
    (["status", "--bogus"], "stasis status: unknown option '--bogus'"),
    (["status", "-p"], "stasis status: option '-p' needs a value (PORT)"),
    (["status", "--json=1"], "stasis status: option '--json' takes no value"),
    (["interval"], "stasis interval: missing SECONDS"),
    (["interval", "-x", "5"], "stasis interval: unknown option '-x'"),
    (["inspect"], "stasis inspect: missing IMAGE (or --dir DIR)"),
    (["inspect", "a", "b"], "stasis inspect: unexpected argument 'b'"),
    (["inspect", "--dir", ".", "fds", "x"], "stasis inspect: unexpected argument 'x'"),
    (["check", "extra"], "stasis check: unexpected argument 'extra'"),
]
BAD_NUMBER = [
    (["status", "-p", "abc"], "invalid port 'abc': expected a number from 1 to 65535"),
    (["interval", "x"], "invalid interval 'x': expected a number of seconds (0 to 4294967)"),
    (["interval", "-p", "70000", "5"], "invalid port '70000': expected a number from 1 to 65535"),
]


def test_usage_errors_are_json_under_json(st):
    for argv, msg in USAGE:
        cmd = argv[0]
        r = st.stasis(*argv)
        assert (r.returncode, r.stdout) == (2, ""), (argv, r)
        assert r.stderr.startswith(f"{msg}\nusage: stasis {cmd} "), (argv, r.stderr)
        # --json before the error and after it (not after an option that takes a value)
        for at in (1,) if argv[-1] == "-p" else (1, len(argv)):
            r = st.stasis(*argv[:at], "--json", *argv[at:])
            assert (r.returncode, r.stderr) == (2, ""), (argv, at, r)
            assert json.loads(r.stdout) == {"error": f"{msg} (see 'stasis {cmd} --help')"}, \
                (argv, at, r.stdout)
    for argv, msg in BAD_NUMBER:
        r = st.stasis(*argv)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"stasis: error: {msg}\n"), r
        for at in (1, len(argv)):
            r = st.stasis(*argv[:at], "--json", *argv[at:])
            assert (r.returncode, r.stderr) == (2, ""), (argv, at, r)
            assert json.loads(r.stdout) == {"error": msg}, (argv, at, r.stdout)


# ---- inspect --dir -----------------------------------------------------------------

def inspect_dir(st, *args):
    r = st.stasis("inspect", "--dir", st.ckpt_dir, *args)
    assert (r.returncode, r.stderr) == (0, ""), r
    return r.stdout


def head_lines(st, info):
    """The summary inspect --dir starts with, from what the test knows."""
    u = os.uname()
    taken = datetime.datetime.fromtimestamp(info["created_ns"] // 10**9, datetime.timezone.utc)
    size = sum(f.stat().st_size for f in st.ckpt_dir.glob("*.stasis"))
    return (f"checkpoint  {st.ckpt_dir}\n"
            f"computation {info['comp_id']:016x} generation 1\n"
            f"taken       {taken:%Y-%m-%d %H:%M:%S} UTC\n"
            f"host        {u.nodename}: kernel {u.release} ({u.version})\n"
            f"images      2, {size} bytes\n")


def check_inspect_dir(st, d, pids, imgs):
    parent, child, zombie = pids
    files = {f: f.read_bytes() for f in st.ckpt_dir.iterdir()}
    info = json.loads(inspect_dir(st, "--json"))
    head = head_lines(st, info)
    prog, cmd = program("inspect_set"), f"{program('inspect_set')} {st.tmp / 'verify'} {d}"
    me = os.getpid()
    rows = [f"  {parent:<8} {me:<8} {parent:<8} {parent:<8} 2        {cmd}",
            f"  {child:<8} {parent:<8} {parent:<8} {parent:<8} 2          {cmd}",
            f"  {zombie:<8} {parent:<8} {parent:<8} {parent:<8} -          <defunct: exit 3>"]
    rows[1:] = sorted(rows[1:], key=lambda l: int(l.split()[0]))
    assert inspect_dir(st, "ps") == head + (
        "\nprocess tree (2 processes, 1 zombie)\n"
        "  PID      PPID     PGID     SID      THREADS  COMMAND\n" + "\n".join(rows) + "\n")
    # JSON: every process, in tree order, with its origin and every part
    procs = info["processes"]
    assert [(p["pid"], p["ppid"], p["depth"]) for p in procs] == \
        [(parent, me, 0), (child, parent, 1)]
    assert list(procs[0]) == ["pid", "ppid", "pgid", "sid", "depth", "nthreads", "name", "exe",
                              "cwd", "image", "origin", "zombies", "threads", "fds", "shares",
                              "locks", "mapped_bytes", "image_bytes", "stored_bytes", "vmas",
                              "ipc"]
    assert procs[0]["origin"] == {"host": os.uname().nodename, "kernel": os.uname().release,
                                  "kernel_version": os.uname().version,
                                  "argv": [prog, str(st.tmp / "verify"), str(d)],
                                  "argv_cut": False}
    assert procs[0]["zombies"] == [{"pid": zombie, "pgid": parent, "sid": parent,
                                    "exit_signal": 17, "code": "exited", "status": 3}]
    assert sorted(p["image"] for p in procs) == sorted(imgs)
    # the descriptors: their kinds' records (file, pipe with its bytes, eventfd)
    fds = {f["fd"]: f for f in procs[0]["fds"]}
    data = str(d / "data")
    assert (fds[5]["type"], fds[5]["pos"], fds[5]["open_flags"], fds[5]["path"],
            fds[5]["record"]) == ("file", 5, 0o100002, data, {"path": data, "deleted": False})
    assert [(fds[n]["type"], fds[n]["record"]["end"], fds[n]["record"]["data"])
            for n in (6, 7)] == [("pipe", "read", "queued"), ("pipe", "write", "queued")]
    assert (fds[8]["type"], fds[8]["record"]) == ("eventfd", {"count": 42, "flags": []})
    text = inspect_dir(st, "fds")
    assert text.startswith(head + f"\n== pid {parent}: {cmd}\n\nfile descriptors ("), text
    assert (f"\n  fd=5 type=\"file\" open_flags=0x8002 fd_flags=0 pos=5 file={fds[5]['file']} "
            f"path=\"{data}\" share=-1 parent_fd=-1 record={{path=\"{data}\" deleted=false}}\n"
            ) in text, text
    assert ("\n  fd=8 type=\"eventfd\" open_flags=0x2 fd_flags=0 pos=0 file=-1 path=\"\" "
            "share=-1 parent_fd=-1 record={count=42 flags=[]}\n") in text, text
    # memory: the 16 pages mapped, 3 of them written, in the image
    mine = [v for v in procs[0]["vmas"] if v["size"] == 16 * 4096 and v["kind"] == "anon"]
    assert [(v["prot"], v["image_bytes"]) for v in mine] == [(3, 3 * 4096)], mine
    for p in procs:
        one = st.inspect(p["image"])  # as inspect IMAGE counts it
        assert (p["image_bytes"], p["stored_bytes"]) == (one["memory_bytes"],
                                                          one["stored_bytes"])
        assert p["mapped_bytes"] == sum(v["end"] - v["start"] for v in p["vmas"]
                                        if v["kind"] != "runtime-scratch")
    text = inspect_dir(st, "mem")
    assert (f"\n== pid {parent}: {cmd}\n\nmemory: {procs[0]['mapped_bytes']} bytes mapped (the "
            f"runtime's scratch not counted), {procs[0]['image_bytes']} of them in the image, "
            f"stored as {procs[0]['stored_bytes']} bytes\n\nmemory regions "
            f"({len(procs[0]['vmas'])})\n") in text, text
    assert inspect_dir(st, "ipc") == head + "".join(
        f"\n== pid {pid}: {cmd}\n\nSysV IPC objects (0)\n" for pid in (parent, child))
    text = inspect_dir(st, "threads")
    assert text.count("\nthreads (2)\n") == 2 and text.count(" checkpoint_thread=true") == 2
    assert inspect_dir(st) == inspect_dir(st, "all")
    assert {f: f.read_bytes() for f in st.ckpt_dir.iterdir()} == files  # nothing changed


def test_inspect_dir_shows_the_whole_checkpoint(st):
    d = st.tmp / "data"
    d.mkdir()
    out = st.tmp / "inspect_set.out"

    def checkpointed(st, i, imgs):
        pids = [int(x) for x in re.search(r"^pids (\d+) (\d+) (\d+)$", out.read_text(),
                                          re.M).groups()]
        check_inspect_dir(st, d, pids, imgs)

    st.zdtm("inspect_set", d, cycles=1, nprocs=2, checkpointed=checkpointed)


NO_CKPT = "no complete checkpoint in {} (no valid *.stasis image, or a generation with images missing)"


def inspect_fails(st, d, stderr, rc=1):
    """inspect --dir d fails with rc, saying stderr (its last line under --json
    as {"error": ...}), and changes nothing."""
    before = {f: f.read_bytes() for f in d.iterdir()} if d.exists() else None
    r = st.stasis("inspect", "--dir", d)
    assert (r.returncode, r.stdout, r.stderr) == (rc, "", stderr), r
    r = st.stasis("inspect", "--dir", d, "--json")
    *warnings, last = stderr.splitlines()
    assert (r.returncode, r.stderr) == (rc, "".join(w + "\n" for w in warnings)), r
    assert json.loads(r.stdout) == {"error": last.removeprefix("stasis: error: ")}, r.stdout
    assert ({f: f.read_bytes() for f in d.iterdir()} if d.exists() else None) == before


def test_inspect_dir_bad_input(st):
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    [img] = st.checkpoint(kill=True)
    st.wait_killed(p)
    info = st.inspect(img)
    data = open(img, "rb").read()
    name = os.path.basename(img)
    # a directory that is not there, one with no images, one with a foreign file
    missing, empty, foreign = st.tmp / "missing", st.tmp / "empty", st.tmp / "foreign"
    inspect_fails(st, missing, f"stasis: error: cannot open checkpoint directory {missing}: "
                  "No such file or directory\n")
    empty.mkdir()
    inspect_fails(st, empty, f"stasis: error: {NO_CKPT.format(empty)}\n")
    foreign.mkdir()
    (foreign / "notes.stasis").write_text("not an image\n")
    inspect_fails(st, foreign, f"stasis: warning: skipping {foreign}/notes.stasis is not a "
                  "stasis image or is truncated (13 bytes)\n"
                  f"stasis: error: {NO_CKPT.format(foreign)}\n")
    # a truncated image; one whose descriptor table fails its checksum
    cut = st.tmp / "cut"
    cut.mkdir()
    (cut / name).write_bytes(data[:len(data) // 2])
    inspect_fails(st, cut, f"stasis: warning: skipping {cut}/{name} is truncated or extended: "
                  f"header says {len(data)} bytes, file has {len(data) // 2}\n"
                  f"stasis: error: {NO_CKPT.format(cut)}\n")
    bad = st.tmp / "bad"
    bad.mkdir()
    fds = section(info, "fds")
    flipped = bytearray(data)
    flipped[fds["offset"]] ^= 1
    (bad / name).write_bytes(bytes(flipped))
    inspect_fails(st, bad, f"stasis: error: {bad}/{name} is corrupt: section fds (offset "
                  f"{fds['offset']}, {fds['size']} bytes) fails its checksum\n")
    # a view that is not one
    r = st.stasis("inspect", "--dir", st.ckpt_dir, "maps")
    assert (r.returncode, r.stdout) == (2, ""), r
    assert r.stderr.startswith("stasis inspect: unknown view 'maps' (ps, threads, fds, mem, "
                               "ipc or all)\nusage: stasis inspect IMAGE"), r.stderr


# ---- a coordinator reached through one of this host's own addresses ------------------

def test_coordinator_on_an_address_of_this_host(cluster):
    """The coordinator listens on host1's 192.0.2.1, and a program on host1 reaches
    it there (--coord-host 192.0.2.1): it is this host's coordinator, not
    another host's, so its checkpoint directory is the one, and a restart of
    the directory is whole. With none running, launch starts one there."""
    c, hs = cluster(1)
    a = c.on(hs[0])
    a.ckpt_dir = a.tmp / "own"  # launch is given a directory of its own
    a.ckpt_dir.mkdir()
    p = a.launch(program("idle"))
    a.wait_registered(proc=p)
    imgs = a.checkpoint(kill=True)
    a.wait_killed(p)
    assert [os.path.dirname(i) for i in imgs] == [str(c.ckpt_dir)], imgs
    assert list(a.ckpt_dir.iterdir()) == []
    p = a.restart(directory=c.ckpt_dir)
    a.wait_registered(proc=p)
    a.checkpoint(kill=True)
    a.wait_killed(p)
    # none on port 7000: launch starts one on 192.0.2.1, where it looks for it
    del a.env["STASIS_TOKEN_FILE"]  # its own, in the run directory
    p = a._spawn([str(a.bin), "launch", "-p", "7000", "--ckpt-dir", str(a.ckpt_dir),
                  program("idle")], None, None, "launch on 7000")
    a.port = 7000
    a.wait_registered(proc=p)
    listening = hs[0].run("ss", "-Hltn").stdout.split()
    assert f"{hs[0].addr}:7000" in listening and "127.0.0.1:7000" not in listening, listening
    imgs = a.checkpoint(kill=True)
    a.wait_killed(p)
    assert [os.path.dirname(i) for i in imgs] == [str(a.ckpt_dir)], imgs
