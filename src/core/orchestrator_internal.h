/* SPDX-License-Identifier: MIT */
/*
 * orchestrator_internal.h - the orchestrator is one module split in files
 * that share this header and call each other: orchestrator.c (life cycle,
 * the loop, status changes), submit.c (scenarios, submissions and their
 * jobs), recovery.c (what a dead orchestrator left unfinished), query.c
 * (the read side) and data_write.c (data nodes written from outside a
 * task), with ids.c for entity ids.  The split is by concern, not
 * by layer: submit.c and recovery.c call the loop's helpers and the loop
 * calls submit.c's skip rule, so their calls go both ways on purpose.
 *
 * What they share: the orchestrator handle and its in-memory model of the
 * submissions it is running, on top of the store (store/store.h), the
 * executors (exec/executor.h) and the job runner (job/runner.h).
 *
 * The store (store.h) holds the truth; the in-memory model holds only what
 * a live submission needs to decide the next step in O(1) per change: each
 * job's downstream jobs, how many of its inputs are still locked, the edit
 * locks of data nodes, and the counts of each submission's job statuses.
 * A submission leaves memory when its last job is final.
 */
#ifndef WEFT_ORCHESTRATOR_INTERNAL_H
#define WEFT_ORCHESTRATOR_INTERNAL_H

#include "exec/executor.h"
#include "job/runner.h"
#include "job/status.h"
#include "store/store.h"
#include "util/util.h"
#include "weft.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- ids.c ---- */
#define WEFT__UUID_LEN 36
/* A random version 4 UUID in its 36-character text form. */
weft_err weft__uuid(char out[WEFT__UUID_LEN + 1]);
/* "<prefix>_<config_id>_<uuid>" ("<prefix>_<uuid>" when config_id is NULL);
 * caller frees *out. */
weft_err weft__make_id(const char *prefix, const char *config_id, char **out, char *err);
/* Splits a sequence id (see weft_sequence_id) into its scenario id and
 * sequence name (caller frees both); WEFT_ENOTFOUND when it is none. */
weft_err weft__sequence_parse(const char *id, char **scenario_id, char **name, char *err);

/* ---- the in-memory model of live submissions ---- */
typedef struct weft__sub weft__sub;

typedef struct weft__job {
    weft__job_spec spec;    /* ids, attempt, inputs/outputs (data node refs), timeout */
    int64_t seq;            /* the jobs row */
    weft_job_status status;
    int64_t status_us;      /* when it took that status (0: before this handle) */
    weft__sub *sub;
    size_t index;           /* in sub->jobs */
    size_t nwait;           /* inputs still locked by unfinished jobs */
    size_t *down;           /* indices of the jobs of sub that read an output of this one */
    size_t ndown, capdown;
    bool skippable;
    bool dispatched;        /* handed to the executor */
    volatile int cancel;    /* set (under o->mu) when a cancel was asked; read by the dev hook */
} weft__job;

struct weft__sub {
    char *id;
    char *entity_id;
    char *entity_config_id;
    int64_t seq;
    weft__job *jobs;        /* in dependency order */
    size_t njobs;
    size_t count[WEFT_JOB_NSTATUS];
    size_t nfinal;
    weft_submission_status status;
    bool force;
    bool canceling;         /* the whole submission is being canceled/interrupted */
    bool interrupted;       /* ... because *interrupt was set */
    bool finished;          /* every job is final */
    int64_t finished_us;
    int refs;               /* ready-queue entries and data node waiters pointing here */
    volatile sig_atomic_t *interrupt;
    bool interrupt_seen;    /* *interrupt was seen set by the thread that waits (threaded modes) */
    weft__sub *prev, *next; /* the live list */
};

/* A data node that unfinished jobs write: its edit lock and who waits for it. */
typedef struct weft__dnlock {
    char *id;
    size_t locks;           /* unfinished jobs that have it as output */
    struct weft__waiter { weft__sub *sub; size_t job; } *waiters;
    size_t nwaiters, capwaiters;
} weft__dnlock;

/* A change told to subscribers after the commit that stored it. */
typedef struct weft__pending_event {
    weft__sub *sub;        /* holds a ref */
    ptrdiff_t job;         /* index, or -1 for the submission's own change */
    weft_job_status job_status;
    weft_submission_status sub_status;
    int64_t at_us;
    char *error;
} weft__pending_event;

