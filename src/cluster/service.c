/* SPDX-License-Identifier: MIT */
/*
 * service.c - the worker service of cluster mode (weft_worker_*, run by
 * `weft run-worker`): it takes jobs from the queue and runs them.
 *
 * It loads the application (PATH/config.toml and the shared objects beside
 * it), consumes the job queue with a prefetch of P, and runs each job in
 * the standalone pool's
 * job processes (standalone/pool.h: crash isolation, cancel, timeouts), so
 * that the thread that calls weft_worker_run() never blocks: it owns the
 * broker connection and keeps heartbeats flowing during long jobs.  For
 * each job it publishes RUNNING (only once the job ran
 * WEFT__RUNNING_AFTER_MS: a short job sends its result alone), then the
 * result, to the job's reply queue with publisher confirms, and
 * acknowledges the job message only once the
 * result is confirmed: a service that dies mid-job leaves the message to
 * the broker, which delivers it again.
 *
 * Attempts: classic queues count no deliveries, so a message that arrives
 * with the redelivered flag is republished with attempt + 1 (and the old
 * one acknowledged once that is confirmed); past max_attempts the job is
 * reported FAILED instead, so a job that kills its worker cannot loop.
 * Trust (trust.h): a job runs only as this service's own application
 * defines its task: its paths, types and timeout come from this config,
 * and a task defined otherwise than by the orchestrator (its digest
 * differs) is reported FAILED.  Malformed messages, unsigned or badly
 * signed ones when a secret is set, and jobs naming ids the application
 * does not declare are rejected to <queue>.dead with one log line.  Cancels arrive on the
 * <queue>.control fanout exchange.  weft_worker_stop() drains: no new jobs,
 * running ones finish and are reported, then run() returns.  Every 3 s the
 * service announces itself on <queue>.workers (protocol.h, "worker").
 *
 * Holding (the default prefetch, 2 x N, more for short jobs: see
 * default_prefetch()): a job taken while every slot is
 * busy waits here, not in the pool, and goes to the pool the moment a slot
 * frees (no broker round trip between two jobs, while the broker confirms
 * the last result); with short jobs, each slot also has up to
 * WEFT__POOL_AHEAD jobs queued in the pool behind its running one (see
 * ahead_slots()).  One that waited WEFT__HOLD_MS is handed back to the
 * queue (republished unchanged, then acknowledged: a nack would mark it
 * redelivered and cost it an attempt), and the service stops consuming
 * until a slot frees, so that a long job never holds short ones while
 * another worker is idle.  An explicit P gives the jobs to the pool at
 * once, as fast as it can for short jobs, with no such guarantee.
 *
 * Autoscaling (--autoscale MAX,MIN): N is the pool's current size.  A
 * round that finds every slot busy and jobs waiting (held, or handed back
 * and the consumer paused) grows the pool by the jobs held, up to MAX; a
 * pool with free slots for WEFT__AUTOSCALE_IDLE_MS shrinks to its busy
 * slots, down to MIN.  The prefetch, default_prefetch(), is set again with basic.qos,
 * which RabbitMQ applies to new consumers only: the service consumes anew.
 */
#include "cluster/exec_cluster.h"
#include "cluster/metrics_http.h"
#include "cluster/protocol.h"
#include "config/config_internal.h" /* weft__config_connection_env */
#include "standalone/pool.h"
#include "util/defaults.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ANNOUNCE_MS 3000 /* heartbeat period, for `weft workers` */
#define RECENT_MAX 4096  /* job ids remembered as finished / canceled */
#define MAX_CONCURRENCY 1000
#define MAX_PREFETCH 65535 /* basic.qos takes 16 bits */
#define MAX_HELD_PER_SLOT 63 /* default prefetch: at most 64 x N */
#define AHEAD_MAX_MS (WEFT__HOLD_MS / 4) /* jobs queued ahead in the pool: ahead_slots() */

/* ---- what the pool's thread tells the service's thread ---- */

typedef struct pool_msg {
    bool finished;          /* else: started, or withdrawn */
    bool withdrawn;         /* taken back unstarted (weft__pool_withdraw()) */
    int64_t at_ns;          /* when the pool said so (monotonic) */
    char *job_id;
    pid_t pid;
    weft__job_result res;
    struct pool_msg *next;
} pool_msg;

/* A job taken from the queue and not yet acknowledged. */
typedef struct wjob {
    char *job_id;      /* map key */
    char *reply_to;
    int attempt;
    uint64_t tag;      /* delivery to acknowledge (on connection `gen`), 0: none */
    unsigned gen;
    char *result;      /* the final status message once finished */
    int64_t started_ns; /* when its job process took it, 0: not yet (or RUNNING sent) */
    size_t len;
    uint64_t seq;      /* its publish sequence number on connection `seq_gen`, 0: not published */
    unsigned seq_gen;
    /* Held (taken ahead of a free slot, not in the pool yet): the resolved
     * job to submit and the message as delivered, to hand back unchanged.
     * Ahead (in the pool behind a busy slot, not started): the message too. */
    bool held, in_pool, ahead, withdrawing;
    int64_t held_ns;
    int64_t pool_ns;   /* when it went to the pool: its slot time, for the prefetch */
    weft__cluster_job cj;
    char *body;
    size_t blen;
} wjob;

/* A delivery to acknowledge once a publish is confirmed (a republished job,
 * a status for a job we did not run). */
typedef struct ack_after {
    uint64_t seq, tag;
    char *job_id;      /* for the recent set, may be NULL */
} ack_after;

/* Events per second over the last RATE_S seconds: a count per second in a
 * ring, so a heartbeat's rates cost RATE_S additions, whatever the load. */
#define RATE_S 60
typedef struct rate {
    int64_t sec[RATE_S], count[RATE_S];
} rate;

static void rate_add(rate *r, int64_t now_s)
{
    size_t i = (size_t)(now_s % RATE_S);
    if (r->sec[i] != now_s) {
        r->sec[i] = now_s;
        r->count[i] = 0;
    }
    r->count[i]++;
}

/* Over the last minute, or over `up_s` seconds when it is shorter. */
static double rate_per_s(const rate *r, int64_t now_s, int64_t up_s)
{
    int64_t sum = 0;
    for (size_t i = 0; i < RATE_S; i++)
        if (r->count[i] && now_s - r->sec[i] < RATE_S) sum += r->count[i];
    int64_t span = up_s < 1 ? 1 : up_s < RATE_S ? up_s : RATE_S;
    return (double)sum / (double)span;
}

/* A bounded set of job ids: the oldest is forgotten past RECENT_MAX.  A
 * cache: an id it fails to keep (no memory) costs at worst a job run again
 * or a cancel told again, both of which the protocol absorbs. */
typedef struct idset {
    weft__strmap map;
    char *ring[RECENT_MAX];
    size_t next;
} idset;

struct weft_worker {
    weft__logger log;
    weft_config *own_cfg;      /* loaded here, or NULL when given */
    const weft_config *cfg;
    char *app, *cfg_path, *url, *queue, *dead, *control, *workers;
    weft__app *own_app;        /* what jobs are resolved against (trust.h) */
    char *secret;              /* the shared secret, NULL: messages unsigned */
    weft__digests digests;     /* of its tasks, as its config defines them */
    weft__amqp_opts aopts;     /* strings borrowed from cfg and url */
    int concurrency;           /* the pool's size: moves with autoscaling */
    int scale_min, scale_max;  /* autoscaling bounds; scale_max 0: off */
    int64_t scale_idle_ns;     /* free slots this long: shrink */
    int64_t full_ns;           /* last round with no free slot */
    int prefetch;              /* >= concurrency: jobs taken ahead of a free slot */
    bool hold;                 /* default prefetch: jobs past the free slots wait here */
    int64_t slot_ns;           /* average slot time of a job (pool hand-off to result), 0: none yet */
    int in_pool;               /* jobs given to the pool and not finished */
    char **starting;           /* ids of started jobs whose RUNNING is not sent yet */
    size_t nstarting, capstarting;
    char **held;               /* ids of held jobs, oldest first */
    size_t nheld, capheld;
    char **ahead;              /* ids of jobs ahead in the pool, oldest first */
    size_t nahead, capahead;
    bool paused;               /* consumer canceled: a held job waited too long */
    weft__pool *pool;
    char host[256];

    pthread_mutex_t mu;        /* guards the pool messages */
    pool_msg *msgs, *msgs_tail;
    int pool_pipe[2];

    atomic_int stops;          /* weft_worker_stop() calls */
    int handled_stops;
    int stop_pipe[2];
    weft__amqp_abort abort;    /* a stop cuts short a connect in progress */
    bool ran;

    weft__amqp *conn;
    weft__reconnect rc;
    unsigned gen;              /* connections opened so far */
    char *job_tag;             /* consumer tag on the job queue */
    bool draining;
    weft__strmap jobs;         /* id -> wjob */
    ack_after *acks;
    size_t nacks, capacks;
    uint64_t orphan_tag;       /* lowest delivery left to the broker on purpose, 0: none */
    unsigned orphan_gen;       /* ... on this connection */
    idset finished, canceled;
    int64_t jobs_run, jobs_started;
    rate started, finished_rate; /* for the heartbeat's rates */
    int64_t open_ns;
    int64_t next_announce_ns;
    int metrics_fd;            /* --metrics listener, -1: none */
};

