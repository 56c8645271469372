"""The command line: help, exit statuses, status without a coordinator, the
token, malformed peers, the coordinator going away with its last process."""
import socket
import time

import pytest

from conftest import STASIS, program

COMMANDS = ["launch", "checkpoint", "restart", "status", "kill", "coordinator", "inspect"]


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


def test_status_without_coordinator(st):
    r = st.stasis("status", "-p", st.port, timeout=10)
    assert r.returncode != 0
    msg = r.stderr.lower()
    assert str(st.port) in r.stderr and ("no coordinator" in msg or "refused" in msg
                                         or "not running" in msg), r.stderr


def test_checkpoint_without_coordinator(st):
    r = st.stasis("checkpoint", "-p", st.port, timeout=10)
    assert r.returncode != 0 and str(st.port) in r.stderr, r.stderr


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
    # a client presenting the wrong token is refused with a message
    tok = next(st.run_dir.glob("*.token"))
    good = tok.read_bytes()
    tok.write_bytes(bytes(b ^ 0x5a for b in good))
    try:
        r = st.stasis("status", "-p", st.port, timeout=10)
        assert r.returncode != 0, f"status with a wrong token succeeded: {r.stdout}"
        assert "token" in r.stderr.lower() or "refused" in r.stderr.lower(), r.stderr
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
