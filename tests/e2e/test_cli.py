"""The command line: help, exit statuses, status without a coordinator, the
token, malformed peers, the coordinator going away with its last process."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import STASIS, nspid, program
from helpers import wait_until
from hosts import net  # noqa: F401  (the fixture)

COMMANDS = ["launch", "checkpoint", "restart", "status", "kill", "coordinator", "inspect",
            "merge", "nocheckpoint", "interval", "check"]


def test_main_help(st):
    r = st.stasis("--help")
    assert r.returncode == 0 and "usage" in r.stdout.lower(), r
    for c in COMMANDS:
        assert c in r.stdout, f"'{c}' missing from stasis --help"


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(st, cmd):
    r = st.stasis(cmd, "--help", timeout=10)
    assert r.returncode == 0, f"stasis {cmd} --help: {r.returncode} {r.stderr!r}"
    assert r.stdout.lower().startswith("usage: stasis " + cmd), r.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_describes_every_option(st, cmd):
    """Every option of the usage line has a line of its own (restart's -p and
    --dir, inspect's --json had none): both come from the command's table."""
    out = st.stasis(cmd, "--help", timeout=10).stdout
    usage, rest = out.split("\n\n", 1)
    described = set(re.findall(r"^  (?:-\w, |    )(--[a-z-]+)", rest, re.M))
    used = set(re.findall(r"(--[a-z][a-z-]+)", usage)) - {"--"}
    assert used <= described, f"stasis {cmd} --help: {used - described} not described"
    assert "--help" in described


def test_option_values_with_or_without_equals(st):
    """Every option that takes a value takes it as --opt=VAL as well as
    --opt VAL, with the same outcome (one parser for every command)."""
    empty = st.tmp / "empty"
    empty.mkdir()
    cases = [
        (["status", "--port", st.port], f"127.0.0.1:{st.port}"),
        (["checkpoint", "--port", st.port], f"127.0.0.1:{st.port}"),
        (["kill", "--port", st.port], f"127.0.0.1:{st.port}"),
        (["restart", "--port", st.port, "--dir", empty], f"no complete checkpoint in {empty}"),
        (["coordinator", "--port", st.port, "--timeout", "0"], "invalid timeout '0'"),
    ]
    for argv, said in cases:
        spaced = st.stasis(*argv, timeout=10)
        joined = [f"{a}={v}" for a, v in zip(argv[1::2], argv[2::2])]
        equals = st.stasis(argv[0], *joined, timeout=10)
        assert spaced.returncode != 0 and said in spaced.stderr, (argv, spaced.stderr)
        assert (equals.returncode, equals.stderr) == (spaced.returncode, spaced.stderr), \
            (argv, joined, spaced.stderr, equals.stderr)
    r = st.stasis("launch", f"--port={st.port}", f"--ckpt-dir={st.ckpt_dir}", "--interval=0",
                  "/bin/sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr


@pytest.mark.parametrize("argv,said", [
    (["restart", "--bogus"], "stasis restart: unknown option '--bogus'"),
    (["launch", "-x", "/bin/true"], "stasis launch: unknown option '-x'"),
    (["checkpoint", "--kill=1"], "stasis checkpoint: option '--kill' takes no value"),
    (["status", "--port"], "stasis status: option '--port' needs a value (PORT)"),
    (["inspect"], "stasis inspect: missing IMAGE (or --dir DIR)"),
    (["merge", "a"], "stasis merge: missing IMAGE and OUTPUT"),
    (["status", "x"], "stasis status: unexpected argument 'x'"),
])
def test_usage_errors(st, argv, said):
    """A mistake on the command line says what it is, then the usage; status 2."""
    r = st.stasis(*argv, timeout=10)
    assert r.returncode == 2, r
    assert r.stderr.splitlines()[0] == said, r.stderr
    assert r.stderr.splitlines()[1].startswith(f"usage: stasis {argv[0]} "), r.stderr


def test_unknown_command(st):
    r = st.stasis("frobnicate")
    assert r.returncode != 0 and "frobnicate" in r.stderr


def test_launch_exit_status(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "/bin/true")
    assert r.returncode == 0, r.stderr
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "/bin/false")
    assert r.returncode == 1, r.stderr
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "/bin/sh", "-c", "exit 7")
    assert r.returncode == 7, r.stderr


def test_launch_missing_program(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, st.tmp / "nope")
    assert r.returncode == 127 and "nope" in r.stderr, (r.returncode, r.stderr)


def test_launch_stdin_stdout_are_callers(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "/bin/cat",
                  input="hello through stasis\n")
    assert r.returncode == 0 and r.stdout == "hello through stasis\n", r


def no_coordinator(port):
    return (f"stasis: error: no coordinator on 127.0.0.1:{port} (connection refused): "
            f"start one with 'stasis coordinator' or use 'stasis launch'\n")


def test_status_without_coordinator(st):
    r = st.stasis("status", "-p", st.port, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", no_coordinator(st.port))


def test_checkpoint_without_coordinator(st):
    r = st.stasis("checkpoint", "-p", st.port, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", no_coordinator(st.port))


def wait_coordinator_gone(st, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", st.port)) != 0:
                return True
        time.sleep(0.05)
    return False


def test_coordinator_exits_with_last_process(st):
    r = st.stasis("launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, "/bin/true")
    assert r.returncode == 0
    assert wait_coordinator_gone(st), "the auto-started coordinator outlived its last process"
    assert not list(st.run_dir.glob("*.token")), "token file left behind"


def test_bad_token_and_malformed_peer(st):
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "2", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    # garbage from a peer that has no token: refused, the coordinator lives on
    for junk in (b"\x00" * 64, b"GET / HTTP/1.0\r\n\r\n", b"\xff" * 4096):
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as s:
            s.sendall(junk)
            s.settimeout(5)
            try:
                s.recv(100)
            except (socket.timeout, ConnectionResetError):
                pass
    assert st.status() is not None, "the coordinator died from malformed input"
    # a client presenting the wrong token is refused with a message; a token
    # file that is not a token is named as such
    tok = next(st.run_dir.glob("*.token"))
    good = tok.read_bytes()
    other = "".join("0123456789abcdef"[(int(c, 16) + 1) % 16] for c in good.decode().strip())
    try:
        tok.write_text(other + good.decode()[len(other):])  # well formed, another token
        r = st.stasis("status", "-p", st.port, timeout=10)
        assert (r.returncode, r.stderr) == (
            1, f"stasis: error: coordinator on 127.0.0.1:{st.port} refused us: bad token (token "
               f"file {tok} belongs to another coordinator?)\n"), (r.returncode, r.stderr)
        tok.write_bytes(bytes(b ^ 0x5a for b in good))
        r = st.stasis("status", "-p", st.port, timeout=10)
        assert (r.returncode, r.stderr) == (
            1, f"stasis: error: token file {tok} is corrupt (expected 64 hex digits)\n"), \
            (r.returncode, r.stderr)
    finally:
        tok.write_bytes(good)
    assert st.status()["nprocs"] == 1
    assert p.running()


@pytest.mark.parametrize("code", ["5", "signal"])
def test_restart_exit_status_is_programs(st, code):
    """restart's exit status is the restarted program's (128+N for a signal)."""
    out = st.tmp / "o"
    p = st.launch(program("exitcode"), st.tmp / "verify", code, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    r = st.restart(imgs)
    st.wait_registered(proc=r)
    (st.tmp / "verify").touch()
    rc = r.wait(30)
    if code == "signal":
        assert rc in (-15, 128 + 15), f"restart exited {rc}\n{st.describe_all()}"
    else:
        assert rc == int(code), st.describe_all()


PAUSED = re.compile(r"^stasis: pid (\d+) \((\S+)\) is restored and stopped before it goes on "
                    r"\(--debug-pause\): attach a debugger with 'gdb -p (\d+)' \(its PID on this "
                    r"host\), then let it go on with 'kill -CONT \3' \(after the debugger detaches\)$",
                    re.M)


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("how", ["--debug-pause", "STASIS_RESTART_PAUSE=1"])
def test_restart_debug_pause(st, how):
    """restart --debug-pause (or STASIS_RESTART_PAUSE=1, like DMTCP_RESTART_PAUSE)
    stops each restored process once it is whole, before its program goes on,
    and prints its host PID with how to attach a debugger and let it go on:
    gdb attaches and sees every thread; after kill -CONT the program goes on."""
    if not shutil.which("gdb"):
        pytest.fail("gdb is not installed (apt-get install gdb)")
    out, verify = st.tmp / "proc.out", st.tmp / "verify"
    p = st.launch(program("proc_create"), verify, "fork_mt", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    argv = [str(st.bin), "restart", "-p", str(st.port)]
    if how == "--debug-pause":
        argv.append("--debug-pause")
    else:
        st.env["STASIS_RESTART_PAUSE"] = "1"
    r = st._spawn(argv + imgs, None, None, "restart")
    st.env.pop("STASIS_RESTART_PAUSE", None)
    deadline = time.monotonic() + 30
    while len(PAUSED.findall(r.err.read_text())) < 2:
        assert time.monotonic() < deadline and r.running(), st.describe_all()
        time.sleep(0.02)
    paused = {int(pid): int(host) for pid, name, host in PAUSED.findall(r.err.read_text())}
    assert sorted(paused) == sorted(int(i.rsplit("_", 2)[1]) for i in imgs), paused
    for pid, host in paused.items():
        assert nspid(host)[-1] == pid, (pid, host, nspid(host))
        while proc_state(host) != "T":
            assert time.monotonic() < deadline, f"pid {pid} (host {host}) did not stop"
            time.sleep(0.01)
    assert st.status()["state"] == "restarting"
    parent = paused[p.pid]
    g = subprocess.run(["gdb", "-p", str(parent), "-batch", "-ex", "info threads"],
                       capture_output=True, text=True, timeout=60)
    threads = re.findall(r"^\*?\s+\d+\s+Thread .* \(LWP (\d+)\)", g.stdout, re.M)
    assert sorted(map(int, threads)) == sorted(map(int, os.listdir(f"/proc/{parent}/task"))), \
        g.stdout + g.stderr
    assert proc_state(parent) == "T", "the process went on when the debugger detached"
    for host in paused.values():
        os.kill(host, signal.SIGCONT)
    st.wait_registered(nprocs=2, proc=r)
    verify.touch()
    assert r.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text


def coord_env(host):
    """The environment of stasis commands on host: a run directory of its own."""
    run = host.dir / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, STASIS_RUN_DIR=str(run))
    for k in ("STASIS_COORD_HOST", "STASIS_TOKEN_FILE", "STASIS_PORT", "LD_PRELOAD"):
        env.pop(k, None)
    return env


def test_coordinator_bind_takes_a_host_name(net):
    """coordinator --bind takes a host name, as --coord-host does: host1 (one
    address) is listened on there; localhost (127.0.0.1 and ::1 in the test
    hosts' /etc/hosts) on its first address, which the coordinator names, and
    which a client given --coord-host localhost reaches; a name that does not
    resolve is refused, saying so."""
    h = net(1)[0]
    env = coord_env(h)
    started = []

    def coordinator(port, name):
        r = h.run(STASIS, "coordinator", "-p", port, "--bind", name, "--daemon", "--ckpt-dir",
                  h.dir, env=env)
        if r.returncode == 0:
            started.append((port, name))
        return r

    try:
        r = coordinator(7001, "host1")
        assert (r.returncode, r.stderr) == (0, ""), r
        assert "192.0.2.1:7001" in h.run("ss", "-Hltn").stdout.split()
        s = h.run(STASIS, "status", "-p", 7001, "--coord-host", "host1", env=env)
        assert "coordinator:    192.0.2.1:7001 (pid " in s.stdout, s
        r = coordinator(7002, "localhost")
        assert r.returncode == 0, r
        m = re.fullmatch(r"stasis: --bind localhost: localhost has 2 addresses \((\S+), (\S+)\); "
                         r"the coordinator listens on (\S+), the first, which a client given "
                         r"--coord-host localhost connects to \(give --bind an address to choose "
                         r"another\)\n", r.stderr)
        assert m and {m[1], m[2]} == {"127.0.0.1", "::1"} and m[3] == m[1], r.stderr
        want = f"[{m[1]}]:7002" if ":" in m[1] else f"{m[1]}:7002"
        assert want in h.run("ss", "-Hltn").stdout.split()
        s = h.run(STASIS, "status", "-p", 7002, "--coord-host", "localhost", env=env)
        assert f"coordinator:    {m[1]}:7002 (pid " in s.stdout, s
        r = coordinator(7003, "nowhere.invalid")
        assert r.returncode == 1, r
        assert r.stderr.startswith("stasis: error: cannot listen on 'nowhere.invalid' (--bind): "), r
        assert r.stderr.endswith("; give an IP address or a name of this host\n"), r
        assert ":7003" not in h.run("ss", "-Hltn").stdout
    finally:
        for port, name in started:
            h.run(STASIS, "kill", "-p", port, "--coord-host", name, "--coordinator", env=env)


def test_second_coordinator_on_a_port_at_another_address(st):
    """Two coordinators on one port and one run directory at different
    addresses could both listen, and would share the token file: the second
    is refused, naming the first, before it writes anything (the first's
    token file is untouched and it goes on serving); once the first has
    exited, the second starts."""
    def coordinator(addr):
        return st.stasis("coordinator", "-p", st.port, "--bind", addr, "--daemon",
                         "--ckpt-dir", st.ckpt_dir)

    assert coordinator("127.0.0.1").returncode == 0
    token, lock = st.run_dir / f"coord-{st.port}.token", st.run_dir / f"coord-{st.port}.lock"
    text, ino = token.read_text(), token.stat().st_ino
    pid = json.loads(st.stasis("status", "-p", st.port, "--json").stdout)["pid"]
    files = sorted(os.listdir(st.run_dir))
    r = coordinator("127.0.0.2")
    assert r.returncode == 1, r
    assert r.stderr == (
        f"stasis: error: port {st.port} is served already by the coordinator pid {pid} on "
        f"127.0.0.1, whose token file {token} a second coordinator on the port (on 127.0.0.2) "
        f"would replace: stop that one first ('stasis kill -p {st.port} --coord-host 127.0.0.1 "
        f"--coordinator'), or give this one another port (-p) or another run directory "
        f"($STASIS_RUN_DIR)\n"), r.stderr
    assert (token.read_text(), token.stat().st_ino) == (text, ino)
    assert sorted(os.listdir(st.run_dir)) == files
    assert f"127.0.0.2:{st.port}" not in subprocess.run(
        ["ss", "-Hltn"], capture_output=True, text=True).stdout.split()
    assert json.loads(st.stasis("status", "-p", st.port, "--json").stdout)["pid"] == pid
    assert st.stasis("kill", "-p", st.port, "--coordinator").returncode == 0
    wait_until(lambda: not lock.exists(), 10, "the first coordinator's port lock released")
    assert coordinator("127.0.0.2").returncode == 0
    s = st.stasis("status", "-p", st.port, "--coord-host", "127.0.0.2")
    assert f"coordinator:    127.0.0.2:{st.port} (pid " in s.stdout, s
    assert st.stasis("kill", "-p", st.port, "--coord-host", "127.0.0.2",
                     "--coordinator").returncode == 0
    wait_until(lambda: not lock.exists(), 10, "the second coordinator's port lock released")
