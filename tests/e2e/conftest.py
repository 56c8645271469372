"""End-to-end test harness for Stasis.

Every test gets a `st` fixture (class Stasis below): a free loopback port, a
private temp dir holding STASIS_RUN_DIR and a checkpoint dir, and helpers to
launch a program under Stasis, checkpoint it, restart it and wait for output.
Everything a test starts is killed and reaped afterwards: the pytest process
makes itself a child subreaper, so orphaned daemons (the coordinator) and
anything left in a restart's PID namespace come back to us.

The test programs follow CRIU's zdtm protocol (see tests/programs/*.c): they
build their state, print "ready", loop until the file named by argv[1] exists,
then verify their state and print "PASS" (exit 0) or "FAIL: what" (exit 1).
`Stasis.zdtm()` drives one such program through N checkpoint/kill/restart
cycles.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from hosts import net  # noqa: F401  (the hosts fixture, tests/e2e/hosts.py)

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
STASIS = BUILD / "bin" / "stasis"
RUNTIME = BUILD / "lib" / "libstasis.so"
PROGRAMS = BUILD / "tests" / "programs"

PR_SET_CHILD_SUBREAPER = 36

# ---- forging images -----------------------------------------------------------
# A test that damages an image on purpose finds the records through `stasis
# inspect --json` (Stasis.inspect) and changes them in place; reseal() then makes
# every checksum right again, so that only the records are wrong. The byte
# positions below are the format's (docs/format.md: header, section table).
_xxh = ctypes.CDLL("libxxhash.so.0")
_xxh.XXH3_64bits.restype = ctypes.c_uint64
_xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
HEADER_TABLE_SUM, HEADER_SUM, TRAILER_HEADER_SUM = 72, 120, -32 + 16
SECTION_SIZE, SECTION_SUM = 32, 24
CHUNK_SIZE, CHUNK_SUM = 40, 32


def xxh3(data):
    data = bytes(data)
    return _xxh.XXH3_64bits(data, len(data))


def section(info, name):
    """The entry of section `name` in the image's table (inspect --json)."""
    return next(s for s in info["sections"] if s["name"] == name)


def reseal(data, info):
    """Every section's checksum, the table's and the header's (and its copy in
    the trailer) made right again in data (a bytearray of the image inspect
    described as info). A memory chunk's checksum is the caller's."""
    table = info["header"]["table_off"]
    for i, s in enumerate(info["sections"]):
        put_u64(data, table + i * SECTION_SIZE + SECTION_SUM,
                xxh3(data[s["offset"]:s["offset"] + s["size"]]))
    put_u64(data, HEADER_TABLE_SUM, xxh3(data[table:table + len(info["sections"]) * SECTION_SIZE]))
    s = xxh3(data[:HEADER_SUM])
    put_u64(data, HEADER_SUM, s)
    put_u64(data, len(data) + TRAILER_HEADER_SUM, s)


def put_u64(data, at, value):
    data[at:at + 8] = value.to_bytes(8, "little")
_libc = ctypes.CDLL(None, use_errno=True)


def _become_subreaper():
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(err))


_become_subreaper()


def program(name):
    """Path of a built test program; fails clearly when it is missing."""
    p = PROGRAMS / name
    if not p.exists():
        pytest.fail(f"{p} is missing: build it with 'make -j2'")
    return str(p)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_of(pid):
    """Direct children of pid, from /proc (host view)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        rest = stat[stat.rfind(")") + 2:].split()
        if int(rest[1]) == pid and rest[0] != "Z":
            kids.append(int(d))
    return kids


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        for k in _children_of(todo.pop()):
            out.append(k)
            todo.append(k)
    return out


def read_maps(pid):
    """/proc/PID/maps as (start, end, perms, offset, path) tuples."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            start, end = parts[0].split("-")
            path = parts[5].strip() if len(parts) > 5 else ""
            out.append((start, end, parts[1], parts[2], path))
    return out


def anon_view(maps):
    """maps with memory a restart mapped from its image file (instant restart:
    the regions show the *.stasis path) seen as the anonymous memory it is,
    adjacent anonymous pieces of equal permissions joined again."""
    out = []
    for start, end, perms, off, path in maps:
        if path.endswith(".stasis") and perms.endswith("p"):
            path, off = "", "00000000"
        if out and not path and not out[-1][4] and out[-1][1] == start and out[-1][2] == perms:
            out[-1] = (out[-1][0], end, perms, off, path)
            continue
        out.append((start, end, perms, off, path))
    return out


