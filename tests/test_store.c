/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - the SQLite store: a fresh store gets the current schema,
 * an old-version store is migrated in place with its rows kept, a newer or
 * older store is refused by readers, readers work (and see only committed
 * batches) while a writer holds a transaction, everything survives
 * closing and reopening, and every list keeps all its rows in order.
 * Identity and integrity: weft's application_id is set (new and migrated
 * stores), a foreign SQLite database is refused and left byte for byte as
 * it was, a garbage or truncated file is reported as corrupt, and -wal/-shm
 * files follow the store's mode.
 */
#include "test.h"

#include "store/store.h"
#include "util/util.h"
#include "weft.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char err[WEFT_ERRBUF_SIZE];

static int pragma_version(const char *path)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void add_job(weft__store *s, const char *sub, const char *id, int64_t *seq)
{
    weft__store_job j = {.id = id, .task_id = "TASK_t_1", .task_config_id = "t",
                         .submission_id = sub, .entity_id = "SCENARIO_s_1", .attempt = 1,
                         .submitted_us = 100};
    ASSERT_OK(weft__store_job_insert(s, &j, seq, err), err);
}

/* A scenario, its submission and job PENDING (SUBMITTED at 100, PENDING at
 * 120), written as a build of that schema wrote them: this build's inserts
 * name columns that later steps add. */
static void old_rows(const char *path)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO scenarios(id, config_id, created_us)"
                           " VALUES('SCENARIO_s_1', 's', 5);"
                           "INSERT INTO submissions(id, entity_id, entity_config_id, status,"
                           " created_us) VALUES('SUBMISSION_1', 'SCENARIO_s_1', 's', 0, 10);"
                           "INSERT INTO jobs(id, task_id, task_config_id, submission_id,"
                           " entity_id, status, attempt, ts0, ts2) VALUES('JOB_t_1', 'TASK_t_1',"
                           " 't', 'SUBMISSION_1', 'SCENARIO_s_1', 2, 1, 100, 120);"
                           "INSERT INTO job_history(job_seq, status, at_us)"
                           " VALUES(1, 0, 100), (1, 2, 120);",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
}

TEST(fresh_store_has_current_schema_in_wal_mode)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("w.db", false, &s, err), err);
    ASSERT_EQ(weft__store_version(s), WEFT__STORE_VERSION);
    weft__store_close(s);
    ASSERT_EQ(pragma_version("w.db"), WEFT__STORE_VERSION);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open("w.db", &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* opening again changes nothing */
    ASSERT_OK(weft__store_open("w.db", false, &s, err), err);
    ASSERT_EQ(weft__store_version(s), WEFT__STORE_VERSION);
    weft__store_close(s);
}

TEST(migrates_old_version_keeping_rows)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open_version("old.db", 1, &s, err), err);
    ASSERT_EQ(weft__store_version(s), 1);
    weft__store_close(s);
    old_rows("old.db");
    ASSERT_EQ(pragma_version("old.db"), 1);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM cancel_requests"), -1); /* not yet */

    /* A reader refuses an old store rather than misread it. */
    ASSERT_EQ(weft__store_open("old.db", true, &s, err), WEFT_ESTORE);
    ASSERT_CONTAINS(err, "older");

    ASSERT_OK(weft__store_open("old.db", false, &s, err), err);
    ASSERT_EQ(weft__store_version(s), WEFT__STORE_VERSION);
    /* step 4 -> 5 tags what there was with the development version */
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM jobs WHERE version = 'development'"), 1);
    ASSERT_EQ(count_rows("old.db", "SELECT created_us FROM versions WHERE name = 'development'"), 5);
    weft_job_info *j = NULL;
    ASSERT_OK(weft__store_job_get(s, "JOB_t_1", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_PENDING);
    ASSERT_EQ(j->status_time_us[WEFT_JOB_SUBMITTED], 100);
    ASSERT_EQ(j->status_time_us[WEFT_JOB_PENDING], 120);
    weft_job_info_free(j);
    /* the new step's table and index exist and work */
    ASSERT_OK(weft__store_begin(s, err), err);
    ASSERT_OK(weft__store_cancel_request(s, "JOB_t_1", 200, err), err);
    ASSERT_OK(weft__store_commit(s, err), err);
    weft__store_unfinished *u = NULL;
    size_t n = 0;
    ASSERT_OK(weft__store_unfinished_jobs(s, &u, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(u[0].id, "JOB_t_1");
    weft__store_unfinished_free(u, n);
    weft__store_close(s);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM sqlite_master WHERE name = 'jobs_unfinished'"), 1);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM cancel_requests"), 1);
}

