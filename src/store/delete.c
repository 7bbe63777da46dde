/* SPDX-License-Identifier: MIT */
/*
 * delete.c - deleting entities from the store: the set of what one deletion
 * takes (jobs, submissions, scenarios, cycles, data nodes) is collected in
 * temporary tables of the connection, checked for unfinished jobs, then
 * every row of it is deleted in the caller's one transaction, so a failure
 * or a crash before the commit leaves the store as it was.  Files are the
 * caller's business, after the commit.
 *
 * Cost: an index range per deleted row, plus one read of the sequence
 * submissions per deletion (they name their scenario inside their id);
 * `clean --older-than` also reads the submissions table a few times.
 */
#include "store/store_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* Sequence submissions: their entity is "SEQUENCE_<name>_<scenario id>"
 * (weft_sequence_id), an index range of submissions_entity; the scenario id
 * starts at the first "_SCENARIO_", since `weft check` refuses a sequence
 * name that contains "SCENARIO" (Taipy reserves it). */
#define SEQ_SUBS " s.entity_id >= 'SEQUENCE_' AND s.entity_id < 'SEQUENCE`'"
#define SEQ_SCENARIO " substr(s.entity_id, instr(s.entity_id, '_SCENARIO_') + 1)"

static weft_err sql_err(weft__store *s, char *err, const char *what)
{
    return weft__err(err, WEFT_ESTORE, "%s: %s: %s", weft__store_path(s), what,
                     sqlite3_errmsg(weft__store_sqlite(s)));
}

/* Runs one statement with ?1 = text (may be NULL: unbound) and ?2 = num;
 * *changes (may be NULL) gets the rows it changed. */
static weft_err run1(weft__store *s, const char *sql, const char *text, int64_t num,
                     size_t *changes, char *err)
{
    sqlite3 *db = weft__store_sqlite(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot prepare a deletion");
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, num);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    weft_err e = rc == SQLITE_DONE ? WEFT_OK : sql_err(s, err, "cannot delete");
    if (!e && changes) *changes = (size_t)sqlite3_changes(db);
    sqlite3_finalize(st);
    return e;
}

/* One integer of a query with ?1 = text. */
static weft_err count1(weft__store *s, const char *sql, const char *text, size_t *n, char *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot count");
    if (text) sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    weft_err e = WEFT_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(st, 0);
    else
        e = sql_err(s, err, "cannot count");
    sqlite3_finalize(st);
    return e;
}

weft_err weft__store_begin_read(weft__store *s, char *err)
{
    return run1(s, "BEGIN", NULL, 0, NULL, err);
}

weft_err weft__store_del_begin(weft__store *s, char *err)
{
    static const char *const sql[] = {
        "CREATE TEMP TABLE IF NOT EXISTS del_scn(id TEXT PRIMARY KEY)",
        "CREATE TEMP TABLE IF NOT EXISTS del_sub(id TEXT PRIMARY KEY)",
        "CREATE TEMP TABLE IF NOT EXISTS del_job(seq INTEGER PRIMARY KEY)",
        "CREATE TEMP TABLE IF NOT EXISTS del_dn(id TEXT PRIMARY KEY)",
        "CREATE TEMP TABLE IF NOT EXISTS del_cyc(id TEXT PRIMARY KEY)",
        "DELETE FROM temp.del_scn", "DELETE FROM temp.del_sub",
        "DELETE FROM temp.del_job", "DELETE FROM temp.del_dn", "DELETE FROM temp.del_cyc",
    };
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < sizeof sql / sizeof sql[0]; i++)
        e = run1(s, sql[i], NULL, 0, NULL, err);
    return e;
}

/* The jobs of the set's submissions join the set.  CROSS JOIN keeps the
 * set outermost: SQLite has no statistics on the temporary tables and
 * would otherwise scan every job. */
static weft_err add_sub_jobs(weft__store *s, char *err)
{
    return run1(s,
                "INSERT OR IGNORE INTO del_job SELECT j.seq FROM del_sub d"
                " CROSS JOIN jobs j ON j.submission_id = d.id",
                NULL, 0, NULL, err);
}

/* The submissions of the set's scenarios (of the scenario, of one of its
 * tasks, of one of its sequences: only sequence submissions are read for
 * those), their jobs and the scenarios' own data nodes join the set. */
