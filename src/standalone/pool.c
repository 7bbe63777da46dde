/* SPDX-License-Identifier: MIT */
/*
 * pool.c - the standalone worker pool: a queue of encoded job specs, a slot
 * per worker process with a matching pollfd, and the thread that feeds the
 * workers, reads their results, replaces the ones that die and enforces
 * cancel and timeouts (see pool.h).
 *
 * Everything about slots and the queue belongs to the pool thread; the
 * mutex guards only what other threads hand in (new jobs, cancel requests,
 * the stop request) and the pid list the tests read.  Callbacks run on the
 * pool thread after the workers were given their next jobs, so a slow
 * callback delays reports, not the workers.
 */
#define _GNU_SOURCE
#include "standalone/pool.h"

#include "standalone/forkserver.h"
#include "standalone/wire.h"
#include "standalone/worker.h"
#include "job/spawn.h"
#include "util/defaults.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESPAWN_DELAY_MS 200 /* after the fork server could not fork */

/* Jobs a worker holds at once: the running one and DEPTH - 1 queued in its
 * channel.  A worker that finishes a job reads the next one at once instead
 * of waiting for this thread to wake up (tens of µs on a busy machine,
 * longer than a small job); jobs queued behind a long one are taken back by
 * idle workers, so depth costs no latency. */
#define DEPTH (WEFT__POOL_AHEAD + 1)
_Static_assert(DEPTH < WEFT__CLAIM_RING, "tags of a slot's jobs must not share claim words");

/* Why a job is being stopped. */
typedef enum job_stop { STOP_NONE = 0, STOP_CANCEL, STOP_TIMEOUT } job_stop;

/* How far the pool is in stopping, in order: a stop request only moves
 * forward.  `stopping` (what other threads asked) goes up to POOL_CANCEL;
 * `stop_seen` (what the pool thread acted on) also reaches POOL_SHUTDOWN,
 * after which no slot asks for a worker any more. */
typedef enum pool_stop {
    POOL_RUNNING = 0,  /* no stop asked */
    POOL_DRAIN = 1,    /* stop once every submitted job has ended */
    POOL_CANCEL = 2,   /* stop now: cancel queued and running jobs */
    POOL_SHUTDOWN = 3, /* the pool thread is closing the workers */
} pool_stop;

typedef struct pjob {
    struct pjob *next;
    char *job_id;
    void *ud;
    char *json;
    size_t len;
    int64_t timeout_ms;
    uint32_t tag;       /* in the slot it was last sent to */
    int64_t started_ns; /* 0 while not running (pool's view) */
    bool announced;     /* the running callback was called */
    job_stop stop;      /* why it is being stopped */
    int64_t kill_at_ns; /* when to SIGKILL its worker; 0: not scheduled */
    int64_t give_up_ns; /* SIGKILL asked: when to stop waiting for it; 0: not yet */
} pjob;

typedef enum slot_state {
    SLOT_SPAWNING = 0, /* asked the fork server for a worker */
    SLOT_READY = 1,    /* worker alive, channel open */
    SLOT_DYING = 2,    /* channel closed, waiting for the exit status */
    SLOT_RETRY = 3,    /* fork failed; ask again at retry_at_ns */
    SLOT_OFF = 4,      /* shutting down, the fork server is gone, or the
                        * first fork for the slot failed (fewer workers) */
} slot_state;

typedef struct slot {
    slot_state state;
    pid_t pid;
    int fd;
    weft__wire_in in;
    weft__wire_out out;
    pjob *job[DEPTH]; /* [0] running (pool's view), the rest queued in the channel */
    int njobs;
    uint32_t next_tag;
    int64_t retry_at_ns;
    bool had_worker; /* a worker ran here once: a failed fork is retried */
    bool retired;    /* beyond the pool's size: its worker ends, none replaces it */
} slot;

typedef struct event {
    bool finished;  /* else: running */
    bool withdrawn; /* finished: taken back unstarted */
    pjob *job;
    pid_t pid;
    weft__job_result res;
} event;

struct weft__pool {
    weft__pool_opts opts;
    int n;    /* slots allocated: the largest size the pool can take */
    int size; /* pool thread: slots [0, size) run jobs, the others are retired */
    int64_t grace_ns;
    slot *slots;
    /* [0] wakeup pipe, [1] fork server, [2 + k] the slot pslot[k]: only
     * slots with a channel, since poll() refuses more entries than
     * RLIMIT_NOFILE, even negative ones. */
    struct pollfd *pfd;
    int *pslot;
    weft__worker_shm *shm;
    size_t shm_size;
    weft__worker_opts wopts; /* read by workers in their copy of memory */
    weft__forkserver *fs;
    pid_t fs_pid;
    int wake[2];
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu; /* guards the members down to `live` */
    pjob *in_head, *in_tail;
    char **cancels, **withdraws; /* job ids */
    size_t ncancels, capcancels, nwithdraws, capwithdraws;
    bool sleeping;  /* the pool thread waits in poll(): wake it */
    pool_stop stopping; /* POOL_RUNNING, POOL_DRAIN or POOL_CANCEL */
    bool joined;
    bool broken;    /* the fork server is gone: nothing runs any more */
    pid_t *pids;
    int live;
    int want_size; /* weft__pool_resize(): taken by the pool thread */

