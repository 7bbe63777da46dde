/* SPDX-License-Identifier: MIT */
/*
 * config.c - the configuration model: sections of raw entries, the
 * effective view (the schema's defaults applied, keys of the kind's
 * "default" section inherited, ENV[...] resolved, values coerced to the
 * key's type), diagnostics, the code API (weft_config_configure_*,
 * weft_config_set*) and read-back.
 *
 * The effective view is rebuilt after every change rather than computed on
 * lookup: configs are small (tens of sections), changes are rare, and it
 * lets lookups return borrowed pointers from a const config.
 */
#include "config/config_internal.h"
#include "util/defaults.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *weft__intern(weft_config *cfg, const char *name)
{
    if (!name) return NULL;
    if (strcmp(name, WEFT__CODE_FILE) == 0) return WEFT__CODE_FILE;
    for (size_t i = 0; i < cfg->nnames; i++)
        if (strcmp(cfg->names[i], name) == 0) return cfg->names[i];
    if (WEFT__GROW(cfg->names, cfg->nnames + 1, cfg->capnames)) return NULL;
    char *copy = strdup(name);
    if (!copy) return NULL;
    cfg->names[cfg->nnames++] = copy;
    return copy;
}

/* ---- diagnostics ---- */

void weft__diags_clear(weft__diag_list *l)
{
    weft__strmap_release(&l->seen);
    for (size_t i = 0; i < l->n; i++) free(l->items[i].key);
    free(l->items);
    *l = (weft__diag_list){0};
}

weft_err weft__diag_add(weft_config *cfg, const char *file, int line, int col, weft_severity sev,
                        const char *fmt, ...)
{
    weft__diag_list *l = cfg->in_check ? &cfg->check_diags : &cfg->load_diags;
    weft__buf key = WEFT_BUF_INIT;
    const char *f = weft__intern(cfg, file ? file : WEFT__CODE_FILE);
    if (!f) return WEFT_ENOMEM;
    if (f == WEFT__CODE_FILE) line = col = 0;
    /* file names are interned: the address stands for the name */
    if (weft__buf_addf(&key, "%p:%d:%d:%d:", (const void *)f, line, col, (int)sev)) goto fail;
    size_t text = key.len;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0 || weft__buf_grow(&key, (size_t)len)) goto fail;
    va_start(ap, fmt);
    vsnprintf(key.data + text, (size_t)len + 1, fmt, ap);
    va_end(ap);
    key.len += (size_t)len;
    if (weft__strmap_get(&l->seen, key.data)) { /* a repeat */
        weft__buf_release(&key);
        return WEFT_OK;
    }
    if (WEFT__GROW(l->items, l->n + 1, l->cap)) goto fail;
    weft__diag *d = &l->items[l->n];
    if (!(d->key = weft__buf_detach(&key, NULL))) goto fail;
    if (weft__strmap_put(&l->seen, d->key, d->key)) {
        free(d->key);
        return WEFT_ENOMEM;
    }
    l->n++;
    d->d = (weft_diag){.file = f, .line = line, .col = col, .severity = sev, .message = d->key + text};
    return WEFT_OK;
fail:
    weft__buf_release(&key);
    return WEFT_ENOMEM;
}

size_t weft_config_ndiags(const weft_config *cfg)
{
    return cfg ? cfg->load_diags.n + cfg->check_diags.n : 0;
}

const weft_diag *weft_config_diag(const weft_config *cfg, size_t i)
{
    if (!cfg) return NULL;
    if (i < cfg->load_diags.n) return &cfg->load_diags.items[i].d;
    i -= cfg->load_diags.n;
    return i < cfg->check_diags.n ? &cfg->check_diags.items[i].d : NULL;
}

size_t weft_config_nerrors(const weft_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < weft_config_ndiags(cfg); i++)
        if (weft_config_diag(cfg, i)->severity == WEFT_SEVERITY_ERROR) n++;
    return n;
}

/* ---- sections ---- */

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

weft__section *weft__section_find(const weft_config *cfg, const char *name)
{
    if (!cfg->index_cap) return NULL;
    size_t mask = cfg->index_cap - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        size_t v = cfg->index[i];
        if (!v) return NULL;
        if (strcmp(cfg->secs[v - 1].name, name) == 0) return &cfg->secs[v - 1];
    }
}

