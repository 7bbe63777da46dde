/* SPDX-License-Identifier: MIT */
/*
 * exec_cluster.c - cluster mode, orchestrator side: the executor that hands
 * jobs to worker services (`weft run-worker`, service.c) through RabbitMQ,
 * speaking the messages of protocol.h.
 *
 * One thread owns the broker connection (rabbitmq-c is not thread-safe and
 * services heartbeats only while called).  dispatch() and cancel() only
 * queue work for it under a mutex and wake it through a pipe.  The thread
 * publishes each job as a persistent message and counts it queued only
 * once the broker confirmed it (at most `window` unconfirmed at a time);
 * it consumes the reply queue and turns status messages into reports,
 * dropping duplicates (a job is reported RUNNING once per attempt and
 * FINISHED once: the first final status wins), and acknowledges a status
 * message only once the orchestrator committed its report
 * (ops->committed); it broadcasts cancels on the control
 * exchange; and when the connection breaks it reconnects with backoff and
 * republishes every job the broker had not confirmed, so nothing confirmed
 * is lost and nothing unconfirmed is forgotten (a job may then be queued
 * twice: delivery is at least once, results are taken once).  A job
 * message carries ids and its task's digest (trust.h), never paths; with
 * [JOB] broker_secret every message out is signed, and a status message
 * without a valid signature is dropped with a log line.
 */
#include "cluster/exec_cluster.h"

#include "cluster/protocol.h"
#include "config/config_internal.h" /* weft__config_connection_env */
#include "exec/executor.h"
#include "util/defaults.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_WINDOW 256
#define STATUS_PREFETCH 512
#define CANCEL_ANSWER_MS 5000 /* stop(cancel): how long running jobs get to answer */

typedef struct cl_job {
    char *job_id;   /* the map key */
    char *msg;      /* the job message until the broker confirmed it (NULL after, or adopted) */
    size_t len;
    int attempt;
    bool confirmed; /* the broker has it (or a worker reported it) */
    bool running;   /* RUNNING reported */
    bool cancel;    /* cancel asked */
    bool adopted;   /* from a previous orchestrator, not (yet) dispatched by this one */
} cl_job;

/* A status delivery to acknowledge once every report queued up to `token`
 * is committed by the orchestrator (see ops->committed). */
typedef struct cl_ack {
    uint64_t tag;
    uint64_t token;
} cl_ack;

/* A publish waiting for its confirm: a job message, or a cancel (job_id NULL). */
typedef struct cl_inflight {
    uint64_t seq;
    char *job_id;
} cl_inflight;

typedef struct cl_exec {
    weft__executor base;
    char *url, *queue, *reply, *control, *ca, *cert, *key;
    char *secret;             /* [JOB] broker_secret, NULL: messages unsigned */
    weft__digests digests;    /* of the app's tasks; under mu */
    int verify_peer, verify_hostname;
    int max_attempts;
    size_t window;

    pthread_mutex_t mu;       /* guards everything down to `thread` */
    weft__strmap jobs;        /* id -> cl_job, dispatched and not reported FINISHED */
    weft__strmap canceled;    /* ids canceled before they ran (value: the id) */
    char **topub;             /* ids to publish (new, or again after a reconnect/nack) */
    size_t ntopub, captopub;
    char **cancels;           /* ids whose cancel is to be broadcast */
    size_t ncancels, capcancels;
    bool started, stopping, quit;
    int64_t cancel_deadline_ns; /* stop(cancel): running jobs not answered by then are reported */
    uint64_t last_token;      /* the token of the last report queued */
    uint64_t durable;         /* reports up to this token are committed */
    /* Status deliveries not yet acknowledged, in delivery order (a ring):
     * acknowledged with one basic.ack (multiple) once their reports are
     * committed, so an orchestrator killed before its commit gets them
     * again on restart.  At most STATUS_PREFETCH entries. */
    cl_ack *acks;
    size_t ack_head, nacks, capacks;

    pthread_t thread;
    int wake[2];
    /* Giving up a connect in progress (an interrupted start, free): the
     * pipe becomes readable for good and the abort shuts down the socket. */
    int abort_pipe[2];
    weft__amqp_abort abort;
    bool connecting;          /* the thread makes its first connection */
    weft_err first_e;         /* ... and how it went, for start() */
    char first_err[WEFT_ERRBUF_SIZE];
    pthread_cond_t first_cv;
    /* Owned by the thread once started. */
    weft__amqp *conn;
    cl_inflight *inf;
    size_t ninf, capinf;
} cl_exec;

/* Appends a copy of `id`; WEFT_ENOMEM leaves the list unchanged.  Every
 * caller handles a failure: a job id dropped from these lists is a job
 * never published or a cancel never sent. */
static weft_err push_id(char ***v, size_t *n, size_t *cap, const char *id)
{
    if (WEFT__GROW(*v, *n + 1, *cap)) return WEFT_ENOMEM;
    char *d = weft__strdup(id);
    if (!d) return WEFT_ENOMEM;
    (*v)[(*n)++] = d;
    return WEFT_OK;
}