def read_fds(pid):
    """{fd: link target} of /proc/PID/fd."""
    d = f"/proc/{pid}/fd"
    res = {}
    for name in os.listdir(d):
        try:
            res[int(name)] = os.readlink(f"{d}/{name}")
        except OSError:
            pass
    return res


def runtime_idle_fds(pid):
    """The descriptors the runtime holds while it collapses memory into huge
    pages after a checkpoint that let the program run on (src/runtime/huge.c:
    /proc/self/maps and pagemap, above 100): closed when that pass ends."""
    return {fd: t for fd, t in read_fds(pid).items()
            if fd >= 100 and re.fullmatch(r"/proc/\d+/(maps|pagemap)", t)}


def wait_runtime_idle(pid, timeout=30):
    """Wait until the runtime's pass after a checkpoint has ended (its
    descriptors are gone): the program's descriptors are then all there is."""
    deadline = time.monotonic() + timeout
    while runtime_idle_fds(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"pid {pid}: the runtime still holds {runtime_idle_fds(pid)} "
                        f"{timeout} s after the checkpoint")
        time.sleep(0.01)


def nspid(pid):
    """The NSpid line of /proc/PID/status as a list of ints."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return []


def _reap_all():
    """Reap every exited child (we are a subreaper: orphans land here)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants():
    """SIGKILL and reap every descendant of this process (we are a subreaper:
    whatever a test started and left behind is one)."""
    me = os.getpid()
    for _ in range(50):
        left = _descendants(me)
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
        _reap_all()
    _reap_all()


class Proc:
    """A process started by the harness: a Popen plus where its output goes."""

    def __init__(self, popen, out, err, what):
        self.popen = popen
        self.out = Path(out) if out else None
        self.err = Path(err) if err else None
        self.what = what

    @property
    def pid(self):
        return self.popen.pid

    def wait(self, timeout=30):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.what} did not exit within {timeout} s\n{self.describe()}")

    def running(self):
        return self.popen.poll() is None

    def describe(self):
        s = f"--- {self.what} (pid {self.pid}, returncode {self.popen.returncode})\n"
        for name, path in (("stdout", self.out), ("stderr", self.err)):
            if path and path.exists():
                txt = path.read_text(errors="replace")
                s += f"--- {name} {path}:\n{txt[-4000:]}\n"
        return s


