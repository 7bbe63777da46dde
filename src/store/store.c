/* SPDX-License-Identifier: MIT */
/*
 * store.c - the SQLite store (see store.h): opening in WAL mode with a busy
 * timeout, the versioned schema and its migration steps, cached prepared
 * statements, and every read and write the orchestrator makes.
 *
 * Cost model: every write touches O(1) rows through an index (jobs are
 * updated by their integer row, never by scanning a submission), and the
 * orchestrator batches the writes of one step in one transaction, so a
 * commit (and its fsync) is paid per batch, not per job.  Status times live
 * in nine columns of the job row (ts0..ts8, indexed by weft_job_status), the
 * full history in job_history.
 */
#include "store/store_internal.h"
#include "job/status.h"
#include "util/util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- schema ---- */

/* Migration step i brings a store from version i to i + 1.  Append only:
 * a released step is never edited, a change is a new step. */
static const char *const migrations[] = {
    /* 0 -> 1: the entities */
    "CREATE TABLE scenarios("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, config_id TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL);"
    "CREATE TABLE tasks("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, config_id TEXT NOT NULL,"
    "  scenario_id TEXT, created_us INTEGER NOT NULL);"
    "CREATE INDEX tasks_scenario ON tasks(scenario_id);"
    "CREATE TABLE data_nodes("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, config_id TEXT NOT NULL,"
    "  scope INTEGER NOT NULL, scenario_id TEXT, path TEXT, created_us INTEGER NOT NULL,"
    "  last_edit_us INTEGER NOT NULL DEFAULT 0, last_edit_job TEXT);"
    "CREATE UNIQUE INDEX data_nodes_owner ON data_nodes(config_id, ifnull(scenario_id, ''));"
    "CREATE TABLE dn_edits(dn_id TEXT NOT NULL, at_us INTEGER NOT NULL, job_id TEXT);"
    "CREATE INDEX dn_edits_dn ON dn_edits(dn_id);"
    "CREATE TABLE submissions("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, entity_id TEXT NOT NULL,"
    "  entity_config_id TEXT, status INTEGER NOT NULL, created_us INTEGER NOT NULL,"
    "  finished_us INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE jobs("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, task_id TEXT NOT NULL,"
    "  task_config_id TEXT NOT NULL, submission_id TEXT NOT NULL, entity_id TEXT,"
    "  status INTEGER NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,"
    "  ts0 INTEGER NOT NULL DEFAULT 0, ts1 INTEGER NOT NULL DEFAULT 0,"
    "  ts2 INTEGER NOT NULL DEFAULT 0, ts3 INTEGER NOT NULL DEFAULT 0,"
    "  ts4 INTEGER NOT NULL DEFAULT 0, ts5 INTEGER NOT NULL DEFAULT 0,"
    "  ts6 INTEGER NOT NULL DEFAULT 0, ts7 INTEGER NOT NULL DEFAULT 0,"
    "  ts8 INTEGER NOT NULL DEFAULT 0, error TEXT, exit_code INTEGER NOT NULL DEFAULT -1,"
    "  signal INTEGER NOT NULL DEFAULT 0, log_tail TEXT, worker TEXT);"
    "CREATE INDEX jobs_submission ON jobs(submission_id, status);"
    "CREATE TABLE job_history(job_seq INTEGER NOT NULL, status INTEGER NOT NULL,"
    "  at_us INTEGER NOT NULL);"
    "CREATE INDEX job_history_job ON job_history(job_seq);"
    "CREATE TABLE job_deps(job_seq INTEGER NOT NULL, upstream_seq INTEGER NOT NULL);"
    "CREATE INDEX job_deps_upstream ON job_deps(upstream_seq);",

    /* 1 -> 2: cancel requests from other processes; recovery finds
     * unfinished jobs (status < CANCELED) without a scan */
    "CREATE TABLE cancel_requests("
    "  seq INTEGER PRIMARY KEY, target_id TEXT NOT NULL, requested_us INTEGER NOT NULL,"
    "  pid INTEGER NOT NULL, done_us INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_unfinished ON jobs(status) WHERE status < 4;",

    /* 2 -> 3: when a job was handed to an executor (committed before the
     * hand-over, so recovery tells "may have run" from "never started");
     * the file is marked as weft's (WEFT__STORE_APPLICATION_ID) */
    "ALTER TABLE jobs ADD COLUMN dispatched_us INTEGER NOT NULL DEFAULT 0;"
    "PRAGMA application_id = 2003134068;",

    /* 3 -> 4: a submission's jobs newest first, from a cursor (`weft ui`'s
     * /api/jobs?submission=) as one range read: with only (submission_id,
     * status), SQLite sorted all of the submission's jobs for every page.
     * Building it reads the jobs table once (seconds for 1,000,000 jobs). */
    "CREATE INDEX jobs_submission_seq ON jobs(submission_id, seq);",

    /* 4 -> 5: Taipy's cycles.  A scenario of a config with a frequency
     * belongs to the cycle (frequency, start date) of its creation date,
     * one of a cycle's scenarios is primary, and a CYCLE-scoped data node
     * is owned by a cycle: the owner index takes cycle_id.  Dates are naive
     * local ISO datetimes, as Taipy keeps them (docs/CONFIG.md).  Nodes of
     * older stores keep cycle_id NULL, the shared instance they were. */
    "CREATE TABLE cycles("
    "  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, frequency TEXT NOT NULL,"
    "  name TEXT NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,"
    "  creation_date TEXT NOT NULL, created_us INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX cycles_period ON cycles(frequency, start_date);"
    "ALTER TABLE scenarios ADD COLUMN cycle_id TEXT;"
    "ALTER TABLE scenarios ADD COLUMN is_primary INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE scenarios ADD COLUMN creation_date TEXT;"
    "CREATE INDEX scenarios_cycle ON scenarios(cycle_id) WHERE cycle_id IS NOT NULL;"
    "ALTER TABLE data_nodes ADD COLUMN cycle_id TEXT;"
    "DROP INDEX data_nodes_owner;"
    "CREATE UNIQUE INDEX data_nodes_owner2"
    "  ON data_nodes(config_id, ifnull(scenario_id, ''), ifnull(cycle_id, ''));",

    /* 5 -> 6: versions (Taipy's development, experiment and production
     * versions) and the version that created each entity, so a version can
     * be listed and deleted with its entities; job_deps by job_seq, data
     * nodes by owner and submissions by entity, so that a deletion finds
     * what belongs to a scenario or a job by index ranges, not by scanning
     * every edge, node and submission.  What a store had before is tagged
     * "development".  O(store size) once. */
    "CREATE TABLE versions(name TEXT PRIMARY KEY, mode TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL);"
    "ALTER TABLE scenarios ADD COLUMN version TEXT;"
    "ALTER TABLE tasks ADD COLUMN version TEXT;"
    "ALTER TABLE data_nodes ADD COLUMN version TEXT;"
    "ALTER TABLE submissions ADD COLUMN version TEXT;"
    "ALTER TABLE jobs ADD COLUMN version TEXT;"
    "INSERT INTO versions(name, mode, created_us) SELECT 'development', 'development',"
    "  coalesce((SELECT min(created_us) FROM scenarios), (SELECT min(created_us) FROM submissions))"
    "  WHERE EXISTS (SELECT 1 FROM scenarios) OR EXISTS (SELECT 1 FROM submissions);"
    "UPDATE scenarios SET version = 'development';"
    "UPDATE tasks SET version = 'development';"
    "UPDATE data_nodes SET version = 'development';"
    "UPDATE submissions SET version = 'development';"
    "UPDATE jobs SET version = 'development';"
    "CREATE INDEX scenarios_version ON scenarios(version);"
    "CREATE INDEX submissions_version ON submissions(version);"
    "CREATE INDEX jobs_version ON jobs(version);"
    "CREATE INDEX job_deps_job ON job_deps(job_seq);"
    "CREATE INDEX data_nodes_scenario ON data_nodes(scenario_id);"
    "CREATE INDEX submissions_entity ON submissions(entity_id);",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(NMIGRATIONS == WEFT__STORE_VERSION, "one migration step per version");
