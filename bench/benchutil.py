"""What bench/run.py and bench/hosts4.py both use."""
import re

TICK = re.compile(rb"^tick (\d+) (ok|CORRUPT)$", re.M)  # memhog's line every 100 ms


def tail(path, n=3):
    """The last n lines of a file, on one line ("" when it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-n:])
    except OSError:
        return ""
