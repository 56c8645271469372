"""Memory, one program per feature (tests/programs/mem_*.c): the heap, the
stacks, reservations and MAP_NORESERVE, protections, mremap and
MADV_DONTNEED, shared and file mappings, the vDSO's clocks."""
import os
import re
import signal
import struct
import time

import pytest

from conftest import program, put_u64, reseal, section

MiB = 1 << 20

# program: most bytes its image may store (its memory and the runtime's)
STORED_AT_MOST = {
    "mem_heap": 40 * MiB,  # the 32 MiB malloc block, ~3 MiB of small blocks (36 MiB here)
    "mem_stack": 4 * MiB,  # (0.2 MiB here)
    "mem_reserve": 4 * MiB,  # 1 MiB committed, not the 32 GiB nor the 1 GiB around it (1.1)
    "mem_layout": 4 * MiB,  # (0.4 MiB here)
    "mem_shared": 4 * MiB,  # 2 MiB shared, a few file pages (2.1 MiB here)
    "mem_vdso": 4 * MiB,  # (0.03 MiB here)
    "mem_zeropage": 4 * MiB,  # one page written, 32 MiB read (nothing stored for it)
}


@pytest.mark.parametrize("name", sorted(STORED_AT_MOST))
def test_memory(st, name):
    stored = []

    def between(st, i, imgs, proc):
        stored.append(st.inspect(imgs[0])["stored_bytes"])

    st.zdtm(name, cycles=2, between=between)
    assert len(stored) == 2 and max(stored) < STORED_AT_MOST[name], stored


def test_big_reservation_is_fast(st):
    """A 32 GiB PROT_NONE reservation and a 1 GiB MAP_NORESERVE region are
    neither read nor stored: checkpoint and restart stay fast and the image
    small."""
    out = st.tmp / "mem_reserve.out"
    p = st.launch(program("mem_reserve"), st.tmp / "verify", out=out, opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    t0 = time.monotonic()
    imgs = st.checkpoint(kill=True)
    ckpt_s = time.monotonic() - t0
    p.wait()
    size = sum(os.path.getsize(i) for i in imgs)
    assert size < STORED_AT_MOST["mem_reserve"], f"uncompressed image is {size} bytes"
    assert ckpt_s < 10, f"checkpoint took {ckpt_s:.1f} s"
    t0 = time.monotonic()
    r = st.restart(imgs)
    st.wait_registered(proc=r)
    restart_s = time.monotonic() - t0
    assert restart_s < 10, f"restart took {restart_s:.1f} s"
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    text = out.read_text()
    assert text == "ready\nPASS\n", text


PAUSED = re.compile(r"^stasis: pid \d+ \(\S+\) is restored and stopped before it goes on "
                    r"\(--debug-pause\): attach a debugger with 'gdb -p (\d+)'", re.M)
PAGE = 4096


def page_frames(pid, start, npages):
    """/proc/PID/pagemap of npages from start: the frame number of each page
    present (root sees them), None for each page not."""
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read(npages * 8)
    entries = struct.unpack(f"<{npages}Q", data)
    return [e & ((1 << 55) - 1) if e >> 63 else None for e in entries]


def zero_runs(img, info):
    """The (start, end) runs of the image's zeropages section."""
    s = section(info, "zeropages")
    with open(img, "rb") as f:
        f.seek(s["offset"])
        data = f.read(s["size"])
    return [struct.unpack_from("<QQ", data, k) for k in range(0, len(data), 16)]


def zeropage_launch(st):
    """mem_zeropage launched and ready, checkpointed: (region address, image)."""
    out = st.tmp / "zp.out"
    p = st.launch(program("mem_zeropage"), st.tmp / "verify", out=out)
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    region = int(re.search(r"^region (0x[0-9a-f]+)$", out.read_text(), re.M).group(1), 16)
    before = page_frames(p.pid, region, 64 * MiB // PAGE)
    [img] = st.checkpoint(kill=True)
    p.wait()
    return region, img, before, out


def test_zero_pages_mapped_again_before_the_program_runs(st):
    """Pages the program read but never wrote map the shared zero page: the
    image stores none of them but records where they are (section
    zeropages), and the restorer maps them to the zero page again before the
    program goes on (restore/zeropop.c), so that its next read of them does
    not fault; pages never touched stay unmapped, and no memory is used for
    either. Seen at restart --debug-pause through /proc/PID/pagemap: the 32
    MiB read are present and all one frame (the zero page), of the 32 MiB
    above only the page written is present; then the program verifies its
    memory."""
    if os.geteuid() != 0:
        pytest.skip("reading frame numbers from /proc/PID/pagemap needs root")
    region, img, before, out = zeropage_launch(st)
    read, rest = 32 * MiB // PAGE, 32 * MiB // PAGE
    written = (40 - 32) * MiB // PAGE
    assert None not in before[:read] and len(set(before[:read])) == 1, "the program's premise"
    zero_frame = before[0]
    info = st.inspect(img)
    assert (region, region + 32 * MiB) in zero_runs(img, info)
    # stasis inspect lists the same runs
    assert [(z["start"], z["end"]) for z in info["zero_runs"]] == zero_runs(img, info)
    assert {"start": region, "end": region + 32 * MiB, "npages": read} in info["zero_runs"]
    r = st._spawn([str(st.bin), "restart", "-p", str(st.port), "--debug-pause", img], None, None,
                  "restart")
    deadline = time.monotonic() + 30
    while not PAUSED.search(r.err.read_text()):
        assert time.monotonic() < deadline and r.running(), st.describe_all()
        time.sleep(0.02)
    host = int(PAUSED.search(r.err.read_text()).group(1))
    frames = page_frames(host, region, 64 * MiB // PAGE)
    assert frames[:read] == [zero_frame] * read, \
        f"{sum(f is None for f in frames[:read])} of {read} pages read are not mapped"
    upper = [k for k in range(rest) if frames[read + k] is not None]
    assert upper == [written], upper
    assert frames[read + written] != zero_frame
    os.kill(host, signal.SIGCONT)
    st.wait_registered(proc=r)
    (st.tmp / "verify").touch()
    assert r.wait(30) == 0, st.describe_all()
    assert out.read_text().endswith("ready\nPASS\n"), out.read_text()


def test_zero_page_run_outside_its_region_is_refused(st):
    """A zero-page run that is not inside one private anonymous region of
    the image is refused as corrupt before anything is restored, naming the
    image and the run; nothing of the program runs."""
    region, img, _, out = zeropage_launch(st)
    info = st.inspect(img)
    k = zero_runs(img, info).index((region, region + 32 * MiB))
    at = section(info, "zeropages")["offset"] + 16 * k
    data = bytearray(open(img, "rb").read())
    end = region + 1024 * 1024 * MiB  # 1 TiB further
    put_u64(data, at + 8, end)
    reseal(data, info)
    open(img, "wb").write(data)
    r = st.restart([img])
    assert r.wait(30) != 0
    err = r.err.read_text()
    assert f"{img} is corrupt: zero-page run {k} ({region:#x}-{end:#x}) " \
        "is not in one private anonymous region, in order" in err, err
    assert out.read_text().endswith("ready\n"), out.read_text()