_Static_assert(WEFT__STORE_APPLICATION_ID == 2003134068, "step 2 -> 3 writes the application id");

/* The SQL of this file writes job statuses as numbers (a released migration
 * step cannot change): renumbering weft_job_status must break the build
 * here, not the stores already written.  "status < 4" means "not final". */
_Static_assert(WEFT_JOB_SUBMITTED == 0, "S_JOB_INSERT writes status 0 for SUBMITTED");
_Static_assert(WEFT_JOB_SUBMITTED < WEFT_JOB_CANCELED && WEFT_JOB_BLOCKED < WEFT_JOB_CANCELED &&
                   WEFT_JOB_PENDING < WEFT_JOB_CANCELED && WEFT_JOB_RUNNING == 3,
               "the unfinished statuses are 0..3: the SQL's \"status < 4\"");
_Static_assert(WEFT_JOB_CANCELED == 4 && WEFT_JOB_FAILED > 4 && WEFT_JOB_COMPLETED > 4 &&
                   WEFT_JOB_SKIPPED > 4 && WEFT_JOB_ABANDONED > 4,
               "the final statuses are 4 and up: the SQL's \"status < 4\"");
_Static_assert(WEFT_JOB_NSTATUS == 9, "one column ts0..ts8 and one S_JOB_STATUS0 statement per "
                                      "status, the status number in its SQL");

/* ---- statements ---- */

enum {
    S_SCENARIO_INSERT, S_SCENARIO_GET, S_TASK_INSERT, S_TASK_GET, S_SCENARIO_TASKS, S_SCENARIOS,
    S_DN_INSERT, S_DN_GET, S_DN_FIND, S_DN_BY_CONFIG, S_DN_EDIT, S_DN_EDIT_HIST, S_DN_NEDITS,
    S_SUB_INSERT, S_SUB_UPDATE, S_JOB_INSERT, S_JOB_DEP, S_JOB_STATUS0,
    S_JOB_HIST = S_JOB_STATUS0 + WEFT_JOB_NSTATUS, S_JOB_WORKER, S_JOB_RESULT, S_JOB_GET,
    S_JOB_HISTORY, S_SUB_GET, S_SUB_LIST, S_SUB_COUNTS, S_UNFINISHED, S_DOWNSTREAM,
    S_CANCEL_INSERT, S_CANCEL_POLL, S_CANCEL_DONE, S_JOB_DISPATCHED, S_VERSION_TOUCH, S_BEGIN,
    S_COMMIT, S_ROLLBACK, S_COUNT
};

#define JOB_COLS                                                                       \
    "id, task_id, task_config_id, submission_id, entity_id, status, attempt, ts0, ts1, " \
    "ts2, ts3, ts4, ts5, ts6, ts7, ts8, error, exit_code, signal, log_tail, worker"
#define SUB_COLS "id, entity_id, entity_config_id, status, created_us, finished_us"

