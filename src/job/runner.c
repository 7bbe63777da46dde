/* SPDX-License-Identifier: MIT */
/*
 * runner.c - running one job to its end (weft__run_job) in an application
 * (app.c).  A function task is called with a weft_ctx; a command task is
 * spawned without a shell, its output kept in the log tail, and stopped
 * with SIGTERM then SIGKILL on cancel or timeout.  Inputs are checked
 * before and outputs after, so that every failure names what went wrong.
 * The top of job/: it calls app.c, functions.c, datanode.c, ctx.c and
 * spawn.c, and none of them calls it back.
 */
#define _GNU_SOURCE /* asprintf */
#include "job/runner.h"
#include "job/python.h"
#include "job/spawn.h"
#include "util/defaults.h"
#include "util/util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

void weft__timeout_message(int64_t ms, char *buf, size_t size)
{
    if (ms % 1000 == 0)
        snprintf(buf, size, "timed out after %" PRId64 "s", ms / 1000);
    else
        snprintf(buf, size, "timed out after %gs", (double)ms / 1000.0);
}

static void timed_out(outcome *o, const weft__job_spec *spec)
{
    char msg[64];
    weft__timeout_message(spec->timeout_ms, msg, sizeof msg);
    fail(o, WEFT_JOB_FAILED, "%s", msg);
}

static bool hook_canceled(const weft__run_hooks *h)
{
    return h && h->canceled && h->canceled(h->ud);
}

/* A Python function's run, mapped to the outcome. */
static void run_python(weft__app *app, weft_ctx *ctx, const weft__job_spec *spec,
                       const weft__run_hooks *hooks, const char *fname, int64_t deadline,
                       weft__buf *log, outcome *o)
{
    size_t n = strlen(fname);
    if (n > 9 && strcmp(fname + n - 9, ":function") == 0) n -= 9;
    char *name = weft__strndup(fname, n);
    weft__py_end end;
    if (!name || weft__py_run(app, ctx, spec, hooks, name, deadline, log, &end, o->msg)) {
        o->oom = true;
    } else if (end == WEFT__PY_DONE) {
        o->status = WEFT_JOB_COMPLETED;
    } else if (end == WEFT__PY_EXPIRED) {
        timed_out(o, spec);
    } else {
        o->status = end == WEFT__PY_CANCELED ? WEFT_JOB_CANCELED : WEFT_JOB_FAILED;
        if (end == WEFT__PY_CANCELED) snprintf(o->msg, sizeof o->msg, "canceled");
    }
    free(name);
}

