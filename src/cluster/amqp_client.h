/*
 * amqp_client.h - weft's small wrapper over rabbitmq-c (librabbitmq 0.11), and the
 * messages cluster mode exchanges over it.
 *
 * rabbitmq-c is not thread-safe, services heartbeats only while one of its
 * calls runs, never reconnects and has no helper for publisher confirms.
 * This wrapper gives one connection with one channel (number 1) to one
 * owner (a thread or a process) that keeps calling weft__amqp_next() or
 * weft__amqp_poll(): every frame the broker sends (deliveries, publisher
 * confirms, channel or connection close) comes out of weft__amqp_next() as
 * an event or as an error that marks the connection broken.  A broken
 * connection is closed with weft__amqp_close() and opened again (the
 * caller redeclares what it needs); weft__amqp_backoff_ms() paces that.
 *
 * Every message and log line names the broker by its redacted URL
 * (amqp://guest:***@host:port/vhost): a password never reaches a terminal
 * or a log.
 */
#ifndef WEFT_AMQP_CLIENT_H
#define WEFT_AMQP_CLIENT_H

/* Not "amqp.h": with -Isrc that name would shadow rabbitmq-c's <amqp.h>,
 * which its own headers include. */
#include "util/util.h"
#include "job/runner.h"
#include "weft.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- URLs ---- */

/* Writes `url` with its password replaced by "***" into buf (always
 * NUL-terminated, truncated to size).  A URL without a password is copied
 * as is; NULL gives "(none)". */
void weft__amqp_redact(const char *url, char *buf, size_t size);

/* ---- connections ---- */

typedef struct weft__amqp weft__amqp;

typedef struct weft__amqp_opts {
    const char *url;         /* amqp://user:pass@host:port/vhost or amqps://...; required */
    /* TLS (amqps:// only).  ca_file verifies the broker; cert_file and
     * key_file authenticate us.  verify_peer / verify_hostname: 0 (the
     * zeroed default) and > 0 verify, < 0 does not: a forgotten field
     * never turns verification off. */
    const char *ca_file;
    const char *cert_file;
    const char *key_file;
    int verify_peer;
    int verify_hostname;
    int heartbeat_s;         /* 0: 10 s; < 0: no heartbeats */
    int timeout_ms;          /* connect, login and each RPC; 0: 5000 */
    bool confirms;           /* put the channel in publisher-confirm mode */
    const char *name;        /* shown in the broker's management UI; may be NULL */
} weft__amqp_opts;

/*
 * Connects, logs in, opens channel 1 and (with opts->confirms) selects
 * publisher confirms, all within about opts->timeout_ms each.  WEFT_EBROKER
 * with a message such as "cannot connect to broker 127.0.0.1:1: Connection
 * refused", "broker refused login for user 'guest'", "broker refused access
 * to vhost 'x'"; WEFT_EINVAL for a malformed URL.  Caller closes *out with
 * weft__amqp_close().
 */
weft_err weft__amqp_open(const weft__amqp_opts *opts, weft__amqp **out, char *err);

/* Closes gracefully when the connection still works (bounded by the
 * timeout), frees everything, drops queued events.  NULL is ignored. */
void weft__amqp_close(weft__amqp *c);

/* True once an error made the connection unusable: only close is left. */
bool weft__amqp_broken(const weft__amqp *c);

/* The redacted URL (borrowed, valid until close). */
const char *weft__amqp_url(const weft__amqp *c);

/* Delay before reconnect attempt `n` (0-based): 100 ms doubling up to 5 s,
 * with +-25% jitter so that many workers do not reconnect in step. */
int weft__amqp_backoff_ms(int n);

/* ---- topology ---- */

typedef struct weft__amqp_queue_opts {
    bool durable;
    bool exclusive;
    bool auto_delete;
    const char *dead_letter_exchange;    /* x-dead-letter-exchange; NULL: none ("" is the default exchange) */
    const char *dead_letter_routing_key; /* x-dead-letter-routing-key; NULL: none */
} weft__amqp_queue_opts;

/* Declares a queue.  name "" asks the broker for a name, returned in
 * *actual (caller frees; may be NULL when not wanted).  Declaring an
 * existing queue with other options fails (PRECONDITION_FAILED) and breaks
 * the connection, as in AMQP. */
weft_err weft__amqp_declare_queue(weft__amqp *c, const char *name, const weft__amqp_queue_opts *o,
                                  char **actual, char *err);
/* Declares an exchange of `type` ("fanout", "direct", "topic"). */
weft_err weft__amqp_declare_exchange(weft__amqp *c, const char *name, const char *type,
                                     bool durable, char *err);
weft_err weft__amqp_bind(weft__amqp *c, const char *queue, const char *exchange,
                         const char *key, char *err);
/* Deletes a queue (tests and cleanup). */
weft_err weft__amqp_delete_queue(weft__amqp *c, const char *name, char *err);
weft_err weft__amqp_delete_exchange(weft__amqp *c, const char *name, char *err);

/* ---- consuming ---- */