TEST(newer_store_refused)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("new.db", false, &s, err), err);
    weft__store_close(s);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open("new.db", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(weft__store_open("new.db", false, &s, err), WEFT_ESTORE);
    ASSERT_CONTAINS(err, "newer");
    ASSERT_EQ(weft__store_open("new.db", true, &s, err), WEFT_ESTORE);
    ASSERT_EQ(weft__store_open("missing.db", true, &s, err), WEFT_ENOTFOUND);
    ASSERT_NE(access("missing.db", F_OK), 0);
}

TEST(readers_during_writes)
{
    weft__store *w = NULL, *r = NULL;
    ASSERT_OK(weft__store_open("rw.db", false, &w, err), err);
    int64_t sseq, jseq;
    ASSERT_OK(weft__store_begin(w, err), err);
    ASSERT_OK(weft__store_submission_insert(w, "SUBMISSION_1", "SCENARIO_s_1", "s", 0, 10, &sseq,
                                            err), err);
    add_job(w, "SUBMISSION_1", "JOB_a", &jseq);
    ASSERT_OK(weft__store_commit(w, err), err);
    ASSERT_OK(weft__store_open("rw.db", true, &r, err), err);

    /* A writer's open batch: the reader is not blocked and sees the last commit. */
    ASSERT_OK(weft__store_begin(w, err), err);
    ASSERT_OK(weft__store_job_status(w, jseq, WEFT_JOB_PENDING, 150, NULL, err), err);
    int64_t seq2;
    add_job(w, "SUBMISSION_1", "JOB_b", &seq2);
    weft_job_info *j = NULL;
    ASSERT_OK(weft__store_job_get(r, "JOB_a", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_SUBMITTED);
    weft_job_info_free(j);
    ASSERT_EQ(weft__store_job_get(r, "JOB_b", &j, err), WEFT_ENOTFOUND);
    weft_job_info **list = NULL;
    size_t n = 0;
    ASSERT_OK(weft__store_jobs_list(r, "SUBMISSION_1", -1, &list, &n, err), err);
    ASSERT_EQ(n, 1);
    weft_job_list_free(list, n);
    ASSERT_OK(weft__store_commit(w, err), err);
    /* After the commit it sees the whole batch. */
    ASSERT_OK(weft__store_job_get(r, "JOB_a", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_PENDING);
    weft_job_info_free(j);
    weft_submission_info *si = NULL;
    ASSERT_OK(weft__store_submission_get(r, "SUBMISSION_1", &si, err), err);
    ASSERT_EQ(si->njobs, 2);
    ASSERT_EQ(si->count[WEFT_JOB_PENDING], 1);
    ASSERT_EQ(si->count[WEFT_JOB_SUBMITTED], 1);
    weft_submission_info_free(si);
    /* A reader can leave a cancel request while the writer works. */
    ASSERT_OK(weft__store_begin(r, err), err);
    ASSERT_OK(weft__store_cancel_request(r, "JOB_b", 300, err), err);
    ASSERT_OK(weft__store_commit(r, err), err);
    weft__store_close(r);
    weft__store_close(w);
}

static void collect(void *ud, const char *target)
{
    char *buf = ud;
    strcat(buf, target);
    strcat(buf, ";");
}

TEST(reopen_keeps_everything)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("re.db", false, &s, err), err);
    int64_t sseq, a, b;
    ASSERT_OK(weft__store_begin(s, err), err);
    ASSERT_OK(weft__store_scenario_insert(s, "SCENARIO_s_1", "s", 5, err), err);
    ASSERT_OK(weft__store_task_insert(s, "TASK_t_1", "t", "SCENARIO_s_1", 5, err), err);
    weft__store_dn dn = {.id = "DATANODE_d_1", .config_id = "d", .scope = WEFT_SCOPE_SCENARIO,
                         .scenario_id = "SCENARIO_s_1", .path = "/x/d.txt"};
    ASSERT_OK(weft__store_dn_insert(s, &dn, 5, err), err);
    ASSERT_OK(weft__store_submission_insert(s, "SUBMISSION_1", "SCENARIO_s_1", "s", 0, 10, &sseq,
                                            err), err);
    add_job(s, "SUBMISSION_1", "JOB_a", &a);
    add_job(s, "SUBMISSION_1", "JOB_b", &b);
    ASSERT_OK(weft__store_job_dep(s, b, a, err), err);
    ASSERT_OK(weft__store_job_status(s, a, WEFT_JOB_PENDING, 110, NULL, err), err);
    ASSERT_OK(weft__store_job_status(s, a, WEFT_JOB_RUNNING, 120, NULL, err), err);
    ASSERT_OK(weft__store_job_worker(s, a, "local", 1, err), err);
    ASSERT_OK(weft__store_job_result(s, a, 3, 0, "some output", err), err);
    ASSERT_OK(weft__store_job_status(s, a, WEFT_JOB_FAILED, 130, "exit 3", err), err);
    ASSERT_OK(weft__store_dn_edit(s, "DATANODE_d_1", 125, "JOB_a", err), err);
    ASSERT_OK(weft__store_submission_update(s, sseq, WEFT_SUBMISSION_FAILED, 0, err), err);
    ASSERT_OK(weft__store_cancel_request(s, "JOB_b", 140, err), err);
    ASSERT_OK(weft__store_commit(s, err), err);
    weft__store_close(s);

    ASSERT_OK(weft__store_open("re.db", false, &s, err), err);
    weft_job_info *j = NULL;
    ASSERT_OK(weft__store_job_get(s, "JOB_a", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(j->error, "exit 3");
    ASSERT_EQ(j->exit_code, 3);
    ASSERT_STR_EQ(j->log_tail, "some output");
    ASSERT_STR_EQ(j->worker, "local");
    ASSERT_EQ(j->status_time_us[WEFT_JOB_RUNNING], 120);
    ASSERT_EQ(j->status_time_us[WEFT_JOB_FAILED], 130);
    weft_job_info_free(j);
    int *sv;
    int64_t *tv;
    size_t n;
    ASSERT_OK(weft__store_job_history(s, "JOB_a", &sv, &tv, &n, err), err);
    ASSERT_EQ(n, 4);
    ASSERT_EQ(sv[3], WEFT_JOB_FAILED);
    ASSERT_EQ(tv[3], 130);
    free(sv);
    free(tv);
    int64_t *down;
    ASSERT_OK(weft__store_job_downstream(s, a, &down, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(down[0], b);
    free(down);
    weft__store_dn got;
    ASSERT_OK(weft__store_dn_get(s, "DATANODE_d_1", &got, err), err);
    ASSERT_EQ(got.last_edit_us, 125);
    ASSERT_STR_EQ(got.last_edit_job, "JOB_a");
    ASSERT_STR_EQ(got.path, "/x/d.txt");
    weft__store_dn_release(&got);
    ASSERT_OK(weft__store_dn_find(s, "d", "SCENARIO_s_1", &got, err), err);
    weft__store_dn_release(&got);
    ASSERT_EQ(weft__store_dn_find(s, "d", NULL, &got, err), WEFT_ENOTFOUND);
    char **ids, **cfgs;
    ASSERT_OK(weft__store_scenario_tasks(s, "SCENARIO_s_1", &ids, &cfgs, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(cfgs[0], "t");
    weft_strv_free(ids, n);
    weft_strv_free(cfgs, n);
    char seen[256] = "";
    int64_t last = 0;
    ASSERT_OK(weft__store_cancel_poll(s, 0, collect, seen, &last, err), err);
    ASSERT_STR_EQ(seen, "JOB_b;");
    ASSERT_OK(weft__store_begin(s, err), err);
    ASSERT_OK(weft__store_cancel_done(s, last, 150, err), err);
    ASSERT_OK(weft__store_commit(s, err), err);
    seen[0] = '\0';
    ASSERT_OK(weft__store_cancel_poll(s, 0, collect, seen, &last, err), err);
    ASSERT_STR_EQ(seen, "");
    weft_submission_info **subs;
    ASSERT_OK(weft__store_submissions_list(s, &subs, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(subs[0]->status, WEFT_SUBMISSION_FAILED);
    ASSERT_EQ(subs[0]->count[WEFT_JOB_FAILED], 1);
    weft_submission_list_free(subs, n);
    weft__store_close(s);
}

TEST(lists_keep_every_row_in_order)
{
    /* More rows than any list starts with, so each one grows several times;
     * and the empty lists. */
    enum { NJOBS = 300 };
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("lists.db", false, &s, err), err);
    weft_job_info **jobs = NULL;
    weft__store_unfinished *u = NULL;
    weft__store_sub_job *sj = NULL;
    char **ids = NULL, **cfgs = NULL;
    int64_t *down = NULL, sseq, first = 0, sub_seq = 0;
    size_t n = 99;
    ASSERT_OK(weft__store_jobs_list(s, NULL, -1, &jobs, &n, err), err);
    ASSERT_EQ(n, 0);
    free(jobs);
    ASSERT_OK(weft__store_unfinished_jobs(s, &u, &n, err), err);
    ASSERT_EQ(n, 0);
    weft__store_unfinished_free(u, n);
    ASSERT_OK(weft__store_scenarios(s, &ids, &cfgs, &n, err), err);
    ASSERT_EQ(n, 0);
    weft_strv_free(ids, n);
    weft_strv_free(cfgs, n);
    ASSERT_EQ(weft__store_submission_jobs(s, "SUBMISSION_none", &sub_seq, &sj, &n, err),
              WEFT_ENOTFOUND);

    ASSERT_OK(weft__store_begin(s, err), err);
    ASSERT_OK(weft__store_submission_insert(s, "SUBMISSION_l", "SCENARIO_s_1", "s", 0, 1, &sseq,
                                            err), err);
    char id[64];
    for (int i = 0; i < NJOBS; i++) {
        int64_t seq;
        snprintf(id, sizeof id, "JOB_l_%03d", i);
        add_job(s, "SUBMISSION_l", id, &seq);
        if (i == 0) first = seq;
        else ASSERT_OK(weft__store_job_dep(s, seq, first, err), err);
        /* Every third job ends COMPLETED: the others stay unfinished. */
        if (i % 3 == 0) {
            ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_PENDING, 2, NULL, err), err);
            ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_RUNNING, 3, NULL, err), err);
            ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_COMPLETED, 4, NULL, err), err);
        }
        snprintf(id, sizeof id, "SCENARIO_l_%03d", i);
        ASSERT_OK(weft__store_scenario_insert(s, id, i % 2 ? "odd" : "even", 5, err), err);
    }
    ASSERT_OK(weft__store_commit(s, err), err);

    ASSERT_OK(weft__store_jobs_list(s, "SUBMISSION_l", -1, &jobs, &n, err), err);
    ASSERT_EQ(n, NJOBS);
    ASSERT_STR_EQ(jobs[0]->id, "JOB_l_000");
    ASSERT_STR_EQ(jobs[NJOBS - 1]->id, "JOB_l_299");
    ASSERT_EQ(jobs[NJOBS - 1]->status, WEFT_JOB_SUBMITTED);
    weft_job_list_free(jobs, n);
    ASSERT_OK(weft__store_jobs_list(s, "SUBMISSION_l", WEFT_JOB_COMPLETED, &jobs, &n, err), err);
    ASSERT_EQ(n, NJOBS / 3);
    ASSERT_STR_EQ(jobs[1]->id, "JOB_l_003");
    weft_job_list_free(jobs, n);

    ASSERT_OK(weft__store_unfinished_jobs(s, &u, &n, err), err);
    ASSERT_EQ(n, NJOBS - NJOBS / 3);
    ASSERT_STR_EQ(u[0].id, "JOB_l_001");
    ASSERT_STR_EQ(u[n - 1].id, "JOB_l_299");
    ASSERT_STR_EQ(u[n - 1].submission_id, "SUBMISSION_l");
    ASSERT_EQ(u[n - 1].status, WEFT_JOB_SUBMITTED);
    for (size_t i = 1; i < n; i++) ASSERT(u[i - 1].seq < u[i].seq);
    weft__store_unfinished_free(u, n);

    ASSERT_OK(weft__store_submission_jobs(s, "SUBMISSION_l", &sub_seq, &sj, &n, err), err);
    ASSERT_EQ(sub_seq, sseq);
    ASSERT_EQ(n, NJOBS);
    ASSERT_EQ(sj[0].status, WEFT_JOB_COMPLETED);
    ASSERT_STR_EQ(sj[NJOBS - 1].id, "JOB_l_299");
    ASSERT_STR_EQ(sj[NJOBS - 1].task_config_id, "t");
    ASSERT_EQ(sj[NJOBS - 1].attempt, 1);
    weft__store_sub_jobs_free(sj, n);

    ASSERT_OK(weft__store_job_downstream(s, first, &down, &n, err), err);
    ASSERT_EQ(n, NJOBS - 1);
    ASSERT_EQ(down[0], first + 1);
    free(down);

    ASSERT_OK(weft__store_scenarios(s, &ids, &cfgs, &n, err), err);
    ASSERT_EQ(n, NJOBS);
    ASSERT_STR_EQ(ids[NJOBS - 1], "SCENARIO_l_299");
    ASSERT_STR_EQ(cfgs[NJOBS - 1], "odd");
    ASSERT_STR_EQ(cfgs[NJOBS - 2], "even");
    weft_strv_free(ids, n);
    weft_strv_free(cfgs, n);
    weft__store_close(s);
}

TEST(batch_of_many_jobs_is_fast)
{
    /* One transaction, cached statements: 20,000 jobs and 60,000 status
     * changes well under the time budget even with synchronous=FULL. */
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("many.db", false, &s, err), err);
    int64_t sseq;
    ASSERT_OK(weft__store_begin(s, err), err);
    ASSERT_OK(weft__store_submission_insert(s, "SUBMISSION_m", "SCENARIO_s_1", "s", 0, 1, &sseq,
                                            err), err);
    char id[64];
    for (int i = 0; i < 20000; i++) {
        int64_t seq;
        snprintf(id, sizeof id, "JOB_t_%d", i);
        add_job(s, "SUBMISSION_m", id, &seq);
        ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_PENDING, 2, NULL, err), err);
        ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_RUNNING, 3, NULL, err), err);
        ASSERT_OK(weft__store_job_status(s, seq, WEFT_JOB_COMPLETED, 4, NULL, err), err);
    }
    ASSERT_OK(weft__store_commit(s, err), err);
    weft_submission_info *si;
    ASSERT_OK(weft__store_submission_get(s, "SUBMISSION_m", &si, err), err);
    ASSERT_EQ(si->count[WEFT_JOB_COMPLETED], 20000);
    weft_submission_info_free(si);
    weft__store_close(s);
}