#define LOG(w, level, ...) weft__log(&(w)->log, (level), "worker", __VA_ARGS__)

static void idset_add(idset *s, const char *id)
{
    if (weft__strmap_get(&s->map, id)) return;
    char *d = weft__strdup(id);
    if (!d) return;
    char *old = s->ring[s->next];
    if (old) {
        weft__strmap_del(&s->map, old);
        free(old);
    }
    s->ring[s->next] = d;
    s->next = (s->next + 1) % RECENT_MAX;
    if (weft__strmap_put(&s->map, d, d) != WEFT_OK) {
        s->next = (s->next + RECENT_MAX - 1) % RECENT_MAX;
        s->ring[s->next] = NULL;
        free(d);
    }
}

static bool idset_has(const idset *s, const char *id) { return weft__strmap_get(&s->map, id); }

static void idset_release(idset *s)
{
    for (size_t i = 0; i < RECENT_MAX; i++) free(s->ring[i]);
    weft__strmap_release(&s->map);
}

/* ---- pool callbacks (on the pool's thread) ---- */

static void push_msg(weft_worker *w, pool_msg *m)
{
    pthread_mutex_lock(&w->mu);
    if (w->msgs_tail)
        w->msgs_tail->next = m;
    else
        w->msgs = m;
    w->msgs_tail = m;
    pthread_mutex_unlock(&w->mu);
    char b = 1;
    ssize_t r = write(w->pool_pipe[1], &b, 1);
    (void)r; /* a full pipe already wakes the service */
}

static void cb_running(void *ud, void *job_ud, const char *job_id, pid_t pid)
{
    (void)job_ud;
    pool_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->job_id = weft__strdup(job_id))) {
        free(m); /* RUNNING is transient anyway: the result says it ran */
        return;
    }
    m->pid = pid;
    m->at_ns = weft__mono_ns();
    m->res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    push_msg(ud, m);
}

static void cb_finished(void *ud, void *job_ud, const char *job_id, weft__job_result *res)
{
    (void)job_ud;
    pool_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->job_id = weft__strdup(job_id))) {
        weft_worker *w = ud;
        LOG(w, WEFT_LOG_ERROR, "job %s: out of memory: its result is lost; it runs again after "
            "a restart", job_id);
        free(m);
        return;
    }
    m->finished = true;
    m->at_ns = weft__mono_ns();
    m->res = *res;
    *res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    push_msg(ud, m);
}

static void cb_withdrawn(void *ud, void *job_ud, const char *job_id)
{
    (void)job_ud;
    pool_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->job_id = weft__strdup(job_id))) {
        weft_worker *w = ud;
        LOG(w, WEFT_LOG_ERROR, "job %s: out of memory: it runs again after a restart", job_id);
        free(m);
        return;
    }
    m->withdrawn = true;
    m->at_ns = weft__mono_ns();
    m->res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    push_msg(ud, m);
}

static void pool_msg_free(pool_msg *m)
{
    weft__job_result_release(&m->res);
    free(m->job_id);
    free(m);
}

/* ---- publishing ---- */

static weft_err add_ack_after(weft_worker *w, uint64_t seq, uint64_t tag, const char *job_id)
{
    if (WEFT__GROW(w->acks, w->nacks + 1, w->capacks)) return WEFT_ENOMEM;
    w->acks[w->nacks].seq = seq;
    w->acks[w->nacks].tag = tag;
    w->acks[w->nacks].job_id = weft__strdup(job_id);
    w->nacks++;
    return WEFT_OK;
}

/* A status message, signed when the service has a secret; `ran_us` as in
 * weft__cluster_status. */
static weft_err status_message(weft_worker *w, const char *job_id, int attempt,
                               weft_job_status st, const weft__job_result *res, int64_t ran_us,
                               char **m, size_t *len, char *err)
{
    weft_err e = weft__cluster_status_encode(job_id, attempt, st, weft__cluster_worker_name(),
                                             res, ran_us, m, len, err);
    if (!e && (e = weft__msg_seal(w->secret, m, len, err))) {
        free(*m);
        *m = NULL;
    }
    return e;
}

/* Publishes a status for a job we will not run, acking `tag` once confirmed. */
static weft_err status_then_ack(weft_worker *w, const weft__cluster_job *cj, weft_job_status st,
                                const char *why, uint64_t tag, char *err)
{
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    res.status = st;
    res.error = weft__strdup(why);
    char *m = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    const char *id = cj->spec.job_id;
    weft_err e = status_message(w, id, cj->spec.attempt, st, &res, 0, &m, &len, err);
    weft__job_result_release(&res);
    if (!e) e = weft__amqp_publish(w->conn, "", cj->reply_to, m, len, true, &seq, err);
    free(m);
    if (!e) e = add_ack_after(w, seq, tag, id);
    return e;
}

/* Publishes a job message on the queue (persistent), acking `tag` once confirmed. */
static weft_err requeue_then_ack(weft_worker *w, const char *msg, size_t len, uint64_t tag,
                                 char *err)
{
    uint64_t seq = 0;
    weft_err e = weft__amqp_publish(w->conn, "", w->queue, msg, len, true, &seq, err);
    return e ? e : add_ack_after(w, seq, tag, NULL);
}

static weft_err publish_result(weft_worker *w, wjob *j, char *err)
{
    uint64_t seq = 0;
    weft_err e = weft__amqp_publish(w->conn, "", j->reply_to, j->result, j->len, true, &seq, err);
    if (!e) {
        j->seq = seq;
        j->seq_gen = w->gen;
    }
    return e;
}

/* A delivery forgotten without acknowledgement, for the broker to give
 * again once this connection closes: no acknowledgement with `multiple`
 * may cover it. */
static void leave_unacked(weft_worker *w, const wjob *j)
{
    if (!j->tag || j->gen != w->gen) return;
    if (w->orphan_gen != w->gen || !w->orphan_tag || j->tag < w->orphan_tag)
        w->orphan_tag = j->tag;
    w->orphan_gen = w->gen;
}

static void wjob_free(wjob *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->reply_to);
    free(j->result);
    weft__cluster_job_release(&j->cj);
    free(j->body);
    free(j);
}

static bool connected(const weft_worker *w) { return w->conn && !weft__amqp_broken(w->conn); }

/* ---- the heartbeat ---- */

typedef struct current_ids {
    const char **ids;
    size_t n, cap;
    bool oom;
} current_ids;

static void add_current(void *value, void *ud)
{
    wjob *j = value;
    current_ids *c = ud;
    if (j->result || j->held) return;
    if (WEFT__GROW(c->ids, c->n + 1, c->cap))
        c->oom = true;
    else
        c->ids[c->n++] = j->job_id;
}

/* Slots given a job: with an explicit prefetch the pool also queues jobs
 * beyond its slots, which are not busy ones. */
static int busy_slots(const weft_worker *w)
{
    return w->in_pool < w->concurrency ? w->in_pool : w->concurrency;
}

/* The jobs holding a delivery of connection `gen`: how many, and the
 * lowest tag (to start from UINT64_MAX, or a lower bound known already). */
typedef struct unacked_scan {
    unsigned gen;
    int64_t n;
    uint64_t low;
} unacked_scan;

static void scan_unacked(void *value, void *ud)
{
    const wjob *j = value;
    unacked_scan *c = ud;
    if (!j->tag || j->gen != c->gen) return;
    c->n++;
    if (j->tag < c->low) c->low = j->tag;
}

/* Deliveries of this connection not acknowledged yet, as the broker counts
 * them: jobs in the pool, held, or whose result awaits its confirm (those
 * with a delivery tag of this connection: a reconnect leaves the older
 * ones to the broker), and deliveries to ack once a publish is confirmed
 * (a job handed back, a status for a job not run).  Deliveries still in
 * the socket's buffer, not read yet, are not counted: a round reads them. */
static int64_t unacked_count(const weft_worker *w)
{
    unacked_scan c = {w->gen, 0, UINT64_MAX};
    for (size_t i = 0; i < w->nacks; i++) c.n += w->acks[i].tag != 0;
    weft__strmap_each(&w->jobs, scan_unacked, &c);
    return c.n;
}

static void announce(weft_worker *w, const char *state)
{
    if (!connected(w)) return;
    current_ids cur = {NULL, 0, 0, false};
    weft__strmap_each(&w->jobs, add_current, &cur);
    weft_worker_info hb = {
        .name = (char *)weft__cluster_worker_name(), .host = w->host, .pid = (int)getpid(),
        .queue = w->queue, .state = (char *)state, .concurrency = w->concurrency,
        .jobs_run = w->jobs_run, .current = (char **)cur.ids, .ncurrent = cur.n,
        .at_us = weft__now_us(), .busy = busy_slots(w), .jobs_started = w->jobs_started,
        .unacked = unacked_count(w)};
    int64_t now_ns = weft__mono_ns(), up_s = (now_ns - w->open_ns) / 1000000000;
    hb.started_per_s = rate_per_s(&w->started, now_ns / 1000000000, up_s);
    hb.finished_per_s = rate_per_s(&w->finished_rate, now_ns / 1000000000, up_s);
    char err[WEFT_ERRBUF_SIZE];
    char *s = NULL;
    size_t len = 0;
    weft_err e = cur.oom ? weft__err(err, WEFT_ENOMEM, "out of memory")
                         : weft__cluster_heartbeat_encode(&hb, &s, &len, err);
    if (!e) e = weft__msg_seal(w->secret, &s, &len, err);
    if (!e) e = weft__amqp_publish(w->conn, w->workers, "", s, len, false, NULL, err);
    if (e) LOG(w, WEFT_LOG_WARN, "heartbeat not sent: %s", err);
    free(s);
    free(cur.ids);
}

