"""What the runtime cannot checkpoint yet is refused with a clear message at
checkpoint time, and the program keeps running."""
import re
import socket

import pytest

from conftest import program


def run_refused(st, mode_args, kind_words, peer=None):
    out = st.tmp / "unsupported.out"
    p = st.launch(program("unsupported"), st.tmp / "verify", *mode_args, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    fd = int(re.search(r"^fd (\d+)$", out.read_text(), re.M).group(1))
    for kill in (False, True):
        r = st.checkpoint(kill=kill, expect_ok=False)
        assert r.returncode != 0, f"checkpoint{' --kill' if kill else ''} succeeded: {r.stdout}"
        msg = r.stderr.lower()
        assert re.search(rf"\bfd {fd}\b|descriptor {fd}\b|fd{fd}\b", msg), \
            f"message does not name fd {fd}: {r.stderr!r}"
        assert any(w in msg for w in kind_words), \
            f"message does not say what fd {fd} is ({kind_words}): {r.stderr!r}"
        assert p.running(), f"the program died after a refused checkpoint\n{st.describe_all()}"
    assert not list(st.ckpt_dir.glob("*.stasis")), "a refused checkpoint left an image"
    status = st.wait_registered(proc=p)
    assert status["nprocs"] == 1
    (st.tmp / "verify").touch()
    if peer is not None:
        conn, _ = peer.accept()
        conn.settimeout(30)
        assert conn.recv(64) == b"alive\n"
        conn.close()
    assert p.wait(30) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()


def test_unix_socket_to_outside(st):
    path = str(st.tmp / "outside.sock")
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(30)
        # the message names the address of the other side
        run_refused(st, ["unix", path], ["outside.sock"], peer=srv)


def test_netlink_socket(st):
    run_refused(st, ["netlink"], ["socket"])


def test_unknown_fd_type(st):
    run_refused(st, ["uffd"], ["userfaultfd", "unsupported", "not supported", "unknown"])