static void wake(cl_exec *x)
{
    char b = 1;
    ssize_t r = write(x->wake[1], &b, 1);
    (void)r; /* a full pipe already wakes the thread */
}

static void job_free(cl_job *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->msg);
    free(j);
}

static void report_canceled(cl_exec *x, const char *job_id, const char *why)
{
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    res.status = WEFT_JOB_CANCELED;
    res.error = weft__strdup(why);
    weft__report_finished(x->base.reports, job_id, 0, &res, 0);
}

/* Cancels one job; x->mu held.  A job no worker reported running is
 * finished here (CANCELED) and remembered, so that a worker that starts it
 * anyway (it missed the broadcast) is told again.  A running job whose
 * cancel cannot be queued for broadcast (out of memory) is finished here
 * too, and its worker's later result dropped: a cancel is never lost
 * silently. */
static void cancel_locked(cl_exec *x, cl_job *j)
{
    j->cancel = true;
    bool queued = push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id) == WEFT_OK;
    if (!queued)
        weft__log(x->base.log, WEFT_LOG_ERROR, "cluster",
                  "job %s: out of memory: its cancel cannot be broadcast; finished here", j->job_id);
    /* While the broker is unreachable the worker cannot be told now (the
     * cancel goes out when it is back): the job ends here, so that an
     * interrupted run does not wait for the broker. */
    if (j->running && queued && x->conn) return;
    char *id = weft__strdup(j->job_id);
    if (!id || weft__strmap_put(&x->canceled, id, id) != WEFT_OK) {
        weft__log(x->base.log, WEFT_LOG_ERROR, "cluster",
                  "job %s: out of memory: a worker that starts it anyway is not told again",
                  j->job_id);
        free(id);
    }
    weft__strmap_del(&x->jobs, j->job_id);
    report_canceled(x, j->job_id,
                    !j->running ? "canceled before it started"
                    : queued    ? "canceled while the broker was unreachable; its worker is told "
                                  "when the broker is back"
                                : "canceled; its worker could not be told (out of memory)");
    job_free(j);
}

/* ---- the connection thread ---- */

static weft_err cl_connect(cl_exec *x, weft__amqp **out, char *err)
{
    weft__amqp_opts ao = {.url = x->url, .ca_file = x->ca, .cert_file = x->cert,
                          .key_file = x->key, .verify_peer = x->verify_peer,
                          .verify_hostname = x->verify_hostname, .confirms = true,
                          .name = "weft orchestrator", .abort = &x->abort};
    weft__amqp *c = NULL;
    weft_err e = weft__amqp_open(&ao, &c, err);
    if (e) return e;
    weft__amqp_queue_opts rq = {.durable = true};
    if ((e = weft__cluster_declare(c, x->queue, err)) ||
        (e = weft__amqp_declare_queue(c, x->reply, &rq, NULL, err)) ||
        (e = weft__amqp_qos(c, STATUS_PREFETCH, err)) ||
        (e = weft__amqp_consume(c, x->reply, false, NULL, err))) {
        weft__amqp_close(c);
        return e;
    }
    *out = c;
    return WEFT_OK;
}

static void inflight_clear(cl_exec *x)
{
    for (size_t i = 0; i < x->ninf; i++) free(x->inf[i].job_id);
    x->ninf = 0;
}

/* An allocation failed where dropping something would lose a job or a
 * cancel: say so, and fail the connection, so that the thread reconnects
 * and rebuilds its lists from the jobs map (nothing is forgotten). */
static weft_err oom(cl_exec *x, char *err, const char *what)
{
    weft__log(x->base.log, WEFT_LOG_ERROR, "cluster", "out of memory %s; reconnecting to retry",
              what);
    return weft__err(err, WEFT_ENOMEM, "out of memory %s", what);
}

typedef struct requeue_ctx {
    cl_exec *x;
    weft_err e;
} requeue_ctx;

static void collect_unconfirmed(void *value, void *ud)
{
    requeue_ctx *c = ud;
    cl_job *j = value;
    if (!j->confirmed && j->msg && push_id(&c->x->topub, &c->x->ntopub, &c->x->captopub, j->job_id))
        c->e = WEFT_ENOMEM;
}

/* After a reconnect: the confirms of the old connection will never come,
 * so every job the broker did not confirm is queued to be published
 * again.  x->mu held. */
static weft_err requeue_unconfirmed(cl_exec *x, char *err)
{
    inflight_clear(x);
    for (size_t i = 0; i < x->ntopub; i++) free(x->topub[i]);
    x->ntopub = 0;
    requeue_ctx c = {x, WEFT_OK};
    weft__strmap_each(&x->jobs, collect_unconfirmed, &c);
    return c.e ? oom(x, err, "while queuing unconfirmed jobs again") : WEFT_OK;
}

