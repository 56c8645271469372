"""TCP connections between processes of the computation come back connected,
with every byte in flight both ways delivered exactly once and in order:
after checkpoints the program survives, and after restarts (tests/programs/
tcp_pair.c checks every 64-bit word of both streams and the names
getsockname/getpeername give). On one host here; across hosts in
test_distributed.py."""

import re

import pytest

from conftest import free_port, program
from dist import cluster, only_odd_port  # noqa: F401  (cluster: the fixture)

MIB = 1 << 20


def run(st, role, nbytes, mode, *extra, nprocs=2, ckpts=2, restarts=2, env=None):
    """Launch tcp_pair, checkpoint it `ckpts` times letting it run on, then
    `restarts` times checkpoint --kill and restart; then verify. Returns the
    program's output and the launch's stderr."""
    out = st.tmp / "tcp.out"
    verify = st.tmp / "verify"
    if env:
        st.env.update(env)
    p = st.launch(program("tcp_pair"), verify, role, "127.0.0.1", free_port(), nbytes, mode,
                  *extra, out=out)
    st.wait_for(out, "ready", proc=p, timeout=60)
    st.wait_registered(nprocs=nprocs, proc=p)
    for _ in range(ckpts):
        imgs = st.checkpoint(kill=False)
        assert len(imgs) == nprocs, imgs
        assert p.running(), st.describe_all()
    for _ in range(restarts):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == nprocs, imgs
        st.wait_killed(p)
        p = st.restart(imgs)
        st.wait_registered(nprocs=nprocs, proc=p)
    verify.touch()
    rc = p.wait(timeout=120)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, (
        f"exit {rc}, output:\n{text}\n{st.describe_all()}")
    assert text.count("ready") == 1, text
    return text, (st.tmp / "stderr.1").read_text(errors="replace")


def drains(log, gen):
    """(bytes, how) of each end's drain in checkpoint generation gen (the
    runtime's debug lines; those of a --kill checkpoint may be overwritten
    by the restarted program, which writes on from the image's offset)."""
    return re.findall(rf"connection {gen:08x}[0-9a-f]{{8}} \([^)]*\): (\d+) bytes in flight to it, "
                      r"(read to the marker and bounced back|copied)", log)


def test_held_8mib_each_way(st):
    """The writers of both ends block with the buffers full: every checkpoint
    drains to the markers and bounces the bytes back."""
    text, log = run(st, "pair", 8 * MIB, "held", env={"STASIS_LOG": "debug"})
    assert text.count("end 0 ok") == 1 and text.count("end 1 ok") == 1, text
    for gen in (1, 2):  # the checkpoints the program survived
        d = drains(log, gen)
        assert len(d) == 2 and all(how.startswith("read") for _, how in d), (gen, d)
        assert min(int(n) for n, _ in d) > 1 * MIB, d  # more than a socket buffer


def test_acked_small_both_ways(st):
    """Everything sent is acknowledged: the queues are copied, nothing read.
    (Bytes bounced back by a checkpoint are acknowledged only after the
    receiver's delayed ACK: a checkpoint right after one may bounce them
    again; the program checks every byte either way.)"""
    text, log = run(st, "pair", 40000, "acked", ckpts=1, env={"STASIS_LOG": "debug"})
    assert drains(log, 1) == [("40000", "copied")] * 2, log[-3000:]


def test_live_transfer(st):
    """Checkpoints and restarts in the middle of a transfer both ways."""
    text, _ = run(st, "pair", 16 * MIB, "live", ckpts=3, restarts=2)
    assert text.count("end 0 ok") == 1 and text.count("end 1 ok") == 1, text


def test_server_with_clients_and_shared_sockets(st):
    """Three clients; each accepted connection is served by a worker that
    shares it and the listener with the parent: after two restarts they are
    still one socket each (kcmp), and every stream is whole."""
    text, _ = run(st, "fan", 2 * MIB, "held", 3, nprocs=7)
    assert text.count("end 0 ok") == 3 and text.count("end 1 ok") == 3, text


