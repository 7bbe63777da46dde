/* SPDX-License-Identifier: MIT */
/*
 * fuzz_toml.c - libFuzzer target for the TOML parser: parses the input,
 * walks the whole tree through every public accessor, and frees it, so the
 * sanitizers see every byte the parser and the tree touch.  `make fuzz
 * FUZZ_SECONDS=60` builds and runs it.
 */
#include "weft.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps the reads from being optimized away */

/* Recursion is bounded by WEFT_TOML_MAX_DEPTH, which the parser enforces. */
static void walk(const weft_toml_value *v, int depth)
{
    if (depth > WEFT_TOML_MAX_DEPTH + 1) abort();
    int line, col;
    weft_toml_pos(v, &line, &col);
    if (line < 1 || col < 1) abort();
    size_t len = 0;
    const char *s = weft_toml_string(v, &len);
    if (s) sink += len ? (unsigned char)s[len - 1] : 0;
    sink += (uint64_t)weft_toml_int(v) + (uint64_t)weft_toml_bool(v);
    double f = weft_toml_float(v);
    sink += f == f;
    weft_toml_datetime d = weft_toml_get_datetime(v);
    sink += (uint64_t)(d.year + d.nanosecond + d.offset_minutes);
    size_t n = weft_toml_len(v);
    weft_toml_type t = weft_toml_type_of(v);
    for (size_t i = 0; i < n; i++) {
        const weft_toml_value *c = weft_toml_at(v, i);
        if (!c) abort();
        if (t == WEFT_TOML_TABLE) {
            size_t klen;
            const char *k = weft_toml_key_at_len(v, i, &klen);
            weft_toml_key_pos(v, i, &line, &col);
            if (!k || line < 1 || col < 1) abort();
            /* Lookup by name finds the same entry unless the key holds a NUL. */
            if (strlen(k) == klen && weft_toml_get(v, k) != c) abort();
        }
        walk(c, depth + 1);
    }
    if (weft_toml_at(v, n) != NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_toml *doc = NULL;
    weft_err e = weft_toml_parse((const char *)data, size, "fuzz", &doc, err);
    if (e == WEFT_OK) {
        walk(weft_toml_root(doc), 0);
        weft_toml_free(doc);
    } else if (doc != NULL || strncmp(err, "fuzz:", 5) != 0) {
        abort();
    }
    return 0;
}
