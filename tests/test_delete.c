/* SPDX-License-Identifier: MIT */
/*
 * test_delete.c - versions and deletion: each kind of entity deleted with
 * what belongs to it (Taipy's rules), the shared data node rule, unfinished
 * work refused or canceled with --force, clean and clean --older-than,
 * versions tagged, listed and deleted, unknown ids and bad names changing
 * nothing, a store write failed at every point of a delete and a kill -9
 * during one (the store stays whole), and the `weft delete`, `clean` and
 * `versions` commands.
 */
#include "test.h"

#include "store/store.h"
#include "weft.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char err[WEFT_ERRBUF_SIZE];

/* ---- helpers ---- */

/* Writes "<task>;" to every output. */
static int fn_write(weft_ctx *ctx)
{
    char buf[256];
    int len = snprintf(buf, sizeof buf, "%s;", weft_ctx_task_config_id(ctx));
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), buf, (size_t)len, NULL) != WEFT_OK) return 1;
    return 0;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static void dn(weft_config *c, const char *id, const char *scope, const char *path)
{
    weft_data_node_opts o = {.storage_type = "text", .scope = scope, .default_path = path};
    ASSERT_OK(weft_config_configure_data_node(c, id, &o, err), err);
}

static void task(weft_config *c, const char *id, const char *const *ins, const char *const *outs)
{
    weft_task_opts o = {.function = "test.write", .inputs = ins, .outputs = outs};
    ASSERT_OK(weft_config_configure_task(c, id, &o, err), err);
}

/* g (GLOBAL) <- tg; own (SCENARIO) <- town <- g; mine (SCENARIO, a configured
 * path) <- tmine.  Scenario s = [tg, town, tmine]. */
static weft_config *shared_config(weft_mode mode)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(c, mode, 2, err), err);
    dn(c, "g", "GLOBAL", NULL);
    dn(c, "own", "SCENARIO", NULL);
    dn(c, "mine", "SCENARIO", "mine.txt");
    task(c, "tg", NONE, L("g"));
    task(c, "town", L("g"), L("own"));
    task(c, "tmine", NONE, L("mine"));
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("tg", "town", "tmine"), err), err);
    return c;
}

static weft_orchestrator *open_rw(weft_config *c)
{
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    return o;
}

static char *new_scenario(weft_orchestrator *o)
{
    char *id = NULL;
    ASSERT_OK(weft_scenario_create(o, "s", &id, err), err);
    return id;
}

static char *run(weft_orchestrator *o, const char *scen)
{
    char *sub = NULL;
    weft_submit_opts so = {.wait = true, .timeout_ms = 30000};
    ASSERT_OK(weft_submit(o, scen, &so, &sub, err), err);
    return sub;
}

/* One integer from the store, read with a connection of its own. */
static long long q(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open_v2(".weft/weft.db", &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) FAIL("%s: %s", sql, sqlite3_errmsg(db));
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The same, or -1 while the store is not there or not made yet. */
static long long q_try(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(".weft/weft.db", &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 1000);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Every row of every entity table, as one comparable string. */
static void snapshot(char *buf, size_t size)
{
    snprintf(buf, size, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
             q("SELECT count(*) FROM scenarios"), q("SELECT count(*) FROM tasks"),
             q("SELECT count(*) FROM data_nodes"), q("SELECT count(*) FROM dn_edits"),
             q("SELECT count(*) FROM submissions"), q("SELECT count(*) FROM jobs"),
             q("SELECT count(*) FROM job_history"), q("SELECT count(*) FROM job_deps"),
             q("SELECT count(*) FROM versions"), q("SELECT total(seq) FROM jobs"));
}

static void store_is_healthy(const weft_config *c)
{
    char **problems = NULL;
    size_t n = 0;
    ASSERT_OK(weft_store_check(c, NULL, &problems, &n, err), err);
    for (size_t i = 0; i < n; i++) printf("    problem: %s\n", problems[i]);
    ASSERT_EQ(n, 0);
    weft_strv_free(problems, n);
}

/* The path of data node `cfg` owned by scenario `scen` (caller frees). */
static char *dn_path(const char *cfg, const char *scen)
{
    weft__store *s = NULL;
    weft__store_dn row;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &s, err), err);
    ASSERT_OK(weft__store_dn_find(s, cfg, scen, &row, err), err);
    char *p = strdup(row.path);
    weft__store_dn_release(&row);
    weft__store_close(s);
    return p;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- each kind of entity ---- */

TEST(delete_job_then_submission)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o), *sub = run(o, s1);
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_job_filter f = {.submission_id = sub, .status = -1};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 3);
    char *job = strdup(jobs[0]->id);
    weft_job_list_free(jobs, n);

    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, job, 0, &dc, err), err);
    ASSERT_EQ(dc.jobs, 1);
    ASSERT_EQ(dc.submissions + dc.scenarios + dc.data_nodes + dc.tasks, 0);
    weft_job_info *ji = NULL;
    ASSERT_EQ(weft_job_get(o, job, &ji, err), WEFT_ENOTFOUND);
    ASSERT_EQ(q("SELECT count(*) FROM jobs"), 2);
    ASSERT_EQ(q("SELECT count(*) FROM submissions"), 1);

    ASSERT_OK(weft_delete(o, sub, 0, &dc, err), err);
    ASSERT_EQ(dc.submissions, 1);
    ASSERT_EQ(dc.jobs, 2);
    weft_submission_info *si = NULL;
    ASSERT_EQ(weft_submission_get(o, sub, &si, err), WEFT_ENOTFOUND);
    ASSERT_EQ(q("SELECT count(*) FROM jobs"), 0);
    ASSERT_EQ(q("SELECT count(*) FROM job_history"), 0);
    /* The scenario and its data stay. */
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 1);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes"), 3);
    store_is_healthy(c);
    free(job);
    free(sub);
    free(s1);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* A scenario takes its tasks, submissions, jobs and SCENARIO nodes with
 * their generated files; GLOBAL g, the other scenario's nodes and a
 * configured path stay. */
