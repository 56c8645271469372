"""Stasis installed like a tool: `stasis --version`, `make install` into a
DESTDIR (the installed stasis finds its runtime relative to itself and runs
a checkpoint and a restart), the man pages (one per command, listing every
option its --help shows), the pkg-config file of stasis.h."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, STASIS

VERSION = (ROOT / "VERSION").read_text().strip()
MAN = ROOT / "man"


def commands():
    """The subcommands `stasis --help` lists."""
    out = subprocess.run([str(STASIS), "--help"], capture_output=True, text=True,
                         check=True).stdout
    names = re.findall(r"^  ([a-z]+) ", out, re.M)
    assert "launch" in names and "restart" in names, out
    return names


def test_version():
    """--version and the version command print the same line, with the
    VERSION file's version and the format versions."""
    a = subprocess.run([str(STASIS), "--version"], capture_output=True, text=True)
    b = subprocess.run([str(STASIS), "version"], capture_output=True, text=True)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout
    assert re.fullmatch(rf"stasis {re.escape(VERSION)} \(image format \d+, reads \d+ to \d+; "
                        r"protocol \d+\)\n", a.stdout), a.stdout
    bad = subprocess.run([str(STASIS), "version", "extra"], capture_output=True, text=True)
    assert bad.returncode == 2, bad
    assert bad.stderr.splitlines()[0] == "stasis version: unexpected argument 'extra'", bad


def test_one_version_everywhere():
    """The Debian changelog's version is VERSION's (and so are the man pages',
    checked below)."""
    first = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    assert re.match(rf"stasis \({re.escape(VERSION)}\) ", first), \
        f"debian/changelog says {first!r}, VERSION says {VERSION}"


def man_text(page):
    """A man page's source as plain text: roff's escaped hyphens and font
    changes undone."""
    src = page.read_text()
    src = re.sub(r"\\f[BIRP]", "", src).replace("\\-", "-").replace("\\e", "\\")
    return src


