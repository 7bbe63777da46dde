/* SPDX-License-Identifier: MIT */
/*
 * test_example.c - the example pipeline in examples/sales runs end to end.
 *
 * The end-to-end tests copy examples/sales (config, data and the sales.so
 * that `make` builds there) into the test's temporary directory and drive
 * it with the `weft` command, as a user would.  They check the report's
 * figures against totals computed here, independently, from data/sales.csv
 * with the cleaning rules the example documents; then that a second run
 * skips the skippable tasks, and that appending a row reruns them and moves
 * the totals by exactly that row.  In standalone mode, and in cluster mode
 * with 2 and 3 `weft run-worker` processes on the test broker, the report
 * must be the same as in development mode.  Job statuses and the report are read
 * back through the library (a read-only orchestrator), not by parsing the
 * command's output.
 *
 * The unit-level tests build a small weft_config in code around one task
 * function of sales.so and run it in development mode.
 */
#define _GNU_SOURCE /* asprintf */
#include "test.h"
#include "weft.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Error buffers are used through a pointer (`*err = errbuf`): ASSERT_OK
 * tests its buffer argument for NULL, which -Waddress rejects for an array. */

/* ---- expected figures, computed from the csv ------------------------------ */

#define MAX_GROUPS 64

typedef struct tally {
    char key[64];
    long long rows, units, cents;
} tally;

typedef struct expected {
    long long rows, units, cents;
    tally region[MAX_GROUPS], product[MAX_GROUPS], month[MAX_GROUPS];
    int nregion, nproduct, nmonth;
} expected;

static void add_to(tally *t, int *n, const char *key, long long units, long long cents)
{
    int i = 0;
    while (i < *n && strcmp(t[i].key, key) != 0) i++;
    if (i == *n) {
        ASSERT_LT(*n, MAX_GROUPS);
        memset(&t[i], 0, sizeof t[i]);
        snprintf(t[i].key, sizeof t[i].key, "%s", key);
        (*n)++;
    }
    t[i].rows++;
    t[i].units += units;
    t[i].cents += units * cents;
}

/* Trims in place; returns the start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static bool all_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/*
 * The rules of examples/sales/README.md, written independently of sales.c:
 * a line equal to the line before it is a duplicate (uniq); then a row
 * needs five non-blank fields, a YYYY-MM-DD date, whole positive units and
 * a price with at most two decimals; fields are trimmed and region names
 * title-cased.  The sample has no quoted fields, so splitting on commas is
 * enough here.
 */
static void compute_expected(const char *csv_path, expected *ex)
{
    memset(ex, 0, sizeof *ex);
    char *text = test_read_file(csv_path, NULL);
    char *prev = NULL;
    bool header = true;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        else if (!*line) break; /* the end of a file that ends with a newline */
        if (prev && strcmp(prev, line) == 0) continue;
        prev = line;
        if (header) {
            header = false;
            continue;
        }
        char copy[512];
        snprintf(copy, sizeof copy, "%s", line);
        char *f[6];
        int n = 0;
        for (char *p = copy, *comma; n < 6; p = comma + 1) {
            comma = strchr(p, ',');
            f[n++] = p;
            if (!comma) break;
            *comma = '\0';
        }
        if (n != 5) continue;
        bool ok = true;
        for (int i = 0; i < 5; i++) {
            f[i] = trim(f[i]);
            if (!*f[i]) ok = false;
        }
        if (!ok) continue;
        const char *d = f[0];
        if (strlen(d) != 10 || d[4] != '-' || d[7] != '-') continue;
        char y[5], m[3], dd[3];
        snprintf(y, sizeof y, "%.4s", d);
        snprintf(m, sizeof m, "%.2s", d + 5);
        snprintf(dd, sizeof dd, "%.2s", d + 8);
        if (!all_digits(y, 4, 4) || !all_digits(m, 2, 2) || !all_digits(dd, 2, 2)) continue;
        if (atoi(m) < 1 || atoi(m) > 12 || atoi(dd) < 1 || atoi(dd) > 31) continue;
        if (!all_digits(f[3], 1, 9) || atoll(f[3]) <= 0) continue;
        char whole[16] = "", frac[8] = "";
        const char *dot = strchr(f[4], '.');
        if (dot) {
            snprintf(whole, sizeof whole, "%.*s", (int)(dot - f[4]), f[4]);
            snprintf(frac, sizeof frac, "%s", dot + 1);
            if (!all_digits(frac, 0, 2)) continue;
        } else {
            snprintf(whole, sizeof whole, "%s", f[4]);
        }
        if (!all_digits(whole, 1, 7)) continue;
        long long cents = atoll(whole) * 100 + (strlen(frac) == 1 ? atoll(frac) * 10 : atoll(frac));
        long long units = atoll(f[3]);
        char region[64];
        snprintf(region, sizeof region, "%s", f[1]);
        for (char *p = region; *p; p++)
            *p = (char)(p == region || p[-1] == ' ' || p[-1] == '-' ? toupper((unsigned char)*p)
                                                                    : tolower((unsigned char)*p));
        char month[8];
        snprintf(month, sizeof month, "%.7s", d);
        add_to(ex->region, &ex->nregion, region, units, cents);
        add_to(ex->product, &ex->nproduct, f[2], units, cents);
        add_to(ex->month, &ex->nmonth, month, units, cents);
        ex->rows++;
        ex->units += units;
        ex->cents += units * cents;
    }
    free(text);
}

