/*
 * exec_cluster.c - cluster mode, orchestrator side: the executor that hands
 * jobs to `weft run-worker` processes through RabbitMQ, and the JSON
 * messages of cluster mode's protocol (shared with the worker, see
 * amqp_client.h).
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
 * twice: delivery is at least once, results are taken once).
 */
#include "cluster/amqp_client.h"
#include "exec/executor.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ======================================================================
 * Protocol
 * ====================================================================== */

char *weft__cluster_name(const char *queue, const char *suffix)
{
    size_t n = strlen(queue) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.%s", queue, suffix);
    return s;
}

weft_err weft__cluster_declare(weft__amqp *c, const char *queue, char *err)
{
    char *dead = weft__cluster_name(queue, "dead");
    char *status = weft__cluster_name(queue, "status");
    char *control = weft__cluster_name(queue, "control");
    char *workers = weft__cluster_name(queue, "workers");
    weft_err e = WEFT_OK;
    if (!dead || !status || !control || !workers) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    weft__amqp_queue_opts dq = {.durable = true};
    weft__amqp_queue_opts jq = {.durable = true, .dead_letter_exchange = "",
                                .dead_letter_routing_key = dead};
    if ((e = weft__amqp_declare_queue(c, dead, &dq, NULL, err)) ||
        (e = weft__amqp_declare_queue(c, queue, &jq, NULL, err)) ||
        (e = weft__amqp_declare_queue(c, status, &dq, NULL, err)) ||
        (e = weft__amqp_declare_exchange(c, control, "fanout", true, err)) ||
        (e = weft__amqp_declare_exchange(c, workers, "fanout", true, err)))
        goto out;
out:
    free(dead);
    free(status);
    free(control);
    free(workers);
    return e;
}

static weft_err dump(json_t *o, char **out, size_t *len, char *err)
{
    if (!o) return weft__err(err, WEFT_ENOMEM, "out of memory");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return weft__err(err, WEFT_ENOMEM, "out of memory");
    *out = s;
    if (len) *len = strlen(s);
    return WEFT_OK;
}

weft_err weft__cluster_job_encode(const weft__job_spec *spec, int attempt, int max_attempts,
                                  const char *reply_to, char **out, size_t *len, char *err)
{
    char *sj = NULL;
    size_t sl = 0;
    if (weft__job_spec_to_json(spec, &sj, &sl) != WEFT_OK)
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    json_error_t je;
    json_t *sv = json_loadb(sj, sl, 0, &je);
    free(sj);
    if (!sv) return weft__err(err, WEFT_ENOMEM, "job %s: cannot encode its spec", spec->job_id);
    json_object_set_new(sv, "attempt", json_integer(attempt));
    json_t *o = json_pack("{s:s, s:i, s:s, s:s?, s:i, s:i, s:s, s:o}", "type", "job", "v", 1,
                          "job_id", spec->job_id, "task_config_id", spec->task_config_id,
                          "attempt", attempt, "max_attempts", max_attempts, "reply_to",
                          reply_to ? reply_to : "", "spec", sv);
    return dump(o, out, len, err);
}

void weft__cluster_job_release(weft__cluster_job *j)
{
    if (!j) return;
    weft__job_spec_release(&j->spec);
    free(j->reply_to);
    *j = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
}

static json_t *load_object(const char *text, size_t len, const char *type, char *err)
{
    json_error_t je;
    if (len > WEFT__CLUSTER_MAX_MSG) {
        weft__err(err, WEFT_EDATA, "message of %zu bytes is too large", len);
        return NULL;
    }
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        weft__err(err, WEFT_EDATA, "not JSON: %s (line %d)", je.text, je.line);
        return NULL;
    }
    const char *t = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !t || strcmp(t, type) != 0) {
        weft__err(err, WEFT_EDATA, "not a %s message", type);
        json_decref(o);
        return NULL;
    }
    return o;
}

