/* SPDX-License-Identifier: MIT */
/*
 * pool.h - a pool of standalone worker processes that runs job specs, at
 * most N at a time, and reports when each starts and how it ended.
 *
 * The pool knows nothing of the store or the job graph: it is given specs,
 * keeps them in a FIFO queue, and calls back.  A thread of its own polls the
 * workers' channels and the fork server (git's run_processes_parallel: a
 * slot array with a state per slot and a matching pollfd array).
 *
 *  - Workers are reused across jobs.  A worker that is running a job also
 *    holds the next ones (WEFT__POOL_AHEAD at most) in its channel, so it
 *    never idles waiting for the pool's thread; an idle worker takes such a
 *    queued job back from a busy one, so no job waits behind a long one
 *    while a worker is idle.  weft__pool_withdraw() takes one back for the
 *    caller (the cluster worker service hands it to another machine).
 *  - A job that crashes its worker, calls exit() or is SIGKILLed fails alone
 *    ("worker process killed by signal 9 (Killed)", "worker process exited
 *    with status 3"); the slot gets a new worker and the jobs queued behind
 *    it go back to the front of the queue.
 *  - Cancel and timeout of a running job: SIGTERM to its worker (the job's
 *    weft_ctx_canceled() turns true), SIGKILL after `kill_grace_ms`.  The
 *    job ends CANCELED, or FAILED "timed out after 2s"; if even the SIGKILL
 *    does not end it (a stopped fork server cannot send it), the pool stops
 *    waiting after WEFT__STOP_GIVE_UP_MS, so a stop always ends.
 *  - The size can change while it runs (weft__pool_resize(), up to
 *    max_workers slots allocated at start): a new slot asks the fork server
 *    for a worker; a slot past the size takes no new job, and its worker
 *    is ended once idle, so a shrink never cuts a job short.
 *  - Workers start in the background: weft__pool_start() returns at once.
 *    When the first fork for a slot fails (the process limit), the pool
 *    runs with fewer workers and logs "cannot start N workers: ...";
 *    with none at all, every job fails with that message.
 *
 * Thread-safety: submit, cancel and stop may be called from any thread.
 * Callbacks run on the pool's thread, one at a time, with no pool lock held;
 * they must not call weft__pool_stop() or weft__pool_free().
 *
 * Files of standalone/, whose calls go one way: exec_standalone.c (the
 * executor) < pool.c < forkserver.c (forkserver.h) and worker.c
 * (worker.h) < wire.c (wire.h).
 */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include "job/runner.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct weft__pool weft__pool;

/* Jobs a worker holds in its channel behind the one it runs. */
#define WEFT__POOL_AHEAD 2

typedef struct weft__pool_cbs {
    /* The job started in worker `pid`: it was sent to an idle worker, or the
     * job before it in the same worker finished. */
    void (*running)(void *ud, void *job_ud, const char *job_id, pid_t pid);
    /* The job ended.  `res` is the callee's to take members from (it may
     * steal res->error and set it to NULL); the pool releases the rest. */
    void (*finished)(void *ud, void *job_ud, const char *job_id, weft__job_result *res);
    /* The job was taken back unstarted, as weft__pool_withdraw() asked: the
     * pool forgot it.  NULL: reported as finished CANCELED instead. */
    void (*withdrawn)(void *ud, void *job_ud, const char *job_id);
    void *ud;
} weft__pool_cbs;

typedef struct weft__pool_opts {
    const weft_config *cfg;       /* checked; borrowed until weft__pool_free() */
    const char *application_path; /* NULL: the config's; borrowed likewise */
    int nworkers;                 /* <= 0: weft_config_max_nb_of_workers(cfg), and
                                   * WEFT__DEFAULT_WORKERS when that is <= 0 */
    int max_workers;              /* the most weft__pool_resize() may ask for;
                                   * <= nworkers: the pool keeps its size */
    int64_t kill_grace_ms;        /* SIGTERM -> SIGKILL on cancel/timeout; <= 0:
                                   * WEFT__KILL_GRACE_MS (util/defaults.h) */
    const weft__logger *log;      /* borrowed until weft__pool_free(); NULL: the
                                   * library-wide handler */
    weft__pool_cbs cbs;
} weft__pool_opts;

/*
 * Forks the fork server, asks it for the workers, starts the pool thread.
 * Must be called while the process has no other weft thread (see
 * forkserver.h): register task functions before.  Caller frees with
 * weft__pool_free().
 */
weft_err weft__pool_start(const weft__pool_opts *opts, weft__pool **out, char *err);

/*
 * Queues a job (the spec is encoded now; `spec` stays the caller's).
 * `job_ud` is handed back to the callbacks.  WEFT_ESTATE once stopping.
 */
weft_err weft__pool_submit(weft__pool *p, const weft__job_spec *spec, void *job_ud, char *err);

/*
 * Asks to cancel a job by id: queued jobs end CANCELED at once, a running
 * one is stopped first.  Asynchronous: the finished callback reports it (or
 * the job's real end, when it ended first).
 */
weft_err weft__pool_cancel(weft__pool *p, const char *job_id, char *err);

/*
 * Asks to take a job back unstarted: one still in the queue, or queued in a
 * worker's channel behind a running job (the worker's claim word decides
 * the race: a job the worker took runs).  A job the running callback
 * announced is never taken back.  Asynchronous: the withdrawn callback
 * reports it, else the job runs and ends as usual.
 */
weft_err weft__pool_withdraw(weft__pool *p, const char *job_id, char *err);

/*
 * Stops: with `cancel`, queued jobs end CANCELED and running ones are
 * stopped; otherwise every submitted job runs to its end first.  Then the
 * workers and the fork server are ended and reaped.  Returns when done; safe
 * to call twice.
 */
void weft__pool_stop(weft__pool *p, bool cancel);

/* Stops (canceling) when needed, and frees.  NULL is ignored. */
void weft__pool_free(weft__pool *p);

/*
 * Grows or shrinks the pool to `n` slots, clamped to 1..max_workers, and
 * returns that.  Asynchronous: new slots ask the fork server for workers;
 * slots past the size take no new job, and the worker of each exits once it
 * is idle (a running or queued job is never cut short or lost).  Any thread.
 */
int weft__pool_resize(weft__pool *p, int n);

/* The size (last asked), and the slots with a live worker. */
int weft__pool_size(weft__pool *p);
int weft__pool_live_workers(weft__pool *p);
/* Pids of the live workers into pids[0..n): returns how many there are. */
int weft__pool_worker_pids(weft__pool *p, pid_t *pids, int n);
pid_t weft__pool_forkserver_pid(const weft__pool *p);

#endif
