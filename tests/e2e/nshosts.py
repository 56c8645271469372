"""Hosts made of namespaces on this machine, for the distributed tests
(tests/e2e/hosts.py, the pytest fixture) and the bench (bench/run.py, job
hosts4). No pytest here: a setup that fails calls Hosts.fail, one that cannot
run without root calls Hosts.skip; both raise HostsError here, and the
fixture makes them pytest.fail and pytest.skip.

Nothing touches the machine's network. The fixture first makes a private
network namespace of its own (the "wire": a helper process in a new netns,
holding a bridge), then each host is a helper process in a new network, UTS
and mount namespace, with one end of a veth pair as its eth0 (the other end on
the bridge), address 192.0.2.N/24 (TEST-NET-1, reserved for documentation),
loopback up, no route anywhere else, hostname hostN, and /etc/hosts naming
every host (bind-mounted in its own mount namespace, which also has a /run of
its own). Host N runs a command with `nsenter -t PID -n -u -m` (Host.argv).

With sshd=True every host runs a real sshd (openssh-server) listening on its
192.0.2.N:22 only, with a host key and a user key made for this test in its
temp dir; `Host.ssh_argv(other, cmd)` gives the `ssh` command line from one
host to another (known hosts file of this run: strict host key checking
stays on).

Everything is torn down after the test: the processes started through a host
are killed (by process group), then the helpers, and the namespaces go with
their last process. Creating namespaces needs root (CAP_SYS_ADMIN and
CAP_NET_ADMIN); without it Hosts.start skips, saying so. CI runs as root.
"""

import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

NET = "192.0.2"
TOOLS = {"ip": "iproute2", "unshare": "util-linux", "nsenter": "util-linux"}
SSH_TOOLS = {"/usr/sbin/sshd": "openssh-server", "ssh": "openssh-client",
             "ssh-keygen": "openssh-client"}
READY_TIMEOUT = 10
NEED_ROOT = ("the hosts fixture needs root to create network namespaces "
             "(CAP_SYS_ADMIN, CAP_NET_ADMIN); CI runs these tests as root")


class HostsError(Exception):
    """A setup step failed (Hosts.fail), or the hosts cannot be made here
    (Hosts.skip: need_root set)."""

    def __init__(self, msg, need_root=False):
        super().__init__(msg)
        self.need_root = need_root


def _raise(msg):
    raise HostsError(msg)


def _raise_root(msg):
    raise HostsError(msg, need_root=True)


def need_tools(tools, fail):
    missing = [f"{t} (Debian package {pkg})" for t, pkg in tools.items() if not shutil.which(t)]
    if missing:
        fail("the hosts fixture needs " + ", ".join(missing))


