/* SPDX-License-Identifier: MIT */
/*
 * pages.c - the store's reads for the web view: lists paginated by key
 * (each page is "row number below the cursor, newest first", one range of
 * the rowid, never OFFSET, so page 200 of 10,000 jobs costs what page 1
 * does), detail rows, the job history changes an event stream follows, and
 * the aggregates of /metrics.  Rows come back as JSON objects keyed by
 * column name, ready for the API: the SQL says what a page shows.
 *
 * These statements are prepared per call, not cached with store.c's: they
 * are built from the filters given, and a web request costs far more than
 * one prepare (~20 µs).
 */
#include "store/store.h"
#include "store/store_internal.h"
#include "util/util.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* A bound parameter: text when s is set (or `null`), else integer i. */
typedef struct bindv {
    const char *s;
    int64_t i;
    bool null;
} bindv;

static weft_err sql_fail(weft__store *s, char *err)
{
    return weft__err(err, WEFT_ESTORE, "store query failed: %s",
                     sqlite3_errmsg(weft__store_sqlite(s)));
}

static weft_err prepare(weft__store *s, const char *sql, const bindv *b, size_t nb,
                        sqlite3_stmt **st, char *err)
{
    if (sqlite3_prepare_v2(weft__store_sqlite(s), sql, -1, st, NULL) != SQLITE_OK)
        return sql_fail(s, err);
    for (size_t i = 0; i < nb; i++) {
        int rc = b[i].null ? sqlite3_bind_null(*st, (int)i + 1)
                 : b[i].s  ? sqlite3_bind_text(*st, (int)i + 1, b[i].s, -1, SQLITE_STATIC)
                           : sqlite3_bind_int64(*st, (int)i + 1, b[i].i);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(*st);
            *st = NULL;
            return sql_fail(s, err);
        }
    }
    return WEFT_OK;
}

/* One row as an object: integer, real, text or null by column; a column
 * named "status" becomes the status name; "seq" is left out (the cursor). */
static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int nc = sqlite3_column_count(st);
    for (int c = 0; o && c < nc; c++) {
        const char *name = sqlite3_column_name(st, c);
        json_t *v;
        if (strcmp(name, "seq") == 0) continue;
        switch (sqlite3_column_type(st, c)) {
        case SQLITE_INTEGER: {
            int64_t i = sqlite3_column_int64(st, c);
            const char *sn = strcmp(name, "status") == 0 ? weft_job_status_name((weft_job_status)i)
                                                         : NULL;
            v = sn ? json_string(sn) : json_integer(i);
            break;
        }
        case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, c)); break;
        case SQLITE_TEXT:
            v = json_stringn((const char *)sqlite3_column_text(st, c),
                             (size_t)sqlite3_column_bytes(st, c));
            break;
        default: v = json_null(); break;
        }
        if (json_object_set_new(o, name, v ? v : json_null())) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Runs `sql` and collects every row; with `next`, the first column is the
 * row number, the SQL asks for `limit` + 1 rows, and when that one more row
 * exists *next is the last row number of the page (else 0): no empty last
 * page. */
static weft_err rows_json(weft__store *s, const char *sql, const bindv *b, size_t nb, int limit,
                          json_t **items, int64_t *next, char *err)
{
    sqlite3_stmt *st;
    weft_err e = prepare(s, sql, b, nb, &st, err);
    if (e) return e;
    json_t *arr = json_array();
    int64_t last = 0;
    int rc, n = 0;
    bool more = false;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (limit > 0 && n == limit) { /* the one row past the page: there is a next one */
            more = true;
            rc = SQLITE_DONE;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        n++;
        if (json_array_append_new(arr, row_object(st))) goto nomem;
    }
    if (!arr) goto nomem;
    if (rc != SQLITE_DONE) {
        e = sql_fail(s, err);
        json_decref(arr);
        sqlite3_finalize(st);
        return e;
    }
    sqlite3_finalize(st);
    if (next) *next = more ? last : 0;
    *items = arr;
    return WEFT_OK;
nomem:
    json_decref(arr);
    sqlite3_finalize(st);
    return weft__err(err, WEFT_ENOMEM, "out of memory");
}

#define JOB_PAGE_COLS                                                                    \
    "seq, id, task_config_id AS task, task_id, submission_id AS submission, status, attempt, " \
    "ts0 AS submitted_us, ts3 AS started_us, max(ts4, ts5, ts6, ts7, ts8) AS finished_us, "    \
    "worker, error"

static int64_t cursor(const weft__page_req *q)
{
    return q->after > 0 ? q->after : INT64_MAX;
}

