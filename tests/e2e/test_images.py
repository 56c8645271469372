"""Images: damaged, foreign and wrong-version images are refused with a message
that names the file and the problem, and change nothing; generations; modes."""
import json
import os
import shutil
import stat

import pytest

from conftest import (CHUNK_SIZE, CHUNK_SUM, HEADER_SUM, TRAILER_HEADER_SUM, program, put_u64,
                      reseal, section, xxh3)

HEADER_VERSION = 8  # docs/format.md: the header's version field


def make_image(st, opts=(), size_mib=4):
    """Launch memhog, wait for some ticks, checkpoint --kill: (image, stdout file)."""
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), str(size_mib), "rand", "2", out=out, opts=opts)
    st.wait_for(out, "tick 2 ok", proc=p)
    st.wait_registered(proc=p)
    imgs = st.checkpoint(kill=True)
    p.wait()
    assert len(imgs) == 1
    return imgs[0], out


def refused(st, path, out, words):
    """restart and inspect of path must fail, naming the file and one of words,
    leaving the image and the program's output untouched."""
    before = open(path, "rb").read()
    out_before = out.read_bytes() if out else None
    r = st.restart([path])
    rc = r.wait(60)
    err = r.err.read_text()
    assert rc != 0, f"restart of a bad image exited 0\n{st.describe_all()}"
    assert str(path) in err, f"restart message does not name {path}: {err!r}"
    assert any(w in err.lower() for w in words), f"restart message lacks {words}: {err!r}"
    assert "Segmentation" not in err and rc > 0, f"restart crashed ({rc}): {err!r}"
    i = st.stasis("inspect", path)
    assert i.returncode != 0, f"inspect of a bad image exited 0: {i.stdout[-500:]}"
    assert str(path) in i.stderr and any(w in i.stderr.lower() for w in words), i.stderr
    assert open(path, "rb").read() == before, "the image file was modified"
    if out:
        assert out.read_bytes() == out_before, "the program ran from a bad image"


@pytest.fixture
def image(st):
    img, out = make_image(st)
    assert st.inspect(img)["checksums_ok"] is True
    bad = st.tmp / "bad.stasis"
    shutil.copyfile(img, bad)
    return bad, out