static const char *sql_text(int i)
{
    /* Statement S_JOB_STATUS0 + n sets status n and its time column tsn. */
#define STATUS_SQL(n)                                                                  \
    "UPDATE jobs SET status = " #n ", ts" #n " = ?2, error = coalesce(?3, error) WHERE seq = ?1"
    static const char *const status_sql[WEFT_JOB_NSTATUS] = {
        STATUS_SQL(0), STATUS_SQL(1), STATUS_SQL(2), STATUS_SQL(3), STATUS_SQL(4),
        STATUS_SQL(5), STATUS_SQL(6), STATUS_SQL(7), STATUS_SQL(8),
    };
#undef STATUS_SQL
    if (i >= S_JOB_STATUS0 && i < S_JOB_STATUS0 + WEFT_JOB_NSTATUS)
        return status_sql[i - S_JOB_STATUS0];
    switch (i) {
    case S_SCENARIO_INSERT:
        return "INSERT INTO scenarios(id, config_id, created_us, version) VALUES(?1, ?2, ?3, ?4)";
    case S_SCENARIO_GET: return "SELECT config_id FROM scenarios WHERE id = ?1";
    case S_TASK_INSERT:
        return "INSERT INTO tasks(id, config_id, scenario_id, created_us, version)"
               " VALUES(?1, ?2, ?3, ?4, ?5)";
    case S_TASK_GET: return "SELECT config_id, scenario_id FROM tasks WHERE id = ?1";
    case S_SCENARIO_TASKS:
        return "SELECT id, config_id FROM tasks WHERE scenario_id = ?1 ORDER BY seq";
    case S_SCENARIOS: return "SELECT id, config_id FROM scenarios ORDER BY seq";
    case S_DN_INSERT:
        return "INSERT INTO data_nodes(id, config_id, scope, scenario_id, path, created_us,"
               " cycle_id, version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    case S_DN_GET:
        return "SELECT id, config_id, scope, scenario_id, path, last_edit_us, last_edit_job,"
               " cycle_id FROM data_nodes WHERE id = ?1";
    case S_DN_FIND:
        return "SELECT id, config_id, scope, scenario_id, path, last_edit_us, last_edit_job,"
               " cycle_id FROM data_nodes WHERE config_id = ?1 AND ifnull(scenario_id, '') = ifnull(?2, '')"
               " AND ifnull(cycle_id, '') = ifnull(?3, '')";
    case S_DN_BY_CONFIG:
        return "SELECT id FROM data_nodes WHERE config_id = ?1 ORDER BY seq LIMIT 2";
    case S_DN_EDIT:
        return "UPDATE data_nodes SET last_edit_us = ?2, last_edit_job = ?3 WHERE id = ?1";
    case S_DN_EDIT_HIST: return "INSERT INTO dn_edits(dn_id, at_us, job_id) VALUES(?1, ?2, ?3)";
    case S_DN_NEDITS: return "SELECT count(*) FROM dn_edits WHERE dn_id = ?1";
    case S_SUB_INSERT:
        return "INSERT INTO submissions(id, entity_id, entity_config_id, status, created_us,"
               " version) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
    case S_SUB_UPDATE:
        return "UPDATE submissions SET status = ?2, finished_us = ?3 WHERE seq = ?1";
    case S_JOB_INSERT:
        return "INSERT INTO jobs(id, task_id, task_config_id, submission_id, entity_id, status,"
               " attempt, ts0, version) VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8)";
    case S_JOB_DEP: return "INSERT INTO job_deps(job_seq, upstream_seq) VALUES(?1, ?2)";
    case S_JOB_HIST: return "INSERT INTO job_history(job_seq, status, at_us) VALUES(?1, ?2, ?3)";
    case S_JOB_WORKER: return "UPDATE jobs SET worker = ?2, attempt = ?3 WHERE seq = ?1";
    case S_JOB_RESULT:
        return "UPDATE jobs SET exit_code = ?2, signal = ?3, log_tail = ?4 WHERE seq = ?1";
    case S_JOB_GET: return "SELECT " JOB_COLS " FROM jobs WHERE id = ?1";
    case S_JOB_HISTORY:
        return "SELECT h.status, h.at_us FROM job_history h JOIN jobs j ON j.seq = h.job_seq"
               " WHERE j.id = ?1 ORDER BY h.rowid";
    case S_SUB_GET: return "SELECT " SUB_COLS " FROM submissions WHERE id = ?1";
    case S_SUB_LIST: return "SELECT " SUB_COLS " FROM submissions ORDER BY seq";
    case S_SUB_COUNTS:
        return "SELECT status, count(*) FROM jobs WHERE submission_id = ?1 GROUP BY status";
    case S_UNFINISHED:
        return "SELECT seq, id, submission_id, status, dispatched_us FROM jobs WHERE status < 4"
               " ORDER BY seq";
    case S_DOWNSTREAM: return "SELECT job_seq FROM job_deps WHERE upstream_seq = ?1";
    case S_CANCEL_INSERT:
        return "INSERT INTO cancel_requests(target_id, requested_us, pid) VALUES(?1, ?2, ?3)";
    case S_CANCEL_POLL:
        return "SELECT seq, target_id FROM cancel_requests WHERE seq > ?1 AND done_us = 0"
               " ORDER BY seq";
    case S_CANCEL_DONE:
        return "UPDATE cancel_requests SET done_us = ?2 WHERE seq <= ?1 AND done_us = 0";
    case S_JOB_DISPATCHED: return "UPDATE jobs SET dispatched_us = ?2 WHERE seq = ?1";
    case S_VERSION_TOUCH:
        return "INSERT OR IGNORE INTO versions(name, mode, created_us) VALUES(?1, ?2, ?3)";
    case S_BEGIN: return "BEGIN IMMEDIATE";
    case S_COMMIT: return "COMMIT";
    case S_ROLLBACK: return "ROLLBACK";
    }
    return NULL;
}

struct weft__store {
    sqlite3 *db;
    char *path;
    bool read_only;
    char *version;      /* tags the entities inserted (weft__store_set_version) */
    char *version_mode;
    sqlite3_stmt *st[S_COUNT];
};

static weft_err db_err(weft__store *s, char *err, const char *what)
{
    return weft__err(err, WEFT_ESTORE, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* The cached statement i, reset and unbound; NULL after writing err. */
static sqlite3_stmt *stmt(weft__store *s, int i, char *err)
{
    if (!s->st[i]) {
        if (sqlite3_prepare_v3(s->db, sql_text(i), -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            db_err(s, err, "cannot prepare a statement");
            return NULL;
        }
    }
    return s->st[i];
}

/* Ends a statement's use: reset + clear bindings (so text is not kept). */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Runs a write statement to completion. */
static weft_err run(weft__store *s, sqlite3_stmt *st, char *err, const char *what)
{
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) e = db_err(s, err, what);
    done(st);
    return e;
}

static char *col_text(sqlite3_stmt *st, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *r = strdup((const char *)t);
    if (!r) *oom = true;
    return r;
}

static weft_err exec(weft__store *s, const char *sql, char *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        weft__err(err, WEFT_ESTORE, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return WEFT_ESTORE;
    }
    return WEFT_OK;
}

/* ---- collecting rows ----
 * Every list this store returns is "step a statement, one array element per
 * row": one loop, told by a row_kind how to fill and free an element.  The
 * array is grown through weft__grow_array() with the element size, so it
 * keeps its caller's type (no void ** between the caller and this loop). */
typedef struct row_kind {
    size_t size; /* of one element */
    /* Fills a zeroed element from the current row; false on ENOMEM (what it
     * filled is freed by release). */
    bool (*fill)(sqlite3_stmt *st, void *elem);
    /* Frees an array of n elements and what they hold. */
    void (*release)(void *v, size_t n);
    const char *what; /* for a read error: "cannot list jobs" */
} row_kind;

/* The release of elements that hold no pointers. */
static void free_rows(void *v, size_t n)
{
    (void)n;
    free(v);
}

typedef struct rows {
    void *v;  /* caller frees with its kind's release(); NULL when there was no row */
    size_t n;
} rows;

/* Steps `st` to its end (it is reset after, not finalized) and collects
 * its rows.  On failure nothing is left to free and *out is untouched. */
static weft_err collect_rows(weft__store *s, sqlite3_stmt *st, const row_kind *k, rows *out,
                             char *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    weft_err e = WEFT_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *grown = weft__grow_array(v, &cap, len + 1, k->size);
        if (len + 1 > cap) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
        v = grown;
        char *elem = v + len * k->size;
        memset(elem, 0, k->size);
        len++; /* counted before it is filled: release() frees a partial one */
        if (!k->fill(st, elem)) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            break;
        }
    }
    if (!e && rc != SQLITE_DONE) e = db_err(s, err, k->what);
    done(st);
    if (e) {
        k->release(v, len);
        return e;
    }
    out->v = v;
    out->n = len;
    return WEFT_OK;
}

