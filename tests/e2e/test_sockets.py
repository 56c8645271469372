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
from pathlib import Path

import pytest

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
    fds0 = read_fds(p.pid)
    for i in range(n):
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
    socks = sorted(f for f, t in fds.items() if t.startswith("socket:"))
    # the program's 18 (fds 3-20) and the runtime's connection to the coordinator
    assert socks == [*range(3, 21), 100], fds


def test_unix_socket_on_stdio_of_a_member(st):
    """A child whose stdin and stdout are a socket to its parent (MPICH's
    proxy and its ranks) keeps that socket: fds 0-2 are taken for the outside
    only when they lead outside, not when both ends are in the computation."""
    st.zdtm("sock_stdio", nprocs=2)


def tcp_states(port):
    """The states of the IPv4 TCP sockets on local port, as /proc/net/tcp
    writes them (06: TIME-WAIT)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.read().splitlines()[1:]]
    return [r[3] for r in rows if int(r[1].split(":")[1], 16) == port]


@pytest.mark.parametrize("how", ["checkpoint --kill", "checkpoint, kill",
                                 "closed by the program"])
def test_listener_gets_its_port_back_over_time_wait(st, how):
    """A listener without SO_REUSEADDR (DMTCP's frisbee) binds its port again
    at restart while the killed original's accepted connection waits in
    TIME-WAIT on it, or one the program closed itself before the checkpoint
    (failed before: 'cannot bind a TCP socket to 127.0.0.1:PORT again: Address
    already in use', Open MPI's ranks do so); SO_REUSEADDR still reads 0 on
    the listener in the restarted program."""
    port = free_port()
    out, verify = st.tmp / "sock_port.out", st.tmp / "verify"
    p = st.launch(program("sock_port"), verify, port, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    for n in (1, 2):
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        assert c.recv(16) == f"hello {n}\n".encode()
        if how == "closed by the program":
            c.sendall(b"bye\n")
            assert c.recv(16) == b""  # the program's side closed first
            c.close()
        if how in ("checkpoint --kill", "closed by the program"):
            imgs = st.checkpoint(kill=True)
        else:
            imgs = st.checkpoint(kill=False)
            r = st.stasis("kill", "-p", st.port)
            assert r.returncode == 0, r.stderr
        st.wait_killed(p)
        if how != "closed by the program":
            assert c.recv(16) == b""  # the program's side closed first...
            c.close()  # ...so it waits in TIME-WAIT on the port
        deadline = time.monotonic() + 10
        while "06" not in tcp_states(port):
            assert time.monotonic() < deadline, f"no TIME-WAIT on {port}: {tcp_states(port)}"
            time.sleep(0.01)
        p = st.restart(imgs)
        st.wait_registered(proc=p)
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    assert c.recv(16) == b"hello 3\n"
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text
    c.close()


def test_port_taken_at_restart_names_its_holder(st):
    """Another program listens on the program's port when it restarts: the
    restart fails before it joins the coordinator, and says what holds the
    port (the socket's state and the process: here, this test)."""
    port = free_port()
    out, err = st.tmp / "sock_port.out", st.tmp / "restart.err"
    p = st.launch(program("sock_port"), st.tmp / "verify", port, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    with socket.socket() as thief:
        thief.bind(("127.0.0.1", port))
        thief.listen(1)
        r = st.restart(imgs, err=err)
        assert r.wait(60) == 1, st.describe_all()
    me = Path("/proc/self/comm").read_text().strip()
    assert err.read_text() == (
        f"stasis: error: cannot restart: cannot bind a TCP socket to 127.0.0.1:{port} again: "
        f"Address already in use (on that port now: LISTEN of process {os.getpid()} ({me}); "
        "is the checkpointed program still running, did another program take the port, or "
        "do connections of a program killed by other means than stasis kill wait in "
        "TIME-WAIT on it? they go within 60 s)\n"), st.describe_all()


def test_fifos(st):
    d = st.tmp / "fifos"
    d.mkdir()
    cycles(st, "sock_fifo", d, nprocs=2)


def test_tcp_udp(st):
    port, uport = free_port(), free_port()
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        srv.settimeout(30)
        out = st.tmp / "sock_inet.out"
        verify = st.tmp / "verify"
        p = st.launch(program("sock_inet"), verify, port, uport, srv.getsockname()[1], out=out)
        st.wait_for(out, "listening", proc=p)
        conn, _ = srv.accept()  # the program's connection to outside
        client = socket.create_connection(("127.0.0.1", port), timeout=30)
        st.wait_for(out, "ready", proc=p)
        st.wait_registered(proc=p)
        for _ in range(2):
            imgs = st.checkpoint(kill=True)
            st.wait_killed(p)
            # the dead program's connections are closed for the outside side
            conn.settimeout(10)
            assert conn.recv(16) == b""
            p = st.restart(imgs)
            st.wait_registered(proc=p)
        c4 = socket.create_connection(("127.0.0.1", port), timeout=30)
        c6 = socket.create_connection(("::1", port), timeout=30)
        c4.sendall(b"ping4")
        c6.sendall(b"ping6")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(30)
        u.sendto(b"udp?", ("127.0.0.1", uport))
        verify.touch()
        assert c4.recv(16) == b"pong" and c6.recv(16) == b"pong", st.describe_all()
        assert u.recvfrom(16)[0] == b"udp!"
        assert p.wait(30) == 0, st.describe_all()
        text = out.read_text()
        assert "PASS" in text and "FAIL" not in text, text
        for s in (conn, client, c4, c6, u):
            s.close()


def test_scm_rights_shared_descriptions(st):
    d = st.tmp / "rights"
    d.mkdir()
    cycles(st, "sock_rights", d, nprocs=2)


def test_scm_rights_in_flight_refused(st):
    d = st.tmp / "rights"
    d.mkdir()
    out = st.tmp / "inflight.out"
    verify = st.tmp / "verify"
    p = st.launch(program("sock_rights"), verify, d, "inflight", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    r = st.checkpoint(kill=True, expect_ok=False)
    assert r.returncode != 0, r.stdout
    assert "SCM_RIGHTS" in r.stderr and re.search(r"pid \d+ fd \d+", r.stderr), r.stderr
    assert not list(st.ckpt_dir.glob("*.stasis")), "a refused checkpoint left an image"
    assert p.running(), st.describe_all()
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()


def test_signal_driven_io_and_low_water_marks(st):
    """O_ASYNC with its owner (a thread, the process, a child's process group)
    and its signal (F_SETSIG), and SO_RCVLOWAT, on a TCP connection, a pipe and
    a Unix socket come back after each restart, and work: the signal comes to
    its owner, a byte under the low-water mark is not readable
    (tests/programs/sock_async.c)."""
    st.zdtm("sock_async", nprocs=2)
