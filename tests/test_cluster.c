/* SPDX-License-Identifier: MIT */
/*
 * test_cluster.c - cluster mode against a real RabbitMQ (WEFT_TEST_BROKER_URL)
 * and real `weft run-worker` processes.
 *
 * Two levels.  Worker tests publish job messages themselves and read the
 * status queue, so they can check what the protocol carries (attempts,
 * dead-lettering, skipped cancels).  Executor tests drive the cluster
 * executor (src/cluster/exec_cluster.c) through its vtable and its report queue,
 * acting as a tiny orchestrator that dispatches a job once its input is
 * written.  Each test uses its own queue names (with its pid).
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"

#include "broker.h"

#include "cluster/amqp_client.h"
#include "cluster/exec_cluster.h"
#include "cluster/protocol.h"
#include "exec/executor.h"
#include "job/runner.h"
#include "store/store.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static char queue_name[128], status_name[160];
static char app_dir[4096];

/* The application: config.toml and clusterfns.so in the test's folder. */
static void app_setup(const char *tag)
{
    snprintf(queue_name, sizeof queue_name, "weft.test.%s.%d", tag, (int)getpid());
    snprintf(status_name, sizeof status_name, "%s.status", queue_name);
    if (!getcwd(app_dir, sizeof app_dir)) FAIL("getcwd");
    char *so, *cfg;
    if (asprintf(&so, "%s/tests/apps/clusterfns.so", test_build_dir()) < 0) FAIL("oom");
    if (symlink(so, "clusterfns.so") != 0) FAIL("symlink %s", so);
    free(so);
    if (asprintf(&cfg,
                 "[JOB]\n"
                 "mode = \"cluster\"\n"
                 "broker_url = \"%s\"\n"
                 "queue = \"%s\"\n"
                 "max_attempts = \"3:int\"\n"
                 "[DATA_NODE.n0]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.n1]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.n2]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.out]\nstorage_type = \"text\"\n"
                 "[TASK.seed]\nfunction = \"clusterfns.seed:function\"\n"
                 "outputs = [\"n0:SECTION\"]\nvalue = \"41\"\n"
                 "[TASK.add1]\nfunction = \"clusterfns.add_one:function\"\n"
                 "inputs = [\"n0:SECTION\"]\noutputs = [\"n1:SECTION\"]\n"
                 "[TASK.add2]\nfunction = \"clusterfns.add_one:function\"\n"
                 "inputs = [\"n1:SECTION\"]\noutputs = [\"n2:SECTION\"]\n"
                 "[TASK.slow]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"out:SECTION\"]\nms = \"2500\"\n"
                 "[TASK.short]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"out:SECTION\"]\nms = \"300\"\n"
                 "[TASK.longslow]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"out:SECTION\"]\nms = \"20000\"\n"
                 "[TASK.killer]\nfunction = \"clusterfns.kill_worker:function\"\n"
                 "outputs = [\"out:SECTION\"]\n"
                 "[TASK.empty]\nfunction = \"weft.noop:function\"\n"
                 "[TASK.noop]\nfunction = \"clusterfns.noop:function\"\n"
                 "outputs = [\"out:SECTION\"]\n"
                 "[SCENARIO.chain]\ntasks = [\"seed:SECTION\", \"add1:SECTION\", \"add2:SECTION\"]\n"
                 "[DATA_NODE.p1]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.p2]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.p3]\nstorage_type = \"text\"\n"
                 "[TASK.s1]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"p1:SECTION\"]\nms = \"1500\"\n"
                 "[TASK.s2]\nfunction = \"clusterfns.slow:function\"\n"
                 "inputs = [\"p1:SECTION\"]\noutputs = [\"p2:SECTION\"]\nms = \"1500\"\n"
                 "[TASK.s3]\nfunction = \"clusterfns.slow:function\"\n"
                 "inputs = [\"p2:SECTION\"]\noutputs = [\"p3:SECTION\"]\nms = \"1500\"\n"
                 "[SCENARIO.slowchain]\ntasks = [\"s1:SECTION\", \"s2:SECTION\", \"s3:SECTION\"]\n"
                 "[SCENARIO.one_slow]\ntasks = [\"slow:SECTION\"]\n"
                 "[DATA_NODE.q1]\nstorage_type = \"text\"\n"
                 "[TASK.tens]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"q1:SECTION\"]\nms = \"10000\"\n"
                 "[TASK.tiny]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"q1:SECTION\"]\nms = \"10\"\n"
                 "[SCENARIO.ten_seconds]\ntasks = [\"tens:SECTION\"]\n"
                 "[SCENARIO.ten_ms]\ntasks = [\"tiny:SECTION\"]\n"
                 "[TASK.five]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"q1:SECTION\"]\nms = \"5\"\n"
                 "[SCENARIO.five_ms]\ntasks = [\"five:SECTION\"]\n"
                 "[TASK.one]\nfunction = \"clusterfns.slow:function\"\n"
                 "outputs = [\"q1:SECTION\"]\nms = \"1\"\n"
                 "[SCENARIO.one_ms]\ntasks = [\"one:SECTION\"]\n",
                 broker_url(), queue_name) < 0)
        FAIL("oom");
    test_write_file("config.toml", cfg);
    free(cfg);
}

/* A `weft run-worker` taking up to `prefetch` jobs ahead (0: its default,
 * which most tests use, so that the faults they inject meet it). */
static pid_t worker_start_prefetch(int concurrency, int prefetch, int n)
{
    char conc[16], pre[16], log[64];
    snprintf(conc, sizeof conc, "%d", concurrency);
    snprintf(pre, sizeof pre, "%d", prefetch);
    snprintf(log, sizeof log, "worker-%d.log", n);
    const char *args[] = {"run-worker", "--application-path", app_dir, "--queue", queue_name,
                          "--concurrency", conc, "--prefetch", pre, NULL};
    if (prefetch <= 0) args[7] = NULL; /* the worker's default */
    return weft_spawn_logged(log, args);
}

static pid_t worker_start(int concurrency, int n) { return worker_start_prefetch(concurrency, 0, n); }

/* The data node instance a test job uses for `cfg`: one shared instance
 * for the chain's nodes, one per job for the others (so that concurrent
 * jobs write files of their own). */
static void ref_make(weft__dn_ref *r, const char *cfg, const char *job_id)
{
    bool chain = strcmp(cfg, "n0") == 0 || strcmp(cfg, "n1") == 0 || strcmp(cfg, "n2") == 0;
    if (asprintf(&r->id, "DATANODE_%s_%s", cfg, chain ? "1" : job_id) < 0) FAIL("oom");
    r->config_id = strdup(cfg);
    r->storage_type = strdup("text");
    /* Where the worker's application puts it (the config's storage folder):
     * a job message carries ids, and the worker derives the path. */
    if (asprintf(&r->path, "%s/.weft/data/%s.txt", app_dir, r->id) < 0) FAIL("oom");
}

static void spec_make(weft__job_spec *s, const char *job_id, const char *task, const char *in_cfg,
                      const char *out_cfg)
{
    memset(s, 0, sizeof *s);
    s->job_id = strdup(job_id);
    if (asprintf(&s->task_id, "TASK_%s_x", task) < 0) FAIL("oom");
    s->task_config_id = strdup(task);
    s->attempt = 1;
    if (in_cfg) {
        s->ninputs = 1;
        s->inputs = calloc(1, sizeof *s->inputs);
        ref_make(&s->inputs[0], in_cfg, job_id);
    }
    if (out_cfg) {
        s->noutputs = 1;
        s->outputs = calloc(1, sizeof *s->outputs);
        ref_make(&s->outputs[0], out_cfg, job_id);
    }
}

/* The digest of `task` as the test's application (config.toml) defines it. */
static void task_digest(const char *task, char out[WEFT__DIGEST_HEX + 1])
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    if (weft__task_digest(cfg, task, out, err) != WEFT_OK) memset(out, '0', WEFT__DIGEST_HEX);
    out[WEFT__DIGEST_HEX] = '\0';
    weft_config_free(cfg);
}

/* ---- worker-level helpers: a client that publishes jobs and reads statuses ---- */

static weft__amqp *client(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = broker_url(), .confirms = true, .name = "test_cluster"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    ASSERT_OK(weft__cluster_declare(c, queue_name, err), err);
    return c;
}

static void publish_job(weft__amqp *c, const weft__job_spec *spec, int attempt)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char *m = NULL;
    size_t len = 0;
    char digest[WEFT__DIGEST_HEX + 1];
    task_digest(spec->task_config_id, digest);
    ASSERT_OK(weft__cluster_job_encode(spec, digest, attempt, 3, status_name, &m, &len, err), err);
    ASSERT_OK(weft__amqp_publish_wait(c, "", queue_name, m, len, true, 0, err), err);
    free(m);
}