/* ---- identity and integrity ---- */

static char *slurp(const char *path, size_t *len)
{
    return test_read_file(path, len);
}

TEST(application_id_set_on_creation_and_by_migration)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("w.db", false, &s, err), err);
    weft__store_close(s);
    ASSERT_EQ(count_rows("w.db", "PRAGMA application_id"), WEFT__STORE_APPLICATION_ID);
    ASSERT_OK(weft__store_open_version("old.db", 2, &s, err), err);
    weft__store_close(s);
    ASSERT_EQ(count_rows("old.db", "PRAGMA application_id"), 0);
    ASSERT_OK(weft__store_open("old.db", false, &s, err), err);
    weft__store_close(s);
    ASSERT_EQ(count_rows("old.db", "PRAGMA application_id"), WEFT__STORE_APPLICATION_ID);
}

static void foreign_refused(const char *setup, const char *want)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open("weft.db", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, setup, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    size_t n0, n1;
    char *before = slurp("weft.db", &n0);
    weft__store *s = NULL;
    ASSERT_EQ(weft__store_open("weft.db", false, &s, err), WEFT_ESTORE);
    ASSERT_CONTAINS(err, "weft.db is not a weft store");
    ASSERT_CONTAINS(err, want);
    ASSERT_EQ(weft__store_open("weft.db", true, &s, err), WEFT_ESTORE);
    ASSERT_CONTAINS(err, "is not a weft store");
    /* Left as it was: the same bytes, no journal of ours beside it. */
    char *after = slurp("weft.db", &n1);
    ASSERT_EQ(n0, n1);
    ASSERT(memcmp(before, after, n0) == 0);
    ASSERT_NE(access("weft.db-wal", F_OK), 0);
    ASSERT_EQ(count_rows("weft.db", "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'"), 0);
    free(before);
    free(after);
}

