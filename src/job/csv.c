/* SPDX-License-Identifier: MIT */
/*
 * csv.c - RFC 4180 CSV for csv data nodes (weft_csv_*): a streaming reader
 * (quoted fields, doubled quotes, embedded commas and newlines, CRLF or LF
 * line ends, optional header row, empty lines skipped) that holds one row
 * at a time in a buffer bounded by WEFT__CSV_ROW_MAX, and a writer that
 * quotes only when needed and replaces the node's file atomically on
 * commit.  Malformed input gives "path:line: message", where line is the
 * physical line on which the offending row or field started.
 */
#include "job/runner.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WEFT__CSV_ROW_MAX (16u * 1024 * 1024)

struct weft_csv_reader {
    FILE *f;
    char *path;          /* for messages */
    weft__buf row;       /* fields of the current row, each NUL-terminated */
    size_t *offs;        /* field offsets into row.data */
    const char **fields; /* pointers built from offs once the row is complete */
    size_t nfields, capoffs, capfields;
    weft__buf hdr_buf;   /* the header's fields, NUL-separated */
    const char **header;
    size_t nheader;
    long line;           /* physical line of the next character (from 1) */
    long row_line;       /* physical line on which the last row read started */
    bool failed;
};

struct weft_csv_writer {
    weft_data_node *dn;
    weft__afile *af;
    FILE *f;
    bool failed;
};

static int push_field(weft_csv_reader *r)
{
    if (WEFT__GROW(r->offs, r->nfields + 1, r->capoffs) ||
        WEFT__GROW(r->fields, r->nfields + 1, r->capfields))
        return -1;
    r->offs[r->nfields++] = r->row.len;
    return 0;
}

/* Skips empty lines (LF or CRLF); returns the first character of the next
 * record, or EOF. */
static int skip_empty_lines(weft_csv_reader *r)
{
    for (;;) {
        int c = getc(r->f);
        if (c == '\n') {
            r->line++;
            continue;
        }
        if (c == '\r') {
            int d = getc(r->f);
            if (d == '\n') {
                r->line++;
                continue;
            }
            if (d != EOF) ungetc(d, r->f);
        }
        return c;
    }
}

/* The rest of a quoted field whose opening quote was read, into r->row;
 * *c gets what follows the closing quote (',', '\n' or EOF).  WEFT_EDATA
 * with err filled for malformed input; a weft__buf error (ELIMIT, ENOMEM)
 * with err untouched. */
static weft_err read_quoted(weft_csv_reader *r, int *c, char *err)
{
    FILE *f = r->f;
    long field_line = r->line;
    weft_err e;
    for (;;) {
        *c = getc(f);
        if (*c == EOF)
            return weft__err(err, WEFT_EDATA, "%s:%ld: unterminated quoted field", r->path,
                             field_line);
        if (*c == '"') {
            *c = getc(f);
            if (*c != '"') break;
        } else if (*c == '\n') {
            r->line++;
        }
        if ((e = weft__buf_addc(&r->row, (char)*c))) return e;
    }
    if (*c == '\r') {
        int d = getc(f);
        if (d != '\n') {
            if (d != EOF) ungetc(d, f);
            return weft__err(err, WEFT_EDATA,
                             "%s:%ld: unexpected carriage return after a quoted field", r->path,
                             r->line);
        }
        *c = '\n';
    }
    if (*c != ',' && *c != '\n' && *c != EOF)
        return weft__err(err, WEFT_EDATA,
                         "%s:%ld: unexpected '%c' after a quoted field (a quote inside "
                         "a quoted field is written \"\")",
                         r->path, r->line, *c);
    return WEFT_OK;
}

/* An unquoted field starting with *c, into r->row; *c gets what ends it
 * (',', '\n' for LF or CRLF, or EOF).  A weft__buf error on failure. */
static weft_err read_plain(weft_csv_reader *r, int *c)
{
    weft_err e;
    while (*c != ',' && *c != '\n' && *c != EOF) {
        if (*c == '\r') {
            int d = getc(r->f);
            if (d == '\n') {
                *c = '\n';
                break;
            }
            if (d != EOF) ungetc(d, r->f);
        }
        if ((e = weft__buf_addc(&r->row, (char)*c))) return e;
        *c = getc(r->f);
    }
    return WEFT_OK;
}

