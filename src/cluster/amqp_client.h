/* SPDX-License-Identifier: MIT */
/*
 * amqp_client.h - weft's small wrapper over rabbitmq-c (librabbitmq 0.11), and
 * the one reconnect policy of its users.  (Cluster mode's messages are in
 * protocol.h, its executor in exec_cluster.h.)
 *
 * rabbitmq-c is not thread-safe, services heartbeats only while one of its
 * calls runs, never reconnects and has no helper for publisher confirms.
 * This wrapper gives one connection with one channel (number 1) to one
 * owner (a thread or a process) that keeps calling weft__amqp_next() or
 * weft__amqp_poll(): every frame the broker sends (deliveries, publisher
 * confirms, channel or connection close) comes out of weft__amqp_next() as
 * an event or as an error that marks the connection broken.  A broken
 * connection is closed with weft__amqp_close() and opened again (the
 * caller redeclares what it needs); weft__reconnect paces and logs that.
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
#include <stdatomic.h>
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

/*
 * Lets the owner of a connection being opened give up at once (Ctrl-C
 * while the broker is unreachable, or a port that accepts and never
 * answers): weft__amqp_open() fails with WEFT_ECANCELED as soon as `fd`
 * is readable (the owner's self-pipe) while it connects, and
 * weft__amqp_abort_fire() shuts down the socket of a login in progress,
 * which rabbitmq-c would otherwise wait on for the whole timeout.  The
 * TLS handshake itself is not cut short (rabbitmq-c makes that socket):
 * it ends within the timeout.  Lock-free, so that a signal handler may
 * fire it.  One open at a time per object.
 */
typedef struct weft__amqp_abort {
    int fd;           /* readable: give up; -1: never */
    atomic_int sock;  /* the socket of the open in progress, -1: none */
    atomic_int busy;  /* weft__amqp_abort_fire() calls running */
} weft__amqp_abort;
#define WEFT__AMQP_ABORT_INIT(fd) {(fd), -1, 0}

/* Shuts down the socket of the open in progress, if any.  Make `fd`
 * readable first (that covers the moments without a socket).
 * Async-signal-safe and thread-safe. */
void weft__amqp_abort_fire(weft__amqp_abort *a);

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
    weft__amqp_abort *abort; /* borrowed; NULL: the open cannot be cut short */
} weft__amqp_opts;

/*
 * Connects, logs in, opens channel 1 and (with opts->confirms) selects
 * publisher confirms, all within about opts->timeout_ms each.  WEFT_EBROKER
 * with a message such as "cannot connect to broker 127.0.0.1:1: Connection
 * refused", "broker refused login for user 'guest'", "broker refused access
 * to vhost 'x'"; WEFT_EINVAL for a malformed URL; WEFT_ECANCELED when
 * opts->abort gave up.  Caller closes *out with
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

/* Logs a warning (WEFT_LOG_WARN, through lg; NULL: the library-wide
 * handler) when the options make the connection unsafe: TLS verification
 * turned off with amqps://, or a CA or client certificate with a plain
 * amqp:// URL (whose owner presumably meant TLS).  Called at every start
 * of what connects (the cluster executor, the worker service). */
void weft__amqp_warn_insecure(const weft__amqp_opts *o, const weft__logger *lg,
                              const char *component);

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
/* The counts of an existing queue, from a passive declare: messages ready
 * and consumers.  WEFT_ENOTFOUND when there is no such queue (the broker
 * then closes the channel: the connection is broken afterwards). */
weft_err weft__amqp_queue_counts(weft__amqp *c, const char *name, int64_t *ready,
                                 int64_t *consumers, char *err);
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

/* ---- reconnecting ----
 * One policy for every owner of a connection (the cluster executor's
 * thread, the worker service): attempts paced by weft__amqp_backoff_ms(),
 * and a log that says a connection was lost, that attempts fail (the first
 * and every 10th in a row: a broker down for an hour costs ~70 lines, not
 * thousands) and that it came back.  Not thread-safe: one per owner. */
typedef struct weft__reconnect {
    const weft__logger *log; /* borrowed; NULL: the library-wide handler */
    const char *component;   /* static, e.g. "cluster" */
    int failures;            /* attempts failed in a row; 1 after a loss */
    int64_t next_ns;         /* monotonic time of the next attempt; 0: now */
} weft__reconnect;
#define WEFT__RECONNECT_INIT(log, component) {(log), (component), 0, 0}

/* Milliseconds until the next attempt is due (0: now). */
int weft__reconnect_wait_ms(const weft__reconnect *r);
/* An attempt failed with `why`: logs "<why>; retrying" (WARN) at the 1st and
 * every 10th failure in a row, and schedules the next attempt. */
void weft__reconnect_failed(weft__reconnect *r, const char *why);
/* A working connection broke with `why`: logs "<why>; reconnecting" (WARN)
 * and schedules the first attempt after one short backoff step. */
void weft__reconnect_lost(weft__reconnect *r, const char *why);
/* Connected to `url` (redacted): after failures, logs "reconnected to
 * broker <url>" (INFO); resets. */
void weft__reconnect_succeeded(weft__reconnect *r, const char *url);

#endif
