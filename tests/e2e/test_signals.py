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


def test_threads_waiting_with_every_signal_blocked(st):
    """sigwaitinfo on the full set and ppoll with a full mask neither hold a
    checkpoint off nor take its signal; they still get the program's own."""
    st.zdtm("sigwaits", cycles=2, timeout=60)
