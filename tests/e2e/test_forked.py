"""Forked checkpointing (the default for a checkpoint that does not end the
program): the program keeps running while a child writes the image, never sees
that child, and the image restarts like any other."""

import os
import re
import time

from conftest import program


def ticks(path):
    return [int(m) for m in re.findall(r"^tick (\d+)$", path.read_text(), re.M)]


def test_program_runs_on_and_image_restarts(st):
    out = st.tmp / "forked.out"
    verify = st.tmp / "verify"
    st.env["STASIS_LOG"] = "debug"  # the runtime then reports each forked write
    p = st.launch(program("forked"), verify, out=out)
    st.wait_for(out, "tick 3", proc=p)
    st.wait_registered(proc=p)
    imgs = []
    for _ in range(3):  # three generations written by forked children
        before = max(ticks(out))
        imgs = st.checkpoint(kill=False)
        deadline = time.monotonic() + 10
        while max(ticks(out)) < before + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert max(ticks(out)) >= before + 3, "the program did not run on after the checkpoint"
        assert p.running(), f"the program died\n{st.describe_all()}"
    r = st.stasis("inspect", imgs[0])
    assert r.returncode == 0, r.stderr
    assert p.err.read_text().count("threads paused") == 3, \
        f"the checkpoints were not written by a forked child:\n{p.err.read_text()[-2000:]}"
    # the program never sees the writer: no SIGCHLD, nothing to wait for
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text
    # the last forked image restarts and passes the same checks; it writes
    # its stdout from the offset it had then (the file is not O_APPEND): what
    # the first run wrote after that is cut, so that the output is exactly
    # the image's and the restarted program's
    verify.unlink()
    [stdout] = [d for d in st.inspect(imgs[0])["fds"] if d["fd"] == 1]
    os.truncate(out, stdout["pos"])
    r = st.restart(imgs)
    st.wait_registered(proc=r)
    verify.touch()
    assert r.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert text.count("PASS") == 1 and text.endswith("PASS\n") and "FAIL" not in text, text


def test_memory_rewritten_during_the_write_is_stored_as_of_the_stop(st):
    """Threads rewrite all their memory as fast as they can while forked
    writers store it, twice: the memory was collapsed into huge pages before
    the stop (runtime/huge.c: a fork copies one entry per 2 MiB), the
    program's writes split them under the writer's snapshot, and each image
    restarts with every page as it was at the stop (memwriter checks each page
    against the pass it belongs to before rewriting it, and the whole memory
    at the end)."""
    st.env["STASIS_LOG"] = "debug"
    out, err, verify = st.tmp / "mw.out", st.tmp / "mw.err", st.tmp / "verify"
    p = st.launch(program("memwriter"), verify, 64, 2, out=out, err=err)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    images = [st.checkpoint(kill=False) for _ in range(2)]
    log = err.read_text(errors="replace")
    assert re.search(r"\d+ of \d+ MiB collapsed into huge pages", log), log[-3000:]
    assert log.count("threads paused") == 2, log[-3000:]
    st.stasis("kill", "-p", st.port)
    p.wait(30)
    for imgs in images:
        out.write_text("ready\n")  # the restored program writes on from there
        verify.touch()
        r = st.restart(imgs)
        assert r.wait(90) == 0, st.describe_all()
        text = out.read_text(errors="replace")
        assert text == "ready\nPASS\n", st.describe_all()
        verify.unlink()
