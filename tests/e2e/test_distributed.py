"""Several hosts, one computation (hosts made of namespaces: tests/e2e/hosts.py,
stasis on them: tests/e2e/dist.py): processes launched on each host with
--coord-host join one coordinator; a checkpoint is one cut over every host; a
restart on each host brings back its part, in any mapping of images to hosts,
with the TCP connections between hosts connected and every byte in flight
delivered once (tests/programs/tcp_pair.c checks every word)."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import STASIS, program, _descendants
from dist import cluster, only_odd_port  # noqa: F401  (cluster: the fixture)

MIB = 1 << 20
PORT = 6000


class Run:
    """A tcp_pair computation over hosts: ends[i] = (HostStasis, Proc)."""

    def __init__(self, c):
        self.c = c
        self.verify = c.tmp / "verify"
        self.ends = []
        self.outs = []  # where the programs write, wherever they run

    def launch(self, st, *args):
        p = st.launch(program("tcp_pair"), self.verify, *args, out=st.tmp / "out")
        self.ends.append([st, p])
        self.outs.append(st.tmp / "out")
        return p

    def ready(self):
        for st, p in self.ends:
            st.wait_for(st.tmp / "out", "ready", proc=p, timeout=60)

    def registered(self, n):
        st = self.ends[0][0]
        st.wait_registered(nprocs=n, proc=self.ends[0][1])

    def checkpoint_kill(self, st):
        """checkpoint --kill from st's host: every launched or restarted
        process ends; returns the images by host name."""
        imgs = st.checkpoint(kill=True)
        for s, p in self.ends:
            s.wait_killed(p)
        by_dir = {}
        for i in imgs:
            by_dir.setdefault(os.path.dirname(i), []).append(i)
        return imgs, by_dir

    def restart(self, parts):
        """parts: [(HostStasis, images dir)]: one restart per part; the ends
        become the restarts (the programs write where they wrote)."""
        self.ends = [[st, st.restart(directory=d)] for st, d in parts]

    def finish(self, nprocs):
        self.registered(nprocs)
        self.verify.touch()
        for st, p in self.ends:
            rc = p.wait(timeout=120)
            assert rc == 0, f"{st.host.name}: exit {rc}\n{self.c.describe_all()}"
        for out in self.outs:
            text = out.read_text(errors="replace")
            assert "PASS" in text and "FAIL" not in text, f"{out}:\n{text}"
            assert text.count("ready") == 1, text


def copy_images(src_dir, dst_dir):
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in os.listdir(src_dir):
        if f.endswith(".stasis"):
            shutil.copy2(os.path.join(src_dir, f), dst_dir / f)
    return dst_dir


def pair(c, srv, cli, nbytes=8 * MIB, mode="held"):
    r = Run(c)
    a, b = c.on(srv, "server"), c.on(cli, "client")
    r.launch(a, "server", srv.addr, PORT, nbytes, mode)
    r.launch(b, "client", srv.addr, PORT, nbytes, mode)
    r.ready()
    r.registered(2)
    return r, a, b


def test_pair_across_two_hosts(cluster):
    """8 MiB held both ways between two hosts: two checkpoints that let it
    run on (one cut over both hosts), then twice checkpoint --kill and a
    restart of each host's part on its own host."""
    c, hs = cluster(2)
    r, a, b = pair(c, hs[0], hs[1])
    for _ in range(2):
        assert len(b.checkpoint(kill=False)) == 2  # asked from the other host
    for _ in range(2):
        r.checkpoint_kill(a)
        r.restart([(a, a.ckpt_dir), (b, b.ckpt_dir)])
        r.registered(2)
    r.finish(2)


def running_programs(name=b"tcp_pair"):
    """Our descendants that run the test program name (we are a subreaper)."""
    out = []
    for d in _descendants(os.getpid()):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if name in f.read():
                    out.append(d)
        except OSError:
            pass
    return out


