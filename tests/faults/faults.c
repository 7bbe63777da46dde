/* SPDX-License-Identifier: MIT */
/*
 * faults.c - the fault-injection suite (`make faults`, scripts/faults), in
 * SQLite's manner: inject a fault, restart the engine, check invariants.
 *
 *   sweep      for every N over a representative run (a fan-out and a join,
 *              development and standalone modes, in this process), fail the
 *              Nth store write (disk full from then on, or one I/O error),
 *              reopen (recovery), check, and run the scenario once more;
 *              cluster mode likewise for every 3rd N, with two workers
 *   kill9      kill -9 real `weft run` processes (standalone, cluster) at
 *              random points, recover, check
 *   restart    restart the broker at random points of a cluster run
 *   malformed  random bytes and truncated job messages on the job queue:
 *              the worker survives and dead-letters every one
 *   delete     for every N, fail the Nth store write of deleting a scenario
 *              (weft_delete); and kill -9 real `weft delete` processes at
 *              random points: the scenario is whole or gone, never half
 *
 * Invariants after each step: PRAGMA integrity_check and weft's own
 * (weft_store_check(): no RUNNING job without an owner, no orphan rows,
 * results recorded once by completed jobs), no unfinished job, every job
 * that left a marker (faultfns.mark writes one as it starts) shows as
 * started, and every completed job's outputs were recorded exactly once;
 * after a kill or a broker restart, `weft check --store` exits 0 too.
 * Random choices come from seeds that are printed: rerun one with --seed.
 */
#define _GNU_SOURCE
#include "cluster/amqp_client.h"
#include "cluster/protocol.h"
#include "store/store.h"
#include "util/util.h"
#include "weft.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WHY_NEVER "orchestrator stopped before the job started"

static const char *weft_bin, *module, *broker_dir, *broker_cmd;
static char broker_url[512], root[2048];
static unsigned seed;
static long ninjected, nsurvived;
static int npassed, nfailed, napps;
static double deadline; /* monotonic seconds after which long sections stop early */
static const char *only; /* --only NAME: run the sections whose name starts so */

static bool section(const char *name)
{
    return !only || strncmp(name, only, strlen(only)) == 0;
}

static double now_s(void) { return (double)weft__mono_ns() / 1e9; }

/* Sleeps until an absolute deadline, so a signal cannot stretch the wait. */
static void sleep_ms(long ms)
{
    struct timespec until = weft__mono_deadline((int64_t)ms * 1000000);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {}
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  VIOLATION ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    return 1;
}

/* One step's verdict: `violations` 0 passes; `faulted` counts an injection. */
static void verdict(const char *what, bool faulted, int violations)
{
    if (faulted) ninjected++;
    if (violations == 0) {
        npassed++;
        if (faulted) nsurvived++;
        return;
    }
    nfailed++;
    printf("FAIL %s: %d violation%s\n", what, violations, violations == 1 ? "" : "s");
    fflush(stdout);
}

/* ---- applications: config.toml, the module, a markers folder ---- */

typedef struct app {
    char dir[2300];
    char queue[96];
} app;