/* ---- reading the report --------------------------------------------------- */

/* Parses "rows units 123.45" after a table row's label. */
static void parse_row(const char *rest, long long *rows, long long *units, long long *cents)
{
    long long whole = -1, frac = -1;
    if (sscanf(rest, "%lld %lld %lld.%2lld", rows, units, &whole, &frac) != 4)
        FAIL("malformed report row: \"%s\"", rest);
    *cents = whole * 100 + frac;
}

/* Finds the table row labelled `key` (the label, then at least two spaces). */
static void check_row(const char *report, const tally *t)
{
    size_t klen = strlen(t->key);
    for (const char *line = report; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, t->key, klen) == 0 && strncmp(line + klen, "  ", 2) == 0) {
            long long rows, units, cents;
            parse_row(line + klen, &rows, &units, &cents);
            if (rows != t->rows || units != t->units || cents != t->cents)
                FAIL("report row \"%s\": rows %lld units %lld cents %lld, expected %lld %lld %lld",
                     t->key, rows, units, cents, t->rows, t->units, t->cents);
            return;
        }
    }
    FAIL("no row \"%s\" in the report:\n%s", t->key, report);
}

static void check_report(const char *report, const expected *ex)
{
    char want[128];
    snprintf(want, sizeof want, "Sales rows:     %lld\n", ex->rows);
    ASSERT_CONTAINS(report, want);
    snprintf(want, sizeof want, "Units sold:     %lld\n", ex->units);
    ASSERT_CONTAINS(report, want);
    snprintf(want, sizeof want, "Revenue:        %lld.%02lld\n", ex->cents / 100, ex->cents % 100);
    ASSERT_CONTAINS(report, want);
    for (int i = 0; i < ex->nregion; i++) check_row(report, &ex->region[i]);
    for (int i = 0; i < ex->nproduct; i++) check_row(report, &ex->product[i]);
    for (int i = 0; i < ex->nmonth; i++) check_row(report, &ex->month[i]);
    /* Every table ends with the same grand total. */
    int ntotals = 0;
    for (const char *p = report; (p = strstr(p, "\nTotal  ")) != NULL; p++) {
        long long rows, units, cents;
        parse_row(p + 6, &rows, &units, &cents);
        ASSERT_EQ(rows, ex->rows);
        ASSERT_EQ(units, ex->units);
        ASSERT_EQ(cents, ex->cents);
        ntotals++;
    }
    ASSERT_EQ(ntotals, 3);
}

/* ---- driving the example -------------------------------------------------- */

/* Copies examples/sales to ./sales, without a store a demo run may have left. */
static void copy_example(void)
{
    char *cmd = NULL, *out = NULL;
    ASSERT(asprintf(&cmd, "test -f '%s/examples/sales/sales.so' && cp -r '%s/examples/sales' sales "
                          "&& rm -rf sales/.weft",
                    test_src_dir(), test_src_dir()) > 0);
    int rc = test_run_cmd(cmd, &out);
    if (rc != 0) FAIL("cannot copy the example (is examples/sales/sales.so built? run make): %s", out);
    free(cmd);
    free(out);
}