static void run_function(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                         const char *fname, int64_t deadline, weft__job_result *res, weft__buf *log,
                         outcome *o)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_task_fn fn = NULL;
    bool python = false;
    weft_ctx *ctx = NULL;
    weft_err e = weft__resolve_task(app, fname, &fn, &python, err);
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
    if (python) {
        char perr[WEFT_ERRBUF_SIZE];
        if (weft__py_find_module(app, fname, perr) == WEFT_OK)
            run_python(app, ctx, spec, hooks, fname, deadline, log, o);
        else fail(o, WEFT_JOB_FAILED, "%s, and %s", err, perr);
        weft__ctx_free(ctx);
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

/* An output file as it was before the command ran, to tell whether the
 * command wrote it. */
typedef struct out_stat {
    bool existed;
    struct stat st;
} out_stat;

/* argv[0..argc) from the task's `command`, data node ids replaced by paths.
 * false with `o` filled when the command cannot be built. */
static bool command_argv(const weft__job_spec *spec, const weft_value *cmd, size_t argc,
                         char **argv, outcome *o)
{
    if (argc == 0) {
        fail(o, WEFT_JOB_FAILED, "task %s: empty command", spec->task_config_id);
        return false;
    }
    for (size_t i = 0; i < argc; i++) {
        const char *t = weft_value_text(weft_value_at(cmd, i));
        const weft__dn_ref *bad = NULL;
        if ((argv[i] = substitute(t ? t : "", spec, &bad))) continue;
        if (!bad) o->oom = true;
        else
            fail(o, WEFT_JOB_FAILED,
                 "command task %s cannot use data node '%s' (%s): it has no file path",
                 spec->task_config_id, bad->config_id, bad->storage_type ? bad->storage_type : "?");
        return false;
    }
    return true;
}

/* Every output needs a file path; records what is there now in before[] and
 * creates the outputs' folders.  false with `o` filled otherwise. */
static bool prepare_outputs(const weft__job_spec *spec, out_stat *before, outcome *o)
{
    char err[WEFT_ERRBUF_SIZE];
    for (size_t i = 0; i < spec->noutputs; i++) {
        const weft__dn_ref *r = &spec->outputs[i];
        if (!r->path) {
            fail(o, WEFT_JOB_FAILED,
                 "command task %s cannot write output '%s' (%s): it has no file path",
                 spec->task_config_id, r->config_id, r->storage_type ? r->storage_type : "?");
            return false;
        }
        before[i].existed = stat(r->path, &before[i].st) == 0;
        if (weft__mkdir_parent(r->path, err)) {
            fail(o, WEFT_JOB_FAILED, "%s", err);
            return false;
        }
    }
    return true;
}

/* Why a command stopped. */
typedef enum cmd_end { CMD_EXITED, CMD_CANCELED, CMD_EXPIRED } cmd_end;

/* Waits for the command to end, its output into `log`, polling the cancel
 * hook every 50 ms at most; on cancel or deadline, SIGTERM to its group and
 * SIGKILL WEFT__KILL_GRACE_MS later.  Reaps it. */
static cmd_end supervise(weft__proc *proc, const weft__run_hooks *hooks, int64_t deadline,
                         weft__buf *log)
{
    cmd_end end = CMD_EXITED;
    bool eof = false;
    int64_t kill_at = 0;
    for (;;) {
        if (!eof) {
            struct pollfd pfd = {proc->out_fd, POLLIN, 0};
            if (poll(&pfd, 1, 50) > 0) drain(proc->out_fd, log, &eof);
        } else {
            poll(NULL, 0, 5);
        }
        if (weft__proc_exited(proc)) break;
        int64_t now = weft__mono_ns();
        if (end == CMD_EXITED) {
            if (hook_canceled(hooks)) end = CMD_CANCELED;
            else if (deadline && now >= deadline) end = CMD_EXPIRED;
            if (end != CMD_EXITED) {
                weft__proc_signal(proc, SIGTERM);
                kill_at = now + (int64_t)WEFT__KILL_GRACE_MS * 1000000;
            }
        } else if (kill_at && now >= kill_at) {
            weft__proc_signal(proc, SIGKILL);
            kill_at = 0;
        }
    }
    /* What the child wrote just before it ended is still in the pipe;
     * a grandchild holding the pipe open must not keep us here. */
    if (!eof) drain(proc->out_fd, log, &eof);
    if (end != CMD_EXITED) weft__proc_signal(proc, SIGKILL); /* leftovers of its group */
    weft__proc_wait(proc, NULL);
    return end;
}

/* Whether the command replaced or changed an output file. */
static bool output_changed(const char *path, const out_stat *b)
{
    struct stat now;
    return stat(path, &now) == 0 &&
           (!b->existed || now.st_ino != b->st.st_ino ||
            now.st_mtim.tv_sec != b->st.st_mtim.tv_sec ||
            now.st_mtim.tv_nsec != b->st.st_mtim.tv_nsec || now.st_size != b->st.st_size);
}

/* The verdict on a reaped command. */
static void judge_command(const weft__job_spec *spec, const char *prog, const weft__proc *proc,
                          cmd_end end, const out_stat *before, weft__job_result *res,
                          outcome *o)
{
    int st = proc->status;
    res->exit_code = weft__status_exit_code(st);
    res->signal = weft__status_signal(st);
    if (end == CMD_CANCELED) {
        fail(o, WEFT_JOB_CANCELED, "canceled");
    } else if (end == CMD_EXPIRED) {
        timed_out(o, spec);
    } else if (st != 0) {
        char how[128];
        weft__status_describe(st, how, sizeof how);
        fail(o, WEFT_JOB_FAILED, "command '%s' %s", prog, how);
    } else {
        o->status = WEFT_JOB_COMPLETED;
        for (size_t i = 0; i < spec->noutputs; i++)
            res->written[i] = output_changed(spec->outputs[i].path, &before[i]);
    }
}

static void run_command(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                        const weft_value *cmd, int64_t deadline, weft__job_result *res,
                        weft__buf *log, outcome *o)
{
    size_t argc = weft_value_len(cmd);
    char **argv = calloc(argc + 1, sizeof *argv);
    out_stat *before = calloc(spec->noutputs + 1, sizeof *before);
    weft__proc proc = WEFT__PROC_INIT;
    char err[WEFT_ERRBUF_SIZE];
    if (!argv || !before) {
        o->oom = true;
        goto done;
    }
    if (!command_argv(spec, cmd, argc, argv, o) || !prepare_outputs(spec, before, o)) goto done;
    weft__spawn_opts so = {
        .argv = (const char *const *)argv,
        .cwd = weft__app_path(app),
        .capture_output = true,
    };
    weft_err e = weft__spawn(&so, &proc, err);
    if (e == WEFT_ENOMEM) {
        o->oom = true;
    } else if (e) {
        fail(o, WEFT_JOB_FAILED, "%s", err);
    } else {
        cmd_end end = supervise(&proc, hooks, deadline, log);
        judge_command(spec, argv[0], &proc, end, before, res, o);
    }
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
