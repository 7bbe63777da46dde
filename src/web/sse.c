/* SPDX-License-Identifier: MIT */
/*
 * sse.c - the event stream of job status changes (/api/events, Server-Sent
 * Events) and the one thread that feeds it.
 *
 * The poller reads the store's job_history after the last row it saw,
 * every 200 ms (one indexed range read, however many clients listen),
 * and appends each change to a ring of the last WEFT__RING events, each
 * formatted once as the SSE text every stream sends (with 50 clients,
 * formatting it per stream cost the server more CPU than the run it
 * watched).  Each stream keeps only its position in the ring and a buffer
 * of one batch (up to BATCH_BYTES, copied from the ring), so
 * memory does not grow with a slow client: one that falls more than a ring
 * behind gets an "event: reset" and reloads what it shows.  The poller
 * also reaps the `weft run` children of the Run button.
 */
#include "core/pages.h"
#include "web/web.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_NS (200 * 1000 * 1000L)
#define BATCH_BYTES (64 * 1024) /* per write to a stream: few syscalls per client */
#define KEEPALIVE_NS (15 * 1000 * 1000 * 1000LL)

typedef struct poll_ud {
    int64_t after;
    json_t *items;
} poll_ud;

static weft_err poll_store(weft__store *s, void *ud, char *err)
{
    poll_ud *p = ud;
    if (p->after < 0) return weft__page_last_change(s, &p->after, err);
    weft_err e = weft__page_changes(s, p->after, 1000, &p->items, err);
    /* `weft delete` or `weft clean` removed the newest history rows: SQLite
     * numbers the next ones from the highest left, below our cursor, so
     * follow from there (one O(1) max(rowid) per idle poll). */
    int64_t last;
    if (!e && json_array_size(p->items) == 0 && !weft__page_last_change(s, &last, NULL) &&
        last < p->after)
        p->after = last;
    return e;
}

/* One change as the stream sends it, "id: N\nevent: status\ndata: {...}\n\n";
 * NULL when out of memory. */
static char *sse_text(int64_t id, json_t *ev)
{
    char *d = json_dumps(ev, JSON_COMPACT);
    if (!d) return NULL;
    size_t n = strlen(d) + 64;
    char *t = malloc(n);
    if (t) snprintf(t, n, "id: %lld\nevent: status\ndata: %s\n\n", (long long)id, d);
    free(d);
    return t;
}

/* Appends the changes to the ring and wakes the streams.  The text is made
 * outside the lock: only the poller appends, so the ids it numbers from
 * ring_next stay its own. */
static void publish(weft_ui *ui, json_t *items)
{
    size_t i, n = json_array_size(items), made = 0;
    char **texts = calloc(n ? n : 1, sizeof *texts);
    if (!texts) return; /* the next poll reads the same rows again */
    pthread_mutex_lock(&ui->mu);
    int64_t first = ui->ring_next;
    pthread_mutex_unlock(&ui->mu);
    json_t *ev;
    json_array_foreach(items, i, ev) {
        if (!(texts[i] = sse_text(first + (int64_t)i, ev))) break;
        made++;
    }
    pthread_mutex_lock(&ui->mu);
    for (i = 0; i < made; i++) {
        ui->last_row = json_integer_value(json_object_get(json_array_get(items, i), "row"));
        size_t k = (size_t)(ui->ring_next % WEFT__RING);
        free(ui->ring[k]);
        ui->ring[k] = texts[i];
        ui->ring_next++;
    }
    pthread_cond_broadcast(&ui->cond);
    pthread_mutex_unlock(&ui->mu);
    free(texts);
}

static void *poller(void *arg)
{
    weft_ui *ui = arg;
    pthread_mutex_lock(&ui->mu);
    poll_ud p = {.after = ui->last_row};
    while (!ui->stopping) {
        struct timespec dl = weft__mono_deadline(POLL_NS);
        pthread_cond_timedwait(&ui->cond, &ui->mu, &dl);
        if (ui->stopping) break;
        pthread_mutex_unlock(&ui->mu);
        weft__run_reap(ui);
        weft_orchestrator *o = weft__ui_orch(ui);
        char err[WEFT_ERRBUF_SIZE] = "";
        p.items = NULL;
        if (!o) p.after = 0; /* a store created later: stream all of it */
        if (o && p.after < 0 && weft__orch_query(o, poll_store, &p, err) == WEFT_OK) {
            pthread_mutex_lock(&ui->mu);
            ui->last_row = p.after;
            pthread_mutex_unlock(&ui->mu);
        } else if (o && p.after >= 0 && weft__orch_query(o, poll_store, &p, err) == WEFT_OK) {
            publish(ui, p.items);
            size_t n = json_array_size(p.items);
            if (n) p.after = json_integer_value(json_object_get(json_array_get(p.items, n - 1), "row"));
        } else if (err[0]) {
            weft__log(&ui->log, WEFT_LOG_WARN, "ui", "polling the store: %s", err);
        }
        json_decref(p.items);
        pthread_mutex_lock(&ui->mu);
    }
    pthread_mutex_unlock(&ui->mu);
    return NULL;
}

