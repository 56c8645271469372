"""redis-server (Debian package redis-server) under Stasis: launched with its
default configuration apart from the port (and no snapshots or AOF, so that
the test owns every file it writes), filled with 10000 keys of every type,
some with TTLs, then twice checkpointed, killed and restarted. After each
restart every key is there with its value, TTLs went on counting (keys that
expired in between are gone, the others' remaining time shrank), new clients
connect, writes go on, a fork (BGSAVE) works, and the server's threads
(bio_*, jemalloc's background thread) are back. A client connection open
across the checkpoint is reset or closed (the documented behaviour for TCP
connections) and the server frees it; that client reconnects."""

import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import os

import pytest

from conftest import _children_of, free_port, read_fds, read_maps

REDIS = shutil.which("redis-server")
if REDIS is None and os.environ.get("STASIS_CI"):  # .ci/run installs it: never skip there
    pytest.fail("redis-server is not installed, and CI must run these tests", pytrace=False)
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed "
                                "(Debian package redis-server)")

NKEYS = 10000
LONG_TTL = 100000  # seconds: these keys must survive and their TTL must shrink
SHORT_TTL_MS = 1500  # these keys are set just before a checkpoint and must expire after it


class RedisError(Exception):
    pass


class Client:
    """A minimal RESP2 client: enough to pipeline commands and parse replies
    (no Python redis module needed)."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        self.f.close()
        self.sock.close()

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def line(self):
        s = self.f.readline()
        if not s.endswith(b"\r\n"):
            raise ConnectionError(f"connection closed mid-reply ({s!r})")
        return s[:-2]

    def reply(self):
        s = self.line()
        kind, rest = s[:1], s[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            if len(data) != n + 2:
                raise ConnectionError("connection closed mid-reply")
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"bad reply {s!r}")

    def pipeline(self, cmds, chunk=1000):
        """Send cmds in chunks, return every reply; an error reply fails."""
        res = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.sock.sendall(b"".join(self.encode(c) for c in part))
            res.extend(self.reply() for _ in part)
        errs = [(c, r) for c, r in zip(cmds, res) if isinstance(r, RedisError)]
        assert not errs, f"redis errors: {errs[:5]}"
        return res

    def call(self, *args):
        return self.pipeline([args])[0]


def make_data(seed=1):
    """NKEYS keys of five types: {key: (type, value, ttl or None)}. A few
    are big enough for redis's large encodings (hashtable, skiplist, quicklist
    of several nodes), the rest stay in the compact ones (listpack, intset)."""
    rnd = random.Random(seed)
    data = {}
    for i in range(NKEYS):
        kind = ("string", "list", "hash", "set", "zset")[i % 5]
        big = i % 997 == 0
        n = 300 if big else rnd.randint(1, 8)
        if kind == "string":
            val = (b"v%d-" % i) * rnd.randint(1, 300 if big else 4)
        elif kind == "list":
            val = [b"e%d.%d" % (i, j) for j in range(n)]
        elif kind == "hash":
            val = {b"f%d" % j: b"%d" % rnd.randint(0, 1 << 40) for j in range(n)}
        elif kind == "set":
            ints = i % 2 == 0
            val = {(b"%d" % (j * 7) if ints else b"m%d.%d" % (i, j)) for j in range(n)}
        else:
            val = {b"z%d.%d" % (i, j): float(rnd.randint(-1000, 1000)) / 4 for j in range(n)}
        ttl = LONG_TTL if i % 10 == 3 else None
        data[b"%s:%d" % (kind.encode(), i)] = (kind, val, ttl)
    return data


def write_cmds(key, kind, val, ttl):
    if kind == "string":
        cmds = [("SET", key, val)]
    elif kind == "list":
        cmds = [("RPUSH", key, *val)]
    elif kind == "hash":
        cmds = [("HSET", key, *[x for kv in sorted(val.items()) for x in kv])]
    elif kind == "set":
        cmds = [("SADD", key, *sorted(val))]
    else:
        cmds = [("ZADD", key, *[x for m, s in sorted(val.items()) for x in (repr(s), m)])]
    if ttl:
        cmds.append(("EXPIRE", key, ttl))
    return cmds


def read_cmd(key, kind):
    return {"string": ("GET", key), "list": ("LRANGE", key, 0, -1), "hash": ("HGETALL", key),
            "set": ("SMEMBERS", key), "zset": ("ZRANGE", key, 0, -1, "WITHSCORES")}[kind]


def decode(kind, r):
    if kind in ("string", "list"):
        return r
    if kind == "hash":
        return dict(zip(r[0::2], r[1::2]))
    if kind == "set":
        return set(r)
    return {m: float(s) for m, s in zip(r[0::2], r[1::2])}


def load(c, data):
    c.pipeline([cmd for k, (t, v, ttl) in data.items() for cmd in write_cmds(k, t, v, ttl)])


def verify(c, data):
    """Every key of data has its type and value; returns {key: pttl} of the
    keys that have a TTL (all must still have one)."""
    keys = list(data)
    got = c.pipeline([read_cmd(k, data[k][0]) for k in keys])
    bad = [k for k, r in zip(keys, got) if decode(data[k][0], r) != data[k][1]]
    assert not bad, f"{len(bad)} keys differ, e.g. {bad[:5]}"
    types = c.pipeline([("TYPE", k) for k in keys])
    assert all(t == data[k][0] for k, t in zip(keys, types))
    with_ttl = [k for k in keys if data[k][2]]
    pttls = c.pipeline([("PTTL", k) for k in with_ttl])
    ttl = dict(zip(with_ttl, pttls))
    lost = [k for k, t in ttl.items() if not 0 < t <= LONG_TTL * 1000]
    assert not lost, f"keys lost their TTL: {[(k, ttl[k]) for k in lost[:5]]}"
    none = c.pipeline([("PTTL", k) for k in keys if not data[k][2]][:500])
    assert set(none) == {-1}, "keys without a TTL got one"
    return ttl


def wait_until(what, fn, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)


def connect(port, timeout=20):
    """A new client once the server answers PING (it listens again)."""
    def attempt():
        try:
            c = Client(port)
            if c.call("PING") == "PONG":
                return c
            c.close()
        except OSError:
            pass
        return None
    return wait_until(f"redis on port {port} answering PING", attempt, timeout)


def threads(pid):
    return sorted((t / "comm").read_text().strip()
                  for t in Path(f"/proc/{pid}/task").iterdir())


def info(c, section):
    text = c.call("INFO", section).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def connections(pid, fds):
    """Those of fds (of pid) that are sockets but not TCP listening sockets:
    client connections (and the runtime's to the coordinator)."""
    listening = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":  # TCP_LISTEN
                listening.add(f"socket:[{f[9]}]")
    return {fd for fd, t in fds.items() if t.startswith("socket:") and t not in listening}


def compare_process(pid, maps0, fds0, conns, what):
    """The memory map is the checkpoint's, and so are the descriptors, but for
    the client connections: restored reset, the server may have closed them."""
    maps1 = read_maps(pid)
    assert maps1 == maps0, f"{what}: /proc/PID/maps differs: only before " \
        f"{sorted(set(maps0) - set(maps1))}, only after {sorted(set(maps1) - set(maps0))}"
    fds1 = read_fds(pid)
    assert set(fds1) - conns == set(fds0) - conns, f"{what}: fds {sorted(fds1)}, were " \
        f"{sorted(fds0)} (connections {sorted(conns)})"
    for fd in set(fds0) - conns:
        if fds0[fd].startswith("/"):
            assert fds1[fd] == fds0[fd], f"{what}: fd {fd} is {fds1[fd]}, was {fds0[fd]}"


def launch_redis(st, port):
    out = st.tmp / "redis.out"
    p = st.launch(REDIS, "--port", port, "--save", "", "--appendonly", "no", out=out)
    st.wait_for(out, "Ready to accept connections", proc=p)
    st.wait_registered(proc=p)
    return p


def test_redis_keys_ttls_clients_two_restarts(st):
    port = free_port()
    p = launch_redis(st, port)
    root = host_pid = p.pid
    c = connect(port)
    data = make_data()
    load(c, data)
    assert c.call("DBSIZE") == NKEYS
    ttl0 = verify(c, data)
    c.close()
    assert "jemalloc_bg_thd" in threads(host_pid), threads(host_pid)

    for cycle in range(2):
        threads0 = threads(host_pid)
        c = connect(port)
        # short-lived keys: some in db 0 (read after the restart: expired
        # lazily), 50 alone in db 1 (removed by the server's cron, untouched)
        short = [b"short:%d:%d" % (cycle, i) for i in range(50)]
        c.pipeline([("SET", k, "x", "PX", SHORT_TTL_MS) for k in short[:5]] + [("SELECT", 1)] +
                   [("SET", k, "x", "PX", SHORT_TTL_MS) for k in short] + [("SELECT", 0)])
        set_at = time.monotonic()
        held = Client(port)  # stays open across the checkpoint
        assert held.call("PING") == "PONG"
        c.close()
        # the server saw the first client leave: `held` and the probe remain
        probe = connect(port)
        wait_until("two clients connected",
                   lambda: info(probe, "clients")["connected_clients"] == "2")
        probe.close()
        maps0, fds0 = read_maps(host_pid), read_fds(host_pid)
        conns = connections(host_pid, fds0)
        assert conns, "the client connection open across the checkpoint is not in the server"

        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 1, imgs
        rc = p.wait(30)
        assert rc in (-signal.SIGKILL, 128 + signal.SIGKILL), st.describe_all()
        p = st.restart(imgs)
        st.wait_registered(proc=p)
        host_pid = st.restored_host_pid(p, root)
        compare_process(host_pid, maps0, fds0, conns, f"restart {cycle + 1}")
        assert threads(host_pid) == threads0, "the server's threads differ after restart"

        # the connection that was open is reset or closed; it reconnects
        with pytest.raises((ConnectionError, OSError)):
            held.call("PING")
            held.call("PING")
        held.close()
        c = connect(port)
        # the server freed its restored (reset) side of that connection
        wait_until("the reset client freed", lambda: info(c, "clients")
                   ["connected_clients"] == "1")

        ttl = verify(c, data)
        shrank = [k for k in ttl if k in ttl0 and ttl[k] >= ttl0[k]]
        assert not shrank, f"TTLs did not go on counting: {shrank[:5]}"
        ttl0 = ttl
        # the short-lived keys expire once their time is over, time that went
        # on while the server was dead
        elapsed_ms = (time.monotonic() - set_at) * 1000
        left = c.pipeline([("PTTL", k) for k in short[:5]])
        assert all(t == -2 or 0 < t <= SHORT_TTL_MS - elapsed_ms + 50 for t in left), \
            f"short TTLs {left} after {elapsed_ms:.0f} ms of {SHORT_TTL_MS}"
        wait_until("short TTLs elapsed", lambda: time.monotonic() > set_at + SHORT_TTL_MS / 1000)
        assert c.pipeline([("GET", k) for k in short[:5]]) == [None] * 5
        assert c.call("DBSIZE") == len(data)
        c.call("SELECT", 1)
        wait_until("expired keys of db 1 removed by the server's cron",
                   lambda: c.call("DBSIZE") == 0)
        c.call("SELECT", 0)

        # writes go on, and are there after the next restart
        more = make_data(seed=100 + cycle)
        more = {b"after%d:" % cycle + k: v for k, v in list(more.items())[:1000]}
        load(c, more)
        data.update(more)
        assert c.call("INCRBY", "counter", 10) == 10 * (cycle + 1)
        data[b"counter"] = ("string", b"%d" % (10 * (cycle + 1)), None)
        assert c.call("DBSIZE") == len(data)
        c.close()

    # the restored bio_lazy_free thread works: UNLINK of big keys hands
    # their freeing to it
    c = connect(port)
    # (sets, hashes and sorted sets of 300 members in a hash table or skiplist:
    # smaller ones, and intsets, are freed at once)
    keys = [k for k, (t, v, _) in data.items() if t in ("hash", "set", "zset") and len(v) >= 300]
    encs = c.pipeline([("OBJECT", "ENCODING", k) for k in keys])
    big = [k for k, e in zip(keys, encs) if e in (b"hashtable", b"skiplist")]
    assert len(big) >= 3, list(zip(keys, encs))
    freed = int(info(c, "memory")["lazyfreed_objects"])
    assert c.pipeline([("UNLINK", k) for k in big]) == [1] * len(big)
    wait_until(f"{len(big)} big keys freed by the bio_lazy_free thread",
               lambda: int(info(c, "memory")["lazyfreed_objects"]) == freed + len(big))
    for k in big:
        del data[k]

    # a fork of the restored server works: BGSAVE writes a snapshot
    before = c.call("LASTSAVE")
    assert c.call("BGSAVE") in ("Background saving started", "Background saving scheduled")
    wait_until("BGSAVE finished", lambda: c.call("LASTSAVE") != before and
               info(c, "persistence")["rdb_bgsave_in_progress"] == "0", timeout=30)
    assert info(c, "persistence")["rdb_last_bgsave_status"] == "ok"
    assert (st.tmp / "dump.rdb").stat().st_size > 100000
    verify(c, data)
    c.sock.sendall(Client.encode(("SHUTDOWN", "NOSAVE")))
    assert p.wait(30) == 0, st.describe_all()


def bgsave_running(c):
    return info(c, "persistence")["rdb_bgsave_in_progress"] == "1"


def test_redis_checkpoint_during_bgsave(st):
    """A checkpoint taken while BGSAVE's child writes the snapshot (slowed
    down by rdb-key-save-delay) holds both processes; after each restart the
    child goes on writing where it was, the server reaps it and records the
    save as done, and the file holds every key. Twice."""
    port = free_port()
    p = launch_redis(st, port)
    root = p.pid
    c = connect(port)
    data = make_data(seed=7)
    load(c, data)
    c.call("CONFIG", "SET", "rdb-key-save-delay", 200)  # microseconds a key: 2 s in all
    for cycle in range(2):
        saves = int(info(c, "persistence")["rdb_saves"])
        assert c.call("BGSAVE") == "Background saving started"
        wait_until("the BGSAVE child joined", lambda: st.status()["nprocs"] == 2)
        st.wait_registered(nprocs=2, proc=p)
        assert bgsave_running(c), "BGSAVE ended before the checkpoint: nothing tested"
        c.close()
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 2, imgs
        st.wait_killed(p)
        p = st.restart(imgs)
        st.wait_registered(nprocs=2, proc=p)
        server = st.restored_host_pid(p, root)
        kids = [k for k in _children_of(server)
                if Path(f"/proc/{k}/cmdline").read_bytes().startswith(b"redis-rdb-bgsave")]
        assert len(kids) == 1, f"the BGSAVE child is not the restored server's child: {kids}"
        c = connect(port)
        assert bgsave_running(c), "the restored server does not know its BGSAVE child"
        wait_until("the restored BGSAVE finished", lambda: not bgsave_running(c), timeout=60)
        persistence = info(c, "persistence")
        assert persistence["rdb_last_bgsave_status"] == "ok", persistence
        assert int(persistence["rdb_saves"]) == saves + 1, persistence
        check = subprocess.run(["redis-check-rdb", str(st.tmp / "dump.rdb")],
                               capture_output=True, text=True, timeout=60)
        assert f"{len(data)} keys read" in check.stdout, check.stdout + check.stderr
        verify(c, data)
        more = {b"bg%d:%d" % (cycle, i): ("string", b"x%d" % i, None) for i in range(100)}
        load(c, more)
        data.update(more)
    c.close()


def test_redis_appendonly_two_restarts(st):
    """redis with an append-only file: after each restart the server goes on
    appending to its AOF (a file open for append at checkpoint time), and
    rewrites it in a child (BGREWRITEAOF); at the end a redis-server started
    natively on that AOF loads every key."""
    port = free_port()
    out = st.tmp / "redis.out"
    p = st.launch(REDIS, "--port", port, "--save", "", "--appendonly", "yes", out=out)
    st.wait_for(out, "Ready to accept connections", proc=p)
    st.wait_registered(proc=p)
    c = connect(port)
    data = dict(list(make_data(seed=3).items())[:3000])
    load(c, data)
    c.close()
    for cycle in range(2):
        imgs = st.checkpoint(kill=True)
        st.wait_killed(p)
        p = st.restart(imgs)
        st.wait_registered(proc=p)
        c = connect(port)
        verify(c, data)
        more = {b"aof%d:%d" % (cycle, i): ("list", [b"a", b"%d" % i], None) for i in range(500)}
        load(c, more)
        data.update(more)
        rewrites = int(info(c, "persistence")["aof_rewrites"])
        assert c.call("BGREWRITEAOF").startswith("Background append only file rewriting")
        wait_until("BGREWRITEAOF finished", lambda: int(info(c, "persistence")["aof_rewrites"])
                   == rewrites + 1 and info(c, "persistence")["aof_rewrite_in_progress"] == "0",
                   timeout=30)
        assert info(c, "persistence")["aof_last_bgrewrite_status"] == "ok"
        load(c, {b"tail%d" % cycle: ("string", b"after the rewrite", None)})
        data[b"tail%d" % cycle] = ("string", b"after the rewrite", None)
        c.close()
    c = connect(port)
    c.sock.sendall(Client.encode(("SHUTDOWN",)))
    assert p.wait(30) == 0, st.describe_all()
    # a native server loads the AOF the restored ones wrote
    port2 = free_port()
    log = open(st.tmp / "native.out", "wb")
    native = subprocess.Popen([REDIS, "--port", str(port2), "--save", "", "--appendonly", "yes"],
                              cwd=st.tmp, stdout=log, stderr=log, start_new_session=True)
    try:
        c = connect(port2)
        assert c.call("DBSIZE") == len(data)
        verify(c, data)
        c.close()
    finally:
        native.kill()
        native.wait()


def repl_synced(master, replica):
    m, r = info(master, "replication"), info(replica, "replication")
    return r.get("master_link_status") == "up" and \
        r.get("slave_repl_offset") == m.get("master_repl_offset")


def test_redis_replica_link_survives_two_restarts(st):
    """A master and its replica, both launched into one computation: the
    replication link (a TCP connection between two of its processes) comes
    back connected after each restart, so the replica never syncs again
    (neither full nor partial); writes made afterwards reach the replica."""
    mport, rport = free_port(), free_port()
    p = launch_redis(st, mport)
    rdir = st.tmp / "replica"
    rdir.mkdir()
    rout = st.tmp / "replica.out"
    rp = st.launch(REDIS, "--port", rport, "--save", "", "--appendonly", "no", "--dir", rdir,
                   "--replicaof", "127.0.0.1", mport, out=rout)
    st.wait_for(rout, "MASTER <-> REPLICA sync: Finished with success", proc=p, timeout=60)
    st.wait_registered(nprocs=2, proc=p)
    master = connect(mport)
    replica = connect(rport)
    data = dict(list(make_data(seed=5).items())[:5000])
    load(master, data)
    wait_until("the replica caught up", lambda: repl_synced(master, replica))
    master.close()
    replica.close()
    for cycle in range(2):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 2, imgs
        st.wait_killed(p)
        if rp:  # launched on its own: gone (and its port free) before the restart
            st.wait_killed(rp)
            rp = None
        p = st.restart(imgs)
        st.wait_registered(nprocs=2, proc=p)
        master, replica = connect(mport), connect(rport)
        wait_until("the replica linked again", lambda: repl_synced(master, replica), timeout=30)
        stats = info(master, "stats")
        assert (stats["sync_full"], stats["sync_partial_ok"]) == ("1", "0"), stats
        more = {b"r%d:%d" % (cycle, i): ("hash", {b"f": b"%d" % i}, None) for i in range(500)}
        load(master, more)
        data.update(more)
        wait_until("the replica caught up", lambda: repl_synced(master, replica))
        assert replica.call("DBSIZE") == len(data)
        verify(replica, data)
        master.close()
        replica.close()


def test_redis_unix_socket_client_from_outside(st):
    """redis listening on a Unix socket too, with a client from outside the
    computation connected to it at checkpoint time (with a write held back by
    CLIENT PAUSE): the checkpoint is taken, the connection comes back closed by
    its peer and the server frees it (the held write is never done); the client
    sees its connection end, and connects again through the socket's path.
    Twice."""
    port = free_port()
    path = st.tmp / "redis.sock"
    out = st.tmp / "redis.out"
    p = st.launch(REDIS, "--port", port, "--save", "", "--appendonly", "no",
                  "--unixsocket", path, out=out)
    st.wait_for(out, "Ready to accept connections", proc=p)
    st.wait_registered(proc=p)
    root = p.pid

    def unix_client():
        c = Client.__new__(Client)
        c.sock = socket.socket(socket.AF_UNIX)
        c.sock.settimeout(20)
        c.sock.connect(str(path))
        c.f = c.sock.makefile("rb")
        return c

    c = unix_client()
    c.call("SET", "k", "v0")
    for cycle in range(2):
        held = unix_client()
        assert held.call("PING") == "PONG"
        wait_until("two unix clients", lambda: info(c, "clients")["connected_clients"] == "2")
        c.close()
        # held back by the pause: dropped with its client
        held.call("CLIENT", "PAUSE", 100000, "WRITE")
        held.sock.sendall(Client.encode(("SET", "unread", cycle)))
        imgs = st.checkpoint(kill=True)
        st.wait_killed(p)
        with pytest.raises((ConnectionError, OSError)):
            held.call("PING")
        held.close()
        p = st.restart(imgs)
        st.wait_registered(proc=p)
        fds = read_fds(st.restored_host_pid(p, root))
        assert any(t.startswith("socket:") for t in fds.values()), fds
        c = unix_client()
        wait_until("the closed connection freed",
                   lambda: info(c, "clients")["connected_clients"] == "1")
        c.call("CLIENT", "UNPAUSE")
        assert c.call("GET", "k") == b"v%d" % cycle
        assert c.call("GET", "unread") is None
        c.call("SET", "k", "v%d" % (cycle + 1))
    c.close()
