"""The libc side of Stasis (CLI, coordinator, restorer, image reader) under
AddressSanitizer and UBSan: a whole launch / checkpoint / restart / inspect cycle
with the build/asan binary (`make asan` builds it; scripts/check.sh runs it
first). Any sanitizer report fails the test."""

import os
from pathlib import Path

import pytest

from conftest import BUILD, RUNTIME

ASAN_BIN = BUILD / "asan" / "bin" / "stasis"


@pytest.fixture
def asan(st):
    if not ASAN_BIN.exists():
        pytest.fail(f"{ASAN_BIN} is missing: run 'make asan' first")
    st.bin = ASAN_BIN
    st.env["STASIS_LIB"] = str(RUNTIME)  # the runtime is preloaded uninstrumented
    st.env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    st.env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    return st


def sanitizer_reports(st):
    found = []
    for f in Path(st.tmp).glob("stderr.*"):
        text = f.read_text(errors="replace")
        if "AddressSanitizer" in text or "runtime error:" in text:
            found.append(f"{f}:\n{text[-3000:]}")
    return found


def test_cycle_under_asan(asan):
    text = asan.zdtm("threads", cycles=2)
    assert "PASS" in text
    assert not sanitizer_reports(asan), "\n".join(sanitizer_reports(asan))


def test_inspect_and_bad_images_under_asan(asan):
    # random memory is stored raw: the first chunk starts at byte 4096
    p = asan.launch(os.fspath(BUILD / "tests" / "programs" / "memhog"), "8", "rand")
    out = p.out
    asan.wait_for(out, "tick 1 ", proc=p)
    asan.wait_registered(proc=p)
    img = asan.checkpoint(kill=True)[0]
    r = asan.stasis("inspect", "--json", img)
    assert r.returncode == 0, r.stderr
    assert '"checksums_ok":true' in r.stdout
    data = bytearray(Path(img).read_bytes())
    bad = Path(asan.tmp) / "bad.stasis"
    # magic, version, header field, memory chunk, section table, trailer
    for off in (0, 9, 40, 4096 + 100, len(data) - 40, len(data) - 5):
        damaged = bytearray(data)
        damaged[off] ^= 0x5A
        bad.write_bytes(damaged)
        os.chmod(bad, 0o600)
        r = asan.stasis("restart", "-p", asan.port, bad)
        assert r.returncode != 0, f"restart accepted an image damaged at byte {off}"
        assert "bad.stasis" in r.stderr, r.stderr
        assert "AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