/* Runs `weft ARGS` in ./sales; returns its exit status, output in *out (caller frees). */
static int weft_in_sales(const char *args, char **out)
{
    char *cmd = NULL;
    ASSERT(asprintf(&cmd, "cd sales && '%s/weft' %s", test_build_dir(), args) > 0);
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    return rc;
}

static void run_ok(const char *args)
{
    char *out = NULL;
    int rc = weft_in_sales(args, &out);
    printf("    $ weft %s  (exit %d)\n", args, rc);
    if (rc != 0) FAIL("weft %s exited %d:\n%s", args, rc, out);
    free(out);
}

/* The statuses of the jobs of the latest submission, by task config id. */
typedef struct run_result {
    char task[16][32];
    weft_job_status status[16];
    char worker[16][64]; /* where each job ran: "local", "pid N", "host:pid" */
    size_t njobs;
    char *report;
} run_result;

static weft_job_status status_of(const run_result *r, const char *task)
{
    for (size_t i = 0; i < r->njobs; i++)
        if (strcmp(r->task[i], task) == 0) return r->status[i];
    FAIL("no job of task %s in the latest submission", task);
}

/* Reads back the latest submission and the report with a read-only orchestrator. */
static void read_back(run_result *r)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    memset(r, 0, sizeof *r);
    ASSERT_EQ(chdir("sales"), 0);
    weft_config *cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_orchestrator *o = NULL;
    weft_orchestrator_opts opts = {.read_only = true};
    ASSERT_OK(weft_orchestrator_open(cfg, &opts, &o, err), err);

    weft_submission_info **subs = NULL;
    size_t nsubs = 0;
    ASSERT_OK(weft_submissions_list(o, &subs, &nsubs, err), err);
    ASSERT_GT(nsubs, 0);
    weft_job_filter filter = {.submission_id = subs[nsubs - 1]->id, .status = -1};
    weft_job_info **jobs = NULL;
    size_t njobs = 0;
    ASSERT_OK(weft_jobs_list(o, &filter, &jobs, &njobs, err), err);
    ASSERT_LE(njobs, 16);
    for (size_t i = 0; i < njobs; i++) {
        snprintf(r->task[i], sizeof r->task[i], "%s", jobs[i]->task_config_id);
        r->status[i] = jobs[i]->status;
        snprintf(r->worker[i], sizeof r->worker[i], "%s", jobs[i]->worker ? jobs[i]->worker : "");
        printf("      %-10s %s\n", jobs[i]->task_config_id, weft_job_status_name(jobs[i]->status));
    }
    r->njobs = njobs;
    weft_job_list_free(jobs, njobs);
    weft_submission_list_free(subs, nsubs);

    size_t len = 0;
    ASSERT_OK(weft_data_read(o, "report", &r->report, &len, err), err);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
    ASSERT_EQ(chdir(".."), 0);
}

static const char *const all_tasks[] = {"dedupe", "clean", "by_region", "by_product",
                                        "by_month", "merge", "render"};
#define NTASKS (sizeof all_tasks / sizeof all_tasks[0])

