#!/usr/bin/env bash
# The whole test suite, as `make check` runs it: C unit tests, the same under
# ASan/UBSan, then the end-to-end tests (pytest). The last line of output is
# pytest's summary; the exit status is pytest's, or 1 if an earlier stage
# failed, pytest collected no tests, or a test left a file in the checkout.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
failed=()

# Everything in the checkout but build/, .git and Python's caches: the tests
# write only into their temporary directories, and what one leaves here (e.g.
# an empty stasis-ckpt-JOBID of a Slurm default) fails the run.
checkout_files() {
	find . \( -path ./build -o -path ./.git -o -name __pycache__ \) -prune -o -print | sort
}
before=$(checkout_files)

stage() {
	local name=$1
	shift
	echo "==> $name: $*"
	if ! "$@"; then
		echo "==> $name FAILED"
		failed+=("$name")
	fi
}

stage build make -j"$JOBS" all
stage unit make unit
stage asan make -j"$JOBS" asan

if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
	echo "==> e2e: $PYTHON has no pytest (apt-get install python3-pytest)"
	echo "==> FAILED stages: ${failed[*]} e2e (pytest missing)"
	exit 1
fi
if ((${#failed[@]})); then
	echo "==> FAILED stages: ${failed[*]} (running the end-to-end tests anyway)"
fi
# the Slurm cluster over several hosts takes 6 minutes: make check-slurm
echo "==> e2e: $PYTHON -m pytest -v --ignore=tests/e2e/test_slurm_nodes.py tests/e2e"
"$PYTHON" -m pytest -v -p no:cacheprovider --ignore=tests/e2e/test_slurm_nodes.py tests/e2e
rc=$?
left=$(comm -13 <(echo "$before") <(checkout_files))
if [[ -n $left ]]; then
	echo "==> the tests left these in the checkout (they must write only into their"
	echo "    temporary directories):"
	echo "$left"
	((rc == 0)) && rc=1
fi
if ((rc == 5)); then
	rc=1 # no tests collected is a failure
fi
if ((rc == 0 && ${#failed[@]})); then
	rc=1
fi
exit $rc