/* ---- topology and connection ---- */

static weft_err connect_service(weft_worker *w, char *err)
{
    weft__amqp *c = NULL;
    weft_err e = weft__amqp_open(&w->aopts, &c, err);
    if (e) return e;
    char *ctl = NULL;
    weft__amqp_queue_opts cq = {.exclusive = true, .auto_delete = true};
    if ((e = weft__cluster_declare(c, w->queue, err)) ||
        (e = weft__amqp_declare_queue(c, "", &cq, &ctl, err)) ||
        (e = weft__amqp_bind(c, ctl, w->control, "", err)) ||
        (e = weft__amqp_consume(c, ctl, true, NULL, err)) ||
        (e = weft__amqp_qos(c, (uint16_t)w->prefetch, err))) {
        free(ctl);
        weft__amqp_close(c);
        return e;
    }
    free(ctl);
    free(w->job_tag);
    w->job_tag = NULL;
    if (!w->draining && (e = weft__amqp_consume(c, w->queue, false, &w->job_tag, err))) {
        weft__amqp_close(c);
        return e;
    }
    w->conn = c;
    w->gen++;
    return WEFT_OK;
}

static void republish_each(void *value, void *ud)
{
    weft_worker *w = ud;
    wjob *j = value;
    if (j->gen != w->gen) j->tag = 0;
    if (j->result && j->seq_gen != w->gen && connected(w)) {
        char err[WEFT_ERRBUF_SIZE];
        if (publish_result(w, j, err)) LOG(w, WEFT_LOG_WARN, "%s", err);
    }
}

static void drop_held(weft_worker *w); /* held jobs, below */

/* After a reconnect: deliveries of the old connection cannot be acked any
 * more (the broker requeued them); results not confirmed go out again. */
static void after_reconnect(weft_worker *w)
{
    drop_held(w);
    for (size_t i = 0; i < w->nacks; i++) free(w->acks[i].job_id);
    w->nacks = 0;
    weft__strmap_each(&w->jobs, republish_each, w);
    w->next_announce_ns = 0;
}

/* ---- job messages ---- */

/* O(1) per job: a scan of every task section here made a scenario of N
 * tasks cost O(N^2) on the worker. */
static bool task_defined(const weft_config *cfg, const char *id)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "TASK.%s", id) >= sizeof name) return false;
    return weft_config_has_section(cfg, name);
}

/* Stops taking jobs (basic.cancel; run_held() consumes again once a slot
 * is free and every pending acknowledgement is sent). */
static weft_err pause_consuming(weft_worker *w, char *err)
{
    if (w->paused || !w->job_tag) return WEFT_OK;
    weft_err e = weft__amqp_cancel(w->conn, w->job_tag, err);
    free(w->job_tag);
    w->job_tag = NULL;
    w->paused = true;
    return e;
}

/* A redelivered job: its last worker died (or lost its connection) before
 * the result, so one attempt is used: republished with attempt + 1, or
 * FAILED past max_attempts.  With a prefetch above 1 the service first
 * stops consuming until the old message is acknowledged: else the copy
 * could reach it at once, run and kill it before that ack, and the old
 * message would come back too, a second line of attempts. */
static weft_err count_attempt(weft_worker *w, const weft__cluster_job *cj, uint64_t tag,
                              char *err)
{
    int attempt = cj->spec.attempt;
    if (attempt >= cj->max_attempts) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "the job's worker was lost %d time%s before it finished (killed, or "
                 "disconnected); max_attempts = %d reached",
                 attempt, attempt == 1 ? "" : "s", cj->max_attempts);
        LOG(w, WEFT_LOG_WARN, "job %s: %s", cj->spec.job_id, msg);
        return status_then_ack(w, cj, WEFT_JOB_FAILED, msg, tag, err);
    }
    char *m = NULL;
    size_t len = 0;
    weft_err e = weft__cluster_job_encode(&cj->spec, cj->digest, attempt + 1, cj->max_attempts,
                                          cj->reply_to, &m, &len, err);
    if (!e) e = weft__msg_seal(w->secret, &m, &len, err);
    if (!e && w->prefetch > 1) e = pause_consuming(w, err);
    if (!e) e = requeue_then_ack(w, m, len, tag, err);
    free(m);
    return e;
}

/* Answers a job message that is not to be run here now; false when it is
 * to be run (then *e is untouched). */
static bool answer_without_running(weft_worker *w, const weft__cluster_job *cj,
                                   const weft__amqp_event *ev, weft_err *e, char *err)
{
    const char *id = cj->spec.job_id;
    wjob *mine = weft__strmap_get(&w->jobs, id);
    if (mine) {
        /* Ours, delivered again after a reconnect: keep running it and ack
         * this delivery when its result is confirmed. */
        mine->tag = ev->tag;
        mine->gen = w->gen;
    } else if (ev->redelivered && idset_has(&w->finished, id)) {
        *e = weft__amqp_ack(w->conn, ev->tag, err); /* its result was confirmed already */
    } else if (idset_has(&w->canceled, id)) {
        *e = status_then_ack(w, cj, WEFT_JOB_CANCELED, "canceled before it started", ev->tag,
                             err);
    } else if (w->draining) {
        /* Hand it back unchanged (a nack would mark it redelivered and
         * cost it an attempt). */
        *e = requeue_then_ack(w, ev->body, ev->len, ev->tag, err);
    } else if (ev->redelivered) {
        *e = count_attempt(w, cj, ev->tag, err);
    } else if (!task_defined(w->cfg, cj->spec.task_config_id)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "task '%s' is not defined in this worker's application (%s)",
                 cj->spec.task_config_id, w->cfg_path);
        LOG(w, WEFT_LOG_WARN, "job %s: %s", id, msg);
        *e = status_then_ack(w, cj, WEFT_JOB_FAILED, msg, ev->tag, err);
    } else {
        return false;
    }
    return true;
}

/* Forgets a job that is not in the pool. */
static void drop_job(weft_worker *w, wjob *j)
{
    weft__strmap_del(&w->jobs, j->job_id);
    wjob_free(j);
}

/* Jobs the pool may have beyond its slots, queued in the workers' channels
 * (WEFT__POOL_AHEAD per slot, pool.h), with the default prefetch: a job
 * process that ends a job reads the next one at once, instead of waiting
 * for this thread to hear of the end and hand it one (on 2 one-slot
 * workers, no-op jobs ran 1.12x faster).  One ahead that waited
 * WEFT__HOLD_MS without starting is taken back from the pool and handed
 * back, as a held job is; so only while jobs last a quarter of that or
 * less on average, when that is rare. */
static int ahead_slots(const weft_worker *w)
{
    if (!w->hold || w->draining || w->slot_ns <= 0 ||
        w->slot_ns > (int64_t)AHEAD_MAX_MS * 1000000)
        return 0;
    return WEFT__POOL_AHEAD * w->concurrency;
}

/* Keeps the job's message as delivered, to hand it back unchanged. */
static bool keep_body(wjob *j, const weft__amqp_event *ev)
{
    if (j->body) return true;
    if (!(j->body = malloc(ev->len ? ev->len : 1))) return false;
    memcpy(j->body, ev->body, ev->len);
    j->blen = ev->len;
    return true;
}

/* The job is no longer ahead in the pool: it started, ended or came back. */
static void ahead_forget(weft_worker *w, wjob *j)
{
    if (!j->ahead) return;
    j->ahead = false;
    for (size_t i = 0; i < w->nahead; i++) {
        if (w->ahead[i] != j->job_id) continue;
        memmove(w->ahead + i, w->ahead + i + 1, (w->nahead - i - 1) * sizeof *w->ahead);
        w->nahead--;
        break;
    }
    free(j->body);
    j->body = NULL;
}

/* Hands a job to the pool; it is acknowledged once its result is confirmed.
 * Given beyond the slots (ahead_slots()) with its message kept, it is
 * tracked to be handed back should it wait too long; the message is freed
 * otherwise. */
static weft_err submit_job(weft_worker *w, wjob *j, const weft__job_spec *spec, char *err)
{
    char why[WEFT_ERRBUF_SIZE];
    if (weft__pool_submit(w->pool, spec, NULL, why) == WEFT_OK) {
        j->in_pool = true;
        j->pool_ns = weft__mono_ns();
        w->in_pool++;
        if (w->in_pool > w->concurrency && j->body &&
            !WEFT__GROW(w->ahead, w->nahead + 1, w->capahead)) {
            j->ahead = true;
            w->ahead[w->nahead++] = j->job_id;
        } else {
            free(j->body); /* without memory for the list: it only runs */
            j->body = NULL;
        }
        return WEFT_OK;
    }
    /* The pool refused (stopping): hand it back for another worker. */
    uint64_t tag = j->tag;
    drop_job(w, j);
    return weft__amqp_nack(w->conn, tag, true, err);
}