    /* Pool thread only. */
    pjob *q_head, *q_tail;
    event *ev;
    size_t nev, capev;
    pool_stop stop_seen;
    char broken_why[WEFT_ERRBUF_SIZE]; /* written before `broken` is set */
    int start_failures; /* slots whose first fork failed */
    int start_errno;    /* why the last of them failed */
    bool start_reported;
};

/* ---- small helpers ------------------------------------------------------ */

static void job_free(pjob *j)
{
    if (!j) return;
    free(j->job_id);
    free(j->json);
    free(j);
}

static void q_push_back(weft__pool *p, pjob *j)
{
    j->next = NULL;
    if (p->q_tail)
        p->q_tail->next = j;
    else
        p->q_head = j;
    p->q_tail = j;
}

static void q_push_front(weft__pool *p, pjob *j)
{
    j->next = p->q_head;
    p->q_head = j;
    if (!p->q_tail) p->q_tail = j;
}

static pjob *q_pop(weft__pool *p)
{
    pjob *j = p->q_head;
    if (j) {
        p->q_head = j->next;
        if (!p->q_head) p->q_tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void wake_thread(weft__pool *p)
{
    ssize_t r = write(p->wake[1], "w", 1); /* EAGAIN: a wakeup is pending anyway */
    (void)r;
}

static void set_pid(weft__pool *p, int i, pid_t pid)
{
    pthread_mutex_lock(&p->mu);
    if ((p->pids[i] != 0) != (pid != 0)) p->live += pid ? 1 : -1;
    p->pids[i] = pid;
    pthread_mutex_unlock(&p->mu);
}

/* Events are delivered after the workers got their next jobs. */
static event *push_event(weft__pool *p, bool finished, pjob *j)
{
    if (WEFT__GROW(p->ev, p->nev + 1, p->capev)) return NULL;
    event *e = &p->ev[p->nev++];
    memset(e, 0, sizeof *e);
    e->finished = finished;
    e->job = j;
    e->res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    return e;
}

static void emit_running(weft__pool *p, pjob *j, pid_t pid)
{
    j->started_ns = weft__mono_ns();
    if (j->announced) return;
    j->announced = true;
    event *e = push_event(p, false, j);
    if (e) e->pid = pid;
}

/* Ends a job: `res` (taken, may be NULL for "failed with `why`") with the
 * verdict of a cancel or timeout applied. */
static void emit_finished(weft__pool *p, pjob *j, weft__job_result *res, const char *why)
{
    event *e = push_event(p, true, j);
    if (!e) {
        /* Out of memory: the job is lost to the caller, which is better than
         * crashing the orchestrator; it is at least freed. */
        if (res) weft__job_result_release(res);
        job_free(j);
        return;
    }
    if (res) {
        e->res = *res;
        *res = (weft__job_result)WEFT__JOB_RESULT_INIT;
    } else {
        e->res.status = WEFT_JOB_FAILED;
        e->res.error = weft__strdup(why);
    }
    if (j->stop == STOP_TIMEOUT) {
        char msg[64];
        weft__timeout_message(j->timeout_ms, msg, sizeof msg);
        free(e->res.error);
        e->res.status = WEFT_JOB_FAILED;
        e->res.error = weft__strdup(msg);
    } else if (j->stop == STOP_CANCEL && e->res.status != WEFT_JOB_COMPLETED) {
        free(e->res.error);
        e->res.status = WEFT_JOB_CANCELED;
        e->res.error = weft__strdup("canceled");
    }
}

static void flush_events(weft__pool *p)
{
    const weft__pool_cbs *cb = &p->opts.cbs;
    for (size_t i = 0; i < p->nev; i++) {
        event *e = &p->ev[i];
        if (!e->finished) {
            if (cb->running) cb->running(cb->ud, e->job->ud, e->job->job_id, e->pid);
            continue;
        }
        if (e->withdrawn && cb->withdrawn)
            cb->withdrawn(cb->ud, e->job->ud, e->job->job_id);
        else if (cb->finished)
            cb->finished(cb->ud, e->job->ud, e->job->job_id, &e->res);
        weft__job_result_release(&e->res);
        job_free(e->job);
    }
    p->nev = 0;
}

/* ---- slots -------------------------------------------------------------- */

static void slot_signal(weft__pool *p, slot *s, int sig, uint32_t tag)
{
    if (s->pid > 0) weft__forkserver_signal(p->fs, s->pid, sig, (int)tag, NULL);
}

/* Sends a job to a ready slot with room for it. */
static void slot_send(weft__pool *p, int i, pjob *j)
{
    slot *s = &p->slots[i];
    if (s->njobs >= DEPTH) { /* callers check; keeps the array in bounds */
        q_push_front(p, j);
        return;
    }
    /* Tags run 1..2^31-1 (sigqueue's int).  Jobs the worker may not have
     * claimed yet must keep their claim words: jobs taken back from this
     * worker leave gaps in its tags, so the next tag could land on one. */
    for (bool clash = true; clash;) {
        s->next_tag = s->next_tag % 0x7ffffffe + 1;
        clash = false;
        for (int k = 0; k < s->njobs; k++)
            clash |= s->next_tag % WEFT__CLAIM_RING == s->job[k]->tag % WEFT__CLAIM_RING;
    }
    j->tag = s->next_tag;
    j->started_ns = 0;
    weft__claim_offer(&p->shm[i], j->tag);
    if (weft__wire_queue(&s->out, WEFT__MSG_JOB, j->tag, j->json, j->len) != WEFT_OK) {
        weft__claim_take(&p->shm[i], j->tag);
        emit_finished(p, j, NULL, "job spec too large for a worker's channel");
        return;
    }
    s->job[s->njobs++] = j;
    if (s->njobs == 1) emit_running(p, j, s->pid);
}

/* Removes job k from a slot's list (it was taken back or it ended). */
static pjob *slot_take(slot *s, int k)
{
    pjob *j = s->job[k];
    for (int m = k; m + 1 < s->njobs && m + 1 < DEPTH; m++) s->job[m] = s->job[m + 1];
    s->job[--s->njobs] = NULL;
    return j;
}

/* The fork server could not fork: ask again a little later. */
static void slot_retry_later(slot *s)
{
    s->state = SLOT_RETRY;
    s->retry_at_ns = weft__mono_ns() + (int64_t)RESPAWN_DELAY_MS * 1000000;
}

static void slot_request_worker(weft__pool *p, int i)
{
    slot *s = &p->slots[i];
    if (p->broken || p->stop_seen == POOL_SHUTDOWN) {
        s->state = SLOT_OFF;
        return;
    }
    s->state = SLOT_SPAWNING;
    if (weft__forkserver_spawn(p->fs, i, NULL) != WEFT_OK) slot_retry_later(s);
}

/* The pool cannot run anything any more: queued and future jobs fail with
 * `why`. */
static void pool_break(weft__pool *p, const char *why)
{
    pthread_mutex_lock(&p->mu);
    snprintf(p->broken_why, sizeof p->broken_why, "%s", why);
    p->broken = true;
    pthread_mutex_unlock(&p->mu);
}

/* A first fork for a slot failed (the process limit, memory, our file
 * descriptors): the pool runs with the workers it could start, said once
 * all first answers are in, or breaks when it has none at all.  A fork
 * that fails to replace a dead worker is retried instead: that worker
 * once fitted. */
static void slot_start_failed(weft__pool *p, int i, int err_no)
{
    p->slots[i].state = SLOT_OFF;
    p->start_failures++;
    p->start_errno = err_no;
    if (p->start_reported) return;
    int live = 0;
    for (int k = 0; k < p->n; k++) {
        slot_state st = p->slots[k].state;
        if (st == SLOT_SPAWNING && !p->slots[k].had_worker) return; /* answers to come */
        live += st != SLOT_OFF;
    }
    p->start_reported = true;
    char why[WEFT_ERRBUF_SIZE];
    snprintf(why, sizeof why, "cannot start %d workers: %s", p->size, strerror(p->start_errno));
    if (live == 0) {
        weft__log(p->opts.log, WEFT_LOG_ERROR, "standalone", "%s", why);
        pool_break(p, why);
        return;
    }
    weft__log(p->opts.log, WEFT_LOG_WARN, "standalone",
              "%s (%d failed); running with %d", why, p->start_failures, live);
}

/* The worker of slot i is gone (`why` says how): its running job fails,
 * the one queued behind it goes back to the front of the queue, and the
 * slot asks for a new worker. */
static void slot_finalize(weft__pool *p, int i, const char *why)
{
    slot *s = &p->slots[i];
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    for (int k = s->njobs - 1; k >= 0; k--) {
        pjob *j = s->job[k];
        s->job[k] = NULL;
        if (weft__claim_take(&p->shm[i], j->tag)) {
            /* Never started. */
            if (j->stop == STOP_CANCEL) {
                emit_finished(p, j, NULL, "canceled");
            } else {
                j->kill_at_ns = 0;
                j->started_ns = 0;
                q_push_front(p, j);
            }
        } else {
            weft__job_result res = WEFT__JOB_RESULT_INIT;
            size_t n = strlen(why) + 32;
            res.error = malloc(n);
            if (res.error) snprintf(res.error, n, "worker process %s", why);
            emit_finished(p, j, &res, NULL);
        }
    }
    s->njobs = 0;
    weft__wire_in_release(&s->in);
    weft__wire_out_release(&s->out);
    s->pid = 0;
    set_pid(p, i, 0);
    if (s->retired)
        s->state = SLOT_OFF;
    else
        slot_request_worker(p, i);
}

static void handle_frames(weft__pool *p, int i)
{
    slot *s = &p->slots[i];
    char err[WEFT_ERRBUF_SIZE];
    weft__frame f;
    int r;
    while ((r = weft__wire_next(&s->in, &f, err)) > 0) {
        if (f.type != WEFT__MSG_RESULT || s->njobs == 0 || s->job[0]->tag != (uint32_t)f.id)
            continue; /* not ours: ignore rather than trust it */
        pjob *j = slot_take(s, 0);
        weft__job_result res = WEFT__JOB_RESULT_INIT;
        char perr[WEFT_ERRBUF_SIZE] = "";
        if (weft__job_result_from_json(f.data, f.len, &res, perr) != WEFT_OK) {
            weft__job_result_release(&res);
            res.status = WEFT_JOB_FAILED;
            size_t n = strlen(perr) + 64;
            res.error = malloc(n);
            if (res.error) snprintf(res.error, n, "malformed result from the worker: %s", perr);
        }
        emit_finished(p, j, &res, NULL);
        if (s->njobs > 0) emit_running(p, s->job[0], s->pid);
    }
    if (r < 0 && s->pid > 0) slot_signal(p, s, SIGKILL, 0); /* a garbled channel */
}

/* EOF or error on a slot's channel: wait for the exit status. */
static void slot_closed(weft__pool *p, int i)
{
    slot *s = &p->slots[i];
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->state = SLOT_DYING;
}

static void slot_readable(weft__pool *p, int i)
{
    slot *s = &p->slots[i];
    bool eof = false;
    if (weft__wire_fill(&s->in, s->fd, &eof, NULL) != WEFT_OK) eof = true;
    handle_frames(p, i);
    if (eof) slot_closed(p, i);
}

static void slot_flush(weft__pool *p, int i)
{
    slot *s = &p->slots[i];
    if (s->state != SLOT_READY || s->out.buf.len == s->out.off) return;
    bool done;
    if (weft__wire_flush(&s->out, s->fd, &done, NULL) != WEFT_OK) {
        /* The worker is gone; read what it sent before dying, then wait for
         * its status. */
        slot_readable(p, i);
        if (s->fd >= 0) slot_closed(p, i);
    }
}

/* ---- scheduling ------------------------------------------------------- */

/* Takes back the oldest job queued behind a running one in another
 * worker's channel (it started before anything in our queue was submitted);
 * NULL when there is none. */
static pjob *steal(weft__pool *p, int thief)
{
    for (int k = 0; k < p->n; k++) {
        slot *o = &p->slots[k];
        if (k == thief || o->njobs < 2 || o->job[1]->stop) continue;
        if (!weft__claim_take(&p->shm[k], o->job[1]->tag)) continue; /* it started */
        return slot_take(o, 1);
    }
    return NULL;
}

/* Idle workers first (a job taken back from a busy worker, else the head of
 * the queue), then more jobs queued in busy workers' channels, breadth
 * first. */
static void dispatch(weft__pool *p)
{
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        if (s->state != SLOT_READY || s->njobs != 0 || i >= p->size) continue;
        pjob *j = steal(p, i);
        if (!j) j = q_pop(p);
        if (!j) break;
        slot_send(p, i, j);
    }
    for (int depth = 1; depth < DEPTH && p->q_head; depth++) {
        for (int i = 0; i < p->size && p->q_head; i++) {
            slot *s = &p->slots[i];
            if (s->state == SLOT_READY && s->njobs == depth) slot_send(p, i, q_pop(p));
        }
    }
}

static void stop_running(weft__pool *p, slot *s, pjob *j, job_stop why)
{
    j->stop = why;
    j->kill_at_ns = weft__mono_ns() + p->grace_ns;
    slot_signal(p, s, SIGTERM, j->tag);
}

/* Removes job `id` from the queue; NULL when it is not there. */
static pjob *q_remove(weft__pool *p, const char *id)
{
    for (pjob **pp = &p->q_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        pjob *j = *pp;
        if (strcmp(j->job_id, id) != 0) continue;
        *pp = j->next;
        if (p->q_tail == j) p->q_tail = prev;
        j->next = NULL;
        return j;
    }
    return NULL;
}

/* Job `id` in a worker's channel: its slot in *si, its place there in *sk;
 * NULL when no channel has it. */
static pjob *slot_find(weft__pool *p, const char *id, int *si, int *sk)
{
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        for (int k = 0; k < s->njobs; k++) {
            if (strcmp(s->job[k]->job_id, id) != 0) continue;
            *si = i;
            *sk = k;
            return s->job[k];
        }
    }
    return NULL;
}

