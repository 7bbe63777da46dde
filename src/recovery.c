/*
 * recovery.c - what a read-write orchestrator does on opening with jobs a
 * dead orchestrator left unfinished.  Development and standalone mode lose
 * their running jobs with the process: a RUNNING job becomes FAILED
 * ("orchestrator stopped while the job ran"), its downstream jobs
 * ABANDONED, and the other unfinished jobs of those submissions ABANDONED
 * ("orchestrator stopped before the job ran").  Cluster mode will resume
 * instead (its workers outlive the orchestrator): that is a separate step
 * chosen by mode in weft__recover().
 *
 * Cost: one indexed query for the unfinished jobs (a partial index on
 * status), one per failed job for its dependents, one update per job.
 */
#define _GNU_SOURCE /* asprintf */
#include "orchestrator_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_RAN "orchestrator stopped while the job ran"
#define WHY_QUEUED "orchestrator stopped before the job ran"

typedef struct rjob {
    weft__store_unfinished *u;
    bool done;
} rjob;

/* Row number -> index in the unfinished list (sorted by seq). */
static ptrdiff_t find_seq(const weft__store_unfinished *u, size_t n, int64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && u[lo].seq == seq ? (ptrdiff_t)lo : -1;
}

static weft_err set(weft_orchestrator *o, weft__store_unfinished *u, bool *done, int to,
                    const char *why, int64_t at, char *err)
{
    if (!weft_job_transition_ok((weft_job_status)u->status, (weft_job_status)to))
        return weft__err(err, WEFT_ESTATE, "recovery: job %s: illegal status change %s -> %s",
                         u->id, weft_job_status_name((weft_job_status)u->status),
                         weft_job_status_name((weft_job_status)to));
    weft_err e = weft__store_job_status(o->store, u->seq, to, at, why, err);
    if (!e) {
        u->status = to;
        *done = true;
    }
    return e;
}

static weft_err fail_unfinished(weft_orchestrator *o, char *err)
{
    weft__store_unfinished *u = NULL;
    size_t n = 0;
    weft_err e = weft__store_unfinished_jobs(o->store, &u, &n, err);
    if (e || n == 0) {
        weft__store_unfinished_free(u, n);
        return e;
    }
    bool *done = calloc(n, sizeof *done);
    size_t *work = calloc(n, sizeof *work);
    char *why = NULL;
    if (!done || !work) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    if ((e = weft__store_begin(o->store, err))) goto out;
    int64_t at = weft__now_us();
    /* 1. Jobs that were running failed with the process. */
    for (size_t i = 0; i < n && !e; i++)
        if (u[i].status == WEFT_JOB_RUNNING)
            e = set(o, &u[i], &done[i], WEFT_JOB_FAILED, WHY_RAN, at, err);
    /* 2. Their downstream, transitively, is abandoned because of them. */
    for (size_t i = 0; i < n && !e; i++) {
        if (!done[i] || u[i].status != WEFT_JOB_FAILED) continue;
        free(why);
        if (asprintf(&why, "upstream job %s failed", u[i].id) < 0) {
            why = NULL;
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        size_t nwork = 0;
        work[nwork++] = i;
        while (nwork && !e) {
            size_t x = work[--nwork];
            int64_t *down = NULL;
            size_t nd = 0;
            if ((e = weft__store_job_downstream(o->store, u[x].seq, &down, &nd, err))) break;
            for (size_t k = 0; k < nd && !e; k++) {
                ptrdiff_t d = find_seq(u, n, down[k]);
                if (d < 0 || done[d] || u[d].status == WEFT_JOB_RUNNING) continue;
                e = set(o, &u[d], &done[d], WEFT_JOB_ABANDONED, why, at, err);
                if (!e) work[nwork++] = (size_t)d;
            }
            free(down);
        }
    }
    /* 3. Everything else that was waiting will not run either. */
    for (size_t i = 0; i < n && !e; i++)
        if (!done[i]) e = set(o, &u[i], &done[i], WEFT_JOB_ABANDONED, WHY_QUEUED, at, err);
    /* 4. Their submissions' statuses and finish times. */
    weft__strmap seen = WEFT__STRMAP_INIT;
    for (size_t i = 0; i < n && !e; i++) {
        if (weft__strmap_get(&seen, u[i].submission_id)) continue;
        if (weft__strmap_put(&seen, u[i].submission_id, &u[i]))
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        else
            e = weft__store_submission_refresh(o->store, u[i].submission_id, at, err);
    }
    weft__strmap_release(&seen);
    if (!e) e = weft__store_commit(o->store, err);
    if (e) weft__store_rollback(o->store);
out:
    free(why);
    free(work);
    free(done);
    weft__store_unfinished_free(u, n);
    return e;
}

weft_err weft__recover(weft_orchestrator *o, char *err)
{
    weft_err e;
    switch (o->mode) {
    case WEFT_MODE_CLUSTER:
        /* Until cluster mode resumes its jobs, it recovers like the others. */
    case WEFT_MODE_DEVELOPMENT:
    case WEFT_MODE_STANDALONE:
    default:
        e = fail_unfinished(o, err);
        break;
    }
    if (e) return e;
    /* Requests for jobs that are now final are moot. */
    if ((e = weft__store_begin(o->store, err))) return e;
    int64_t last = 0;
    if ((e = weft__store_cancel_poll(o->store, 0, NULL, NULL, &last, err)) ||
        (e = weft__store_cancel_done(o->store, last, weft__now_us(), err)) ||
        (e = weft__store_commit(o->store, err))) {
        weft__store_rollback(o->store);
        return e;
    }
    o->cancel_seq = last;
    return WEFT_OK;
}
