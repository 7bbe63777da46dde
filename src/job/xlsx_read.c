/* SPDX-License-Identifier: MIT */
/*
 * xlsx_read.c - a small .xlsx reader on libzip and expat, for excel data
 * nodes.  It reads xl/workbook.xml (sheet names and their r:id),
 * xl/_rels/workbook.xml.rels (r:id to sheet part, and the shared strings
 * part), the shared strings, then streams one sheet: the expat parser is
 * suspended at each </row>, so one row is in memory at a time whatever the
 * sheet's size.  Cell references (r="B3") place cells, so gaps read as
 * empty cells and missing rows as empty rows; rows are padded to the width
 * of the sheet's <dimension>.  Hostile input is bounded: at most
 * WEFT__XLSX_MAX bytes are inflated from the archive in all (a zip bomb
 * fails with WEFT_ELIMIT, checked against the declared size first and the
 * bytes actually read after), rows at WEFT__XLSX_ROW_MAX bytes of text,
 * columns and rows at Excel's limits, and a DOCTYPE (entity expansion) is
 * refused.  Element names are matched without their namespace prefix.
 */
#define _GNU_SOURCE /* asprintf */
#include "job/xlsx.h"
#include "util/util.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define CHUNK 65536

typedef struct xml_ctx {
    XML_Parser p;
    weft_err e;    /* set by a handler that stopped the parser */
    char msg[512]; /* its message, without the file name */
} xml_ctx;

struct weft__xlsx {
    char *path;
    zip_t *zip;
    uint64_t budget; /* bytes still allowed to be inflated */
    char **names, **parts;
    size_t nsheets, capsheets, caprids;
    char *sst_part;
    weft__buf sst;   /* shared strings, NUL-separated */
    size_t *sst_off, nsst, capsst;
    /* the selected sheet */
    xml_ctx xc;
    const char *part;
    zip_file_t *zf;
    bool started, done, failed;
    weft_err failure; /* the error that set `failed` */
    weft_cell *cells, *blank;
    size_t *toff, ncells, capcells, captoff, width;
    weft__buf text;  /* texts of the row's cells, NUL-terminated each */
    weft__buf val;   /* the cell being read */
    long next_row;   /* number of the next row to hand out */
    long pending;    /* empty rows to hand out before the parsed one */
    bool row_ready, in_cell, in_v, in_is, in_t;
    int in_rph;
    size_t col;      /* 0-based column of the cell being read */
    char ctype;      /* its t attribute: 's', 'S' (str/inlineStr), 'b', 'e', 'n' */
    /* while reading workbook.xml, its rels and the shared strings */
    char **rids;
    size_t nrids;
    char **rel_ids, **rel_targets;
    size_t nrels, caprels, captargets;
    bool in_si;
};

static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(local(atts[i]), name) == 0) return atts[i + 1];
    return NULL;
}

