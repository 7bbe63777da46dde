/*
 * cmd_run_worker.c - `weft run-worker`: the worker service of cluster mode.
 *
 * It loads the application (PATH/config.toml and the shared objects beside
 * it), consumes the job queue with a prefetch of P (default N, the
 * concurrency: more is faster for short jobs, but lets a long job delay
 * the jobs prefetched behind it), and runs each job in
 * the standalone pool's worker processes (src/pool.c: crash isolation,
 * cancel, timeouts), so that this process never blocks: its single thread
 * owns the broker connection and keeps heartbeats flowing during long jobs.
 * For each job it publishes RUNNING, then the result, to the job's reply
 * queue with publisher confirms, and acknowledges the job message only once
 * the result is confirmed: a worker that dies mid-job leaves the message to
 * the broker, which delivers it again.
 *
 * Attempts: classic queues count no deliveries, so a message that arrives
 * with the redelivered flag is republished with attempt + 1 (and the old
 * one acknowledged once that is confirmed); past max_attempts the job is
 * reported FAILED instead, so a job that kills its worker cannot loop.
 * Malformed messages are rejected to <queue>.dead.  Cancels arrive on the
 * <queue>.control fanout exchange.  SIGTERM drains: no new jobs, running
 * ones finish and are reported, then exit 0.
 */
#include "cli/cli.h"

#include "cluster/amqp_client.h"
#include "core/orchestrator_internal.h"
#include "standalone/pool.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_run_worker(int argc, char **argv); /* registered in main.c */

#define ANNOUNCE_MS 3000 /* worker heartbeat period, for `weft workers` */
#define RECENT_MAX 4096  /* job ids remembered as finished / canceled */

static volatile sig_atomic_t stop_signals;
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    stop_signals++;
    int saved = errno;
    char b = 1;
    ssize_t r = write(sig_pipe[1], &b, 1);
    (void)r;
    errno = saved;
}

/* ---- what the pool's thread tells the main thread ---- */

typedef struct pool_msg {
    bool finished;          /* else: started */
    char *job_id;
    pid_t pid;
    weft__job_result res;
    struct pool_msg *next;
} pool_msg;

typedef struct worker_state worker_state;

/* A job taken from the queue and not yet acknowledged. */
typedef struct wjob {
    char *job_id;      /* map key */
    char *reply_to;
    int attempt;
    uint64_t tag;      /* delivery to acknowledge (on connection `gen`), 0: none */
    unsigned gen;
    char *result;      /* the final status message once finished */
    bool finishing;    /* its end is in the batch being handled: RUNNING is not worth sending */
    size_t len;
    uint64_t seq;      /* its publish sequence number on connection `seq_gen`, 0: not published */
    unsigned seq_gen;
} wjob;

/* A delivery to acknowledge once a publish is confirmed (a republished job,
 * a status for a job we did not run). */
typedef struct ack_after {
    uint64_t seq, tag;
    char *job_id;      /* for the recent set, may be NULL */
} ack_after;

/* A bounded set of job ids: the oldest is forgotten past RECENT_MAX. */
typedef struct idset {
    weft__strmap map;
    char *ring[RECENT_MAX];
    size_t next;
} idset;

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

struct worker_state {
    const char *url, *queue;
    char *dead, *control, *workers;
    weft__amqp_opts aopts;
    int concurrency;
    int prefetch;       /* >= concurrency: jobs taken from the queue ahead of a free slot */
    const weft_config *cfg;
    const char *cfg_path;
    weft__pool *pool;

    pthread_mutex_t mu; /* guards the pool messages */
    pool_msg *msgs, *msgs_tail;
    int pool_pipe[2];

    weft__amqp *conn;
    unsigned gen;
    char *job_tag; /* consumer tag on the job queue */
    bool draining;
    weft__strmap jobs; /* id -> wjob */
    ack_after *acks;
    size_t nacks, capacks;
    idset finished, canceled;
    int64_t jobs_run;
    int64_t next_announce_ns;
};

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "weft run-worker[%d]: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void push_msg(worker_state *w, pool_msg *m)
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
    (void)r;
}

static void cb_running(void *ud, void *job_ud, const char *job_id, pid_t pid)
{
    (void)job_ud;
    pool_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->job_id = weft__strdup(job_id))) {
        free(m);
        return;
    }
    m->pid = pid;
    m->res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    push_msg(ud, m);
}

