/* SPDX-License-Identifier: MIT */
/*
 * dn_edits.c - the store's reads for editing a data node from outside a
 * job: the unfinished jobs (whose outputs are edit-locked, Taipy's
 * edit_in_progress) and a node's edit history, oldest first.  Prepared per
 * call, not cached: they serve one `weft data write` or `weft show`, where
 * a prepare (~20 µs) does not count.
 */
#include "store/store.h"
#include "store/store_internal.h"
#include "util/util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static char *dup_col(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *r = strdup((const char *)t);
    if (!r) *oom = true;
    return r;
}

void weft__store_open_jobs_free(weft__store_open_job *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].task_config_id);
        free(v[i].scenario_id);
    }
    free(v);
}

/* Unfinished jobs belong to unfinished submissions: the scan goes through
 * those (few) and the jobs_submission index, not through every job. */
weft_err weft__store_open_jobs(weft__store *s, weft__store_open_job **out, size_t *n, char *err)
{
    _Static_assert(WEFT_JOB_CANCELED == 4, "statuses below 4 are the unfinished ones");
    *out = NULL;
    *n = 0;
    sqlite3 *db = weft__store_sqlite(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT j.id, j.task_config_id, t.scenario_id, j.status FROM submissions s"
                           " JOIN jobs j ON j.submission_id = s.id AND j.status < 4"
                           " LEFT JOIN tasks t ON t.id = j.task_id"
                           " WHERE s.finished_us = 0 ORDER BY j.seq",
                           -1, &st, NULL) != SQLITE_OK)
        return weft__err(err, WEFT_ESTORE, "cannot list unfinished jobs: %s", sqlite3_errmsg(db));
    weft__store_open_job *v = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !oom) {
        if (WEFT__GROW(v, len + 1, cap)) {
            oom = true;
            break;
        }
        weft__store_open_job *j = &v[len++];
        *j = (weft__store_open_job){0};
        j->id = dup_col(st, 0, &oom);
        j->task_config_id = dup_col(st, 1, &oom);
        j->scenario_id = dup_col(st, 2, &oom);
        j->status = sqlite3_column_int(st, 3);
    }
    weft_err e = WEFT_OK;
    if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    else if (rc != SQLITE_DONE) e = weft__err(err, WEFT_ESTORE, "cannot list unfinished jobs: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (e) {
        weft__store_open_jobs_free(v, len);
        return e;
    }
    *out = v;
    *n = len;
    return WEFT_OK;
}

void weft__store_edits_free(weft__store_edit *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i].by);
    free(v);
}

weft_err weft__store_dn_edits(weft__store *s, const char *dn_id, weft__store_edit **out, size_t *n,
                              char *err)
{
    *out = NULL;
    *n = 0;
    sqlite3 *db = weft__store_sqlite(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT at_us, job_id FROM dn_edits WHERE dn_id = ?1 ORDER BY rowid", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, dn_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        weft_err e = weft__err(err, WEFT_ESTORE, "cannot read the edits of %s: %s", dn_id, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return e;
    }
    weft__store_edit *v = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && !oom) {
        if (WEFT__GROW(v, len + 1, cap)) {
            oom = true;
            break;
        }
        v[len].at_us = sqlite3_column_int64(st, 0);
        v[len].by = dup_col(st, 1, &oom);
        len++;
    }
    weft_err e = WEFT_OK;
    if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    else if (rc != SQLITE_DONE) e = weft__err(err, WEFT_ESTORE, "cannot read the edits of %s: %s", dn_id, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (e) {
        weft__store_edits_free(v, len);
        return e;
    }
    *out = v;
    *n = len;
    return WEFT_OK;
}