static weft_err add_inflight(cl_exec *x, uint64_t seq, const char *job_id)
{
    if (WEFT__GROW(x->inf, x->ninf + 1, x->capinf)) return WEFT_ENOMEM;
    char *id = job_id ? weft__strdup(job_id) : NULL;
    if (job_id && !id) return WEFT_ENOMEM;
    x->inf[x->ninf].seq = seq;
    x->inf[x->ninf].job_id = id;
    x->ninf++;
    return WEFT_OK;
}

/* Publishes what is waiting, within the window.  x->mu held. */
static weft_err pump(cl_exec *x, char *err)
{
    weft_err e = WEFT_OK;
    size_t i = 0;
    for (; i < x->ncancels && !e; i++) {
        char *m = NULL;
        size_t len = 0;
        uint64_t seq = 0;
        if ((e = weft__cluster_cancel_encode(x->cancels[i], &m, &len, err)) ||
            (e = weft__msg_seal(x->secret, &m, &len, err))) {
            free(m);
            break;
        }
        e = weft__amqp_publish(x->conn, x->control, "", m, len, false, &seq, err);
        free(m);
        if (!e) e = add_inflight(x, seq, NULL);
        free(x->cancels[i]);
        x->cancels[i] = NULL;
    }
    if (i) memmove(x->cancels, x->cancels + i, (x->ncancels - i) * sizeof *x->cancels);
    x->ncancels -= i;
    if (e) return e;
    i = 0;
    for (; i < x->ntopub && x->ninf < x->window && !e; i++) {
        cl_job *j = weft__strmap_get(&x->jobs, x->topub[i]);
        if (j && j->msg && !j->confirmed) {
            uint64_t seq = 0;
            e = weft__amqp_publish(x->conn, "", x->queue, j->msg, j->len, true, &seq, err);
            if (!e) e = add_inflight(x, seq, j->job_id);
        }
        free(x->topub[i]);
        x->topub[i] = NULL;
    }
    if (i) memmove(x->topub, x->topub + i, (x->ntopub - i) * sizeof *x->topub);
    x->ntopub -= i;
    return e;
}

/* A publisher confirm: the broker took (or refused) messages.  x->mu held.
 * A refused job is queued to be published again. */
static weft_err on_confirm(cl_exec *x, const weft__amqp_event *ev, char *err)
{
    weft_err e = WEFT_OK;
    size_t k = 0;
    for (size_t i = 0; i < x->ninf; i++) {
        cl_inflight *f = &x->inf[i];
        bool covered = ev->multiple ? f->seq <= ev->tag : f->seq == ev->tag;
        if (!covered) {
            x->inf[k++] = *f;
            continue;
        }
        cl_job *j = f->job_id ? weft__strmap_get(&x->jobs, f->job_id) : NULL;
        if (j && !j->confirmed) {
            if (!ev->nack) {
                j->confirmed = true;
                free(j->msg);
                j->msg = NULL;
            } else if (push_id(&x->topub, &x->ntopub, &x->captopub, j->job_id) && !e) {
                e = oom(x, err, "while queuing a refused job again");
            }
        }
        free(f->job_id);
    }
    x->ninf = k;
    return e;
}

/* RUNNING from a worker for a job we track.  x->mu held. */
static weft_err on_running(cl_exec *x, cl_job *j, const weft__cluster_status *s, char *err)
{
    /* A later attempt (its last worker was lost) is reported again: the
     * job shows where it runs now and which attempt it is. */
    bool again = j->running && s->attempt > j->attempt;
    if (s->attempt > j->attempt) j->attempt = s->attempt;
    if (!j->confirmed) { /* a worker has it: no need to publish it again */
        j->confirmed = true;
        free(j->msg);
        j->msg = NULL;
    }
    if (!j->running || again) {
        j->running = true;
        weft__report_running(x->base.reports, j->job_id, j->attempt, s->worker, s->ran_us,
                             ++x->last_token);
    }
    if (j->cancel && push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id))
        return oom(x, err, "while queuing a cancel"); /* its RUNNING comes again */
    return WEFT_OK;
}

/* A status message from a worker.  x->mu held.  An error leaves the
 * message unacknowledged: it comes again after the reconnect. */
static weft_err on_status(cl_exec *x, const weft__amqp_event *ev, char *err)
{
    weft__cluster_status s = WEFT__CLUSTER_STATUS_INIT;
    char why[WEFT_ERRBUF_SIZE];
    char *body = NULL;
    size_t blen = 0;
    if (weft__msg_open(x->secret, ev->body, ev->len, &body, &blen, why) != WEFT_OK) {
        weft__log(x->base.log, WEFT_LOG_WARN, "cluster", "dropped a status message from %s: %s",
                  x->reply, why);
        return WEFT_OK;
    }
    weft_err de = weft__cluster_status_decode(body, blen, &s, why);
    free(body);
    if (de != WEFT_OK) {
        weft__log(x->base.log, WEFT_LOG_WARN, "cluster",
                  "dropped a malformed status message from %s: %s", x->reply, why);
        return WEFT_OK;
    }
    weft_err e = WEFT_OK;
    cl_job *j = weft__strmap_get(&x->jobs, s.job_id);
    if (!j) {
        /* Finished already (a duplicate), or canceled before it ran: a
         * worker that missed the cancel and started it is told again. */
        if (s.status == WEFT_JOB_RUNNING && weft__strmap_get(&x->canceled, s.job_id) &&
            push_id(&x->cancels, &x->ncancels, &x->capcancels, s.job_id))
            e = oom(x, err, "while queuing a cancel");
    } else if (s.status == WEFT_JOB_RUNNING) {
        e = on_running(x, j, &s, err);
    } else {
        weft__strmap_del(&x->jobs, j->job_id);
        if (!j->running || s.attempt > j->attempt)
            weft__report_running(x->base.reports, j->job_id, s.attempt, s.worker, s.ran_us,
                                 ++x->last_token);
        weft__report_finished(x->base.reports, j->job_id, s.attempt, &s.result, ++x->last_token);
        job_free(j);
    }
    weft__cluster_status_release(&s);
    return e;
}