static void cb_finished(void *ud, void *job_ud, const char *job_id, weft__job_result *res)
{
    (void)job_ud;
    pool_msg *m = calloc(1, sizeof *m);
    if (!m || !(m->job_id = weft__strdup(job_id))) {
        /* Without memory the job stays unacknowledged: redelivered later. */
        free(m);
        return;
    }
    m->finished = true;
    m->res = *res;
    *res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    push_msg(ud, m);
}

/* ---- publishing ---- */

static weft_err add_ack_after(worker_state *w, uint64_t seq, uint64_t tag, const char *job_id)
{
    if (w->nacks == w->capacks) {
        size_t nc = w->capacks ? w->capacks * 2 : 16;
        ack_after *n = realloc(w->acks, nc * sizeof *n);
        if (!n) return WEFT_ENOMEM;
        w->acks = n;
        w->capacks = nc;
    }
    w->acks[w->nacks].seq = seq;
    w->acks[w->nacks].tag = tag;
    w->acks[w->nacks].job_id = weft__strdup(job_id);
    w->nacks++;
    return WEFT_OK;
}

/* Publishes a status for a job we will not run, acking `tag` once confirmed. */
static weft_err status_then_ack(worker_state *w, const char *reply_to, const char *job_id,
                                int attempt, weft_job_status st, const char *why, uint64_t tag,
                                char *err)
{
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    res.status = st;
    res.error = weft__strdup(why);
    char *m = NULL;
    size_t len = 0;
    uint64_t seq = 0;
    weft_err e = weft__cluster_status_encode(job_id, attempt, st, weft__cluster_worker_name(),
                                             &res, &m, &len, err);
    weft__job_result_release(&res);
    if (!e) e = weft__amqp_publish(w->conn, "", reply_to, m, len, true, &seq, err);
    free(m);
    if (!e) e = add_ack_after(w, seq, tag, job_id);
    return e;
}

static weft_err publish_result(worker_state *w, wjob *j, char *err)
{
    uint64_t seq = 0;
    weft_err e = weft__amqp_publish(w->conn, "", j->reply_to, j->result, j->len, true, &seq, err);
    if (!e) {
        j->seq = seq;
        j->seq_gen = w->gen;
    }
    return e;
}

static void wjob_free(wjob *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->reply_to);
    free(j->result);
    free(j);
}

/* ---- topology and connection ---- */

static weft_err connect_worker(worker_state *w, char *err)
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

/* After a reconnect: deliveries of the old connection cannot be acked any
 * more (the broker requeued them); results not confirmed go out again. */
static void after_reconnect(worker_state *w)
{
    for (size_t i = 0; i < w->nacks; i++) free(w->acks[i].job_id);
    w->nacks = 0;
}

static void republish_each(void *value, void *ud)
{
    worker_state *w = ud;
    wjob *j = value;
    if (j->gen != w->gen) j->tag = 0;
    if (j->result && j->seq_gen != w->gen && w->conn && !weft__amqp_broken(w->conn)) {
        char err[WEFT_ERRBUF_SIZE];
        if (publish_result(w, j, err)) log_line("%s", err);
    }
}

static void add_current(void *value, void *ud)
{
    wjob *j = value;
    if (!j->result) json_array_append_new(ud, json_string(j->job_id));
}

static void announce(worker_state *w, const char *state)
{
    if (!w->conn || weft__amqp_broken(w->conn)) return;
    json_t *cur = json_array();
    if (cur) weft__strmap_each(&w->jobs, add_current, cur);
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:i, s:s, s:i, s:I, s:o, s:s, s:I}", "type",
                          "worker", "v", 1, "worker", weft__cluster_worker_name(), "host",
                          weft__cluster_worker_name(), "pid", (int)getpid(), "queue", w->queue,
                          "concurrency", w->concurrency, "jobs_run", (json_int_t)w->jobs_run,
                          "current", cur ? cur : json_array(), "state", state, "at_us",
                          (json_int_t)weft__now_us());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s) {
        char err[WEFT_ERRBUF_SIZE];
        if (weft__amqp_publish(w->conn, w->workers, "", s, strlen(s), false, NULL, err))
            log_line("%s", err);
        free(s);
    }
}