/* basic.qos: at most `prefetch` unacknowledged deliveries on the channel. */
weft_err weft__amqp_qos(weft__amqp *c, uint16_t prefetch, char *err);
/* basic.consume with manual acks (no_ack false) or without.  *tag (may be
 * NULL) gets the consumer tag; caller frees. */
weft_err weft__amqp_consume(weft__amqp *c, const char *queue, bool no_ack, char **tag, char *err);
/* basic.cancel of a consumer: no new deliveries (those already sent still
 * come out of weft__amqp_next()). */
weft_err weft__amqp_cancel(weft__amqp *c, const char *tag, char *err);
weft_err weft__amqp_ack(weft__amqp *c, uint64_t tag, char *err);
/* Acknowledges every delivery up to `tag` on the channel at once (multiple). */
weft_err weft__amqp_ack_upto(weft__amqp *c, uint64_t tag, char *err);
weft_err weft__amqp_nack(weft__amqp *c, uint64_t tag, bool requeue, char *err);
/* Reject without requeue sends the message to the queue's dead-letter exchange. */
weft_err weft__amqp_reject(weft__amqp *c, uint64_t tag, bool requeue, char *err);

/* ---- publishing ---- */

/*
 * basic.publish.  `persistent` sets delivery_mode 2.  With confirms on,
 * *seq (may be NULL) gets the publish sequence number that a later confirm
 * event names (1, 2, ...; a new connection starts again at 1).  The message
 * is safe only once a confirm ack covers it.
 */
weft_err weft__amqp_publish(weft__amqp *c, const char *exchange, const char *routing_key,
                            const void *body, size_t len, bool persistent, uint64_t *seq,
                            char *err);

/* Publishes and waits (at most timeout_ms; 0: the connection's timeout)
 * until the broker confirms it: WEFT_EBROKER on a nack, WEFT_ETIMEDOUT.
 * Events that arrive meanwhile are kept for weft__amqp_next(), the confirm
 * of this message included. */
weft_err weft__amqp_publish_wait(weft__amqp *c, const char *exchange, const char *routing_key,
                                 const void *body, size_t len, bool persistent,
                                 int timeout_ms, char *err);

/* ---- events ---- */

typedef enum weft__amqp_event_kind {
    WEFT__AMQP_NONE = 0,
    WEFT__AMQP_DELIVERY = 1, /* a message from a consumer */
    WEFT__AMQP_CONFIRM = 2,  /* basic.ack / basic.nack of our publishes */
} weft__amqp_event_kind;

typedef struct weft__amqp_event {
    weft__amqp_event_kind kind;
    uint64_t tag;       /* delivery tag, or the confirmed sequence number */
    bool multiple;      /* CONFIRM: covers every sequence number <= tag */
    bool nack;          /* CONFIRM: the broker could not take the message(s) */
    bool redelivered;   /* DELIVERY: delivered before and not acknowledged */
    char *exchange;     /* DELIVERY */
    char *routing_key;  /* DELIVERY */
    char *body;         /* DELIVERY: NUL-terminated copy */
    size_t len;
    struct weft__amqp_event *next; /* internal */
} weft__amqp_event;
#define WEFT__AMQP_EVENT_INIT {WEFT__AMQP_NONE, 0, false, false, false, NULL, NULL, NULL, 0, NULL}

/* Frees an event's members; back to INIT; safe to call twice. */
void weft__amqp_event_release(weft__amqp_event *ev);

/*
 * The next event: WEFT_OK with *ev filled (caller releases), WEFT_ETIMEDOUT
 * when none came within timeout_ms (0: only what is already there; < 0: no
 * limit), WEFT_EBROKER when the connection broke (the channel or connection
 * was closed by the broker, a socket error, missed heartbeats).  Every call
 * also sends our heartbeats when due.
 */
weft_err weft__amqp_next(weft__amqp *c, int timeout_ms, weft__amqp_event *ev, char *err);

/*
 * Waits until the connection has something to read or one of `fds` is
 * ready (poll(2) semantics, revents filled), at most timeout_ms (< 0: no
 * limit), but never longer than a fraction of the heartbeat interval so
 * that the caller's next weft__amqp_next() call keeps heartbeats flowing.
 * Returns true when the connection may have an event.
 */
bool weft__amqp_poll(weft__amqp *c, struct pollfd *fds, size_t nfds, int timeout_ms);