weft_err weft__page_submissions(weft__store *s, const weft__page_req *q, json_t **items,
                                int64_t *next, char *err)
{
    bindv b[] = {{.i = cursor(q)}, {.i = q->limit + 1}};
    return rows_json(s,
                     "SELECT s.seq, s.id, s.entity_id, s.entity_config_id, s.status, s.created_us,"
                     " s.finished_us, (SELECT json_group_object(st, n) FROM (SELECT status AS st,"
                     " count(*) AS n FROM jobs WHERE submission_id = s.id GROUP BY status)) AS counts"
                     " FROM submissions s WHERE s.seq < ?1 ORDER BY s.seq DESC LIMIT ?2",
                     b, 2, q->limit, items, next, err);
}

weft_err weft__page_jobs(weft__store *s, const weft__page_req *q, json_t **items, int64_t *next,
                         char *err)
{
    /* Only the filters given are in the SQL: "(?2 IS NULL OR ...)" would
     * keep SQLite from using the (submission_id, status) index. */
    weft__buf sql = WEFT_BUF_INIT;
    bindv b[5] = {{.i = cursor(q)}};
    size_t nb = 1;
    weft__buf_adds(&sql, "SELECT " JOB_PAGE_COLS " FROM jobs WHERE seq < ?1");
    if (q->submission) {
        b[nb++] = (bindv){.s = q->submission};
        weft__buf_addf(&sql, " AND submission_id = ?%zu", nb);
    }
    if (q->task) {
        b[nb++] = (bindv){.s = q->task};
        weft__buf_addf(&sql, " AND task_config_id = ?%zu", nb);
    }
    if (q->status >= 0) {
        b[nb++] = (bindv){.i = q->status};
        weft__buf_addf(&sql, " AND status = ?%zu", nb);
    }
    b[nb++] = (bindv){.i = q->limit + 1};
    weft_err e = weft__buf_addf(&sql, " ORDER BY seq DESC LIMIT ?%zu", nb);
    if (!e) e = rows_json(s, sql.data, b, nb, q->limit, items, next, err);
    else weft__err(err, e, "out of memory");
    weft__buf_release(&sql);
    return e;
}

weft_err weft__page_scenarios(weft__store *s, const weft__page_req *q, json_t **items,
                              int64_t *next, char *err)
{
    bindv b[] = {{.i = cursor(q)}, {.i = q->limit + 1}};
    return rows_json(s,
                     "SELECT seq, id, config_id, created_us, cycle_id, is_primary FROM scenarios"
                     " WHERE seq < ?1"
                     " ORDER BY seq DESC LIMIT ?2",
                     b, 2, q->limit, items, next, err);
}

weft_err weft__page_datanodes(weft__store *s, const weft__page_req *q, json_t **items,
                              int64_t *next, char *err)
{
    bindv b[] = {{.i = cursor(q)}, {.i = q->limit + 1}};
    return rows_json(s,
                     "SELECT seq, id, config_id, scope, scenario_id, path, last_edit_us,"
                     " last_edit_job, cycle_id FROM data_nodes WHERE seq < ?1"
                     " ORDER BY seq DESC LIMIT ?2",
                     b, 2, q->limit, items, next, err);
}

weft_err weft__page_submission_jobs(weft__store *s, const char *submission_id, int max,
                                    json_t **items, char *err)
{
    bindv b[] = {{.s = submission_id}, {.i = max}};
    return rows_json(s,
                     "SELECT " JOB_PAGE_COLS " FROM jobs WHERE submission_id = ?1"
                     " ORDER BY seq LIMIT ?2",
                     b, 2, 0, items, NULL, err);
}

weft_err weft__page_job_history(weft__store *s, const char *job_id, json_t **items, char *err)
{
    bindv b[] = {{.s = job_id}};
    return rows_json(s,
                     "SELECT h.rowid AS seq, h.status, h.at_us FROM job_history h"
                     " JOIN jobs j ON j.seq = h.job_seq WHERE j.id = ?1 ORDER BY h.rowid",
                     b, 1, 0, items, NULL, err);
}

weft_err weft__page_dn_edits(weft__store *s, const char *dn_id, int max, json_t **items,
                             char *err)
{
    bindv b[] = {{.s = dn_id}, {.i = max}};
    return rows_json(s,
                     "SELECT rowid AS seq, at_us, job_id FROM dn_edits WHERE dn_id = ?1"
                     " ORDER BY rowid DESC LIMIT ?2",
                     b, 2, 0, items, NULL, err);
}

weft_err weft__page_changes(weft__store *s, int64_t after, int max, json_t **items, char *err)
{
    bindv b[] = {{.i = after}, {.i = max}};
    return rows_json(s,
                     "SELECT h.rowid AS row, j.id AS job, j.task_config_id AS task,"
                     " j.submission_id AS submission, h.status, h.at_us FROM job_history h"
                     " JOIN jobs j ON j.seq = h.job_seq WHERE h.rowid > ?1 ORDER BY h.rowid"
                     " LIMIT ?2",
                     b, 2, 0, items, NULL, err);
}

