/* SPDX-License-Identifier: MIT */
/*
 * config_load.c - turns a parsed config.toml into sections of a weft_config:
 * maps [CORE], [JOB], [DATA_NODE.<id>], [TASK.<id>] and [SCENARIO.<id>] to
 * sections, converts TOML values and typed strings to weft_values with their
 * positions, flattens sub-tables ([SCENARIO.x.sequences]) into dotted keys,
 * and records what it cannot use as diagnostics.  Checks that need the
 * whole config (references, cycles, modes) are in config_check.c.
 */
#include "config/config_internal.h"
#include "util/similar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Indexed by weft__kind, up to WEFT__TAIPY. */
static const char *const top_sections[] = {"CORE", "JOB", "DATA_NODE", "TASK", "SCENARIO", "TAIPY"};
#define NTOP (sizeof top_sections / sizeof *top_sections)

static void format_datetime(const weft_toml_value *v, char *buf, size_t size)
{
    weft_toml_datetime d = weft_toml_get_datetime(v);
    weft_toml_type t = weft_toml_type_of(v);
    size_t n = (size_t)snprintf(buf, size, "%04d-%02d-%02d", d.year, d.month, d.day);
    if (t == WEFT_TOML_LOCAL_DATE || n >= size) return;
    n += (size_t)snprintf(buf + n, size - n, "T%02d:%02d:%02d", d.hour, d.minute, d.second);
    if (d.nanosecond && n < size) {
        char frac[16];
        snprintf(frac, sizeof frac, "%09d", d.nanosecond);
        for (size_t k = strlen(frac); k > 1 && frac[k - 1] == '0'; k--) frac[k - 1] = '\0';
        n += (size_t)snprintf(buf + n, size - n, ".%s", frac);
    }
    if (t == WEFT_TOML_DATETIME && n < size) {
        int off = d.offset_minutes;
        if (off == 0)
            snprintf(buf + n, size - n, "Z");
        else
            snprintf(buf + n, size - n, "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60,
                     abs(off) % 60);
    }
}

/* A value that could not be converted: kept (so the key still counts as
 * present) but marked, since its error is already reported. */
static weft_value *bad_value(const char *text)
{
    weft_value *v = weft__value_new(WEFT_VALUE_STR, text);
    if (v) v->bad = true;
    return v;
}

static weft_value *convert(weft_config *cfg, const weft_toml_value *tv, const char *file)
{
    weft_value *v = NULL;
    int line, col;
    char buf[128], msg[WEFT_ERRBUF_SIZE];
    weft_toml_pos(tv, &line, &col);
    switch (weft_toml_type_of(tv)) {
    case WEFT_TOML_STRING: {
        size_t len;
        const char *s = weft_toml_string(tv, &len);
        weft_err e = weft__value_parse(s, len, &v, msg);
        if (e == WEFT_ENOMEM) return NULL;
        if (e) {
            if (weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR, "%s", msg)) return NULL;
            v = bad_value(memchr(s, '\0', len) ? "" : s);
        }
        break;
    }
    case WEFT_TOML_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)weft_toml_int(tv));
        if ((v = weft__value_new(WEFT_VALUE_INT, buf))) {
            v->i = weft_toml_int(tv);
            v->f = (double)v->i;
        }
        break;
    case WEFT_TOML_FLOAT:
        weft__format_double(weft_toml_float(tv), buf, sizeof buf);
        if ((v = weft__value_new(WEFT_VALUE_FLOAT, buf))) v->f = weft_toml_float(tv);
        break;
    case WEFT_TOML_BOOL:
        if ((v = weft__value_new(WEFT_VALUE_BOOL, weft_toml_bool(tv) ? "True" : "False")))
            v->i = weft_toml_bool(tv);
        break;
    case WEFT_TOML_DATETIME:
    case WEFT_TOML_LOCAL_DATETIME:
    case WEFT_TOML_LOCAL_DATE:
        format_datetime(tv, buf, sizeof buf);
        v = weft__value_new(WEFT_VALUE_DATETIME, buf);
        break;
    case WEFT_TOML_LOCAL_TIME:
        if (weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR,
                           "a time of day without a date is not a valid datetime"))
            return NULL;
        v = bad_value("");
        break;
    case WEFT_TOML_ARRAY:
        if (!(v = weft__value_new(WEFT_VALUE_LIST, NULL))) return NULL;
        for (size_t i = 0; i < weft_toml_len(tv); i++) {
            weft_value *item = convert(cfg, weft_toml_at(tv, i), file);
            if (!item || weft__value_push(v, item)) {
                weft__value_free(item);
                weft__value_free(v);
                return NULL;
            }
        }
        break;
    case WEFT_TOML_TABLE:
        if (weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR,
                           "a table is not supported here (only inside a section, as a sub-table)"))
            return NULL;
        v = bad_value("");
        break;
    }
    if (v) weft__value_set_pos(v, file, line, col);
    return v;
}