weft_err weft__cluster_job_decode(const char *text, size_t len, weft__cluster_job *j, char *err)
{
    *j = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
    json_t *o = load_object(text, len, "job", err);
    if (!o) return WEFT_EDATA;
    weft_err e = WEFT_OK;
    json_t *spec = json_object_get(o, "spec");
    json_t *att = json_object_get(o, "attempt");
    json_t *max = json_object_get(o, "max_attempts");
    const char *reply = json_string_value(json_object_get(o, "reply_to"));
    if (!json_is_object(spec) || !json_is_integer(att) || json_integer_value(att) < 1 ||
        json_integer_value(att) > 1000000 || !reply || !*reply) {
        e = weft__err(err, WEFT_EDATA,
                      "job message needs an object \"spec\", an \"attempt\" >= 1 and a \"reply_to\"");
        goto out;
    }
    char *sj = json_dumps(spec, JSON_COMPACT);
    if (!sj) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    char why[WEFT_ERRBUF_SIZE] = "";
    e = weft__job_spec_from_json(sj, strlen(sj), &j->spec, why);
    free(sj);
    if (e) {
        e = weft__err(err, WEFT_EDATA, "bad job spec: %s", why);
        goto out;
    }
    j->spec.attempt = (int)json_integer_value(att);
    j->max_attempts = json_is_integer(max) && json_integer_value(max) > 0
                          ? (int)json_integer_value(max) : 3;
    if (!(j->reply_to = weft__strdup(reply))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
out:
    json_decref(o);
    if (e) weft__cluster_job_release(j);
    return e;
}

void weft__cluster_status_release(weft__cluster_status *s)
{
    if (!s) return;
    free(s->job_id);
    free(s->worker);
    weft__job_result_release(&s->result);
    *s = (weft__cluster_status)WEFT__CLUSTER_STATUS_INIT;
}

weft_err weft__cluster_status_encode(const char *job_id, int attempt, weft_job_status status,
                                     const char *worker, const weft__job_result *res,
                                     char **out, size_t *len, char *err)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:i, s:s, s:s}", "type", "status", "v", 1, "job_id",
                          job_id, "attempt", attempt, "status", weft_job_status_name(status),
                          "worker", worker ? worker : "");
    if (o && status != WEFT_JOB_RUNNING && res) {
        char *rj = NULL;
        size_t rl = 0;
        json_error_t je;
        json_t *rv = NULL;
        if (weft__job_result_to_json(res, &rj, &rl) == WEFT_OK) rv = json_loadb(rj, rl, 0, &je);
        free(rj);
        if (!rv || json_object_set_new(o, "result", rv) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return dump(o, out, len, err);
}

weft_err weft__cluster_status_decode(const char *text, size_t len, weft__cluster_status *s,
                                     char *err)
{
    *s = (weft__cluster_status)WEFT__CLUSTER_STATUS_INIT;
    json_t *o = load_object(text, len, "status", err);
    if (!o) return WEFT_EDATA;
    weft_err e = WEFT_OK;
    const char *id = json_string_value(json_object_get(o, "job_id"));
    const char *st = json_string_value(json_object_get(o, "status"));
    const char *w = json_string_value(json_object_get(o, "worker"));
    json_t *att = json_object_get(o, "attempt");
    int status = st ? weft_job_status_parse(st) : -1;
    if (!id || !*id || !json_is_integer(att) ||
        !(status == WEFT_JOB_RUNNING || status == WEFT_JOB_COMPLETED ||
          status == WEFT_JOB_FAILED || status == WEFT_JOB_CANCELED)) {
        e = weft__err(err, WEFT_EDATA,
                      "status message needs \"job_id\", \"attempt\" and a \"status\" among "
                      "RUNNING, COMPLETED, FAILED, CANCELED");
        goto out;
    }
    s->status = (weft_job_status)status;
    s->attempt = (int)json_integer_value(att);
    if (!(s->job_id = weft__strdup(id)) || !(s->worker = weft__strdup(w ? w : ""))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    if (status != WEFT_JOB_RUNNING) {
        json_t *r = json_object_get(o, "result");
        char *rj = json_is_object(r) ? json_dumps(r, JSON_COMPACT) : NULL;
        char why[WEFT_ERRBUF_SIZE] = "";
        if (!rj) {
            e = weft__err(err, WEFT_EDATA, "final status message without a \"result\" object");
            goto out;
        }
        e = weft__job_result_from_json(rj, strlen(rj), &s->result, why);
        free(rj);
        if (e) {
            e = weft__err(err, WEFT_EDATA, "bad job result: %s", why);
            goto out;
        }
        s->result.status = (weft_job_status)status;
    }
out:
    json_decref(o);
    if (e) weft__cluster_status_release(s);
    return e;
}

weft_err weft__cluster_cancel_encode(const char *job_id, char **out, size_t *len, char *err)
{
    return dump(json_pack("{s:s, s:i, s:s}", "type", "cancel", "v", 1, "job_id", job_id), out,
                len, err);
}

char *weft__cluster_cancel_decode(const char *text, size_t len)
{
    json_t *o = load_object(text, len, "cancel", NULL);
    if (!o) return NULL;
    char *id = weft__strdup(json_string_value(json_object_get(o, "job_id")));
    json_decref(o);
    return id;
}

bool weft__cluster_msg_type(const char *text, size_t len, char *buf, size_t size)
{
    json_error_t je;
    json_t *o = len <= WEFT__CLUSTER_MAX_MSG ? json_loadb(text, len, 0, &je) : NULL;
    const char *t = json_string_value(json_object_get(o, "type"));
    bool ok = t != NULL;
    if (ok) snprintf(buf, size, "%s", t);
    json_decref(o);
    return ok;
}

static char worker_name[300];
static pthread_once_t worker_name_once = PTHREAD_ONCE_INIT;

static void worker_name_init(void)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(worker_name, sizeof worker_name, "%s:%d", host, (int)getpid());
}

const char *weft__cluster_worker_name(void)
{
    pthread_once(&worker_name_once, worker_name_init);
    return worker_name;
}

/* ======================================================================
 * The executor
 * ====================================================================== */

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
    /* Owned by the thread once started. */
    weft__amqp *conn;
    cl_inflight *inf;
    size_t ninf, capinf;
} cl_exec;