static int read_failed(weft_csv_reader *r, long line, char *err)
{
    weft__err(err, WEFT_EIO, "%s:%ld: %s", r->path, line, strerror(errno));
    return -1;
}

/* Reads one record.  1: a row in r->fields; 0: end of input; -1: error. */
static int read_row(weft_csv_reader *r, char *err)
{
    int c = skip_empty_lines(r);
    if (c == EOF) return ferror(r->f) ? read_failed(r, r->line, err) : 0;
    long row_line = r->line;
    r->row_line = row_line;
    weft__buf_reset(&r->row);
    r->nfields = 0;
    weft_err e = WEFT_OK;
    for (;;) { /* one field per turn; c is its first character */
        if (push_field(r) < 0) {
            e = WEFT_ENOMEM;
            break;
        }
        e = c == '"' ? read_quoted(r, &c, err) : read_plain(r, &c);
        /* Ends the field; the NUL counts against the row's bound too. */
        if (!e) e = weft__buf_addc(&r->row, '\0');
        if (e || c != ',') break;
        c = getc(r->f);
    }
    if (e == WEFT_EDATA) return -1;
    if (e == WEFT_ELIMIT) {
        weft__err(err, WEFT_ELIMIT, "%s:%ld: row longer than %u MiB", r->path, row_line,
                  WEFT__CSV_ROW_MAX >> 20);
        return -1;
    }
    if (e) {
        weft__err(err, WEFT_ENOMEM, "%s:%ld: out of memory", r->path, row_line);
        return -1;
    }
    if (c == '\n') r->line++;
    if (ferror(r->f)) return read_failed(r, r->line, err);
    for (size_t i = 0; i < r->nfields; i++) r->fields[i] = r->row.data + r->offs[i];
    return 1;
}

void weft_csv_close(weft_csv_reader *r)
{
    if (!r) return;
    if (r->f) fclose(r->f);
    free(r->path);
    weft__buf_release(&r->row);
    weft__buf_release(&r->hdr_buf);
    free(r->offs);
    free(r->fields);
    free(r->header);
    free(r);
}

