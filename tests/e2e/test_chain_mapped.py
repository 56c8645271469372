"""A chain of incremental images restarted mapped: each piece of the memory is
mapped from the file of the chain that holds it (restore/mapimg.c), its
checksum verified from that very file while the program runs
(restore/verify.c), and the checkpoints after the restart are whole again.

The workload (tests/programs/pagemem.c with RUN 64) rewrites every 4th block
of 64 pages per step, so that after a full image and three incremental ones
each of the four files holds runs of pages worth a mapping; it gives pages
back (they must come back as zeros) and, at the end, compares every word of
its memory with what it expects."""
import os
import re

import test_incremental as incremental
from conftest import read_maps
from test_incremental import finish, inspect, step

MiB = 1 << 20
SIZE = 64  # MiB


def chain_of_4(st):
    """full g1, incremental g2, g3 (running) and g4 (--kill), blocks of 64 pages"""
    imgs, out = incremental.chain_of_4(st, size=SIZE, stride=4, run=64)
    return [os.path.realpath(i) for i in imgs], out


def restored_pid(st, r):
    status = st.wait_registered(proc=r)
    return st.restored_host_pid(r, status["procs"][0]["pid"])


def mapped_bytes_per_file(pid):
    per = {}
    for start, end, _, _, path in read_maps(pid):
        if path.endswith((".stasis", ".stasis (deleted)")):
            per[path] = per.get(path, 0) + int(end, 16) - int(start, 16)
    return per


def read_syscalls(pid):
    with open(f"/proc/{pid}/io") as f:
        return int(next(l for l in f if l.startswith("syscr:")).split()[1])


def test_chain_restart_maps_every_file(st):
    """Each of the 4 files of the chain has memory mapped from it in the
    restored process; the memory is exactly what was saved (pages given back
    after the restart read as zeros), and restart verified the mapped pieces
    from their files while the program ran."""
    imgs, out = chain_of_4(st)
    st.env["STASIS_LOG"] = "debug"
    r = st.restart([imgs[-1]])
    pid = restored_pid(st, r)
    per = mapped_bytes_per_file(pid)
    assert sorted(per) == sorted(imgs), f"mapped from {per}, chain {imgs}"
    # the full image holds every 4th block (of 64 MiB, less pages given back)
    assert per[imgs[0]] >= 12 * MiB, per
    # the step gives back 256 pages, one madvise(MADV_DONTNEED) each, over
    # image mappings: the runtime's wrapper finds them without reading all of
    # /proc/PID/maps each time (it did: thousands of reads, 19 s for a chain
    # of 16 of 1 GiB); the program's own reads: a few per 20 ms tick
    before = read_syscalls(pid)
    step(st, 4, out, r)
    assert read_syscalls(pid) - before < 128, (before, read_syscalls(pid))
    finish(st, r, out)
    log = r.err.read_text()
    m = re.search(r"pid \d+: (\d+) MiB mapped in (\d+) runs from (\d+) of the (\d+) image files",
                  log)
    assert m and (m.group(3), m.group(4)) == ("4", "4"), log
    m = re.search(r"(\d+) MiB of mapped memory verified in [0-9.]+ ms, while the program ran",
                  log)
    assert m and int(m.group(1)) >= 48, log


def test_corrupt_piece_of_a_middle_image_kills_the_restart(st):
    """A byte changed in a stored chunk of the second image whose pages are
    mapped from it: restart kills the restarted computation and fails naming
    that image and the chunk's offset."""
    imgs, _ = chain_of_4(st)
    own = [c for c in inspect(st, imgs[1])["memory_chunks"]
           if c["image"] == 0 and c["comp"] == "none" and c["npages"] >= 32]
    assert own, inspect(st, imgs[1])["memory_chunks"][:8]
    chunk = own[len(own) // 2]
    at = chunk["offset"] + chunk["npages"] * 4096 // 2
    with open(imgs[1], "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
    r = st.restart([imgs[-1]])
    assert r.wait(30) == 1, st.describe_all()
    err = r.err.read_text()
    bad = re.findall(r"^stasis: error: (\S+) is corrupt: memory chunk at offset (\d+) "
                     r"\(address 0x[0-9a-f]+\) fails its checksum; the restarted "
                     r"computation is killed", err, re.M)
    assert bad == [(imgs[1], str(chunk["offset"]))], err


def test_incremental_checkpoints_after_a_mapped_chain_restart(st):
    """The chain's files removed while the restarted program maps them (and
    restart may still verify them): it runs on. The next image is full (all
    the mapped memory stored, not a reference to the chain's files), the one
    after it incremental on it; restarted from that, the memory is exact."""
    imgs, out = chain_of_4(st)
    r = st.restart([imgs[-1]])
    pid = restored_pid(st, r)
    assert len(mapped_bytes_per_file(pid)) == 4
    for i in imgs:
        os.unlink(i)
    gone = mapped_bytes_per_file(pid)
    assert sorted(gone) == sorted(i + " (deleted)" for i in imgs), gone
    # all of the 64 MiB but the pages given back (1/64 a step)
    incremental.second_cycle(st, r, out, min_full=56 * MiB)
