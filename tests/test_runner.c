/* SPDX-License-Identifier: MIT */
/* test_runner.c - running one job: function and command tasks, their failures and
 * messages, output and input checks, cancel and timeout, built-ins, the log tail,
 * and the JSON forms of specs and results. */
#define _GNU_SOURCE
#include "test.h"
#include "job/runner.h"
#include "job/spawn.h"
#include "util/defaults.h"
#include "util/util.h"
#include "weft.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

static weft_config *cfg;
static weft__app *app;
static char cwd[PATH_MAX];
static char apps[PATH_MAX];
static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf;

static void setup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setup(const char *fmt, ...)
{
    char *text;
    va_list ap;
    va_start(ap, fmt);
    ASSERT(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(apps, sizeof apps, "%s/tests/apps", test_build_dir());
    cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load_string(cfg, text, strlen(text), "test.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    free(text);
    ASSERT_OK(weft__app_new(cfg, apps, &app, err), err);
}

static void teardown(void)
{
    weft__app_free(app);
    weft_config_free(cfg);
}

static void fill_ref(weft__dn_ref *r, const char *config_id)
{
    char folder[PATH_MAX + 8], sec[256];
    snprintf(folder, sizeof folder, "%s/.weft", cwd);
    snprintf(sec, sizeof sec, "DATA_NODE.%s", config_id);
    ASSERT(asprintf(&r->id, "DATANODE_%s_1", config_id) >= 0);
    r->config_id = strdup(config_id);
    const char *st = weft_value_text(weft_config_lookup(cfg, sec, "storage_type"));
    r->storage_type = strdup(st ? st : "pickle");
    ASSERT_OK(weft__dn_instance_path(app, config_id, r->id, folder, &r->path, err), err);
}

/* The spec of TASK.<task>, its inputs and outputs from the config. */
static void make_spec(weft__job_spec *s, const char *task)
{
    char sec[256];
    snprintf(sec, sizeof sec, "TASK.%s", task);
    *s = (weft__job_spec)WEFT__JOB_SPEC_INIT;
    ASSERT(asprintf(&s->job_id, "JOB_%s_1", task) >= 0);
    ASSERT(asprintf(&s->task_id, "TASK_%s_1", task) >= 0);
    s->task_config_id = strdup(task);
    s->attempt = 1;
    const weft_value *in = weft_config_lookup(cfg, sec, "inputs");
    const weft_value *out = weft_config_lookup(cfg, sec, "outputs");
    s->ninputs = weft_value_len(in);
    s->noutputs = weft_value_len(out);
    s->inputs = calloc(s->ninputs + 1, sizeof *s->inputs);
    s->outputs = calloc(s->noutputs + 1, sizeof *s->outputs);
    for (size_t i = 0; i < s->ninputs; i++) fill_ref(&s->inputs[i], weft_value_text(weft_value_at(in, i)));
    for (size_t i = 0; i < s->noutputs; i++)
        fill_ref(&s->outputs[i], weft_value_text(weft_value_at(out, i)));
    const weft_value *t = weft_config_lookup(cfg, sec, "timeout");
    if (t) s->timeout_ms = weft_value_timedelta_ms(t);
}

/* Runs TASK.<task> with `hooks`; caller releases *res. */
static void run(const char *task, const weft__run_hooks *hooks, weft__job_result *res)
{
    weft__job_spec s;
    make_spec(&s, task);
    ASSERT_OK(weft__run_job(app, &s, hooks, res), "");
    weft__job_spec_release(&s);
}

static void write_input(const char *config_id, const char *content)
{
    weft__dn_ref r = {0};
    fill_ref(&r, config_id);
    ASSERT_OK(weft__mkdir_parent(r.path, err), err);
    test_write_file(r.path, content);
    free(r.id);
    free(r.config_id);
    free(r.storage_type);
    free(r.path);
}

static char *read_output(const char *config_id)
{
    weft__dn_ref r = {0};
    fill_ref(&r, config_id);
    char *d;
    size_t len;
    ASSERT_OK(weft__dn_read_ref(app, &r, &d, &len, err), err);
    free(r.id);
    free(r.config_id);
    free(r.storage_type);
    free(r.path);
    return d;
}

static double now_s(void) { return (double)weft__mono_ns() / 1e9; }

#define NODES                                                                                     \
    "[DATA_NODE.src]\nstorage_type = \"text\"\n[DATA_NODE.dst]\nstorage_type = \"text\"\n"        \
    "[DATA_NODE.mem]\nstorage_type = \"in_memory\"\n"

/* ---- function tasks ---- */

static int64_t progress_done;
static void on_progress(void *ud, int64_t done, int64_t total)
{
    (void)ud;
    progress_done = done * 100 + total;
}

TEST(function_task_completes_and_logs)
{
    setup(NODES "[TASK.up]\nfunction = \"testfns.upper:function\"\ninputs = [\"src:SECTION\"]\n"
                "outputs = [\"dst:SECTION\"]\n");
    write_input("src", "hello");
    weft__run_hooks hooks = {.progress = on_progress};
    weft__job_result res;
    run("up", &hooks, &res);
    ASSERT_STR_EQ(res.error ? res.error : "", "");
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(res.noutputs, 1);
    ASSERT(res.written[0]);
    ASSERT_EQ(res.exit_code, -1);
    ASSERT_CONTAINS(res.log_tail, "upper: 5 bytes\n");
    ASSERT_EQ(progress_done, 101);
    char *d = read_output("dst");
    ASSERT_STR_EQ(d, "HELLO");
    free(d);
    weft__job_result_release(&res);
    weft__job_result_release(&res);
    teardown();
}

TEST(function_failures_say_why)
{
    setup(NODES "[TASK.msg]\nfunction = \"testfns.fail_msg:function\"\n"
                "[TASK.rc]\nfunction = \"testfns.return7:function\"\n"
                "[TASK.nosym]\nfunction = \"testfns.nosuch:function\"\n"
                "[TASK.nomod]\nfunction = \"nomod.fn:function\"\n"
                "[TASK.dotted]\nfunction = \"pkg.sub.fn:function\"\n");
    weft__job_result res;
    run("msg", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "bad row 3");
    weft__job_result_release(&res);
    run("rc", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "function testfns.return7 returned 7");
    weft__job_result_release(&res);
    run("nosym", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    char want[2 * PATH_MAX + 256];
    snprintf(want, sizeof want, "symbol nosuch not found in %s/testfns.so", weft__app_path(app));
    ASSERT_STR_EQ(res.error, want);
    weft__job_result_release(&res);
    run("nomod", NULL, &res);
    /* neither a shared object nor a Python module: both are named */
    snprintf(want, sizeof want,
             "function nomod.fn: no nomod.so or libnomod.so in %s, and no Python module 'nomod' (no "
             ".py file, package folder or extension module in %s, nor on the Python path)",
             weft__app_path(app), weft__app_path(app));
    ASSERT_STR_EQ(res.error, want);
    weft__job_result_release(&res);
    run("dotted", NULL, &res);
    snprintf(want, sizeof want,
             "function pkg.sub.fn: no pkg/sub.so or pkg/libsub.so in %s, and no Python module "
             "'pkg.sub' (no .py file, package folder or extension module in %s, nor on the Python "
             "path)",
             weft__app_path(app), weft__app_path(app));
    ASSERT_STR_EQ(res.error, want);
    weft__job_result_release(&res);
    teardown();
}

static int registered_fn(weft_ctx *ctx)
{
    char e[WEFT_ERRBUF_SIZE];
    return weft_dn_write(weft_ctx_output(ctx, 0), "registered", 10, e) ? 1 : 0;
}

TEST(registered_functions_win_over_modules)
{
    setup(NODES "[TASK.reg]\nfunction = \"testfns.upper:function\"\noutputs = [\"dst:SECTION\"]\n");
    ASSERT_EQ(weft_register_function("", registered_fn), WEFT_EINVAL);
    ASSERT_EQ(weft_register_function("testfns.upper", NULL), WEFT_EINVAL);
    ASSERT_OK(weft_register_function("testfns.upper", registered_fn), "");
    weft__job_result res;
    run("reg", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    char *d = read_output("dst");
    ASSERT_STR_EQ(d, "registered");
    free(d);
    weft__job_result_release(&res);
    teardown();
}

TEST(properties_ids_and_data_by_config_id)
{
    setup("[DATA_NODE.sales]\nstorage_type = \"csv\"\n[DATA_NODE.total]\nstorage_type = \"json\"\n"
          "[DATA_NODE.dst]\nstorage_type = \"text\"\n"
          "[TASK.sum]\nfunction = \"testfns.csv_total:function\"\ninputs = [\"sales:SECTION\"]\n"
          "outputs = [\"total:SECTION\"]\n"
          "[TASK.hi]\nfunction = \"testfns.greet:function\"\noutputs = [\"dst:SECTION\"]\n"
          "greeting = \"hello\"\n");
    write_input("sales", "region,amount\nnorth,10\n\"south, far\",32\n");
    weft__job_result res;
    run("sum", NULL, &res);
    ASSERT_STR_EQ(res.error ? res.error : "", "");
    char *d = read_output("total");
    ASSERT_CONTAINS(d, "\"total\": 42");
    free(d);
    weft__job_result_release(&res);
    run("hi", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    d = read_output("dst");
    ASSERT_STR_EQ(d, "hello from JOB_hi_1");
    free(d);
    weft__job_result_release(&res);
    teardown();
}

TEST(outputs_not_written_and_missing_inputs_fail)
{
    setup(NODES "[DATA_NODE.summary]\nstorage_type = \"json\"\n"
                "[TASK.lazy]\nfunction = \"testfns.no_write:function\"\noutputs = [\"dst:SECTION\", \"summary:SECTION\"]\n"
                "[TASK.needy]\nfunction = \"weft.noop:function\"\ninputs = [\"src:SECTION\"]\n"
                "[TASK.needmem]\nfunction = \"weft.noop:function\"\ninputs = [\"mem:SECTION\"]\n"
                "[TASK.cmdlazy]\ncommand = [\"true\"]\noutputs = [\"summary:SECTION\"]\n");
    weft__job_result res;
    run("lazy", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(res.error, "task did not write output 'dst'");
    ASSERT_CONTAINS(res.log_tail, "forgot to write");
    ASSERT(!res.written[0] && !res.written[1]);
    weft__job_result_release(&res);
    run("cmdlazy", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(res.error, "task did not write output 'summary'");
    weft__job_result_release(&res);
    run("needy", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    char want[2 * PATH_MAX + 256];
    snprintf(want, sizeof want, "input 'src' (%s/.weft/data/DATANODE_src_1.txt) does not exist", cwd);
    ASSERT_STR_EQ(res.error, want);
    weft__job_result_release(&res);
    run("needmem", NULL, &res);
    ASSERT_STR_EQ(res.error, "input 'mem' (in_memory) has no data");
    weft__job_result_release(&res);
    teardown();
}

/* ---- command tasks ---- */

TEST(command_task_substitutes_paths)
{
    setup(NODES "[TASK.tr]\ncommand = [\"sh\", \"-c\", \"tr a-z A-Z < \\\"$0\\\" > \\\"$1\\\"; echo done "
                ">&2\", \"{src}\", \"{dst}\"]\ninputs = [\"src:SECTION\"]\noutputs = [\"dst:SECTION\"]\n"
                "[TASK.tomem]\ncommand = [\"sh\", \"-c\", \"true\", \"{mem}\"]\ninputs = [\"mem:SECTION\"]\n");
    write_input("src", "shout");
    weft__job_result res;
    run("tr", NULL, &res);
    ASSERT_STR_EQ(res.error ? res.error : "", "");
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT_EQ(res.exit_code, 0);
    ASSERT_EQ(res.signal, 0);
    ASSERT(res.written[0]);
    ASSERT_STR_EQ(res.log_tail, "done\n");
    char *d = read_output("dst");
    ASSERT_STR_EQ(d, "SHOUT");
    free(d);
    weft__job_result_release(&res);
    /* Re-running rewrites an existing output: still detected as written. */
    run("tr", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    weft__job_result_release(&res);
    weft__app_mem_put(app, "DATANODE_mem_1", "x", 1);
    run("tomem", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(res.error, "cannot use data node 'mem' (in_memory)");
    weft__job_result_release(&res);
    teardown();
}

TEST(failing_command_reports_status_and_stderr)
{
    setup("[TASK.bad]\ncommand = [\"sh\", \"-c\", \"echo to-stdout; echo oops >&2; exit 3\"]\n"
          "[TASK.missing]\ncommand = [\"no-such-program-xyz\", \"arg\"]\n"
          "[TASK.killed]\ncommand = [\"sh\", \"-c\", \"kill -9 $$\"]\n");
    weft__job_result res;
    run("bad", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "command 'sh' exited with status 3");
    ASSERT_EQ(res.exit_code, 3);
    ASSERT_CONTAINS(res.log_tail, "to-stdout\n");
    ASSERT_CONTAINS(res.log_tail, "oops\n");
    weft__job_result_release(&res);
    run("missing", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "cannot run 'no-such-program-xyz': No such file or directory");
    ASSERT_EQ(res.exit_code, -1);
    weft__job_result_release(&res);
    run("killed", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "command 'sh' killed by signal 9 (Killed)");
    ASSERT_EQ(res.signal, 9);
    ASSERT_EQ(res.exit_code, -1);
    weft__job_result_release(&res);
    teardown();
}

TEST(exec_errors_come_back_exactly)
{
    /* Exists but is not executable: EACCES comes from the child's execve(). */
    test_write_file("plain.txt", "not a program\n");
    const char *argv[] = {"./plain.txt", NULL};
    weft__proc p;
    weft__spawn_opts so = {.argv = argv, .capture_output = true};
    ASSERT_EQ(weft__spawn(&so, &p, err), WEFT_ESPAWN);
    ASSERT_STR_EQ(err, "cannot run './plain.txt': Permission denied");
    ASSERT_EQ(p.pid, -1);
    const char *argv2[] = {"true", NULL};
    weft__spawn_opts so2 = {.argv = argv2, .cwd = "/no/such/dir"};
    ASSERT_EQ(weft__spawn(&so2, &p, err), WEFT_ESPAWN);
    ASSERT_STR_EQ(err, "cannot run 'true': /no/such/dir: No such file or directory");
    /* A normal run: exit status and captured output. */
    const char *argv3[] = {"sh", "-c", "printf hi; exit 5", NULL};
    weft__spawn_opts so3 = {.argv = argv3, .capture_output = true};
    ASSERT_OK(weft__spawn(&so3, &p, err), err);
    ASSERT_OK(weft__proc_wait(&p, err), err);
    ASSERT(weft__proc_exited(&p));
    char buf[16] = "";
    ASSERT_EQ(read(p.out_fd, buf, sizeof buf - 1), 2);
    ASSERT_STR_EQ(buf, "hi");
    ASSERT_EQ(weft__status_exit_code(p.status), 5);
    weft__proc_release(&p);
    weft__proc_release(&p);
    /* Stopping: SIGTERM first. */
    const char *argv4[] = {"sleep", "30", NULL};
    weft__spawn_opts so4 = {.argv = argv4};
    ASSERT_OK(weft__spawn(&so4, &p, err), err);
    ASSERT(!weft__proc_exited(&p));
    weft__proc_stop(&p, 1000);
    ASSERT_EQ(weft__status_signal(p.status), SIGTERM);
    char how[64];
    weft__status_describe(p.status, how, sizeof how);
    ASSERT_STR_EQ(how, "killed by signal 15 (Terminated)");
    weft__proc_release(&p);
}

TEST(command_output_tail_keeps_the_last_64k)
{
    setup("[TASK.loud]\ncommand = [\"sh\", \"-c\", \"yes 0123456789 | head -c 300000; echo END\"]\n");
    weft__job_result res;
    run("loud", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    size_t n = strlen(res.log_tail);
    ASSERT_EQ(n, WEFT__LOG_TAIL_MAX);
    ASSERT_STR_EQ(res.log_tail + n - 4, "END\n");
    weft__job_result_release(&res);
    teardown();
}

TEST(function_log_tail_keeps_the_last_64k)
{
    setup(NODES "[TASK.chat]\nfunction = \"testfns.chatty:function\"\noutputs = [\"dst:SECTION\"]\n");
    weft__job_result res;
    run("chat", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT_LE(strlen(res.log_tail), WEFT__LOG_TAIL_MAX);
    ASSERT_GT(strlen(res.log_tail), WEFT__LOG_TAIL_MAX - 20);
    ASSERT_CONTAINS(res.log_tail, "line 99999\n");
    ASSERT_NOT_CONTAINS(res.log_tail, "line 1\n");
    weft__job_result_release(&res);
    teardown();
}

TEST(timeouts_stop_commands_and_functions)
{
    setup("[TASK.slow]\ncommand = [\"sleep\", \"10\"]\ntimeout = \"1s:timedelta\"\n"
          "[TASK.stubborn]\ncommand = [\"sh\", \"-c\", \"trap '' TERM; echo ready; while :; do :; done\"]\n"
          "timeout = \"1s:timedelta\"\n"
          "[TASK.nap]\nfunction = \"weft.sleep:function\"\nduration = \"10:int\"\ntimeout = \"1s:timedelta\"\n");
    weft__job_result res;
    double t0 = now_s();
    run("slow", NULL, &res);
    double dt = now_s() - t0;
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(res.error, "timed out after 1s");
    ASSERT_EQ(res.signal, SIGTERM);
    ASSERT(dt >= 0.9 && dt < 2.5);
    weft__job_result_release(&res);
    t0 = now_s();
    run("stubborn", NULL, &res);
    dt = now_s() - t0;
    ASSERT_STR_EQ(res.error, "timed out after 1s");
    ASSERT_EQ(res.signal, SIGKILL); /* SIGTERM ignored: killed the grace time later */
    ASSERT(dt >= 0.9 + WEFT__KILL_GRACE_MS / 1000.0 && dt < 4);
    ASSERT_CONTAINS(res.log_tail, "ready");
    weft__job_result_release(&res);
    t0 = now_s();
    run("nap", NULL, &res);
    dt = now_s() - t0;
    ASSERT_STR_EQ(res.error, "timed out after 1s");
    ASSERT(dt < 1.5);
    weft__job_result_release(&res);
    teardown();
}

TEST(timeout_message_words_whole_and_fractional_seconds)
{
    char msg[64];
    weft__timeout_message(2000, msg, sizeof msg);
    ASSERT_STR_EQ(msg, "timed out after 2s");
    weft__timeout_message(500, msg, sizeof msg);
    ASSERT_STR_EQ(msg, "timed out after 0.5s");
    weft__timeout_message(1250, msg, sizeof msg);
    ASSERT_STR_EQ(msg, "timed out after 1.25s");
    weft__timeout_message(3600000, msg, sizeof msg);
    ASSERT_STR_EQ(msg, "timed out after 3600s");
}

static double cancel_at;
static bool cancel_after(void *ud)
{
    (void)ud;
    return now_s() >= cancel_at;
}

TEST(cancel_stops_a_running_job_quickly)
{
    setup("[TASK.cmd]\ncommand = [\"sh\", \"-c\", \"sleep 30; echo never\"]\n"
          "[TASK.fn]\nfunction = \"testfns.wait_cancel:function\"\n"
          "[TASK.nap]\nfunction = \"weft.sleep:function\"\nduration = \"30s:timedelta\"\n"
          "[TASK.spin]\nfunction = \"weft.spin:function\"\nduration = \"30\"\n");
    weft__run_hooks hooks = {.canceled = cancel_after};
    const char *tasks[] = {"cmd", "fn", "nap", "spin"};
    for (size_t i = 0; i < 4; i++) {
        weft__job_result res;
        double t0 = now_s();
        cancel_at = t0 + 0.2;
        run(tasks[i], &hooks, &res);
        double dt = now_s() - t0;
        if (res.status != WEFT_JOB_CANCELED) FAIL("%s: status %d (%s)", tasks[i], res.status, res.error);
        ASSERT_CONTAINS(res.error, "canceled");
        ASSERT_LT(dt, 1.2);
        weft__job_result_release(&res);
    }
    /* Canceled before it started: nothing runs. */
    cancel_at = 0;
    weft__job_result res;
    run("cmd", &hooks, &res);
    ASSERT_EQ(res.status, WEFT_JOB_CANCELED);
    ASSERT_STR_EQ(res.error, "canceled before it started");
    weft__job_result_release(&res);
    teardown();
}

TEST(builtins_noop_sleep_spin)
{
    setup("[TASK.noop]\nfunction = \"weft.noop:function\"\n"
          "[TASK.sleep]\nfunction = \"weft.sleep:function\"\nduration = \"0.3:float\"\n"
          "[TASK.spin]\nfunction = \"weft.spin:function\"\nduration = \"1s:timedelta\"\n");
    weft__job_result res;
    run("noop", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT(res.error == NULL && res.log_tail == NULL);
    weft__job_result_release(&res);
    double t0 = now_s();
    run("sleep", NULL, &res);
    double dt = now_s() - t0;
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT(dt >= 0.3 && dt < 0.8);
    weft__job_result_release(&res);
    t0 = now_s();
    run("spin", NULL, &res);
    dt = now_s() - t0;
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    ASSERT(dt >= 1.0 && dt < 2.0);
    weft__job_result_release(&res);
    /* A spec without a task is described, not crashed on. */
    weft__job_spec bad = WEFT__JOB_SPEC_INIT;
    ASSERT_OK(weft__run_job(app, &bad, NULL, &res), "");
    ASSERT_EQ(res.status, WEFT_JOB_FAILED);
    ASSERT_CONTAINS(res.error, "invalid job spec");
    weft__job_result_release(&res);
    teardown();
}

/* weft.noop writes the empty value of each output's type, and the next
 * task in the chain reads it with the reader of that type. */
TEST(noop_outputs_are_readable_by_the_next_task)
{
    static const struct {
        const char *props, *want;
    } cases[] = {
        {"storage_type = \"json\"", "json null"},
        {"storage_type = \"csv\"", "csv header= rows=0"},
        {"storage_type = \"csv\"\nhas_header = false", "csv header= rows=0"},
        {"storage_type = \"text\"", "text bytes 0"},
        {"storage_type = \"binary\"", "binary bytes 0"},
        {"storage_type = \"pickle\"", "pickle bytes 0"},
        {"storage_type = \"in_memory\"", "in_memory bytes 0"},
        {"storage_type = \"sql_table\"\ndb_name = \"d\"\ntable_name = \"t\"", "sql_table []"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setup("[DATA_NODE.x]\n%s\n[DATA_NODE.desc]\nstorage_type = \"text\"\n"
              "[TASK.noop]\nfunction = \"weft.noop:function\"\noutputs = [\"x:SECTION\"]\n"
              "[TASK.reader]\nfunction = \"testfns.describe_input:function\"\n"
              "inputs = [\"x:SECTION\"]\noutputs = [\"desc:SECTION\"]\n",
              cases[i].props);
        weft__job_result res;
        run("noop", NULL, &res);
        ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
        weft__job_result_release(&res);
        run("reader", NULL, &res);
        if (res.status != WEFT_JOB_COMPLETED) FAIL("%s: %s", cases[i].props, res.error);
        weft__job_result_release(&res);
        char *d = read_output("desc");
        ASSERT_STR_EQ(d, cases[i].want);
        free(d);
        teardown();
    }
    /* A csv node that had a header keeps its columns, with no rows; an
     * existing sql table is emptied. */
    setup("[DATA_NODE.x]\nstorage_type = \"csv\"\n[DATA_NODE.desc]\nstorage_type = \"text\"\n"
          "[TASK.noop]\nfunction = \"weft.noop:function\"\noutputs = [\"x:SECTION\"]\n"
          "[TASK.reader]\nfunction = \"testfns.describe_input:function\"\n"
          "inputs = [\"x:SECTION\"]\noutputs = [\"desc:SECTION\"]\n");
    write_input("x", "a,b\n1,2\n3,4\n");
    weft__job_result res;
    run("noop", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    weft__job_result_release(&res);
    run("reader", NULL, &res);
    ASSERT_EQ(res.status, WEFT_JOB_COMPLETED);
    weft__job_result_release(&res);
    char *d = read_output("desc");
    ASSERT_STR_EQ(d, "csv header=a|b rows=0");
    free(d);
    teardown();
}

/* ---- JSON forms ---- */

TEST(spec_and_result_json_round_trip)
{
    weft__job_spec s = WEFT__JOB_SPEC_INIT, back = WEFT__JOB_SPEC_INIT, copy = WEFT__JOB_SPEC_INIT;
    s.job_id = strdup("JOB_t_1");
    s.task_id = strdup("TASK_t_1");
    s.task_config_id = strdup("t");
    s.attempt = 2;
    s.timeout_ms = 2500;
    s.ninputs = 1;
    s.inputs = calloc(1, sizeof *s.inputs);
    s.inputs[0] = (weft__dn_ref){strdup("DATANODE_a_1"), strdup("a"), strdup("csv"), strdup("/x/a.csv")};
    s.noutputs = 1;
    s.outputs = calloc(1, sizeof *s.outputs);
    s.outputs[0] = (weft__dn_ref){strdup("DATANODE_m_1"), strdup("m"), strdup("in_memory"), NULL};
    char *json;
    size_t len;
    ASSERT_OK(weft__job_spec_to_json(&s, &json, &len), "");
    ASSERT_EQ(len, strlen(json));
    ASSERT_OK(weft__job_spec_from_json(json, len, &back, err), err);
    free(json);
    ASSERT_STR_EQ(back.job_id, "JOB_t_1");
    ASSERT_STR_EQ(back.task_config_id, "t");
    ASSERT_EQ(back.attempt, 2);
    ASSERT_EQ(back.timeout_ms, 2500);
    ASSERT_EQ(back.ninputs, 1);
    ASSERT_STR_EQ(back.inputs[0].path, "/x/a.csv");
    ASSERT_STR_EQ(back.outputs[0].storage_type, "in_memory");
    ASSERT(back.outputs[0].path == NULL);
    ASSERT_OK(weft__job_spec_copy(&copy, &back), "");
    ASSERT_STR_EQ(copy.inputs[0].id, "DATANODE_a_1");
    weft__job_spec_release(&s);
    weft__job_spec_release(&back);
    weft__job_spec_release(&copy);
    weft__job_spec_release(&copy);

    ASSERT_EQ(weft__job_spec_from_json("{\"task_id\":\"x\"}", 15, &back, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "missing \"job_id\"");
    ASSERT_EQ(weft__job_spec_from_json("[1", 2, &back, err), WEFT_EINVAL);
    const char *badref = "{\"job_id\":\"j\",\"task_id\":\"t\",\"task_config_id\":\"c\",\"inputs\":[{\"id\":1}]}";
    ASSERT_EQ(weft__job_spec_from_json(badref, strlen(badref), &back, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "inputs[0]: \"id\" must be a string");

    weft__job_result r = WEFT__JOB_RESULT_INIT, rb = WEFT__JOB_RESULT_INIT;
    r.status = WEFT_JOB_FAILED;
    r.error = strdup("command 'x' exited with status 3");
    r.exit_code = 3;
    r.log_tail = strdup("bad \xff byte\n");
    r.noutputs = 2;
    r.written = calloc(2, sizeof *r.written);
    r.written[1] = true;
    ASSERT_OK(weft__job_result_to_json(&r, &json, &len), "");
    ASSERT_CONTAINS(json, "\"FAILED\"");
    ASSERT_OK(weft__job_result_from_json(json, len, &rb, err), err);
    free(json);
    ASSERT_EQ(rb.status, WEFT_JOB_FAILED);
    ASSERT_STR_EQ(rb.error, r.error);
    ASSERT_EQ(rb.exit_code, 3);
    ASSERT_EQ(rb.signal, 0);
    ASSERT_STR_EQ(rb.log_tail, "bad ? byte\n");
    ASSERT_EQ(rb.noutputs, 2);
    ASSERT(!rb.written[0] && rb.written[1]);
    weft__job_result_release(&r);
    weft__job_result_release(&rb);
    const char *badst = "{\"status\":\"DONE\"}";
    ASSERT_EQ(weft__job_result_from_json(badst, strlen(badst), &rb, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "unknown status \"DONE\"");
}

TEST_MAIN(TEST_ENTRY(function_task_completes_and_logs), TEST_ENTRY(function_failures_say_why),
          TEST_ENTRY(registered_functions_win_over_modules), TEST_ENTRY(properties_ids_and_data_by_config_id),
          TEST_ENTRY(outputs_not_written_and_missing_inputs_fail), TEST_ENTRY(command_task_substitutes_paths),
          TEST_ENTRY(failing_command_reports_status_and_stderr), TEST_ENTRY(exec_errors_come_back_exactly),
          TEST_ENTRY(command_output_tail_keeps_the_last_64k), TEST_ENTRY(function_log_tail_keeps_the_last_64k),
          TEST_ENTRY(timeouts_stop_commands_and_functions),
          TEST_ENTRY(timeout_message_words_whole_and_fractional_seconds),
          TEST_ENTRY(cancel_stops_a_running_job_quickly),
          TEST_ENTRY(builtins_noop_sleep_spin),
          TEST_ENTRY(noop_outputs_are_readable_by_the_next_task), TEST_ENTRY(spec_and_result_json_round_trip))