/* Adds every key of `table` to section `name`, sub-tables as "prefix.key". */
static weft_err load_keys(weft_config *cfg, const char *name, const weft_toml_value *table,
                          const char *prefix, const char *file)
{
    weft__buf key = WEFT_BUF_INIT;
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < weft_toml_len(table); i++) {
        const weft_toml_value *v = weft_toml_at(table, i);
        int line, col;
        weft_toml_key_pos(table, i, &line, &col);
        weft__buf_reset(&key);
        if ((prefix && (e = weft__buf_addf(&key, "%s.", prefix))) ||
            (e = weft__buf_adds(&key, weft_toml_key_at(table, i))))
            goto fail;
        if (weft_toml_type_of(v) == WEFT_TOML_TABLE) {
            if ((e = load_keys(cfg, name, v, key.data, file))) goto fail;
            continue;
        }
        weft_value *val = convert(cfg, v, file);
        weft__section *s = weft__section_find(cfg, name);
        if (!val || !s) {
            weft__value_free(val);
            e = WEFT_ENOMEM;
            goto fail;
        }
        if ((e = weft__section_put(s, key.data, val, file, line, col))) goto fail;
    }
fail:
    weft__buf_release(&key);
    return e;
}

static weft_err load_section(weft_config *cfg, const char *name, const weft_toml_value *table,
                             const char *file)
{
    int line, col;
    weft_toml_pos(table, &line, &col);
    if (!weft__section_get(cfg, name, file, line, col)) return WEFT_ENOMEM;
    return load_keys(cfg, name, table, NULL, file);
}

static weft_err load_doc(weft_config *cfg, const weft_toml *doc, const char *file)
{
    const weft_toml_value *root = weft_toml_root(doc);
    weft__buf name = WEFT_BUF_INIT;
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < weft_toml_len(root); i++) {
        const char *key = weft_toml_key_at(root, i);
        const weft_toml_value *v = weft_toml_at(root, i);
        bool table = weft_toml_type_of(v) == WEFT_TOML_TABLE;
        int line, col;
        weft_toml_key_pos(root, i, &line, &col);
        weft__kind kind = WEFT__OTHER;
        for (int k = WEFT__CORE; k <= WEFT__TAIPY; k++)
            if (strcmp(key, top_sections[k]) == 0) kind = (weft__kind)k;
        if (kind == WEFT__OTHER) {
            const char *near = weft__closest(key, top_sections, NTOP);
            if (table) weft_toml_pos(v, &line, &col);
            e = weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_WARNING,
                               table ? "section [%s] ignored%s%s%s"
                                     : "top-level key '%s' ignored (keys belong in a section)%s%s%s",
                               key, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        } else if (!table) {
            e = weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR,
                               "'%s' must be a section ([%s%s])", key, key,
                               kind >= WEFT__DATA_NODE ? ".<id>" : "");
        } else if (kind <= WEFT__JOB || kind == WEFT__TAIPY) {
            e = load_section(cfg, key, v, file);
        } else {
            for (size_t j = 0; j < weft_toml_len(v) && !e; j++) {
                const weft_toml_value *sub = weft_toml_at(v, j);
                const char *id = weft_toml_key_at(v, j);
                if (weft_toml_type_of(sub) != WEFT_TOML_TABLE) {
                    weft_toml_key_pos(v, j, &line, &col);
                    e = weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_WARNING,
                                       "key '%s' in [%s] ignored: declare a section [%s.<id>]", id,
                                       key, key);
                    continue;
                }
                weft__buf_reset(&name);
                if ((e = weft__buf_addf(&name, "%s.%s", key, id))) break;
                e = load_section(cfg, name.data, sub, file);
            }
        }
        if (e) break;
    }
    weft__buf_release(&name);
    return e;
}

