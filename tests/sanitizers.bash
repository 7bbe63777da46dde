# SPDX-License-Identifier: MIT
# sanitizers.bash - sourced by the suites that run /usr/bin/python3 on the
# weft package of a build (tests/python.sh, tests/taipy_sales.sh).  python3
# is not instrumented: the sanitizer runtimes that _weft.so of an ASan or
# TSan build needs must be loaded first (a TSan runtime dlopen()ed late
# cannot get its static TLS).  py_sanitizer_env BUILD TMPDIR fills the array
# py_env with the variables to run python3 with (empty for a plain build);
# for ASan, LeakSanitizer also gets tests/lsan-python.supp (what the
# interpreter keeps at exit) written into TMPDIR.
py_sanitizer_env() {
    local build=$1 tmp=$2 so="$1/python/weft/_weft.so"
    local top=${WEFT_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
    py_env=()
    if readelf -d "$so" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
        cat "$top/tests/lsan.supp" "$top/tests/lsan-python.supp" > "$tmp/lsan.supp"
        py_env=(LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
                LSAN_OPTIONS="suppressions=$tmp/lsan.supp" PYTHONMALLOC=malloc
                ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}")
    elif readelf -d "$so" 2>/dev/null | grep -q 'NEEDED.*libtsan'; then
        py_env=(LD_PRELOAD="$(${CC:-cc} -print-file-name=libtsan.so)")
    fi
}