TEST(foreign_database_refused_and_left_unchanged)
{
    foreign_refused("CREATE TABLE people(name TEXT); INSERT INTO people VALUES('ada');",
                    "application_id 0x00000000, 1 tables");
}

TEST(foreign_application_id_refused)
{
    foreign_refused("PRAGMA application_id = 305419896;", "application_id 0x12345678");
}

TEST(garbage_file_reported_corrupt)
{
    FILE *f = fopen("weft.db", "w");
    ASSERT(f);
    for (int i = 0; i < 300; i++) fputs("not a database ", f);
    fclose(f);
    weft__store *s = NULL;
    for (int ro = 0; ro < 2; ro++) {
        ASSERT_EQ(weft__store_open("weft.db", ro, &s, err), WEFT_ESTORE);
        ASSERT_STR_EQ(err, "weft.db is corrupt (file is not a database): move it aside; weft "
                           "will create a new store");
    }
    /* A file shorter than SQLite's header, too. */
    f = fopen("weft.db", "w");
    fputs("SQLite", f);
    fclose(f);
    ASSERT_EQ(weft__store_open("weft.db", false, &s, err), WEFT_ESTORE);
    ASSERT_CONTAINS(err, "is corrupt (file is not a database)");
}

TEST(truncated_store_reported_corrupt)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open("weft.db", false, &s, err), err);
    ASSERT_OK(weft__store_begin(s, err), err);
    int64_t sseq, seq;
    ASSERT_OK(weft__store_submission_insert(s, "SUB", "SC", "s", 0, 1, &sseq, err), err);
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof id, "JOB_t_%d", i);
        add_job(s, "SUB", id, &seq);
    }
    ASSERT_OK(weft__store_commit(s, err), err);
    weft__store_close(s);
    ASSERT_NE(access("weft.db-wal", F_OK), 0); /* checkpointed on close */
    size_t n;
    free(slurp("weft.db", &n));
    ASSERT(n > 3 * 4096);
    ASSERT_EQ(truncate("weft.db", (off_t)(n / 2)), 0);
    for (int ro = 0; ro < 2; ro++) {
        ASSERT_EQ(weft__store_open("weft.db", ro, &s, err), WEFT_ESTORE);
        ASSERT_CONTAINS(err, "weft.db is corrupt (truncated: ");
        ASSERT_CONTAINS(err, "move it aside; weft will create a new store");
    }
}

