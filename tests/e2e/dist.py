"""Stasis on the hosts of the hosts fixture (tests/e2e/hosts.py): one
coordinator on one host, `stasis` commands run on any host with --coord-host
and a copy of the coordinator's token, as a user would over ssh.

    hs = net(2)
    c = Cluster(tmp_path, hs, coord=hs[0])
    a, b = c.on(hs[0]), c.on(hs[1])     # a Stasis (conftest.py) per host
    a.launch(...); b.launch(...); a.checkpoint()
"""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import STASIS, Stasis, _reap_all

PORT = 7779


class HostStasis(Stasis):
    """conftest's Stasis whose commands run on one host, against the
    cluster's coordinator."""

    def __init__(self, tmp, host, cluster):
        Path(tmp).mkdir(parents=True)
        super().__init__(tmp)
        self.host = host
        self.cluster = cluster
        self.port = cluster.port
        self.env["STASIS_PORT"] = str(self.port)
        self.env["STASIS_COORD_HOST"] = cluster.coord.addr
        self.env["STASIS_TOKEN_FILE"] = str(cluster.token_copy(self))
        if host is cluster.coord:  # its processes write where the coordinator does
            self.ckpt_dir = cluster.ckpt_dir

    def stasis(self, *args, timeout=60, input=None, env=None):
        try:
            return subprocess.run(
                self.host.argv([str(self.bin), *map(str, args)]), cwd=self.tmp,
                env=env or self.env, capture_output=True, text=True, timeout=timeout,
                input=input, start_new_session=True)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"{self.host.name}: stasis {' '.join(map(str, args))} did not finish "
                        f"in {timeout} s: stdout={e.stdout!r} stderr={e.stderr!r}\n"
                        f"{self.cluster.describe_all()}")

    def _spawn(self, argv, out, err, what, stdin=subprocess.DEVNULL, append=False):
        return super()._spawn(self.host.argv(argv), out, err, f"{self.host.name}: {what}",
                              stdin, append)

    def restart(self, images=None, directory=None, out=None, err=None, opts=()):
        argv = [str(self.bin), "restart", "-p", str(self.port), *opts]
        argv += ["--dir", str(directory)] if directory else [str(i) for i in images]
        return self._spawn(argv, out, err, "restart")

    def private_ckpt_dir(self):
        """Its checkpoint directory becomes a tmpfs of its host's own, which
        no other host (nor the test, nor the coordinator) sees, as on real
        hosts: list it with generations()."""
        r = self.host.run("mount", "-t", "tmpfs", "-o", "mode=700", "tmpfs", self.ckpt_dir)
        assert r.returncode == 0, r.stderr

    def generations(self):
        """{gen: number of images} in its checkpoint directory, seen from its
        host; temp files count as gen -1."""
        r = self.host.run("ls", "-a", self.ckpt_dir)
        assert r.returncode == 0, r.stderr
        gens = {}
        for name in r.stdout.split():
            m = re.fullmatch(r"ckpt_.*_g(\d+)\.stasis(\.tmp)?", name)
            if m:
                g = -1 if m.group(2) else int(m.group(1))
                gens[g] = gens.get(g, 0) + 1
        return gens

    def cleanup(self):
        self.kill_procs()  # the rest goes with the hosts' namespaces


class Cluster:
    """A coordinator on host `coord` (listening on its 192.0.2.N) and a
    Stasis per host that uses it."""

    def __init__(self, tmp, hosts, coord):
        self.tmp = Path(tmp)
        self.hosts = hosts
        self.coord = coord
        self.port = PORT
        self.members = []
        self.run_dir = self.tmp / "coord-run"
        self.run_dir.mkdir(mode=0o700, parents=True)
        self.ckpt_dir = self.tmp / "coord-ckpt"
        self.ckpt_dir.mkdir()
        env = dict(os.environ, STASIS_RUN_DIR=str(self.run_dir))
        for k in ("STASIS_COORD_HOST", "STASIS_TOKEN_FILE", "STASIS_PORT", "LD_PRELOAD"):
            env.pop(k, None)
        self.log = open(self.tmp / "coordinator.log", "wb")
        self.proc = coord.popen([STASIS, "coordinator", "-p", self.port, "--bind", coord.addr,
                                 "--ckpt-dir", self.ckpt_dir], env=env, stdout=self.log,
                                stderr=self.log)
        self.token = self.run_dir / f"coord-{self.port}.token"
        deadline = time.monotonic() + 10
        while not self.token.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the coordinator on {coord.name} did not start:\n"
                            f"{(self.tmp / 'coordinator.log').read_text()}")
            time.sleep(0.01)
        coord.wait_tcp(coord.addr, self.port)

    def token_copy(self, st):
        """The token copied to that host's directory, as with scp."""
        dst = st.tmp / "coord.token"
        shutil.copyfile(self.token, dst)
        os.chmod(dst, 0o600)
        return dst

    def on(self, host, name=None):
        st = HostStasis(self.tmp / (name or host.name), host, self)
        self.members.append(st)
        return st

    def describe_all(self):
        log = (self.tmp / "coordinator.log").read_text(errors="replace")
        return "".join(m.describe_all() for m in self.members) + \
            f"--- coordinator log:\n{log[-3000:]}\n"

    def close(self):
        for m in self.members:
            m.cleanup()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        _reap_all()


@pytest.fixture
def cluster(net, tmp_path):
    """cluster(n_hosts, coord=0) -> (Cluster, hosts); torn down after the test."""
    made = []

    def make(n, coord=0, sshd=False):
        hs = net(n, sshd=sshd)
        c = Cluster(tmp_path / f"cluster{len(made)}", hs, hs[coord])
        made.append(c)
        return c, hs

    yield make
    for c in made:
        c.close()


def only_odd_port(host, port):
    """`port` (odd) becomes the only odd port of host's ephemeral range (its
    network namespace's alone): the range is a little around it, every other
    odd port of it reserved. bind() to port 0 tries odd ports first (connect()
    even ones), so it gets `port` whenever that is free: checked here."""
    assert port % 2 == 1, port
    low, high = port - 17, port + 112  # port in the lower half, which bind() with
    # SO_REUSEADDR tries first
    odd = ",".join(str(p) for p in range(low, high + 1) if p % 2 and p != port)
    r = host.run("sh", "-c", f"echo {low} {high} > /proc/sys/net/ipv4/ip_local_port_range && "
                 f"echo {odd} > /proc/sys/net/ipv4/ip_local_reserved_ports")
    assert r.returncode == 0, r.stderr
    probe = host.run("python3", "-c", "import socket; s = socket.socket(); "
                     "s.bind(('0.0.0.0', 0)); print(s.getsockname()[1])")
    assert probe.stdout.strip() == str(port), (probe.stdout, probe.stderr)
