"""Signals from the user's terminal and tools reach the program as they would
without Stasis: ^Z under `stasis launch` or `stasis restart` (on a terminal,
where the program leads a session of its own pty) stops the job, the shell
gets its terminal back, bg and fg continue it; a signal sent to restart (by
timeout(1), kill, a batch system) is the program's, delivered once."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import _descendants
from test_tty import OUTER, answer, launch_line, restart_line, tmux  # noqa: F401 (fixture)

# A program without job control of its own: it counts, says which signals it
# gets, and half a second after the first INT or TERM ends with status 3,
# saying how many of those it got.
TICKER = r"""
import signal, sys, time
got = []
def on(sig, frame):
    got.append(sig)
    print("got", signal.Signals(sig).name, got.count(sig), flush=True)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
    signal.signal(s, on)
n, ending = 0, None
while ending is None or time.monotonic() < ending:
    if ending is None and any(s != signal.SIGUSR1 for s in got):
        ending = time.monotonic() + 0.5  # a second one, if sent, comes by then
    n += 1
    print("tick", n, flush=True)
    time.sleep(0.05)
print("signals", len([s for s in got if s != signal.SIGUSR1]), flush=True)
sys.exit(3)
"""


def ticker(st):
    script = st.tmp / "ticker.py"
    script.write_text(TICKER)
    return ["/usr/bin/python3", script]


def state(pid):
    """The state letter of pid (R, S, T...), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0]
    except OSError:
        return None


def wait_state(st, pids, want, what, timeout=20):
    deadline = time.monotonic() + timeout
    while any((state(p) == "T") != (want == "T") for p in pids):
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: states {[state(p) for p in pids]}\n{st.describe_all()}")
        time.sleep(0.02)


def program_pids(st, name="python3"):
    """Host PIDs of the processes named name below our tmux server and
    restarts (every process of this test is our descendant)."""
    return [p for p in _descendants(os.getpid()) if _comm(p) == name]


def _comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


def last_tick(tmux, win):
    ticks = re.findall(r"^tick (\d+)$", tmux.screen(win), re.M)
    return int(ticks[-1]) if ticks else 0


def suspend_and_resume(st, tmux, win, stasis_name):
    """^Z: the program and launch/restart stop, the shell prompts and lists the
    job as Stopped; bg: it ticks again in the background; fg, then ^C: the
    program's handler runs once and it ends with its own status."""
    tmux.wait(win, lambda s: last_tick(tmux, win) >= 3, "ticks")
    prog = program_pids(st)
    assert len(prog) == 1, prog
    tmux.send(win, "C-z")
    tmux.wait(win, lambda s: re.search(r"\[1\]\+\s+Stopped\s+.*stasis " + stasis_name, s),
              "the job stopped")
    wait_state(st, prog, "T", "the program did not stop")
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the outer prompt")
    stopped_at = last_tick(tmux, win)
    answer(tmux, win, "jobs", r"\[1\]\+\s+Stopped")
    assert last_tick(tmux, win) == stopped_at
    tmux.line(win, "bg")
    wait_state(st, prog, "R", "bg did not continue the program")
    tmux.wait(win, lambda s: last_tick(tmux, win) > stopped_at + 2, "ticks after bg")
    tmux.line(win, "fg")
    before = last_tick(tmux, win)
    tmux.wait(win, lambda s: last_tick(tmux, win) > before + 2, "ticks after fg")
    tmux.send(win, "C-c")
    tmux.wait(win, lambda s: "signals 1" in s and s.rstrip().endswith(OUTER.strip()),
              "the program's end after ^C")
    assert tmux.screen(win).count("got SIGINT") == 1
    assert answer(tmux, win, "echo rc=$?", r"rc=(\d+)").group(1) == "3"
    assert answer(tmux, win, "stty -a | grep -o ' -\\?icanon'", r" (-?icanon)").group(1) == \
        "icanon", "the terminal was left raw"


def test_ctrl_z_under_launch(st, tmux):
    win = tmux.terminal(100, 30)
    tmux.line(win, launch_line(st, *ticker(st)))
    st.wait_registered(nprocs=1)
    suspend_and_resume(st, tmux, win, "launch")


def checkpointed(st, tmux):
    """A terminal where the ticker was launched, checkpointed and killed."""
    win = tmux.terminal(100, 30)
    tmux.line(win, launch_line(st, *ticker(st)))
    st.wait_registered(nprocs=1)
    tmux.wait(win, lambda s: last_tick(tmux, win) >= 3, "ticks")
    st.checkpoint(kill=True)
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of launch")
    return win


