#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# browser.sh - the `weft ui` page in headless Chromium (tests/browser.py):
# overview, the Run button with a live DAG, the Cancel button, a CSV
# preview, the workers of a cluster-mode store (WEFT_TEST_BROKER_URL);
# screenshots under BUILD/browser/.  Without Chromium (install it
# with scripts/install-deps) the suite reports one failure, not a pass.
#
# Usage: tests/browser.sh [BUILD_DIR]
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${1:-$top/build}
if ! command -v chromium >/dev/null 2>&1; then
    echo "FAIL browser: chromium is not installed (scripts/install-deps)"
    echo "browser: 0 passed, 1 failed"
    exit 1
fi
exec python3 "$top/tests/browser.py" "$build"