typedef struct weft__subscriber {
    weft_event_cb cb;
    void *ud;
} weft__subscriber;

/* A ready job: PENDING, to be skipped or dispatched. */
typedef struct weft__ready {
    weft__sub *sub;
    size_t job;
} weft__ready;

struct weft_orchestrator {
    const weft_config *cfg;
    weft_mode mode;
    bool read_only;
    volatile sig_atomic_t *interrupt; /* weft_orchestrator_opts.interrupt, for the executor */
    char *app_path;          /* absolute */
    char *storage;           /* absolute storage folder */
    char *storage_display;   /* as configured, for messages (".weft/") */
    int lock_fd;             /* -1 for read-only handles */
    weft__store *store;
    weft__app *app;
    weft__executor *ex;      /* created by weft_orchestrator_start() */
    weft__logger log;        /* from the options; fn NULL: the library-wide handler */
    weft__reports reports;
    bool started, stopped, broken;

    pthread_mutex_t mu;      /* recursive; guards everything below and the store */
    int mu_depth;            /* how many times the owning thread holds mu (only it touches this) */
    pthread_mutex_t run_mu;  /* serializes development-mode runs */
    pthread_cond_t changed;  /* a submission finished */
    weft__subscriber *subs_cb;
    size_t nsubs_cb, capsubs_cb;
    weft__sub *live;         /* live submissions */
    weft__strmap subs;       /* id -> weft__sub (live) */
    weft__strmap jobs;       /* id -> weft__job (live) */
    weft__strmap dnlocks;    /* data node id -> weft__dnlock (locked ones only) */
    weft__ready *ready;      /* FIFO */
    size_t ready_head, ready_len, ready_cap;
    weft__ready *handover;   /* recorded as dispatched in the open transaction: */
    size_t nhandover, caphandover; /* handed to the executor only after its commit */
    weft__pending_event *events;
    size_t nevents, capevents;
    char **cancels;          /* ids asked to cancel, applied by the loop */
    size_t ncancels, capcancels;
    int64_t cancel_seq;      /* last cancel_requests row seen */
    int64_t cancel_poll_ns;  /* when the store was last polled for cancel requests */
    bool in_tx;
    uint64_t report_token;   /* highest report token applied in the open transaction */
    pthread_t loop_thread;
    bool looping;
    /* Standalone and cluster: the dispatcher thread that runs the loop. */
    pthread_t dispatcher;
    bool has_dispatcher;
    bool dispatcher_quit;    /* set by stop: exit once nothing is live */
    bool dispatcher_done;    /* it has exited (a store error ends it early) */
    char dispatcher_err[WEFT_ERRBUF_SIZE];
};

/* ---- orchestrator.c: the lock ----
 * o->mu is recursive; these keep count of how deep the owner holds it, so
 * that the loop can release it fully while it sleeps (orchestrator.c's
 * unlock_all()) without unlocking a mutex it does not hold. */
static inline void weft__orch_lock(weft_orchestrator *o)
{
    pthread_mutex_lock(&o->mu);
    o->mu_depth++;
}
static inline void weft__orch_unlock(weft_orchestrator *o)
{
    o->mu_depth--;
    pthread_mutex_unlock(&o->mu);
}

/* ---- orchestrator.c: the loop ---- */
/* Runs the loop in the calling thread until `until` is finished (NULL: until
 * nothing is live) or *interrupt / an error stops it.  o->mu held. */
weft_err weft__orch_run(weft_orchestrator *o, weft__sub *until, char *err);
/* Begins a transaction when none is open / commits it and tells subscribers. */
weft_err weft__orch_begin(weft_orchestrator *o, char *err);
weft_err weft__orch_commit(weft_orchestrator *o, char *err);
/* Rolls back the open transaction and drops its events; `broken` marks the
 * handle unusable (memory may no longer match the store). */
void weft__orch_abort(weft_orchestrator *o, bool broken);
/* Changes a job's status (checked against the rules: WEFT_ESTATE), stores it,
 * queues the events; `error` may be NULL.  In a transaction. */
weft_err weft__orch_set_status(weft_orchestrator *o, weft__job *j, weft_job_status to,
                               const char *error, char *err);
/* The same, dated `at_us` (the wall clock, µs) instead of now: no earlier
 * than the job's previous status, no later than now. */
