/* SPDX-License-Identifier: MIT */
/*
 * functions.c - where task functions come from: the process-wide registry
 * of weft_register_function(), the built-ins (weft.noop, weft.sleep,
 * weft.spin), and "module.symbol" names resolved to symbols of the
 * application's shared objects (module.so or libmodule.so; a/b.so or
 * a/libb.so for "a.b.symbol"), loaded once per app through
 * weft__app_module().
 */
#define _GNU_SOURCE /* asprintf */
#include "job/runner.h"
#include "config/config_internal.h"
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

weft_err weft__resolve_symbol(weft__app *app, const char *name, void **sym, char *err)
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
        e = weft__err(err, WEFT_ENOTFOUND, "function %.*s: no %s.so or %.*slib%s.so in %s",
                      (int)nlen, name, rel, dirlen, rel, base, app_path);
        goto done;
    }
    void *h;
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

weft_err weft__resolve_function(weft__app *app, const char *name, weft_task_fn *fn, char *err)
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
    if (!f) {
        void *sym = NULL;
        if (!(e = weft__resolve_symbol(app, name, &sym, err))) f = (weft_task_fn)sym;
    }
    if (!e) *fn = f;
    free(plain);
    return e;
}
