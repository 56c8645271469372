"""Load: checkpoints while tests/programs/churn creates and joins threads and
forks and reaps children as fast as it can, and while its sender child
queues it real-time signals numbered 1, 2, 3, ... as fast as it can (up to
4096 queued). Several checkpoints while it runs, then checkpoint --kill,
restart, more checkpoints, and the verdict: every signal sent was received
once, in order; every thread made was joined and every child forked was
reaped with the status it exited with; no child is left; the restarted tree
is the same (docs/reliability.md). STASIS_LOAD_ROUNDS sets how many
checkpoints are taken in each half (4 by default)."""
import os
import re

from conftest import _descendants, nspid, program
from helpers import finish, runs_on

ROUNDS = int(os.environ.get("STASIS_LOAD_ROUNDS", "4"))


def counts(out):
    """(threads, forks, signals) of the last tick."""
    m = re.findall(r"^tick \d+ threads (\d+) forks (\d+) signals (\d+)$",
                   out.read_text(errors="replace"), re.M)
    return tuple(map(int, m[-1])) if m else (0, 0, 0)


def under_load(st, out, rounds):
    """rounds checkpoints while the churn goes on, each followed by more of it."""
    for _ in range(rounds):
        before = counts(out)
        imgs = st.checkpoint(kill=False)
        assert len(imgs) == 2, imgs  # the parent and the sender: churned children come and go
        runs_on(st, out, n=3)
        after = counts(out)
        assert all(a > b for a, b in zip(after, before)), (before, after)


def test_checkpoints_under_churn_and_signals(st):
    out = st.tmp / "churn.out"
    p = st.launch(program("churn"), st.tmp / "verify", out=out)  # threads, forks, signals
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(nprocs=2, proc=p)
    parent, sender = p.pid, int(re.search(r"^sender (\d+)$", out.read_text(), re.M).group(1))
    under_load(st, out, ROUNDS)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    r = st.restart(imgs)
    st.wait_registered(nprocs=2, proc=r)
    restored = {nspid(d)[-1]: d for d in _descendants(r.pid) if len(nspid(d)) > 1}
    assert {parent, sender} <= set(restored), restored
    with open(f"/proc/{restored[sender]}/status") as f:
        ppid = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
    assert ppid == restored[parent], "the sender is not the parent's child after the restart"
    under_load(st, out, ROUNDS)
    finish(st, r, out)
    print(re.findall(r"^threads \d+ forks \d+ signals \d+$", out.read_text(), re.M)[-1])