/* Adds section number `n` (already in cfg->secs) to the name index,
 * doubling the table when it would be more than half full. */
static weft_err index_add(weft_config *cfg, size_t n)
{
    if ((cfg->nsecs + 1) * 2 > cfg->index_cap) {
        size_t cap = cfg->index_cap ? cfg->index_cap * 2 : 32;
        size_t *t = calloc(cap, sizeof *t);
        if (!t) return WEFT_ENOMEM;
        for (size_t j = 0; j < cfg->index_cap; j++) {
            size_t v = cfg->index[j];
            if (!v) continue;
            size_t k = name_hash(cfg->secs[v - 1].name) & (cap - 1);
            while (t[k]) k = (k + 1) & (cap - 1);
            t[k] = v;
        }
        free(cfg->index);
        cfg->index = t;
        cfg->index_cap = cap;
    }
    size_t k = name_hash(cfg->secs[n].name) & (cfg->index_cap - 1);
    while (cfg->index[k]) k = (k + 1) & (cfg->index_cap - 1);
    cfg->index[k] = n + 1;
    const weft__section *s = &cfg->secs[n];
    int kind = s->kind == WEFT__DATA_NODE ? 0 : s->kind == WEFT__TASK ? 1
             : s->kind == WEFT__SCENARIO  ? 2 : -1;
    if (kind < 0 || s->is_default) return WEFT_OK;
    if (WEFT__GROW(cfg->by_kind[kind], cfg->nby_kind[kind] + 1, cfg->capby_kind[kind]))
        return WEFT_ENOMEM;
    cfg->by_kind[kind][cfg->nby_kind[kind]++] = n;
    return WEFT_OK;
}

weft__section *weft__section_get(weft_config *cfg, const char *name, const char *file, int line,
                                 int col)
{
    weft__section *s = weft__section_find(cfg, name);
    const char *f = weft__intern(cfg, file ? file : WEFT__CODE_FILE);
    if (!f) return NULL;
    if (s) {
        if (f != WEFT__CODE_FILE) { /* the file's position is the useful one */
            s->file = f;
            s->line = line;
            s->col = col;
        }
        return s;
    }
    if (WEFT__GROW(cfg->secs, cfg->nsecs + 1, cfg->capsecs)) return NULL;
    s = &cfg->secs[cfg->nsecs];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name))) return NULL;
    s->kind = weft__kind_of(s->name, &s->id);
    s->is_default = s->id && strcmp(s->id, "default") == 0;
    s->file = f;
    s->line = f == WEFT__CODE_FILE ? 0 : line;
    s->col = f == WEFT__CODE_FILE ? 0 : col;
    if (index_add(cfg, cfg->nsecs)) {
        free(s->name);
        return NULL;
    }
    cfg->nsecs++;
    return s;
}

weft_err weft__section_put(weft__section *s, const char *key, weft_value *val, const char *file,
                           int line, int col)
{
    for (size_t i = 0; i < s->nraw; i++)
        if (strcmp(s->raw[i].key, key) == 0) {
            weft__value_free(s->raw[i].val);
            s->raw[i].val = val;
            s->raw[i].file = file;
            s->raw[i].line = line;
            s->raw[i].col = col;
            return WEFT_OK;
        }
    if (WEFT__GROW(s->raw, s->nraw + 1, s->capraw)) goto fail;
    char *k = strdup(key);
    if (!k) goto fail;
    s->raw[s->nraw++] = (weft__entry){.key = k, .val = val, .file = file, .line = line, .col = col};
    return WEFT_OK;
fail:
    weft__value_free(val);
    return WEFT_ENOMEM;
}

const weft__entry *weft__eff_find(const weft__section *s, const char *key)
{
    for (size_t i = 0; i < s->neff; i++)
        if (strcmp(s->eff[i].key, key) == 0) return &s->eff[i];
    return NULL;
}

static void section_clear_eff(weft__section *s)
{
    for (size_t i = 0; i < s->neff; i++) weft__value_free(s->eff[i].val);
    s->neff = 0;
}

static void section_free(weft__section *s)
{
    section_clear_eff(s);
    free(s->eff);
    for (size_t i = 0; i < s->nraw; i++) {
        free(s->raw[i].key);
        weft__value_free(s->raw[i].val);
    }
    free(s->raw);
    free(s->name);
}