/* -wal/-shm made by a reader while the store was 0444 must not keep the
 * store read-only once its own mode is fixed.  Permission bits do not bind
 * root: as root, the steps run in a child as "nobody". */
static const char *wal_mode_steps(void)
{
    weft__store *s = NULL;
    if (weft__store_open("weft.db", false, &s, err)) return err;
    weft__store_close(s);
    if (chmod("weft.db", 0444)) return "chmod 0444";
    if (weft__store_open("weft.db", true, &s, err)) return err;
    weft__store_close(s);
    struct stat st;
    if (stat("weft.db-shm", &st) || (st.st_mode & 0777) != 0444) return "no 0444 -shm left";
    if (chmod("weft.db", 0640)) return "chmod 0640"; /* the user fixes the store's mode */
    if (weft__store_open("weft.db", false, &s, err)) return err;
    weft_err e = weft__store_begin(s, err);
    if (!e) e = weft__store_scenario_insert(s, "SCENARIO_s_1", "s", 5, err);
    if (!e) e = weft__store_commit(s, err);
    weft__store_close(s);
    if (e) return err;
    const char *side[] = {"weft.db-wal", "weft.db-shm"};
    for (int i = 0; i < 2; i++)
        if (stat(side[i], &st) == 0 && (st.st_mode & 0777) != 0640) return "side file not 0640";
    return NULL;
}

