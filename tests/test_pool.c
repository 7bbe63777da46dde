/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c - the standalone worker pool and its worker processes,
 * driven directly (no orchestrator, no store): concurrency bound, reuse of
 * workers, crash isolation, cancel, timeouts, output capture, registered
 * functions, and workers dying with their orchestrator.
 */
#define _GNU_SOURCE
#include "test.h"

#include "standalone/pool.h"
#include "util/util.h"
#include "weft.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *config_text =
    "[TASK.noop]\nfunction = \"weft.noop:function\"\n"
    "[TASK.sleep1]\nfunction = \"weft.sleep:function\"\nduration = \"1\"\n"
    "[TASK.spin10ms]\nfunction = \"weft.spin:function\"\nduration = \"0.01\"\n"
    "[TASK.sleep30]\nfunction = \"weft.sleep:function\"\nduration = \"30\"\n"
    "[TASK.record]\nfunction = \"poolfns.record:function\"\nms = \"200\"\n"
    "[TASK.short]\nfunction = \"poolfns.record:function\"\nms = \"50\"\n"
    "[TASK.long]\nfunction = \"poolfns.record:function\"\nms = \"2000\"\n"
    "[TASK.kill_self]\nfunction = \"poolfns.kill_self:function\"\n"
    "[TASK.segfault]\nfunction = \"poolfns.segfault:function\"\n"
    "[TASK.exit3]\nfunction = \"poolfns.exit3:function\"\n"
    "[TASK.hello]\nfunction = \"poolfns.hello:function\"\n"
    "[TASK.stubborn]\nfunction = \"poolfns.stubborn:function\"\n"
    "[TASK.chatty]\nfunction = \"poolfns.chatty:function\"\n"
    "[TASK.flood]\nfunction = \"poolfns.flood:function\"\nmb = \"200\"\n"
    "[TASK.deaf_command]\ncommand = [\"sh\", \"-c\", \"trap '' TERM; echo $$ > \\\"$POOL_TEST_DIR/cmd.pid\\\"; exec sleep 30\"]\n"
    "[TASK.whoami]\nfunction = \"poolfns.whoami:function\"\n"
    "[TASK.heap_kept]\nfunction = \"poolfns.heap_kept:function\"\n"
    "[TASK.registered]\nfunction = \"test.registered:function\"\n";

static weft_config *cfg;
static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf;
static char apps[4096];

#define MAXJOBS 64

typedef struct outcome {
    char id[64];
    bool running, finished, withdrawn;
    pid_t pid;
    weft_job_status status;
    char *error, *log;
    int64_t start_ns, end_ns;
} outcome;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static outcome jobs[MAXJOBS];
static int njobs;
static long nfinished;
static int nrunning_reports_bad; /* a running report after finished, or twice */
/* How many jobs run now, and the integral of that count over time (ns),
 * from the pool's reports: busy_ns / elapsed is the mean concurrency. */
static int running_now;
static int64_t busy_ns, busy_last_ns;

static void busy_account(int delta) /* mu held */
{
    int64_t now = weft__mono_ns();
    if (busy_last_ns) busy_ns += running_now * (now - busy_last_ns);
    busy_last_ns = now;
    running_now += delta;
}