/* ---- the effective view ---- */

/* A copy of `v` with ENV[...] replaced by the environment's value.  The
 * copy records whether the variable was missing or did not fit, for check. */
static weft_value *resolve_env(const weft_value *v)
{
    weft_value *c = NULL;
    if (v->type == WEFT_VALUE_LIST) {
        if (!(c = weft__value_copy(v))) return NULL;
        for (size_t i = 0; i < c->n; i++) {
            weft_value *r = resolve_env(v->items[i]);
            if (!r) goto fail;
            weft__value_free(c->items[i]);
            c->items[i] = r;
        }
        return c;
    }
    if (!v->env) return weft__value_copy(v);
    const char *val = getenv(v->env);
    if (val) {
        weft_err e = weft__value_convert(val, v->env_typed ? v->type : WEFT_VALUE_STR, &c, NULL);
        if (e == WEFT_ENOMEM) return NULL;
        if (e == WEFT_OK) {
            c->env_state = WEFT__ENV_OK;
            c->env_typed = v->env_typed;
            weft__value_set_pos(c, v->file, v->line, v->col);
            if (!(c->env = strdup(v->env)) || !(c->raw = strdup(v->raw))) goto fail;
            return c;
        }
    }
    if (!(c = weft__value_copy(v))) return NULL;
    c->env_state = val ? WEFT__ENV_BAD : WEFT__ENV_MISSING;
    return c;
fail:
    weft__value_free(c);
    return NULL;
}

static weft_err eff_add(weft__section *s, const char *key, const weft_value *v, const char *file,
                        int line, int col)
{
    const weft__keyspec *ks = weft__keyspec_find(s->kind, key);
    weft_value *r = resolve_env(v), *c = NULL;
    bool oom = false;
    if (!r) return WEFT_ENOMEM;
    if (ks && r->env_state != WEFT__ENV_MISSING && r->env_state != WEFT__ENV_BAD) {
        c = weft__value_coerce(r, ks->type, ks->elem, &oom);
        if (oom) goto fail;
        if (c) { /* a value that does not fit stays as is: check reports it */
            weft__value_free(r);
            r = c;
            c = NULL;
        }
    }
    if (WEFT__GROW(s->eff, s->neff + 1, s->capeff)) goto fail;
    s->eff[s->neff++] =
        (weft__entry){.key = (char *)key, .val = r, .file = file, .line = line, .col = col};
    return WEFT_OK;
fail:
    weft__value_free(r);
    return WEFT_ENOMEM;
}

static weft_err parse_default(const char *def, weft_value **out)
{
    if (strcmp(def, "[]") == 0)
        *out = weft__value_new(WEFT_VALUE_LIST, NULL);
    else if (weft__value_parse(def, strlen(def), out, NULL))
        *out = NULL;
    if (!*out) return WEFT_ENOMEM;
    weft__value_set_pos(*out, WEFT__DEFAULT_FILE, 0, 0);
    return WEFT_OK;
}

static weft_err add_default(weft__section *s, const char *key, const char *def)
{
    weft_value *v;
    if (parse_default(def, &v)) return WEFT_ENOMEM;
    weft_err e = eff_add(s, key, v, WEFT__DEFAULT_FILE, 0, 0);
    weft__value_free(v);
    return e;
}

static weft_err refresh_section(weft_config *cfg, weft__section *s)
{
    weft_err e = WEFT_OK;
    weft__section *def = NULL;
    section_clear_eff(s);
    if (s->id && !s->is_default) {
        char name[64];
        snprintf(name, sizeof name, "%s.default", weft__kind_name(s->kind));
        def = weft__section_find(cfg, name);
    }
    for (size_t i = 0; i < s->nraw; i++) {
        const weft__entry *r = &s->raw[i];
        if ((e = eff_add(s, r->key, r->val, r->file, r->line, r->col))) return e;
    }
    for (size_t i = 0; def && i < def->nraw; i++) {
        const weft__entry *r = &def->raw[i];
        if (weft__eff_find(s, r->key)) continue;
        if ((e = eff_add(s, r->key, r->val, r->file, r->line, r->col))) return e;
    }
    size_t n;
    const weft__keyspec *ks = weft__keyspecs(s->kind, &n);
    for (size_t i = 0; i < n; i++)
        if (ks[i].def && !weft__eff_find(s, ks[i].key) && (e = add_default(s, ks[i].key, ks[i].def)))
            return e;
    if (s->kind == WEFT__DATA_NODE && !weft__eff_find(s, "has_header")) {
        const weft__entry *st = weft__eff_find(s, "storage_type");
        if (st && st->val->text &&
            (strcmp(st->val->text, "csv") == 0 || strcmp(st->val->text, "excel") == 0) &&
            (e = add_default(s, "has_header", "True:bool")))
            return e;
    }
    return WEFT_OK;
}

