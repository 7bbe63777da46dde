#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# python.sh - the weft Python package (build/python) end to end:
# tests/test_package.py run by /usr/bin/python3, the Python that
# python3-embed describes (with pandas), not a python3 found on PATH.
#
# Usage: tests/python.sh [BUILD_DIR]   (scripts/run-tests passes it)
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${1:-$top/build}
case "$build" in /*) ;; *) build=$top/$build ;; esac
if [ ! -f "$build/python/weft/_weft.so" ]; then
    echo "python.sh: $build/python/weft/_weft.so is missing: run make"
    echo "python: 0 passed, 1 failed"
    exit 1
fi
cd "$(mktemp -d /tmp/weft-pytest-XXXXXX)" || exit 2
export TMPDIR=$PWD
# A sanitizer build (make asan, make tsan): python3 is not instrumented, so
# the runtimes are loaded first; LeakSanitizer then reports what the
# interpreter keeps at exit: tests/lsan-python.supp names it.
. "$top/tests/sanitizers.bash"
py_sanitizer_env "$build" "$PWD"
WEFT_TEST_APPS="$build/tests/apps" PYTHONPATH="$build/python" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    env "${py_env[@]}" /usr/bin/python3 "$top/tests/test_package.py"
rc=$?
cd / && rm -rf "$TMPDIR"
exit $rc
