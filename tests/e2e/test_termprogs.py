"""Full-screen terminal programs under Stasis, driven through tmux like a user
(the helpers are test_tty.py's): vim and emacs with an unsaved buffer across
two restarts in other terminals; and the runtime pieces they need, in a zdtm
program (tests/programs/term_sys.c)."""

import shutil
import subprocess

import pytest

from test_tty import OUTER, Tmux, checkpoint_kill, launch_line, restart_line


@pytest.fixture
def tmux(st):
    t = Tmux(st)
    try:
        yield t
    finally:
        t.close()


def vim_screen_has(tmux, win, *texts, insert=None):
    """Wait until vim shows every text (and is, or is not, in insert mode)."""
    def ok(s):
        if not all(t in s for t in texts):
            return False
        return insert is None or ("-- INSERT --" in s) == insert
    return tmux.wait(win, ok, f"vim showing {texts} (insert mode: {insert})")


def test_vim_unsaved_buffer(st, tmux):
    """vim -u NONE with text typed into a buffer, never written: after each
    restart (in another tmux window) the text and the mode are there, typing
    goes on (arrow keys too: the terminal is put back in vim's keypad mode),
    and :wq finally writes everything."""
    if not shutil.which("vim"):
        pytest.fail("vim is not installed (apt-get install vim)")
    notes = st.tmp / "notes.txt"
    win = tmux.terminal()
    # -n: no swap file (its fsync can take seconds on a busy disk)
    tmux.line(win, launch_line(st, "vim", "-u", "NONE", "-N", "-i", "NONE", "-n", notes))
    st.wait_registered(nprocs=1)
    vim_screen_has(tmux, win, "notes.txt")
    tmux.send(win, "i")
    tmux.line(win, "first line")
    tmux.cmd("send-keys", "-t", win, "-l", "second line")
    vim_screen_has(tmux, win, "first line", "second line", insert=True)

    # cycle 1: checkpointed in insert mode
    checkpoint_kill(st, tmux, win, nprocs=1)
    assert not notes.exists(), "vim wrote the file"
    win = tmux.terminal()
    tmux.line(win, restart_line(st))
    st.wait_registered(nprocs=1)
    vim_screen_has(tmux, win, "first line", "second line", insert=True)
    tmux.cmd("send-keys", "-t", win, "-l", " and more")
    tmux.send(win, "Up")  # in insert mode: to the first line, at the same column
    tmux.cmd("send-keys", "-t", win, "-l", "!")
    tmux.send(win, "Escape")
    vim_screen_has(tmux, win, "first line!", "second line and more", insert=False)

    # cycle 2: checkpointed in normal mode
    checkpoint_kill(st, tmux, win, nprocs=1)
    win = tmux.terminal(100, 30)
    tmux.line(win, restart_line(st))
    st.wait_registered(nprocs=1)
    vim_screen_has(tmux, win, "first line!", "second line and more", insert=False)
    tmux.line(win, ":echo 'width=' . &columns")  # vim took the new terminal's size
    vim_screen_has(tmux, win, "width=100")
    tmux.send(win, "G", "o")  # normal mode commands: a new last line
    vim_screen_has(tmux, win, "second line and more", insert=True)
    tmux.cmd("send-keys", "-t", win, "-l", "third line")
    tmux.send(win, "Escape")
    tmux.line(win, ":wq")
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of vim")
    assert notes.read_text() == "first line!\nsecond line and more\nthird line\n"


def test_closed_fds_eintr_and_thread_timers(st):
    """tests/programs/term_sys.c: descriptors closed wholesale at start, poll()
    and epoll_wait() threads that take EINTR for an error, a SIGEV_THREAD
    timer; a checkpoint that lets the program go on, then a kill and a restart,
    twice. Its memory map is not compared: the timer starts a thread per tick,
    which takes a new stack when the last one's thread has not ended."""
    st.zdtm("term_sys", between=lambda st, i, imgs, p: st.checkpoint(kill=False),
            same_maps=False)


def emacs_eval(tmux, win, expr, shows):
    """M-: EXPR in emacs; wait until the echo area shows its value."""
    tmux.send(win, "M-:")
    tmux.wait_text(win, "Eval:")
    tmux.cmd("send-keys", "-t", win, "-l", expr)
    tmux.send(win, "Enter")
    tmux.wait_text(win, shows)


def compile_terminal_lisp():
    """Debian's emacs compiles Lisp to native code in child emacs processes,
    in the background, the first time a library loads without its .eln in
    ~/.emacs.d/eln-cache: on a new machine, term/xterm.el, which emacs -nw
    loads at its start. Such a child at the checkpoint is a second process of
    the computation, rightly checkpointed too, but this test wants emacs
    alone: that library is compiled here first, in the foreground."""
    r = subprocess.run(["emacs", "-Q", "--batch", "--eval",
                        '(when (native-comp-available-p) '
                        '(native-compile (locate-library "term/xterm.el" t)))'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_emacs_unsaved_buffer(st, tmux):
    """emacs -nw -Q with text typed into a buffer, never written, and a Lisp
    variable: after each restart (in another tmux window of another size) the
    text is on the screen, typing goes on, the variable holds its value, emacs
    took the new size, and C-x C-s finally writes everything."""
    if not shutil.which("emacs"):
        pytest.fail("emacs is not installed (apt-get install emacs-nox)")
    notes = st.tmp / "notes.txt"
    win = tmux.terminal()
    compile_terminal_lisp()
    tmux.line(win, launch_line(st, "emacs", "-nw", "-Q", notes))
    st.wait_registered(nprocs=1)
    tmux.wait_text(win, "(Text)")  # the mode line: emacs reads the keyboard now
    tmux.cmd("send-keys", "-t", win, "-l", "first line")
    tmux.send(win, "Enter")
    tmux.wait_text(win, "first line")
    emacs_eval(tmux, win, "(setq stasis-n 40)", "\n40")
    sizes = [(100, 30), (90, 26)]
    for cycle in range(2):
        checkpoint_kill(st, tmux, win, nprocs=1)
        assert not notes.exists(), "emacs wrote the file"
        cols, rows = sizes[cycle]
        win = tmux.terminal(cols, rows)
        tmux.line(win, restart_line(st))
        st.wait_registered(nprocs=1)
        tmux.wait_text(win, "first line")
        tmux.cmd("send-keys", "-t", win, "-l", f"line after restart {cycle + 1}")
        tmux.send(win, "Enter")
        tmux.wait_text(win, f"line after restart {cycle + 1}")
        emacs_eval(tmux, win, "(setq stasis-n (1+ stasis-n))", f"\n{41 + cycle}")
        # a frame is the terminal without its last line (the echo area)
        emacs_eval(tmux, win, '(format "size=%dx%d" (frame-width) (frame-height))',
                   f"size={cols}x{rows - 1}")
    tmux.send(win, "C-x", "C-s")
    tmux.wait_text(win, "Wrote ")
    tmux.send(win, "C-x", "C-c")
    tmux.wait(win, lambda s: s.rstrip().endswith(OUTER.strip()), "the end of emacs")
    assert notes.read_text() == "first line\nline after restart 1\nline after restart 2\n"