TEST(wal_and_shm_follow_the_store_mode)
{
    if (geteuid() != 0) {
        const char *why = wal_mode_steps();
        if (why) FAIL("%s", why);
        return;
    }
    ASSERT_EQ(chown(".", 65534, 65534), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) _exit(3);
        const char *why = wal_mode_steps();
        FILE *f = fopen("child.txt", "w");
        if (f) fprintf(f, "%s", why ? why : "ok");
        if (f) fclose(f);
        _exit(why ? 1 : 0);
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    char *said = test_read_file("child.txt", NULL);
    ASSERT_STR_EQ(said, "ok");
    free(said);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The detail lines of EXPLAIN QUERY PLAN of `sql` (one bound text ?1), joined. */
static char *query_plan(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char q[1024];
    weft__buf out = WEFT_BUF_INIT;
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, "SUBMISSION_1", -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        weft__buf_adds(&out, (const char *)sqlite3_column_text(st, 3));
        weft__buf_adds(&out, "\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return weft__buf_detach(&out, NULL);
}

/* Version 4: a page of one submission's jobs (the web view's filter) is a
 * range read of jobs_submission_seq, with no sort, once a version 3 store
 * is migrated; its rows are kept. */
TEST(submission_page_uses_the_index_after_migration)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open_version("old.db", 3, &s, err), err);
    weft__store_close(s);
    old_rows("old.db");
    const char *page = "SELECT id FROM jobs WHERE seq < 100 AND submission_id = ?1 ORDER BY seq DESC LIMIT 51";
    char *before = query_plan("old.db", page);
    ASSERT_NOT_CONTAINS(before, "jobs_submission_seq");
    free(before);
    ASSERT_OK(weft__store_open("old.db", false, &s, err), err);
    ASSERT_EQ(weft__store_version(s), WEFT__STORE_VERSION);
    weft__store_close(s);
    char *after = query_plan("old.db", page);
    ASSERT_CONTAINS(after, "USING INDEX jobs_submission_seq (submission_id=? AND seq<?)");
    ASSERT_NOT_CONTAINS(after, "TEMP B-TREE"); /* no sort */
    free(after);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM jobs WHERE submission_id = 'SUBMISSION_1'"), 1);
}

