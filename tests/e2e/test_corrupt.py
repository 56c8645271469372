"""Corrupt images of a real computation: random bit flips, random bytes and
fields, and truncations of the images of tests/programs/family (three
processes with threads, a pipe and shared memory), both a set of full images
and an incremental chain (each image of generation 3 needs its parents of
generations 2 and 1). Each damaged set is given to `stasis restart`, which
must refuse it with a message naming the damaged file and the part of it
that is wrong, and leave no process behind (a damaged memory chunk is found
while the processes are restored: the whole restart is then ended); a damage
that changes nothing a restart reads (padding) may restart, and the program
must then verify its whole state. A damaged chunk mapped from its image is
found by restart while the program already runs (restore/verify.c): the
processes may have come back, and restart then ends them all and exits 1
naming the file and the chunk. STASIS_CORRUPT_MUTANTS sets how many damaged
sets are tried (300 by default; the run prints what was refused and where)."""
import os
import random
import re
import subprocess
import time

import pytest

from helpers import coordinator, live_descendants, start_tree, status_of, wait_until

MUTANTS = int(os.environ.get("STASIS_CORRUPT_MUTANTS", "300"))
SEED = int(os.environ.get("STASIS_CORRUPT_SEED", "8"))
PART = re.compile(r"is corrupt|is truncated|is not a stasis image|image format version")


def mutate(b, rnd):
    """One to three damages to bytearray b, offsets spread over its header
    page, its tail (sections, table, trailer) and the rest (memory)."""
    for _ in range(rnd.randint(1, 3)):
        region = rnd.randrange(3)
        lo, hi = [(0, 4096), (max(0, len(b) - 65536), len(b)), (0, len(b))][region]
        off = rnd.randrange(lo, min(hi, len(b)))
        kind = rnd.randrange(5)
        if kind == 0:
            b[off] ^= 1 << rnd.randrange(8)
        elif kind == 1:
            b[off] = rnd.randrange(256)
        elif kind == 2:
            off &= ~3
            b[off:off + 4] = rnd.randbytes(4)[:len(b) - off]
        elif kind == 3:
            del b[off:]
        else:
            off &= ~3
            b[off:off + 4] = (0xfffffff0).to_bytes(4, "little")[:len(b) - off]
        if not b:
            return


PARTS = [("header", r"bad magic|format version|header checksum|header size"),
         ("file size", r"truncated"), ("section table", r"section table"),
         ("trailer", r"trailer"), ("section {}", r"section (\w+)"),
         ("memory chunk", r"memory chunk"), ("memory region", r"memory region"),
         ("parent", r"parent")]


def part_of(message):
    """Which part of the image a refusal names, for the summary."""
    for name, pattern in PARTS:
        m = re.search(pattern, message)
        if m:
            return name.format(*m.groups())
    return re.search(r"is corrupt: (\S+ \S+)", message).group(1)


def restart_set(st, images, timeout=30):
    """`stasis restart IMAGES`: (exit status, stderr) once it ends; when the
    processes come back, the program is told to verify, and restart ends with
    its status (0: PASS)."""
    verify = st.tmp / "verify"
    p = subprocess.Popen([str(st.bin), "restart", "-p", str(st.port), *map(str, images)],
                         env=st.env, cwd=st.tmp, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                rc = p.wait(timeout=0.02)
                return rc, p.stderr.read(), False
            except subprocess.TimeoutExpired:
                pass
            s = status_of(st)
            if s["nprocs"] == 3 and s["state"] == "idle":
                verify.touch()
                return p.wait(timeout), p.stderr.read(), True
            if time.monotonic() > deadline:
                pytest.fail(f"restart of {images} neither ended nor came back: {s}")
    finally:
        if p.poll() is None:
            p.kill()
        verify.unlink(missing_ok=True)


def test_damaged_images_are_refused(st):
    coord = coordinator(st)
    p, out = start_tree(st, nchild=2, mib=2, name="family", extra=(1,),
                        opts=("--incremental",))
    st.checkpoint(kill=False)
    st.checkpoint(kill=False)
    chain = st.checkpoint(kill=True)
    st.wait_killed(p)
    files = sorted(st.ckpt_dir.glob("*.stasis"))
    full = [f for f in files if f.name.endswith("_g1.stasis")]
    assert len(files) == 9 and len(full) == 3, files
    pristine = {f: f.read_bytes() for f in files}
    rnd = random.Random(SEED)
    refused, accepted, where = 0, 0, {}
    for i in range(MUTANTS):
        images = full if i % 2 else chain
        victim = rnd.choice(full if i % 2 else files)
        b = bytearray(pristine[victim])
        mutate(b, rnd)
        victim.write_bytes(b)
        try:
            rc, err, came_back = restart_set(st, images)
        finally:
            victim.write_bytes(pristine[victim])
        what = f"mutant {i} of {victim.name} (seed {SEED}): exit {rc}\n{err}"
        late = re.search(re.escape(victim.name) + r" is corrupt: memory chunk at offset \d+ "
                         r"\(address 0x[0-9a-f]+\) fails its checksum; the restarted "
                         r"computation is killed", err)
        if came_back and rc and late:  # a mapped chunk, verified while the program ran
            assert rc == 1, what
            where["memory chunk, verified while running"] = \
                where.get("memory chunk, verified while running", 0) + 1
            refused += 1
        elif came_back:
            assert rc == 0, f"a damaged image restarted a broken program: {what}"
            accepted += 1
        else:
            assert rc == 1, what
            named = [l for l in err.splitlines() if victim.name in l and PART.search(l)]
            assert named, f"no message names {victim.name} and what is wrong in it: {what}"
            where[part_of(named[0])] = where.get(part_of(named[0]), 0) + 1
            refused += 1
        wait_until(lambda: live_descendants() == {coord}, 10, f"no process left: {what}")
        s = status_of(st)
        assert s["nprocs"] == 0 and s["state"] == "idle", (what, s)
    print(f"{MUTANTS} damaged sets: {refused} refused, {accepted} restarted and verified; "
          f"refusals by part: {dict(sorted(where.items()))}")
    assert refused >= MUTANTS * 0.8
    rc, err, came_back = restart_set(st, chain)
    assert came_back and rc == 0, err
