/* SPDX-License-Identifier: MIT */
/*
 * server.c - the web view's HTTP server: its life cycle (weft_ui_open, run,
 * stop, close), the checks every request passes before any route sees it,
 * and the dispatch to the routes.
 *
 * The checks, in order: the access token when one is set (401 without it);
 * without one the server listens on loopback only and accepts only Host
 * headers naming loopback (403), so a web page elsewhere cannot reach it by
 * DNS rebinding; the route (404 for anything unknown: no path ever reaches
 * the file system); the method (405); the body size (413 past 64 KiB); and
 * for a POST the per-server CSRF token in X-Weft-CSRF (403), which only the
 * page served here knows.
 */
#define _GNU_SOURCE /* memmem */
#include "core/pages.h"
#include "web/web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_MAX (64 * 1024)

/* Per request: the POST body, bounded. */
typedef struct conn_state {
    weft__buf body;
    bool too_big;
} conn_state;

void weft__resp_json(weft__resp *r, int status, json_t *body)
{
    r->status = status;
    r->ctype = "application/json";
    r->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    r->len = r->body ? strlen(r->body) : 0;
    json_decref(body);
    if (!r->body) r->status = 500;
}

void weft__resp_error(weft__resp *r, int status, const char *fmt, ...)
{
    char msg[WEFT_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    weft__resp_json(r, status, json_pack("{ss}", "error", msg));
    r->status = status;
}

int weft__http_status(weft_err e)
{
    switch (e) {
    case WEFT_ENOTFOUND: return 404;
    case WEFT_EINVAL: return 400;
    case WEFT_ESTATE: return 409;
    case WEFT_EMODE: return 409;
    case WEFT_ETIMEDOUT: return 504;
    default: return 500;
    }
}

weft_orchestrator *weft__ui_orch(weft_ui *ui)
{
    pthread_mutex_lock(&ui->mu);
    if (!ui->o) {
        char err[WEFT_ERRBUF_SIZE] = "";
        const char *storage = ui->storage_override ? ui->storage_override
                                                   : weft_config_storage_folder(ui->cfg);
        weft_orchestrator_opts oo = {.read_only = true, .storage_folder = storage,
                                     .application_path = weft_config_application_path(ui->cfg),
                                     .log = ui->log.fn, .log_userdata = ui->log.ud,
                                     .log_level = ui->log.level};
        weft_err e = weft_orchestrator_open(ui->ocfg, &oo, &ui->o, err);
        if (e && e != WEFT_ENOTFOUND) weft__log(&ui->log, WEFT_LOG_WARN, "ui", "store: %s", err);
    }
    weft_orchestrator *o = ui->o;
    pthread_mutex_unlock(&ui->mu);
    return o;
}

/* The orchestrator's own copy of the config.  Opening an orchestrator
 * checks its config, which rebuilds the config's values: done on the
 * caller's config while the server's threads read it, that would free what
 * they read.  So the orchestrator gets a copy (written and loaded back),
 * which only it and weft__ui_orch() under ui->mu touch. */
static weft_err copy_config(weft_ui *ui, char *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = weft_config_write(ui->cfg, f, false, err);
    fclose(f);
    if (!e && !(ui->ocfg = weft_config_new())) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) e = weft_config_load_string(ui->ocfg, text, len, "<weft ui>", err);
    if (!e) e = weft_config_check(ui->ocfg, err);
    free(text);
    return e;
}

/* Compares in time independent of where the strings differ. */
static bool secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool token_ok(weft_ui *ui, struct MHD_Connection *c)
{
    if (!ui->token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h && strncmp(h, "Bearer ", 7) == 0 && secret_eq(h + 7, ui->token)) return true;
    const char *k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "weft_token");
    if (k && secret_eq(k, ui->token)) return true;
    k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "weft_session");
    return k && secret_eq(k, ui->session);
}

/* A browser cannot send a header: POST /login with the form field token=T
 * sets the cookie weft_session to a random per-server value (never the
 * token itself, which no response carries) and goes to the page.  Anything
 * else unauthenticated gets the form (401). */
