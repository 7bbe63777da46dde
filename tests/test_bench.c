/* SPDX-License-Identifier: MIT */
/*
 * test_bench.c - `weft bench`: the JSON it prints has the keys scripts/bench
 * reads, with sane values, in development and standalone mode, and in
 * cluster mode against the test broker; built-in weft.noop tasks with
 * outputs complete in a chain and a fan-in.  Speeds are never asserted:
 * the machine running the tests is shared.
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"
#include "weft.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs `weft bench ARGS --json` in the test's folder; returns the parsed object. */
static json_t *bench_json(const char *args)
{
    char *cmd, *out = NULL;
    if (asprintf(&cmd, "TMPDIR=$PWD %s/weft bench %s --json 2>bench.err", test_build_dir(), args) < 0)
        FAIL("oom");
    int rc = test_run_cmd(cmd, &out);
    free(cmd);
    if (rc != 0) {
        char *e = test_read_file("bench.err", NULL);
        FAIL("weft bench %s exited %d:\n%s\n%s", args, rc, out ? out : "", e ? e : "");
    }
    json_error_t jerr;
    json_t *o = json_loads(out, 0, &jerr);
    if (!o) FAIL("not JSON (%s):\n%s", jerr.text, out);
    free(out);
    ASSERT(json_is_object(o));
    return o;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_number(v)) FAIL("key %s is missing or not a number", key);
    return json_number_value(v);
}

static void check_common(json_t *o, const char *mode, long jobs)
{
    static const char *const keys[] = {"mode", "workers", "jobs", "jobs_per_second", "latency_p50_ms",
                                       "latency_p99_ms", "wall_seconds", "peak_rss_bytes", "shape",
                                       "task", "build_seconds", "submit_seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(o, keys[i])) FAIL("key %s is missing", keys[i]);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "mode")), mode);
    ASSERT_EQ((long)num(o, "jobs"), jobs);
    ASSERT_EQ((long)num(o, "completed"), jobs);
    ASSERT_EQ((long)num(o, "failed"), 0);
    ASSERT(num(o, "workers") >= 1);
    ASSERT(num(o, "jobs_per_second") > 0);
    ASSERT(num(o, "wall_seconds") > 0);
    ASSERT(num(o, "latency_p50_ms") >= 0);
    ASSERT(num(o, "latency_p99_ms") >= num(o, "latency_p50_ms"));
    ASSERT(num(o, "finish_p99_ms") >= num(o, "finish_p50_ms"));
    ASSERT(num(o, "finish_p50_ms") >= num(o, "latency_p50_ms"));
    ASSERT(num(o, "peak_rss_bytes") > 1024 * 1024);
    ASSERT(num(o, "build_seconds") >= 0);
    ASSERT(num(o, "submit_seconds") >= 0);
}

/* The temporary folder is removed afterwards: nothing weft-bench-* is left. */
static void assert_no_leftover(void)
{
    DIR *d = opendir(".");
    ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "weft-bench-", 11) == 0) FAIL("left behind: %s", e->d_name);
    closedir(d);
}

TEST(json_development)
{
    json_t *o = bench_json("--mode development --jobs 50");
    check_common(o, "development", 50);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "shape")), "independent");
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "task")), "noop");
    json_decref(o);
    assert_no_leftover();
}

TEST(json_standalone)
{
    json_t *o = bench_json("--mode standalone --workers 2 --jobs 50");
    check_common(o, "standalone", 50);
    ASSERT_EQ((long)num(o, "workers"), 2);
    json_decref(o);
    assert_no_leftover();
}

/* py-noop: every job runs the Python function in the workers' interpreters,
 * a chain too (each returns None, pickled for the next) */
TEST(python_noop_in_standalone_workers)
{
    json_t *o = bench_json("--mode standalone --workers 2 --jobs 40 --task py-noop --shape chain");
    check_common(o, "standalone", 40);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "task")), "py-noop");
    json_decref(o);
    assert_no_leftover();
}

TEST(one_at_a_time)
{
    json_t *o = bench_json("--mode standalone --workers 1 --jobs 5 --one-at-a-time");
    check_common(o, "standalone", 5);
    ASSERT(json_is_true(json_object_get(o, "one_at_a_time")));
    json_decref(o);
}

/* --fairness: short jobs submitted while a 5 s job runs on one of the 2
 * workers finish on the other one, long before the long job ends. */
TEST(fairness_short_jobs_behind_a_long_one)
{
    json_t *o = bench_json("--mode standalone --workers 2 --jobs 20 --fairness --task sleep:5");
    check_common(o, "standalone", 20);
    ASSERT(json_is_true(json_object_get(o, "fairness")));
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "task")), "sleep:5");
    double worst = num(o, "finish_max_ms");
    ASSERT(worst >= num(o, "finish_p99_ms"));
    ASSERT(worst >= 5.0);    /* each short job sleeps 5 ms */
    ASSERT(worst < 4000.0);  /* not behind the long job (5 s) */
    ASSERT_EQ((long)num(o, "long_ms"), 5000);
    ASSERT(!json_object_get(o, "cpu_efficiency")); /* sleep is not CPU work */
    json_decref(o);
}

