/* SPDX-License-Identifier: MIT */
/*
 * excel.c - excel data nodes (weft_xlsx_*): the row reader on xlsx_read.c
 * (or, for a node with no file yet, on its default_data read as CSV text),
 * the writer on libxlsxwriter (constant-memory mode: each row goes to a
 * temporary file as it is written; the workbook replaces the node's file
 * atomically on commit), the empty workbook written for weft.noop, the
 * bytes handed to Python tasks, the text `weft data` prints (CSV for one
 * sheet, JSON for several), and `weft data write`'s CSV put into a sheet.
 */
#define _GNU_SOURCE /* asprintf */
#include "job/runner.h"
#include "job/xlsx.h"
#include "util/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

struct weft_xlsx_reader {
    weft__xlsx *x;          /* the node's file, or */
    weft_csv_reader *csv;   /* its default_data */
    const char *csv_sheet[1];
    weft_cell *dcells;      /* a default_data row as cells */
    size_t capd;
    weft_cell *header;
    size_t nheader;
    weft__buf hdr_text;
};

struct weft_xlsx_writer {
    weft_data_node *dn;
    weft__afile *af;        /* the atomic replacement, or NULL for a scratch file */
    char *path;             /* where libxlsxwriter writes */
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_row_t row;
    bool header, failed;
};

/* The node's sheet_name: the string, or a list's first item; NULL when unset. */
static const char *node_sheet(const weft_data_node *dn)
{
    const weft_value *v = weft_dn_property(dn, "sheet_name");
    if (v && weft_value_type_of(v) == WEFT_VALUE_LIST) v = weft_value_len(v) ? weft_value_at(v, 0) : NULL;
    const char *t = v ? weft_value_text(v) : NULL;
    return t && *t ? t : NULL;
}

/* ---- reading ---- */

/* A CSV field of default_data as a cell: empty, a number, True/False, or text. */
static weft_cell infer_cell(const char *s)
{
    if (!*s) return (weft_cell){WEFT_CELL_EMPTY, s};
    if (strcmp(s, "True") == 0 || strcmp(s, "False") == 0) return (weft_cell){WEFT_CELL_BOOL, s};
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    /* Decimal only: strtod() also takes hex, "inf" and leading blanks. */
    if (end != s && !*end && !errno && isfinite(d) && !strpbrk(s, "xX \t\n"))
        return (weft_cell){WEFT_CELL_NUMBER, s};
    return (weft_cell){WEFT_CELL_STRING, s};
}

static int csv_cells(weft_xlsx_reader *r, const char *const *f, size_t n)
{
    if (n && WEFT__GROW(r->dcells, n, r->capd)) return -1;
    for (size_t i = 0; i < n; i++) r->dcells[i] = infer_cell(f[i]);
    return 0;
}

/* Next row from wherever the reader reads. */
static int raw_next(weft_xlsx_reader *r, const weft_cell **cells, size_t *n, char *err)
{
    if (r->x) return weft__xlsx_next(r->x, cells, n, err);
    const char *const *f;
    int rc = weft_csv_next(r->csv, &f, n, err);
    if (rc == 1 && csv_cells(r, f, *n) < 0) {
        weft__err(err, WEFT_ENOMEM, "out of memory");
        return -1;
    }
    *cells = r->dcells;
    return rc;
}

/* Keeps a copy of the first row as the header (the row buffer is reused). */
static weft_err take_header(weft_xlsx_reader *r, const weft_cell *cells, size_t n, char *err)
{
    size_t *off = n ? malloc(n * sizeof *off) : NULL;
    if (n && (!off || !(r->header = malloc(n * sizeof *r->header)))) {
        free(off);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        off[i] = r->hdr_text.len;
        if (weft__buf_add(&r->hdr_text, cells[i].text, strlen(cells[i].text) + 1)) {
            free(off);
            return weft__err(err, WEFT_ENOMEM, "out of memory");
        }
        r->header[i].type = cells[i].type;
    }
    for (size_t i = 0; i < n; i++) r->header[i].text = r->hdr_text.data + off[i];
    r->nheader = n;
    free(off);
    return WEFT_OK;
}