static void on_running(void *ud, void *job_ud, const char *id, pid_t pid)
{
    (void)ud;
    (void)id;
    intptr_t k = (intptr_t)job_ud;
    pthread_mutex_lock(&mu);
    busy_account(+1);
    if (k >= 0 && k < MAXJOBS) {
        if (jobs[k].running || jobs[k].finished) nrunning_reports_bad++;
        jobs[k].running = true;
        jobs[k].pid = pid;
        jobs[k].start_ns = weft__mono_ns();
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_finished(void *ud, void *job_ud, const char *id, weft__job_result *res)
{
    (void)ud;
    (void)id;
    intptr_t k = (intptr_t)job_ud;
    pthread_mutex_lock(&mu);
    nfinished++;
    busy_account(-1);
    if (k >= 0 && k < MAXJOBS) {
        jobs[k].finished = true;
        jobs[k].status = res->status;
        jobs[k].error = res->error;
        res->error = NULL;
        jobs[k].log = res->log_tail;
        res->log_tail = NULL;
        jobs[k].end_ns = weft__mono_ns();
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_withdrawn(void *ud, void *job_ud, const char *id)
{
    (void)ud;
    (void)id;
    intptr_t k = (intptr_t)job_ud;
    pthread_mutex_lock(&mu);
    if (k >= 0 && k < MAXJOBS) {
        if (jobs[k].running || jobs[k].finished || jobs[k].withdrawn) nrunning_reports_bad++;
        jobs[k].withdrawn = true;
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void setup(void)
{
    cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load_string(cfg, config_text, strlen(config_text), "pool.toml", err),
              err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    snprintf(apps, sizeof apps, "%s/tests/apps", test_build_dir());
}

static weft__pool *start_pool(int n)
{
    setup();
    weft__pool_opts o = {
        .cfg = cfg,
        .application_path = apps,
        .nworkers = n,
        .cbs = {.running = on_running, .finished = on_finished, .withdrawn = on_withdrawn},
    };
    weft__pool *p = NULL;
    ASSERT_OK(weft__pool_start(&o, &p, err), err);
    return p;
}

static void finish(weft__pool *p)
{
    weft__pool_free(p);
    for (int k = 0; k < njobs; k++) {
        free(jobs[k].error);
        free(jobs[k].log);
    }
    weft_config_free(cfg);
    ASSERT_EQ(nrunning_reports_bad, 0);
}

/* Submits a job of TASK.<task> (ids job0, job1, ...); returns its index. */
static int submit(weft__pool *p, const char *task, int64_t timeout_ms)
{
    pthread_mutex_lock(&mu);
    int k = njobs++;
    pthread_mutex_unlock(&mu);
    ASSERT(k < MAXJOBS);
    snprintf(jobs[k].id, sizeof jobs[k].id, "job%d_%s", k, task);
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    spec.job_id = jobs[k].id;
    spec.task_id = (char *)task;
    spec.task_config_id = (char *)task;
    spec.attempt = 1;
    spec.timeout_ms = timeout_ms;
    ASSERT_OK(weft__pool_submit(p, &spec, (void *)(intptr_t)k, err), err);
    return k;
}

static bool wait_for(bool (*cond)(void *), void *arg, int64_t timeout_ms)
{
    int64_t end = weft__mono_ns() + timeout_ms * 1000000;
    pthread_mutex_lock(&mu);
    bool ok;
    while (!(ok = cond(arg))) {
        int64_t now = weft__mono_ns();
        if (now >= end) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = end - now < 50000000 ? end - now : 50000000;
        ts.tv_nsec += (long)wait;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

static bool all_finished(void *arg)
{
    (void)arg;
    for (int k = 0; k < njobs; k++)
        if (!jobs[k].finished) return false;
    return true;
}

static bool is_finished(void *arg) { return jobs[(intptr_t)arg].finished; }
static bool is_withdrawn(void *arg) { return jobs[(intptr_t)arg].withdrawn; }
static bool is_running(void *arg) { return jobs[(intptr_t)arg].running; }

static void wait_all(int64_t timeout_ms)
{
    if (!wait_for(all_finished, NULL, timeout_ms)) FAIL("jobs did not finish in %lld ms", (long long)timeout_ms);
}

static void expect(int k, weft_job_status st, const char *error_part)
{
    if (jobs[k].status != st)
        FAIL("%s: status %s, expected %s (error: %s)", jobs[k].id, weft_job_status_name(jobs[k].status),
             weft_job_status_name(st), jobs[k].error ? jobs[k].error : "none");
    if (error_part) ASSERT_CONTAINS(jobs[k].error, error_part);
}

static double secs_since(int64_t t0) { return (double)(weft__mono_ns() - t0) / 1e9; }

/* Waits until the pool has `n` live workers again. */
static void wait_live(weft__pool *p, int n)
{
    for (int i = 0; i < 300 && weft__pool_live_workers(p) != n; i++) usleep(10000);
    ASSERT_EQ(weft__pool_live_workers(p), n);
}

/* ---- tests ------------------------------------------------------------- */

/* Reads records/ and returns the largest number of jobs that overlapped. */
static int max_overlap(int *count)
{
    DIR *d = opendir("records");
    ASSERT(d != NULL);
    long long ev[2 * MAXJOBS][2];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "records/%s", e->d_name);
        char *s = test_read_file(path, NULL);
        long long t0, t1;
        ASSERT_EQ(sscanf(s, "%lld %lld", &t0, &t1), 2);
        free(s);
        ev[n][0] = t0, ev[n++][1] = +1;
        ev[n][0] = t1, ev[n++][1] = -1;
    }
    closedir(d);
    /* Sort by time, ends before starts at equal times. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && (ev[j][0] < ev[j - 1][0] ||
                                  (ev[j][0] == ev[j - 1][0] && ev[j][1] < ev[j - 1][1]));
             j--) {
            long long t0 = ev[j][0], t1 = ev[j][1];
            ev[j][0] = ev[j - 1][0], ev[j][1] = ev[j - 1][1];
            ev[j - 1][0] = t0, ev[j - 1][1] = t1;
        }
    int cur = 0, max = 0;
    for (int i = 0; i < n; i++) {
        cur += (int)ev[i][1];
        if (cur > max) max = cur;
    }
    *count = n / 2;
    return max;
}

TEST(never_more_than_n_jobs_at_once)
{
    weft__pool *p = start_pool(3);
    for (int i = 0; i < 12; i++) submit(p, "record", 0);
    wait_all(20000);
    for (int k = 0; k < njobs; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    int count, max = max_overlap(&count);
    ASSERT_EQ(count, 12);
    ASSERT_LE(max, 3);
    ASSERT_GE(max, 2); /* it did run in parallel */
    finish(p);
}

TEST(two_workers_run_four_one_second_jobs_in_two_seconds)
{
    weft__pool *p = start_pool(2);
    int64_t t0 = weft__mono_ns();
    for (int i = 0; i < 4; i++) submit(p, "sleep1", 0);
    wait_all(10000);
    double dt = secs_since(t0);
    printf("    4 x 1 s on 2 workers: %.2f s\n", dt);
    for (int k = 0; k < njobs; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    ASSERT(dt >= 1.9);
    ASSERT(dt < 3.0);
    finish(p);
}

TEST(four_workers_run_four_one_second_jobs_in_one_second)
{
    weft__pool *p = start_pool(4);
    int64_t t0 = weft__mono_ns();
    for (int i = 0; i < 4; i++) submit(p, "sleep1", 0);
    wait_all(10000);
    double dt = secs_since(t0);
    printf("    4 x 1 s on 4 workers: %.2f s\n", dt);
    for (int k = 0; k < njobs; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    ASSERT(dt < 1.8);
    finish(p);
}

TEST(workers_are_reused_across_jobs)
{
    weft__pool *p = start_pool(2);
    for (int i = 0; i < 20; i++) submit(p, "whoami", 0);
    wait_all(10000);
    pid_t seen[2] = {0, 0};
    int nseen = 0;
    for (int k = 0; k < njobs; k++) {
        expect(k, WEFT_JOB_COMPLETED, NULL);
        ASSERT(jobs[k].pid != getpid());
        char path[256];
        snprintf(path, sizeof path, "pids/%.64s", jobs[k].id);
        char *s = test_read_file(path, NULL);
        pid_t pid = (pid_t)atoi(s);
        free(s);
        ASSERT(pid != getpid());
        bool known = false;
        for (int i = 0; i < nseen; i++) known |= seen[i] == pid;
        if (!known) {
            ASSERT_LT(nseen, 2); /* 20 jobs, 2 processes */
            seen[nseen++] = pid;
        }
    }
    finish(p);
}

/* A worker keeps the heap a job freed for its next job: a pandas task that
 * got its frames' pages back from the system each time paid a fifth of its
 * time in page faults (util/defaults.h, WEFT__WORKER_KEEP_HEAP). */
TEST(workers_keep_freed_heap_for_the_next_job)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    printf("    skipped under a sanitizer: its allocator replaces glibc's\n");
    return;
#endif
    weft__pool *p = start_pool(1);
    submit(p, "heap_kept", 0);
    submit(p, "heap_kept", 0);
    wait_all(10000);
    expect(0, WEFT_JOB_COMPLETED, NULL);
    expect(1, WEFT_JOB_COMPLETED, NULL);
    finish(p);
}

TEST(a_crashing_job_fails_alone_and_its_worker_is_replaced)
{
    weft__pool *p = start_pool(2);
    int before[8];
    for (int i = 0; i < 4; i++) before[i] = submit(p, "whoami", 0);
    int kill = submit(p, "kill_self", 0);
    int segv = submit(p, "segfault", 0);
    int ex = submit(p, "exit3", 0);
    for (int i = 4; i < 8; i++) before[i] = submit(p, "whoami", 0);
    wait_all(15000);
    expect(kill, WEFT_JOB_FAILED, "worker process killed by signal 9 (Killed)");
    expect(segv, WEFT_JOB_FAILED, "worker process killed by signal 11 (Segmentation fault)");
    expect(ex, WEFT_JOB_FAILED, "worker process exited with status 3");
    for (int i = 0; i < 8; i++) expect(before[i], WEFT_JOB_COMPLETED, NULL);
    wait_live(p, 2);
    /* And the new workers run jobs. */
    int again = submit(p, "noop", 0);
    wait_all(5000);
    expect(again, WEFT_JOB_COMPLETED, NULL);
    finish(p);
}

TEST(cancel_stops_a_running_job_within_a_second)
{
    weft__pool *p = start_pool(2);
    int a = submit(p, "sleep30", 0);
    int b = submit(p, "stubborn", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)a, 5000));
    ASSERT(wait_for(is_running, (void *)(intptr_t)b, 5000));
    usleep(200000);
    int64_t t0 = weft__mono_ns();
    ASSERT_OK(weft__pool_cancel(p, jobs[a].id, err), err);
    ASSERT_OK(weft__pool_cancel(p, jobs[b].id, err), err);
    wait_all(5000);
    double da = (double)(jobs[a].end_ns - t0) / 1e9, db = (double)(jobs[b].end_ns - t0) / 1e9;
    printf("    cooperative job stopped in %.3f s, stubborn one in %.3f s\n", da, db);
    expect(a, WEFT_JOB_CANCELED, NULL);
    expect(b, WEFT_JOB_CANCELED, NULL);
    ASSERT(da < 1.0);
    ASSERT(db < 1.0);
    wait_live(p, 2);
    int c = submit(p, "noop", 0);
    wait_all(5000);
    expect(c, WEFT_JOB_COMPLETED, NULL);
    finish(p);
}

TEST(cancel_of_a_queued_job_never_runs_it)
{
    weft__pool *p = start_pool(1);
    int a = submit(p, "record", 0);
    int b = submit(p, "record", 0); /* queued behind a, maybe in the worker's channel */
    int c = submit(p, "record", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)a, 5000));
    ASSERT_OK(weft__pool_cancel(p, jobs[b].id, err), err);
    ASSERT_OK(weft__pool_cancel(p, jobs[c].id, err), err);
    ASSERT(wait_for(is_finished, (void *)(intptr_t)b, 1000));
    ASSERT(wait_for(is_finished, (void *)(intptr_t)c, 1000));
    ASSERT(!jobs[a].finished); /* canceled at once, not after a */
    wait_all(5000);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    expect(b, WEFT_JOB_CANCELED, NULL);
    expect(c, WEFT_JOB_CANCELED, NULL);
    ASSERT(!jobs[b].running);
    ASSERT(!jobs[c].running);
    int count;
    max_overlap(&count);
    ASSERT_EQ(count, 1); /* only a wrote its record */
    finish(p);
}

/* weft__pool_withdraw() takes back unstarted jobs, from the worker's
 * channel behind the running one or from the queue, at once and without
 * running them; the running job is not taken back, and the others run. */
TEST(withdraw_takes_back_unstarted_jobs_only)
{
    weft__pool *p = start_pool(1);
    int a = submit(p, "long", 0);
    int b = submit(p, "short", 0); /* in the worker's channel behind a */
    int c = submit(p, "short", 0);
    int d = submit(p, "short", 0); /* in the pool's queue */
    int e = submit(p, "short", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)a, 5000));
    ASSERT_OK(weft__pool_withdraw(p, jobs[a].id, err), err);
    ASSERT_OK(weft__pool_withdraw(p, jobs[b].id, err), err);
    ASSERT_OK(weft__pool_withdraw(p, jobs[d].id, err), err);
    ASSERT(wait_for(is_withdrawn, (void *)(intptr_t)b, 1000));
    ASSERT(wait_for(is_withdrawn, (void *)(intptr_t)d, 1000));
    ASSERT(!jobs[a].finished); /* at once, not after a */
    pthread_mutex_lock(&mu);
    jobs[b].finished = jobs[d].finished = true; /* for wait_all */
    pthread_mutex_unlock(&mu);
    wait_all(10000);
    ASSERT(!jobs[a].withdrawn);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    expect(c, WEFT_JOB_COMPLETED, NULL);
    expect(e, WEFT_JOB_COMPLETED, NULL);
    ASSERT(!jobs[b].running && !jobs[d].running);
    int count;
    max_overlap(&count);
    ASSERT_EQ(count, 3); /* a, c and e wrote their records */
    finish(p);
}

TEST(timeout_fails_the_job)
{
    weft__pool *p = start_pool(2);
    int64_t t0 = weft__mono_ns();
    int a = submit(p, "sleep30", 1000);  /* notices the deadline itself */
    int b = submit(p, "stubborn", 1000); /* must be killed */
    wait_all(5000);
    double dt = secs_since(t0);
    expect(a, WEFT_JOB_FAILED, "timed out after 1s");
    expect(b, WEFT_JOB_FAILED, "timed out after 1s");
    printf("    both timed out after %.2f s\n", dt);
    ASSERT(dt < 2.0);
    wait_live(p, 2);
    finish(p);
}

/* Nothing else happens in the pool meanwhile: the deadline alone must wake it. */
TEST(timeout_of_a_lone_job_that_ignores_it)
{
    weft__pool *p = start_pool(1);
    wait_live(p, 1);
    int64_t t0 = weft__mono_ns();
    int a = submit(p, "stubborn", 500);
    wait_all(5000);
    double dt = secs_since(t0);
    expect(a, WEFT_JOB_FAILED, "timed out after 0.5s");
    ASSERT(dt < 1.5);
    finish(p);
}

TEST(idle_workers_take_jobs_queued_behind_a_long_one)
{
    weft__pool *p = start_pool(2);
    wait_live(p, 2);
    int l = submit(p, "long", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)l, 5000));
    int64_t t0 = weft__mono_ns();
    int s[4];
    for (int i = 0; i < 4; i++) s[i] = submit(p, "short", 0);
    for (int i = 0; i < 4; i++) ASSERT(wait_for(is_finished, (void *)(intptr_t)s[i], 5000));
    double dt = secs_since(t0);
    printf("    4 short jobs beside a long one: %.2f s\n", dt);
    ASSERT(dt < 1.0);
    ASSERT(!jobs[l].finished);
    wait_all(5000);
    finish(p);
}

