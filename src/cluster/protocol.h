/* SPDX-License-Identifier: MIT */
/*
 * protocol.h - cluster mode's protocol: the names every party declares on
 * the broker, and the four JSON messages they exchange, each with one
 * encoder and one decoder (protocol.c).  The orchestrator's executor
 * (exec_cluster.c), the worker service (service.c) and the workers list
 * (workers.c) all speak through these functions only; docs/CLUSTER.md
 * ("Messages") lists the same fields for users.
 *
 * Topology, for a job queue Q (default "weft.jobs"), declared identically
 * by the orchestrator and every worker (weft__cluster_declare()):
 *   Q           durable queue of job messages; rejected messages go to Q.dead
 *   Q.dead      durable dead-letter queue (malformed messages)
 *   Q.status    durable queue of status messages for the orchestrator
 *               (the job message's reply_to names it)
 *   Q.control   fanout exchange of cancel messages; each worker binds an
 *               exclusive, auto-deleted queue of its own
 *   Q.workers   fanout exchange of heartbeats (`weft workers`)
 *
 * Every message is a JSON object with "type" (its kind) and "v" (1; 2 for
 * job messages).  With a shared secret, every message carries an
 * HMAC-SHA256 as its last member, "mac" (trust.h: weft__msg_seal() before
 * publishing, weft__msg_open() before decoding).
 *
 * job (orchestrator -> Q; persistent), ids and a digest, never code or paths:
 *   job_id          string   JOB_<task_config_id>_<uuid>
 *   task_id         string   TASK_<task_config_id>_<uuid>
 *   task_config_id  string   the TASK section to run, as the worker's own
 *                            application defines it
 *   digest          string   SHA-256 (hex) of the task's definition by the
 *                            orchestrator (weft__task_digest()): a worker
 *                            whose own differs fails the job
 *   inputs, outputs array    [{id: DATANODE_<config_id>_<uuid>, config_id}]
 *                            in the order the task declares them; storage
 *                            types and paths come from the worker's config
 *   attempt         integer  1 for the first delivery; a worker that gets a
 *                            redelivered message republishes it with + 1
 *   max_attempts    integer  past it, a redelivered job is FAILED instead
 *   reply_to        string   the queue for its status messages
 * status (worker -> reply_to; RUNNING transient, final ones persistent):
 *   job_id, attempt          as in the job message
 *   status          string   RUNNING, COMPLETED, FAILED or CANCELED
 *   worker          string   "host:pid" of the worker service
 *   result          object   final statuses only: the weft__job_result JSON
 *                            (error, exit_code, signal, log_tail, written)
 * cancel (orchestrator -> Q.control; transient):
 *   job_id          string   the job to skip or stop
 * worker, the heartbeat (worker -> Q.workers every 3 s; transient):
 *   worker          string   "host:pid"
 *   host            string   the host name
 *   pid             integer
 *   queue           string   the job queue it serves
 *   concurrency     integer  jobs it runs at once
 *   jobs_run        integer  jobs it finished since it started
 *   current         array    ids of the jobs it runs now
 *   state           string   "up", "draining" (stopping) or "down" (stopped)
 *   at_us           integer  when, in µs since the epoch (its clock)
 *   busy            integer  slots given a job
 *   jobs_started    integer  jobs it started since it started
 *   started_per_s, finished_per_s   number   over the last minute
 *   unacked         integer  deliveries of the queue it holds unacknowledged
 *                            (weft_worker_info.unacked; absent: unknown, -1)
 *
 * Decoders reject (WEFT_EDATA, with the reason) a message that is not a
 * JSON object of the right type, larger than WEFT__CLUSTER_MAX_MSG, or
 * missing a required field; unknown fields are ignored, so a later version
 * may add some.
 */
#ifndef WEFT_CLUSTER_PROTOCOL_H
#define WEFT_CLUSTER_PROTOCOL_H

#include "cluster/amqp_client.h"
#include "cluster/trust.h"
#include "job/runner.h"
#include "weft.h"

#include <stdbool.h>
#include <stddef.h>

#define WEFT__CLUSTER_MAX_MSG (16u * 1024 * 1024) /* larger messages are malformed */

/* ---- topology ---- */

/* Declares Q, Q.dead, Q.status, Q.control and Q.workers. */
weft_err weft__cluster_declare(weft__amqp *c, const char *queue, char *err);

