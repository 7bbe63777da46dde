/* SPDX-License-Identifier: MIT */
/*
 * test_worker_api.c - a program that serves a cluster queue through the
 * public worker API (weft_worker_open/run/stop/close in weft.h), without
 * the `weft` command, against the test broker (WEFT_TEST_BROKER_URL).
 *
 * The task functions are this program's own, registered with
 * weft_register_function() before the service opens (its job processes
 * are forked from this process).  An orchestrator in cluster mode submits
 * a scenario; the service runs it, in a thread of this process (stopped
 * from another thread) or in a child process (stopped by SIGTERM, whose
 * handler calls weft_worker_stop()).  Also: what the service logs reaches
 * the embedder's handler and never stderr.
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"

#include "broker.h" /* the broker's URL, and deleting the test's queues */
#include "weft.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static char queue[128];

/* Housekeeping, not part of what is tested: the test's durable queues go. */
static void cleanup_queues(void) { broker_cleanup(queue); }


/* ---- the application: two functions of this program ---- */

static int api_seed(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    return weft_dn_write(weft_ctx_output(ctx, 0), "21", 2, err) != WEFT_OK;
}

static int api_twice(weft_ctx *ctx)
{
    char *data = NULL, err[WEFT_ERRBUF_SIZE], out[32];
    size_t len = 0;
    if (weft_dn_read(weft_ctx_input(ctx, 0), &data, &len, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "%s", err);
        return 1;
    }
    int n = snprintf(out, sizeof out, "%ld", 2 * strtol(data, NULL, 10));
    free(data);
    return weft_dn_write(weft_ctx_output(ctx, 0), out, (size_t)n, err) != WEFT_OK;
}

/* config.toml in the test's folder: seed -> twice, in cluster mode on our queue. */
static void app_setup(const char *tag)
{
    snprintf(queue, sizeof queue, "weft.test.api.%s.%d", tag, (int)getpid());
    char *cfg;
    if (asprintf(&cfg,
                 "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\nqueue = \"%s\"\n"
                 "[DATA_NODE.a]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.b]\nstorage_type = \"text\"\n"
                 "[TASK.seed]\nfunction = \"api.seed:function\"\noutputs = [\"a:SECTION\"]\n"
                 "[TASK.twice]\nfunction = \"api.twice:function\"\n"
                 "inputs = [\"a:SECTION\"]\noutputs = [\"b:SECTION\"]\n"
                 "[SCENARIO.chain]\ntasks = [\"seed:SECTION\", \"twice:SECTION\"]\n",
                 broker_url(), queue) < 0)
        FAIL("oom");
    test_write_file("config.toml", cfg);
    free(cfg);
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    ASSERT_OK(weft_register_function("api.seed", api_seed), err);
    ASSERT_OK(weft_register_function("api.twice", api_twice), err);
}

/* Submits the scenario with an orchestrator in cluster mode, waits, and
 * checks that every job COMPLETED on the worker named `worker`. */
static void submit_and_check(const char *worker)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_orchestrator *o = NULL;
    char *scen = NULL, *sub = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err);
    ASSERT_EQ(weft_orchestrator_mode(o), WEFT_MODE_CLUSTER);
    ASSERT_OK(weft_scenario_create(o, "chain", &scen, err), err);
    weft_submit_opts so = {.wait = true, .timeout_ms = 60000};
    ASSERT_OK(weft_submit(o, scen, &so, &sub, err), err);
    weft_job_filter f = {.submission_id = sub, .status = -1};
    weft_job_info **jobs = NULL;
    size_t n = 0;
    ASSERT_OK(weft_jobs_list(o, &f, &jobs, &n, err), err);
    ASSERT_EQ(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (jobs[i]->status != WEFT_JOB_COMPLETED)
            FAIL("%s: %s (%s)", jobs[i]->id, weft_job_status_name(jobs[i]->status),
                 jobs[i]->error ? jobs[i]->error : "");
        ASSERT_STR_EQ(jobs[i]->worker, worker);
    }
    weft_job_list_free(jobs, n);
    char *b = NULL;
    size_t len = 0;
    ASSERT_OK(weft_data_read(o, "b", &b, &len, err), err);
    ASSERT_STR_EQ(b, "42");
    free(b);
    free(scen);
    free(sub);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
}

static void *run_thread(void *arg)
{
    static weft_err e;
    static char err[WEFT_ERRBUF_SIZE];
    e = weft_worker_run(arg, err);
    return &e;
}

