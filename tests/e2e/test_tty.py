"""Terminals, driven for real through tmux: `stasis launch` in one tmux window
gives the program a pty of its own; after a checkpoint --kill, `stasis restart`
in another window (another terminal) makes that pty again, and the program's
terminal state and job control go on there. Two cycles each."""

import re
import shlex
import shutil
import subprocess
import time

import pytest

from conftest import _descendants, program
from helpers import wait_until

OUTER = "outer$ "  # prompt of the shells the tmux windows run
INNER = "in> "  # prompt of the bash run under Stasis


class Tmux:
    """A private tmux server (its own socket), driven like a user would."""

    def __init__(self, st):
        if not shutil.which("tmux"):
            pytest.fail("tmux is not installed (apt-get install tmux)")
        self.st = st
        self.sock = st.tmp / "tmux.sock"
        self.env = dict(st.env, PS1=OUTER, TERM="xterm")
        self.env.pop("TMUX", None)
        self.sessions = 0

    def cmd(self, *args, check=True):
        r = subprocess.run(["tmux", "-S", str(self.sock), "-f", "/dev/null", *args],
                           env=self.env, capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            pytest.fail(f"tmux {' '.join(args)}: {r.stderr}")
        return r.stdout

    def terminal(self, cols=80, rows=24):
        """A new terminal (tmux session) running a plain shell; its target name."""
        self.sessions += 1
        name = f"t{self.sessions}"
        self.cmd("new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows),
                 "bash --norc --noprofile")
        self.wait(name, lambda s: s.strip(), "the shell")
        self.line(name, f"PS1='{OUTER}'; clear")
        self.wait(name, lambda s: s.strip() == OUTER.strip(), "the shell prompt")
        return name

    def send(self, target, *keys):
        self.cmd("send-keys", "-t", target, *keys)

    def line(self, target, text):
        self.cmd("send-keys", "-t", target, "-l", text)
        self.cmd("send-keys", "-t", target, "Enter")

    def screen(self, target):
        return self.cmd("capture-pane", "-p", "-J", "-S", "-200", "-t", target)

    def wait(self, target, pred, what, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(target)
            if pred(s):
                return s
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not show in {target} within {timeout} s; screen:\n"
                            f"{s}\n{self.st.describe_all()}")
            time.sleep(0.05)

    def wait_text(self, target, text, timeout=20):
        return self.wait(target, lambda s: text in s, repr(text), timeout)

    def close(self):
        self.cmd("kill-server", check=False)


@pytest.fixture
def tmux(st):
    t = Tmux(st)
    try:
        yield t
    finally:
        t.close()


def stasis_cmd(st, *args):
    return " ".join(shlex.quote(str(a)) for a in (st.bin, *args))


def launch_line(st, *argv):
    return stasis_cmd(st, "launch", "-p", st.port, "--ckpt-dir", st.ckpt_dir, *argv)


def restart_line(st):
    return stasis_cmd(st, "restart", "-p", st.port, "--dir", st.ckpt_dir)


def checkpoint_kill(st, tmux, win, nprocs):
    """Checkpoint --kill the computation running in window win; its launch or
    restart ends and the window's shell prompts again."""
    st.wait_registered(nprocs=nprocs)
    imgs = st.checkpoint(kill=True)
    assert len(imgs) == nprocs, imgs
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()),
              "the outer prompt after checkpoint --kill")
    return imgs


def wait_foreground(tmux, win, argv, timeout=20):
    """Wait until the process running argv in win's terminal (below its
    shell) is the terminal's foreground process group, as its parent (the
    shell, which has the terminal) sees it: bash gave it the terminal, a ^C
    now goes to it."""
    pane = int(tmux.cmd("display-message", "-p", "-t", win, "#{pane_pid}"))
    want = [a.encode() for a in argv]

    def stat(pid):  # state ppid pgrp session tty_nr tpgid ...
        s = open(f"/proc/{pid}/stat").read()
        return [int(f) if f.lstrip("-").isdigit() else f for f in s[s.rfind(")") + 2:].split()]

    def in_foreground():
        for pid in _descendants(pane):
            try:
                if open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1] != want:
                    continue
                me = stat(pid)
                return stat(me[1])[5] == me[2]
            except OSError:
                continue
        return False
    wait_until(in_foreground, timeout, f"{' '.join(argv)} in the foreground of {win}")


def answer(tmux, win, command, pattern, timeout=20):
    """Type command in win; the first match of pattern in what follows it."""
    before = tmux.screen(win).count(command)
    tmux.line(win, command)

    def found(s):
        if s.count(command) <= before:
            return False
        return re.search(pattern, s[s.rfind(command) + len(command):])

    s = tmux.wait(win, found, f"{pattern!r} after {command!r}", timeout)
    return re.search(pattern, s[s.rfind(command) + len(command):])