/* Names derived from the job queue ("<queue>.<suffix>"); caller frees, NULL on ENOMEM. */
char *weft__cluster_name(const char *queue, const char *suffix);

/* "host:pid" of this process (static buffer, computed once; thread-safe). */
const char *weft__cluster_worker_name(void);

/* The type of a message ("job", "status", ...), copied into buf; false when
 * it is not a JSON object with a string "type". */
bool weft__cluster_msg_type(const char *text, size_t len, char *buf, size_t size);

/* ---- job ---- */

#define WEFT__CLUSTER_JOB_VERSION 2 /* "v" of job messages */
#define WEFT__CLUSTER_MAX_REFS 10000 /* inputs or outputs a job message may name */

typedef struct weft__cluster_job {
    /* Ids only (and spec.attempt, the message's attempt): storage types,
     * paths and the timeout are the worker's to derive (weft__trust_resolve()). */
    weft__job_spec spec;
    int max_attempts;
    char *reply_to;
    char digest[WEFT__DIGEST_HEX + 1]; /* the orchestrator's digest of the task */
} weft__cluster_job;
#define WEFT__CLUSTER_JOB_INIT {WEFT__JOB_SPEC_INIT, 0, NULL, ""}
void weft__cluster_job_release(weft__cluster_job *j);

/* Encodes a job message: the ids of `spec` (its paths, storage types and
 * timeout are not sent) and `digest` (weft__task_digest() of its task).
 * Caller frees *out; *len may be NULL. */
weft_err weft__cluster_job_encode(const weft__job_spec *spec, const char *digest, int attempt,
                                  int max_attempts, const char *reply_to, char **out,
                                  size_t *len, char *err);
/* Decodes one into *j (caller releases); WEFT_EDATA with the reason when
 * malformed: a field missing, an id off the pattern of trust.h, another
 * protocol version. */
weft_err weft__cluster_job_decode(const char *text, size_t len, weft__cluster_job *j, char *err);

/* ---- status ---- */

typedef struct weft__cluster_status {
    char *job_id;
    int attempt;
    weft_job_status status;    /* RUNNING or final */
    char *worker;
    weft__job_result result;   /* final statuses */
    /* How long the job had run when the worker sent this (µs), 0: not
     * said: RUNNING is sent late, or not at all for a short job. */
    int64_t ran_us;
} weft__cluster_status;
#define WEFT__CLUSTER_STATUS_INIT {NULL, 0, WEFT_JOB_RUNNING, NULL, WEFT__JOB_RESULT_INIT, 0}
void weft__cluster_status_release(weft__cluster_status *s);

/* `res` (borrowed) is ignored and may be NULL for RUNNING; `ran_us` as in
 * weft__cluster_status (0: not sent).  Caller frees *out. */
weft_err weft__cluster_status_encode(const char *job_id, int attempt, weft_job_status status,
                                     const char *worker, const weft__job_result *res,
                                     int64_t ran_us, char **out, size_t *len, char *err);
/* Decodes one into *s (caller releases); WEFT_EDATA with the reason when malformed. */
weft_err weft__cluster_status_decode(const char *text, size_t len, weft__cluster_status *s,
                                     char *err);

/* ---- cancel ---- */

/* Encodes a cancel message (caller frees *out). */
weft_err weft__cluster_cancel_encode(const char *job_id, char **out, size_t *len, char *err);
/* The job id of a cancel message (caller frees), NULL when malformed. */
char *weft__cluster_cancel_decode(const char *text, size_t len);

/* ---- heartbeat ("worker") ----
 * The decoded form is the public weft_worker_info (weft.h), which
 * weft_workers_list() hands out. */

/* Encodes `hb` (borrowed; NULL strings are sent as ""); caller frees *out. */
weft_err weft__cluster_heartbeat_encode(const weft_worker_info *hb, char **out, size_t *len,
                                        char *err);
/* Decodes into *hb (caller releases with weft__worker_info_release()).  Only
 * "worker" is required; a missing state reads "?", missing numbers 0 but
 * for a missing (or negative) unacked: -1. */
weft_err weft__cluster_heartbeat_decode(const char *text, size_t len, weft_worker_info *hb,
                                        char *err);
/* Frees the members and zeroes *hb; safe to call twice. */
void weft__worker_info_release(weft_worker_info *hb);

#endif