/* The next status message (acked), within timeout_ms; fails the test otherwise. */
static void next_status(weft__amqp *c, weft__cluster_status *s, int timeout_ms)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    int64_t end = weft__mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = (end - weft__mono_ns()) / 1000000;
        if (left <= 0) FAIL("no status message within %d ms", timeout_ms);
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, (int)left, &ev, err);
        if (e == WEFT_ETIMEDOUT) continue;
        ASSERT_OK(e, err);
        if (ev.kind == WEFT__AMQP_DELIVERY) {
            ASSERT_OK(weft__cluster_status_decode(ev.body, ev.len, s, err), err);
            ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
            weft__amqp_event_release(&ev);
            return;
        }
        weft__amqp_event_release(&ev);
    }
}

static void consume_status(weft__amqp *c)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_queue_opts q = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, status_name, &q, NULL, err), err);
    ASSERT_OK(weft__amqp_consume(c, status_name, false, NULL, err), err);
}

static void cleanup_queues(void) { broker_cleanup(queue_name); }

/* ---- protocol ---- */

TEST(messages_round_trip)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    strcpy(app_dir, "/app");
    weft__job_spec s;
    spec_make(&s, "JOB_add1_1", "add1", "n0", "n1");
    char *m = NULL;
    size_t len = 0;
    char digest[WEFT__DIGEST_HEX + 1];
    memset(digest, 'a', WEFT__DIGEST_HEX);
    digest[WEFT__DIGEST_HEX] = '\0';
    ASSERT_OK(weft__cluster_job_encode(&s, digest, 2, 5, "q.status", &m, &len, err), err);
    ASSERT_NOT_CONTAINS(m, "function");
    /* Ids only: the worker derives paths and storage types itself. */
    ASSERT_NOT_CONTAINS(m, "/app/");
    ASSERT_NOT_CONTAINS(m, "\"text\"");
    weft__cluster_job j = WEFT__CLUSTER_JOB_INIT;
    ASSERT_OK(weft__cluster_job_decode(m, len, &j, err), err);
    ASSERT_STR_EQ(j.spec.job_id, "JOB_add1_1");
    ASSERT_STR_EQ(j.spec.task_config_id, "add1");
    ASSERT_EQ(j.spec.attempt, 2);
    ASSERT_EQ(j.max_attempts, 5);
    ASSERT_STR_EQ(j.reply_to, "q.status");
    ASSERT_STR_EQ(j.digest, digest);
    ASSERT_STR_EQ(j.spec.inputs[0].id, "DATANODE_n0_1");
    ASSERT_STR_EQ(j.spec.inputs[0].config_id, "n0");
    ASSERT(j.spec.inputs[0].path == NULL);
    weft__cluster_job_release(&j);
    free(m);

    weft__job_result r = WEFT__JOB_RESULT_INIT;
    r.status = WEFT_JOB_FAILED;
    r.error = strdup("boom");
    ASSERT_OK(weft__cluster_status_encode("JOB_x", 3, WEFT_JOB_FAILED, "h:1", &r, 4321, &m, &len,
                                          err),
              err);
    weft__job_result_release(&r);
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    ASSERT_OK(weft__cluster_status_decode(m, len, &st, err), err);
    ASSERT_STR_EQ(st.job_id, "JOB_x");
    ASSERT_EQ(st.attempt, 3);
    ASSERT_EQ(st.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(st.worker, "h:1");
    ASSERT_EQ(st.ran_us, 4321);
    ASSERT_STR_EQ(st.result.error, "boom");
    weft__cluster_status_release(&st);
    free(m);

    ASSERT_EQ(weft__cluster_job_decode("{", 1, &j, err), WEFT_EDATA);
    ASSERT_EQ(weft__cluster_job_decode("{\"type\":\"job\"}", 14, &j, err), WEFT_EDATA);
    ASSERT_EQ(weft__cluster_status_decode("{\"type\":\"status\",\"job_id\":\"a\",\"attempt\":1,"
                                          "\"status\":\"BLOCKED\"}", 67, &st, err),
              WEFT_EDATA);
    ASSERT_OK(weft__cluster_cancel_encode("JOB_y", &m, &len, err), err);
    char *id = weft__cluster_cancel_decode(m, len);
    ASSERT_STR_EQ(id, "JOB_y");
    free(id);
    free(m);

    char *cur[] = {"JOB_a", "JOB_b"};
    weft_worker_info hb = {.name = "h:7", .host = "h", .pid = 7, .queue = "q", .state = "up",
                           .concurrency = 2, .jobs_run = 12, .current = cur, .ncurrent = 2,
                           .at_us = 1234, .unacked = 5};
    ASSERT_OK(weft__cluster_heartbeat_encode(&hb, &m, &len, err), err);
    weft_worker_info back;
    ASSERT_OK(weft__cluster_heartbeat_decode(m, len, &back, err), err);
    free(m);
    ASSERT_STR_EQ(back.name, "h:7");
    ASSERT_STR_EQ(back.host, "h");
    ASSERT_EQ(back.pid, 7);
    ASSERT_STR_EQ(back.queue, "q");
    ASSERT_STR_EQ(back.state, "up");
    ASSERT_EQ(back.concurrency, 2);
    ASSERT_EQ(back.jobs_run, 12);
    ASSERT_EQ(back.ncurrent, 2);
    ASSERT_STR_EQ(back.current[1], "JOB_b");
    ASSERT_EQ(back.at_us, 1234);
    ASSERT_EQ(back.unacked, 5);
    weft__worker_info_release(&back);
    weft__worker_info_release(&back); /* twice is fine */
    ASSERT_EQ(weft__cluster_heartbeat_decode("{\"type\":\"worker\",\"v\":1}", 23, &back, err),
              WEFT_EDATA);
    ASSERT_CONTAINS(err, "\"worker\"");
    ASSERT_EQ(weft__cluster_heartbeat_decode("{\"type\":\"job\",\"worker\":\"a\"}", 27, &back,
                                             err),
              WEFT_EDATA);
    /* Only the name is required: a state left out reads "?". */
    ASSERT_OK(weft__cluster_heartbeat_decode("{\"type\":\"worker\",\"worker\":\"a:1\"}", 32,
                                             &back, err),
              err);
    ASSERT_STR_EQ(back.state, "?");
    ASSERT_EQ(back.ncurrent, 0);
    ASSERT_EQ(back.unacked, -1); /* an older worker's: not said */
    weft__worker_info_release(&back);
    /* The queue's unacked: the live workers' sum, unknown if one of them
     * does not say. */
    weft_worker_info ws[3] = {{.state = "up", .unacked = 3}, {.state = "draining", .unacked = 2},
                              {.state = "down", .unacked = -1}};
    ASSERT_EQ(weft_workers_unacked(ws, 3), 5);
    ASSERT_EQ(weft_workers_unacked(ws, 0), 0);
    ws[2].state = "up";
    ASSERT_EQ(weft_workers_unacked(ws, 3), -1);
    weft__job_spec_release(&s);
}

/* ---- worker level ---- */

TEST(worker_runs_a_job_and_reports)
{
    app_setup("wrun");
    weft__amqp *c = client();
    consume_status(c);
    pid_t w = worker_start(1, 1);
    weft__job_spec s;
    spec_make(&s, "JOB_seed_1", "seed", NULL, "n0");
    publish_job(c, &s, 1);
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    next_status(c, &st, 20000);
    /* RUNNING only for a job still running after WEFT__RUNNING_AFTER_MS:
     * this short one may send its result alone. */
    bool ran_said = st.status == WEFT_JOB_RUNNING;
    if (ran_said) {
        ASSERT_STR_EQ(st.job_id, "JOB_seed_1");
        weft__cluster_status_release(&st);
        next_status(c, &st, 20000);
    }
    /* a result alone says how long the job ran */
    if (!ran_said) ASSERT_GT(st.ran_us, 0);
    ASSERT_STR_EQ(st.job_id, "JOB_seed_1");
    ASSERT_CONTAINS(st.worker, ":");
    if (st.status != WEFT_JOB_COMPLETED)
        FAIL("%s: %s", weft_job_status_name(st.status), st.result.error ? st.result.error : "");
    ASSERT_EQ(st.attempt, 1);
    ASSERT_EQ(st.result.noutputs, 1);
    ASSERT(st.result.written[0]);
    weft__cluster_status_release(&st);
    char *out = test_read_file(".weft/data/DATANODE_n0_1.txt", NULL);
    ASSERT_STR_EQ(out, "41");
    free(out);
    ASSERT_EQ(worker_stop(w), 0);
    weft__job_spec_release(&s);
    weft__amqp_close(c);
    cleanup_queues();
}

