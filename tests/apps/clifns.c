/* SPDX-License-Identifier: MIT */
/*
 * clifns.c - task functions for the `weft` command's tests (test_cli.c),
 * built into <build>/tests/apps/clifns.so and loaded by the command from
 * the test's folder as "clifns.NAME:function".  The library is built with
 * hidden visibility, so each function is exported explicitly.
 */
#include "weft.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int seed(weft_ctx *ctx);
EXPORT int upper(weft_ctx *ctx);
EXPORT int concat(weft_ctx *ctx);
EXPORT int fail(weft_ctx *ctx);
EXPORT int escapes(weft_ctx *ctx);

/* Writes "hello\n" (or the task's `text` property) to every output. */
int seed(weft_ctx *ctx)
{
    const weft_value *v = weft_ctx_property(ctx, "text");
    const char *text = v ? weft_value_text(v) : "hello\n";
    char err[WEFT_ERRBUF_SIZE];
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), text, strlen(text), err)) {
            weft_ctx_fail(ctx, "%s", err);
            return 1;
        }
    return 0;
}

/* Output 0 = input 0 in upper case. */
int upper(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE], *data = NULL;
    size_t len = 0;
    if (weft_dn_read(weft_ctx_input(ctx, 0), &data, &len, err)) {
        weft_ctx_fail(ctx, "cannot read %s: %s", weft_dn_config_id(weft_ctx_input(ctx, 0)), err);
        return 1;
    }
    for (size_t i = 0; i < len; i++) data[i] = (char)toupper((unsigned char)data[i]);
    weft_ctx_log(ctx, "upper: %zu bytes", len);
    int rc = 0;
    if (weft_dn_write(weft_ctx_output(ctx, 0), data, len, err)) {
        weft_ctx_fail(ctx, "%s", err);
        rc = 1;
    }
    free(data);
    return rc;
}

/* Output 0 = every input, in order. */
int concat(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    size_t cap = 1, len = 0;
    char *all = calloc(1, 1);
    for (size_t i = 0; all && i < weft_ctx_ninputs(ctx); i++) {
        char *data = NULL;
        size_t n = 0;
        if (weft_dn_read(weft_ctx_input(ctx, i), &data, &n, err)) {
            weft_ctx_fail(ctx, "%s", err);
            free(all);
            return 1;
        }
        char *p = realloc(all, cap + n);
        if (p) {
            memcpy(p + len, data, n);
            len += n;
            cap += n;
            p[len] = '\0';
        } else {
            free(all);
        }
        all = p;
        free(data);
    }
    if (!all) {
        weft_ctx_fail(ctx, "out of memory");
        return 1;
    }
    int rc = 0;
    if (weft_dn_write(weft_ctx_output(ctx, 0), all, len, err)) {
        weft_ctx_fail(ctx, "%s", err);
        rc = 1;
    }
    free(all);
    return rc;
}

/* Fails on purpose, after a line in its log. */
int fail(weft_ctx *ctx)
{
    weft_ctx_log(ctx, "about to fail in %s", weft_ctx_task_config_id(ctx));
    weft_ctx_fail(ctx, "deliberate failure in %s", weft_ctx_task_config_id(ctx));
    return 1;
}

/* Prints terminal escape sequences (colour, clear screen, window title, an
 * 8-bit CSI) to stdout and in its log, and fails with one in its error. */
int escapes(weft_ctx *ctx)
{
    printf("\x1b[31mred\x1b[0m\tafter-tab\nclear\x1b[2J \xc2\x9b""1m c1\n");
    fflush(stdout);
    weft_ctx_log(ctx, "log \x1b]0;pwned\x07 title");
    weft_ctx_fail(ctx, "bad \x1b[8mhidden\x1b[0m thing");
    return 1;
}
