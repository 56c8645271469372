"""Bash completion (completion/stasis.bash): commands, each command's options
(read from its --help), the ports of the coordinators running for this user
(token files in the run directory of coordinators that listen), image files
and directories. Driven like bash does it: COMP_WORDS and COMP_CWORD set,
_stasis called, COMPREPLY read."""

import os
import re
import subprocess
import time

from conftest import ROOT, STASIS, free_port

COMPLETION = ROOT / "completion" / "stasis.bash"


def complete(st, *words, cwd=None):
    """What bash offers for the command line `words` (the last one being the
    word under the cursor)."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _stasis; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", str(COMPLETION),
                        str(STASIS), *words], capture_output=True, text=True, env=st.env,
                       cwd=cwd or st.tmp, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r
    return [w for w in r.stdout.split("\n") if w]


def listening():
    """The TCP ports something listens on (/proc/net/tcp, state 0A)."""
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(f).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":
                ports.add(int(local.split(":")[1], 16))
    return ports


def test_commands(st):
    out = subprocess.run([str(STASIS), "--help"], capture_output=True, text=True).stdout
    cmds = re.findall(r"^  ([a-z]+) ", out, re.M)
    assert complete(st, "") == cmds + ["--help", "--version"]
    assert complete(st, "re") == ["restart"]
    assert complete(st, "--v") == ["--version"]


def test_options_of_each_command(st):
    assert complete(st, "checkpoint", "--") == ["--ckpt-dir", "--coord-host", "--help",
                                                "--incremental",
                                                "--kill", "--no-compress", "--port",
                                                "--token-file"]
    assert complete(st, "restart", "--no-") == ["--no-map", "--no-verify"]
    assert complete(st, "status", "-") == ["--coord-host", "--help", "--json", "--port",
                                           "--token-file", "-h", "-p"]
    assert complete(st, "launch", "--n") == ["--no-compress", "--no-tty"]
    # launch: after the program, the words are the program's
    assert complete(st, "launch", "-p", "7", "sh", "--no") == []


def test_ports_of_running_coordinators(st):
    """Two coordinators of this user: both ports are offered; one that was
    killed (its token file left behind) and a token file of no coordinator
    are not."""
    ports = sorted([st.port, free_port(), free_port()])
    for p in ports:
        r = st.stasis("coordinator", "--daemon", "-p", p)
        assert r.returncode == 0, r
    (st.run_dir / f"coord-{free_port()}.token").write_text("0" * 64 + "\n")
    killed = ports.pop()
    pid = int(re.search(r"\(pid (\d+)\)", st.stasis("status", "-p", killed).stdout).group(1))
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while killed in listening():
        assert time.monotonic() < deadline, f"the killed coordinator still listens on {killed}"
        time.sleep(0.01)
    assert (st.run_dir / f"coord-{killed}.token").exists()
    assert complete(st, "status", "-p", "") == [str(p) for p in ports]
    assert complete(st, "checkpoint", "--kill", "--port", str(ports[1])[:2]) == \
        [str(p) for p in ports if str(p).startswith(str(ports[1])[:2])]
    for p in ports:
        assert st.stasis("kill", "-p", p, "--coordinator").returncode == 0


def test_images_and_directories(st):
    d = st.ckpt_dir
    for name in ("ckpt_a_1_10_g1.stasis", "ckpt_b_1_11_g1.stasis", "notes.txt"):
        (d / name).write_text("")
    (d / "older").mkdir()
    assert complete(st, "restart", "", cwd=d) == ["older", "ckpt_a_1_10_g1.stasis",
                                                  "ckpt_b_1_11_g1.stasis"]
    assert complete(st, "inspect", "--json", "ckpt_b", cwd=d) == ["ckpt_b_1_11_g1.stasis"]
    assert complete(st, "restart", "--dir", "", cwd=d) == ["older"]
    assert complete(st, "inspect", "--dir", "older", "", cwd=d) == ["ps", "threads", "fds",
                                                                   "mem", "ipc", "all"]
    assert complete(st, "inspect", "--dir", "older", "--json", "f", cwd=d) == ["fds"]
    assert sorted(complete(st, "merge", "ckpt_a_1_10_g1.stasis", "", cwd=d)) == \
        ["ckpt_a_1_10_g1.stasis", "ckpt_b_1_11_g1.stasis", "notes.txt", "older"]
