/* SPDX-License-Identifier: MIT */
/*
 * exec_cluster.h - the cluster executor (orchestrator side of cluster mode,
 * exec_cluster.c): its options, how to build them from a config, and what
 * the orchestrator's recovery and the tests call besides the executor ops.
 */
#ifndef WEFT_CLUSTER_EXEC_CLUSTER_H
#define WEFT_CLUSTER_EXEC_CLUSTER_H

#include "cluster/amqp_client.h"
#include "exec/executor.h"
#include "weft.h"

typedef struct weft__exec_cluster_opts {
    const char *broker_url;      /* required */
    const char *queue;           /* default "weft.jobs" */
    const char *reply_queue;     /* default "<queue>.status"; an orchestrator's own: see
                                  * weft__cluster_reply_queue() */
    int max_attempts;            /* default 3 */
    const char *ca_file, *cert_file, *key_file;
    int verify_peer, verify_hostname; /* as in weft__amqp_opts: < 0 turns off */
    int window;                  /* publishes in flight before waiting for confirms; default 256 */
    /* The shared secret ([JOB] broker_secret) that signs every message and
     * that every status message must be signed with; NULL or "": none
     * (messages unsigned, a warning at start). */
    const char *secret;
} weft__exec_cluster_opts;

/*
 * The cluster executor.  start() connects (WEFT_EBROKER with the reason
 * when the broker cannot be reached: the orchestrator should fail then;
 * WEFT_ECANCELED as soon as base.interrupt turns non-zero meanwhile),
 * declares the topology, and starts the thread that owns the connection:
 * it publishes dispatched jobs (persistent, confirmed), consumes the reply
 * queue and turns status messages into reports, publishes cancels, and
 * reconnects with backoff when the broker goes away, republishing every job
 * not yet confirmed.  Caller frees with ex->ops->free().
 */
weft_err weft__exec_cluster_new(weft__app *app, weft__reports *reports,
                                const weft__exec_cluster_opts *opts,
                                weft__executor **out, char *err);

/* WEFT_ECONFIG when [JOB] broker_secret is set but has no usable value (an
 * ENV[...] that is not set): signing nothing then would silently turn
 * authentication off. */
weft_err weft__cluster_secret_check(const weft_config *cfg, char *err);

/* The options of the config's [JOB] section (strings borrowed from cfg). */
void weft__exec_cluster_opts_from_config(const weft_config *cfg, weft__exec_cluster_opts *o);

/* Connection options for `url` with the TLS keys of cfg's [JOB] section (cfg
 * may be NULL: none), for the other users of a config's broker (the worker
 * service, the workers list).  Strings borrowed from cfg and url. */
weft__amqp_opts weft__cluster_amqp_opts(const weft_config *cfg, const char *url,
                                        const char *name);

/*
 * Adopts a job that a previous orchestrator dispatched and that has not
 * finished (resume after a restart): no message is published, the
 * executor only waits for its status messages and reports them.  `running`
 * says whether RUNNING was already reported for it (then only FINISHED
 * will be).  Call it before start(): status messages of jobs the executor
 * does not track are dropped as duplicates.  A job that was dispatched but
 * never reported RUNNING may have been lost with an unconfirmed publish:
 * dispatch it again instead (it may then run twice; the first result wins).
 */
weft_err weft__exec_cluster_adopt(weft__executor *ex, const char *job_id, int attempt,
                                  bool running, char *err);

/*
 * The reply queue of the orchestrator on `storage_dir` (borrowed):
 * "<queue>.status.<id>", the id read from <storage_dir>/cluster-id, which is
 * created with a random id when missing.  Every orchestrator sharing a job
 * queue gets statuses of its own jobs only, and a restart on the same
 * folder finds those that waited.  Caller frees *out.  WEFT_EIO when the
 * file cannot be read or written or holds no valid id.
 */
weft_err weft__cluster_reply_queue(const char *storage_dir, const char *queue, char **out,
                                   char *err);

/* Number of jobs dispatched and not yet confirmed by the broker (tests). */
size_t weft__exec_cluster_unconfirmed(weft__executor *ex);

#endif