TEST(unknown_task_and_malformed_messages)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("wbad");
    weft__amqp *c = client();
    consume_status(c);
    pid_t w = worker_start(1, 1);
    ASSERT_OK(weft__amqp_publish_wait(c, "", queue_name, "not json", 8, true, 0, err), err);
    weft__job_spec s;
    spec_make(&s, "JOB_nosuch_1", "nosuch", NULL, "out");
    publish_job(c, &s, 1);
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    next_status(c, &st, 20000);
    ASSERT_EQ(st.status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(st.result.error, "task 'nosuch' is not defined in this worker's application");
    weft__cluster_status_release(&st);
    /* The malformed message went to the dead-letter queue, and the worker lives on. */
    char dead[200];
    snprintf(dead, sizeof dead, "%s.dead", queue_name);
    weft__amqp *d = client();
    ASSERT_OK(weft__amqp_consume(d, dead, false, NULL, err), err);
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    do {
        weft__amqp_event_release(&ev);
        ASSERT_OK(weft__amqp_next(d, 10000, &ev, err), err);
    } while (ev.kind != WEFT__AMQP_DELIVERY);
    ASSERT_STR_EQ(ev.body, "not json");
    ASSERT_OK(weft__amqp_ack(d, ev.tag, err), err);
    weft__amqp_event_release(&ev);
    weft__amqp_close(d);
    ASSERT_EQ(kill(w, 0), 0);
    char *log = test_read_file("worker-1.log", NULL);
    ASSERT_CONTAINS(log, "rejected a malformed message");
    ASSERT_NOT_CONTAINS(log, "guest:guest");
    free(log);
    ASSERT_EQ(worker_stop(w), 0);
    weft__job_spec_release(&s);
    weft__amqp_close(c);
    cleanup_queues();
}

TEST(killed_worker_job_completes_once_on_another_with_attempt_2)
{
    app_setup("wkill");
    weft__amqp *c = client();
    consume_status(c);
    pid_t w1 = worker_start(1, 1);
    weft__job_spec s;
    spec_make(&s, "JOB_slow_1", "slow", NULL, "out");
    publish_job(c, &s, 1);
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    next_status(c, &st, 20000);
    ASSERT_EQ(st.status, WEFT_JOB_RUNNING);
    ASSERT_EQ(st.attempt, 1);
    weft__cluster_status_release(&st);
    kill(w1, SIGKILL);
    waitpid(w1, NULL, 0);
    pid_t w2 = worker_start(1, 2);
    int completed = 0, running2 = 0;
    while (!completed) {
        next_status(c, &st, 30000);
        if (st.status == WEFT_JOB_RUNNING) {
            ASSERT_EQ(st.attempt, 2);
            running2++;
        } else {
            ASSERT_EQ(st.status, WEFT_JOB_COMPLETED);
            ASSERT_EQ(st.attempt, 2);
            completed++;
        }
        weft__cluster_status_release(&st);
    }
    ASSERT_EQ(running2, 1);
    /* Nothing more comes. */
    weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_EQ(weft__amqp_next(c, 1500, &ev, err), WEFT_ETIMEDOUT);
    ASSERT_EQ(worker_stop(w2), 0);
    weft__job_spec_release(&s);
    weft__amqp_close(c);
    cleanup_queues();
}

TEST(job_that_kills_its_worker_fails_after_max_attempts)
{
    app_setup("wmax");
    weft__amqp *c = client();
    consume_status(c);
    weft__job_spec s;
    spec_make(&s, "JOB_killer_1", "killer", NULL, "out");
    publish_job(c, &s, 1);
    pid_t w = 0;
    int restarts = 0;
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    for (;;) {
        /* Keep one worker alive: the job kills it each time. */
        if (!w || waitpid(w, NULL, WNOHANG) == w) {
            w = worker_start(1, ++restarts);
            ASSERT_LE(restarts, 6);
        }
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
        weft_err e = weft__amqp_next(c, 300, &ev, err);
        if (e == WEFT_ETIMEDOUT) continue;
        ASSERT_OK(e, err);
        if (ev.kind != WEFT__AMQP_DELIVERY) {
            weft__amqp_event_release(&ev);
            continue;
        }
        ASSERT_OK(weft__cluster_status_decode(ev.body, ev.len, &st, err), err);
        ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
        weft__amqp_event_release(&ev);
        if (st.status != WEFT_JOB_RUNNING) break;
        weft__cluster_status_release(&st);
    }
    ASSERT_EQ(st.status, WEFT_JOB_FAILED);
    ASSERT_EQ(st.attempt, 3);
    ASSERT_CONTAINS(st.result.error, "max_attempts = 3");
    weft__cluster_status_release(&st);
    ASSERT_EQ(worker_stop(w), 0);
    weft__job_spec_release(&s);
    weft__amqp_close(c);
    cleanup_queues();
}

TEST(sigterm_drains_running_jobs)
{
    app_setup("wdrain");
    weft__amqp *c = client();
    consume_status(c);
    pid_t w = worker_start(1, 1);
    weft__job_spec s;
    spec_make(&s, "JOB_slow_d", "slow", NULL, "out");
    publish_job(c, &s, 1);
    weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
    next_status(c, &st, 20000);
    ASSERT_EQ(st.status, WEFT_JOB_RUNNING);
    weft__cluster_status_release(&st);
    ASSERT_EQ(worker_stop(w), 0); /* returns only after the job finished */
    next_status(c, &st, 1000);
    ASSERT_EQ(st.status, WEFT_JOB_COMPLETED);
    weft__cluster_status_release(&st);
    weft__job_spec_release(&s);
    weft__amqp_close(c);
    cleanup_queues();
}

/* ---- executor level ---- */

typedef struct seen {
    int running, finished;
    int attempt;
    weft_job_status status;
    char *error;
    char *worker;
    int64_t finished_ns;
} seen;

typedef struct exec_run {
    weft__reports reports;
    weft__executor *ex;
    char **ids;
    seen *seen;
    size_t n;
    bool no_commit; /* drain() does not tell the executor the reports are stored */
    weft_config *cfg; /* the application whose task digests jobs carry */
    weft__app *app;
} exec_run;

static void exec_open(exec_run *r, const char *url)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    memset(r, 0, sizeof *r);
    ASSERT_OK(weft__reports_init(&r->reports), err);
    if (access("config.toml", F_OK) == 0) {
        r->cfg = weft_config_new();
        ASSERT_OK(weft_config_load(r->cfg, "config.toml", err), err);
        ASSERT_OK(weft_config_check(r->cfg, err), err);
        ASSERT_OK(weft__app_new(r->cfg, app_dir, &r->app, err), err);
    }
    weft__exec_cluster_opts o = {.broker_url = url, .queue = queue_name};
    ASSERT_OK(weft__exec_cluster_new(r->app, &r->reports, &o, &r->ex, err), err);
}

static size_t track(exec_run *r, const char *id)
{
    r->ids = realloc(r->ids, (r->n + 1) * sizeof *r->ids);
    r->seen = realloc(r->seen, (r->n + 1) * sizeof *r->seen);
    r->ids[r->n] = strdup(id);
    memset(&r->seen[r->n], 0, sizeof r->seen[r->n]);
    return r->n++;
}

static void dispatch(exec_run *r, const weft__job_spec *s)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    track(r, s->job_id);
    ASSERT_OK(r->ex->ops->dispatch(r->ex, s, err), err);
}

static seen *find(exec_run *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], id) == 0) return &r->seen[i];
    return NULL;
}

static size_t count_done(const exec_run *r)
{
    size_t done = 0;
    for (size_t i = 0; i < r->n; i++) done += r->seen[i].finished > 0;
    return done;
}

/* Drains reports for up to ms (less once every job finished); returns how
 * many jobs are finished. */
static size_t drain(exec_run *r, int ms)
{
    int64_t end = weft__mono_ns() + (int64_t)ms * 1000000;
    do {
        weft__reports_wait(&r->reports, 50);
        uint64_t token = 0;
        for (weft__report *p = weft__reports_take(&r->reports), *next; p; p = next) {
            next = p->next;
            if (p->token > token) token = p->token;
            seen *s = find(r, p->job_id);
            if (!s) FAIL("report for an unknown job %s", p->job_id);
            if (p->attempt > s->attempt) s->attempt = p->attempt;
            if (p->kind == WEFT__REPORT_RUNNING) {
                s->running++;
                free(s->worker);
                s->worker = strdup(p->worker ? p->worker : "");
            } else {
                s->finished++;
                s->status = p->result.status;
                s->error = p->result.error ? strdup(p->result.error) : NULL;
                if (!s->error && p->result.status != WEFT_JOB_COMPLETED &&
                    asprintf(&s->error, "exit code %d, signal %d, log: %s", p->result.exit_code,
                             p->result.signal, p->result.log_tail ? p->result.log_tail : "") < 0)
                    s->error = NULL;
                s->finished_ns = weft__mono_ns();
            }
            weft__report_free(p);
        }
        /* As the orchestrator does once it committed them. */
        if (token && !r->no_commit) r->ex->ops->committed(r->ex, token);
    } while (weft__mono_ns() < end && count_done(r) < r->n);
    return count_done(r);
}

static void exec_close(exec_run *r)
{
    r->ex->ops->stop(r->ex, false);
    r->ex->ops->free(r->ex);
    weft__reports_destroy(&r->reports);
    for (size_t i = 0; i < r->n; i++) {
        free(r->ids[i]);
        free(r->seen[i].error);
        free(r->seen[i].worker);
    }
    free(r->ids);
    free(r->seen);
    weft__app_free(r->app);
    weft_config_free(r->cfg);
}

