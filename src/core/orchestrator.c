/* SPDX-License-Identifier: MIT */
/*
 * orchestrator.c - the orchestrator's life cycle and its loop: opening (the
 * storage folder's lock, the store, recovery), the executor, subscribers,
 * and the loop that applies executor reports, cancel requests and
 * interrupts, skips or dispatches ready jobs, commits each step as one
 * transaction and only then tells subscribers.
 *
 * Every job status change goes through weft__orch_set_status(), which
 * refuses what weft_job_transition_ok() forbids; what follows a job's end
 * (abandoning its downstream, releasing its outputs' edit locks, making
 * unblocked jobs PENDING) is weft__orch_job_ended(), O(edges touched).
 */
#define _GNU_SOURCE /* asprintf */
#include "core/orchestrator_internal.h"
#include "util/defaults.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CANCEL_POLL_NS (100 * 1000000LL) /* cancel requests from other processes */
#define LOOP_WAIT_MS 50                  /* longest sleep of the loop (interrupt checks) */

/* ---- submissions in memory ---- */

void weft__sub_free(weft__sub *s)
{
    if (!s) return;
    for (size_t i = 0; s->jobs && i < s->njobs; i++) {
        weft__job_spec_release(&s->jobs[i].spec);
        free(s->jobs[i].down);
    }
    free(s->jobs);
    free(s->id);
    free(s->entity_id);
    free(s->entity_config_id);
    free(s);
}

void weft__sub_unref(weft_orchestrator *o, weft__sub *s)
{
    (void)o;
    if (s && --s->refs == 0) weft__sub_free(s);
}

weft_err weft__sub_link(weft_orchestrator *o, weft__sub *s)
{
    if (weft__strmap_put(&o->subs, s->id, s)) return WEFT_ENOMEM;
    s->next = o->live;
    if (o->live) o->live->prev = s;
    o->live = s;
    return WEFT_OK;
}

weft_err weft__ready_push(weft_orchestrator *o, weft__sub *s, size_t job)
{
    if (o->ready_len == o->ready_cap) {
        /* Full ring: [head, old) then [0, head).  Growing at least doubles
         * it, so the wrapped part fits after the old end, which makes the
         * entries contiguous from head again. */
        size_t old = o->ready_cap;
        if (WEFT__GROW(o->ready, old + 1, o->ready_cap)) return WEFT_ENOMEM;
        memcpy(o->ready + old, o->ready, o->ready_head * sizeof *o->ready);
    }
    o->ready[(o->ready_head + o->ready_len) % o->ready_cap] = (weft__ready){s, job};
    o->ready_len++;
    s->refs++;
    return WEFT_OK;
}

static bool ready_pop(weft_orchestrator *o, weft__ready *out)
{
    if (!o->ready_len) return false;
    *out = o->ready[o->ready_head];
    o->ready_head = (o->ready_head + 1) % o->ready_cap;
    o->ready_len--;
    return true;
}

/* ---- transactions and events ---- */

static void drop_handover(weft_orchestrator *o)
{
    for (size_t i = 0; i < o->nhandover; i++) weft__sub_unref(o, o->handover[i].sub);
    o->nhandover = 0;
}

/*
 * The store failed: memory and store disagree from now on, and nothing more
 * may run unrecorded.  What the failed transaction would have handed over
 * is dropped, and the executor stops, canceling the jobs that run and
 * dropping those it queued.  Each of them is recorded as handed over (that
 * commit came before its hand-over), so recovery never calls it unstarted.
 */
static void halt(weft_orchestrator *o)
{
    o->broken = true;
    drop_handover(o);
    if (o->ex) o->ex->ops->stop(o->ex, true);
}

static weft_err queue_event(weft_orchestrator *o, weft__sub *s, ptrdiff_t job,
                            weft_job_status js, const char *error, int64_t at)
{
    if (!o->nsubs_cb) return WEFT_OK; /* nobody listens: nothing to keep */
    if (WEFT__GROW(o->events, o->nevents + 1, o->capevents))
        return WEFT_ENOMEM;
    weft__pending_event *ev = &o->events[o->nevents];
    ev->sub = s;
    ev->job = job;
    ev->job_status = js;
    ev->sub_status = s->status;
    ev->at_us = at;
    ev->error = NULL;
    if (error && !(ev->error = strdup(error))) return WEFT_ENOMEM;
    s->refs++;
    o->nevents++;
    return WEFT_OK;
}

static void drop_events(weft_orchestrator *o)
{
    for (size_t i = 0; i < o->nevents; i++) {
        free(o->events[i].error);
        weft__sub_unref(o, o->events[i].sub);
    }
    o->nevents = 0;
}

/* Tells subscribers, after the commit.  A callback may call weft_cancel()
 * or query: both only append to o->cancels or read. */
static void flush_events(weft_orchestrator *o)
{
    /* Take the list: a callback's query cannot add to it, but keep the
     * loop robust if it ever does. */
    weft__pending_event *evs = o->events;
    size_t n = o->nevents;
    o->events = NULL;
    o->nevents = o->capevents = 0;
    for (size_t i = 0; i < n; i++) {
        weft__pending_event *pe = &evs[i];
        weft__job *j = pe->job >= 0 ? &pe->sub->jobs[pe->job] : NULL;
        weft_event ev = {
            .submission_id = pe->sub->id,
            .job_id = j ? j->spec.job_id : NULL,
            .task_config_id = j ? j->spec.task_config_id : NULL,
            .job_status = pe->job_status,
            .submission_status = pe->sub_status,
            .at_us = pe->at_us,
            .error = pe->error,
        };
        for (size_t k = 0; k < o->nsubs_cb; k++) o->subs_cb[k].cb(&ev, o->subs_cb[k].ud);
    }
    for (size_t i = 0; i < n; i++) {
        free(evs[i].error);
        weft__sub_unref(o, evs[i].sub);
    }
    free(evs);
}

weft_err weft__orch_begin(weft_orchestrator *o, char *err)
{
    if (o->in_tx) return WEFT_OK;
    weft_err e = weft__store_begin(o->store, err);
    if (!e) o->in_tx = true;
    return e;
}

