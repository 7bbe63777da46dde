/* SPDX-License-Identifier: MIT */
/*
 * store_check.c - `weft check --store`: SQLite's PRAGMA integrity_check,
 * then weft's own invariants, each one query that returns a line per
 * problem.  Nothing is written.  Cost: integrity_check reads every page
 * (O(store size)); each invariant is one scan of a table with an indexed
 * lookup per row.  At most MAX_LINES lines per check are kept: a store
 * broken everywhere still gives a bounded report.
 */
#include "store/store_internal.h"
#include "job/status.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LINES 20

/* Each query yields one text column: a problem, worded for the user.
 * Status numbers are weft_job_status (store.c pins them). */
static const char *const invariants[] = {
    "SELECT printf('job_history row %d: job row %d does not exist', h.rowid, h.job_seq)"
    " FROM job_history h WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.seq = h.job_seq)",
    "SELECT printf('job_deps row %d: job row %d or %d does not exist', d.rowid, d.job_seq,"
    " d.upstream_seq) FROM job_deps d"
    " WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.seq = d.job_seq)"
    "    OR NOT EXISTS (SELECT 1 FROM jobs j WHERE j.seq = d.upstream_seq)",
    "SELECT printf('task %s: scenario %s does not exist', t.id, t.scenario_id) FROM tasks t"
    " WHERE t.scenario_id IS NOT NULL"
    "   AND NOT EXISTS (SELECT 1 FROM scenarios s WHERE s.id = t.scenario_id)",
    "SELECT printf('job %s: submission %s does not exist', j.id, j.submission_id) FROM jobs j"
    " WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.id = j.submission_id)",
    "SELECT printf('job %s: status %d is not a job status', id, status) FROM jobs"
    " WHERE status NOT BETWEEN 0 AND 8",
    "SELECT printf('job %s: status %d but no time for it', id, status) FROM jobs"
    " WHERE CASE status WHEN 0 THEN ts0 WHEN 1 THEN ts1 WHEN 2 THEN ts2 WHEN 3 THEN ts3"
    " WHEN 4 THEN ts4 WHEN 5 THEN ts5 WHEN 6 THEN ts6 WHEN 7 THEN ts7 WHEN 8 THEN ts8 END = 0",
    "SELECT printf('job %s: status %d but its history ends with %d', j.id, j.status,"
    " (SELECT h.status FROM job_history h WHERE h.job_seq = j.seq ORDER BY h.rowid DESC LIMIT 1))"
    " FROM jobs j WHERE j.status IS NOT (SELECT h.status FROM job_history h"
    " WHERE h.job_seq = j.seq ORDER BY h.rowid DESC LIMIT 1)",
    "SELECT printf('submission %s: finished, but job %s is not', s.id, j.id)"
    " FROM submissions s JOIN jobs j ON j.submission_id = s.id"
    " WHERE s.finished_us > 0 AND j.status < 4",
    "SELECT printf('data node %s: edited by job %s, which did not complete', e.dn_id, e.job_id)"
    " FROM dn_edits e JOIN jobs j ON j.id = e.job_id WHERE j.status <> 6",
    "SELECT printf('data node %s: job %s''s result recorded %d times', dn_id, job_id, count(*))"
    " FROM dn_edits WHERE job_id LIKE 'JOB\\_%' ESCAPE '\\' GROUP BY dn_id, job_id"
    " HAVING count(*) > 1", /* an editor's name (no JOB_) may edit a node any number of times */
    "SELECT printf('dn_edits: data node %s does not exist', e.dn_id) FROM dn_edits e"
    " WHERE NOT EXISTS (SELECT 1 FROM data_nodes d WHERE d.id = e.dn_id)",
    "SELECT printf('scenario %s: cycle %s does not exist', s.id, s.cycle_id) FROM scenarios s"
    " WHERE s.cycle_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cycles c WHERE c.id = s.cycle_id)",
    "SELECT printf('data node %s: cycle %s does not exist', d.id, d.cycle_id) FROM data_nodes d"
    " WHERE d.cycle_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cycles c WHERE c.id = d.cycle_id)",
    "SELECT printf('cycle %s: %d primary scenarios', cycle_id, count(*)) FROM scenarios"
    " WHERE cycle_id IS NOT NULL AND is_primary GROUP BY cycle_id HAVING count(*) > 1",
};

_Static_assert(WEFT_JOB_COMPLETED == 6, "the dn_edits check reads 6 as COMPLETED");

/* What no live orchestrator can explain: a job RUNNING with nobody to
 * finish it (the next read-write open recovers it). */
#define RUNNING_ORPHANS                                                                     \
    "SELECT printf('job %s is RUNNING but no orchestrator holds the storage folder (opening " \
    "it read-write recovers it)', id) FROM jobs WHERE status = 3"

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

/* Runs one check; appends its lines (at most MAX_LINES, then one "..."). */
static weft_err run_check(weft__store *s, const char *sql, lines *out, char *err)
{
    sqlite3 *db = weft__store_sqlite(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return weft__err(err, WEFT_ESTORE, "%s: cannot check: %s", weft__store_path(s),
                         sqlite3_errmsg(db));
    weft_err e = WEFT_OK;
    int rc, k = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && strcmp(t, "ok") == 0) continue; /* integrity_check's all-clear */
        if (k++ == MAX_LINES) t = "... (more of the same)";
        else if (k > MAX_LINES) continue;
        char *line = strdup(t ? t : "?");
        if (!line || WEFT__GROW(out->v, out->n + 1, out->cap)) {
            free(line);
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        out->v[out->n++] = line;
    }
    if (!e && rc != SQLITE_DONE)
        e = weft__err(err, WEFT_ESTORE, "%s: cannot check: %s", weft__store_path(s),
                      sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return e;
}

weft_err weft__store_check(weft__store *s, bool owner_alive, char ***problems, size_t *n,
                           char *err)
{
    lines out = {0};
    weft_err e = run_check(s, "PRAGMA integrity_check", &out, err);
    for (size_t i = 0; !e && i < sizeof invariants / sizeof invariants[0]; i++)
        e = run_check(s, invariants[i], &out, err);
    if (!e && !owner_alive) e = run_check(s, RUNNING_ORPHANS, &out, err);
    if (e) {
        for (size_t i = 0; i < out.n; i++) free(out.v[i]);
        free(out.v);
        return e;
    }
    *problems = out.v;
    *n = out.n;
    return WEFT_OK;
}