static void cancel_job(weft__pool *p, const char *id)
{
    int i, k;
    pjob *j = q_remove(p, id);
    if (j) {
        j->stop = STOP_CANCEL;
        emit_finished(p, j, NULL, "canceled");
        return;
    }
    if (!(j = slot_find(p, id, &i, &k)) || j->stop) return; /* gone, or being stopped */
    slot *s = &p->slots[i];
    if (weft__claim_take(&p->shm[i], j->tag)) {
        slot_take(s, k);
        j->stop = STOP_CANCEL;
        emit_finished(p, j, NULL, "canceled");
        /* The worker skips it: the next one starts right away. */
        if (k == 0 && s->njobs > 0) emit_running(p, s->job[0], s->pid);
    } else {
        stop_running(p, s, j, STOP_CANCEL);
    }
}

/* Ends a job taken back unstarted, for weft__pool_withdraw(). */
static void emit_withdrawn(weft__pool *p, pjob *j)
{
    event *e = push_event(p, true, j);
    if (!e) { /* out of memory: lost to the caller, as in emit_finished() */
        job_free(j);
        return;
    }
    e->withdrawn = true;
    e->res.status = WEFT_JOB_CANCELED;
}

/* Takes back a job no worker started and no running callback announced:
 * from the queue, or from behind the running job of a worker's channel when
 * its claim word is still ours. */