static int user_version(weft__store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int weft__store_version(weft__store *s) { return user_version(s); }

/* Applies the missing steps up to `target` in one transaction: a migration
 * either happens whole or not at all. */
static weft_err migrate(weft__store *s, int target, char *err)
{
    weft_err e = exec(s, "BEGIN IMMEDIATE", err);
    if (e) return e;
    int v = user_version(s);
    if (v < 0) {
        e = db_err(s, err, "cannot read the schema version");
        goto fail;
    }
    if (v > WEFT__STORE_VERSION) {
        e = weft__err(err, WEFT_ESTORE,
                      "%s: the store has schema version %d, newer than this weft (%d)", s->path,
                      v, WEFT__STORE_VERSION);
        goto fail;
    }
    for (int i = v; i < target; i++) {
        if ((e = exec(s, migrations[i], err)) != WEFT_OK) goto fail;
    }
    if (v < target) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", target);
        if ((e = exec(s, sql, err)) != WEFT_OK) goto fail;
    }
    return exec(s, "COMMIT", err);
fail:
    exec(s, "ROLLBACK", NULL);
    return e;
}

/* One integer of a PRAGMA or query, or the SQLite error code (< 0 as -rc). */
static int64_t query_int(weft__store *s, const char *sql)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return -(int64_t)rc;
    rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -(int64_t)rc;
    sqlite3_finalize(st);
    return v;
}

/*
 * Whose file this is, read before anything is written to it (switching to
 * WAL already rewrites the header): weft's (our application_id), an older
 * weft store (no application_id, versions 1..2, a jobs table), a new
 * empty database, or someone else's, which is refused and left unchanged.
 */
static weft_err identify(weft__store *s, char *err)
{
    int64_t app = query_int(s, "PRAGMA application_id");
    if (app < 0) {
        int rc = (int)(-app & 0xff);
        if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
            return weft__err(err, WEFT_ESTORE,
                             "%s is corrupt (%s): move it aside; weft will create a new store",
                             s->path, sqlite3_errstr(rc));
        return db_err(s, err, "cannot read the application id");
    }
    if (app == WEFT__STORE_APPLICATION_ID) return WEFT_OK;
    int64_t ntables = query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    int64_t jobs = query_int(s, "SELECT count(*) FROM sqlite_master"
                                " WHERE type = 'table' AND name = 'jobs'");
    int v = user_version(s);
    if (ntables < 0 || jobs < 0) return db_err(s, err, "cannot read the schema");
    if (app == 0 && ntables == 0 && v == 0) return WEFT_OK; /* new */
    if (app == 0 && jobs == 1 && v >= 1 && v < 3) return WEFT_OK; /* before application_id */
    return weft__err(err, WEFT_ESTORE,
                     "%s is not a weft store (application_id 0x%08llx, %lld tables, "
                     "user_version %d): weft leaves it unchanged; move it aside or use another "
                     "storage folder",
                     s->path, (unsigned long long)(uint32_t)app, (long long)ntables, v);
}

static weft_err open_store(const char *path, bool read_only, int version, weft__store **out,
                           char *err)
{
    *out = NULL;
    if (read_only && access(path, F_OK) != 0)
        return weft__err(err, WEFT_ENOTFOUND, "no store at %s (nothing was submitted yet)", path);
    weft__store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    s->read_only = read_only;
    /* Readers open read-write too: they record cancel requests. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (read_only ? 0 : SQLITE_OPEN_CREATE);
    weft_err e;
    if ((e = weft__store_file_check(path, err)) || (e = weft__store_side_modes(path, err)))
        goto fail;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        e = weft__err(err, WEFT_ESTORE, "cannot open %s: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    if ((e = identify(s, err))) goto fail;
    if (!read_only) {
        /* WAL: readers in other processes never block the writer nor see a
         * half-written batch.  synchronous=FULL: a commit is on disk before
         * the change is reported, so nothing reported is lost on a crash or
         * a power cut; batching keeps the fsyncs per batch, not per job.
         * cache_size: SQLite's default 2 MiB page cache is smaller than one
         * 10,000-job submission, whose transaction then spills pages to the
         * WAL and reads them back before the commit writes them again; up
         * to 64 MiB (allocated only as the store grows) keeps a batch in
         * memory until its commit, which writes each page once. */
        if ((e = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                         "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536;", err)) != WEFT_OK)
            goto fail;
        if ((e = migrate(s, version, err)) != WEFT_OK) goto fail;
    } else {
        int v = user_version(s);
        if (v != WEFT__STORE_VERSION) {
            e = weft__err(err, WEFT_ESTORE,
                          v < WEFT__STORE_VERSION
                              ? "%s: the store has schema version %d, older than this weft (%d); "
                                "open it read-write once to migrate it"
                              : "%s: the store has schema version %d, newer than this weft (%d)",
                          path, v, WEFT__STORE_VERSION);
            goto fail;
        }
    }
    *out = s;
    return WEFT_OK;
fail:
    weft__store_close(s);
    return e;
}

weft_err weft__store_open(const char *path, bool read_only, weft__store **out, char *err)
{
    return open_store(path, read_only, WEFT__STORE_VERSION, out, err);
}

weft_err weft__store_open_version(const char *path, int version, weft__store **out, char *err)
{
    if (version < 0 || version > WEFT__STORE_VERSION)
        return weft__err(err, WEFT_EINVAL, "no schema version %d", version);
    return open_store(path, false, version, out, err);
}

sqlite3 *weft__store_sqlite(weft__store *s) { return s->db; }
const char *weft__store_path(const weft__store *s) { return s->path; }

void weft__store_close(weft__store *s)
{
    if (!s) return;
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s->version);
    free(s->version_mode);
    free(s);
}

