"""Real programs from Debian packages under Stasis: each is launched, then twice
checkpointed, killed and restarted, and its state is verified at the end.
Packages: python3 (with its sqlite3 module), perl, bash, dash, sqlite3."""

import time

PY = "/usr/bin/python3"


def cycles(st, p, out, nprocs, grew, n=2):
    """n times: checkpoint --kill, restart, wait until every process is back
    and grew(text_before, text_now) says the program made progress."""
    for i in range(n):
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == nprocs, imgs
        st.wait_killed(p)
        before = out.read_text(errors="replace")
        p = st.restart(imgs)
        st.wait_registered(nprocs=nprocs, proc=p)
        deadline = time.monotonic() + 20
        while not grew(before, out.read_text(errors="replace")):
            assert p.running(), f"restart {i + 1} ended early\n{st.describe_all()}"
            assert time.monotonic() < deadline, f"no progress after restart {i + 1}\n" \
                                                f"{st.describe_all()}"
            time.sleep(0.02)
    return p


def lines_grew(before, now, by=20):
    return len(now.splitlines()) >= len(before.splitlines()) + by


PYTHON = r"""
import os, sqlite3, sys, threading, time
verify, db = sys.argv[1], sys.argv[2]
counts = [0, 0, 0]
def work(i):
    while True:
        counts[i] += 1
        time.sleep(0.001)
for i in range(3):
    threading.Thread(target=work, args=(i,), daemon=True).start()
def numbers():
    n = 0
    while True:
        n += 1
        yield n
gen = numbers()
con = sqlite3.connect(db, isolation_level=None)
con.execute("create table t (k integer primary key, v text)")
con.execute("begin")
con.executemany("insert into t values (?, ?)", [(k, "row%d" % k) for k in range(1, 101)])
con.execute("commit")
con.execute("begin")                                  # left open across the restarts
con.execute("insert into t values (1000, 'pending')")
print("ready", flush=True)
while not os.path.exists(verify):
    print("gen", next(gen), flush=True)
    time.sleep(0.01)
c0 = list(counts)
time.sleep(0.1)
bad = [i for i in range(3) if counts[i] <= c0[i]]
con.execute("insert into t values (1001, 'after')")
con.execute("commit")
rows = con.execute("select count(*), sum(k) from t").fetchone()
want = (102, 5050 + 1000 + 1001)
print("threads stalled: %s" % bad if bad else "threads ok", flush=True)
print("rows ok" if rows == want else "rows WRONG %s" % (rows,), flush=True)
print("PASS" if not bad and rows == want else "FAIL", flush=True)
sys.exit(0 if not bad and rows == want else 1)
"""


def test_python_threads_generator_sqlite(st):
    """python3 with three threads, a generator and an sqlite3 database with
    committed rows and a transaction in progress: after two restarts the
    generator goes on from where it was (no number lost or repeated), the
    threads run, and the transaction commits with every row there."""
    import sqlite3
    out, verify, db = st.tmp / "py.out", st.tmp / "verify", st.tmp / "t.db"
    p = st.launch(PY, "-c", PYTHON, verify, db, out=out)
    st.wait_for(out, "gen 20", proc=p)
    st.wait_registered(proc=p)
    p = cycles(st, p, out, 1, lines_grew)
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    text = out.read_text()
    gens = [int(l.split()[1]) for l in text.splitlines() if l.startswith("gen ")]
    assert gens == list(range(1, len(gens) + 1)), "generator values lost or repeated"
    assert "threads ok" in text and "rows ok" in text, text[-300:]
    con = sqlite3.connect(db)
    assert con.execute("select v from t where k in (1000, 1001) order by k").fetchall() == \
        [("pending",), ("after",)]


PERL = r"""
my ($verify) = @ARGV;
$| = 1;
my %h;
my $n = 0;
print "ready\n";
until (-e $verify) {
    $n++;
    $h{"k$n"} = $n * $n;
    print "n $n\n" if $n % 20 == 0;
    select(undef, undef, undef, 0.001);
}
my $bad = 0;
for my $i (1 .. $n) { $bad++ unless $h{"k$i"} == $i * $i; }
$bad++ unless scalar(keys %h) == $n;
print $bad ? "FAIL $bad\n" : "PASS $n\n";
exit($bad ? 1 : 0);
"""