def test_bash_job_control(st, tmux):
    """bash --norc under Stasis: a variable, a background job, fg + ^C, ^Z +
    bg, the same /dev/pts number, and the size of the terminal restart runs in."""
    win = tmux.terminal()
    tmux.line(win, launch_line(st, "bash", "--norc", "--noprofile"))
    st.wait_registered(nprocs=1)
    tmux.line(win, f"PS1='{INNER}'; FOO=bar-$((6*7)); sleep 100 &")
    tty0 = answer(tmux, win, "tty", r"(/dev/pts/\d+)").group(1)
    sizes = [(100, 30), (90, 20)]
    for cycle in range(2):
        checkpoint_kill(st, tmux, win, nprocs=2)
        cols, rows = sizes[cycle]
        win = tmux.terminal(cols, rows)
        tmux.line(win, restart_line(st))
        st.wait_registered(nprocs=2)
        assert answer(tmux, win, "echo foo=$FOO", r"foo=(\S+)").group(1) == "bar-42"
        assert answer(tmux, win, "tty", r"(/dev/pts/\d+|not a tty)").group(1) == tty0
        assert answer(tmux, win, "stty size", r"(\d+ \d+)").group(1) == f"{rows} {cols}"
        job = "sleep 100" if cycle == 0 else "sleep 200"
        answer(tmux, win, "jobs", r"\[1\]\+\s+Running\s+" + job + " &")
        if cycle == 0:
            # the restored job comes to the foreground and ^C ends it
            tmux.line(win, "fg")
            tmux.wait_text(win, "\n" + job + "\n")
            wait_foreground(tmux, win, job.split())
            tmux.send(win, "C-c")
            assert answer(tmux, win, "echo rc=$?", r"rc=(\d+)").group(1) == "130"
            # a new foreground job: ^Z stops it, bg runs it again
            tmux.line(win, "sleep 200")
            st.wait_registered(nprocs=2)
            tmux.send(win, "C-z")
            tmux.wait(win, lambda s: re.search(r"\[1\]\+\s+Stopped\s+sleep 200", s),
                      "the stopped job")
            answer(tmux, win, "bg; jobs", r"\[1\]\+\s+Running\s+sleep 200 &")
        else:
            tmux.line(win, "fg")
            tmux.wait_text(win, "\nsleep 200\n")
            wait_foreground(tmux, win, ["sleep", "200"])
            tmux.send(win, "C-c")
            assert answer(tmux, win, "echo rc=$?", r"rc=(\d+)").group(1) == "130"
            answer(tmux, win, "jobs; echo jobs-done", r"\njobs-done")
    tmux.line(win, "exit")
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the outer prompt after exit")
    assert "Running" not in tmux.screen(win).split("jobs-done")[-1]


def test_termios_and_own_pty(st, tmux):
    """A program with its terminal in raw mode without echo, and a pty pair of
    its own whose slave is a child's controlling terminal (tests/programs/tty_modes.c)."""
    verify = st.tmp / "verify"
    result = st.tmp / "tty_modes.out"
    win = tmux.terminal()
    tmux.line(win, launch_line(st, program("tty_modes"), verify, result))
    st.wait_for(result, "ready")
    sizes = [(100, 30), (70, 20)]
    for cycle in range(2):
        checkpoint_kill(st, tmux, win, nprocs=2)
        cols, rows = sizes[cycle]
        win = tmux.terminal(cols, rows)
        tmux.line(win, restart_line(st))
        st.wait_registered(nprocs=2)
    verify.touch()
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of the program")
    text = result.read_text()
    assert "PASS" in text and "FAIL" not in text, text
    assert f"size {rows}x{cols}" in text, text
    assert text.count("ready") == 1, text


def nested(st, tmux, argv, redraws=True, redraw_keys=()):
    """A terminal program under Stasis running a shell (on a pty the program
    made): a variable set in that shell is there after two restarts, a counter
    goes on, what the shell printed before the checkpoint is drawn again by the
    program in the new terminal (redraws: by itself on the SIGWINCH restart
    sends, or when redraw_keys are typed), and after each checkpoint --kill the
    user's shell gets its terminal back on the main screen."""
    win = tmux.terminal()
    tmux.line(win, launch_line(st, *argv))
    answer(tmux, win, "echo up-$((1+1))", r"up-2")  # everything is running
    nprocs = st.wait_registered()["nprocs"]
    tmux.line(win, "FOO=nested-$((6*7)); N=0")
    answer(tmux, win, "echo before-$((100+1))", r"before-101")
    for cycle in range(2):
        checkpoint_kill(st, tmux, win, nprocs=nprocs)
        win = tmux.terminal()
        tmux.line(win, restart_line(st))
        st.wait_registered(nprocs=nprocs)
        if redraw_keys:
            tmux.send(win, *redraw_keys)
        if redraws:  # the program's screen, not the shell, kept this line
            tmux.wait_text(win, "before-101")
        assert answer(tmux, win, "echo foo=$FOO", r"foo=(\S+)").group(1) == "nested-42"
        n = answer(tmux, win, "N=$((N+1)); echo n=$N", r"n=(\d+)").group(1)
        assert n == str(cycle + 1), n
    tmux.line(win, "exit")
    return win