TEST(job_output_is_captured_per_job)
{
    weft__pool *p = start_pool(1);
    int a = submit(p, "hello", 0);
    int b = submit(p, "hello", 0);
    wait_all(5000);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    expect(b, WEFT_JOB_COMPLETED, NULL);
    char want[128];
    snprintf(want, sizeof want, "hello stdout %s", jobs[a].id);
    ASSERT_CONTAINS(jobs[a].log, want);
    snprintf(want, sizeof want, "hello stderr %s", jobs[a].id);
    ASSERT_CONTAINS(jobs[a].log, want);
    snprintf(want, sizeof want, "hello log %s", jobs[a].id);
    ASSERT_CONTAINS(jobs[a].log, want);
    ASSERT_NOT_CONTAINS(jobs[b].log, jobs[a].id); /* same worker, its own output only */
    snprintf(want, sizeof want, "hello stdout %s", jobs[b].id);
    ASSERT_CONTAINS(jobs[b].log, want);
    finish(p);
}

TEST(chatty_job_output_is_bounded)
{
    weft__pool *p = start_pool(1);
    int a = submit(p, "chatty", 0);
    int b = submit(p, "hello", 0);
    wait_all(20000);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    ASSERT(jobs[a].log != NULL);
    ASSERT_LE(strlen(jobs[a].log), 64 * 1024);
    ASSERT_CONTAINS(jobs[a].log, "chatty line 099999");
    ASSERT_NOT_CONTAINS(jobs[b].log, "chatty");
    finish(p);
}