/* Remembers a status delivery, to be acknowledged once every report queued
 * so far is committed (its own, if it made one; for a duplicate, the report
 * of the first copy, which may still be uncommitted).  x->mu held. */
static weft_err ack_later(cl_exec *x, uint64_t tag)
{
    if (x->nacks == x->capacks) {
        size_t old = x->capacks;
        if (WEFT__GROW(x->acks, x->nacks + 1, x->capacks)) return WEFT_ENOMEM;
        /* The ring was full: its wrapped part, before the head, moves to
         * just after the old end (the capacity at least doubled). */
        for (size_t i = 0; i < x->ack_head; i++) x->acks[old + i] = x->acks[i];
    }
    x->acks[(x->ack_head + x->nacks) % x->capacks] = (cl_ack){tag, x->last_token};
    x->nacks++;
    return WEFT_OK;
}

/* Acknowledges, with one basic.ack, the oldest deliveries whose reports are
 * committed.  Amortized O(1) per delivery.  x->mu held. */
static weft_err ack_durable(cl_exec *x, char *err)
{
    uint64_t upto = 0;
    while (x->nacks && x->acks[x->ack_head].token <= x->durable) {
        upto = x->acks[x->ack_head].tag;
        x->ack_head = (x->ack_head + 1) % x->capacks;
        x->nacks--;
    }
    return upto ? weft__amqp_ack_upto(x->conn, upto, err) : WEFT_OK;
}

static void report_left_running(void *value, void *ud)
{
    cl_exec *x = ud;
    cl_job *j = value;
    report_canceled(x, j->job_id, "canceled; its worker did not confirm the stop in time");
    job_free(j);
}

/* Sleeps up to ms, returning early when woken. */
static void nap(cl_exec *x, int ms)
{
    struct pollfd p = {x->wake[0], POLLIN, 0};
    if (poll(&p, 1, ms) > 0) {
        char buf[64];
        while (read(x->wake[0], buf, sizeof buf) > 0) {}
    }
}

/* Drops a broken connection (its unacknowledged deliveries come again on
 * the next one) and schedules a reconnect.  x->mu held, released while
 * closing. */
static void drop_connection(cl_exec *x, weft__reconnect *rc, const char *why)
{
    weft__reconnect_lost(rc, why);
    weft__amqp *c = x->conn;
    x->conn = NULL;
    x->nacks = 0;
    pthread_mutex_unlock(&x->mu);
    weft__amqp_close(c);
    pthread_mutex_lock(&x->mu);
}

/* Without a connection: waits until an attempt is due (woken early by
 * dispatch and cancel, which then find the lists they filled), or makes
 * one.  x->mu held, released while waiting and connecting. */
static void connect_when_due(cl_exec *x, weft__reconnect *rc)
{
    int wait_ms = weft__reconnect_wait_ms(rc);
    pthread_mutex_unlock(&x->mu);
    weft__amqp *c = NULL;
    char err[WEFT_ERRBUF_SIZE];
    weft_err e = WEFT_OK;
    if (wait_ms > 0)
        nap(x, wait_ms);
    else
        e = cl_connect(x, &c, err);
    pthread_mutex_lock(&x->mu);
    if (wait_ms > 0) return;
    if (e) {
        weft__reconnect_failed(rc, err);
        return;
    }
    weft__reconnect_succeeded(rc, weft__amqp_url(c));
    x->conn = c;
    if (requeue_unconfirmed(x, err)) drop_connection(x, rc, err);
}

/* One round on a working connection: publishes what waits, sleeps until
 * the broker or a dispatch has something, handles every event that came
 * (confirms, status messages), and acknowledges the status messages whose
 * reports are committed.  x->mu held, released while sleeping. */
