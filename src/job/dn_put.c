/* SPDX-License-Identifier: MIT */
/*
 * dn_put.c - writing or appending to a data node from outside any job (what
 * weft_data_write() and `weft data write` do).  The input is checked against
 * the node before anything is written: JSON must parse, CSV must carry the
 * node's columns (names and count, every row as many fields), sql_table
 * input must be row objects.  Appending follows Taipy's rules per storage
 * type: csv rows after the existing ones, text and binary bytes after the
 * existing bytes, json items added to a list (or an object merged into an
 * object), sql_table rows added to the table; pickle, in_memory and generic
 * nodes have no append.  Every write replaces the file atomically, so a
 * refused or failed write leaves the node as it was.  Appending rewrites the
 * whole content: O(its size), which keeps the replacement atomic.
 */
#define _GNU_SOURCE /* fmemopen */
#include "job/runner.h"
#include "util/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool type_is(const weft_data_node *dn, const char *name)
{
    const char *t = weft_dn_storage_type(dn);
    return strcmp(t ? t : "pickle", name) == 0;
}

/* ---- csv ---- */

static weft_err csv_input(const char *data, size_t len, bool hdr, weft_csv_reader **r, char *err)
{
    /* fmemopen() of 0 bytes is not portable: an empty temporary file instead. */
    FILE *f = len ? fmemopen((void *)data, len, "r") : tmpfile();
    if (!f) return weft__err(err, WEFT_EIO, "cannot read the input: %s", strerror(errno));
    return weft__csv_open_stream(f, "input", hdr, r, err);
}

static weft_err csv_header_check(const weft_data_node *dn, const char *const *want, size_t nwant,
                                 const char *const *got, size_t ngot, char *err)
{
    weft__buf names = WEFT_BUF_INIT;
    for (size_t i = 0; i < nwant; i++)
        if ((i && weft__buf_addc(&names, ',')) || weft__buf_adds(&names, want[i])) break;
    const char *cols = names.data ? names.data : "";
    weft_err e = WEFT_OK;
    if (ngot != nwant) {
        e = weft__err(err, WEFT_EDATA,
                      "data node %s: input line 1: the header has %zu column%s, the node's has %zu (%s)",
                      weft_dn_config_id(dn), ngot, ngot == 1 ? "" : "s", nwant, cols);
    } else {
        for (size_t i = 0; i < nwant && !e; i++)
            if (strcmp(want[i], got[i]) != 0)
                e = weft__err(err, WEFT_EDATA,
                              "data node %s: input line 1: column %zu is '%s' where the node's header "
                              "has '%s' (%s)",
                              weft_dn_config_id(dn), i + 1, got[i], want[i], cols);
    }
    weft__buf_release(&names);
    return e;
}

/* The columns the input must have, from the node's current content (when it
 * has a header) or else from the input's own header. */
typedef struct csv_put {
    weft_data_node *dn;
    weft_csv_reader *old, *in;
    weft_csv_writer *w;       /* appending only */
    const char *const *cols;  /* NULL without a header */
    size_t ncols;
    bool known;               /* ncols is known */
} csv_put;

/* Copies the node's current rows to the writer (appending). */
static weft_err csv_copy_old(csv_put *c, char *err)
{
    const char *const *f;
    size_t n;
    int rc;
    while ((rc = weft_csv_next(c->old, &f, &n, err)) == 1) {
        if (!c->known) {
            c->ncols = n;
            c->known = true;
        }
        weft_err e = weft_csv_write_row(c->w, f, n, err);
        if (e) return e;
    }
    return rc < 0 ? WEFT_EDATA : WEFT_OK;
}

/* The reader's "input:LINE: message" prefixed with the node it was for. */
static weft_err csv_failed(const weft_data_node *dn, char *err)
{
    if (!err) return WEFT_EDATA;
    char msg[WEFT_ERRBUF_SIZE];
    snprintf(msg, sizeof msg, "%s", err);
    return weft__err(err, WEFT_EDATA, "data node %s: %s", weft_dn_config_id(dn), msg);
}

