/*
 * runner.c - running one job to its end (weft__run_job) in an application
 * (weft__app: the config, the application path, the shared objects loaded
 * so far and the in-memory data nodes).  A function task is called with a
 * weft_ctx; a command task is spawned without a shell, its output kept in
 * the log tail, and stopped with SIGTERM then SIGKILL on cancel or timeout.
 * Inputs are checked before and outputs after, so that every failure names
 * what went wrong.
 */
#define _GNU_SOURCE /* asprintf */
#include "job/runner.h"
#include "job/spawn.h"
#include "util/util.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the application ---- */

typedef struct app_module {
    char *path;
    void *handle;
} app_module;

typedef struct app_mem {
    char *id;
    char *data;
    size_t len;
} app_mem;

struct weft__app {
    const weft_config *cfg;
    char *path;
    pthread_mutex_t lock; /* guards mods and mems */
    app_module *mods;
    size_t nmods, capmods;
    app_mem *mems;
    size_t nmems, capmems;
};

weft_err weft__app_new(const weft_config *cfg, const char *application_path, weft__app **out, char *err)
{
    if (!cfg) return weft__err(err, WEFT_EINVAL, "no configuration");
    if (!application_path) application_path = weft_config_application_path(cfg);
    if (!application_path || !*application_path) application_path = ".";
    weft__app *app = calloc(1, sizeof *app);
    if (!app) return weft__err(err, WEFT_ENOMEM, "out of memory");
    app->cfg = cfg;
    if (!(app->path = realpath(application_path, NULL))) {
        weft_err e = errno == ENOMEM ? WEFT_ENOMEM : WEFT_ENOTFOUND;
        weft__err(err, e, "application path %s: %s", application_path, strerror(errno));
        free(app);
        return e;
    }
    pthread_mutex_init(&app->lock, NULL);
    *out = app;
    return WEFT_OK;
}

void weft__app_free(weft__app *app)
{
    if (!app) return;
    for (size_t i = 0; i < app->nmods; i++) {
        dlclose(app->mods[i].handle);
        free(app->mods[i].path);
    }
    for (size_t i = 0; i < app->nmems; i++) {
        free(app->mems[i].id);
        free(app->mems[i].data);
    }
    free(app->mods);
    free(app->mems);
    free(app->path);
    pthread_mutex_destroy(&app->lock);
    free(app);
}

const weft_config *weft__app_config(const weft__app *app) { return app->cfg; }
const char *weft__app_path(const weft__app *app) { return app->path; }

weft_err weft__app_module(weft__app *app, const char *path, void **handle, char *err)
{
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmods; i++) {
        if (strcmp(app->mods[i].path, path) == 0) {
            *handle = app->mods[i].handle;
            goto done;
        }
    }
    if (app->nmods == app->capmods) {
        size_t cap = app->capmods ? app->capmods * 2 : 4;
        app_module *m = realloc(app->mods, cap * sizeof *m);
        if (!m) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto done;
        }
        app->mods = m;
        app->capmods = cap;
    }
    char *p = strdup(path);
    if (!p) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto done;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *d = dlerror();
        e = weft__err(err, WEFT_EIO, "cannot load %s: %s", path, d ? d : "unknown error");
        free(p);
        goto done;
    }
    app->mods[app->nmods].path = p;
    app->mods[app->nmods].handle = h;
    app->nmods++;
    *handle = h;
done:
    pthread_mutex_unlock(&app->lock);
    return e;
}

weft_err weft__app_mem_get(weft__app *app, const char *id, char **data, size_t *len, bool *found)
{
    weft_err e = WEFT_OK;
    *found = false;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmems; i++) {
        if (strcmp(app->mems[i].id, id) == 0) {
            char *d = weft__strndup(app->mems[i].data, app->mems[i].len);
            if (!d) {
                e = WEFT_ENOMEM;
                break;
            }
            *data = d;
            *len = app->mems[i].len;
            *found = true;
            break;
        }
    }
    pthread_mutex_unlock(&app->lock);
    return e;
}

