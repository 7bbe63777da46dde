/* SPDX-License-Identifier: MIT */
/*
 * amqp.c - weft's wrapper over rabbitmq-c: one connection and one channel
 * owned by one thread or process.  It parses amqp:// and amqps:// URLs
 * (TLS with CA file, client certificate and verification options),
 * connects and logs in within a timeout with errors that say what failed,
 * declares queues and exchanges, publishes persistent messages and reads
 * publisher confirms itself (rabbitmq-c 0.11 has no helper), consumes with
 * a prefetch bound, and turns every frame the broker sends into an event or
 * into "this connection is broken" (see amqp_client.h).  Reconnecting is the
 * caller's (close, open, redeclare), paced and logged by weft__reconnect
 * (beside weft__amqp_backoff_ms()).
 */
#include "cluster/amqp_client.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define CHANNEL 1
#define DEFAULT_HEARTBEAT_S 10
#define DEFAULT_TIMEOUT_MS 5000
#define BACKOFF_MAX_MS 5000

struct weft__amqp {
    amqp_connection_state_t conn;
    char *redacted;
    char hostport[300];
    char *user;
    int timeout_ms;
    int heartbeat_s;
    bool broken;
    bool logged_in;
    bool confirms;
    uint64_t next_seq;                    /* sequence number of the next publish */
    char tls_why[128];                    /* why the broker's certificate was refused */
    weft__amqp_event *qhead, *qtail;      /* events read during synchronous waits */
};

/* ---- URLs ---- */

void weft__amqp_redact(const char *url, char *buf, size_t size)
{
    weft__url_redact(url, buf, size);
}

void weft__amqp_warn_insecure(const weft__amqp_opts *o, const weft__logger *lg,
                              const char *component)
{
    char red[1024];
    weft__url_redact(o->url, red, sizeof red);
    if (o->url && strncmp(o->url, "amqps://", 8) == 0) {
        if (o->verify_peer < 0)
            weft__log(lg, WEFT_LOG_WARN, component,
                      "TLS certificate verification is off (broker_verify_peer = False): any "
                      "server can pose as broker %s and read the password",
                      red);
        else if (o->verify_hostname < 0)
            weft__log(lg, WEFT_LOG_WARN, component,
                      "TLS hostname verification is off (broker_verify_hostname = False): any "
                      "certificate of the CA can pose as broker %s",
                      red);
    } else if ((o->ca_file && *o->ca_file) || (o->cert_file && *o->cert_file)) {
        weft__log(lg, WEFT_LOG_WARN, component,
                  "a CA or client certificate is set (broker_ca_file, broker_cert_file) but the "
                  "broker URL %s is not amqps://: the connection is not encrypted",
                  red);
    }
}

int weft__amqp_backoff_ms(int n)
{
    int ms = 100;
    for (int i = 0; i < n && ms < BACKOFF_MAX_MS; i++) ms *= 2;
    if (ms > BACKOFF_MAX_MS) ms = BACKOFF_MAX_MS;
    /* jitter: +-25%; rand() is good enough to spread reconnects */
    int j = ms / 4;
    return ms - j + (int)((unsigned)rand() % (unsigned)(2 * j + 1));
}

/* ---- reconnecting ---- */

#define RETRY_LOG_EVERY 10 /* failures in a row between two "retrying" lines */