/* Reads every input row, checks its field count, writes it (appending). */
static weft_err csv_check_rows(csv_put *c, char *err)
{
    const char *const *f;
    size_t n;
    int rc;
    while ((rc = weft_csv_next(c->in, &f, &n, err)) == 1) {
        if (!c->known) {
            c->ncols = n;
            c->known = true;
        }
        if (n != c->ncols)
            return weft__err(err, WEFT_EDATA, "data node %s: input line %ld: %zu field%s where the header has %zu",
                             weft_dn_config_id(c->dn), weft__csv_row_line(c->in), n, n == 1 ? "" : "s",
                             c->ncols);
        weft_err e = c->w ? weft_csv_write_row(c->w, f, n, err) : WEFT_OK;
        if (e) return e;
    }
    return rc < 0 ? csv_failed(c->dn, err) : WEFT_OK;
}

static weft_err csv_columns(csv_put *c, bool hdr, bool has_content, bool append, char *err)
{
    /* Replacing content that cannot be read is how it gets repaired: its
     * header then sets no columns.  Appending to it is refused. */
    weft_err e = has_content ? weft_csv_open(c->dn, &c->old, append ? err : NULL) : WEFT_OK;
    if (e && append) return e;
    if (hdr && c->old) c->cols = weft_csv_header(c->old, &c->ncols);
    size_t nin;
    const char *const *inh = weft_csv_header(c->in, &nin);
    if (c->cols && inh) return csv_header_check(c->dn, c->cols, c->ncols, inh, nin, err);
    if (!c->cols && inh) {
        c->cols = inh;
        c->ncols = nin;
    }
    c->known = c->cols != NULL;
    return WEFT_OK;
}

static weft_err csv_put_data(weft_data_node *dn, bool has_content, const char *data, size_t len,
                             bool append, char *err)
{
    bool hdr = weft__dn_bool_property(dn, "has_header", true);
    csv_put c = {.dn = dn};
    weft_err e = csv_input(data, len, hdr, &c.in, err);
    if (e == WEFT_EDATA) e = csv_failed(dn, err);
    if (!e) e = csv_columns(&c, hdr, has_content, append, err);
    if (!e && append) {
        if (!(e = weft_csv_create(dn, c.cols, c.ncols, &c.w, err)) && c.old) e = csv_copy_old(&c, err);
    }
    if (!e) e = csv_check_rows(&c, err);
    if (!e && c.w) {
        e = weft_csv_commit(c.w, err);
        c.w = NULL;
    } else if (!e) {
        e = weft_dn_write(dn, data, len, err);
    }
    weft_csv_abort(c.w);
    weft_csv_close(c.old);
    weft_csv_close(c.in);
    return e;
}

/* ---- json and sql_table ---- */

static weft_err json_input(const weft_data_node *dn, const char *data, size_t len, json_t **out,
                           char *err)
{
    json_error_t je;
    if (!(*out = json_loadb(data, len, JSON_DECODE_ANY, &je)))
        return weft__err(err, WEFT_EDATA, "data node %s: input:%d:%d: malformed JSON: %s",
                         weft_dn_config_id(dn), je.line, je.column, je.text);
    return WEFT_OK;
}

/* sql_table input: an array of row objects (appending: or one row object). */
static weft_err sql_rows_check(const weft_data_node *dn, const json_t *in, bool append, char *err)
{
    if (append && json_is_object(in)) return WEFT_OK;
    if (!json_is_array(in))
        return weft__err(err, WEFT_EDATA, "data node %s: the input must be a JSON array of row objects",
                         weft_dn_config_id(dn));
    size_t i;
    json_t *row;
    json_array_foreach(in, i, row) if (!json_is_object(row)) return weft__err(
        err, WEFT_EDATA, "data node %s: input row %zu is not a JSON object", weft_dn_config_id(dn), i + 1);
    return WEFT_OK;
}

