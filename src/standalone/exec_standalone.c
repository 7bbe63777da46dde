/* SPDX-License-Identifier: MIT */
/*
 * exec_standalone.c - the standalone executor: the orchestrator's executor
 * interface (executor.h) over the worker pool (pool.h).  Jobs run in
 * worker processes forked from the embedding program through a fork
 * server; the pool's thread reports "running on pid N" and each job's
 * result into the orchestrator's report queue.
 *
 * start() forks the fork server, so the orchestrator must call it before it
 * creates its own threads, and task functions must be registered with
 * weft_register_function() before weft_orchestrator_start() (or the first
 * submit, which starts it) for workers to see them.
 */
#include "exec/executor.h"
#include "standalone/pool.h"
#include "util/defaults.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sa_exec {
    weft__executor base;
    weft__pool *pool;
    int nworkers;
} sa_exec;

/* A job's pool `job_ud` is its attempt (from the spec), not a pointer. */
static void sa_running(void *ud, void *job_ud, const char *job_id, pid_t pid)
{
    sa_exec *x = ud;
    char worker[32];
    snprintf(worker, sizeof worker, "pid %d", (int)pid);
    weft__report_running(x->base.reports, job_id, (int)(intptr_t)job_ud, worker, 0, 0);
}

static void sa_finished(void *ud, void *job_ud, const char *job_id, weft__job_result *res)
{
    sa_exec *x = ud;
    weft__report_finished(x->base.reports, job_id, (int)(intptr_t)job_ud, res, 0);
}

static weft_err sa_start(weft__executor *ex, char *err)
{
    sa_exec *x = (sa_exec *)ex;
    if (x->pool) return WEFT_OK;
    weft__pool_opts o = {
        .cfg = weft__app_config(ex->app),
        .application_path = weft__app_path(ex->app),
        .nworkers = x->nworkers,
        .log = ex->log,
        .cbs = {.running = sa_running, .finished = sa_finished, .ud = x},
    };
    return weft__pool_start(&o, &x->pool, err);
}

static weft_err sa_dispatch(weft__executor *ex, const weft__job_spec *spec, char *err)
{
    sa_exec *x = (sa_exec *)ex;
    if (!x->pool) return weft__err(err, WEFT_ESTATE, "the standalone executor is not started");
    return weft__pool_submit(x->pool, spec, (void *)(intptr_t)(spec->attempt > 0 ? spec->attempt : 1),
                             err);
}

static void sa_cancel(weft__executor *ex, const char *job_id)
{
    sa_exec *x = (sa_exec *)ex;
    if (x->pool) weft__pool_cancel(x->pool, job_id, NULL);
}

static void sa_stop(weft__executor *ex, bool cancel_running)
{
    sa_exec *x = (sa_exec *)ex;
    weft__pool_stop(x->pool, cancel_running);
}

static void sa_free(weft__executor *ex)
{
    sa_exec *x = (sa_exec *)ex;
    weft__pool_free(x->pool);
    free(x);
}

static const weft__executor_ops sa_ops = {
    .name = WEFT__MODE_STANDALONE,
    .start = sa_start,
    .dispatch = sa_dispatch,
    .cancel = sa_cancel,
    .step = NULL,
    .stop = sa_stop,
    .free = sa_free,
};

weft_err weft__exec_standalone_new(weft__app *app, struct weft__reports *reports, int nworkers,
                                   struct weft__executor **out, char *err)
{
    sa_exec *x = weft__executor_alloc(sizeof *x, &sa_ops, app, reports, err);
    if (!x) return WEFT_ENOMEM;
    x->nworkers = nworkers > 0 ? nworkers : weft_config_max_nb_of_workers(weft__app_config(app));
    *out = &x->base;
    return WEFT_OK;
}