weft_err weft__app_mem_put(weft__app *app, const char *id, const void *data, size_t len)
{
    char *d = weft__strndup(data, len);
    if (!d) return WEFT_ENOMEM;
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&app->lock);
    for (size_t i = 0; i < app->nmems; i++) {
        if (strcmp(app->mems[i].id, id) == 0) {
            free(app->mems[i].data);
            app->mems[i].data = d;
            app->mems[i].len = len;
            d = NULL;
            goto done;
        }
    }
    if (app->nmems == app->capmems) {
        size_t cap = app->capmems ? app->capmems * 2 : 8;
        app_mem *m = realloc(app->mems, cap * sizeof *m);
        if (!m) {
            e = WEFT_ENOMEM;
            goto done;
        }
        app->mems = m;
        app->capmems = cap;
    }
    char *idc = strdup(id);
    if (!idc) {
        e = WEFT_ENOMEM;
        goto done;
    }
    app->mems[app->nmems++] = (app_mem){idc, d, len};
    d = NULL;
done:
    pthread_mutex_unlock(&app->lock);
    free(d);
    return e;
}

/* ---- running a job ---- */

/* What a run produced before it is copied into the result. */
typedef struct outcome {
    weft_job_status status;
    char msg[WEFT__ERROR_MAX];
    bool oom;
} outcome;

static void fail(outcome *o, weft_job_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(outcome *o, weft_job_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    o->status = st;
}

static void fmt_duration(int64_t ms, char *buf, size_t size)
{
    if (ms % 1000 == 0) snprintf(buf, size, "%llds", (long long)(ms / 1000));
    else snprintf(buf, size, "%gs", (double)ms / 1000.0);
}

static void timed_out(outcome *o, const weft__job_spec *spec)
{
    char d[64];
    fmt_duration(spec->timeout_ms, d, sizeof d);
    fail(o, WEFT_JOB_FAILED, "timed out after %s", d);
}

static bool hook_canceled(const weft__run_hooks *h)
{
    return h && h->canceled && h->canceled(h->ud);
}

static void run_function(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                         const char *fname, int64_t deadline, weft__job_result *res, weft__buf *log,
                         outcome *o)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_task_fn fn;
    weft_ctx *ctx = NULL;
    weft_err e = weft__resolve_function(app, fname, &fn, err);
    if (e) {
        o->oom = e == WEFT_ENOMEM;
        fail(o, WEFT_JOB_FAILED, "%s", err);
        return;
    }
    if ((e = weft__ctx_new(app, spec, hooks, res->written, log, deadline, &ctx, err))) {
        o->oom = e == WEFT_ENOMEM;
        fail(o, WEFT_JOB_FAILED, "%s", err);
        return;
    }
    int rc = fn(ctx);
    bool late = deadline && weft__mono_ns() >= deadline;
    if (weft__ctx_timed_out(ctx) || (late && rc != 0)) {
        timed_out(o, spec);
    } else if (rc != 0) {
        const char *m = weft__ctx_fail_message(ctx);
        if (weft__ctx_cancel_requested(ctx)) fail(o, WEFT_JOB_CANCELED, "%s", m ? m : "canceled");
        else if (m) fail(o, WEFT_JOB_FAILED, "%s", m);
        else fail(o, WEFT_JOB_FAILED, "function %s returned %d", fname, rc);
    } else if (late) {
        timed_out(o, spec);
    } else {
        o->status = WEFT_JOB_COMPLETED;
    }
    weft__ctx_free(ctx);
}

/* "{config_id}" in `arg` replaced by that data node's path; other braces
 * are left alone (awk '{print $1}').  NULL on ENOMEM; *bad names a node
 * without a path. */
static char *substitute(const char *arg, const weft__job_spec *spec, const weft__dn_ref **bad)
{
    weft__buf b = WEFT_BUF_INIT;
    const char *p = arg;
    while (*p) {
        const char *open = strchr(p, '{');
        const char *close = open ? strchr(open + 1, '}') : NULL;
        if (!open || !close) {
            if (weft__buf_adds(&b, p)) goto oom;
            break;
        }
        if (weft__buf_add(&b, p, (size_t)(open - p))) goto oom;
        size_t nlen = (size_t)(close - open - 1);
        const weft__dn_ref *ref = NULL;
        for (size_t i = 0; !ref && i < spec->ninputs + spec->noutputs; i++) {
            const weft__dn_ref *r = i < spec->ninputs ? &spec->inputs[i] : &spec->outputs[i - spec->ninputs];
            if (strlen(r->config_id) == nlen && strncmp(r->config_id, open + 1, nlen) == 0) ref = r;
        }
        if (!ref) {
            if (weft__buf_addc(&b, '{')) goto oom;
            p = open + 1;
            continue;
        }
        if (!ref->path) {
            *bad = ref;
            weft__buf_release(&b);
            return NULL;
        }
        if (weft__buf_adds(&b, ref->path)) goto oom;
        p = close + 1;
    }
    return weft__buf_detach(&b, NULL);
oom:
    weft__buf_release(&b);
    return NULL;
}