/* Taipy's json append: a list gets the item (a list: its items); an
 * object gets an object's keys.  `cur` is the node's value or NULL. */
static weft_err json_merge(const weft_data_node *dn, json_t **cur, json_t *in, char *err)
{
    if (!*cur || json_is_null(*cur)) {
        json_decref(*cur);
        if (!(*cur = json_array())) return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    int rc;
    if (json_is_array(*cur))
        rc = json_is_array(in) ? json_array_extend(*cur, in) : json_array_append(*cur, in);
    else if (json_is_object(*cur) && json_is_object(in))
        rc = json_object_update(*cur, in);
    else
        return weft__err(err, WEFT_EDATA,
                         "data node %s holds a JSON %s: append adds to a list, or an object's keys to an "
                         "object; write the whole content instead",
                         weft_dn_config_id(dn), json_is_object(*cur) ? "object" : "scalar");
    return rc < 0 ? weft__err(err, WEFT_ENOMEM, "out of memory") : WEFT_OK;
}

static weft_err json_put_data(weft_data_node *dn, bool has_content, const char *data, size_t len,
                              bool append, char *err)
{
    bool sql = type_is(dn, "sql_table");
    json_t *in = NULL, *cur = NULL;
    weft_err e = json_input(dn, data, len, &in, err);
    if (!e && sql) e = sql_rows_check(dn, in, append, err);
    if (!e && !append) {
        /* No rows: the table emptied (or created with a placeholder column,
         * SQLite having no table without columns), as a task's noop does. */
        if (sql && json_array_size(in) == 0) e = weft__dn_write_empty(dn, err);
        else e = sql ? weft_dn_write_json(dn, in, err) : weft_dn_write(dn, data, len, err);
    }
    if (!e && append) {
        if (has_content) e = weft_dn_read_json(dn, &cur, err);
        if (!e) e = json_merge(dn, &cur, in, err);
        if (!e) e = weft_dn_write_json(dn, cur, err);
    }
    json_decref(cur);
    json_decref(in);
    return e;
}

/* ---- bytes ---- */

static weft_err bytes_append(weft_data_node *dn, bool has_content, const char *data, size_t len,
                             char *err)
{
    weft__buf b = WEFT_BUF_INIT;
    char *cur = NULL;
    size_t n = 0;
    weft_err e = has_content ? weft_dn_read(dn, &cur, &n, err) : WEFT_OK;
    if (!e && (weft__buf_add(&b, cur ? cur : "", n) || weft__buf_add(&b, data, len)))
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) e = weft_dn_write(dn, b.data ? b.data : "", b.len, err);
    free(cur);
    weft__buf_release(&b);
    return e;
}

/* ---- entry point ---- */

weft_err weft__dn_put(weft__app *app, const weft__dn_ref *ref, const void *data, size_t len,
                      bool append, char *err)
{
    weft_data_node *dn;
    weft_err e = weft__dn_open(app, ref, NULL, &dn, err);
    if (e) return e;
    bool has = weft__dn_has_content(app, ref);
    if (!data) data = "";
    if (type_is(dn, "csv")) {
        e = csv_put_data(dn, has, data, len, append, err);
    } else if (type_is(dn, "json") || type_is(dn, "sql_table")) {
        e = json_put_data(dn, has, data, len, append, err);
    } else if (!append) {
        e = weft_dn_write(dn, data, len, err);
    } else if (type_is(dn, "text") || type_is(dn, "binary")) {
        e = bytes_append(dn, has, data, len, err);
    } else {
        const char *t = weft_dn_storage_type(dn);
        e = weft__err(err, WEFT_EINVAL,
                      "data node %s is %s: append is not supported for that storage type; write the "
                      "whole content instead",
                      weft_dn_config_id(dn), t ? t : "pickle");
    }
    weft__dn_free(dn);
    return e;
}