weft_err weft__orch_commit(weft_orchestrator *o, char *err)
{
    if (o->in_tx) {
        o->in_tx = false;
        uint64_t token = o->report_token;
        o->report_token = 0;
        weft_err e = weft__store_commit(o->store, err);
        if (e) {
            /* What memory says is no longer what the store says: nothing
             * of this batch is reported, and the handle refuses new work. */
            weft__store_rollback(o->store);
            drop_events(o);
            halt(o);
            return e;
        }
        /* The executor may now forget what it kept for a crash (cluster:
         * it acknowledges the status messages stored by this commit). */
        if (token && o->ex && o->ex->ops->committed) o->ex->ops->committed(o->ex, token);
    }
    flush_events(o);
    return WEFT_OK;
}

void weft__orch_abort(weft_orchestrator *o, bool broken)
{
    o->report_token = 0; /* never acknowledged: redelivered to the next orchestrator */
    if (o->in_tx) {
        weft__store_rollback(o->store);
        o->in_tx = false;
    }
    drop_handover(o); /* their hand-over was not committed */
    if (broken) halt(o);
    drop_events(o);
}

/* A step failed half-way: memory and store may disagree from now on. */
static void abort_tx(weft_orchestrator *o)
{
    weft__orch_abort(o, true);
}

/* ---- status changes ---- */

static void sub_finish(weft_orchestrator *o, weft__sub *s)
{
    s->finished = true;
    /* Leaves the live indexes; memory goes with the last reference. */
    for (size_t i = 0; i < s->njobs; i++) weft__strmap_del(&o->jobs, s->jobs[i].spec.job_id);
    weft__strmap_del(&o->subs, s->id);
    if (s->prev)
        s->prev->next = s->next;
    else
        o->live = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    pthread_cond_broadcast(&o->changed);
    weft__sub_unref(o, s); /* the live list's reference */
}

weft_err weft__orch_queue_created(weft_orchestrator *o, weft__sub *s, int64_t at_us)
{
    if (queue_event(o, s, -1, WEFT_JOB_SUBMITTED, NULL, at_us)) return WEFT_ENOMEM;
    for (size_t k = 0; k < s->njobs; k++)
        if (queue_event(o, s, (ptrdiff_t)k, WEFT_JOB_SUBMITTED, NULL, at_us)) return WEFT_ENOMEM;
    return WEFT_OK;
}

weft_err weft__orch_finish_empty(weft_orchestrator *o, weft__sub *s, char *err)
{
    int64_t at = weft__now_us();
    s->status = weft__submission_status_of_counts(s->count);
    s->finished_us = at;
    weft_err e = weft__store_submission_update(o->store, s->seq, (int)s->status, at, err);
    if (e) return e;
    if (queue_event(o, s, -1, WEFT_JOB_COMPLETED, NULL, at))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    sub_finish(o, s);
    return WEFT_OK;
}

weft_err weft__orch_set_status_at(weft_orchestrator *o, weft__job *j, weft_job_status to,
                                  const char *error, int64_t at_us, char *err)
{
    weft__sub *s = j->sub;
    weft_job_status from = j->status;
    if (!weft_job_transition_ok(from, to))
        return weft__err(err, WEFT_ESTATE, "job %s: illegal status change %s -> %s",
                         j->spec.job_id, weft_job_status_name(from), weft_job_status_name(to));
    int64_t now = weft__now_us();
    int64_t at = at_us < j->status_us ? j->status_us : at_us > now ? now : at_us;
    weft_err e = weft__store_job_status(o->store, j->seq, (int)to, at, error, err);
    if (e) return e;
    j->status = to;
    j->status_us = at;
    s->count[from]--;
    s->count[to]++;
    bool was_final = weft_job_status_is_final(from), final = weft_job_status_is_final(to);
    if (final && !was_final) s->nfinal++;
    weft_submission_status st = weft__submission_status_of_counts(s->count);
    bool sub_changed = st != s->status;
    s->status = st;
    bool finishing = s->nfinal == s->njobs && !s->finished;
    if (sub_changed || finishing) {
        if (finishing) s->finished_us = at;
        e = weft__store_submission_update(o->store, s->seq, (int)st, finishing ? at : 0, err);
        if (e) return e;
    }
    if (queue_event(o, s, (ptrdiff_t)j->index, to, error, at) != WEFT_OK ||
        (sub_changed && queue_event(o, s, -1, to, NULL, at) != WEFT_OK))
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", j->spec.job_id);
    return WEFT_OK;
}

weft_err weft__orch_set_status(weft_orchestrator *o, weft__job *j, weft_job_status to,
                               const char *error, char *err)
{
    return weft__orch_set_status_at(o, j, to, error, weft__now_us(), err);
}

/* Releases the edit locks of j's outputs; jobs waiting only for them become
 * PENDING.  A lock entry leaves memory when its last holder ends. */
static weft_err release_outputs(weft_orchestrator *o, weft__job *j, char *err)
{
    for (size_t i = 0; i < j->spec.noutputs; i++) {
        weft__dnlock *lk = weft__strmap_get(&o->dnlocks, j->spec.outputs[i].id);
        if (!lk || !lk->locks) continue;
        if (--lk->locks) continue;
        weft_err e = WEFT_OK;
        for (size_t k = 0; k < lk->nwaiters; k++) {
            weft__sub *ws = lk->waiters[k].sub;
            weft__job *wj = &ws->jobs[lk->waiters[k].job];
            if (!e && !weft_job_status_is_final(wj->status) && wj->nwait > 0 && --wj->nwait == 0 &&
                wj->status == WEFT_JOB_BLOCKED) {
                e = weft__orch_set_status(o, wj, WEFT_JOB_PENDING, NULL, err);
                if (!e && weft__ready_push(o, ws, wj->index))
                    e = weft__err(err, WEFT_ENOMEM, "job %s: out of memory", wj->spec.job_id);
            }
            weft__sub_unref(o, ws);
        }
        weft__strmap_del(&o->dnlocks, lk->id);
        free(lk->waiters);
        free(lk->id);
        free(lk);
        if (e) return e;
    }
    return WEFT_OK;
}

/* Makes a job final from the orchestrator's side (cancel, abandon): a job
 * already handed to the executor is taken back first. */
