/* SPDX-License-Identifier: MIT */
/*
 * test_autoscale.c - `weft run-worker --autoscale MAX,MIN` against the
 * test broker (WEFT_TEST_BROKER_URL): with a queue of short jobs, the
 * worker grows to MAX job processes within seconds, and back to MIN once
 * the queue is empty and the idle time (10 s by default) passed.  The job processes are counted from
 * /proc: the children of the worker's fork server.
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"

#include "broker.h"
#include "cluster/amqp_client.h"
#include "cluster/exec_cluster.h"
#include "cluster/protocol.h"
#include "cluster/trust.h"
#include "job/runner.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NJOBS 200

static char queue_name[128], status_name[160];

static void cleanup_queues(void) { broker_cleanup(queue_name); }

static void app_setup(void)
{
    snprintf(queue_name, sizeof queue_name, "weft.test.autoscale.%d", (int)getpid());
    snprintf(status_name, sizeof status_name, "%s.status", queue_name);
    char *cfg;
    if (asprintf(&cfg,
                 "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\nqueue = \"%s\"\n"
                 "[TASK.nap]\nfunction = \"weft.sleep:function\"\nduration = \"0.5\"\n",
                 broker_url(), queue_name) < 0)
        FAIL("oom");
    test_write_file("config.toml", cfg);
    free(cfg);
}

/* Queues NJOBS jobs of TASK.nap, their statuses to status_name. */
static void publish_naps(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    char digest[WEFT__DIGEST_HEX + 1];
    ASSERT_OK(weft__task_digest(cfg, "nap", digest, err), err);
    weft_config_free(cfg);
    weft__amqp_opts o = {.url = broker_url(), .confirms = true, .name = "test_autoscale"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    ASSERT_OK(weft__cluster_declare(c, queue_name, err), err);
    weft__amqp_queue_opts q = {.durable = true};
    ASSERT_OK(weft__amqp_declare_queue(c, status_name, &q, NULL, err), err);
    for (int i = 0; i < NJOBS; i++) {
        char id[64];
        snprintf(id, sizeof id, "JOB_nap_%d", i);
        weft__job_spec s = WEFT__JOB_SPEC_INIT;
        s.job_id = id;
        s.task_id = (char *)"TASK_nap_x";
        s.task_config_id = (char *)"nap";
        s.attempt = 1;
        char *m = NULL;
        size_t len = 0;
        ASSERT_OK(weft__cluster_job_encode(&s, digest, 1, 3, status_name, &m, &len, err), err);
        ASSERT_OK(weft__amqp_publish_wait(c, "", queue_name, m, len, true, 0, err), err);
        free(m);
    }
    weft__amqp_close(c);
}

/* The parent pid of `pid` from /proc, 0 when it is gone. */
static pid_t ppid_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    int ppid = 0;
    char st;
    if (!p || sscanf(p + 1, " %c %d", &st, &ppid) != 2 || st == 'Z') return 0;
    return (pid_t)ppid;
}

/* Live children of `parent`: the first into *first. */
static int children(pid_t parent, pid_t *first)
{
    DIR *d = opendir("/proc");
    ASSERT(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0 || ppid_of(pid) != parent) continue;
        if (!n++ && first) *first = pid;
    }
    closedir(d);
    return n;
}

/* The worker's job processes: the children of its fork server. */
static int job_processes(pid_t worker)
{
    pid_t fs = 0;
    if (children(worker, &fs) != 1) return -1;
    return children(fs, NULL);
}

/* Waits up to `ms` for `want` job processes; the last count seen. */
static int wait_processes(pid_t worker, int want, int ms)
{
    int n = -1;
    for (int64_t end = weft__mono_ns() + (int64_t)ms * 1000000; weft__mono_ns() < end;) {
        if ((n = job_processes(worker)) == want) return n;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    return n;
}

/* Reads the status queue: every job reported COMPLETED, none otherwise. */
static void expect_all_completed(void)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__amqp_opts o = {.url = broker_url(), .name = "test_autoscale"};
    weft__amqp *c = NULL;
    ASSERT_OK(weft__amqp_open(&o, &c, err), err);
    ASSERT_OK(weft__amqp_consume(c, status_name, false, NULL, err), err);
    static bool done[NJOBS];
    int ndone = 0;
    while (ndone < NJOBS) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, 5000, &ev, err);
        if (e == WEFT_ETIMEDOUT) FAIL("%d of %d jobs reported COMPLETED", ndone, NJOBS);
        ASSERT_OK(e, err);
        if (ev.kind == WEFT__AMQP_DELIVERY) {
            weft__cluster_status st = WEFT__CLUSTER_STATUS_INIT;
            ASSERT_OK(weft__cluster_status_decode(ev.body, ev.len, &st, err), err);
            int k = -1;
            ASSERT_EQ(sscanf(st.job_id, "JOB_nap_%d", &k), 1);
            ASSERT(k >= 0 && k < NJOBS);
            if (st.status != WEFT_JOB_RUNNING) {
                if (st.status != WEFT_JOB_COMPLETED)
                    FAIL("%s: %s (%s)", st.job_id, weft_job_status_name(st.status),
                         st.result.error ? st.result.error : "");
                ndone += !done[k];
                done[k] = true;
            }
            ASSERT_OK(weft__amqp_ack(c, ev.tag, err), err);
            weft__cluster_status_release(&st);
        }
        weft__amqp_event_release(&ev);
    }
    weft__amqp_close(c);
}