weft_err weft__store_set_version(weft__store *s, const char *name, const char *mode, char *err)
{
    char *n = name ? strdup(name) : NULL, *m = mode ? strdup(mode) : NULL;
    if ((name && !n) || (mode && !m)) {
        free(n);
        free(m);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    free(s->version);
    free(s->version_mode);
    s->version = n;
    s->version_mode = m;
    return WEFT_OK;
}

const char *weft__store_get_version(const weft__store *s) { return s->version; }

/* The current version's row, created with the first scenario or submission
 * tagged with it (one indexed lookup per scenario or submission). */
static weft_err version_touch(weft__store *s, int64_t at_us, char *err)
{
    if (!s->version) return WEFT_OK;
    sqlite3_stmt *st = stmt(s, S_VERSION_TOUCH, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, s->version);
    bind_text(st, 2, s->version_mode ? s->version_mode : "development");
    sqlite3_bind_int64(st, 3, at_us);
    return run(s, st, err, "cannot store a version");
}

weft_err weft__store_begin(weft__store *s, char *err)
{
    sqlite3_stmt *st = stmt(s, S_BEGIN, err);
    return st ? run(s, st, err, "cannot begin a transaction") : WEFT_ESTORE;
}

weft_err weft__store_commit(weft__store *s, char *err)
{
    sqlite3_stmt *st = stmt(s, S_COMMIT, err);
    return st ? run(s, st, err, "cannot commit") : WEFT_ESTORE;
}

void weft__store_rollback(weft__store *s)
{
    if (sqlite3_get_autocommit(s->db)) return;
    sqlite3_stmt *st = stmt(s, S_ROLLBACK, NULL);
    if (st) run(s, st, NULL, "rollback");
}

/* ---- scenarios, tasks, data nodes ---- */

weft_err weft__store_scenario_insert(weft__store *s, const char *id, const char *config_id,
                                     int64_t at_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_SCENARIO_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    bind_text(st, 2, config_id);
    sqlite3_bind_int64(st, 3, at_us);
    bind_text(st, 4, s->version);
    weft_err e = run(s, st, err, "cannot store a scenario");
    return e ? e : version_touch(s, at_us, err);
}

/* Reads one row of one or two text columns. */
static weft_err get_texts(weft__store *s, int which, const char *key, char **a, char **b,
                          const char *what, char *err)
{
    sqlite3_stmt *st = stmt(s, which, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    bool oom = false;
    if (rc == SQLITE_ROW) {
        *a = col_text(st, 0, &oom);
        if (b) *b = col_text(st, 1, &oom);
        if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no %s %s", what, key);
    } else {
        e = db_err(s, err, "cannot read");
    }
    done(st);
    if (e) {
        free(*a);
        *a = NULL;
        if (b) {
            free(*b);
            *b = NULL;
        }
    }
    return e;
}

weft_err weft__store_scenario_get(weft__store *s, const char *id, char **config_id, char *err)
{
    *config_id = NULL;
    return get_texts(s, S_SCENARIO_GET, id, config_id, NULL, "scenario", err);
}

weft_err weft__store_task_insert(weft__store *s, const char *id, const char *config_id,
                                 const char *scenario_id, int64_t at_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_TASK_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    bind_text(st, 2, config_id);
    bind_text(st, 3, scenario_id);
    sqlite3_bind_int64(st, 4, at_us);
    bind_text(st, 5, s->version);
    return run(s, st, err, "cannot store a task");
}

weft_err weft__store_task_get(weft__store *s, const char *id, char **config_id,
                              char **scenario_id, char *err)
{
    *config_id = *scenario_id = NULL;
    return get_texts(s, S_TASK_GET, id, config_id, scenario_id, "task", err);
}

/* Two text columns of a row. */
typedef struct text_pair {
    char *a, *b;
} text_pair;

static bool fill_pair(sqlite3_stmt *st, void *elem)
{
    text_pair *p = elem;
    bool oom = false;
    p->a = col_text(st, 0, &oom);
    p->b = col_text(st, 1, &oom);
    return !oom;
}

static void release_pairs(void *v, size_t n)
{
    text_pair *p = v;
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].a);
        free(p[i].b);
    }
    free(p);
}

static const row_kind pair_rows = {sizeof(text_pair), fill_pair, release_pairs, "cannot read"};

/* Collects two text columns of every row into two string arrays (the
 * callers' API: weft_strv_free() each). */
static weft_err list_pairs(weft__store *s, sqlite3_stmt *st, char ***a, char ***b, size_t *n,
                           char *err)
{
    rows r;
    weft_err e = collect_rows(s, st, &pair_rows, &r, err);
    if (e) return e;
    text_pair *p = r.v;
    char **va = r.n ? malloc(r.n * sizeof *va) : NULL;
    char **vb = r.n ? malloc(r.n * sizeof *vb) : NULL;
    if (r.n && (!va || !vb)) {
        free(va);
        free(vb);
        release_pairs(p, r.n);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r.n; i++) {
        va[i] = p[i].a;
        vb[i] = p[i].b;
    }
    free(p);
    *a = va;
    *b = vb;
    *n = r.n;
    return WEFT_OK;
}

weft_err weft__store_scenario_tasks(weft__store *s, const char *scenario_id, char ***ids,
                                    char ***config_ids, size_t *n, char *err)
{
    sqlite3_stmt *st = stmt(s, S_SCENARIO_TASKS, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, scenario_id);
    return list_pairs(s, st, ids, config_ids, n, err);
}

weft_err weft__store_scenarios(weft__store *s, char ***ids, char ***config_ids, size_t *n,
                               char *err)
{
    sqlite3_stmt *st = stmt(s, S_SCENARIOS, err);
    if (!st) return WEFT_ESTORE;
    return list_pairs(s, st, ids, config_ids, n, err);
}

void weft__store_dn_release(weft__store_dn *dn)
{
    free(dn->id);
    free(dn->config_id);
    free(dn->scenario_id);
    free(dn->path);
    free(dn->last_edit_job);
    free(dn->cycle_id);
    memset(dn, 0, sizeof *dn);
}

weft_err weft__store_dn_insert(weft__store *s, const weft__store_dn *dn, int64_t at_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_DN_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, dn->id);
    bind_text(st, 2, dn->config_id);
    sqlite3_bind_int(st, 3, dn->scope);
    bind_text(st, 4, dn->scenario_id);
    bind_text(st, 5, dn->path);
    sqlite3_bind_int64(st, 6, at_us);
    bind_text(st, 7, dn->cycle_id);
    bind_text(st, 8, s->version);
    return run(s, st, err, "cannot store a data node");
}

static weft_err read_dn(weft__store *s, sqlite3_stmt *st, weft__store_dn *out, const char *what,
                        char *err)
{
    memset(out, 0, sizeof *out);
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    if (rc == SQLITE_ROW) {
        bool oom = false;
        out->id = col_text(st, 0, &oom);
        out->config_id = col_text(st, 1, &oom);
        out->scope = (weft_scope)sqlite3_column_int(st, 2);
        out->scenario_id = col_text(st, 3, &oom);
        out->path = col_text(st, 4, &oom);
        out->last_edit_us = sqlite3_column_int64(st, 5);
        out->last_edit_job = col_text(st, 6, &oom);
        out->cycle_id = col_text(st, 7, &oom);
        if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no data node %s", what);
    } else {
        e = db_err(s, err, "cannot read a data node");
    }
    done(st);
    if (e) weft__store_dn_release(out);
    return e;
}

weft_err weft__store_dn_get(weft__store *s, const char *id, weft__store_dn *out, char *err)
{
    sqlite3_stmt *st = stmt(s, S_DN_GET, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    return read_dn(s, st, out, id, err);
}

weft_err weft__store_dn_find(weft__store *s, const char *config_id, const char *scenario_id,
                             weft__store_dn *out, char *err)
{
    return weft__store_dn_find_owned(s, config_id, scenario_id, NULL, out, err);
}

weft_err weft__store_dn_find_owned(weft__store *s, const char *config_id, const char *scenario_id,
                                   const char *cycle_id, weft__store_dn *out, char *err)
{
    sqlite3_stmt *st = stmt(s, S_DN_FIND, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, config_id);
    bind_text(st, 2, scenario_id);
    bind_text(st, 3, cycle_id);
    return read_dn(s, st, out, config_id, err);
}

weft_err weft__store_dn_by_config(weft__store *s, const char *config_id, size_t *n,
                                  char **first_id, char *err)
{
    sqlite3_stmt *st = stmt(s, S_DN_BY_CONFIG, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, config_id);
    *n = 0;
    *first_id = NULL;
    int rc;
    bool oom = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == 0) *first_id = col_text(st, 0, &oom);
        (*n)++;
    }
    weft_err e = WEFT_OK;
    if (rc != SQLITE_DONE) e = db_err(s, err, "cannot read data nodes");
    if (oom) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    done(st);
    if (e) {
        free(*first_id);
        *first_id = NULL;
    }
    return e;
}