static void take_back(weft_orchestrator *o, weft__job *j)
{
    if (j->dispatched && o->ex) o->ex->ops->cancel(o->ex, j->spec.job_id);
}

weft_err weft__orch_job_ended(weft_orchestrator *o, weft__job *root, char *err)
{
    /* Iterative: a chain of a million jobs must not recurse a million deep. */
    weft__sub *s = root->sub;
    size_t *work = NULL, nwork = 0, capwork = 0;
    char *why = NULL;
    weft_err e = WEFT_OK;
    if (root->status == WEFT_JOB_FAILED || root->status == WEFT_JOB_CANCELED) {
        if (asprintf(&why, "upstream job %s %s", root->spec.job_id,
                     root->status == WEFT_JOB_FAILED ? "failed" : "was canceled") < 0) {
            why = NULL;
            return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", root->spec.job_id);
        }
    }
    if (WEFT__GROW(work, 1, capwork)) {
        free(why);
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", root->spec.job_id);
    }
    work[nwork++] = root->index;
    while (!e && nwork) {
        weft__job *j = &s->jobs[work[--nwork]];
        if (why) {
            for (size_t k = 0; !e && k < j->ndown; k++) {
                weft__job *d = &s->jobs[j->down[k]];
                if (weft_job_status_is_final(d->status) || d->status == WEFT_JOB_RUNNING) continue;
                take_back(o, d);
                e = weft__orch_set_status(o, d, WEFT_JOB_ABANDONED, why, err);
                if (!e && WEFT__GROW(work, nwork + 1, capwork))
                    e = weft__err(err, WEFT_ENOMEM, "job %s: out of memory", d->spec.job_id);
                if (!e) work[nwork++] = d->index;
            }
        }
        if (!e) e = release_outputs(o, j, err);
    }
    free(work);
    free(why);
    if (!e && s->nfinal == s->njobs && !s->finished) {
        /* The refs of queued events keep s alive until they are told. */
        sub_finish(o, s);
    }
    return e;
}

/* ---- cancel ---- */

static weft_err cancel_job(weft_orchestrator *o, weft__job *j, const char *why, char *err)
{
    if (weft_job_status_is_final(j->status)) return WEFT_OK;
    j->cancel = 1;
    if (j->status == WEFT_JOB_RUNNING || (j->status == WEFT_JOB_PENDING && j->dispatched)) {
        /* The executor stops it and reports it CANCELED. */
        if (o->ex) o->ex->ops->cancel(o->ex, j->spec.job_id);
        return WEFT_OK;
    }
    weft_err e = weft__orch_set_status(o, j, WEFT_JOB_CANCELED, why, err);
    return e ? e : weft__orch_job_ended(o, j, err);
}

weft_err weft__orch_cancel_live(weft_orchestrator *o, const char *id, char *err)
{
    weft__job *j = weft__strmap_get(&o->jobs, id);
    if (j) return cancel_job(o, j, "canceled by request", err);
    weft__sub *s = weft__strmap_get(&o->subs, id);
    if (!s) return WEFT_ENOTFOUND;
    /* Jobs whose upstream is canceled too are left to be ABANDONED by it
     * (at once, or when a running upstream has stopped); a job that still
     * becomes PENDING is canceled at dispatch (s->canceling). */
    bool *below = calloc(s->njobs + 1, sizeof *below);
    if (!below) return weft__err(err, WEFT_ENOMEM, "submission %s: out of memory", s->id);
    s->canceling = true;
    s->refs++; /* canceling its last job finishes it */
    weft_err e = WEFT_OK;
    const char *why = s->interrupted ? "canceled by an interrupt" : "canceled by request";
    for (size_t i = 0; !e && i < s->njobs; i++) {
        weft__job *x = &s->jobs[i];
        if (weft_job_status_is_final(x->status)) continue;
        for (size_t k = 0; k < x->ndown; k++) below[x->down[k]] = true;
        if (!below[i]) e = cancel_job(o, x, why, err);
    }
    free(below);
    weft__sub_unref(o, s);
    return e;
}

static void collect_cancel(void *ud, const char *target)
{
    weft_orchestrator *o = ud;
    char *c = strdup(target);
    if (!c || WEFT__GROW(o->cancels, o->ncancels + 1, o->capcancels)) {
        free(c);
        return; /* seen again at the next poll: requests are marked done below */
    }
    o->cancels[o->ncancels++] = c;
}

/* Reads the cancel requests other processes stored (at most every 100 ms). */
static weft_err poll_store_cancels(weft_orchestrator *o, bool force, char *err)
{
    int64_t now = weft__mono_ns();
    if (!force && now - o->cancel_poll_ns < CANCEL_POLL_NS) return WEFT_OK;
    o->cancel_poll_ns = now;
    int64_t last = o->cancel_seq;
    weft_err e = weft__store_cancel_poll(o->store, o->cancel_seq, collect_cancel, o, &last, err);
    if (e) return e;
    o->cancel_seq = last;
    return WEFT_OK;
}

static weft_err apply_cancels(weft_orchestrator *o, char *err)
{
    weft_err e = WEFT_OK;
    /* A cancel may add entries (it never does today); take the list first. */
    char **v = o->cancels;
    size_t n = o->ncancels;
    o->cancels = NULL;
    o->ncancels = o->capcancels = 0;
    for (size_t i = 0; i < n; i++) {
        if (!e) {
            weft_err ce = weft__orch_cancel_live(o, v[i], err);
            if (ce != WEFT_OK && ce != WEFT_ENOTFOUND) e = ce;
        }
        free(v[i]);
    }
    free(v);
    return e;
}

/* ---- the loop ---- */