weft_err weft__orch_set_status_at(weft_orchestrator *o, weft__job *j, weft_job_status to,
                                  const char *error, int64_t at_us, char *err);
/* After j became final: abandon its downstream when it failed or was
 * canceled, release its output locks, make unblocked jobs PENDING. */
weft_err weft__orch_job_ended(weft_orchestrator *o, weft__job *j, char *err);
/* Cancels a live job or every unfinished job of a live submission. */
weft_err weft__orch_cancel_live(weft_orchestrator *o, const char *id, char *err);
void weft__sub_unref(weft_orchestrator *o, weft__sub *s);
/* Frees a submission and its jobs (no reference counting: for one that is
 * not, or no longer, live).  NULL is ignored; its jobs array may be NULL. */
void weft__sub_free(weft__sub *s);
/* Makes a stored submission live: in o->subs by id and in the live list.
 * WEFT_ENOMEM with nothing changed. */
weft_err weft__sub_link(weft_orchestrator *o, weft__sub *s);
/* Queues the events of a new submission: its SUBMITTED, each job's SUBMITTED. */
weft_err weft__orch_queue_created(weft_orchestrator *o, weft__sub *s, int64_t at_us);
/* Finishes a submission without jobs (COMPLETED at once). */
weft_err weft__orch_finish_empty(weft_orchestrator *o, weft__sub *s, char *err);
/* Creates and starts the executor of the mode once (WEFT_EMODE for a
 * read-only handle or a mode without executor).  o->mu held. */
weft_err weft__orch_ensure_started(weft_orchestrator *o, char *err);
/* Whether a read-write orchestrator (maybe another process) holds the
 * storage folder's lock. */
bool weft__storage_in_use(const weft_orchestrator *o);
weft_err weft__ready_push(weft_orchestrator *o, weft__sub *s, size_t job);
/* Records the hand-over of every ready PENDING job in the open transaction
 * (skipping or canceling those that will not run); the loop gives them to
 * the executor after the commit.  o->mu held. */
weft_err weft__orch_dispatch_ready(weft_orchestrator *o, char *err);

/* ---- submit.c ---- */
/* Creates the submission of `entity_id` with its jobs (stored, events
 * queued, PENDING ones in the ready queue).  o->mu held. */
weft_err weft__submission_create(weft_orchestrator *o, const char *entity_id, bool force,
                                 volatile sig_atomic_t *interrupt, weft__sub **out, char *err);
/* Rebuilds a submission that a dead orchestrator left unfinished (cluster
 * mode's resume) from the store and the config: its jobs with their stored
 * statuses and attempts, edges, edit locks and waits (in a transaction;
 * call it for the submissions in creation order).  A BLOCKED job that
 * nothing blocks any more becomes PENDING; PENDING jobs are queued to be
 * dispatched again.  WEFT_ECONFIG, with nothing changed, when a job's task
 * is no longer in the config. */
weft_err weft__submission_load(weft_orchestrator *o, const char *submission_id, char *err);
/* Whether a ready job's task may be skipped (Taipy's rule). */
weft_err weft__should_skip(weft_orchestrator *o, const weft__job *j, bool *skip, char *err);
/* Frees a data node ref's members. */
void weft__dn_ref_release(weft__dn_ref *r);
/* Builds the ref of data node instance `dn_id` (storage type from the config). */
weft_err weft__dn_ref_make(weft_orchestrator *o, const weft__store_dn *row, weft__dn_ref *ref,
                           char *err);

/* ---- query.c ---- */
/* A data node instance by instance id, or by config id when the store holds
 * one instance of it (WEFT_ENOTFOUND, or WEFT_EINVAL when there are
 * several).  Release *row with weft__store_dn_release().  o->mu held. */
weft_err weft__dn_resolve(weft_orchestrator *o, const char *id, weft__store_dn *row, char *err);

/* ---- recovery.c ---- */
/* Finishes what a dead orchestrator left unfinished (mode-dependent):
 * cluster mode resumes its submissions (they are live afterwards). */
weft_err weft__recover(weft_orchestrator *o, char *err);
/* Cluster mode, between creating the executor and starting it: hands it
 * the resumed RUNNING and PENDING jobs (its ops->adopt). */
weft_err weft__recover_adopt(weft_orchestrator *o, char *err);

#endif