/* ---- handling messages ---- */

/* O(1) per job: a scan of every task section here made a scenario of N
 * tasks cost O(N^2) on the worker. */
static bool task_defined(const weft_config *cfg, const char *id)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "TASK.%s", id) >= sizeof name) return false;
    return weft_config_has_section(cfg, name);
}

static weft_err on_job(worker_state *w, weft__amqp_event *ev, char *err)
{
    weft__cluster_job cj = WEFT__CLUSTER_JOB_INIT;
    char why[WEFT_ERRBUF_SIZE] = "";
    if (weft__cluster_job_decode(ev->body, ev->len, &cj, why) != WEFT_OK) {
        log_line("rejected a malformed message to %s: %s", w->dead, why);
        return weft__amqp_reject(w->conn, ev->tag, false, err);
    }
    weft_err e = WEFT_OK;
    const char *id = cj.spec.job_id;
    wjob *mine = weft__strmap_get(&w->jobs, id);
    if (mine) {
        /* Ours, delivered again after a reconnect: keep running it and ack
         * this delivery when its result is confirmed. */
        mine->tag = ev->tag;
        mine->gen = w->gen;
        goto out;
    }
    if (ev->redelivered && idset_has(&w->finished, id)) {
        e = weft__amqp_ack(w->conn, ev->tag, err); /* its result was confirmed already */
        goto out;
    }
    if (idset_has(&w->canceled, id)) {
        e = status_then_ack(w, cj.reply_to, id, cj.spec.attempt, WEFT_JOB_CANCELED,
                            "canceled before it started", ev->tag, err);
        goto out;
    }
    if (w->draining) {
        /* Hand it back unchanged (a nack would mark it redelivered and
         * cost it an attempt). */
        uint64_t seq = 0;
        e = weft__amqp_publish(w->conn, "", w->queue, ev->body, ev->len, true, &seq, err);
        if (!e) e = add_ack_after(w, seq, ev->tag, NULL);
        goto out;
    }
    if (ev->redelivered) {
        /* Its last worker died (or lost its connection) before the result:
         * one attempt used. */
        if (cj.spec.attempt >= cj.max_attempts) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "the job's worker was lost %d time%s before it finished (killed, or "
                     "disconnected); max_attempts = %d reached",
                     cj.spec.attempt, cj.spec.attempt == 1 ? "" : "s", cj.max_attempts);
            log_line("job %s: %s", id, msg);
            e = status_then_ack(w, cj.reply_to, id, cj.spec.attempt, WEFT_JOB_FAILED, msg, ev->tag,
                                err);
        } else {
            char *m = NULL;
            size_t len = 0;
            uint64_t seq = 0;
            e = weft__cluster_job_encode(&cj.spec, cj.spec.attempt + 1, cj.max_attempts,
                                         cj.reply_to, &m, &len, err);
            if (!e) e = weft__amqp_publish(w->conn, "", w->queue, m, len, true, &seq, err);
            free(m);
            if (!e) e = add_ack_after(w, seq, ev->tag, NULL);
        }
        goto out;
    }
    if (!task_defined(w->cfg, cj.spec.task_config_id)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "task '%s' is not defined in this worker's application (%s)",
                 cj.spec.task_config_id, w->cfg_path);
        log_line("job %s: %s", id, msg);
        e = status_then_ack(w, cj.reply_to, id, cj.spec.attempt, WEFT_JOB_FAILED, msg, ev->tag,
                            err);
        goto out;
    }
    wjob *j = calloc(1, sizeof *j);
    if (!j || !(j->job_id = weft__strdup(id)) || !(j->reply_to = weft__strdup(cj.reply_to))) {
        wjob_free(j);
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    j->attempt = cj.spec.attempt;
    j->tag = ev->tag;
    j->gen = w->gen;
    if (weft__strmap_put(&w->jobs, j->job_id, j)) {
        wjob_free(j);
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    if ((e = weft__pool_submit(w->pool, &cj.spec, NULL, why))) {
        /* The pool refused (stopping): hand it back for another worker. */
        weft__strmap_del(&w->jobs, id);
        wjob_free(j);
        e = weft__amqp_nack(w->conn, ev->tag, true, err);
    }
out:
    weft__cluster_job_release(&cj);
    return e;
}

static weft_err on_control(worker_state *w, weft__amqp_event *ev, char *err)
{
    char *id = weft__cluster_cancel_decode(ev->body, ev->len);
    if (!id) return WEFT_OK; /* other control messages: none yet */
    idset_add(&w->canceled, id);
    wjob *j = weft__strmap_get(&w->jobs, id);
    if (j && !j->result) weft__pool_cancel(w->pool, id, NULL);
    free(id);
    return WEFT_OK;
}

typedef struct confirm_ctx {
    worker_state *w;
    weft__amqp_event *ev;
    char **done; /* ids whose result is confirmed */
    size_t ndone, capdone;
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
    if (c->ndone == c->capdone) {
        size_t nc = c->capdone ? c->capdone * 2 : 8;
        char **n = realloc(c->done, nc * sizeof *n);
        if (!n) return;
        c->done = n;
        c->capdone = nc;
    }
    c->done[c->ndone++] = j->job_id;
}

static weft_err on_confirm(worker_state *w, weft__amqp_event *ev, char *err)
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
                e = weft__amqp_ack(w->conn, a->tag, err);
                if (a->job_id) idset_add(&w->finished, a->job_id);
            }
        }
        free(a->job_id);
    }
    w->nacks = k;
    confirm_ctx c = {w, ev, NULL, 0, 0};
    weft__strmap_each(&w->jobs, collect_confirmed, &c);
    for (size_t i = 0; i < c.ndone; i++) {
        wjob *j = weft__strmap_get(&w->jobs, c.done[i]);
        if (ev->nack) {
            if (!e) e = publish_result(w, j, err); /* the broker refused it: again */
            continue;
        }
        weft__strmap_del(&w->jobs, j->job_id);
        if (!e && j->tag && j->gen == w->gen) e = weft__amqp_ack(w->conn, j->tag, err);
        idset_add(&w->finished, j->job_id);
        wjob_free(j);
    }
    free(c.done);
    return e;
}

