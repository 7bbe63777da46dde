/* SPDX-License-Identifier: MIT */
/*
 * executor.h - the seam between the orchestrator (what runs next: the job
 * graph, the store, subscribers) and an executor (where a job runs).
 *
 * The orchestrator hands each PENDING job that is not skipped to its
 * executor with dispatch(); the executor runs it somewhere and reports back,
 * from any thread, through the report queue: "job X is running on worker W"
 * and "job X finished with this weft__job_result".  The orchestrator drains
 * the queue in its own thread (the caller's thread in development mode, the
 * dispatcher thread otherwise), applies every report of one drain in one
 * transaction, commits, tells subscribers, and dispatches the jobs that
 * became PENDING.  An executor never touches the store or the job graph.
 *
 *   development  exec_dev.c: a FIFO run by step() in the orchestrator's
 *                thread, one job at a time (Taipy's synchronous mode)
 *   standalone   exec_standalone.c: a pool of at most max_nb_of_workers
 *                worker processes fed by its own thread; step is NULL, so
 *                the orchestrator runs its loop in a dispatcher thread
 *   cluster      exec_cluster.c: publishes specs to RabbitMQ, a consumer
 *                thread reports from the reply queue; step is NULL
 */
#ifndef WEFT_EXECUTOR_H
#define WEFT_EXECUTOR_H

#include "util/util.h"
#include "job/runner.h"
#include "weft.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- reports: executor -> orchestrator, thread-safe ---- */

typedef enum weft__report_kind {
    WEFT__REPORT_RUNNING = 0,  /* the job started on `worker` */
    WEFT__REPORT_FINISHED = 1, /* the job ended: `result` */
} weft__report_kind;

typedef struct weft__report {
    weft__report_kind kind;
    char *job_id;
    int attempt;               /* the run this is about: 1, or more after a lost worker */
    char *worker;              /* RUNNING: "local", "pid 1234", "host:pid" */
    int64_t ran_us;            /* RUNNING: how long it has run already (a late report), 0: none */
    weft__job_result result;   /* FINISHED */
    /* Opaque to the orchestrator, 0 for none.  An executor that sets tokens
     * makes them increase in the order it queues its reports; once the
     * transaction that stored a report is committed, the orchestrator calls
     * ops->committed() with the highest token of it (see there). */
    uint64_t token;
    struct weft__report *next;
} weft__report;

/* A multi-producer, single-consumer queue of reports with a condition
 * variable the orchestrator sleeps on.  WEFT__REPORTS_INIT is not usable for
 * a mutex; call weft__reports_init(). */
typedef struct weft__reports {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    weft__report *head, *tail;
    bool woken;
} weft__reports;

weft_err weft__reports_init(weft__reports *q);
/* Frees every queued report and the queue's mutex/cond. */
void weft__reports_destroy(weft__reports *q);
/* Queue that run `attempt` of `job_id` runs on `worker` (both copied),
 * started `ran_us` ago (0: just now); `token` as in weft__report (0: none). */
weft_err weft__report_running(weft__reports *q, const char *job_id, int attempt,
                              const char *worker, int64_t ran_us, uint64_t token);
/* Queue that run `attempt` of `job_id` finished; takes the members of *res
 * (reset to INIT), also on failure. */
weft_err weft__report_finished(weft__reports *q, const char *job_id, int attempt,
                               weft__job_result *res, uint64_t token);
/* Takes every queued report, oldest first (caller frees each with
 * weft__report_free()); NULL when none. */
weft__report *weft__reports_take(weft__reports *q);
void weft__report_free(weft__report *r);
/* Sleeps until a report is queued, weft__reports_wake() is called, or
 * timeout_ms passed.  Returns at once when reports are queued. */
void weft__reports_wait(weft__reports *q, int64_t timeout_ms);
/* Wakes the consumer (a cancel request, a stop). */
void weft__reports_wake(weft__reports *q);

/* ---- executors ---- */

typedef struct weft__executor weft__executor;

