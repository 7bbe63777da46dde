/* SPDX-License-Identifier: MIT */
/*
 * cmd_bench.c - `weft bench`: measure the engine on a scenario built in
 * code, as a user's run would go (a real store in a temporary folder, every
 * status change committed), and report throughput, latency and memory.
 *
 * The scenario has N tasks of one built-in function (weft.noop, or
 * weft.spin for CPU-bound jobs) in one of three shapes: independent tasks,
 * a chain (each task reads the previous one's output) or a fan-in (N-1
 * tasks feeding one join task).  `--one-at-a-time` instead submits N
 * one-job scenarios one after the other, waiting for each, which measures
 * latency rather than throughput.  `--fairness` measures how long short
 * jobs wait behind a long one: one job of --long MS (weft.sleep) is
 * submitted first, and once it runs, N one-job scenarios of the task
 * (e.g. --task sleep:10) are submitted at once; the figures are theirs
 * (the long job is not counted), with the worst submit->finish.
 *
 * What is timed:
 *   build   making the config in code, checking it, opening the store,
 *           starting the executor and creating the scenario instance(s)
 *   submit  weft_submit() until it returns (creating the submission: every
 *           job stored in SUBMITTED/BLOCKED/PENDING); in development mode
 *           the jobs run inside it
 *   wall    from just before weft_submit() to the submission's end
 *   latency per job, its RUNNING time (or its final time) minus its
 *           submission's creation, p50 and p99
 *   RSS     getrusage(RUSAGE_SELF) ru_maxrss of this process (the
 *           orchestrator; workers are other processes), read before the
 *           jobs are listed for the latency figures
 *
 * A warm-up submission runs first so that workers are up (in cluster mode
 * it repeats until every worker took a job) and first-call costs are paid.
 */
#define _GNU_SOURCE /* nftw flags */
#include "cli/opts.h"
#include "cli/output.h"
#include "util/defaults.h"
#include "util/util.h" /* weft__err, WEFT__GROW: the command links libweft statically */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cmd_bench(int argc, char **argv); /* for main.c's table */

enum shape { SHAPE_INDEPENDENT, SHAPE_CHAIN, SHAPE_FANOUT };
static const char *const shape_names[] = {"independent", "chain", "fanout", NULL};

typedef struct bench_opts {
    weft_mode mode;
    int workers;
    long jobs;
    enum shape shape;
    int spin_ms;          /* 0: noop; else spin (or sleep) this long */
    bool sleep;           /* sleep:MS: weft.sleep instead of weft.spin */
    bool python;          /* py-noop: a Python function that does nothing */
    const char *task_s;   /* as given: "noop", "spin:10", "py-noop" */
    const char *broker;   /* --broker, or NULL */
    const char *broker_file;
    const char *queue;
    const char *app_dir;  /* NULL: a temporary folder */
    long prefetch;        /* cluster: run-worker --prefetch (0: its default, 2 x concurrency) */
    long concurrency;     /* cluster: run-worker --concurrency (default 1; 0: the worker's default) */
    long long_ms;         /* --fairness: the long job's length */
    bool json, one_at_a_time, use_running_workers, keep;
    bool fairness;        /* short jobs submitted behind a long one */
} bench_opts;

#define FAIR_LONG_MS 5000 /* --fairness: the long job's default (longer than the 2 s target) */

typedef struct bench_result {
    double build_s, submit_s, wall_s;
    double lat_p50_ms, lat_p99_ms, fin_p50_ms, fin_p99_ms, fin_max_ms;
    long completed, failed;
    long long peak_rss;
    const char *first_error; /* borrowed from a job list while printing; copied below */
    char error[512];
} bench_result;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (long long)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

/* ---- statistics -------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of n sorted values, in ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
    if (n == 0) return 0;
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)v[rank - 1] / 1000.0;
}

/* Collects per-job latencies into lat/fin (µs) from one submission. */
typedef struct samples {
    int64_t *lat, *fin;
    size_t n, lat_cap, fin_cap;
} samples;

static int samples_add(samples *s, int64_t lat, int64_t fin)
{
    if (WEFT__GROW(s->lat, s->n + 1, s->lat_cap) || WEFT__GROW(s->fin, s->n + 1, s->fin_cap)) return -1;
    s->lat[s->n] = lat;
    s->fin[s->n] = fin;
    s->n++;
    return 0;
}

