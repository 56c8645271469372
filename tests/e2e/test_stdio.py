"""The program's terminal or pipes to outside become restart's own stdin and
stdout; interval checkpoints (launch -i) keep two generations."""

import os
import subprocess
import time

import pytest

from conftest import program


def read_line(pipe, timeout=30):
    """One line from a pipe, failing after timeout seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    os.set_blocking(pipe.fileno(), False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(pipe.fileno(), 1)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if not chunk:
            break
        buf += chunk
        if chunk == b"\n":
            return buf.decode()
    raise AssertionError(f"no line within {timeout} s (got {buf!r})")


def popen(st, argv):
    p = subprocess.Popen(argv, cwd=st.tmp, env=st.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    return p


def test_pipes_become_restarts_own(st):
    p = popen(st, [str(st.bin), "launch", "-p", str(st.port), "--ckpt-dir", str(st.ckpt_dir),
                   program("echo_lines")])
    try:
        assert read_line(p.stdout) == "ready\n"
        p.stdin.write(b"one\n")
        p.stdin.flush()
        assert read_line(p.stdout) == "got 1: one\n"
        st.wait_registered()
        imgs = st.checkpoint(kill=True)
        assert p.wait(30) == -9
    finally:
        p.kill()
    r = popen(st, [str(st.bin), "restart", "-p", str(st.port), *imgs])
    try:
        st.wait_registered()
        r.stdin.write(b"two\n")
        r.stdin.flush()
        assert read_line(r.stdout) == "got 2: two\n"  # the count went on
        r.stdin.close()
        assert read_line(r.stdout) == "eof after 2\n"
        assert r.wait(30) == 0, r.stderr.read()
    finally:
        r.kill()


@pytest.mark.parametrize("tree", ["shell", "alone"])
def test_outside_pipes_stay_outside_across_restarts(st, tree):
    """A pipe from outside on stdin and stdout (DMTCP's forkexec) is restart's
    own after every restart, not only the first. shell: a shell and its child
    both hold it; alone: one process holds it, and execs itself after the
    first restart (the new program must learn the outside from the old one).
    Before, the image taken after a restart recorded restart's pipes as pipes
    of the computation, which came back with no writer and no reader."""
    argv = [str(st.bin), "launch", "-p", str(st.port), "--ckpt-dir", str(st.ckpt_dir)]
    if tree == "shell":
        argv += ["/bin/sh", "-c", f"{program('echo_lines')}; echo sh-end"]
    else:
        argv += [program("echo_lines")]
    nprocs = 2 if tree == "shell" else 1
    p = popen(st, argv)
    try:
        assert read_line(p.stdout) == "ready\n"
        p.stdin.write(b"one\n")
        p.stdin.flush()
        assert read_line(p.stdout) == "got 1: one\n"
        st.wait_registered(nprocs=nprocs)
        imgs = st.checkpoint(kill=True)
        assert p.wait(30) == -9
    finally:
        p.kill()
    lines = [b"exec", b"two", b"three", b"four"]
    n = 1
    for cycle in range(3):
        r = popen(st, [str(st.bin), "restart", "-p", str(st.port), "--dir", str(st.ckpt_dir)])
        try:
            st.wait_registered(nprocs=nprocs)
            line = lines.pop(0)
            r.stdin.write(line + b"\n")
            r.stdin.flush()
            n += 1
            assert read_line(r.stdout) == f"got {n}: {line.decode()}\n", f"restart {cycle + 1}"
            if line == b"exec":
                assert read_line(r.stdout) == "ready\n"
                st.wait_registered(nprocs=nprocs)
                line = lines.pop(0)
                r.stdin.write(line + b"\n")
                r.stdin.flush()
                n += 1
                assert read_line(r.stdout) == f"got {n}: {line.decode()}\n"
            if cycle < 2:
                st.checkpoint(kill=True)
                assert r.wait(30) == 128 + 9, r.stderr.read()
        finally:
            if cycle < 2:
                r.kill()
    try:
        r.stdin.close()
        assert read_line(r.stdout) == f"eof after {n}\n"
        if tree == "shell":
            assert read_line(r.stdout) == "sh-end\n"
        assert r.wait(30) == 0, r.stderr.read()
    finally:
        r.kill()


def test_interval_checkpoints_keep_two_generations(st):
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "8", "text", out=out, opts=("-i", "1"))
    st.wait_for(out, "tick 1 ", proc=p)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gens = sorted(st.ckpt_dir.glob("*.stasis"))
        if any(g.name.endswith("_g4.stasis") for g in gens):
            break
        time.sleep(0.1)
    gens = sorted(g.name for g in st.ckpt_dir.glob("*.stasis"))
    assert any(g.endswith("_g4.stasis") for g in gens), f"no 4th generation: {gens}"
    # once g4 is durable, g2 goes (the newest two stay)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gens = sorted(g.name for g in st.ckpt_dir.glob("*.stasis"))
        if not any(g.endswith(("_g1.stasis", "_g2.stasis")) for g in gens):
            break
        time.sleep(0.05)
    assert not any(g.endswith(("_g1.stasis", "_g2.stasis")) for g in gens), gens
    assert len(gens) <= 3, f"old generations were not removed: {gens}"
    assert p.running(), st.describe_all()
    r = st.stasis("status", "-p", st.port, "--json")
    assert '"interval": 1' in r.stdout, r.stdout
