/* SPDX-License-Identifier: MIT */
/*
 * test_standalone.c - standalone mode through the public API: submit
 * returns at once, jobs run in worker processes (forks of this program, so
 * they see its registered functions), a diamond DAG runs its two branches
 * in parallel and the join after both, and a job that crashes, is canceled
 * or times out ends as such without disturbing the others.
 */
#define _GNU_SOURCE
#include "test.h"

#include "util/util.h"
#include "weft.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf;

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* ---- task functions (registered before the orchestrator starts) ---- */

/* Sleeps the task's `ms` property, records its start and end in
 * records/<task config id>, and writes its task id to every output. */
static int fn_step(weft_ctx *ctx)
{
    int64_t t0 = weft__mono_ns();
    const weft_value *v = weft_ctx_property(ctx, "ms");
    long ms = v ? atol(weft_value_text(v)) : 0;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
    for (size_t i = 0; i < weft_ctx_ninputs(ctx); i++) {
        char *d = NULL;
        size_t n;
        if (weft_dn_read(weft_ctx_input(ctx, i), &d, &n, NULL) != WEFT_OK) return 1;
        free(d);
    }
    const char *id = weft_ctx_task_config_id(ctx);
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), id, strlen(id), NULL) != WEFT_OK) return 1;
    mkdir("records", 0777);
    char path[256];
    snprintf(path, sizeof path, "records/%s", id);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "%lld %lld %d\n", (long long)t0, (long long)weft__mono_ns(), (int)getpid());
    fclose(f);
    return 0;
}

typedef struct rec {
    long long start, end;
    int pid;
} rec;

static rec read_rec(const char *task)
{
    char path[256];
    snprintf(path, sizeof path, "records/%s", task);
    char *s = test_read_file(path, NULL);
    rec r;
    ASSERT_EQ(sscanf(s, "%lld %lld %d", &r.start, &r.end, &r.pid), 3);
    free(s);
    return r;
}

/* ---- setup ---- */

static char apps[4096], storage[4096];

static weft_config *new_config(int workers)
{
    ASSERT_OK(weft_register_function("sa.step", fn_step), err);
    weft_config *c = weft_config_new();
    ASSERT(c);
    ASSERT_OK(weft_config_configure_job_executions(c, WEFT_MODE_STANDALONE, workers, err), err);
    snprintf(apps, sizeof apps, "%s/tests/apps", test_build_dir());
    char cwd[2048];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(storage, sizeof storage, "%s/.weft", cwd);
    return c;
}

static void dn(weft_config *c, const char *id)
{
    weft_data_node_opts o = {.storage_type = "text"};
    ASSERT_OK(weft_config_configure_data_node(c, id, &o, err), err);
}

static void task(weft_config *c, const char *id, const char *fn, const char *const *ins,
                 const char *const *outs, const char *ms, const char *timeout)
{
    weft_property p[] = {{"ms", ms ? ms : "0"}};
    weft_task_opts o = {.function = fn, .inputs = ins, .outputs = outs, .timeout = timeout,
                        .properties = p, .nproperties = 1};
    ASSERT_OK(weft_config_configure_task(c, id, &o, err), err);
}

static weft_orchestrator *open_orch(weft_config *c)
{
    ASSERT_OK(weft_config_check(c, err), err);
    weft_orchestrator_opts oo = {.storage_folder = storage, .application_path = apps};
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, &oo, &o, err), err);
    ASSERT_OK(weft_orchestrator_start(o, err), err);
    return o;
}

static char *create_and_submit(weft_orchestrator *o, const char *scenario, bool wait)
{
    char *sc = NULL, *sub = NULL;
    ASSERT_OK(weft_scenario_create(o, scenario, &sc, err), err);
    weft_submit_opts so = {.wait = wait, .timeout_ms = 30000};
    ASSERT_OK(weft_submit(o, sc, &so, &sub, err), err);
    free(sc);
    return sub;
}

/* The job of task `task_config_id` in submission `sub` (caller frees). */
static weft_job_info *job_of(weft_orchestrator *o, const char *sub, const char *task_config_id)
{
    weft_job_filter f = {.submission_id = sub, .status = -1};
    weft_job_info **jobs = NULL;
    size_t n = 0;
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    weft_job_info *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!found && strcmp(jobs[i]->task_config_id, task_config_id) == 0) {
            found = jobs[i];
            jobs[i] = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) weft_job_info_free(jobs[i]);
    free(jobs);
    if (!found) FAIL("no job of task %s in %s", task_config_id, sub);
    return found;
}

