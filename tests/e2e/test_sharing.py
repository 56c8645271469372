"""Open file descriptions shared across the whole computation: a description
held by several processes comes back as one description, whoever the holders
are (siblings that passed it with SCM_RIGHTS, siblings that kept it after
their parent closed it, a grandparent and a grandchild whose parent closed it),
across two checkpoint --kill / restart cycles. Each program checks after the
restarts that a change made through one holder (an offset, status flags, a
timer's setting, an epoll's interest list, expirations read) is seen through
the others, which separate descriptions would not show."""

import ctypes
import json
import struct

from conftest import program


def test_file_passed_between_siblings(st):
    d = st.tmp / "rights"
    d.mkdir()
    st.zdtm("share_rights", d, nprocs=3)


def test_event_fds_kept_by_siblings(st):
    st.zdtm("share_event", nprocs=3)


def test_file_from_grandparent_through_closing_parent(st):
    d = st.tmp / "grand"
    d.mkdir()
    st.zdtm("share_grand", d, nprocs=3)


# ---- the images: what they record, and records that do not hold together ----

HDR = struct.Struct("<8sII Q Q IIII QQQQ 40s Q")  # image/format.h struct img_header
SECTION = struct.Struct("<IIQQQ")  # struct img_section
SHARE = struct.Struct("<iIiI")  # struct img_share
IMG_SEC_SHARES = 17

_xxh = ctypes.CDLL("libxxhash.so.0")
_xxh.XXH3_64bits.restype = ctypes.c_uint64
_xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def xxh3(data):
    return _xxh.XXH3_64bits(bytes(data), len(data))


def inspect(st, img):
    r = st.stasis("inspect", "--json", img)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rights_images(st):
    """share_rights at "ready", checkpointed with --kill: {pid: (image, inspect)}."""
    d = st.tmp / "rights"
    d.mkdir()
    out = st.tmp / "rights.out"
    p = st.launch(program("share_rights"), st.tmp / "verify", d, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=3, proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    return {j["pid"]: (img, j) for img in imgs for j in [inspect(st, img)]}


def test_images_name_one_owner(st):
    """The two children record the file they both hold under the same owner,
    the lower of their (pid, fd); the parent, which never held it, records
    nothing for it."""
    by_pid = rights_images(st)
    parent = next(pid for pid, (_, j) in by_pid.items() if j["ppid"] not in by_pid)
    kids = sorted(pid for pid in by_pid if pid != parent)
    files = {}
    for pid in kids:
        j = by_pid[pid][1]
        fd = next(f["fd"] for f in j["fds"] if f["path"].endswith("/rights/data"))
        rec = [s for s in j["shares"] if s["fd"] == fd]
        assert len(rec) == 1, j["shares"]
        files[pid] = (fd, rec[0]["owner_pid"], rec[0]["owner_fd"])
    a, b = kids
    owner = (a, files[a][0])  # the lower pid's descriptor
    assert files[a][1:] == owner and files[b][1:] == owner, files
    pj = by_pid[parent][1]
    assert not any(f["path"].endswith("/rights/data") for f in pj["fds"]), pj["fds"]


def rewrite_share(path, fn):
    """Apply fn to each img_share of the image at path (a tuple in, a tuple
    out), with every checksum made right again: only the records are wrong."""
    data = bytearray(open(path, "rb").read())
    h = HDR.unpack_from(data, 0)
    nsections, table_off = h[8], h[9]
    for i in range(nsections):
        at = table_off + i * SECTION.size
        typ, flags, off, size, _ = SECTION.unpack_from(data, at)
        if typ != IMG_SEC_SHARES:
            continue
        for k in range(size // SHARE.size):
            rec = SHARE.unpack_from(data, off + k * SHARE.size)
            SHARE.pack_into(data, off + k * SHARE.size, *fn(rec))
        SECTION.pack_into(data, at, typ, flags, off, size, xxh3(data[off:off + size]))
        break
    else:
        raise AssertionError(f"{path} has no shares section")
    table = data[table_off:table_off + nsections * SECTION.size]
    struct.pack_into("<Q", data, 72, xxh3(table))
    s = xxh3(data[:120])
    struct.pack_into("<Q", data, 120, s)
    struct.pack_into("<Q", data, len(data) - 32 + 16, s)  # the trailer's copy
    open(path, "wb").write(data)


def restart_refused(st, imgs, words):
    r = st.restart(imgs)
    rc = r.wait(60)
    err = r.err.read_text()
    assert rc == 1, f"restart exited {rc}: {err!r}\n{st.describe_all()}"
    assert all(w in err for w in words), err


def test_invalid_share_record_refused(st):
    by_pid = rights_images(st)
    kid = max(pid for pid, (_, j) in by_pid.items() if j["shares"])
    img = by_pid[kid][0]
    rewrite_share(img, lambda r: (r[0], r[1], r[2], 7))  # reserved must be 0
    restart_refused(st, [i for i, _ in by_pid.values()],
                    [img, "is corrupt", "shared description record"])


def test_images_that_disagree_refused(st):
    """A holder names an owner whose image does not hold that descriptor."""
    by_pid = rights_images(st)
    kids = sorted(pid for pid, (_, j) in by_pid.items() if j["shares"])
    img = by_pid[kids[-1]][0]
    rewrite_share(img, lambda r: (r[0], r[1], r[2] + 1000, r[3]))
    restart_refused(st, [i for i, _ in by_pid.values()],
                    ["the images do not agree", "take a new checkpoint"])