/* What a worker holds for a job's output, from outside: the size of what
 * its stdout points at (a file or memfd grows with the output, a pipe does
 * not) and its resident memory, in bytes. */
static void worker_footprint(pid_t pid, long long *out_size, long long *rss)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd/1", (int)pid);
    *out_size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    char line[256];
    *rss = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) *rss = atoll(line + 6) * 1024;
    if (f) fclose(f);
}

/* 200 MB printed by a function that never calls into weft: the job
 * completes with the last bytes as its log tail, and the worker never
 * holds more than a bounded amount for it. */
TEST(job_output_memory_is_bounded_whatever_the_job_does)
{
    weft__pool *p = start_pool(1);
    int64_t t0 = weft__mono_ns();
    int a = submit(p, "flood", 0);
    if (!wait_for(is_running, (void *)(intptr_t)a, 10000)) FAIL("the job did not start");
    long long max_size = 0, max_rss = 0;
    while (!wait_for(is_finished, (void *)(intptr_t)a, 20)) {
        long long size, rss;
        worker_footprint(jobs[a].pid, &size, &rss);
        if (size > max_size) max_size = size;
        if (rss > max_rss) max_rss = rss;
        if (secs_since(t0) > 120) FAIL("the job did not finish");
    }
    printf("    200 MB of output in %.2f s; worker's stdout held at most %lld bytes, RSS at most %lld KiB\n",
           secs_since(t0), max_size, max_rss / 1024);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    ASSERT_LE(strlen(jobs[a].log), 64 * 1024);
    ASSERT_GE(strlen(jobs[a].log), 60 * 1024);
    const char *end = "flood end marker\n";
    ASSERT_STR_EQ(jobs[a].log + strlen(jobs[a].log) - strlen(end), end);
    ASSERT_LE(max_size, 1024 * 1024);
    ASSERT_LE(max_rss, 64 * 1024 * 1024);
    finish(p);
}

