"""The image writer's helper thread (runtime/write_pipe.c, image/chunk.c): it
compresses chunks beside the thread that writes them. Images written with it
restart with every byte in place; it never outlives the write (the program
sees no extra thread); STASIS_WRITE_THREADS=1 writes on one thread."""

import os
import re
import resource
import time

import pytest

from conftest import program
from helpers import writes_on

MIB = 48


def memory_stats(st, img):
    """(bytes of memory, bytes stored) that `stasis inspect` reports."""
    r = st.stasis("inspect", img)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^memory\s+(\d+) bytes in \d+ chunks, stored as (\d+) bytes", r.stdout, re.M)
    assert m, r.stdout
    return int(m.group(1)), int(m.group(2))


def check_image(st, img):
    mem, stored = memory_stats(st, img)
    # 8 MiB of text compress to almost nothing; 20 MiB and more are random
    assert stored < mem - 6 * 2**20, f"text blocks not compressed: {stored} of {mem} bytes"
    assert stored > 20 * 2**20, f"random blocks missing: {stored} of {mem} bytes"


@pytest.mark.parametrize("threads", ["2", "1"])
def test_mixed_memory_restarts_twice(st, threads):
    st.env["STASIS_LOG"] = "debug"
    if threads == "1":
        st.env["STASIS_WRITE_THREADS"] = "1"
    helpers = []

    def checkpointed(st, i, imgs):
        check_image(st, imgs[0])
        # the program's stderr, before the restarted program writes there again
        # at the offset it had (over what the checkpoint logged): empty it to see
        # the next checkpoint's lines only
        err = st.procs[0].err
        helpers.append(err.read_text(errors="replace").count("image writer helper thread"))
        err.write_bytes(b"")

    st.zdtm("perf_mixed", MIB, checkpointed=checkpointed)
    assert helpers == ([0, 0] if threads == "1" else [1, 1]), \
        f"helper threads per checkpoint: {helpers}"


