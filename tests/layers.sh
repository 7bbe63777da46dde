#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# layers.sh - the include-layer rule of docs/ARCHITECTURE.md, as a test:
# no file in src/ includes a folder above (or beside) its own.
#
# Usage: tests/layers.sh [BUILD_DIR]   (scripts/run-tests passes it; unused)
top=${WEFT_SRC_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
exec "$top/scripts/check-layers"