static weft_err add_scn_children(weft__store *s, char *err)
{
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO del_sub SELECT s.id FROM del_scn d"
        " CROSS JOIN submissions s ON s.entity_id = d.id",
        "INSERT OR IGNORE INTO del_sub SELECT s.id FROM del_scn d"
        " CROSS JOIN tasks t ON t.scenario_id = d.id CROSS JOIN submissions s"
        " ON s.entity_id = t.id",
        "INSERT OR IGNORE INTO del_sub SELECT s.id FROM submissions s WHERE" SEQ_SUBS
        " AND" SEQ_SCENARIO " IN (SELECT id FROM del_scn)",
        "INSERT OR IGNORE INTO del_dn SELECT n.id FROM del_scn d"
        " CROSS JOIN data_nodes n ON n.scenario_id = d.id",
    };
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < sizeof sql / sizeof sql[0]; i++)
        e = run1(s, sql[i], NULL, 0, NULL, err);
    return e ? e : add_sub_jobs(s, err);
}

weft_err weft__store_del_job(weft__store *s, const char *id, char *err)
{
    size_t n = 0;
    weft_err e = run1(s, "INSERT OR IGNORE INTO del_job SELECT seq FROM jobs WHERE id = ?1", id, 0,
                      &n, err);
    if (!e && !n) e = weft__err(err, WEFT_ENOTFOUND, "no job %s (see 'weft jobs')", id);
    return e;
}

weft_err weft__store_del_submission(weft__store *s, const char *id, char *err)
{
    size_t n = 0;
    weft_err e = run1(s, "INSERT OR IGNORE INTO del_sub SELECT id FROM submissions WHERE id = ?1",
                      id, 0, &n, err);
    if (!e && !n) e = weft__err(err, WEFT_ENOTFOUND, "no submission %s (see 'weft submissions')", id);
    return e ? e : add_sub_jobs(s, err);
}

weft_err weft__store_del_scenario(weft__store *s, const char *id, char *err)
{
    size_t n = 0;
    weft_err e = run1(s, "INSERT OR IGNORE INTO del_scn SELECT id FROM scenarios WHERE id = ?1",
                      id, 0, &n, err);
    if (!e && !n) e = weft__err(err, WEFT_ENOTFOUND, "no scenario %s (see 'weft scenarios')", id);
    return e ? e : add_scn_children(s, err);
}

static weft_err texts(weft__store *s, const char *sql, char ***out, char ***second, size_t *n,
                      char *err);

/* A cycle: its scenarios (with what goes with them) and the data nodes it
 * owns (CYCLE scope) join the set. */
weft_err weft__store_del_cycle(weft__store *s, const char *id, char *err)
{
    size_t n = 0;
    weft_err e = run1(s, "INSERT OR IGNORE INTO del_cyc SELECT id FROM cycles WHERE id = ?1", id, 0,
                      &n, err);
    if (!e && !n) e = weft__err(err, WEFT_ENOTFOUND, "no cycle %s (see 'weft cycles')", id);
    if (!e)
        e = run1(s, "INSERT OR IGNORE INTO del_scn SELECT id FROM scenarios WHERE cycle_id = ?1", id,
                 0, NULL, err);
    if (!e)
        e = run1(s, "INSERT OR IGNORE INTO del_dn SELECT id FROM data_nodes WHERE cycle_id = ?1", id,
                 0, NULL, err);
    return e ? e : add_scn_children(s, err);
}

/* Taipy's is_deletable: the primary scenario of a cycle goes only with the
 * other scenarios of that cycle.  *cycle_id (caller frees) names the cycle
 * that would keep scenarios without their primary one, NULL when none. */
weft_err weft__store_del_primary_left(weft__store *s, char **cycle_id, char *err)
{
    char **ids = NULL;
    size_t n = 0;
    weft_err e = texts(s,
                       "SELECT p.cycle_id FROM del_scn d CROSS JOIN scenarios p ON p.id = d.id"
                       " WHERE p.is_primary = 1 AND p.cycle_id IS NOT NULL AND EXISTS"
                       " (SELECT 1 FROM scenarios o WHERE o.cycle_id = p.cycle_id"
                       "  AND o.id NOT IN (SELECT id FROM del_scn)) LIMIT 1",
                       &ids, NULL, &n, err);
    *cycle_id = NULL;
    if (!e && n) {
        *cycle_id = ids[0];
        ids[0] = NULL;
    }
    weft_strv_free(ids, n);
    return e;
}

weft_err weft__store_del_version(weft__store *s, const char *version, char *err)
{
    size_t n = 0;
    weft_err e = count1(s, "SELECT count(*) FROM versions WHERE name = ?1", version, &n, err);
    if (!e && !n) return weft__err(err, WEFT_ENOTFOUND, "no version %s (see 'weft versions')", version);
    if (!e)
        e = run1(s, "INSERT OR IGNORE INTO del_scn SELECT id FROM scenarios WHERE version = ?1",
                 version, 0, NULL, err);
    if (!e)
        e = run1(s, "INSERT OR IGNORE INTO del_sub SELECT id FROM submissions WHERE version = ?1",
                 version, 0, NULL, err);
    if (!e)
        e = run1(s, "INSERT OR IGNORE INTO del_job SELECT seq FROM jobs WHERE version = ?1",
                 version, 0, NULL, err);
    return e ? e : add_scn_children(s, err);
}