/* a -> f1, f2, f3 -> j: a fan-out and a join, each job sleeping `ms`. */
static void app_setup(app *a, const char *mode, int ms)
{
    snprintf(a->dir, sizeof a->dir, "%s/app%d", root, ++napps);
    snprintf(a->queue, sizeof a->queue, "weft.faults.%d.%d", (int)getpid(), napps);
    char path[2400], *cfg = NULL;
    snprintf(path, sizeof path, "%s/markers", a->dir);
    if (mkdir(a->dir, 0777) || mkdir(path, 0777)) {
        perror(path);
        exit(2);
    }
    snprintf(path, sizeof path, "%s/faultfns.so", a->dir);
    if (symlink(module, path)) {
        perror(path);
        exit(2);
    }
    char task[5][2800];
    static const char *const ids[] = {"t0", "f1", "f2", "f3", "j"};
    static const char *const ins[] = {"[]", "[\"a:SECTION\"]", "[\"a:SECTION\"]", "[\"a:SECTION\"]",
                                      "[\"b1:SECTION\", \"b2:SECTION\", \"b3:SECTION\"]"};
    static const char *const outs[] = {"a", "b1", "b2", "b3", "c"};
    for (int i = 0; i < 5; i++)
        snprintf(task[i], sizeof task[i],
                 "[TASK.%s]\nfunction = \"faultfns.mark:function\"\ninputs = %s\n"
                 "outputs = [\"%s:SECTION\"]\nmarkers = \"%s/markers\"\nms = \"%d\"\n",
                 ids[i], ins[i], outs[i], a->dir, ms);
    bool cluster = strcmp(mode, "cluster") == 0;
    if (asprintf(&cfg,
                 "[CORE]\nstorage_folder = \".weft/\"\n"
                 "[JOB]\nmode = \"%s\"\nmax_nb_of_workers = \"2:int\"\n%s%s%s%s%s"
                 "[DATA_NODE.a]\nstorage_type = \"text\"\n[DATA_NODE.b1]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.b2]\nstorage_type = \"text\"\n[DATA_NODE.b3]\nstorage_type = \"text\"\n"
                 "[DATA_NODE.c]\nstorage_type = \"text\"\n%s%s%s%s%s"
                 "[SCENARIO.s]\ntasks = [\"t0:SECTION\", \"f1:SECTION\", \"f2:SECTION\", "
                 "\"f3:SECTION\", \"j:SECTION\"]\n",
                 mode, cluster ? "broker_url = \"" : "", cluster ? broker_url : "",
                 cluster ? "\"\nqueue = \"" : "", cluster ? a->queue : "",
                 cluster ? "\"\nmax_attempts = \"3:int\"\n" : "", task[0], task[1], task[2],
                 task[3], task[4]) < 0)
        exit(2);
    snprintf(path, sizeof path, "%s/config.toml", a->dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(cfg, f) < 0 || fclose(f)) {
        perror(path);
        exit(2);
    }
    free(cfg);
}

static weft_config *app_config(const app *a, char *err)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/config.toml", a->dir);
    weft_config *c = weft_config_new();
    if (c && weft_config_load(c, path, err) == WEFT_OK) return c;
    weft_config_free(c);
    return NULL;
}

/* Opens, optionally creates and submits "s" (waiting), closes: the first
 * error.  Opening recovers what a fault or a kill left. */
static weft_err app_run(const app *a, bool submit, weft_submission_status *st, char *err)
{
    weft_config *c = app_config(a, err);
    if (!c) return WEFT_ECONFIG;
    weft_orchestrator_opts opts = {.application_path = a->dir};
    weft_orchestrator *o = NULL;
    char *sc = NULL, *sub = NULL;
    weft_err e = weft_orchestrator_open(c, &opts, &o, err);
    if (!e && submit) e = weft_scenario_create(o, "s", &sc, err);
    weft_submit_opts so = {.wait = true, .timeout_ms = 60000};
    if (!e && submit) e = weft_submit(o, sc, &so, &sub, err);
    weft_submission_info *si = NULL;
    if (!e && submit && st && !(e = weft_submission_get(o, sub, &si, err))) *st = si->status;
    weft_submission_info_free(si);
    weft_orchestrator_close(o);
    free(sc);
    free(sub);
    weft_config_free(c);
    return e;
}

/* ---- invariants ---- */

static sqlite3 *store_db(const app *a)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/.weft/weft.db", a->dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* weft_store_check(): integrity_check and weft's own invariants. */
static int check_store(const app *a)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_config *c = app_config(a, err);
    if (!c) return bad("%s: config: %s", a->dir, err);
    weft_orchestrator_opts opts = {.application_path = a->dir};
    char **p = NULL;
    size_t n = 0;
    int v = 0;
    weft_err e = weft_store_check(c, &opts, &p, &n, err);
    if (e == WEFT_ENOTFOUND) e = WEFT_OK, n = 0; /* failed before the store existed */
    if (e) v += bad("%s: store check: %s", a->dir, err);
    for (size_t i = 0; i < n; i++) v += bad("%s: %s", a->dir, p[i]);
    weft_strv_free(p, n);
    weft_config_free(c);
    return v;
}