static weft_err serve_round(cl_exec *x, char *err)
{
    weft_err e = pump(x, err);
    if (e) return e;
    pthread_mutex_unlock(&x->mu);
    struct pollfd p = {x->wake[0], POLLIN, 0};
    weft__amqp_poll(x->conn, &p, 1, 1000);
    if (p.revents) {
        char buf[256];
        while (read(x->wake[0], buf, sizeof buf) > 0) {}
    }
    pthread_mutex_lock(&x->mu);
    for (int n = 0; n < 4096 && !e; n++) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        e = weft__amqp_next(x->conn, 0, &ev, err);
        if (e == WEFT_ETIMEDOUT) {
            e = WEFT_OK;
            break;
        }
        if (e) break;
        if (ev.kind == WEFT__AMQP_CONFIRM) {
            e = on_confirm(x, &ev, err);
        } else if (ev.kind == WEFT__AMQP_DELIVERY) {
            e = on_status(x, &ev, err);
            if (!e && ack_later(x, ev.tag)) /* no memory: acknowledge now */
                e = weft__amqp_ack(x->conn, ev.tag, err);
        }
        weft__amqp_event_release(&ev);
    }
    return e ? e : ack_durable(x, err);
}

/* On quit: the last cancels and unconfirmed jobs get a short chance (1 s)
 * to go out and be confirmed, then the connection is closed. */
static void flush_and_close(cl_exec *x)
{
    char err[WEFT_ERRBUF_SIZE];
    pthread_mutex_lock(&x->mu);
    weft__amqp *c = x->conn;
    bool flushed = c && ack_durable(x, err) == WEFT_OK && pump(x, err) == WEFT_OK;
    pthread_mutex_unlock(&x->mu);
    int64_t until = weft__mono_ns() + 1000000000LL;
    while (flushed && x->ninf && weft__mono_ns() < until) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, 100, &ev, err);
        if (e == WEFT_OK && ev.kind == WEFT__AMQP_CONFIRM) {
            pthread_mutex_lock(&x->mu);
            on_confirm(x, &ev, err); /* nothing is published again now */
            pthread_mutex_unlock(&x->mu);
        }
        weft__amqp_event_release(&ev);
        if (e != WEFT_OK && e != WEFT_ETIMEDOUT) break;
    }
    pthread_mutex_lock(&x->mu);
    x->conn = NULL;
    pthread_mutex_unlock(&x->mu);
    weft__amqp_close(c);
}

/* Cuts short a connect in progress, for good (see abort_pipe). */
static void give_up(cl_exec *x)
{
    char b = 1;
    ssize_t r = write(x->abort_pipe[1], &b, 1);
    (void)r; /* a full pipe is readable already */
    weft__amqp_abort_fire(&x->abort);
}

/* The thread that owns the connection: see the top of this file.  Its
 * first connection is start()'s, which waits for it. */
static void *cl_thread(void *arg)
{
    cl_exec *x = arg;
    weft__reconnect rc = WEFT__RECONNECT_INIT(x->base.log, "cluster");
    char err[WEFT_ERRBUF_SIZE] = "connection to the broker lost";
    weft__amqp *c = NULL;
    weft_err e = cl_connect(x, &c, x->first_err);
    pthread_mutex_lock(&x->mu);
    x->conn = c;
    x->first_e = e;
    x->connecting = false;
    pthread_cond_broadcast(&x->first_cv);
    if (e) {
        pthread_mutex_unlock(&x->mu);
        return NULL;
    }
    while (!x->quit) {
        if (x->cancel_deadline_ns && weft__mono_ns() > x->cancel_deadline_ns) {
            weft__strmap_each(&x->jobs, report_left_running, x);
            weft__strmap_release(&x->jobs);
            x->cancel_deadline_ns = 0;
        }
        if (!x->conn) {
            connect_when_due(x, &rc);
            continue;
        }
        if (serve_round(x, err) || weft__amqp_broken(x->conn)) drop_connection(x, &rc, err);
    }
    pthread_mutex_unlock(&x->mu);
    flush_and_close(x);
    return NULL;
}

/* ---- executor ops ---- */

static weft_err cl_start(weft__executor *ex, char *err)
{
    cl_exec *x = (cl_exec *)ex;
    if (x->started) return WEFT_OK;
    weft__amqp_opts ao = {.url = x->url, .ca_file = x->ca, .cert_file = x->cert,
                          .verify_peer = x->verify_peer, .verify_hostname = x->verify_hostname};
    weft__amqp_warn_insecure(&ao, x->base.log, "cluster");
    /* The first connection is waited for here, so that a wrong URL or
     * refused credentials fail the start with the reason instead of
     * retrying in the background.  The thread makes it while this one
     * watches the interrupt flag: a broker that accepts and never answers
     * must not make Ctrl-C wait for the timeouts. */
    x->connecting = true;
    if (pthread_create(&x->thread, NULL, cl_thread, x) != 0)
        return weft__err(err, WEFT_ENOMEM, "cannot start the cluster executor's thread");
    pthread_mutex_lock(&x->mu);
    bool fired = false;
    while (x->connecting) {
        if (!fired && x->base.interrupt && *x->base.interrupt) {
            fired = true;
            give_up(x);
        }
        struct timespec ts = weft__mono_deadline(50 * 1000000LL);
        pthread_cond_timedwait(&x->first_cv, &x->mu, &ts);
    }
    weft_err e = x->first_e;
    pthread_mutex_unlock(&x->mu);
    if (e) {
        pthread_join(x->thread, NULL);
        return weft__err(err, e, "%s", x->first_err);
    }
    if (fired) { /* too late: connected; later reconnects must not give up */
        char buf[64];
        while (read(x->abort_pipe[0], buf, sizeof buf) > 0) {}
    }
    x->started = true;
    /* Once connected: a start that fails says why in one line. */
    if (!x->secret)
        weft__log(x->base.log, WEFT_LOG_WARN, "cluster",
                  "cluster messages are not authenticated: set [JOB] broker_secret");
    return WEFT_OK;
}