static weft_err apply_report(weft_orchestrator *o, weft__report *r, char *err)
{
    weft__job *j = weft__strmap_get(&o->jobs, r->job_id);
    if (!j || weft_job_status_is_final(j->status)) return WEFT_OK; /* late: already decided */
    weft_err e;
    int attempt = r->attempt > j->spec.attempt ? r->attempt : j->spec.attempt;
    if (r->kind == WEFT__REPORT_RUNNING) {
        if (j->status == WEFT_JOB_RUNNING && r->attempt > j->spec.attempt) {
            /* Run again after its worker was lost (cluster): where, which attempt. */
            j->spec.attempt = attempt;
            return weft__store_job_worker(o->store, j->seq, r->worker, attempt, err);
        }
        if (j->status != WEFT_JOB_PENDING) return WEFT_OK;
        j->spec.attempt = attempt;
        /* A late report (a cluster job's RUNNING is sent after a while, or
         * with its result) is dated when the job started. */
        e = weft__orch_set_status_at(o, j, WEFT_JOB_RUNNING, NULL, weft__now_us() - r->ran_us, err);
        return e ? e : weft__store_job_worker(o->store, j->seq, r->worker, attempt, err);
    }
    weft__job_result *res = &r->result;
    weft_job_status to = res->status;
    if (to != WEFT_JOB_COMPLETED && to != WEFT_JOB_FAILED && to != WEFT_JOB_CANCELED)
        to = WEFT_JOB_FAILED;
    if (j->status == WEFT_JOB_PENDING && to != WEFT_JOB_CANCELED) {
        /* Finished without a RUNNING report: it did run. */
        if ((e = weft__orch_set_status(o, j, WEFT_JOB_RUNNING, NULL, err))) return e;
    }
    if ((e = weft__store_job_result(o->store, j->seq, res->exit_code, res->signal, res->log_tail,
                                    err)))
        return e;
    if (to == WEFT_JOB_COMPLETED) {
        int64_t at = weft__now_us();
        for (size_t i = 0; i < j->spec.noutputs; i++) {
            if (res->written && i < res->noutputs && !res->written[i]) continue;
            if ((e = weft__store_dn_edit(o->store, j->spec.outputs[i].id, at, j->spec.job_id, err)))
                return e;
        }
    }
    const char *why = res->error;
    if (!why && to == WEFT_JOB_FAILED) why = "failed";
    if (!why && to == WEFT_JOB_CANCELED) why = "canceled";
    if ((e = weft__orch_set_status(o, j, to, to == WEFT_JOB_COMPLETED ? NULL : why, err))) return e;
    return weft__orch_job_ended(o, j, err);
}

static weft_err apply_reports(weft_orchestrator *o, bool *any, char *err)
{
    weft__report *r = weft__reports_take(&o->reports);
    weft_err e = WEFT_OK;
    *any = r != NULL;
    while (r) {
        weft__report *next = r->next;
        if (r->token > o->report_token) o->report_token = r->token;
        if (!e) e = apply_report(o, r, err);
        weft__report_free(r);
        r = next;
    }
    return e;
}

static weft_err dispatch_one(weft_orchestrator *o, weft__job *j, char *err)
{
    weft__sub *s = j->sub;
    weft_err e;
    if (s->canceling) {
        e = weft__orch_set_status(o, j, WEFT_JOB_CANCELED,
                                  s->interrupted ? "canceled by an interrupt" : "canceled by request",
                                  err);
        return e ? e : weft__orch_job_ended(o, j, err);
    }
    if (j->skippable && !s->force) {
        bool skip = false;
        if ((e = weft__should_skip(o, j, &skip, err))) return e;
        if (skip) {
            if ((e = weft__orch_set_status(o, j, WEFT_JOB_SKIPPED, NULL, err))) return e;
            return weft__orch_job_ended(o, j, err);
        }
    }
    /* Durable before the executor sees it (hand_over(), after the commit):
     * whatever happens next, the store never shows a started job as one
     * that never ran.  One column in the step's transaction, no extra fsync. */
    if ((e = weft__store_job_dispatched(o->store, j->seq, weft__now_us(), err))) return e;
    if (WEFT__GROW(o->handover, o->nhandover + 1, o->caphandover))
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", j->spec.job_id);
    o->handover[o->nhandover++] = (weft__ready){s, j->index};
    s->refs++;
    j->dispatched = true;
    return WEFT_OK;
}

/* A job the executor refused failed, with the executor's reason. */
static weft_err refused(weft_orchestrator *o, weft__job *j, const char *why, char *err)
{
    j->dispatched = false;
    weft_err e = weft__orch_begin(o, err);
    if (!e) e = weft__orch_set_status(o, j, WEFT_JOB_RUNNING, NULL, err);
    if (!e) e = weft__orch_set_status(o, j, WEFT_JOB_FAILED, why, err);
    if (!e) e = weft__orch_job_ended(o, j, err);
    if (e) abort_tx(o);
    return e;
}

/* Hands the jobs that the last commit recorded as dispatched to the
 * executor; refusals are stored by one more transaction. */
static weft_err hand_over(weft_orchestrator *o, char *err)
{
    weft__ready *v = o->handover;
    size_t n = o->nhandover;
    o->handover = NULL;
    o->nhandover = o->caphandover = 0;
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < n; i++) {
        weft__job *j = &v[i].sub->jobs[v[i].job];
        char derr[WEFT_ERRBUF_SIZE] = "";
        if (!e && !o->broken && j->status == WEFT_JOB_PENDING &&
            o->ex->ops->dispatch(o->ex, &j->spec, derr) != WEFT_OK)
            e = refused(o, j, derr, err);
        weft__sub_unref(o, v[i].sub);
    }
    free(v);
    return e ? e : weft__orch_commit(o, err);
}

weft_err weft__orch_dispatch_ready(weft_orchestrator *o, char *err)
{
    weft__ready r;
    weft_err e = WEFT_OK;
    while (ready_pop(o, &r)) {
        weft__job *j = &r.sub->jobs[r.job];
        if (!e && j->status == WEFT_JOB_PENDING && !j->dispatched) e = dispatch_one(o, j, err);
        weft__sub_unref(o, r.sub);
    }
    return e;
}

static weft_err check_interrupts(weft_orchestrator *o, char *err)
{
    for (weft__sub *s = o->live, *next; s; s = next) {
        next = s->next;
        /* The flag belongs to the thread whose signal handler sets it: in
         * development mode that is this thread; otherwise the waiting thread
         * reads it and forwards it as interrupt_seen (weft_submission_wait). */
        bool hit = o->has_dispatcher ? s->interrupt_seen : (s->interrupt && *s->interrupt);
        if (hit && !s->interrupted) {
            s->interrupted = true;
            weft_err e = weft__orch_cancel_live(o, s->id, err);
            if (e && e != WEFT_ENOTFOUND) return e;
        }
    }
    return WEFT_OK;
}