/* First error recorded from index `from` on, as "file:line:col: message". */
static weft_err first_error(const weft_config *cfg, size_t from, char *err)
{
    for (size_t i = from; i < cfg->load_diags.n; i++) {
        const weft_diag *d = &cfg->load_diags.items[i].d;
        if (d->severity != WEFT_SEVERITY_ERROR) continue;
        if (d->line > 0) return weft__err(err, WEFT_ECONFIG, "%s:%d:%d: %s", d->file, d->line, d->col, d->message);
        return weft__err(err, WEFT_ECONFIG, "%s: %s", d->file, d->message);
    }
    return WEFT_OK;
}

/* Records the parser's "name:line:col: message" as a diagnostic. */
static weft_err syntax_diag(weft_config *cfg, const char *name, const char *msg)
{
    size_t n = strlen(name);
    int line = 0, col = 0, used = 0;
    if (strncmp(msg, name, n) == 0 && msg[n] == ':' &&
        sscanf(msg + n + 1, "%d:%d: %n", &line, &col, &used) == 2 && used > 0)
        return weft__diag_add(cfg, name, line, col, WEFT_SEVERITY_ERROR, "%s", msg + n + 1 + used);
    return weft__diag_add(cfg, name, 0, 0, WEFT_SEVERITY_ERROR, "%s", msg);
}

weft_err weft_config_load_string(weft_config *cfg, const char *text, size_t len, const char *name,
                                 char *err)
{
    weft_toml *doc = NULL;
    char msg[WEFT_ERRBUF_SIZE] = "";
    const char *file;
    weft_err e;
    if (!cfg || (!text && len)) return weft__err(err, WEFT_EINVAL, "weft_config_load_string: NULL argument");
    if (!name) name = "<string>";
    if (!(file = weft__intern(cfg, name))) return weft__err(err, WEFT_ENOMEM, "out of memory");
    size_t from = cfg->load_diags.n;
    cfg->in_check = false;
    weft__diags_clear(&cfg->check_diags); /* stale now */
    e = weft_toml_parse(text ? text : "", len, file, &doc, msg);
    if (e == WEFT_ENOMEM) return weft__err(err, e, "out of memory");
    if (e) {
        if (syntax_diag(cfg, file, msg)) return weft__err(err, WEFT_ENOMEM, "out of memory");
        return weft__err(err, e, "%s", msg);
    }
    e = load_doc(cfg, doc, file);
    weft_toml_free(doc);
    if (!e) e = weft__config_refresh(cfg);
    if (e) return weft__err(err, e, "%s", weft_strerror(e));
    return first_error(cfg, from, err);
}

weft_err weft_config_load(weft_config *cfg, const char *path, char *err)
{
    char *text = NULL, msg[WEFT_ERRBUF_SIZE];
    size_t len;
    weft_err e;
    if (!cfg || !path) return weft__err(err, WEFT_EINVAL, "weft_config_load: NULL argument");
    if ((e = weft__read_file(path, &text, &len, msg)))
        return weft__err(err, e, "cannot read config file %s", msg);
    char *file = strdup(path), *dir = strdup(path);
    if (!file || !dir) {
        free(file);
        free(dir);
        free(text);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    free(cfg->file);
    free(cfg->app_dir);
    cfg->file = file;
    cfg->app_dir = dir;
    e = weft_config_load_string(cfg, text, len, path, err);
    free(text);
    return e;
}
