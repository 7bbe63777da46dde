/* SPDX-License-Identifier: MIT */
/*
 * test_orchestrator.c - the orchestrator in development mode, end to end:
 * every job status path (completed, skipped, failed with abandoned
 * downstream, canceled, blocked then pending), data node scopes, the order
 * and timing of subscriber events against the store, the storage lock,
 * recovery after a kill -9, and cancel requests from another handle.
 *
 * Task functions are registered in this program (weft_register_function);
 * data nodes are text files under the test's temporary .weft/.
 */
#include "test.h"

#include "core/orchestrator_internal.h"
#include "store/store.h"
#include "weft.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char err[WEFT_ERRBUF_SIZE];

/* ---- task functions ---- */

static int runs; /* jobs run by this process's functions */

/* Writes "<task>;" + the concatenated inputs to every output. */
static int fn_write(weft_ctx *ctx)
{
    char buf[4096] = "";
    size_t len = 0;
    for (size_t i = 0; i < weft_ctx_ninputs(ctx); i++) {
        char *d = NULL;
        size_t n = 0;
        if (weft_dn_read(weft_ctx_input(ctx, i), &d, &n, NULL) != WEFT_OK) return 1;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", d);
        free(d);
    }
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s;", weft_ctx_task_config_id(ctx));
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), buf, len, NULL) != WEFT_OK) return 1;
    runs++;
    return 0;
}

static int fn_fail(weft_ctx *ctx)
{
    runs++;
    weft_ctx_fail(ctx, "boom in %s", weft_ctx_task_config_id(ctx));
    return 1;
}

static void register_fns(void)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    ASSERT_OK(weft_register_function("test.fail", fn_fail), "");
}

/* ---- configuration helpers ---- */

static void dn(weft_config *c, const char *id, const char *scope, const char *validity)
{
    weft_data_node_opts o = {.storage_type = "text", .scope = scope, .validity_period = validity};
    ASSERT_OK(weft_config_configure_data_node(c, id, &o, err), err);
}

/* ins/outs: comma-free NULL-terminated lists given as compound literals. */
static void task(weft_config *c, const char *id, const char *fn, const char *const *ins,
                 const char *const *outs, bool skippable)
{
    weft_task_opts o = {.function = fn, .inputs = ins, .outputs = outs, .skippable = skippable};
    ASSERT_OK(weft_config_configure_task(c, id, &o, err), err);
}

static void sleep_task(weft_config *c, const char *id, const char *const *ins,
                       const char *const *outs, const char *seconds)
{
    weft_property p[] = {{"duration", seconds}};
    weft_task_opts o = {.function = "weft.sleep", .inputs = ins, .outputs = outs,
                        .properties = p, .nproperties = 1};
    ASSERT_OK(weft_config_configure_task(c, id, &o, err), err);
}

static void scenario(weft_config *c, const char *id, const char *const *tasks)
{
    ASSERT_OK(weft_config_configure_scenario(c, id, tasks, err), err);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* a -> t1 -> b -> t2 -> c, and an independent t3 -> d */
static weft_config *chain_config(bool skippable)
{
    weft_config *c = weft_config_new();
    ASSERT(c);
    dn(c, "a", NULL, NULL);
    dn(c, "b", NULL, NULL);
    dn(c, "c", NULL, NULL);
    dn(c, "d", NULL, NULL);
    task(c, "t1", "test.write", NONE, L("b"), skippable);
    task(c, "t2", "test.write", L("b"), L("c"), skippable);
    task(c, "t3", "test.write", NONE, L("d"), skippable);
    /* t2 first on purpose: jobs come in dependency order, not config order */
    scenario(c, "s", L("t2", "t1", "t3"));
    return c;
}

static weft_orchestrator *open_rw(weft_config *c)
{
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    return o;
}

static weft_orchestrator *open_ro(weft_config *c)
{
    weft_orchestrator *o = NULL;
    weft_orchestrator_opts opts = {.read_only = true};
    ASSERT_OK(weft_orchestrator_open(c, &opts, &o, err), err);
    return o;
}

/* The job of task config `tcfg` in a submission (caller frees). */
static weft_job_info *job_of(weft_orchestrator *o, const char *sub, const char *tcfg)
{
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_job_filter f = {.submission_id = sub, .status = -1};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    weft_job_info *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!found && strcmp(jobs[i]->task_config_id, tcfg) == 0) {
            found = jobs[i];
            jobs[i] = NULL;
        }
    }
    weft_job_list_free(jobs, n);
    if (!found) FAIL("no job of %s in %s", tcfg, sub);
    return found;
}

static weft_job_status status_of(weft_orchestrator *o, const char *sub, const char *tcfg)
{
    weft_job_info *j = job_of(o, sub, tcfg);
    weft_job_status s = j->status;
    weft_job_info_free(j);
    return s;
}

static weft_submission_status sub_status(weft_orchestrator *o, const char *sub)
{
    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    weft_submission_status s = si->status;
    ASSERT_NE(si->finished_us, 0);
    weft_submission_info_free(si);
    return s;
}

static char *run_scenario(weft_orchestrator *o, const char *scen, bool force)
{
    char *sub = NULL;
    weft_submit_opts so = {.force = force};
    ASSERT_OK(weft_submit(o, scen, &so, &sub, err), err);
    ASSERT(sub);
    return sub;
}

static char *new_scenario(weft_orchestrator *o, const char *cfg_id)
{
    char *id = NULL;
    ASSERT_OK(weft_scenario_create(o, cfg_id, &id, err), err);
    return id;
}

/* ---- sequences ---- */

/* chain_config plus the sequence "second half" = [t2] of scenario s. */
static weft_config *sequence_config(void)
{
    weft_config *c = chain_config(false);
    const char *seq[] = {"t2:SECTION"};
    ASSERT_OK(weft_config_set_list(c, "SCENARIO.s", "sequences.second half", seq, 1, err), err);
    ASSERT_OK(weft_config_check(c, err), err);
    return c;
}

static size_t count_submissions(weft_orchestrator *o)
{
    weft_submission_info **subs = NULL;
    size_t n = 0;
    ASSERT_OK(weft_submissions_list(o, &subs, &n, err), err);
    for (size_t i = 0; i < n; i++) weft_submission_info_free(subs[i]);
    free(subs);
    return n;
}

TEST(sequence_runs_only_its_tasks)
{
    register_fns();
    weft_config *c = sequence_config();
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *first = run_scenario(o, scen, false);
    ASSERT_EQ(runs, 3);
    char *seq = NULL;
    ASSERT_OK(weft_sequence_id(scen, "second half", &seq, err), err);
    char want[256];
    snprintf(want, sizeof want, "SEQUENCE_secondTPSPACEhalf_%s", scen);
    ASSERT_STR_EQ(seq, want);
    char *sub = run_scenario(o, seq, false);
    ASSERT_EQ(runs, 4); /* t2 alone */
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_COMPLETED);
    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    ASSERT_EQ(si->njobs, 1);
    ASSERT_STR_EQ(si->entity_id, seq);
    ASSERT_STR_EQ(si->entity_config_id, "second half");
    weft_submission_info_free(si);
    weft_job_info *j = job_of(o, sub, "t2");
    ASSERT_EQ(j->status, WEFT_JOB_COMPLETED);
    ASSERT_STR_EQ(j->entity_id, seq);
    /* the job is of the scenario instance's task, not a new one */
    weft_job_info *j0 = job_of(o, first, "t2");
    ASSERT_STR_EQ(j->task_id, j0->task_id);
    weft_job_info_free(j);
    weft_job_info_free(j0);
    free(first);
    free(sub);
    free(seq);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* The scenario's rules hold inside a sequence: an up-to-date skippable
 * task is SKIPPED, and a failure ABANDONs what depends on it. */