def test_truncated_image(st, image):
    bad, out = image
    size = bad.stat().st_size
    os.truncate(bad, size // 2)
    refused(st, bad, out, ["truncated"])


def test_truncated_to_header(st, image):
    bad, out = image
    os.truncate(bad, 100)
    refused(st, bad, out, ["truncated", "not a stasis image"])


def test_flipped_byte_in_memory_chunk(st, image):
    bad, out = image
    big = max(st.inspect(bad)["memory_chunks"], key=lambda c: c["stored_size"])
    data = bytearray(bad.read_bytes())
    data[big["offset"] + big["stored_size"] // 2] ^= 0x40
    bad.write_bytes(data)
    refused(st, bad, out, ["checksum"])


def test_flipped_byte_in_header(st, image):
    bad, out = image
    data = bytearray(bad.read_bytes())
    data[30] ^= 0x01  # inside comp_id
    bad.write_bytes(data)
    refused(st, bad, out, ["header checksum"])


def test_flipped_byte_in_section(st, image):
    bad, out = image
    first = st.inspect(bad)["sections"][0]
    data = bytearray(bad.read_bytes())
    data[first["offset"] + first["size"] // 2] ^= 0x10
    bad.write_bytes(data)
    refused(st, bad, out, ["checksum"])


def test_wrong_version_checksum_not_fixed(st, image):
    bad, out = image
    data = bytearray(bad.read_bytes())
    data[HEADER_VERSION:HEADER_VERSION + 4] = (99).to_bytes(4, "little")
    bad.write_bytes(data)
    refused(st, bad, out, ["version", "checksum"])


def test_wrong_version_valid_checksum(st, image):
    """An image from a newer release: valid checksums, unknown version."""
    bad, out = image
    data = bytearray(bad.read_bytes())
    data[HEADER_VERSION:HEADER_VERSION + 4] = (99).to_bytes(4, "little")
    s = xxh3(data[:HEADER_SUM])
    put_u64(data, HEADER_SUM, s)
    put_u64(data, len(data) + TRAILER_HEADER_SUM, s)
    bad.write_bytes(data)
    refused(st, bad, out, ["version 99"])


def test_not_an_image(st):
    bad = st.tmp / "notes.stasis"
    bad.write_text("these are not the pages you are looking for\n" * 100)
    refused(st, bad, None, ["not a stasis image"])


def test_empty_file(st):
    bad = st.tmp / "empty.stasis"
    bad.write_bytes(b"")
    refused(st, bad, None, ["not a stasis image", "truncated", "empty"])


def test_missing_file(st):
    r = st.stasis("restart", "-p", st.port, st.tmp / "nothere.stasis")
    assert r.returncode != 0
    assert "nothere.stasis" in r.stderr and "no such file" in r.stderr.lower(), r.stderr


def test_image_and_token_modes(st):
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "2", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    tokens = list(st.run_dir.glob("*.token"))
    assert tokens, f"no token file in {st.run_dir}: {os.listdir(st.run_dir)}"
    for t in tokens:
        assert stat.S_IMODE(t.stat().st_mode) == 0o600, f"{t} is {oct(t.stat().st_mode)}"
    imgs = st.checkpoint(kill=False)
    for i in imgs:
        assert stat.S_IMODE(os.stat(i).st_mode) == 0o600, f"{i} is {oct(os.stat(i).st_mode)}"
    assert not list(st.ckpt_dir.glob("*.tmp")), "temp image left behind"


def test_no_compress_image_is_valid(st):
    """An uncompressed image verifies and restarts (memory chunks stored raw)."""
    img, out = make_image(st, opts=["--no-compress"])
    r = st.stasis("inspect", "--json", img)
    assert r.returncode == 0, f"inspect of a fresh --no-compress image failed: {r.stderr}"
    info = json.loads(r.stdout)
    assert info["compressed"] is False
    n = len(out.read_text().splitlines())
    p = st.restart([img])
    st.wait_for(out, f"tick {n + 2} ok", proc=p)


def test_compressed_image_is_smaller_for_text(st):
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "32", "text", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    img = st.checkpoint(kill=True)[0]
    p.wait()
    info = json.loads(st.stasis("inspect", "--json", img).stdout)
    assert info["compressed"] is True
    assert os.path.getsize(img) < 8 << 20, f"32 MiB of text stored as {os.path.getsize(img)}"


def test_generations_and_restart_dir(st):
    """Each checkpoint is a new generation; the previous one is kept;
    restart --dir takes the newest, and the next checkpoint continues the count."""
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "4", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    g1 = st.checkpoint(kill=False)[0]
    g2 = st.checkpoint(kill=False)[0]
    g3 = st.checkpoint(kill=False)[0]
    assert g1.endswith("_g1.stasis") and g2.endswith("_g2.stasis") and g3.endswith("_g3.stasis")
    assert os.path.exists(g2) and os.path.exists(g3), "the previous generation was not kept"
    r = st.stasis("kill", "-p", st.port)
    assert r.returncode == 0, r.stderr
    p.wait()
    rp = st.restart(directory=st.ckpt_dir)
    s = st.wait_registered(proc=rp)
    assert s["gen"] == 3, f"restart --dir did not take generation 3: status {s}"
    g4 = st.checkpoint(kill=True)[0]
    assert g4.endswith("_g4.stasis"), g4
    rp.wait()
    n = len(out.read_text().splitlines())
    rp = st.restart(directory=st.ckpt_dir)
    st.wait_for(out, f"tick {n + 1} ok", proc=rp)
    lines = out.read_text().splitlines()
    assert lines == [f"tick {i} ok" for i in range(len(lines))], lines[-10:]


def test_restart_dir_without_images(st):
    empty = st.tmp / "empty"
    empty.mkdir()
    r = st.stasis("restart", "-p", st.port, "--dir", empty)
    assert r.returncode != 0 and str(empty) in r.stderr, r.stderr


def test_zero_and_clean_file_pages_not_stored(st):
    """256 MiB read but never written (the shared zero page) and the clean text
    of the program and its libraries cost nothing in the image."""
    out = st.tmp / "memhog.out"
    p = st.launch(program("memhog"), "256", "zero", out=out)
    st.wait_for(out, "tick 1 ok", proc=p)
    st.wait_registered(proc=p)
    img = st.checkpoint(kill=True)[0]
    p.wait()
    r = st.stasis("inspect", "--json", img)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["stored_bytes"] < 16 << 20, f"stored {info['stored_bytes']} bytes"
    assert os.path.getsize(img) < 16 << 20
    text = [v for v in info["vmas"] if v["kind"] == "file-private" and v["prot"] == 5]
    assert text, "no r-x file mappings in the image"
    assert all(v["chunks"] == 0 for v in text), f"clean text pages stored: {text}"
    n = len(out.read_text().splitlines())
    rp = st.restart([img])
    st.wait_for(out, f"tick {n + 1} ok", proc=rp)


def test_someone_elses_image(st, image):
    """An image owned by another user is refused before anything is created."""
    bad, out = image
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root (CI runs as root)")
    os.chown(bad, 65534, 65534)  # nobody
    refused_restart_only(st, bad, out, ["belongs to uid 65534"])


def refused_restart_only(st, path, out, words):
    before = open(path, "rb").read()
    out_before = out.read_bytes()
    r = st.restart([path])
    rc = r.wait(60)
    err = r.err.read_text()
    assert rc == 1, f"restart of another user's image exited {rc}: {err!r}"
    assert str(path) in err and any(w in err for w in words), err
    assert open(path, "rb").read() == before, "the image file was modified"
    assert out.read_bytes() == out_before, "the program ran from another user's image"


def test_part_of_a_multi_process_checkpoint_is_refused(st):
    """A computation of two processes (a shell and its child) is checkpointed into
    two images that say so; restarting one of them alone is refused."""
    p = st.launch("/bin/sh", "-c", "sleep 60 & wait", out=st.tmp / "sh.out")
    st.wait_registered(nprocs=2, proc=p)
    imgs = st.checkpoint(kill=True)
    assert len(imgs) == 2, imgs
    for img in imgs:
        r = st.restart([img])
        assert r.wait(60) == 1
        assert "one of 2 processes, but 1 image was given" in r.err.read_text(), \
            r.err.read_text()


RESTART_VERSION = 3  # restore/blob/restart_info.h RT_RESTART_VERSION


def test_image_of_another_build_refused(st):
    """The runtime puts its restart handoff's version and size in every image
    (restore/blob/restart_info.h): an image whose handoff is another build's
    is refused by restart, naming it, before the restorer writes into the
    runtime's memory, and the program does not run on."""
    out = st.tmp / "o"
    p = st.launch(program("exitcode"), st.tmp / "verify", "0", out=out, opts=["--no-compress"])
    st.wait_for(out, "ready", proc=p)
    st.wait_registered(proc=p)
    [img] = st.checkpoint(kill=True)
    p.wait()
    info = st.inspect(img)
    at = info["proc"]["runtime_info"]
    k, chunk = next((k, c) for k, c in enumerate(info["memory_chunks"])
                    if c["vaddr"] <= at < c["vaddr"] + c["npages"] * 4096)
    assert chunk["comp"] == "none", chunk
    data = bytearray(open(img, "rb").read())
    version = chunk["offset"] + at - chunk["vaddr"]
    size = int.from_bytes(data[version + 4:version + 8], "little")
    assert int.from_bytes(data[version:version + 4], "little") == RESTART_VERSION
    data[version:version + 4] = (RESTART_VERSION - 1).to_bytes(4, "little")
    stored = data[chunk["offset"]:chunk["offset"] + chunk["stored_size"]]
    put_u64(data, section(info, "chunks")["offset"] + k * CHUNK_SIZE + CHUNK_SUM, xxh3(stored))
    reseal(data, info)
    open(img, "wb").write(data)
    assert st.inspect(img)["checksums_ok"] is True
    r = st.restart([img])
    assert r.wait(60) == 1, st.describe_all()
    assert (f"cannot restart {img}: it was written by a Stasis runtime of another build (its "
            f"restart handoff is version {RESTART_VERSION - 1}, {size} bytes; this stasis's "
            f"is version {RESTART_VERSION}, {size} bytes): restart it with the stasis that "
            f"checkpointed it") in r.err.read_text(), r.err.read_text()
    assert out.read_text() == "ready\n", "the program ran on"