/* Opens the default_data of a node with no file, as CSV text. */
static weft_err open_default(weft_data_node *dn, const char *sheet, weft_xlsx_reader *r, char *err)
{
    const char *name = node_sheet(dn) ? node_sheet(dn) : "Sheet1";
    if (sheet && strcmp(sheet, name) != 0)
        return weft__err(err, WEFT_ENOTFOUND, "data node %s: no sheet '%s' in its default_data (its sheet: '%s')",
                         weft_dn_config_id(dn), sheet, name);
    r->csv_sheet[0] = name;
    /* The csv reader takes the node's first row as a header itself when
     * has_header is set; weft_xlsx_open() reads it back from there. */
    return weft_csv_open(dn, &r->csv, err);
}

weft_err weft_xlsx_open(weft_data_node *dn, const char *sheet, weft_xlsx_reader **out, char *err)
{
    if (!dn || !out) return weft__err(err, WEFT_EINVAL, "weft_xlsx_open: no data node");
    const char *path = weft_dn_path(dn);
    if (!path || strcmp(weft_dn_storage_type(dn), "excel") != 0)
        return weft__err(err, WEFT_EINVAL, "data node %s is %s, not excel", weft_dn_config_id(dn),
                         weft_dn_storage_type(dn));
    weft_xlsx_reader *r = calloc(1, sizeof *r);
    if (!r) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e;
    bool missing = access(path, F_OK) != 0 && errno == ENOENT;
    if (missing && !weft_dn_property(dn, "default_data")) {
        e = weft__err(err, WEFT_EDATA, "data node %s: %s does not exist", weft_dn_config_id(dn), path);
        goto fail;
    }
    if (missing) {
        if ((e = open_default(dn, sheet, r, err))) goto fail;
        size_t n;
        const char *const *h = weft_csv_header(r->csv, &n);
        if (csv_cells(r, h, n) < 0 || (e = take_header(r, r->dcells, n, err))) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto fail;
        }
        *out = r;
        return WEFT_OK;
    }
    if ((e = weft__xlsx_open(path, &r->x, err))) goto fail;
    size_t ns;
    const char *const *names = weft__xlsx_sheets(r->x, &ns);
    if (!sheet) sheet = node_sheet(dn) ? node_sheet(dn) : names[0];
    if ((e = weft__xlsx_select(r->x, sheet, err))) goto fail;
    if (weft__dn_bool_property(dn, "has_header", true)) {
        const weft_cell *cells;
        size_t n;
        int rc = weft__xlsx_next(r->x, &cells, &n, err);
        if (rc < 0) {
            e = weft__xlsx_failure(r->x) ? weft__xlsx_failure(r->x) : WEFT_EDATA;
            goto fail;
        }
        if (rc == 1 && (e = take_header(r, cells, n, err))) goto fail;
    }
    *out = r;
    return WEFT_OK;
fail:
    weft_xlsx_close(r);
    return e;
}

const char *const *weft_xlsx_sheets(weft_xlsx_reader *r, size_t *n)
{
    if (!r) {
        if (n) *n = 0;
        return NULL;
    }
    if (!r->x) {
        if (n) *n = 1;
        return r->csv_sheet;
    }
    size_t k;
    const char *const *s = weft__xlsx_sheets(r->x, &k);
    if (n) *n = k;
    return s;
}

const weft_cell *weft_xlsx_header(weft_xlsx_reader *r, size_t *n)
{
    if (n) *n = r ? r->nheader : 0;
    return r ? r->header : NULL;
}

int weft_xlsx_next(weft_xlsx_reader *r, const weft_cell **cells, size_t *n, char *err)
{
    if (!r || !cells || !n) {
        weft__err(err, WEFT_EINVAL, "weft_xlsx_next: no reader");
        return -1;
    }
    return raw_next(r, cells, n, err);
}

void weft_xlsx_close(weft_xlsx_reader *r)
{
    if (!r) return;
    weft__xlsx_close(r->x);
    weft_csv_close(r->csv);
    free(r->dcells);
    free(r->header);
    weft__buf_release(&r->hdr_text);
    free(r);
}

/* ---- writing ---- */

static void writer_free(weft_xlsx_writer *w)
{
    if (w->wb) lxw_workbook_free(w->wb);
    if (w->af) weft__afile_abort(w->af);
    else if (w->path) unlink(w->path);
    if (!w->af) free(w->path);
    free(w);
}

/* A writer of `dn`'s rows into its file (atomically) or, with `scratch`,
 * into a new temporary file whose path is w->path. */