weft_err weft__store_dn_edit(weft__store *s, const char *dn_id, int64_t at_us,
                             const char *job_id, char *err)
{
    sqlite3_stmt *st = stmt(s, S_DN_EDIT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, dn_id);
    sqlite3_bind_int64(st, 2, at_us);
    bind_text(st, 3, job_id);
    weft_err e = run(s, st, err, "cannot record a data node edit");
    if (e) return e;
    if (!(st = stmt(s, S_DN_EDIT_HIST, err))) return WEFT_ESTORE;
    bind_text(st, 1, dn_id);
    sqlite3_bind_int64(st, 2, at_us);
    bind_text(st, 3, job_id);
    return run(s, st, err, "cannot record a data node edit");
}

/* A single integer from a one-row query keyed by text. */
static weft_err get_count(weft__store *s, int which, const char *key, size_t *n, char *err)
{
    sqlite3_stmt *st = stmt(s, which, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, key);
    weft_err e = WEFT_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(st, 0);
    else
        e = db_err(s, err, "cannot count");
    done(st);
    return e;
}

weft_err weft__store_dn_nedits(weft__store *s, const char *dn_id, size_t *n, char *err)
{
    return get_count(s, S_DN_NEDITS, dn_id, n, err);
}

/* ---- submissions and jobs ---- */

weft_err weft__store_submission_insert(weft__store *s, const char *id, const char *entity_id,
                                       const char *entity_config_id, int status,
                                       int64_t created_us, int64_t *seq, char *err)
{
    sqlite3_stmt *st = stmt(s, S_SUB_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    bind_text(st, 2, entity_id);
    bind_text(st, 3, entity_config_id);
    sqlite3_bind_int(st, 4, status);
    sqlite3_bind_int64(st, 5, created_us);
    bind_text(st, 6, s->version);
    weft_err e = run(s, st, err, "cannot store a submission");
    if (!e) *seq = sqlite3_last_insert_rowid(s->db);
    return e ? e : version_touch(s, created_us, err);
}

weft_err weft__store_submission_update(weft__store *s, int64_t seq, int status,
                                       int64_t finished_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_SUB_UPDATE, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, status);
    sqlite3_bind_int64(st, 3, finished_us);
    return run(s, st, err, "cannot store a submission status");
}

static weft_err history(weft__store *s, int64_t seq, int status, int64_t at_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_JOB_HIST, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, status);
    sqlite3_bind_int64(st, 3, at_us);
    return run(s, st, err, "cannot store a job status");
}

weft_err weft__store_job_insert(weft__store *s, const weft__store_job *job, int64_t *seq,
                                char *err)
{
    sqlite3_stmt *st = stmt(s, S_JOB_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, job->id);
    bind_text(st, 2, job->task_id);
    bind_text(st, 3, job->task_config_id);
    bind_text(st, 4, job->submission_id);
    bind_text(st, 5, job->entity_id);
    sqlite3_bind_int(st, 6, job->attempt);
    sqlite3_bind_int64(st, 7, job->submitted_us);
    bind_text(st, 8, s->version);
    weft_err e = run(s, st, err, "cannot store a job");
    if (e) return e;
    *seq = sqlite3_last_insert_rowid(s->db);
    return history(s, *seq, WEFT_JOB_SUBMITTED, job->submitted_us, err);
}

