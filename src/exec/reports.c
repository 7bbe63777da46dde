/* SPDX-License-Identifier: MIT */
/*
 * reports.c - the queue through which executors report to the orchestrator
 * (see executor.h): any thread pushes "running" and "finished" reports, the
 * orchestrator's thread takes them all at once and applies them as one
 * batch, so a burst of results from many workers costs one commit.
 */
#include "exec/executor.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

weft_err weft__reports_init(weft__reports *q)
{
    q->head = q->tail = NULL;
    q->woken = false;
    if (pthread_mutex_init(&q->mu, NULL) != 0) return WEFT_ENOMEM;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        pthread_mutex_destroy(&q->mu);
        return WEFT_ENOMEM;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        pthread_mutex_destroy(&q->mu);
        return WEFT_ENOMEM;
    }
    return WEFT_OK;
}

void weft__report_free(weft__report *r)
{
    if (!r) return;
    free(r->job_id);
    free(r->worker);
    weft__job_result_release(&r->result);
    free(r);
}

void weft__reports_destroy(weft__reports *q)
{
    weft__report *r = q->head;
    while (r) {
        weft__report *next = r->next;
        weft__report_free(r);
        r = next;
    }
    q->head = q->tail = NULL;
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
}

static void push(weft__reports *q, weft__report *r)
{
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

weft_err weft__report_running(weft__reports *q, const char *job_id, int attempt,
                              const char *worker, int64_t ran_us, uint64_t token)
{
    weft__report *r = calloc(1, sizeof *r);
    if (!r) return WEFT_ENOMEM;
    weft__job_result init = WEFT__JOB_RESULT_INIT;
    r->result = init;
    r->kind = WEFT__REPORT_RUNNING;
    r->attempt = attempt;
    r->ran_us = ran_us > 0 ? ran_us : 0;
    r->token = token;
    r->job_id = weft__strdup(job_id);
    r->worker = weft__strdup(worker ? worker : "local");
    if (!r->job_id || !r->worker) {
        weft__report_free(r);
        return WEFT_ENOMEM;
    }
    push(q, r);
    return WEFT_OK;
}

weft_err weft__report_finished(weft__reports *q, const char *job_id, int attempt,
                               weft__job_result *res, uint64_t token)
{
    weft__job_result init = WEFT__JOB_RESULT_INIT;
    weft__report *r = calloc(1, sizeof *r);
    if (r) r->job_id = weft__strdup(job_id);
    if (!r || !r->job_id) {
        free(r);
        weft__job_result_release(res);
        return WEFT_ENOMEM;
    }
    r->kind = WEFT__REPORT_FINISHED;
    r->attempt = attempt;
    r->token = token;
    r->result = *res;
    *res = init;
    push(q, r);
    return WEFT_OK;
}

weft__report *weft__reports_take(weft__reports *q)
{
    pthread_mutex_lock(&q->mu);
    weft__report *r = q->head;
    q->head = q->tail = NULL;
    q->woken = false;
    pthread_mutex_unlock(&q->mu);
    return r;
}

void weft__reports_wait(weft__reports *q, int64_t timeout_ms)
{
    struct timespec ts = weft__mono_deadline(timeout_ms * 1000000);
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->woken) {
        if (pthread_cond_timedwait(&q->cond, &q->mu, &ts) == ETIMEDOUT) break;
    }
    q->woken = false;
    pthread_mutex_unlock(&q->mu);
}

void weft__reports_wake(weft__reports *q)
{
    pthread_mutex_lock(&q->mu);
    q->woken = true;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->mu);
}