/* The job's message, signed: ids and the digest of its task as this
 * orchestrator's config defines it (the worker derives the rest). */
static weft_err job_message(cl_exec *x, const weft__job_spec *spec, cl_job *j, char *err)
{
    if (!x->base.app)
        return weft__err(err, WEFT_EINVAL, "job %s: the cluster executor has no application",
                         spec->job_id);
    char digest[WEFT__DIGEST_HEX + 1];
    pthread_mutex_lock(&x->mu);
    weft_err e = weft__digests_get(&x->digests, weft__app_config(x->base.app),
                                   spec->task_config_id, digest, err);
    pthread_mutex_unlock(&x->mu);
    if (!e)
        e = weft__cluster_job_encode(spec, digest, j->attempt, x->max_attempts, x->reply, &j->msg,
                                     &j->len, err);
    if (!e) e = weft__msg_seal(x->secret, &j->msg, &j->len, err);
    return e;
}

static weft_err cl_dispatch(weft__executor *ex, const weft__job_spec *spec, char *err)
{
    cl_exec *x = (cl_exec *)ex;
    cl_job *j = calloc(1, sizeof *j);
    if (!j || !(j->job_id = weft__strdup(spec->job_id))) {
        free(j);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    j->attempt = spec->attempt > 0 ? spec->attempt : 1;
    weft_err e = job_message(x, spec, j, err);
    if (e) {
        job_free(j);
        return e;
    }
    cl_job *old = NULL;
    bool merged = false;
    pthread_mutex_lock(&x->mu);
    if (x->stopping)
        e = weft__err(err, WEFT_ESTATE, "job %s: the cluster executor is stopping", spec->job_id);
    else if ((old = weft__strmap_get(&x->jobs, j->job_id)) && old->adopted) {
        /* Resumed: published again unless a worker reported it meanwhile;
         * whichever copy runs first reports, later results are dropped. */
        old->adopted = false;
        if (!old->running && !old->msg) {
            old->msg = j->msg;
            old->len = j->len;
            j->msg = NULL;
            old->confirmed = false;
            if (push_id(&x->topub, &x->ntopub, &x->captopub, old->job_id))
                e = weft__err(err, WEFT_ENOMEM, "out of memory");
        }
        merged = true;
    } else if (old)
        e = weft__err(err, WEFT_EEXIST, "job %s was dispatched already", spec->job_id);
    else if (weft__strmap_put(&x->jobs, j->job_id, j) ||
             push_id(&x->topub, &x->ntopub, &x->captopub, j->job_id)) {
        weft__strmap_del(&x->jobs, j->job_id);
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&x->mu);
    if (e || merged) job_free(j);
    if (e) return e;
    wake(x);
    return WEFT_OK;
}

static void cl_cancel(weft__executor *ex, const char *job_id)
{
    cl_exec *x = (cl_exec *)ex;
    pthread_mutex_lock(&x->mu);
    cl_job *j = weft__strmap_get(&x->jobs, job_id);
    if (j && !j->cancel) cancel_locked(x, j);
    pthread_mutex_unlock(&x->mu);
    wake(x);
}

static void cl_committed(weft__executor *ex, uint64_t token)
{
    cl_exec *x = (cl_exec *)ex;
    pthread_mutex_lock(&x->mu);
    bool more = token > x->durable;
    if (more) x->durable = token;
    pthread_mutex_unlock(&x->mu);
    if (more) wake(x);
}

/* Stop with cancel: a running job whose cancel cannot be queued is still
 * reported CANCELED after CANCEL_ANSWER_MS (report_left_running). */
static void cancel_each(void *value, void *ud)
{
    cl_job *j = value;
    if (!j->cancel) {
        cl_exec *x = ud;
        j->cancel = true;
        if (push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id))
            weft__log(x->base.log, WEFT_LOG_ERROR, "cluster",
                      "job %s: out of memory: its worker is not told to stop", j->job_id);
    }
}

static void collect_not_running(void *value, void *ud)
{
    cl_job *j = value;
    weft__strmap *m = ud;
    if (!j->running) weft__strmap_put(m, j->job_id, j);
}

static void cancel_queued(void *value, void *ud)
{
    cl_exec *x = ud;
    cl_job *j = value;
    j->cancel = false; /* cancel_locked sets it and broadcasts */
    cancel_locked(x, j);
}