static enum MHD_Result login(weft_ui *ui, struct MHD_Connection *c, const char *method,
                             conn_state *cs)
{
    weft__query q = {0};
    if (strcmp(method, "POST") == 0 && cs->body.data && !cs->too_big)
        weft__query_parse(&q, cs->body.data, cs->body.len);
    const char *t = weft__query_get(&q, "token");
    bool ok = t && secret_eq(t, ui->token);
    static const char form[] =
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>weft</title></head><body>"
        "<form method=\"post\" action=\"/login\"><p>This weft ui needs its access token.</p>"
        "<input type=\"password\" name=\"token\" autofocus> <button>Open</button></form>"
        "</body></html>";
    struct MHD_Response *resp = MHD_create_response_from_buffer(ok ? 0 : sizeof form - 1,
                                                                (void *)(ok ? "" : form),
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    char cookie[160];
    snprintf(cookie, sizeof cookie, "weft_session=%s; HttpOnly; SameSite=Strict; Path=/", ui->session);
    if (ok) MHD_add_response_header(resp, "Set-Cookie", cookie);
    if (ok) MHD_add_response_header(resp, "Location", "/");
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, ok ? 303 : 401, resp);
    MHD_destroy_response(resp);
    return ret;
}

static bool host_ok(weft_ui *ui, struct MHD_Connection *c)
{
    if (ui->token) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h) return false;
    for (size_t i = 0; i < 3; i++)
        if (ui->hosts[i][0] && strcmp(h, ui->hosts[i]) == 0) return true;
    return false;
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    weft__query_add(cls, key, value);
    return MHD_YES;
}

/* Every occurrence of `secret` in a body becomes "***". */
static void mask_one(const char *secret, weft__resp *r)
{
    size_t sl = secret ? strlen(secret) : 0;
    if (!sl || !r->body || !memmem(r->body, r->len, secret, sl)) return;
    weft__buf b = WEFT_BUF_INIT;
    const char *p = r->body, *end = r->body + r->len, *m;
    while ((m = memmem(p, (size_t)(end - p), secret, sl))) {
        weft__buf_add(&b, p, (size_t)(m - p));
        weft__buf_adds(&b, "***");
        p = m + sl;
    }
    weft__buf_add(&b, p, (size_t)(end - p));
    free(r->body);
    r->body = weft__buf_detach(&b, &r->len);
    if (!r->body) r->status = 500, r->len = 0;
}

/* The broker password and the message-signing secret become "***" in every
 * body: the one place every answer but the event stream passes (whose
 * payloads hold only ids and statuses), so no job error, log tail or
 * preview that quotes them can carry them out. */
static void mask_secret(const weft_ui *ui, weft__resp *r)
{
    mask_one(ui->secret, r);
    if (r->body) mask_one(ui->signing_secret, r);
}

/* The password of the broker URL ("amqp://user:PASSWORD@host"), NULL when none. */
static char *broker_password(const weft_config *cfg)
{
    const char *url = weft_config_broker_url(cfg), *auth = url ? strstr(url, "://") : NULL;
    if (!auth) return NULL;
    auth += 3;
    const char *at = strrchr(auth, '@'), *colon = memchr(auth, ':', at ? (size_t)(at - auth) : 0);
    if (!at || !colon || at - colon < 2) return NULL;
    return weft__strndup(colon + 1, (size_t)(at - colon - 1));
}

