#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# taipy-checks.sh - `weft check` gives the verdict that Taipy's own checker
# tests assert (tests/core/config/checkers/ in Taipy's repository) for each
# configuration of tests/taipy-checks/: the first line of each file says
# "# taipy-check: ok" (no error; warnings allowed) or "# taipy-check: error",
# the next lines which Taipy test asserts it.  Rules about Python itself
# (attribute names, classes) are left out, as docs/CONFIG.md says.
#
# Usage: tests/taipy-checks.sh BUILD_DIR   (scripts/run-tests passes it)
set -u
build=$(cd "${1:-build}" && pwd)
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$top/tests/taipy-checks" || exit 1
for f in *.toml; do
    want=$(sed -n '1s/^# taipy-check: //p' "$f")
    case "$want" in ok|error) ;; *)
        echo "FAIL taipy-checks.$f: first line must be '# taipy-check: ok|error'"
        failed=$((failed + 1)); continue ;;
    esac
    "$build/weft" check -c "$f" >"$out" 2>&1
    rc=$?
    got=ok
    [ $rc -eq 1 ] && got=error
    if [ $rc -gt 1 ]; then
        got="exit status $rc"
    fi
    if [ "$got" = "$want" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL taipy-checks.${f%.toml}: Taipy says $want, weft check says $got ($(sed -n '2s/^# //p' "$f"))"
        sed 's/^/    /' "$out"
    fi
done
echo "taipy-checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