TEST(autoscale_grows_to_max_under_load_and_shrinks_to_min_when_idle)
{
    app_setup();
    atexit(cleanup_queues);
    char dir[4096];
    if (!getcwd(dir, sizeof dir)) FAIL("getcwd");
    const char *args[] = {"run-worker", "--application-path", dir, "--queue", queue_name,
                          "--autoscale", "4,1", NULL};
    pid_t w = weft_spawn_logged("worker.log", args);
    ASSERT_EQ(wait_processes(w, 1, 5000), 1); /* starts at MIN */
    sleep(1);
    ASSERT_EQ(job_processes(w), 1); /* and stays there while idle */
    int64_t t0 = weft__mono_ns();
    publish_naps(); /* the queue fills faster than one process can run */
    ASSERT_EQ(wait_processes(w, 4, 5000), 4); /* 4 busy: 196 jobs still wait */
    double grow_s = (double)(weft__mono_ns() - t0) / 1e9;
    fprintf(stderr, "4 job processes after %.2f s\n", grow_s);
    ASSERT(grow_s < 5);
    char *log = test_read_file("worker.log", NULL);
    ASSERT_CONTAINS(log, "-> 4 job processes");
    free(log);
    /* The heartbeat says so: size 4, all busy.  A heartbeat is a snapshot,
     * and a slot may be between two jobs at that instant (more so under a
     * sanitizer): the size must be 4 in each, all 4 busy in one of three. */
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_workers_opts lo = {.broker_url = broker_url(), .queue = queue_name, .wait_ms = 3500};
    int busy = 0;
    for (int tries = 0; tries < 3 && busy != 4; tries++) {
        weft_worker_info *ws = NULL;
        size_t nws = 0;
        ASSERT_OK(weft_workers_list(&lo, &ws, &nws, err), err);
        ASSERT_EQ(nws, 1);
        ASSERT_EQ(ws[0].pid, (int)w);
        ASSERT_EQ(ws[0].concurrency, 4);
        busy = ws[0].busy;
        weft_worker_list_free(ws, nws);
    }
    ASSERT_EQ(busy, 4);
    /* Never past MAX while the queue drains (about 25 s at 4 x 2/s). */
    int64_t end = weft__mono_ns() + 40LL * 1000000000;
    int n = 4;
    while (weft__mono_ns() < end) {
        n = job_processes(w);
        ASSERT_LE(n, 4);
        if (n == 1) break;
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(n, 1); /* back to MIN after the idle time */
    log = test_read_file("worker.log", NULL);
    ASSERT_CONTAINS(log, "-> 1 job processes");
    free(log);
    ASSERT_EQ(worker_stop(w), 0);
    expect_all_completed(); /* resizing lost none */
}

TEST(autoscale_with_concurrency_is_a_usage_error)
{
    app_setup();
    char dir[4096];
    if (!getcwd(dir, sizeof dir)) FAIL("getcwd");
    const char *args[] = {"run-worker", "--application-path", dir, "--autoscale", "4,1",
                          "--concurrency", "2", NULL};
    pid_t w = weft_spawn_logged("worker.log", args);
    int st = 0;
    ASSERT_EQ(waitpid(w, &st, 0), w);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 2);
    char *log = test_read_file("worker.log", NULL);
    ASSERT_CONTAINS(log, "not with --concurrency");
    free(log);
}

TEST_MAIN(TEST_ENTRY_TIMEOUT(autoscale_grows_to_max_under_load_and_shrinks_to_min_when_idle, 120),
          TEST_ENTRY_TIMEOUT(autoscale_with_concurrency_is_a_usage_error, 30))