/* Every marker's job shows as started: RUNNING recorded, or handed over. */
static int check_markers(const app *a, sqlite3 *db)
{
    char path[2400];
    snprintf(path, sizeof path, "%s/markers", a->dir);
    DIR *d = opendir(path);
    if (!d) return bad("%s: no markers folder", a->dir);
    sqlite3_stmt *st = NULL;
    int v = 0;
    struct dirent *de;
    if (!db) { /* no store at all: no job may have run */
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.') v += bad("job %s ran but there is no store", de->d_name);
        closedir(d);
        return v;
    }
    if (sqlite3_prepare_v2(db, "SELECT ts3, dispatched_us, ifnull(error, '') FROM jobs WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        v += bad("%s: %s", a->dir, sqlite3_errmsg(db));
    while (st && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        sqlite3_bind_text(st, 1, de->d_name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW) {
            v += bad("job %s ran but is not in the store", de->d_name);
        } else if (sqlite3_column_int64(st, 0) == 0 && sqlite3_column_int64(st, 1) == 0) {
            v += bad("job %s ran but the store never saw it start", de->d_name);
        } else if (strcmp((const char *)sqlite3_column_text(st, 2), WHY_NEVER) == 0) {
            v += bad("job %s ran but is recorded as never started", de->d_name);
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    closedir(d);
    return v;
}

/* Rows of `sql` are problems (one text column each). */
static int check_sql(const app *a, sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return bad("%s: %s", a->dir, sqlite3_errmsg(db));
    int v = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        v += bad("%s: %s", a->dir, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

static int check_app(const app *a)
{
    int v = check_store(a);
    sqlite3 *db = store_db(a);
    if (!db) {
        /* No store: then no job may have run. */
        char path[2400];
        snprintf(path, sizeof path, "%s/.weft/weft.db", a->dir);
        if (access(path, F_OK) == 0) return v + bad("%s: cannot open the store", a->dir);
        return v + check_markers(a, NULL);
    }
    v += check_sql(a, db, "SELECT printf('job %s still %d after recovery', id, status)"
                          " FROM jobs WHERE status < 4");
    /* Each completed job's output was recorded once (the task writes the
     * node named by its config: t0 -> a, f<i> -> b<i>, j -> c). */
    v += check_sql(a, db,
                   "SELECT printf('job %s completed but its output was recorded %d times', j.id,"
                   " (SELECT count(*) FROM dn_edits e JOIN data_nodes d ON d.id = e.dn_id"
                   "  WHERE e.job_id = j.id AND d.config_id = CASE j.task_config_id"
                   "  WHEN 't0' THEN 'a' WHEN 'j' THEN 'c' ELSE 'b' || substr(j.task_config_id, 2)"
                   "  END)) FROM jobs j WHERE j.status = 6 AND (SELECT count(*) FROM dn_edits e"
                   "  JOIN data_nodes d ON d.id = e.dn_id WHERE e.job_id = j.id AND d.config_id ="
                   "  CASE j.task_config_id WHEN 't0' THEN 'a' WHEN 'j' THEN 'c'"
                   "  ELSE 'b' || substr(j.task_config_id, 2) END) <> 1");
    v += check_markers(a, db);
    sqlite3_close(db);
    return v;
}

/* ---- sweep: the Nth store write fails ---- */

static void remove_tree(const char *dir)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && system(cmd) != 0) {}
    free(cmd);
}

/* One run with the fault at write n: run, recover, check, run again. */
static void sweep_one(const char *mode, const app *shared, long n, weft__fault_kind kind,
                      bool persistent)
{
    app a;
    if (shared)
        a = *shared; /* cluster: the workers serve one application */
    else
        app_setup(&a, mode, 0);
    char err[WEFT_ERRBUF_SIZE] = "";
    weft__store_fault_arm(n, kind, persistent);
    weft_err e = app_run(&a, true, NULL, err);
    weft__store_fault_disarm();
    bool hit = weft__store_fault_injected() > 0;
    int v = 0;
    if (hit && e == WEFT_OK) {
        /* A failed write that SQLite retried or did not need (a journal
         * sync at close) may leave the run whole; the checks below hold. */
    }
    char rerr[WEFT_ERRBUF_SIZE] = "";
    if (app_run(&a, false, NULL, rerr) != WEFT_OK) v += bad("%s: reopening: %s", a.dir, rerr);
    v += check_app(&a);
    weft_submission_status st = WEFT_SUBMISSION_FAILED;
    if (!v && (app_run(&a, true, &st, rerr) != WEFT_OK || st != WEFT_SUBMISSION_COMPLETED))
        v += bad("%s: the next run did not complete: %s", a.dir, rerr);
    if (!v) v += check_app(&a);
    char what[256];
    snprintf(what, sizeof what, "sweep %s write %ld %s%s", mode, n,
             kind == WEFT__FAULT_FULL ? "disk full" : "I/O error", persistent ? " (stays)" : "");
    if (v) printf("  %s: the run said: %s\n", what, e ? err : "ok");
    verdict(what, hit, v);
    if (!v && !shared) remove_tree(a.dir);
}

static pid_t start_worker(const app *a, int n);
static int wait_for(pid_t pid, long timeout_ms);

/* Every `stride`th write n fails in turn; with `both`, as a disk that stays
 * full and as one I/O error, else the two alternate (odd n: full, even n:
 * I/O).  Cluster mode runs against two `weft run-worker` processes. */
static void sweep(const char *mode, bool both, long stride)
{
    app a;
    app_setup(&a, mode, 0);
    bool cluster = strcmp(mode, "cluster") == 0;
    pid_t w[2] = {0, 0};
    for (int k = 0; cluster && k < 2; k++) w[k] = start_worker(&a, k);
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_submission_status st = WEFT_SUBMISSION_FAILED;
    weft__store_fault_arm(0, WEFT__FAULT_IOERR, false); /* count only */
    weft_err e = app_run(&a, true, &st, err);
    long writes = weft__store_fault_writes();
    weft__store_fault_disarm();
    long n = writes + 3;
    if (e || st != WEFT_SUBMISSION_COMPLETED) {
        verdict("sweep count run", false, bad("%s: %s", mode, e ? err : "not completed"));
        n = 0;
    } else {
        printf("faults: sweep %s: %ld store writes in a run, failing every %s in turn\n", mode,
               writes, stride == 1 ? "one" : "few");
    }
    const app *shared = cluster ? &a : NULL;
    for (n = n ? 1 : writes + 3; n <= writes + 2 && now_s() < deadline; n += stride) {
        if (both || n % 2) sweep_one(mode, shared, n, WEFT__FAULT_FULL, true);
        if (both || n % 2 == 0) sweep_one(mode, shared, n, WEFT__FAULT_IOERR, false);
    }
    if (n <= writes + 2) printf("faults: sweep %s stopped at write %ld: time budget\n", mode, n);
    for (int k = 0; k < 2; k++) {
        if (!w[k]) continue;
        kill(w[k], SIGTERM);
        if (wait_for(w[k], 20000) < 0) kill(-w[k], SIGKILL), waitpid(w[k], NULL, 0);
    }
}

/* ---- real processes: kill -9, broker restarts ---- */

/* Starts `weft ARGS...` in dir, in a process group of its own. */
static pid_t spawn(const char *dir, const char *log, char *const argv[])
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    setpgid(0, 0);
    if (chdir(dir) == 0) {
        FILE *f = freopen(log, "a", stdout);
        if (f && dup2(fileno(f), 2) >= 0) execv(weft_bin, argv);
    }
    _exit(127);
}

/* Waits at most timeout_ms for pid; its wait status, or -1 (still running). */
static int wait_for(pid_t pid, long timeout_ms)
{
    int st;
    for (long t = 0; t <= timeout_ms; t += 20) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return st;
        sleep_ms(20);
    }
    return -1;
}

static pid_t start_worker(const app *a, int n)
{
    char log[64];
    snprintf(log, sizeof log, "worker-%d.log", n);
    char *argv[] = {"weft", "run-worker", "--application-path", (char *)a->dir, "--queue",
                    (char *)a->queue, "--concurrency", "2", NULL};
    return spawn(a->dir, log, argv);
}

/* A random number for step i of a section (seeds printed with it). */
static unsigned step_seed(unsigned salt, int i)
{
    unsigned r = (seed ^ (salt * 2654435761u)) + (unsigned)i * 40503u;
    rand_r(&r);
    return r;
}

/* How long an undisturbed `weft run` of the app takes, in ms (0: it failed). */
static long calibrate(const app *a)
{
    char *argv[] = {"weft", "run", "-c", "config.toml", "-q", NULL};
    double t0 = now_s();
    int st = wait_for(spawn(a->dir, "run.log", argv), 120000);
    long ms = (long)((now_s() - t0) * 1000);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        verdict("calibration run", false, bad("%s: weft run failed (see run.log)", a->dir));
        return 0;
    }
    printf("faults: a whole run takes %ld ms in %s\n", ms, a->dir);
    return ms;
}

/* `weft check --store` agrees: exit status 0 (what a user would run). */
static int check_cli(const app *a)
{
    char *argv[] = {"weft", "check", "--store", "-c", "config.toml", NULL};
    int st = wait_for(spawn(a->dir, "check.log", argv), 60000);
    if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    return bad("%s: weft check --store failed (see check.log)", a->dir);
}

static void kill_one(const app *a, const char *mode, int i, unsigned s, long span)
{
    unsigned r = s;
    long delay = (long)(rand_r(&r) % (unsigned)span);
    char *argv[] = {"weft", "run", "-c", "config.toml", "-q", NULL};
    pid_t pid = spawn(a->dir, "run.log", argv);
    sleep_ms(delay);
    kill(pid, SIGKILL);
    if (strcmp(mode, "cluster") != 0) kill(-pid, SIGKILL); /* its pool goes with it */
    int st = wait_for(pid, 10000);
    char err[WEFT_ERRBUF_SIZE] = "";
    int v = 0;
    /* Restart: opening recovers (cluster: resumes, and closing waits). */
    if (app_run(a, false, NULL, err) != WEFT_OK) v += bad("%s: reopening: %s", a->dir, err);
    v += check_app(a);
    v += check_cli(a);
    char what[160];
    snprintf(what, sizeof what, "kill9 %s #%d (seed %u, after %ld ms)", mode, i, s, delay);
    printf("faults: %s: %s\n", what,
           st >= 0 && WIFSIGNALED(st) ? "killed" : "had already finished");
    verdict(what, st >= 0 && WIFSIGNALED(st), v);
}

static void kill9(const char *mode, int iterations)
{
    app a;
    app_setup(&a, mode, 100);
    pid_t w[2] = {0, 0};
    bool cluster = strcmp(mode, "cluster") == 0;
    if (cluster)
        for (int k = 0; k < 2; k++) w[k] = start_worker(&a, k);
    long span = calibrate(&a);
    for (int i = 1; span > 0 && i <= iterations && now_s() < deadline; i++)
        kill_one(&a, mode, i, step_seed(cluster ? 2 : 1, i), span);
    for (int k = 0; k < 2; k++) {
        if (!w[k]) continue;
        kill(w[k], SIGTERM);
        if (wait_for(w[k], 20000) < 0) kill(-w[k], SIGKILL), waitpid(w[k], NULL, 0);
    }
}

static void restart_one(const app *a, int i, unsigned s)
{
    unsigned r = s;
    long delay = 100 + (long)(rand_r(&r) % 900);
    char *argv[] = {"weft", "run", "-c", "config.toml", "-q", NULL};
    pid_t pid = spawn(a->dir, "run.log", argv);
    sleep_ms(delay);
    char *cmd = NULL;
    int rc = -1;
    if (asprintf(&cmd, "%s restart '%s' >/dev/null 2>&1", broker_cmd, broker_dir) >= 0)
        rc = system(cmd);
    free(cmd);
    int st = wait_for(pid, 120000);
    int v = 0;
    if (rc != 0) v += bad("the broker did not restart");
    if (st < 0) {
        v += bad("weft run did not finish within 120 s of a broker restart");
        kill(-pid, SIGKILL);
        waitpid(pid, NULL, 0);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        v += bad("weft run exited with status %d after a broker restart (see %s/run.log)",
                 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), a->dir);
    }
    char err[WEFT_ERRBUF_SIZE] = "";
    if (app_run(a, false, NULL, err) != WEFT_OK) v += bad("%s: reopening: %s", a->dir, err);
    v += check_app(a);
    v += check_cli(a);
    char what[160];
    snprintf(what, sizeof what, "broker restart #%d (seed %u, after %ld ms)", i, s, delay);
    printf("faults: %s\n", what);
    verdict(what, true, v);
}