static void ctx_fail(xml_ctx *c, weft_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ctx_fail(xml_ctx *c, weft_err e, const char *fmt, ...)
{
    if (c->e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->e = e;
    XML_StopParser(c->p, XML_FALSE);
}

static void XMLCALL no_doctype(void *ud, const XML_Char *name, const XML_Char *sys, const XML_Char *pub,
                               int internal)
{
    weft__xlsx *x = ud;
    ctx_fail(&x->xc, WEFT_EDATA, "a DOCTYPE is not allowed in an xlsx part");
}

/* Every parser's user data is x, and its context x->xc. */
static weft_err parser_new(weft__xlsx *x, xml_ctx *c, void *ud, char *err)
{
    memset(c, 0, sizeof *c);
    if (!(c->p = XML_ParserCreate("UTF-8"))) return weft__err(err, WEFT_ENOMEM, "out of memory");
    XML_SetUserData(c->p, ud);
    XML_SetStartDoctypeDeclHandler(c->p, no_doctype);
    return WEFT_OK;
}

/* The error of a parse that failed, as "path: part:line:col: message". */
static weft_err parse_error(weft__xlsx *x, xml_ctx *c, const char *part, char *err)
{
    unsigned long line = XML_GetCurrentLineNumber(c->p), col = XML_GetCurrentColumnNumber(c->p) + 1;
    if (c->e)
        return weft__err(err, c->e, "%s: %s:%lu:%lu: %s", x->path, part, line, col, c->msg);
    return weft__err(err, WEFT_EDATA, "%s: %s:%lu:%lu: malformed XML: %s", x->path, part, line, col,
                     XML_ErrorString(XML_GetErrorCode(c->p)));
}

static weft_err zip_open_part(weft__xlsx *x, const char *part, zip_file_t **out, char *err)
{
    zip_int64_t i = zip_name_locate(x->zip, part, 0);
    if (i < 0) return weft__err(err, WEFT_EDATA, "%s: not an xlsx workbook: no part %s", x->path, part);
    zip_stat_t st;
    if (zip_stat_index(x->zip, (zip_uint64_t)i, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) &&
        st.size > x->budget)
        return weft__err(err, WEFT_ELIMIT,
                         "%s: %s inflates to %llu bytes, more than the %llu MiB weft reads from an "
                         "xlsx file (a zip bomb?)",
                         x->path, part, (unsigned long long)st.size,
                         (unsigned long long)(WEFT__XLSX_MAX >> 20));
    if (!(*out = zip_fopen_index(x->zip, (zip_uint64_t)i, 0)))
        return weft__err(err, WEFT_EDATA, "%s: cannot open %s: %s", x->path, part,
                         zip_error_strerror(zip_get_error(x->zip)));
    return WEFT_OK;
}

/* Feeds the next chunk of `zf` to the parser; *final at the end of the part. */
static weft_err feed(weft__xlsx *x, xml_ctx *c, zip_file_t *zf, const char *part, bool *final,
                     char *err)
{
    void *buf = XML_GetBuffer(c->p, CHUNK);
    if (!buf) return weft__err(err, WEFT_ENOMEM, "out of memory");
    zip_int64_t n = zip_fread(zf, buf, CHUNK);
    if (n < 0)
        return weft__err(err, WEFT_EDATA, "%s: damaged zip archive: %s: %s", x->path, part,
                         zip_file_strerror(zf));
    if ((uint64_t)n > x->budget)
        return weft__err(err, WEFT_ELIMIT,
                         "%s: %s inflates beyond the %llu MiB weft reads from an xlsx file (a zip bomb?)",
                         x->path, part, (unsigned long long)(WEFT__XLSX_MAX >> 20));
    x->budget -= (uint64_t)n;
    *final = n == 0;
    if (XML_ParseBuffer(c->p, (int)n, *final) == XML_STATUS_ERROR) return parse_error(x, c, part, err);
    return WEFT_OK;
}

/* Parses a whole part with the handlers already set on c->p. */
static weft_err parse_part(weft__xlsx *x, xml_ctx *c, const char *part, char *err)
{
    zip_file_t *zf = NULL;
    weft_err e = zip_open_part(x, part, &zf, err);
    bool final = false;
    while (!e && !final) e = feed(x, c, zf, part, &final, err);
    if (zf) zip_fclose(zf);
    return e;
}

/* ---- workbook.xml and its relationships ---- */

static int add_str(char ***arr, size_t n, size_t *cap, const char *s)
{
    char *d = strdup(s);
    if (!d || WEFT__GROW(*arr, n + 1, *cap)) {
        free(d);
        return -1;
    }
    (*arr)[n] = d;
    return 0;
}

static void XMLCALL wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    weft__xlsx *x = ud;
    if (strcmp(local(name), "sheet") != 0) return;
    const char *n = attr(atts, "name"), *id = attr(atts, "id");
    if (!n || !id) {
        ctx_fail(&x->xc, WEFT_EDATA, "a <sheet> without name or r:id");
        return;
    }
    if (add_str(&x->names, x->nsheets, &x->capsheets, n) < 0) {
        ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
        return;
    }
    x->nsheets++;
    if (add_str(&x->rids, x->nrids, &x->caprids, id) < 0) {
        ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
        return;
    }
    x->nrids++;
}

static void XMLCALL rel_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    weft__xlsx *x = ud;
    if (strcmp(local(name), "Relationship") != 0) return;
    const char *id = attr(atts, "Id"), *target = attr(atts, "Target"), *type = attr(atts, "Type");
    if (!id || !target) return;
    /* Targets are relative to xl/, or absolute from the package's root. */
    char *full = NULL;
    if (asprintf(&full, "%s%s", target[0] == '/' ? "" : "xl/", target[0] == '/' ? target + 1 : target) < 0)
        full = NULL;
    int bad = !full || add_str(&x->rel_ids, x->nrels, &x->caprels, id) < 0;
    if (!bad && add_str(&x->rel_targets, x->nrels, &x->captargets, full) < 0) {
        free(x->rel_ids[x->nrels]); /* both arrays hold nrels strings */
        bad = 1;
    }
    if (bad) {
        free(full);
        ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
        return;
    }
    x->nrels++;
    size_t tl = type ? strlen(type) : 0;
    if (tl >= 14 && strcmp(type + tl - 14, "/sharedStrings") == 0 && !x->sst_part) x->sst_part = full;
    else free(full);
}

