#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# functions.sh - no function in src/ is longer than scripts/check-functions
# allows, as a test.
#
# Usage: tests/functions.sh [BUILD_DIR]   (scripts/run-tests passes it; unused)
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
exec "$top/scripts/check-functions"