def test_ctrl_z_under_restart(st, tmux):
    win = checkpointed(st, tmux)
    tmux.line(win, "clear")
    tmux.line(win, restart_line(st))
    st.wait_registered(nprocs=1)
    suspend_and_resume(st, tmux, win, "restart")


@pytest.mark.parametrize("foreground", [False, True], ids=["timeout", "timeout-foreground"])
def test_timeout_ends_restart_on_a_terminal(st, tmux, foreground):
    """timeout -s INT on a terminal, with and without --foreground: the
    restarted program (on a pty of its own, out of reach of timeout's group
    signal) gets one SIGINT and ends with its status; the terminal is left in
    its modes."""
    win = checkpointed(st, tmux)
    opt = "--foreground " if foreground else ""
    tmux.line(win, f"clear; timeout {opt}--preserve-status -s INT 3 {restart_line(st)}; "
                   "echo rc=$?")
    tmux.wait(win, lambda s: re.search(r"^rc=\d", s, re.M), "the end of restart", timeout=30)
    s = tmux.screen(win)
    assert s.count("got SIGINT") == 1 and "signals 1" in s and "rc=3" in s, s
    assert answer(tmux, win, "stty -a | grep -o ' -\\?icanon'", r" (-?icanon)").group(1) == \
        "icanon", "the terminal was left raw"


def restarted_ticker(st):
    out = st.tmp / "ticker.out"
    p = st.launch(*ticker(st), out=out)
    st.wait_for(out, "tick 3", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    return out, imgs


def test_timeout_int_ends_restart(st):
    """timeout -s INT N stasis restart (no terminal): the program, in
    restart's process group, gets timeout's SIGINT once (restart does not pass
    on what the group got), and restart ends with the program's status."""
    out, imgs = restarted_ticker(st)
    r = subprocess.run(["timeout", "--preserve-status", "-s", "INT", "3", str(st.bin), "restart",
                        "-p", str(st.port), *imgs], cwd=st.tmp, env=st.env,
                       capture_output=True, text=True, timeout=60, start_new_session=True)
    text = out.read_text()
    assert r.returncode == 3, (r, text[-500:])
    assert text.count("got SIGINT") == 1 and text.rstrip().endswith("signals 1"), text[-500:]


def test_signals_sent_to_restart_reach_the_program(st):
    """kill PID-of-restart from outside its process group (a batch system's
    signal): USR1 and TERM reach the program once each; TERM used to end
    restart, and the program with SIGKILL."""
    out, imgs = restarted_ticker(st)
    before = out.read_text().count("tick")
    p = st.restart(imgs, out=st.tmp / "restart.out")
    st.wait_registered(proc=p)
    deadline = time.monotonic() + 20
    while out.read_text().count("tick") < before + 3:
        assert p.running() and time.monotonic() < deadline, st.describe_all()
        time.sleep(0.02)
    p.popen.send_signal(signal.SIGUSR1)
    st.wait_for(out, "got SIGUSR1 1", proc=p)
    p.popen.send_signal(signal.SIGTERM)
    assert p.wait(30) == 3, st.describe_all()
    text = out.read_text()
    assert text.count("got SIGUSR1") == 1 and text.count("got SIGTERM") == 1, text[-500:]
    assert text.rstrip().endswith("signals 1"), text[-500:]


def test_signals_sent_to_launch_on_a_terminal_reach_the_program(st, tmux):
    """launch on a terminal runs the program in a session of its own: a TERM
    sent to launch is passed on (it used to end launch, leaving the program
    to a hangup), and launch ends with the program's status."""
    win = tmux.terminal()
    tmux.line(win, launch_line(st, *ticker(st)) + "; echo rc=$?")
    st.wait_registered(nprocs=1)
    tmux.wait(win, lambda s: last_tick(tmux, win) >= 3, "ticks")
    launch = [p for p in _descendants(os.getpid()) if _comm(p) == "stasis" and
              open(f"/proc/{p}/cmdline").read().split("\0")[1] == "launch"]
    assert len(launch) == 1, launch
    os.kill(launch[0], signal.SIGTERM)
    tmux.wait(win, lambda s: re.search(r"^rc=\d", s, re.M), "the end of launch")
    s = tmux.screen(win)
    assert s.count("got SIGTERM") == 1 and "signals 1" in s and "rc=3" in s, s
