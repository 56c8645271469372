"""The program's terminal or pipes to outside become restart's own stdin and
stdout; interval checkpoints (launch -i) keep two generations."""

import os
import subprocess
import time

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
