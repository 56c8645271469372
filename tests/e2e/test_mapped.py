"""Instant restart: the uncompressed chunks of an image are mapped from the
image file (MAP_PRIVATE), not read. The program's memory must be exactly what
it was, the next checkpoint must store that memory in full (not as a clean
file mapping), and the program must survive its image being removed by the
generation retention while it still maps it."""
import os
import re
import signal

import pytest

from conftest import _descendants, program, read_maps
from helpers import listening, wait_until


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None

MiB = 1 << 20


def host_pid(st, restart_proc):
    status = st.wait_registered(proc=restart_proc)
    return st.restored_host_pid(restart_proc, status["procs"][0]["pid"])


def image_mappings(pid):
    return [m for m in read_maps(pid) if ".stasis" in m[4]]


def step(st, k, out, proc):
    (st.tmp / "verify.step").write_text(str(k))
    st.wait_for(out, f"step {k} done", proc=proc)


def pagemem_killed(st, mib):
    """pagemem of mib MiB checkpointed uncompressed and ended: (out, images)."""
    out = st.tmp / "pagemem.out"
    p = st.launch(program("pagemem"), st.tmp / "verify", mib, out=out, opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    return out, imgs


def test_mapped_restart_cycles(st):
    """Two cycles of --no-compress checkpoint and restart: the memory comes back
    mapped from the image (checked in /proc/PID/maps) and verifies exactly."""
    mapped = []

    def between(st, i, imgs, proc):
        pid = host_pid(st, proc)
        maps = image_mappings(pid)
        assert any(m[4] == imgs[0] for m in maps), (
            f"restart {i + 1}: no memory mapped from {imgs[0]}:\n{read_maps(pid)}")
        mapped.append(sum(int(m[1], 16) - int(m[0], 16) for m in maps))

    st.zdtm("pagemem", 64, opts=["--no-compress"], between=between)
    assert all(n >= 60 * MiB for n in mapped), f"mapped bytes per restart: {mapped}"


def test_no_map_reads(st):
    """restart --no-map reads every chunk: nothing of the image is mapped."""
    out, imgs = pagemem_killed(st, 16)
    argv = [str(st.bin), "restart", "-p", str(st.port), "--no-map", *imgs]
    r = st._spawn(argv, None, None, "restart --no-map")
    assert image_mappings(host_pid(st, r)) == []
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()


def test_mapped_image_removed_by_retention(st):
    """A restarted process keeps running on its mapped image after later
    generations remove the file; its next images hold all of that memory, so a
    restart from them works without the first image."""
    out = st.tmp / "pagemem.out"
    p = st.launch(program("pagemem"), st.tmp / "verify", 32, out=out, opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    first = st.checkpoint(kill=True)[0]
    p.wait()
    r = st.restart([first])
    pid = host_pid(st, r)
    assert image_mappings(pid), "nothing mapped from the image"
    ino = os.stat(first).st_ino
    for k in (1, 2, 3):
        step(st, k, out, r)
        st.checkpoint(kill=False)
    # generations 2, 3, 4 written: the first is gone from the directory
    assert not os.path.exists(first), "retention kept generation 1"
    maps = image_mappings(pid)
    assert maps and all(m[4].endswith("(deleted)") for m in maps), maps
    assert os.stat(f"/proc/{pid}/map_files/{maps[0][0]}-{maps[0][1]}").st_ino == ino
    last = st.checkpoint(kill=True)
    assert r.wait(30) in (-signal.SIGKILL, 128 + signal.SIGKILL)
    size = os.path.getsize(last[0])
    # 32 MiB less the pages given back; as clean file pages it would be a few MiB
    assert size > 28 * MiB, f"image after a mapped restart is {size} bytes: memory missing"
    r2 = st.restart(last)
    st.wait_registered(proc=r2)
    (st.tmp / "verify").touch()
    assert r2.wait(60) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text


def test_mapped_restart_is_fast(st):
    """256 MiB comes back mapped from the image, not read: the restored
    process's memory is the image file's pages (seen in its maps); restart
    verifies their checksums once the program runs, and the runtime maps them
    into its page tables ahead of it. (The time it saves is measured by `make
    bench`, not here.)"""
    out, perr = st.tmp / "pagemem.out", st.tmp / "pagemem.err"
    st.env["STASIS_LOG"] = "debug"  # restart and the runtime say what they did, and when
    p = st.launch(program("pagemem"), st.tmp / "verify", 256, out=out, err=perr,
                  opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p, timeout=60)
    st.wait_registered(proc=p)
    root = p.pid
    imgs = st.checkpoint(kill=True)
    p.wait()
    r = st.restart(imgs)
    st.wait_registered(proc=r)
    pid = st.restored_host_pid(r, root)
    mapped = 0
    for line in open(f"/proc/{pid}/maps"):
        f = line.split()
        if len(f) >= 6 and f[5].endswith(".stasis"):
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            mapped += hi - lo
    assert mapped >= 250 << 20, (f"only {mapped >> 20} MiB of the restored memory is mapped "
                                 f"from the image: it was read, not mapped")
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()
    # the checksums were verified by restart once the program ran (verify.c)
    log = r.err.read_text()
    into_blob = log.index("into the blob")
    m = re.search(r"(\d+) MiB of mapped memory verified in [0-9.]+ ms, while the program ran",
                  log)
    assert m and int(m.group(1)) >= 250 and m.start() > into_blob, log
    # and the runtime brought the mapped pages in ahead of the program (prefault.c)
    m = re.search(r"(\d+) MiB mapped from the image populated in", perr.read_text())
    assert m and int(m.group(1)) >= 250, perr.read_text()[-2000:]


@pytest.mark.parametrize("coordinator", ["running", "started by restart"])
def test_corrupt_mapped_chunk_kills_the_restarted_computation(st, coordinator):
    """Mapped chunks are verified by restart while the program runs: a byte
    changed in the image's memory kills the restarted computation, and
    restart fails naming the image, the chunk's offset and its address
    (before: the same chunk failed the restart before the program ran).
    Whether the coordinator still runs or restart starts it and joins the
    processes once they are restored (restore/gate.c)."""
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), 32, "rand", 0, out=out, opts=["--no-compress"])
    st.wait_for(out, "tick 0 ok", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    st.wait_killed(p)
    if coordinator == "started by restart":
        st.stasis("kill", "-p", st.port, "--coordinator", timeout=20)
        wait_until(lambda: not listening(st.port), 20, "the coordinator gone")
    at = os.path.getsize(imgs[0]) // 2  # in the 32 MiB of random memory
    with open(imgs[0], "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
    r = st.restart(imgs)
    assert r.wait(30) == 1, st.describe_all()
    err = r.err.read_text()
    bad = re.findall(r"^stasis: error: (\S+) is corrupt: memory chunk at offset (\d+) "
                     r"\(address 0x[0-9a-f]+\) fails its checksum; the restarted "
                     r"computation is killed", err, re.M)
    assert len(bad) == 1 and bad[0][0] == imgs[0], err
    assert int(bad[0][1]) <= at < int(bad[0][1]) + MiB, (at, err)
    assert "ended unexpectedly" not in err, err
    left = [c for c in _descendants(os.getpid()) if comm(c) == "memhog"]
    assert not left, f"restored processes left: {left}\n{st.describe_all()}"


@pytest.mark.parametrize("nth", [1, 2])
def test_a_mapping_refused_is_read_instead(st, nth):
    """The kernel may refuse to map more of an image (ENOMEM: vm.max_map_count
    reached beside a program's own regions; STASIS_FAULT=rst-map-run:N here,
    which fails the Nth mapping so): that run and the rest are read instead,
    the restart says so once, and the memory verifies exactly."""
    out, imgs = pagemem_killed(st, 32)
    err = st.tmp / "restart.err"
    st.env.update(STASIS_FAULT=f"rst-map-run:{nth}", STASIS_LOG="debug")
    r = st._spawn([str(st.bin), "restart", "-p", str(st.port), *imgs], None, err, "restart")
    del st.env["STASIS_FAULT"]
    pid = host_pid(st, r)
    text = err.read_text()
    refused = re.findall(r"stasis: warning: pid \d+: the kernel refused to map more of its "
                         r"image \(Cannot allocate memory; vm.max_map_count is \d+; (\d+) runs "
                         r"mapped\): the rest of its memory is read, which takes longer", text)
    assert refused == [str(nth - 1)], text
    mapped = [int(n) for n in re.findall(r"MiB mapped in (\d+) runs", text)]
    assert mapped == ([nth - 1] if nth > 1 else []), text
    assert bool(image_mappings(pid)) == (nth > 1), read_maps(pid)
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()
