"""The C API: stasis_checkpoint() and stasis_is_enabled()."""
import subprocess

from conftest import program


def newest_image(st):
    imgs = sorted(st.ckpt_dir.glob("*.stasis"), key=lambda p: p.stat().st_mtime_ns)
    assert imgs, f"no image in {st.ckpt_dir}"
    return imgs[-1]


def test_api_outside_stasis(tmp_path):
    r = subprocess.run([program("api"), str(tmp_path / "verify"), "direct"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "PASS" in r.stdout, (r.stdout, r.stderr)


def test_api_checkpoint_original_then_restarted(st):
    out = st.tmp / "api.out"
    p = st.launch(program("api"), st.tmp / "verify", "managed", out=out)
    st.wait_for(out, "ready", proc=p)
    assert "api1 1\n" in out.read_text()
    img1 = newest_image(st)
    r = st.stasis("kill", "-p", st.port)
    assert r.returncode == 0, r.stderr
    p.wait()

    r1 = st.restart([img1])
    st.wait_for(out, "ready2", proc=r1)
    text = out.read_text()
    assert "restarted1\n" in text and "api2 1\n" in text, text
    img2 = newest_image(st)
    assert img2 != img1
    r = st.stasis("kill", "-p", st.port)
    assert r.returncode == 0, r.stderr
    r1.wait()

    r2 = st.restart([img2])
    st.wait_for(out, "restarted2", proc=r2)
    (st.tmp / "verify").touch()
    assert r2.wait(30) == 0, st.describe_all()
    text = out.read_text()
    assert "PASS" in text and "FAIL" not in text, text


def test_exec_with_a_cleared_environment_keeps_stasis(st):
    """exec after clearenv() or with an environment of the program's own still
    runs the new program under Stasis, which can then be checkpointed."""
    text = st.zdtm("reexec", cycles=1)
    assert "PASS" in text