static void exec_sql(const char *path, const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) FAIL("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* Version 5: cycles.  A version 4 store (a scenario, its SCENARIO node and
 * a CYCLE node shared like a GLOBAL one, written by the v4 code's SQL) is
 * migrated: the rows stay, the old scenario has no cycle, the old CYCLE node
 * stays the shared instance, and a cycle's own instance of the same config
 * can be added next to it, once per cycle. */
TEST(cycles_step_migrates_a_version_4_store)
{
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open_version("old.db", 4, &s, err), err);
    weft__store_close(s);
    exec_sql("old.db",
             "INSERT INTO scenarios(id, config_id, created_us) VALUES('SCENARIO_s_1', 's', 5);"
             "INSERT INTO data_nodes(id, config_id, scope, scenario_id, path, created_us)"
             " VALUES('DATANODE_own_1', 'own', 0, 'SCENARIO_s_1', '/x/own', 5),"
             " ('DATANODE_model_1', 'model', 1, NULL, '/x/model', 5);");
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM cycles"), -1); /* not yet */

    ASSERT_OK(weft__store_open("old.db", false, &s, err), err);
    ASSERT_EQ(weft__store_version(s), WEFT__STORE_VERSION);
    ASSERT_EQ(pragma_version("old.db"), WEFT__STORE_VERSION);
    weft__store_dn got;
    ASSERT_OK(weft__store_dn_find(s, "model", NULL, &got, err), err);
    ASSERT_STR_EQ(got.id, "DATANODE_model_1");
    ASSERT(got.cycle_id == NULL);
    weft__store_dn_release(&got);
    ASSERT_OK(weft__store_dn_find(s, "own", "SCENARIO_s_1", &got, err), err);
    weft__store_dn_release(&got);
    char *cyc = NULL;
    bool primary = true;
    ASSERT_OK(weft__store_scenario_cycle(s, "SCENARIO_s_1", &cyc, &primary, err), err);
    ASSERT(cyc == NULL && !primary);

    ASSERT_OK(weft__store_begin(s, err), err);
    weft__store_cycle c = {.id = "CYCLE_May_2026_1", .frequency = "MONTHLY", .name = "May 2026",
                           .start_date = "2026-05-01T00:00:00",
                           .end_date = "2026-05-31T23:59:59.999999",
                           .creation_date = "2026-05-03T00:00:00"};
    ASSERT_OK(weft__store_cycle_insert(s, &c, 7, err), err);
    ASSERT_OK(weft__store_scenario_insert(s, "SCENARIO_s_2", "s", 7, err), err);
    ASSERT_OK(weft__store_scenario_attach(s, "SCENARIO_s_2", c.id, c.creation_date, err), err);
    weft__store_dn dn = {.id = "DATANODE_model_2", .config_id = "model", .scope = WEFT_SCOPE_CYCLE,
                         .cycle_id = "CYCLE_May_2026_1", .path = "/x/model2"};
    ASSERT_OK(weft__store_dn_insert(s, &dn, 7, err), err);
    /* one instance per config and cycle: the owner index holds the cycle */
    dn.id = "DATANODE_model_3";
    ASSERT_EQ(weft__store_dn_insert(s, &dn, 7, err), WEFT_ESTORE);
    ASSERT_OK(weft__store_commit(s, err), err);
    ASSERT_OK(weft__store_dn_find_owned(s, "model", NULL, "CYCLE_May_2026_1", &got, err), err);
    ASSERT_STR_EQ(got.id, "DATANODE_model_2");
    ASSERT_STR_EQ(got.cycle_id, "CYCLE_May_2026_1");
    weft__store_dn_release(&got);
    ASSERT_OK(weft__store_dn_find(s, "model", NULL, &got, err), err);
    ASSERT_STR_EQ(got.id, "DATANODE_model_1"); /* still the shared one */
    weft__store_dn_release(&got);
    /* a cycle is found again by frequency and start date, not duplicated */
    weft__store_cycle again;
    ASSERT_OK(weft__store_cycle_find(s, "MONTHLY", "2026-05-01T00:00:00", &again, err), err);
    ASSERT_STR_EQ(again.id, "CYCLE_May_2026_1");
    weft__store_cycle_release(&again);
    ASSERT_EQ(weft__store_cycle_find(s, "WEEKLY", "2026-05-01T00:00:00", &again, err),
              WEFT_ENOTFOUND);
    weft_cycle_info **v = NULL;
    size_t n = 0;
    ASSERT_OK(weft__store_cycles(s, &v, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(v[0]->nscenarios, 1);
    ASSERT_STR_EQ(v[0]->scenarios[0].id, "SCENARIO_s_2");
    ASSERT(v[0]->scenarios[0].is_primary);
    weft_cycle_list_free(v, n);
    weft__store_close(s);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM data_nodes"), 3);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM scenarios"), 2);
    ASSERT_EQ(count_rows("old.db", "SELECT count(*) FROM sqlite_master WHERE name = 'data_nodes_owner'"), 0);
}

TEST_MAIN(TEST_ENTRY(fresh_store_has_current_schema_in_wal_mode),
          TEST_ENTRY(migrates_old_version_keeping_rows), TEST_ENTRY(newer_store_refused),
          TEST_ENTRY(readers_during_writes), TEST_ENTRY(reopen_keeps_everything),
          TEST_ENTRY(lists_keep_every_row_in_order),
          TEST_ENTRY_TIMEOUT(batch_of_many_jobs_is_fast, 30),
          TEST_ENTRY(application_id_set_on_creation_and_by_migration),
          TEST_ENTRY(submission_page_uses_the_index_after_migration),
          TEST_ENTRY(cycles_step_migrates_a_version_4_store),
          TEST_ENTRY(foreign_database_refused_and_left_unchanged),
          TEST_ENTRY(foreign_application_id_refused), TEST_ENTRY(garbage_file_reported_corrupt),
          TEST_ENTRY(truncated_store_reported_corrupt), TEST_ENTRY(wal_and_shm_follow_the_store_mode))
