"""A GUI program and its display, both inside the computation (DMTCP does the
same with a VNC server): a shell launched under Stasis starts Xvfb and an
xterm on it. After each restart the X server answers outside clients
(xwininfo lists the xterm's window), its screen is what it was, and the
xterm, reconnected to the restored server over the Unix socket between them,
draws its window again when the server asks it to (an Expose event)."""

import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from xproto import Display

XVFB, XTERM, XWININFO = (shutil.which(p) for p in ("Xvfb", "xterm", "xwininfo"))
MISSING = [n for n, p in (("Xvfb (xvfb)", XVFB), ("xterm", XTERM), ("xwininfo (x11-utils)",
                                                                    XWININFO)) if not p]
if MISSING and os.environ.get("STASIS_CI"):  # .ci/run installs them
    pytest.fail(f"{', '.join(MISSING)} not installed, and CI must run this test", pytrace=False)

# $1 display number, $2 the file the xterm's shell creates
# once the xterm has drawn everything it will draw. xterm runs synchronously
# (each X request done before the next) and answers the cursor position
# report after drawing the line before it; the cursor is hidden (it would be
# drawn after). Then the shell becomes a sleep, which the test ends with
# SIGTERM; the xterm then ends, and the session ends the X server and reaps
# it. Four processes all along: Xvfb, the session's shell, the xterm, and
# its shell, then sleep.
SESSION = r"""
Xvfb ":$1" -screen 0 400x160x24 -nolisten tcp -noreset 2>xvfb.err &
xs=$!
while [ ! -S "/tmp/.X11-unix/X$1" ]; do sleep 0.02; done
DISPLAY=":$1" xterm -synchronous -T stasis-xterm -geometry 40x4+0+0 -e sh -c '
    stty -icanon -echo min 1
    printf "\033[?25lhello from xterm\033[6n"
    dd bs=1 count=7 of="$1" 2>/dev/null
    exec sleep 100000' xt "$2"
rc=$?
kill "$xs"; wait "$xs"
echo "xterm $rc xvfb $?"
"""


def free_display():
    """A display number with neither a lock file nor a socket (far above the
    numbers desktops and other tests use first)."""
    for _ in range(100):
        n = random.randrange(200, 900)
        if not os.path.exists(f"/tmp/.X{n}-lock") and \
           not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            return n
    pytest.fail("no free X display number between 200 and 900")


def xterm_windows(st, n):
    """The xterm's top window and its VT100 window, from xwininfo -tree."""
    r = subprocess.run([XWININFO, "-display", f":{n}", "-root", "-tree"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, f"xwininfo: {r.stderr}\n{st.describe_all()}"
    m = re.search(r'(0x[0-9a-f]+) "stasis-xterm": \("xterm" "XTerm"\).*\n\s+1 child:\n\s+(0x[0-9a-f]+)',
                  r.stdout)
    assert m, f"no xterm window on :{n}:\n{r.stdout}"
    return int(m.group(1), 16), int(m.group(2), 16)


def wait_screen(st, dpy, pred, what, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        shot = dpy.screenshot()
        if pred(shot):
            return shot
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s\n{st.describe_all()}")
        time.sleep(0.05)


@pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed")
def test_xvfb_and_xterm(st):
    n = free_display()
    out = st.tmp / "session.out"
    try:
        drawn = st.tmp / "drawn"
        p = st.launch("/bin/sh", "-c", SESSION, "session", n, drawn, out=out)
        st.wait_for(drawn, "\033[1;17R", proc=p)  # the answer to the position report
        dpy = Display(n)
        shot0 = dpy.screenshot()
        dpy.close()
        st.wait_registered(nprocs=4, proc=p)
        for cycle in range(2):
            top, vt = xterm_windows(st, n)
            imgs = st.checkpoint(kill=True)
            assert len(imgs) == 4, imgs
            st.wait_killed(p)
            p = st.restart(imgs)
            st.wait_registered(nprocs=4, proc=p)
            assert xterm_windows(st, n) == (top, vt), "the xterm's windows changed"
            dpy = Display(n)
            assert dpy.screenshot() == shot0, f"restart {cycle + 1}: the screen changed"
            dpy.clear(vt, exposures=False)  # paint it blank: the text is gone
            wait_screen(st, dpy, lambda s: s != shot0, "the cleared window changed nothing")
            dpy.clear(vt, exposures=True)  # the xterm is told, and draws it again
            wait_screen(st, dpy, lambda s: s == shot0, f"restart {cycle + 1}: no redraw")
            dpy.close()
        sleeper = [x["pid"] for x in st.status()["procs"] if x["name"] == "sleep"]
        assert len(sleeper) == 1, st.status()
        os.kill(st.restored_host_pid(p, sleeper[0]), signal.SIGTERM)
        assert p.wait(30) == 0, st.describe_all()
        assert out.read_text().strip() == "xterm 0 xvfb 0", out.read_text()
        assert not os.path.exists(f"/tmp/.X11-unix/X{n}"), "Xvfb left its socket"
    finally:
        st.cleanup()  # a killed Xvfb leaves its lock and socket: ours to remove
        for f in (f"/tmp/.X{n}-lock", f"/tmp/.X11-unix/X{n}"):
            if os.path.lexists(f):
                os.unlink(f)