static void restarts(int iterations)
{
    app a;
    app_setup(&a, "cluster", 300);
    pid_t w[2];
    for (int k = 0; k < 2; k++) w[k] = start_worker(&a, k);
    for (int i = 1; i <= iterations && now_s() < deadline; i++) restart_one(&a, i, step_seed(3, i));
    for (int k = 0; k < 2; k++) {
        kill(w[k], SIGTERM);
        if (wait_for(w[k], 20000) < 0) kill(-w[k], SIGKILL), waitpid(w[k], NULL, 0);
    }
}

/* ---- malformed messages ---- */

/* Deliveries of `queue` within timeout_ms of quiet, consumed without ack. */
static long drain(weft__amqp *c, const char *queue, long want, int timeout_ms)
{
    char err[WEFT_ERRBUF_SIZE];
    char *tag = NULL;
    if (weft__amqp_consume(c, queue, true, &tag, err)) return -1;
    long n = 0;
    double until = now_s() + timeout_ms / 1000.0;
    while (now_s() < until && (want < 0 || n < want)) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        weft_err e = weft__amqp_next(c, 200, &ev, err);
        if (e == WEFT_OK && ev.kind == WEFT__AMQP_DELIVERY) n++;
        weft__amqp_event_release(&ev);
        if (e && e != WEFT_ETIMEDOUT) break;
    }
    weft__amqp_cancel(c, tag, err);
    free(tag);
    return n;
}