static void cl_stop(weft__executor *ex, bool cancel_running)
{
    cl_exec *x = (cl_exec *)ex;
    pthread_mutex_lock(&x->mu);
    x->stopping = true;
    if (cancel_running) {
        /* Queued jobs end now; running ones are asked to stop and get a
         * few seconds to say so before they are reported CANCELED here. */
        weft__strmap q = WEFT__STRMAP_INIT;
        weft__strmap_each(&x->jobs, collect_not_running, &q);
        weft__strmap_each(&q, cancel_queued, x);
        weft__strmap_release(&q);
        weft__strmap_each(&x->jobs, cancel_each, x);
        if (x->jobs.len)
            x->cancel_deadline_ns = weft__mono_ns() + (int64_t)CANCEL_ANSWER_MS * 1000000;
        if (!x->started) { /* no thread to wait for answers */
            weft__strmap_each(&x->jobs, report_left_running, x);
            weft__strmap_release(&x->jobs);
        }
    }
    pthread_mutex_unlock(&x->mu);
    wake(x);
}

static void free_job_value(void *value, void *ud)
{
    (void)ud;
    job_free(value);
}

static void free_str_value(void *value, void *ud)
{
    (void)ud;
    free(value);
}

static void cl_free(weft__executor *ex)
{
    cl_exec *x = (cl_exec *)ex;
    if (!x) return;
    pthread_mutex_lock(&x->mu);
    x->quit = true;
    pthread_mutex_unlock(&x->mu);
    if (x->started) {
        give_up(x); /* a reconnect attempt in progress ends now */
        wake(x);
        pthread_join(x->thread, NULL);
    }
    weft__amqp_close(x->conn);
    inflight_clear(x);
    free(x->inf);
    free(x->acks);
    weft__strmap_each(&x->jobs, free_job_value, NULL);
    weft__strmap_release(&x->jobs);
    weft__strmap_each(&x->canceled, free_str_value, NULL);
    weft__strmap_release(&x->canceled);
    for (size_t i = 0; i < x->ntopub; i++) free(x->topub[i]);
    free(x->topub);
    for (size_t i = 0; i < x->ncancels; i++) free(x->cancels[i]);
    free(x->cancels);
    for (int i = 0; i < 2; i++) {
        if (x->wake[i] >= 0) close(x->wake[i]);
        if (x->abort_pipe[i] >= 0) close(x->abort_pipe[i]);
    }
    pthread_cond_destroy(&x->first_cv);
    pthread_mutex_destroy(&x->mu);
    free(x->url);
    free(x->queue);
    free(x->reply);
    free(x->control);
    free(x->ca);
    free(x->cert);
    free(x->key);
    weft__digests_release(&x->digests);
    if (x->secret) OPENSSL_cleanse(x->secret, strlen(x->secret));
    free(x->secret);
    free(x);
}

static const weft__executor_ops cluster_ops = {
    .name = WEFT__MODE_CLUSTER,
    .start = cl_start,
    .dispatch = cl_dispatch,
    .cancel = cl_cancel,
    .step = NULL,
    .stop = cl_stop,
    .free = cl_free,
    .committed = cl_committed,
    .adopt = weft__exec_cluster_adopt,
};