TEST(executor_start_fails_fast_on_a_bad_broker)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    snprintf(queue_name, sizeof queue_name, "weft.test.bad.%d", (int)getpid());
    exec_run r;
    exec_open(&r, "amqp://guest:secret@127.0.0.1:1/%2f");
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(r.ex->ops->start(r.ex, err), WEFT_EBROKER);
    ASSERT_STR_EQ(err, "cannot connect to broker 127.0.0.1:1: Connection refused");
    ASSERT_LT(weft__mono_ns() - t0, 3000000000LL);
    exec_close(&r);
}

/* The chain seed -> add1 -> add2, dispatched as each input is written, and
 * 30 independent jobs of 300 ms each; outputs compared with development
 * mode's.  The independent jobs last long enough (9 s in a row) that every
 * worker, even one slow to start under a sanitizer, gets some of them
 * (prefetch 1): no-op jobs could all go to the first worker connected. */
static void pipeline_with_workers(const char *tag, int nworkers)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup(tag);
    pid_t w[4];
    for (int i = 0; i < nworkers; i++) w[i] = worker_start(1, i + 1);
    exec_run r;
    exec_open(&r, broker_url());
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    const char *chain[][3] = {{"seed", NULL, "n0"}, {"add1", "n0", "n1"}, {"add2", "n1", "n2"}};
    for (int i = 0; i < 30; i++) {
        char id[64];
        snprintf(id, sizeof id, "JOB_short_%d", i);
        weft__job_spec s;
        spec_make(&s, id, "short", NULL, "out");
        dispatch(&r, &s);
        weft__job_spec_release(&s);
    }
    for (int k = 0; k < 3; k++) {
        weft__job_spec s;
        char id[64];
        snprintf(id, sizeof id, "JOB_%s_1", chain[k][0]);
        spec_make(&s, id, chain[k][0], chain[k][1], chain[k][2]);
        dispatch(&r, &s);
        weft__job_spec_release(&s);
        int64_t end = weft__mono_ns() + 30000000000LL;
        while (!find(&r, id)->finished && weft__mono_ns() < end) drain(&r, 100);
        ASSERT_EQ(find(&r, id)->status, WEFT_JOB_COMPLETED);
    }
    ASSERT_EQ(drain(&r, 30000), r.n);
    char *workers_seen[64];
    int nw = 0;
    for (size_t i = 0; i < r.n; i++) {
        ASSERT_EQ(r.seen[i].finished, 1);
        ASSERT_EQ(r.seen[i].running, 1);
        ASSERT_EQ(r.seen[i].status, WEFT_JOB_COMPLETED);
        bool known = false;
        for (int k = 0; k < nw; k++) known |= strcmp(workers_seen[k], r.seen[i].worker) == 0;
        if (!known && nw < 64) workers_seen[nw++] = r.seen[i].worker;
    }
    ASSERT_GE(nw, 2); /* the jobs were spread over the workers */
    char *n2 = test_read_file(".weft/data/DATANODE_n2_1.txt", NULL);
    /* Development mode: the same functions in this process. */
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft__app *app = NULL;
    ASSERT_OK(weft__app_new(cfg, app_dir, &app, err), err);
    mkdir("dev", 0755);
    const char *dev_out[] = {"dev/n0.txt", "dev/n1.txt", "dev/n2.txt"};
    for (int k = 0; k < 3; k++) {
        weft__job_spec s;
        char dev_id[64];
        snprintf(dev_id, sizeof dev_id, "JOB_%s_dev", chain[k][0]);
        spec_make(&s, dev_id, chain[k][0], chain[k][1], chain[k][2]);
        if (k) {
            free(s.inputs[0].path);
            if (asprintf(&s.inputs[0].path, "%s/%s", app_dir, dev_out[k - 1]) < 0) FAIL("oom");
        }
        free(s.outputs[0].path);
        if (asprintf(&s.outputs[0].path, "%s/%s", app_dir, dev_out[k]) < 0) FAIL("oom");
        weft__job_result res = WEFT__JOB_RESULT_INIT;
        ASSERT_OK(weft__run_job(app, &s, NULL, &res), err);
        ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
        weft__job_result_release(&res);
        weft__job_spec_release(&s);
    }
    char *dev = test_read_file("dev/n2.txt", NULL);
    ASSERT_STR_EQ(n2, dev);
    ASSERT_STR_EQ(n2, "43");
    free(n2);
    free(dev);
    weft__app_free(app);
    weft_config_free(cfg);
    exec_close(&r);
    for (int i = 0; i < nworkers; i++) ASSERT_EQ(worker_stop(w[i]), 0);
    cleanup_queues();
}

TEST(pipeline_with_2_workers_matches_development) { pipeline_with_workers("p2", 2); }
TEST(pipeline_with_3_workers_matches_development) { pipeline_with_workers("p3", 3); }

TEST(jobs_wait_for_a_worker)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("nowork");
    exec_run r;
    exec_open(&r, broker_url());
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    for (int i = 0; i < 5; i++) {
        char id[64];
        snprintf(id, sizeof id, "JOB_noop_%d", i);
        weft__job_spec s;
        spec_make(&s, id, "noop", NULL, "out");
        dispatch(&r, &s);
        weft__job_spec_release(&s);
    }
    ASSERT_EQ(drain(&r, 1500), 0);
    ASSERT_EQ(weft__exec_cluster_unconfirmed(r.ex), 0); /* queued, safe */
    pid_t w = worker_start(2, 1);
    ASSERT_EQ(drain(&r, 30000), 5);
    exec_close(&r);
    ASSERT_EQ(worker_stop(w), 0);
    cleanup_queues();
}

TEST(duplicate_status_messages_change_nothing)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("dup");
    exec_run r;
    exec_open(&r, broker_url());
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    weft__job_spec s;
    spec_make(&s, "JOB_noop_dup", "noop", NULL, "out");
    dispatch(&r, &s);
    weft__job_spec_release(&s);
    weft__amqp *c = client();
    weft__job_result res = WEFT__JOB_RESULT_INIT;
    res.status = WEFT_JOB_COMPLETED;
    const struct { const char *id; weft_job_status st; int attempt; } msgs[] = {
        {"JOB_noop_dup", WEFT_JOB_RUNNING, 1},   {"JOB_noop_dup", WEFT_JOB_RUNNING, 1},
        {"JOB_noop_dup", WEFT_JOB_COMPLETED, 1}, {"JOB_noop_dup", WEFT_JOB_COMPLETED, 1},
        {"JOB_noop_dup", WEFT_JOB_FAILED, 2},    {"JOB_unknown", WEFT_JOB_COMPLETED, 1},
    };
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        char *m = NULL;
        size_t len = 0;
        ASSERT_OK(weft__cluster_status_encode(msgs[i].id, msgs[i].attempt, msgs[i].st, "h:1", &res, 0,
                                              &m, &len, err),
                  err);
        ASSERT_OK(weft__amqp_publish_wait(c, "", status_name, m, len, true, 0, err), err);
        free(m);
    }
    drain(&r, 2000);
    seen *x = find(&r, "JOB_noop_dup");
    ASSERT_EQ(x->running, 1);
    ASSERT_EQ(x->finished, 1);
    ASSERT_EQ(x->status, WEFT_JOB_COMPLETED);
    weft__amqp_close(c);
    exec_close(&r);
    cleanup_queues();
}

TEST(cancel_queued_job_never_runs_and_running_job_stops_within_1s)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("cancel");
    pid_t w = worker_start(1, 1);
    exec_run r;
    exec_open(&r, broker_url());
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    weft__job_spec a, b;
    spec_make(&a, "JOB_longslow_a", "longslow", NULL, "out");
    spec_make(&b, "JOB_noop_b", "noop", NULL, "out");
    dispatch(&r, &a);
    int64_t end = weft__mono_ns() + 20000000000LL;
    while (!find(&r, "JOB_longslow_a")->running && weft__mono_ns() < end) drain(&r, 50);
    ASSERT_EQ(find(&r, "JOB_longslow_a")->running, 1);
    dispatch(&r, &b); /* waits in the queue behind a (prefetch 1) */
    sleep_ms(300);
    r.ex->ops->cancel(r.ex, "JOB_noop_b");
    drain(&r, 200);
    ASSERT_EQ(find(&r, "JOB_noop_b")->finished, 1);
    ASSERT_EQ(find(&r, "JOB_noop_b")->status, WEFT_JOB_CANCELED);
    int64_t t0 = weft__mono_ns();
    r.ex->ops->cancel(r.ex, "JOB_longslow_a");
    while (!find(&r, "JOB_longslow_a")->finished && weft__mono_ns() - t0 < 5000000000LL)
        drain(&r, 20);
    seen *sa = find(&r, "JOB_longslow_a");
    ASSERT_EQ(sa->finished, 1);
    ASSERT_EQ(sa->status, WEFT_JOB_CANCELED);
    ASSERT_LT(sa->finished_ns - t0, 1000000000LL);
    /* b was skipped by the worker: its output never appears. */
    sleep_ms(1000);
    char path[4200];
    snprintf(path, sizeof path, "%s/.weft/data/DATANODE_out_JOB_noop_b.txt", app_dir);
    ASSERT(access(path, F_OK) != 0);
    ASSERT_EQ(find(&r, "JOB_noop_b")->running, 0);
    weft__job_spec_release(&a);
    weft__job_spec_release(&b);
    exec_close(&r);
    ASSERT_EQ(worker_stop(w), 0);
    cleanup_queues();
}