static void drain(int fd, weft__buf *log, bool *eof)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            weft__tail_add(log, chunk, (size_t)n);
            continue;
        }
        if (n == 0) *eof = true;
        if (n < 0 && errno == EINTR) continue;
        return; /* EAGAIN or an error: nothing more for now */
    }
}

typedef struct out_stat {
    bool existed;
    struct stat st;
} out_stat;

static void run_command(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                        const weft_value *cmd, int64_t deadline, weft__job_result *res,
                        weft__buf *log, outcome *o)
{
    size_t argc = weft_value_len(cmd);
    char **argv = calloc(argc + 1, sizeof *argv);
    out_stat *before = calloc(spec->noutputs + 1, sizeof *before);
    weft__proc proc = WEFT__PROC_INIT;
    char err[WEFT_ERRBUF_SIZE];
    if (!argv || !before) goto oom;
    if (argc == 0) {
        fail(o, WEFT_JOB_FAILED, "task %s: empty command", spec->task_config_id);
        goto done;
    }
    for (size_t i = 0; i < argc; i++) {
        const char *t = weft_value_text(weft_value_at(cmd, i));
        const weft__dn_ref *bad = NULL;
        if (!(argv[i] = substitute(t ? t : "", spec, &bad))) {
            if (!bad) goto oom;
            fail(o, WEFT_JOB_FAILED, "command task %s cannot use data node '%s' (%s): it has no file path",
                 spec->task_config_id, bad->config_id, bad->storage_type ? bad->storage_type : "?");
            goto done;
        }
    }
    for (size_t i = 0; i < spec->noutputs; i++) {
        const weft__dn_ref *r = &spec->outputs[i];
        if (!r->path) {
            fail(o, WEFT_JOB_FAILED, "command task %s cannot write output '%s' (%s): it has no file path",
                 spec->task_config_id, r->config_id, r->storage_type ? r->storage_type : "?");
            goto done;
        }
        before[i].existed = stat(r->path, &before[i].st) == 0;
        if (weft__mkdir_parent(r->path, err)) {
            fail(o, WEFT_JOB_FAILED, "%s", err);
            goto done;
        }
    }

    weft__spawn_opts so = {
        .argv = (const char *const *)argv,
        .cwd = weft__app_path(app),
        .capture_output = true,
    };
    weft_err e = weft__spawn(&so, &proc, err);
    if (e) {
        if (e == WEFT_ENOMEM) goto oom;
        fail(o, WEFT_JOB_FAILED, "%s", err);
        goto done;
    }
    bool eof = false, canceled = false, expired = false;
    int64_t kill_at = 0;
    for (;;) {
        if (!eof) {
            struct pollfd pfd = {proc.out_fd, POLLIN, 0};
            if (poll(&pfd, 1, 50) > 0) drain(proc.out_fd, log, &eof);
        } else {
            poll(NULL, 0, 5);
        }
        if (weft__proc_exited(&proc)) break;
        int64_t now = weft__mono_ns();
        if (!canceled && !expired) {
            if (hook_canceled(hooks)) canceled = true;
            else if (deadline && now >= deadline) expired = true;
            if (canceled || expired) {
                weft__proc_signal(&proc, SIGTERM);
                kill_at = now + 1000000000LL;
            }
        } else if (kill_at && now >= kill_at) {
            weft__proc_signal(&proc, SIGKILL);
            kill_at = 0;
        }
    }
    /* What the child wrote just before it ended is still in the pipe;
     * a grandchild holding the pipe open must not keep us here. */
    if (!eof) drain(proc.out_fd, log, &eof);
    if (canceled || expired) weft__proc_signal(&proc, SIGKILL); /* leftovers of its group */
    weft__proc_wait(&proc, NULL);
    int st = proc.status;
    res->exit_code = weft__status_exit_code(st);
    res->signal = weft__status_signal(st);
    char how[128];
    weft__status_describe(st, how, sizeof how);
    if (canceled) {
        fail(o, WEFT_JOB_CANCELED, "canceled");
    } else if (expired) {
        timed_out(o, spec);
    } else if (st != 0) {
        fail(o, WEFT_JOB_FAILED, "command '%s' %s", argv[0], how);
    } else {
        o->status = WEFT_JOB_COMPLETED;
        for (size_t i = 0; i < spec->noutputs; i++) {
            struct stat now_st;
            const out_stat *b = &before[i];
            res->written[i] = stat(spec->outputs[i].path, &now_st) == 0 &&
                              (!b->existed || now_st.st_ino != b->st.st_ino ||
                               now_st.st_mtim.tv_sec != b->st.st_mtim.tv_sec ||
                               now_st.st_mtim.tv_nsec != b->st.st_mtim.tv_nsec ||
                               now_st.st_size != b->st.st_size);
        }
    }
    goto done;
oom:
    o->oom = true;
done:
    weft__proc_release(&proc);
    for (size_t i = 0; argv && i < argc; i++) free(argv[i]);
    free(argv);
    free(before);
}