TEST(pipeline_runs_skips_and_reruns)
{
    copy_example();
    expected ex;
    compute_expected("sales/data/sales.csv", &ex);
    printf("    expected: %lld rows, %lld units, %lld cents\n", ex.rows, ex.units, ex.cents);
    ASSERT_GT(ex.rows, 50);

    /* First run: everything runs. */
    run_ok("check -c config.toml");
    run_ok("run -c config.toml");
    run_result r;
    read_back(&r);
    ASSERT_EQ(r.njobs, NTASKS);
    for (size_t i = 0; i < NTASKS; i++) ASSERT_EQ(status_of(&r, all_tasks[i]), WEFT_JOB_COMPLETED);
    check_report(r.report, &ex);

    /* The command shows the same report. */
    char *out = NULL;
    ASSERT_EQ(weft_in_sales("data report -c config.toml", &out), 0);
    ASSERT_CONTAINS(out, "Sales report");
    char want[64];
    snprintf(want, sizeof want, "Units sold:     %lld\n", ex.units);
    ASSERT_CONTAINS(out, want);
    free(out);
    free(r.report);

    /* Nothing changed: the skippable tasks are skipped, report re-renders. */
    run_ok("run -c config.toml");
    read_back(&r);
    ASSERT_EQ(r.njobs, NTASKS);
    for (size_t i = 0; i < NTASKS; i++)
        ASSERT_EQ(status_of(&r, all_tasks[i]),
                  strcmp(all_tasks[i], "render") == 0 ? WEFT_JOB_COMPLETED : WEFT_JOB_SKIPPED);
    check_report(r.report, &ex);
    free(r.report);

    /* A late sale arrives: every task downstream of the input runs again. */
    FILE *f = fopen("sales/data/sales.csv", "a");
    ASSERT(f != NULL);
    fputs("2024-03-30, west ,Burr Grinder,3,129.99\n", f);
    ASSERT_EQ(fclose(f), 0);
    expected ex2;
    compute_expected("sales/data/sales.csv", &ex2);
    ASSERT_EQ(ex2.rows, ex.rows + 1);
    ASSERT_EQ(ex2.units, ex.units + 3);
    ASSERT_EQ(ex2.cents, ex.cents + 3 * 12999);
    run_ok("run -c config.toml");
    read_back(&r);
    for (size_t i = 0; i < NTASKS; i++) ASSERT_EQ(status_of(&r, all_tasks[i]), WEFT_JOB_COMPLETED);
    check_report(r.report, &ex2);
    free(r.report);

    /* --force runs the skippable tasks although nothing changed. */
    run_ok("run -c config.toml --force");
    read_back(&r);
    for (size_t i = 0; i < NTASKS; i++) ASSERT_EQ(status_of(&r, all_tasks[i]), WEFT_JOB_COMPLETED);
    free(r.report);
}

/* The same config runs unchanged with worker processes. */
/* The scenario is MONTHLY and `summary` CYCLE-scoped: the runs of one
 * month share the summary (merge skips), a run of the next month gets a
 * fresh one (merge runs); `weft cycles` shows the months and their primary
 * scenario; the sequence `prepare` runs only its two tasks. */
TEST(pipeline_months_are_cycles)
{
    copy_example();
    run_ok("run -c config.toml --date 2024-01-15");
    run_ok("run -c config.toml --date 2024-01-31T23:59:59");
    run_result r;
    read_back(&r);
    ASSERT_EQ(status_of(&r, "merge"), WEFT_JOB_SKIPPED);
    free(r.report);
    run_ok("run -c config.toml --date 2024-02-01");
    read_back(&r);
    ASSERT_EQ(status_of(&r, "by_region"), WEFT_JOB_SKIPPED); /* GLOBAL, up to date */
    ASSERT_EQ(status_of(&r, "merge"), WEFT_JOB_COMPLETED);   /* February's own summary */
    free(r.report);

    char *out = NULL;
    ASSERT_EQ(weft_in_sales("cycles -c config.toml --json", &out), 0);
    json_error_t jerr;
    json_t *v = json_loads(out, 0, &jerr);
    if (!v) FAIL("weft cycles --json: %s\n%s", jerr.text, out);
    free(out);
    ASSERT_EQ(json_array_size(v), 2);
    json_t *jan = json_array_get(v, 0), *feb = json_array_get(v, 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(jan, "name")), "January 2024");
    ASSERT_STR_EQ(json_string_value(json_object_get(feb, "name")), "February 2024");
    json_t *js = json_object_get(jan, "scenarios");
    ASSERT_EQ(json_array_size(js), 2);
    ASSERT(json_is_true(json_object_get(json_array_get(js, 0), "primary")));
    ASSERT(json_is_false(json_object_get(json_array_get(js, 1), "primary")));
    ASSERT_STR_EQ(json_string_value(json_object_get(jan, "primary_scenario")),
                  json_string_value(json_object_get(json_array_get(js, 0), "id")));
    json_decref(v);

    run_ok("run -c config.toml --sequence prepare --date 2024-02-02");
    read_back(&r);
    ASSERT_EQ(r.njobs, 2);
    ASSERT_EQ(status_of(&r, "dedupe"), WEFT_JOB_SKIPPED);
    ASSERT_EQ(status_of(&r, "clean"), WEFT_JOB_SKIPPED);
    free(r.report);
}