TEST(delete_scenario_keeps_shared_nodes)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o), *s2 = new_scenario(o);
    free(run(o, s1));
    free(run(o, s2));
    free(run(o, s2));
    char *own1 = dn_path("own", s1), *own2 = dn_path("own", s2), *g = dn_path("g", NULL);
    ASSERT(exists(own1) && exists(own2) && exists(g) && exists("mine.txt"));

    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, s2, 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.tasks, 3);
    ASSERT_EQ(dc.data_nodes, 2); /* own and mine of s2 */
    ASSERT_EQ(dc.files, 1);      /* own's generated file; mine.txt is the application's */
    ASSERT_EQ(dc.submissions, 2);
    ASSERT_EQ(dc.jobs, 6);
    ASSERT(!exists(own2));
    ASSERT(exists(own1) && exists(g) && exists("mine.txt"));
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 1);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes WHERE config_id = 'g'"), 1);
    /* s1 still runs on the shared node. */
    char *data = NULL;
    ASSERT_OK(weft_data_read(o, "g", &data, NULL, err), err);
    ASSERT_STR_EQ(data, "tg;");
    free(data);
    free(run(o, s1));
    store_is_healthy(c);
    free(own1);
    free(own2);
    free(g);
    free(s1);
    free(s2);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* A sequence's submission belongs to its scenario. */
TEST(delete_scenario_takes_sequence_submissions)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    const char *seq[] = {"tg:SECTION"};
    ASSERT_OK(weft_config_set_list(c, "SCENARIO.s", "sequences.first one", seq, 1, err), err);
    ASSERT_OK(weft_config_check(c, err), err);
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o), *s2 = new_scenario(o), *q1 = NULL, *q2 = NULL;
    ASSERT_OK(weft_sequence_id(s1, "first one", &q1, err), err);
    ASSERT_OK(weft_sequence_id(s2, "first one", &q2, err), err);
    free(run(o, q1));
    free(run(o, q2));
    ASSERT_EQ(q("SELECT count(*) FROM submissions"), 2);
    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, s1, 0, &dc, err), err);
    ASSERT_EQ(dc.submissions, 1);
    ASSERT_EQ(dc.jobs, 1);
    ASSERT_EQ(q("SELECT count(*) FROM submissions"), 1);
    store_is_healthy(c);
    free(q1);
    free(q2);
    free(s1);
    free(s2);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* Cycles: a monthly scenario s of tasks writing a CYCLE node cy and a
 * SCENARIO node own; two scenarios in May, one in June. */
static char *in_month(weft_orchestrator *o, const char *date)
{
    char *id = NULL;
    weft_scenario_opts so = {.creation_date = date};
    ASSERT_OK(weft_scenario_create_with(o, "m", &so, &id, err), err);
    free(run(o, id));
    return id;
}