static enum MHD_Result reply(weft_ui *ui, struct MHD_Connection *c, weft__resp *r)
{
    mask_secret(ui, r);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->ctype ? r->ctype : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The page, with this server's CSRF token in its <meta>. */
static void page(weft_ui *ui, weft__route_kind k, weft__resp *r)
{
    size_t len;
    const char *ctype, *a = weft__asset(k, &len, &ctype);
    const char *mark = k == WEFT__R_PAGE ? strstr(a, "{{CSRF}}") : NULL;
    weft__buf b = WEFT_BUF_INIT;
    if (mark) {
        weft__buf_add(&b, a, (size_t)(mark - a));
        weft__buf_adds(&b, ui->csrf);
        weft__buf_adds(&b, mark + 8);
    } else {
        weft__buf_add(&b, a, len);
    }
    r->status = 200;
    r->ctype = ctype;
    r->body = weft__buf_detach(&b, &r->len);
    if (!r->body) r->status = 500;
}

static enum MHD_Result sse(weft_ui *ui, struct MHD_Connection *c)
{
    struct MHD_Response *resp =
        weft__sse_response(ui, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID"));
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static const char *csrf_header(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Weft-CSRF");
    return h ? h : "";
}

/* Every check of the file comment, then the route. */
static enum MHD_Result handle(weft_ui *ui, struct MHD_Connection *c, const char *url,
                              const char *method, conn_state *cs)
{
    weft__resp r = {0};
    weft__query q = {0};
    weft__req rq = {.query = &q};
    if (ui->token && (strcmp(url, "/login") == 0 || (!token_ok(ui, c) && strcmp(url, "/") == 0)))
        return login(ui, c, method, cs);
    if (!token_ok(ui, c)) {
        weft__resp_error(&r, 401, "missing or wrong access token");
        return reply(ui, c, &r);
    }
    if (!host_ok(ui, c)) {
        weft__resp_error(&r, 403, "Host header must name the loopback address");
        return reply(ui, c, &r);
    }
    weft__route_match(method, url, &rq.route);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query, &q);
    if (rq.route.kind == WEFT__R_NOTFOUND) weft__resp_error(&r, 404, "no such page");
    else if (rq.route.kind == WEFT__R_BADMETHOD) weft__resp_error(&r, 405, "method not allowed");
    else if (cs->too_big) weft__resp_error(&r, 413, "request body over %d bytes", BODY_MAX);
    else if (rq.route.post && !secret_eq(csrf_header(c), ui->csrf))
        weft__resp_error(&r, 403, "missing or wrong X-Weft-CSRF header");
    else if (rq.route.kind == WEFT__R_EVENTS) return sse(ui, c);
    else if (weft__asset(rq.route.kind, &(size_t){0}, &(const char *){NULL})) page(ui, rq.route.kind, &r);
    else if (rq.route.kind == WEFT__R_METRICS) weft__metrics(ui, &r);
    else {
        rq.body = cs->body.data ? cs->body.data : "";
        rq.body_len = cs->body.len;
        weft__api_handle(ui, &rq, &r);
    }
    return reply(ui, c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    weft_ui *ui = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
        cs->body.max = BODY_MAX;
        *con_cls = cs;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > BODY_MAX) cs->too_big = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cs->too_big && weft__buf_add(&cs->body, upload, *upload_size)) cs->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    return handle(ui, c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state *cs = *con_cls;
    if (!cs) return;
    weft__buf_release(&cs->body);
    free(cs);
    *con_cls = NULL;
}

/* "ADDR:PORT" or "[V6]:PORT" into a socket address; *loopback tells. */
static weft_err parse_listen(const char *s, struct sockaddr_storage *ss, bool *loopback, char *err)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    long port;
    char *end;
    if (!colon || (size_t)(colon - s) >= sizeof host) goto bad;
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) goto bad;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1) goto bad;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return WEFT_OK;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) goto bad;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return WEFT_OK;
bad:
    return weft__err(err, WEFT_EINVAL, "listen address '%s' is not ADDR:PORT (e.g. 127.0.0.1:8765)", s);
}

static weft_err random_hex(char *out, size_t nbytes, char *err)
{
    unsigned char b[64];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, nbytes) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)nbytes) return weft__err(err, WEFT_EIO, "cannot read /dev/urandom");
    for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
    return WEFT_OK;
}