TEST(pipeline_runs_in_standalone_mode)
{
    copy_example();
    expected ex;
    compute_expected("sales/data/sales.csv", &ex);
    run_ok("run -c config.toml --mode standalone --workers 2");
    run_result r;
    read_back(&r);
    ASSERT_EQ(r.njobs, NTASKS);
    for (size_t i = 0; i < NTASKS; i++) ASSERT_EQ(status_of(&r, all_tasks[i]), WEFT_JOB_COMPLETED);
    check_report(r.report, &ex);
    free(r.report);
}

/* ---- cluster mode ------------------------------------------------------------ */

/* Points sales/config.toml at the test broker (WEFT_TEST_BROKER_URL, set by
 * scripts/run-tests) in cluster mode, with a queue of this test's own. */
static void use_cluster(const char *tag)
{
    const char *url = getenv("WEFT_TEST_BROKER_URL");
    if (!url || !*url) FAIL("WEFT_TEST_BROKER_URL is not set: run through scripts/run-tests");
    char *cfg = test_read_file("sales/config.toml", NULL);
    const char *dev = "mode = \"development\"";
    char *p = strstr(cfg, dev), *fixed = NULL;
    ASSERT(p != NULL);
    ASSERT(asprintf(&fixed, "%.*smode = \"cluster\"\nbroker_url = \"%s\"\nqueue = \"weft.test.example.%s.%d\"%s",
                    (int)(p - cfg), cfg, url, tag, (int)getpid(), p + strlen(dev)) > 0);
    test_write_file("sales/config.toml", fixed);
    free(fixed);
    free(cfg);
}

