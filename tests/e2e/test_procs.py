"""Every way of making a process joins the computation and comes back after a
restart (two checkpoint/kill/restart cycles each), zombies come back as
zombies with their exit status, and a process that exits leaves the
computation. Programs: tests/programs/proc_*.c."""

import pytest

PIPED = ["fork_mt", "vfork_exec", "clone_glibc", "clone_raw", "clone3_raw", "spawn",
         "popen_r", "popen_w"]


@pytest.mark.parametrize("method", PIPED)
def test_child_made_by(st, method):
    """The child writes a sequence to its parent (or reads one from it) through
    a pipe across two restarts: nothing lost or repeated, and the parent can
    still wait for it."""
    st.zdtm("proc_create", method, nprocs=2)


def test_system(st):
    """system() blocks in waitpid (SIGCHLD blocked, SIGINT ignored) across two
    restarts and returns the command's exit status."""
    st.zdtm("proc_create", "system", nprocs=2)