weft_err weft__config_refresh(weft_config *cfg)
{
    weft_err e;
    for (size_t i = 0; i < cfg->nsecs; i++)
        if ((e = refresh_section(cfg, &cfg->secs[i]))) return e;
    return WEFT_OK;
}

/* Refreshes what a change to section `s` can affect: `s` itself, or, for a
 * kind's "default" section, every section of that kind (they inherit its
 * keys).  O(1) for an ordinary section, so building a config of N sections
 * in code is O(N), not O(N^2) as refreshing every section would be. */
static weft_err refresh_changed(weft_config *cfg, weft__section *s)
{
    if (!s->is_default) return refresh_section(cfg, s);
    weft_err e;
    for (size_t i = 0; i < cfg->nsecs; i++)
        if (cfg->secs[i].kind == s->kind && (e = refresh_section(cfg, &cfg->secs[i]))) return e;
    return WEFT_OK;
}

/* ---- life cycle ---- */

weft_config *weft_config_new(void)
{
    weft_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return NULL;
    if (!weft__section_get(cfg, "CORE", NULL, 0, 0) || !weft__section_get(cfg, "JOB", NULL, 0, 0) ||
        weft__config_refresh(cfg))
        goto fail;
    return cfg;
fail:
    weft_config_free(cfg);
    return NULL;
}

void weft_config_free(weft_config *cfg)
{
    if (!cfg) return;
    for (size_t i = 0; i < cfg->nsecs; i++) section_free(&cfg->secs[i]);
    free(cfg->secs);
    free(cfg->index);
    for (int k = 0; k < 3; k++) free(cfg->by_kind[k]);
    weft__diags_clear(&cfg->load_diags);
    weft__diags_clear(&cfg->check_diags);
    for (size_t i = 0; i < cfg->nnames; i++) free(cfg->names[i]);
    free(cfg->names);
    free(cfg->file);
    free(cfg->app_dir);
    free(cfg);
}

/* ---- the code API ---- */

static weft_err put_value(weft_config *cfg, const char *section, const char *key, weft_value *v,
                          char *err)
{
    weft__section *s = NULL;
    if (weft__kind_of(section, NULL) == WEFT__OTHER) {
        weft__value_free(v);
        return weft__err(err, WEFT_EINVAL,
                         "unknown section '%s' (expected TAIPY, CORE, JOB, DATA_NODE.<id>, "
                         "TASK.<id> or SCENARIO.<id>)",
                         section);
    }
    if (!(s = weft__section_get(cfg, section, NULL, 0, 0)) ||
        weft__section_put(s, key, v, WEFT__CODE_FILE, 0, 0) || refresh_changed(cfg, s))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

static weft_err parse_for(const char *section, const char *key, const char *value,
                          weft_value **out, char *err)
{
    char msg[WEFT_ERRBUF_SIZE];
    weft_err e = weft__value_parse(value, strlen(value), out, msg);
    if (e) return weft__err(err, e, "%s.%s: %s", section, key, msg);
    return WEFT_OK;
}

weft_err weft_config_set(weft_config *cfg, const char *section, const char *key, const char *value,
                         char *err)
{
    weft_value *v;
    if (!cfg || !section || !key || !*key || !value)
        return weft__err(err, WEFT_EINVAL, "weft_config_set: NULL or empty argument");
    weft_err e = parse_for(section, key, value, &v, err);
    return e ? e : put_value(cfg, section, key, v, err);
}

weft_err weft_config_set_list(weft_config *cfg, const char *section, const char *key,
                              const char *const *values, size_t n, char *err)
{
    weft_err e;
    weft_value *list = NULL, *item;
    if (!cfg || !section || !key || !*key || (n && !values))
        return weft__err(err, WEFT_EINVAL, "weft_config_set_list: NULL or empty argument");
    if (!(list = weft__value_new(WEFT_VALUE_LIST, NULL))) goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!values[i]) {
            weft__value_free(list);
            return weft__err(err, WEFT_EINVAL, "%s.%s: NULL list element", section, key);
        }
        if ((e = parse_for(section, key, values[i], &item, err))) {
            weft__value_free(list);
            return e;
        }
        if (weft__value_push(list, item)) {
            weft__value_free(item);
            goto oom;
        }
    }
    return put_value(cfg, section, key, list, err);