def test_hosts_swapped_then_all_on_one(cluster):
    """Migration: the server's image restarts on the client's host and the
    client's on the server's (the listener listens on its port there, the
    connection is made to wherever its peer runs, getsockname/getpeername
    answer as before); then both images on one host."""
    c, hs = cluster(2)
    r = Run(c)
    a, b = c.on(hs[0], "server"), c.on(hs[1], "client")
    r.launch(a, "serve", hs[0].addr, PORT, 8 * MIB, "held", 1)  # keeps its listener
    r.launch(b, "client", hs[0].addr, PORT, 8 * MIB, "held")
    r.ready()
    r.registered(3)
    r.checkpoint_kill(a)
    a2, b2 = c.on(hs[1], "server-on-host2"), c.on(hs[0], "client-on-host1")
    r.restart([(a2, copy_images(a.ckpt_dir, a2.tmp / "imgs")),
               (b2, copy_images(b.ckpt_dir, b2.tmp / "imgs"))])
    r.registered(3)
    listening = hs[1].run("ss", "-Hltn").stdout
    assert re.search(rf"(\*|0\.0\.0\.0):{PORT}\b", listening), listening  # on host2 now
    _, by_dir = r.checkpoint_kill(b2)
    # where they wrote: the client, now on the coordinator's host, in the
    # coordinator's directory; the server, on host2, in the one it was given
    # (the coordinator's too: it was on host1)
    assert sorted(by_dir) == [str(c.ckpt_dir)] and a.ckpt_dir == c.ckpt_dir, by_dir
    one = c.on(hs[0], "both-on-host1")
    d = copy_images(a.ckpt_dir, one.tmp / "imgs")
    copy_images(b.ckpt_dir, d)
    r.restart([(one, d)])
    r.finish(3)


def test_parts_on_one_host_keep_their_ports(cluster):
    """Both parts of a generation restarted on host2 by two restarts, on a
    host where the server's listening port 40001 is the only odd port of the
    ephemeral range: first the client's part, whose ends of the 4 connections
    (on host1 they had the lower address) listen for their peers at restart
    on ports the kernel picks, odd ones first; then the server's, whose
    listener needs 40001. Each part binds its ports before it joins the
    coordinator, and makes its connections once every part has joined (the
    client's part took 40001 first, and the server's restart failed: "Address
    already in use")."""
    c, hs = cluster(2)
    srv, cli = c.on(hs[1], "server"), c.on(hs[0], "client")
    verify = c.tmp / "verify"
    ps = srv.launch(program("tcp_ports"), verify, "server", 40001, 6001, 4, out=srv.tmp / "out")
    srv.wait_for(srv.tmp / "out", "listening", proc=ps)
    pc = cli.launch(program("tcp_ports"), verify, "client", hs[1].addr, 6001, 4,
                    out=cli.tmp / "out")
    for st, p in ((srv, ps), (cli, pc)):
        st.wait_for(st.tmp / "out", "ready", proc=p)
    cli.wait_registered(nprocs=2, proc=pc)
    cli.checkpoint(kill=True)
    srv.wait_killed(ps)
    cli.wait_killed(pc)
    moved = c.on(hs[1], "client-on-host2")
    moved.env["STASIS_LOG"] = "debug"
    only_odd_port(hs[1], 40001)
    pc = moved.restart(directory=copy_images(cli.ckpt_dir, moved.tmp / "imgs"))
    # the client's part waits for the server's, or (as it did) listens on 40001
    wait_until(lambda: "waiting for every part of the generation to join" in
               pc.err.read_text(errors="replace") or
               re.search(r":40001\b", hs[1].run("ss", "-Hltn").stdout), 30,
               "the client's part restarting")
    ps = srv.restart(directory=srv.ckpt_dir)
    cli.wait_registered(nprocs=2, proc=ps)
    verify.touch()
    for p in (ps, pc):
        assert p.wait(timeout=60) == 0, c.describe_all()
    for st in (srv, cli):
        text = (st.tmp / "out").read_text()
        assert "PASS" in text and "FAIL" not in text, text
    assert ps.err.read_text() == "", c.describe_all()