/* ------------------------------------------------------------------------
 * Cluster mode's protocol (implemented in exec_cluster.c, shared with
 * `weft run-worker` and `weft workers`).
 *
 * Topology, for a job queue Q (default "weft.jobs"), all declared
 * identically by the orchestrator and every worker:
 *   Q           durable queue of job messages; rejected messages go to Q.dead
 *   Q.dead      durable dead-letter queue (malformed messages)
 *   Q.status    durable queue of status messages for the orchestrator
 *               (the job message's reply_to names it)
 *   Q.control   fanout exchange of cancel messages; each worker binds an
 *               exclusive, auto-deleted queue of its own
 *   Q.workers   fanout exchange of worker heartbeats (`weft workers`)
 *
 * Messages are JSON objects with a "type":
 *   job     {"type":"job","v":1,"job_id","task_config_id","attempt",
 *            "max_attempts","reply_to","spec":<weft__job_spec JSON>}
 *   status  {"type":"status","v":1,"job_id","attempt","status":"RUNNING"|
 *            "COMPLETED"|"FAILED"|"CANCELED","worker":"host:pid",
 *            "result":<weft__job_result JSON> (final statuses only)}
 *   cancel  {"type":"cancel","v":1,"job_id"}
 *   worker  {"type":"worker","v":1,"worker":"host:pid","host","pid",
 *            "queue","concurrency","jobs_run","current":[job ids],
 *            "state":"up"|"draining"|"down","at_us"}
 * A job message names its task and data nodes, never code: a worker runs
 * only what its own application defines.
 */

#define WEFT__CLUSTER_MAX_MSG (16u * 1024 * 1024) /* larger messages are malformed */

/* Declares Q, Q.dead, Q.status, Q.control and Q.workers. */
weft_err weft__cluster_declare(weft__amqp *c, const char *queue, char *err);

/* Names derived from the job queue; caller frees. */
char *weft__cluster_name(const char *queue, const char *suffix);

/* A decoded job message. */
typedef struct weft__cluster_job {
    weft__job_spec spec;   /* spec.attempt is the message's attempt */
    int max_attempts;
    char *reply_to;
} weft__cluster_job;
#define WEFT__CLUSTER_JOB_INIT {WEFT__JOB_SPEC_INIT, 0, NULL}
void weft__cluster_job_release(weft__cluster_job *j);

/* Encodes a job message (caller frees *out). */
weft_err weft__cluster_job_encode(const weft__job_spec *spec, int attempt, int max_attempts,
                                  const char *reply_to, char **out, size_t *len, char *err);
/* Decodes one; WEFT_EDATA with the reason when malformed. */
weft_err weft__cluster_job_decode(const char *text, size_t len, weft__cluster_job *j, char *err);

/* A decoded status message. */
typedef struct weft__cluster_status {
    char *job_id;
    int attempt;
    weft_job_status status;    /* RUNNING or final */
    char *worker;
    weft__job_result result;   /* final statuses */
} weft__cluster_status;
#define WEFT__CLUSTER_STATUS_INIT {NULL, 0, WEFT_JOB_RUNNING, NULL, WEFT__JOB_RESULT_INIT}
void weft__cluster_status_release(weft__cluster_status *s);

/* `res` is ignored (may be NULL) for RUNNING. */
weft_err weft__cluster_status_encode(const char *job_id, int attempt, weft_job_status status,
                                     const char *worker, const weft__job_result *res,
                                     char **out, size_t *len, char *err);
weft_err weft__cluster_status_decode(const char *text, size_t len, weft__cluster_status *s,
                                     char *err);

weft_err weft__cluster_cancel_encode(const char *job_id, char **out, size_t *len, char *err);
/* The type of a message ("job", "status", ...), copied into buf; false when
 * it is not a JSON object with a string "type". */
bool weft__cluster_msg_type(const char *text, size_t len, char *buf, size_t size);
/* The job id of a cancel message (caller frees), NULL when malformed. */
char *weft__cluster_cancel_decode(const char *text, size_t len);

/* "host:pid" of this process (static buffer, computed once). */
const char *weft__cluster_worker_name(void);

/* ---- the cluster executor ---- */

#include "exec/executor.h"

typedef struct weft__exec_cluster_opts {
    const char *broker_url;      /* required */
    const char *queue;           /* default "weft.jobs" */
    const char *reply_queue;     /* default "<queue>.status" */
    int max_attempts;            /* default 3 */
    const char *ca_file, *cert_file, *key_file;
    int verify_peer, verify_hostname; /* as in weft__amqp_opts: < 0 turns off */
    int window;                  /* publishes in flight before waiting for confirms; default 256 */
} weft__exec_cluster_opts;

/*
 * The cluster executor.  start() connects (WEFT_EBROKER with the reason
 * when the broker cannot be reached: the orchestrator should fail then),
 * declares the topology, and starts the thread that owns the connection:
 * it publishes dispatched jobs (persistent, confirmed), consumes the reply
 * queue and turns status messages into reports, publishes cancels, and
 * reconnects with backoff when the broker goes away, republishing every job
 * not yet confirmed.  Caller frees with ex->ops->free().
 */
weft_err weft__exec_cluster_new(weft__app *app, weft__reports *reports,
                                const weft__exec_cluster_opts *opts,
                                weft__executor **out, char *err);

/* The options of the config's [JOB] section (strings borrowed from cfg). */
void weft__exec_cluster_opts_from_config(const weft_config *cfg, weft__exec_cluster_opts *o);

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

/* Number of jobs dispatched and not yet confirmed by the broker (tests). */
size_t weft__exec_cluster_unconfirmed(weft__executor *ex);

#endif
