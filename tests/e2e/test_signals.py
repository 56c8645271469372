"""Signals: handlers and flags, per-thread masks, sigaltstack, pending
signals, interval and POSIX timers; alarm()."""


def test_signals(st):
    st.zdtm("signals", cycles=2)


def test_alarm(st):
    st.zdtm("alarm", cycles=2)