@pytest.mark.parametrize("fork", [True, False])
def test_helper_gone_after_checkpoint(st, fork):
    """Checkpoints that let the program go on, written by a forked child or by
    the program itself (STASIS_NO_FORK=1): the same threads before and after,
    the program runs on, and the last image restarts twice."""
    if not fork:
        st.env["STASIS_NO_FORK"] = "1"
    st.env["STASIS_LOG"] = "debug"
    out, verify = st.tmp / "mixed.out", st.tmp / "verify"
    p = st.launch(program("perf_mixed"), verify, MIB, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    tasks = sorted(os.listdir(f"/proc/{p.pid}/task"))
    for _ in range(2):
        imgs = st.checkpoint(kill=False)
        check_image(st, imgs[0])
        assert p.running(), st.describe_all()
        assert sorted(os.listdir(f"/proc/{p.pid}/task")) == tasks, "a helper thread lingers"
    if not fork:  # a forked writer logs nothing: it has closed the program's stderr
        assert p.err.read_text().count("image writer helper thread") == 2, p.err.read_text()
    for _ in range(2):
        st.stasis("kill", "-p", st.port)
        p.wait(30)
        p = st.restart(imgs)
        st.wait_registered(proc=p)
        imgs = st.checkpoint(kill=False)
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text


def restart_ticks_on(st, p, out):
    """After checkpoint --kill of p (a program that prints ticks, like memhog):
    restart the newest checkpoint; the program writes on, every tick ok and in
    sequence."""
    st.wait_killed(p)
    size = out.stat().st_size
    writes_on(st, st.restart(directory=st.ckpt_dir), out, size)


def test_forked_child_image_holds_no_runtime_table(st):
    """A forked child's image stores about what its parent's does: the runtime
    clears only the thread slots its parent used (a memset of the whole 8 MiB
    table stored it in every child's image: 64 processes x 16 MiB gave 450 MiB
    of images where CRIU writes 135 MiB). The tree restarts and ticks on."""
    out = st.tmp / "tree.out"
    p = st.launch(program("manyhog"), "-p", "3", "-m", "2", out=out)
    st.wait_for(out, "tick 0 ok", proc=p)
    st.wait_registered(nprocs=3, proc=p)
    imgs = st.checkpoint()
    stats = sorted(memory_stats(st, i) for i in imgs)
    assert len(stats) == 3, imgs
    (smallest, _), (largest, _) = stats[0], stats[-1]
    assert largest - smallest < 2**20, f"(memory, stored) bytes per process: {stats}"
    restart_ticks_on(st, p, out)


def test_ten_thousand_descriptors_of_one_file(st):
    """10000 descriptors of one file, each its own description at its own
    offset: the checkpoint finds the dups among them by sorting them in kcmp
    order (fd_order.c), not by comparing every pair (18 s here before), and
    every offset comes back (manyhog checks them at each tick)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = min(10000, hard - 100)
    assert n >= 5000, f"RLIMIT_NOFILE hard limit {hard}: this test needs 5100"
    out = st.tmp / "fds.out"
    st.env["STASIS_LOG"] = "debug"
    p = st.launch(program("manyhog"), "-m", "1", "-f", n, "-F", st.tmp / "fds.dat", out=out)
    st.wait_for(out, "tick 0 ok", proc=p)
    st.wait_registered(proc=p)
    t0 = time.monotonic()
    st.checkpoint()
    took = time.monotonic() - t0
    assert took < 3, f"checkpoint of {n} descriptors took {took:.1f} s"
    # that many files: fdinfo is read only for those /proc/locks lists (locks.c);
    # the n descriptions of fds.dat, stdout's file and stderr's
    assert f"pid {p.pid}: the locks of {n + 2} descriptions of files looked up in " \
        "/proc/locks" in p.err.read_text(), p.err.read_text()[-3000:]
    restart_ticks_on(st, p, out)


def test_sharing_pass_sorts_each_list_once(st):
    """9 processes holding the same 1000 descriptions of one file: each process
    sorts its own list once and publishes it (shares_pub.c); the lowest pid
    makes the union of the lists (fd_union.c) and answers each process, so
    each list is compared once too: about one comparison per descriptor and
    list where merging every list with every other made 72 merges (0.6 s here
    with P^2 sorts, 0.1 s with P sorts and P^2 merges). No process falls back
    to sorting or comparing another's list, the files are gone after the
    checkpoint, and every offset and sharing comes back (manyhog checks them
    at each tick)."""
    st.env["STASIS_LOG"] = "debug"
    out, err = st.tmp / "share.out", st.tmp / "share.err"
    p = st.launch(program("manyhog"), "-p", "9", "-m", "1", "-f", "1000", "-F",
                  st.tmp / "share.dat", out=out, err=err)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(nprocs=9, proc=p)
    assert len(st.checkpoint()) == 9
    log = err.read_text(errors="replace")
    published = re.findall(r"pid (\d+): own list sorted and published", log)
    compared = re.findall(r"pid \d+: (\d+) descriptors compared with 8 processes", log)
    union = re.findall(r"pid (\d+): the union of (\d+) descriptor lists made with (\d+) "
                       r"comparisons", log)
    answered = re.findall(r"pid (\d+): its descriptors compared by pid (\d+)", log)
    assert len(set(published)) == 9, log[-3000:]
    assert len(compared) == 9 and all(int(n) >= 1000 for n in compared), compared
    leader = min(int(pid) for pid in published)
    assert [(int(a), int(b)) for a, b, _ in union] == [(leader, 9)], union
    assert sorted(int(a) for a, _ in answered) == sorted(int(x) for x in published
                                                          if int(x) != leader), answered
    assert {int(b) for _, b in answered} == {leader}, answered
    most = max(int(n) for n in compared)
    assert int(union[0][2]) <= 8 * (most + 9), (union, most)
    assert "sorting it here" not in log and "comparing with every process" not in log, \
        log[-3000:]
    assert not list(st.run_dir.glob("fdorder-*")), list(st.run_dir.iterdir())
    assert not list(st.run_dir.glob("fdshare-*")), list(st.run_dir.iterdir())
    restart_ticks_on(st, p, out)