/* One step: everything that can be decided now, in one transaction. */
static weft_err iteration(weft_orchestrator *o, bool *progress, char *err)
{
    bool any = false;
    weft_err e = weft__orch_begin(o, err);
    if (!e) e = check_interrupts(o, err);
    if (!e) e = apply_reports(o, &any, err);
    if (!e) e = poll_store_cancels(o, false, err);
    if (!e && o->ncancels) {
        any = true;
        e = apply_cancels(o, err);
        if (!e) e = weft__store_cancel_done(o->store, o->cancel_seq, weft__now_us(), err);
    }
    if (!e) e = check_interrupts(o, err);
    if (!e && o->ready_len) {
        any = true;
        e = weft__orch_dispatch_ready(o, err);
    }
    if (e) {
        abort_tx(o);
        return e;
    }
    *progress = any;
    if ((e = weft__orch_commit(o, err))) return e;
    return o->nhandover ? hand_over(o, err) : WEFT_OK;
}

/* Fully releases o->mu (held `depth` times by this thread) and takes it back. */
static int unlock_all(weft_orchestrator *o)
{
    int depth = o->mu_depth;
    for (int i = 0; i < depth; i++) weft__orch_unlock(o);
    return depth;
}

static void relock(weft_orchestrator *o, int depth)
{
    for (int i = 0; i < depth; i++) weft__orch_lock(o);
}

static bool done_running(weft_orchestrator *o, weft__sub *until)
{
    return until ? until->finished : o->live == NULL;
}

weft_err weft__orch_run(weft_orchestrator *o, weft__sub *until, char *err)
{
    bool was_looping = o->looping;
    pthread_t was_thread = o->loop_thread;
    o->looping = true;
    o->loop_thread = pthread_self();
    weft_err e = WEFT_OK;
    int idle = 0;
    for (;;) {
        bool progress = false;
        if ((e = iteration(o, &progress, err))) break;
        if (done_running(o, until)) break;
        if (o->ex && o->ex->ops->step) {
            int depth = unlock_all(o);
            bool stepped = o->ex->ops->step(o->ex);
            relock(o, depth);
            if (stepped || progress) {
                idle = 0;
                continue;
            }
            /* Nothing queued, nothing ready, nothing reported: in this
             * thread nothing else can make progress.  Do not hang: give
             * other threads' cancels a moment, then cancel what is stuck. */
            if (++idle < 3) {
                depth = unlock_all(o);
                weft__reports_wait(&o->reports, LOOP_WAIT_MS);
                relock(o, depth);
                continue;
            }
            for (weft__sub *s = o->live, *next; s; s = next) {
                next = s->next;
                if (until && s != until) continue;
                if ((e = weft__orch_begin(o, err))) break;
                e = weft__orch_cancel_live(o, s->id, err);
                if (e == WEFT_ENOTFOUND) e = WEFT_OK;
                if (e) {
                    abort_tx(o);
                    break;
                }
                if ((e = weft__orch_commit(o, err))) break;
            }
            if (e) break;
            idle = 0;
        } else {
            int depth = unlock_all(o);
            weft__reports_wait(&o->reports, LOOP_WAIT_MS);
            relock(o, depth);
        }
    }
    o->looping = was_looping;
    o->loop_thread = was_thread;
    return e;
}

/* The development executor's cancel hook, called while a job runs (o->mu
 * not held by this thread then). */
static bool poll_cancel(void *ud, const char *job_id)
{
    weft_orchestrator *o = ud;
    bool stop = false;
    weft__orch_lock(o);
    weft__job *j = weft__strmap_get(&o->jobs, job_id);
    if (j) {
        if (j->cancel) stop = true;
        if (j->sub->interrupt && *j->sub->interrupt) stop = true;
        if (!stop && poll_store_cancels(o, false, NULL) == WEFT_OK) {
            for (size_t i = 0; i < o->ncancels && !stop; i++)
                if (strcmp(o->cancels[i], job_id) == 0 || strcmp(o->cancels[i], j->sub->id) == 0)
                    stop = true;
        }
    }
    weft__orch_unlock(o);
    return stop;
}

/* ---- opening and closing ---- */

static char *path_join(const char *dir, const char *rel)
{
    char *p;
    if (rel[0] == '/') return strdup(rel);
    if (asprintf(&p, "%s/%s", dir, rel) < 0) return NULL;
    return p;
}

static weft_err mkdir_p(const char *path, char *err)
{
    char *p = strdup(path);
    if (!p) return weft__err(err, WEFT_ENOMEM, "out of memory");
    for (char *c = p + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char save = *c;
            *c = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                weft_err e = weft__err(err, WEFT_EIO, "cannot create %s: %s", p, strerror(errno));
                free(p);
                return e;
            }
            *c = save;
            if (!save) break;
        }
    }
    free(p);
    return WEFT_OK;
}

