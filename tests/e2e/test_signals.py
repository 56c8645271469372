"""Signals: handlers and flags, per-thread masks, sigaltstack, pending
signals, interval and POSIX timers; alarm()."""

from conftest import program


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


def test_fast_thread_timer_ticks_on_after_each_restart(st):
    """A SIGEV_THREAD timer firing every millisecond fires while the restored
    threads are still on their way back to their own masks: it must go on
    ticking after each restart and the checkpoint after it (it stopped for
    good after a restart, Linux 6.13+). Not st.zdtm: the thread each tick
    starts and ends changes the memory map from one moment to the next."""
    out, verify = st.tmp / "thread_timer.out", st.tmp / "verify"
    p = st.launch(program("thread_timer"), verify, out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    for _ in range(3):
        st.checkpoint(kill=True)
        st.wait_killed(p)
        p = st.restart(directory=st.ckpt_dir)
        st.wait_registered(proc=p)
        st.checkpoint(kill=False)
    verify.touch()
    assert p.wait(timeout=60) == 0, out.read_text()
    assert out.read_text() == "ready\nPASS\n"
