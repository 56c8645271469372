"""Interpreters people run long computations in, from Debian packages: R
(r-base-core), Octave and Node.js. Each is launched, then twice checkpointed,
killed and restarted, and its state is verified exactly at the end (the zdtm
protocol: the program checks itself once the verify file exists)."""

import os
import shutil

import pytest

from test_programs import cycles, lines_grew

R = shutil.which("Rscript")
OCTAVE = shutil.which("octave-cli")
NODE = shutil.which("node")

if os.environ.get("STASIS_CI"):  # .ci/run installs them: CI must run these tests
    for name, path in (("Rscript (r-base-core)", R), ("octave-cli (octave)", OCTAVE),
                       ("node (nodejs)", NODE)):
        if not path:
            pytest.fail(f"{name} is not installed, and CI must run this test", pytrace=False)


def run_twice(st, argv, name):
    """Launch argv (which names st.tmp/verify), wait for its first progress
    line, two checkpoint/kill/restart cycles with progress after each, then
    the verdict: PASS last, the progress lines "n 20", "n 40"... without a gap
    or a repeat, "ready" once."""
    out, verify = st.tmp / f"{name}.out", st.tmp / "verify"
    p = st.launch(*argv, out=out)
    st.wait_for(out, "n 20", proc=p, timeout=60)
    st.wait_registered(proc=p)
    p = cycles(st, p, out, 1, lambda b, n: lines_grew(b, n, 5))
    verify.touch()
    rc = p.wait(60)
    lines = out.read_text(errors="replace").splitlines()
    assert rc == 0 and lines[-1].startswith("PASS"), f"exit {rc}\n{st.describe_all()}"
    ns = [int(l.split()[1]) for l in lines if l.startswith("n ")]
    assert ns == list(range(20, 20 * len(ns) + 1, 20)), f"progress lines lost or repeated: {ns}"
    assert lines.count("ready") == 1, lines[:5]


R_SCRIPT = r"""
verify <- commandArgs(trailingOnly = TRUE)[1]
set.seed(7)
df <- data.frame(k = 1:100, v = sqrt(1:100), tag = rep(c("a", "b"), 50))
counter <- local({ n <- 0; function() { n <<- n + 1; n } })
m <- matrix(rnorm(200 * 200), 200)
draws <- numeric(0)
cat("ready\n")
n <- 0
while (!file.exists(verify)) {
  n <- counter()
  df[nrow(df) + 1, ] <- list(100 + n, sqrt(100 + n), if (n %% 2) "a" else "b")
  draws[n] <- runif(1)
  if (n %% 20 == 0) cat("n", n, "\n")
  Sys.sleep(0.002)
}
set.seed(7); invisible(rnorm(200 * 200))
ok <- c(rows = nrow(df) == 100 + n,
        keys = identical(df$k, as.numeric(1:(100 + n))),
        values = isTRUE(all.equal(df$v, sqrt(df$k))),
        tags = table(df$tag)[["a"]] == 50 + (n + 1) %/% 2,
        closure = counter() == n + 1,
        random = identical(draws, runif(n)),
        blas = isTRUE(all.equal(sum(m %*% solve(m)), 200)))
if (all(ok)) cat("PASS", n, "\n") else cat("FAIL", names(ok)[!ok], "\n")
quit(status = if (all(ok)) 0 else 1)
"""


@pytest.mark.skipif(not R, reason="R is not installed (r-base-core)")
def test_r_data_frame_and_loop(st):
    """Rscript grows a data frame row by row, draws random numbers and counts
    in a closure: after two restarts every row is there once, the random
    stream went on (the draws equal a fresh stream from the same seed), the
    closure's count matches the loop's, and a matrix solve still works."""
    script = st.tmp / "loop.R"
    script.write_text(R_SCRIPT)
    run_twice(st, [R, script, st.tmp / "verify"], "r")


OCTAVE_SCRIPT = r"""
verify = argv(){1};
rand("state", 42);
A = magic(6); B = zeros(6); s = 0; n = 0;
M = rand(300); P = M * M';
printf("ready\n"); fflush(stdout);
while !exist(verify, "file")
  n++;
  B = B + A * n;
  s = s + rand();
  if mod(n, 20) == 0 printf("n %d\n", n); fflush(stdout); end
  pause(0.002);
end
rand("state", 42); R = rand(300); y = rand(n, 1);
ok = [isequal(B, A * (n * (n + 1) / 2)), s == sum(y), isequal(R, M), ...
      norm(P - M * M', 1) < 1e-9, norm(inv(magic(5)) * magic(5) - eye(5), 1) < 1e-12];
if all(ok) printf("PASS %d\n", n); else printf("FAIL %s\n", mat2str(ok)); end
exit(!all(ok));
"""


@pytest.mark.skipif(not OCTAVE, reason="Octave is not installed (octave)")
def test_octave_matrices(st):
    """octave-cli adds a magic square times n to a matrix in a loop and sums
    random numbers, with OpenBLAS's threads: after two restarts the matrix
    equals A * n(n+1)/2, the random sum equals a fresh stream's from the same
    seed, and a product computed before the checkpoints matches one computed
    after."""
    script = st.tmp / "loop.m"
    script.write_text(OCTAVE_SCRIPT)
    run_twice(st, [OCTAVE, "--no-gui", "--norc", "-q", script, st.tmp / "verify"], "octave")


NODE_SCRIPT = r"""
const fs = require("fs");
const { Worker } = require("worker_threads");
const verify = process.argv[2];
const shared = new Int32Array(new SharedArrayBuffer(8));
const worker = new Worker(`
  const { workerData } = require("worker_threads");
  const a = new Int32Array(workerData);
  setInterval(() => Atomics.add(a, 0, 1), 1);
`, { eval: true, workerData: shared.buffer });
const m = new Map();
let n = 0;
async function step() {
  await new Promise((r) => setTimeout(r, 2));
  n++;
  m.set("k" + n, n * n);
  await fs.promises.appendFile(process.argv[3], n + "\n");
  if (n % 20 == 0) console.log("n " + n);
}
(async () => {
  console.log("ready");
  while (!fs.existsSync(verify)) await step();
  const before = Atomics.load(shared, 0);
  await new Promise((r) => setTimeout(r, 100));
  const ticking = Atomics.load(shared, 0) > before;
  let bad = 0;
  for (let i = 1; i <= n; i++) if (m.get("k" + i) !== i * i) bad++;
  const lines = fs.readFileSync(process.argv[3], "utf8").trim().split("\n");
  const file = lines.length === n && lines.every((l, i) => +l === i + 1);
  const ok = !bad && m.size === n && ticking && file;
  console.log(ok ? "PASS " + n : `FAIL bad=${bad} ticking=${ticking} file=${file}`);
  await worker.terminate();
  process.exit(ok ? 0 : 1);
})();
"""


@pytest.mark.skipif(not NODE, reason="Node.js is not installed (nodejs)")
def test_node_worker_and_promises(st):
    """node fills a Map in an async loop of timers and fs.promises appends
    (libuv's thread pool), beside a worker thread counting in a
    SharedArrayBuffer: after two restarts every key holds its value, the file
    holds 1..n once each, and the worker still counts."""
    script = st.tmp / "loop.js"
    script.write_text(NODE_SCRIPT)
    run_twice(st, [NODE, script, st.tmp / "verify", st.tmp / "lines"], "node")
