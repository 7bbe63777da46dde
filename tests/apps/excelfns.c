/* SPDX-License-Identifier: MIT */
/*
 * excelfns.c - a task module for test_excel: a C task that reads an excel
 * input row by row and writes an excel output with the weft_xlsx_* API,
 * as user code does.  Loaded with dlopen() as "excelfns.<symbol>".
 */
#include "weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int double_qty(weft_ctx *ctx);

/* Copies sheet "prices" of input 0 (columns item, qty) to output 0 with qty
 * doubled, plus a column "big" (qty > 10) and a sheet "summary" with the total. */
EXPORT int double_qty(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_xlsx_reader *r = NULL;
    weft_xlsx_writer *w = NULL;
    if (weft_xlsx_open(weft_ctx_input(ctx, 0), "prices", &r, err) ||
        weft_xlsx_create(weft_ctx_output(ctx, 0), &w, err))
        goto fail;
    static const char *const header[] = {"item", "qty", "big"};
    if (weft_xlsx_add_sheet(w, "doubled", header, 3, err)) goto fail;
    const weft_cell *c;
    size_t n;
    int rc;
    double total = 0;
    while ((rc = weft_xlsx_next(r, &c, &n, err)) == 1) {
        if (n < 2 || c[1].type != WEFT_CELL_NUMBER) continue;
        double q = 2 * strtod(c[1].text, NULL);
        total += q;
        char num[64];
        snprintf(num, sizeof num, "%g", q);
        weft_cell out[3] = {c[0], {WEFT_CELL_NUMBER, num}, {WEFT_CELL_BOOL, q > 10 ? "True" : "False"}};
        if (weft_xlsx_write_row(w, out, 3, err)) goto fail;
    }
    if (rc < 0) goto fail;
    static const char *const sh[] = {"total"};
    char num[64];
    snprintf(num, sizeof num, "%g", total);
    weft_cell t[1] = {{WEFT_CELL_NUMBER, num}};
    if (weft_xlsx_add_sheet(w, "summary", sh, 1, err) || weft_xlsx_write_row(w, t, 1, err)) goto fail;
    weft_xlsx_close(r);
    weft_xlsx_writer *done = w;
    w = NULL;
    if (weft_xlsx_commit(done, err)) goto fail;
    return 0;
fail:
    weft_ctx_fail(ctx, "%s", err);
    weft_xlsx_close(r);
    weft_xlsx_abort(w);
    return 1;
}
