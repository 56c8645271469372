"""Signals: handlers and flags, per-thread masks, sigaltstack, pending
signals, interval and POSIX timers; alarm()."""


def test_signals(st):
    st.zdtm("signals", cycles=2)


def test_alarm(st):
    st.zdtm("alarm", cycles=2)


def test_relative_sleeps_are_not_cut_short(st):
    """nanosleep, relative clock_nanosleep and sleep() interrupted by the
    checkpoint go on with the time left (after a restart too): no EINTR."""
    st.zdtm("sleeps", cycles=2)
