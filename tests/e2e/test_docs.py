"""The docs agree with the code. docs/format.md: every table of fields
(offset, size, field) is checked against the struct it describes, with
offsetof and sizeof in static assertions that the C compiler evaluates on the
real headers (image/format.h and image/kinds/*.h), and so is every struct's
size that a heading or paragraph states ("`struct img_proc`, 992 bytes").
docs/design.md: its table of kernel objects names every kind of
src/image/kinds/ and only files that exist."""
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRUCT = re.compile(r"`struct (img_\w+)`(?:\s*(?:header)?,?\s*\(?(\d+) bytes)?")


def tables(text):
    """(struct, [(offset, size, field)]) for each table of fields, and
    {struct: size} for the sizes stated: a table describes the struct the text
    before it names (with nothing between two tables: the next struct that
    text named)."""
    named, pending, out, sizes = [], [], [], {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("| offset | size | field"):
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip("|").split("|")]
                if cells[0].isdigit() and cells[1].isdigit():  # not a variable part
                    rows.append((int(cells[0]), int(cells[1]), re.findall(r"\w+", cells[2].split(":")[0].split("(")[0])))
                i += 1
            if pending:
                out.append((pending.pop(0), rows))
                last = out[-1][0]
            else:  # what follows a record of the last struct, past its size
                assert rows[0][0] == sizes[last], f"docs/format.md: no struct for line {i}"
            continue
        found = STRUCT.findall(line)
        if found:
            if not named:
                pending = []
            named = named + found
            pending += [s for s, _ in found]
            for s, n in found:
                if n:
                    sizes[s] = int(n)
        elif line.strip() and not line.startswith("|"):
            named = []
        i += 1
    return out, sizes


def test_format_md_offsets_and_sizes_match_the_headers(tmp_path):
    text = open(os.path.join(ROOT, "docs", "format.md")).read()
    found, sizes = tables(text)
    checks = []
    for struct, rows in found:
        for off, size, fields in rows:  # several fields in a row: consecutive
            first, end = fields[0], f"offsetof(struct {struct}, {fields[-1]}) + " \
                f"sizeof(((struct {struct} *)0)->{fields[-1]})"
            name = ", ".join(fields)
            checks.append(f"_Static_assert(offsetof(struct {struct}, {first}) == {off}, "
                          f"\"{struct}.{name} at {off}\");")
            checks.append(f"_Static_assert({end} == {off + size}, "
                          f"\"{struct}.{name} of {size} bytes\");")
    for struct, n in sizes.items():
        checks.append(f"_Static_assert(sizeof(struct {struct}) == {n}, \"{struct} of {n} bytes\");")
    kinds = sorted(f for f in os.listdir(os.path.join(ROOT, "src", "image", "kinds"))
                   if f.endswith(".h"))
    src = tmp_path / "format_doc.c"
    src.write_text("#include <stddef.h>\n#include \"image/format.h\"\n" +
                   "".join(f"#include \"image/kinds/{k}\"\n" for k in kinds) +
                   "\n".join(checks) + "\n")
    r = subprocess.run(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-fsyntax-only",
                        "-I", os.path.join(ROOT, "src"), "-I", os.path.join(ROOT, "src", "include"),
                        str(src)], capture_output=True, text=True)
    wrong = re.findall(r'static assertion failed: "([^"]+)"', r.stderr)
    assert r.returncode == 0, ("docs/format.md disagrees with the headers: " + "; ".join(wrong)
                               if wrong else r.stderr)
    # every struct the format names is checked, field by field
    assert {s for s, _ in found} >= {"img_header", "img_section", "img_trailer", "img_proc",
                                     "img_mm", "img_thread", "img_context", "img_vma",
                                     "img_chunk", "img_fd", "img_fdx", "img_file"}, found


def test_design_md_object_table_matches_the_tree():
    text = open(os.path.join(ROOT, "docs", "design.md")).read()
    start = text.index("| object | description")
    rows = text[start:text.index("\n\n", start)].splitlines()[2:]
    named, missing = set(), []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        named.update(re.findall(r"`(\w+)`", cells[1])[:1])
        for col, where in ((2, "src/runtime"), (3, "src/restore")):
            missing += [f"{where}/{f}" for f in re.findall(r"`([\w.]+\.c)`", cells[col])]
        missing += [f"tests/e2e/{f}" for f in re.findall(r"(test_\w+\.py)", cells[5])]
        missing += [f"src/image/kinds/{k}.c" for k in named]
    missing = sorted({f for f in missing if not os.path.exists(os.path.join(ROOT, f))})
    assert missing == [], f"docs/design.md's object table names files that do not exist: {missing}"
    kinds = {f[:-2] for f in os.listdir(os.path.join(ROOT, "src", "image", "kinds"))
             if f.endswith(".c") and f not in ("kinds.c", "out.c")}
    assert kinds - named == set(), f"kinds missing from docs/design.md's object table: {kinds - named}"