static weft_err read_meta(weft__xlsx *x, const char *part, XML_StartElementHandler h, char *err)
{
    weft_err e = parser_new(x, &x->xc, x, err);
    if (e) return e;
    XML_SetStartElementHandler(x->xc.p, h);
    e = parse_part(x, &x->xc, part, err);
    XML_ParserFree(x->xc.p);
    x->xc.p = NULL;
    return e;
}

/* Each sheet's part from its r:id. */
static weft_err resolve_parts(weft__xlsx *x, char *err)
{
    if (!(x->parts = calloc(x->nsheets ? x->nsheets : 1, sizeof *x->parts)))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    for (size_t i = 0; i < x->nsheets; i++) {
        for (size_t j = 0; j < x->nrels && !x->parts[i]; j++)
            if (strcmp(x->rel_ids[j], x->rids[i]) == 0) x->parts[i] = x->rel_targets[j];
        if (!x->parts[i])
            return weft__err(err, WEFT_EDATA, "%s: sheet '%s' has no part (r:id %s not in %s)", x->path,
                             x->names[i], x->rids[i], "xl/_rels/workbook.xml.rels");
    }
    if (x->nsheets == 0) return weft__err(err, WEFT_EDATA, "%s: the workbook has no sheet", x->path);
    return WEFT_OK;
}

/* ---- shared strings ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes OOXML's escapes in place: "_x000D_" is a carriage return (XML
 * cannot carry most control characters), "_x005F_" an underscore.  NUL and
 * surrogates stay escaped.  Returns the new length (never longer). */
static size_t ooxml_unescape(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned cp = 0;
        bool esc = i + 7 <= len && s[i] == '_' && s[i + 1] == 'x' && s[i + 6] == '_';
        for (int k = 0; esc && k < 4; k++) {
            int h = hexval(s[i + 2 + k]);
            if (h < 0) esc = false;
            else cp = cp << 4 | (unsigned)h;
        }
        if (!esc || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
            s[o++] = s[i++];
            continue;
        }
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else if (cp < 0x800) {
            s[o++] = (char)(0xC0 | cp >> 6);
            s[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            s[o++] = (char)(0xE0 | cp >> 12);
            s[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        }
        i += 7;
    }
    if (len) s[o] = '\0';
    return o;
}

static void XMLCALL sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    weft__xlsx *x = ud;
    const char *l = local(name);
    if (strcmp(l, "si") == 0) {
        /* "<si/>" is 5 bytes and its offset 8: the table's memory is bounded
         * as the inflated bytes are. */
        if ((x->nsst + 1) * sizeof *x->sst_off + x->sst.len > WEFT__XLSX_MAX) {
            ctx_fail(&x->xc, WEFT_ELIMIT, "shared strings take more than %llu MiB",
                     (unsigned long long)(WEFT__XLSX_MAX >> 20));
            return;
        }
        if (WEFT__GROW(x->sst_off, x->nsst + 1, x->capsst)) {
            ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
            return;
        }
        x->sst_off[x->nsst++] = x->sst.len;
        x->in_si = true;
    } else if (strcmp(l, "rPh") == 0) {
        x->in_rph++;
    } else if (strcmp(l, "t") == 0) {
        x->in_t = x->in_si && !x->in_rph;
    }
}