oom:
    weft__value_free(list);
    return weft__err(err, WEFT_ENOMEM, "out of memory");
}

/* Sets a list of plain strings of `type`, without typed-string parsing
 * (command argv elements are literal). */
static weft_err set_strings(weft_config *cfg, const char *section, const char *key,
                            const char *const *values, weft_value_type type, char *err)
{
    weft_value *list = weft__value_new(WEFT_VALUE_LIST, NULL), *item = NULL;
    if (!list) goto oom;
    for (size_t i = 0; values[i]; i++) {
        if (type == WEFT_VALUE_STR) {
            if (!(item = weft__value_new(WEFT_VALUE_STR, values[i]))) goto oom;
        } else {
            char msg[WEFT_ERRBUF_SIZE];
            weft_err e = weft__value_convert(values[i], type, &item, msg);
            if (e == WEFT_ENOMEM) goto oom;
            if (e) {
                weft__value_free(list);
                return weft__err(err, e, "%s.%s: %s", section, key, msg);
            }
        }
        if (weft__value_push(list, item)) goto oom;
        item = NULL;
    }
    return put_value(cfg, section, key, list, err);
oom:
    weft__value_free(item);
    weft__value_free(list);
    return weft__err(err, WEFT_ENOMEM, "out of memory");
}

/* Sets `key` to `text` converted to `type` (the suffix is optional). */
static weft_err set_typed(weft_config *cfg, const char *section, const char *key, const char *text,
                          weft_value_type type, char *err)
{
    char buf[WEFT_ERRBUF_SIZE];
    const char *suffix = weft__type_names[type];
    size_t n = strlen(text), m = strlen(suffix);
    if (n > m && text[n - m - 1] == ':' && strcmp(text + n - m, suffix) == 0)
        return weft_config_set(cfg, section, key, text, err);
    if ((size_t)snprintf(buf, sizeof buf, "%s:%s", text, suffix) >= sizeof buf)
        return weft__err(err, WEFT_EINVAL, "%s.%s: value too long", section, key);
    return weft_config_set(cfg, section, key, buf, err);
}

static bool id_ok(const char *id) { return id && *id && !strchr(id, '\n'); }

weft_err weft_config_configure_job_executions(weft_config *cfg, weft_mode mode,
                                              int max_nb_of_workers, char *err)
{
    const char *name = weft_mode_name(mode);
    if (!cfg || !name) return weft__err(err, WEFT_EINVAL, "invalid execution mode %d", (int)mode);
    weft_err e = weft_config_set(cfg, "JOB", "mode", name, err);
    if (!e && max_nb_of_workers > 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d:int", max_nb_of_workers);
        e = weft_config_set(cfg, "JOB", "max_nb_of_workers", buf, err);
    }
    return e;
}

static weft_err set_properties(weft_config *cfg, const char *section, const weft_property *p,
                               size_t n, char *err)
{
    weft_err e = WEFT_OK;
    if (n && !p) return weft__err(err, WEFT_EINVAL, "%s: NULL properties", section);
    for (size_t i = 0; i < n && !e; i++) {
        if (!p[i].key || !p[i].value)
            return weft__err(err, WEFT_EINVAL, "%s: property %zu has a NULL key or value", section, i);
        e = weft_config_set(cfg, section, p[i].key, p[i].value, err);
    }
    return e;
}