def test_perl_hash_and_loop(st):
    """perl fills a hash in a loop across two restarts; at the end every key
    from 1 to n holds its value and the loop counter printed no gap."""
    out, verify = st.tmp / "perl.out", st.tmp / "verify"
    p = st.launch("/usr/bin/perl", "-e", PERL, verify, out=out)
    st.wait_for(out, "n 40", proc=p)
    st.wait_registered(proc=p)
    p = cycles(st, p, out, 1, lines_grew)
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    text = out.read_text()
    ns = [int(l.split()[1]) for l in text.splitlines() if l.startswith("n ")]
    assert ns == list(range(20, 20 * len(ns) + 1, 20)), "loop lines lost or repeated"
    assert text.rstrip().splitlines()[-1] == f"PASS {text.split()[-1]}", text[-200:]


PIPELINE = r"""
i=0
while [ ! -e "$1" ]; do
    i=$((i + 1))
    echo "$i"
done | while read -r line; do
    echo "$line" >> "$2"
done
echo done
"""


def pipeline_test(st, shell):
    out, verify, data = st.tmp / "sh.out", st.tmp / "verify", st.tmp / "lines"
    p = st.launch(shell, "-c", PIPELINE, shell, verify, data, out=out)
    deadline = time.monotonic() + 20
    while not data.exists() or data.stat().st_size < 1000:
        assert p.running() and time.monotonic() < deadline, st.describe_all()
        time.sleep(0.02)
    st.wait_registered(nprocs=3, proc=p)

    def grew(_before, _now, size=[0]):
        n = data.stat().st_size
        ok = n > size[0] + 1000
        if ok or not size[0]:
            size[0] = n
        return ok

    for i in range(2):
        size = data.stat().st_size
        imgs = st.checkpoint(kill=True)
        assert len(imgs) == 3, imgs
        st.wait_killed(p)
        p = st.restart(imgs)
        st.wait_registered(nprocs=3, proc=p)
        deadline = time.monotonic() + 20
        while data.stat().st_size < size + 5000:
            assert p.running() and time.monotonic() < deadline, st.describe_all()
            time.sleep(0.02)
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    assert out.read_text().strip() == "done", out.read_text()
    values = [int(x) for x in data.read_text().split()]
    assert values == list(range(1, len(values) + 1)), \
        f"lines lost or repeated (first bad at {next(i for i, v in enumerate(values) if v != i + 1)})"


def test_bash_pipeline(st):
    """bash: a counter loop piped into a while-read loop that appends each line
    to a file, across two restarts: no line lost or repeated."""
    pipeline_test(st, "/usr/bin/bash")


def test_dash_pipeline(st):
    """The same pipeline under dash."""
    pipeline_test(st, "/usr/bin/dash")


SQLITE_FEED = r"""
echo "create table t (x integer);"
i=0
while [ ! -e "$1" ]; do
    i=$((i + 1))
    echo "insert into t values ($i);"
    [ $((i % 100)) -eq 0 ] && echo "select 'at', count(*) from t;"
done
echo "select count(*), sum(x), max(x) from t;"
"""


def test_sqlite3_shell_from_a_pipe(st):
    """The sqlite3 shell reads SQL from a pipe (fed by a dash loop) into an
    in-memory database across two restarts; at the end the table holds every
    row 1..n exactly once."""
    out, verify = st.tmp / "sq.out", st.tmp / "verify"
    script = SQLITE_FEED.replace("$1", '"$V"')
    p = st.launch("/usr/bin/dash", "-c", f'V="$0"; ({script}) | sqlite3 :memory:', verify,
                  out=out)
    st.wait_for(out, "at|300", proc=p)
    st.wait_registered(nprocs=3, proc=p)
    p = cycles(st, p, out, 3, lambda b, n: lines_grew(b, n, 5))
    verify.touch()
    assert p.wait(30) == 0, st.describe_all()
    lines = out.read_text().splitlines()
    ats = [int(l.split("|")[1]) for l in lines if l.startswith("at|")]
    assert ats == list(range(100, 100 * len(ats) + 1, 100)), "progress lines wrong"
    count, total, top = map(int, lines[-1].split("|"))
    assert count == top and total == top * (top + 1) // 2 and top >= ats[-1], lines[-1]
