"""Disk full: a checkpoint into a file system without room for it fails
saying so, with the directory, the space free there and the bytes the image
needs; no temp file is left; the program runs on; the last good generation
stays (retention removes nothing before the new generation is durable) and
restarts; with room again, checkpoints work (docs/reliability.md). The
checkpoint directory is a small tmpfs mounted for the test: that needs root
(a user and mount namespace of the test's own would not be seen by the
computation), so the test is skipped, saying why, when not root."""
import hashlib
import os
import re
import subprocess

import pytest

from helpers import (finish, generations, kill_all, live_descendants, restart_dir, runs_on,
                     start_tree, status_of)


def digests(d):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(d.glob("*.stasis"))}


def used(d):
    return sum(f.stat().st_blocks * 512 for f in d.iterdir())


def mount(d, size, remount=False):
    opts = ("remount," if remount else "") + f"size={size},mode=0755"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], check=True)


def test_checkpoint_into_a_full_disk(st):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the checkpoint directory needs root")
    mount(st.ckpt_dir, "64m")
    try:
        full_disk(st)
    finally:
        subprocess.run(["umount", "-l", str(st.ckpt_dir)], check=True)


def full_disk(st):
    p, out = start_tree(st, nchild=2, mib=4, name="family", extra=(1,))
    procs = {x["pid"] for x in status_of(st)["procs"]}
    coord = status_of(st)["pid"]
    st.checkpoint(kill=False)
    good = digests(st.ckpt_dir)
    sizes = {int(re.search(r"_(\d+)_g1\.stasis$", f.name).group(1)): f.stat().st_size
             for f in st.ckpt_dir.glob("*.stasis")}
    room = 1 << 20  # less than any image needs: each process runs out
    mount(st.ckpt_dir, f"{(used(st.ckpt_dir) + room + 4095) // 4096 * 4096}", remount=True)
    r = st.checkpoint(kill=False, expect_ok=False)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "stasis: error: checkpoint generation 2 failed:", r.stderr
    d = re.escape(str(st.ckpt_dir))
    seen = set()
    for line in lines[1:]:
        m = re.fullmatch(
            rf"process (\d+) \(family\): cannot write {d}/ckpt_family_\w+_\1_g2\.stasis\.tmp: "
            rf"No space left on device: the file system of {d} has (\d+) bytes \([\d.]+ MiB\) "
            r"free, and this image needs up to (\d+) bytes \([\d.]+ MiB\), its memory "
            r"uncompressed \((\d+) bytes \([\d.]+ MiB\) written so far\); make room there, "
            r"or checkpoint to another directory \(--ckpt-dir\)", line)
        assert m, line
        pid, free, need, written = map(int, m.groups())
        assert free <= room and need >= sizes[pid] and written <= room, line
        seen.add(pid)
    assert seen == procs, r.stderr
    assert not list(st.ckpt_dir.glob("*.tmp")), os.listdir(st.ckpt_dir)
    assert digests(st.ckpt_dir) == good, "the last good generation changed"
    runs_on(st, out)
    assert live_descendants() == procs | {coord}
    mount(st.ckpt_dir, "64m", remount=True)  # room again
    imgs = st.checkpoint(kill=False)
    assert sorted(generations(st)) == [1, 3], imgs
    kill_all(st)
    p.wait(30)
    p, gen = restart_dir(st, 3)
    assert gen == 3
    finish(st, p, out)