weft_err weft_config_configure_data_node(weft_config *cfg, const char *id,
                                         const weft_data_node_opts *opts, char *err)
{
    char sec[512];
    weft_err e = WEFT_OK;
    if (!cfg || !id_ok(id)) return weft__err(err, WEFT_EINVAL, "invalid data node id");
    if ((size_t)snprintf(sec, sizeof sec, "DATA_NODE.%s", id) >= sizeof sec)
        return weft__err(err, WEFT_EINVAL, "data node id too long");
    weft__section *s = weft__section_get(cfg, sec, NULL, 0, 0);
    if (!s || refresh_changed(cfg, s)) return weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!opts) return WEFT_OK;
    if (!e && opts->storage_type) e = weft_config_set(cfg, sec, "storage_type", opts->storage_type, err);
    if (!e && opts->scope) e = set_typed(cfg, sec, "scope", opts->scope, WEFT_VALUE_SCOPE, err);
    if (!e && opts->default_path) e = weft_config_set(cfg, sec, "default_path", opts->default_path, err);
    if (!e && opts->validity_period)
        e = set_typed(cfg, sec, "validity_period", opts->validity_period, WEFT_VALUE_TIMEDELTA, err);
    if (!e) e = set_properties(cfg, sec, opts->properties, opts->nproperties, err);
    return e;
}

weft_err weft_config_configure_task(weft_config *cfg, const char *id, const weft_task_opts *opts,
                                    char *err)
{
    char sec[512];
    weft_err e = WEFT_OK;
    if (!cfg || !id_ok(id)) return weft__err(err, WEFT_EINVAL, "invalid task id");
    if ((size_t)snprintf(sec, sizeof sec, "TASK.%s", id) >= sizeof sec)
        return weft__err(err, WEFT_EINVAL, "task id too long");
    weft__section *s = weft__section_get(cfg, sec, NULL, 0, 0);
    if (!s || refresh_changed(cfg, s)) return weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!opts) return WEFT_OK;
    if (opts->function) e = set_typed(cfg, sec, "function", opts->function, WEFT_VALUE_FUNCTION, err);
    if (!e && opts->command) e = set_strings(cfg, sec, "command", opts->command, WEFT_VALUE_STR, err);
    if (!e && opts->inputs) e = set_strings(cfg, sec, "inputs", opts->inputs, WEFT_VALUE_SECTION, err);
    if (!e && opts->outputs)
        e = set_strings(cfg, sec, "outputs", opts->outputs, WEFT_VALUE_SECTION, err);
    if (!e) e = weft_config_set(cfg, sec, "skippable", opts->skippable ? "True:bool" : "False:bool", err);
    if (!e && opts->timeout) e = set_typed(cfg, sec, "timeout", opts->timeout, WEFT_VALUE_TIMEDELTA, err);
    if (!e) e = set_properties(cfg, sec, opts->properties, opts->nproperties, err);
    return e;
}

weft_err weft_config_configure_scenario(weft_config *cfg, const char *id, const char *const *tasks,
                                        char *err)
{
    char sec[512];
    static const char *const none[] = {NULL};
    if (!cfg || !id_ok(id)) return weft__err(err, WEFT_EINVAL, "invalid scenario id");
    if ((size_t)snprintf(sec, sizeof sec, "SCENARIO.%s", id) >= sizeof sec)
        return weft__err(err, WEFT_EINVAL, "scenario id too long");
    return set_strings(cfg, sec, "tasks", tasks ? tasks : none, WEFT_VALUE_SECTION, err);
}

/* ---- read-back ---- */

const char *weft_mode_name(weft_mode m)
{
    switch (m) {
    case WEFT_MODE_DEVELOPMENT: return WEFT__MODE_DEVELOPMENT;
    case WEFT_MODE_STANDALONE: return WEFT__MODE_STANDALONE;
    case WEFT_MODE_CLUSTER: return WEFT__MODE_CLUSTER;
    }
    return NULL;
}

const weft_value *weft_config_lookup(const weft_config *cfg, const char *section, const char *key)
{
    if (!cfg || !section || !key) return NULL;
    const weft__section *s = weft__section_find(cfg, section);
    const weft__entry *e = s ? weft__eff_find(s, key) : NULL;
    const char *other = s && !e ? weft__key_alias(s->kind, key, NULL) : NULL;
    if (other) e = weft__eff_find(s, other);
    return e ? e->val : NULL;
}