/* The status messages of a job stay on the broker until the orchestrator
 * says their reports are stored: an orchestrator that dies before its
 * commit gets them again. */
TEST(status_acked_only_after_commit)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("ackcommit");
    pid_t w = worker_start(1, 1);
    exec_run r;
    exec_open(&r, broker_url());
    r.no_commit = true; /* "killed before the commit" */
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    weft__job_spec s;
    spec_make(&s, "JOB_noop_ack", "noop", NULL, "out");
    dispatch(&r, &s);
    weft__job_spec_release(&s);
    ASSERT_EQ(drain(&r, 20000), 1);
    exec_close(&r);
    /* The next orchestrator gets the statuses again, stores them, says so. */
    exec_open(&r, broker_url());
    track(&r, "JOB_noop_ack");
    ASSERT_OK(weft__exec_cluster_adopt(r.ex, "JOB_noop_ack", 1, false, err), err);
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    ASSERT_EQ(drain(&r, 20000), 1);
    ASSERT_EQ(find(&r, "JOB_noop_ack")->status, WEFT_JOB_COMPLETED);
    exec_close(&r);
    /* ... and the one after that gets nothing: they were acknowledged. */
    exec_open(&r, broker_url());
    track(&r, "JOB_noop_ack");
    ASSERT_OK(weft__exec_cluster_adopt(r.ex, "JOB_noop_ack", 1, false, err), err);
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    ASSERT_EQ(drain(&r, 1500), 0);
    exec_close(&r);
    ASSERT_EQ(worker_stop(w), 0);
    cleanup_queues();
}

/* ---- through the public API ---- */

static weft_config *cfg_load(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    return cfg;
}

static weft_job_info *job_of_task(weft_orchestrator *o, const char *sub_id, const char *task)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_job_filter f = {.submission_id = sub_id, .status = -1};
    weft_job_info **jobs = NULL, *found = NULL;
    size_t n = 0;
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    for (size_t i = 0; i < n; i++)
        if (!found && strcmp(jobs[i]->task_config_id, task) == 0) {
            found = jobs[i];
            jobs[i] = NULL;
        }
    weft_job_list_free(jobs, n);
    return found;
}

/* How many times the store recorded `status` for a job. */
static int times_in_history(const char *job_id, weft_job_status status)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__store *st = NULL;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &st, err), err);
    int *sts = NULL;
    int64_t *at = NULL;
    size_t n = 0;
    ASSERT_OK(weft__store_job_history(st, job_id, &sts, &at, &n, err), err);
    int k = 0;
    for (size_t i = 0; i < n; i++) k += sts[i] == (int)status;
    free(sts);
    free(at);
    weft__store_close(st);
    return k;
}

/* An orchestrator is SIGKILLed while the middle job of a 3-stage pipeline
 * runs on a worker; the next one opening the storage folder resumes. */
TEST(orchestrator_restart_resumes)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("resume");
    pid_t w = worker_start(1, 1);
    pid_t child = fork();
    if (child < 0) FAIL("fork");
    if (child == 0) {
        weft_config *cfg = cfg_load();
        weft_orchestrator *o = NULL;
        char *scen = NULL, *sub = NULL;
        if (weft_orchestrator_open(cfg, NULL, &o, err) || weft_orchestrator_start(o, err) ||
            weft_scenario_create(o, "slowchain", &scen, err) ||
            weft_submit(o, scen, NULL, &sub, err)) {
            fprintf(stderr, "child: %s\n", err);
            _exit(1);
        }
        test_write_file("sub.tmp", sub);
        rename("sub.tmp", "sub.txt");
        for (;;) pause(); /* the dispatcher thread runs the jobs until the kill */
    }
    weft_config *cfg = cfg_load();
    char *sub = NULL;
    bool middle_running = false;
    for (int i = 0; i < 300 && !middle_running; i++) {
        sleep_ms(100);
        if (access("sub.txt", F_OK) != 0) continue;
        if (!sub) sub = test_read_file("sub.txt", NULL);
        weft_orchestrator_opts ro = {.read_only = true};
        weft_orchestrator *q = NULL;
        ASSERT_OK(weft_orchestrator_open(cfg, &ro, &q, err), err);
        weft_job_info *j2 = job_of_task(q, sub, "s2");
        middle_running = j2 && j2->status == WEFT_JOB_RUNNING;
        weft_job_info_free(j2);
        weft_orchestrator_close(q);
    }
    ASSERT(middle_running);
    int64_t killed_us = weft__now_us();
    kill(child, SIGKILL);
    int st = 0;
    waitpid(child, &st, 0);
    ASSERT(WIFSIGNALED(st));

    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err); /* resumes */
    ASSERT_OK(weft_submission_wait(o, sub, 60000, err), err);
    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    ASSERT_EQ(si->status, WEFT_SUBMISSION_COMPLETED);
    ASSERT_EQ(si->count[WEFT_JOB_COMPLETED], 3);
    weft_submission_info_free(si);
    const char *tasks[] = {"s1", "s2", "s3"};
    for (int k = 0; k < 3; k++) {
        weft_job_info *j = job_of_task(o, sub, tasks[k]);
        ASSERT(j != NULL);
        if (j->status != WEFT_JOB_COMPLETED)
            FAIL("%s: %s (%s)", j->id, weft_job_status_name(j->status), j->error ? j->error : "");
        ASSERT(j->worker != NULL);
        ASSERT_EQ(times_in_history(j->id, WEFT_JOB_COMPLETED), 1);
        ASSERT_EQ(times_in_history(j->id, WEFT_JOB_RUNNING), 1);
        weft_job_info_free(j);
    }
    /* The downstream jobs ran after the restart. */
    weft_job_info *j3 = job_of_task(o, sub, "s3");
    ASSERT_GT(j3->status_time_us[WEFT_JOB_RUNNING], killed_us);
    weft_job_info_free(j3);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
    free(sub);
    ASSERT_EQ(worker_stop(w), 0);
    cleanup_queues();
}

/* Two orchestrators of one application, on storage folders of their own,
 * share the broker, the job queue and two workers: each gets the statuses
 * of its own jobs (a status taken by the other would be lost to it and its
 * submission would never finish), and a cancel from one leaves the other's
 * running job alone. */
static char *submit_one(weft_orchestrator *o, const char *scenario)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char *scen = NULL, *sub = NULL;
    ASSERT_OK(weft_scenario_create(o, scenario, &scen, err), err);
    ASSERT_OK(weft_submit(o, scen, NULL, &sub, err), err);
    free(scen);
    return sub;
}

static void expect_submission(weft_orchestrator *o, const char *sub, weft_submission_status st,
                              int completed)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_OK(weft_submission_wait(o, sub, 60000, err), err);
    weft_submission_info *si = NULL;
    ASSERT_OK(weft_submission_get(o, sub, &si, err), err);
    ASSERT_EQ(si->status, st);
    ASSERT_EQ(si->count[WEFT_JOB_COMPLETED], completed);
    weft_submission_info_free(si);
}

static size_t jobs_in_store(weft_orchestrator *o)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_job_filter f = {.status = -1};
    weft_job_info **jobs = NULL;
    size_t n = 0;
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    weft_job_list_free(jobs, n);
    return n;
}

TEST(two_orchestrators_share_a_queue_without_cross_talk)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("two");
    pid_t w1 = worker_start(2, 1), w2 = worker_start(2, 2);
    weft_config *cfg = cfg_load();
    weft_orchestrator_opts ob = {.storage_folder = "store-b"};
    weft_orchestrator *a = NULL, *b = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &a, err), err);
    ASSERT_OK(weft_orchestrator_open(cfg, &ob, &b, err), err);
    ASSERT_OK(weft_orchestrator_start(a, err), err);
    ASSERT_OK(weft_orchestrator_start(b, err), err);
    enum { N = 4 };
    char *sa[N], *sb[N];
    for (int i = 0; i < N; i++) {
        sa[i] = submit_one(a, "chain");
        sb[i] = submit_one(b, "chain");
    }
    /* One slow job each; a's is canceled once both run. */
    char *slow_a = submit_one(a, "one_slow"), *slow_b = submit_one(b, "one_slow");
    bool both = false;
    for (int i = 0; i < 200 && !both; i++) {
        sleep_ms(50);
        weft_job_info *ja = job_of_task(a, slow_a, "slow"), *jb = job_of_task(b, slow_b, "slow");
        both = ja && jb && ja->status == WEFT_JOB_RUNNING && jb->status == WEFT_JOB_RUNNING;
        weft_job_info_free(ja);
        weft_job_info_free(jb);
    }
    ASSERT(both);
    ASSERT_OK(weft_cancel(a, slow_a, err), err);
    for (int i = 0; i < N; i++) {
        expect_submission(a, sa[i], WEFT_SUBMISSION_COMPLETED, 3);
        expect_submission(b, sb[i], WEFT_SUBMISSION_COMPLETED, 3);
        free(sa[i]);
        free(sb[i]);
    }
    expect_submission(a, slow_a, WEFT_SUBMISSION_CANCELED, 0);
    expect_submission(b, slow_b, WEFT_SUBMISSION_COMPLETED, 1);
    /* Each store holds its own jobs only. */
    ASSERT_EQ(jobs_in_store(a), (size_t)(3 * N + 1));
    ASSERT_EQ(jobs_in_store(b), (size_t)(3 * N + 1));
    free(slow_a);
    free(slow_b);
    weft_orchestrator_close(a);
    weft_orchestrator_close(b);
    weft_config_free(cfg);
    ASSERT_EQ(worker_stop(w1), 0);
    ASSERT_EQ(worker_stop(w2), 0);
    cleanup_queues();
}

