"""Forked checkpointing (the default for a checkpoint that does not end the
program): the program keeps running while a child writes the image, never sees
that child, and the image restarts like any other."""

import os
import re
import threading
import time

from conftest import program, read_fds
from helpers import status_of, wait_until, writes_on


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


def test_the_pass_after_a_checkpoint_opens_nothing_in_the_program(st):
    """The program's writes while a forked writer holds its snapshot split
    huge pages; right after the checkpoint a pass collapses them again
    (runtime/huge.c), on a helper with its own descriptor table: the
    program's table never holds the files that pass reads (a program that
    closes or lists its descriptors meanwhile must find only its own)."""
    st.env["STASIS_LOG"] = "debug"
    out, err, verify = st.tmp / "mw.out", st.tmp / "mw.err", st.tmp / "verify"
    p = st.launch(program("memwriter"), verify, 64, 2, out=out, err=err)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    pid = status_of(st)["procs"][0]["pid"]
    seen, done = {}, threading.Event()

    def watch():
        while not done.is_set():
            try:
                fds = read_fds(pid)
            except OSError:
                return
            # its pagemap (the capture reads the program's maps too, but
            # with every thread held; the writer's pagemap is the child's)
            seen.update({fd: t for fd, t in fds.items() if re.fullmatch(r"/proc/\d+/pagemap", t)})

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        after = re.compile(r"huge pages[^\n]* after the checkpoint")
        for n in (1, 2):
            st.checkpoint(kill=False)
            wait_until(lambda: len(after.findall(err.read_text(errors="replace"))) >= n,
                       30, f"the pass after checkpoint {n}")
    finally:
        done.set()
        watcher.join()
    assert not seen, f"the program's own table held the pass's files: {seen}"
    assert p.running(), st.describe_all()
    verify.touch()
    assert p.wait(90) == 0, st.describe_all()
    assert out.read_text(errors="replace") == "ready\nPASS\n", st.describe_all()


AHEAD = re.compile(r"\d+ of \d+ MiB collapsed into huge pages ahead of a checkpoint "
                   r"in [0-9.]+ ms$", re.M)


def anon_huge_mib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1]) >> 10
    return 0


def private_tables(pid):
    """{tid: {fd: target}} of the threads of pid whose descriptor table is
    not the process's own, and already holds /proc/PID/maps or pagemap: the
    runtime's helper that collapses memory, once it has opened its files."""
    own, found = read_fds(pid), {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fds = read_fds(f"{pid}/task/{tid}")
        except OSError:  # the thread is gone
            continue
        opened = any(re.fullmatch(r"/proc/\d+/(maps|pagemap)", t) for t in fds.values())
        if fds != own and opened:
            found[int(tid)] = fds
    return found


def test_memory_is_collapsed_ahead_of_the_first_checkpoint(st):
    """While the checkpoint thread waits for the coordinator, the runtime
    collapses the program's memory into huge pages (runtime/huge.c), so that
    even a process's first forked checkpoint copies one page-table entry per
    2 MiB: the pass before the stop then finds nothing left to do. The helper
    thread that collapses has a copy of the descriptor table and closes the
    program's descriptors in it first (a pipe the program closes meanwhile
    must read as closed at once): caught while it runs, its table holds only
    its two files and the coordinator's connection. The image restarts."""
    st.env["STASIS_LOG"] = "debug"
    out, err = st.tmp / "hog.out", st.tmp / "hog.err"
    p = st.launch(program("memhog"), 512, "rand", "0", out=out, err=err)
    st.wait_registered(proc=p)
    pid = status_of(st)["procs"][0]["pid"]
    helpers = {}
    deadline = time.monotonic() + 60
    # memhog fills its memory after it joined: a pass may find part of it, the
    # next one the rest; wait until all of it is huge
    while not (AHEAD.search(err.read_text()) and anon_huge_mib(pid) >= 500):
        assert time.monotonic() < deadline and p.running(), \
            f"{anon_huge_mib(pid)} MiB huge, not collapsed ahead of a checkpoint within " \
            f"60 s\n{st.describe_all()}"
        helpers.update(private_tables(pid))
        time.sleep(0.001)
    assert helpers, "the collapse ran, but its helper thread was never seen"
    for tid, fds in helpers.items():
        assert len(fds) <= 3 and all(re.fullmatch(r"/proc/\d+/(maps|pagemap)", t) or
                                     t.startswith("socket:") for t in fds.values()), \
            f"the collapsing thread {tid} holds the program's descriptors: {fds}"
    imgs = st.checkpoint(kill=False)
    log = err.read_text()
    assert re.search(r"\d+ MiB in huge pages, nothing to collapse before the stop", log), \
        log[-3000:]
    assert log.count("threads paused") == 1, log[-3000:]
    st.stasis("kill", "-p", st.port)
    p.wait(30)
    size = out.stat().st_size
    r = st.restart(imgs)
    writes_on(st, r, out, size)
