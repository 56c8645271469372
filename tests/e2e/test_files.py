"""Files and process state: offsets, O_APPEND, dup, deleted files, stdio
buffers, cwd, umask, rlimits, environment, cmdline/exe, dlopen, getaddrinfo,
locale."""
import pytest


def test_files(st):
    st.zdtm("files", "an arg with spaces", "x", cycles=2)


def test_stdout_file_continues(st):
    """A program whose stdout is a file keeps appending to it after restart:
    no line lost, none repeated."""
    from conftest import program
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "4", "text", out=out)
    st.wait_for(out, "tick 3 ok", proc=p)
    st.wait_registered(proc=p)
    for _ in range(2):
        imgs = st.checkpoint(kill=True)
        p.wait()
        n = len(out.read_text().splitlines())
        p = st.restart(imgs)
        st.wait_for(out, f"tick {n + 2} ok", proc=p)
        st.wait_registered(proc=p)
    lines = out.read_text().splitlines()
    assert lines == [f"tick {i} ok" for i in range(len(lines))], lines


@pytest.mark.parametrize("mode", ["600", "200"])
def test_deleted_file_held_write_only(st, mode):
    """A file deleted while held open write-only (a log, DMTCP's file1) is kept
    by the checkpoint: the runtime reads it through /proc/self/fd. The program
    holds itself to the file's mode as a plain user would (no DAC override);
    mode 200 denies reading even to the owner."""
    st.zdtm("del_wronly", mode, cycles=2)