weft_err weft__exec_cluster_new(weft__app *app, weft__reports *reports,
                                const weft__exec_cluster_opts *opts, weft__executor **out,
                                char *err)
{
    *out = NULL;
    if (!opts || !opts->broker_url || !*opts->broker_url)
        return weft__err(err, WEFT_EINVAL, "cluster mode needs [JOB] broker_url");
    cl_exec *x = weft__executor_alloc(sizeof *x, &cluster_ops, app, reports, err);
    if (!x) return WEFT_ENOMEM;
    x->wake[0] = x->wake[1] = x->abort_pipe[0] = x->abort_pipe[1] = -1;
    const char *q = opts->queue && *opts->queue ? opts->queue : WEFT__DEFAULT_QUEUE;
    x->url = weft__strdup(opts->broker_url);
    x->queue = weft__strdup(q);
    x->reply = opts->reply_queue && *opts->reply_queue ? weft__strdup(opts->reply_queue)
                                                       : weft__cluster_name(q, "status");
    x->control = weft__cluster_name(q, "control");
    x->ca = weft__strdup(opts->ca_file);
    x->cert = weft__strdup(opts->cert_file);
    x->key = weft__strdup(opts->key_file);
    x->secret = opts->secret && *opts->secret ? weft__strdup(opts->secret) : NULL;
    x->verify_peer = opts->verify_peer;
    x->verify_hostname = opts->verify_hostname;
    x->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : WEFT__DEFAULT_MAX_ATTEMPTS;
    x->window = opts->window > 0 ? (size_t)opts->window : DEFAULT_WINDOW;
    pthread_mutex_init(&x->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* weft__mono_deadline() */
    pthread_cond_init(&x->first_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!x->url || !x->queue || !x->reply || !x->control || (opts->ca_file && !x->ca) ||
        (opts->cert_file && !x->cert) || (opts->key_file && !x->key) ||
        (opts->secret && *opts->secret && !x->secret)) {
        cl_free(&x->base);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if (pipe(x->wake) != 0 || pipe(x->abort_pipe) != 0) {
        weft_err e = weft__err(err, WEFT_EIO, "pipe: %s", strerror(errno));
        cl_free(&x->base);
        return e;
    }
    for (int i = 0; i < 4; i++) {
        int fd = i < 2 ? x->wake[i] : x->abort_pipe[i - 2];
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    x->abort = (weft__amqp_abort)WEFT__AMQP_ABORT_INIT(x->abort_pipe[0]);
    *out = &x->base;
    return WEFT_OK;
}

void weft__exec_cluster_opts_from_config(const weft_config *cfg, weft__exec_cluster_opts *o)
{
    memset(o, 0, sizeof *o);
    o->broker_url = weft_config_broker_url(cfg);
    o->queue = weft_config_queue(cfg);
    const weft_value *v;
    if ((v = weft_config_lookup(cfg, "JOB", "max_attempts")) &&
        weft_value_type_of(v) == WEFT_VALUE_INT)
        o->max_attempts = (int)weft_value_int(v);
    if ((v = weft_config_lookup(cfg, "JOB", "broker_ca_file"))) o->ca_file = weft_value_text(v);
    if ((v = weft_config_lookup(cfg, "JOB", "broker_cert_file"))) o->cert_file = weft_value_text(v);
    if ((v = weft_config_lookup(cfg, "JOB", "broker_key_file"))) o->key_file = weft_value_text(v);
    o->secret = weft_config_broker_secret(cfg);
    if ((v = weft_config_lookup(cfg, "JOB", "broker_verify_peer")) &&
        weft_value_type_of(v) == WEFT_VALUE_BOOL && !weft_value_bool(v))
        o->verify_peer = -1;
    if ((v = weft_config_lookup(cfg, "JOB", "broker_verify_hostname")) &&
        weft_value_type_of(v) == WEFT_VALUE_BOOL && !weft_value_bool(v))
        o->verify_hostname = -1;
}

weft_err weft__cluster_secret_check(const weft_config *cfg, char *err)
{
    if (weft_config_lookup(cfg, "JOB", "broker_secret") && !weft_config_broker_secret(cfg))
        return weft__err(err, WEFT_ECONFIG,
                         "[JOB] broker_secret has no usable value (an ENV[...] that is not set?): "
                         "refusing to send cluster messages unsigned");
    return WEFT_OK;
}

weft__amqp_opts weft__cluster_amqp_opts(const weft_config *cfg, const char *url,
                                        const char *name)
{
    weft__exec_cluster_opts co = {0};
    if (cfg) weft__exec_cluster_opts_from_config(cfg, &co);
    return (weft__amqp_opts){.url = url ? url : co.broker_url, .ca_file = co.ca_file,
                             .cert_file = co.cert_file, .key_file = co.key_file,
                             .verify_peer = co.verify_peer,
                             .verify_hostname = co.verify_hostname, .name = name};
}

weft_err weft__exec_cluster_adopt(weft__executor *ex, const char *job_id, int attempt,
                                  bool running, char *err)
{
    cl_exec *x = (cl_exec *)ex;
    cl_job *j = calloc(1, sizeof *j);
    if (!j || !(j->job_id = weft__strdup(job_id))) {
        free(j);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    j->attempt = attempt > 0 ? attempt : 1;
    j->confirmed = true;
    j->running = running;
    j->adopted = true;
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&x->mu);
    if (weft__strmap_get(&x->jobs, job_id))
        e = weft__err(err, WEFT_EEXIST, "job %s is already tracked", job_id);
    else if (weft__strmap_put(&x->jobs, j->job_id, j))
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    pthread_mutex_unlock(&x->mu);
    if (e) job_free(j);
    return e;
}

static void count_unconfirmed(void *value, void *ud)
{
    cl_job *j = value;
    if (!j->confirmed) (*(size_t *)ud)++;
}

size_t weft__exec_cluster_unconfirmed(weft__executor *ex)
{
    cl_exec *x = (cl_exec *)ex;
    size_t n = 0;
    pthread_mutex_lock(&x->mu);
    weft__strmap_each(&x->jobs, count_unconfirmed, &n);
    pthread_mutex_unlock(&x->mu);
    return n;
}

weft_err weft__exec_cluster_from_config(weft__app *app, weft__reports *reports,
                                        const weft_config *cfg, const char *storage_dir,
                                        weft__executor **out, char *err)
{
    weft__exec_cluster_opts co;
    weft_err e = weft__config_connection_env(cfg, false, false, err);
    if (e) return e;
    weft__exec_cluster_opts_from_config(cfg, &co);
    if ((e = weft__cluster_secret_check(cfg, err))) return e;
    char *reply = NULL;
    const char *q = co.queue && *co.queue ? co.queue : WEFT__DEFAULT_QUEUE;
    if ((e = weft__cluster_reply_queue(storage_dir, q, &reply, err))) return e;
    co.reply_queue = reply;
    e = weft__exec_cluster_new(app, reports, &co, out, err);
    free(reply);
    return e;
}
