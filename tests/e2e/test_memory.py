"""Memory, one program per feature (tests/programs/mem_*.c): the heap, the
stacks, reservations and MAP_NORESERVE, protections, mremap and
MADV_DONTNEED, shared and file mappings, the vDSO's clocks."""
import os
import time

import pytest

from conftest import program

MiB = 1 << 20

# program: most bytes its image may store (its memory and the runtime's)
STORED_AT_MOST = {
    "mem_heap": 40 * MiB,  # the 32 MiB malloc block, ~3 MiB of small blocks (36 MiB here)
    "mem_stack": 4 * MiB,  # (0.2 MiB here)
    "mem_reserve": 4 * MiB,  # 1 MiB committed, not the 32 GiB nor the 1 GiB around it (1.1)
    "mem_layout": 4 * MiB,  # (0.4 MiB here)
    "mem_shared": 4 * MiB,  # 2 MiB shared, a few file pages (2.1 MiB here)
    "mem_vdso": 4 * MiB,  # (0.03 MiB here)
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