static weft_err push_id(char ***v, size_t *n, size_t *cap, const char *id)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return WEFT_ENOMEM;
        *v = nv;
        *cap = nc;
    }
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
 * anyway (it missed the broadcast) is told again. */
static void cancel_locked(cl_exec *x, cl_job *j)
{
    j->cancel = true;
    push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id);
    if (j->running) return;
    char *id = weft__strdup(j->job_id);
    if (id && weft__strmap_put(&x->canceled, id, id) != WEFT_OK) {
        free(id);
        id = NULL;
    }
    weft__strmap_del(&x->jobs, j->job_id);
    report_canceled(x, j->job_id, "canceled before it started");
    job_free(j);
}

/* ---- the connection thread ---- */

static weft_err cl_connect(cl_exec *x, weft__amqp **out, char *err)
{
    weft__amqp_opts ao = {.url = x->url, .ca_file = x->ca, .cert_file = x->cert,
                          .key_file = x->key, .verify_peer = x->verify_peer,
                          .verify_hostname = x->verify_hostname, .confirms = true,
                          .name = "weft orchestrator"};
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

/* After a reconnect: every job the broker did not confirm is published again. */
static void requeue_unconfirmed(cl_exec *x)
{
    inflight_clear(x);
    for (size_t i = 0; i < x->ntopub; i++) free(x->topub[i]);
    x->ntopub = 0;
}

static void collect_unconfirmed(void *value, void *ud)
{
    cl_exec *x = ud;
    cl_job *j = value;
    if (!j->confirmed && j->msg) push_id(&x->topub, &x->ntopub, &x->captopub, j->job_id);
}

static weft_err add_inflight(cl_exec *x, uint64_t seq, const char *job_id)
{
    if (x->ninf == x->capinf) {
        size_t nc = x->capinf ? x->capinf * 2 : 64;
        cl_inflight *n = realloc(x->inf, nc * sizeof *n);
        if (!n) return WEFT_ENOMEM;
        x->inf = n;
        x->capinf = nc;
    }
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
        if ((e = weft__cluster_cancel_encode(x->cancels[i], &m, &len, err))) break;
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

/* A publisher confirm: the broker took (or refused) messages.  x->mu held. */
static void on_confirm(cl_exec *x, const weft__amqp_event *ev)
{
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
            if (ev->nack) {
                push_id(&x->topub, &x->ntopub, &x->captopub, j->job_id); /* try again */
            } else {
                j->confirmed = true;
                free(j->msg);
                j->msg = NULL;
            }
        }
        free(f->job_id);
    }
    x->ninf = k;
}