/* The same in cluster mode against the test broker, with what the second
 * fairness row of scripts/bench sets: a long job of --long MS, and
 * run-workers at their default concurrency (--concurrency 0).  The URL
 * comes from --broker-file, and the workers bench starts do not get it on
 * their command line (run-worker warns when they do): they read it from
 * the config.toml written for them, which only its owner may read. */
TEST(fairness_in_cluster_mode_with_default_workers)
{
    const char *url = getenv("WEFT_TEST_BROKER_URL");
    if (!url || !*url) FAIL("WEFT_TEST_BROKER_URL is not set: run through scripts/run-tests");
    test_write_file("broker.url", url);
    ASSERT_EQ(chmod("broker.url", 0600), 0);
    json_t *o = bench_json("--mode cluster --workers 2 --concurrency 0 --fairness --long 3000 "
                           "--jobs 20 --task sleep:5 --broker-file broker.url --app-dir app");
    check_common(o, "cluster", 20);
    ASSERT(json_is_true(json_object_get(o, "fairness")));
    ASSERT_EQ((long)num(o, "long_ms"), 3000);
    ASSERT_EQ((long)num(o, "concurrency"), 0);
    ASSERT(num(o, "finish_max_ms") >= 5.0);
    ASSERT(num(o, "finish_max_ms") < 3000.0); /* not behind the long job */
    json_decref(o);
    struct stat st;
    ASSERT_EQ(stat("app/config.toml", &st), 0);
    ASSERT_EQ(st.st_mode & 077, 0); /* it holds the broker URL */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char want[64];
    snprintf(want, sizeof want, "concurrency %ld,", cpus < 1 ? 1 : cpus); /* run-worker's default */
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "app/worker-%d.log", i);
        char *log = test_read_file(path, NULL);
        ASSERT(log != NULL);
        ASSERT_CONTAINS(log, want);
        ASSERT(strstr(log, "can be seen by every user") == NULL);
        free(log);
    }
}

/* weft.noop writes its outputs: a chain and a fan-in of no-op tasks complete. */
TEST(noop_chain_and_fanout)
{
    json_t *o = bench_json("--mode development --jobs 20 --shape chain");
    check_common(o, "development", 20);
    json_decref(o);
    o = bench_json("--mode standalone --jobs 20 --shape fanout");
    check_common(o, "standalone", 20);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "shape")), "fanout");
    json_decref(o);
}

TEST(spin_efficiency)
{
    json_t *o = bench_json("--mode standalone --workers 1 --jobs 4 --task spin:5");
    check_common(o, "standalone", 4);
    ASSERT(num(o, "cpu_efficiency") > 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "task")), "spin:5");
    json_decref(o);
}

TEST(usage_errors)
{
    char *cmd, *out = NULL;
    static const char *const bad[] = {"--mode nope", "--jobs 0", "--shape ring", "--task spin:x",
                                      "--shape chain --task spin:5", "--bogus", "--task sleep:x",
                                      "--fairness --one-at-a-time", "--mode development --fairness",
                                      "--long 100", "--fairness --long 0", "--concurrency 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (asprintf(&cmd, "%s/weft bench %s", test_build_dir(), bad[i]) < 0) FAIL("oom");
        int rc = test_run_cmd(cmd, &out);
        if (rc != 2) FAIL("weft bench %s exited %d, not 2:\n%s", bad[i], rc, out ? out : "");
        ASSERT_CONTAINS(out, "weft help bench");
        free(out);
        free(cmd);
    }
    if (asprintf(&cmd, "%s/weft help bench", test_build_dir()) < 0) FAIL("oom");
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "--one-at-a-time");
    free(out);
    free(cmd);
}

TEST_MAIN(TEST_ENTRY_TIMEOUT(json_development, 120), TEST_ENTRY_TIMEOUT(json_standalone, 120),
          TEST_ENTRY_TIMEOUT(python_noop_in_standalone_workers, 120),
          TEST_ENTRY_TIMEOUT(one_at_a_time, 120), TEST_ENTRY_TIMEOUT(noop_chain_and_fanout, 120),
          TEST_ENTRY_TIMEOUT(spin_efficiency, 120),
          TEST_ENTRY_TIMEOUT(fairness_short_jobs_behind_a_long_one, 120),
          TEST_ENTRY_TIMEOUT(fairness_in_cluster_mode_with_default_workers, 120),
          TEST_ENTRY(usage_errors))
