/* SPDX-License-Identifier: MIT */
/*
 * xlsx.h - the .xlsx reader behind excel data nodes (xlsx_read.c): opens a
 * workbook by path, lists its sheets, and streams one sheet's rows as
 * typed cells.  excel.c builds the public weft_xlsx_* API on it.
 */
#ifndef WEFT_JOB_XLSX_H
#define WEFT_JOB_XLSX_H

#include "weft.h"

/* What the reader accepts: the workbook's parts, inflated, read in total
 * (a zip bomb stops here), and the text of one row. */
#define WEFT__XLSX_MAX ((uint64_t)256 << 20)
#define WEFT__XLSX_ROW_MAX (16u << 20)
#define WEFT__XLSX_MAX_COLS 16384    /* Excel's XFD */
#define WEFT__XLSX_MAX_ROWS 1048576  /* Excel's last row */

typedef struct weft__xlsx weft__xlsx;

/* Opens the workbook at `path` and reads its sheet list and shared
 * strings.  WEFT_EIO when the file cannot be read, WEFT_EDATA when it is no
 * xlsx workbook or is malformed, WEFT_ELIMIT beyond WEFT__XLSX_MAX; err
 * names the file.  Caller frees with weft__xlsx_close(). */
weft_err weft__xlsx_open(const char *path, weft__xlsx **out, char *err);
void weft__xlsx_close(weft__xlsx *x);
/* Sheet names in workbook order (borrowed until close). */
const char *const *weft__xlsx_sheets(const weft__xlsx *x, size_t *n);
/* Starts reading sheet `name` from its first row.  WEFT_ENOTFOUND with
 * the existing names in err when there is no such sheet. */
weft_err weft__xlsx_select(weft__xlsx *x, const char *name, char *err);
/* Next row of the selected sheet: 1 with *cells (borrowed until the next
 * call) and *n, 0 at the end, -1 with err filled. */
int weft__xlsx_next(weft__xlsx *x, const weft_cell **cells, size_t *n, char *err);
/* The error code behind weft__xlsx_next()'s -1 (WEFT_EDATA, WEFT_ELIMIT,
 * WEFT_ENOMEM); WEFT_OK while it has not failed. */
weft_err weft__xlsx_failure(const weft__xlsx *x);

/* excel.c, for datanode.c: the empty workbook (weft.noop's output: one
 * sheet with the node's current header, if any); the bytes of a node that
 * has no file but a default_data (that CSV text as a workbook); and the
 * text `weft data` shows (CSV for one sheet, else a JSON object of sheets,
 * each an array of rows).  Callers free *out. */
weft_err weft__xlsx_write_empty(weft_data_node *dn, char *err);
weft_err weft__xlsx_default_bytes(weft_data_node *dn, char **out, size_t *len, char *err);
weft_err weft__xlsx_render(weft_data_node *dn, char **out, size_t *len, char *err);
/* excel.c, for dn_put.c (weft_data_write): a workbook's bytes replace the
 * node's file; CSV text replaces its sheet or, with `append`, is added
 * after the sheet's rows (same header); other sheets are kept. */
weft_err weft__xlsx_put(weft_data_node *dn, bool has_content, const void *data, size_t len, bool append,
                        char *err);

#endif