static void expect_job(weft_orchestrator *o, const char *sub, const char *task_id,
                       weft_job_status st, const char *error_part)
{
    weft_job_info *j = job_of(o, sub, task_id);
    if (j->status != st)
        FAIL("%s: status %s, expected %s (error: %s)", task_id, weft_job_status_name(j->status),
             weft_job_status_name(st), j->error ? j->error : "none");
    if (error_part) ASSERT_CONTAINS(j->error, error_part);
    weft_job_info_free(j);
}

static void wait_running(weft_orchestrator *o, const char *sub, const char *task_id)
{
    for (int i = 0; i < 500; i++) {
        weft_job_info *j = job_of(o, sub, task_id);
        weft_job_status st = j->status;
        weft_job_info_free(j);
        if (st == WEFT_JOB_RUNNING) return;
        ASSERT(!weft_job_status_is_final(st));
        usleep(10000);
    }
    FAIL("%s never ran", task_id);
}

static double secs_since(int64_t t0) { return (double)(weft__mono_ns() - t0) / 1e9; }

/* ---- tests ---- */

TEST(submit_returns_at_once_and_jobs_run_in_workers)
{
    weft_config *c = new_config(2);
    dn(c, "out");
    task(c, "slow", "sa.step", NONE, L("out"), "1000", NULL);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("slow"), err), err);
    weft_orchestrator *o = open_orch(c);
    int64_t t0 = weft__mono_ns();
    char *sub = create_and_submit(o, "s", false);
    double dt = secs_since(t0);
    printf("    submit returned after %.3f s\n", dt);
    ASSERT(dt < 0.5);
    ASSERT_OK(weft_submission_wait(o, sub, 10000, err), err);
    expect_job(o, sub, "slow", WEFT_JOB_COMPLETED, NULL);
    weft_job_info *j = job_of(o, sub, "slow");
    ASSERT(j->worker != NULL);
    ASSERT(strncmp(j->worker, "pid ", 4) == 0);
    ASSERT(atoi(j->worker + 4) != getpid());
    ASSERT_EQ(read_rec("slow").pid, atoi(j->worker + 4));
    weft_job_info_free(j);
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(diamond_runs_branches_in_parallel_and_the_join_after_both)
{
    weft_config *c = new_config(2);
    dn(c, "a");
    dn(c, "b");
    dn(c, "c");
    dn(c, "d");
    task(c, "top", "sa.step", NONE, L("a"), "50", NULL);
    task(c, "left", "sa.step", L("a"), L("b"), "1000", NULL);
    task(c, "right", "sa.step", L("a"), L("c"), "1000", NULL);
    task(c, "join", "sa.step", L("b", "c"), L("d"), "50", NULL);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("join", "left", "right", "top"), err), err);
    weft_orchestrator *o = open_orch(c);
    int64_t t0 = weft__mono_ns();
    char *sub = create_and_submit(o, "s", false);
    ASSERT_OK(weft_submission_wait(o, sub, 10000, err), err);
    double dt = secs_since(t0);
    printf("    diamond with two 1 s branches: %.2f s\n", dt);
    for (const char *const *t = L("top", "left", "right", "join"); *t; t++)
        expect_job(o, sub, *t, WEFT_JOB_COMPLETED, NULL);
    rec top = read_rec("top"), l = read_rec("left"), r = read_rec("right"), j = read_rec("join");
    ASSERT_GE(l.start, top.end);
    ASSERT_GE(r.start, top.end);
    ASSERT(l.start < r.end && r.start < l.end); /* the branches overlapped */
    ASSERT_GE(j.start, l.end);
    ASSERT_GE(j.start, r.end);
    ASSERT(dt < 1.8);
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(crashes_fail_only_their_own_job)
{
    weft_config *c = new_config(2);
    dn(c, "o1");
    dn(c, "o2");
    task(c, "killed", "poolfns.kill_self", NONE, NONE, NULL, NULL);
    task(c, "segv", "poolfns.segfault", NONE, NONE, NULL, NULL);
    task(c, "exits", "poolfns.exit3", NONE, NONE, NULL, NULL);
    task(c, "good1", "sa.step", NONE, L("o1"), "10", NULL);
    task(c, "good2", "sa.step", NONE, L("o2"), "10", NULL);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("killed", "good1", "segv", "exits", "good2"),
                                             err),
              err);
    weft_orchestrator *o = open_orch(c);
    char *sub = create_and_submit(o, "s", false);
    ASSERT_OK(weft_submission_wait(o, sub, 20000, err), err);
    expect_job(o, sub, "killed", WEFT_JOB_FAILED, "worker process killed by signal 9 (Killed)");
    expect_job(o, sub, "segv", WEFT_JOB_FAILED,
               "worker process killed by signal 11 (Segmentation fault)");
    expect_job(o, sub, "exits", WEFT_JOB_FAILED, "worker process exited with status 3");
    expect_job(o, sub, "good1", WEFT_JOB_COMPLETED, NULL);
    expect_job(o, sub, "good2", WEFT_JOB_COMPLETED, NULL);
    free(sub);
    /* The pool still works. */
    sub = create_and_submit(o, "s", false);
    ASSERT_OK(weft_submission_wait(o, sub, 20000, err), err);
    expect_job(o, sub, "good1", WEFT_JOB_COMPLETED, NULL);
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(cancel_of_a_running_job_stops_it_within_a_second)
{
    weft_config *c = new_config(2);
    dn(c, "out");
    task(c, "stuck", "poolfns.stubborn", NONE, NONE, NULL, NULL);
    task(c, "after", "sa.step", NONE, L("out"), "10", NULL);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("stuck"), err), err);
    ASSERT_OK(weft_config_configure_scenario(c, "s2", L("after"), err), err);
    weft_orchestrator *o = open_orch(c);
    char *sub = create_and_submit(o, "s", false);
    wait_running(o, sub, "stuck");
    weft_job_info *j = job_of(o, sub, "stuck");
    int64_t t0 = weft__mono_ns();
    ASSERT_OK(weft_cancel(o, j->id, err), err);
    ASSERT_OK(weft_submission_wait(o, sub, 5000, err), err);
    double dt = secs_since(t0);
    printf("    canceled job stopped after %.3f s\n", dt);
    ASSERT(dt < 1.0);
    expect_job(o, sub, "stuck", WEFT_JOB_CANCELED, NULL);
    weft_job_info_free(j);
    free(sub);
    sub = create_and_submit(o, "s2", false);
    ASSERT_OK(weft_submission_wait(o, sub, 5000, err), err);
    expect_job(o, sub, "after", WEFT_JOB_COMPLETED, NULL);
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(task_timeout_fails_the_job)
{
    weft_config *c = new_config(2);
    task(c, "stuck", "poolfns.stubborn", NONE, NONE, NULL, "1s");
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("stuck"), err), err);
    weft_orchestrator *o = open_orch(c);
    int64_t t0 = weft__mono_ns();
    char *sub = create_and_submit(o, "s", false);
    ASSERT_OK(weft_submission_wait(o, sub, 5000, err), err);
    double dt = secs_since(t0);
    ASSERT(dt < 2.0);
    expect_job(o, sub, "stuck", WEFT_JOB_FAILED, "timed out after 1s");
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(stop_with_cancel_ends_running_jobs_and_leaves_no_children)
{
    weft_config *c = new_config(2);
    task(c, "stuck", "poolfns.stubborn", NONE, NONE, NULL, NULL);
    ASSERT_OK(weft_config_configure_scenario(c, "s", L("stuck"), err), err);
    weft_orchestrator *o = open_orch(c);
    char *sub = create_and_submit(o, "s", false);
    wait_running(o, sub, "stuck");
    int64_t t0 = weft__mono_ns();
    ASSERT_OK(weft_orchestrator_stop(o, true, err), err);
    double dt = secs_since(t0);
    printf("    stop with a stuck job took %.3f s\n", dt);
    ASSERT(dt < 1.5);
    weft_job_info *j = job_of(o, sub, "stuck");
    ASSERT(weft_job_status_is_final(j->status));
    ASSERT(j->status != WEFT_JOB_COMPLETED);
    weft_job_info_free(j);
    ASSERT(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD); /* fork server reaped */
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST_MAIN(TEST_ENTRY_TIMEOUT(submit_returns_at_once_and_jobs_run_in_workers, 30),
          TEST_ENTRY_TIMEOUT(diamond_runs_branches_in_parallel_and_the_join_after_both, 30),
          TEST_ENTRY_TIMEOUT(crashes_fail_only_their_own_job, 30),
          TEST_ENTRY_TIMEOUT(cancel_of_a_running_job_stops_it_within_a_second, 30),
          TEST_ENTRY_TIMEOUT(task_timeout_fails_the_job, 30),
          TEST_ENTRY_TIMEOUT(stop_with_cancel_ends_running_jobs_and_leaves_no_children, 30))
