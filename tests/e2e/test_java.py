"""The JVM: many threads, large reservations, signals, and a shared mapping of
/tmp/hsperfdata_<user>/<pid> that the JVM deletes when it exits. A JVM that is
checkpointed, then ends on SIGTERM (deleting that file), must restart from the
image: the file is recreated from the contents the checkpoint kept."""

import getpass
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import _descendants, nspid

JAVA = shutil.which("java")
JAVAC = shutil.which("javac")

TICKS = r"""
public class T {
    public static void main(String[] a) throws Exception {
        java.io.File verify = new java.io.File(a[0]);
        long n = 0;
        while (!verify.exists()) {
            System.out.println("tick " + n++);
            Thread.sleep(20);
        }
        System.out.println("done " + n);
    }
}
"""


def last_tick(path):
    ticks = [int(l.split()[1]) for l in path.read_text().splitlines() if l.startswith("tick ")]
    return ticks[-1] if ticks else -1


def wait_ticks(st, path, above, proc):
    deadline = time.monotonic() + 30
    while last_tick(path) <= above + 5:
        if time.monotonic() > deadline or not proc.running():
            pytest.fail(f"the JVM does not tick past {above}\n{st.describe_all()}")
        time.sleep(0.05)


def jvm_pid(st, proc, pid):
    """Host pid of the JVM that sees itself as pid (the launch itself at first)."""
    for d in [proc.pid] + _descendants(proc.pid):
        ns = nspid(d)
        if ns and ns[-1] == pid:
            return d
    pytest.fail(f"no JVM with pid {pid}\n{st.describe_all()}")


if (not JAVA or not JAVAC) and os.environ.get("STASIS_CI"):  # .ci/run installs a JDK
    pytest.fail("java/javac are not installed, and CI must run this test", pytrace=False)


@pytest.mark.skipif(not JAVA or not JAVAC, reason="java is not installed (default-jdk-headless)")
def test_java_checkpoint_term_restart_twice(st):
    src = st.tmp / "T.java"
    src.write_text(TICKS)
    subprocess.run([JAVAC, "-d", str(st.tmp), str(src)], check=True, timeout=120)
    out = st.tmp / "java.out"
    verify = st.tmp / "verify"
    p = st.launch(JAVA, "-Xmx64m", "-cp", st.tmp, "T", verify, out=out)
    pid = p.pid  # launch execs the JVM
    hsperf = f"/tmp/hsperfdata_{getpass.getuser()}/{pid}"
    st.wait_for(out, "tick 5", proc=p, timeout=60)
    st.wait_registered(proc=p)
    for cycle in range(2):
        assert os.path.exists(hsperf), f"the JVM has no {hsperf}"
        st.checkpoint(kill=False)
        os.kill(jvm_pid(st, p, pid), signal.SIGTERM)  # the JVM deletes its hsperfdata
        rc = p.wait(timeout=30)
        assert rc in (143, -signal.SIGTERM, 128 + signal.SIGTERM), st.describe_all()
        assert not os.path.exists(hsperf), "the JVM kept its hsperfdata file"
        before = last_tick(out)
        st.env["STASIS_LOG"] = "debug"  # the restart says it recreated the file
        p = st.restart(directory=st.ckpt_dir)
        del st.env["STASIS_LOG"]
        st.wait_registered(proc=p)
        wait_ticks(st, out, before, p)
        assert os.path.exists(hsperf), "hsperfdata was not recreated"
        assert f"{hsperf} was gone: recreated" in p.err.read_text(), st.describe_all()
    verify.touch()
    assert p.wait(timeout=30) == 0, st.describe_all()
    assert "done" in out.read_text(), out.read_text()[-500:]