TEST(sequence_skips_and_abandons_like_a_scenario)
{
    register_fns();
    weft_config *c = chain_config(true);
    task(c, "t0", "test.fail", NONE, L("a"), false);
    task(c, "t1b", "test.write", L("a"), NONE, false);
    scenario(c, "s2", L("t0", "t1b"));
    const char *both[] = {"t1", "t2"}, *failing[] = {"t0", "t1b"};
    ASSERT_OK(weft_config_set_list(c, "SCENARIO.s", "sequences.both", both, 2, err), err);
    ASSERT_OK(weft_config_set_list(c, "SCENARIO.s2", "sequences.failing", failing, 2, err), err);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s"), *seq = NULL;
    free(run_scenario(o, scen, false));
    ASSERT_EQ(runs, 3);
    ASSERT_OK(weft_sequence_id(scen, "both", &seq, err), err);
    char *sub = run_scenario(o, seq, false);
    ASSERT_EQ(runs, 3);
    ASSERT_EQ(status_of(o, sub, "t1"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(status_of(o, sub, "t2"), WEFT_JOB_SKIPPED);
    free(sub);
    free(seq);
    free(scen);

    scen = new_scenario(o, "s2");
    ASSERT_OK(weft_sequence_id(scen, "failing", &seq, err), err);
    sub = run_scenario(o, seq, false);
    ASSERT_EQ(runs, 4); /* t0 ran and failed; t1b never ran */
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_FAILED);
    static const struct {
        const char *task;
        weft_job_status status;
    } want[] = {{"t0", WEFT_JOB_FAILED}, {"t1b", WEFT_JOB_ABANDONED}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        ASSERT_EQ(status_of(o, sub, want[i].task), want[i].status);
    free(sub);
    free(seq);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(unknown_sequences_change_nothing)
{
    register_fns();
    weft_config *c = sequence_config();
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s"), *seq = NULL, *sub = NULL;
    ASSERT_OK(weft_sequence_id(scen, "nope", &seq, err), err);
    ASSERT_EQ(weft_submit(o, seq, NULL, &sub, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "scenario s has no sequence 'nope'");
    free(seq);
    ASSERT_OK(weft_sequence_id("SCENARIO_s_00000000-0000-4000-8000-000000000000", "second half", &seq,
                               err), err);
    ASSERT_EQ(weft_submit(o, seq, NULL, &sub, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no scenario SCENARIO_s_00000000-0000-4000-8000-000000000000");
    ASSERT_EQ(weft_submit(o, "SEQUENCE_x", NULL, &sub, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no sequence SEQUENCE_x");
    ASSERT(sub == NULL);
    ASSERT_EQ(runs, 0);
    ASSERT_EQ(count_submissions(o), 0);
    free(seq);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* A sequence naming a task outside its scenario: the config is refused
 * before anything runs. */
TEST(sequence_with_a_foreign_task_is_an_error)
{
    weft_config *c = chain_config(false);
    task(c, "other", "test.write", NONE, L("d"), false);
    const char *seq[] = {"t1", "other"};
    ASSERT_OK(weft_config_set_list(c, "SCENARIO.s", "sequences.mixed", seq, 2, err), err);
    ASSERT_EQ(weft_config_check(c, err), WEFT_ECONFIG);
    ASSERT_CONTAINS(err, "sequence 'mixed' of scenario 's' names task 'other', which is not one of "
                         "the scenario's tasks");
    weft_orchestrator *o = NULL;
    ASSERT_EQ(weft_orchestrator_open(c, NULL, &o, err), WEFT_ECONFIG);
    ASSERT(o == NULL);
    weft_config_free(c);
}

/* ---- completed ---- */

TEST(completed_chain)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    ASSERT_EQ(weft_orchestrator_mode(o), WEFT_MODE_DEVELOPMENT);
    char *scen = new_scenario(o, "s");
    ASSERT(strncmp(scen, "SCENARIO_s_", 11) == 0);
    char *sub = run_scenario(o, scen, false);
    ASSERT(strncmp(sub, "SUBMISSION_", 11) == 0);
    ASSERT_EQ(runs, 3);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_COMPLETED);

    weft_job_info *j1 = job_of(o, sub, "t1"), *j2 = job_of(o, sub, "t2");
    ASSERT(strncmp(j1->id, "JOB_t1_", 7) == 0);
    ASSERT_EQ(strlen(j1->id), 7 + 36);
    ASSERT_EQ(j1->status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(j1->attempt, 1);
    ASSERT_STR_EQ(j1->submission_id, sub);
    ASSERT_STR_EQ(j1->entity_id, scen);
    ASSERT(strncmp(j1->task_id, "TASK_t1_", 8) == 0);
    ASSERT_STR_EQ(j1->worker, "local");
    ASSERT(j1->error == NULL);
    ASSERT_GT(j1->status_time_us[WEFT_JOB_SUBMITTED], 0);
    ASSERT_GT(j1->status_time_us[WEFT_JOB_PENDING], 0);
    ASSERT_EQ(j1->status_time_us[WEFT_JOB_BLOCKED], 0);
    ASSERT_GE(j1->status_time_us[WEFT_JOB_RUNNING], j1->status_time_us[WEFT_JOB_PENDING]);
    ASSERT_GE(j1->status_time_us[WEFT_JOB_COMPLETED], j1->status_time_us[WEFT_JOB_RUNNING]);
    /* t2 waited for t1's output, and became PENDING only when t1 completed */
    ASSERT_EQ(j2->status, WEFT_JOB_COMPLETED);
    ASSERT_GT(j2->status_time_us[WEFT_JOB_BLOCKED], 0);
    ASSERT_GE(j2->status_time_us[WEFT_JOB_PENDING], j1->status_time_us[WEFT_JOB_COMPLETED]);

    /* The status history: a row per change, in order. */
    weft__store *st = NULL;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &st, err), err);
    int *sv = NULL;
    int64_t *tv = NULL;
    size_t n = 0;
    ASSERT_OK(weft__store_job_history(st, j2->id, &sv, &tv, &n, err), err);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(sv[0], WEFT_JOB_SUBMITTED);
    ASSERT_EQ(sv[1], WEFT_JOB_BLOCKED);
    ASSERT_EQ(sv[2], WEFT_JOB_PENDING);
    ASSERT_EQ(sv[3], WEFT_JOB_RUNNING);
    ASSERT_EQ(sv[4], WEFT_JOB_COMPLETED);
    for (size_t i = 1; i < n; i++) ASSERT_GE(tv[i], tv[i - 1]);
    free(sv);
    free(tv);
    weft__store_close(st);

    /* The data flowed, and its edits were recorded. */
    char *data = NULL;
    size_t len = 0;
    ASSERT_OK(weft_data_read(o, "c", &data, &len, err), err);
    ASSERT_STR_EQ(data, "t1;t2;");
    free(data);

    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    ASSERT_EQ(si->njobs, 3);
    ASSERT_EQ(si->count[WEFT_JOB_COMPLETED], 3);
    ASSERT_STR_EQ(si->entity_id, scen);
    ASSERT_STR_EQ(si->entity_config_id, "s");
    ASSERT_GE(si->finished_us, si->created_us);
    weft_submission_info_free(si);

    char **ids = NULL, **cfgs = NULL;
    ASSERT_OK(weft_scenarios_list(o, &ids, &cfgs, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(ids[0], scen);
    ASSERT_STR_EQ(cfgs[0], "s");
    weft_strv_free(ids, n);
    weft_strv_free(cfgs, n);

    weft_job_info_free(j1);
    weft_job_info_free(j2);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(submit_single_task_and_unknown_entity)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    weft_job_info *j3 = job_of(o, sub, "t3");
    char *sub2 = NULL;
    ASSERT_OK(weft_submit(o, j3->task_id, NULL, &sub2, err), err);
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_job_filter f = {.submission_id = sub2, .status = -1};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(jobs[0]->task_id, j3->task_id);
    ASSERT_EQ(jobs[0]->status, WEFT_JOB_COMPLETED);
    weft_job_list_free(jobs, n);
    /* filter by status */
    f = (weft_job_filter){.submission_id = NULL, .status = WEFT_JOB_COMPLETED};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 4);
    weft_job_list_free(jobs, n);

    ASSERT_EQ(weft_submit(o, "SCENARIO_nope", NULL, NULL, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "SCENARIO_nope");
    char *none = (char *)"x";
    ASSERT_EQ(weft_scenario_create(o, "nope", &none, err), WEFT_ENOTFOUND);
    ASSERT(none == NULL);
    weft_job_info *ji = NULL;
    ASSERT_EQ(weft_job_get(o, "JOB_x", &ji, err), WEFT_ENOTFOUND);
    weft_job_info_free(j3);
    free(sub);
    free(sub2);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- events ---- */

typedef struct rec {
    char what[64][80];
    size_t n;
    weft_orchestrator *ro; /* a read-only handle: what was stored */
    int mismatches;
    int checked;
} rec;

static void on_event(const weft_event *ev, void *ud)
{
    rec *r = ud;
    if (r->n < 64) {
        if (ev->job_id)
            snprintf(r->what[r->n++], 80, "%s %s", ev->task_config_id,
                     weft_job_status_name(ev->job_status));
        else
            snprintf(r->what[r->n++], 80, "submission %s",
                     weft_submission_status_name(ev->submission_status));
    }
    if (r->ro) {
        /* The change is in the store before anyone hears of it. */
        if (ev->job_id) {
            weft_job_info *j = NULL;
            if (weft_job_get(r->ro, ev->job_id, &j, NULL) != WEFT_OK) {
                r->mismatches++;
            } else {
                /* the stored status is this one or a later one */
                if (j->status_time_us[ev->job_status] == 0) r->mismatches++;
                weft_job_info_free(j);
            }
        } else {
            weft_submission_info *s = NULL;
            if (weft_submission_get(r->ro, ev->submission_id, &s, NULL) != WEFT_OK) r->mismatches++;
            weft_submission_info_free(s);
        }
        r->checked++;
    }
}

static ptrdiff_t find_event(const rec *r, const char *what)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->what[i], what) == 0) return (ptrdiff_t)i;
    FAIL("no event \"%s\"", what);
}

TEST(event_order_blocked_then_pending)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    rec r = {0};
    ASSERT_OK(weft_subscribe(o, on_event, &r), "");
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    ASSERT_EQ(find_event(&r, "submission SUBMITTED"), 0);
    ASSERT_LT(find_event(&r, "t2 SUBMITTED"), find_event(&r, "t2 BLOCKED"));
    ASSERT_LT(find_event(&r, "t1 PENDING"), find_event(&r, "t1 RUNNING"));
    ASSERT_LT(find_event(&r, "t1 RUNNING"), find_event(&r, "t1 COMPLETED"));
    ASSERT_LT(find_event(&r, "t1 COMPLETED"), find_event(&r, "t2 PENDING"));
    ASSERT_LT(find_event(&r, "t2 PENDING"), find_event(&r, "t2 RUNNING"));
    ASSERT_LT(find_event(&r, "t2 RUNNING"), find_event(&r, "t2 COMPLETED"));
    ASSERT_LT(find_event(&r, "submission RUNNING"), find_event(&r, "submission COMPLETED"));
    ASSERT_EQ(find_event(&r, "submission COMPLETED"), (ptrdiff_t)r.n - 1);
    /* 3 jobs x (SUBMITTED, BLOCKED/PENDING.., RUNNING, COMPLETED) */
    size_t jobs = 0;
    for (size_t i = 0; i < r.n; i++) jobs += strncmp(r.what[i], "submission", 10) != 0;
    ASSERT_EQ(jobs, 3 * 4 + 1);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(events_after_commit)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s"); /* creates the store for the reader */
    rec r = {0};
    r.ro = open_ro(c);
    ASSERT_OK(weft_subscribe(o, on_event, &r), "");
    char *sub = run_scenario(o, scen, false);
    ASSERT_GT(r.checked, 10);
    ASSERT_EQ(r.mismatches, 0);
    weft_orchestrator_close(r.ro);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- skipped ---- */

TEST(skippable_second_submit_skips_force_reruns)
{
    register_fns();
    weft_config *c = chain_config(true);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *s1 = run_scenario(o, scen, false);
    ASSERT_EQ(runs, 3);
    ASSERT_EQ(sub_status(o, s1), WEFT_SUBMISSION_COMPLETED);
    char *s2 = run_scenario(o, scen, false);
    ASSERT_EQ(runs, 3);
    ASSERT_EQ(status_of(o, s2, "t1"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(status_of(o, s2, "t2"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(status_of(o, s2, "t3"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(sub_status(o, s2), WEFT_SUBMISSION_COMPLETED);
    char *s3 = run_scenario(o, scen, true);
    ASSERT_EQ(runs, 6);
    ASSERT_EQ(status_of(o, s3, "t2"), WEFT_JOB_COMPLETED);
    free(s1);
    free(s2);
    free(s3);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(skippable_validity_period_expires)
{
    register_fns();
    weft_config *c = weft_config_new();
    dn(c, "out", NULL, "1s");
    task(c, "t", "test.write", NONE, L("out"), true);
    scenario(c, "s", L("t"));
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *s1 = run_scenario(o, scen, false);
    char *s2 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s2, "t"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(runs, 1);
    struct timespec ts = {1, 200000000};
    nanosleep(&ts, NULL);
    char *s3 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s3, "t"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(runs, 2);
    free(s1);
    free(s2);
    free(s3);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(skippable_reruns_when_input_edited_after_output)
{
    register_fns();
    /* t1 always runs and rewrites b; t2 (skippable) must then rerun. */
    weft_config *c = weft_config_new();
    dn(c, "b", NULL, NULL);
    dn(c, "c", NULL, NULL);
    task(c, "t1", "test.write", NONE, L("b"), false);
    task(c, "t2", "test.write", L("b"), L("c"), true);
    scenario(c, "s", L("t1", "t2"));
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *s1 = run_scenario(o, scen, false);
    char *s2 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s2, "t1"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(status_of(o, s2, "t2"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(runs, 4);
    /* Only t2 submitted: its input is older than its output: skipped. */
    weft_job_info *j2 = job_of(o, s2, "t2");
    char *s3 = NULL;
    ASSERT_OK(weft_submit(o, j2->task_id, NULL, &s3, err), err);
    ASSERT_EQ(status_of(o, s3, "t2"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(runs, 4);
    weft_job_info_free(j2);
    free(s1);
    free(s2);
    free(s3);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(skippable_reruns_when_input_file_changed_outside)
{
    register_fns();
    /* An input file nobody's job writes: its modification time counts as
     * its last edit (as Taipy's file-based data nodes do). */
    weft_config *c = weft_config_new();
    weft_data_node_opts in = {.storage_type = "text", .default_path = "in.txt"};
    ASSERT_OK(weft_config_configure_data_node(c, "input", &in, err), err);
    dn(c, "out", NULL, NULL);
    task(c, "t", "test.write", L("input"), L("out"), true);
    scenario(c, "s", L("t"));
    test_write_file("in.txt", "v1;");
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *s1 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s1, "t"), WEFT_JOB_COMPLETED);
    char *s2 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s2, "t"), WEFT_JOB_SKIPPED);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    test_write_file("in.txt", "v2;");
    char *s3 = run_scenario(o, scen, false);
    ASSERT_EQ(status_of(o, s3, "t"), WEFT_JOB_COMPLETED);
    char *data = NULL;
    ASSERT_OK(weft_data_read(o, "out", &data, NULL, err), err);
    ASSERT_STR_EQ(data, "v2;t;");
    free(data);
    free(s1);
    free(s2);
    free(s3);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- failed ---- */

TEST(failed_abandons_downstream_independent_branch_completes)
{
    register_fns();
    weft_config *c = weft_config_new();
    dn(c, "b", NULL, NULL);
    dn(c, "c", NULL, NULL);
    dn(c, "e", NULL, NULL);
    dn(c, "d", NULL, NULL);
    task(c, "t1", "test.fail", NONE, L("b"), false);
    task(c, "t2", "test.write", L("b"), L("c"), false);
    task(c, "t4", "test.write", L("c"), L("e"), false);
    task(c, "t3", "test.write", NONE, L("d"), false);
    scenario(c, "s", L("t1", "t2", "t4", "t3"));
    weft_orchestrator *o = open_rw(c);
    rec r = {0};
    ASSERT_OK(weft_subscribe(o, on_event, &r), "");
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    weft_job_info *j1 = job_of(o, sub, "t1"), *j2 = job_of(o, sub, "t2"), *j4 = job_of(o, sub, "t4");
    ASSERT_EQ(j1->status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(j1->error, "boom in t1");
    ASSERT_EQ(j2->status, WEFT_JOB_ABANDONED);
    ASSERT_CONTAINS(j2->error, j1->id);
    ASSERT_CONTAINS(j2->error, "failed");
    ASSERT_EQ(j2->status_time_us[WEFT_JOB_RUNNING], 0);
    ASSERT_EQ(j4->status, WEFT_JOB_ABANDONED); /* transitively */
    ASSERT_CONTAINS(j4->error, j1->id);
    ASSERT_EQ(status_of(o, sub, "t3"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_FAILED);
    find_event(&r, "t2 ABANDONED");
    find_event(&r, "submission FAILED");
    weft_job_info_free(j1);
    weft_job_info_free(j2);
    weft_job_info_free(j4);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- canceled ---- */

static weft_config *sleep_config(const char *seconds)
{
    weft_config *c = weft_config_new();
    dn(c, "b", NULL, NULL);
    dn(c, "c", NULL, NULL);
    sleep_task(c, "slow", NONE, L("b"), seconds);
    task(c, "after", "test.write", L("b"), L("c"), false);
    scenario(c, "s", L("slow", "after"));
    return c;
}

typedef struct canceler {
    weft_orchestrator *o;
    bool done;
    weft_err result;
    char err[WEFT_ERRBUF_SIZE];
} canceler;

static void cancel_on_running(const weft_event *ev, void *ud)
{
    canceler *k = ud;
    if (ev->job_id && ev->job_status == WEFT_JOB_RUNNING && !k->done) {
        k->done = true;
        k->result = weft_cancel(k->o, ev->job_id, k->err);
    }
}

TEST(cancel_from_subscriber)
{
    weft_config *c = sleep_config("30");
    weft_orchestrator *o = open_rw(c);
    canceler k = {.o = o};
    ASSERT_OK(weft_subscribe(o, cancel_on_running, &k), "");
    char *scen = new_scenario(o, "s");
    int64_t t0 = weft__mono_ns();
    char *sub = run_scenario(o, scen, false);
    ASSERT_LT(weft__mono_ns() - t0, 5000000000LL);
    ASSERT(k.done);
    ASSERT_OK(k.result, k.err);
    weft_job_info *js = job_of(o, sub, "slow"), *ja = job_of(o, sub, "after");
    ASSERT_EQ(js->status, WEFT_JOB_CANCELED);
    ASSERT_EQ(ja->status, WEFT_JOB_ABANDONED);
    ASSERT_CONTAINS(ja->error, js->id);
    ASSERT_CONTAINS(ja->error, "canceled");
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_CANCELED);
    /* canceling a finished job changes nothing and says so */
    ASSERT_EQ(weft_cancel(o, js->id, err), WEFT_ESTATE);
    ASSERT_CONTAINS(err, "already CANCELED");
    weft_job_info_free(js);
    weft_job_info_free(ja);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(cancel_finished_job_is_estate)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    weft_job_info *j = job_of(o, sub, "t1");
    ASSERT_EQ(weft_cancel(o, j->id, err), WEFT_ESTATE);
    char want[256];
    snprintf(want, sizeof want, "job %s already COMPLETED", j->id);
    ASSERT_CONTAINS(err, want);
    ASSERT_EQ(status_of(o, sub, "t1"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(weft_cancel(o, sub, err), WEFT_ESTATE);
    ASSERT_CONTAINS(err, "already finished");
    ASSERT_EQ(weft_cancel(o, "JOB_none", err), WEFT_ENOTFOUND);
    /* from a read-only handle too */
    weft_orchestrator *ro = open_ro(c);
    ASSERT_EQ(weft_cancel(ro, j->id, err), WEFT_ESTATE);
    ASSERT_CONTAINS(err, want);
    weft_orchestrator_close(ro);
    weft_job_info_free(j);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* Another "terminal": a thread with its own read-only handle waits for the
 * slow job to run, then cancels it (a request in the store). */
typedef struct remote {
    weft_config *cfg;
    const char *what; /* "job" or "submission" */
    int64_t canceled_at;
    weft_err result;
    char err[WEFT_ERRBUF_SIZE];
} remote;

static void *remote_cancel(void *arg)
{
    remote *r = arg;
    weft_orchestrator *ro = NULL;
    weft_orchestrator_opts opts = {.read_only = true};
    r->result = WEFT_ETIMEDOUT;
    for (int i = 0; i < 500 && !ro; i++) {
        if (weft_orchestrator_open(r->cfg, &opts, &ro, NULL) != WEFT_OK) {
            ro = NULL;
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    }
    if (!ro) return NULL;
    for (int i = 0; i < 500; i++) {
        weft_job_info **jobs = NULL;
        size_t n = 0;
        weft_job_filter f = {.status = WEFT_JOB_RUNNING};
        if (weft_jobs_list(ro, &f, &jobs, &n, NULL) == WEFT_OK && n == 1) {
            r->canceled_at = weft__mono_ns();
            r->result = weft_cancel(ro, strcmp(r->what, "job") == 0 ? jobs[0]->id
                                                                   : jobs[0]->submission_id,
                                    r->err);
            weft_job_list_free(jobs, n);
            break;
        }
        weft_job_list_free(jobs, n);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    weft_orchestrator_close(ro);
    return NULL;
}

static void cancel_from_reader(const char *what)
{
    weft_config *c = sleep_config("30");
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    remote r = {.cfg = c, .what = what};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, remote_cancel, &r), 0);
    char *sub = run_scenario(o, scen, false);
    int64_t end = weft__mono_ns();
    pthread_join(th, NULL);
    ASSERT_OK(r.result, r.err);
    ASSERT_LT(end - r.canceled_at, 1000000000LL); /* within a second */
    weft_job_info *js = job_of(o, sub, "slow"), *ja = job_of(o, sub, "after");
    ASSERT_EQ(js->status, WEFT_JOB_CANCELED);
    ASSERT_GT(js->status_time_us[WEFT_JOB_RUNNING], 0);
    ASSERT_EQ(ja->status, WEFT_JOB_ABANDONED);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_CANCELED);
    weft_job_info_free(js);
    weft_job_info_free(ja);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(cancel_job_from_read_only_handle) { cancel_from_reader("job"); }
TEST(cancel_submission_from_read_only_handle) { cancel_from_reader("submission"); }

TEST(read_only_cancel_without_live_orchestrator)
{
    weft_config *c = sleep_config("30");
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    weft_orchestrator_close(o);
    /* An unfinished job left by an orchestrator that is gone (as after a
     * crash, before anyone reopened the store read-write). */
    weft__store *st = NULL;
    int64_t seq;
    ASSERT_OK(weft__store_open(".weft/weft.db", false, &st, err), err);
    ASSERT_OK(weft__store_begin(st, err), err);
    ASSERT_OK(weft__store_submission_insert(st, "SUBMISSION_x", scen, "s", 0, 1, &seq, err), err);
    weft__store_job row = {.id = "JOB_slow_x", .task_id = "TASK_slow_x", .task_config_id = "slow",
                           .submission_id = "SUBMISSION_x", .entity_id = scen, .attempt = 1,
                           .submitted_us = 1};
    ASSERT_OK(weft__store_job_insert(st, &row, &seq, err), err);
    ASSERT_OK(weft__store_commit(st, err), err);
    weft__store_close(st);
    weft_orchestrator *ro = open_ro(c);
    ASSERT_EQ(weft_cancel(ro, "JOB_nope", err), WEFT_ENOTFOUND);
    ASSERT_EQ(weft_cancel(ro, "JOB_slow_x", err), WEFT_EMODE);
    ASSERT_CONTAINS(err, "no orchestrator is running");
    weft_orchestrator_close(ro);
    /* Opened read-write, recovery settles it; canceling then says so. */
    o = open_rw(c);
    ASSERT_EQ(weft_cancel(o, "JOB_slow_x", err), WEFT_ESTATE);
    ASSERT_CONTAINS(err, "already ABANDONED");
    weft_orchestrator_close(o);
    free(scen);
    weft_config_free(c);
}

static volatile sig_atomic_t interrupted;

static void interrupt_on_running(const weft_event *ev, void *ud)
{
    (void)ud;
    if (ev->job_id && ev->job_status == WEFT_JOB_RUNNING) interrupted = 1;
}

TEST(interrupt_flag_cancels_submission)
{
    weft_config *c = sleep_config("30");
    weft_orchestrator *o = open_rw(c);
    ASSERT_OK(weft_subscribe(o, interrupt_on_running, NULL), "");
    char *scen = new_scenario(o, "s");
    char *sub = NULL;
    weft_submit_opts so = {.interrupt = &interrupted};
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(weft_submit(o, scen, &so, &sub, err), WEFT_ECANCELED);
    ASSERT_LT(weft__mono_ns() - t0, 5000000000LL);
    ASSERT(sub);
    ASSERT_EQ(status_of(o, sub, "slow"), WEFT_JOB_CANCELED);
    ASSERT_EQ(status_of(o, sub, "after"), WEFT_JOB_ABANDONED);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_CANCELED);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- scopes ---- */

TEST(global_shared_scenario_own)
{
    register_fns();
    weft_config *c = weft_config_new();
    dn(c, "g", "GLOBAL", NULL);
    dn(c, "own", "SCENARIO", NULL);
    task(c, "tg", "test.write", NONE, L("g"), true);
    task(c, "town", "test.write", L("g"), L("own"), false);
    scenario(c, "s", L("tg", "town"));
    weft_orchestrator *o = open_rw(c);
    char *s1 = new_scenario(o, "s"), *s2 = new_scenario(o, "s");
    char *sub1 = run_scenario(o, s1, false);
    ASSERT_EQ(runs, 2);
    /* The second scenario shares g, already written: its skippable task skips. */
    char *sub2 = run_scenario(o, s2, false);
    ASSERT_EQ(status_of(o, sub2, "tg"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(status_of(o, sub2, "town"), WEFT_JOB_COMPLETED);
    ASSERT_EQ(runs, 3);
    /* One instance of g (readable by config id); two of own. */
    char *data = NULL;
    ASSERT_OK(weft_data_read(o, "g", &data, NULL, err), err);
    ASSERT_STR_EQ(data, "tg;");
    free(data);
    ASSERT_EQ(weft_data_read(o, "own", &data, NULL, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "several instances");
    weft__store *st = NULL;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &st, err), err);
    weft__store_dn a, b, g1, g2;
    ASSERT_OK(weft__store_dn_find(st, "own", s1, &a, err), err);
    ASSERT_OK(weft__store_dn_find(st, "own", s2, &b, err), err);
    ASSERT(strcmp(a.id, b.id) != 0);
    ASSERT(strncmp(a.id, "DATANODE_own_", 13) == 0);
    ASSERT_OK(weft__store_dn_find(st, "g", NULL, &g1, err), err);
    ASSERT(g1.scenario_id == NULL);
    ASSERT_EQ(weft__store_dn_find(st, "g", s1, &g2, err), WEFT_ENOTFOUND);
    size_t nedits = 0;
    ASSERT_OK(weft__store_dn_nedits(st, g1.id, &nedits, err), err);
    ASSERT_EQ(nedits, 1);
    ASSERT(g1.last_edit_job && strncmp(g1.last_edit_job, "JOB_tg_", 7) == 0);
    ASSERT_OK(weft_data_read(o, a.id, &data, NULL, err), err);
    ASSERT_STR_EQ(data, "tg;town;");
    free(data);
    weft__store_dn_release(&a);
    weft__store_dn_release(&b);
    weft__store_dn_release(&g1);
    weft__store_close(st);
    free(s1);
    free(s2);
    free(sub1);
    free(sub2);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- the rules are enforced ---- */

TEST(illegal_transition_refused)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    weft_job_info *ji = job_of(o, sub, "t1");
    /* A job as the orchestrator holds it, COMPLETED. */
    weft__sub s = {0};
    weft__job j = {0};
    j.spec.job_id = ji->id;
    j.status = WEFT_JOB_COMPLETED;
    j.sub = &s;
    s.jobs = &j;
    s.njobs = 1;
    s.count[WEFT_JOB_COMPLETED] = 1;
    ASSERT_OK(weft__orch_begin(o, err), err);
    ASSERT_EQ(weft__orch_set_status(o, &j, WEFT_JOB_RUNNING, NULL, err), WEFT_ESTATE);
    ASSERT_CONTAINS(err, "COMPLETED -> RUNNING");
    ASSERT_CONTAINS(err, ji->id);
    ASSERT_EQ(j.status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(weft__orch_set_status(o, &j, WEFT_JOB_PENDING, NULL, err), WEFT_ESTATE);
    ASSERT_OK(weft__orch_commit(o, err), err);
    /* and nothing reached the store */
    weft_job_info *again = job_of(o, sub, "t1");
    ASSERT_EQ(again->status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(again->status_time_us[WEFT_JOB_PENDING], ji->status_time_us[WEFT_JOB_PENDING]);
    weft_job_info_free(again);
    weft_job_info_free(ji);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- the storage folder ---- */

TEST(lock_second_writer_refused_readers_welcome)
{
    register_fns();
    weft_config *c = chain_config(false);
    weft_orchestrator *o = open_rw(c), *o2 = NULL;
    ASSERT_EQ(weft_orchestrator_open(c, NULL, &o2, err), WEFT_EEXIST);
    ASSERT(o2 == NULL);
    char want[128];
    snprintf(want, sizeof want, "storage folder .weft/ is in use by another weft process (pid %ld)",
             (long)getpid());
    ASSERT_CONTAINS(err, want);
    weft_orchestrator *ro = open_ro(c);
    ASSERT_EQ(weft_submit(ro, "SCENARIO_x", NULL, NULL, err), WEFT_EMODE);
    char *id = NULL;
    ASSERT_EQ(weft_scenario_create(ro, "s", &id, err), WEFT_EMODE);
    weft_orchestrator_close(ro);
    weft_orchestrator_close(o);
    /* released with the handle */
    o = open_rw(c);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(storage_folder_relative_to_application_path)
{
    register_fns();
    weft_config *c = chain_config(false);
    ASSERT_EQ(system("mkdir -p app/sub"), 0);
    weft_orchestrator_opts opts = {.application_path = "app", .storage_folder = "sub/store"};
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, &opts, &o, err), err);
    ASSERT_EQ(access("app/sub/store/weft.db", F_OK), 0);
    ASSERT_EQ(access("app/sub/store/lock", F_OK), 0);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(read_only_without_store)
{
    weft_config *c = chain_config(false);
    weft_orchestrator *o = NULL;
    weft_orchestrator_opts opts = {.read_only = true};
    ASSERT_EQ(weft_orchestrator_open(c, &opts, &o, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no store");
    ASSERT_NE(access(".weft", F_OK), 0); /* a reader creates nothing */
    weft_config_free(c);
}

/* The child runs the slow job; the parent kills it mid-job with SIGKILL. */
TEST(store_survives_kill_9)
{
    weft_config *c = weft_config_new();
    dn(c, "b", NULL, NULL);
    dn(c, "c", NULL, NULL);
    dn(c, "d", NULL, NULL);
    sleep_task(c, "slow", NONE, L("b"), "60");
    task(c, "after", "test.write", L("b"), L("c"), false);
    task(c, "other", "test.write", NONE, L("d"), false);
    scenario(c, "s", L("slow", "after", "other"));
    register_fns();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        weft_orchestrator *o = NULL;
        char cerr[WEFT_ERRBUF_SIZE];
        char *scen = NULL;
        if (weft_orchestrator_open(c, NULL, &o, cerr) || weft_scenario_create(o, "s", &scen, cerr))
            _exit(3);
        weft_submit(o, scen, NULL, NULL, cerr);
        _exit(4); /* not reached: killed */
    }
    /* Wait until a reader sees the job RUNNING. */
    weft_orchestrator *ro = NULL;
    char *running = NULL;
    for (int i = 0; i < 1000 && !running; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        if (!ro) {
            weft_orchestrator_opts opts = {.read_only = true};
            if (weft_orchestrator_open(c, &opts, &ro, NULL) != WEFT_OK) ro = NULL;
            continue;
        }
        weft_job_info **jobs = NULL;
        size_t n = 0;
        weft_job_filter f = {.status = WEFT_JOB_RUNNING};
        if (weft_jobs_list(ro, &f, &jobs, &n, NULL) == WEFT_OK && n == 1)
            running = strdup(jobs[0]->id);
        weft_job_list_free(jobs, n);
    }
    ASSERT(running);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status));
    /* The reader still sees it RUNNING: nobody has recovered yet. */
    weft_job_info *j = NULL;
    ASSERT_OK(weft_job_get(ro, running, &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_RUNNING);
    weft_job_info_free(j);
    weft_orchestrator_close(ro);

    weft_orchestrator *o = open_rw(c);
    ASSERT_OK(weft_job_get(o, running, &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(j->error, "orchestrator stopped while the job ran");
    char *sub = strdup(j->submission_id);
    weft_job_info_free(j);
    weft_job_info *ja = job_of(o, sub, "after"), *jo = job_of(o, sub, "other");
    ASSERT_EQ(ja->status, WEFT_JOB_ABANDONED);
    ASSERT_CONTAINS(ja->error, running);
    ASSERT_EQ(jo->status, WEFT_JOB_ABANDONED);
    /* handed to the development executor, queued behind "slow": it may have run */
    ASSERT_STR_EQ(jo->error, "orchestrator stopped after handing the job over; it may have run");
    weft_job_info_free(ja);
    weft_job_info_free(jo);
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_job_filter f = {.status = WEFT_JOB_RUNNING};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 0);
    weft_job_list_free(jobs, n);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_FAILED);
    free(sub);
    free(running);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(empty_scenario_completes)
{
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_configure_scenario(c, "empty", (const char *const[]){NULL}, err), err);
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "empty");
    char *sub = run_scenario(o, scen, false);
    ASSERT_EQ(sub_status(o, sub), WEFT_SUBMISSION_COMPLETED);
    ASSERT_OK(weft_submission_wait(o, sub, 1000, err), err);
    free(sub);
    free(scen);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* ---- store failures: nothing runs unrecorded ---- */

static char markdir[2048]; /* absolute: workers run elsewhere */

/* Leaves markers/<job id> as it starts, then sleeps the `ms` property. */
static int fn_mark(weft_ctx *ctx)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", markdir, weft_ctx_job_id(ctx));
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    const weft_value *v = weft_ctx_property(ctx, "ms");
    long ms = v ? atol(weft_value_text(v)) : 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && !weft_ctx_canceled(ctx)) {}
    return 0;
}

/* `n` independent tasks m0..m<n-1> in scenario "s", each sleeping `ms`. */
static weft_config *fanout_config(weft_mode mode, int n, const char *ms)
{
    ASSERT_OK(weft_register_function("test.mark", fn_mark), "");
    ASSERT(getcwd(markdir, sizeof markdir - 16) != NULL);
    strcat(markdir, "/markers");
    ASSERT_EQ(mkdir(markdir, 0777), 0);
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(c, mode, 2, err), err);
    char ids[16][16];
    const char *tasks[17] = {NULL};
    ASSERT(n <= 16);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "m%d", i);
        weft_property p[] = {{"ms", ms}};
        weft_task_opts o = {.function = "test.mark", .inputs = NONE, .outputs = NONE,
                            .properties = p, .nproperties = 1};
        ASSERT_OK(weft_config_configure_task(c, ids[i], &o, err), err);
        tasks[i] = ids[i];
    }
    scenario(c, "s", tasks);
    return c;
}

/* The disk fills up (every write fails) once a job is reported RUNNING. */
static void fill_disk_on_running(const weft_event *ev, void *ud)
{
    (void)ud;
    if (ev->job_id && ev->job_status == WEFT_JOB_RUNNING)
        weft__store_fault_arm(1, WEFT__FAULT_FULL, true);
}

/* After recovery: every job that left a marker shows as started (RUNNING
 * in its history, or "may have run"), never as one that did not start. */
static size_t check_markers(weft_orchestrator *o, const char *sub)
{
    weft_job_info **jobs = NULL;
    size_t n = 0, marked = 0;
    weft_job_filter f = {.submission_id = sub, .status = -1};
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    for (size_t i = 0; i < n; i++) {
        weft_job_info *j = jobs[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", markdir, j->id);
        ASSERT(weft_job_status_is_final(j->status));
        if (access(path, F_OK) != 0) continue;
        marked++;
        bool started = j->status_time_us[WEFT_JOB_RUNNING] != 0 ||
                       (j->error && strstr(j->error, "may have run"));
        if (!started)
            FAIL("job %s ran but is %s: %s", j->id, weft_job_status_name(j->status),
                 j->error ? j->error : "");
    }
    weft_job_list_free(jobs, n);
    return marked;
}

static void commit_failure_stops_dispatch(weft_mode mode)
{
    weft_config *c = fanout_config(mode, 12, "300");
    weft__store_fault_arm(0, WEFT__FAULT_FULL, true); /* counts only; the store opens on it */
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    ASSERT_OK(weft_subscribe(o, fill_disk_on_running, NULL), err);
    char *sub = NULL;
    weft_submit_opts so = {.wait = true, .timeout_ms = 30000};
    char serr[WEFT_ERRBUF_SIZE] = "";
    weft_err e = weft_submit(o, scen, &so, &sub, serr);
    if (e == WEFT_OK) e = weft_submission_wait(o, sub, 30000, serr);
    ASSERT_EQ(e, WEFT_ESTORE);
    printf("    %s\n", serr);
    ASSERT_CONTAINS(serr, "full");
    ASSERT(weft__store_fault_injected() > 0);
    weft_orchestrator_close(o);
    weft__store_fault_disarm();
    /* Reopening recovers; what ran is recorded as started. */
    o = open_rw(c);
    size_t marked = check_markers(o, sub);
    ASSERT(marked >= 1);
    /* Dispatch stopped with the store: two workers, jobs of 300 ms, the
     * disk full at the first RUNNING; the twelve would have run otherwise. */
    ASSERT(marked <= 4);
    weft_orchestrator_close(o);
    free(sub);
    free(scen);
    weft_config_free(c);
}

TEST(commit_failure_stops_dispatch_standalone)
{
    commit_failure_stops_dispatch(WEFT_MODE_STANDALONE);
}

TEST(commit_failure_stops_dispatch_development)
{
    commit_failure_stops_dispatch(WEFT_MODE_DEVELOPMENT);
}

/* Recovery's two messages for unstarted jobs: one handed to an executor
 * (committed as dispatched) may have run; one never handed over did not. */
TEST(recovery_tells_handed_over_from_never_started)
{
    weft_config *c = fanout_config(WEFT_MODE_DEVELOPMENT, 2, "0");
    weft_orchestrator *o = open_rw(c);
    weft_orchestrator_close(o);
    weft__store *st = NULL;
    ASSERT_OK(weft__store_open(".weft/" WEFT__STORE_FILE, false, &st, err), err);
    ASSERT_OK(weft__store_begin(st, err), err);
    int64_t sseq, seq[2];
    ASSERT_OK(weft__store_submission_insert(st, "SUB", "SC", "s", 0, 1, &sseq, err), err);
    const char *ids[2] = {"JOB_handed", "JOB_queued"};
    for (int i = 0; i < 2; i++) {
        weft__store_job job = {.id = ids[i], .task_id = "T", .task_config_id = "m0",
                               .submission_id = "SUB", .entity_id = "SC", .attempt = 1,
                               .submitted_us = 1};
        ASSERT_OK(weft__store_job_insert(st, &job, &seq[i], err), err);
        ASSERT_OK(weft__store_job_status(st, seq[i], WEFT_JOB_PENDING, 2, NULL, err), err);
    }
    ASSERT_OK(weft__store_job_dispatched(st, seq[0], 3, err), err);
    ASSERT_OK(weft__store_commit(st, err), err);
    weft__store_close(st);
    o = open_rw(c);
    weft_job_info *j = NULL;
    ASSERT_OK(weft_job_get(o, "JOB_handed", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_ABANDONED);
    ASSERT_STR_EQ(j->error, "orchestrator stopped after handing the job over; it may have run");
    weft_job_info_free(j);
    ASSERT_OK(weft_job_get(o, "JOB_queued", &j, err), err);
    ASSERT_EQ(j->status, WEFT_JOB_ABANDONED);
    ASSERT_STR_EQ(j->error, "orchestrator stopped before the job started");
    weft_job_info_free(j);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* What the store shows as handed over, read by another connection at the
 * submission's first event (o->mu is then held by weft_submit()'s thread:
 * the dispatcher has not run since the submit's commit). */
static int handed_at_first_event = -1;

static void count_handed(const weft_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    if (handed_at_first_event >= 0) return;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_open_v2(".weft/" WEFT__STORE_FILE, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM jobs WHERE dispatched_us > 0", -1, &st,
                                 NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    handed_at_first_event = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* The jobs a submission can start at once are recorded as handed over by
 * the submit's own commit: one commit, one fsync, before they start. */
TEST(a_submit_commits_the_hand_over_of_its_first_jobs)
{
    weft_config *c = fanout_config(WEFT_MODE_STANDALONE, 3, "0");
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    ASSERT_OK(weft_subscribe(o, count_handed, NULL), err);
    char *sub = NULL;
    weft_submit_opts so = {.wait = true, .timeout_ms = 30000};
    ASSERT_OK(weft_submit(o, scen, &so, &sub, err), err);
    ASSERT_EQ(handed_at_first_event, 3);
    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    ASSERT_EQ(si->status, WEFT_SUBMISSION_COMPLETED);
    weft_submission_info_free(si);
    weft_orchestrator_close(o);
    free(sub);
    free(scen);
    weft_config_free(c);
}

static bool has_line(char **v, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i], needle)) return true;
    return false;
}

TEST(store_check_reports_broken_invariants)
{
    weft_config *c = chain_config(false);
    register_fns();
    weft_orchestrator *o = open_rw(c);
    char *scen = new_scenario(o, "s");
    char *sub = run_scenario(o, scen, false);
    weft_orchestrator_close(o);
    char **p = NULL;
    size_t n = 99;
    ASSERT_OK(weft_store_check(c, NULL, &p, &n, err), err);
    ASSERT_EQ(n, 0);
    weft_strv_free(p, n);
    /* Break it as a crash or a bug could. */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(".weft/weft.db", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE jobs SET status = 3 WHERE task_config_id = 't1';"
                           "INSERT INTO job_history VALUES(999, 0, 1);"
                           "INSERT INTO dn_edits SELECT * FROM dn_edits WHERE job_id IS NOT NULL"
                           " LIMIT 1;",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(weft_store_check(c, NULL, &p, &n, err), err);
    ASSERT(has_line(p, n, "job row 999 does not exist"));
    ASSERT(has_line(p, n, "is RUNNING but no orchestrator holds the storage folder"));
    ASSERT(has_line(p, n, "but its history ends with 6"));
    ASSERT(has_line(p, n, "finished, but job"));
    ASSERT(has_line(p, n, "result recorded 2 times"));
    weft_strv_free(p, n);
    /* While something holds the folder's lock (an orchestrator would),
     * a RUNNING job is its business. */
    int fd = open(".weft/lock", O_RDWR | O_CLOEXEC);
    ASSERT(fd >= 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    ASSERT_OK(weft_store_check(c, NULL, &p, &n, err), err);
    ASSERT(!has_line(p, n, "is RUNNING"));
    ASSERT(has_line(p, n, "but its history ends with 6")); /* still RUNNING */
    weft_strv_free(p, n);
    close(fd);
    free(sub);
    free(scen);
    weft_config_free(c);
}

/* A crashed orchestrator's children (fork server, workers) hold the
 * folder's lock for a moment after it died: the next open waits for them
 * instead of refusing the folder in the name of a dead process. */
TEST(lock_held_by_dead_orchestrators_children_is_waited_for)
{
    weft_config *c = chain_config(false);
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        weft_orchestrator *o = NULL;
        char cerr[WEFT_ERRBUF_SIZE];
        if (weft_orchestrator_open(c, NULL, &o, cerr)) _exit(3);
        if (fork() == 0) { /* inherits the lock, as a fork server does */
            struct timespec ts = {0, 400 * 1000000L};
            nanosleep(&ts, NULL);
            _exit(0);
        }
        _exit(0); /* dies holding it: no close */
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int64_t t0 = weft__mono_ns();
    weft_orchestrator *o = open_rw(c);
    int64_t waited_ms = (weft__mono_ns() - t0) / 1000000;
    printf("    opened after %lld ms\n", (long long)waited_ms);
    ASSERT(waited_ms < 3000);
    weft_orchestrator_close(o);
    /* A live holder is still refused at once. */
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        weft_orchestrator *o2 = NULL;
        char cerr[WEFT_ERRBUF_SIZE];
        if (weft_orchestrator_open(c, NULL, &o2, cerr)) _exit(3);
        if (write(ready[1], "x", 1) != 1) _exit(4);
        pause();
        _exit(0);
    }
    char b;
    ASSERT_EQ(read(ready[0], &b, 1), 1);
    weft_orchestrator *o3 = NULL;
    t0 = weft__mono_ns();
    ASSERT_EQ(weft_orchestrator_open(c, NULL, &o3, err), WEFT_EEXIST);
    ASSERT((weft__mono_ns() - t0) / 1000000 < 1000);
    ASSERT_CONTAINS(err, "in use by another weft process");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    weft_config_free(c);
}

TEST_MAIN(TEST_ENTRY(sequence_runs_only_its_tasks), TEST_ENTRY(unknown_sequences_change_nothing),
          TEST_ENTRY(sequence_skips_and_abandons_like_a_scenario),
          TEST_ENTRY(sequence_with_a_foreign_task_is_an_error), TEST_ENTRY(completed_chain), TEST_ENTRY(submit_single_task_and_unknown_entity),
          TEST_ENTRY(event_order_blocked_then_pending), TEST_ENTRY(events_after_commit),
          TEST_ENTRY(skippable_second_submit_skips_force_reruns),
          TEST_ENTRY(skippable_validity_period_expires),
          TEST_ENTRY(skippable_reruns_when_input_edited_after_output),
          TEST_ENTRY(skippable_reruns_when_input_file_changed_outside),
          TEST_ENTRY(failed_abandons_downstream_independent_branch_completes),
          TEST_ENTRY(cancel_from_subscriber), TEST_ENTRY(cancel_finished_job_is_estate),
          TEST_ENTRY(cancel_job_from_read_only_handle),
          TEST_ENTRY(cancel_submission_from_read_only_handle),
          TEST_ENTRY(read_only_cancel_without_live_orchestrator),
          TEST_ENTRY(interrupt_flag_cancels_submission), TEST_ENTRY(global_shared_scenario_own),
          TEST_ENTRY(illegal_transition_refused),
          TEST_ENTRY(lock_second_writer_refused_readers_welcome),
          TEST_ENTRY(storage_folder_relative_to_application_path),
          TEST_ENTRY(read_only_without_store), TEST_ENTRY(store_survives_kill_9),
          TEST_ENTRY(empty_scenario_completes),
          TEST_ENTRY(commit_failure_stops_dispatch_standalone),
          TEST_ENTRY(commit_failure_stops_dispatch_development),
          TEST_ENTRY(recovery_tells_handed_over_from_never_started),
          TEST_ENTRY(a_submit_commits_the_hand_over_of_its_first_jobs),
          TEST_ENTRY(store_check_reports_broken_invariants),
          TEST_ENTRY(lock_held_by_dead_orchestrators_children_is_waited_for))