/* Is the pid written in the lock file a live process? */
static bool holder_alive(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    return pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/*
 * Takes the lock.  When it is held although the process that took it is
 * dead, the holders are processes that process forked (a fork server and
 * its workers share the lock's open file description) and are exiting
 * after its crash: wait for them, up to WEFT__LOCK_ORPHAN_WAIT_MS, rather
 * than refuse the folder in the name of a dead pid.  False with errno set.
 */
static bool lock_or_wait(int fd)
{
    for (int waited = 0;; waited += 20) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
        int saved = errno;
        if (saved != EWOULDBLOCK || waited >= WEFT__LOCK_ORPHAN_WAIT_MS || holder_alive(fd)) {
            errno = saved;
            return false;
        }
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The storage folder's lock: flock() on <storage>/lock, held for the
 * handle's life; the holder's pid is written in the file for the message
 * a second orchestrator gets.  The kernel drops it when the process dies,
 * so a crash never leaves a stale lock. */
static weft_err take_lock(weft_orchestrator *o, char *err)
{
    char *path = path_join(o->storage, "lock");
    if (!path) return weft__err(err, WEFT_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        weft_err e = weft__err(err, WEFT_EIO, "cannot open %s: %s", path, strerror(errno));
        free(path);
        return e;
    }
    free(path);
    if (!lock_or_wait(fd)) {
        int saved = errno;
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        if (saved == EWOULDBLOCK) {
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            return weft__err(err, WEFT_EEXIST,
                             "storage folder %s is in use by another weft process (pid %ld)",
                             o->storage_display, pid);
        }
        return weft__err(err, WEFT_EIO, "cannot lock %s: %s", o->storage_display, strerror(saved));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* The lock holds; only the pid in messages is missing. */
    }
    o->lock_fd = fd;
    return WEFT_OK;
}

bool weft__storage_in_use(const weft_orchestrator *o)
{
    if (o->lock_fd >= 0) return true;
    char *path = path_join(o->storage, "lock");
    if (!path) return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return false;
    bool busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return busy;
}

/*
 * "The config must pass weft_config_check()": the check runs here, but it
 * rebuilds the config's effective values, so it must not run while another
 * orchestrator of this process reads the same config (a reader thread's
 * handle, say).  Configs borrowed by open orchestrators are counted here; a
 * config already borrowed was checked by the first open and, by contract,
 * has not changed since.
 */
static pthread_mutex_t borrowed_mu = PTHREAD_MUTEX_INITIALIZER;
static struct borrowed { const weft_config *cfg; int n; } *borrowed;
static size_t nborrowed, capborrowed;

static weft_err config_borrow(const weft_config *cfg, char *err)
{
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&borrowed_mu);
    size_t i = 0;
    while (i < nborrowed && borrowed[i].cfg != cfg) i++;
    if (i < nborrowed) {
        borrowed[i].n++;
    } else if (WEFT__GROW(borrowed, nborrowed + 1, capborrowed)) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else {
        /* Idempotent: it only refreshes values and diagnostics, hence the cast. */
        e = weft_config_check((weft_config *)cfg, err);
        if (e && e != WEFT_ENOMEM) e = WEFT_ECONFIG;
        if (!e) borrowed[nborrowed++] = (struct borrowed){cfg, 1};
    }
    pthread_mutex_unlock(&borrowed_mu);
    return e;
}

static void config_return(const weft_config *cfg)
{
    pthread_mutex_lock(&borrowed_mu);
    for (size_t i = 0; i < nborrowed; i++) {
        if (borrowed[i].cfg != cfg) continue;
        if (--borrowed[i].n == 0) borrowed[i] = borrowed[--nborrowed];
        break;
    }
    if (!nborrowed) {
        free(borrowed);
        borrowed = NULL;
        capborrowed = 0;
    }
    pthread_mutex_unlock(&borrowed_mu);
}

/* The orchestrator's lock (recursive), the development run lock, the
 * "changed" condition (on the monotonic clock its waits use) and the report
 * queue; false, with none of them left, when one cannot be made. */
static bool sync_init(weft_orchestrator *o)
{
    bool have_mu = false, have_run = false, have_cond = false, have_reports = false;
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) == 0) {
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
        have_mu = pthread_mutex_init(&o->mu, &ma) == 0;
        pthread_mutexattr_destroy(&ma);
    }
    have_run = pthread_mutex_init(&o->run_mu, NULL) == 0;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) == 0) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        have_cond = pthread_cond_init(&o->changed, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    have_reports = weft__reports_init(&o->reports) == WEFT_OK;
    if (have_mu && have_run && have_cond && have_reports) return true;
    if (have_mu) pthread_mutex_destroy(&o->mu);
    if (have_run) pthread_mutex_destroy(&o->run_mu);
    if (have_cond) pthread_cond_destroy(&o->changed);
    if (have_reports) weft__reports_destroy(&o->reports);
    return false;
}

/* The absolute application path and storage folder (from the options,
 * else the config, else the defaults), and the folder as configured for
 * messages. */
static weft_err resolve_paths(weft_orchestrator *o, const weft_orchestrator_opts *opts, char *err)
{
    const char *app = opts && opts->application_path ? opts->application_path
                                                      : weft_config_application_path(o->cfg);
    char real[PATH_MAX];
    if (!realpath(app ? app : ".", real))
        return weft__err(err, WEFT_EIO, "application path %s: %s", app ? app : ".",
                         strerror(errno));
    const char *storage = opts && opts->storage_folder ? opts->storage_folder
                                                        : weft_config_storage_folder(o->cfg);
    if (!storage || !*storage) storage = WEFT__DEFAULT_STORAGE_FOLDER;
    if (!(o->app_path = strdup(real)) || !(o->storage_display = strdup(storage)) ||
        !(o->storage = path_join(real, storage)))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    for (size_t l = strlen(o->storage); l > 1 && o->storage[l - 1] == '/';) o->storage[--l] = '\0';
    return WEFT_OK;
}

