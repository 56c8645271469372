"""scripts/dmtcp-cutlines.py, the judge of `make check-dmtcp`'s second run:
a failure is run again only when every line the runner reported is a piece
of a longer line its program printed whole; the summary names each failure
and exits 1 on one."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "scripts", "dmtcp-cutlines.py")
LONG = "stasis: error: " + "x" * 250
OUTPUT = ("\tGEZ Expected SUCCESS, Got SUCCESS\n"
          "\tZNG Expected FAILURE, Got FAILURE\n\x1b[1mbold\x1b[0m\n" * 2 +
          "once: a real error\n" + LONG + "\n")


def work_with(tmp_path, results):
    """a runner's work directory: results.json and each test's worker-0.out."""
    for name in results:
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "worker-0.out").write_text(OUTPUT)
    (tmp_path / "results.json").write_text(json.dumps(results))
    return str(tmp_path)


def failed(name, *lines, after="restart"):
    return {"name": name, "result": "fail",
            "error": f"cycle 1: error output after {after}: {[f'worker-0.out: {x}' for x in lines]!r}"}


def tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=30)


def test_only_a_failure_on_cut_lines_is_run_again(tmp_path):
    work = work_with(tmp_path, {
        "cut": failed("cut", "Expected FAILURE, Got FAILURE", "ZNG Expected FAILURE, Got FAIL"),
        "cut-ckpt": failed("cut-ckpt", "LURE, Got FAILURE", after="checkpoint"),
        "whole": failed("whole", "ZNG Expected FAILURE, Got FAILURE"),
        "mixed": failed("mixed", "Expected FAILURE, Got FAILURE", "Segmentation fault"),
        "other": {"name": "other", "result": "fail", "error": "cycle 2: 0 processes after restart"},
        "once": failed("once", "a real error"),  # in a line printed once
        "long": failed("long", LONG[:200]),  # the runner cut it to 200
        "passed": {"name": "passed", "result": "pass"},
    })
    r = tool("cut", work, "cut", "cut-ckpt", "whole", "mixed", "other", "once", "long", "passed",
             "absent")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["cut", "cut-ckpt"]
    assert ("'Expected FAILURE, Got FAILURE' is part of its line "
            "'ZNG Expected FAILURE, Got FAILURE' in worker-0.out") in r.stderr


def test_the_summary_names_each_failure_and_counts_like_the_runner(tmp_path):
    work = work_with(tmp_path, {
        "a": {"name": "a", "result": "pass"},
        "b": {"name": "b", "result": "skip", "why": "needs MATLAB"},
        "c": failed("c", "Segmentation fault"),
    })
    r = tool("summary", work, "a", "b", "c", "never-run")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[-1] == "1 passed, 2 failed, 1 skipped"
    assert lines[0].split()[:2] == ["c", "FAILED"] and "Segmentation fault" in lines[0]
    assert lines[1].split() == ["never-run", "FAILED", "no", "result", "recorded"]
    r = tool("summary", work, "a", "b")
    assert (r.returncode, r.stdout) == (0, "1 passed, 0 failed, 1 skipped\n")


def test_unreadable_results_stop_with_the_reason(tmp_path):
    r = tool("summary", str(tmp_path), "a")
    assert r.returncode == 2
    assert f"cannot read the runner's results in {tmp_path}" in r.stderr