def test_script(st, tmux):
    """script(1) blocks every signal and reads them from a signalfd: an EINTR
    from the checkpoint signal in its poll() used to end its session."""
    win = nested(st, tmux, ["script", "-q", "-c", "bash --norc --noprofile", "/dev/null"],
                 redraws=False)
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of script")


def test_screen(st, tmux):
    """screen closes every descriptor when it starts (the runtime's socket is
    kept) and talks to its backend over a unix socket."""
    # the Debian binary may be setgid (LD_PRELOAD ignored): a plain copy
    screen = st.tmp / "screen"
    shutil.copy(shutil.which("screen"), screen)
    (st.tmp / "screendir").mkdir(mode=0o700)
    tmux.env["SCREENDIR"] = str(st.tmp / "screendir")
    # screen redraws on a size change only: ^A l redraws its window
    win = nested(st, tmux, [screen, "-q", "bash", "--norc", "--noprofile"],
                 redraw_keys=("C-a", "l"))
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of screen")


def test_nested_tmux(st, tmux):
    """A tmux server with its own -L socket, started by its client under Stasis:
    closefrom() in the server, the alternate screen switched off after each
    checkpoint --kill and on again by restart."""
    win = nested(st, tmux, ["tmux", "-L", f"inner{st.port}", "-f", "/dev/null", "new-session",
                            "bash --norc --noprofile"])
    tmux.wait(win, lambda s: "[exited]" in s and s.rstrip().endswith(OUTER.strip()),
              "the end of the inner tmux")


TYPED = r"""
import os, sys, time
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
with open(sys.argv[2], "w") as f:
    f.write(sys.stdin.readline().rstrip("\n") + "|" + sys.stdin.readline().rstrip("\n") + "\n")
"""


def test_typed_ahead_in_the_computations_terminal(st, tmux):
    """Lines typed ahead in the terminal launch gave the program (one whole,
    one not finished yet) wait for a program that does not read yet: a
    checkpoint leaves them there, and a restart in another terminal puts them
    back in its terminal, where the unfinished line can be finished."""
    script, verify, result = st.tmp / "typed.py", st.tmp / "verify", st.tmp / "typed.out"
    script.write_text(TYPED)
    win = tmux.terminal()
    tmux.line(win, launch_line(st, "/usr/bin/python3", script, verify, result))
    tmux.wait_text(win, "ready")
    st.wait_registered()
    tmux.line(win, "first line")
    tmux.cmd("send-keys", "-t", win, "-l", "second")
    tmux.wait_text(win, "second")
    st.checkpoint(kill=False)
    checkpoint_kill(st, tmux, win, nprocs=1)
    win = tmux.terminal()
    tmux.line(win, restart_line(st))
    st.wait_registered()
    tmux.line(win, " half")
    verify.touch()
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of the program")
    assert result.read_text() == "first line|second half\n"


@pytest.mark.parametrize("mode", ["plain", "packet"])
def test_bytes_queued_in_a_pty_come_back(st, mode):
    """Bytes waiting in a pty of the program (DMTCP's pty1) are kept, both
    ways: the slave's input (two lines and a line not finished, after ICRNL)
    and the master's output (with the echo), with the master in packet mode
    or not. A checkpoint the program survives leaves them where they were;
    each restart puts them back."""
    def between(st, i, imgs, r):
        st.checkpoint(kill=False)

    args = ["packet"] if mode == "packet" else []
    st.zdtm("pty_queues", *args, nprocs=2, between=between)


def test_children_of_a_session_leader_keep_its_terminal(st):
    """A session leader on a pty of the program, with a child in its group
    and one in a group of its own (a background job): after each restart
    the three still have the pty as controlling terminal (tty_nr) and see the
    same foreground group (tpgid) in /proc/self/stat (tests/programs/tty_child.c)."""
    st.zdtm("tty_child", nprocs=4)


def test_background_job_of_bash_keeps_its_terminal(st, tmux):
    """A background job of an interactive bash under Stasis has, after each
    restart, the controlling terminal (tty_nr) and foreground group (tpgid)
    it had before in its /proc/PID/stat (0 and -1: none)."""
    win = tmux.terminal()
    tmux.line(win, launch_line(st, "bash", "--norc", "--noprofile"))
    st.wait_registered(nprocs=1)
    tmux.line(win, f"PS1='{INNER}'; sleep 300 &")
    st.wait_registered(nprocs=2)
    # read by bash itself, in the foreground (a command it ran would be the foreground group)
    ask = 'read -ra f < /proc/$!/stat; echo "tty=${f[6]},${f[7]}"'
    before = answer(tmux, win, ask, r"tty=(\d+,-?\d+)").group(1)
    assert not before.startswith("0,"), before
    for cycle in range(2):
        checkpoint_kill(st, tmux, win, nprocs=2)
        win = tmux.terminal()
        tmux.line(win, restart_line(st))
        st.wait_registered(nprocs=2)
        assert answer(tmux, win, ask, r"tty=(\d+,-?\d+)").group(1) == before
    tmux.line(win, "kill %1; exit")
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the outer prompt after exit")