/* Keeps a job until a slot frees (takes over *cj). */
static weft_err hold_job(weft_worker *w, wjob *j, weft__cluster_job *cj,
                         const weft__amqp_event *ev, char *err)
{
    if (WEFT__GROW(w->held, w->nheld + 1, w->capheld) || !keep_body(j, ev)) {
        leave_unacked(w, j);
        drop_job(w, j);
        return weft__err(err, WEFT_ENOMEM, "out of memory"); /* it comes again */
    }
    j->cj = *cj;
    *cj = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
    j->held = true;
    j->held_ns = weft__mono_ns();
    w->held[w->nheld++] = j->job_id;
    return WEFT_OK;
}

static weft_err start_job(weft_worker *w, weft__cluster_job *cj, const weft__amqp_event *ev,
                          char *err)
{
    const char *id = cj->spec.job_id;
    wjob *j = calloc(1, sizeof *j);
    if (!j || !(j->job_id = weft__strdup(id)) || !(j->reply_to = weft__strdup(cj->reply_to)) ||
        weft__strmap_put(&w->jobs, j->job_id, j)) {
        wjob_free(j);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    j->attempt = cj->spec.attempt;
    j->tag = ev->tag;
    j->gen = w->gen;
    if (w->hold && (w->in_pool >= w->concurrency + ahead_slots(w) || w->nheld))
        return hold_job(w, j, cj, ev, err);
    if (w->hold && w->in_pool >= w->concurrency && !keep_body(j, ev)) {
        leave_unacked(w, j);
        drop_job(w, j);
        return weft__err(err, WEFT_ENOMEM, "out of memory"); /* it comes again */
    }
    return submit_job(w, j, &cj->spec, err);
}

/* Rejects a delivery to the dead-letter queue, with one log line: `what`
 * it was and why it is not acted on. */
static weft_err dead_letter(weft_worker *w, const weft__amqp_event *ev, const char *what,
                            const char *why, char *err)
{
    LOG(w, WEFT_LOG_WARN, "rejected %s to %s: %s", what, w->dead, why);
    return weft__amqp_reject(w->conn, ev->tag, false, err);
}

/* A job this worker is to run only if its application defines the task as
 * the orchestrator's does (else it fails, FAILED with the reason) and
 * declares every data node it names (else it is dead-lettered); the spec
 * gets its storage types, paths and timeout from this application.  true
 * when answered. */
static bool refuse_foreign(weft_worker *w, weft__cluster_job *cj, const weft__amqp_event *ev,
                           weft_err *e, char *err)
{
    const weft__job_spec *sp = &cj->spec;
    char mine[WEFT__DIGEST_HEX + 1], why[WEFT_ERRBUF_SIZE];
    weft_err de = weft__digests_get(&w->digests, w->cfg, sp->task_config_id, mine, why);
    if (de == WEFT_OK && strcmp(mine, cj->digest) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg,
                 "task '%s' differs between the orchestrator and worker %s (its application: %s)",
                 sp->task_config_id, weft__cluster_worker_name(), w->cfg_path);
        LOG(w, WEFT_LOG_WARN, "job %s: %s", sp->job_id, msg);
        *e = status_then_ack(w, cj, WEFT_JOB_FAILED, msg, ev->tag, err);
        return true;
    }
    if (de == WEFT_OK) de = weft__trust_resolve(w->own_app, &cj->spec, why);
    if (de == WEFT_OK) return false;
    if (de == WEFT_ENOMEM) {
        *e = weft__err(err, de, "job %s: %s", sp->job_id, why); /* it comes again */
        return true;
    }
    char msg[WEFT_ERRBUF_SIZE + 300];
    snprintf(msg, sizeof msg, "job %s: %s", sp->job_id, why);
    *e = dead_letter(w, ev, "a job message", msg, err);
    return true;
}

static weft_err on_job(weft_worker *w, const weft__amqp_event *ev, char *err)
{
    weft__cluster_job cj = WEFT__CLUSTER_JOB_INIT;
    char why[WEFT_ERRBUF_SIZE] = "";
    char *body = NULL;
    size_t blen = 0;
    weft_err e = weft__msg_open(w->secret, ev->body, ev->len, &body, &blen, why);
    if (e == WEFT_ENOMEM) return weft__err(err, e, "%s", why);
    if (e) return dead_letter(w, ev, "an unauthenticated message", why, err);
    e = weft__cluster_job_decode(body, blen, &cj, why);
    free(body);
    if (e == WEFT_ENOMEM) return weft__err(err, e, "%s", why);
    if (e) return dead_letter(w, ev, "a malformed message", why, err);
    if (!answer_without_running(w, &cj, ev, &e, err) && !refuse_foreign(w, &cj, ev, &e, err))
        e = start_job(w, &cj, ev, err);
    weft__cluster_job_release(&cj);
    return e;
}

static weft_err on_control(weft_worker *w, const weft__amqp_event *ev)
{
    char why[WEFT_ERRBUF_SIZE];
    char *body = NULL;
    size_t blen = 0;
    if (weft__msg_open(w->secret, ev->body, ev->len, &body, &blen, why) != WEFT_OK) {
        /* Taken without acknowledgement from our own exclusive queue:
         * nothing to dead-letter, only to ignore. */
        LOG(w, WEFT_LOG_WARN, "ignored a control message: %s", why);
        return WEFT_OK;
    }
    char *id = weft__cluster_cancel_decode(body, blen);
    free(body);
    if (!id) return WEFT_OK; /* other control messages: none yet */
    idset_add(&w->canceled, id);
    wjob *j = weft__strmap_get(&w->jobs, id);
    if (j && !j->result) weft__pool_cancel(w->pool, id, NULL);
    free(id);
    return WEFT_OK;
}

/* ---- publisher confirms ---- */

typedef struct confirm_ctx {
    weft_worker *w;
    const weft__amqp_event *ev;
    char **done; /* ids whose result is confirmed (borrowed from the jobs) */
    size_t ndone, capdone;
    bool oom;
} confirm_ctx;

static bool covered(const weft__amqp_event *ev, uint64_t seq)
{
    return seq && (ev->multiple ? seq <= ev->tag : seq == ev->tag);
}

static void collect_confirmed(void *value, void *ud)
{
    confirm_ctx *c = ud;
    wjob *j = value;
    if (!j->result || j->seq_gen != c->w->gen || !covered(c->ev, j->seq)) return;
    if (WEFT__GROW(c->done, c->ndone + 1, c->capdone))
        c->oom = true;
    else
        c->done[c->ndone++] = j->job_id;
}

/* Delivery tags to acknowledge once a confirm is handled. */
typedef struct tag_list {
    uint64_t *v;
    size_t n, cap;
} tag_list;

/* Adds a tag; without memory it is acknowledged at once instead. */
static weft_err tag_add(weft_worker *w, tag_list *t, uint64_t tag, char *err)
{
    if (!WEFT__GROW(t->v, t->n + 1, t->cap)) {
        t->v[t->n++] = tag;
        return WEFT_OK;
    }
    return weft__amqp_ack(w->conn, tag, err);
}

/* Acknowledges the deliveries whose publish (a requeue, a status for a job
 * not run) the confirm covers, adding their tags to `t`; a refused
 * publish leaves its delivery to the broker (nack, requeue). */
static weft_err settle_acks_after(weft_worker *w, const weft__amqp_event *ev, tag_list *t,
                                  char *err)
{
    weft_err e = WEFT_OK;
    size_t k = 0;
    for (size_t i = 0; i < w->nacks; i++) {
        ack_after *a = &w->acks[i];
        if (!covered(ev, a->seq)) {
            w->acks[k++] = *a;
            continue;
        }
        if (!e) {
            if (ev->nack) {
                e = weft__amqp_nack(w->conn, a->tag, true, err);
            } else {
                e = tag_add(w, t, a->tag, err);
                if (a->job_id) idset_add(&w->finished, a->job_id);
            }
        }
        free(a->job_id);
    }
    w->nacks = k;
    return e;
}

/* The lowest delivery tag of this connection still to be settled: a job
 * taken and not acknowledged yet (held, running, its result unconfirmed),
 * an acknowledgement waiting for a confirm, or a delivery left to the
 * broker on purpose (w->orphan_tag).  UINT64_MAX: none. */
static uint64_t lowest_unacked(weft_worker *w)
{
    uint64_t orphan = w->orphan_tag && w->orphan_gen == w->gen ? w->orphan_tag : UINT64_MAX;
    unacked_scan c = {w->gen, 0, orphan};
    for (size_t i = 0; i < w->nacks; i++)
        if (w->acks[i].tag < c.low) c.low = w->acks[i].tag;
    weft__strmap_each(&w->jobs, scan_unacked, &c);
    return c.low;
}

/* Acknowledges the tags: those below every delivery still unsettled with
 * one basic.ack (multiple), the others one by one.  A confirm usually
 * covers several results: their deliveries cost one frame, not one each. */
static weft_err ack_tags(weft_worker *w, const tag_list *t, char *err)
{
    if (!t->n) return WEFT_OK;
    uint64_t low = lowest_unacked(w), upto = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i] < low && t->v[i] > upto) upto = t->v[i];
    weft_err e = upto ? weft__amqp_ack_upto(w->conn, upto, err) : WEFT_OK;
    for (size_t i = 0; i < t->n && !e; i++)
        if (t->v[i] > upto) e = weft__amqp_ack(w->conn, t->v[i], err);
    return e;
}