static weft_err ui_init(weft_ui *ui, const weft_ui_opts *opts, char *err)
{
    ui->cfg = opts->config;
    ui->log = (weft__logger){opts->log, opts->log_userdata, opts->log_level};
    ui->stop_pipe[0] = ui->stop_pipe[1] = -1;
    pthread_mutex_init(&ui->mu, NULL);
    pthread_cond_init(&ui->cond, NULL);
    const char *cf = opts->config_file ? opts->config_file : weft_config_file(opts->config);
    if ((opts->token && opts->token[0] && !(ui->token = weft__strdup(opts->token))) ||
        (opts->weft_exe && !(ui->exe = weft__strdup(opts->weft_exe))) ||
        (cf && !(ui->config_file = realpath(cf, NULL)) && !(ui->config_file = weft__strdup(cf))) ||
        (opts->storage_folder && !(ui->storage_override = weft__strdup(opts->storage_folder))))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    ui->secret = broker_password(opts->config);
    ui->signing_secret = weft__strdup(weft_config_broker_secret(opts->config));
    weft_err e = copy_config(ui, err);
    if (e) return e;
    if (pipe(ui->stop_pipe) != 0) return weft__err(err, WEFT_EIO, "pipe: %s", strerror(errno));
    fcntl(ui->stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(ui->stop_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(ui->stop_pipe[1], F_SETFL, O_NONBLOCK);
    if ((e = random_hex(ui->csrf, 32, err))) return e;
    return random_hex(ui->session, 32, err);
}

/* A listening socket on `ss`, bound before the daemon starts, so that the
 * port (when 0 was asked) and the accepted Host names are known before any
 * request can arrive. */
static weft_err bind_socket(struct sockaddr_storage *ss, const char *addr, int *fd, char *err)
{
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int one = 1;
    *fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(*fd, (struct sockaddr *)ss, len) != 0 || listen(*fd, 64) != 0 ||
        getsockname(*fd, (struct sockaddr *)ss, &len) != 0) {
        int saved = errno;
        if (*fd >= 0) close(*fd);
        *fd = -1;
        return weft__err(err, WEFT_EIO, "cannot listen on %s: %s", addr, strerror(saved));
    }
    return WEFT_OK;
}

static weft_err ui_listen(weft_ui *ui, const char *listen, char *err)
{
    struct sockaddr_storage ss;
    int fd;
    weft_err e = parse_listen(listen, &ss, &ui->loopback, err);
    if (e) return e;
    if (!ui->loopback && !ui->token)
        return weft__err(err, WEFT_EINVAL, "listening on %s needs an access token (--token-file): "
                                           "only loopback is served without one", listen);
    if ((e = bind_socket(&ss, listen, &fd, err))) return e;
    unsigned port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                   : ((struct sockaddr_in *)&ss)->sin_port);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
    snprintf(ui->url, sizeof ui->url, "http://%s:%u/", host, port);
    snprintf(ui->hosts[0], sizeof ui->hosts[0], "%s:%u", host, port);
    snprintf(ui->hosts[1], sizeof ui->hosts[1], "localhost:%u", port);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    ui->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, ui,
                                  MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, ui,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                  MHD_OPTION_END);
    if (!ui->daemon) {
        close(fd);
        return weft__err(err, WEFT_EIO, "cannot serve on %s", listen);
    }
    return WEFT_OK;
}

weft_err weft_ui_open(const weft_ui_opts *opts, weft_ui **out, char *err)
{
    if (!opts || !opts->config || !out) return weft__err(err, WEFT_EINVAL, "weft_ui_open: NULL argument");
    *out = NULL;
    weft_ui *ui = calloc(1, sizeof *ui);
    if (!ui) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = ui_init(ui, opts, err);
    /* The cluster snapshot's state is set up before the daemon's threads
     * exist, so that their first request sees it (creating a thread orders
     * what came before it). */
    if (!e) e = weft__cluster_start(ui, err);
    if (!e) e = ui_listen(ui, opts->listen ? opts->listen : "127.0.0.1:8765", err);
    if (!e) e = weft__sse_start(ui, err);
    if (e) {
        weft_ui_close(ui);
        return e;
    }
    weft__log(&ui->log, WEFT_LOG_DEBUG, "ui", "listening on %s", ui->url);
    *out = ui;
    return WEFT_OK;
}

const char *weft_ui_url(const weft_ui *ui)
{
    return ui->url;
}

weft_err weft_ui_run(weft_ui *ui, char *err)
{
    while (!ui->stop_flag) {
        char b;
        ssize_t r = read(ui->stop_pipe[0], &b, 1);
        if (r < 0 && errno != EINTR) return weft__err(err, WEFT_EIO, "read: %s", strerror(errno));
    }
    return WEFT_OK;
}

void weft_ui_stop(weft_ui *ui)
{
    int saved = errno;
    ui->stop_flag = 1;
    if (write(ui->stop_pipe[1], "x", 1) < 0) { /* full: run() wakes anyway */ }
    errno = saved;
}

void weft_ui_close(weft_ui *ui)
{
    if (!ui) return;
    weft__cluster_stop(ui);
    weft__sse_stop(ui); /* wakes the streams so the daemon can end their threads */
    if (ui->daemon) MHD_stop_daemon(ui->daemon);
    weft__run_reap(ui);
    for (size_t i = 0; i < ui->nkids; i++) free(ui->kids[i].scenario_id);
    free(ui->kids);
    for (size_t i = 0; i < WEFT__RING; i++) free(ui->ring[i]);
    if (ui->o) weft_orchestrator_close(ui->o);
    weft_config_free(ui->ocfg);
    if (ui->stop_pipe[0] >= 0) close(ui->stop_pipe[0]);
    if (ui->stop_pipe[1] >= 0) close(ui->stop_pipe[1]);
    pthread_mutex_destroy(&ui->mu);
    pthread_cond_destroy(&ui->cond);
    free(ui->token);
    free(ui->secret);
    free(ui->signing_secret);
    free(ui->exe);
    free(ui->config_file);
    free(ui->storage_override);
    free(ui);
}