/* Starts `weft run-worker --application-path sales`; its output goes to sales/worker-N.log. */
static pid_t start_worker(int n)
{
    char exe[4096], app[4096], log[4200];
    snprintf(exe, sizeof exe, "%s/weft", test_build_dir());
    ASSERT(getcwd(app, sizeof app - 8) != NULL);
    strcat(app, "/sales");
    snprintf(log, sizeof log, "%s/worker-%d.log", app, n);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stderr);
        if (f) dup2(fileno(f), 1);
        execl(exe, "weft", "run-worker", "--application-path", app, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* SIGTERM drains a worker: it must exit 0. */
static void stop_worker(pid_t pid)
{
    int st = 0;
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* The example in cluster mode with `nworkers` run-workers gives the same
 * report as in development mode, byte for byte, and every job COMPLETED. */
static void example_in_cluster(int nworkers)
{
    copy_example();
    expected ex;
    compute_expected("sales/data/sales.csv", &ex);
    run_ok("run -c config.toml --force");
    run_result dev;
    read_back(&dev);

    ASSERT_EQ(system("rm -rf sales/.weft"), 0);
    char tag[8];
    snprintf(tag, sizeof tag, "w%d", nworkers);
    use_cluster(tag);
    pid_t w[3];
    for (int i = 0; i < nworkers; i++) w[i] = start_worker(i);
    run_ok("run -c config.toml --force");
    run_result cl;
    read_back(&cl);
    for (int i = 0; i < nworkers; i++) stop_worker(w[i]);

    ASSERT_EQ(cl.njobs, NTASKS);
    for (size_t i = 0; i < NTASKS; i++) ASSERT_EQ(status_of(&cl, all_tasks[i]), WEFT_JOB_COMPLETED);
    /* Every job ran in a run-worker (host:pid), none in this process. */
    for (size_t i = 0; i < cl.njobs; i++) {
        ASSERT(strchr(cl.worker[i], ':') != NULL);
        ASSERT(strncmp(cl.worker[i], "pid ", 4) != 0);
    }
    check_report(cl.report, &ex);
    ASSERT_STR_EQ(cl.report, dev.report);
    free(dev.report);
    free(cl.report);
}

TEST(pipeline_in_cluster_mode_with_2_workers_matches_development)
{
    example_in_cluster(2);
}

TEST(pipeline_in_cluster_mode_with_3_workers_matches_development)
{
    example_in_cluster(3);
}

/* ---- one task function, config built in code ------------------------------ */

/* Development-mode config with raw_sales (csv at `csv`) -> clean -> by_region. */
static weft_config *unit_config(const char *csv)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft_config *cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_configure_job_executions(cfg, WEFT_MODE_DEVELOPMENT, 0, err), err);
    /* Absolute: a relative folder would be resolved against the application
     * path, which is examples/sales in the source tree. */
    char store[4096];
    ASSERT(getcwd(store, sizeof store - 16) != NULL);
    strcat(store, "/store");
    ASSERT_OK(weft_config_set(cfg, "CORE", "storage_folder", store, err), err);
    weft_property header = {"has_header", "True:bool"};
    weft_data_node_opts raw = {.storage_type = "csv", .default_path = csv,
                               .properties = &header, .nproperties = 1};
    weft_data_node_opts clean = {.storage_type = "csv", .properties = &header, .nproperties = 1};
    weft_data_node_opts totals = {.storage_type = "json"};
    ASSERT_OK(weft_config_configure_data_node(cfg, "raw_sales", &raw, err), err);
    ASSERT_OK(weft_config_configure_data_node(cfg, "clean_sales", &clean, err), err);
    ASSERT_OK(weft_config_configure_data_node(cfg, "region_totals", &totals, err), err);
    const char *const in_raw[] = {"raw_sales", NULL}, *const out_clean[] = {"clean_sales", NULL};
    const char *const out_totals[] = {"region_totals", NULL};
    weft_task_opts t_clean = {.function = "sales.clean", .inputs = in_raw, .outputs = out_clean};
    weft_task_opts t_region = {.function = "sales.by_region", .inputs = out_clean,
                               .outputs = out_totals};
    ASSERT_OK(weft_config_configure_task(cfg, "clean", &t_clean, err), err);
    ASSERT_OK(weft_config_configure_task(cfg, "by_region", &t_region, err), err);
    const char *const tasks[] = {"clean", "by_region", NULL};
    ASSERT_OK(weft_config_configure_scenario(cfg, "unit", tasks, err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    return cfg;
}

/* Submits the "unit" scenario with the example's sales.so; returns the jobs (caller frees). */
static weft_orchestrator *submit_unit(weft_config *cfg, weft_job_info ***jobs, size_t *njobs)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char app[4096];
    snprintf(app, sizeof app, "%s/examples/sales", test_src_dir());
    weft_orchestrator_opts opts = {.application_path = app};
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(cfg, &opts, &o, err), err);
    char *scenario = NULL, *sub = NULL;
    ASSERT_OK(weft_scenario_create(o, "unit", &scenario, err), err);
    weft_submit_opts so = {.wait = true, .timeout_ms = 30000};
    weft_err e = weft_submit(o, scenario, &so, &sub, err);
    ASSERT(e == WEFT_OK || e == WEFT_ETASK);
    ASSERT(sub != NULL);
    weft_job_filter filter = {.submission_id = sub, .status = -1};
    ASSERT_OK(weft_jobs_list(o, &filter, jobs, njobs, err), err);
    free(scenario);
    free(sub);
    return o;
}