static void XMLCALL sst_end(void *ud, const XML_Char *name)
{
    weft__xlsx *x = ud;
    const char *l = local(name);
    if (strcmp(l, "si") == 0) {
        x->in_si = false;
        size_t start = x->sst_off[x->nsst - 1];
        if (x->sst.len > start) x->sst.len = start + ooxml_unescape(x->sst.data + start, x->sst.len - start);
        if (weft__buf_addc(&x->sst, '\0')) ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
    } else if (strcmp(l, "rPh") == 0 && x->in_rph) {
        x->in_rph--;
    } else if (strcmp(l, "t") == 0) {
        x->in_t = false;
    }
}

static void XMLCALL sst_text(void *ud, const XML_Char *s, int len)
{
    weft__xlsx *x = ud;
    if (x->in_t && weft__buf_add(&x->sst, s, (size_t)len)) ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
}

static weft_err read_sst(weft__xlsx *x, char *err)
{
    const char *part = x->sst_part ? x->sst_part : "xl/sharedStrings.xml";
    if (zip_name_locate(x->zip, part, 0) < 0) return WEFT_OK; /* a workbook with no strings */
    weft_err e = parser_new(x, &x->xc, x, err);
    if (e) return e;
    XML_SetElementHandler(x->xc.p, sst_start, sst_end);
    XML_SetCharacterDataHandler(x->xc.p, sst_text);
    e = parse_part(x, &x->xc, part, err);
    XML_ParserFree(x->xc.p);
    x->xc.p = NULL;
    x->in_t = false;
    x->in_rph = 0;
    return e;
}

/* ---- opening ---- */

/* Names in messages come from the file, and "&#10;" puts a newline in an
 * attribute: control characters become '?', so an error stays one line. */