static weft_err on_confirm(weft_worker *w, const weft__amqp_event *ev, char *err)
{
    tag_list t = {NULL, 0, 0};
    weft_err e = settle_acks_after(w, ev, &t, err);
    confirm_ctx c = {w, ev, NULL, 0, 0, false};
    weft__strmap_each(&w->jobs, collect_confirmed, &c);
    for (size_t i = 0; i < c.ndone; i++) {
        wjob *j = weft__strmap_get(&w->jobs, c.done[i]);
        if (ev->nack) {
            if (!e) e = publish_result(w, j, err); /* the broker refused it: again */
            continue;
        }
        weft__strmap_del(&w->jobs, j->job_id);
        if (!e && j->tag && j->gen == w->gen) e = tag_add(w, &t, j->tag, err);
        idset_add(&w->finished, j->job_id);
        wjob_free(j);
    }
    free(c.done);
    if (!e) e = ack_tags(w, &t, err);
    free(t.v);
    /* A confirm not applied to every job: reconnecting publishes the
     * results of the others again, and they get a confirm of their own. */
    if (!e && c.oom) e = weft__err(err, WEFT_ENOMEM, "out of memory while handling a confirm");
    return e;
}

/* ---- jobs started and finished in the pool ---- */

static weft_err publish_running(weft_worker *w, wjob *j, char *err)
{
    char *s = NULL;
    size_t len = 0;
    int64_t ran_us = j->started_ns ? (weft__mono_ns() - j->started_ns) / 1000 + 1 : 0;
    weft_err e = status_message(w, j->job_id, j->attempt, WEFT_JOB_RUNNING, NULL, ran_us, &s, &len,
                                err);
    /* Transient: a lost RUNNING costs nothing (the result follows,
     * persistent), and the broker need not fsync it. */
    if (!e) e = weft__amqp_publish(w->conn, "", j->reply_to, s, len, false, NULL, err);
    free(s);
    return e;
}

/* A job's process took it: its RUNNING goes out only once it has run
 * WEFT__RUNNING_AFTER_MS (send_running()), so that a short job costs one
 * status message, its result, instead of two.  Without memory for the
 * list, RUNNING is sent now. */
static weft_err job_started(weft_worker *w, wjob *j, int64_t at_ns, char *err)
{
    j->started_ns = at_ns; /* also for the result's ran_us (job_finished()) */
    if (!connected(w)) return WEFT_OK; /* transient: the result says it ran */
    char *id = weft__strdup(j->job_id);
    if (!id || WEFT__GROW(w->starting, w->nstarting + 1, w->capstarting)) {
        free(id);
        weft_err e = publish_running(w, j, err);
        j->started_ns = 0;
        return e;
    }
    w->starting[w->nstarting++] = id;
    return WEFT_OK;
}

/* Publishes RUNNING for the started jobs that ran WEFT__RUNNING_AFTER_MS
 * and have not finished; forgets those that finished (their result says
 * they ran) or are gone. */
static weft_err send_running(weft_worker *w, char *err)
{
    int64_t due = weft__mono_ns() - (int64_t)WEFT__RUNNING_AFTER_MS * 1000000;
    weft_err e = WEFT_OK;
    size_t k = 0;
    for (size_t i = 0; i < w->nstarting; i++) {
        wjob *j = weft__strmap_get(&w->jobs, w->starting[i]);
        if (j && !j->result && j->started_ns > due) {
            w->starting[k++] = w->starting[i];
            continue;
        }
        if (j && !j->result && j->started_ns && !e && connected(w)) e = publish_running(w, j, err);
        if (j) j->started_ns = 0;
        free(w->starting[i]);
    }
    w->nstarting = k;
    return e;
}

/* Milliseconds until the oldest started job's RUNNING is due, or `max`. */
static int64_t running_due_ms(const weft_worker *w, int64_t max)
{
    int64_t first = 0;
    for (size_t i = 0; i < w->nstarting; i++) {
        const wjob *j = weft__strmap_get(&w->jobs, w->starting[i]);
        if (j && !j->result && j->started_ns && (!first || j->started_ns < first))
            first = j->started_ns;
    }
    if (!first) return max;
    int64_t ms =
        (first + (int64_t)WEFT__RUNNING_AFTER_MS * 1000000 - weft__mono_ns()) / 1000000 + 1;
    return ms < 0 ? 0 : ms < max ? ms : max;
}

/* Keeps the job's result until the broker confirms it; publishes it now
 * when `publish` (connected, and no error earlier in the batch). */
static weft_err job_finished(weft_worker *w, wjob *j, const weft__job_result *res, int64_t at_ns,
                             bool publish, char *err)
{
    w->jobs_run++;
    char why[WEFT_ERRBUF_SIZE];
    /* Its RUNNING not sent: the result says how long it ran. */
    int64_t ran_us = j->started_ns ? (at_ns - j->started_ns) / 1000 + 1 : 0;
    if (status_message(w, j->job_id, j->attempt, res->status, res, ran_us, &j->result, &j->len, why) !=
        WEFT_OK) {
        /* Forgotten, unacknowledged: the broker delivers it again once
         * this connection closes, and it runs again (one more attempt). */
        LOG(w, WEFT_LOG_ERROR, "job %s: its result cannot be sent: %s", j->job_id, why);
        leave_unacked(w, j);
        weft__strmap_del(&w->jobs, j->job_id);
        wjob_free(j);
        return WEFT_OK;
    }
    return publish ? publish_result(w, j, err) : WEFT_OK;
}

/* A moving average (weight 1/8) of how long a job keeps its slot. */
static void slot_time(weft_worker *w, int64_t ns)
{
    if (ns < 1) ns = 1;
    w->slot_ns = w->slot_ns ? w->slot_ns + (ns - w->slot_ns) / 8 : ns;
}

/* A job ahead came back from the pool unstarted (it waited WEFT__HOLD_MS
 * behind a busy slot, or a drain or a lost connection took it back): to
 * the queue for another worker, as a held job is (hand_back()), when
 * `send` and its delivery is of this connection; else forgotten, and the
 * broker delivers it again. */
static weft_err job_withdrawn(weft_worker *w, wjob *j, bool send, char *err)
{
    j->withdrawing = false;
    j->in_pool = false;
    w->in_pool--;
    weft_err e = WEFT_OK;
    if (send && connected(w) && j->tag && j->gen == w->gen) {
        LOG(w, WEFT_LOG_DEBUG, "job %s: handed back after %lld ms unstarted in the pool",
            j->job_id, (long long)((weft__mono_ns() - j->pool_ns) / 1000000));
        if (!w->draining) e = pause_consuming(w, err); /* first: the copy goes elsewhere */
        if (!e) e = requeue_then_ack(w, j->body, j->blen, j->tag, err);
    }
    ahead_forget(w, j);
    drop_job(w, j);
    return e;
}

static weft_err on_pool_msgs(weft_worker *w, char *err)
{
    char buf[256];
    while (read(w->pool_pipe[0], buf, sizeof buf) > 0) {}
    pthread_mutex_lock(&w->mu);
    pool_msg *m = w->msgs;
    w->msgs = w->msgs_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    weft_err e = WEFT_OK;
    while (m) {
        pool_msg *next = m->next;
        wjob *j = weft__strmap_get(&w->jobs, m->job_id);
        if (m->withdrawn) {
            if (j && j->in_pool && !e)
                e = job_withdrawn(w, j, true, err);
            else if (j && j->in_pool)
                job_withdrawn(w, j, false, err);
            pool_msg_free(m);
            m = next;
            continue;
        }
        if (j && !m->finished && j->ahead) {
            ahead_forget(w, j);
            j->pool_ns = m->at_ns; /* its slot time starts now */
        }
        if (j && m->finished && j->in_pool) {
            ahead_forget(w, j);
            j->in_pool = false; /* its slot is free */
            w->in_pool--;
            slot_time(w, weft__mono_ns() - j->pool_ns);
        }
        if (!m->finished) w->jobs_started++;
        rate_add(m->finished ? &w->finished_rate : &w->started, weft__mono_ns() / 1000000000);
        if (j && !m->finished && !e)
            e = job_started(w, j, m->at_ns, err);
        else if (j && m->finished && !j->result && !e)
            e = job_finished(w, j, &m->res, m->at_ns, connected(w), err);
        else if (j && m->finished && !j->result)
            job_finished(w, j, &m->res, m->at_ns, false, err);
        pool_msg_free(m);
        m = next;
    }
    return e;
}

/* ---- autoscaling ---- */

/* The default prefetch: N running plus, per slot, as many held jobs as it
 * runs in half the hold time at the jobs' average length (at least 1, at
 * most MAX_HELD_PER_SLOT).  So jobs of 200 ms or more get 2N, as before
 * this was adaptive, and no-op jobs 64N: the next ones are at hand while
 * the broker confirms the last results (each finished job counts against
 * the prefetch until then), without a held job waiting long for its slot
 * on average.  A job longer than that still gets its held jobs handed back
 * after WEFT__HOLD_MS, as with any prefetch. */
static int default_prefetch(const weft_worker *w)
{
    int64_t per_slot = 1, n = w->concurrency;
    if (w->slot_ns > 0) per_slot = (int64_t)WEFT__HOLD_MS * 1000000 / 2 / w->slot_ns;
    per_slot = per_slot < 1 ? 1 : per_slot > MAX_HELD_PER_SLOT ? MAX_HELD_PER_SLOT : per_slot;
    int64_t p = n * (1 + per_slot);
    return p < MAX_PREFETCH ? (int)p : MAX_PREFETCH;
}

