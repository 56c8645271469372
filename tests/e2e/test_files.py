"""Files and process state: offsets, O_APPEND, dup, deleted files, stdio
buffers, cwd, umask, rlimits, environment, cmdline/exe, dlopen, getaddrinfo,
locale."""


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
