/* SPDX-License-Identifier: MIT */
/*
 * workers.c - weft_workers_list(): who serves a queue, from the heartbeats
 * that worker services publish every 3 s on the fanout exchange
 * <queue>.workers (service.c; transient messages, so nothing accumulates
 * when nobody listens).  It binds a temporary, exclusive queue to that
 * exchange, listens for a little longer than one period, and keeps the
 * last heartbeat of each worker.  No orchestrator and no store are
 * involved, so it works from any machine that reaches the broker.
 * weft_queue_info_get(): the queue's load, from a passive queue.declare;
 * weft_workers_unacked(): its unacknowledged messages, which AMQP does not
 * report, as the sum of what its live workers said they hold.
 */
#include "cluster/exec_cluster.h"
#include "cluster/protocol.h"
#include "config/config_internal.h" /* weft__config_connection_env */
#include "util/defaults.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_WAIT_MS 4000
#define MAX_WORKERS 1024 /* heartbeats of more are ignored: the list stays bounded */

typedef struct heard {
    weft_worker_info *v;
    size_t n, cap;
} heard;

/* Keeps `hb` (taken) as the latest word of its worker. */
static weft_err keep(heard *h, weft_worker_info *hb)
{
    size_t k = 0;
    while (k < h->n && strcmp(h->v[k].name, hb->name) != 0) k++;
    if (k == h->n) {
        if (h->n == MAX_WORKERS) {
            weft__worker_info_release(hb);
            return WEFT_OK;
        }
        if (WEFT__GROW(h->v, h->n + 1, h->cap)) return WEFT_ENOMEM;
        h->n++;
    } else {
        weft__worker_info_release(&h->v[k]);
    }
    h->v[k] = *hb;
    memset(hb, 0, sizeof *hb);
    return WEFT_OK;
}

/* A connection consuming a new exclusive queue bound to <queue>.workers. */
static weft_err listen_heartbeats(const weft__amqp_opts *ao, const char *queue, weft__amqp **out,
                                  char *err)
{
    char *xname = weft__cluster_name(queue, "workers");
    char *q = NULL;
    weft__amqp *c = NULL;
    weft__amqp_queue_opts qo = {.exclusive = true, .auto_delete = true};
    weft_err e = !xname ? weft__err(err, WEFT_ENOMEM, "out of memory")
                        : weft__amqp_open(ao, &c, err);
    if (!e) e = weft__amqp_declare_exchange(c, xname, "fanout", true, err);
    if (!e) e = weft__amqp_declare_queue(c, "", &qo, &q, err);
    if (!e) e = weft__amqp_bind(c, q, xname, "", err);
    if (!e) e = weft__amqp_consume(c, q, true, NULL, err);
    free(q);
    free(xname);
    if (e) {
        weft__amqp_close(c);
        return e;
    }
    *out = c;
    return WEFT_OK;
}

/* A heartbeat signed with `secret` (when there is one): a forged one is
 * not listed. */
static weft_err heartbeat_from(const char *secret, const weft__amqp_event *ev,
                               weft_worker_info *hb, char *why)
{
    char *body = NULL;
    size_t len = 0;
    weft_err e = weft__msg_open(secret, ev->body, ev->len, &body, &len, why);
    if (!e) e = weft__cluster_heartbeat_decode(body, len, hb, why);
    free(body);
    return e;
}

/* The broker and queue that `opts` name (borrowed from opts or its config). */
static weft_err resolve(const weft_workers_opts *opts, const char **url, const char **queue,
                        char *err)
{
    const weft_config *cfg = opts->config;
    weft_err e = cfg ? weft__config_connection_env(cfg, opts->broker_url != NULL,
                                                      opts->queue != NULL, err) : WEFT_OK;
    if (e) return e;
    *url = opts->broker_url ? opts->broker_url
           : cfg            ? weft_config_broker_url(cfg)
                            : WEFT__DEFAULT_BROKER_URL;
    *queue = opts->queue ? opts->queue : cfg ? weft_config_queue(cfg) : WEFT__DEFAULT_QUEUE;
    return WEFT_OK;
}

weft_err weft_queue_info_get(const weft_workers_opts *opts, weft_queue_info *out, char *err)
{
    static const weft_workers_opts none = {0};
    if (!opts) opts = &none;
    const char *url, *queue;
    weft_err e = resolve(opts, &url, &queue, err);
    if (e) return e;
    weft__amqp_opts ao = weft__cluster_amqp_opts(opts->config, url, "weft workers");
    weft__amqp *c = NULL;
    if ((e = weft__amqp_open(&ao, &c, err))) return e;
    int64_t ready = 0, consumers = 0;
    e = weft__amqp_queue_counts(c, queue, &ready, &consumers, err);
    weft__amqp_close(c);
    if (e) return e;
    *out = (weft_queue_info){.ready = ready, .unacked = -1, .consumers = consumers};
    return WEFT_OK;
}

weft_err weft_workers_list(const weft_workers_opts *opts, weft_worker_info **out, size_t *n,
                           char *err)
{
    *out = NULL;
    *n = 0;
    static const weft_workers_opts none = {0};
    if (!opts) opts = &none;
    const weft_config *cfg = opts->config;
    const char *url, *queue;
    weft_err e = resolve(opts, &url, &queue, err);
    if (e) return e;
    int64_t wait_ms = opts->wait_ms > 0 ? opts->wait_ms : DEFAULT_WAIT_MS;
    const char *secret = cfg ? weft_config_broker_secret(cfg) : NULL;
    weft__amqp_opts ao = weft__cluster_amqp_opts(cfg, url, "weft workers");
    weft__amqp *c = NULL;
    e = listen_heartbeats(&ao, queue, &c, err);
    if (e) return e;
    heard h = {NULL, 0, 0};
    int64_t end = weft__mono_ns() + wait_ms * 1000000;
    while (!e && weft__mono_ns() < end) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        e = weft__amqp_next(c, (int)((end - weft__mono_ns()) / 1000000), &ev, err);
        weft_worker_info hb;
        char why[WEFT_ERRBUF_SIZE];
        if (!e && ev.kind == WEFT__AMQP_DELIVERY &&
            heartbeat_from(secret, &ev, &hb, why) == WEFT_OK &&
            keep(&h, &hb) != WEFT_OK) {
            weft__worker_info_release(&hb);
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        }
        weft__amqp_event_release(&ev);
    }
    weft__amqp_close(c);
    if (e == WEFT_ETIMEDOUT) e = WEFT_OK; /* the time to listen is over */
    if (e) {
        weft_worker_list_free(h.v, h.n);
        return e;
    }
    *out = h.v;
    *n = h.n;
    return WEFT_OK;
}

void weft_worker_list_free(weft_worker_info *workers, size_t n)
{
    for (size_t i = 0; workers && i < n; i++) weft__worker_info_release(&workers[i]);
    free(workers);
}

int64_t weft_workers_unacked(const weft_worker_info *ws, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; ws && i < n; i++) {
        const char *st = ws[i].state ? ws[i].state : "";
        if (strcmp(st, "up") != 0 && strcmp(st, "draining") != 0) continue;
        if (ws[i].unacked < 0) return -1;
        sum += ws[i].unacked;
    }
    return sum;
}