TEST(clean_repairs_and_drops_rows)
{
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    char path[4096];
    ASSERT(getcwd(path, sizeof path - 32) != NULL);
    strcat(path, "/raw.csv");
    test_write_file("raw.csv", "region,date,units,product,unit_price\n" /* columns in any order */
                               " north ,2024-01-05,2,Mug,12.5\n"         /* repaired: 2500 */
                               "SOUTH,2024-01-06,1,Kettle,39\n"          /* repaired: 3900 */
                               "\n"                                      /* empty: skipped */
                               ",,,,\n"                                  /* blank: dropped */
                               "North,2024-01-07,,Mug,12.00\n"           /* missing: dropped */
                               "North,2024-01-07,-1,Mug,12.00\n"         /* return: dropped */
                               "North,2024-13-07,1,Mug,12.00\n"          /* bad month: dropped */
                               "North,2024-01-08,1,Mug,1.999\n"          /* 3 decimals: dropped */
                               "north,2024-02-01,3,Grinder,129.99\n");   /* 38997 */
    weft_config *cfg = unit_config(path);
    weft_job_info **jobs = NULL;
    size_t njobs = 0;
    weft_orchestrator *o = submit_unit(cfg, &jobs, &njobs);
    ASSERT_EQ(njobs, 2);
    for (size_t i = 0; i < njobs; i++) {
        if (jobs[i]->status != WEFT_JOB_COMPLETED)
            FAIL("job %s: %s: %s", jobs[i]->task_config_id, weft_job_status_name(jobs[i]->status),
                 jobs[i]->error ? jobs[i]->error : "");
        if (strcmp(jobs[i]->task_config_id, "clean") == 0) {
            ASSERT_CONTAINS(jobs[i]->log_tail, "kept 3 of 8 rows; dropped 5");
            ASSERT_CONTAINS(jobs[i]->log_tail, "1 blank, 1 missing field, 2 malformed, "
                                               "1 units not positive");
        }
    }
    weft_job_list_free(jobs, njobs);

    char *data = NULL;
    size_t len = 0;
    ASSERT_OK(weft_data_read(o, "clean_sales", &data, &len, err), err);
    ASSERT_STR_EQ(data, "date,region,product,units,unit_price\n"
                        "2024-01-05,North,Mug,2,12.50\n"
                        "2024-01-06,South,Kettle,1,39.00\n"
                        "2024-02-01,North,Grinder,3,129.99\n");
    free(data);

    ASSERT_OK(weft_data_read(o, "region_totals", &data, &len, err), err);
    json_error_t jerr;
    json_t *doc = json_loads(data, 0, &jerr);
    if (!doc) FAIL("region_totals is not json: %s\n%s", jerr.text, data);
    free(data);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "dimension")), "region");
    ASSERT_EQ(json_integer_value(json_object_get(doc, "rows")), 3);
    ASSERT_EQ(json_integer_value(json_object_get(doc, "units")), 6);
    ASSERT_EQ(json_integer_value(json_object_get(doc, "revenue_cents")), 2500 + 3900 + 38997);
    json_t *groups = json_object_get(doc, "groups");
    ASSERT_EQ(json_array_size(groups), 2);
    json_t *north = json_array_get(groups, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(north, "key")), "North");
    ASSERT_EQ(json_integer_value(json_object_get(north, "units")), 5);
    ASSERT_EQ(json_integer_value(json_object_get(north, "revenue_cents")), 2500 + 38997);
    json_decref(doc);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
}

TEST(clean_fails_clearly_without_a_units_column)
{
    char path[4096];
    ASSERT(getcwd(path, sizeof path - 32) != NULL);
    strcat(path, "/raw.csv");
    test_write_file("raw.csv", "date,region,product,qty,unit_price\n"
                               "2024-01-05,North,Mug,2,12.50\n");
    weft_config *cfg = unit_config(path);
    weft_job_info **jobs = NULL;
    size_t njobs = 0;
    weft_orchestrator *o = submit_unit(cfg, &jobs, &njobs);
    ASSERT_EQ(njobs, 2);
    for (size_t i = 0; i < njobs; i++) {
        if (strcmp(jobs[i]->task_config_id, "clean") == 0) {
            ASSERT_EQ(jobs[i]->status, WEFT_JOB_FAILED);
            ASSERT_CONTAINS(jobs[i]->error, "no column \"units\" in the header");
        } else {
            ASSERT_EQ(jobs[i]->status, WEFT_JOB_ABANDONED);
        }
    }
    weft_job_list_free(jobs, njobs);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
}

TEST_MAIN(TEST_ENTRY_TIMEOUT(pipeline_runs_skips_and_reruns, 120),
          TEST_ENTRY_TIMEOUT(pipeline_months_are_cycles, 120),
          TEST_ENTRY_TIMEOUT(pipeline_runs_in_standalone_mode, 120),
          TEST_ENTRY_TIMEOUT(pipeline_in_cluster_mode_with_2_workers_matches_development, 120),
          TEST_ENTRY_TIMEOUT(pipeline_in_cluster_mode_with_3_workers_matches_development, 120),
          TEST_ENTRY(clean_repairs_and_drops_rows),
          TEST_ENTRY(clean_fails_clearly_without_a_units_column))
