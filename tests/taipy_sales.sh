#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# taipy_sales.sh - the Python example examples/taipy-sales runs with
# `weft run` in development, standalone and cluster mode (a real
# `weft run-worker` on the test broker): every job COMPLETED, the report's
# total equals the one a separate python3 computes from the orders file,
# and the three modes write the same report and summary byte for byte; so
# does examples/taipy-sales/run.py, which runs it through the `weft` package.
#
# Usage: tests/taipy_sales.sh [BUILD_DIR]   (scripts/run-tests passes it)
set -u
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${1:-build}
case "$build" in /*) ;; *) build="$top/$build" ;; esac
weft="$build/weft"
passed=0 failed=0
ok()   { echo "ok   taipy_sales.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL taipy_sales.$1: $2"; failed=$((failed + 1)); }
tmp=$(mktemp -d)
worker=
trap '[ -n "$worker" ] && kill "$worker" 2>/dev/null; rm -rf "$tmp"' EXIT

# A fresh copy of the example in $tmp/MODE; `weft run ARGS` in it.
run_mode() {
    local mode=$1; shift
    cp -r "$top/examples/taipy-sales" "$tmp/$mode" && rm -rf "$tmp/$mode/.weft" "$tmp/$mode/out"
    (cd "$tmp/$mode" && timeout 120 "$weft" run -c config.toml "$@" > run.out 2> run.err)
}

# The run in $tmp/MODE: exit 0, 5 of 5 jobs completed, the report's total
# (its first line) that of the orders as pandas sums them.
check_mode() {
    local mode=$1 rc=$2 d="$tmp/$1"
    if [ "$rc" -ne 0 ]; then fail "$mode" "weft run exited $rc: $(tail -5 "$d/run.err")"; return; fi
    if ! grep -q 'COMPLETED in .*: 5 jobs, 5 completed$' "$d/run.out"; then
        fail "$mode" "not every job completed: $(tail -3 "$d/run.out")"; return
    fi
    local want got
    want=$(cd "$d" && /usr/bin/python3 -c 'import pandas as pd; o = pd.read_csv("out/orders.csv")
print(f"Sales 2026: {len(o)} orders, {o.units.sum()} units, revenue {(o.units * o.unit_price).round(2).sum():,.2f}")')
    got=$(head -1 "$d/out/report.txt")
    if [ "$got" != "$want" ]; then fail "$mode" "report says '$got', python3 computes '$want'"; return; fi
    ok "$mode"
}

run_mode development; check_mode development $?
run_mode standalone --mode standalone --workers 2; check_mode standalone $?

if [ -z "${WEFT_TEST_BROKER_URL:-}" ]; then
    fail cluster "WEFT_TEST_BROKER_URL is not set: run through scripts/run-tests"
else
    queue="weft.test.taipy_sales.$$"
    mkdir -p "$tmp/cluster" && cp -r "$top/examples/taipy-sales/." "$tmp/cluster/" &&
        rm -rf "$tmp/cluster/.weft" "$tmp/cluster/out"
    sed -i "s|^mode = \"development\"|mode = \"cluster\"\nbroker_url = \"$WEFT_TEST_BROKER_URL\"\nqueue = \"$queue\"|" \
        "$tmp/cluster/config.toml"
    "$weft" run-worker --application-path "$tmp/cluster" --queue "$queue" > "$tmp/worker.log" 2>&1 &
    worker=$!
    (cd "$tmp/cluster" && timeout 120 "$weft" run -c config.toml > run.out 2> run.err)
    check_mode cluster $?
    kill -TERM "$worker"; wait "$worker"; rc=$?; worker=
    if [ "$rc" -eq 0 ]; then ok worker_drains; else fail worker_drains "run-worker exited $rc"; fi
fi

# The same application driven from Python through the `weft` package
# (examples/taipy-sales/run.py): every job COMPLETED and reported to its
# subscriber, the same report as `weft run`.
# A sanitizer build's package needs the runtimes loaded first (tests/sanitizers.bash).
. "$top/tests/sanitizers.bash"
cp -r "$top/examples/taipy-sales" "$tmp/package" && rm -rf "$tmp/package/.weft" "$tmp/package/out"
py_sanitizer_env "$build" "$tmp"
if (cd "$tmp" && env "${py_env[@]}" PYTHONPATH="$build/python" timeout 120 /usr/bin/python3 package/run.py \
        > package/run.out 2> package/run.err); then
    if grep -q '^5 jobs reported finished to the subscriber$' "$tmp/package/run.out" &&
        [ "$(grep -c ' COMPLETED$' "$tmp/package/run.out")" -eq 5 ] &&
        cmp -s "$tmp/development/out/report.txt" "$tmp/package/out/report.txt"; then
        ok package
    else
        fail package "$(cat "$tmp/package/run.out") $(cmp "$tmp/development/out/report.txt" "$tmp/package/out/report.txt" 2>&1)"
    fi
else
    fail package "run.py failed: $(tail -5 "$tmp/package/run.err")"
fi

for f in report.txt summary.json; do
    a=$(cmp "$tmp/development/out/$f" "$tmp/standalone/out/$f" 2>&1)
    b=$(cmp "$tmp/development/out/$f" "$tmp/cluster/out/$f" 2>&1)
    if [ -z "$a$b" ]; then ok "same_$f"; else fail "same_$f" "$a $b"; fi
done
# A workbook holds its write time: compare its sheets instead.
x=$(/usr/bin/python3 -c 'import pandas as pd, sys
a, b = (pd.read_excel(p, sheet_name=None) for p in sys.argv[1:])
print(list(a) == ["regions"] and all(a[k].equals(b[k]) for k in a))' \
    "$tmp/development/out/regions.xlsx" "$tmp/cluster/out/regions.xlsx" 2>&1)
if [ "$x" = True ]; then ok same_regions_sheet; else fail same_regions_sheet "$x"; fi

echo "taipy_sales: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
