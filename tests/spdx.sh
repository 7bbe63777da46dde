#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh - every source file opens with its licence line and a comment
# saying what it is for (scripts/spdx check), as a test.
#
# Usage: tests/spdx.sh [BUILD_DIR]   (scripts/run-tests passes it; unused)
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
exec "$top/scripts/spdx" check