static void withdraw_job(weft__pool *p, const char *id)
{
    int i, k;
    pjob *j = q_remove(p, id);
    if (j)
        emit_withdrawn(p, j);
    else if ((j = slot_find(p, id, &i, &k)) && !j->announced && !j->stop &&
             weft__claim_take(&p->shm[i], j->tag))
        emit_withdrawn(p, slot_take(&p->slots[i], k));
}

static void cancel_all(weft__pool *p)
{
    pjob *j;
    while ((j = q_pop(p)) != NULL) {
        j->stop = STOP_CANCEL;
        emit_finished(p, j, NULL, "canceled");
    }
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        for (int k = s->njobs - 1; k >= 0; k--) {
            j = s->job[k];
            if (!j->stop) cancel_job(p, j->job_id);
        }
    }
}

/* Timeouts, SIGKILLs after the grace period, fork retries; returns the
 * poll timeout until the next of them (-1: none). */
static int run_timers(weft__pool *p)
{
    int64_t now = weft__mono_ns(), next = INT64_MAX;
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        if (s->state == SLOT_RETRY) {
            if (now >= s->retry_at_ns)
                slot_request_worker(p, i);
            else if (s->retry_at_ns < next)
                next = s->retry_at_ns;
            continue;
        }
        for (int k = 0; k < s->njobs; k++) {
            pjob *j = s->job[k];
            if (k == 0 && j->timeout_ms > 0 && j->started_ns && !j->stop) {
                int64_t deadline = j->started_ns + j->timeout_ms * 1000000;
                if (now >= deadline)
                    stop_running(p, s, j, STOP_TIMEOUT);
                else if (deadline < next)
                    next = deadline;
            }
            if (j->kill_at_ns) {
                if (now >= j->kill_at_ns) {
                    slot_signal(p, s, SIGKILL, 0);
                    j->kill_at_ns = 0;
                    j->give_up_ns = now + (int64_t)WEFT__STOP_GIVE_UP_MS * 1000000;
                } else if (j->kill_at_ns < next) {
                    next = j->kill_at_ns;
                }
            }
            if (j->give_up_ns && now >= j->give_up_ns) {
                /* The SIGKILL did not land: the fork server that sends it
                 * is stopped or stuck.  The job ends (as canceled or timed
                 * out) and the slot moves on; the process is the server's
                 * to kill when it comes back, or dies with it. */
                slot_finalize(p, i, "did not stop after SIGKILL");
                break;
            } else if (j->give_up_ns && j->give_up_ns < next) {
                next = j->give_up_ns;
            }
        }
    }
    if (next == INT64_MAX) return -1;
    int64_t ms = (next - now + 999999) / 1000000;
    return ms > 60000 ? 60000 : (int)ms;
}