static const char *text_or(const weft_config *cfg, const char *section, const char *key,
                           const char *def)
{
    const weft_value *v = weft_config_lookup(cfg, section, key);
    if (!v || !v->text || v->bad || v->env_state == WEFT__ENV_MISSING || v->env_state == WEFT__ENV_BAD)
        return def;
    return v->text;
}

/* A string key of CORE or JOB, or its schema default when it is unusable
 * (the effective view has the default unless the value is bad). */
static const char *text_or_default(const weft_config *cfg, weft__kind kind, const char *key)
{
    return text_or(cfg, weft__kind_name(kind), key, weft__keyspec_default(kind, key));
}

weft_mode weft_config_mode(const weft_config *cfg)
{
    const char *m = text_or_default(cfg, WEFT__JOB, "mode");
    for (int i = WEFT_MODE_DEVELOPMENT; i <= WEFT_MODE_CLUSTER; i++)
        if (strcmp(m, weft_mode_name((weft_mode)i)) == 0) return (weft_mode)i;
    return WEFT_MODE_DEVELOPMENT;
}

int weft_config_max_nb_of_workers(const weft_config *cfg)
{
    const weft_value *v = weft_config_lookup(cfg, "JOB", "max_nb_of_workers");
    if (v && v->type == WEFT_VALUE_INT && v->i > 0 && v->i <= 1 << 20) return (int)v->i;
    return WEFT__DEFAULT_WORKERS;
}

const char *weft_config_storage_folder(const weft_config *cfg)
{
    return text_or_default(cfg, WEFT__CORE, "storage_folder");
}

weft_err weft__config_connection_env(const weft_config *cfg, bool url_given, bool queue_given,
                                     char *err)
{
    size_t n;
    const char *const *keys = weft__connection_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const weft_value *v = weft_config_lookup(cfg, "JOB", keys[i]);
        if (!v || v->env_state != WEFT__ENV_MISSING ||
            (url_given && strcmp(keys[i], "broker_url") == 0) ||
            (queue_given && strcmp(keys[i], "queue") == 0))
            continue;
        return weft__err(err, WEFT_EINVAL,
                         "environment variable %s is not set (needed by %s in [JOB] to connect "
                         "to the broker)",
                         v->env, keys[i]);
    }
    return WEFT_OK;
}

const char *weft_config_broker_url(const weft_config *cfg)
{
    return text_or_default(cfg, WEFT__JOB, "broker_url");
}

const char *weft_config_broker_secret(const weft_config *cfg)
{
    const char *s = text_or(cfg, "JOB", "broker_secret", NULL);
    return s && *s ? s : NULL;
}

const char *weft_config_queue(const weft_config *cfg) { return text_or_default(cfg, WEFT__JOB, "queue"); }

const char *weft_config_file(const weft_config *cfg) { return cfg ? cfg->file : NULL; }

const char *weft_config_application_path(const weft_config *cfg)
{
    if (!cfg) return ".";
    return text_or(cfg, "CORE", "application_path", cfg->app_dir ? cfg->app_dir : ".");
}

bool weft_config_has_section(const weft_config *cfg, const char *section)
{
    const weft__section *s = cfg && section ? weft__section_find(cfg, section) : NULL;
    return s && !s->is_default;
}

size_t weft_config_count(const weft_config *cfg, weft_section_kind kind)
{
    unsigned k = (unsigned)kind;
    return cfg && k < 3 ? cfg->nby_kind[k] : 0;
}

const char *weft_config_id_at(const weft_config *cfg, weft_section_kind kind, size_t i)
{
    unsigned k = (unsigned)kind;
    if (!cfg || k >= 3 || i >= cfg->nby_kind[k]) return NULL;
    return cfg->secs[cfg->by_kind[k][i]].id;
}

size_t weft_config_nkeys(const weft_config *cfg, const char *section)
{
    const weft__section *s = cfg && section ? weft__section_find(cfg, section) : NULL;
    return s ? s->neff : 0;
}

const char *weft_config_key_at(const weft_config *cfg, const char *section, size_t i)
{
    const weft__section *s = cfg && section ? weft__section_find(cfg, section) : NULL;
    return s && i < s->neff ? s->eff[i].key : NULL;
}
