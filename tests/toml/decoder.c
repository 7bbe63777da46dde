/* SPDX-License-Identifier: MIT */
/*
 * decoder.c - build/toml-decode, weft's TOML parser behind toml-test's
 * decoder interface: TOML on stdin; the tagged JSON on stdout and exit 0,
 * or the parser's error on stderr and exit 1.
 */
#include "tagged.h"
#include "weft.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    size_t len = 0, cap = 65536;
    char *text = malloc(cap);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *t = realloc(text, cap *= 2);
            if (!t) free(text);
            text = t;
        }
    }
    if (!text || ferror(stdin)) {
        fprintf(stderr, "toml-decode: cannot read stdin\n");
        free(text);
        return 1;
    }
    char err[WEFT_ERRBUF_SIZE];
    weft_toml *doc;
    weft_err e = weft_toml_parse(text, len, "<stdin>", &doc, err);
    free(text);
    if (e) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    json_t *j = tagged_json(weft_toml_root(doc), NULL);
    weft_toml_free(doc);
    if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) {
        fprintf(stderr, "toml-decode: cannot write JSON\n");
        json_decref(j);
        return 1;
    }
    json_decref(j);
    putchar('\n');
    return 0;
}
