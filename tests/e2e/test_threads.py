"""Threads: TLS, exact TIDs and PID, mutexes, condvar, robust list, rseq."""
import json


def test_threads_survive_restarts(st):
    """threads.c verifies itself; two checkpoint/kill/restart cycles."""
    tids = []

    def between(st, i, imgs, proc):
        r = st.stasis("inspect", "--json", imgs[0])
        assert r.returncode == 0, r.stderr
        tids.append(sorted(t["tid"] for t in json.loads(r.stdout)["threads"]))

    st.zdtm("threads", cycles=2, between=between)
    # the second checkpoint (of the restarted process) saw the same threads
    assert tids[0] == tids[1], tids


def test_threads_exact_pid_in_status(st):
    """The coordinator sees the restarted process under its original PID."""
    out = st.tmp / "o"
    p = st.launch(st_prog("threads"), st.tmp / "verify", out=out)
    st.wait_for(out, "ready", proc=p)
    before = st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    r = st.restart(imgs)
    after = st.wait_registered(proc=r)
    assert [x["pid"] for x in before["procs"]] == [x["pid"] for x in after["procs"]]
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    assert "PASS" in out.read_text()


def st_prog(name):
    from conftest import program
    return program(name)