class Stasis:
    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.run_dir = self.tmp / "run"
        self.ckpt_dir = self.tmp / "ckpt"
        self.run_dir.mkdir(mode=0o700)
        self.ckpt_dir.mkdir()
        self.port = free_port()
        self.env = dict(os.environ)
        self.env["STASIS_RUN_DIR"] = str(self.run_dir)
        self.env["STASIS_PORT"] = str(self.port)
        for k in ("STASIS_CKPT_DIR", "LD_PRELOAD", "STASIS_NO_COMPRESS", "STASIS_INTERVAL"):
            self.env.pop(k, None)
        self.procs = []
        self._n = 0
        self.bin = STASIS  # test_asan.py swaps in the ASan/UBSan build

    # ---- running commands -------------------------------------------------
    def stasis(self, *args, timeout=60, input=None, env=None):
        """Run one stasis command to completion; returns CompletedProcess (text)."""
        try:
            return subprocess.run(
                [str(self.bin), *map(str, args)], cwd=self.tmp, env=env or self.env,
                capture_output=True, text=True, timeout=timeout, input=input,
                start_new_session=True)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"stasis {' '.join(map(str, args))} did not finish in {timeout} s: "
                        f"stdout={e.stdout!r} stderr={e.stderr!r}\n{self.describe_all()}")

    def stasis_argv(self, argv, timeout=60, env=None):
        """Run argv (a command that runs stasis) to completion, as stasis() does."""
        try:
            return subprocess.run(argv, cwd=self.tmp, env=env or self.env, capture_output=True,
                                  text=True, timeout=timeout, start_new_session=True)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"{' '.join(argv)} did not finish in {timeout} s: "
                        f"stdout={e.stdout!r} stderr={e.stderr!r}\n{self.describe_all()}")

    def _name(self, base):
        self._n += 1
        return self.tmp / f"{base}.{self._n}"

    def _spawn(self, argv, out, err, what, stdin=subprocess.DEVNULL, append=False):
        out = Path(out) if out else self._name("stdout")
        err = Path(err) if err else self._name("stderr")
        # The program's stdout is a regular file (not O_APPEND unless append):
        # restart reopens it at its offset, so lines written after the
        # checkpoint are overwritten.
        with open(out, "ab" if append else "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(argv, cwd=self.tmp, env=self.env, stdin=stdin, stdout=fo,
                                 stderr=fe, start_new_session=True)
        proc = Proc(p, out, err, what)
        self.procs.append(proc)
        return proc

    def launch(self, prog, *args, out=None, err=None, opts=(), append=False):
        """`stasis launch` PROG ARGS in the background, stdout and stderr to
        files (stdout opened O_APPEND with append)."""
        argv = [str(self.bin), "launch", "-p", str(self.port), "--ckpt-dir", str(self.ckpt_dir),
                *opts, str(prog), *map(str, args)]
        return self._spawn(argv, out, err, f"launch {Path(prog).name}", append=append)

    def restart(self, images=None, directory=None, out=None, err=None):
        """`stasis restart` in the background (the restored program writes where it wrote)."""
        argv = [str(self.bin), "restart", "-p", str(self.port)]
        if directory:
            argv += ["--dir", str(directory)]
        else:
            argv += [str(i) for i in images]
        return self._spawn(argv, out, err, "restart")

    def checkpoint(self, kill=True, expect_ok=True):
        """`stasis checkpoint`: returns the image paths it printed."""
        args = ["checkpoint", "-p", self.port] + (["--kill"] if kill else [])
        r = self.stasis(*args)
        if not expect_ok:
            return r
        assert r.returncode == 0, (f"checkpoint failed ({r.returncode}): {r.stderr}\n"
                                   f"{self.describe_all()}")
        imgs = [l for l in r.stdout.splitlines() if l.strip()]
        assert imgs, f"checkpoint printed no image path: {r.stdout!r} {r.stderr!r}"
        for i in imgs:
            assert i.endswith(".stasis") and os.path.isfile(i), f"bad image path {i!r}"
        return imgs

    def inspect(self, image):
        """The image as `stasis inspect --json` prints every record of it."""
        r = self.stasis("inspect", "--json", image)
        assert r.returncode == 0, f"inspect {image}: {r.stderr}"
        return json.loads(r.stdout)

    def status(self):
        r = self.stasis("status", "-p", self.port, "--json", timeout=10)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def wait_registered(self, nprocs=1, timeout=30, proc=None):
        """Poll the coordinator until nprocs processes are registered and it is idle."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.status()
            if last and last["nprocs"] >= nprocs and last["state"] == "idle":
                return last
            if proc is not None and not proc.running():
                pytest.fail(f"{proc.what} exited ({proc.popen.returncode}) before it registered "
                            f"with the coordinator\n{self.describe_all()}")
            time.sleep(0.02)
        pytest.fail(f"{nprocs} process(es) not registered within {timeout} s (last status "
                    f"{last})\n{self.describe_all()}")

    # ---- waiting -----------------------------------------------------------
    def wait_for(self, path, text, timeout=30, proc=None):
        """Poll file path until it contains text; fail early if proc exits."""
        path = Path(path)
        deadline = time.monotonic() + timeout
        while True:
            if path.exists() and text in path.read_text(errors="replace"):
                return
            if proc is not None and not proc.running():
                if path.exists() and text in path.read_text(errors="replace"):
                    return
                pytest.fail(f"{proc.what} exited ({proc.popen.returncode}) before printing "
                            f"{text!r}\n{self.describe_all()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not in {path} within {timeout} s\n{self.describe_all()}")
            time.sleep(0.01)

    def describe_all(self):
        return "".join(p.describe() for p in self.procs)

    # ---- the zdtm protocol ---------------------------------------------------
    def zdtm(self, name, *args, cycles=2, opts=(), timeout=60, between=None, nprocs=1,
             checkpointed=None, same_maps=True):
        """Launch tests/programs/NAME with argv[1] = the verify file, wait for
        "ready", then `cycles` times: checkpoint --kill and restart. Then create
        the verify file and wait for the program's verdict. `checkpointed(st, i,
        imgs)` runs after each checkpoint, before the restart; `between(st, i,
        imgs, restart_proc)` after each restart. nprocs: processes the program
        has at "ready" (it and its children). same_maps=False: the restored
        memory map is not compared with the checkpoint's, for a program that
        maps memory of its own accord at any time (a thread started per timer
        tick gets a new stack when the one before has not ended). Returns the
        output text."""
        out = self.tmp / f"{name}.out"
        verify = self.tmp / "verify"
        p = self.launch(program(name), verify, *args, out=out, opts=opts)
        self.wait_for(out, "ready", proc=p, timeout=timeout)
        self.wait_registered(nprocs=nprocs, proc=p)
        host_pid = root = p.pid  # launch execs the program
        for i in range(cycles):
            wait_runtime_idle(host_pid)  # after a checkpoint in between
            maps0, fds0 = read_maps(host_pid), read_fds(host_pid)
            imgs = self.checkpoint(kill=True)
            rc = p.wait(timeout=30)
            # launch execs the program (-9); restart reports it as 128 + 9
            assert rc in (-signal.SIGKILL, 128 + signal.SIGKILL), (f"after checkpoint --kill the program ended with "
                                           f"{rc}, not SIGKILL\n{self.describe_all()}")
            if checkpointed:
                checkpointed(self, i, imgs)
            p = self.restart(imgs)
            self.wait_registered(nprocs=nprocs, proc=p)
            host_pid = self.restored_host_pid(p, root)
            self.compare_process(host_pid, maps0 if same_maps else None, fds0,
                                 f"restart {i + 1}")
            if between:
                between(self, i, imgs, p)
        verify.touch()
        rc = p.wait(timeout=timeout)
        text = out.read_text(errors="replace")
        assert "PASS" in text and rc == 0, (f"{name}: exit {rc}, output:\n{text}\n"
                                            f"{self.describe_all()}")
        assert "FAIL" not in text, text
        assert text.count("ready") == 1, f"ready printed more than once:\n{text}"
        return text

    def wait_killed(self, proc, timeout=30):
        """After `checkpoint --kill`: the program (launch execs it) or restart
        (which reports it as 128 + 9) ended by SIGKILL, nothing else."""
        rc = proc.wait(timeout=timeout)
        assert rc in (-signal.SIGKILL, 128 + signal.SIGKILL), (
            f"after checkpoint --kill the program ended with {rc}, not SIGKILL\n"
            f"{self.describe_all()}")

    def restored_host_pid(self, restart_proc, pid):
        """Host PID of the restored process that sees itself as pid."""
        for d in _descendants(restart_proc.pid):
            ns = nspid(d)
            if len(ns) > 1 and ns[-1] == pid:
                return d
        pytest.fail(f"no process with PID {pid} in the restart's namespace\n"
                    f"{self.describe_all()}")

    def compare_process(self, host_pid, maps0, fds0, what):
        """The restored process has the memory map and descriptors it had at
        the checkpoint (zdtm compares /proc/PID/maps and fds the same way);
        maps0 None: the descriptors only."""
        maps1 = anon_view(read_maps(host_pid)) if maps0 is not None else None
        maps0 = anon_view(maps0) if maps0 is not None else None
        if maps0 != maps1:
            a = set(maps0) - set(maps1)
            b = set(maps1) - set(maps0)
            fmt = lambda m: "\n".join("  %s-%s %s %s %s" % x for x in sorted(m))
            pytest.fail(f"{what}: /proc/PID/maps differs from the checkpoint's\n"
                        f"only before:\n{fmt(a)}\nonly after:\n{fmt(b)}")
        fds1 = read_fds(host_pid)
        assert sorted(fds0) == sorted(fds1), f"{what}: fds {sorted(fds1)}, were {sorted(fds0)}"
        for fd, target in fds0.items():
            if target.startswith("/") and not target.startswith("/dev/"):
                assert fds1[fd] == target, f"{what}: fd {fd} is {fds1[fd]}, was {target}"

    # ---- cleanup -----------------------------------------------------------
    def kill_procs(self):
        """Kill what this test started (by process group) and wait for it."""
        for p in self.procs:
            if p.popen.poll() is None:
                try:
                    os.killpg(p.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def cleanup(self):
        try:
            subprocess.run([str(STASIS), "kill", "-p", str(self.port)], env=self.env,
                           capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.kill_procs()
        # Whatever is left (the coordinator daemon, processes of a PID namespace)
        # was started by us and is our descendant, since we are a subreaper.
        kill_descendants()


@pytest.fixture
def st(tmp_path):
    if not STASIS.exists() or not RUNTIME.exists():
        pytest.fail(f"{STASIS} or {RUNTIME} missing: run 'make -j2' first")
    s = Stasis(tmp_path)
    try:
        yield s
    finally:
        s.cleanup()