/* Runs a one-row or grouped query and calls fn per row. */
static weft_err each_row(weft__store *s, const char *sql, const bindv *b, size_t nb,
                         void (*fn)(void *ud, sqlite3_stmt *st), void *ud, char *err)
{
    sqlite3_stmt *st;
    weft_err e = prepare(s, sql, b, nb, &st, err);
    if (e) return e;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) fn(ud, st);
    if (rc != SQLITE_DONE) e = sql_fail(s, err);
    sqlite3_finalize(st);
    return e;
}

static void set_int(void *ud, sqlite3_stmt *st)
{
    *(int64_t *)ud = sqlite3_column_int64(st, 0);
}

static void count_row(void *ud, sqlite3_stmt *st)
{
    int64_t *counts = ud;
    int64_t k = sqlite3_column_int64(st, 0);
    if (k >= 0 && k < WEFT_JOB_NSTATUS) counts[k] = sqlite3_column_int64(st, 1);
}

weft_err weft__page_last_change(weft__store *s, int64_t *row, char *err)
{
    *row = 0;
    return each_row(s, "SELECT ifnull(max(rowid), 0) FROM job_history", NULL, 0, set_int, row,
                    err);
}

weft_err weft__page_job_counts(weft__store *s, int64_t counts[WEFT_JOB_NSTATUS], char *err)
{
    memset(counts, 0, WEFT_JOB_NSTATUS * sizeof *counts);
    return each_row(s, "SELECT status, count(*) FROM jobs GROUP BY status", NULL, 0, count_row,
                    counts, err);
}

weft_err weft__page_sub_counts(weft__store *s, int64_t counts[WEFT_JOB_NSTATUS], char *err)
{
    memset(counts, 0, WEFT_JOB_NSTATUS * sizeof *counts);
    return each_row(s, "SELECT status, count(*) FROM submissions WHERE finished_us > 0"
                       " GROUP BY status",
                    NULL, 0, count_row, counts, err);
}

typedef struct dur_ud {
    void (*fn)(void *ud, const char *task, int64_t us);
    void *ud;
} dur_ud;

static void dur_row(void *ud, sqlite3_stmt *st)
{
    dur_ud *d = ud;
    d->fn(d->ud, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
}

weft_err weft__page_durations(weft__store *s, void (*fn)(void *ud, const char *task, int64_t us),
                              void *ud, char *err)
{
    dur_ud d = {fn, ud};
    bindv b[] = {{.i = WEFT_JOB_COMPLETED}};
    return each_row(s, "SELECT task_config_id, ts6 - ts3 FROM jobs WHERE status = ?1 AND ts3 > 0",
                    b, 1, dur_row, &d, err);
}

typedef struct tp_ud {
    int64_t start, bucket, *buckets;
    size_t n;
} tp_ud;

static void tp_row(void *ud, sqlite3_stmt *st)
{
    tp_ud *t = ud;
    int64_t k = (sqlite3_column_int64(st, 0) - t->start) / t->bucket;
    if (k >= 0 && (size_t)k < t->n) t->buckets[k]++;
}

weft_err weft__page_throughput(weft__store *s, int64_t now_us, int64_t bucket_us, int64_t *buckets,
                               size_t n, char *err)
{
    memset(buckets, 0, n * sizeof *buckets);
    tp_ud t = {now_us - bucket_us * (int64_t)n, bucket_us, buckets, n};
    /* The final statuses are 4 and up (store.c asserts it). */
    bindv b[] = {{.i = t.start}};
    return each_row(s,
                    "SELECT max(ts4, ts5, ts6, ts7, ts8) AS f FROM jobs WHERE status >= 4"
                    " AND f >= ?1",
                    b, 1, tp_row, &t, err);
}

static void dup_text(void *ud, sqlite3_stmt *st)
{
    char **out = ud;
    free(*out);
    *out = weft__strdup((const char *)sqlite3_column_text(st, 0));
}

weft_err weft__page_submission_of(weft__store *s, const char *entity_id, char **id, char *err)
{
    *id = NULL;
    bindv b[] = {{.s = entity_id}};
    weft_err e = each_row(s, "SELECT id FROM submissions WHERE entity_id = ?1 ORDER BY seq DESC"
                             " LIMIT 1",
                          b, 1, dup_text, id, err);
    if (!e && !*id) e = weft__err(err, WEFT_ENOTFOUND, "no submission of %s", entity_id);
    return e;
}