/* Sets the default prefetch again when the jobs' length moved it by 2x or
 * more.  Like a resize, the new basic.qos reaches a new consumer only: the
 * service pauses, and run_held() consumes again while a slot is free.  The
 * 2x keeps that round trip rare. */
static weft_err retune_prefetch(weft_worker *w, char *err)
{
    if (!w->hold || w->draining || w->paused) return WEFT_OK;
    int p = default_prefetch(w);
    if (p < 2 * w->prefetch && 2 * p > w->prefetch) return WEFT_OK;
    w->prefetch = p;
    weft_err e = weft__amqp_qos(w->conn, (uint16_t)p, err);
    return e ? e : pause_consuming(w, err);
}

/* The size the pool should have now: more while every slot is busy and
 * jobs wait, fewer once slots stayed free for the idle time. */
static int scale_target(weft_worker *w)
{
    int64_t now = weft__mono_ns();
    int n = w->concurrency;
    int waiting = (int)w->nheld + (w->in_pool > n ? w->in_pool - n : 0); /* held, or ahead */
    if (w->in_pool + (int)w->nheld >= n) w->full_ns = now;
    if (w->in_pool >= n && (waiting || w->paused)) {
        n += waiting ? waiting : 1;
        return n < w->scale_max ? n : w->scale_max;
    }
    if (now - w->full_ns < w->scale_idle_ns) return n;
    w->full_ns = now; /* the next step down waits as long again */
    return w->in_pool > w->scale_min ? w->in_pool : w->scale_min;
}

/* Resizes the pool when the load says so, and the prefetch with it.  The
 * new prefetch reaches only a new consumer: the service pauses, and
 * run_held() consumes again while a slot is free. */
static weft_err autoscale(weft_worker *w, char *err)
{
    if (!w->scale_max || w->draining) return WEFT_OK;
    int n = scale_target(w);
    if (n == w->concurrency) return WEFT_OK;
    LOG(w, WEFT_LOG_INFO, "autoscale: %d -> %d job processes (%d busy, %zu held)",
        w->concurrency, n, w->in_pool, w->nheld);
    w->concurrency = weft__pool_resize(w->pool, n);
    w->prefetch = default_prefetch(w);
    w->next_announce_ns = 0; /* the new size in the next heartbeat */
    weft_err e = weft__amqp_qos(w->conn, (uint16_t)w->prefetch, err);
    return e ? e : pause_consuming(w, err);
}

/* ---- held jobs (the default prefetch) ---- */

static wjob *held_pop(weft_worker *w)
{
    wjob *j = weft__strmap_get(&w->jobs, w->held[0]);
    memmove(w->held, w->held + 1, (w->nheld - 1) * sizeof *w->held);
    w->nheld--;
    j->held = false;
    return j;
}

/* Gives held jobs to the pool while slots are free, oldest first, and
 * consumes again once a slot is free. */
static weft_err run_held(weft_worker *w, char *err)
{
    weft_err e = WEFT_OK;
    while (!e && w->nheld && w->in_pool < w->concurrency + ahead_slots(w)) {
        wjob *j = held_pop(w);
        weft__cluster_job cj = j->cj;
        j->cj = (weft__cluster_job)WEFT__CLUSTER_JOB_INIT;
        if (idset_has(&w->canceled, j->job_id)) {
            e = status_then_ack(w, &cj, WEFT_JOB_CANCELED, "canceled before it started", j->tag,
                                err);
            drop_job(w, j);
        } else {
            e = submit_job(w, j, &cj.spec, err);
        }
        weft__cluster_job_release(&cj);
    }
    if (!e && w->paused && !w->draining && w->in_pool < w->concurrency && !w->nacks) {
        e = weft__amqp_consume(w->conn, w->queue, false, &w->job_tag, err);
        if (!e) w->paused = false;
    }
    return e;
}

/* Hands back to the queue the held jobs taken at `before_ns` or earlier
 * (republished unchanged, acknowledged once confirmed); true in *any when
 * there was one. */
static weft_err hand_back(weft_worker *w, int64_t before_ns, bool *any, char *err)
{
    weft_err e = WEFT_OK;
    while (!e && w->nheld) {
        wjob *j = weft__strmap_get(&w->jobs, w->held[0]);
        if (j->held_ns > before_ns) break;
        held_pop(w);
        LOG(w, WEFT_LOG_DEBUG, "job %s: handed back after %lld ms held", j->job_id,
            (long long)((weft__mono_ns() - j->held_ns) / 1000000));
        e = requeue_then_ack(w, j->body, j->blen, j->tag, err);
        drop_job(w, j);
        *any = true;
    }
    return e;
}

/* Asks the pool for the jobs ahead that went to it at `before_ns` or
 * earlier and have not started: they come back through job_withdrawn(). */
static void withdraw_ahead(weft_worker *w, int64_t before_ns)
{
    for (size_t i = 0; i < w->nahead; i++) {
        wjob *j = weft__strmap_get(&w->jobs, w->ahead[i]);
        if (j->pool_ns > before_ns) break;
        if (j->withdrawing) continue;
        char err[WEFT_ERRBUF_SIZE];
        if (weft__pool_withdraw(w->pool, j->job_id, err) == WEFT_OK)
            j->withdrawing = true; /* without memory: it runs, later */
    }
}

/* A held job that waited WEFT__HOLD_MS goes back to the queue, for an idle
 * worker, and this one stops consuming until a slot frees: with every slot
 * busy on long jobs, taking the next job only to hand it back would delay
 * every job it touches. */
static weft_err expire_held(weft_worker *w, char *err)
{
    int64_t before = weft__mono_ns() - (int64_t)WEFT__HOLD_MS * 1000000;
    withdraw_ahead(w, before);
    if (!w->nheld || ((wjob *)weft__strmap_get(&w->jobs, w->held[0]))->held_ns > before)
        return WEFT_OK;
    /* Paused first, so that the copies go to other workers. */
    bool any = false;
    weft_err e = pause_consuming(w, err);
    return e ? e : hand_back(w, before, &any, err);
}

/* The connection is gone: the broker requeues the held deliveries, and
 * gives the jobs ahead in the pool to others too: they are taken back. */
static void drop_held(weft_worker *w)
{
    while (w->nheld) drop_job(w, held_pop(w));
    withdraw_ahead(w, INT64_MAX);
    w->paused = false;
}

/* Milliseconds until the oldest held job, or job ahead, is to be handed
 * back, or `max`. */
static int64_t held_due_ms(const weft_worker *w, int64_t max)
{
    int64_t first = INT64_MAX;
    if (w->nheld) first = ((const wjob *)weft__strmap_get(&w->jobs, w->held[0]))->held_ns;
    for (size_t i = 0; i < w->nahead; i++) {
        const wjob *j = weft__strmap_get(&w->jobs, w->ahead[i]);
        if (j->withdrawing) continue;
        if (j->pool_ns < first) first = j->pool_ns;
        break;
    }
    if (first == INT64_MAX) return max;
    int64_t ms = (first + (int64_t)WEFT__HOLD_MS * 1000000 - weft__mono_ns()) / 1000000 + 1;
    return ms < 0 ? 0 : ms < max ? ms : max;
}

/* ---- Prometheus text for --metrics ---- */

/* Appends to a bounded buffer; a full one truncates (the figures are few). */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    *len = n < 0 ? *len : *len + (size_t)n >= cap ? cap : *len + (size_t)n;
}

/* The queue's counts (a passive declare on the service's connection) and
 * this worker's, as the heartbeat has them (its unacked deliveries: the
 * queue's unacked messages are the sum over its workers). */
static void answer_metrics(weft_worker *w)
{
    char body[4096], err[WEFT_ERRBUF_SIZE];
    size_t n = 0;
    int64_t ready = 0, consumers = 0;
    if (connected(w) &&
        weft__amqp_queue_counts(w->conn, w->queue, &ready, &consumers, err) == WEFT_OK) {
        put(body, sizeof body, &n, "# TYPE weft_queue_messages_ready gauge\n"
            "weft_queue_messages_ready{queue=\"%s\"} %lld\n", w->queue, (long long)ready);
        put(body, sizeof body, &n, "# TYPE weft_queue_consumers gauge\n"
            "weft_queue_consumers{queue=\"%s\"} %lld\n", w->queue, (long long)consumers);
    }
    int64_t now_ns = weft__mono_ns(), up_s = (now_ns - w->open_ns) / 1000000000;
    const char *name = weft__cluster_worker_name();
    put(body, sizeof body, &n, "# TYPE weft_worker_size gauge\n"
        "weft_worker_size{queue=\"%s\",worker=\"%s\"} %d\n", w->queue, name, w->concurrency);
    put(body, sizeof body, &n, "# TYPE weft_worker_busy_slots gauge\n"
        "weft_worker_busy_slots{queue=\"%s\",worker=\"%s\"} %d\n", w->queue, name,
        busy_slots(w));
    put(body, sizeof body, &n, "# HELP weft_worker_unacked Deliveries of the queue this worker "
        "holds unacknowledged (sum() over the workers: the queue's).\n"
        "# TYPE weft_worker_unacked gauge\n"
        "weft_worker_unacked{queue=\"%s\",worker=\"%s\"} %lld\n", w->queue, name,
        (long long)(connected(w) ? unacked_count(w) : 0));
    put(body, sizeof body, &n, "# TYPE weft_worker_jobs_started_total counter\n"
        "weft_worker_jobs_started_total{queue=\"%s\",worker=\"%s\"} %lld\n", w->queue, name,
        (long long)w->jobs_started);
    put(body, sizeof body, &n, "# TYPE weft_worker_jobs_finished_total counter\n"
        "weft_worker_jobs_finished_total{queue=\"%s\",worker=\"%s\"} %lld\n", w->queue, name,
        (long long)w->jobs_run);
    put(body, sizeof body, &n, "# TYPE weft_worker_jobs_started_per_second gauge\n"
        "weft_worker_jobs_started_per_second{queue=\"%s\",worker=\"%s\"} %.3f\n", w->queue,
        name, rate_per_s(&w->started, now_ns / 1000000000, up_s));
    put(body, sizeof body, &n, "# TYPE weft_worker_jobs_finished_per_second gauge\n"
        "weft_worker_jobs_finished_per_second{queue=\"%s\",worker=\"%s\"} %.3f\n", w->queue,
        name, rate_per_s(&w->finished_rate, now_ns / 1000000000, up_s));
    body[n < sizeof body ? n : sizeof body - 1] = '\0';
    weft__metrics_answer(w->metrics_fd, body);
}