/* Reads a finished submission's jobs: counts outcomes, adds latencies. */
static weft_err collect(weft_orchestrator *o, const char *sub_id, samples *s, bench_result *r, char *err)
{
    weft_submission_info *sub = NULL;
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_err e = weft_submission_get(o, sub_id, &sub, err);
    weft_job_filter f = {.submission_id = sub_id, .status = -1};
    if (!e) e = weft_jobs_list(o, &f, &jobs, &n, err);
    if (e) goto done;
    for (size_t i = 0; i < n; i++) {
        const weft_job_info *j = jobs[i];
        if (j->status == WEFT_JOB_COMPLETED || j->status == WEFT_JOB_SKIPPED) {
            r->completed++;
        } else {
            r->failed++;
            if (!r->error[0])
                snprintf(r->error, sizeof r->error, "job %s %s: %s", j->id,
                         weft_job_status_name(j->status), j->error ? j->error : "no reason recorded");
        }
        int64_t t0 = sub->created_us > 0 ? sub->created_us : j->status_time_us[WEFT_JOB_SUBMITTED];
        int64_t run = j->status_time_us[WEFT_JOB_RUNNING];
        int64_t fin = j->status_time_us[j->status];
        if (run <= 0) run = fin;
        if (samples_add(s, run - t0, fin - t0)) {
            e = weft__err(err, WEFT_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    weft_job_list_free(jobs, n);
    weft_submission_info_free(sub);
    return e;
}

/* ---- the scenario ------------------------------------------------------ */

/* py-noop's module, written into the bench's folder (the application
 * path).  It returns None: no output, or None pickled for the one output
 * of a chain or fan-in task. */
#define PY_NOOP "weft_bench_tasks.noop"
static const char PY_NOOP_SRC[] =
    "# weft bench --task py-noop\n"
    "import time\n"
    "def noop(*inputs):\n"
    "    return None\n"
    "def warm(*inputs):\n"
    "    end = time.monotonic() + 0.05\n"
    "    while time.monotonic() < end:\n"
    "        pass\n";

/* Declares task `id` (weft.noop, weft.spin or py-noop) with the given data node ids. */
static weft_err add_task(weft_config *cfg, const bench_opts *b, const char *id,
                         const char *const *inputs, const char *const *outputs, char *err)
{
    char dur[64];
    weft_property prop = {"duration", dur};
    snprintf(dur, sizeof dur, "%g:float", b->spin_ms / 1000.0);
    weft_task_opts t = {
        .function = b->python    ? PY_NOOP
                    : b->sleep   ? "weft.sleep"
                    : b->spin_ms ? "weft.spin"
                                 : "weft.noop",
        .inputs = inputs,
        .outputs = outputs,
        .properties = b->spin_ms ? &prop : NULL,
        .nproperties = b->spin_ms ? 1 : 0,
    };
    return weft_config_configure_task(cfg, id, &t, err);
}

/* Scenario "warmup": max(workers, 1) tasks of 50 ms of CPU, which hold a
 * worker for a moment so that in cluster mode each worker (prefetch 1)
 * takes one of them. */
static weft_err add_warmup(weft_config *cfg, const bench_opts *b, char *err)
{
    int nwarm = b->workers > 0 ? b->workers : 1;
    const char **wt = calloc((size_t)nwarm + 1, sizeof *wt);
    char (*wids)[32] = calloc((size_t)nwarm, sizeof *wids);
    if (!wt || !wids) {
        free(wt);
        free(wids);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    weft_err e = WEFT_OK;
    for (int i = 0; i < nwarm && !e; i++) {
        snprintf(wids[i], sizeof wids[i], "warm%d", i);
        wt[i] = wids[i];
        weft_property prop = {"duration", "0.05:float"};
        /* py-noop: the warm-up starts each worker's interpreter */
        weft_task_opts t = {.function = b->python ? "weft_bench_tasks.warm" : "weft.spin",
                            .properties = &prop, .nproperties = 1};
        e = weft_config_configure_task(cfg, wids[i], &t, err);
    }
    if (!e) e = weft_config_configure_scenario(cfg, "warmup", wt, err);
    free(wt);
    free(wids);
    return e;
}

/* --fairness: scenario "long", one task of b->long_ms of weft.sleep. */
static weft_err add_long(weft_config *cfg, const bench_opts *b, char *err)
{
    char dur[32];
    snprintf(dur, sizeof dur, "%g:float", b->long_ms / 1000.0);
    weft_property prop = {"duration", dur};
    weft_task_opts t = {.function = "weft.sleep", .properties = &prop, .nproperties = 1};
    const char *tasks[] = {"long_task", NULL};
    weft_err e = weft_config_configure_task(cfg, "long_task", &t, err);
    return e ? e : weft_config_configure_scenario(cfg, "long", tasks, err);
}

/* The fan-in's join task `id`, reading d0 .. d<n-2>, writing `outs`. */
static weft_err add_join(weft_config *cfg, const bench_opts *b, const char *id, long n,
                         const char *const *outs, char *err)
{
    const char **all = calloc((size_t)n, sizeof *all);
    char **names = calloc((size_t)n, sizeof *names);
    weft_err e = all && names ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "out of memory");
    for (long k = 0; k < n - 1 && !e; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "d%ld", k);
        if (!(names[k] = strdup(nm))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
        all[k] = names[k];
    }
    if (!e) e = add_task(cfg, b, id, all, outs, err);
    for (long k = 0; names && k < n - 1; k++) free(names[k]);
    free(names);
    free(all);
    return e;
}

/* Task t<i> of the scenario of n tasks in b->shape, with its data node d<i>. */
static weft_err add_shaped_task(weft_config *cfg, const bench_opts *b, long i, long n, const char *id,
                                char *err)
{
    static const weft_data_node_opts dn = {.storage_type = "pickle"};
    char in[64], out[64];
    const char *ins[2] = {NULL, NULL}, *outs[2] = {NULL, NULL};
    weft_err e;
    if (b->shape == SHAPE_CHAIN || (b->shape == SHAPE_FANOUT && i < n - 1)) {
        snprintf(out, sizeof out, "d%ld", i);
        if ((e = weft_config_configure_data_node(cfg, out, &dn, err))) return e;
        outs[0] = out;
    }
    if (b->shape == SHAPE_CHAIN && i > 0) {
        snprintf(in, sizeof in, "d%ld", i - 1);
        ins[0] = in;
    }
    if (b->shape == SHAPE_FANOUT && i == n - 1 && n > 1) return add_join(cfg, b, id, n, outs, err);
    return add_task(cfg, b, id, ins, outs, err);
}

/*
 * The scenario "bench" of b->jobs tasks in b->shape (or "one" of one task
 * for --one-at-a-time), and "warmup" of max(workers, 1) independent tasks.
 */
static weft_err build_config(weft_config *cfg, const bench_opts *b, const char *store, char *err)
{
    weft_err e;
    if ((e = weft_config_configure_job_executions(cfg, b->mode, b->workers, err))) return e;
    if ((e = weft_config_set(cfg, "CORE", "storage_folder", store, err))) return e;
    if (b->mode == WEFT_MODE_CLUSTER) {
        if (b->broker && (e = weft_config_set(cfg, "JOB", "broker_url", b->broker, err))) return e;
        if ((e = weft_config_set(cfg, "JOB", "queue", b->queue, err))) return e;
    }
    if ((e = add_warmup(cfg, b, err))) return e;
    if (b->fairness && (e = add_long(cfg, b, err))) return e;

    long n = b->one_at_a_time ? 1 : b->jobs;
    char **tasks = calloc((size_t)n + 1, sizeof *tasks);
    if (!tasks) return weft__err(err, WEFT_ENOMEM, "out of memory");
    for (long i = 0; i < n && !e; i++) {
        char id[64];
        snprintf(id, sizeof id, "t%ld", i);
        if (!(tasks[i] = strdup(id))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
        else e = add_shaped_task(cfg, b, i, n, id, err);
    }
    if (!e) e = weft_config_configure_scenario(cfg, b->one_at_a_time ? "one" : "bench",
                                               (const char *const *)tasks, err);
    for (long i = 0; i < n; i++) free(tasks[i]);
    free(tasks);
    return e;
}

/* ---- temporary folder and cluster workers ------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* DIR/config.toml, for the workers; only its owner may read it, since it
 * holds the broker URL with its password. */
static weft_err write_config(const weft_config *cfg, const char *dir, char *err)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/config.toml", dir) >= sizeof path)
        return weft__err(err, WEFT_EINVAL, "%s: path too long", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        weft_err fe = weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return fe;
    }
    weft_err e = weft_config_write(cfg, f, true, err);
    if (fclose(f) != 0 && !e) e = weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    return e;
}

/* Starts `weft run-worker` i (this very program), its output in DIR/worker-i.log. */
static pid_t spawn_worker(const bench_opts *b, const char *dir, int i, char *err)
{
    char exe[PATH_MAX], logp[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) {
        weft__err(err, WEFT_ESPAWN, "cannot find this program: %s", strerror(errno));
        return -1;
    }
    exe[k] = '\0';
    if ((size_t)snprintf(logp, sizeof logp, "%s/worker-%d.log", dir, i) >= sizeof logp) {
        weft__err(err, WEFT_EINVAL, "%s: path too long", dir);
        return -1;
    }
    char *argv[13] = {"weft", "run-worker", "--application-path", (char *)dir, "--queue",
                      (char *)b->queue};
    int argc = 6;
    char prefetch[32], concurrency[32];
    if (b->concurrency) {
        snprintf(concurrency, sizeof concurrency, "%ld", b->concurrency);
        argv[argc++] = "--concurrency";
        argv[argc++] = concurrency;
    }
    if (b->prefetch) {
        snprintf(prefetch, sizeof prefetch, "%ld", b->prefetch);
        argv[argc++] = "--prefetch";
        argv[argc++] = prefetch;
    }
    /* No --broker: the URL, password included, would be on the worker's
     * command line for every user to see (ps).  The worker reads it from
     * DIR/config.toml ([JOB] broker_url), which only we can read. */
    argv[argc] = NULL;
    /* Called before the orchestrator starts any thread: a plain fork, and
     * only async-signal-safe calls in the child. */
    int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        weft__err(err, WEFT_EIO, "%s: %s", logp, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        weft__err(err, WEFT_ESPAWN, "cannot start weft run-worker: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, argv);
        _exit(127);
    }
    close(fd);
    return pid;
}

/* SIGTERM (drain), then SIGKILL after 10 s. */
static void stop_worker(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

/* Runs "warmup" until `want` distinct workers ran one of its jobs (cluster)
 * or once (other modes).  Gives up after 120 s. */
static weft_err warm_up(weft_orchestrator *o, int want, char *err)
{
    double deadline = now_s() + 120;
    char *seen[64] = {0};
    int nseen = 0;
    weft_err e = WEFT_OK;
    do {
        char *scen = NULL, *sub = NULL;
        weft_submit_opts so = {.wait = true, .timeout_ms = 120000};
        if ((e = weft_scenario_create(o, "warmup", &scen, err)) ||
            (e = weft_submit(o, scen, &so, &sub, err))) {
            free(scen);
            free(sub);
            break;
        }
        weft_job_info **jobs = NULL;
        size_t n = 0;
        weft_job_filter f = {.submission_id = sub, .status = -1};
        if (!(e = weft_jobs_list(o, &f, &jobs, &n, err))) {
            for (size_t i = 0; i < n && !e; i++) {
                if (jobs[i]->status != WEFT_JOB_COMPLETED)
                    e = weft__err(err, WEFT_ETASK, "warm-up job %s %s: %s", jobs[i]->id,
                                  weft_job_status_name(jobs[i]->status),
                                  jobs[i]->error ? jobs[i]->error : "?");
                bool known = false;
                for (int k = 0; k < nseen && jobs[i]->worker; k++)
                    if (strcmp(seen[k], jobs[i]->worker) == 0) known = true;
                if (!known && jobs[i]->worker && nseen < 64) seen[nseen++] = strdup(jobs[i]->worker);
            }
        }
        weft_job_list_free(jobs, n);
        free(scen);
        free(sub);
        if (e) break;
        if (weft_orchestrator_mode(o) != WEFT_MODE_CLUSTER) break;
        if (nseen < want && now_s() > deadline) {
            e = weft__err(err, WEFT_ETIMEDOUT, "only %d of %d workers took jobs within 120 s", nseen, want);
            break;
        }
    } while (nseen < want);
    for (int k = 0; k < nseen; k++) free(seen[k]);
    return e;
}

/* ---- running ----------------------------------------------------------- */

/* What one bench run holds, released by bench_release(). */
typedef struct bench_run {
    const bench_opts *b;
    char dir[PATH_MAX]; /* the application folder: --app-dir or a temporary one */
    bool made_dir;      /* dir is temporary: removed afterwards unless --keep */
    weft_config *cfg;
    weft_orchestrator *o;
    pid_t pids[256]; /* cluster: the run-worker processes started */
    int npids;
    long nsub;        /* submissions: N with --one-at-a-time, else 1 */
    char **scen, **subs; /* nsub scenario instance and submission ids */
    samples s;
} bench_run;

/* Makes br->dir: --app-dir (created if missing), or a temporary folder. */
static weft_err make_folder(bench_run *br, char *err)
{
    const bench_opts *b = br->b;
    if (b->app_dir) {
        if (mkdir(b->app_dir, 0755) != 0 && errno != EEXIST)
            return weft__err(err, WEFT_EIO, "%s: %s", b->app_dir, strerror(errno));
        if (!realpath(b->app_dir, br->dir)) {
            br->dir[0] = '\0';
            return weft__err(err, WEFT_EIO, "%s: %s", b->app_dir, strerror(errno));
        }
        return WEFT_OK;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(br->dir, sizeof br->dir, "%s/weft-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(br->dir)) {
        br->dir[0] = '\0';
        return weft__err(err, WEFT_EIO, "cannot make a temporary folder: %s", strerror(errno));
    }
    br->made_dir = true;
    if (b->python) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/weft_bench_tasks.py", br->dir);
        FILE *f = fopen(path, "w");
        bool ok = f && fputs(PY_NOOP_SRC, f) >= 0;
        if (f && fclose(f) != 0) ok = false;
        if (!ok) return weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    }
    return WEFT_OK;
}

/* Cluster mode: writes DIR/config.toml for the workers, and starts them
 * unless --use-running-workers. */
static weft_err start_workers(bench_run *br, char *err)
{
    const bench_opts *b = br->b;
    weft_err e = write_config(br->cfg, br->dir, err);
    if (e) return e;
    if (b->use_running_workers) {
        fprintf(stderr, "weft bench: waiting for workers: weft run-worker --application-path %s --queue %s\n",
                br->dir, b->queue);
        return WEFT_OK;
    }
    for (int i = 0; i < b->workers && i < 256; i++) {
        pid_t p = spawn_worker(b, br->dir, i, err);
        if (p < 0) return WEFT_ESPAWN;
        br->pids[br->npids++] = p;
    }
    return WEFT_OK;
}

/* Builds and checks the config, starts the workers (cluster), opens the
 * store in DIR/store and starts the executor. */
static weft_err start_engine(bench_run *br, char *err)
{
    char store[PATH_MAX + 16];
    snprintf(store, sizeof store, "%s/store", br->dir);
    if (!(br->cfg = weft_config_new())) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e;
    if ((e = build_config(br->cfg, br->b, store, err)) || (e = weft_config_check(br->cfg, err))) return e;
    if (br->b->mode == WEFT_MODE_CLUSTER && (e = start_workers(br, err))) return e;
    weft_orchestrator_opts oo = {.storage_folder = store, .application_path = br->dir};
    if ((e = weft_orchestrator_open(br->cfg, &oo, &br->o, err))) return e;
    return weft_orchestrator_start(br->o, err);
}

/* Creates the nsub scenario instances; *secs gets the time it took. */
static weft_err create_instances(bench_run *br, double *secs, char *err)
{
    br->scen = calloc((size_t)br->nsub, sizeof *br->scen);
    br->subs = calloc((size_t)br->nsub, sizeof *br->subs);
    if (!br->scen || !br->subs) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft_err e = WEFT_OK;
    double t0 = now_s();
    for (long i = 0; i < br->nsub && !e; i++)
        e = weft_scenario_create(br->o, br->b->one_at_a_time ? "one" : "bench", &br->scen[i], err);
    *secs = now_s() - t0;
    return e;
}

/* Submits the long job of --fairness, and waits until it runs. */
static weft_err start_long(bench_run *br, char **sub, char *err)
{
    char *scen = NULL;
    weft_submit_opts so = {.wait = false};
    weft_err e = weft_scenario_create(br->o, "long", &scen, err);
    if (!e) e = weft_submit(br->o, scen, &so, sub, err);
    free(scen);
    double deadline = now_s() + 60;
    bool running = false;
    while (!e && !running) {
        weft_job_info **jobs = NULL;
        size_t n = 0;
        weft_job_filter f = {.submission_id = *sub, .status = -1};
        if (!(e = weft_jobs_list(br->o, &f, &jobs, &n, err)))
            running = n == 1 && jobs[0]->status == WEFT_JOB_RUNNING;
        weft_job_list_free(jobs, n);
        if (!e && !running && now_s() > deadline)
            e = weft__err(err, WEFT_ETIMEDOUT, "the long job did not start within 60 s");
        struct timespec ts = {0, 5 * 1000000L};
        if (!e && !running) nanosleep(&ts, NULL);
    }
    return e;
}

/* --fairness: the long job, then every short one at once once it runs;
 * waits for the short ones (timed), then for the long one. */
static weft_err fair_submit_and_wait(bench_run *br, bench_result *r, char *err)
{
    char *lsub = NULL;
    weft_err e = start_long(br, &lsub, err);
    double start = now_s();
    weft_submit_opts so = {.wait = false};
    for (long i = 0; i < br->nsub && !e; i++) e = weft_submit(br->o, br->scen[i], &so, &br->subs[i], err);
    r->submit_s = now_s() - start;
    for (long i = 0; i < br->nsub && !e; i++) e = weft_submission_wait(br->o, br->subs[i], 0, err);
    r->wall_s = now_s() - start;
    if (lsub && !e) e = weft_submission_wait(br->o, lsub, 0, err);
    free(lsub);
    return e;
}

/* The measured part: submits, and waits for every job. */
static weft_err submit_and_wait(bench_run *br, bench_result *r, char *err)
{
    weft_err e = WEFT_OK;
    double start = now_s();
    if (br->b->fairness) return fair_submit_and_wait(br, r, err);
    if (br->b->one_at_a_time) {
        weft_submit_opts so = {.wait = true};
        for (long i = 0; i < br->nsub && !e; i++) e = weft_submit(br->o, br->scen[i], &so, &br->subs[i], err);
        r->submit_s = r->wall_s = now_s() - start;
        return e;
    }
    weft_submit_opts so = {.wait = false};
    if (!(e = weft_submit(br->o, br->scen[0], &so, &br->subs[0], err))) {
        r->submit_s = now_s() - start;
        e = weft_submission_wait(br->o, br->subs[0], 0, err);
    }
    r->wall_s = now_s() - start;
    return e;
}

/* Reads every submission's jobs: outcomes and latency percentiles. */
static weft_err latencies(bench_run *br, bench_result *r, char *err)
{
    weft_err e = WEFT_OK;
    samples *s = &br->s;
    for (long i = 0; i < br->nsub && !e; i++) e = collect(br->o, br->subs[i], s, r, err);
    if (e) return e;
    qsort(s->lat, s->n, sizeof *s->lat, cmp_i64);
    qsort(s->fin, s->n, sizeof *s->fin, cmp_i64);
    r->lat_p50_ms = pct_ms(s->lat, s->n, 50);
    r->lat_p99_ms = pct_ms(s->lat, s->n, 99);
    r->fin_p50_ms = pct_ms(s->fin, s->n, 50);
    r->fin_p99_ms = pct_ms(s->fin, s->n, 99);
    r->fin_max_ms = pct_ms(s->fin, s->n, 100);
    return WEFT_OK;
}

/* After a failure with workers started, their first log says why more
 * often than the error does (a worker that could not load the config). */
static void print_worker_log(const char *dir)
{
    char logp[PATH_MAX + 32];
    snprintf(logp, sizeof logp, "%s/worker-0.log", dir);
    FILE *f = fopen(logp, "r");
    if (!f) return;
    char line[512];
    fprintf(stderr, "weft bench: %s:\n", logp);
    while (fgets(line, sizeof line, f)) fprintf(stderr, "  %s", line);
    fclose(f);
}

/* Closes the orchestrator, stops the workers, frees everything and
 * removes the temporary folder (kept with --keep).  `e`: how the run went. */
static void bench_release(bench_run *br, weft_err e)
{
    weft_orchestrator_close(br->o);
    for (int i = 0; i < br->npids; i++) stop_worker(br->pids[i]);
    if (e && br->npids && br->dir[0]) print_worker_log(br->dir);
    for (long i = 0; br->scen && i < br->nsub; i++) free(br->scen[i]);
    for (long i = 0; br->subs && i < br->nsub; i++) free(br->subs[i]);
    free(br->scen);
    free(br->subs);
    free(br->s.lat);
    free(br->s.fin);
    weft_config_free(br->cfg);
    if (br->made_dir && !br->b->keep) remove_tree(br->dir);
    else if (br->made_dir) fprintf(stderr, "weft bench: kept %s\n", br->dir);
}

/*
 * Build (timed), warm up (not timed), create the instances (timed, with
 * build), then the measured submit and wait; the peak RSS is read before
 * the job lists are loaded for the latency figures.
 */
static weft_err run_bench(const bench_opts *b, bench_result *r, char *err)
{
    bench_run br = {.b = b, .nsub = b->one_at_a_time ? b->jobs : 1};
    double t0 = 0, inst_s = 0;
    weft_err e = make_folder(&br, err);
    if (!e) {
        t0 = now_s();
        e = start_engine(&br, err);
    }
    if (!e) {
        r->build_s = now_s() - t0;
        e = warm_up(br.o, b->mode == WEFT_MODE_CLUSTER ? b->workers : 1, err);
    }
    if (!e && !(e = create_instances(&br, &inst_s, err))) r->build_s += inst_s;
    if (!e && !(e = submit_and_wait(&br, r, err))) {
        r->peak_rss = peak_rss_bytes();
        e = latencies(&br, r, err);
    }
    bench_release(&br, e);
    return e;
}

/* ---- output ------------------------------------------------------------ */

static int print_json(const bench_opts *b, const bench_result *r)
{
    json_t *o = json_object();
    int w = b->mode == WEFT_MODE_DEVELOPMENT ? 1 : b->workers;
    double jobs = (double)b->jobs;
    json_object_set_new(o, "mode", json_string(weft_mode_name(b->mode)));
    json_object_set_new(o, "workers", json_integer(w));
    json_object_set_new(o, "jobs", json_integer(b->jobs));
    json_object_set_new(o, "shape", json_string(shape_names[b->shape]));
    json_object_set_new(o, "task", json_string(b->task_s));
    json_object_set_new(o, "one_at_a_time", json_boolean(b->one_at_a_time));
    json_object_set_new(o, "completed", json_integer(r->completed));
    json_object_set_new(o, "failed", json_integer(r->failed));
    json_object_set_new(o, "jobs_per_second", json_real(r->wall_s > 0 ? jobs / r->wall_s : 0));
    json_object_set_new(o, "us_per_job", json_real(jobs > 0 ? r->wall_s * 1e6 / jobs : 0));
    json_object_set_new(o, "latency_p50_ms", json_real(r->lat_p50_ms));
    json_object_set_new(o, "latency_p99_ms", json_real(r->lat_p99_ms));
    json_object_set_new(o, "finish_p50_ms", json_real(r->fin_p50_ms));
    json_object_set_new(o, "finish_p99_ms", json_real(r->fin_p99_ms));
    json_object_set_new(o, "finish_max_ms", json_real(r->fin_max_ms));
    json_object_set_new(o, "fairness", json_boolean(b->fairness));
    if (b->fairness) json_object_set_new(o, "long_ms", json_integer(b->long_ms));
    if (b->mode == WEFT_MODE_CLUSTER) json_object_set_new(o, "concurrency", json_integer(b->concurrency));
    json_object_set_new(o, "wall_seconds", json_real(r->wall_s));
    json_object_set_new(o, "build_seconds", json_real(r->build_s));
    json_object_set_new(o, "submit_seconds", json_real(r->submit_s));
    json_object_set_new(o, "peak_rss_bytes", json_integer(r->peak_rss));
    json_object_set_new(o, "rss_per_job_bytes", json_real(jobs > 0 ? (double)r->peak_rss / jobs : 0));
    if (b->spin_ms && !b->sleep) {
        double ideal = jobs * b->spin_ms / 1000.0 / (w > 0 ? w : 1);
        json_object_set_new(o, "cpu_efficiency", json_real(r->wall_s > 0 ? ideal / r->wall_s : 0));
    }
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    return out_json_print(o);
}

static void print_table(const bench_opts *b, const bench_result *r)
{
    int w = b->mode == WEFT_MODE_DEVELOPMENT ? 1 : b->workers;
    double jobs = (double)b->jobs;
    printf("weft bench: %s mode, %d worker%s, %ld job%s, %s, %s%s\n", weft_mode_name(b->mode), w,
           w == 1 ? "" : "s", b->jobs, b->jobs == 1 ? "" : "s", shape_names[b->shape], b->task_s,
           b->fairness ? ", behind a long job" : b->one_at_a_time ? ", one at a time" : "");
    printf("  %-22s %12.3f s\n", "build (config, store)", r->build_s);
    printf("  %-22s %12.3f s\n", "submit", r->submit_s);
    printf("  %-22s %12.3f s\n", "wall (submit->finish)", r->wall_s);
    printf("  %-22s %12.0f jobs/s  (%.1f us/job)\n", "throughput", r->wall_s > 0 ? jobs / r->wall_s : 0,
           jobs > 0 ? r->wall_s * 1e6 / jobs : 0);
    printf("  %-22s %12.2f ms p50 %10.2f ms p99\n", "submit->start", r->lat_p50_ms, r->lat_p99_ms);
    printf("  %-22s %12.2f ms p50 %10.2f ms p99 %10.2f ms max\n", "submit->finish", r->fin_p50_ms,
           r->fin_p99_ms, r->fin_max_ms);
    printf("  %-22s %12.1f MiB     (%.0f bytes/job)\n", "peak RSS (orchestrator)",
           (double)r->peak_rss / 1048576.0, jobs > 0 ? (double)r->peak_rss / jobs : 0);
    if (b->spin_ms && !b->sleep) {
        double ideal = jobs * b->spin_ms / 1000.0 / (w > 0 ? w : 1);
        printf("  %-22s %12.1f %%       (ideal %.2f s)\n", "CPU efficiency",
               r->wall_s > 0 ? 100.0 * ideal / r->wall_s : 0, ideal);
    }
    printf("  %-22s %12ld completed, %ld not\n", "jobs", r->completed, r->failed);
    if (r->error[0]) printf("  first failure: %s\n", r->error);
}

/* ---- the command ------------------------------------------------------- */

static int parse_args(int argc, char **argv, bench_opts *b)
{
    int mode = (int)b->mode, shape = (int)b->shape;
    long workers = b->workers;
    const cli_opt opts[] = {
        CLI_MODE(&mode),
        CLI_LONG("workers", 'w', &workers, 1, 256),
        CLI_LONG("jobs", 0, &b->jobs, 1, 100000000),
        CLI_CHOICE("shape", 0, &shape, shape_names),
        CLI_STRING("task", 0, "noop, py-noop, spin:MS or sleep:MS", &b->task_s),
        CLI_FLAG("one-at-a-time", 0, &b->one_at_a_time),
        CLI_FLAG("fairness", 0, &b->fairness),
        CLI_STRING("broker", 0, "a URL", &b->broker),
        CLI_STRING("broker-file", 0, "a file", &b->broker_file),
        CLI_STRING("queue", 0, "a queue name", &b->queue),
        CLI_STRING("app-dir", 0, "a folder", &b->app_dir),
        CLI_LONG("prefetch", 0, &b->prefetch, 1, 65535),
        CLI_LONG("concurrency", 0, &b->concurrency, 0, 1024),
        CLI_LONG("long", 0, &b->long_ms, 1, 3600000),
        CLI_FLAG("use-running-workers", 0, &b->use_running_workers),
        CLI_FLAG("keep", 0, &b->keep),
        CLI_FLAG("json", 0, &b->json),
        CLI_LOG_OPTS,
        CLI_END,
    };
    cli_parse_opts p = {.cmd = "bench", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    b->mode = (weft_mode)mode;
    b->shape = (enum shape)shape;
    b->workers = (int)workers;
    return rc;
}

/* The checks that involve more than one option, and --task's value. */
static int check_args(bench_opts *b)
{
    long v;
    if (strcmp(b->task_s, "py-noop") == 0) {
        b->python = true;
        if (b->app_dir)
            return cli_usage_error("bench", "--task py-noop writes its module into a temporary "
                                            "folder: no --app-dir");
    } else if (strcmp(b->task_s, "noop") != 0) {
        b->sleep = strncmp(b->task_s, "sleep:", 6) == 0;
        const char *ms = b->task_s + (b->sleep ? 6 : 5);
        if ((!b->sleep && strncmp(b->task_s, "spin:", 5) != 0) || !cli_strtol(ms, 1, 3600000, &v))
            return cli_usage_error("bench", "--task is noop, py-noop, spin:MS or sleep:MS, not '%s'",
                                   b->task_s);
        b->spin_ms = (int)v;
    }
    if (b->spin_ms && b->shape != SHAPE_INDEPENDENT)
        return cli_usage_error("bench", "--shape %s needs --task noop (weft.spin writes no output)",
                               shape_names[b->shape]);
    if (b->fairness && b->one_at_a_time)
        return cli_usage_error("bench", "--fairness and --one-at-a-time are two measurements");
    if (b->fairness && b->mode == WEFT_MODE_DEVELOPMENT)
        return cli_usage_error("bench", "--fairness needs workers: --mode standalone or cluster");
    if (b->long_ms && !b->fairness)
        return cli_usage_error("bench", "--long is the long job of --fairness");
    if (b->fairness && !b->long_ms) b->long_ms = FAIR_LONG_MS;
    if (b->concurrency >= 0 && b->mode != WEFT_MODE_CLUSTER)
        return cli_usage_error("bench", "--concurrency is each run-worker's: --mode cluster");
    if (b->concurrency < 0) b->concurrency = 1; /* one job process per worker */
    b->one_at_a_time |= b->fairness; /* one-job scenarios, submitted at once */
    if (b->one_at_a_time && b->shape != SHAPE_INDEPENDENT)
        return cli_usage_error("bench", "--one-at-a-time submits one-job scenarios: no --shape");
    if (b->use_running_workers && (b->mode != WEFT_MODE_CLUSTER || !b->app_dir))
        return cli_usage_error("bench", "--use-running-workers needs --mode cluster and --app-dir DIR");
    return CLI_OK;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts b = {.mode = WEFT_MODE_STANDALONE, .workers = WEFT__DEFAULT_WORKERS, .jobs = 1000,
                    .task_s = "noop", .concurrency = -1};
    int rc = parse_args(argc, argv, &b);
    if (rc || (rc = check_args(&b))) return rc;
    char queue[128];
    if (!b.queue) {
        snprintf(queue, sizeof queue, "weft.bench.%d", (int)getpid());
        b.queue = queue;
    }
    if (b.mode == WEFT_MODE_DEVELOPMENT) b.workers = 1;
    char *url = NULL;
    if (b.mode == WEFT_MODE_CLUSTER && (rc = cli_broker_url("bench", b.broker, b.broker_file, &url)))
        return rc;
    b.broker = url;

    bench_result r = {0};
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_err e = run_bench(&b, &r, err);
    free(url);
    b.broker = NULL;
    if (e) {
        cli_error("bench failed: %s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    rc = b.json ? print_json(&b, &r) : (print_table(&b, &r), CLI_OK);
    if (rc == CLI_OK && r.failed) rc = CLI_FAILED;
    return rc;
}
