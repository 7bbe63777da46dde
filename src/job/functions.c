/* SPDX-License-Identifier: MIT */
/*
 * functions.c - where task functions come from: the process-wide registry
 * of weft_register_function(), the built-ins (weft.noop, weft.sleep,
 * weft.spin), and "module.symbol" names resolved to symbols of the
 * application's shared objects (module.so or libmodule.so; a/b.so or
 * a/libb.so for "a.b.symbol"), loaded once per app through
 * weft__app_module().  A name with neither shared object is a Python
 * function (python.c).
 */
#define _GNU_SOURCE /* asprintf */
#include "job/runner.h"
#include "config/config_internal.h"
#include "job/python.h"
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <dlfcn.h>

/* ---- the registry ---- */

typedef struct reg_entry {
    char *name;
    weft_task_fn fn;
} reg_entry;

/* Process-wide: lives until exit (the registry is never torn down, like
 * dlopen()ed code it may still be called from any thread). */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry *reg;
static size_t nreg, capreg;

weft_err weft_register_function(const char *name, weft_task_fn fn)
{
    if (!name || !*name || !fn) return WEFT_EINVAL;
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nreg; i++) {
        if (strcmp(reg[i].name, name) == 0) {
            reg[i].fn = fn;
            goto done;
        }
    }
    char *copy = NULL;
    if (WEFT__GROW(reg, nreg + 1, capreg) || !(copy = strdup(name))) {
        e = WEFT_ENOMEM;
        goto done;
    }
    reg[nreg].name = copy;
    reg[nreg].fn = fn;
    nreg++;
done:
    pthread_mutex_unlock(&reg_lock);
    return e;
}

/* ---- built-ins ---- */

/* The task's `duration` in ms: a timedelta, or a number of seconds (int,
 * float or a numeric string); 0 when unset or unreadable. */
static int64_t duration_ms(weft_ctx *ctx)
{
    const weft_value *v = weft_ctx_property(ctx, "duration");
    if (!v) return 0;
    switch (weft_value_type_of(v)) {
    case WEFT_VALUE_TIMEDELTA: return weft_value_timedelta_ms(v);
    case WEFT_VALUE_INT:
    case WEFT_VALUE_FLOAT: return (int64_t)(weft_value_float(v) * 1000.0);
    default: break;
    }
    const char *t = weft_value_text(v);
    if (!t) return 0;
    char *end;
    errno = 0;
    double d = strtod(t, &end);
    if (end != t && *end == '\0' && errno == 0 && d >= 0) return (int64_t)(d * 1000.0);
    int64_t ms;
    if (weft__timedelta_parse(t, &ms)) return ms;
    return 0;
}

/* Does nothing but write the empty value of each output's type (json
 * `null`, a csv table of no rows, ...), so that a no-op task can stand in a
 * chain or a fan-in: its outputs count as written, and the next task can
 * read them. */
static int builtin_noop(weft_ctx *ctx)
{
    size_t n = weft_ctx_noutputs(ctx);
    for (size_t i = 0; i < n; i++) {
        char err[WEFT_ERRBUF_SIZE] = "";
        if (weft__dn_write_empty(weft_ctx_output(ctx, i), err)) {
            weft_ctx_fail(ctx, "%s", err);
            return 1;
        }
    }
    return 0;
}

/* Sleeps (or busy-loops, for spin) for `duration`, checking for cancel at
 * least every 10 ms. */
static int wait_duration(weft_ctx *ctx, bool spin)
{
    int64_t ms = duration_ms(ctx);
    int64_t end = weft__mono_ns() + ms * 1000000;
    for (;;) {
        if (weft_ctx_canceled(ctx)) {
            weft_ctx_fail(ctx, "canceled");
            return 1;
        }
        int64_t now = weft__mono_ns();
        if (now >= end) return 0;
        int64_t step = end - now;
        if (step > 10000000) step = 10000000;
        if (spin) {
            int64_t until = now + step;
            volatile unsigned long x = 0;
            while (weft__mono_ns() < until) x++;
        } else {
            struct timespec ts = {0, (long)step};
            nanosleep(&ts, NULL);
        }
    }
}

static int builtin_sleep(weft_ctx *ctx) { return wait_duration(ctx, false); }
static int builtin_spin(weft_ctx *ctx) { return wait_duration(ctx, true); }

static const reg_entry builtins[] = {
    {"weft.noop", builtin_noop},
    {"weft.sleep", builtin_sleep},
    {"weft.spin", builtin_spin},
};

weft_task_fn weft__registered_function(const char *name)
{
    weft_task_fn fn = NULL;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nreg && !fn; i++)
        if (strcmp(reg[i].name, name) == 0) fn = reg[i].fn;
    pthread_mutex_unlock(&reg_lock);
    for (size_t i = 0; !fn && i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i].name, name) == 0) fn = builtins[i].fn;
    return fn;
}

