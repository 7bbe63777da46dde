/* SPDX-License-Identifier: MIT */
/*
 * web.h - what the files of the web view share.  server.c owns the handle
 * (struct weft_ui), the HTTP daemon and the security checks and dispatches
 * a request, routed by router.c (pure functions, fuzzed), to api.c (JSON
 * routes), sse.c (the event stream and the thread that polls the store),
 * metrics.c, cluster.c (the workers and queue of cluster mode), graph.c (Graphviz layout), preview.c (data node previews),
 * runs.c (the `weft run` children of the Run button) or assets.c (the
 * embedded page).
 *
 * Threads: libmicrohttpd runs one thread per connection (an event stream
 * blocks its own); sse.c runs the poller; cluster.c, in cluster mode, the
 * thread that asks the broker (its snapshot under ui->cl.mu).  ui->mu guards `o` (opened
 * lazily, then fixed until close), the event ring and the children;
 * every store access goes through weft__orch_query() and the
 * orchestrator's own lock.
 */
#ifndef WEFT_WEB_H
#define WEFT_WEB_H

#include "util/util.h"
#include "weft.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_t;

/* ---- router.c ---- */
typedef enum weft__route_kind {
    WEFT__R_NOTFOUND = 0, WEFT__R_BADMETHOD, WEFT__R_PAGE, WEFT__R_JS, WEFT__R_CSS,
    WEFT__R_OVERVIEW, WEFT__R_SUBS, WEFT__R_SUB, WEFT__R_SUB_GRAPH, WEFT__R_SUB_CANCEL,
    WEFT__R_JOBS, WEFT__R_JOB, WEFT__R_JOB_CANCEL, WEFT__R_SCENARIOS, WEFT__R_SCENARIO_GRAPH,
    WEFT__R_SCENARIO_SUBMIT, WEFT__R_DNS, WEFT__R_DN, WEFT__R_EVENTS, WEFT__R_METRICS,
} weft__route_kind;

#define WEFT__ID_MAX 200
typedef struct weft__route {
    weft__route_kind kind;
    bool post;                    /* the route changes state (POST only) */
    char id[WEFT__ID_MAX + 1];    /* the entity of /api/KIND/ID..., "" otherwise */
} weft__route;

/* Routes `method` + `path` (the decoded path without the query).  Unknown
 * paths, ids with characters outside [A-Za-z0-9_.:-], "." and ".."
 * segments: NOTFOUND; a known path with the wrong method: BADMETHOD. */
void weft__route_match(const char *method, const char *path, weft__route *out);

/* The query parameters of a request, copied (bounded: at most
 * WEFT__QUERY_MAX of them, each key and value at most 256 bytes; more is
 * an error). */
#define WEFT__QUERY_MAX 16
typedef struct weft__query {
    char key[WEFT__QUERY_MAX][257];
    char val[WEFT__QUERY_MAX][257];
    size_t n;
    bool overflow;
} weft__query;
void weft__query_add(weft__query *q, const char *key, const char *val);
/* Parses a raw "a=1&b=x%20y" query string (what the fuzzer feeds). */
void weft__query_parse(weft__query *q, const char *raw, size_t len);
/* The value of `key`, NULL when absent (borrowed from q). */
const char *weft__query_get(const weft__query *q, const char *key);

/* The paging parameters of a list: limit (1..500, default 50), after (a
 * cursor from a "next"), status (a job status name), submission, task.
 * WEFT_EINVAL with the reason for anything malformed or unknown. */
typedef struct weft__page_args {
    int64_t after;
    int limit;
    int status;
    const char *submission, *task; /* borrowed from the query */
} weft__page_args;
weft_err weft__page_args_parse(const weft__query *q, weft__page_args *out, char *err);

/* ---- server.c: the handle ---- */
#define WEFT__RING 4096 /* events kept for slow streams: a client further behind reloads */

/* The cluster view's snapshot (cluster.c), guarded by its own `mu`. */
typedef struct weft__cluster_view {
    pthread_mutex_t mu;
    pthread_cond_t cond;         /* stopping */
    pthread_t thread;
    bool inited, running, stopping;
    weft_worker_info *workers;   /* the last list heard */
    size_t nworkers;
    weft_queue_info queue;
    bool queue_known;            /* false: the queue does not exist, or no answer */
    char error[WEFT_ERRBUF_SIZE]; /* the last refresh's failure, "" when none */
    int64_t at_us, refreshes;    /* when the last refresh ended, and how many */
} weft__cluster_view;

typedef struct weft__kid {
    pid_t pid;
    char *scenario_id;
} weft__kid;