static weft_err writer_new(weft_data_node *dn, bool scratch, weft_xlsx_writer **out, char *err)
{
    const char *path = weft_dn_path(dn);
    if (!path || strcmp(weft_dn_storage_type(dn), "excel") != 0)
        return weft__err(err, WEFT_EINVAL, "data node %s is %s, not excel", weft_dn_config_id(dn),
                         weft_dn_storage_type(dn));
    weft_xlsx_writer *w = calloc(1, sizeof *w);
    if (!w) return weft__err(err, WEFT_ENOMEM, "out of memory");
    w->dn = dn;
    w->header = weft__dn_bool_property(dn, "has_header", true);
    weft_err e = WEFT_OK;
    if (scratch) {
        const char *tmp = getenv("TMPDIR");
        int fd;
        if (asprintf(&w->path, "%s/weft-xlsx-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0) {
            w->path = NULL;
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        } else if ((fd = mkstemp(w->path)) < 0) {
            e = weft__err(err, WEFT_EIO, "cannot create %s: %s", w->path, strerror(errno));
        } else {
            close(fd);
        }
    } else {
        FILE *f;
        if (!(e = weft__afile_open(path, &w->af, &f, err))) w->path = (char *)weft__afile_tmp(w->af);
    }
    if (e) { /* nothing was created */
        if (scratch) free(w->path);
        free(w);
        return e;
    }
    /* Constant memory: rows go to a temporary file as they are written, so
     * a large table never sits in memory; strings are then stored inline. */
    lxw_workbook_options opts = {.constant_memory = LXW_TRUE};
    if (!(w->wb = workbook_new_opt(w->path, &opts))) {
        e = weft__err(err, WEFT_ENOMEM, "cannot start a workbook for %s", path);
        writer_free(w);
        return e;
    }
    *out = w;
    return WEFT_OK;
}

weft_err weft_xlsx_create(weft_data_node *dn, weft_xlsx_writer **out, char *err)
{
    if (!dn || !out) return weft__err(err, WEFT_EINVAL, "weft_xlsx_create: no data node");
    return writer_new(dn, false, out, err);
}

static weft_err put_cell(weft_xlsx_writer *w, lxw_col_t col, const weft_cell *c, char *err)
{
    const char *t = c->text ? c->text : "";
    lxw_error le = LXW_NO_ERROR;
    switch (c->type) {
    case WEFT_CELL_EMPTY: return WEFT_OK;
    case WEFT_CELL_STRING:
        if (*t) le = worksheet_write_string(w->ws, w->row, col, t, NULL);
        break;
    case WEFT_CELL_NUMBER: {
        char *end;
        errno = 0;
        double d = strtod(t, &end);
        if (end == t || *end || errno || !isfinite(d))
            return weft__err(err, WEFT_EINVAL, "data node %s: row %u, column %u: '%.60s' is not a number",
                             weft_dn_config_id(w->dn), (unsigned)w->row + 1, (unsigned)col + 1, t);
        le = worksheet_write_number(w->ws, w->row, col, d, NULL);
        break;
    }
    case WEFT_CELL_BOOL: {
        bool b = strcmp(t, "True") == 0 || strcmp(t, "true") == 0 || strcmp(t, "TRUE") == 0 || strcmp(t, "1") == 0;
        if (!b && strcmp(t, "False") && strcmp(t, "false") && strcmp(t, "FALSE") && strcmp(t, "0"))
            return weft__err(err, WEFT_EINVAL, "data node %s: row %u, column %u: '%.60s' is not True or False",
                             weft_dn_config_id(w->dn), (unsigned)w->row + 1, (unsigned)col + 1, t);
        le = worksheet_write_boolean(w->ws, w->row, col, b, NULL);
        break;
    }
    default:
        return weft__err(err, WEFT_EINVAL, "data node %s: row %u, column %u: unknown cell type %d",
                         weft_dn_config_id(w->dn), (unsigned)w->row + 1, (unsigned)col + 1, (int)c->type);
    }
    if (le)
        return weft__err(err, WEFT_EINVAL, "data node %s: row %u, column %u: %s", weft_dn_config_id(w->dn),
                         (unsigned)w->row + 1, (unsigned)col + 1, lxw_strerror(le));
    return WEFT_OK;
}

static weft_err put_row(weft_xlsx_writer *w, const weft_cell *cells, size_t n, char *err)
{
    if (!w->ws) return weft__err(err, WEFT_EINVAL, "data node %s: add a sheet before writing rows",
                                 weft_dn_config_id(w->dn));
    if (w->row >= WEFT__XLSX_MAX_ROWS || n > WEFT__XLSX_MAX_COLS)
        return weft__err(err, WEFT_ELIMIT, "data node %s: a sheet holds at most %d rows of %d columns",
                         weft_dn_config_id(w->dn), WEFT__XLSX_MAX_ROWS, WEFT__XLSX_MAX_COLS);
    for (size_t i = 0; i < n; i++) {
        weft_err e = put_cell(w, (lxw_col_t)i, &cells[i], err);
        if (e) return e;
    }
    w->row++;
    return WEFT_OK;
}

weft_err weft_xlsx_add_sheet(weft_xlsx_writer *w, const char *name, const char *const *header,
                             size_t n, char *err)
{
    if (!w || (!header && n)) return weft__err(err, WEFT_EINVAL, "weft_xlsx_add_sheet: no writer");
    if (!name) name = node_sheet(w->dn) ? node_sheet(w->dn) : "Sheet1";
    /* A failed sheet fails the workbook, and its rows go nowhere else. */
    w->ws = NULL;
    lxw_error le = workbook_validate_sheet_name(w->wb, name);
    if (le) {
        w->failed = true;
        return weft__err(err, WEFT_EINVAL, "data node %s: sheet name '%.60s': %s", weft_dn_config_id(w->dn),
                         name, lxw_strerror(le));
    }
    if (!(w->ws = workbook_add_worksheet(w->wb, name))) {
        w->failed = true;
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    w->row = 0;
    if (!header || !n || !w->header) return WEFT_OK;
    weft_cell *cells = malloc(n * sizeof *cells);
    if (!cells) return weft__err(err, WEFT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) cells[i] = (weft_cell){WEFT_CELL_STRING, header[i] ? header[i] : ""};
    weft_err e = put_row(w, cells, n, err);
    free(cells);
    if (e) w->failed = true;
    return e;
}

weft_err weft_xlsx_write_row(weft_xlsx_writer *w, const weft_cell *cells, size_t n, char *err)
{
    if (!w || (!cells && n)) return weft__err(err, WEFT_EINVAL, "weft_xlsx_write_row: no writer");
    weft_err e = put_row(w, cells, n, err);
    if (e) w->failed = true;
    return e;
}

/* Writes the workbook; the writer's file then holds it.  Frees nothing.
 * libxlsxwriter also prints a line to stderr when it fails here (a full
 * disk, no temporary file): it has no switch for that, and redirecting
 * the process's stderr from a library is worse. */
static weft_err writer_finish(weft_xlsx_writer *w, char *err)
{
    if (w->failed)
        return weft__err(err, WEFT_EIO, "cannot write %s: an earlier row failed", weft_dn_path(w->dn));
    lxw_error le = workbook_close(w->wb); /* frees the workbook in any case */
    w->wb = NULL;
    if (le)
        return weft__err(err, WEFT_EIO, "cannot write %s: %s", weft_dn_path(w->dn), lxw_strerror(le));
    return WEFT_OK;
}

weft_err weft_xlsx_commit(weft_xlsx_writer *w, char *err)
{
    if (!w) return weft__err(err, WEFT_EINVAL, "weft_xlsx_commit: no writer");
    weft_err e = w->af ? writer_finish(w, err) : weft__err(err, WEFT_EINVAL, "weft_xlsx_commit: a scratch writer");
    if (e) {
        writer_free(w);
        return e;
    }
    e = weft__afile_commit(w->af, err);
    w->af = NULL;
    if (!e) weft__dn_mark_written(w->dn);
    free(w);
    return e;
}

void weft_xlsx_abort(weft_xlsx_writer *w)
{
    if (w) writer_free(w);
}

/* ---- for datanode.c ---- */

/* Copies every row of `r` (its header first) into sheet `name` of `w`. */
static weft_err copy_rows(weft_xlsx_reader *r, weft_xlsx_writer *w, const char *name, char *err)
{
    size_t n;
    weft_err e = weft_xlsx_add_sheet(w, name, NULL, 0, err);
    const weft_cell *cells = weft_xlsx_header(r, &n);
    if (!e && n) e = weft_xlsx_write_row(w, cells, n, err);
    int rc;
    while (!e && (rc = weft_xlsx_next(r, &cells, &n, err)) != 0)
        e = rc < 0 ? WEFT_EDATA : weft_xlsx_write_row(w, cells, n, err);
    return e;
}

/* The empty table: a workbook with one sheet holding the header of the
 * node's current content when it has one (as csv nodes keep theirs). */
weft_err weft__xlsx_write_empty(weft_data_node *dn, char *err)
{
    weft_xlsx_reader *r = NULL;
    const weft_cell *h = NULL;
    size_t n = 0;
    if (weft__dn_bool_property(dn, "has_header", true) && weft_xlsx_open(dn, NULL, &r, NULL) == WEFT_OK)
        h = weft_xlsx_header(r, &n);
    weft_xlsx_writer *w;
    weft_err e = weft_xlsx_create(dn, &w, err);
    if (!e) e = weft_xlsx_add_sheet(w, NULL, NULL, 0, err);
    if (!e && n) e = weft_xlsx_write_row(w, h, n, err);
    weft_xlsx_close(r);
    if (e) {
        weft_xlsx_abort(w);
        return e;
    }
    return weft_xlsx_commit(w, err);
}

/* The bytes of a node with no file and a default_data: that CSV text as
 * a workbook, built in a scratch file (caller frees *out). */
weft_err weft__xlsx_default_bytes(weft_data_node *dn, char **out, size_t *len, char *err)
{
    weft_xlsx_reader *r;
    weft_err e = weft_xlsx_open(dn, NULL, &r, err);
    if (e) return e;
    weft_xlsx_writer *w;
    if ((e = writer_new(dn, true, &w, err))) {
        weft_xlsx_close(r);
        return e;
    }
    e = copy_rows(r, w, r->csv_sheet[0], err);
    weft_xlsx_close(r);
    if (!e) e = writer_finish(w, err);
    if (!e) e = weft__read_file(w->path, out, len, err);
    writer_free(w);
    return e;
}

static weft_err csv_cell(weft__buf *b, const weft_cell *c, bool first)
{
    weft_err e = first ? WEFT_OK : weft__buf_addc(b, ',');
    const char *s = c->text;
    if (e || !strpbrk(s, ",\"\r\n")) return e ? e : weft__buf_adds(b, s);
    if ((e = weft__buf_addc(b, '"'))) return e;
    for (; *s && !e; s++) e = *s == '"' ? weft__buf_add(b, "\"\"", 2) : weft__buf_addc(b, *s);
    return e ? e : weft__buf_addc(b, '"');
}

static json_t *json_cell(const weft_cell *c)
{
    switch (c->type) {
    case WEFT_CELL_EMPTY: return json_null();
    case WEFT_CELL_BOOL: return json_boolean(strcmp(c->text, "True") == 0);
    case WEFT_CELL_NUMBER: {
        char *end;
        errno = 0;
        long long i = strtoll(c->text, &end, 10);
        if (!*end && !errno) return json_integer(i);
        double d = strtod(c->text, &end);
        return json_real(isfinite(d) ? d : 0);
    }
    case WEFT_CELL_STRING: break;
    }
    return json_string(c->text);
}

/* One sheet's rows (header first) as CSV into b, or as a JSON array into *rows. */
static weft_err render_sheet(weft_xlsx_reader *r, weft__buf *b, json_t *rows, char *err)
{
    size_t n;
    const weft_cell *cells = weft_xlsx_header(r, &n);
    bool have = cells && n;
    weft_err e = WEFT_OK;
    for (int rc = 1; !e;) {
        if (!have && (rc = weft_xlsx_next(r, &cells, &n, err)) <= 0) return rc < 0 ? WEFT_EDATA : WEFT_OK;
        have = false;
        json_t *row = rows ? json_array() : NULL;
        for (size_t i = 0; !e && i < n; i++) {
            if (rows) e = json_array_append_new(row, json_cell(&cells[i])) ? WEFT_ENOMEM : WEFT_OK;
            else e = csv_cell(b, &cells[i], i == 0);
        }
        if (rows && e) json_decref(row);
        else if (rows) e = json_array_append_new(rows, row) ? WEFT_ENOMEM : WEFT_OK;
        else if (!e) e = weft__buf_addc(b, '\n');
    }
    return weft__err(err, e, e == WEFT_ELIMIT ? "data node: more text than `weft data` shows" : "out of memory");
}

/* The sheets `weft data` shows: sheet_name's, else every sheet (Taipy's
 * read of a node without sheet_name).  Copies (the reader that lists them
 * is closed on the way): free with weft_strv_free(); NULL on ENOMEM. */
static char **shown_sheets(weft_data_node *dn, weft_xlsx_reader *r, size_t *n)
{
    const weft_value *v = weft_dn_property(dn, "sheet_name");
    bool list = v && weft_value_type_of(v) == WEFT_VALUE_LIST;
    size_t k = list ? weft_value_len(v) : v ? 1 : 0;
    const char *const *all = k ? NULL : weft_xlsx_sheets(r, &k);
    char **names = calloc(k ? k : 1, sizeof *names);
    for (size_t i = 0; names && i < k; i++) {
        const char *s = all ? all[i] : weft_value_text(list ? weft_value_at(v, i) : v);
        if (!(names[i] = strdup(s ? s : ""))) {
            weft_strv_free(names, i);
            names = NULL;
        }
    }
    *n = k;
    return names;
}

weft_err weft__xlsx_render(weft_data_node *dn, char **out, size_t *len, char *err)
{
    weft_xlsx_reader *r;
    weft_err e = weft_xlsx_open(dn, NULL, &r, err);
    if (e) return e;
    size_t n;
    char **names = shown_sheets(dn, r, &n);
    weft__buf b = WEFT_BUF_INIT;
    b.max = (size_t)WEFT__XLSX_MAX * 2; /* CSV quoting at most doubles the text */
    json_t *all = n > 1 ? json_object() : NULL;
    if (!names || (n > 1 && !all)) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    for (size_t i = 0; !e && i < n; i++) {
        if (i > 0) { /* the first is the one weft_xlsx_open(dn, NULL) opened */
            weft_xlsx_close(r);
            r = NULL;
            if ((e = weft_xlsx_open(dn, names[i], &r, err))) break;
        }
        json_t *rows = all ? json_array() : NULL;
        if (all && (!rows || json_object_set_new(all, names[i], rows) < 0))
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        if (!e) e = render_sheet(r, &b, rows, err);
    }
    if (!e && all) {
        char *s = json_dumps(all, JSON_COMPACT);
        if (!s || weft__buf_adds(&b, s) || weft__buf_addc(&b, '\n'))
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        free(s);
    }
    json_decref(all);
    if (names) weft_strv_free(names, n);
    weft_xlsx_close(r);
    if (!e && !(*out = weft__buf_detach(&b, len))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    weft__buf_release(&b);
    return e;
}

/* ---- weft data write ---- */

typedef struct xput {
    weft_data_node *dn;
    weft__xlsx *old;          /* the node's workbook, or NULL */
    weft_csv_reader *in;      /* the input's rows */
    weft_xlsx_writer *w;
    weft_xlsx_reader *conv;   /* for csv_cells() */
    const char *target;       /* the sheet written */
    bool append, hdr;
} xput;

/* Copies sheet `name` of the old workbook into w, row by row, as it is. */
static weft_err copy_sheet(xput *p, const char *name, const weft_cell **hdr, size_t *nhdr, char *err)
{
    weft_err e = weft__xlsx_select(p->old, name, err);
    if (!e) e = weft_xlsx_add_sheet(p->w, name, NULL, 0, err);
    const weft_cell *c;
    size_t n;
    int rc = 0;
    for (bool first = true; !e && (rc = weft__xlsx_next(p->old, &c, &n, err)) == 1; first = false) {
        if (first && hdr && (e = take_header(p->conv, c, n, err))) break;
        e = weft_xlsx_write_row(p->w, c, n, err);
    }
    if (!e && rc < 0) e = weft__xlsx_failure(p->old) ? weft__xlsx_failure(p->old) : WEFT_EDATA;
    if (hdr) {
        *hdr = p->conv->header;
        *nhdr = p->conv->nheader;
    }
    return e;
}

/* The input's header against the sheet's, when appending with a header. */
static weft_err same_header(xput *p, const weft_cell *old, size_t nold, char *err)
{
    size_t n;
    const char *const *h = weft_csv_header(p->in, &n);
    for (size_t i = 0; i < n || i < nold; i++) {
        const char *a = i < n ? h[i] : "(none)", *b = i < nold ? old[i].text : "(none)";
        if (strcmp(a, b) != 0)
            return weft__err(err, WEFT_EDATA,
                             "data node %s: column %zu of the input is '%s', of sheet '%s' '%s': an "
                             "append must have the sheet's columns",
                             weft_dn_config_id(p->dn), i + 1, a, p->target, b);
    }
    return WEFT_OK;
}

/* The target sheet: the old rows when appending, then the input's. */
static weft_err put_target(xput *p, bool in_old, char *err)
{
    weft_err e;
    const weft_cell *old = NULL;
    size_t nold = 0, n;
    if (p->append && in_old) {
        if ((e = copy_sheet(p, p->target, p->hdr ? &old : NULL, &nold, err))) return e;
        if (p->hdr && nold && (e = same_header(p, old, nold, err))) return e;
    } else {
        const char *const *h = weft_csv_header(p->in, &n);
        if ((e = weft_xlsx_add_sheet(p->w, p->target, h, n, err))) return e;
    }
    const char *const *f;
    int rc;
    while ((rc = weft_csv_next(p->in, &f, &n, err)) == 1) {
        if (csv_cells(p->conv, f, n) < 0) return weft__err(err, WEFT_ENOMEM, "out of memory");
        if ((e = weft_xlsx_write_row(p->w, p->conv->dcells, n, err))) return e;
    }
    return rc < 0 ? WEFT_EDATA : WEFT_OK;
}

static weft_err put_sheets(xput *p, char *err)
{
    size_t ns = 0;
    const char *const *names = p->old ? weft__xlsx_sheets(p->old, &ns) : NULL;
    if (!p->target) p->target = ns ? names[0] : "Sheet1";
    bool in_old = false;
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < ns; i++) {
        if (strcmp(names[i], p->target) == 0) {
            in_old = true;
            e = put_target(p, true, err);
        } else {
            e = copy_sheet(p, names[i], NULL, NULL, err);
        }
    }
    if (!e && !in_old) e = put_target(p, false, err);
    return e;
}

/*
 * `weft data write` on an excel node: a workbook's bytes replace the file;
 * CSV text (fields typed as for default_data; its first row the header
 * with has_header) replaces the node's sheet (sheet_name, else the
 * workbook's first), or with `append` follows that sheet's rows, its header
 * the sheet's.  The other sheets are kept.  The new workbook replaces the
 * file in one rename, so a refused input leaves the node as it was.
 */
weft_err weft__xlsx_put(weft_data_node *dn, bool has_content, const void *data, size_t len, bool append,
                        char *err)
{
    bool zip = len >= 4 && memcmp(data, "PK\3\4", 4) == 0;
    if (zip && !append) return weft_dn_write(dn, data, len, err);
    if (zip)
        return weft__err(err, WEFT_EINVAL, "data node %s: append takes CSV rows, not a workbook",
                         weft_dn_config_id(dn));
    xput p = {.dn = dn, .append = append, .hdr = weft__dn_bool_property(dn, "has_header", true),
              .target = node_sheet(dn)};
    weft_err e = WEFT_OK;
    if (has_content && access(weft_dn_path(dn), F_OK) == 0 &&
        (e = weft__xlsx_open(weft_dn_path(dn), &p.old, append ? err : NULL)) && append)
        return e; /* a workbook that cannot be read can be replaced, not appended to */
    FILE *f = len ? fmemopen((void *)data, len, "r") : tmpfile();
    if (!f) e = weft__err(err, WEFT_EIO, "cannot read the input: %s", strerror(errno));
    else e = weft__csv_open_stream(f, "input", p.hdr, &p.in, err);
    if (!e && !(p.conv = calloc(1, sizeof *p.conv))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) e = weft_xlsx_create(dn, &p.w, err);
    if (!e) e = put_sheets(&p, err);
    if (!e) e = weft_xlsx_commit(p.w, err);
    else weft_xlsx_abort(p.w);
    weft__xlsx_close(p.old);
    weft_csv_close(p.in);
    weft_xlsx_close(p.conv);
    return e;
}
