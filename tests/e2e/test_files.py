"""Files and process state, one program per feature: offsets, O_APPEND and
dup (files_offsets), deleted files, stdio buffers, /dev/null and directory
fds (files_special), cwd, umask, rlimits, environment, cmdline/exe
(procstate), dlopen, getaddrinfo, locale (loader)."""
import pytest

from helpers import writes_on


@pytest.mark.parametrize("name,args", [("files_offsets", ()), ("files_special", ()),
                                       ("procstate", ("an arg with spaces", "x")),
                                       ("loader", ())])
def test_files(st, name, args):
    st.zdtm(name, *args, cycles=2)


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


def test_log_appended_to_meanwhile(st):
    """A write-only O_APPEND stdout (a batch job's output file, which the job's
    next run appends to before it restarts the program) that grew between the
    checkpoint and the restart: restart does not warn that it changed (the
    program cannot read it), and the program's lines go after the added one."""
    from conftest import program
    out = st.tmp / "job.out"
    out.write_text("job run 1\n")
    p = st.launch(program("memhog"), "4", "text", out=out, append=True)
    st.wait_for(out, "tick 3 ok", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    n = len(out.read_text().splitlines()) - 1
    with open(out, "a") as f:
        f.write("job run 2\n")
    r = st.restart(imgs)
    st.wait_for(out, f"tick {n + 1} ok", proc=r)
    st.wait_registered(proc=r)
    lines = out.read_text().splitlines()
    assert lines[:n + 3] == (["job run 1"] + [f"tick {i} ok" for i in range(n)] + ["job run 2"]
                             + [f"tick {n} ok"]), lines
    err = r.err.read_text()
    assert "changed since the checkpoint" not in err, err


def test_changed_file_warned_once(st):
    """A file held by three descriptions that changed between the checkpoint
    and the restart: the restart warns once for the file, not once per
    descriptor (10000 descriptors of one file gave 10000 warnings), and every
    offset comes back."""
    from conftest import program
    data, out = st.tmp / "big.dat", st.tmp / "hog.out"
    data.write_bytes(b"x" * (2 << 20))  # over 1 MiB: not kept by the checkpoint
    p = st.launch(program("manyhog"), "-m", "1", "-f", "3", "-F", data, "-i", "10", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    size = out.stat().st_size
    with open(data, "ab") as f:
        f.write(b"y")
    r = st.restart(imgs)
    writes_on(st, r, out, size)
    err = r.err.read_text()
    assert err.count(f"{data} changed since the checkpoint (size {(2 << 20) + 1}, was "
                     f"{2 << 20})") == 1, err


@pytest.mark.parametrize("mode", ["600", "200"])
def test_deleted_file_held_write_only(st, mode):
    """A file deleted while held open write-only (a log, DMTCP's file1) is kept
    by the checkpoint: the runtime reads it through /proc/self/fd. The program
    holds itself to the file's mode as a plain user would (no DAC override);
    mode 200 denies reading even to the owner."""
    st.zdtm("del_wronly", mode, cycles=2)