/* A status message from a worker.  x->mu held. */
static void on_status(cl_exec *x, const weft__amqp_event *ev)
{
    weft__cluster_status s = WEFT__CLUSTER_STATUS_INIT;
    char err[WEFT_ERRBUF_SIZE];
    if (weft__cluster_status_decode(ev->body, ev->len, &s, err) != WEFT_OK) {
        weft__log(x->base.log, WEFT_LOG_WARN, "cluster",
                  "dropped a malformed status message from %s: %s", x->reply, err);
        return;
    }
    cl_job *j = weft__strmap_get(&x->jobs, s.job_id);
    if (!j) {
        /* Finished already (a duplicate), or canceled before it ran: a
         * worker that missed the cancel and started it is told again. */
        if (s.status == WEFT_JOB_RUNNING && weft__strmap_get(&x->canceled, s.job_id))
            push_id(&x->cancels, &x->ncancels, &x->capcancels, s.job_id);
    } else if (s.status == WEFT_JOB_RUNNING) {
        /* A later attempt (its last worker was lost) is reported again:
         * the job shows where it runs now and which attempt it is. */
        bool again = j->running && s.attempt > j->attempt;
        if (s.attempt > j->attempt) j->attempt = s.attempt;
        if (!j->confirmed) { /* a worker has it: no need to publish it again */
            j->confirmed = true;
            free(j->msg);
            j->msg = NULL;
        }
        if (!j->running || again) {
            j->running = true;
            weft__report_running(x->base.reports, j->job_id, j->attempt, s.worker,
                                 ++x->last_token);
        }
        if (j->cancel) push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id);
    } else {
        weft__strmap_del(&x->jobs, j->job_id);
        if (!j->running || s.attempt > j->attempt)
            weft__report_running(x->base.reports, j->job_id, s.attempt, s.worker,
                                 ++x->last_token);
        weft__report_finished(x->base.reports, j->job_id, s.attempt, &s.result, ++x->last_token);
        job_free(j);
    }
    weft__cluster_status_release(&s);
}

/* Remembers a status delivery, to be acknowledged once every report queued
 * so far is committed (its own, if it made one; for a duplicate, the report
 * of the first copy, which may still be uncommitted).  x->mu held. */
