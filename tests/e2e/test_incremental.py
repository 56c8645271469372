"""Incremental checkpoints: after a full image, each image stores only the
pages written since the previous one and names it as its parent. Restart
resolves the chain; `stasis merge` folds a chain into one image; retention
keeps every image a kept chain needs; a missing or replaced parent is refused
with a message naming it.

The workload (tests/programs/pagemem.c) rewrites 1/16 of its memory per step,
gives pages back with MADV_DONTNEED (they must come back as zeros, not as the
parent's data) and moves a region with mremap; at the end it compares every
word of its memory with what it expects."""
import json
import os
import signal

from conftest import program

MiB = 1 << 20
SIZE = 64  # MiB of memory in pagemem


def start(st, incremental_launch=True, size=SIZE, stride=16, run=1):
    out = st.tmp / "pagemem.out"
    opts = ["--incremental"] if incremental_launch else []
    p = st.launch(program("pagemem"), st.tmp / "verify", size, stride, run, out=out, opts=opts)
    st.wait_for(out, "ready", proc=p, timeout=60)
    st.wait_registered(proc=p)
    return p, out


def step(st, k, out, proc):
    (st.tmp / "verify.step").write_text(str(k))
    st.wait_for(out, f"step {k} done", proc=proc)


def checkpoint(st, kill=False, incremental=True):
    args = ["checkpoint", "-p", st.port] + (["--kill"] if kill else []) + \
        (["--incremental"] if incremental else [])
    r = st.stasis(*args)
    assert r.returncode == 0, f"checkpoint failed: {r.stderr}\n{st.describe_all()}"
    imgs = [l for l in r.stdout.splitlines() if l.endswith(".stasis")]
    assert len(imgs) == 1, r.stdout
    return imgs[0]


def inspect(st, img):
    r = st.stasis("inspect", "--json", img)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def finish(st, proc, out):
    (st.tmp / "verify").touch()
    rc = proc.wait(60)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, f"{text}\n{st.describe_all()}"


def killed(proc):
    assert proc.wait(30) in (-signal.SIGKILL, 128 + signal.SIGKILL)


def chain_of_4(st, size=SIZE, stride=16, run=1):
    """full g1, then g2, g3 (running) and g4 (--kill) incremental"""
    p, out = start(st, size=size, stride=stride, run=run)
    imgs = [checkpoint(st)]
    for k in (1, 2):
        step(st, k, out, p)
        imgs.append(checkpoint(st))
    step(st, 3, out, p)
    imgs.append(checkpoint(st, kill=True))
    killed(p)
    return imgs, out


def test_chain_restart_twice(st):
    imgs, out = chain_of_4(st)
    infos = [inspect(st, i) for i in imgs]
    assert infos[0]["parent"] is None
    for k in (1, 2, 3):
        assert infos[k]["parent"] == imgs[k - 1], infos[k]
        assert infos[k]["chain_depth"] == k
        assert infos[k]["checksums_ok"]
    full = os.path.getsize(imgs[0])
    for i in imgs[1:]:
        # 1/16 of the memory rewritten per step (+ the side region at step 2)
        assert os.path.getsize(i) < full / 6, (os.path.getsize(i), full)
    # cycle 1: restart from the chain
    r = st.restart([imgs[3]])
    st.wait_registered(proc=r)
    second_cycle(st, r, out)


def second_cycle(st, r, out, min_full=0):
    """Steps 4 and 5 of restarted pagemem r: the first image after a restart
    is full (the protections did not survive; at least min_full bytes), the
    next one incremental on it; restarted from that, the memory is exact."""
    step(st, 4, out, r)
    img5 = checkpoint(st)
    assert inspect(st, img5)["parent"] is None
    assert os.path.getsize(img5) > min_full, os.path.getsize(img5)
    step(st, 5, out, r)
    img6 = checkpoint(st, kill=True)
    assert inspect(st, img6)["parent"] == img5
    killed(r)
    r2 = st.restart([img6])
    st.wait_registered(proc=r2)
    finish(st, r2, out)


def test_merge_then_restart(st):
    imgs, out = chain_of_4(st)
    merged = st.tmp / "merged.stasis"
    r = st.stasis("merge", imgs[3], merged)
    assert r.returncode == 0, r.stderr
    info = inspect(st, merged)
    assert info["parent"] is None and info["checksums_ok"]
    assert info["memory_bytes"] == inspect(st, imgs[3])["memory_bytes"]
    # the chain is gone: the merged image stands alone
    for i in imgs:
        os.unlink(i)
    rp = st.restart([merged])
    st.wait_registered(proc=rp)
    finish(st, rp, out)