def test_server_with_clients_on_three_hosts(cluster):
    """A server on host1 whose workers serve clients on host1, host2, host3,
    with the coordinator on a host of its own (host4)."""
    c, hs = cluster(4, coord=3)
    r = Run(c)
    srv = c.on(hs[0], "server")
    r.launch(srv, "serve", hs[0].addr, PORT, 2 * MIB, "held", 3)
    clients = [c.on(h, f"client{i}") for i, h in enumerate(hs[:3])]
    for st in clients:
        r.launch(st, "client", hs[0].addr, PORT, 2 * MIB, "held")
    r.ready()
    r.registered(7)  # the server, its 3 workers, 3 clients
    for _ in range(2):
        r.checkpoint_kill(clients[1])
        r.restart([(st, st.ckpt_dir) for st in [srv] + clients])
        r.registered(7)
    r.finish(7)


def test_host_missing_at_restart(cluster):
    """Only one host's part is restarted: the coordinator holds it, and after
    --wait ends it; restart names the missing process and its host, and
    nothing of the computation runs."""
    c, hs = cluster(2)
    r, a, b = pair(c, hs[0], hs[1], nbytes=4096, mode="acked")
    client_pid = r.ends[1][1].pid
    r.checkpoint_kill(a)
    p = a.restart(directory=a.ckpt_dir, opts=("--wait", "3"))
    rc = p.wait(timeout=60)
    err = p.err.read_text()
    assert rc == 1, err
    assert re.search(rf"restart of computation [0-9a-f]{{16}} generation 1: 1 of its 2 "
                     rf"processes came back within 3 s; missing: process {client_pid} "
                     rf"\(tcp_pair\) of host host2\.", err), err
    assert running_programs() == []


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.01)


def test_images_removed_on_each_host(cluster):
    """Each host keeps the newest two generations and nothing of a failed
    one, though the coordinator sees no file of the other hosts (host2's
    checkpoint directory is its own tmpfs): each process removes its own
    older images once a generation is complete, and every file of a failed
    generation in its directory (a process of its host killed while writing
    left its temp file)."""
    c, hs = cluster(2)
    r = Run(c)
    a, b = c.on(hs[0], "server"), c.on(hs[1], "client")
    b.private_ckpt_dir()
    victim = c.on(hs[0], "victim")  # writes 96 MiB with the server, itself
    victim.ckpt_dir = a.ckpt_dir
    victim.env["STASIS_NO_FORK"] = "1"
    r.launch(a, "server", hs[0].addr, PORT, 4096, "acked")
    r.launch(b, "client", hs[0].addr, PORT, 4096, "acked")
    vp = victim.launch(program("lifecycle"), victim.tmp / "verify", 0, 96,
                       out=victim.tmp / "out", opts=("--no-compress",))
    r.ready()
    victim.wait_for(victim.tmp / "out", "ready", proc=vp)
    r.registered(3)
    for gen in (1, 2, 3):
        ck = b.stasis("checkpoint")
        assert ck.returncode == 0, ck.stderr
        want = {gen - 1: 2, gen: 2} if gen > 1 else {1: 2}
        assert a.generations() == want  # the coordinator's host: before the answer
        want = {g: 1 for g in want}
        wait_until(lambda: b.generations() == want, 10, f"host2 holding {want}")
    pid = next(x["pid"] for x in a.status()["procs"] if x["name"] == "lifecycle")
    ck = subprocess.Popen(hs[1].argv([STASIS, "checkpoint"]), env=b.env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: list(a.ckpt_dir.glob(f"ckpt_*_{pid}_g4.stasis.tmp")), 20,
               "the victim writing its image")
    os.kill(pid, signal.SIGKILL)
    _, err = ck.communicate(timeout=60)
    assert ck.returncode == 1 and f"process {pid} (lifecycle) ended during the checkpoint" in err, err
    wait_until(lambda: a.generations() == {2: 2, 3: 2} and b.generations() == {2: 1, 3: 1}, 10,
               f"no file of generation 4 on either host ({a.generations()}, {b.generations()})")
    r = a.stasis("kill")
    assert r.returncode == 0, r.stderr