/* ---- the loop ---- */

static void drain_pipe(int fd)
{
    char b[64];
    while (read(fd, b, sizeof b) > 0) {}
}

static void start_draining(weft_worker *w)
{
    LOG(w, WEFT_LOG_INFO, "draining: finishing %zu running job(s), taking no new ones",
        w->jobs.len);
    w->draining = true;
    char err[WEFT_ERRBUF_SIZE];
    bool any = false;
    if (connected(w) && w->job_tag && weft__amqp_cancel(w->conn, w->job_tag, err))
        LOG(w, WEFT_LOG_WARN, "%s", err);
    withdraw_ahead(w, INT64_MAX);
    if (!connected(w))
        drop_held(w);
    else if (hand_back(w, INT64_MAX, &any, err))
        LOG(w, WEFT_LOG_WARN, "%s", err); /* the connection fails: the broker requeues them */
    announce(w, "draining");
}

/* Applies new weft_worker_stop() calls; true when run() is to return now. */
static bool take_stop_requests(weft_worker *w)
{
    int n = atomic_load(&w->stops);
    if (n == w->handled_stops) return false;
    w->handled_stops = n;
    if (n > 1) {
        LOG(w, WEFT_LOG_INFO, "asked again to stop: stopping now; unfinished jobs will be "
            "redelivered");
        return true;
    }
    start_draining(w);
    return false;
}

/* Without a connection: waits until an attempt is due (handling finished
 * jobs and stop requests meanwhile), or makes one.  Only a malformed URL
 * is an error: anything else is retried. */
static weft_err connect_when_due(weft_worker *w, char *err)
{
    int wait_ms = weft__reconnect_wait_ms(&w->rc);
    if (wait_ms > 0) {
        struct pollfd p[2] = {{w->stop_pipe[0], POLLIN, 0}, {w->pool_pipe[0], POLLIN, 0}};
        poll(p, 2, wait_ms);
        if (p[0].revents) drain_pipe(w->stop_pipe[0]);
        char why[WEFT_ERRBUF_SIZE];
        if (p[1].revents) on_pool_msgs(w, why); /* results wait for the connection */
        return WEFT_OK;
    }
    /* A stop from now on cuts the attempt short: its byte is left in the
     * pipe, and weft_worker_stop() shuts down the socket of a login. */
    drain_pipe(w->stop_pipe[0]);
    if (atomic_load(&w->stops) != w->handled_stops) return WEFT_OK;
    char why[WEFT_ERRBUF_SIZE];
    weft_err e = connect_service(w, why);
    if (e == WEFT_ECANCELED) return WEFT_OK; /* the loop takes the stop request */
    if (e == WEFT_EINVAL) return weft__err(err, e, "%s", why);
    if (e) {
        weft__reconnect_failed(&w->rc, why);
        return WEFT_OK;
    }
    weft__reconnect_succeeded(&w->rc, weft__amqp_url(w->conn));
    after_reconnect(w);
    return WEFT_OK;
}

static weft_err handle_events(weft_worker *w, char *err)
{
    weft_err e = WEFT_OK;
    for (int n = 0; n < 1024 && !e; n++) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        e = weft__amqp_next(w->conn, 0, &ev, err);
        if (e == WEFT_ETIMEDOUT) return WEFT_OK;
        if (e) break;
        if (ev.kind == WEFT__AMQP_CONFIRM)
            e = on_confirm(w, &ev, err);
        else if (ev.exchange && strcmp(ev.exchange, w->control) == 0)
            e = on_control(w, &ev);
        else
            e = on_job(w, &ev, err);
        weft__amqp_event_release(&ev);
    }
    return e;
}

/* One round on a working connection: the heartbeat when due, a wait for
 * the broker, the pool or a stop request, and what they brought. */
static void serve_round(weft_worker *w)
{
    if (weft__mono_ns() >= w->next_announce_ns) {
        announce(w, w->draining ? "draining" : "up");
        w->next_announce_ns = weft__mono_ns() + (int64_t)ANNOUNCE_MS * 1000000;
    }
    /* Sleep only until the next announcement is due: a fixed period here,
     * after a poll that woke a moment early, would skip one and leave a gap
     * of twice the period. */
    int64_t due_ms = (w->next_announce_ns - weft__mono_ns()) / 1000000 + 1;
    due_ms = held_due_ms(w, due_ms < 0 ? 0 : due_ms > ANNOUNCE_MS ? ANNOUNCE_MS : due_ms);
    due_ms = running_due_ms(w, due_ms);
    struct pollfd p[3] = {{w->stop_pipe[0], POLLIN, 0}, {w->pool_pipe[0], POLLIN, 0},
                          {w->metrics_fd, POLLIN, 0}};
    weft__amqp_poll(w->conn, p, w->metrics_fd >= 0 ? 3 : 2, (int)due_ms);
    if (p[0].revents) drain_pipe(w->stop_pipe[0]);
    if (w->metrics_fd >= 0 && p[2].revents) answer_metrics(w);
    char err[WEFT_ERRBUF_SIZE] = "connection to the broker lost";
    weft_err e = p[1].revents ? on_pool_msgs(w, err) : WEFT_OK;
    if (!e) e = handle_events(w, err);
    if (!e && w->nstarting) e = send_running(w, err);
    if (!e && connected(w)) e = autoscale(w, err);
    if (!e && connected(w)) e = retune_prefetch(w, err);
    if (!e && connected(w)) e = run_held(w, err);
    if (!e && connected(w)) e = expire_held(w, err);
    if (e || weft__amqp_broken(w->conn)) {
        weft__reconnect_lost(&w->rc, err);
        weft__amqp_close(w->conn);
        w->conn = NULL;
        drop_held(w);
    }
}

/* Draining is over: no job runs and every result is confirmed; or, with
 * the broker unreachable, no job runs and the results cannot be sent (the
 * broker gives those jobs to another worker: they are not lost), so that
 * a stop ends within seconds while the broker is down. */
static bool drained(weft_worker *w)
{
    if (!w->draining) return false;
    if (w->conn) return w->jobs.len == 0 && w->nacks == 0;
    current_ids cur = {NULL, 0, 0, false};
    weft__strmap_each(&w->jobs, add_current, &cur);
    free(cur.ids);
    if (cur.n || cur.oom) return false;
    if (w->jobs.len)
        LOG(w, WEFT_LOG_WARN, "the broker is unreachable: %zu job result(s) not sent; those jobs "
            "will be delivered again", w->jobs.len);
    return true;
}

weft_err weft_worker_run(weft_worker *w, char *err)
{
    if (w->ran) return weft__err(err, WEFT_ESTATE, "this worker service ran already");
    w->ran = true;
    char red[1024];
    weft__amqp_redact(w->url, red, sizeof red);
    LOG(w, WEFT_LOG_INFO, "application %s, broker %s, queue %s, concurrency %d, prefetch %d%s",
        w->app, red, w->queue, w->concurrency, w->prefetch,
        w->hold ? " (to start with: it follows the jobs' length)" : "");
    weft__amqp_warn_insecure(&w->aopts, &w->log, "worker");
    weft_err e = WEFT_OK;
    while (!e && !take_stop_requests(w)) {
        if (drained(w)) break;
        if (!w->conn) {
            e = connect_when_due(w, err);
            if (w->conn && w->gen == 1 && !w->secret) /* once connected, as the orchestrator */
                LOG(w, WEFT_LOG_WARN,
                    "cluster messages are not authenticated: set [JOB] broker_secret");
        } else
            serve_round(w);
    }
    announce(w, "down");
    return e;
}

void weft_worker_stop(weft_worker *w)
{
    int saved = errno;
    atomic_fetch_add(&w->stops, 1);
    char b = 1;
    ssize_t r = write(w->stop_pipe[1], &b, 1);
    (void)r; /* a full pipe already wakes the service */
    weft__amqp_abort_fire(&w->abort);
    errno = saved;
}

const char *weft_worker_name(const weft_worker *w)
{
    (void)w;
    return weft__cluster_worker_name();
}

/* ---- opening and closing ---- */

