"""The image writer's helper thread (runtime/write_pipe.c, image/chunk.c): it
compresses chunks beside the thread that writes them. Images written with it
restart with every byte in place; it never outlives the write (the program
sees no extra thread); STASIS_WRITE_THREADS=1 writes on one thread."""

import os
import re

import pytest

from conftest import program

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

    def between(st, i, imgs, proc):
        check_image(st, imgs[0])
        # the program's stderr (it writes there again after the restart, at
        # the offset it had: empty it to see the next checkpoint's lines only)
        err = st.procs[0].err
        helpers.append(err.read_text(errors="replace").count("image writer helper thread"))
        err.write_bytes(b"")

    st.zdtm("perf_mixed", MIB, between=between)
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
