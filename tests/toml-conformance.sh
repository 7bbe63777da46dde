#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# toml-conformance.sh - runs the TOML parser over the toml-test cases
# (210 valid, 499 invalid) kept in the shared folder beside the repository.
#
# Usage: tests/toml-conformance.sh BUILD_DIR   (scripts/run-tests passes it)
set -u
build=${1:-build}
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
cases="$top/../shared/toml-test"
if [ ! -d "$cases/valid" ] || [ ! -d "$cases/invalid" ]; then
    echo "toml-conformance: the toml-test cases are missing: expected $cases/valid and $cases/invalid"
    echo "toml-conformance: 0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$build/tests/toml-conformance" ]; then
    echo "toml-conformance: $build/tests/toml-conformance is not built (make BUILD=$build tests)"
    echo "toml-conformance: 0 passed, 1 failed"
    exit 1
fi
exec "$build/tests/toml-conformance" "$cases"