/* Runs write statement `which` with two integer parameters. */
static weft_err run_ints(weft__store *s, int which, int64_t a, int64_t b, const char *what,
                         char *err)
{
    sqlite3_stmt *st = stmt(s, which, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    return run(s, st, err, what);
}

weft_err weft__store_job_dep(weft__store *s, int64_t job_seq, int64_t upstream_seq, char *err)
{
    return run_ints(s, S_JOB_DEP, job_seq, upstream_seq, "cannot store a job dependency", err);
}

weft_err weft__store_job_status(weft__store *s, int64_t seq, int status, int64_t at_us,
                                const char *error, char *err)
{
    if (status < 0 || status >= WEFT_JOB_NSTATUS)
        return weft__err(err, WEFT_EINVAL, "no job status %d", status);
    sqlite3_stmt *st = stmt(s, S_JOB_STATUS0 + status, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, at_us);
    bind_text(st, 3, error);
    weft_err e = run(s, st, err, "cannot store a job status");
    return e ? e : history(s, seq, status, at_us, err);
}

weft_err weft__store_job_dispatched(weft__store *s, int64_t seq, int64_t at_us, char *err)
{
    return run_ints(s, S_JOB_DISPATCHED, seq, at_us, "cannot store a job hand-over", err);
}

weft_err weft__store_job_worker(weft__store *s, int64_t seq, const char *worker, int attempt,
                                char *err)
{
    sqlite3_stmt *st = stmt(s, S_JOB_WORKER, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    bind_text(st, 2, worker);
    sqlite3_bind_int(st, 3, attempt);
    return run(s, st, err, "cannot store a job's worker");
}

weft_err weft__store_job_result(weft__store *s, int64_t seq, int exit_code, int signal,
                                const char *log_tail, char *err)
{
    /* A job's result is stored once, when it ends, over the columns' initial
     * values (exit_code -1, signal 0, no log tail): a result that is exactly
     * those (a function task that printed nothing, the common case) changes
     * nothing, and skipping the UPDATE saves one statement in five per job. */
    if (exit_code == -1 && signal == 0 && !log_tail) return WEFT_OK;
    sqlite3_stmt *st = stmt(s, S_JOB_RESULT, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int(st, 2, exit_code);
    sqlite3_bind_int(st, 3, signal);
    bind_text(st, 4, log_tail);
    return run(s, st, err, "cannot store a job's result");
}

static weft_job_info *row_job(sqlite3_stmt *st)
{
    weft_job_info *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    bool oom = false;
    j->id = col_text(st, 0, &oom);
    j->task_id = col_text(st, 1, &oom);
    j->task_config_id = col_text(st, 2, &oom);
    j->submission_id = col_text(st, 3, &oom);
    j->entity_id = col_text(st, 4, &oom);
    j->status = (weft_job_status)sqlite3_column_int(st, 5);
    j->attempt = sqlite3_column_int(st, 6);
    for (int i = 0; i < WEFT_JOB_NSTATUS; i++) j->status_time_us[i] = sqlite3_column_int64(st, 7 + i);
    j->error = col_text(st, 16, &oom);
    j->exit_code = sqlite3_column_int(st, 17);
    j->signal = sqlite3_column_int(st, 18);
    j->log_tail = col_text(st, 19, &oom);
    j->worker = col_text(st, 20, &oom);
    if (oom) {
        weft_job_info_free(j);
        return NULL;
    }
    return j;
}

static bool fill_job(sqlite3_stmt *st, void *elem)
{
    weft_job_info **j = elem;
    return (*j = row_job(st)) != NULL;
}

static void release_jobs(void *v, size_t n) { weft_job_list_free(v, n); }

static const row_kind job_rows = {sizeof(weft_job_info *), fill_job, release_jobs,
                                  "cannot list jobs"};

weft_err weft__store_job_get(weft__store *s, const char *id, weft_job_info **out, char *err)
{
    *out = NULL;
    sqlite3_stmt *st = stmt(s, S_JOB_GET, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    if (rc == SQLITE_ROW) {
        if (!(*out = row_job(st))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no job %s", id);
    } else {
        e = db_err(s, err, "cannot read a job");
    }
    done(st);
    return e;
}

weft_err weft__store_jobs_list(weft__store *s, const char *submission_id, int status,
                               weft_job_info ***out, size_t *n, char *err)
{
    /* The filter varies, so this statement is prepared per call (a list is
     * one call for many rows). */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT " JOB_COLS " FROM jobs WHERE 1%s%s ORDER BY seq",
             submission_id ? " AND submission_id = ?1" : "", status >= 0 ? " AND status = ?2" : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "cannot list jobs");
    if (submission_id) bind_text(st, 1, submission_id);
    if (status >= 0) sqlite3_bind_int(st, 2, status);
    rows r;
    weft_err e = collect_rows(s, st, &job_rows, &r, err);
    sqlite3_finalize(st);
    if (e) return e;
    *out = r.v;
    *n = r.n;
    return WEFT_OK;
}

typedef struct history_row {
    int status;
    int64_t at_us;
} history_row;

static bool fill_history(sqlite3_stmt *st, void *elem)
{
    history_row *h = elem;
    h->status = sqlite3_column_int(st, 0);
    h->at_us = sqlite3_column_int64(st, 1);
    return true;
}

static const row_kind history_rows = {sizeof(history_row), fill_history, free_rows,
                                      "cannot read a job's history"};

weft_err weft__store_job_history(weft__store *s, const char *id, int **statuses,
                                 int64_t **at_us, size_t *n, char *err)
{
    sqlite3_stmt *st = stmt(s, S_JOB_HISTORY, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    rows r;
    weft_err e = collect_rows(s, st, &history_rows, &r, err);
    if (e) return e;
    history_row *h = r.v;
    int *sv = r.n ? malloc(r.n * sizeof *sv) : NULL;
    int64_t *tv = r.n ? malloc(r.n * sizeof *tv) : NULL;
    if (r.n && (!sv || !tv)) {
        free(sv);
        free(tv);
        free(h);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r.n; i++) {
        sv[i] = h[i].status;
        tv[i] = h[i].at_us;
    }
    free(h);
    *statuses = sv;
    *at_us = tv;
    *n = r.n;
    return WEFT_OK;
}

/* Fills the counts of a submission snapshot: one indexed GROUP BY. */
static weft_err sub_counts(weft__store *s, weft_submission_info *si, char *err)
{
    sqlite3_stmt *st = stmt(s, S_SUB_COUNTS, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, si->id);
    int rc;
    si->njobs = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = sqlite3_column_int(st, 0);
        size_t c = (size_t)sqlite3_column_int64(st, 1);
        if (status >= 0 && status < WEFT_JOB_NSTATUS) si->count[status] = c;
        si->njobs += c;
    }
    weft_err e = rc == SQLITE_DONE ? WEFT_OK : db_err(s, err, "cannot count jobs");
    done(st);
    return e;
}

static weft_submission_info *row_sub(sqlite3_stmt *st)
{
    weft_submission_info *si = calloc(1, sizeof *si);
    if (!si) return NULL;
    bool oom = false;
    si->id = col_text(st, 0, &oom);
    si->entity_id = col_text(st, 1, &oom);
    si->entity_config_id = col_text(st, 2, &oom);
    si->status = (weft_submission_status)sqlite3_column_int(st, 3);
    si->created_us = sqlite3_column_int64(st, 4);
    si->finished_us = sqlite3_column_int64(st, 5);
    if (oom) {
        weft_submission_info_free(si);
        return NULL;
    }
    return si;
}

static bool fill_sub(sqlite3_stmt *st, void *elem)
{
    weft_submission_info **si = elem;
    return (*si = row_sub(st)) != NULL;
}

static void release_subs(void *v, size_t n) { weft_submission_list_free(v, n); }

static const row_kind sub_rows = {sizeof(weft_submission_info *), fill_sub, release_subs,
                                  "cannot list submissions"};

weft_err weft__store_submission_get(weft__store *s, const char *id,
                                    weft_submission_info **out, char *err)
{
    *out = NULL;
    sqlite3_stmt *st = stmt(s, S_SUB_GET, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    weft_err e = WEFT_OK;
    weft_submission_info *si = NULL;
    if (rc == SQLITE_ROW) {
        if (!(si = row_sub(st))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        e = weft__err(err, WEFT_ENOTFOUND, "no submission %s", id);
    } else {
        e = db_err(s, err, "cannot read a submission");
    }
    done(st);
    if (!e) e = sub_counts(s, si, err);
    if (e) {
        weft_submission_info_free(si);
        return e;
    }
    *out = si;
    return WEFT_OK;
}

weft_err weft__store_submissions_list(weft__store *s, weft_submission_info ***out, size_t *n,
                                      char *err)
{
    sqlite3_stmt *st = stmt(s, S_SUB_LIST, err);
    if (!st) return WEFT_ESTORE;
    rows r;
    weft_err e = collect_rows(s, st, &sub_rows, &r, err);
    if (e) return e;
    weft_submission_info **v = r.v;
    for (size_t i = 0; !e && i < r.n; i++) e = sub_counts(s, v[i], err);
    if (e) {
        weft_submission_list_free(v, r.n);
        return e;
    }
    *out = v;
    *n = r.n;
    return WEFT_OK;
}

/* ---- recovery ---- */

static bool fill_unfinished(sqlite3_stmt *st, void *elem)
{
    weft__store_unfinished *u = elem;
    bool oom = false;
    u->seq = sqlite3_column_int64(st, 0);
    u->id = col_text(st, 1, &oom);
    u->submission_id = col_text(st, 2, &oom);
    u->status = (weft_job_status)sqlite3_column_int(st, 3);
    u->dispatched_us = sqlite3_column_int64(st, 4);
    return !oom;
}

static void release_unfinished(void *v, size_t n) { weft__store_unfinished_free(v, n); }

static const row_kind unfinished_rows = {sizeof(weft__store_unfinished), fill_unfinished,
                                         release_unfinished, "cannot list unfinished jobs"};

weft_err weft__store_unfinished_jobs(weft__store *s, weft__store_unfinished **out, size_t *n,
                                     char *err)
{
    sqlite3_stmt *st = stmt(s, S_UNFINISHED, err);
    if (!st) return WEFT_ESTORE;
    rows r;
    weft_err e = collect_rows(s, st, &unfinished_rows, &r, err);
    if (e) return e;
    *out = r.v;
    *n = r.n;
    return WEFT_OK;
}

void weft__store_unfinished_free(weft__store_unfinished *u, size_t n)
{
    if (!u) return;
    for (size_t i = 0; i < n; i++) {
        free(u[i].id);
        free(u[i].submission_id);
    }
    free(u);
}

static bool fill_seq(sqlite3_stmt *st, void *elem)
{
    *(int64_t *)elem = sqlite3_column_int64(st, 0);
    return true;
}

static const row_kind seq_rows = {sizeof(int64_t), fill_seq, free_rows,
                                  "cannot read job dependencies"};

weft_err weft__store_job_downstream(weft__store *s, int64_t seq, int64_t **out, size_t *n,
                                    char *err)
{
    sqlite3_stmt *st = stmt(s, S_DOWNSTREAM, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, seq);
    rows r;
    weft_err e = collect_rows(s, st, &seq_rows, &r, err);
    if (e) return e;
    *out = r.v;
    *n = r.n;
    return WEFT_OK;
}

weft_err weft__store_submission_refresh(weft__store *s, const char *id, int64_t now_us,
                                        char *err)
{
    weft_submission_info *si;
    weft_err e = weft__store_submission_get(s, id, &si, err);
    if (e) return e;
    weft_submission_status st = weft__submission_status_of_counts(si->count);
    size_t unfinished = si->count[WEFT_JOB_SUBMITTED] + si->count[WEFT_JOB_BLOCKED] +
                        si->count[WEFT_JOB_PENDING] + si->count[WEFT_JOB_RUNNING];
    /* By id, once per submission at recovery: a one-off statement. */
    sqlite3_stmt *u;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE submissions SET status = ?2,"
                           " finished_us = CASE WHEN ?3 THEN ?4 ELSE 0 END WHERE id = ?1",
                           -1, &u, NULL) != SQLITE_OK) {
        weft_submission_info_free(si);
        return db_err(s, err, "cannot update a submission");
    }
    bind_text(u, 1, id);
    sqlite3_bind_int(u, 2, (int)st);
    sqlite3_bind_int(u, 3, unfinished == 0);
    sqlite3_bind_int64(u, 4, si->finished_us ? si->finished_us : now_us);
    int rc = sqlite3_step(u);
    e = rc == SQLITE_DONE ? WEFT_OK : db_err(s, err, "cannot update a submission");
    sqlite3_finalize(u);
    weft_submission_info_free(si);
    return e;
}

/* ---- cancel requests ---- */

weft_err weft__store_cancel_request(weft__store *s, const char *target_id, int64_t at_us,
                                    char *err)
{
    sqlite3_stmt *st = stmt(s, S_CANCEL_INSERT, err);
    if (!st) return WEFT_ESTORE;
    bind_text(st, 1, target_id);
    sqlite3_bind_int64(st, 2, at_us);
    sqlite3_bind_int(st, 3, (int)getpid());
    return run(s, st, err, "cannot record a cancel request");
}

weft_err weft__store_cancel_poll(weft__store *s, int64_t after,
                                 void (*fn)(void *ud, const char *target), void *ud,
                                 int64_t *last, char *err)
{
    sqlite3_stmt *st = stmt(s, S_CANCEL_POLL, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, after);
    *last = after;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *last = sqlite3_column_int64(st, 0);
        const unsigned char *t = sqlite3_column_text(st, 1);
        if (t && fn) fn(ud, (const char *)t);
    }
    weft_err e = rc == SQLITE_DONE ? WEFT_OK : db_err(s, err, "cannot read cancel requests");
    done(st);
    return e;
}

weft_err weft__store_cancel_done(weft__store *s, int64_t upto, int64_t at_us, char *err)
{
    sqlite3_stmt *st = stmt(s, S_CANCEL_DONE, err);
    if (!st) return WEFT_ESTORE;
    sqlite3_bind_int64(st, 1, upto);
    sqlite3_bind_int64(st, 2, at_us);
    return run(s, st, err, "cannot mark cancel requests done");
}

/* ---- resuming a submission (cluster mode's recovery) ----
 * Once per unfinished submission when an orchestrator opens: one-off
 * statements, O(jobs of the submission) through the jobs_submission index. */

void weft__store_sub_jobs_free(weft__store_sub_job *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].task_id);
        free(v[i].task_config_id);
    }
    free(v);
}

