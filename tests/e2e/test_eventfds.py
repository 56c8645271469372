"""Event descriptors: eventfd, timerfd, signalfd, epoll, inotify and pidfd
checkpointed and restarted (two cycles each), with their state checked by the
programs themselves (tests/programs/ev_*.c)."""

import re
import time

import pytest

from conftest import program


def test_eventfd(st):
    st.zdtm("ev_eventfd")


def cycles_with_downtime(st, name, down=1.0, cycles=2, nprocs=1, resumed=None, enough=None):
    """Like st.zdtm, with `down` seconds between the kill and the restart: time
    the computation does not run, which relative timers must not count. With
    resumed, after each restart: wait for the program's line resumed % N
    (restart N), which says it ran on for a while; with enough, for that line
    before the verify file is made."""
    out = st.tmp / f"{name}.out"
    verify = st.tmp / "verify"
    p = st.launch(program(name), verify, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs, proc=p)
    for i in range(cycles):
        imgs = st.checkpoint(kill=True)
        st.wait_killed(p)
        time.sleep(down)  # the downtime is what is tested, not a wait for a state
        assert len(imgs) == nprocs, imgs
        p = st.restart(imgs)
        st.wait_registered(nprocs, proc=p)
        if resumed:
            st.wait_for(out, resumed % (i + 1), proc=p)
    if enough:
        st.wait_for(out, enough, proc=p)
    verify.touch()
    rc = p.wait(60)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, f"{text}\n{st.describe_all()}"


def test_timerfd(st):
    cycles_with_downtime(st, "ev_timerfd", resumed="ran 10 ticks after pause %d\n")


def test_signalfd(st):
    st.zdtm("ev_signalfd")


def test_epoll(st):
    st.zdtm("ev_epoll")


def test_inotify(st):
    st.zdtm("ev_inotify")


@pytest.mark.parametrize("instances", ["one", "two", "gone"])
def test_inotify_with_many_watches_added_and_removed(st, instances):
    """The runtime forgets every watch removed, so that its table (16384)
    never fills: more than that added and removed beside 100 kept (fdinfo
    longer than a page), in one instance, or in two whose watches have the
    same numbers on different files (told apart by fdinfo), or gone with
    their instances closed and their files deleted (dropped once the table
    is full); then one more in each, checkpointed and restarted twice."""
    st.zdtm("ev_inotify_many", instances, timeout=120)


def test_pidfd(st):
    # two processes: st.zdtm compares the maps and fds of the coordinator's
    # first process, which may be the child
    cycles_with_downtime(st, "ev_pidfd", down=0, nprocs=2)


def test_pidfd_outside_refused(st):
    out = st.tmp / "outside.out"
    p = st.launch(program("ev_pidfd"), st.tmp / "verify", "outside", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    fd = int(re.search(r"^fd (\d+)$", out.read_text(), re.M).group(1))
    for kill in (False, True):
        r = st.checkpoint(kill=kill, expect_ok=False)
        assert r.returncode != 0, r.stdout
        assert f"fd {fd} is a pidfd of process" in r.stderr, r.stderr
        assert "not this process or one of its descendants" in r.stderr, r.stderr
        assert p.running(), st.describe_all()
    assert not list(st.ckpt_dir.glob("*.stasis")), "a refused checkpoint left an image"
    (st.tmp / "verify").touch()
    assert p.wait(30) == 0 and "PASS" in out.read_text(), st.describe_all()


def test_eventfd_and_epoll_shared_with_child(st):
    cycles_with_downtime(st, "ev_shared", down=0.3, nprocs=2, enough="received over 10\n")