static int registered_fn(weft_ctx *ctx)
{
    weft_ctx_log(ctx, "registered ran in %d", (int)getpid());
    return getpid() == (pid_t)atoi(getenv("TEST_POOL_PARENT")) ? 1 : 0;
}

TEST(registered_functions_run_in_workers)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("TEST_POOL_PARENT", pid, 1);
    ASSERT_OK(weft_register_function("test.registered", registered_fn), err);
    weft__pool *p = start_pool(2);
    int a = submit(p, "registered", 0);
    wait_all(5000);
    expect(a, WEFT_JOB_COMPLETED, NULL);
    ASSERT_CONTAINS(jobs[a].log, "registered ran in");
    finish(p);
}

TEST(stop_waits_for_jobs_or_cancels_them)
{
    weft__pool *p = start_pool(2);
    pid_t fs = weft__pool_forkserver_pid(p);
    for (int i = 0; i < 4; i++) submit(p, "record", 0);
    weft__pool_stop(p, false);
    for (int k = 0; k < 4; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    ASSERT_EQ(weft__pool_live_workers(p), 0);
    ASSERT(waitpid(fs, NULL, WNOHANG) < 0 && errno == ECHILD); /* reaped */
    ASSERT(weft__pool_submit(p, &(weft__job_spec){.job_id = "x", .task_config_id = "noop"}, NULL,
                             err) == WEFT_ESTATE);
    weft__pool_free(p);
    weft_config_free(cfg);

    p = start_pool(2);
    int a = submit(p, "sleep30", 0);
    int b = submit(p, "stubborn", 0);
    int c = submit(p, "sleep30", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)a, 5000));
    ASSERT(wait_for(is_running, (void *)(intptr_t)b, 5000));
    int64_t t0 = weft__mono_ns();
    weft__pool_stop(p, true);
    double dt = secs_since(t0);
    ASSERT(dt < 1.0);
    expect(a, WEFT_JOB_CANCELED, NULL);
    expect(b, WEFT_JOB_CANCELED, NULL);
    expect(c, WEFT_JOB_CANCELED, NULL);
    finish(p);
}

static void *start_in_thread(void *arg)
{
    weft__pool *p = start_pool(2);
    wait_live(p, 2); /* the server is past its prctl() when it forks workers */
    *(weft__pool **)arg = p;
    return NULL;
}

/* Linux sends the fork server's death signal when the thread that forked it
 * ends; the server must tell that from its orchestrator's death. */
TEST(pool_started_from_a_thread_that_ends)
{
    weft__pool *p = NULL;
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, start_in_thread, &p), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT(p != NULL);
    usleep(100000);
    for (int i = 0; i < 4; i++) submit(p, "whoami", 0);
    wait_all(5000);
    for (int k = 0; k < njobs; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    wait_live(p, 2);
    finish(p);
}

static bool process_gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *s = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return true;
    char buf[512] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    s = strrchr(buf, ')');
    return s && (s[2] == 'Z' || s[2] == 'X');
}

/* A command that ignores SIGTERM outlives the runner's grace; its worker is
 * SIGKILLed first, and the command must not survive it. */
TEST(cancel_kills_what_a_killed_worker_left_running)
{
    char cwd[2048];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    setenv("POOL_TEST_DIR", cwd, 1); /* commands run in the application folder */
    weft__pool *p = start_pool(1);
    int a = submit(p, "deaf_command", 0);
    ASSERT(wait_for(is_running, (void *)(intptr_t)a, 5000));
    pid_t cmd = 0;
    for (int i = 0; i < 300 && cmd <= 0; i++) {
        FILE *f = fopen("cmd.pid", "r");
        if (f) {
            if (fscanf(f, "%d", &cmd) != 1) cmd = 0;
            fclose(f);
        }
        if (cmd <= 0) usleep(10000);
    }
    ASSERT_GT(cmd, 0);
    int64_t t0 = weft__mono_ns();
    ASSERT_OK(weft__pool_cancel(p, jobs[a].id, err), err);
    wait_all(5000);
    expect(a, WEFT_JOB_CANCELED, NULL);
    ASSERT(secs_since(t0) < 1.0);
    while (!process_gone(cmd) && secs_since(t0) < 3.0) usleep(10000);
    if (!process_gone(cmd)) FAIL("command %d outlived its canceled job", (int)cmd);
    wait_live(p, 1);
    finish(p);
}

