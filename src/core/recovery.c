/* SPDX-License-Identifier: MIT */
/*
 * recovery.c - what a read-write orchestrator does on opening with jobs a
 * dead orchestrator left unfinished.  Development and standalone mode lose
 * their running jobs with the process: a RUNNING job becomes FAILED
 * ("orchestrator stopped while the job ran"), its downstream jobs
 * ABANDONED, and the other unfinished jobs of those submissions ABANDONED:
 * "orchestrator stopped after handing the job over; it may have run" for
 * those whose hand-over to the executor was committed (the orchestrator
 * commits it before the executor sees the job), "orchestrator stopped
 * before the job started" for the others, which never reached an executor.
 *
 * Cluster mode resumes instead: its workers outlive the orchestrator, and
 * the statuses of their jobs wait in the broker's status queue (they are
 * acknowledged only once stored).  Each unfinished submission is rebuilt in
 * memory (weft__submission_load) and is live again: RUNNING jobs are
 * adopted by the cluster executor before it starts (their status messages
 * are then consumed and stored), PENDING ones are dispatched again (the
 * first result wins, later ones are dropped), BLOCKED ones wait for their
 * upstream as usual.  The executor starts when the orchestrator opens.
 *
 * Cost: one indexed query for the unfinished jobs (a partial index on
 * status), one per failed job for its dependents, one update per job;
 * resuming reads each unfinished submission's jobs once.
 */
#define _GNU_SOURCE /* asprintf */
#include "core/orchestrator_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_RAN "orchestrator stopped while the job ran"
#define WHY_HANDED "orchestrator stopped after handing the job over; it may have run"
#define WHY_QUEUED "orchestrator stopped before the job started"

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

static weft_err set(weft_orchestrator *o, weft__store_unfinished *u, bool *done,
                    weft_job_status to, const char *why, int64_t at, char *err)
{
    if (!weft_job_transition_ok(u->status, to))
        return weft__err(err, WEFT_ESTATE, "recovery: job %s: illegal status change %s -> %s",
                         u->id, weft_job_status_name(u->status), weft_job_status_name(to));
    weft_err e = weft__store_job_status(o->store, u->seq, to, at, why, err);
    if (!e) {
        u->status = to;
        *done = true;
    }
    return e;
}

/* How a mode settles the n unfinished jobs u[] (in creation order), with a
 * "settled" flag per job in done[], all zero at first. */
typedef weft_err (*settle_fn)(weft_orchestrator *o, weft__store_unfinished *u, size_t n,
                              bool *done, char *err);

/* Loads the unfinished jobs and, when there are some, settles them. */
static weft_err settle_unfinished(weft_orchestrator *o, settle_fn settle, char *err)
{
    weft__store_unfinished *u = NULL;
    size_t n = 0;
    weft_err e = weft__store_unfinished_jobs(o->store, &u, &n, err);
    if (e || n == 0) {
        weft__store_unfinished_free(u, n);
        return e;
    }
    bool *done = calloc(n, sizeof *done);
    e = done ? settle(o, u, n, done, err) : weft__err(err, WEFT_ENOMEM, "out of memory");
    free(done);
    weft__store_unfinished_free(u, n);
    return e;
}

/* Development and standalone: the jobs died with the orchestrator. */
static weft_err fail_unfinished(weft_orchestrator *o, weft__store_unfinished *u, size_t n,
                                bool *done, char *err)
{
    weft_err e = WEFT_OK;
    size_t *work = calloc(n, sizeof *work);
    char *why = NULL;
    if (!work) {
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
    /* 3. Everything else will not run (again).  A job whose hand-over to
     * the executor was committed may have started before its RUNNING
     * report was stored: say so, never that it did not run. */
    for (size_t i = 0; i < n && !e; i++)
        if (!done[i])
            e = set(o, &u[i], &done[i], WEFT_JOB_ABANDONED,
                    u[i].dispatched_us ? WHY_HANDED : WHY_QUEUED, at, err);
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
    return e;
}

/* A submission that cannot be resumed (its task left the config): its
 * unfinished jobs end as in the other modes, with the reason.  In a
 * transaction. */
static weft_err give_up(weft_orchestrator *o, weft__store_unfinished *u, size_t n, bool *done,
                        const char *sid, const char *reason, char *err)
{
    char *why = NULL;
    if (asprintf(&why, "cannot resume after an orchestrator restart: %s", reason) < 0)
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    int64_t at = weft__now_us();
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < n && !e; i++) {
        if (strcmp(u[i].submission_id, sid) != 0) continue;
        weft_job_status to = u[i].status == WEFT_JOB_RUNNING ? WEFT_JOB_FAILED : WEFT_JOB_ABANDONED;
        e = set(o, &u[i], &done[i], to, why, at, err);
    }
    if (!e) e = weft__store_submission_refresh(o->store, sid, at, err);
    free(why);
    return e;
}

/* Cluster: the jobs' workers outlive the orchestrator; resume. */
static weft_err resume_unfinished(weft_orchestrator *o, weft__store_unfinished *u, size_t n,
                                  bool *done, char *err)
{
    weft__strmap seen = WEFT__STRMAP_INIT;
    weft_err e = weft__orch_begin(o, err);
    if (e) goto out;
    /* Jobs rows are created a submission at a time, so the order of their
     * first unfinished job is the submissions' creation order: the order
     * in which their edit locks were taken. */
    for (size_t i = 0; i < n && !e; i++) {
        const char *sid = u[i].submission_id;
        if (weft__strmap_get(&seen, sid)) continue;
        if (weft__strmap_put(&seen, sid, &u[i])) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        char why[WEFT_ERRBUF_SIZE] = "";
        e = weft__submission_load(o, sid, why);
        if (e == WEFT_ECONFIG) e = give_up(o, u, n, done, sid, why, err);
        else if (e) weft__err(err, e, "resuming submission %s: %s", sid, why);
    }
    if (e)
        weft__orch_abort(o, true);
    else
        e = weft__orch_commit(o, err);
out:
    weft__strmap_release(&seen);
    return e;
}

weft_err weft__recover_adopt(weft_orchestrator *o, char *err)
{
    weft_err e = WEFT_OK;
    for (weft__sub *s = o->live; s && !e; s = s->next)
        for (size_t i = 0; i < s->njobs && !e; i++) {
            weft__job *j = &s->jobs[i];
            if (j->dispatched || (j->status != WEFT_JOB_RUNNING && j->status != WEFT_JOB_PENDING))
                continue;
            /* A PENDING job is dispatched again by the loop; adopting it
             * first keeps the statuses of its earlier copy meanwhile. */
            if (!o->ex->ops->adopt)
                return weft__err(err, WEFT_EMODE, "the %s executor cannot resume jobs",
                                 o->ex->ops->name);
            e = o->ex->ops->adopt(o->ex, j->spec.job_id, j->spec.attempt,
                                  j->status == WEFT_JOB_RUNNING, err);
            if (!e && j->status == WEFT_JOB_RUNNING) j->dispatched = true;
        }
    return e;
}

weft_err weft__recover(weft_orchestrator *o, char *err)
{
    weft_err e;
    switch (o->mode) {
    case WEFT_MODE_CLUSTER:
        /* Cancel requests made while no orchestrator ran are read by the
         * loop (o->cancel_seq 0): their jobs may be live again. */
        return settle_unfinished(o, resume_unfinished, err);
    case WEFT_MODE_DEVELOPMENT:
    case WEFT_MODE_STANDALONE:
    default:
        e = settle_unfinished(o, fail_unfinished, err);
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