static void one_line(char *err)
{
    for (char *p = err; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

static weft_err zip_open_file(weft__xlsx *x, char *err)
{
    int ze = 0;
    if ((x->zip = zip_open(x->path, ZIP_RDONLY, &ze))) return WEFT_OK;
    zip_error_t zerr;
    zip_error_init_with_code(&zerr, ze);
    weft_err e;
    if (ze == ZIP_ER_NOZIP)
        e = weft__err(err, WEFT_EDATA, "%s: not an xlsx file (not a zip archive)", x->path);
    else if (ze == ZIP_ER_OPEN || ze == ZIP_ER_READ || ze == ZIP_ER_NOENT)
        e = weft__err(err, WEFT_EIO, "%s: %s", x->path, zip_error_strerror(&zerr));
    else
        e = weft__err(err, WEFT_EDATA, "%s: not an xlsx file: %s", x->path, zip_error_strerror(&zerr));
    zip_error_fini(&zerr);
    return e;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

weft_err weft__xlsx_open(const char *path, weft__xlsx **out, char *err)
{
    weft__xlsx *x = calloc(1, sizeof *x);
    if (!x || !(x->path = strdup(path))) {
        free(x);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    x->budget = WEFT__XLSX_MAX;
    x->sst.max = (size_t)WEFT__XLSX_MAX;
    x->text.max = WEFT__XLSX_ROW_MAX;
    x->val.max = WEFT__XLSX_ROW_MAX;
    weft_err e = zip_open_file(x, err);
    if (!e && zip_name_locate(x->zip, "xl/workbook.xml", 0) < 0)
        e = weft__err(err, WEFT_EDATA, "%s: not an xlsx workbook (a zip archive without xl/workbook.xml)",
                      path);
    if (!e) e = read_meta(x, "xl/workbook.xml", wb_start, err);
    if (!e) e = read_meta(x, "xl/_rels/workbook.xml.rels", rel_start, err);
    if (!e) e = resolve_parts(x, err);
    if (!e) e = read_sst(x, err);
    if (e) {
        one_line(err);
        weft__xlsx_close(x);
        return e;
    }
    *out = x;
    return WEFT_OK;
}

static void sheet_release(weft__xlsx *x)
{
    if (x->xc.p) XML_ParserFree(x->xc.p);
    x->xc.p = NULL;
    if (x->zf) zip_fclose(x->zf);
    x->zf = NULL;
}

void weft__xlsx_close(weft__xlsx *x)
{
    if (!x) return;
    sheet_release(x);
    if (x->zip) zip_discard(x->zip);
    /* parts[] borrows rel_targets[] */
    free(x->parts);
    free_strv(x->names, x->nsheets);
    free_strv(x->rids, x->nrids);
    free_strv(x->rel_ids, x->nrels);
    free_strv(x->rel_targets, x->nrels);
    free(x->sst_part);
    weft__buf_release(&x->sst);
    weft__buf_release(&x->text);
    weft__buf_release(&x->val);
    free(x->sst_off);
    free(x->cells);
    free(x->blank);
    free(x->toff);
    free(x->path);
    free(x);
}

const char *const *weft__xlsx_sheets(const weft__xlsx *x, size_t *n)
{
    *n = x->nsheets;
    return (const char *const *)x->names;
}

/* ---- one sheet, row by row ---- */

/* "B3" -> column 1 (0-based) and row 3; -1 for a malformed reference or
 * one beyond Excel's limits.  `row` may be NULL. */
static int parse_ref(const char *s, size_t *col, long *row)
{
    size_t c = 0;
    const char *p = s;
    for (; *p >= 'A' && *p <= 'Z'; p++) {
        c = c * 26 + (size_t)(*p - 'A' + 1);
        if (c > WEFT__XLSX_MAX_COLS) return -1;
    }
    if (p == s) return -1;
    long r = 0;
    for (const char *q = p; *q; q++) {
        if (*q < '0' || *q > '9' || (r = r * 10 + (*q - '0')) > WEFT__XLSX_MAX_ROWS) return -1;
    }
    *col = c - 1;
    if (row) *row = r;
    return 0;
}

static void on_dimension(weft__xlsx *x, const char **atts)
{
    const char *ref = attr(atts, "ref");
    if (!ref || x->blank) return;
    const char *last = strchr(ref, ':');
    char buf[32];
    snprintf(buf, sizeof buf, "%s", last ? last + 1 : ref);
    char *digits = buf;
    while (*digits >= 'A' && *digits <= 'Z') digits++;
    *digits = '\0'; /* the column only */
    size_t col;
    if (parse_ref(buf, &col, NULL) < 0) return; /* a hint only: ignored when odd */
    if (!(x->blank = calloc(col + 1, sizeof *x->blank))) {
        ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
        return;
    }
    x->width = col + 1;
    for (size_t i = 0; i < x->width; i++) x->blank[i] = (weft_cell){WEFT_CELL_EMPTY, ""};
}

static void on_row(weft__xlsx *x, const char **atts)
{
    const char *r = attr(atts, "r");
    long last = x->next_row + x->pending - 1, num = last + 1;
    if (r) {
        char *end;
        errno = 0;
        num = strtol(r, &end, 10);
        if (errno || *end || end == r || num < 1 || num > WEFT__XLSX_MAX_ROWS) {
            ctx_fail(&x->xc, WEFT_EDATA, "bad row number r=\"%.40s\"", r);
            return;
        }
    }
    if (num <= last) {
        ctx_fail(&x->xc, WEFT_EDATA, "row %ld comes after row %ld (rows must be in order)", num, last);
        return;
    }
    x->pending = num - x->next_row;
    x->ncells = 0;
    weft__buf_reset(&x->text);
}

static void on_cell(weft__xlsx *x, const char **atts)
{
    const char *r = attr(atts, "r"), *t = attr(atts, "t");
    size_t col = x->ncells;
    if (r && parse_ref(r, &col, NULL) < 0) {
        ctx_fail(&x->xc, WEFT_EDATA, "bad cell reference r=\"%.40s\"", r);
        return;
    }
    if (col >= WEFT__XLSX_MAX_COLS) {
        ctx_fail(&x->xc, WEFT_EDATA, "a row of more than %d cells (Excel stops at column XFD)",
                 WEFT__XLSX_MAX_COLS);
        return;
    }
    if (col < x->ncells) {
        ctx_fail(&x->xc, WEFT_EDATA, "cell %.40s comes after column %zu (cells must be in order)", r, x->ncells);
        return;
    }
    x->col = col;
    x->ctype = !t ? 'n' : strcmp(t, "s") == 0 ? 's' : strcmp(t, "b") == 0 ? 'b' : strcmp(t, "e") == 0 ? 'e'
             : strcmp(t, "n") == 0 ? 'n' : 'S'; /* str, inlineStr, d (an ISO date): text */
    x->in_cell = true;
    weft__buf_reset(&x->val);
}

static void XMLCALL sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    weft__xlsx *x = ud;
    const char *l = local(name);
    if (strcmp(l, "c") == 0) on_cell(x, atts);
    else if (strcmp(l, "row") == 0) on_row(x, atts);
    else if (strcmp(l, "v") == 0) x->in_v = x->in_cell;
    else if (strcmp(l, "is") == 0) x->in_is = x->in_cell;
    else if (strcmp(l, "rPh") == 0) x->in_rph++;
    else if (strcmp(l, "t") == 0) x->in_t = x->in_is && !x->in_rph;
    else if (strcmp(l, "dimension") == 0) on_dimension(x, atts);
}

static int grow_cells(weft__xlsx *x, size_t n)
{
    return WEFT__GROW(x->cells, n, x->capcells) || WEFT__GROW(x->toff, n, x->captoff) ? -1 : 0;
}

/* The cell just read, at x->col, after empty cells for any gap. */
static void end_cell(weft__xlsx *x)
{
    x->in_cell = x->in_v = x->in_is = x->in_t = false;
    weft_cell_type type = WEFT_CELL_STRING;
    const char *text = x->val.data ? x->val.data : "";
    if (x->ctype == 's') {
        char *end;
        errno = 0;
        unsigned long long i = strtoull(text, &end, 10);
        if (errno || end == text || *end || i >= x->nsst) {
            ctx_fail(&x->xc, WEFT_EDATA, "shared string index '%.40s' out of range (%zu strings)", text,
                     x->nsst);
            return;
        }
        text = x->sst.data + x->sst_off[i];
    } else if (x->ctype == 'b') {
        type = WEFT_CELL_BOOL;
        text = strcmp(text, "1") == 0 || strcmp(text, "true") == 0 ? "True" : "False";
    } else if (x->ctype == 'n') {
        type = *text ? WEFT_CELL_NUMBER : WEFT_CELL_EMPTY;
    } else if (x->ctype == 'S' && x->val.len) {
        x->val.len = ooxml_unescape(x->val.data, x->val.len);
    }
    /* An empty string is an empty cell (openpyxl's None), as weft writes it. */
    if (type == WEFT_CELL_STRING && !*text) type = WEFT_CELL_EMPTY;
    if (grow_cells(x, x->col + 1) < 0) {
        ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
        return;
    }
    for (; x->ncells < x->col; x->ncells++) {
        x->cells[x->ncells].type = WEFT_CELL_EMPTY;
        x->toff[x->ncells] = SIZE_MAX;
    }
    x->cells[x->col].type = type;
    x->toff[x->col] = x->text.len;
    if (weft__buf_add(&x->text, text, strlen(text) + 1)) {
        ctx_fail(&x->xc, WEFT_ELIMIT, "row longer than %u MiB", WEFT__XLSX_ROW_MAX >> 20);
        return;
    }
    x->ncells = x->col + 1;
}

/* The row is complete: pad it to the sheet's width, and suspend. */
static void end_row(weft__xlsx *x)
{
    if (x->ncells < x->width) {
        if (grow_cells(x, x->width) < 0) {
            ctx_fail(&x->xc, WEFT_ENOMEM, "out of memory");
            return;
        }
        for (; x->ncells < x->width; x->ncells++) {
            x->cells[x->ncells].type = WEFT_CELL_EMPTY;
            x->toff[x->ncells] = SIZE_MAX;
        }
    }
    for (size_t i = 0; i < x->ncells; i++)
        x->cells[i].text = x->toff[i] == SIZE_MAX ? "" : x->text.data + x->toff[i];
    x->row_ready = true;
    XML_StopParser(x->xc.p, XML_TRUE);
}

static void XMLCALL sheet_end(void *ud, const XML_Char *name)
{
    weft__xlsx *x = ud;
    const char *l = local(name);
    if (strcmp(l, "c") == 0 && x->in_cell) end_cell(x);
    else if (strcmp(l, "row") == 0) end_row(x);
    else if (strcmp(l, "v") == 0) x->in_v = false;
    else if (strcmp(l, "t") == 0) x->in_t = false;
    else if (strcmp(l, "is") == 0) x->in_is = false;
    else if (strcmp(l, "rPh") == 0 && x->in_rph) x->in_rph--;
}

static void XMLCALL sheet_text(void *ud, const XML_Char *s, int len)
{
    weft__xlsx *x = ud;
    if ((x->in_v || x->in_t) && weft__buf_add(&x->val, s, (size_t)len))
        ctx_fail(&x->xc, WEFT_ELIMIT, "a cell longer than %u MiB", WEFT__XLSX_ROW_MAX >> 20);
}

static weft_err select_sheet(weft__xlsx *x, const char *name, char *err)
{
    size_t i = 0;
    while (i < x->nsheets && strcmp(x->names[i], name) != 0) i++;
    if (i == x->nsheets) {
        weft__buf b = WEFT_BUF_INIT;
        b.max = 400;
        for (size_t j = 0; j < x->nsheets; j++)
            if (weft__buf_addf(&b, "%s'%s'", j ? ", " : "", x->names[j])) break;
        weft__err(err, WEFT_ENOTFOUND, "%s: no sheet '%s' (its sheets: %s%s)", x->path, name,
                  b.data ? b.data : "", b.len >= 390 ? ", ..." : "");
        weft__buf_release(&b);
        return WEFT_ENOTFOUND;
    }
    sheet_release(x);
    x->started = false; /* until this selection is complete */
    free(x->blank);
    x->blank = NULL;
    x->width = x->ncells = 0;
    x->next_row = 1;
    x->pending = 0;
    x->row_ready = x->done = x->failed = x->in_cell = x->in_v = x->in_is = x->in_t = false;
    x->in_rph = 0;
    x->part = x->parts[i];
    weft_err e = parser_new(x, &x->xc, x, err);
    if (e) return e;
    XML_SetElementHandler(x->xc.p, sheet_start, sheet_end);
    XML_SetCharacterDataHandler(x->xc.p, sheet_text);
    if ((e = zip_open_part(x, x->part, &x->zf, err))) return e;
    x->started = true;
    return WEFT_OK;
}

weft_err weft__xlsx_select(weft__xlsx *x, const char *name, char *err)
{
    weft_err e = select_sheet(x, name, err);
    if (e) one_line(err);
    return e;
}

/* Parses until a row is complete or the sheet ends. */
static weft_err advance(weft__xlsx *x, char *err)
{
    XML_ParsingStatus ps;
    XML_GetParsingStatus(x->xc.p, &ps);
    if (ps.parsing == XML_FINISHED) {
        x->done = true;
        return WEFT_OK;
    }
    if (ps.parsing == XML_SUSPENDED) {
        if (XML_ResumeParser(x->xc.p) == XML_STATUS_ERROR) return parse_error(x, &x->xc, x->part, err);
        return WEFT_OK;
    }
    bool final;
    return feed(x, &x->xc, x->zf, x->part, &final, err);
}

int weft__xlsx_next(weft__xlsx *x, const weft_cell **cells, size_t *n, char *err)
{
    static const weft_cell none[1] = {{WEFT_CELL_EMPTY, ""}};
    *cells = NULL;
    *n = 0;
    if (!x->started) {
        weft__err(err, WEFT_EINVAL, "%s: no sheet selected", x->path);
        return -1;
    }
    if (x->failed) {
        weft__err(err, WEFT_EDATA, "%s: reading stopped at an earlier error", x->path);
        return -1;
    }
    for (;;) {
        if (x->pending > 0) {
            x->pending--;
            x->next_row++;
            *cells = x->blank ? x->blank : none;
            *n = x->width;
            return 1;
        }
        if (x->row_ready) {
            x->row_ready = false;
            x->next_row++;
            *cells = x->cells ? x->cells : none;
            *n = x->ncells;
            return 1;
        }
        if (x->done) return 0;
        weft_err e = advance(x, err);
        if (e) {
            one_line(err);
            x->failed = true;
            x->failure = e;
            return -1;
        }
    }
}

weft_err weft__xlsx_failure(const weft__xlsx *x)
{
    return x->failed ? x->failure : WEFT_OK;
}