TEST(workers_exit_when_the_orchestrator_is_killed)
{
    char cwd[2048];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    setenv("POOL_TEST_DIR", cwd, 1);
    int fds[2];
    ASSERT(pipe(fds) == 0);
    pid_t child = fork();
    ASSERT(child >= 0);
    if (child == 0) {
        close(fds[0]);
        weft__pool *p = start_pool(3);
        submit(p, "stubborn", 0);     /* busy workers, one idle */
        submit(p, "deaf_command", 0); /* and a command of one of them */
        wait_live(p, 3);
        wait_for(is_running, (void *)(intptr_t)0, 5000);
        wait_for(is_running, (void *)(intptr_t)1, 5000);
        pid_t pids[5] = {0};
        weft__pool_worker_pids(p, pids, 3);
        pids[3] = weft__pool_forkserver_pid(p);
        for (int i = 0; i < 300 && pids[4] <= 0; i++) {
            FILE *f = fopen("cmd.pid", "r");
            if (f) {
                if (fscanf(f, "%d", &pids[4]) != 1) pids[4] = 0;
                fclose(f);
            }
            if (pids[4] <= 0) usleep(10000);
        }
        if (write(fds[1], pids, sizeof pids) != (ssize_t)sizeof pids) _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    pid_t pids[5];
    ASSERT_EQ(read(fds[0], pids, sizeof pids), (ssize_t)sizeof pids);
    close(fds[0]);
    for (int i = 0; i < 5; i++) ASSERT_GT(pids[i], 0);
    for (int i = 0; i < 5; i++) ASSERT(!process_gone(pids[i]));
    kill(child, SIGKILL);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    int64_t t0 = weft__mono_ns();
    for (int i = 0; i < 5; i++) {
        while (!process_gone(pids[i]) && secs_since(t0) < 3.0) usleep(10000);
        if (!process_gone(pids[i])) FAIL("process %d outlived its orchestrator", (int)pids[i]);
    }
    printf("    workers, fork server and command gone %.3f s after the orchestrator\n",
           secs_since(t0));
}

TEST(noop_throughput)
{
    weft__pool *p = start_pool(2);
    wait_live(p, 2);
    const long n = 20000;
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    spec.task_id = spec.task_config_id = "noop";
    spec.attempt = 1;
    char id[64];
    spec.job_id = id;
    int64_t t0 = weft__mono_ns();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "JOB_noop_%ld", i);
        ASSERT_OK(weft__pool_submit(p, &spec, (void *)(intptr_t)-1, err), err);
    }
    pthread_mutex_lock(&mu);
    while (nfinished < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    double dt = secs_since(t0);
    printf("    %ld no-op jobs on 2 workers: %.3f s, %.0f jobs/s\n", n, dt, (double)n / dt);
    finish(p);
}

/* 1000 CPU-bound 10 ms jobs on 2 workers: ideally 5 s, both workers busy
 * all along.  What is asserted is the mean number of jobs running at once,
 * from the pool's own RUNNING and FINISHED reports: one worker at a time
 * gives 1, both busy gives 2.  Unlike the wall time, it does not move when
 * other processes share the machine (the jobs spin for wall time).  The
 * pool's cost per job is measured by `weft bench` (CPU scaling). */
TEST(cpu_bound_jobs_keep_both_workers_busy)
{
    weft__pool *p = start_pool(2);
    wait_live(p, 2);
    const long n = 1000;
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    spec.task_id = spec.task_config_id = "spin10ms";
    spec.attempt = 1;
    char id[64];
    spec.job_id = id;
    pthread_mutex_lock(&mu);
    busy_ns = busy_last_ns = 0;
    pthread_mutex_unlock(&mu);
    int64_t t0 = weft__mono_ns();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof id, "JOB_spin_%ld", i);
        ASSERT_OK(weft__pool_submit(p, &spec, (void *)(intptr_t)-1, err), err);
    }
    pthread_mutex_lock(&mu);
    while (nfinished < n) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    double dt = secs_since(t0);
    pthread_mutex_lock(&mu);
    double mean = (double)busy_ns / (double)(weft__mono_ns() - t0);
    pthread_mutex_unlock(&mu);
    printf("    %ld x 10 ms CPU-bound jobs on 2 workers: %.3f s (ideal 5 s), %.2f running at once on average\n",
           n, dt, mean);
    ASSERT(mean > 1.6); /* one worker at a time gives 1.0 */
    finish(p);
}

/* ---- many workers, and fewer than asked ------------------------------- */

/* A pool of 1000 used to deadlock in weft__pool_start(): the fork server's
 * answers filled its channel while the pool was still asking. */
