"""File locks: POSIX (fcntl), flock and OFD locks are held again after each
restart, and a checkpoint does not drop them (a file both mapped and locked)."""
import fcntl
import os

import pytest


def blocked(path, fn):
    """Whether taking the lock fn(fd) from this (outside) process fails."""
    fd = os.open(path, os.O_RDWR)
    try:
        fn(fd)
        return False
    except (BlockingIOError, PermissionError):
        return True
    finally:
        os.close(fd)


def check_held(d):
    assert blocked(d / "a", lambda fd: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 10, 10)), \
        "POSIX write lock on a[10..19] not held"
    assert not blocked(d / "a", lambda fd: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 10, 0)), \
        "a[0..9] is locked but was not"
    assert blocked(d / "a", lambda fd: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 150)), \
        "POSIX read lock on a[100..] not held"
    assert blocked(d / "b", lambda fd: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)), \
        "flock on b not held"
    assert blocked(d / "c", lambda fd: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)), \
        "OFD lock on c not held"
    assert blocked(d / "d", lambda fd: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1)), \
        "POSIX lock on d not held"


def test_file_locks(st):
    d = st.tmp / "locked"
    d.mkdir()
    st.zdtm("locks", str(d), cycles=2, between=lambda st_, i, imgs, p: check_held(d))


@pytest.mark.parametrize("writer", ["forked", "inline"])
def test_locks_held_across_a_checkpoint_that_goes_on(st, writer):
    """A checkpoint the program survives keeps them, whether a forked child
    writes the image or the process itself (its own opens and closes of a
    locked file would drop its POSIX locks)."""
    from conftest import program
    d = st.tmp / "locked"
    d.mkdir()
    out = st.tmp / "locks.out"
    if writer == "inline":
        st.env["STASIS_NO_FORK"] = "1"
    st.env["STASIS_LOG"] = "debug"
    p = st.launch(program("locks"), st.tmp / "verify", str(d), out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    for _ in range(2):
        st.checkpoint(kill=False)
        check_held(d)
    # a few files: every fdinfo is read, not /proc/locks, whose read waits for
    # an RCU grace period (6-22 ms here) with the threads held (locks.c)
    assert p.err.read_text().count("threads held in") == 2, p.err.read_text()[-3000:]
    assert "/proc/locks" not in p.err.read_text(), p.err.read_text()[-3000:]
    (st.tmp / "verify").touch()
    assert p.wait(timeout=30) == 0, out.read_text()
    assert "PASS" in out.read_text()


def test_lock_taken_by_another_process_fails_the_restart_clearly(st):
    from conftest import program
    d = st.tmp / "locked"
    d.mkdir()
    out = st.tmp / "locks.out"
    p = st.launch(program("locks"), st.tmp / "verify", str(d), out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait(timeout=30)
    fd = os.open(d / "c", os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # someone else took it meanwhile
    before = [open(i, "rb").read() for i in imgs]
    r = st.stasis("restart", "-p", st.port, *imgs, timeout=30)
    assert r.returncode != 0
    assert "cannot take back its OFD write lock on fd" in r.stderr and "/c" in r.stderr, r.stderr
    os.close(fd)
    assert before == [open(i, "rb").read() for i in imgs], "a refused restart changed an image"
    p = st.restart(imgs)  # with the lock released, the same images restart
    st.wait_registered(proc=p)
    check_held(d)
    (st.tmp / "verify").touch()
    assert p.wait(timeout=30) == 0, st.describe_all()
    assert "PASS" in out.read_text(), out.read_text()