/* ---- shared objects ---- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* weft__resolve_symbol(); *no_so (when not NULL) tells that the failure is
 * that neither shared object exists, which makes the name a Python one.
 * A NULL `sym` only looks for the file: nothing is loaded. */
static weft_err resolve_symbol_at(weft__app *app, const char *name, void **sym, bool *no_so, char *err)
{
    weft_err e = WEFT_OK;
    char *nm = NULL, *rel = NULL, *cand[2] = {NULL, NULL};
    size_t nlen = strlen(name);
    /* Tolerate the typed-string suffix. */
    if (nlen > 9 && strcmp(name + nlen - 9, ":function") == 0) nlen -= 9;
    if (!(nm = weft__strndup(name, nlen))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    char *dot = strrchr(nm, '.');
    if (!dot || dot == nm || !dot[1]) {
        e = weft__err(err, WEFT_ENOTFOUND,
                      "function %s: expected \"module.symbol\"", nm);
        goto done;
    }
    *dot = '\0';
    const char *symbol = dot + 1;
    /* "a.b" -> folder "a", file base "b". */
    if (!(rel = strdup(nm))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    for (char *p = rel; *p; p++)
        if (*p == '.') *p = '/';
    char *slash = strrchr(rel, '/');
    const char *base = slash ? slash + 1 : rel;
    int dirlen = slash ? (int)(slash - rel + 1) : 0;
    const char *app_path = weft__app_path(app);
    if (asprintf(&cand[0], "%s/%s.so", app_path, rel) < 0) cand[0] = NULL;
    if (asprintf(&cand[1], "%s/%.*slib%s.so", app_path, dirlen, rel, base) < 0) cand[1] = NULL;
    if (!cand[0] || !cand[1]) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    const char *found = is_file(cand[0]) ? cand[0] : is_file(cand[1]) ? cand[1] : NULL;
    if (!found) {
        if (no_so) *no_so = true;
        e = weft__err(err, WEFT_ENOTFOUND, "function %.*s: no %s.so or %.*slib%s.so in %s",
                      (int)nlen, name, rel, dirlen, rel, base, app_path);
        goto done;
    }
    void *h;
    if (!sym) goto done; /* only whether the file exists */
    if ((e = weft__app_module(app, found, &h, err))) goto done;
    dlerror();
    void *s = dlsym(h, symbol);
    if (!s) {
        e = weft__err(err, WEFT_ENOTFOUND, "symbol %s not found in %s", symbol, found);
        goto done;
    }
    *sym = s;
done:
    free(nm);
    free(rel);
    free(cand[0]);
    free(cand[1]);
    return e;
}

weft_err weft__resolve_symbol(weft__app *app, const char *name, void **sym, char *err)
{
    return resolve_symbol_at(app, name, sym, NULL, err);
}

weft_err weft__resolve_task(weft__app *app, const char *name, weft_task_fn *fn, bool *python, char *err)
{
    if (!name || !*name) return weft__err(err, WEFT_ENOTFOUND, "no function given");
    size_t nlen = strlen(name);
    char *plain = NULL;
    if (nlen > 9 && strcmp(name + nlen - 9, ":function") == 0) {
        if (!(plain = weft__strndup(name, nlen - 9))) return weft__err(err, WEFT_ENOMEM, "out of memory");
        name = plain;
    }
    weft_err e = WEFT_OK;
    weft_task_fn f = weft__registered_function(name);
    *python = false;
    if (!f) {
        void *sym = NULL;
        bool no_so = false;
        char serr[WEFT_ERRBUF_SIZE];
        if (!(e = resolve_symbol_at(app, name, &sym, &no_so, serr))) f = (weft_task_fn)sym;
        else if (no_so && e == WEFT_ENOTFOUND) e = WEFT_OK, *python = true;
        if (e || *python) weft__err(err, e, "%s", serr);
    }
    if (!e) *fn = f;
    free(plain);
    return e;
}

weft_err weft__resolve_function(weft__app *app, const char *name, weft_task_fn *fn, char *err)
{
    bool python;
    weft_err e = weft__resolve_task(app, name, fn, &python, err);
    if (!e && python) e = weft__err(err, WEFT_ENOTFOUND, "function %s is a Python function", name);
    return e;
}

/* ---- weft check ---- */

/* One task's function: an error diagnostic at the key when it cannot be
 * found; *python set when it is a Python function that was found. */
static weft_err check_function(weft_config *cfg, weft__app *app, const weft_value *v, bool import,
                               bool *python)
{
    const char *name = weft_value_text(v), *file;
    int line, col;
    char perr[WEFT_ERRBUF_SIZE];
    weft_value_pos(v, &file, &line, &col);
    *python = false;
    if (!name || weft__registered_function(name)) return WEFT_OK;
    bool no_so = false;
    weft_err e = resolve_symbol_at(app, name, NULL, &no_so, perr);
    if (e == WEFT_ENOMEM) return e;
    if (!e || !no_so) return WEFT_OK; /* a shared object: not loaded by a check */
    e = weft__py_find_module(app, name, perr);
    if (!e && import) e = weft__py_import(app, name, perr);
    if (e == WEFT_ENOMEM) return e;
    *python = !e;
    if (!e) return WEFT_OK;
    return weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR, "function %s: %s", name, perr);
}

static const char *dn_text(weft_config *cfg, const char *dn, const char *key)
{
    char section[512];
    snprintf(section, sizeof section, "DATA_NODE.%s", dn);
    return weft_value_text(weft_config_lookup(cfg, section, key));
}

/* The Python modules a Python task needs for data node `dn` (a
 * NULL-terminated list), as python.c's decode() and encode() import them. */
static const char *const *dn_modules(weft_config *cfg, const char *dn)
{
    static const char *const excel[] = {"pandas", "openpyxl", NULL}, *const pandas[] = {"pandas", NULL},
                             *const numpy[] = {"pandas", "numpy", NULL}, *const none[] = {NULL};
    const char *type = dn_text(cfg, dn, "storage_type"), *exposed = dn_text(cfg, dn, "exposed_type");
    bool np = exposed && strcmp(exposed, "numpy") == 0;
    if (!type) return none;
    if (strcmp(type, "excel") == 0) return excel;
    if (strcmp(type, "csv") == 0 || strcmp(type, "sql_table") == 0 || strcmp(type, "sql") == 0)
        return np ? numpy : pandas;
    return none;
}

/* `weft check --import` of a Python task: each module its data nodes need
 * imports, and a generic node's Python read_fct/write_fct too; an error
 * diagnostic at the task's function otherwise. */
static weft_err check_task_nodes(weft_config *cfg, weft__app *app, const char *task,
                                 const weft_value *fn)
{
    static const char *const keys[] = {"inputs", "outputs"};
    const char *file;
    int line, col;
    weft_value_pos(fn, &file, &line, &col);
    weft_err e = WEFT_OK;
    for (int k = 0; !e && k < 2; k++) {
        const weft_value *dns = weft_config_lookup(cfg, task, keys[k]);
        for (size_t i = 0; !e && i < weft_value_len(dns); i++) {
            const char *dn = weft_value_text(weft_value_at(dns, i));
            char section[512], perr[WEFT_ERRBUF_SIZE];
            if (!dn) continue;
            for (const char *const *m = dn_modules(cfg, dn); !e && *m; m++) {
                if ((e = weft__py_need(app, *m, perr)) == WEFT_ENOMEM) return e;
                if (e)
                    e = weft__diag_add(cfg, file, line, col, WEFT_SEVERITY_ERROR,
                                       "function %s: data node '%s' (%s): %s", weft_value_text(fn), dn,
                                       dn_text(cfg, dn, "storage_type"), perr);
            }
            snprintf(section, sizeof section, "DATA_NODE.%s", dn);
            const char *type = dn_text(cfg, dn, "storage_type");
            for (int f = 0; !e && type && strcmp(type, "generic") == 0 && f < 2; f++) {
                const weft_value *v = weft_config_lookup(cfg, section, f ? "write_fct" : "read_fct");
                bool python;
                if (v && weft_value_type_of(v) == WEFT_VALUE_FUNCTION)
                    e = check_function(cfg, app, v, true, &python);
            }
        }
    }
    return e;
}

weft_err weft_config_check_functions(weft_config *cfg, const char *application_path,
                                     bool import_modules, char *err)
{
    if (!cfg) return weft__err(err, WEFT_EINVAL, "weft_config_check_functions: no config");
    weft__app *app = NULL;
    weft_err e = weft__app_new(cfg, application_path, &app, err);
    if (e) return e;
    for (size_t i = 0; !e && i < weft_config_count(cfg, WEFT_SECTION_TASK); i++) {
        const char *id = weft_config_id_at(cfg, WEFT_SECTION_TASK, i);
        char section[512];
        if (!id || strcmp(id, "default") == 0) continue;
        snprintf(section, sizeof section, "TASK.%s", id);
        const weft_value *v = weft_config_lookup(cfg, section, "function");
        bool python = false;
        if (v && weft_value_type_of(v) == WEFT_VALUE_FUNCTION)
            e = check_function(cfg, app, v, import_modules, &python);
        if (!e && python && import_modules) e = check_task_nodes(cfg, app, section, v);
    }
    weft__app_free(app);
    if (e) return weft__err(err, e, "out of memory");
    return WEFT_OK;
}