weft_err weft__store_del_all(weft__store *s, char *err)
{
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO del_scn SELECT id FROM scenarios",
        "INSERT OR IGNORE INTO del_sub SELECT id FROM submissions",
        "INSERT OR IGNORE INTO del_job SELECT seq FROM jobs",
        "INSERT OR IGNORE INTO del_dn SELECT id FROM data_nodes",
        "INSERT OR IGNORE INTO del_cyc SELECT id FROM cycles",
    };
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < sizeof sql / sizeof sql[0]; i++)
        e = run1(s, sql[i], NULL, 0, NULL, err);
    return e;
}

weft_err weft__store_del_older(weft__store *s, int64_t before_us, char *err)
{
    /* The old finished submissions; the old scenarios; minus those that
     * keep a submission (of them, of a task of theirs, of a sequence). */
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO del_sub SELECT id FROM submissions"
        " WHERE finished_us > 0 AND created_us < ?2",
        "INSERT OR IGNORE INTO del_scn SELECT id FROM scenarios WHERE created_us < ?2",
        "DELETE FROM del_scn WHERE id IN (SELECT s.entity_id FROM submissions s"
        " WHERE s.id NOT IN (SELECT id FROM del_sub))",
        "DELETE FROM del_scn WHERE id IN (SELECT t.scenario_id FROM submissions s"
        " JOIN tasks t ON t.id = s.entity_id WHERE s.id NOT IN (SELECT id FROM del_sub))",
        "DELETE FROM del_scn WHERE id IN (SELECT" SEQ_SCENARIO " FROM submissions s WHERE"
        SEQ_SUBS " AND s.id NOT IN (SELECT id FROM del_sub))",
    };
    weft_err e = WEFT_OK;
    for (size_t i = 0; !e && i < sizeof sql / sizeof sql[0]; i++)
        e = run1(s, sql[i], NULL, before_us, NULL, err);
    return e ? e : add_scn_children(s, err);
}

weft_err weft__store_del_unfinished(weft__store *s, char **job_id, char **sub_id,
                                    weft_job_status *status, char *err)
{
    *job_id = *sub_id = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s),
                           "SELECT id, submission_id, status FROM jobs WHERE status < 4"
                           " AND seq IN (SELECT seq FROM del_job) ORDER BY seq LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot read jobs");
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    if (rc == SQLITE_ROW) {
        *job_id = strdup((const char *)sqlite3_column_text(st, 0));
        *sub_id = strdup((const char *)sqlite3_column_text(st, 1));
        *status = (weft_job_status)sqlite3_column_int(st, 2);
        if (!*job_id || !*sub_id) {
            free(*job_id);
            free(*sub_id);
            *job_id = *sub_id = NULL;
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
        }
    } else if (rc != SQLITE_DONE) {
        e = sql_err(s, err, "cannot read jobs");
    }
    sqlite3_finalize(st);
    return e;
}

/* Every first column of `sql` as text, for the caller (weft_strv_free). */
static weft_err texts(weft__store *s, const char *sql, char ***out, char ***second, size_t *n,
                      char *err)
{
    *out = NULL;
    if (second) *second = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(weft__store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK)
        return sql_err(s, err, "cannot read");
    char **v = NULL, **w = NULL;
    size_t len = 0, cap = 0, capw = 0;
    weft_err e = WEFT_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (WEFT__GROW(v, len + 1, cap) || (second && WEFT__GROW(w, len + 1, capw))) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        v[len] = strdup((const char *)sqlite3_column_text(st, 0));
        if (second) w[len] = strdup((const char *)sqlite3_column_text(st, 1));
        len++;
        if (!v[len - 1] || (second && !w[len - 1])) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE) e = sql_err(s, err, "cannot read");
    sqlite3_finalize(st);
    if (e) {
        weft_strv_free(v, len);
        if (second) weft_strv_free(w, len);
        return e;
    }
    *out = v;
    if (second) *second = w;
    *n = len;
    return WEFT_OK;
}

weft_err weft__store_del_unfinished_subs(weft__store *s, char ***ids, size_t *n, char *err)
{
    return texts(s,
                 "SELECT DISTINCT submission_id FROM jobs WHERE status < 4"
                 " AND seq IN (SELECT seq FROM del_job)",
                 ids, NULL, n, err);
}

/* Whether `path` is the file weft generated for data node `id`:
 * ".../data/<id>.<ext>". */