TEST(a_thousand_workers_start_and_run_jobs)
{
    int64_t t0 = weft__mono_ns();
    weft__pool *p = start_pool(1000);
    double started = secs_since(t0);
    for (int i = 0; i < 30000 && weft__pool_live_workers(p) < 1000; i++) usleep(2000);
    double all_live = secs_since(t0);
    ASSERT_EQ(weft__pool_live_workers(p), 1000);
    for (int k = 0; k < 40; k++) submit(p, "noop", 0);
    wait_all(30000);
    for (int k = 0; k < 40; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    int64_t t1 = weft__mono_ns();
    finish(p);
    printf("    1000 workers: start returned in %.3f s, all live in %.2f s, stop took %.2f s\n", started,
           all_live, secs_since(t1));
    ASSERT_LT(started, 1.0);
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[4096];

static void keep_log(weft_log_level level, const char *component, const char *message, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&log_mu);
    size_t n = strlen(log_lines);
    snprintf(log_lines + n, sizeof log_lines - n, "%d %s: %s\n", (int)level, component, message);
    pthread_mutex_unlock(&log_mu);
}

/* The lowest descriptor number that is free. */
static int first_free_fd(void)
{
    int fd = dup(0);
    ASSERT(fd >= 0);
    close(fd);
    return fd;
}

/* Limits this process to `extra` descriptors above the ones it has (the
 * pool keeps 3, and each worker's channel is one more), for the pool's
 * first forks to fail. */
static void limit_fds(int extra)
{
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = (rlim_t)(first_free_fd() + extra);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* A pool asked for `asked` workers that could start only some: `n`
 * no-op jobs all complete, the pool says "running with" once every first
 * fork was answered, and fewer than `asked` but more than 0 are live. */
static void runs_on_fewer_workers(weft__pool *p, int n, int asked)
{
    for (int k = 0; k < n; k++) submit(p, "noop", 0);
    wait_all(20000);
    for (int k = 0; k < n; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&log_mu);
        bool said = strstr(log_lines, "running with") != NULL;
        pthread_mutex_unlock(&log_mu);
        if (said) break;
        usleep(10000);
    }
    int live = weft__pool_live_workers(p);
    printf("    %d of %d workers; log:\n%s", live, asked, log_lines);
    ASSERT_GT(live, 0);
    ASSERT_LT(live, asked);
}

TEST(workers_that_cannot_start_leave_a_smaller_pool)
{
    weft_log_set_handler(keep_log, NULL, WEFT_LOG_WARN);
    setup(); /* the config's file descriptors come first */
    limit_fds(3 + 4);
    weft__pool_opts o = {.cfg = cfg, .application_path = apps, .nworkers = 20,
                         .cbs = {.running = on_running, .finished = on_finished}};
    weft__pool *p = NULL;
    ASSERT_OK(weft__pool_start(&o, &p, err), err);
    runs_on_fewer_workers(p, 10, 20);
    pthread_mutex_lock(&log_mu);
    ASSERT_CONTAINS(log_lines, "cannot start 20 workers");
    ASSERT_CONTAINS(log_lines, "running with");
    pthread_mutex_unlock(&log_mu);
    finish(p);
}

TEST(no_worker_at_all_fails_jobs_with_the_reason)
{
    weft_log_set_handler(keep_log, NULL, WEFT_LOG_WARN);
    setup();
    limit_fds(3);
    weft__pool_opts o = {.cfg = cfg, .application_path = apps, .nworkers = 20,
                         .cbs = {.running = on_running, .finished = on_finished}};
    weft__pool *p = NULL;
    ASSERT_OK(weft__pool_start(&o, &p, err), err);
    /* A job submitted before every fork failed fails with the reason; once
     * the pool knows, it refuses jobs with it. */
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    spec.job_id = jobs[0].id;
    spec.task_config_id = (char *)"noop";
    snprintf(jobs[0].id, sizeof jobs[0].id, "job0_noop");
    njobs = 1;
    if (weft__pool_submit(p, &spec, (void *)(intptr_t)0, err) == WEFT_OK) {
        if (!wait_for(is_finished, (void *)(intptr_t)0, 10000)) FAIL("the job neither ran nor failed");
        expect(0, WEFT_JOB_FAILED, "cannot start 20 workers: Too many open files");
    } else {
        ASSERT_CONTAINS(err, "cannot start 20 workers: Too many open files");
    }
    usleep(300000);
    err[0] = '\0';
    ASSERT_EQ(weft__pool_submit(p, &spec, (void *)(intptr_t)0, err), WEFT_ESPAWN);
    ASSERT_CONTAINS(err, "cannot start 20 workers: Too many open files");
    ASSERT_EQ(weft__pool_live_workers(p), 0);
    finish(p);
}

static void *no_op_thread(void *arg) { return arg; }

/* The threads of this process now.  A thread is started and joined first:
 * ThreadSanitizer starts a thread of its own with the first one a program
 * creates, and that one must be counted too. */
static int threads_now(void)
{
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, no_op_thread, NULL), 0);
    ASSERT_EQ(pthread_join(t, NULL), 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    ASSERT_GT(n, 0);
    return n;
}

/* Makes this test process a user of its own (root is exempt from the
 * process limit) with at most its current threads plus `more` processes
 * and threads, so that forks fail with EAGAIN as they do at a user's limit. */
static void limit_tasks(int more)
{
    int ntasks = threads_now() + more;
    char dir[4096];
    ASSERT(getcwd(dir, sizeof dir) != NULL);
    ASSERT_EQ(chmod(dir, 0777), 0);
    struct rlimit rl = {(rlim_t)ntasks, (rlim_t)ntasks};
    ASSERT_EQ(setrlimit(RLIMIT_NPROC, &rl), 0);
    uid_t uid = (uid_t)(60000 + getpid() % 5000);
    ASSERT_EQ(setgroups(0, NULL), 0);
    ASSERT_EQ(setresgid(uid, uid, uid), 0);
    ASSERT_EQ(setresuid(uid, uid, uid), 0);
}

/* The test's threads, then its fork server and the pool's thread are 2
 * tasks more; each worker is 2 (its output reader): 7 more leaves room for
 * 2 or 3 workers. */
TEST(forks_failing_at_the_process_limit_leave_a_smaller_pool)
{
    if (geteuid() != 0) {
        printf("    skipped: needs root to become a user of its own\n");
        return;
    }
    weft_log_set_handler(keep_log, NULL, WEFT_LOG_WARN);
    limit_tasks(7);
    weft__pool *p = start_pool(10);
    runs_on_fewer_workers(p, 6, 10);
    pthread_mutex_lock(&log_mu);
    ASSERT_CONTAINS(log_lines, "cannot start 10 workers: Resource temporarily unavailable");
    pthread_mutex_unlock(&log_mu);
    finish(p);
}

TEST(no_fork_allowed_fails_jobs_at_once)
{
    if (geteuid() != 0) {
        printf("    skipped: needs root to become a user of its own\n");
        return;
    }
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer may start a thread of its own in the fork server too,
     * at a moment of its choosing, and the limit counts every task of the
     * user: no exact limit exists.  The normal and ASan runs test this. */
    printf("    skipped under ThreadSanitizer: its own threads count against the limit\n");
    return;
#endif
    limit_tasks(2); /* the fork server and the pool's thread */
    weft__pool *p = start_pool(10);
    usleep(300000);
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    spec.job_id = (char *)"late";
    spec.task_config_id = (char *)"noop";
    ASSERT_EQ(weft__pool_submit(p, &spec, (void *)(intptr_t)0, err), WEFT_ESPAWN);
    printf("    %s\n", err);
    ASSERT_CONTAINS(err, "cannot start 10 workers: Resource temporarily unavailable");
    finish(p);
}

