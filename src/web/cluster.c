/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the cluster view: in cluster mode a thread of the server
 * asks the broker, every 5 s, which workers serve the queue
 * (weft_workers_list(), which listens ~4 s for their announcements) and
 * how many messages wait (weft_queue_info_get()) or are held
 * unacknowledged (weft_workers_unacked(), the sum of what the workers'
 * heartbeats said), and keeps the answer as
 * a snapshot that /api/overview and /metrics read under ui->cl.mu.  No
 * request ever waits on the broker: a request sees the last snapshot,
 * at most ~9 s old.  What it costs: one broker connection per refresh,
 * and weft_ui_close() waits for a listen in progress (up to ~4 s).
 */
#include "web/web.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_S 5

/* One refresh, done without the lock; then swapped in under it. */
static void refresh(weft_ui *ui)
{
    char err[WEFT_ERRBUF_SIZE] = "", qerr[WEFT_ERRBUF_SIZE] = "";
    weft_workers_opts wo = {.config = ui->cfg};
    weft_worker_info *w = NULL;
    size_t n = 0;
    weft_queue_info qi = {.ready = -1, .unacked = -1, .consumers = -1};
    weft_err e = weft_workers_list(&wo, &w, &n, err);
    weft_err qe = weft_queue_info_get(&wo, &qi, qerr);
    if (!e) qi.unacked = weft_workers_unacked(w, n);
    pthread_mutex_lock(&ui->cl.mu);
    if (!e) {
        weft_worker_list_free(ui->cl.workers, ui->cl.nworkers);
        ui->cl.workers = w, ui->cl.nworkers = n;
        w = NULL, n = 0;
    }
    ui->cl.queue = qi;
    ui->cl.queue_known = qe == WEFT_OK;
    const char *now = e ? err : qe && qe != WEFT_ENOTFOUND ? qerr : "";
    bool changed = strcmp(now, ui->cl.error) != 0; /* logged once, not every 5 s */
    snprintf(ui->cl.error, sizeof ui->cl.error, "%s", now);
    ui->cl.at_us = weft__now_us();
    ui->cl.refreshes++;
    pthread_mutex_unlock(&ui->cl.mu);
    weft_worker_list_free(w, n);
    if (changed && *now) weft__log(&ui->log, WEFT_LOG_WARN, "ui", "cluster view: %s", now);
}

static void *refresher(void *arg)
{
    weft_ui *ui = arg;
    pthread_mutex_lock(&ui->cl.mu);
    while (!ui->cl.stopping) {
        pthread_mutex_unlock(&ui->cl.mu);
        refresh(ui);
        pthread_mutex_lock(&ui->cl.mu);
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += REFRESH_S;
        while (!ui->cl.stopping && pthread_cond_timedwait(&ui->cl.cond, &ui->cl.mu, &dl) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&ui->cl.mu);
    return NULL;
}

weft_err weft__cluster_start(weft_ui *ui, char *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ui->cl.mu, NULL);
    pthread_cond_init(&ui->cl.cond, &ca);
    pthread_condattr_destroy(&ca);
    ui->cl.inited = true;
    if (weft_config_mode(ui->cfg) != WEFT_MODE_CLUSTER) return WEFT_OK;
    int rc = pthread_create(&ui->cl.thread, NULL, refresher, ui);
    if (rc) return weft__err(err, WEFT_EIO, "cannot start a thread: %s", strerror(rc));
    ui->cl.running = true;
    return WEFT_OK;
}

void weft__cluster_stop(weft_ui *ui)
{
    if (!ui->cl.inited) return;
    pthread_mutex_lock(&ui->cl.mu);
    ui->cl.stopping = true;
    pthread_cond_broadcast(&ui->cl.cond);
    pthread_mutex_unlock(&ui->cl.mu);
    if (ui->cl.running) pthread_join(ui->cl.thread, NULL);
    ui->cl.running = false;
    weft_worker_list_free(ui->cl.workers, ui->cl.nworkers);
    ui->cl.workers = NULL, ui->cl.nworkers = 0;
    pthread_mutex_destroy(&ui->cl.mu);
    pthread_cond_destroy(&ui->cl.cond);
    ui->cl.inited = false;
}

static json_t *worker_json(const weft_worker_info *w)
{
    json_t *cur = json_array();
    for (size_t k = 0; k < w->ncurrent; k++) json_array_append_new(cur, json_string(w->current[k]));
    return json_pack("{ss ss si ss si si so sI sI so sf sf}", "name", w->name, "host", w->host,
                     "pid", w->pid, "state", w->state, "concurrency", w->concurrency, "busy", w->busy,
                     "unacked", w->unacked < 0 ? json_null() : json_integer(w->unacked),
                     "jobs_run", (json_int_t)w->jobs_run, "last_heartbeat_us", (json_int_t)w->at_us,
                     "current", cur, "started_per_s", w->started_per_s,
                     "finished_per_s", w->finished_per_s);
}