def test_merge_refuses_to_overwrite_the_chain(st):
    imgs, _ = chain_of_4(st)
    before = open(imgs[1], "rb").read()
    r = st.stasis("merge", imgs[3], imgs[1])
    assert r.returncode != 0 and "chain" in r.stderr, r.stderr
    assert open(imgs[1], "rb").read() == before


def test_missing_parent(st):
    imgs, out = chain_of_4(st)
    os.unlink(imgs[1])
    r = st.stasis("restart", "-p", st.port, imgs[3], timeout=30)
    assert r.returncode != 0
    assert os.path.basename(imgs[1]) in r.stderr and "chain" in r.stderr, r.stderr


def test_replaced_parent(st):
    """A parent whose file was replaced by another valid image is refused."""
    imgs, _ = chain_of_4(st)
    os.replace(imgs[0], imgs[1])  # generation 1 where generation 2 should be
    r = st.stasis("restart", "-p", st.port, imgs[3], timeout=30)
    assert r.returncode != 0
    assert "another image" in r.stderr, r.stderr


def test_corrupt_parent(st):
    """A flipped byte in a parent's memory is found when the chain is read."""
    imgs, _ = chain_of_4(st)
    data = bytearray(open(imgs[0], "rb").read())
    data[len(data) // 3] ^= 0x20  # inside the memory chunks of the full image
    open(imgs[0], "wb").write(data)
    r = st.stasis("inspect", imgs[3])
    assert r.returncode != 0 and "corrupt" in r.stderr + r.stdout, r.stdout + r.stderr
    r = st.stasis("restart", "-p", st.port, imgs[3], timeout=30)
    assert r.returncode != 0
    assert "corrupt" in r.stderr and os.path.basename(imgs[0]) in r.stderr, r.stderr


def test_retention_keeps_the_chain(st):
    """The newest two images and every image their chains need are kept."""
    p, out = start(st, incremental_launch=False)
    g = [checkpoint(st)]  # full, tracking starts
    for k in (1, 2):
        step(st, k, out, p)
        g.append(checkpoint(st))  # incremental on the previous
    assert all(os.path.exists(i) for i in g), "a generation of the chain was removed"
    step(st, 3, out, p)
    g.append(checkpoint(st, incremental=False))  # full: g3's chain is still needed
    assert all(os.path.exists(i) for i in g)
    step(st, 4, out, p)
    g.append(checkpoint(st, incremental=False))  # full: nothing needs g1-g3 any more
    assert [os.path.exists(i) for i in g] == [False, False, False, True, True]
    step(st, 5, out, p)
    g.append(checkpoint(st, kill=True))
    killed(p)
    assert inspect(st, g[5])["parent"] == g[4]
    r = st.restart([g[5]])
    st.wait_registered(proc=r)
    finish(st, r, out)


def test_incremental_size_tracks_dirty_memory(st):
    """A 256 MiB process dirtying 1/16 (16 MiB) between checkpoints writes about
    that much per incremental image."""
    p, out = start(st, size=256)
    checkpoint(st)
    step(st, 1, out, p)
    img = checkpoint(st)
    size = os.path.getsize(img)
    assert 15 * MiB < size < 20 * MiB, size
    step(st, 2, out, p)
    checkpoint(st, kill=True)
    killed(p)


def test_chain_of_fragmented_memory(st):
    """256 MiB where every 25th page is rewritten per step: the written-page
    scan (PAGEMAP_SCAN) returns more runs than its vector holds, in several
    calls. Linux leaves walk_end behind the runs a call returned when an
    internal pass finished the range, and a call from there reported the runs
    again, as not written (just protected): the third image then named pages
    "in the parent" that no image held ("pages ... are in neither"). Each
    image of a chain of four loads, and the last one restarts exactly."""
    imgs, out = chain_of_4(st, size=256, stride=25)
    for img in imgs:
        r = st.stasis("inspect", img)
        assert r.returncode == 0 and "checksums  all verified" in r.stdout, r.stdout + r.stderr
    r = st.restart([imgs[-1]])
    st.wait_registered(proc=r)
    finish(st, r, out)