/* The service in a thread of this program, stopped from the main thread. */
TEST(worker_thread_serves_a_scenario)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("thread");
    char cwd[4096];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    /* Opened first: its fork server is forked while this process has one thread. */
    weft_worker_opts wo = {.application_path = cwd, .concurrency = 2};
    weft_worker *w = NULL;
    ASSERT_OK(weft_worker_open(&wo, &w, err), err);
    char host[256], name[300];
    ASSERT_EQ(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    snprintf(name, sizeof name, "%s:%d", host, (int)getpid());
    ASSERT_STR_EQ(weft_worker_name(w), name);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, run_thread, w), 0);
    submit_and_check(weft_worker_name(w));
    weft_worker_stop(w); /* thread-safe: drains and makes run() return */
    void *res = NULL;
    ASSERT_EQ(pthread_join(t, &res), 0);
    ASSERT_EQ(*(weft_err *)res, WEFT_OK);
    ASSERT_EQ(weft_worker_run(w, err), WEFT_ESTATE); /* once per handle */
    weft_worker_close(w);
    cleanup_queues();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A service asked for 1000 job processes (run-worker --concurrency 1000)
 * starts, serves and stops in bounded time: the pool's requests to its fork
 * server never block, so neither side waits on the other while the slots
 * fill (this deadlocked at start-up once). */
TEST(a_thousand_slots_serve_and_stop)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("wide");
    char cwd[4096];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    int64_t t0 = now_ms();
    weft_worker_opts wo = {.application_path = cwd, .concurrency = 1000};
    weft_worker *w = NULL;
    ASSERT_OK(weft_worker_open(&wo, &w, err), err);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, run_thread, w), 0);
    submit_and_check(weft_worker_name(w));
    weft_worker_stop(w);
    void *res = NULL;
    ASSERT_EQ(pthread_join(t, &res), 0);
    ASSERT_EQ(*(weft_err *)res, WEFT_OK);
    weft_worker_close(w);
    int64_t ms = now_ms() - t0;
    printf("    1000-slot service: open, two jobs, drain and close in %lld ms\n", (long long)ms);
    ASSERT_LT(ms, 60000);
    cleanup_queues();
}

static weft_worker *volatile child_worker;

static void on_term(int sig)
{
    (void)sig;
    if (child_worker) weft_worker_stop(child_worker);
}

/* The service in a child process, as a daemon would run it: SIGTERM drains. */
TEST(worker_process_drains_on_sigterm)
{
    app_setup("proc");
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        char err[WEFT_ERRBUF_SIZE] = "";
        weft_worker_opts wo = {.config_file = "config.toml", .application_path = "."};
        weft_worker *w = NULL;
        if (weft_worker_open(&wo, &w, err)) {
            fprintf(stderr, "child: %s\n", err);
            _exit(3);
        }
        child_worker = w;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        weft_err e = weft_worker_run(w, err);
        child_worker = NULL;
        weft_worker_close(w);
        _exit(e == WEFT_OK ? 0 : 4);
    }
    char host[256], name[300];
    ASSERT_EQ(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    snprintf(name, sizeof name, "%s:%d", host, (int)pid);
    submit_and_check(name);
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    cleanup_queues();
}

/* ---- logging ---- */

static pthread_mutex_t logged_mu = PTHREAD_MUTEX_INITIALIZER;
static char logged[16384];

static void capture_log(weft_log_level level, const char *component, const char *message,
                        void *userdata)
{
    pthread_mutex_lock(&logged_mu);
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s %s %s: %s\n", (const char *)userdata,
             weft_log_level_name(level), component, message);
    pthread_mutex_unlock(&logged_mu);
}

static void *stop_later(void *arg)
{
    sleep_ms(700);
    weft_worker_stop(arg);
    return NULL;
}

/* Runs a service on a broker that refuses connections for 0.7 s: it logs
 * that it retries, through `log` (NULL: the library-wide handler). */
static void serve_unreachable(weft_log_fn log, void *userdata)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_worker_opts wo = {.application_path = ".",
                           .broker_url = "amqp://guest:secret@127.0.0.1:1/%2f",
                           .log = log, .log_userdata = userdata, .log_level = WEFT_LOG_DEBUG};
    weft_worker *w = NULL;
    ASSERT_OK(weft_worker_open(&wo, &w, err), err);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, stop_later, w), 0);
    ASSERT_OK(weft_worker_run(w, err), err);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    weft_worker_close(w);
}

