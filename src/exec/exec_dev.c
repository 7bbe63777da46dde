/* SPDX-License-Identifier: MIT */
/*
 * exec_dev.c - the development executor: jobs run one by one, in the
 * orchestrator's (the submitting caller's) thread, as Taipy's development
 * mode does.  dispatch() only queues; step() does one unit of work so that
 * the orchestrator can commit and announce RUNNING before the job starts:
 * the first step of a job reports it RUNNING, the next one runs it with
 * weft__run_job() and reports the result.  While it runs, the runner polls
 * the orchestrator's cancel hook (cancel flags, interrupt, cancel requests
 * recorded in the store by other processes).
 */
#include "exec/executor.h"
#include "util/defaults.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

typedef struct dev_item {
    weft__job_spec spec;
    bool announced; /* RUNNING reported */
    bool canceled;
    struct dev_item *next;
} dev_item;

typedef struct dev_exec {
    weft__executor base;
    weft__poll_cancel_fn poll;
    void *poll_ud;
    dev_item *head, *tail;
    dev_item *running; /* the item weft__run_job() is running */
    bool stopped;
} dev_exec;

static weft_err dev_start(weft__executor *ex, char *err)
{
    (void)ex;
    (void)err;
    return WEFT_OK;
}

static weft_err dev_dispatch(weft__executor *ex, const weft__job_spec *spec, char *err)
{
    dev_exec *d = (dev_exec *)ex;
    if (d->stopped)
        return weft__err(err, WEFT_ESTATE, "job %s: the executor is stopped", spec->job_id);
    dev_item *it = calloc(1, sizeof *it);
    if (!it) return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", spec->job_id);
    if (weft__job_spec_copy(&it->spec, spec) != WEFT_OK) {
        free(it);
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", spec->job_id);
    }
    if (d->tail)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
    return WEFT_OK;
}

static void dev_cancel(weft__executor *ex, const char *job_id)
{
    dev_exec *d = (dev_exec *)ex;
    for (dev_item *it = d->head; it; it = it->next)
        if (strcmp(it->spec.job_id, job_id) == 0) it->canceled = true;
}

static bool hook_canceled(void *ud)
{
    dev_exec *d = ud;
    if (!d->running) return false;
    if (d->running->canceled) return true;
    if (d->poll && d->poll(d->poll_ud, d->running->spec.job_id)) d->running->canceled = true;
    return d->running->canceled;
}

static void pop_head(dev_exec *d)
{
    dev_item *it = d->head;
    d->head = it->next;
    if (!d->head) d->tail = NULL;
    weft__job_spec_release(&it->spec);
    free(it);
}

static void report_canceled(dev_exec *d, dev_item *it, const char *why)
{
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    res.status = WEFT_JOB_CANCELED;
    res.error = weft__strdup(why);
    weft__report_finished(d->base.reports, it->spec.job_id, it->spec.attempt, &res, 0);
}

static bool dev_step(weft__executor *ex)
{
    dev_exec *d = (dev_exec *)ex;
    dev_item *it = d->head;
    if (!it) return false;
    if (it->canceled) {
        report_canceled(d, it, "canceled before it started");
        pop_head(d);
        return true;
    }
    if (!it->announced) {
        it->announced = true;
        if (weft__report_running(d->base.reports, it->spec.job_id, it->spec.attempt, "local", 0,
                                 0) != WEFT_OK) {
            weft__job_result res = WEFT__JOB_RESULT_INIT;
            res.error = weft__strdup("out of memory");
            weft__report_finished(d->base.reports, it->spec.job_id, it->spec.attempt, &res, 0);
            pop_head(d);
        }
        return true;
    }
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    weft__run_hooks hooks = {.canceled = hook_canceled, .progress = NULL, .ud = d};
    d->running = it;
    weft_err e = weft__run_job(d->base.app, &it->spec, &hooks, &res);
    d->running = NULL;
    if (e != WEFT_OK) {
        weft__job_result_release(&res);
        res.status = WEFT_JOB_FAILED;
        res.error = weft__strdup(weft_strerror(e));
    } else if (it->canceled && res.status == WEFT_JOB_FAILED) {
        /* Stopped on request: a function that noticed and failed, a command
         * killed by SIGTERM.  Report what was asked for. */
        res.status = WEFT_JOB_CANCELED;
    }
    weft__report_finished(d->base.reports, it->spec.job_id, it->spec.attempt, &res, 0);
    pop_head(d);
    /* Announce the next queued job now: its RUNNING and this result are
     * then stored by the same commit (one fsync per job, not two). */
    if (d->head && !d->head->canceled && !d->head->announced &&
        weft__report_running(d->base.reports, d->head->spec.job_id, d->head->spec.attempt,
                             "local", 0, 0) == WEFT_OK)
        d->head->announced = true;
    return true;
}

static void dev_stop(weft__executor *ex, bool cancel_running)
{
    dev_exec *d = (dev_exec *)ex;
    d->stopped = true;
    if (cancel_running)
        for (dev_item *it = d->head; it; it = it->next) it->canceled = true;
}

static void dev_free(weft__executor *ex)
{
    dev_exec *d = (dev_exec *)ex;
    if (!d) return;
    while (d->head) pop_head(d);
    free(d);
}

static const weft__executor_ops dev_ops = {
    .name = WEFT__MODE_DEVELOPMENT,
    .start = dev_start,
    .dispatch = dev_dispatch,
    .cancel = dev_cancel,
    .step = dev_step,
    .stop = dev_stop,
    .free = dev_free,
};

weft_err weft__exec_dev_new(weft__app *app, weft__reports *reports,
                            weft__poll_cancel_fn poll, void *poll_ud,
                            weft__executor **out, char *err)
{
    dev_exec *d = weft__executor_alloc(sizeof *d, &dev_ops, app, reports, err);
    if (!d) return WEFT_ENOMEM;
    d->poll = poll;
    d->poll_ud = poll_ud;
    *out = &d->base;
    return WEFT_OK;
}
