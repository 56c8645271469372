"""Event descriptors: eventfd, timerfd, signalfd, epoll, inotify and pidfd
checkpointed and restarted (two cycles each), with their state checked by the
programs themselves (tests/programs/ev_*.c)."""

import re
import time

from conftest import program


def test_eventfd(st):
    st.zdtm("ev_eventfd")


def cycles_with_downtime(st, name, down=1.0, cycles=2):
    """Like st.zdtm, with `down` seconds between the kill and the restart: time
    the computation does not run, which relative timers must not count."""
    out = st.tmp / f"{name}.out"
    verify = st.tmp / "verify"
    p = st.launch(program(name), verify, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    for _ in range(cycles):
        imgs = st.checkpoint(kill=True)
        p.wait(30)
        time.sleep(down)
        p = st.restart(imgs)
        st.wait_registered(proc=p)
        time.sleep(0.2)
    verify.touch()
    rc = p.wait(60)
    text = out.read_text(errors="replace")
    assert rc == 0 and "PASS" in text and "FAIL" not in text, f"{text}\n{st.describe_all()}"


def test_timerfd(st):
    cycles_with_downtime(st, "ev_timerfd")


def test_signalfd(st):
    st.zdtm("ev_signalfd")


def test_epoll(st):
    st.zdtm("ev_epoll")