/* ---- the fork server's reports --------------------------------------- */

static void on_spawned(weft__pool *p, const weft__fs_event *ev)
{
    if (ev->slot < 0 || ev->slot >= p->n || p->slots[ev->slot].state != SLOT_SPAWNING) {
        close(ev->fd);
        weft__forkserver_signal(p->fs, ev->pid, SIGKILL, 0, NULL);
        return;
    }
    slot *s = &p->slots[ev->slot];
    int fl = fcntl(ev->fd, F_GETFL);
    fcntl(ev->fd, F_SETFL, fl | O_NONBLOCK);
    s->fd = ev->fd;
    s->pid = ev->pid;
    s->state = SLOT_READY;
    s->had_worker = true;
    set_pid(p, ev->slot, ev->pid);
}

static void on_exited(weft__pool *p, const weft__fs_event *ev)
{
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        if (s->pid != ev->pid || (s->state != SLOT_READY && s->state != SLOT_DYING)) continue;
        /* Results it wrote before dying are in the channel: read them first. */
        while (s->fd >= 0) {
            size_t before = weft__wire_in_pending(&s->in);
            bool eof = false;
            if (weft__wire_fill(&s->in, s->fd, &eof, NULL) != WEFT_OK) eof = true;
            handle_frames(p, i);
            if (eof || weft__wire_in_pending(&s->in) == before) break;
        }
        char why[128];
        weft__status_describe(ev->status, why, sizeof why);
        slot_finalize(p, i, why);
        return;
    }
}