json_t *weft__cluster_json(weft_ui *ui)
{
    if (!ui->cl.running) return json_null();
    json_t *workers = json_array();
    pthread_mutex_lock(&ui->cl.mu);
    for (size_t i = 0; i < ui->cl.nworkers; i++) json_array_append_new(workers, worker_json(&ui->cl.workers[i]));
    json_t *q = ui->cl.queue_known
                    ? json_pack("{sI so sI}", "ready", (json_int_t)ui->cl.queue.ready, "unacked",
                                ui->cl.queue.unacked < 0 ? json_null()
                                                         : json_integer(ui->cl.queue.unacked),
                                "consumers", (json_int_t)ui->cl.queue.consumers)
                    : json_null();
    json_t *v = json_pack("{ss so so sI sI ss}", "queue", weft_config_queue(ui->cfg), "queue_load", q,
                          "workers", workers, "updated_us", (json_int_t)ui->cl.at_us, "refreshes",
                          (json_int_t)ui->cl.refreshes, "error", ui->cl.error);
    pthread_mutex_unlock(&ui->cl.mu);
    return v;
}

/* What a per-worker gauge reads of a worker: < 0 when it did not say. */
static double w_busy(const weft_worker_info *w) { return w->busy; }
static double w_slots(const weft_worker_info *w) { return w->concurrency; }
static double w_unacked(const weft_worker_info *w) { return (double)w->unacked; }
static double w_started(const weft_worker_info *w) { return w->started_per_s; }
static double w_finished(const weft_worker_info *w) { return w->finished_per_s; }

/* The gauge `name`{worker} of every worker heard (one that did not say is
 * left out); integers print as integers (%.15g). */
static void worker_gauge(weft_ui *ui, weft__buf *b, const char *name, const char *help,
                         double (*value)(const weft_worker_info *))
{
    weft__buf_addf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    for (size_t i = 0; i < ui->cl.nworkers; i++) {
        double v = value(&ui->cl.workers[i]);
        if (v < 0) continue;
        weft__buf_addf(b, "%s{worker=\"", name);
        weft__prom_label(b, ui->cl.workers[i].name);
        weft__buf_addf(b, "\"} %.15g\n", v);
    }
}

/* The queue's gauges: the broker's counts, the workers' unacked sum, and
 * the jobs started and finished per second summed over the workers heard. */
static void queue_gauges(weft_ui *ui, weft__buf *b)
{
    if (ui->cl.queue_known)
        weft__buf_addf(b, "# HELP weft_queue_ready Messages waiting in the job queue.\n"
                          "# TYPE weft_queue_ready gauge\nweft_queue_ready %lld\n"
                          "# HELP weft_queue_consumers Consumers of the job queue.\n"
                          "# TYPE weft_queue_consumers gauge\nweft_queue_consumers %lld\n",
                       (long long)ui->cl.queue.ready, (long long)ui->cl.queue.consumers);
    if (ui->cl.queue_known && ui->cl.queue.unacked >= 0)
        weft__buf_addf(b, "# HELP weft_queue_unacked Messages of the job queue delivered and not "
                          "acknowledged yet, as the workers' heartbeats say.\n"
                          "# TYPE weft_queue_unacked gauge\nweft_queue_unacked %lld\n",
                       (long long)ui->cl.queue.unacked);
    double started = 0, finished = 0;
    for (size_t i = 0; i < ui->cl.nworkers; i++) {
        started += ui->cl.workers[i].started_per_s;
        finished += ui->cl.workers[i].finished_per_s;
    }
    weft__buf_addf(b, "# HELP weft_queue_jobs_started_per_second Jobs the workers heard started "
                      "per second over the last minute.\n"
                      "# TYPE weft_queue_jobs_started_per_second gauge\n"
                      "weft_queue_jobs_started_per_second %.15g\n"
                      "# HELP weft_queue_jobs_finished_per_second Jobs the workers heard finished "
                      "per second over the last minute.\n"
                      "# TYPE weft_queue_jobs_finished_per_second gauge\n"
                      "weft_queue_jobs_finished_per_second %.15g\n", started, finished);
}

void weft__cluster_metrics(weft_ui *ui, weft__buf *b)
{
    if (!ui->cl.running) return;
    pthread_mutex_lock(&ui->cl.mu);
    queue_gauges(ui, b);
    weft__buf_addf(b, "# HELP weft_workers Workers heard on the queue in the last listen.\n"
                      "# TYPE weft_workers gauge\nweft_workers %zu\n", ui->cl.nworkers);
    worker_gauge(ui, b, "weft_worker_busy_slots", "Slots of a worker given a job.", w_busy);
    worker_gauge(ui, b, "weft_worker_unacked", "Deliveries a worker holds unacknowledged.",
                 w_unacked);
    worker_gauge(ui, b, "weft_worker_slots", "Size of a worker (jobs at once).", w_slots);
    worker_gauge(ui, b, "weft_worker_jobs_started_per_second",
                 "Jobs a worker started per second over the last minute.", w_started);
    worker_gauge(ui, b, "weft_worker_jobs_finished_per_second",
                 "Jobs a worker finished per second over the last minute.", w_finished);
    pthread_mutex_unlock(&ui->cl.mu);
}