def edge(st, mode):
    out = st.tmp / "edge.out"
    p = st.launch(program("tcp_edge"), st.tmp / "verify", mode, free_port(), out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    return p, out


def finish_edge(st, p, out, timeout=60):
    (st.tmp / "verify").touch()
    rc = p.wait(timeout=timeout)
    text = out.read_text()
    assert rc == 0 and "PASS" in text and "FAIL" not in text, f"{text}\n{st.describe_all()}"


def test_half_closed(st):
    """A connection whose client shut its sending side: the server reads the
    client's bytes, then the end of the stream; the other way still works."""
    p, out = edge(st, "half")
    st.checkpoint(kill=False)
    for _ in range(2):
        imgs = st.checkpoint(kill=True)
        st.wait_killed(p)
        p = st.restart(imgs)
        st.wait_registered(proc=p)
    finish_edge(st, p, out)


@pytest.mark.parametrize("mode,why", [
    ("urgent", r"has urgent \(out-of-band\) data not read yet"),
    ("pending", r"is not accepted yet \(it waits in the accept queue of process (\d+) "
                r"\(tcp_edge\) fd \d+\)"),
    ("connecting", r"is still being made \(a connect in progress\)"),
], ids=["urgent", "pending", "connecting"])
def test_refused_by_name(st, mode, why):
    """What cannot be drained now fails the checkpoint (after its retries),
    naming the process, the descriptor and the connection; no image is kept
    and the program goes on untouched."""
    p, out = edge(st, mode)
    r = st.checkpoint(kill=True, expect_ok=False)
    assert r.returncode == 1, r
    peer = r"\(not known yet\)" if mode == "connecting" else r"127\.0\.0\.1:\d+"
    m = re.search(r"process (\d+) \(tcp_edge\) fd \d+: TCP connection 127\.0\.0\.1:\d+ -> "
                  + peer + " " + why + "; not checkpointed: try again once it is done",
                  r.stderr)
    assert m and int(m.group(1)) == p.pid, r.stderr
    assert not list(st.ckpt_dir.glob("*.stasis")), "a refused checkpoint left an image"
    assert p.running(), st.describe_all()
    finish_edge(st, p, out)


def test_a_hundred_connections(st):
    """100 connections between two processes, 256 KiB in flight each way on
    each: every word comes back after a checkpoint and a restart."""
    out = st.tmp / "many.out"
    p = st.launch(program("tcp_many"), st.tmp / "verify", 100, 256 * 1024, out=out)
    st.wait_for(out, "ready", proc=p, timeout=60)
    st.wait_registered(nprocs=2, proc=p)
    assert len(st.checkpoint(kill=False)) == 2
    finish_edge(st, restart_once(st, p, 2), out, timeout=120)


def restart_once(st, p, nprocs, before=lambda: None):
    """checkpoint --kill, before(), restart: the restart, once its nprocs
    processes are registered."""
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    before()
    p = st.restart(imgs)
    st.wait_registered(nprocs=nprocs, proc=p)
    return p


def test_listener_port_not_taken_by_connections_made_again(cluster):
    """A listener on port 40001 (nothing connects to it) beside 8 connections
    between two processes, on a host (a network namespace) where 40001 is the
    only odd port of the ephemeral range: the client ends (their ports below
    the server's 61001) are the ends that listen for their peer at restart, on
    ports the kernel picks, odd ones first. Restart binds the listener's port
    before it takes any (PID 1 took 40001 first, and the listener could not
    have it: "Address already in use"; Open MPI's mpirun under Slurm, 1 run
    in 9)."""
    c, hs = cluster(1)
    st = c.on(hs[0])
    out = st.tmp / "out"
    p = st.launch(program("tcp_ports"), st.tmp / "verify", "local", 40001, 61001, 8, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    p = restart_once(st, p, 2, before=lambda: only_odd_port(hs[0], 40001))
    finish_edge(st, p, out)
    assert p.err.read_text() == "", c.describe_all()