/* Message k: random bytes, or a valid job message cut short. */
static char *bad_message(int k, unsigned *r, size_t *len)
{
    char *m = NULL;
    if (k % 2 == 0) {
        *len = 1 + rand_r(r) % 512;
        m = malloc(*len);
        for (size_t i = 0; m && i < *len; i++) m[i] = (char)(rand_r(r) & 0xff);
        return m;
    }
    weft__job_spec spec = WEFT__JOB_SPEC_INIT;
    char id[64], err[WEFT_ERRBUF_SIZE];
    snprintf(id, sizeof id, "JOB_t0_malformed_%d", k);
    spec.job_id = id;
    spec.task_id = "TASK_t0_malformed";
    spec.task_config_id = "t0";
    spec.attempt = 1;
    /* Any digest: the message is cut short before a worker could check it. */
    static const char digest[] = "0000000000000000000000000000000000000000000000000000000000000000";
    if (weft__cluster_job_encode(&spec, digest, 1, 3, "nowhere.status", &m, len, err) ||
        *len < 2) {
        free(m);
        return NULL;
    }
    *len = 1 + rand_r(r) % (*len - 1); /* cut short: never whole JSON */
    return m;
}

static void malformed(int count)
{
    app a;
    app_setup(&a, "cluster", 0);
    pid_t w = start_worker(&a, 0);
    char err[WEFT_ERRBUF_SIZE] = "";
    weft__amqp_opts o = {.url = broker_url, .confirms = true};
    weft__amqp *c = NULL;
    char *dead = weft__cluster_name(a.queue, "dead");
    int v = 0;
    /* The worker declares the queues; wait until it has. */
    sleep_ms(1500);
    if (weft__amqp_open(&o, &c, err) || weft__cluster_declare(c, a.queue, err)) {
        verdict("malformed: connect", false, bad("%s", err));
        goto out;
    }
    unsigned r = step_seed(4, 0);
    printf("faults: malformed: %d messages (seed %u)\n", count, r);
    for (int k = 0; k < count; k++) {
        size_t len = 0;
        char *m = bad_message(k, &r, &len);
        if (!m || weft__amqp_publish_wait(c, "", a.queue, m, len, true, 0, err))
            v += bad("publishing message %d: %s", k, m ? err : "cannot build");
        free(m);
    }
    long got = drain(c, dead, count, 20000);
    if (got != count) v += bad("%ld of %d malformed messages dead-lettered", got, count);
    if (waitpid(w, NULL, WNOHANG) != 0) v += bad("the worker died (see %s/worker-0.log)", a.dir);
    /* It still serves: a whole run completes. */
    weft_submission_status st = WEFT_SUBMISSION_FAILED;
    if (!v && (app_run(&a, true, &st, err) || st != WEFT_SUBMISSION_COMPLETED))
        v += bad("a run after the malformed messages did not complete: %s", err);
    v += check_app(&a);
    for (int k = 0; k < count; k++) verdict("malformed message", true, v);
out:
    weft__amqp_close(c);
    free(dead);
    kill(w, SIGTERM);
    if (wait_for(w, 20000) < 0) kill(-w, SIGKILL), waitpid(w, NULL, 0);
}