static weft_err on_pool_msgs(worker_state *w, char *err)
{
    char buf[256];
    while (read(w->pool_pipe[0], buf, sizeof buf) > 0) {}
    pthread_mutex_lock(&w->mu);
    pool_msg *m = w->msgs;
    w->msgs = w->msgs_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    weft_err e = WEFT_OK;
    /* A job that started and ended within this batch gets no RUNNING
     * message: its result says it ran (short jobs cost one status, not two). */
    for (pool_msg *f = m; f; f = f->next) {
        wjob *j = f->finished ? weft__strmap_get(&w->jobs, f->job_id) : NULL;
        if (j) j->finishing = true;
    }
    while (m) {
        pool_msg *next = m->next;
        wjob *j = weft__strmap_get(&w->jobs, m->job_id);
        bool up = w->conn && !weft__amqp_broken(w->conn);
        if (j && !m->finished) {
            char *s = NULL;
            size_t len = 0;
            if (up && !e && !j->finishing &&
                !(e = weft__cluster_status_encode(j->job_id, j->attempt, WEFT_JOB_RUNNING,
                                                  weft__cluster_worker_name(), NULL, &s, &len,
                                                  err)))
                /* Transient: a lost RUNNING costs nothing (the result
                 * follows, persistent), and the broker need not fsync it. */
                e = weft__amqp_publish(w->conn, "", j->reply_to, s, len, false, NULL, err);
            free(s);
        } else if (j && !j->result) {
            w->jobs_run++;
            if (weft__cluster_status_encode(j->job_id, j->attempt, m->res.status,
                                            weft__cluster_worker_name(), &m->res, &j->result,
                                            &j->len, err) == WEFT_OK &&
                up && !e)
                e = publish_result(w, j, err);
        }
        weft__job_result_release(&m->res);
        free(m->job_id);
        free(m);
        m = next;
    }
    return e;
}

/* ---- the command ---- */

static void free_wjob_value(void *value, void *ud)
{
    (void)ud;
    wjob_free(value);
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc) return NULL;
        return argv[++*i];
    }
    return NULL;
}