TEST(delete_cycles_and_their_primary_scenario)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    weft_config *c = weft_config_new();
    dn(c, "cy", "CYCLE", NULL);
    dn(c, "own", "SCENARIO", NULL);
    task(c, "tcy", NONE, L("cy"));
    task(c, "town", L("cy"), L("own"));
    ASSERT_OK(weft_config_configure_scenario(c, "m", L("tcy", "town"), err), err);
    ASSERT_OK(weft_config_set(c, "SCENARIO.m", "frequency", "MONTHLY:FREQUENCY", err), err);
    ASSERT_OK(weft_config_check(c, err), err);
    weft_orchestrator *o = open_rw(c);
    char *may1 = in_month(o, "2026-05-03"), *may2 = in_month(o, "2026-05-20");
    char *june = in_month(o, "2026-06-11"), *may_cycle = NULL, *june_cycle = NULL;
    ASSERT_OK(weft_scenario_cycle(o, may1, &may_cycle, NULL, err), err);
    ASSERT_OK(weft_scenario_cycle(o, june, &june_cycle, NULL, err), err);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes WHERE config_id = 'cy'"), 2);
    char before[512], after[512];
    snapshot(before, sizeof before);

    /* Taipy's is_deletable: the primary scenario of a cycle with others. */
    ASSERT_EQ(weft_delete(o, may1, 0, NULL, err), WEFT_ESTATE);
    printf("    %s\n", err);
    ASSERT_CONTAINS(err, "primary scenario of cycle");
    ASSERT_CONTAINS(err, may_cycle);
    snapshot(after, sizeof after);
    ASSERT_STR_EQ(after, before);
    /* Not primary any more: it goes, its cycle's node stays. */
    ASSERT_OK(weft_scenario_set_primary(o, may2, err), err);
    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, may1, 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.data_nodes, 1); /* own of may1; cy of May stays */
    ASSERT_EQ(dc.cycles, 0);

    /* A cycle goes with its scenarios and the nodes it owns. */
    ASSERT_OK(weft_delete(o, june_cycle, 0, &dc, err), err);
    ASSERT_EQ(dc.cycles, 1);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.data_nodes, 2); /* own of june and cy of June */
    ASSERT_EQ(dc.submissions, 1);
    ASSERT_EQ(q("SELECT count(*) FROM cycles"), 1);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes WHERE config_id = 'cy'"), 1);
    ASSERT_EQ(weft_delete(o, june_cycle, 0, NULL, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no cycle");

    /* A version that takes a cycle's primary scenario and not the others:
     * the oldest remaining one becomes primary. */
    ASSERT_OK(weft_version_set(o, "v1", WEFT_VERSION_EXPERIMENT, err), err);
    char *may3 = in_month(o, "2026-05-25");
    ASSERT_OK(weft_scenario_set_primary(o, may3, err), err);
    ASSERT_OK(weft_version_delete(o, "v1", 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    bool primary = false;
    char *cyc = NULL;
    ASSERT_OK(weft_scenario_cycle(o, may2, &cyc, &primary, err), err);
    ASSERT(primary);
    free(cyc);
    free(may3);

    /* A clean takes every cycle. */
    ASSERT_OK(weft_clean(o, 0, 0, &dc, err), err);
    ASSERT_EQ(dc.cycles, 1);
    ASSERT_EQ(q("SELECT count(*) FROM cycles"), 0);
    store_is_healthy(c);
    free(may1);
    free(may2);
    free(june);
    free(may_cycle);
    free(june_cycle);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(unknown_ids_change_nothing)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o);
    free(run(o, s1));
    char before[512], after[512];
    snapshot(before, sizeof before);
    const char *ids[] = {"SCENARIO_s_nope", "SUBMISSION_nope", "JOB_nope", "DATANODE_x", "nope",
                         "CYCLE_nope"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        err[0] = '\0';
        ASSERT_EQ(weft_delete(o, ids[i], WEFT_DELETE_FORCE, NULL, err), WEFT_ENOTFOUND);
        printf("    %s\n", err);
        ASSERT_CONTAINS(err, ids[i]);
    }
    ASSERT_EQ(weft_version_delete(o, "v9", 0, NULL, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no version v9");
    snapshot(after, sizeof after);
    ASSERT_STR_EQ(after, before);
    weft_orchestrator_close(o);
    /* A read-only handle deletes nothing; it checks. */
    weft_orchestrator_opts ro = {.read_only = true};
    ASSERT_OK(weft_orchestrator_open(c, &ro, &o, err), err);
    ASSERT_EQ(weft_clean(o, 0, 0, NULL, err), WEFT_EMODE);
    ASSERT_EQ(weft_delete(o, s1, 0, NULL, err), WEFT_EMODE);
    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, s1, WEFT_DELETE_CHECK | WEFT_DELETE_FORCE, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.tasks, 3);
    ASSERT_EQ(dc.data_nodes, 2);
    ASSERT_EQ(dc.submissions, 1);
    ASSERT_EQ(dc.jobs, 3);
    ASSERT_EQ(dc.files, 0);
    ASSERT_EQ(weft_delete(o, "JOB_nope", WEFT_DELETE_CHECK, &dc, err), WEFT_ENOTFOUND);
    ASSERT_OK(weft_clean(o, 0, WEFT_DELETE_CHECK, &dc, err), err);
    ASSERT_EQ(dc.data_nodes, 3);
    ASSERT_OK(weft_version_delete(o, "development", WEFT_DELETE_CHECK, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    weft_orchestrator_close(o);
    snapshot(after, sizeof after);
    ASSERT_STR_EQ(after, before);
    free(s1);
    weft_config_free(c);
}

/* ---- unfinished work ---- */

/* A standalone run whose job sleeps: refused without force (the error
 * names the job), canceled then deleted with it. */
TEST(unfinished_refused_unless_forced)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(c, WEFT_MODE_STANDALONE, 2, err), err);
    dn(c, "x", "SCENARIO", NULL);
    weft_property p[] = {{"duration", "60"}};
    weft_task_opts t = {.function = "weft.sleep", .inputs = NONE, .outputs = L("x"),
                        .properties = p, .nproperties = 1};
    ASSERT_OK(weft_config_configure_task(c, "slow", &t, err), err);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("slow"), err), err);
    weft_orchestrator *o = open_rw(c);
    ASSERT_OK(weft_orchestrator_start(o, err), err);
    char *s1 = new_scenario(o), *sub = NULL;
    ASSERT_OK(weft_submit(o, s1, NULL, &sub, err), err);
    for (int i = 0; i < 500 && q("SELECT count(*) FROM jobs WHERE status = 3") == 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(q("SELECT count(*) FROM jobs WHERE status = 3"), 1);
    char before[512], after[512];
    snapshot(before, sizeof before);
    const char *targets[] = {s1, sub};
    for (size_t i = 0; i < 2; i++) {
        ASSERT_EQ(weft_delete(o, targets[i], 0, NULL, err), WEFT_ESTATE);
        printf("    %s\n", err);
        ASSERT_CONTAINS(err, "JOB_slow_");
        ASSERT_CONTAINS(err, "RUNNING");
        ASSERT_CONTAINS(err, "--force");
    }
    ASSERT_EQ(weft_clean(o, 0, 0, NULL, err), WEFT_ESTATE);
    ASSERT_EQ(weft_delete(o, s1, WEFT_DELETE_CHECK | WEFT_DELETE_FORCE, NULL, err), WEFT_ESTATE);
    /* clean --older-than leaves unfinished work alone, without an error. */
    weft_delete_counts dc;
    ASSERT_OK(weft_clean(o, 1, 0, &dc, err), err);
    ASSERT_EQ(dc.submissions + dc.scenarios + dc.jobs, 0);
    snapshot(after, sizeof after);
    ASSERT_STR_EQ(after, before);

    ASSERT_OK(weft_delete(o, s1, WEFT_DELETE_FORCE, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.jobs, 1);
    ASSERT_EQ(q("SELECT count(*) FROM jobs"), 0);
    ASSERT_EQ(q("SELECT count(*) FROM submissions"), 0);
    free(s1);
    free(sub);
    ASSERT_OK(weft_orchestrator_stop(o, true, err), err);
    weft_orchestrator_close(o);
    store_is_healthy(c);
    weft_config_free(c);
}

/* ---- clean ---- */

TEST(clean_all_and_older_than)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *old = new_scenario(o);
    free(run(o, old));
    char *old_own = dn_path("own", old);
    char *recent = new_scenario(o);
    free(run(o, recent));
    /* an old scenario with a recent submission stays, and so does that submission */
    char *busy = new_scenario(o);
    free(run(o, busy));
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 3);
    /* old and busy were made two hours ago, and old's submission too */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(".weft/weft.db", &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char sql[1024];
    int64_t ago = (int64_t)time(NULL) * 1000000 - 7200LL * 1000000;
    snprintf(sql, sizeof sql,
             "UPDATE scenarios SET created_us = %lld WHERE id IN ('%s', '%s');"
             "UPDATE submissions SET created_us = %lld WHERE entity_id = '%s'",
             (long long)ago, old, busy, (long long)ago, old);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* a file a crash left behind after a deletion's commit */
    test_write_file(".weft/data/DATANODE_own_lost.txt", "x");
    test_write_file(".weft/data/notes.txt", "mine");

    weft_delete_counts dc;
    ASSERT_OK(weft_clean(o, 3600LL * 1000000, 0, &dc, err), err); /* an hour */
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.submissions, 1);
    ASSERT_EQ(dc.jobs, 3);
    ASSERT_EQ(dc.data_nodes, 2);
    ASSERT_EQ(dc.files, 2); /* old's own, and the lost file */
    ASSERT(!exists(old_own) && !exists(".weft/data/DATANODE_own_lost.txt"));
    ASSERT(exists(".weft/data/notes.txt"));
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 2);
    char sel[256];
    snprintf(sel, sizeof sel, "SELECT count(*) FROM scenarios WHERE id = '%s'", old);
    ASSERT_EQ(q(sel), 0);
    store_is_healthy(c);

    ASSERT_OK(weft_clean(o, 0, 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 2);
    ASSERT_EQ(dc.submissions, 2);
    ASSERT_EQ(dc.data_nodes, 5); /* g, and own + mine of each */
    char snap[512];
    snapshot(snap, sizeof snap);
    ASSERT_STR_EQ(snap, "0 0 0 0 0 0 0 0 0 0");
    ASSERT(exists("mine.txt") && exists(".weft/data/notes.txt"));
    /* The store works on: a new run recreates what it needs. */
    char *again = new_scenario(o);
    free(run(o, again));
    ASSERT_EQ(q("SELECT count(*) FROM versions"), 1);
    store_is_healthy(c);
    free(again);
    free(old_own);
    free(old);
    free(recent);
    free(busy);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- versions ---- */

TEST(version_names_and_modes)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    const char *bad[] = {"", "-x", "a b", "x/y", "ünï",
                         "a1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(weft_version_set(o, bad[i], WEFT_VERSION_EXPERIMENT, err), WEFT_EINVAL);
        ASSERT_CONTAINS(err, "bad version name");
    }
    printf("    %s\n", err);
    ASSERT_EQ(weft_version_set(o, "development", WEFT_VERSION_EXPERIMENT, err), WEFT_EINVAL);
    ASSERT_EQ(weft_version_set(o, "v1", WEFT_VERSION_DEVELOPMENT, err), WEFT_EINVAL);
    ASSERT_OK(weft_version_set(o, "v1.0_rc-1", WEFT_VERSION_EXPERIMENT, err), err);
    ASSERT_EQ(q("SELECT count(*) FROM versions"), 0); /* stored with its first entity */
    char *s1 = new_scenario(o);
    ASSERT_OK(weft_version_set(o, "p1", WEFT_VERSION_PRODUCTION, err), err);
    char *s2 = new_scenario(o);
    ASSERT_EQ(weft_version_set(o, "p1", WEFT_VERSION_EXPERIMENT, err), WEFT_ESTATE);
    printf("    %s\n", err);
    ASSERT_CONTAINS(err, "production");
    /* an experiment version may become production */
    ASSERT_OK(weft_version_set(o, "v1.0_rc-1", WEFT_VERSION_PRODUCTION, err), err);
    ASSERT_EQ(q("SELECT count(*) FROM versions WHERE mode = 'production'"), 2);
    free(s1);
    free(s2);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(versions_tag_list_delete)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *dev = new_scenario(o);
    free(run(o, dev));
    ASSERT_OK(weft_version_set(o, "exp1", WEFT_VERSION_EXPERIMENT, err), err);
    char *e1 = new_scenario(o);
    free(run(o, e1));
    ASSERT_OK(weft_version_set(o, "prod1", WEFT_VERSION_PRODUCTION, err), err);
    char *p1 = new_scenario(o);
    free(run(o, p1));
    /* g was created under development: one instance for every version */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM scenarios WHERE id = '%s' AND version = 'exp1'", e1);
    ASSERT_EQ(q(sql), 1);
    ASSERT_EQ(q("SELECT count(*) FROM jobs WHERE version = 'exp1'"), 3);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes WHERE version = 'development'"), 3);

    weft_version_info *v = NULL;
    size_t n = 0;
    ASSERT_OK(weft_versions_list(o, &v, &n, err), err);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(v[0].name, "development");
    ASSERT_EQ(v[0].mode, WEFT_VERSION_DEVELOPMENT);
    ASSERT_STR_EQ(v[1].name, "exp1");
    ASSERT_EQ(v[1].mode, WEFT_VERSION_EXPERIMENT);
    ASSERT_STR_EQ(v[2].name, "prod1");
    ASSERT_EQ(v[2].mode, WEFT_VERSION_PRODUCTION);
    /* 1 scenario + 3 tasks + 2 own nodes + 1 submission + 3 jobs; dev has g too */
    ASSERT_EQ(v[1].nentities, 10);
    ASSERT_EQ(v[0].nentities, 11);
    ASSERT(v[0].created_us <= v[1].created_us && v[1].created_us <= v[2].created_us);
    ASSERT(v[0].created_us > 0);
    weft_version_list_free(v, n);

    weft_delete_counts dc;
    ASSERT_OK(weft_version_delete(o, "exp1", 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(dc.jobs, 3);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM scenarios WHERE id = '%s'", e1);
    ASSERT_EQ(q(sql), 0);
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 2);
    ASSERT_EQ(q("SELECT count(*) FROM versions"), 2);
    /* the development version takes g's tag away, g itself stays */
    ASSERT_OK(weft_version_delete(o, "development", 0, &dc, err), err);
    ASSERT_EQ(dc.scenarios, 1);
    ASSERT_EQ(q("SELECT count(*) FROM data_nodes WHERE config_id = 'g' AND version IS NULL"), 1);
    ASSERT_OK(weft_versions_list(o, &v, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(v[0].name, "prod1");
    weft_version_list_free(v, n);
    free(run(o, p1));
    store_is_healthy(c);
    free(dev);
    free(e1);
    free(p1);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* A store of schema 4 is tagged "development" when it migrates. */
TEST(migration_tags_old_entities)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    ASSERT_EQ(mkdir(".weft", 0777), 0);
    weft__store *s = NULL;
    ASSERT_OK(weft__store_open_version(".weft/weft.db", 4, &s, err), err);
    weft__store_close(s);
    /* rows as a build of schema 4 wrote them (this build's inserts name the
     * version column) */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(".weft/weft.db", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO scenarios(id, config_id, created_us)"
                           " VALUES('SCENARIO_s_old', 's', 1000);"
                           "INSERT INTO tasks(id, config_id, scenario_id, created_us)"
                           " VALUES('TASK_tg_old', 'tg', 'SCENARIO_s_old', 1000);",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    weft_orchestrator *o = open_rw(c);
    weft_version_info *v = NULL;
    size_t n = 0;
    ASSERT_OK(weft_versions_list(o, &v, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(v[0].name, "development");
    ASSERT_EQ(v[0].created_us, 1000);
    ASSERT_EQ(v[0].nentities, 2);
    weft_version_list_free(v, n);
    weft_delete_counts dc;
    ASSERT_OK(weft_delete(o, "SCENARIO_s_old", 0, &dc, err), err);
    ASSERT_EQ(dc.tasks, 1);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- crashes ---- */

/* Every store write of a scenario's deletion failed in turn: each failed
 * attempt leaves every row and file as it was; the last one succeeds. */
TEST(write_failure_mid_delete_changes_nothing)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft__store_fault_arm(0, WEFT__FAULT_IOERR, false); /* counts only; the store opens on it */
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o), *s2 = new_scenario(o);
    free(run(o, s1));
    free(run(o, s2));
    char *own = dn_path("own", s2);
    weft_orchestrator_close(o);
    char before[512], now[512];
    snapshot(before, sizeof before);
    long failures = 0;
    for (long nth = 1;; nth++) {
        ASSERT_LT(nth, 500);
        weft__store_fault_arm(0, WEFT__FAULT_IOERR, false);
        o = open_rw(c);
        weft__store_fault_arm(nth, nth % 2 ? WEFT__FAULT_IOERR : WEFT__FAULT_FULL, false);
        weft_err e = weft_delete(o, s2, 0, NULL, err);
        long injected = weft__store_fault_injected();
        weft__store_fault_disarm();
        weft_orchestrator_close(o);
        if (e == WEFT_OK && injected == 0) break;
        /* A failure may also hit the WAL checkpoint after a commit: then the
         * deletion happened, whole. */
        snapshot(now, sizeof now);
        if (e == WEFT_OK) {
            ASSERT(strcmp(now, before) != 0);
            break;
        }
        ASSERT_EQ(e, WEFT_ESTORE);
        ASSERT_STR_EQ(now, before);
        ASSERT(exists(own));
        store_is_healthy(c);
        failures++;
    }
    printf("    %ld failed attempts, each changed nothing\n", failures);
    ASSERT_GT(failures, 3);
    ASSERT(!exists(own));
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 1);
    store_is_healthy(c);
    free(own);
    free(s1);
    free(s2);
    weft_config_free(c);
}

/* kill -9 at random points of a big deletion: afterwards the scenario is
 * there whole or gone whole, and the store is healthy. */
TEST(kill_9_mid_delete)
{
    weft_config *c = shared_config(WEFT_MODE_DEVELOPMENT);
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o), *keep = new_scenario(o);
    free(run(o, keep));
    /* many submissions make the deletion long enough to be hit */
    for (int i = 0; i < 150; i++) free(run(o, s1));
    weft_orchestrator_close(o);
    long long subs = q("SELECT count(*) FROM submissions");
    unsigned seed = (unsigned)time(NULL);
    printf("    seed %u\n", seed);
    srand(seed);
    int whole = 0, gone = 0;
    for (int round = 0; round < 6 && !gone; round++) {
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            weft_orchestrator *co = NULL;
            char cerr[WEFT_ERRBUF_SIZE];
            if (weft_orchestrator_open(c, NULL, &co, cerr)) _exit(3);
            _exit(weft_delete(co, s1, 0, NULL, cerr) ? 4 : 0);
        }
        struct timespec ts = {0, (long)(rand() % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);
        store_is_healthy(c);
        long long now = q("SELECT count(*) FROM submissions");
        if (now == subs) {
            whole++;
            ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 2);
        } else {
            ASSERT_EQ(now, 1);
            ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 1);
            ASSERT_EQ(q("SELECT count(*) FROM jobs"), 3);
            gone++;
        }
    }
    printf("    %d rounds left it whole, %d deleted it\n", whole, gone);
    free(s1);
    free(keep);
    weft_config_free(c);
}

/* ---- the commands ---- */

static const char *CLI_CONFIG_TOML =
    "[DATA_NODE.out]\nstorage_type = \"text\"\nscope = \"SCENARIO:SCOPE\"\n"
    "[TASK.hello]\ncommand = [\"sh\", \"-c\", \"echo hi > \\\"$1\\\"\", \"sh\", \"{out}\"]\n"
    "outputs = [\"out:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"hello:SECTION\"]\n";

static int weft_cmd(char **out, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/weft' %s", test_build_dir(), args);
    int rc = test_run_cmd(cmd, out);
    printf("    $ weft %s  -> %d\n%s", args, rc, *out);
    return rc;
}

/* The first id in `text` that starts with `prefix` (static buffer). */
static const char *first_id(const char *text, const char *prefix)
{
    static char id[256];
    const char *p = strstr(text, prefix);
    if (!p) FAIL("no %s in:\n%s", prefix, text);
    size_t n = strcspn(p, " \t\n\",");
    snprintf(id, sizeof id, "%.*s", (int)n, p);
    return id;
}

TEST(cli_versions_delete_clean)
{
    test_write_file("config.toml", CLI_CONFIG_TOML);
    char *out = NULL;
    ASSERT_EQ(weft_cmd(&out, "delete SCENARIO_s_x"), 1);
    ASSERT_CONTAINS(out, "cannot delete SCENARIO_s_x: no store yet");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "clean"), 0);
    ASSERT_CONTAINS(out, "nothing to clean");
    free(out);
    ASSERT(access(".weft/weft.db", F_OK) != 0); /* none was created */
    ASSERT_EQ(weft_cmd(&out, "run -q --experiment 'bad name'"), 2);
    ASSERT_CONTAINS(out, "bad version name 'bad name'");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "run -q --experiment e1 --production p1"), 2);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "run -q --experiment e1"), 0);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "run -q"), 0);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions"), 0);
    ASSERT_CONTAINS(out, "VERSION");
    ASSERT(strstr(out, "e1") && strstr(out, "experiment") && strstr(out, "development"));
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions --json"), 0);
    json_error_t je;
    json_t *arr = json_loads(out, 0, &je);
    ASSERT(arr && json_array_size(arr) == 2);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "e1");
    /* scenario, task, data node, submission, job */
    ASSERT_EQ(json_integer_value(json_object_get(json_array_get(arr, 0), "entities")), 5);
    json_decref(arr);
    free(out);

    ASSERT_EQ(weft_cmd(&out, "delete SCENARIO_s_nope"), 1);
    ASSERT_CONTAINS(out, "no scenario SCENARIO_s_nope");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "delete"), 2);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "jobs --json"), 0);
    char job[256];
    snprintf(job, sizeof job, "delete %s", first_id(out, "JOB_hello_"));
    free(out);
    ASSERT_EQ(weft_cmd(&out, job), 0);
    ASSERT_CONTAINS(out, "1 job");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions --delete e9"), 1);
    ASSERT_CONTAINS(out, "no version e9");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions --delete e1"), 0);
    ASSERT_CONTAINS(out, "deleted version e1: 1 scenario, 1 task");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "scenarios --json"), 0);
    char scen[256], dry[300];
    snprintf(scen, sizeof scen, "delete %s", first_id(out, "SCENARIO_s_"));
    snprintf(dry, sizeof dry, "%s --dry-run", scen);
    free(out);
    ASSERT_EQ(weft_cmd(&out, dry), 0);
    ASSERT_CONTAINS(out, "would delete SCENARIO_s_");
    ASSERT_CONTAINS(out, "1 scenario, 1 task, 1 data node (0 files), 1 submission, 1 job");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions --delete development --dry-run"), 0);
    ASSERT_CONTAINS(out, "would delete version development: 1 scenario");
    free(out);
    ASSERT_EQ(weft_cmd(&out, scen), 0);
    ASSERT_CONTAINS(out, "1 scenario, 1 task, 1 data node (1 file), 1 submission, 1 job");
    free(out);

    ASSERT_EQ(weft_cmd(&out, "clean --older-than 30x"), 2);
    ASSERT_CONTAINS(out, "bad duration '30x'");
    ASSERT_CONTAINS(out, "s, m, h or d");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "clean --older-than d"), 2);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "run -q"), 0);
    free(out);
    ASSERT_EQ(weft_cmd(&out, "clean --older-than 30d"), 0);
    ASSERT_CONTAINS(out, "deleted 0 scenarios");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "clean"), 0);
    ASSERT_CONTAINS(out, "deleted 1 scenario, 1 task, 1 data node (1 file), 1 submission, 1 job");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "versions"), 0);
    ASSERT_CONTAINS(out, "no versions");
    free(out);
    ASSERT_EQ(weft_cmd(&out, "check --store"), 0);
    free(out);
}