typedef struct weft__executor_ops {
    const char *name;  /* the mode's name, WEFT__MODE_* (util/defaults.h) */
    /* Start threads, workers, connections.  Called once before dispatch. */
    weft_err (*start)(weft__executor *ex, char *err);
    /* Take a PENDING job: `spec` is borrowed for the call (copy it).  The
     * executor must later report RUNNING (optional) then FINISHED for it,
     * exactly once, unless it was canceled before RUNNING was reported, in
     * which case it reports FINISHED with status CANCELED. */
    weft_err (*dispatch)(weft__executor *ex, const weft__job_spec *spec, char *err);
    /* Ask to stop a dispatched job: drop it if queued, stop it if running;
     * it is then reported FINISHED (normally CANCELED; the orchestrator
     * accepts whatever status really happened).  Unknown ids are ignored. */
    void (*cancel)(weft__executor *ex, const char *job_id);
    /* Executors without threads of their own (development): do one unit of
     * work in the caller's (orchestrator's) thread and return true, or
     * return false when there is nothing to do.  NULL otherwise. */
    bool (*step)(weft__executor *ex);
    /* Stop taking jobs; with cancel_running, stop running jobs (they are
     * reported CANCELED), else let them finish.  Safe to call twice. */
    void (*stop)(weft__executor *ex, bool cancel_running);
    /* Free (after stop). */
    void (*free)(weft__executor *ex);
    /* Optional (NULL: reports carry no token).  Every report with a token
     * <= `token` is now stored durably (its transaction committed): the
     * executor may forget what it kept to survive an orchestrator crash
     * (cluster: it acknowledges the status messages only now).  Called in
     * the orchestrator's thread, with its lock held: only note it and wake
     * the executor's thread.  O(1). */
    void (*committed)(weft__executor *ex, uint64_t token);
    /* Optional (NULL: the mode does not resume; cluster only).  Adopts a
     * job that a previous orchestrator dispatched and that has not finished
     * (resume after a restart): nothing is sent, the executor only waits for
     * the job's reports.  `running` says whether RUNNING was already
     * reported for it (then only FINISHED will be).  Called before start(). */
    weft_err (*adopt)(weft__executor *ex, const char *job_id, int attempt, bool running,
                      char *err);
} weft__executor_ops;

/* Every executor starts with this header. */
struct weft__executor {
    const weft__executor_ops *ops;
    weft__reports *reports; /* borrowed from the orchestrator */
    weft__app *app;         /* borrowed */
    const weft__logger *log; /* borrowed from the orchestrator (NULL: library-wide handler) */
    /* Borrowed from the orchestrator (weft_orchestrator_opts.interrupt; may
     * be NULL): a start() that waits for something outside (the broker)
     * gives up when it turns non-zero. */
    volatile sig_atomic_t *interrupt;
};

/* Allocates a zeroed executor of `size` bytes, whose struct starts with a
 * struct weft__executor, and fills in that header (ops, app, reports: all
 * borrowed).  NULL with WEFT_ENOMEM in err when out of memory.  The
 * executor's own free() releases it with free(). */
void *weft__executor_alloc(size_t size, const weft__executor_ops *ops, weft__app *app,
                           weft__reports *reports, char *err);

/* Asked by the development executor while its job runs (every <= 50 ms):
 * true to stop it.  Called in the orchestrator's thread. */
typedef bool (*weft__poll_cancel_fn)(void *ud, const char *job_id);

/* The development executor: jobs run one by one in the orchestrator's
 * thread, from step().  Caller frees with ex->ops->free(). */
weft_err weft__exec_dev_new(weft__app *app, weft__reports *reports,
                            weft__poll_cancel_fn poll, void *poll_ud,
                            weft__executor **out, char *err);

/*
 * The standalone executor (src/standalone/exec_standalone.c) over a pool of
 * `nworkers` worker processes (<= 0: the default).  Its start() forks the
 * fork server: call it before the orchestrator creates threads.
 */
weft_err weft__exec_standalone_new(weft__app *app, weft__reports *reports, int nworkers,
                                   weft__executor **out, char *err);

/*
 * The cluster executor (src/cluster/exec_cluster.c), set up from the
 * config's [JOB] section (broker, queue, attempts, TLS).  Its reply queue
 * belongs to `storage_dir` (borrowed; the orchestrator's storage folder,
 * which holds the queue's id in a file cluster-id, created at the first
 * start), so that orchestrators sharing a job queue never take each other's
 * statuses.  start() connects (WEFT_EBROKER when the broker cannot be
 * reached).
 */
weft_err weft__exec_cluster_from_config(weft__app *app, weft__reports *reports,
                                        const weft_config *cfg, const char *storage_dir,
                                        weft__executor **out, char *err);

#endif