/* One job of 10 s, then `n` of 10 ms, on 2 workers started with `extra`
 * options (NULL-terminated, up to 2); the slowest short job's time from
 * submission to COMPLETED, by the store's clock.  With `warm` > 0, the
 * workers log at debug level, first run `warm` jobs of 1 ms (so that their
 * default prefetch queues jobs ahead in their pools), and the short jobs
 * are of 1 ms. */
static int64_t long_then_short(const char *tag, const char *const *extra, int n, int warm)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup(tag);
    const char *args[9] = {"-v", "run-worker", "--application-path", app_dir, "--queue", queue_name};
    for (int i = 0; i < 2 && extra[i]; i++) args[6 + i] = extra[i];
    const char *const *a = warm > 0 ? args : args + 1;
    pid_t w1 = weft_spawn_logged("worker-1.log", a), w2 = weft_spawn_logged("worker-2.log", a);
    weft_config *cfg = cfg_load();
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err);
    ASSERT_OK(weft_orchestrator_start(o, err), err);
    sleep_ms(1500); /* both workers consuming */
    const char *short_scen = warm > 0 ? "one_ms" : "ten_ms", *short_task = warm > 0 ? "one" : "tiny";
    char **warmed = calloc((size_t)warm + 1, sizeof *warmed);
    for (int i = 0; i < warm; i++) warmed[i] = submit_one(o, short_scen);
    for (int i = 0; i < warm; i++) {
        expect_submission(o, warmed[i], WEFT_SUBMISSION_COMPLETED, 1);
        free(warmed[i]);
    }
    free(warmed);
    char *lsub = submit_one(o, "ten_seconds");
    weft_job_info *lj = NULL;
    for (int i = 0; i < 200 && !(lj && lj->status == WEFT_JOB_RUNNING); i++) {
        weft_job_info_free(lj);
        sleep_ms(25);
        lj = job_of_task(o, lsub, "tens");
    }
    ASSERT(lj && lj->status == WEFT_JOB_RUNNING);
    weft_job_info_free(lj);
    char **subs = calloc((size_t)n, sizeof *subs);
    for (int i = 0; i < n; i++) subs[i] = submit_one(o, short_scen);
    int64_t worst = 0;
    for (int i = 0; i < n; i++) {
        expect_submission(o, subs[i], WEFT_SUBMISSION_COMPLETED, 1);
        weft_job_info *j = job_of_task(o, subs[i], short_task);
        ASSERT(j != NULL);
        int64_t took = j->status_time_us[WEFT_JOB_COMPLETED] - j->status_time_us[WEFT_JOB_SUBMITTED];
        if (took > worst) worst = took;
        weft_job_info_free(j);
        free(subs[i]);
    }
    free(subs);
    printf("    worst of %d short jobs: %.3f s from submission to COMPLETED\n", n,
           (double)worst / 1e6);
    expect_submission(o, lsub, WEFT_SUBMISSION_COMPLETED, 1);
    free(lsub);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
    ASSERT_EQ(worker_stop(w1), 0);
    ASSERT_EQ(worker_stop(w2), 0);
    cleanup_queues();
    return worst;
}

/* A job shorter than WEFT__RUNNING_AFTER_MS sends its result alone, with
 * how long it ran: its RUNNING is dated that long before its end, so its
 * stored duration is the 5 ms it slept, not 0. */
TEST(a_short_job_keeps_its_run_time_without_a_running_message)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("short-run");
    const char *args[] = {"run-worker", "--application-path", app_dir, "--queue", queue_name, NULL};
    pid_t w1 = weft_spawn_logged("worker-1.log", args);
    weft_config *cfg = cfg_load();
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err);
    ASSERT_OK(weft_orchestrator_start(o, err), err);
    for (int i = 0; i < 5; i++) {
        char *sub = submit_one(o, "five_ms");
        expect_submission(o, sub, WEFT_SUBMISSION_COMPLETED, 1);
        weft_job_info *j = job_of_task(o, sub, "five");
        ASSERT(j != NULL);
        const int64_t *t = j->status_time_us;
        printf("    PENDING -> RUNNING %lld us, RUNNING -> COMPLETED %lld us\n",
               (long long)(t[WEFT_JOB_RUNNING] - t[WEFT_JOB_PENDING]),
               (long long)(t[WEFT_JOB_COMPLETED] - t[WEFT_JOB_RUNNING]));
        ASSERT(t[WEFT_JOB_RUNNING] >= t[WEFT_JOB_PENDING]);
        ASSERT(t[WEFT_JOB_COMPLETED] - t[WEFT_JOB_RUNNING] >= 4000);
        weft_job_info_free(j);
        free(sub);
    }
    weft_orchestrator_close(o);
    weft_config_free(cfg);
    ASSERT_EQ(worker_stop(w1), 0);
    cleanup_queues();
}

/* At default settings (no --concurrency, no --prefetch), a long job does
 * not hold short ones behind it while another worker is idle: one job of
 * 10 s, then 200 of 10 ms on 2 workers; each short one finishes within
 * 2 s of its submission. */
TEST(short_jobs_never_wait_behind_a_long_one_at_default_settings)
{
    const char *none[] = {NULL};
    ASSERT_LT(long_then_short("fair", none, 200, 0), 2000000);
}

/* The hand-back itself: with one slot per worker, the job that the long
 * job's worker took ahead (default prefetch 2) goes back to the queue
 * after 200 ms and runs on the other worker, instead of waiting 10 s. */
TEST(job_held_behind_a_long_one_goes_back_to_the_queue)
{
    const char *one[] = {"--concurrency", "1", NULL};
    ASSERT_LT(long_then_short("handback", one, 50, 0), 2000000);
}

/* With short jobs, the default prefetch also queues jobs in the pool behind
 * the running one (two per slot), where a worker reads the next job without
 * waiting for the service.  Those behind the long job are taken back from
 * the pool after 200 ms and run on the other worker, instead of waiting
 * 10 s; the long job's worker logs that it handed them back. */
TEST(jobs_queued_in_the_pool_behind_a_long_one_go_back_to_the_queue)
{
    const char *one[] = {"--concurrency", "1", NULL};
    ASSERT_LT(long_then_short("ahead", one, 50, 200), 2000000);
    char *l1 = test_read_file("worker-1.log", NULL), *l2 = test_read_file("worker-2.log", NULL);
    ASSERT(l1 && l2);
    ASSERT(strstr(l1, "unstarted in the pool") || strstr(l2, "unstarted in the pool"));
    free(l1);
    free(l2);
}

/* A worker SIGKILLed mid-job: the job runs again elsewhere, and the API
 * (and `weft show`) says it was attempt 2. */
TEST(killed_worker_job_shows_attempt_2_through_the_api)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("attempt");
    pid_t w1 = worker_start(1, 1);
    weft_config *cfg = cfg_load();
    weft_orchestrator *o = NULL;
    char *scen = NULL, *sub = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err);
    ASSERT_OK(weft_orchestrator_start(o, err), err);
    ASSERT_OK(weft_scenario_create(o, "one_slow", &scen, err), err);
    ASSERT_OK(weft_submit(o, scen, NULL, &sub, err), err);
    weft_job_info *j = NULL;
    for (int i = 0; i < 200; i++) {
        weft_job_info_free(j);
        j = job_of_task(o, sub, "slow");
        if (j->status == WEFT_JOB_RUNNING) break;
        sleep_ms(100);
    }
    ASSERT_EQ(j->status, WEFT_JOB_RUNNING);
    ASSERT_EQ(j->attempt, 1);
    char w1name[64];
    snprintf(w1name, sizeof w1name, ":%d", (int)w1);
    ASSERT_CONTAINS(j->worker, w1name);
    kill(w1, SIGKILL);
    waitpid(w1, NULL, 0);
    pid_t w2 = worker_start(1, 2);
    ASSERT_OK(weft_submission_wait(o, sub, 60000, err), err);
    weft_job_info_free(j);
    j = job_of_task(o, sub, "slow");
    ASSERT_EQ(j->status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(j->attempt, 2);
    char w2name[64];
    snprintf(w2name, sizeof w2name, ":%d", (int)w2);
    ASSERT_CONTAINS(j->worker, w2name);
    ASSERT_EQ(times_in_history(j->id, WEFT_JOB_COMPLETED), 1);
    weft_orchestrator_close(o);
    /* `weft show` reads the same store. */
    char *cmd = NULL, *out = NULL;
    if (asprintf(&cmd, "%s/weft show -c config.toml %s", test_build_dir(), j->id) < 0) FAIL("oom");
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "attempt     2\n");
    free(out);
    free(cmd);
    weft_job_info_free(j);
    free(scen);
    free(sub);
    weft_config_free(cfg);
    ASSERT_EQ(worker_stop(w2), 0);
    cleanup_queues();
}