/* A `weft run` holds the store: `weft delete` refuses, naming its pid, and
 * changes nothing; once the run has ended, the deletion goes through. */
TEST(cli_delete_refused_while_a_run_holds_the_store)
{
    test_write_file("config.toml",
                    "[DATA_NODE.out]\nstorage_type = \"text\"\n"
                    "[TASK.slow]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
                    "outputs = [\"out:SECTION\"]\n[SCENARIO.s]\ntasks = [\"slow:SECTION\"]\n");
    char bin[4096];
    snprintf(bin, sizeof bin, "%s/weft", test_build_dir());
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open("run.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execl(bin, "weft", "run", "-q", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        if (q_try("SELECT count(*) FROM jobs WHERE status = 3") > 0) break;
        usleep(10000);
    }
    ASSERT_EQ(q("SELECT count(*) FROM jobs WHERE status = 3"), 1);
    char *out = NULL, args[512], plain[512];
    ASSERT_EQ(weft_cmd(&out, "scenarios --json"), 0);
    snprintf(args, sizeof args, "delete --force %s", first_id(out, "SCENARIO_s_"));
    snprintf(plain, sizeof plain, "delete %s", first_id(out, "SCENARIO_s_"));
    free(out);
    ASSERT_EQ(weft_cmd(&out, args), 1);
    char want[64];
    snprintf(want, sizeof want, "in use by another weft process (pid %d)", (int)pid);
    ASSERT_CONTAINS(out, want);
    free(out);
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 1);
    ASSERT_EQ(kill(pid, SIGINT), 0); /* Ctrl-C: the run cancels its job and ends */
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_EQ(weft_cmd(&out, plain), 0);
    ASSERT_CONTAINS(out, "1 scenario, 1 task");
    free(out);
    ASSERT_EQ(q("SELECT count(*) FROM scenarios"), 0);
}

TEST_MAIN(TEST_ENTRY(delete_job_then_submission), TEST_ENTRY(delete_scenario_keeps_shared_nodes),
          TEST_ENTRY(delete_scenario_takes_sequence_submissions),
          TEST_ENTRY(delete_cycles_and_their_primary_scenario),
          TEST_ENTRY(unknown_ids_change_nothing), TEST_ENTRY(unfinished_refused_unless_forced),
          TEST_ENTRY(clean_all_and_older_than), TEST_ENTRY(version_names_and_modes),
          TEST_ENTRY(versions_tag_list_delete), TEST_ENTRY(migration_tags_old_entities),
          TEST_ENTRY(write_failure_mid_delete_changes_nothing),
          TEST_ENTRY_TIMEOUT(kill_9_mid_delete, 120), TEST_ENTRY(cli_versions_delete_clean),
          TEST_ENTRY(cli_delete_refused_while_a_run_holds_the_store))