weft_err weft_orchestrator_open(const weft_config *cfg, const weft_orchestrator_opts *opts,
                                weft_orchestrator **out, char *err)
{
    if (!cfg || !out) return weft__err(err, WEFT_EINVAL, "weft_orchestrator_open: NULL argument");
    *out = NULL;
    weft_err e = config_borrow(cfg, err);
    if (e) return e;
    weft_orchestrator *o = calloc(1, sizeof *o);
    if (!o) {
        config_return(cfg);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    o->cfg = cfg;
    o->mode = weft_config_mode(cfg);
    o->read_only = opts && opts->read_only;
    o->interrupt = opts ? opts->interrupt : NULL;
    if (opts && opts->log)
        o->log = (weft__logger){opts->log, opts->log_userdata, opts->log_level};
    o->lock_fd = -1;
    if (!sync_init(o)) {
        free(o);
        config_return(cfg);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if ((e = resolve_paths(o, opts, err))) goto fail;
    if (!o->read_only) {
        if ((e = mkdir_p(o->storage, err))) goto fail;
        if ((e = take_lock(o, err))) goto fail;
    }
    char *db = path_join(o->storage, WEFT__STORE_FILE);
    if (!db) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    e = weft__store_open(db, o->read_only, &o->store, err);
    free(db);
    if (e) goto fail;
    /* Entities are tagged with the development version until weft_version_set(). */
    if (!o->read_only &&
        (e = weft__store_set_version(o->store, WEFT_DEFAULT_VERSION, "development", err)))
        goto fail;
    if ((e = weft__app_new(cfg, o->app_path, &o->app, err))) goto fail;
    if (!o->read_only && (e = weft__recover(o, err))) goto fail;
    /* Cluster mode resumed submissions: they run on from now on. */
    if (!o->read_only && o->live) {
        weft__orch_lock(o);
        e = weft__orch_ensure_started(o, err);
        weft__orch_unlock(o);
        if (e) goto fail;
    }
    *out = o;
    return WEFT_OK;
fail:
    weft_orchestrator_close(o);
    return e;
}

/*
 * The dispatcher thread of standalone and cluster modes: it runs the loop
 * (drain reports, store them in one transaction, notify, dispatch what
 * became ready) while anything is live, and sleeps on the report queue
 * otherwise.  It exits when stop() asks and nothing is live, or when the
 * store fails (the handle is then broken; waiters are woken and told).
 */
static void *dispatcher_main(void *arg)
{
    weft_orchestrator *o = arg;
    weft__orch_lock(o);
    o->loop_thread = pthread_self();
    while (!o->broken) {
        if (o->live) {
            weft_err e = weft__orch_run(o, NULL, o->dispatcher_err);
            o->looping = true; /* weft__orch_run restores what it found */
            if (e) {
                weft__log(&o->log, WEFT_LOG_ERROR, "orchestrator", "dispatcher stopped: %s",
                          o->dispatcher_err);
                halt(o);
                break;
            }
            continue;
        }
        if (o->dispatcher_quit) break;
        int depth = unlock_all(o);
        weft__reports_wait(&o->reports, LOOP_WAIT_MS);
        relock(o, depth);
    }
    o->dispatcher_done = true;
    pthread_cond_broadcast(&o->changed);
    weft__orch_unlock(o);
    return NULL;
}

static weft_err ensure_started(weft_orchestrator *o, char *err)
{
    if (o->read_only)
        return weft__err(err, WEFT_EMODE, "this orchestrator is read-only (opened for queries)");
    if (o->broken)
        return weft__err(err, WEFT_ESTORE,
                         "the store failed earlier; close and reopen the orchestrator");
    if (o->stopped) return weft__err(err, WEFT_ESTATE, "the orchestrator was stopped");
    if (o->started) return WEFT_OK;
    weft_err e;
    switch (o->mode) {
    case WEFT_MODE_DEVELOPMENT:
        e = weft__exec_dev_new(o->app, &o->reports, poll_cancel, o, &o->ex, err);
        break;
    case WEFT_MODE_STANDALONE:
        e = weft__exec_standalone_new(o->app, &o->reports, weft_config_max_nb_of_workers(o->cfg),
                                      &o->ex, err);
        break;
    case WEFT_MODE_CLUSTER: {
        e = weft__exec_cluster_from_config(o->app, &o->reports, o->cfg, o->storage, &o->ex,
                                           err);
        if (!e && (e = weft__recover_adopt(o, err))) { /* resumed jobs, before start */
            o->ex->ops->free(o->ex);
            o->ex = NULL;
        }
        break;
    }
    default:
        return weft__err(err, WEFT_EMODE, "unknown execution mode %d", (int)o->mode);
    }
    if (e) return e;
    o->ex->log = &o->log;
    o->ex->interrupt = o->interrupt;
    /* The executor starts first: standalone forks its fork server here,
     * while no thread of ours exists yet. */
    if ((e = o->ex->ops->start(o->ex, err))) {
        o->ex->ops->free(o->ex);
        o->ex = NULL;
        return e;
    }
    if (!o->ex->ops->step) {
        /* Executors with threads of their own get a dispatcher thread that
         * runs the loop, so that submit returns at once. */
        o->dispatcher_quit = o->dispatcher_done = false;
        o->looping = true; /* from now on, only the dispatcher runs the loop */
        int rc = pthread_create(&o->dispatcher, NULL, dispatcher_main, o);
        if (rc != 0) {
            o->looping = false;
            o->ex->ops->stop(o->ex, true);
            o->ex->ops->free(o->ex);
            o->ex = NULL;
            return weft__err(err, WEFT_ENOMEM, "cannot start the dispatcher thread: %s",
                             strerror(rc));
        }
        o->has_dispatcher = true;
    }
    o->started = true;
    return WEFT_OK;
}

weft_err weft_orchestrator_start(weft_orchestrator *o, char *err)
{
    if (!o) return weft__err(err, WEFT_EINVAL, "weft_orchestrator_start: NULL orchestrator");
    weft__orch_lock(o);
    weft_err e = ensure_started(o, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft__orch_ensure_started(weft_orchestrator *o, char *err)
{
    return ensure_started(o, err);
}

weft_err weft_orchestrator_stop(weft_orchestrator *o, bool cancel_running, char *err)
{
    if (!o) return WEFT_OK;
    weft_err e = WEFT_OK;
    weft__orch_lock(o);
    if (o->started && !o->stopped) {
        if (cancel_running) {
            for (weft__sub *s = o->live; s; s = s->next) {
                s->canceling = true;
                for (size_t i = 0; i < s->njobs; i++) s->jobs[i].cancel = 1;
                char *id = strdup(s->id);
                if (id && !WEFT__GROW(o->cancels, o->ncancels + 1, o->capcancels))
                    o->cancels[o->ncancels++] = id;
                else
                    free(id);
            }
            weft__reports_wake(&o->reports);
        }
        if (o->has_dispatcher) {
            /* The dispatcher runs what is left to its end, then exits. */
            o->dispatcher_quit = true;
            weft__reports_wake(&o->reports);
            int depth = unlock_all(o);
            pthread_join(o->dispatcher, NULL);
            relock(o, depth);
            o->has_dispatcher = false;
            o->looping = false;
            if (o->broken) e = weft__err(err, WEFT_ESTORE, "%s", o->dispatcher_err);
        } else if (!o->looping && o->live && !o->broken) {
            /* Run what is left to its end here unless a loop runs elsewhere. */
            e = weft__orch_run(o, NULL, err);
        }
        if (o->ex) o->ex->ops->stop(o->ex, cancel_running);
        o->stopped = true;
    }
    weft__orch_unlock(o);
    return e;
}

static void free_dnlock(void *v, void *ud)
{
    weft__dnlock *lk = v;
    for (size_t i = 0; i < lk->nwaiters; i++) weft__sub_unref(ud, lk->waiters[i].sub);
    free(lk->waiters);
    free(lk->id);
    free(lk);
}

void weft_orchestrator_close(weft_orchestrator *o)
{
    if (!o) return;
    if (o->store && !o->read_only && o->started) weft_orchestrator_stop(o, false, NULL);
    if (o->ex) o->ex->ops->free(o->ex);
    /* Live submissions are pinned and freed last; every other reference
     * (ready queue, events, waiters) is dropped first, which frees the
     * finished submissions only they kept. */
    for (weft__sub *s = o->live; s; s = s->next) s->refs++;
    weft__ready r;
    while (ready_pop(o, &r)) weft__sub_unref(o, r.sub);
    drop_handover(o);
    free(o->handover);
    drop_events(o);
    weft__strmap_each(&o->dnlocks, free_dnlock, o);
    weft__strmap_release(&o->dnlocks);
    weft__strmap_release(&o->jobs);
    weft__strmap_release(&o->subs);
    while (o->live) {
        weft__sub *s = o->live;
        o->live = s->next;
        weft__sub_free(s);
    }
    for (size_t i = 0; i < o->ncancels; i++) free(o->cancels[i]);
    free(o->cancels);
    free(o->ready);
    free(o->events);
    free(o->subs_cb);
    weft__store_close(o->store);
    weft__app_free(o->app);
    if (o->lock_fd >= 0) close(o->lock_fd);
    free(o->app_path);
    free(o->storage);
    free(o->storage_display);
    weft__reports_destroy(&o->reports);
    pthread_cond_destroy(&o->changed);
    pthread_mutex_destroy(&o->run_mu);
    pthread_mutex_destroy(&o->mu);
    config_return(o->cfg);
    free(o);
}

weft_mode weft_orchestrator_mode(const weft_orchestrator *o)
{
    return o ? o->mode : WEFT_MODE_DEVELOPMENT;
}

weft_err weft_subscribe(weft_orchestrator *o, weft_event_cb cb, void *userdata)
{
    if (!o || !cb) return WEFT_EINVAL;
    weft__orch_lock(o);
    weft_err e = WEFT__GROW(o->subs_cb, o->nsubs_cb + 1, o->capsubs_cb);
    if (!e) o->subs_cb[o->nsubs_cb++] = (weft__subscriber){cb, userdata};
    weft__orch_unlock(o);
    return e;
}

/* The "already final" message for a job or submission of the store. */
static weft_err already_final(weft_orchestrator *o, const char *id, char *err)
{
    weft_job_info *ji = NULL;
    weft_err e = weft__store_job_get(o->store, id, &ji, NULL);
    if (e == WEFT_OK) {
        if (weft_job_status_is_final(ji->status)) {
            e = weft__err(err, WEFT_ESTATE, "job %s already %s", id,
                          weft_job_status_name(ji->status));
        } else {
            e = WEFT_OK; /* unfinished: the caller decides */
        }
        weft_job_info_free(ji);
        return e;
    }
    if (e != WEFT_ENOTFOUND) return weft__err(err, e, "cannot read job %s", id);
    weft_submission_info *si = NULL;
    e = weft__store_submission_get(o->store, id, &si, NULL);
    if (e == WEFT_OK) {
        if (si->finished_us)
            e = weft__err(err, WEFT_ESTATE, "submission %s already finished (%s)", id,
                          weft_submission_status_name(si->status));
        weft_submission_info_free(si);
        return e;
    }
    if (e == WEFT_ENOTFOUND) return weft__err(err, e, "no job or submission %s", id);
    return weft__err(err, e, "cannot read submission %s", id);
}

weft_err weft_cancel(weft_orchestrator *o, const char *id, char *err)
{
    if (!o || !id) return weft__err(err, WEFT_EINVAL, "weft_cancel: NULL argument");
    weft_err e;
    weft__orch_lock(o);
    if (o->read_only) {
        /* Another process runs the jobs: leave it a request it polls. */
        if ((e = already_final(o, id, err))) goto out;
        if (!weft__storage_in_use(o)) {
            e = weft__err(err, WEFT_EMODE,
                          "no orchestrator is running on storage folder %s: open it read-write "
                          "to cancel %s",
                          o->storage_display, id);
            goto out;
        }
        if ((e = weft__store_begin(o->store, err))) goto out;
        if ((e = weft__store_cancel_request(o->store, id, weft__now_us(), err)) ||
            (e = weft__store_commit(o->store, err))) {
            weft__store_rollback(o->store);
        }
        goto out;
    }
    weft__job *j = weft__strmap_get(&o->jobs, id);
    weft__sub *s = j ? NULL : weft__strmap_get(&o->subs, id);
    if (!j && !s) {
        e = already_final(o, id, err);
        if (!e) /* unfinished in the store but not running here: cannot happen after recovery */
            e = weft__err(err, WEFT_ESTATE, "%s is not running in this orchestrator", id);
        goto out;
    }
    if (j && weft_job_status_is_final(j->status)) {
        e = weft__err(err, WEFT_ESTATE, "job %s already %s", id, weft_job_status_name(j->status));
        goto out;
    }
    if (j) j->cancel = 1;
    if (s)
        for (size_t i = 0; i < s->njobs; i++) s->jobs[i].cancel = 1;
    if (o->looping) {
        /* The loop (maybe this very thread, in a subscriber) applies it. */
        char *c = strdup(id);
        if (!c || WEFT__GROW(o->cancels, o->ncancels + 1, o->capcancels)) {
            free(c);
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto out;
        }
        o->cancels[o->ncancels++] = c;
        weft__reports_wake(&o->reports);
        e = WEFT_OK;
        goto out;
    }
    if ((e = weft__orch_begin(o, err))) goto out;
    if ((e = weft__orch_cancel_live(o, id, err))) {
        abort_tx(o);
        goto out;
    }
    e = weft__orch_commit(o, err);
    /* A job the executor must stop: let the loop collect its report. */
    if (!e && o->live) e = weft__orch_run(o, NULL, err);
out:
    weft__orch_unlock(o);
    return e;
}