static void forkserver_events(weft__pool *p)
{
    weft__fs_event ev;
    int r;
    char err[WEFT_ERRBUF_SIZE];
    while ((r = weft__forkserver_next(p->fs, &ev, err)) > 0) {
        switch (ev.type) {
        case WEFT__FS_SPAWNED: on_spawned(p, &ev); break;
        case WEFT__FS_SPAWN_FAILED:
            if (ev.slot < 0 || ev.slot >= p->n || p->slots[ev.slot].state != SLOT_SPAWNING) break;
            if (p->slots[ev.slot].had_worker)
                slot_retry_later(&p->slots[ev.slot]);
            else
                slot_start_failed(p, ev.slot, ev.err_no);
            break;
        case WEFT__FS_EXITED: on_exited(p, &ev); break;
        }
    }
    if (r < 0) {
        /* The fork server died, and its workers with it (PR_SET_PDEATHSIG):
         * nothing can run any more. */
        pool_break(p, err);
        for (int i = 0; i < p->n; i++) {
            if (p->slots[i].state == SLOT_READY || p->slots[i].state == SLOT_DYING)
                slot_finalize(p, i, "lost: the fork server exited");
            p->slots[i].state = SLOT_OFF;
        }
    }
}

/* ---- the pool thread -------------------------------------------------- */

static bool all_idle(const weft__pool *p)
{
    if (p->q_head) return false;
    for (int i = 0; i < p->n; i++)
        if (p->slots[i].njobs > 0) return false;
    return true;
}

/* Grows or shrinks to `want` slots.  A slot past the size takes no new
 * job; once idle, its channel is closed, so its worker exits (at EOF, as at
 * shutdown) and the slot stays off.  A busy one is retired when its jobs
 * end: a job is never cut short or lost by a shrink.  A slot taken back
 * before its worker was gone keeps that worker. */
static void apply_size(weft__pool *p, int want)
{
    if (p->stop_seen == POOL_SHUTDOWN) return;
    p->size = want;
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        if (i < want) {
            if (s->retired && s->state == SLOT_OFF) {
                s->retired = false;
                slot_request_worker(p, i);
            }
        } else if (s->state == SLOT_READY && s->njobs == 0 && !s->retired) {
            s->retired = true;
            slot_closed(p, i);
        } else if (s->state == SLOT_RETRY) {
            s->retired = true;
            s->state = SLOT_OFF;
        }
    }
}

/* Takes in what other threads handed over (new jobs, cancel requests, a
 * stop request) and acts on it; returns the stop request as seen now. */
static pool_stop take_requests(weft__pool *p)
{
    pthread_mutex_lock(&p->mu);
    pjob *in = p->in_head;
    p->in_head = p->in_tail = NULL;
    char **cancels = p->cancels, **withdraws = p->withdraws;
    size_t ncancels = p->ncancels, nwithdraws = p->nwithdraws;
    p->cancels = p->withdraws = NULL;
    p->ncancels = p->capcancels = p->nwithdraws = p->capwithdraws = 0;
    pool_stop stopping = p->stopping;
    int want_size = p->want_size;
    pthread_mutex_unlock(&p->mu);
    apply_size(p, want_size);

    while (in) {
        pjob *next = in->next;
        q_push_back(p, in);
        in = next;
    }
    for (size_t k = 0; k < ncancels; k++) {
        cancel_job(p, cancels[k]);
        free(cancels[k]);
    }
    free(cancels);
    for (size_t k = 0; k < nwithdraws; k++) {
        withdraw_job(p, withdraws[k]);
        free(withdraws[k]);
    }
    free(withdraws);
    if (stopping == POOL_CANCEL && p->stop_seen != POOL_CANCEL) {
        p->stop_seen = POOL_CANCEL;
        cancel_all(p);
    } else if (stopping == POOL_DRAIN && p->stop_seen == POOL_RUNNING) {
        p->stop_seen = POOL_DRAIN;
    }
    if (p->broken) {
        pjob *j;
        while ((j = q_pop(p)) != NULL) emit_finished(p, j, NULL, p->broken_why);
    }
    return stopping;
}

/* Sleeps in poll() on the wakeup pipe, the fork server and the ready
 * slots (up to `timeout` ms; not at all when a request came in meanwhile),
 * then handles what became readable. */
static void wait_and_read(weft__pool *p, pool_stop stopping, int timeout)
{
    p->pfd[0] = (struct pollfd){p->wake[0], POLLIN, 0};
    short fs_events = POLLIN;
    if (!p->broken && weft__forkserver_wants_write(p->fs)) fs_events |= POLLOUT;
    p->pfd[1] = (struct pollfd){p->broken ? -1 : weft__forkserver_fd(p->fs), fs_events, 0};
    int npfd = 2;
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        short events = POLLIN;
        if (s->out.buf.len > s->out.off) events |= POLLOUT;
        if (s->state != SLOT_READY || s->fd < 0) continue;
        p->pslot[npfd - 2] = i;
        p->pfd[npfd++] = (struct pollfd){s->fd, events, 0};
    }
    pthread_mutex_lock(&p->mu);
    if (p->in_head || p->ncancels || p->nwithdraws || p->stopping != stopping)
        timeout = 0;
    else
        p->sleeping = true;
    pthread_mutex_unlock(&p->mu);
    int r = poll(p->pfd, (nfds_t)npfd, timeout);
    pthread_mutex_lock(&p->mu);
    p->sleeping = false;
    pthread_mutex_unlock(&p->mu);
    if (r < 0) return; /* EINTR */
    if (p->pfd[0].revents) {
        char b[64];
        while (read(p->wake[0], b, sizeof b) > 0) {}
    }
    if (p->pfd[1].revents & POLLOUT) weft__forkserver_flush(p->fs, NULL);
    if (p->pfd[1].revents & ~POLLOUT) forkserver_events(p);
    for (int k = 2; k < npfd; k++) {
        int i = p->pslot[k - 2];
        short re = p->pfd[k].revents;
        slot *s = &p->slots[i];
        if (!re || s->state != SLOT_READY || p->pfd[k].fd != s->fd) continue;
        if (re & (POLLIN | POLLHUP | POLLERR)) slot_readable(p, i);
    }
}