TEST(service_logs_through_handlers_never_stderr)
{
    app_setup("log");
    /* No handler anywhere: nothing is said, and nothing reaches fd 2. */
    fflush(stderr);
    int saved = dup(2);
    int fd = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    serve_unreachable(NULL, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t len = 1;
    char *text = test_read_file("stderr.txt", &len);
    if (len) FAIL("the library wrote to stderr:\n%s", text);
    free(text);

    /* The service's own handler hears it ... */
    serve_unreachable(capture_log, "own");
    /* ... and without one, the library-wide handler does. */
    weft_log_set_handler(capture_log, "global", WEFT_LOG_INFO);
    serve_unreachable(NULL, NULL);
    weft_log_set_handler(NULL, NULL, WEFT_LOG_ERROR);
    pthread_mutex_lock(&logged_mu);
    ASSERT_CONTAINS(logged, "own info worker: application ., broker amqp://guest:***@127.0.0.1:1");
    ASSERT_CONTAINS(logged, "own warn worker: cannot connect to broker 127.0.0.1:1: Connection "
                            "refused; retrying");
    ASSERT_CONTAINS(logged, "own info worker: draining");
    ASSERT_CONTAINS(logged, "global warn worker: cannot connect to broker 127.0.0.1:1");
    ASSERT_NOT_CONTAINS(logged, "secret");
    pthread_mutex_unlock(&logged_mu);
}

/* Options out of range fail at open, before anything starts. */
TEST(open_checks_its_options)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("opts");
    weft_worker *w = NULL;
    weft_worker_opts wo = {.application_path = ".", .concurrency = 1001};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    ASSERT_STR_EQ(err, "concurrency must be 1 to 1000, not 1001");
    ASSERT(w == NULL);
    wo = (weft_worker_opts){.application_path = ".", .prefetch = 70000};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "prefetch must be 1 to 65535");
    wo = (weft_worker_opts){.config_file = "missing.toml"};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EIO);
    ASSERT_CONTAINS(err, "missing.toml");
    ASSERT(w == NULL);
}

/* Autoscale bounds out of range, or with a concurrency or a prefetch
 * (which autoscale sets itself), fail at open. */
TEST(open_checks_its_autoscale_options)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("scaleopts");
    weft_worker *w = NULL;
    weft_worker_opts wo = {.application_path = ".", .autoscale_max = 4, .autoscale_min = 5};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    ASSERT_STR_EQ(err, "autoscale must be MAX,MIN with 1 <= MIN <= MAX <= 1000, not 4,5");
    wo = (weft_worker_opts){.application_path = ".", .autoscale_max = 1001};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    wo = (weft_worker_opts){.application_path = ".", .autoscale_max = 4, .concurrency = 2};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "leave them 0");
    wo = (weft_worker_opts){.application_path = ".", .autoscale_max = 4, .prefetch = 8};
    ASSERT_EQ(weft_worker_open(&wo, &w, err), WEFT_EINVAL);
    ASSERT(w == NULL);
}

/* weft_workers_list() hears a service serving the queue. */
TEST(workers_list_hears_a_service)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    app_setup("list");
    weft_worker_opts wo = {.application_path = ".", .concurrency = 3};
    weft_worker *w = NULL;
    ASSERT_OK(weft_worker_open(&wo, &w, err), err);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, run_thread, w), 0);
    weft_workers_opts lo = {.broker_url = broker_url(), .queue = queue, .wait_ms = 3500};
    weft_worker_info *ws = NULL;
    size_t n = 0;
    ASSERT_OK(weft_workers_list(&lo, &ws, &n, err), err);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(ws[0].name, weft_worker_name(w));
    ASSERT_EQ(ws[0].pid, (int)getpid());
    ASSERT_STR_EQ(ws[0].queue, queue);
    ASSERT_STR_EQ(ws[0].state, "up");
    ASSERT_EQ(ws[0].concurrency, 3);
    weft_worker_list_free(ws, n);
    weft_worker_stop(w);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    weft_worker_close(w);
    cleanup_queues();
}

TEST_MAIN(TEST_ENTRY(open_checks_its_autoscale_options),
          TEST_ENTRY_TIMEOUT(worker_thread_serves_a_scenario, 90),
          TEST_ENTRY_TIMEOUT(a_thousand_slots_serve_and_stop, 120),
          TEST_ENTRY_TIMEOUT(worker_process_drains_on_sigterm, 90),
          TEST_ENTRY_TIMEOUT(service_logs_through_handlers_never_stderr, 60),
          TEST_ENTRY(open_checks_its_options),
          TEST_ENTRY_TIMEOUT(workers_list_hears_a_service, 60))
