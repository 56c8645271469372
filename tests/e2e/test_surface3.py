"""The user's side, third part (issue 13): `inspect --dir` for a whole
checkpoint, restart's -p 0 / --port-file / --log-file, usage errors as JSON,
and a coordinator reached through one of this host's own addresses."""
import json
import re

from conftest import program
from test_surface2 import kill_and_wait, wait_file, wait_gone, wait_status


# ---- restart -p 0, --port-file, --log-file ----------------------------------------

def test_restart_on_port_zero_with_port_file_and_log_file(st):
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    pf, log = st.tmp / "port", st.tmp / "coord.log"
    p = st._spawn([str(st.bin), "restart", "-p", "0", "--port-file", str(pf), "--log-file",
                   str(log), "--dir", str(st.ckpt_dir)], None, None, "restart")
    port = int(wait_file(pf))
    assert port != st.port
    s = wait_status(st, lambda s: s["nprocs"] == 1 and s["state"] == "idle", "idle back",
                    port=port)
    assert (s["port"], s["log"]) == (port, str(log)), s
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d stasis: coordinator listening on "
                     rf"127\.0\.0\.1:{port} ", log.read_text(), re.M), log.read_text()
    r = st.stasis("checkpoint", "-p", port, "--kill")
    assert r.returncode == 0, r.stderr
    st.wait_killed(p)
    wait_gone(pf)  # its coordinator exited with its last process


def test_restart_port_file_names_the_running_coordinator(st):
    r = st.stasis("coordinator", "-p", st.port, "--daemon", "--ckpt-dir", st.ckpt_dir)
    assert r.returncode == 0, r.stderr
    p = st.launch(program("idle"))
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    pf = st.tmp / "port"
    p = st._spawn([str(st.bin), "restart", "-p", str(st.port), "--port-file", str(pf),
                   "--dir", str(st.ckpt_dir)], None, None, "restart")
    assert wait_file(pf) == f"{st.port}\n"
    st.wait_registered(proc=p)
    kill_and_wait(st, p)
    assert st.stasis("kill", "-p", st.port, "--coordinator").returncode == 0


# ---- usage errors as JSON -------------------------------------------------------

USAGE = [  # (argv, its message: the same with and without --json)
    (["status", "--bogus"], "stasis status: unknown option '--bogus'"),
    (["status", "-p"], "stasis status: option '-p' needs a value (PORT)"),
    (["status", "--json=1"], "stasis status: option '--json' takes no value"),
    (["interval"], "stasis interval: missing SECONDS"),
    (["interval", "-x", "5"], "stasis interval: unknown option '-x'"),
    (["inspect", "a", "b"], "stasis inspect: unexpected argument 'b'"),
    (["check", "extra"], "stasis check: unexpected argument 'extra'"),
]
BAD_NUMBER = [
    (["status", "-p", "abc"], "invalid port 'abc': expected a number from 1 to 65535"),
    (["interval", "x"], "invalid interval 'x': expected a number of seconds (0 to 4294967)"),
    (["interval", "-p", "70000", "5"], "invalid port '70000': expected a number from 1 to 65535"),
]


def test_usage_errors_are_json_under_json(st):
    for argv, msg in USAGE:
        cmd = argv[0]
        r = st.stasis(*argv)
        assert (r.returncode, r.stdout) == (2, ""), (argv, r)
        assert r.stderr.startswith(f"{msg}\nusage: stasis {cmd} "), (argv, r.stderr)
        # --json before the error and after it (not after an option that takes a value)
        for at in (1,) if argv[-1] == "-p" else (1, len(argv)):
            r = st.stasis(*argv[:at], "--json", *argv[at:])
            assert (r.returncode, r.stderr) == (2, ""), (argv, at, r)
            assert json.loads(r.stdout) == {"error": f"{msg} (see 'stasis {cmd} --help')"}, \
                (argv, at, r.stdout)
    for argv, msg in BAD_NUMBER:
        r = st.stasis(*argv)
        assert (r.returncode, r.stdout, r.stderr) == (2, "", f"stasis: error: {msg}\n"), r
        for at in (1, len(argv)):
            r = st.stasis(*argv[:at], "--json", *argv[at:])
            assert (r.returncode, r.stderr) == (2, ""), (argv, at, r)
            assert json.loads(r.stdout) == {"error": msg}, (argv, at, r.stdout)