static bool generated(const char *path, const char *id)
{
    const char *base = strrchr(path, '/');
    if (!base || base - path < 5 || strncmp(base - 5, "/data", 5) != 0) return false;
    size_t n = strlen(id);
    return strncmp(base + 1, id, n) == 0 && base[1 + n] == '.';
}

/* The generated files of the set's data nodes (before their rows go). */
static weft_err del_paths(weft__store *s, char ***paths, size_t *npaths, char *err)
{
    char **ids, **p;
    size_t n;
    weft_err e = texts(s,
                       "SELECT n.id, n.path FROM del_dn d JOIN data_nodes n ON n.id = d.id"
                       " WHERE n.path IS NOT NULL",
                       &ids, &p, &n, err);
    if (e) return e;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (generated(p[i], ids[i]))
            p[k++] = p[i];
        else
            free(p[i]);
    }
    weft_strv_free(ids, n);
    *paths = p;
    *npaths = k;
    return WEFT_OK;
}

weft_err weft__store_del_counts(weft__store *s, weft_delete_counts *c, char *err)
{
    memset(c, 0, sizeof *c);
    weft_err e = count1(s, "SELECT count(*) FROM del_scn", NULL, &c->scenarios, err);
    if (!e)
        e = count1(s, "SELECT count(*) FROM tasks WHERE scenario_id IN (SELECT id FROM del_scn)",
                   NULL, &c->tasks, err);
    if (!e) e = count1(s, "SELECT count(*) FROM del_dn", NULL, &c->data_nodes, err);
    if (!e) e = count1(s, "SELECT count(*) FROM del_sub", NULL, &c->submissions, err);
    if (!e) e = count1(s, "SELECT count(*) FROM del_job", NULL, &c->jobs, err);
    if (!e) e = count1(s, "SELECT count(*) FROM del_cyc", NULL, &c->cycles, err);
    return e;
}

weft_err weft__store_del_apply(weft__store *s, const char *version, bool all,
                               weft_delete_counts *counts, char ***paths, size_t *npaths,
                               char *err)
{
    static const char *const sql[] = {
        "DELETE FROM job_history WHERE job_seq IN (SELECT seq FROM del_job)",
        "DELETE FROM job_deps WHERE job_seq IN (SELECT seq FROM del_job)"
        " OR upstream_seq IN (SELECT seq FROM del_job)",
        "DELETE FROM jobs WHERE seq IN (SELECT seq FROM del_job)",
        "DELETE FROM submissions WHERE id IN (SELECT id FROM del_sub)",
        "DELETE FROM dn_edits WHERE dn_id IN (SELECT id FROM del_dn)",
        "DELETE FROM data_nodes WHERE id IN (SELECT id FROM del_dn)",
        "DELETE FROM tasks WHERE scenario_id IN (SELECT id FROM del_scn)",
        "DELETE FROM scenarios WHERE id IN (SELECT id FROM del_scn)",
        "DELETE FROM cycles WHERE id IN (SELECT id FROM del_cyc)",
        /* a cycle that lost its primary scenario (a version or a clean took
         * it, not the others): its oldest remaining one is primary */
        "UPDATE scenarios SET is_primary = 1 WHERE seq IN (SELECT min(seq) FROM scenarios"
        " WHERE cycle_id IS NOT NULL GROUP BY cycle_id HAVING max(is_primary) = 0)",
        /* the set itself: a clean's ids are not kept until the next deletion */
        "DELETE FROM temp.del_scn", "DELETE FROM temp.del_sub",
        "DELETE FROM temp.del_job", "DELETE FROM temp.del_dn", "DELETE FROM temp.del_cyc",
    };
    *paths = NULL;
    *npaths = 0;
    weft_err e = weft__store_del_counts(s, counts, err);
    if (!e) e = del_paths(s, paths, npaths, err);
    for (size_t i = 0; !e && i < sizeof sql / sizeof sql[0]; i++)
        e = run1(s, sql[i], NULL, 0, NULL, err);
    if (!e && version)
        e = run1(s, "UPDATE data_nodes SET version = NULL WHERE version = ?1", version, 0, NULL, err);
    if (!e && version) e = run1(s, "DELETE FROM versions WHERE name = ?1", version, 0, NULL, err);
    if (!e && all) e = run1(s, "DELETE FROM versions", NULL, 0, NULL, err);
    if (e) {
        weft_strv_free(*paths, *npaths);
        *paths = NULL;
        *npaths = 0;
    }
    return e;
}

weft_err weft__store_dn_exists(weft__store *s, const char *id, bool *exists, char *err)
{
    size_t n = 0;
    weft_err e = count1(s, "SELECT count(*) FROM data_nodes WHERE id = ?1", id, &n, err);
    *exists = n > 0;
    return e;
}
