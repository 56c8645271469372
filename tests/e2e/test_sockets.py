"""Sockets and FIFOs: Unix sockets (pairs, listeners with connections not yet
accepted, datagram sockets by name, between a parent and a child), FIFOs,
TCP and UDP sockets, and descriptors passed with SCM_RIGHTS come back after
checkpoint --kill and restart, twice, with the bytes in flight; what cannot
come back (a Unix socket connected to outside) fails the checkpoint clearly."""

import os
import re
import signal
import socket
import time

from conftest import free_port, program, read_fds


def cycles(st, name, *args, nprocs=1, n=2, between=None, timeout=60):
    """zdtm cycles for a program of nprocs processes: launch, wait for
    "ready" and every process, then n times checkpoint --kill and restart;
    then the verify file, and the program's verdict."""
    out = st.tmp / f"{name}.out"
    verify = st.tmp / "verify"
    p = st.launch(program(name), verify, *args, out=out)
    st.wait_for(out, "ready", proc=p, timeout=timeout)
    st.wait_registered(nprocs=nprocs, proc=p)
    for i in range(n):
        fds0 = read_fds(p.pid) if i == 0 else None
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == nprocs, imgs
        rc = p.wait(timeout=30)
        assert rc in (-signal.SIGKILL, 128 + signal.SIGKILL), st.describe_all()
        p = st.restart(imgs)
        st.wait_registered(nprocs=nprocs, proc=p)
        if between:
            between(i, p)
    verify.touch()
    rc = p.wait(timeout=timeout)
    text = out.read_text(errors="replace")
    assert "PASS" in text and rc == 0, f"{name}: exit {rc}, output:\n{text}\n{st.describe_all()}"
    assert "FAIL" not in text, text
    assert text.count("ready") == 1, text
    return fds0


def test_unix_sockets(st):
    d = st.tmp / "socks"
    d.mkdir()
    fds = cycles(st, "sock_unix", d, nprocs=2)
    assert sum(1 for t in fds.values() if t.startswith("socket:")) >= 18, fds