/* `weft workers` lists two run-worker processes by host:pid. */
TEST(weft_workers_lists_both_workers)
{
    app_setup("wlist");
    pid_t w[2] = {worker_start(1, 1), worker_start(2, 2)};
    char *cmd = NULL, *out = NULL;
    if (asprintf(&cmd, "%s/weft workers -c config.toml --wait 4", test_build_dir()) < 0)
        FAIL("oom");
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    char host[256], name[300];
    if (gethostname(host, sizeof host) != 0) FAIL("gethostname");
    host[sizeof host - 1] = '\0';
    ASSERT_CONTAINS(out, "WORKER");
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s:%d ", host, (int)w[i]);
        ASSERT_CONTAINS(out, name);
    }
    ASSERT_CONTAINS(out, " up ");
    free(out);
    free(cmd);
    for (int i = 0; i < 2; i++) ASSERT_EQ(worker_stop(w[i]), 0);
    cleanup_queues();
}

/* GET / from a loopback port: the whole answer. */
static char *http_get(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) FAIL("connect :%d", port);
    const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
    if (write(s, req, strlen(req)) != (ssize_t)strlen(req)) FAIL("write");
    size_t cap = 65536, len = 0;
    char *buf = calloc(1, cap);
    ssize_t r;
    while (len < cap - 1 && (r = read(s, buf + len, cap - 1 - len)) > 0) len += (size_t)r;
    close(s);
    return buf;
}

/* The value of Prometheus sample `name{labels...}` in `text`, -1 if absent. */
static double prom_value(const char *text, const char *name)
{
    for (const char *p = text; (p = strstr(p, name)); p++)
        if ((p == text || p[-1] == '\n') && p[strlen(name)] == '{') {
            const char *v = strchr(p, '}');
            return v ? strtod(v + 1, NULL) : -1;
        }
    return -1;
}

/* Publishes `nlong` longslow jobs (20 s), then `nnoop` noop ones. */
static void publish_long_then_noop(int nlong, int nnoop)
{
    weft__amqp *c = client();
    weft__job_spec s;
    char id[64];
    for (int i = 0; i < nlong + nnoop; i++) {
        const char *task = i < nlong ? "longslow" : "noop";
        snprintf(id, sizeof id, "JOB_%s_%d", task, i);
        spec_make(&s, id, task, NULL, "out");
        publish_job(c, &s, 1);
        weft__job_spec_release(&s);
    }
    weft__amqp_close(c);
}

/* A worker of 2 slots serving --metrics on a free port (in *port), with
 * `prefetch` (NULL: its default). */
static pid_t metrics_worker(const char *prefetch, int *port)
{
    int ls = broker_silent_listener(port);
    close(ls); /* a free port, for the worker's listener */
    char mport[32];
    snprintf(mport, sizeof mport, "127.0.0.1:%d", *port);
    const char *args[] = {"run-worker", "--application-path", app_dir, "--queue", queue_name,
                          "--concurrency", "2", "--metrics", mport, "--prefetch", prefetch, NULL};
    if (!prefetch) args[9] = NULL;
    return weft_spawn_logged("worker-1.log", args);
}

/* `weft workers --json` as a JSON object, and at the same time the table
 * in workers.txt: each listens 4 s, long enough for a heartbeat sent after
 * the call. */
static json_t *workers_json(void)
{
    char *cmd = NULL, *out = NULL;
    if (asprintf(&cmd, "%s/weft workers -c config.toml --wait 4 >workers.txt 2>&1 & "
                 "%s/weft workers -c config.toml --wait 4 --json; rc=$?; wait $! || exit 9; "
                 "exit $rc", test_build_dir(), test_build_dir()) < 0)
        FAIL("oom");
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    if (!o) FAIL("not JSON (%s): %s", je.text, out);
    free(out);
    free(cmd);
    return o;
}

/* The queue's counts from `weft workers --json` (the ready and consumers
 * of a passive declare, the unacked of the worker's heartbeat), the
 * worker's --metrics and the broker agree, in a steady state the broker
 * reached before: `want`, which it still reports after.  Returns the JSON
 * (caller frees), for more checks. */
static json_t *assert_counts_agree(pid_t w, int port, qcounts want)
{
    await_broker_counts(queue_name, want);
    json_t *o = workers_json();
    char *prom = http_get(port);
    qcounts q = broker_counts(queue_name);
    ASSERT_EQ(q.ready, want.ready);
    ASSERT_EQ(q.unacked, want.unacked);
    ASSERT_EQ(q.consumers, want.consumers);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "queue")), queue_name);
    ASSERT_EQ(json_integer_value(json_object_get(o, "ready")), q.ready);
    ASSERT(json_is_integer(json_object_get(o, "unacked")));
    ASSERT_EQ(json_integer_value(json_object_get(o, "unacked")), q.unacked);
    ASSERT_EQ(json_integer_value(json_object_get(o, "consumers")), q.consumers);
    json_t *ws = json_object_get(o, "workers");
    ASSERT_EQ(json_array_size(ws), 1);
    json_t *w0 = json_array_get(ws, 0);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "pid")), w);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "unacked")), q.unacked);
    ASSERT_CONTAINS(prom, "HTTP/1.0 200 OK");
    ASSERT_EQ((long)prom_value(prom, "weft_queue_messages_ready"), q.ready);
    ASSERT_EQ((long)prom_value(prom, "weft_worker_unacked"), q.unacked);
    ASSERT_EQ((long)prom_value(prom, "weft_queue_consumers"), q.consumers);
    free(prom);
    char *table = test_read_file("workers.txt", NULL), line[256];
    ASSERT_CONTAINS(table, " UNACKED ");
    snprintf(line, sizeof line, "queue %s: %ld unacked", queue_name, q.unacked);
    ASSERT_CONTAINS(table, line);
    free(table);
    return o;
}

/* `weft workers --json` and the worker's --metrics (Prometheus text)
 * report the queue as the broker does, and the worker's load from its
 * heartbeat: 2 jobs of 20 s on a worker of 2 slots, 6 more waiting (the 2
 * it took ahead are handed back, and it stops consuming). */
TEST(weft_workers_json_agrees_with_the_broker)
{
    app_setup("wjson");
    publish_long_then_noop(2, 6);
    int port = 0;
    pid_t w = metrics_worker(NULL, &port);
    json_t *o = assert_counts_agree(w, port, (qcounts){.ready = 6, .unacked = 2, .consumers = 0});
    json_t *w0 = json_array_get(json_object_get(o, "workers"), 0);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "size")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "busy")), 2);
    ASSERT_GE(json_integer_value(json_object_get(w0, "jobs_started")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "jobs_finished")), 0);
    ASSERT(json_real_value(json_object_get(w0, "started_per_s")) > 0);
    ASSERT(json_real_value(json_object_get(o, "started_per_s")) > 0);
    int64_t age = weft__now_us() - json_integer_value(json_object_get(w0, "last_heartbeat_us"));
    ASSERT_LT(age, 10000000);
    char *prom = http_get(port);
    ASSERT_EQ((long)prom_value(prom, "weft_worker_size"), 2);
    ASSERT_EQ((long)prom_value(prom, "weft_worker_busy_slots"), 2);
    ASSERT_EQ((long)prom_value(prom, "weft_worker_jobs_started_total"),
              (long)json_integer_value(json_object_get(w0, "jobs_started")));
    ASSERT_EQ((long)prom_value(prom, "weft_worker_jobs_finished_total"), 0);
    ASSERT(prom_value(prom, "weft_worker_jobs_started_per_second") > 0);
    free(prom);
    json_decref(o);
    kill(w, SIGKILL); /* its jobs run 20 s: no drain */
    waitpid(w, NULL, 0);
    cleanup_queues();
}

/* With an explicit prefetch the jobs beyond the slots wait in the pool,
 * unacknowledged too: 4 taken by a worker of 2 slots, 2 left ready. */
TEST(unacked_counts_jobs_waiting_for_a_slot)
{
    app_setup("wunacked");
    publish_long_then_noop(3, 3);
    int port = 0;
    pid_t w = metrics_worker("4", &port);
    json_t *o = assert_counts_agree(w, port, (qcounts){.ready = 2, .unacked = 4, .consumers = 1});
    json_t *w0 = json_array_get(json_object_get(o, "workers"), 0);
    ASSERT_EQ(json_integer_value(json_object_get(w0, "busy")), 2);
    json_decref(o);
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    cleanup_queues();
}

/* `weft run --mode cluster` with a broker that cannot be used: exit 2 at
 * once, one line saying why. */