static weft_err make_pipe(int fds[2], char *err)
{
    if (pipe(fds) != 0) {
        fds[0] = fds[1] = -1;
        return weft__err(err, WEFT_EIO, "pipe: %s", strerror(errno));
    }
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return WEFT_OK;
}

/* The config (given, or loaded and checked here), the application folder
 * and the file named in messages. */
static weft_err load_application(weft_worker *w, const weft_worker_opts *o, char *err)
{
    char path[PATH_MAX];
    const char *file = o->config_file;
    if (o->config) {
        w->cfg = o->config;
        file = weft_config_file(o->config);
    } else {
        if (!file) {
            snprintf(path, sizeof path, "%s/config.toml",
                     o->application_path ? o->application_path : ".");
            file = path;
        }
        if (!(w->own_cfg = weft_config_new())) return weft__err(err, WEFT_ENOMEM, "out of memory");
        weft_err e = weft_config_load(w->own_cfg, file, err);
        if (!e) e = weft_config_check(w->own_cfg, err);
        if (e) return e;
        w->cfg = w->own_cfg;
    }
    const char *app = o->application_path ? o->application_path
                                          : weft_config_application_path(w->cfg);
    if (!(w->app = weft__strdup(app)) || !(w->cfg_path = weft__strdup(file ? file : "<code>")))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

/* What jobs are checked against: the application (for the paths a job
 * may use) and the shared secret, from the secret file or [JOB]
 * broker_secret. */
static weft_err load_trust(weft_worker *w, const weft_worker_opts *o, char *err)
{
    weft_err e = weft__app_new(w->cfg, w->app, &w->own_app, err);
    if (e) return e;
    if (o->secret_file) return weft__secret_read(o->secret_file, &w->secret, err);
    if ((e = weft__cluster_secret_check(w->cfg, err))) return e;
    const char *s = weft_config_broker_secret(w->cfg);
    if (s && !(w->secret = weft__strdup(s)))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

/* The broker, the queue and the names derived from it. */
static weft_err name_things(weft_worker *w, const weft_worker_opts *o, char *err)
{
    weft_err e = weft__config_connection_env(w->cfg, o->broker_url != NULL,
                                             o->queue != NULL, err);
    if (e) return e;
    const char *url = o->broker_url ? o->broker_url : weft_config_broker_url(w->cfg);
    const char *queue = o->queue ? o->queue : weft_config_queue(w->cfg);
    if (!(w->url = weft__strdup(url)) || !(w->queue = weft__strdup(queue)) ||
        !(w->dead = weft__cluster_name(queue, "dead")) ||
        !(w->control = weft__cluster_name(queue, "control")) ||
        !(w->workers = weft__cluster_name(queue, "workers")))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    w->aopts = weft__cluster_amqp_opts(w->cfg, w->url, "weft run-worker");
    w->aopts.confirms = true;
    if (gethostname(w->host, sizeof w->host) != 0) snprintf(w->host, sizeof w->host, "localhost");
    w->host[sizeof w->host - 1] = '\0';
    return WEFT_OK;
}

static weft_err check_opts(const weft_worker_opts *o, char *err)
{
    if (!o) return weft__err(err, WEFT_EINVAL, "no worker options");
    if (o->concurrency < 0 || o->concurrency > MAX_CONCURRENCY)
        return weft__err(err, WEFT_EINVAL, "concurrency must be 1 to %d, not %d",
                         MAX_CONCURRENCY, o->concurrency);
    if (o->prefetch < 0 || o->prefetch > MAX_PREFETCH)
        return weft__err(err, WEFT_EINVAL, "prefetch must be 1 to %d, not %d", MAX_PREFETCH,
                         o->prefetch);
    if (o->autoscale_max < 0 || o->autoscale_max > MAX_CONCURRENCY || o->autoscale_min < 0 ||
        o->autoscale_min > o->autoscale_max || o->autoscale_idle_ms < 0)
        return weft__err(err, WEFT_EINVAL, "autoscale must be MAX,MIN with 1 <= MIN <= MAX <= "
                         "%d, not %d,%d", MAX_CONCURRENCY, o->autoscale_max, o->autoscale_min);
    if (o->autoscale_max && (o->concurrency || o->prefetch))
        return weft__err(err, WEFT_EINVAL, "autoscale sets the concurrency and the prefetch: "
                         "leave them 0");
    return WEFT_OK;
}

weft_err weft_worker_open(const weft_worker_opts *opts, weft_worker **out, char *err)
{
    *out = NULL;
    weft_err e = check_opts(opts, err);
    if (e) return e;
    weft_worker *w = calloc(1, sizeof *w);
    if (!w) return weft__err(err, WEFT_ENOMEM, "out of memory");
    w->log = (weft__logger){opts->log, opts->log_userdata, opts->log_level};
    w->rc = (weft__reconnect)WEFT__RECONNECT_INIT(&w->log, "worker");
    w->pool_pipe[0] = w->pool_pipe[1] = w->stop_pipe[0] = w->stop_pipe[1] = -1;
    w->abort = (weft__amqp_abort)WEFT__AMQP_ABORT_INIT(-1);
    pthread_mutex_init(&w->mu, NULL);
    atomic_init(&w->stops, 0);
    w->open_ns = weft__mono_ns();
    w->metrics_fd = -1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN) * WEFT__WORKER_SLOTS_PER_CPU;
    w->concurrency = opts->concurrency > 0 ? opts->concurrency
                     : cpus < 1 ? 1 : cpus > MAX_CONCURRENCY ? MAX_CONCURRENCY : (int)cpus;
    w->scale_max = opts->autoscale_max;
    w->scale_min = opts->autoscale_min > 0 ? opts->autoscale_min : 1;
    w->scale_idle_ns = (opts->autoscale_idle_ms > 0 ? opts->autoscale_idle_ms
                                                    : WEFT__AUTOSCALE_IDLE_MS) * 1000000;
    if (w->scale_max) w->concurrency = w->scale_min;
    /* Default: 2 x N until jobs have run, then following their length
     * (default_prefetch()), the jobs past the free slots held here (see the
     * top of this file), so that the next job is at hand when a slot frees
     * and a long job never holds short ones.  An explicit P is taken as is. */
    w->hold = opts->prefetch == 0;
    w->prefetch = opts->prefetch > w->concurrency ? opts->prefetch
                  : w->hold ? default_prefetch(w) : w->concurrency;
    if ((e = load_application(w, opts, err)) || (e = load_trust(w, opts, err)) ||
        (e = name_things(w, opts, err)) ||
        (e = make_pipe(w->stop_pipe, err)) || (e = make_pipe(w->pool_pipe, err)) ||
        (opts->metrics_addr && (e = weft__metrics_listen(opts->metrics_addr, &w->metrics_fd, err))))
        goto fail;
    w->abort = (weft__amqp_abort)WEFT__AMQP_ABORT_INIT(w->stop_pipe[0]);
    w->aopts.abort = &w->abort;
    /* Task code finds the service's pid here (a test task kills it); set
     * before the fork server starts, so that every job process inherits it. */
    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
    setenv("WEFT_WORKER_PID", pidbuf, 1);
    weft__pool_opts po = {.cfg = w->cfg, .application_path = w->app,
                          .nworkers = w->concurrency, .max_workers = w->scale_max,
                          .kill_grace_ms = WEFT__KILL_GRACE_MS,
                          .cbs = {.running = cb_running,
                                  .finished = cb_finished,
                                  .withdrawn = cb_withdrawn,
                                  .ud = w}};
    if ((e = weft__pool_start(&po, &w->pool, err))) goto fail;
    *out = w;
    return WEFT_OK;
fail:
    weft_worker_close(w);
    return e;
}

static void free_wjob_value(void *value, void *ud)
{
    (void)ud;
    wjob_free(value);
}

void weft_worker_close(weft_worker *w)
{
    if (!w) return;
    if (w->pool) {
        weft__pool_stop(w->pool, w->jobs.len > 0); /* jobs left: stopped at once */
        weft__pool_free(w->pool);
    }
    weft__amqp_close(w->conn);
    idset_release(&w->finished);
    idset_release(&w->canceled);
    weft__strmap_each(&w->jobs, free_wjob_value, NULL);
    weft__strmap_release(&w->jobs);
    for (size_t i = 0; i < w->nacks; i++) free(w->acks[i].job_id);
    free(w->acks);
    free(w->held);
    free(w->ahead);
    for (size_t i = 0; i < w->nstarting; i++) free(w->starting[i]);
    free(w->starting);
    while (w->msgs) {
        pool_msg *m = w->msgs;
        w->msgs = m->next;
        pool_msg_free(m);
    }
    free(w->job_tag);
    free(w->app);
    free(w->cfg_path);
    free(w->url);
    free(w->queue);
    free(w->dead);
    free(w->control);
    free(w->workers);
    weft__app_free(w->own_app);
    weft__digests_release(&w->digests);
    if (w->secret) OPENSSL_cleanse(w->secret, strlen(w->secret));
    free(w->secret);
    if (w->metrics_fd >= 0) close(w->metrics_fd);
    for (int i = 0; i < 2; i++) {
        if (w->pool_pipe[i] >= 0) close(w->pool_pipe[i]);
        if (w->stop_pipe[i] >= 0) close(w->stop_pipe[i]);
    }
    pthread_mutex_destroy(&w->mu);
    weft_config_free(w->own_cfg);
    free(w);
}