def checkpoint_kill_any(st):
    """checkpoint --kill from st's host, images of any host (not all visible
    here): returns when every process is gone."""
    r = st.stasis("checkpoint", "--kill")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def talks_on(st, out):
    """ssh_talk answers 25 lines more than it had."""
    said = re.findall(r"^answered (\d+)$", out.read_text(), re.M)
    st.wait_for(out, f"answered {int(said[-1]) + 25 if said else 25}\n", timeout=30)


def test_command_started_over_ssh(cluster):
    """A program on host1 runs `ssh host2 'echo_lines; echo bye >&2'` and
    talks to it over ssh's stdin and stdout: the command joins the
    computation on host2 (its images stay there: host2's checkpoint directory
    is a tmpfs of its own). Twice checkpoint --kill and restart: each part on
    its own host, then the parts swapped; every line is answered once, in
    order, the command's stderr and its exit status come through."""
    c, hs = cluster(2, sshd=True)
    a, b = c.on(hs[0], "local"), c.on(hs[1], "remote")
    b.ckpt_dir = a.ckpt_dir  # the remote part writes where the local one does, on host2
    b.private_ckpt_dir()
    out = a.tmp / "out"
    cmd = f"{program('echo_lines')}; echo bye >&2"
    p = a.launch(program("ssh_talk"), a.tmp / "verify", hs.ssh_config, "host2", cmd, out=out)
    a.wait_for(out, "ready", proc=p, timeout=60)
    names = sorted(x["name"] for x in a.wait_registered(nprocs=5, proc=p)["procs"])
    shell = os.path.basename(pwd.getpwuid(os.getuid()).pw_shell)  # runs COMMAND, as sshd does
    assert names == sorted(["echo_lines", shell, "ssh_talk", "stasis-ssh", "stasis-ssh"]), names
    assert running_on(hs[1], "echo_lines") and running_on(hs[0], "ssh_talk")
    assert b.generations() == {}
    imgs = checkpoint_kill_any(a)
    assert len(imgs) == 5 and b.generations() == {1: 3}, (imgs, b.generations())
    ends = [a.restart(directory=a.ckpt_dir), b.restart(directory=b.ckpt_dir)]
    a.wait_registered(nprocs=5, timeout=60)
    talks_on(a, out)
    checkpoint_kill_any(b)
    for e in ends:
        e.wait(timeout=30)
    to1, to2 = a.tmp / "to-host1", a.tmp / "to-host2"
    to1.mkdir()
    copy_images(a.ckpt_dir, to2)  # host1's part, for host2
    r = hs[1].run("sh", "-c", f"cp {a.ckpt_dir}/*.stasis {to1}")
    assert r.returncode == 0, r.stderr
    ends = [b.restart(directory=to2), a.restart(directory=to1)]
    a.wait_registered(nprocs=5, timeout=60)
    assert running_on(hs[1], "ssh_talk") and running_on(hs[0], "echo_lines")
    talks_on(a, out)
    (a.tmp / "verify").touch()
    assert ends[0].wait(timeout=60) == 0, c.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text
    assert ends[1].wait(timeout=30) == 0, c.describe_all()


def test_wrong_token_from_another_host(cluster):
    """A peer on another host with a token that is not the coordinator's is
    refused, and nothing joins."""
    c, hs = cluster(2)
    st = c.on(hs[1])
    bad = st.tmp / "bad.token"
    bad.write_text("ab" * 32 + "\n")
    os.chmod(bad, 0o600)
    r = st.stasis("launch", "-p", c.port, "--token-file", bad, "--ckpt-dir", st.ckpt_dir,
                  "/bin/true")
    assert r.returncode == 1, r
    assert (f"coordinator on {hs[0].addr}:{c.port} refused us: bad token (token file {bad} "
            "belongs to another coordinator?)") in r.stderr, r.stderr
    r = st.stasis("status", "--token-file", bad)
    assert r.returncode == 1 and "bad token" in r.stderr, r
    assert st.status()["nprocs"] == 0