static bool fill_sub_job(sqlite3_stmt *st, void *elem)
{
    weft__store_sub_job *j = elem;
    bool oom = false;
    j->seq = sqlite3_column_int64(st, 0);
    j->id = col_text(st, 1, &oom);
    j->task_id = col_text(st, 2, &oom);
    j->task_config_id = col_text(st, 3, &oom);
    j->status = (weft_job_status)sqlite3_column_int(st, 4);
    j->attempt = sqlite3_column_int(st, 5);
    return !oom;
}

static void release_sub_jobs(void *v, size_t n) { weft__store_sub_jobs_free(v, n); }

static const row_kind sub_job_rows = {sizeof(weft__store_sub_job), fill_sub_job,
                                      release_sub_jobs, "cannot list a submission's jobs"};

weft_err weft__store_submission_jobs(weft__store *s, const char *submission_id, int64_t *sub_seq,
                                     weft__store_sub_job **out, size_t *n, char *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT seq FROM submissions WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_err(s, err, "cannot read a submission");
    bind_text(st, 1, submission_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *sub_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return weft__err(err, WEFT_ENOTFOUND, "no submission %s", submission_id);
    if (rc != SQLITE_ROW) return db_err(s, err, "cannot read a submission");
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq, id, task_id, task_config_id, status, attempt FROM jobs"
                           " WHERE submission_id = ?1 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return db_err(s, err, "cannot list a submission's jobs");
    bind_text(st, 1, submission_id);
    rows r;
    weft_err e = collect_rows(s, st, &sub_job_rows, &r, err);
    sqlite3_finalize(st);
    if (e) return e;
    *out = r.v;
    *n = r.n;
    return WEFT_OK;
}
