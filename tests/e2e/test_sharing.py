"""Open file descriptions shared across the whole computation: a description
held by several processes comes back as one description, whoever the holders
are (siblings that passed it with SCM_RIGHTS, siblings that kept it after
their parent closed it, a grandparent and a grandchild whose parent closed it),
across two checkpoint --kill / restart cycles. Each program checks after the
restarts that a change made through one holder (an offset, status flags, a
timer's setting, an epoll's interest list, expirations read) is seen through
the others, which separate descriptions would not show."""

import resource

import pytest

from conftest import program, reseal, section


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


@pytest.mark.parametrize("nproc,ndesc", [(12, 600), (4, 3000)])
def test_many_processes_many_descriptions(st, nproc, ndesc):
    """12 processes sharing 600 descriptions of one file in every way
    (share_many.c: inherited by all, by a subtree, from a grandparent through a
    parent that closed them, passed between two processes, dup'ed): after two
    cycles each is one description held by exactly its holders, and no two
    are one (the sharing pass's union, runtime/fd_union.c). 4 processes with
    3000: over 2048 descriptors each, sorted in two halves at once
    (runtime/fd_order.c), dups across the halves."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard >= 3 * ndesc + 64, f"RLIMIT_NOFILE hard limit {hard}: this test needs {3 * ndesc + 64}"
    d = st.tmp / "many"
    d.mkdir()
    st.zdtm("share_many", d, nproc, ndesc, nprocs=nproc)


# ---- the images: what they record, and records that do not hold together ----

SHARE_SIZE = 16  # struct img_share: fd, owner_pid, owner_fd, reserved (docs/format.md)


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
    return {j["pid"]: (img, j) for img in imgs for j in [st.inspect(img)]}


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


def rewrite_share(st, path, fn):
    """Apply fn to each shared description record of the image at path
    (fd, owner_pid, owner_fd, reserved in; the same out), with every checksum
    made right again: only the records are wrong."""
    info = st.inspect(path)
    at = section(info, "shares")["offset"]
    data = bytearray(open(path, "rb").read())
    for k, r in enumerate(info["shares"]):
        rec = fn((r["fd"], r["owner_pid"], r["owner_fd"], 0))
        data[at + k * SHARE_SIZE:at + (k + 1) * SHARE_SIZE] = b"".join(
            (v & 0xffffffff).to_bytes(4, "little") for v in rec)
    reseal(data, info)
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
    rewrite_share(st, img, lambda r: (r[0], r[1], r[2], 7))  # reserved must be 0
    restart_refused(st, [i for i, _ in by_pid.values()],
                    [img, "is corrupt", "shared description record"])


def test_images_that_disagree_refused(st):
    """A holder names an owner whose image does not hold that descriptor."""
    by_pid = rights_images(st)
    kids = sorted(pid for pid, (_, j) in by_pid.items() if j["shares"])
    img = by_pid[kids[-1]][0]
    rewrite_share(st, img, lambda r: (r[0], r[1], r[2] + 1000, r[3]))
    restart_refused(st, [i for i, _ in by_pid.values()],
                    ["the images do not agree", "take a new checkpoint"])