/* ---- delete: a deletion failed at every write, or killed ---- */

/* Creates scenario "s" `runs` times and runs each, the first one `again`
 * more times: *first (caller frees) the first one's id.  Then forgets the
 * markers: a deleted job's marker would be a job that ran and is not in
 * the store. */
static weft_err delete_setup(const app *a, int runs, int again, char **first, char *err)
{
    weft_config *c = app_config(a, err);
    if (!c) return WEFT_ECONFIG;
    weft_orchestrator_opts opts = {.application_path = a->dir};
    weft_orchestrator *o = NULL;
    weft_err e = weft_orchestrator_open(c, &opts, &o, err);
    *first = NULL;
    for (int i = 0; !e && i < runs; i++) {
        char *sc = NULL;
        weft_submit_opts so = {.wait = true, .timeout_ms = 60000};
        if (!(e = weft_scenario_create(o, "s", &sc, err))) e = weft_submit(o, sc, &so, NULL, err);
        if (!*first) *first = sc;
        else free(sc);
    }
    for (int i = 0; !e && i < again; i++) {
        weft_submit_opts so = {.wait = true, .timeout_ms = 60000};
        e = weft_submit(o, *first, &so, NULL, err);
    }
    weft_orchestrator_close(o);
    weft_config_free(c);
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -f '%s'/markers/*", a->dir) >= 0 && system(cmd) != 0) {}
    free(cmd);
    return e;
}

/* The rows of scenario `scen` (itself, tasks, own data nodes, submissions,
 * jobs), -1 when the store cannot be read; *files: how many of its data
 * nodes' files exist. */
static long scenario_rows(const app *a, const char *scen, long *files)
{
    sqlite3 *db = store_db(a);
    sqlite3_stmt *st = NULL;
    long n = -1;
    *files = 0;
    if (db && sqlite3_prepare_v2(db,
                                 "SELECT (SELECT count(*) FROM scenarios WHERE id = ?1)"
                                 " + (SELECT count(*) FROM tasks WHERE scenario_id = ?1)"
                                 " + (SELECT count(*) FROM data_nodes WHERE scenario_id = ?1)"
                                 " + (SELECT count(*) FROM submissions WHERE entity_id = ?1)"
                                 " + (SELECT count(*) FROM jobs WHERE entity_id = ?1)",
                                 -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, scen, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) n = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (db && sqlite3_prepare_v2(db, "SELECT path FROM data_nodes WHERE scenario_id = ?1", -1, &st,
                                 NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, scen, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            *files += access((const char *)sqlite3_column_text(st, 0), F_OK) == 0;
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* After a failed or killed deletion: the store's invariants, the scenario
 * whole (rows and files) or gone, and the store still runs a scenario. */
static int check_deleted(const app *a, const char *scen, long whole, long files)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    int v = 0;
    if (app_run(a, false, NULL, err) != WEFT_OK) v += bad("%s: reopening: %s", a->dir, err);
    v += check_app(a);
    long f, n = scenario_rows(a, scen, &f);
    if (n != 0 && (n != whole || f != files))
        v += bad("%s: scenario %s has %ld of its %ld rows and %ld of its %ld files", a->dir, scen,
                 n, whole, f, files);
    weft_submission_status st = WEFT_SUBMISSION_FAILED;
    if (!v && (app_run(a, true, &st, err) != WEFT_OK || st != WEFT_SUBMISSION_COMPLETED))
        v += bad("%s: the next run did not complete: %s", a->dir, err);
    return v;
}

/* The Nth write of weft_delete() fails, for every N until one succeeds
 * untouched. */
static void delete_sweep(void)
{
    for (long n = 1; now_s() < deadline; n++) {
        app a;
        app_setup(&a, "development", 0);
        char err[WEFT_ERRBUF_SIZE] = "", *scen = NULL;
        long files, whole = -1;
        if (delete_setup(&a, 2, 0, &scen, err) || (whole = scenario_rows(&a, scen, &files)) <= 0) {
            verdict("delete setup", false, bad("%s: %s", a.dir, err[0] ? err : "no rows"));
            free(scen);
            return;
        }
        weft__fault_kind kind = n % 2 ? WEFT__FAULT_IOERR : WEFT__FAULT_FULL;
        weft__store_fault_arm(0, kind, false); /* the store opens on the fault VFS */
        weft_config *c = app_config(&a, err);
        weft_orchestrator_opts opts = {.application_path = a.dir};
        weft_orchestrator *o = NULL;
        weft_err e = c ? weft_orchestrator_open(c, &opts, &o, err) : WEFT_ECONFIG;
        weft__store_fault_arm(n, kind, false);
        if (!e) e = weft_delete(o, scen, 0, NULL, err);
        weft__store_fault_disarm();
        bool hit = weft__store_fault_injected() > 0;
        weft_orchestrator_close(o);
        weft_config_free(c);
        int v = check_deleted(&a, scen, whole, files);
        char what[160];
        snprintf(what, sizeof what, "delete sweep write %ld %s", n,
                 kind == WEFT__FAULT_FULL ? "disk full" : "I/O error");
        if (v) printf("  %s: the deletion said: %s\n", what, e ? err : "ok");
        verdict(what, hit, v);
        if (!v) remove_tree(a.dir);
        free(scen);
        if (!hit || v) {
            printf("faults: delete sweep: %ld writes, each failed in turn\n", n - 1);
            return;
        }
    }
    printf("faults: delete sweep stopped: time budget\n");
}

/* kill -9 of `weft delete` processes at random points of a long deletion
 * (a scenario with 41 submissions: about 200 jobs). */
static void delete_kill9(int iterations)
{
    for (int i = 1; i <= iterations && now_s() < deadline; i++) {
        app a;
        app_setup(&a, "development", 0);
        char err[WEFT_ERRBUF_SIZE] = "", *scen = NULL;
        long files, whole = -1;
        if (delete_setup(&a, 1, 40, &scen, err) || (whole = scenario_rows(&a, scen, &files)) <= 0) {
            verdict("delete setup", false, bad("%s: %s", a.dir, err[0] ? err : "no rows"));
            free(scen);
            return;
        }
        unsigned r = step_seed(7, i);
        long delay = (long)(rand_r(&r) % 30u);
        char *argv[] = {"weft", "delete", "-c", "config.toml", scen, NULL};
        pid_t pid = spawn(a.dir, "delete.log", argv);
        sleep_ms(delay);
        kill(pid, SIGKILL);
        int st = wait_for(pid, 10000);
        int v = check_deleted(&a, scen, whole, files) + check_cli(&a);
        char what[160];
        snprintf(what, sizeof what, "kill9 delete #%d (seed %u, after %ld ms)", i, seed, delay);
        printf("faults: %s: %s, scenario %s\n", what,
               st >= 0 && WIFSIGNALED(st) ? "killed" : "had already finished",
               scenario_rows(&a, scen, &files) == 0 ? "gone" : "whole");
        verdict(what, st >= 0 && WIFSIGNALED(st), v);
        if (!v) remove_tree(a.dir);
        free(scen);
    }
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: faults --weft PATH --module PATH --root DIR [--seed N] [--budget S]\n"
                    "              [--broker-dir DIR --broker-cmd PATH] [--only SECTION]\n"
                    "sections: sweep-development sweep-standalone kill9-standalone delete\n"
                    "          sweep-cluster kill9-cluster malformed restart\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double budget = 420;
    seed = (unsigned)time(NULL);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--weft")) weft_bin = argv[i + 1];
        else if (!strcmp(argv[i], "--module")) module = argv[i + 1];
        else if (!strcmp(argv[i], "--root")) snprintf(root, sizeof root, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--budget")) budget = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--broker-dir")) broker_dir = argv[i + 1];
        else if (!strcmp(argv[i], "--broker-cmd")) broker_cmd = argv[i + 1];
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else usage();
    }
    if (!weft_bin || !module || !root[0]) usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("faults: seed %u (rerun with --seed %u)\n", seed, seed);
    double t0 = now_s();
    deadline = t0 + budget * 0.45; /* the sweeps' share */
    if (section("sweep-development")) sweep("development", true, 1);
    deadline = t0 + budget * 0.65;
    if (section("sweep-standalone")) sweep("standalone", false, 1);
    deadline = t0 + budget * 0.75;
    if (section("kill9-standalone")) kill9("standalone", 20);
    deadline = t0 + budget * 0.8;
    if (section("delete")) delete_sweep();
    if (section("delete")) delete_kill9(10);
    if (broker_dir) {
        FILE *f;
        char path[2400];
        snprintf(path, sizeof path, "%s/url", broker_dir);
        if ((f = fopen(path, "r")) && fgets(broker_url, sizeof broker_url, f))
            broker_url[strcspn(broker_url, "\n")] = '\0';
        if (f) fclose(f);
        deadline = t0 + budget * 0.85;
        if (section("sweep-cluster")) sweep("cluster", false, 3);
        deadline = t0 + budget * 0.92;
        if (section("kill9-cluster")) kill9("cluster", 10);
        if (section("malformed")) malformed(40);
        deadline = t0 + budget;
        if (broker_cmd && section("restart")) restarts(2);
    } else {
        printf("faults: no broker: cluster, broker restarts and malformed messages skipped\n");
    }
    printf("faults: %ld injected, %ld survived\n", ninjected, nsurvived);
    printf("faults: %d passed, %d failed (%.0f s)\n", npassed, nfailed, now_s() - t0);
    return nfailed ? 1 : 0;
}
