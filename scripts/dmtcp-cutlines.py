#!/usr/bin/env python3
"""Helper of scripts/dmtcp-suite.sh, over the runner's results in WORK.

  dmtcp-cutlines.py cut WORK TEST...      the failed TESTs whose every
      reported line is a piece of a line their program printed whole (one
      name a line on stdout, the evidence on stderr)
  dmtcp-cutlines.py summary WORK TEST...  each failed TEST with its error,
      then "N passed, M failed, K skipped" over TEST...; exit 1 on a failure

The runner reports output lines written since its last scan that look like
errors. It scans from the file's size at that scan to its size now, and a
program whose stdout is a file (DMTCP's syscall-tester) writes it in 4 KiB
blocks, so a scan can begin or end inside a line: "ZNG Expected FAILURE, Got
FAILURE" (printed before every checkpoint, benign) is then reported as the
new line "Expected FAILURE, Got FAILURE". A failure is taken as such a cut
only when each reported line appears nowhere in its file as a whole line but
inside a longer one that the program printed more than once (a line printed
once, an error say, is no benign repeat), and is shorter than the 200
characters to which the runner cuts what it reports.
"""
import ast
import collections
import json
import os
import re
import sys

ERROR = re.compile(r"error output after (?:checkpoint|restart): (\[.*\])$")
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
REPORTED_MAX = 200  # the runner reports line[:200]


def whole_lines(path):
    """{line: times printed} of the file's lines as the runner reads them
    (escapes out, stripped)."""
    with open(path, "rb") as fh:
        text = fh.read().decode("utf-8", "replace")
    return collections.Counter(CSI.sub("", line).strip() for line in text.splitlines())


def cut_evidence(work, result):
    """(piece, line, file) for every line reported, or None when one is not
    a piece of a longer line of its file or the error is of another kind."""
    m = ERROR.search(result.get("error", ""))
    if not m:
        return None
    try:
        reported = ast.literal_eval(m.group(1))
    except (ValueError, SyntaxError):
        return None
    evidence = []
    for item in reported:
        name, sep, piece = item.partition(": ")
        path = os.path.join(work, "runs", result["name"], name)
        if not sep or not piece or len(piece) >= REPORTED_MAX or os.path.basename(name) != name:
            return None
        try:
            lines = whole_lines(path)
        except OSError:
            return None
        if piece in lines:
            return None
        longer = sorted(line for line, times in lines.items() if piece in line and times > 1)
        if not longer:
            return None
        evidence.append((piece, longer[0], name))
    return evidence or None


def load(work):
    with open(os.path.join(work, "results.json")) as fh:
        return json.load(fh)


def cut(work, names):
    results = load(work)
    for name in names:
        result = results.get(name, {})
        if result.get("result") != "fail":
            continue
        evidence = cut_evidence(work, result)
        if not evidence:
            continue
        why = "; ".join(f"'{p}' is part of its line '{l}' in {f}" for p, l, f in evidence)
        print(f"check-dmtcp: {name} is run again: its failure was only a line cut by the "
              f"runner's scan, not new output: {why}", file=sys.stderr)
        print(name)
    return 0


def summary(work, names):
    results = load(work)
    count = {"pass": 0, "fail": 0, "skip": 0}
    for name in names:
        result = results.get(name, {"result": "fail", "error": "no result recorded"})
        outcome = result.get("result", "fail")
        count[outcome if outcome in count else "fail"] += 1
        if outcome not in ("pass", "skip"):
            print(f"{name:42s} FAILED  {result.get('error', outcome)}")
    print(f"{count['pass']} passed, {count['fail']} failed, {count['skip']} skipped")
    return 1 if count["fail"] else 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("cut", "summary"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, work, names = argv[1], argv[2], argv[3:]
    try:
        return (cut if mode == "cut" else summary)(work, names)
    except (OSError, ValueError) as e:
        print(f"check-dmtcp: cannot read the runner's results in {work}: {e}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