weft_err weft__run_job(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                       weft__job_result *res)
{
    *res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    outcome o = {WEFT_JOB_FAILED, "", false};
    weft__buf log = WEFT_BUF_INIT;
    log.max = WEFT__LOG_TAIL_MAX;
    char *section = NULL;
    static const weft__job_spec empty = WEFT__JOB_SPEC_INIT;
    if (!spec->task_config_id || (spec->ninputs && !spec->inputs) || (spec->noutputs && !spec->outputs)) {
        fail(&o, WEFT_JOB_FAILED, "invalid job spec: no task config id or data nodes");
        spec = &empty;
    }
    res->noutputs = spec->noutputs;
    if (!(res->written = calloc(spec->noutputs + 1, sizeof *res->written))) goto oom;
    if (!spec->task_config_id) goto finish;
    if (asprintf(&section, "TASK.%s", spec->task_config_id) < 0) {
        section = NULL;
        goto oom;
    }
    const weft_config *cfg = weft__app_config(app);
    const weft_value *fn = weft_config_lookup(cfg, section, "function");
    const weft_value *cmd = weft_config_lookup(cfg, section, "command");
    const char *fname = weft_value_text(fn);
    int64_t deadline = spec->timeout_ms > 0 ? weft__mono_ns() + spec->timeout_ms * 1000000 : 0;

    if (hook_canceled(hooks)) {
        fail(&o, WEFT_JOB_CANCELED, "canceled before it started");
        goto finish;
    }
    for (size_t i = 0; i < spec->ninputs; i++) {
        const weft__dn_ref *r = &spec->inputs[i];
        if (weft__dn_has_content(app, r)) continue;
        if (r->path) fail(&o, WEFT_JOB_FAILED, "input '%s' (%s) does not exist", r->config_id, r->path);
        else
            fail(&o, WEFT_JOB_FAILED, "input '%s' (%s) has no data", r->config_id,
                 r->storage_type ? r->storage_type : "?");
        goto finish;
    }
    if (fname && *fname) run_function(app, spec, hooks, fname, deadline, res, &log, &o);
    else if (cmd && weft_value_type_of(cmd) == WEFT_VALUE_LIST)
        run_command(app, spec, hooks, cmd, deadline, res, &log, &o);
    else fail(&o, WEFT_JOB_FAILED, "task %s has neither a function nor a command", spec->task_config_id);
    if (o.oom) goto oom;
    if (o.status == WEFT_JOB_COMPLETED) {
        for (size_t i = 0; i < spec->noutputs; i++) {
            if (res->written[i]) continue;
            const weft__dn_ref *r = &spec->outputs[i];
            if (r->path) fail(&o, WEFT_JOB_FAILED, "task did not write output '%s' (%s)", r->config_id, r->path);
            else fail(&o, WEFT_JOB_FAILED, "task did not write output '%s'", r->config_id);
            break;
        }
    }
finish:
    res->status = o.status;
    if (o.status != WEFT_JOB_COMPLETED && !(res->error = strdup(o.msg))) goto oom;
    if (log.len && !(res->log_tail = weft__buf_detach(&log, NULL))) goto oom;
    weft__buf_release(&log);
    free(section);
    return WEFT_OK;
oom:
    weft__buf_release(&log);
    free(section);
    weft__job_result_release(res);
    return WEFT_ENOMEM;
}
