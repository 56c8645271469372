"""Memory: heap, stacks, reservations, protections, mremap, shared and file
mappings, MADV_DONTNEED, vDSO."""
import json
import time

MiB = 1 << 20


def test_memory(st):
    sizes = []

    def between(st, i, imgs, proc):
        r = st.stasis("inspect", "--json", imgs[0])
        assert r.returncode == 0, r.stderr
        sizes.append(json.loads(r.stdout))

    st.zdtm("memory", cycles=2, between=between)
    for info in sizes:
        # 32 MiB malloc + 2 MiB shared + ~6 MiB of heap and small regions: the
        # 32 GiB reservation and the 1 GiB MAP_NORESERVE region are not stored
        assert info["stored_bytes"] < 100 * MiB, info["stored_bytes"]
        assert info["memory_bytes"] < 200 * MiB, info["memory_bytes"]


def test_big_reservation_is_fast(st):
    """A 32 GiB PROT_NONE reservation is neither read nor stored: checkpoint and
    restart stay fast and the image small."""
    out = st.tmp / "memory.out"
    p = st.launch(st_program("memory"), st.tmp / "verify", out=out, opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    t0 = time.monotonic()
    imgs = st.checkpoint(kill=True)
    ckpt_s = time.monotonic() - t0
    p.wait()
    size = sum(__import__("os").path.getsize(i) for i in imgs)
    assert size < 100 * MiB, f"uncompressed image is {size} bytes"
    assert ckpt_s < 10, f"checkpoint took {ckpt_s:.1f} s"
    t0 = time.monotonic()
    r = st.restart(imgs)
    st.wait_registered(proc=r)
    restart_s = time.monotonic() - t0
    assert restart_s < 10, f"restart took {restart_s:.1f} s"
    (st.tmp / "verify").touch()
    assert r.wait(60) == 0, st.describe_all()
    assert "PASS" in out.read_text(), st.describe_all()


def st_program(name):
    from conftest import program
    return program(name)