weft_err weft__csv_open_stream(FILE *f, const char *name, bool has_header, weft_csv_reader **out,
                               char *err)
{
    weft_err e = WEFT_OK;
    weft_csv_reader *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(f);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    r->f = f;
    r->row.max = WEFT__CSV_ROW_MAX;
    r->hdr_buf.max = WEFT__CSV_ROW_MAX;
    r->line = 1;
    if (!(r->path = strdup(name))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    if (has_header) {
        int rc = read_row(r, err);
        if (rc < 0) {
            e = WEFT_EDATA;
            goto fail;
        }
        if (rc == 1) {
            /* Copy: the row buffer is reused by weft_csv_next(). */
            if ((e = weft__buf_add(&r->hdr_buf, r->row.data, r->row.len)) ||
                !(r->header = malloc(r->nfields * sizeof *r->header))) {
                e = weft__err(err, WEFT_ENOMEM, "out of memory");
                goto fail;
            }
            for (size_t i = 0; i < r->nfields; i++) r->header[i] = r->hdr_buf.data + r->offs[i];
            r->nheader = r->nfields;
        }
    }
    *out = r;
    return WEFT_OK;
fail:
    weft_csv_close(r);
    return e;
}

long weft__csv_row_line(const weft_csv_reader *r)
{
    return r ? r->row_line : 0;
}

weft_err weft_csv_open(weft_data_node *dn, weft_csv_reader **out, char *err)
{
    if (!dn || !out) return weft__err(err, WEFT_EINVAL, "weft_csv_open: no data node");
    FILE *f;
    weft_err e = weft__dn_open_stream(dn, &f, err);
    if (e) return e;
    const char *p = weft_dn_path(dn);
    return weft__csv_open_stream(f, p ? p : weft_dn_id(dn), weft__dn_bool_property(dn, "has_header", true),
                                 out, err);
}

const char *const *weft_csv_header(weft_csv_reader *r, size_t *n)
{
    if (n) *n = r ? r->nheader : 0;
    return r ? (const char *const *)r->header : NULL;
}

int weft_csv_next(weft_csv_reader *r, const char *const **fields, size_t *n, char *err)
{
    if (!r) {
        weft__err(err, WEFT_EINVAL, "weft_csv_next: no reader");
        return -1;
    }
    if (r->failed) {
        weft__err(err, WEFT_EDATA, "%s: reading stopped at an earlier error", r->path);
        return -1;
    }
    int rc = read_row(r, err);
    if (rc < 0) r->failed = true;
    if (rc == 1) {
        *fields = (const char *const *)r->fields;
        *n = r->nfields;
    } else {
        *fields = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- writing ---- */

static bool needs_quotes(const char *s)
{
    return strpbrk(s, ",\"\r\n") != NULL;
}

static int put_row(FILE *f, const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = fields[i] ? fields[i] : "";
        if (i && putc(',', f) == EOF) return -1;
        /* A lone empty field is quoted so that the line is not read as empty. */
        if (needs_quotes(s) || (n == 1 && !*s)) {
            if (putc('"', f) == EOF) return -1;
            for (; *s; s++)
                if ((*s == '"' && putc('"', f) == EOF) || putc(*s, f) == EOF) return -1;
            if (putc('"', f) == EOF) return -1;
        } else if (*s && fputs(s, f) == EOF) {
            return -1;
        }
    }
    return putc('\n', f) == EOF ? -1 : 0;
}

weft_err weft_csv_create(weft_data_node *dn, const char *const *header, size_t n,
                         weft_csv_writer **out, char *err)
{
    if (!dn || !out) return weft__err(err, WEFT_EINVAL, "weft_csv_create: no data node");
    const char *path = weft_dn_path(dn);
    if (!path)
        return weft__err(err, WEFT_EINVAL, "data node %s is %s, not a file", weft_dn_config_id(dn),
                         weft_dn_storage_type(dn));
    weft_csv_writer *w = calloc(1, sizeof *w);
    if (!w) return weft__err(err, WEFT_ENOMEM, "out of memory");
    w->dn = dn;
    weft_err e = weft__afile_open(path, &w->af, &w->f, err);
    if (e) {
        free(w);
        return e;
    }
    /* The node's has_header says whether its files carry one. */
    if (header && n && weft__dn_bool_property(dn, "has_header", true) && put_row(w->f, header, n) < 0) {
        e = weft__err(err, WEFT_EIO, "cannot write %s: %s", path, strerror(errno));
        weft_csv_abort(w);
        return e;
    }
    *out = w;
    return WEFT_OK;
}

weft_err weft_csv_write_row(weft_csv_writer *w, const char *const *fields, size_t n, char *err)
{
    if (!w || (!fields && n)) return weft__err(err, WEFT_EINVAL, "weft_csv_write_row: no writer");
    if (put_row(w->f, fields, n) < 0) {
        w->failed = true;
        return weft__err(err, WEFT_EIO, "cannot write %s: %s", weft_dn_path(w->dn), strerror(errno));
    }
    return WEFT_OK;
}

weft_err weft_csv_commit(weft_csv_writer *w, char *err)
{
    if (!w) return weft__err(err, WEFT_EINVAL, "weft_csv_commit: no writer");
    if (w->failed) {
        weft_err e = weft__err(err, WEFT_EIO, "cannot write %s: an earlier row failed", weft_dn_path(w->dn));
        weft_csv_abort(w);
        return e;
    }
    weft_err e = weft__afile_commit(w->af, err);
    if (!e) weft__dn_mark_written(w->dn);
    free(w);
    return e;
}

void weft_csv_abort(weft_csv_writer *w)
{
    if (!w) return;
    weft__afile_abort(w->af);
    free(w);
}

/*
 * The empty table: the columns of the node's current content when it has a
 * header (has_header, and a file or default_data with a first row), so a
 * reader that looks columns up by name still finds them; else no byte at
 * all, which every csv reader takes as a table of no rows.
 */
weft_err weft__csv_write_empty(weft_data_node *dn, char *err)
{
    weft_csv_reader *r = NULL;
    const char *const *header = NULL;
    size_t n = 0;
    if (weft__dn_bool_property(dn, "has_header", true) && weft_csv_open(dn, &r, NULL) == WEFT_OK)
        header = weft_csv_header(r, &n);
    weft_csv_writer *w;
    weft_err e = weft_csv_create(dn, header, n, &w, err);
    weft_csv_close(r);
    return e ? e : weft_csv_commit(w, err);
}