int weft__reconnect_wait_ms(const weft__reconnect *r)
{
    int64_t left = (r->next_ns - weft__mono_ns() + 999999) / 1000000;
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

void weft__reconnect_failed(weft__reconnect *r, const char *why)
{
    int ms = weft__amqp_backoff_ms(r->failures++);
    if (r->failures == 1 || r->failures % RETRY_LOG_EVERY == 0)
        weft__log(r->log, WEFT_LOG_WARN, r->component, "%s; retrying (every %d ms at most)", why,
                  BACKOFF_MAX_MS);
    r->next_ns = weft__mono_ns() + (int64_t)ms * 1000000;
}

void weft__reconnect_lost(weft__reconnect *r, const char *why)
{
    weft__log(r->log, WEFT_LOG_WARN, r->component, "%s; reconnecting", why);
    r->failures = 1;
    r->next_ns = weft__mono_ns() + (int64_t)weft__amqp_backoff_ms(0) * 1000000;
}

void weft__reconnect_succeeded(weft__reconnect *r, const char *url)
{
    if (r->failures)
        weft__log(r->log, WEFT_LOG_INFO, r->component, "reconnected to broker %s", url);
    r->failures = 0;
    r->next_ns = 0;
}

/* ---- errors ---- */

static weft_err broke(weft__amqp *c, char *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static weft_err broke(weft__amqp *c, char *err, const char *fmt, ...)
{
    c->broken = true;
    va_list ap;
    va_start(ap, fmt);
    weft_err e = weft__verr(err, WEFT_EBROKER, fmt, ap);
    va_end(ap);
    return e;
}

/* The broker closed the channel or the connection (`what`): answer with
 * the matching close-ok, as the protocol asks, and mark the connection
 * broken with the broker's reason. */
static weft_err closed_by_broker(weft__amqp *c, const char *what, amqp_bytes_t reason, char *err)
{
    bool conn = strcmp(what, "connection") == 0;
    weft_err e = broke(c, err, "broker %s closed the %s: %.*s", c->redacted, what,
                       (int)reason.len, (const char *)reason.bytes);
    union {
        amqp_channel_close_ok_t channel;
        amqp_connection_close_ok_t connection;
    } ok = {{0}};
    amqp_send_method(c->conn, conn ? 0 : CHANNEL,
                     conn ? AMQP_CONNECTION_CLOSE_OK_METHOD : AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    return e;
}

/* Describes a failed RPC reply; true when it was not a failure. */
static bool describe_reply(amqp_rpc_reply_t r, char *buf, size_t size, int *code)
{
    *code = 0;
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return true;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, size, "no reply from broker");
        return false;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buf, size, "%s", amqp_error_string2(r.library_error));
        *code = r.library_error;
        return false;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            *code = m->reply_code;
            snprintf(buf, size, "%.*s", (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            *code = m->reply_code;
            snprintf(buf, size, "%.*s", (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            snprintf(buf, size, "unexpected method 0x%08x", r.reply.id);
        }
        return false;
    }
    snprintf(buf, size, "unknown reply");
    return false;
}

/* Checks the reply of the last synchronous call; a failure breaks the
 * connection (a closed channel is not worth saving: the caller reconnects). */
static weft_err rpc_check(weft__amqp *c, const char *what, char *err)
{
    char why[512];
    int code;
    if (describe_reply(amqp_get_rpc_reply(c->conn), why, sizeof why, &code)) return WEFT_OK;
    return broke(c, err, "broker %s: %s failed: %s", c->redacted, what, why);
}

/* ---- connecting ---- */

/* ---- giving up ---- */

void weft__amqp_abort_fire(weft__amqp_abort *a)
{
    int saved = errno;
    atomic_fetch_add(&a->busy, 1);
    int fd = atomic_load(&a->sock);
    if (fd >= 0) shutdown(fd, SHUT_RDWR); /* the blocked read sees the end at once */
    atomic_fetch_sub(&a->busy, 1);
    errno = saved;
}

static bool aborted(const weft__amqp_abort *a)
{
    if (!a || a->fd < 0) return false;
    struct pollfd p = {a->fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* The socket that weft__amqp_abort_fire() shuts down (-1: none).  Taking
 * it back waits for a fire() that read the old one, so that it never
 * shuts down a descriptor number reused after close. */
static void abort_watch(weft__amqp_abort *a, int fd)
{
    if (!a) return;
    atomic_store(&a->sock, fd);
    if (fd < 0)
        while (atomic_load(&a->busy)) sched_yield();
}

/* A TCP connection to host:port within timeout_ms, with the exact errno of
 * a failure ("Connection refused", "timed out").  Returns the fd or -1;
 * -1 with why "interrupted" when `abort` gave up. */
static int tcp_connect(const char *host, int port, int timeout_ms, const weft__amqp_abort *abort,
                       char *why, size_t size)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    int gai = getaddrinfo(host, ports, &hints, &res);
    if (gai != 0) {
        snprintf(why, size, "%s", gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    snprintf(why, size, "no address");
    int64_t deadline = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(why, size, "%s", strerror(errno));
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        bool intr = false;
        if (rc < 0 && errno == EINPROGRESS) {
            struct pollfd pfd[2] = {{fd, POLLOUT, 0}, {abort ? abort->fd : -1, POLLIN, 0}};
            for (;;) {
                int64_t left = (deadline - weft__mono_ns()) / 1000000;
                if (left < 0) left = 0;
                int n = poll(pfd, 2, (int)left);
                if (n < 0 && errno == EINTR) continue;
                if (n > 0 && pfd[1].revents) {
                    intr = true;
                    rc = -1;
                } else if (n == 0) {
                    errno = ETIMEDOUT;
                    rc = -1;
                } else {
                    int soerr = 0;
                    socklen_t sl = sizeof soerr;
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                    errno = soerr;
                    rc = soerr ? -1 : 0;
                }
                break;
            }
        }
        if (rc == 0) {
            /* rabbitmq-c wants the socket non-blocking (it polls), and
             * without Nagle as its own connect does: frames are small. */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        snprintf(why, size, "%s",
                 intr ? "interrupted" : errno == ETIMEDOUT ? "timed out" : strerror(errno));
        close(fd);
        fd = -1;
        if (intr) break;
    }
    freeaddrinfo(res);
    return fd;
}

static void set_timeout(struct timeval *tv, int ms)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

/* Verifies the broker's certificate chain as OpenSSL would, keeping the
 * reason of a refusal for the error message (rabbitmq-c only says
 * "verification failed").  Runs during the handshake, in the thread that
 * connects; `arg` is that connection's tls_why. */
static int verify_chain(X509_STORE_CTX *sc, void *arg)
{
    int ok = X509_verify_cert(sc);
    int e = X509_STORE_CTX_get_error(sc);
    if (ok <= 0 && e != X509_V_OK)
        snprintf(arg, sizeof ((weft__amqp *)0)->tls_why, "%s", X509_verify_cert_error_string(e));
    return ok;
}

/* The name check of the broker's certificate.  rabbitmq-c's own compares
 * DNS names only, so a URL with an IP address always failed it, even with
 * a certificate that names that address (an IP subjectAltName): for an
 * address, OpenSSL's check takes over, as part of the chain verification. */
static weft_err set_name_check(weft__amqp *c, amqp_socket_t *s, const char *host, bool verify,
                               char *err)
{
    SSL_CTX *ctx = amqp_ssl_socket_get_context(s);
    if (!ctx) return weft__err(err, WEFT_EBROKER, "no TLS context for broker %s", c->redacted);
    SSL_CTX_set_cert_verify_callback(ctx, verify_chain, c->tls_why);
    unsigned char addr[sizeof(struct in6_addr)];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    amqp_ssl_socket_set_verify_hostname(s, verify && !ip);
    if (verify && ip && X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx), host) != 1)
        return weft__err(err, WEFT_EBROKER, "cannot check the certificate of broker %s",
                         c->redacted);
    return WEFT_OK;
}

/* A TLS socket to the broker, configured from opts and connected. */
static weft_err open_tls(weft__amqp *c, const struct amqp_connection_info *ci,
                         const weft__amqp_opts *opts, struct timeval *tv, char *err)
{
    amqp_socket_t *s = amqp_ssl_socket_new(c->conn);
    if (!s) return weft__err(err, WEFT_EBROKER, "cannot create a TLS socket for %s", c->redacted);
    amqp_ssl_socket_set_verify_peer(s, opts->verify_peer >= 0);
    weft_err e = set_name_check(c, s, ci->host, opts->verify_hostname >= 0, err);
    if (e) return e;
    if (opts->ca_file && *opts->ca_file &&
        amqp_ssl_socket_set_cacert(s, opts->ca_file) != AMQP_STATUS_OK)
        return weft__err(err, WEFT_EBROKER, "cannot use CA file %s for broker %s", opts->ca_file,
                         c->redacted);
    if (opts->cert_file && *opts->cert_file) {
        if (!opts->key_file || !*opts->key_file)
            return weft__err(err, WEFT_EINVAL, "broker_cert_file needs broker_key_file");
        if (amqp_ssl_socket_set_key(s, opts->cert_file, opts->key_file) != AMQP_STATUS_OK)
            return weft__err(err, WEFT_EBROKER, "cannot use client certificate %s / key %s",
                             opts->cert_file, opts->key_file);
    }
    int st = amqp_socket_open_noblock(s, ci->host, ci->port, tv);
    if (st == AMQP_STATUS_OK) return WEFT_OK;
    /* Say why: a probe connection gives the socket's errno; when TCP
     * works, the TLS handshake or verification failed. */
    char why[512];
    int fd = tcp_connect(ci->host, ci->port, c->timeout_ms, NULL, why, sizeof why);
    if (fd >= 0) {
        close(fd);
        snprintf(why, sizeof why, "TLS: %s%s%s%s", amqp_error_string2(st),
                 c->tls_why[0] ? " (" : "", c->tls_why, c->tls_why[0] ? ")" : "");
    }
    return weft__err(err, WEFT_EBROKER, "cannot connect to broker %s: %s", c->hostport, why);
}

/* A plain TCP socket to the broker, connected by tcp_connect() (which says
 * why it failed, where rabbitmq-c's own connect does not). */
static weft_err open_tcp(weft__amqp *c, const struct amqp_connection_info *ci,
                         weft__amqp_abort *abort, char *err)
{
    amqp_socket_t *s = amqp_tcp_socket_new(c->conn);
    if (!s) return weft__err(err, WEFT_ENOMEM, "out of memory");
    char why[512];
    int fd = tcp_connect(ci->host, ci->port, c->timeout_ms, abort, why, sizeof why);
    if (fd < 0)
        return weft__err(err, WEFT_EBROKER, "cannot connect to broker %s: %s", c->hostport, why);
    amqp_tcp_socket_set_sockfd(s, fd);
    abort_watch(abort, fd);
    return WEFT_OK;
}

/* Logs in (naming the connection for the management UI), opens the
 * channel and selects confirms; a refused login says whether the user or
 * the vhost was refused. */
static weft_err login(weft__amqp *c, const struct amqp_connection_info *ci, const char *name,
                      char *err)
{
    amqp_table_entry_t prop;
    prop.key = amqp_cstring_bytes("connection_name");
    prop.value.kind = AMQP_FIELD_KIND_UTF8;
    prop.value.value.bytes = amqp_cstring_bytes(name ? name : "weft");
    amqp_table_t props = {1, &prop};
    amqp_rpc_reply_t r = amqp_login_with_properties(c->conn, ci->vhost, 0, 131072, c->heartbeat_s,
                                                    &props, AMQP_SASL_METHOD_PLAIN, ci->user,
                                                    ci->password);
    char why[512];
    int code;
    if (!describe_reply(r, why, sizeof why, &code)) {
        if (code == 530 || strstr(why, "vhost"))
            return weft__err(err, WEFT_EBROKER, "broker %s refused access to vhost '%s': %s",
                             c->hostport, ci->vhost, why);
        if (code == 403 || code == AMQP_STATUS_CONNECTION_CLOSED ||
            code == AMQP_STATUS_SOCKET_CLOSED)
            return weft__err(err, WEFT_EBROKER, "broker refused login for user '%s' (%s): %s",
                             ci->user, c->hostport, why);
        return weft__err(err, WEFT_EBROKER, "cannot log in to broker %s: %s", c->hostport, why);
    }
    c->logged_in = true;
    amqp_channel_open(c->conn, CHANNEL);
    weft_err e = rpc_check(c, "opening a channel", err);
    if (e) return e;
    if (c->confirms) {
        amqp_confirm_select(c->conn, CHANNEL);
        e = rpc_check(c, "selecting publisher confirms", err);
    }
    return e;
}

/* A URL that amqp_parse_url() refused, shown masked, with the likely
 * cause when its userinfo holds a byte that must be percent-encoded. */
static weft_err malformed(const char *url, const char *redacted, char *err)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *at = strrchr(auth, '@');
    const char *hint = "";
    if (at && strcspn(auth, "/?#") < (size_t)(at - auth))
        hint = "; a '/', '?' or '#' in the user or password must be written %2F, %3F or %23";
    return weft__err(err, WEFT_EINVAL,
                     "malformed broker URL %s (expected amqp:// or amqps:// then user:password@host:port/vhost%s)",
                     redacted, hint);
}

weft_err weft__amqp_open(const weft__amqp_opts *opts, weft__amqp **out, char *err)
{
    *out = NULL;
    if (!opts || !opts->url || !*opts->url)
        return weft__err(err, WEFT_EINVAL, "no broker URL (set [JOB] broker_url)");
    weft__amqp *c = calloc(1, sizeof *c);
    char *urlcopy = weft__strdup(opts->url);
    char red[1024];
    weft__amqp_redact(opts->url, red, sizeof red);
    if (!c || !urlcopy || !(c->redacted = weft__strdup(red))) {
        free(urlcopy);
        if (c) free(c->redacted);
        free(c);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->heartbeat_s = opts->heartbeat_s == 0 ? DEFAULT_HEARTBEAT_S
                     : opts->heartbeat_s < 0 ? 0 : opts->heartbeat_s;
    c->confirms = opts->confirms;
    c->next_seq = 1;
    weft_err e = WEFT_OK;
    struct amqp_connection_info ci;
    /* amqp_parse_url() cuts its argument in place; ci points into urlcopy. */
    if (amqp_parse_url(urlcopy, &ci) != AMQP_STATUS_OK) {
        e = malformed(opts->url, c->redacted, err);
        goto fail;
    }
    snprintf(c->hostport, sizeof c->hostport, "%s:%d", ci.host, ci.port);
    if (!(c->user = weft__strdup(ci.user)) || !(c->conn = amqp_new_connection())) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    struct timeval tv;
    set_timeout(&tv, c->timeout_ms);
    if (aborted(opts->abort)) {
        e = WEFT_ECANCELED;
        goto fail;
    }
    if ((e = ci.ssl ? open_tls(c, &ci, opts, &tv, err) : open_tcp(c, &ci, opts->abort, err)))
        goto fail;
    if (ci.ssl) abort_watch(opts->abort, amqp_get_sockfd(c->conn));
    amqp_set_handshake_timeout(c->conn, &tv);
    amqp_set_rpc_timeout(c->conn, &tv);
    /* A fire() before the watch began left only the pipe to say so. */
    if (!aborted(opts->abort)) e = login(c, &ci, opts->name, err);
    abort_watch(opts->abort, -1);
    if (e || aborted(opts->abort)) goto fail;
    free(urlcopy);
    *out = c;
    return WEFT_OK;
fail:
    if (aborted(opts->abort))
        e = weft__err(err, WEFT_ECANCELED, "connecting to broker %s was interrupted", c->redacted);
    free(urlcopy);
    c->broken = true;
    weft__amqp_close(c);
    return e;
}

void weft__amqp_close(weft__amqp *c)
{
    if (!c) return;
    if (c->conn) {
        if (c->logged_in && !c->broken) {
            /* Bounded by the rpc timeout set at open. */
            amqp_channel_close(c->conn, CHANNEL, AMQP_REPLY_SUCCESS);
            amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(c->conn);
    }
    while (c->qhead) {
        weft__amqp_event *ev = c->qhead;
        c->qhead = ev->next;
        weft__amqp_event_release(ev);
        free(ev);
    }
    free(c->redacted);
    free(c->user);
    free(c);
}

bool weft__amqp_broken(const weft__amqp *c) { return c->broken; }
const char *weft__amqp_url(const weft__amqp *c) { return c->redacted; }

/* ---- topology ---- */

weft_err weft__amqp_declare_queue(weft__amqp *c, const char *name, const weft__amqp_queue_opts *o,
                                  char **actual, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    static const weft__amqp_queue_opts none = {0};
    if (!o) o = &none;
    amqp_table_entry_t args[2];
    int nargs = 0;
    if (o->dead_letter_exchange) {
        args[nargs].key = amqp_cstring_bytes("x-dead-letter-exchange");
        args[nargs].value.kind = AMQP_FIELD_KIND_UTF8;
        args[nargs].value.value.bytes = amqp_cstring_bytes(o->dead_letter_exchange);
        nargs++;
    }
    if (o->dead_letter_routing_key) {
        args[nargs].key = amqp_cstring_bytes("x-dead-letter-routing-key");
        args[nargs].value.kind = AMQP_FIELD_KIND_UTF8;
        args[nargs].value.value.bytes = amqp_cstring_bytes(o->dead_letter_routing_key);
        nargs++;
    }
    amqp_table_t table = {nargs, nargs ? args : NULL};
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, CHANNEL, amqp_cstring_bytes(name), 0,
                                                     o->durable, o->exclusive, o->auto_delete, table);
    char what[300];
    snprintf(what, sizeof what, "declaring queue '%s'", name);
    weft_err e = rpc_check(c, what, err);
    if (e != WEFT_OK || !ok) return e ? e : broke(c, err, "broker %s: %s failed", c->redacted, what);
    if (actual) {
        *actual = weft__strndup(ok->queue.bytes, ok->queue.len);
        if (!*actual) return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}

weft_err weft__amqp_queue_counts(weft__amqp *c, const char *name, int64_t *ready,
                                 int64_t *consumers, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->conn, CHANNEL, amqp_cstring_bytes(name), 1,
                                                     0, 0, 0, amqp_empty_table);
    char what[300];
    snprintf(what, sizeof what, "looking up queue '%s'", name);
    weft_err e = rpc_check(c, what, err);
    if (e == WEFT_OK && !ok) e = broke(c, err, "broker %s: %s failed", c->redacted, what);
    if (e) return strstr(err, "NOT_FOUND") ? weft__err(err, WEFT_ENOTFOUND, "no queue '%s' on broker %s",
                                                         name, c->redacted)
                                           : e;
    *ready = ok->message_count;
    *consumers = ok->consumer_count;
    return WEFT_OK;
}

weft_err weft__amqp_declare_exchange(weft__amqp *c, const char *name, const char *type,
                                     bool durable, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_exchange_declare(c->conn, CHANNEL, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0,
                          durable, 0, 0, amqp_empty_table);
    char what[300];
    snprintf(what, sizeof what, "declaring exchange '%s'", name);
    return rpc_check(c, what, err);
}

weft_err weft__amqp_bind(weft__amqp *c, const char *queue, const char *exchange, const char *key,
                         char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_queue_bind(c->conn, CHANNEL, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange),
                    amqp_cstring_bytes(key ? key : ""), amqp_empty_table);
    char what[300];
    snprintf(what, sizeof what, "binding queue '%s' to '%s'", queue, exchange);
    return rpc_check(c, what, err);
}

weft_err weft__amqp_delete_queue(weft__amqp *c, const char *name, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_queue_delete(c->conn, CHANNEL, amqp_cstring_bytes(name), 0, 0);
    return rpc_check(c, "deleting a queue", err);
}

weft_err weft__amqp_delete_exchange(weft__amqp *c, const char *name, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_exchange_delete(c->conn, CHANNEL, amqp_cstring_bytes(name), 0);
    return rpc_check(c, "deleting an exchange", err);
}

/* ---- consuming ---- */

weft_err weft__amqp_qos(weft__amqp *c, uint16_t prefetch, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_basic_qos(c->conn, CHANNEL, 0, prefetch, 0);
    return rpc_check(c, "basic.qos", err);
}

weft_err weft__amqp_consume(weft__amqp *c, const char *queue, bool no_ack, char **tag, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(c->conn, CHANNEL, amqp_cstring_bytes(queue),
                                                     amqp_empty_bytes, 0, no_ack, 0,
                                                     amqp_empty_table);
    char what[300];
    snprintf(what, sizeof what, "consuming from queue '%s'", queue);
    weft_err e = rpc_check(c, what, err);
    if (e != WEFT_OK) return e;
    if (tag) {
        *tag = ok ? weft__strndup(ok->consumer_tag.bytes, ok->consumer_tag.len) : weft__strdup("");
        if (!*tag) return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}

weft_err weft__amqp_cancel(weft__amqp *c, const char *tag, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_basic_cancel(c->conn, CHANNEL, amqp_cstring_bytes(tag));
    return rpc_check(c, "basic.cancel", err);
}

static weft_err send_check(weft__amqp *c, int st, const char *what, char *err)
{
    if (st == AMQP_STATUS_OK) return WEFT_OK;
    return broke(c, err, "broker %s: %s failed: %s", c->redacted, what, amqp_error_string2(st));
}

weft_err weft__amqp_ack(weft__amqp *c, uint64_t tag, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    return send_check(c, amqp_basic_ack(c->conn, CHANNEL, tag, 0), "basic.ack", err);
}

weft_err weft__amqp_ack_upto(weft__amqp *c, uint64_t tag, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    return send_check(c, amqp_basic_ack(c->conn, CHANNEL, tag, 1), "basic.ack", err);
}

weft_err weft__amqp_nack(weft__amqp *c, uint64_t tag, bool requeue, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    return send_check(c, amqp_basic_nack(c->conn, CHANNEL, tag, 0, requeue), "basic.nack", err);
}

weft_err weft__amqp_reject(weft__amqp *c, uint64_t tag, bool requeue, char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    return send_check(c, amqp_basic_reject(c->conn, CHANNEL, tag, requeue), "basic.reject", err);
}

/* ---- publishing ---- */

weft_err weft__amqp_publish(weft__amqp *c, const char *exchange, const char *routing_key,
                            const void *body, size_t len, bool persistent, uint64_t *seq,
                            char *err)
{
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.content_type = amqp_cstring_bytes("application/json");
    p.delivery_mode = persistent ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
    amqp_bytes_t b = {len, (void *)body};
    int st = amqp_basic_publish(c->conn, CHANNEL, amqp_cstring_bytes(exchange ? exchange : ""),
                                amqp_cstring_bytes(routing_key ? routing_key : ""), 0, 0, &p, b);
    weft_err e = send_check(c, st, "publishing", err);
    if (e != WEFT_OK) return e;
    if (seq) *seq = c->confirms ? c->next_seq : 0;
    if (c->confirms) c->next_seq++;
    return WEFT_OK;
}

/* ---- events ---- */

void weft__amqp_event_release(weft__amqp_event *ev)
{
    if (!ev) return;
    free(ev->exchange);
    free(ev->routing_key);
    free(ev->body);
    weft__amqp_event init = WEFT__AMQP_EVENT_INIT;
    *ev = init;
}

static char *bytes_dup(amqp_bytes_t b) { return weft__strndup(b.bytes ? b.bytes : "", b.len); }

/* A basic.deliver frame and the message content that follows it, into *ev. */
static weft_err read_delivery(weft__amqp *c, const amqp_frame_t *f, weft__amqp_event *ev,
                              char *err)
{
    amqp_basic_deliver_t *d = f->payload.method.decoded;
    ev->kind = WEFT__AMQP_DELIVERY;
    ev->tag = d->delivery_tag;
    ev->redelivered = d->redelivered;
    ev->exchange = bytes_dup(d->exchange);
    ev->routing_key = bytes_dup(d->routing_key);
    amqp_message_t m;
    amqp_rpc_reply_t r = amqp_read_message(c->conn, f->channel, &m, 0);
    char why[512];
    int code;
    if (!describe_reply(r, why, sizeof why, &code)) {
        weft__amqp_event_release(ev);
        return broke(c, err, "lost connection to broker %s while reading a message: %s",
                     c->redacted, why);
    }
    ev->body = bytes_dup(m.body);
    ev->len = m.body.len;
    amqp_destroy_message(&m);
    if (!ev->exchange || !ev->routing_key || !ev->body) {
        weft__amqp_event_release(ev);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}

/* Reads one frame (waiting at most timeout_ms; < 0: no limit) and turns it
 * into *ev.  WEFT_ETIMEDOUT when nothing came or the frame was not an event
 * (a heartbeat, a stray reply). */
static weft_err read_frame(weft__amqp *c, int timeout_ms, weft__amqp_event *ev, char *err)
{
    amqp_frame_t f;
    struct timeval tv;
    set_timeout(&tv, timeout_ms < 0 ? 0 : timeout_ms);
    int st = amqp_simple_wait_frame_noblock(c->conn, &f, timeout_ms < 0 ? NULL : &tv);
    if (st == AMQP_STATUS_TIMEOUT) return WEFT_ETIMEDOUT;
    if (st != AMQP_STATUS_OK)
        return broke(c, err, "lost connection to broker %s: %s", c->redacted,
                     amqp_error_string2(st));
    if (f.frame_type != AMQP_FRAME_METHOD) return WEFT_ETIMEDOUT;
    weft_err e = WEFT_ETIMEDOUT;
    switch (f.payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD:
        e = read_delivery(c, &f, ev, err);
        break;
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *a = f.payload.method.decoded;
        ev->kind = WEFT__AMQP_CONFIRM;
        ev->tag = a->delivery_tag;
        ev->multiple = a->multiple;
        e = WEFT_OK;
        break;
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *a = f.payload.method.decoded;
        ev->kind = WEFT__AMQP_CONFIRM;
        ev->tag = a->delivery_tag;
        ev->multiple = a->multiple;
        ev->nack = true;
        e = WEFT_OK;
        break;
    }
    case AMQP_BASIC_RETURN_METHOD: {
        /* We never publish mandatory; drain the returned content anyway. */
        amqp_message_t m;
        amqp_rpc_reply_t r = amqp_read_message(c->conn, f.channel, &m, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) amqp_destroy_message(&m);
        break;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
        e = closed_by_broker(c, "channel",
                             ((amqp_channel_close_t *)f.payload.method.decoded)->reply_text, err);
        break;
    case AMQP_CONNECTION_CLOSE_METHOD:
        e = closed_by_broker(c, "connection",
                             ((amqp_connection_close_t *)f.payload.method.decoded)->reply_text, err);
        break;
    case AMQP_BASIC_CANCEL_METHOD:
        e = broke(c, err, "broker %s canceled our consumer (queue deleted?)", c->redacted);
        break;
    default:
        break; /* connection.blocked/unblocked and the like: nothing to do */
    }
    amqp_maybe_release_buffers(c->conn);
    return e;
}

weft_err weft__amqp_next(weft__amqp *c, int timeout_ms, weft__amqp_event *ev, char *err)
{
    if (c->qhead) {
        weft__amqp_event *q = c->qhead;
        c->qhead = q->next;
        if (!c->qhead) c->qtail = NULL;
        *ev = *q;
        ev->next = NULL;
        free(q);
        return WEFT_OK;
    }
    if (c->broken) return weft__err(err, WEFT_EBROKER, "broker %s: connection lost", c->redacted);
    int64_t deadline = timeout_ms < 0 ? 0 : weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int left = -1;
        if (timeout_ms >= 0) {
            int64_t l = (deadline - weft__mono_ns()) / 1000000;
            left = l < 0 ? 0 : (int)l;
        }
        weft_err e = read_frame(c, left, ev, err);
        if (e != WEFT_ETIMEDOUT) return e;
        if (timeout_ms >= 0 && weft__mono_ns() >= deadline) return WEFT_ETIMEDOUT;
    }
}

bool weft__amqp_poll(weft__amqp *c, struct pollfd *fds, size_t nfds, int timeout_ms)
{
    for (size_t i = 0; i < nfds; i++) fds[i].revents = 0;
    if (c->qhead || c->broken) return true;
    if (amqp_frames_enqueued(c->conn) || amqp_data_in_buffer(c->conn)) return true;
    /* Wake up often enough for the caller's next call to send heartbeats. */
    int cap = c->heartbeat_s > 0 ? c->heartbeat_s * 1000 / 4 : 1000;
    if (timeout_ms < 0 || timeout_ms > cap) timeout_ms = cap;
    struct pollfd all[16];
    size_t n = nfds < 15 ? nfds : 15;
    all[0].fd = amqp_get_sockfd(c->conn);
    all[0].events = POLLIN;
    all[0].revents = 0;
    for (size_t i = 0; i < n; i++) all[i + 1] = fds[i];
    int rc = poll(all, n + 1, timeout_ms);
    if (rc <= 0) return false;
    for (size_t i = 0; i < n; i++) fds[i].revents = all[i + 1].revents;
    return all[0].revents != 0;
}

static void enqueue(weft__amqp *c, weft__amqp_event *ev)
{
    ev->next = NULL;
    if (c->qtail)
        c->qtail->next = ev;
    else
        c->qhead = ev;
    c->qtail = ev;
}

weft_err weft__amqp_publish_wait(weft__amqp *c, const char *exchange, const char *routing_key,
                                 const void *body, size_t len, bool persistent, int timeout_ms,
                                 char *err)
{
    uint64_t seq = 0;
    weft_err e = weft__amqp_publish(c, exchange, routing_key, body, len, persistent, &seq, err);
    if (e != WEFT_OK || !c->confirms) return e;
    if (timeout_ms <= 0) timeout_ms = c->timeout_ms;
    int64_t deadline = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t l = (deadline - weft__mono_ns()) / 1000000;
        if (l <= 0)
            return weft__err(err, WEFT_ETIMEDOUT, "broker %s did not confirm a message within %d ms",
                             c->redacted, timeout_ms);
        weft__amqp_event *ev = calloc(1, sizeof *ev);
        if (!ev) return weft__err(err, WEFT_ENOMEM, "out of memory");
        e = read_frame(c, (int)l, ev, err);
        if (e == WEFT_ETIMEDOUT) {
            free(ev);
            continue;
        }
        if (e != WEFT_OK) {
            free(ev);
            return e;
        }
        bool mine = ev->kind == WEFT__AMQP_CONFIRM &&
                    (ev->tag == seq || (ev->multiple && ev->tag >= seq));
        bool nack = ev->nack;
        enqueue(c, ev);
        if (mine)
            return nack ? weft__err(err, WEFT_EBROKER, "broker %s refused a message (nack)",
                                    c->redacted)
                        : WEFT_OK;
    }
}