static void *pool_main(void *arg)
{
    weft__pool *p = arg;
    /* Here rather than in weft__pool_start(): slots are this thread's, and
     * the workers come after it (at a process limit, the thread the pool
     * cannot do without is not the one that fails). */
    for (int i = 0; i < p->n; i++) {
        p->slots[i].retired = i >= p->size;
        if (i < p->size) slot_request_worker(p, i);
    }
    for (;;) {
        pool_stop stopping = take_requests(p);
        dispatch(p);
        int timeout = run_timers(p); /* after dispatch: it starts clocks */
        for (int i = 0; i < p->n; i++) slot_flush(p, i);
        flush_events(p);
        if (stopping != POOL_RUNNING && all_idle(p)) break;
        wait_and_read(p, stopping, timeout);
    }
    /* Shut down: workers see EOF on their channels, and the fork server,
     * seeing EOF on its own, kills and reaps whatever is left. */
    p->stop_seen = POOL_SHUTDOWN;
    for (int i = 0; i < p->n; i++) {
        slot *s = &p->slots[i];
        if (s->fd >= 0) close(s->fd);
        s->fd = -1;
        s->state = SLOT_OFF;
        set_pid(p, i, 0);
    }
    weft__forkserver_stop(p->fs);
    p->fs = NULL;
    flush_events(p);
    return NULL;
}

/* ---- API -------------------------------------------------------------- */

weft_err weft__pool_start(const weft__pool_opts *opts, weft__pool **out, char *err)
{
    *out = NULL;
    if (!opts || !opts->cfg) return weft__err(err, WEFT_EINVAL, "pool: no configuration");
    weft__pool *p = calloc(1, sizeof *p);
    if (!p) return weft__err(err, WEFT_ENOMEM, "out of memory");
    p->opts = *opts;
    p->size = opts->nworkers > 0 ? opts->nworkers : weft_config_max_nb_of_workers(opts->cfg);
    if (p->size <= 0) p->size = WEFT__DEFAULT_WORKERS;
    p->n = opts->max_workers > p->size ? opts->max_workers : p->size;
    p->want_size = p->size;
    p->grace_ns = (opts->kill_grace_ms > 0 ? opts->kill_grace_ms : WEFT__KILL_GRACE_MS) * 1000000;
    p->wake[0] = p->wake[1] = -1;
    pthread_mutex_init(&p->mu, NULL);
    weft_err e = WEFT_ENOMEM;
    p->slots = calloc((size_t)p->n, sizeof *p->slots);
    p->pfd = calloc((size_t)p->n + 2, sizeof *p->pfd);
    p->pslot = calloc((size_t)p->n, sizeof *p->pslot);
    p->pids = calloc((size_t)p->n, sizeof *p->pids);
    if (!p->slots || !p->pfd || !p->pslot || !p->pids) {
        weft__err(err, e, "out of memory");
        goto fail;
    }
    for (int i = 0; i < p->n; i++) {
        p->slots[i].fd = -1;
        p->slots[i].state = SLOT_OFF;
    }
    p->shm_size = (size_t)p->n * sizeof *p->shm;
    p->shm = mmap(NULL, p->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p->shm == MAP_FAILED) {
        p->shm = NULL;
        e = weft__err(err, WEFT_ENOMEM, "mmap: %s", strerror(errno));
        goto fail;
    }
    p->wopts.cfg = opts->cfg;
    p->wopts.application_path = opts->application_path;
    p->wopts.shm = p->shm;
    p->wopts.nslots = p->n;
    e = weft__forkserver_start(weft__worker_main, &p->wopts, &p->fs, err);
    if (e) goto fail;
    /* After the fork: workers have no use for it. */
    if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        e = weft__err(err, WEFT_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    p->fs_pid = weft__forkserver_pid(p->fs);
    int rc = pthread_create(&p->thread, NULL, pool_main, p);
    if (rc != 0) {
        e = weft__err(err, WEFT_ENOMEM, "pthread_create: %s", strerror(rc));
        goto fail;
    }
    p->thread_started = true;
    *out = p;
    return WEFT_OK;
fail:
    weft__pool_free(p);
    return e;
}

weft_err weft__pool_submit(weft__pool *p, const weft__job_spec *spec, void *job_ud, char *err)
{
    pjob *j = calloc(1, sizeof *j);
    if (!j) return weft__err(err, WEFT_ENOMEM, "out of memory");
    j->ud = job_ud;
    j->timeout_ms = spec->timeout_ms;
    j->job_id = weft__strdup(spec->job_id ? spec->job_id : "");
    weft_err e = j->job_id ? weft__job_spec_to_json(spec, &j->json, &j->len) : WEFT_ENOMEM;
    if (e) {
        job_free(j);
        return weft__err(err, e, "cannot encode job %s: %s", spec->job_id ? spec->job_id : "?",
                         weft_strerror(e));
    }
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->broken) {
        e = p->broken ? weft__err(err, WEFT_ESPAWN, "the standalone worker pool is gone: %s",
                                  p->broken_why)
                      : weft__err(err, WEFT_ESTATE, "the worker pool is stopping");
        pthread_mutex_unlock(&p->mu);
        job_free(j);
        return e;
    }
    if (p->in_tail)
        p->in_tail->next = j;
    else
        p->in_head = j;
    p->in_tail = j;
    bool wake = p->sleeping;
    p->sleeping = false; /* one wakeup is enough */
    pthread_mutex_unlock(&p->mu);
    if (wake) wake_thread(p);
    return WEFT_OK;
}