int cmd_run_worker(int argc, char **argv)
{
    const char *app = ".", *broker = NULL, *queue = NULL;
    int concurrency = 1, prefetch = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        const char *a = argv[i];
        if (strncmp(a, "--application-path", 18) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--application-path")))
                return cli_usage_error("run-worker", "option '--application-path' needs a folder");
            app = v;
        } else if (strncmp(a, "--broker", 8) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--broker")))
                return cli_usage_error("run-worker", "option '--broker' needs a URL");
            broker = v;
        } else if (strncmp(a, "--queue", 7) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--queue")))
                return cli_usage_error("run-worker", "option '--queue' needs a name");
            queue = v;
        } else if (strncmp(a, "--concurrency", 13) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--concurrency")))
                return cli_usage_error("run-worker", "option '--concurrency' needs a number");
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000)
                return cli_usage_error("run-worker", "--concurrency must be 1 to 1000, not '%s'", v);
            concurrency = (int)n;
        } else if (strncmp(a, "--prefetch", 10) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--prefetch")))
                return cli_usage_error("run-worker", "option '--prefetch' needs a number");
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 65535)
                return cli_usage_error("run-worker", "--prefetch must be 1 to 65535, not '%s'", v);
            prefetch = (int)n;
        } else {
            return cli_usage_error("run-worker", "unknown argument '%s'", a);
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.toml", app);
    int nerrors = 0;
    weft_config *cfg = cli_load_config(path, true, &nerrors);
    if (!cfg) return CLI_USAGE;
    if (nerrors) {
        weft_config_free(cfg);
        return CLI_USAGE;
    }
    int rc = CLI_OK;
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    worker_state *w = calloc(1, sizeof *w);
    if (!w) {
        weft_config_free(cfg);
        fputs("weft: out of memory\n", stderr);
        return CLI_FAILED;
    }
    w->cfg = cfg;
    w->cfg_path = path;
    w->concurrency = concurrency;
    /* Default: take a job only when a slot is free, so that a long job never
     * holds short ones hostage behind it.  More is faster for short jobs. */
    w->prefetch = prefetch > concurrency ? prefetch : concurrency;
    w->url = broker ? broker : weft_config_broker_url(cfg);
    w->queue = queue ? queue : weft_config_queue(cfg);
    w->dead = weft__cluster_name(w->queue, "dead");
    w->control = weft__cluster_name(w->queue, "control");
    w->workers = weft__cluster_name(w->queue, "workers");
    w->pool_pipe[0] = w->pool_pipe[1] = -1;
    pthread_mutex_init(&w->mu, NULL);
    weft__exec_cluster_opts co;
    weft__exec_cluster_opts_from_config(cfg, &co);
    w->aopts = (weft__amqp_opts){.url = w->url, .ca_file = co.ca_file, .cert_file = co.cert_file,
                                 .key_file = co.key_file, .verify_peer = co.verify_peer,
                                 .verify_hostname = co.verify_hostname, .confirms = true,
                                 .name = "weft run-worker"};
    char red[1024];
    weft__amqp_redact(w->url, red, sizeof red);

    /* Task code finds the service's pid here (a test task kills it). */
    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid());
    setenv("WEFT_WORKER_PID", pidbuf, 1);

    if (pipe(sig_pipe) != 0 || pipe(w->pool_pipe) != 0) {
        fprintf(stderr, "weft: pipe: %s\n", strerror(errno));
        rc = CLI_FAILED;
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(w->pool_pipe[i], F_SETFL, fcntl(w->pool_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(w->pool_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    signal(SIGPIPE, SIG_IGN);

    /* The pool forks its fork server now, while this process has one thread. */
    weft__pool_opts po = {.cfg = cfg, .application_path = app, .nworkers = concurrency,
                          .kill_grace_ms = 500,
                          .cbs = {.running = cb_running, .finished = cb_finished, .ud = w}};
    if (weft__pool_start(&po, &w->pool, err)) {
        fprintf(stderr, "weft: %s\n", err);
        rc = CLI_FAILED;
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    log_line("application %s, broker %s, queue %s, concurrency %d, prefetch %d", app, red,
             w->queue, concurrency, w->prefetch);
    int failures = 0;
    int handled_signals = 0;
    for (;;) {
        if (stop_signals != handled_signals) {
            handled_signals = stop_signals;
            if (handled_signals > 1) {
                log_line("second signal: stopping now; unfinished jobs will be redelivered");
                break;
            }
            log_line("draining: finishing %zu running job(s), taking no new ones", w->jobs.len);
            w->draining = true;
            if (w->conn && w->job_tag && !weft__amqp_broken(w->conn))
                weft__amqp_cancel(w->conn, w->job_tag, err);
            announce(w, "draining");
        }
        if (w->draining && w->jobs.len == 0 && w->nacks == 0) break;
        if (!w->conn) {
            weft_err e = connect_worker(w, err);
            if (e == WEFT_EINVAL) {
                fprintf(stderr, "weft: %s\n", err);
                rc = CLI_USAGE;
                break;
            }
            if (e) {
                int ms = weft__amqp_backoff_ms(failures++);
                if (failures == 1 || failures % 10 == 0) log_line("%s; retrying", err);
                struct pollfd p[2] = {{sig_pipe[0], POLLIN, 0}, {w->pool_pipe[0], POLLIN, 0}};
                poll(p, 2, ms);
                if (p[1].revents) on_pool_msgs(w, err);
                if (p[0].revents) {
                    char b[16];
                    while (read(sig_pipe[0], b, sizeof b) > 0) {}
                }
                continue;
            }
            if (failures) log_line("connected to broker %s", red);
            failures = 0;
            after_reconnect(w);
            weft__strmap_each(&w->jobs, republish_each, w);
            w->next_announce_ns = 0;
        }
        weft_err e = WEFT_OK;
        if (weft__mono_ns() >= w->next_announce_ns) {
            announce(w, w->draining ? "draining" : "up");
            w->next_announce_ns = weft__mono_ns() + (int64_t)ANNOUNCE_MS * 1000000;
        }
        /* Sleep only until the next announcement is due: a fixed period
         * here, after a poll that woke a moment early, would skip one and
         * leave a gap of twice the period. */
        int64_t due_ms = (w->next_announce_ns - weft__mono_ns()) / 1000000 + 1;
        struct pollfd p[2] = {{sig_pipe[0], POLLIN, 0}, {w->pool_pipe[0], POLLIN, 0}};
        weft__amqp_poll(w->conn, p, 2, (int)(due_ms < 0 ? 0 : due_ms > ANNOUNCE_MS ? ANNOUNCE_MS : due_ms));
        if (p[0].revents) {
            char b[16];
            while (read(sig_pipe[0], b, sizeof b) > 0) {}
        }
        if (p[1].revents) e = on_pool_msgs(w, err);
        for (int n = 0; n < 1024 && !e; n++) {
            weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
            e = weft__amqp_next(w->conn, 0, &ev, err);
            if (e == WEFT_ETIMEDOUT) {
                e = WEFT_OK;
                break;
            }
            if (e) break;
            if (ev.kind == WEFT__AMQP_CONFIRM)
                e = on_confirm(w, &ev, err);
            else if (ev.exchange && strcmp(ev.exchange, w->control) == 0)
                e = on_control(w, &ev, err);
            else
                e = on_job(w, &ev, err);
            weft__amqp_event_release(&ev);
        }
        if (e || weft__amqp_broken(w->conn)) {
            log_line("%s; reconnecting", err);
            weft__amqp_close(w->conn);
            w->conn = NULL;
            failures = 1;
        }
    }
    announce(w, "down");
out:
    if (w->pool) {
        weft__pool_stop(w->pool, w->jobs.len > 0); /* jobs left: a second signal */
        weft__pool_free(w->pool);
    }
    if (w->conn) weft__amqp_close(w->conn);
    idset_release(&w->finished);
    idset_release(&w->canceled);
    weft__strmap_each(&w->jobs, free_wjob_value, NULL);
    weft__strmap_release(&w->jobs);
    for (size_t i = 0; i < w->nacks; i++) free(w->acks[i].job_id);
    free(w->acks);
    while (w->msgs) {
        pool_msg *m = w->msgs;
        w->msgs = m->next;
        weft__job_result_release(&m->res);
        free(m->job_id);
        free(m);
    }
    free(w->job_tag);
    free(w->dead);
    free(w->control);
    free(w->workers);
    for (int i = 0; i < 2; i++) {
        if (w->pool_pipe[i] >= 0) close(w->pool_pipe[i]);
        if (sig_pipe[i] >= 0) close(sig_pipe[i]);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
    weft_config_free(cfg);
    return rc;
}