def help_options(cmd):
    r = subprocess.run([str(STASIS), cmd, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, f"stasis {cmd} --help: {r.returncode} {r.stderr}"
    opts = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*[a-z])", r.stdout))
    envs = set(re.findall(r"\$?(STASIS_[A-Z_]+)", r.stdout))
    return opts, envs


@pytest.mark.parametrize("cmd", commands())
def test_man_page_lists_every_option(cmd):
    """Each command has a man page, stasis-CMD(1), that names every option and
    every environment variable its --help shows; stasis(1) lists the command."""
    page = MAN / f"stasis-{cmd}.1"
    assert page.exists(), f"no man page {page} for 'stasis {cmd}'"
    text = man_text(page)
    opts, envs = help_options(cmd)
    missing = sorted(o for o in opts | envs if not re.search(rf"(?<![\w-]){o}(?![\w-])", text))
    assert not missing, f"{page.name} does not mention {missing} (from 'stasis {cmd} --help')"
    assert f".TH STASIS-{cmd.upper()} 1 " in text and f'"stasis {VERSION}"' in text, \
        f"{page.name}: its .TH line does not name section 1 and version {VERSION}"
    assert re.search(rf"^\.B {cmd}$", man_text(MAN / "stasis.1"), re.M), \
        f"stasis.1 does not list the command {cmd}"


def test_man_pages_render_without_warnings():
    """man(1) renders every page without a warning (what lintian checks);
    each names the version."""
    if not shutil.which("man"):
        pytest.fail("man is not installed (apt-get install man-db)")
    pages = sorted(MAN.glob("*.[13]"))
    # stasis(1), a page per command, stasis.h(3) and a .so page per function of it,
    # stasis-plugin(3) and a .so page per function of plugin.h
    assert len(pages) == len(commands()) + 1 + 1 + 7 + 1 + 5, [p.name for p in pages]
    for page in pages:
        text = page.read_text()
        if text.startswith(".so "):  # another name of a page: man3/stasis.h.3
            assert (MAN / text.split()[1].split("/")[1]).exists(), f"{page.name}: {text}"
            continue
        assert f'"stasis {VERSION}"' in text.splitlines()[0], f"{page.name}: not {VERSION}"
        r = subprocess.run(["man", "--warnings=all", "-l", str(page)], capture_output=True,
                           text=True, env=dict(os.environ, MANWIDTH="80"), cwd=MAN.parent,
                           timeout=30)
        assert r.returncode == 0 and r.stderr == "", f"{page.name}: {r.stderr}"
        assert "stasis" in r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install PREFIX=/opt/st DESTDIR=<tmp>: the tree it made."""
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["make", "-s", "install", "PREFIX=/opt/st", f"DESTDIR={dest}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"make install: {r.stdout}\n{r.stderr}"
    return dest / "opt" / "st"


def test_install_tree(installed):
    """bin, the runtime and the ssh relay under lib/stasis, the header, the man
    pages, the bash completion and the pkg-config file, each where it belongs."""
    files = sorted(str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file())
    pages = sorted(f"share/man/man{p.suffix[1:]}/{p.name}" for p in MAN.glob("*.[13]"))
    assert files == sorted(["bin/stasis", "lib/stasis/libstasis.so", "lib/stasis/stasis-ssh",
                            "lib/stasis/plugins/modify-env.so", "lib/stasis/plugins/pathvirt.so",
                            "include/stasis/stasis.h", "include/stasis/plugin.h",
                            "share/bash-completion/completions/stasis",
                            "share/pkgconfig/stasis.pc", *pages]), files
    assert os.access(installed / "bin" / "stasis", os.X_OK)
    assert os.access(installed / "lib" / "stasis" / "stasis-ssh", os.X_OK)
    pc = (installed / "share" / "pkgconfig" / "stasis.pc").read_text()
    assert "prefix=/opt/st\n" in pc and f"Version: {VERSION}\n" in pc, pc
    r = subprocess.run(["pkg-config", "--cflags", "stasis"], capture_output=True, text=True,
                       env=dict(os.environ, PKG_CONFIG_PATH=str(installed / "share" /
                                                                "pkgconfig")))
    assert r.returncode == 0 and r.stdout.strip() == "-I/opt/st/include", r


def test_installed_header_compiles(installed, tmp_path):
    """A program using the installed header builds with pkg-config's flags
    (the DESTDIR standing in for /) and, outside Stasis, is told so."""
    src = tmp_path / "api.c"
    src.write_text('#include <stasis/stasis.h>\n#include <stdio.h>\n'
                   'int main(void) { printf("%d %d\\n", stasis_is_enabled(), '
                   'stasis_checkpoint()); return 0; }\n')
    exe = tmp_path / "api"
    r = subprocess.run(["cc", "-Wall", "-Werror", f"-I{installed}/include", str(src), "-o",
                        str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout == "0 0\n"


def test_installed_plugin_header_builds_a_plugin(installed, tmp_path):
    """A plugin builds against the installed <stasis/plugin.h> alone."""
    src = tmp_path / "p.c"
    src.write_text('#include <stasis/plugin.h>\n'
                   'const struct stasis_plugin stasis_plugin = '
                   '{.abi = STASIS_PLUGIN_ABI, .name = "p"};\n')
    r = subprocess.run(["cc", "-Wall", "-Werror", "-shared", "-fPIC", f"-I{installed}/include",
                        str(src), "-o", str(tmp_path / "p.so")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_installed_stasis_checkpoints_and_restarts(st, installed):
    """The installed stasis, run from the DESTDIR with nothing of the build
    tree in its environment, preloads the runtime installed beside it: a
    launch, a checkpoint --kill and a restart, with the program's state
    verified."""
    st.bin = installed / "bin" / "stasis"
    st.env.pop("STASIS_LIB", None)
    st.zdtm("mem_heap", cycles=2)


def test_installed_runtime_is_the_one_beside_it(st, installed):
    """Which runtime a launched program maps: the installed one, or the one
    STASIS_LIB names; a STASIS_LIB naming nothing fails the launch clearly."""
    st.bin = installed / "bin" / "stasis"
    script = st.tmp / "maps.sh"
    script.write_text("grep -o '/[^ ]*libstasis.so' /proc/$$/maps | sort -u\n")
    out = st.tmp / "maps.out"
    p = st.launch("/bin/sh", script, out=out)
    assert p.wait(30) == 0, st.describe_all()
    assert out.read_text().split() == [str(installed / "lib" / "stasis" / "libstasis.so")]
    st.env["STASIS_LIB"] = str(ROOT / "build" / "lib" / "libstasis.so")
    p = st.launch("/bin/sh", script, out=out)
    assert p.wait(30) == 0, st.describe_all()
    assert out.read_text().split() == [st.env["STASIS_LIB"]]
    st.env["STASIS_LIB"] = str(st.tmp / "nothing.so")
    r = st.stasis("launch", "-p", st.port, "/bin/true")
    assert r.returncode == 1, r
    assert f"runtime library {st.tmp}/nothing.so (from $STASIS_LIB): No such file or " \
        "directory; unset STASIS_LIB" in r.stderr, r.stderr
    del st.env["STASIS_LIB"]
    os.rename(installed / "lib" / "stasis", installed / "lib" / "stasis.away")
    try:
        r = st.stasis("launch", "-p", st.port, "/bin/true")
    finally:
        os.rename(installed / "lib" / "stasis.away", installed / "lib" / "stasis")
    assert r.returncode == 1, r
    assert f"runtime library libstasis.so not found: neither {installed}/lib/stasis/" \
        f"libstasis.so nor {installed}/lib/libstasis.so is readable" in r.stderr, r.stderr
