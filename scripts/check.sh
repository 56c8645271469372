#!/usr/bin/env bash
# The whole test suite, as `make check` runs it: C unit tests, the same under
# ASan/UBSan, then the end-to-end tests (pytest). The last line of output is
# pytest's summary; the exit status is pytest's, or 1 if an earlier stage
# failed or pytest collected no tests.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
failed=()

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
echo "==> e2e: $PYTHON -m pytest -v tests/e2e"
"$PYTHON" -m pytest -v -p no:cacheprovider tests/e2e
rc=$?
if ((rc == 5)); then
	rc=1 # no tests collected is a failure
fi
if ((rc == 0 && ${#failed[@]})); then
	rc=1
fi
exit $rc