TEST(weft_run_bad_broker_exits_2)
{
    app_setup("badrun");
    const char *good = broker_url();
    const char *port = strrchr(good, ':');
    char bad[2][512];
    snprintf(bad[0], sizeof bad[0], "amqp://guest:guest@127.0.0.1:1/%%2f");
    snprintf(bad[1], sizeof bad[1], "amqp://guest:wrong@127.0.0.1%s", port);
    const char *why[2] = {"cannot connect to broker 127.0.0.1:1", "broker refused login"};
    /* The config names the broker through the environment here. */
    char *cfg = test_read_file("config.toml", NULL);
    char *p = strstr(cfg, good);
    ASSERT(p != NULL);
    char *fixed = NULL;
    if (asprintf(&fixed, "%.*sENV[WEFT_BROKER_URL]%s", (int)(p - cfg), cfg, p + strlen(good)) < 0)
        FAIL("oom");
    test_write_file("config.toml", fixed);
    free(fixed);
    free(cfg);
    for (int i = 0; i < 2; i++) {
        char *cmd = NULL, *out = NULL;
        if (asprintf(&cmd, "WEFT_BROKER_URL='%s' %s/weft run -c config.toml -s chain --mode cluster",
                     bad[i], test_build_dir()) < 0)
            FAIL("oom");
        int64_t t0 = weft__mono_ns();
        ASSERT_EQ(test_run_cmd(cmd, &out), 2);
        ASSERT_LT(weft__mono_ns() - t0, 15000000000LL);
        ASSERT_CONTAINS(out, why[i]);
        ASSERT_NOT_CONTAINS(out, "wrong");
        size_t lines = 0;
        for (const char *c = out; *c; c++) lines += *c == '\n';
        if (lines != 1) FAIL("expected one line, got:\n%s", out);
        free(out);
        free(cmd);
    }
    cleanup_queues();
}

static int broker_ctl(const char *cmd)
{
    const char *dir = getenv("WEFT_TEST_BROKER_DIR");
    if (!dir || !*dir) FAIL("WEFT_TEST_BROKER_DIR is not set (needed to restart the broker)");
    char *c;
    if (asprintf(&c, "%s/scripts/broker %s '%s' >/dev/null", test_src_dir(), cmd, dir) < 0)
        FAIL("oom");
    int rc = system(c);
    free(c);
    return rc;
}

/* What the library logs, for tests that check it reaches the embedder. */
static pthread_mutex_t logged_mu = PTHREAD_MUTEX_INITIALIZER;
static char logged[65536];

static void capture_log(weft_log_level level, const char *component, const char *message,
                        void *userdata)
{
    (void)userdata;
    pthread_mutex_lock(&logged_mu);
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s %s: %s\n", weft_log_level_name(level), component,
             message);
    pthread_mutex_unlock(&logged_mu);
}

TEST(broker_restart_loses_nothing)
{
    app_setup("restart");
    /* The executor has no handler of its own: the library-wide one hears it. */
    weft_log_set_handler(capture_log, NULL, WEFT_LOG_INFO);
    pid_t w[2] = {worker_start(2, 1), worker_start(2, 2)};
    exec_run r;
    exec_open(&r, broker_url());
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        char id[64];
        const char *task = i % 10 == 0 ? "slow" : "noop";
        snprintf(id, sizeof id, "JOB_%s_%d", task, i);
        weft__job_spec s;
        spec_make(&s, id, task, NULL, "out");
        dispatch(&r, &s);
        weft__job_spec_release(&s);
        if (i == N / 3) {
            drain(&r, 200);
            ASSERT_EQ(broker_ctl("restart"), 0);
        }
    }
    ASSERT_EQ(drain(&r, 120000), N);
    for (size_t i = 0; i < r.n; i++) {
        ASSERT_EQ(r.seen[i].finished, 1);
        if (r.seen[i].status != WEFT_JOB_COMPLETED)
            FAIL("%s: %s (%s)", r.ids[i], weft_job_status_name(r.seen[i].status),
                 r.seen[i].error ? r.seen[i].error : "");
    }
    exec_close(&r);
    for (int i = 0; i < 2; i++) ASSERT_EQ(worker_stop(w[i]), 0);
    pthread_mutex_lock(&logged_mu);
    ASSERT_CONTAINS(logged, "warn cluster: ");
    ASSERT_CONTAINS(logged, "; reconnecting");
    ASSERT_CONTAINS(logged, "info cluster: reconnected to broker amqp://guest:***@");
    ASSERT_NOT_CONTAINS(logged, "guest:guest");
    pthread_mutex_unlock(&logged_mu);
    weft_log_set_handler(NULL, NULL, WEFT_LOG_ERROR);
    /* The worker services said it too, through `weft run-worker`'s handler. */
    char *log = test_read_file("worker-1.log", NULL);
    ASSERT_CONTAINS(log, "worker: reconnected to broker amqp://guest:***@");
    free(log);
    cleanup_queues();
}

/* A figure more than a test: no-op jobs per second end to end (dispatch,
 * persistent publish with confirms, 2 workers prefetching 100 jobs each,
 * status back). */
TEST(throughput_noop_jobs_2_workers)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("tput");
    pid_t w[2] = {worker_start_prefetch(1, 100, 1), worker_start_prefetch(1, 100, 2)};
    exec_run r;
    exec_open(&r, broker_url());
    ASSERT_OK(r.ex->ops->start(r.ex, err), err);
    sleep_ms(500); /* workers connected */
    enum { N = 2000 };
    int64_t t0 = weft__mono_ns();
    for (int i = 0; i < N; i++) {
        char id[64];
        snprintf(id, sizeof id, "JOB_empty_%d", i);
        weft__job_spec s;
        spec_make(&s, id, "empty", NULL, NULL);
        dispatch(&r, &s);
        weft__job_spec_release(&s);
    }
    ASSERT_EQ(drain(&r, 120000), N);
    double dt = (weft__mono_ns() - t0) / 1e9;
    printf("    %d no-op jobs with 2 workers in %.2f s: %.0f jobs/s\n", N, dt, N / dt);
    for (size_t i = 0; i < r.n; i++)
        if (r.seen[i].status != WEFT_JOB_COMPLETED)
            FAIL("%s: %s (%s)", r.ids[i], weft_job_status_name(r.seen[i].status),
                 r.seen[i].error ? r.seen[i].error : "");
    exec_close(&r);
    for (int i = 0; i < 2; i++) ASSERT_EQ(worker_stop(w[i]), 0);
    cleanup_queues();
}

TEST_MAIN(TEST_ENTRY(messages_round_trip),
          TEST_ENTRY(a_short_job_keeps_its_run_time_without_a_running_message),
          TEST_ENTRY_TIMEOUT(worker_runs_a_job_and_reports, 60),
          TEST_ENTRY_TIMEOUT(unknown_task_and_malformed_messages, 60),
          TEST_ENTRY_TIMEOUT(killed_worker_job_completes_once_on_another_with_attempt_2, 90),
          TEST_ENTRY_TIMEOUT(job_that_kills_its_worker_fails_after_max_attempts, 120),
          TEST_ENTRY_TIMEOUT(sigterm_drains_running_jobs, 60),
          TEST_ENTRY(executor_start_fails_fast_on_a_bad_broker),
          TEST_ENTRY_TIMEOUT(pipeline_with_2_workers_matches_development, 120),
          TEST_ENTRY_TIMEOUT(pipeline_with_3_workers_matches_development, 120),
          TEST_ENTRY_TIMEOUT(jobs_wait_for_a_worker, 60),
          TEST_ENTRY_TIMEOUT(duplicate_status_messages_change_nothing, 60),
          TEST_ENTRY_TIMEOUT(cancel_queued_job_never_runs_and_running_job_stops_within_1s, 90),
          TEST_ENTRY_TIMEOUT(status_acked_only_after_commit, 90),
          TEST_ENTRY_TIMEOUT(orchestrator_restart_resumes, 120),
          TEST_ENTRY_TIMEOUT(killed_worker_job_shows_attempt_2_through_the_api, 120),
          TEST_ENTRY_TIMEOUT(two_orchestrators_share_a_queue_without_cross_talk, 180),
          TEST_ENTRY_TIMEOUT(short_jobs_never_wait_behind_a_long_one_at_default_settings, 180),
          TEST_ENTRY_TIMEOUT(job_held_behind_a_long_one_goes_back_to_the_queue, 180),
          TEST_ENTRY_TIMEOUT(jobs_queued_in_the_pool_behind_a_long_one_go_back_to_the_queue, 180),
          TEST_ENTRY_TIMEOUT(weft_workers_lists_both_workers, 60),
          TEST_ENTRY_TIMEOUT(weft_workers_json_agrees_with_the_broker, 90),
          TEST_ENTRY_TIMEOUT(unacked_counts_jobs_waiting_for_a_slot, 90),
          TEST_ENTRY_TIMEOUT(weft_run_bad_broker_exits_2, 60),
          TEST_ENTRY_TIMEOUT(broker_restart_loses_nothing, 240),
          TEST_ENTRY_TIMEOUT(throughput_noop_jobs_2_workers, 180))
