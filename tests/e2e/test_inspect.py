"""stasis inspect prints every record of every section: each descriptor with
its kind's record (image/kinds/), the files, shared descriptions, locks,
zombies and IPC objects, the regions and chunks, the header and the section
table, as text and as JSON; the counts agree with the sections' sizes."""
import pytest

from conftest import program, section

# bytes of one record of each section that holds records (docs/format.md)
RECORD_SIZE = {"threads": 144, "vmas": 48, "chunks": 40, "fds": 40, "files": 56,
               "zombies": 24, "locks": 32, "shares": 16, "ipc": 56, "origin": 32}
JSON_KEY = {"chunks": "memory_chunks"}
# a field each kind's record has (image/kinds/fd_KIND.c describe)
RECORD_FIELD = {"file": "path", "dir": "path", "chardev": "path", "pipe": "capacity",
                "stdio": "std", "unix": "sock_type", "fifo": "path", "inet": "local",
                "eventfd": "count", "timerfd": "interval_ns", "signalfd": "signals",
                "epoll": "items", "inotify": "watches", "pidfd": "pid", "memfd": "offset",
                "mqueue": "messages", "pty-master": "index", "pty-slave": "index",
                "tty": "index"}


def images_of(st, name, *args, nprocs=1):
    """NAME's images at "ready", checkpointed with --kill, as inspect prints them."""
    out = st.tmp / f"{name}.out"
    p = st.launch(program(name), st.tmp / "verify", *args, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=nprocs, proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    assert len(imgs) == nprocs, imgs
    return [(img, st.inspect(img)) for img in imgs]


def check_every_record(info):
    """Every record of each section is printed, and each descriptor of a
    kind with a record has it (a dup's is its lowest's)."""
    for s in info["sections"]:
        if s["name"] in RECORD_SIZE:
            n = s["size"] // RECORD_SIZE[s["name"]]
            assert len(info[JSON_KEY.get(s["name"], s["name"])]) == n, s
    assert len(info["sigactions"]) == section(info, "sigact")["size"] // 32
    for d in info["fds"]:
        if d["share"] < 0 and d["type"] in RECORD_FIELD:
            assert RECORD_FIELD[d["type"]] in d["record"], d


CASES = [
    ("ev_eventfd", (), 1, "eventfd"),
    ("ev_timerfd", (), 1, "timerfd"),
    ("ev_signalfd", (), 1, "signalfd"),
    ("ev_epoll", (), 1, "epoll"),
    ("ev_inotify", (), 1, "inotify"),
    ("ev_pidfd", (), 2, "pidfd"),
    ("ipc_mq", (), 2, "mqueue"),
    ("pty_queues", (), 2, "pty-master"),
]


@pytest.mark.parametrize("name,args,nprocs,kind", CASES, ids=[c[0] for c in CASES])
def test_descriptor_records(st, name, args, nprocs, kind):
    images = images_of(st, name, *args, nprocs=nprocs)
    for _, info in images:
        check_every_record(info)
    assert any(d["type"] == kind for _, i in images for d in i["fds"]), [
        d["type"] for _, i in images for d in i["fds"]]


def test_sockets_and_fifos(st):
    d = st.tmp / "socks"
    d.mkdir()
    images = images_of(st, "sock_unix", d, nprocs=2)
    for _, info in images:
        check_every_record(info)
    socks = [f["record"] for _, i in images for f in i["fds"] if f["type"] == "unix"
             and f["share"] < 0]
    assert {"stream", "dgram", "seqpacket"} <= {s["sock_type"] for s in socks}, socks
    assert any(s["queue"] for s in socks), "no socket with bytes in flight"


def test_locks_zombies_and_ipc(st):
    d = st.tmp / "locks"
    d.mkdir()
    [(_, locks)] = images_of(st, "locks", d)
    check_every_record(locks)
    assert {l["lock"] for l in locks["locks"]} == {"posix", "flock", "ofd"}, locks["locks"]
    [(_, zombies)] = images_of(st, "proc_zombie")
    check_every_record(zombies)
    assert sorted((z["code"], z["status"]) for z in zombies["zombies"]) == \
        [("exited", 7), ("killed", 9), ("killed", 10)], zombies["zombies"]
    ipc = images_of(st, "ipc_sysv", nprocs=2)
    for _, info in ipc:
        check_every_record(info)
    assert {o["ipc"] for _, i in ipc for o in i["ipc"]} == {"shm", "sem", "msg"}, ipc


def test_text_prints_every_block(st):
    """As text: the summary, then a block per section of records."""
    [(img, info)] = images_of(st, "ev_eventfd")
    r = st.stasis("inspect", img)
    assert r.returncode == 0, r.stderr
    for title in ("header", "sections", "process", "threads", "signal actions not SIG_DFL",
                  "file descriptors", "files", "memory regions", "memory chunks"):
        assert f"\n{title}" in r.stdout, title
    line = next(l for l in r.stdout.splitlines() if "type=\"eventfd\"" in l)
    assert "record={count=" in line, line
    assert f"memory chunks ({len(info['memory_chunks'])})" in r.stdout