weft_err weft__sse_start(weft_ui *ui, char *err)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&ui->cond);
    pthread_cond_init(&ui->cond, &ca);
    pthread_condattr_destroy(&ca);
    /* Streams start with the changes made after the server started: a store
     * that exists now is followed from its last row, one made later from
     * its first. */
    weft_orchestrator *o = weft__ui_orch(ui);
    poll_ud p = {.after = -1};
    weft_err e = o ? weft__orch_query(o, poll_store, &p, err) : WEFT_OK;
    if (e) return e;
    ui->last_row = o ? p.after : 0;
    int rc = pthread_create(&ui->poller, NULL, poller, ui);
    if (rc) return weft__err(err, WEFT_EIO, "cannot start a thread: %s", strerror(rc));
    ui->has_poller = true;
    return WEFT_OK;
}

void weft__sse_stop(weft_ui *ui)
{
    pthread_mutex_lock(&ui->mu);
    ui->stopping = true;
    pthread_cond_broadcast(&ui->cond);
    pthread_mutex_unlock(&ui->mu);
    if (ui->has_poller) pthread_join(ui->poller, NULL);
    ui->has_poller = false;
}

/* One stream: its position in the ring and the batch being sent. */
typedef struct stream {
    weft_ui *ui;
    int64_t next;
    weft__buf out;
    size_t off;
} stream;

/* Fills st->out with the next batch, waiting for one; false at the end. */
static bool next_batch(stream *st)
{
    weft_ui *ui = st->ui;
    weft__buf_reset(&st->out);
    st->off = 0;
    pthread_mutex_lock(&ui->mu);
    struct timespec dl = weft__mono_deadline(KEEPALIVE_NS);
    while (!ui->stopping && st->next == ui->ring_next)
        if (pthread_cond_timedwait(&ui->cond, &ui->mu, &dl) == ETIMEDOUT) break;
    bool alive = !ui->stopping;
    if (!alive) {
        /* the server closes */
    } else if (st->next == ui->ring_next) {
        weft__buf_adds(&st->out, ": keepalive\n\n");
    } else if (ui->ring_next - st->next > WEFT__RING) {
        st->next = ui->ring_next;
        weft__buf_adds(&st->out, "event: reset\ndata: {}\n\n");
    } else {
        for (; st->out.len < BATCH_BYTES && st->next < ui->ring_next; st->next++) {
            const char *t = ui->ring[st->next % WEFT__RING];
            if (weft__buf_add(&st->out, t, strlen(t)) && st->out.len) break; /* next time */
            /* (an event larger than the buffer on its own is skipped) */
        }
    }
    pthread_mutex_unlock(&ui->mu);
    return alive;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *st = cls;
    if (st->off >= st->out.len && !next_batch(st)) return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = st->out.len - st->off;
    if (n > max) n = max;
    memcpy(buf, st->out.data + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    weft__buf_release(&st->out);
    free(st);
}

void *weft__sse_response(weft_ui *ui, const char *last_id)
{
    stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->ui = ui;
    st->out.max = 1 << 20;
    char *end = NULL;
    long long last = last_id ? strtoll(last_id, &end, 10) : -1;
    pthread_mutex_lock(&ui->mu);
    /* A browser that reconnects sends the last id it got: it resumes after
     * it while the ring still holds what followed; a new stream starts with
     * the changes from now on (the page loads the state first). */
    if (last_id && end && !*end && last >= 0 && last < ui->ring_next &&
        ui->ring_next - last <= WEFT__RING)
        st->next = last + 1;
    else
        st->next = ui->ring_next;
    pthread_mutex_unlock(&ui->mu);
    weft__buf_adds(&st->out, "retry: 2000\n: weft events\n\n");
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BATCH_BYTES, reader,
                                                               st, stream_free);
    if (!r) stream_free(st);
    return r;
}