static weft_err ack_later(cl_exec *x, uint64_t tag)
{
    if (x->nacks == x->capacks) {
        size_t nc = x->capacks ? x->capacks * 2 : 64;
        cl_ack *n = malloc(nc * sizeof *n);
        if (!n) return WEFT_ENOMEM;
        for (size_t i = 0; i < x->nacks; i++) n[i] = x->acks[(x->ack_head + i) % x->capacks];
        free(x->acks);
        x->acks = n;
        x->capacks = nc;
        x->ack_head = 0;
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

static void *cl_thread(void *arg)
{
    cl_exec *x = arg;
    int failures = 0;
    char err[WEFT_ERRBUF_SIZE];
    pthread_mutex_lock(&x->mu);
    while (!x->quit) {
        if (x->cancel_deadline_ns && weft__mono_ns() > x->cancel_deadline_ns) {
            weft__strmap_each(&x->jobs, report_left_running, x);
            weft__strmap_release(&x->jobs);
            x->cancel_deadline_ns = 0;
        }
        if (!x->conn) {
            pthread_mutex_unlock(&x->mu);
            weft__amqp *c = NULL;
            weft_err e = cl_connect(x, &c, err);
            pthread_mutex_lock(&x->mu);
            if (e) {
                int ms = weft__amqp_backoff_ms(failures++);
                if (failures == 1 || failures % 10 == 0)
                    weft__log(x->base.log, WEFT_LOG_WARN, "cluster",
                              "%s; retrying (every %d ms at most)", err, 5000);
                pthread_mutex_unlock(&x->mu);
                nap(x, ms);
                pthread_mutex_lock(&x->mu);
                continue;
            }
            if (failures)
                weft__log(x->base.log, WEFT_LOG_INFO, "cluster", "reconnected to broker %s",
                          weft__amqp_url(c));
            failures = 0;
            x->conn = c;
            requeue_unconfirmed(x);
            weft__strmap_each(&x->jobs, collect_unconfirmed, x);
        }
        weft_err e = pump(x, err);
        if (!e) {
            pthread_mutex_unlock(&x->mu);
            struct pollfd p = {x->wake[0], POLLIN, 0};
            weft__amqp_poll(x->conn, &p, 1, 1000);
            if (p.revents) {
                char buf[256];
                while (read(x->wake[0], buf, sizeof buf) > 0) {}
            }
            pthread_mutex_lock(&x->mu);
            for (int n = 0; n < 4096; n++) {
                weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
                e = weft__amqp_next(x->conn, 0, &ev, err);
                if (e == WEFT_ETIMEDOUT) {
                    e = WEFT_OK;
                    break;
                }
                if (e) break;
                if (ev.kind == WEFT__AMQP_CONFIRM) {
                    on_confirm(x, &ev);
                } else if (ev.kind == WEFT__AMQP_DELIVERY) {
                    on_status(x, &ev);
                    if (ack_later(x, ev.tag)) /* no memory: acknowledge now */
                        e = weft__amqp_ack(x->conn, ev.tag, err);
                }
                weft__amqp_event_release(&ev);
                if (e) break;
            }
            if (!e) e = ack_durable(x, err);
        }
        if (e || weft__amqp_broken(x->conn)) {
            weft__log(x->base.log, WEFT_LOG_WARN, "cluster", "%s; reconnecting", err);
            weft__amqp *c = x->conn;
            x->conn = NULL;
            x->nacks = 0; /* unacknowledged deliveries come again on the next connection */
            pthread_mutex_unlock(&x->mu);
            weft__amqp_close(c);
            nap(x, weft__amqp_backoff_ms(0));
            pthread_mutex_lock(&x->mu);
            failures = 1;
        }
    }
    weft__amqp *c = x->conn;
    x->conn = NULL;
    pthread_mutex_unlock(&x->mu);
    if (c) {
        /* Last cancels and unconfirmed jobs get a short chance to go out. */
        pthread_mutex_lock(&x->mu);
        x->conn = c;
        if (ack_durable(x, err) == WEFT_OK && pump(x, err) == WEFT_OK) {
            pthread_mutex_unlock(&x->mu);
            int64_t until = weft__mono_ns() + 1000000000LL;
            while (x->ninf && weft__mono_ns() < until) {
                weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
                weft_err e = weft__amqp_next(c, 100, &ev, err);
                if (e == WEFT_OK && ev.kind == WEFT__AMQP_CONFIRM) {
                    pthread_mutex_lock(&x->mu);
                    on_confirm(x, &ev);
                    pthread_mutex_unlock(&x->mu);
                }
                weft__amqp_event_release(&ev);
                if (e != WEFT_OK && e != WEFT_ETIMEDOUT) break;
            }
            pthread_mutex_lock(&x->mu);
        }
        x->conn = NULL;
        pthread_mutex_unlock(&x->mu);
        weft__amqp_close(c);
    }
    return NULL;
}

/* ---- executor ops ---- */

static weft_err cl_start(weft__executor *ex, char *err)
{
    cl_exec *x = (cl_exec *)ex;
    if (x->started) return WEFT_OK;
    /* Connect once here so that a wrong URL or refused credentials fail the
     * start with the reason, instead of retrying in the background. */
    weft__amqp *c = NULL;
    weft_err e = cl_connect(x, &c, err);
    if (e) return e;
    x->conn = c;
    if (pthread_create(&x->thread, NULL, cl_thread, x) != 0) {
        x->conn = NULL;
        weft__amqp_close(c);
        return weft__err(err, WEFT_ENOMEM, "cannot start the cluster executor's thread");
    }
    x->started = true;
    return WEFT_OK;
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
    weft_err e = weft__cluster_job_encode(spec, j->attempt, x->max_attempts, x->reply, &j->msg,
                                          &j->len, err);
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

static void cancel_each(void *value, void *ud)
{
    cl_job *j = value;
    if (!j->cancel) {
        cl_exec *x = ud;
        j->cancel = true;
        push_id(&x->cancels, &x->ncancels, &x->capcancels, j->job_id);
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
    if (x->wake[0] >= 0) close(x->wake[0]);
    if (x->wake[1] >= 0) close(x->wake[1]);
    pthread_mutex_destroy(&x->mu);
    free(x->url);
    free(x->queue);
    free(x->reply);
    free(x->control);
    free(x->ca);
    free(x->cert);
    free(x->key);
    free(x);
}

static const weft__executor_ops cluster_ops = {
    .name = "cluster",
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
    cl_exec *x = calloc(1, sizeof *x);
    if (!x) return weft__err(err, WEFT_ENOMEM, "out of memory");
    x->wake[0] = x->wake[1] = -1;
    x->base.ops = &cluster_ops;
    x->base.reports = reports;
    x->base.app = app;
    const char *q = opts->queue && *opts->queue ? opts->queue : "weft.jobs";
    x->url = weft__strdup(opts->broker_url);
    x->queue = weft__strdup(q);
    x->reply = opts->reply_queue && *opts->reply_queue ? weft__strdup(opts->reply_queue)
                                                       : weft__cluster_name(q, "status");
    x->control = weft__cluster_name(q, "control");
    x->ca = weft__strdup(opts->ca_file);
    x->cert = weft__strdup(opts->cert_file);
    x->key = weft__strdup(opts->key_file);
    x->verify_peer = opts->verify_peer;
    x->verify_hostname = opts->verify_hostname;
    x->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 3;
    x->window = opts->window > 0 ? (size_t)opts->window : DEFAULT_WINDOW;
    pthread_mutex_init(&x->mu, NULL);
    if (!x->url || !x->queue || !x->reply || !x->control || (opts->ca_file && !x->ca) ||
        (opts->cert_file && !x->cert) || (opts->key_file && !x->key)) {
        cl_free(&x->base);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    if (pipe(x->wake) != 0) {
        x->wake[0] = x->wake[1] = -1;
        cl_free(&x->base);
        return weft__err(err, WEFT_EIO, "pipe: %s", strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        fcntl(x->wake[i], F_SETFL, fcntl(x->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(x->wake[i], F_SETFD, FD_CLOEXEC);
    }
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
    if ((v = weft_config_lookup(cfg, "JOB", "broker_verify_peer")) &&
        weft_value_type_of(v) == WEFT_VALUE_BOOL && !weft_value_bool(v))
        o->verify_peer = -1;
    if ((v = weft_config_lookup(cfg, "JOB", "broker_verify_hostname")) &&
        weft_value_type_of(v) == WEFT_VALUE_BOOL && !weft_value_bool(v))
        o->verify_hostname = -1;
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
                                        const weft_config *cfg, weft__executor **out,
                                        char *err)
{
    weft__exec_cluster_opts co;
    weft__exec_cluster_opts_from_config(cfg, &co);
    return weft__exec_cluster_new(app, reports, &co, out, err);
}