static bool four_running(void *arg)
{
    (void)arg;
    return running_now == 4;
}

/* The pool grows to 4 slots while jobs wait, and shrinks to 1 while they
 * run: they all end COMPLETED, the retired workers exit once idle, and the
 * jobs after the shrink run one at a time; it grows again afterwards. */
TEST(the_pool_grows_and_shrinks_without_losing_a_job)
{
    setup();
    weft__pool_opts o = {.cfg = cfg, .application_path = apps, .nworkers = 1,
                         .max_workers = 4,
                         .cbs = {.running = on_running, .finished = on_finished}};
    weft__pool *p = NULL;
    ASSERT_OK(weft__pool_start(&o, &p, err), err);
    ASSERT_EQ(weft__pool_size(p), 1);
    wait_live(p, 1);
    for (int i = 0; i < 4; i++) submit(p, "sleep1", 0);
    ASSERT_EQ(weft__pool_resize(p, 9), 4); /* clamped to max_workers */
    ASSERT(wait_for(four_running, NULL, 5000));
    wait_live(p, 4);
    pid_t before[4];
    ASSERT_EQ(weft__pool_worker_pids(p, before, 4), 4);
    ASSERT_EQ(weft__pool_resize(p, 1), 1);
    usleep(200000);
    ASSERT_EQ(weft__pool_live_workers(p), 4); /* busy workers are not retired */
    wait_all(10000);
    for (int k = 0; k < 4; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    wait_live(p, 1);
    pid_t after[1];
    ASSERT_EQ(weft__pool_worker_pids(p, after, 1), 1);
    for (int i = 0; i < 4; i++) { /* the retired ones exited */
        if (before[i] == after[0]) continue;
        int alive = 0;
        for (int t = 0; t < 300 && (alive = kill(before[i], 0) == 0); t++) usleep(10000);
        ASSERT_EQ(alive, 0);
    }
    int64_t t0 = weft__mono_ns();
    for (int i = 0; i < 2; i++) submit(p, "sleep1", 0);
    wait_all(10000);
    ASSERT(secs_since(t0) >= 1.9); /* one slot: one after the other */
    for (int k = 0; k < njobs; k++) expect(k, WEFT_JOB_COMPLETED, NULL);
    ASSERT_EQ(weft__pool_resize(p, 3), 3);
    wait_live(p, 3);
    finish(p);
}

TEST_MAIN(TEST_ENTRY_TIMEOUT(never_more_than_n_jobs_at_once, 60),
          TEST_ENTRY_TIMEOUT(a_thousand_workers_start_and_run_jobs, 120),
          TEST_ENTRY(workers_that_cannot_start_leave_a_smaller_pool),
          TEST_ENTRY(no_worker_at_all_fails_jobs_with_the_reason),
          TEST_ENTRY(forks_failing_at_the_process_limit_leave_a_smaller_pool),
          TEST_ENTRY(no_fork_allowed_fails_jobs_at_once),
          TEST_ENTRY_TIMEOUT(job_output_memory_is_bounded_whatever_the_job_does, 150),
          TEST_ENTRY_TIMEOUT(two_workers_run_four_one_second_jobs_in_two_seconds, 30),
          TEST_ENTRY_TIMEOUT(four_workers_run_four_one_second_jobs_in_one_second, 30),
          TEST_ENTRY_TIMEOUT(workers_are_reused_across_jobs, 30),
          TEST_ENTRY_TIMEOUT(workers_keep_freed_heap_for_the_next_job, 30),
          TEST_ENTRY_TIMEOUT(a_crashing_job_fails_alone_and_its_worker_is_replaced, 30),
          TEST_ENTRY_TIMEOUT(cancel_stops_a_running_job_within_a_second, 30),
          TEST_ENTRY_TIMEOUT(cancel_of_a_queued_job_never_runs_it, 30),
          TEST_ENTRY_TIMEOUT(withdraw_takes_back_unstarted_jobs_only, 30),
          TEST_ENTRY_TIMEOUT(timeout_fails_the_job, 30),
          TEST_ENTRY_TIMEOUT(timeout_of_a_lone_job_that_ignores_it, 30),
          TEST_ENTRY_TIMEOUT(idle_workers_take_jobs_queued_behind_a_long_one, 30),
          TEST_ENTRY_TIMEOUT(job_output_is_captured_per_job, 30),
          TEST_ENTRY_TIMEOUT(chatty_job_output_is_bounded, 30),
          TEST_ENTRY_TIMEOUT(registered_functions_run_in_workers, 30),
          TEST_ENTRY_TIMEOUT(cancel_kills_what_a_killed_worker_left_running, 30),
          TEST_ENTRY_TIMEOUT(stop_waits_for_jobs_or_cancels_them, 30),
          TEST_ENTRY_TIMEOUT(pool_started_from_a_thread_that_ends, 30),
          TEST_ENTRY_TIMEOUT(workers_exit_when_the_orchestrator_is_killed, 30),
          TEST_ENTRY_TIMEOUT(noop_throughput, 60),
          TEST_ENTRY_TIMEOUT(cpu_bound_jobs_keep_both_workers_busy, 60),
          TEST_ENTRY_TIMEOUT(the_pool_grows_and_shrinks_without_losing_a_job, 60))