def _sh(argv, what, fail, timeout=30):
    """Run a setup command; fail with its output when it fails."""
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        fail(f"{what}: {' '.join(map(str, argv))} exited {r.returncode}: "
             f"{r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def _helper(argv, script, what, fail):
    """A process that sets up its namespaces with script, prints "ready" and
    then sleeps: its namespaces live as long as it (and what enters them)."""
    p = subprocess.Popen([*map(str, argv), "sh", "-c", f"set -e; {script}; echo ready; "
                          "exec sleep infinity"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    ok = sel.select(READY_TIMEOUT) and p.stdout.readline() == b"ready\n"
    sel.close()
    if not ok:
        p.kill()
        _, err = p.communicate(timeout=10)
        fail(f"{what} did not come up within {READY_TIMEOUT} s: "
             f"{err.decode(errors='replace').strip()}")
    return p


class Host:
    def __init__(self, hosts, index):
        self.hosts = hosts
        self.index = index
        self.name = f"host{index}"
        self.addr = f"{NET}.{index}"
        self.dir = hosts.tmp / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.helper = None
        self.sshd = None

    @property
    def pid(self):
        return self.helper.pid

    def argv(self, argv):
        """argv run on this host (its network, hostname and mounts)."""
        return ["nsenter", "-t", str(self.pid), "-n", "-u", "-m", "--", *map(str, argv)]

    def run(self, *argv, timeout=30, input=None, env=None, cwd=None):
        """Run a command on this host to completion (text output)."""
        try:
            return subprocess.run(self.argv(argv), capture_output=True, text=True,
                                  timeout=timeout, input=input, env=env, cwd=cwd,
                                  start_new_session=True)
        except subprocess.TimeoutExpired as e:
            self.hosts.fail(f"{self.name}: {' '.join(map(str, argv))} did not finish in "
                            f"{timeout} s: stdout={e.stdout!r} stderr={e.stderr!r}")

    def popen(self, argv, **kw):
        """Start a command on this host; it is killed at teardown."""
        p = subprocess.Popen(self.argv(argv), start_new_session=True, **kw)
        self.hosts.procs.append(p)
        return p

    def ssh_argv(self, other, *cmd):
        """ssh from this host to host `other` running cmd (run it with argv()
        or popen() of this host)."""
        h = self.hosts
        return ["ssh", "-F", h.ssh_config, other.name, *map(str, cmd)]

    def wait_tcp(self, addr, port, timeout=READY_TIMEOUT):
        """Wait until something accepts TCP connections on addr:port, seen
        from this host."""
        script = ("import socket,sys,time\n"
                  "end=time.monotonic()+float(sys.argv[3])\n"
                  "while True:\n"
                  "  try:\n"
                  "    socket.create_connection((sys.argv[1],int(sys.argv[2])),1).close();break\n"
                  "  except OSError as e:\n"
                  "    if time.monotonic()>end: sys.exit(str(e))\n"
                  "    time.sleep(0.02)\n")
        r = self.run("/usr/bin/python3", "-c", script, addr, port, timeout,
                     timeout=timeout + 10)
        if r.returncode != 0:
            self.hosts.fail(f"{self.name}: nothing listens on {addr}:{port} after "
                            f"{timeout} s: {r.stderr.strip()}")


class Hosts:
    """N hosts (hosts[0] is host1, 192.0.2.1)."""

    fail = staticmethod(_raise)  # a setup step failed: the message says which and why
    skip = staticmethod(_raise_root)  # not root: NEED_ROOT

    def __init__(self, tmp, n, sshd=False):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.n = n
        self.procs = []
        self.wire = None
        self.hosts = []
        self.ssh_config = str(self.tmp / "ssh_config")
        self.want_sshd = sshd

    def _sh(self, argv, what, timeout=30):
        return _sh(argv, what, self.fail, timeout)

    def __getitem__(self, i):
        return self.hosts[i]

    def __len__(self):
        return len(self.hosts)

    def __iter__(self):
        return iter(self.hosts)

    def start(self):
        if os.geteuid() != 0:
            self.skip(NEED_ROOT)
        need_tools(TOOLS, self.fail)
        if self.want_sshd:
            need_tools(SSH_TOOLS, self.fail)
        etc_hosts = self.tmp / "hosts"
        etc_hosts.write_text("127.0.0.1 localhost\n::1 localhost\n" + "".join(
            f"{NET}.{i} host{i}\n" for i in range(1, self.n + 1)))
        self.wire = _helper(["unshare", "--net", "--"], "ip link set lo up", "the wire namespace",
                            self.fail)
        wire = ["nsenter", "-t", str(self.wire.pid), "-n", "--"]
        self._sh([*wire, "ip", "link", "add", "br0", "type", "bridge"], "bridge")
        self._sh([*wire, "ip", "link", "set", "br0", "up"], "bridge up")
        for i in range(1, self.n + 1):
            h = Host(self, i)
            self.hosts.append(h)
            h.helper = _helper(
                [*wire, "unshare", "--net", "--uts", "--mount", "--propagation", "private", "--"],
                f"mount -t tmpfs -o mode=755 tmpfs /run; mkdir -m 755 /run/sshd; "
                f"mount --bind {etc_hosts} /etc/hosts; hostname {h.name}; ip link set lo up",
                h.name, self.fail)
            self._sh([*wire, "ip", "link", "add", f"veth{i}", "type", "veth", "peer", "name",
                      "eth0", "netns", h.pid], f"veth of {h.name}")
            self._sh([*wire, "ip", "link", "set", f"veth{i}", "master", "br0", "up"],
                     f"veth of {h.name} on the bridge")
            self._sh(h.argv(["ip", "addr", "add", f"{h.addr}/24", "dev", "eth0"]),
                     f"{h.name} address")
            self._sh(h.argv(["ip", "link", "set", "eth0", "up"]), f"{h.name} eth0 up")
        if self.want_sshd:
            self._start_sshd()
        return self

    # ---- sshd on every host ------------------------------------------------
    def _start_sshd(self):
        d = self.tmp / "ssh"
        d.mkdir(mode=0o700, exist_ok=True)
        for key in ("host_key", "user_key"):
            self._sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                      f"stasis-test-{key}", "-f", d / key], f"ssh-keygen {key}")
        (d / "authorized_keys").write_text((d / "user_key.pub").read_text())
        hostkey = (d / "host_key.pub").read_text().split()
        (d / "known_hosts").write_text("".join(
            f"{h.name},{h.addr} {hostkey[0]} {hostkey[1]}\n" for h in self.hosts))
        Path(self.ssh_config).write_text("".join(
            f"Host {h.name}\n  HostName {h.addr}\n" for h in self.hosts) +
            f"Host *\n  User root\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n  ConnectTimeout 10\n  LogLevel ERROR\n")
        for h in self.hosts:
            cfg = d / f"sshd_config.{h.name}"
            cfg.write_text(
                f"ListenAddress {h.addr}\nPort 22\nHostKey {d}/host_key\n"
                f"PidFile {d}/sshd.{h.name}.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
                "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                "PubkeyAuthentication yes\nAcceptEnv STASIS_*\nPermitUserEnvironment no\n"
                "LogLevel ERROR\n")
            h.sshd = h.popen(["/usr/sbin/sshd", "-D", "-e", "-f", cfg],
                             stdout=subprocess.DEVNULL,
                             stderr=open(d / f"sshd.{h.name}.log", "wb"))
        for h in self.hosts:
            h.wait_tcp(h.addr, 22)

    # ---- teardown ----------------------------------------------------------
    def close(self):
        helpers = [h.helper for h in self.hosts if h.helper] + ([self.wire] if self.wire else [])
        for p in self.procs + helpers:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs + helpers:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []

    def alive(self):
        """The helper processes that still run (none after close())."""
        ps = [h.helper for h in self.hosts] + [self.wire]
        return [p.pid for p in ps if p and p.poll() is None]
