/* SPDX-License-Identifier: MIT */
/*
 * preview.c - what the data node page shows of a node's content, by
 * storage type: the first 100 rows of a CSV file or an SQL table as a
 * table, JSON as a value the page draws as a tree, the start of a text,
 * otherwise (pickle, binary, generic, in-memory) only the size.  Files are
 * read up to 1 MiB, so a preview never loads a large node whole.
 */
#include "web/web.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREVIEW_BYTES (1024 * 1024)
#define PREVIEW_ROWS 100
#define TEXT_BYTES (64 * 1024)

/* Reads up to `max` bytes of `path`; *size gets the file's size.  NULL when unreadable. */
static char *read_head(const char *path, size_t max, size_t *got, int64_t *size)
{
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    *size = sb.st_size;
    char *buf = malloc(max + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n < max && (r = read(fd, buf + n, max - n)) > 0) n += (size_t)r;
    close(fd);
    if (buf) buf[n] = '\0';
    *got = n;
    return buf;
}

/* RFC 4180 rows of s[0..n): at most PREVIEW_ROWS + 1 arrays of strings. */
static json_t *csv_rows(const char *s, size_t n, bool *more)
{
    json_t *rows = json_array(), *row = json_array();
    weft__buf f = WEFT_BUF_INIT;
    bool quoted = false;
    *more = false;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? s[i] : '\n';
        if (quoted) {
            if (c == '"' && i + 1 < n && s[i + 1] == '"') weft__buf_addc(&f, s[i++]);
            else if (c == '"') quoted = false;
            else weft__buf_addc(&f, c);
            continue;
        }
        if (c == '"') { quoted = true; continue; }
        if (c == '\r') continue;
        if (c != ',' && c != '\n') { weft__buf_addc(&f, c); continue; }
        json_array_append_new(row, json_stringn(f.data ? f.data : "", f.len));
        weft__buf_reset(&f);
        if (c == ',') continue;
        if (i < n || json_array_size(row) > 1 || json_string_length(json_array_get(row, 0)))
            json_array_append(rows, row);
        json_decref(row);
        row = json_array();
        if (json_array_size(rows) > PREVIEW_ROWS && i + 1 < n) { *more = true; break; }
    }
    json_decref(row);
    weft__buf_release(&f);
    return rows;
}

static json_t *csv_preview(const weft_config *cfg, const char *section, const char *path)
{
    size_t got;
    int64_t size;
    char *data = read_head(path, PREVIEW_BYTES, &got, &size);
    if (!data) return json_pack("{ss}", "kind", "none");
    bool more;
    json_t *rows = csv_rows(data, got, &more);
    free(data);
    const weft_value *hh = weft_config_lookup(cfg, section, "has_header");
    bool header = !hh || weft_value_bool(hh);
    json_t *cols = header && json_array_size(rows) ? json_incref(json_array_get(rows, 0)) : json_array();
    if (header && json_array_size(rows)) json_array_remove(rows, 0);
    while (json_array_size(rows) > PREVIEW_ROWS) json_array_remove(rows, PREVIEW_ROWS);
    return json_pack("{ss so so sb sI}", "kind", "table", "columns", cols, "rows", rows, "truncated",
                     more || (int64_t)got < size, "bytes", (json_int_t)size);
}

/* An SQL table's rows (a JSON array of objects) as columns and rows. */
static json_t *sql_preview(weft_orchestrator *o, const char *id)
{
    char *data = NULL, err[WEFT_ERRBUF_SIZE] = "";
    size_t len;
    if (weft_data_read(o, id, &data, &len, err)) return json_pack("{ss ss}", "kind", "none", "error", err);
    json_t *arr = json_loadb(data, len, 0, NULL), *cols = json_array(), *rows = json_array();
    free(data);
    size_t i;
    json_t *obj;
    json_array_foreach(arr, i, obj) {
        if (i == PREVIEW_ROWS) break;
        const char *k;
        json_t *v, *row = json_array();
        if (i == 0) json_object_foreach(obj, k, v) json_array_append_new(cols, json_string(k));
        json_object_foreach(obj, k, v) {
            char *d = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            json_array_append_new(row, d ? json_string(d) : json_incref(v));
            free(d);
        }
        json_array_append_new(rows, row);
    }
    json_t *out = json_pack("{ss so so sb sI}", "kind", "table", "columns", cols, "rows", rows,
                            "truncated", json_array_size(arr) > PREVIEW_ROWS, "row_count",
                            (json_int_t)json_array_size(arr));
    json_decref(arr);
    return out;
}

json_t *weft__preview(const weft_config *cfg, weft_orchestrator *o, const char *dn_id,
                      const char *config_id, const char *path)
{
    char section[300];
    snprintf(section, sizeof section, "DATA_NODE.%s", config_id);
    const weft_value *stv = weft_config_lookup(cfg, section, "storage_type");
    const char *st = stv ? weft_value_text(stv) : "pickle";
    if (strcmp(st, "csv") == 0) return csv_preview(cfg, section, path);
    if (strcmp(st, "sql_table") == 0 || strcmp(st, "sql") == 0) return sql_preview(o, dn_id);
    size_t got = 0;
    int64_t size = 0;
    bool textual = strcmp(st, "json") == 0 || strcmp(st, "text") == 0;
    char *data = read_head(path, textual ? PREVIEW_BYTES : 0, &got, &size);
    if (!data) return json_pack("{ss}", "kind", "none");
    json_t *out = NULL, *v;
    if (strcmp(st, "json") == 0 && (int64_t)got == size &&
        (v = json_loadb(data, got, JSON_DECODE_ANY, NULL)))
        out = json_pack("{ss so sI}", "kind", "json", "value", v, "bytes", (json_int_t)size);
    else if (textual) {
        size_t n = got > TEXT_BYTES ? (size_t)TEXT_BYTES : got;
        while (n > 0 && n < got && ((unsigned char)data[n] & 0xC0) == 0x80) n--; /* whole characters */
        out = json_pack("{ss ss% sb sI}", "kind", "text", "text", data, n, "truncated",
                        size > TEXT_BYTES, "bytes", (json_int_t)size);
    }
    if (!out) /* binary, or text that is not UTF-8 */
        out = json_pack("{ss sI}", "kind", "bytes", "bytes", (json_int_t)size);
    free(data);
    return out;
}
