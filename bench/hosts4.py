"""The restart time of a computation on 4 hosts (bench/run.py, job hosts4), beside the same
computation on one host.

The hosts are those of the distributed tests (tests/e2e/nshosts.py): network, UTS and mount
namespaces on a bridge inside a private network namespace, 192.0.2.N/24, an sshd each; nothing
touches the machine's network, and everything goes at the end. Making them needs root.

The computation: tests/programs/tcp_pair `serve` on host1 with a client on each of host2, host3,
host4 (a forked worker per connection; BYTES_HELD bytes held each way on each connection, the
socket buffers full both ways), and a memhog of BENCH_HOSTS_MIB MiB random on each host: 11
processes. A coordinator on host1 (--bind 192.0.2.1). The same computation on one host: every
process on host1, its own coordinator.

Series (one after the other in each round, only one computation running at a time):
  hosts4 script   restart: the restart script the checkpoint wrote, run on host1 (host1's part
                  there, each other host's over ssh), as users run it
  hosts4 direct   restart: `stasis restart --coord-host` on each host at once, no ssh
  host1 script    the same computation on one host, its restart script
Each round of a series: restart (from the start of the command to every memhog's next tick:
the coordinator resumes all 11 processes together once all are back), then a durable
`stasis checkpoint --kill` from host1 (to its return; the disk synced before it). A checkpoint before the first round; a
restart after the last, after which every process checks its state (tcp_pair: every byte
once and in order; memhog: every tick ok and in sequence).
"""

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
from nshosts import Hosts, HostsError  # noqa: E402

from benchutil import TICK, tail

STASIS = os.path.join(ROOT, "build/bin/stasis")
TCP_PAIR = os.path.join(ROOT, "build/tests/programs/tcp_pair")
MEMHOG = os.path.join(ROOT, "build/tests/programs/memhog")
BYTES_HELD = 4 << 20
NPROCS = 11  # tcp_pair server + 3 workers + 3 clients, 4 memhogs
WAIT = 120  # bound of every wait, seconds
NEED_ROOT = ("it needs root to make network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN) for its "
             "hosts: run make bench as root")
SERIES = (("hosts4", "script"), ("hosts4", "direct"), ("host1", "script"))


class Error(Exception):
    pass


def mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class Comp:
    """One computation: a coordinator on hosts[0], its processes placed on hosts."""

    def __init__(self, name, hosts, place, port, tcp_port, mib, work):
        self.name, self.hosts, self.port = name, hosts, port
        self.coord = hosts[0]
        # on one host, the coordinator and the connections on loopback, as users run it
        self.addr = self.coord.addr if name == "hosts4" else "127.0.0.1"
        self.dir = os.path.join(work, name)
        self.run_dir = os.path.join(self.dir, "run")
        os.makedirs(self.run_dir, 0o700)
        self.verify = os.path.join(self.dir, "verify")
        self.token = os.path.join(self.run_dir, "coord-%d.token" % port)
        self.coord_ck = self.dir_of("coordinator")
        env = {k: v for k, v in os.environ.items()
               if k == "STASIS_LOG" or not (k.startswith("STASIS_") or k == "LD_PRELOAD")}
        self.env = dict(env, STASIS_RUN_DIR=self.run_dir, STASIS_PORT=str(port))
        self.client_env = dict(self.env, STASIS_COORD_HOST=self.addr,
                               STASIS_TOKEN_FILE=self.token)
        self.logs, self.outs, self.running = [], [], []
        self.progs = []  # (host, ckpt dir, argv, stdout)
        srv = self.addr
        for i, h in enumerate(place):
            if i == 0:
                tcp = [TCP_PAIR, self.verify, "serve", srv, tcp_port, BYTES_HELD, "held", 3]
            else:
                tcp = [TCP_PAIR, self.verify, "client", srv, tcp_port, BYTES_HELD, "held"]
            # a process on the coordinator's host writes in the coordinator's directory
            # (docs/distributed.md), whatever its launch is given
            ck = self.coord_ck if h is self.coord else self.dir_of("ck%d" % (i + 1))
            self.add(h, ck, tcp, self.outs, "tcp%d" % (i + 1))
            self.add(h, ck, [MEMHOG, mib, "rand", 0], self.logs, "memhog%d" % (i + 1))

    def dir_of(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        return d

    def add(self, host, ck, argv, outs, what):
        out = os.path.join(self.dir, what + ".out")
        outs.append(out)
        self.progs.append((host, ck, list(map(str, argv)), out))

    def stasis(self, host, *args, timeout=WAIT):
        try:
            r = subprocess.run(host.argv([STASIS, *map(str, args)]), env=self.client_env,
                               capture_output=True, text=True, timeout=timeout,
                               start_new_session=True)
        except subprocess.TimeoutExpired:
            raise Error("%s: %s: stasis %s did not end within %d s"
                        % (self.name, host.name, args[0], timeout))
        if r.returncode != 0:
            raise Error("%s: %s: stasis %s failed (exit %d): %s" % (
                self.name, host.name, " ".join(map(str, args)), r.returncode,
                " | ".join(r.stderr.strip().splitlines()[-3:])))
        return r.stdout

    def spawn(self, host, argv, out, env=None):
        with open(out, "ab") as f:
            return host.popen([*map(str, argv)], env=env or self.client_env,
                              stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)

    def start(self):
        with open(os.path.join(self.dir, "coordinator.log"), "wb") as log:
            self.coord.popen([STASIS, "coordinator", "-p", self.port, "--bind", self.addr,
                              "--ckpt-dir", self.coord_ck], env=self.env, stdout=log,
                             stderr=log)
        self.coord.wait_tcp(self.addr, self.port)
        for host, ck, argv, out in self.progs:  # the clients retry until the server listens
            self.running.append(self.spawn(host, [STASIS, "launch", "--ckpt-dir", ck, *argv],
                                           out))
        for out in self.outs:
            self.wait_text(out, b"ready")
        for out in self.logs:
            self.wait_text(out, b"tick")
        self.wait_back()

    def wait_text(self, path, text):
        end = time.monotonic() + WAIT
        while not open(path, "rb").read().count(text):
            if time.monotonic() > end or not any(p.poll() is None for p in self.running):
                raise Error("%s: no '%s' in %s within %d s: %s"
                            % (self.name, text.decode(), path, WAIT, tail(path)))
            time.sleep(0.01)

    def status(self):
        return json.loads(self.stasis(self.coord, "status", "--json"))

    def wait_back(self):
        """Every process registered, and the coordinator idle."""
        end, st = time.monotonic() + WAIT, None
        while time.monotonic() < end:
            st = self.status()
            if st["nprocs"] == NPROCS and st["state"] == "idle":
                return
            time.sleep(0.05)
        raise Error("%s: not all %d processes back within %d s: %s"
                    % (self.name, NPROCS, WAIT, st))

    def checkpoint_kill(self):
        """Durable checkpoint --kill from host1: (seconds, image bytes). The disk is synced
        first, so that the time is not that of flushing what was written before."""
        os.sync()
        t0 = time.monotonic()
        out = self.stasis(self.coord, "checkpoint", "--kill")
        t = time.monotonic() - t0
        images = [p for p in out.split() if p.endswith(".stasis")]
        if len(images) != NPROCS:
            raise Error("%s: the checkpoint wrote %d images, not %d: %s"
                        % (self.name, len(images), NPROCS, out))
        for p in self.running:  # the launches or restarts end with their processes
            try:
                p.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                raise Error("%s: %s still runs %d s after checkpoint --kill"
                            % (self.name, p.args, WAIT))
        self.running = []
        return t, sum(os.path.getsize(p) for p in images)

    def script(self):
        scripts = [os.path.join(self.coord_ck, f) for f in os.listdir(self.coord_ck)
                   if f.startswith("stasis_restart_") and f.endswith(".sh")]
        if not scripts:
            raise Error("%s: no restart script in %s" % (self.name, self.coord_ck))
        return max(scripts, key=os.path.getmtime)

    def restart(self, how, rnd):
        """Restart the computation: seconds to every memhog's next tick."""
        before = [mtime(p) for p in self.logs]
        err = os.path.join(self.dir, "restart-%s-%d.err" % (how, rnd))
        t0 = time.monotonic()
        if how == "script":
            env = dict(self.env, STASIS_SSH="ssh -F %s" % self.hosts.ssh_config)
            self.running = [self.spawn(self.coord, ["/bin/sh", self.script()], err, env)]
        else:
            dirs = {(h.name, ck): h for h, ck, _, _ in self.progs}
            self.running = [self.spawn(h, [STASIS, "restart", "--dir", ck], err)
                            for (_, ck), h in dirs.items()]
        end = t0 + WAIT
        while any(mtime(p) == b for p, b in zip(self.logs, before)):
            if time.monotonic() > end or any(p.poll() not in (None, 0) for p in self.running):
                raise Error("%s: restart (%s) did not bring every process back to its next "
                            "tick within %d s: %s" % (self.name, how, WAIT, tail(err)))
            time.sleep(0.002)
        t = time.monotonic() - t0
        self.wait_back()
        return t

    def verify_all(self):
        """tcp_pair checks every byte, memhog every tick; then the computation ends."""
        open(self.verify, "w").close()
        for out in self.outs:
            self.wait_text(out, b"PASS")
            if b"FAIL" in open(out, "rb").read():
                raise Error("%s: %s: %s" % (self.name, out, tail(out)))
        for path in self.logs:
            ticks = TICK.findall(open(path, "rb").read())
            bad = [t for i, t in enumerate(ticks) if t != (str(i).encode(), b"ok")]
            if bad or not ticks:
                raise Error("%s: %s: ticks not ok and in sequence (first wrong: %s)"
                            % (self.name, path, bad[:1]))
        self.stasis(self.coord, "kill", "--coordinator")


def run(work, rounds, mib, add, log):
    """Measure every series over rounds; add(workload, variant, metric, round, value)."""
    if os.geteuid() != 0:
        log("hosts4: skipped: " + NEED_ROOT)
        return NEED_ROOT
    for p in (STASIS, TCP_PAIR, MEMHOG):
        if not os.access(p, os.X_OK):
            raise Error("%s is missing: build first (make)" % p)
    hs = Hosts(os.path.join(work, "net"), 4, sshd=True)
    try:
        hs.start()
        comps = {"hosts4": Comp("hosts4", hs, list(hs), 7780, 6000, mib, work),
                 "host1": Comp("host1", hs, [hs[0]] * 4, 7781, 6001, mib, work)}
        for c in comps.values():
            c.start()
            c.checkpoint_kill()
        for rnd in range(1, rounds + 1):
            for name, how in SERIES:
                c = comps[name]
                rt = c.restart(how, rnd)
                ct, nbytes = c.checkpoint_kill()
                add(name, how, "restart_s", rnd, rt)
                add(name, how, "ckpt_s", rnd, ct)
                add(name, how, "image_bytes", rnd, nbytes)
                log("hosts4: round %d, %s %s: restart %.3f s, checkpoint --kill %.3f s"
                    % (rnd, name, how, rt, ct))
        for c in comps.values():
            c.restart("script", 0)
            c.verify_all()
    except HostsError as e:
        raise Error("hosts4: the hosts: %s" % e)
    finally:
        hs.close()
    return None