/* Hands a job id to the pool thread in `list` (p->cancels or p->withdraws). */
static weft_err request(weft__pool *p, char ***list, size_t *n, size_t *cap, const char *job_id,
                        char *err)
{
    char *id = weft__strdup(job_id);
    if (!id) return weft__err(err, WEFT_ENOMEM, "out of memory");
    pthread_mutex_lock(&p->mu);
    if (WEFT__GROW(*list, *n + 1, *cap)) {
        pthread_mutex_unlock(&p->mu);
        free(id);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    (*list)[(*n)++] = id;
    bool wake = p->sleeping;
    p->sleeping = false;
    pthread_mutex_unlock(&p->mu);
    if (wake) wake_thread(p);
    return WEFT_OK;
}

weft_err weft__pool_cancel(weft__pool *p, const char *job_id, char *err)
{
    return request(p, &p->cancels, &p->ncancels, &p->capcancels, job_id, err);
}

weft_err weft__pool_withdraw(weft__pool *p, const char *job_id, char *err)
{
    return request(p, &p->withdraws, &p->nwithdraws, &p->capwithdraws, job_id, err);
}

void weft__pool_stop(weft__pool *p, bool cancel)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (p->joined || !p->thread_started) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    pool_stop want = cancel ? POOL_CANCEL : POOL_DRAIN;
    if (p->stopping < want) p->stopping = want;
    p->sleeping = false;
    pthread_mutex_unlock(&p->mu);
    wake_thread(p);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->mu);
    p->joined = true;
    pthread_mutex_unlock(&p->mu);
}

void weft__pool_free(weft__pool *p)
{
    if (!p) return;
    weft__pool_stop(p, true);
    if (p->fs) weft__forkserver_stop(p->fs); /* started, but the thread did not */
    pjob *j;
    while ((j = q_pop(p)) != NULL) job_free(j);
    while ((j = p->in_head) != NULL) {
        p->in_head = j->next;
        job_free(j);
    }
    for (size_t k = 0; k < p->ncancels; k++) free(p->cancels[k]);
    free(p->cancels);
    for (size_t k = 0; k < p->nwithdraws; k++) free(p->withdraws[k]);
    free(p->withdraws);
    if (p->slots) {
        for (int i = 0; i < p->n; i++) {
            for (int k = 0; k < p->slots[i].njobs; k++) job_free(p->slots[i].job[k]);
            weft__wire_in_release(&p->slots[i].in);
            weft__wire_out_release(&p->slots[i].out);
        }
    }
    for (size_t k = 0; k < p->nev; k++) {
        weft__job_result_release(&p->ev[k].res);
        if (p->ev[k].finished) job_free(p->ev[k].job);
    }
    free(p->ev);
    if (p->shm) munmap(p->shm, p->shm_size);
    if (p->wake[0] >= 0) close(p->wake[0]);
    if (p->wake[1] >= 0) close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->pfd);
    free(p->pslot);
    free(p->pids);
    free(p);
}

int weft__pool_size(weft__pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->want_size;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int weft__pool_resize(weft__pool *p, int n)
{
    n = n < 1 ? 1 : n > p->n ? p->n : n;
    pthread_mutex_lock(&p->mu);
    p->want_size = n;
    pthread_mutex_unlock(&p->mu);
    wake_thread(p);
    return n;
}

int weft__pool_live_workers(weft__pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->live;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int weft__pool_worker_pids(weft__pool *p, pid_t *pids, int n)
{
    pthread_mutex_lock(&p->mu);
    int k = 0;
    for (int i = 0; i < p->n; i++) {
        if (p->pids[i] == 0) continue;
        if (k < n) pids[k] = p->pids[i];
        k++;
    }
    pthread_mutex_unlock(&p->mu);
    return k;
}

pid_t weft__pool_forkserver_pid(const weft__pool *p) { return p->fs_pid; }