def test_launch_never_starts_a_coordinator_for_another_host(cluster):
    c, hs = cluster(2)
    st = c.on(hs[1])
    r = st.stasis("launch", "-p", 7000, "--ckpt-dir", st.ckpt_dir, "/bin/true")
    assert r.returncode == 1, r
    assert f"no coordinator on {hs[0].addr}:7000 (connection refused)" in r.stderr, r.stderr
    r = hs[1].run("ss", "-ltn")
    assert ":7000" not in r.stdout, r.stdout  # none was started here


def test_restart_script_over_ssh(cluster):
    """The restart script a checkpoint writes restarts the whole computation
    from the coordinator's host: its part there, the other host's over ssh;
    then with --host-map swapping the hosts."""
    c, hs = cluster(2, sshd=True)
    r, a, b = pair(c, hs[0], hs[1])
    env = dict(a.env, STASIS_SSH=f"ssh -F {hs.ssh_config}", STASIS_RUN_DIR=str(c.run_dir))
    for k in ("STASIS_COORD_HOST", "STASIS_TOKEN_FILE"):
        env.pop(k)
    for swap in ((), ("--host-map", "host1=host2", "--host-map", "host2=host1")):
        r.checkpoint_kill(a)
        script = next(c.ckpt_dir.glob("stasis_restart_*.sh"))
        text = script.read_text()
        assert "part 'host2' " in text and "part 'host1' " in text, text
        p = run_script(r, a, env, script, *swap)
        a.wait_registered(nprocs=2)
        if swap:  # the server's listener and process are on host2 now, the client's on host1
            assert running_on(hs[1], "server") and running_on(hs[0], "client")
    r.verify.touch()
    assert p.wait(timeout=120) == 0, (c.tmp / "script4.log").read_text()
    for out in r.outs:
        text = out.read_text()
        assert "PASS" in text and "FAIL" not in text, text


def run_script(r, st, env, script, *args):
    """The restart script run on st's host: r's only end, logged in the
    cluster's directory."""
    log = open(r.c.tmp / f"script{len(args)}.log", "wb")
    p = st.host.popen(["/bin/sh", script, *args], env=env, stdout=log, stderr=log)
    r.ends = [[st, type("P", (), {"wait": p.wait, "popen": p, "pid": p.pid,
                                  "running": lambda: p.poll() is None})()]]
    return p


def test_restart_script_of_one_host(cluster):
    """A computation on one host whose coordinator listens on that host's
    network address: its restart script restarts it under that coordinator
    (none is started on loopback, no token file is overwritten)."""
    c, hs = cluster(1)
    r, a, _ = pair(c, hs[0], hs[0], nbytes=4096, mode="acked")
    r.checkpoint_kill(a)
    script = next(c.ckpt_dir.glob("stasis_restart_*.sh"))
    env = dict(a.env, STASIS_RUN_DIR=str(c.run_dir))
    for k in ("STASIS_COORD_HOST", "STASIS_TOKEN_FILE"):
        env.pop(k)
    p = run_script(r, a, env, script)
    a.wait_registered(nprocs=2)
    assert f":{c.port} " not in hs[0].run("ss", "-Hltn", "src", "127.0.0.1").stdout
    r.verify.touch()
    assert p.wait(timeout=120) == 0, (c.tmp / "script0.log").read_text()
    for out in r.outs:
        text = out.read_text()
        assert "PASS" in text and "FAIL" not in text, text


def running_on(host, role):
    """A tcp_pair of that role runs in host's network namespace."""
    ns = os.readlink(f"/proc/{host.pid}/ns/net")
    for d in running_programs(role.encode()):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if (role.encode() in args or os.path.basename(args[0]) == role.encode()) and \
                    os.readlink(f"/proc/{d}/ns/net") == ns:
                return True
        except OSError:
            pass
    return False
