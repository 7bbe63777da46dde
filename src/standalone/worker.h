/* SPDX-License-Identifier: MIT */
/*
 * worker.h - the loop of a standalone worker process, and what it shares
 * with the pool.
 *
 * A worker reads job specs (JSON frames, wire.h) from its channel, runs each
 * with weft__run_job() and writes the result back, until end of file on the
 * channel (the pool or the orchestrator is gone).  Its stdout and stderr
 * are captured per job into the result's log tail.  It never touches the
 * store.
 *
 * The pool may send a job while the worker still runs the previous one, so
 * the worker never idles waiting for the orchestrator.  Such a queued job can
 * be taken back (to give it to an idle worker, or to cancel it) until the
 * worker starts it: both sides race on a claim word in memory shared between
 * the pool and its workers, and exactly one compare-and-swap wins.  A worker
 * skips a job it lost the claim of without sending anything back.
 *
 * Cancel: the pool (through the fork server) sends SIGTERM with the job's
 * tag as sigqueue() value; weft_ctx_canceled() of that job turns true.  A
 * plain SIGTERM (from anyone else) cancels whatever runs and makes the
 * worker exit after reporting it.
 */
#ifndef WEFT_WORKER_H
#define WEFT_WORKER_H

#include "job/runner.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Frame types on a worker channel; the frame id is the job's tag. */
enum {
    WEFT__MSG_JOB = 1,    /* pool -> worker: a weft__job_spec as JSON */
    WEFT__MSG_RESULT = 2, /* worker -> pool: a weft__job_result as JSON */
};

/* Ring size of the claim words: more than the jobs a worker holds at once
 * (pool.c's DEPTH), whose tags the pool keeps on distinct words. */
#define WEFT__CLAIM_RING 8

/* Per slot, in a MAP_SHARED mapping made before the fork server: claim[tag
 * % RING] holds `tag` while job `tag` is sent but not started, 0 otherwise.
 * Padded to a cache line so two workers do not share one. */
typedef struct weft__worker_shm {
    _Atomic uint32_t claim[WEFT__CLAIM_RING];
    char pad[64 - (WEFT__CLAIM_RING * sizeof(uint32_t)) % 64];
} weft__worker_shm;

/* Marks job `tag` as sent and not started (before writing its frame). */
static inline void weft__claim_offer(weft__worker_shm *s, uint32_t tag)
{
    atomic_store(&s->claim[tag % WEFT__CLAIM_RING], tag);
}

/* Takes job `tag` if nobody did: true for exactly one of the worker (to
 * start it) and the pool (to take it back). */
static inline bool weft__claim_take(weft__worker_shm *s, uint32_t tag)
{
    uint32_t expect = tag;
    return atomic_compare_exchange_strong(&s->claim[tag % WEFT__CLAIM_RING], &expect, 0);
}

/* What each worker needs; lives in the pool and is read by workers in their
 * copy of memory (fork), so it must not change after the fork server starts. */
typedef struct weft__worker_opts {
    const weft_config *cfg;       /* checked configuration (borrowed) */
    const char *application_path; /* NULL: the config's */
    weft__worker_shm *shm;        /* one per slot, shared mapping */
    int nslots;
} weft__worker_opts;

/* The worker process's main function (a weft__worker_fn for the fork
 * server): `arg` is a weft__worker_opts.  Returns the exit status. */
int weft__worker_main(int fd, int slot, void *arg);

#endif
