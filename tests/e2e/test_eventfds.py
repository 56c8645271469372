"""Event descriptors: eventfd, timerfd, signalfd, epoll, inotify and pidfd
checkpointed and restarted (two cycles each), with their state checked by the
programs themselves (tests/programs/ev_*.c)."""

import re

from conftest import program


def test_eventfd(st):
    st.zdtm("ev_eventfd")