struct weft_ui {
    weft__logger log;
    const weft_config *cfg;      /* the caller's: only read, by every thread */
    weft_config *ocfg;           /* the orchestrator's copy (copy_config()) */
    char *token;                 /* NULL: none required */
    char *secret;                /* the broker password, masked in every answer */
    char *signing_secret;        /* [JOB] broker_secret, likewise */
    char csrf[65];               /* random per server, served in the page */
    char session[65];            /* random per server: the cookie /login sets */
    char *exe, *config_file, *storage_override;
    char url[160];
    char hosts[3][80];           /* Host headers accepted without a token */
    bool loopback;
    struct MHD_Daemon *daemon;

    pthread_mutex_t mu;
    pthread_cond_t cond;         /* new events, or stopping */
    weft_orchestrator *o;        /* NULL until the store exists */
    char *ring[WEFT__RING];      /* SSE event texts ("id:", "event:", "data:") by sequence % WEFT__RING */
    int64_t ring_next;           /* sequence of the next event */
    int64_t last_row;            /* job_history row polled up to */
    bool stopping;
    pthread_t poller;
    bool has_poller;
    weft__kid *kids;             /* `weft run` children not yet reaped */
    size_t nkids, capkids;

    weft__cluster_view cl;

    volatile sig_atomic_t stop_flag;
    int stop_pipe[2];
};

/* The store's orchestrator, opening it when the store now exists; NULL
 * (nothing written to err) while there is none.  Thread-safe. */
weft_orchestrator *weft__ui_orch(weft_ui *ui);

/* A response: body owned (free()d after sending). */
typedef struct weft__resp {
    int status;
    const char *ctype; /* static */
    char *body;
    size_t len;
} weft__resp;

/* The request as the routes see it. */
typedef struct weft__req {
    weft__route route;
    const weft__query *query;
    const char *body; /* POST body, NUL-terminated, may be "" */
    size_t body_len;
} weft__req;

/* Sets a JSON body (stolen) / an {"error": msg} body with `status`. */
void weft__resp_json(weft__resp *r, int status, struct json_t *body);
void weft__resp_error(weft__resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The HTTP status for a library error: 404, 400, 409, 503, 500. */
int weft__http_status(weft_err e);

/* ---- api.c ---- */
void weft__api_handle(weft_ui *ui, const weft__req *rq, weft__resp *r);

/* ---- sse.c ---- */
weft_err weft__sse_start(weft_ui *ui, char *err);
void weft__sse_stop(weft_ui *ui);
/* Creates the streaming response of /api/events (an MHD_Response *);
 * `last_id` is the request's Last-Event-ID header, or NULL. */
void *weft__sse_response(weft_ui *ui, const char *last_id);

/* ---- metrics.c ---- */
void weft__metrics(weft_ui *ui, weft__resp *r);
/* Appends a label value with \\, " and newline escaped as the format asks. */
void weft__prom_label(weft__buf *b, const char *v);

/* ---- cluster.c ---- */
/* Starts the thread that refreshes the snapshot, in cluster mode only;
 * stop joins it (safe to call twice, or without start). */
weft_err weft__cluster_start(weft_ui *ui, char *err);
void weft__cluster_stop(weft_ui *ui);
/* {"queue", "queue_load": {"ready", "consumers"} or null, "workers": [...],
 * "updated_us", "refreshes", "error"}; JSON null outside cluster mode. */
struct json_t *weft__cluster_json(weft_ui *ui);
/* Appends the queue and worker gauges (nothing outside cluster mode). */
void weft__cluster_metrics(weft_ui *ui, weft__buf *b);

/* ---- preview.c ---- */
/* The preview of a data node: {"kind": "table"|"json"|"text"|"bytes"|"none", ...}. */
struct json_t *weft__preview(const weft_config *cfg, weft_orchestrator *o, const char *dn_id,
                             const char *config_id, const char *path);

/* ---- runs.c ---- */
/* Starts `weft run -c CFG -s SCENARIO [--sequence SEQUENCE]`, waits until
 * its submission is in the store (up to 15 s) and returns the id of what it
 * submitted (the scenario instance, or the sequence of that instance) and
 * of the submission (caller frees both). */
weft_err weft__run_spawn(weft_ui *ui, const char *scenario, const char *sequence, char **entity_id,
                         char **submission_id, char *err);
/* Reaps the children that ended (called by the poller). */
void weft__run_reap(weft_ui *ui);

/* ---- assets.c ---- */
/* The embedded file of a page route (static), NULL for others. */
const char *weft__asset(weft__route_kind kind, size_t *len, const char **ctype);

#endif
