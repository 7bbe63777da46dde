/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c - the engine commands of `weft` (run, jobs, show, submissions,
 * scenarios, data, cancel) as a person uses them: the built binary run as a
 * real process against configs written into the test's temp dir, with task
 * functions from tests/apps/clifns.c, the built-ins and shell commands.
 * Cancel, Ctrl-C and kill -9 are sent to a `weft run` started in the
 * background while one of its jobs sleeps.
 */
#include "test.h"

#include "broker.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */


/* Makes clifns.so loadable from the test's folder (the application path). */
static void use_clifns(void)
{
    char so[4096];
    snprintf(so, sizeof so, "%s/tests/apps/clifns.so", test_build_dir());
    if (access(so, R_OK) != 0) FAIL("%s is not built", so);
    if (symlink(so, "clifns.so") != 0 && errno != EEXIST) FAIL("symlink: %s", strerror(errno));
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* The line of `text` that contains every one of two needles, or NULL (static buffer). */
static const char *line_with(const char *text, const char *a, const char *b)
{
    static char line[4096];
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        if (strstr(line, a) && (!b || strstr(line, b))) return line;
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts `weft ARGS...` (NULL-terminated) in the background, output to `log`. */
static pid_t spawn_weft(const char *log, ...)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = "weft";
    va_list ap;
    va_start(ap, log);
    const char *a;
    while (n < 31 && (a = va_arg(ap, const char *)) != NULL) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execv(test_weft_bin(), (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for `pid` at most `timeout_s`; returns its exit status (128+N for signal N). */
static int wait_exit(pid_t pid, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR) FAIL("waitpid: %s", strerror(errno));
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            FAIL("weft run (pid %d) did not exit within %.0f s", (int)pid, timeout_s);
        }
        sleep_ms(20);
    }
}

/* Parses the JSON output of `weft ... --json` (stderr dropped). */
static json_t *weft_json(const char *args)
{
    char *out = NULL;
    int rc = test_weft(&out, "%s --json 2>/dev/null", args);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    if (!v) FAIL("`weft %s --json` (exit %d) printed no JSON: %s\n%s", args, rc, je.text, out);
    free(out);
    return v;
}

/*
 * The id of the first job in `status` (caller frees), waiting up to
 * timeout_s while `weft run` (pid, output in `log`) runs; fails the test
 * when the run ends first or nothing comes.
 */
static char *wait_job_in(const char *status, double timeout_s, pid_t pid, const char *log)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        char *out = NULL;
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' jobs --status %s --json 2>/dev/null", test_weft_bin(), status);
        test_run_cmd(cmd, &out);
        json_t *v = json_loads(out, 0, NULL);
        free(out);
        if (v && json_is_array(v) && json_array_size(v) > 0) {
            char *id = strdup(json_string_value(json_object_get(json_array_get(v, 0), "id")));
            json_decref(v);
            return id;
        }
        json_decref(v);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            FAIL("weft run ended (status %d) before a job was %s; its output:\n%s", st, status,
                 test_read_file(log, NULL));
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    FAIL("no job became %s within %.0f s; output of weft run:\n%s", status, timeout_s,
         test_read_file(log, NULL));
}

/* The status of the job of task `task` in `weft jobs --json` (static buffer). */
static const char *status_of_task(const char *task)
{
    static char st[32];
    json_t *v = weft_json("jobs");
    st[0] = '\0';
    size_t i;
    json_t *j;
    json_array_foreach(v, i, j)
    {
        if (strcmp(json_string_value(json_object_get(j, "task")), task) == 0)
            snprintf(st, sizeof st, "%s", json_string_value(json_object_get(j, "status")));
    }
    json_decref(v);
    return st;
}

/* ---- configurations ---------------------------------------------------- */

/* seed -> (left: function, right: command) -> join, through nodes upper and reversed */
static const char *FAN =
    "[DATA_NODE.seed]\nstorage_type = \"text\"\n"
    "[DATA_NODE.upper]\nstorage_type = \"text\"\n"
    "[DATA_NODE.reversed]\nstorage_type = \"text\"\n"
    "[DATA_NODE.joined]\nstorage_type = \"text\"\n"
    "[TASK.make_seed]\nfunction = \"clifns.seed:function\"\noutputs = [\"seed:SECTION\"]\n"
    "[TASK.left]\nfunction = \"clifns.upper:function\"\ninputs = [\"seed:SECTION\"]\n"
    "outputs = [\"upper:SECTION\"]\n"
    "[TASK.right]\ncommand = [\"sh\", \"-c\", \"rev < {seed} > {reversed}\"]\ninputs = [\"seed:SECTION\"]\n"
    "outputs = [\"reversed:SECTION\"]\n"
    "[TASK.join]\nfunction = \"clifns.concat:function\"\n"
    "inputs = [\"upper:SECTION\", \"reversed:SECTION\"]\noutputs = [\"joined:SECTION\"]\n"
    "[SCENARIO.fan]\n"
    "tasks = [\"make_seed:SECTION\", \"left:SECTION\", \"right:SECTION\", \"join:SECTION\"]\n";

/* seed -> bad (fails) -> after; seed -> cmdfail (exit 3); seed -> other (completes) */
static const char *FAILING =
    "[DATA_NODE.a]\nstorage_type = \"text\"\n"
    "[DATA_NODE.b]\nstorage_type = \"text\"\n"
    "[DATA_NODE.c]\nstorage_type = \"text\"\n"
    "[DATA_NODE.d]\nstorage_type = \"text\"\n"
    "[DATA_NODE.e]\nstorage_type = \"text\"\n"
    "[TASK.good]\nfunction = \"clifns.seed:function\"\noutputs = [\"a:SECTION\"]\n"
    "[TASK.bad]\nfunction = \"clifns.fail:function\"\ninputs = [\"a:SECTION\"]\noutputs = [\"b:SECTION\"]\n"
    "[TASK.after]\nfunction = \"clifns.upper:function\"\ninputs = [\"b:SECTION\"]\n"
    "outputs = [\"c:SECTION\"]\n"
    "[TASK.cmdfail]\ncommand = [\"sh\", \"-c\", \"echo to-stdout; echo 'disk on fire' >&2; exit 3\"]\n"
    "inputs = [\"a:SECTION\"]\noutputs = [\"d:SECTION\"]\n"
    "[TASK.other]\nfunction = \"clifns.upper:function\"\ninputs = [\"a:SECTION\"]\n"
    "outputs = [\"e:SECTION\"]\n"
    "[SCENARIO.broken]\ntasks = [\"good:SECTION\", \"bad:SECTION\", \"after:SECTION\", "
    "\"cmdfail:SECTION\", \"other:SECTION\"]\n";

/* slow (weft.sleep 30 s) -> after; and a quick scenario for the next run. */
static const char *SLOW =
    "[DATA_NODE.x]\nstorage_type = \"text\"\n"
    "[DATA_NODE.y]\nstorage_type = \"text\"\n"
    "[DATA_NODE.q]\nstorage_type = \"text\"\n"
    "[TASK.slow]\nfunction = \"weft.sleep\"\nduration = \"30\"\noutputs = [\"x:SECTION\"]\n"
    "[TASK.after]\nfunction = \"clifns.upper:function\"\ninputs = [\"x:SECTION\"]\n"
    "outputs = [\"y:SECTION\"]\n"
    "[TASK.quick]\nfunction = \"clifns.seed:function\"\noutputs = [\"q:SECTION\"]\n"
    "[SCENARIO.sleepy]\ntasks = [\"slow:SECTION\", \"after:SECTION\"]\n"
    "[SCENARIO.quick_run]\ntasks = [\"quick:SECTION\"]\n";

/* ---- run --------------------------------------------------------------- */

TEST(run_fan_out_fan_in_completes)
{
    use_clifns();
    test_write_file("config.toml", FAN);
    char *out;
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    /* The summary: every job, COMPLETED. */
    const char *tasks[] = {"make_seed", "left", "right", "join"};
    for (size_t i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "JOB_%s_", tasks[i]);
        ASSERT(line_with(out, id, "COMPLETED") != NULL);
        /* Non-TTY progress: one line per status change, "HH:MM:SS.mmm JOB_x_... x STATUS". */
        char tail[64];
        snprintf(tail, sizeof tail, " %s RUNNING", tasks[i]);
        const char *l = line_with(out, id, tail);
        if (!l) FAIL("no progress line for %s RUNNING in:\n%s", tasks[i], out);
        ASSERT(l[2] == ':' && l[5] == ':' && l[8] == '.' && l[12] == ' ');
        snprintf(tail, sizeof tail, " %s COMPLETED", tasks[i]);
        ASSERT(line_with(out, id, tail) != NULL);
    }
    ASSERT_CONTAINS(out, "SUBMISSION_");
    ASSERT_CONTAINS(out, " COMPLETED in ");
    ASSERT_NOT_CONTAINS(out, "FAILED");
    free(out);

    ASSERT_EQ(test_weft(&out, "data joined"), 0);
    ASSERT_STR_EQ(out, "HELLO\nolleh\n");
    free(out);
}

/* FAN with a sequence of its first two tasks: only they run. */
TEST(run_a_sequence_runs_only_its_tasks)
{
    use_clifns();
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s[SCENARIO.fan.sequences]\n\"seed and left\" = [\"make_seed:SECTION\", "
             "\"left:SECTION\"]\n", FAN);
    test_write_file("config.toml", cfg);
    char *out;
    ASSERT_EQ(test_weft(&out, "scenarios"), 0);
    ASSERT(line_with(out, "SCENARIO ", "  SEQUENCES") != NULL);
    ASSERT(line_with(out, "fan", "make_seed, left, right, join  seed and left: make_seed, left") != NULL);
    free(out);
    json_t *sc = weft_json("scenarios");
    json_t *seq = json_object_get(json_object_get(json_array_get(json_object_get(sc, "configured"), 0),
                                                  "sequences"), "seed and left");
    ASSERT_EQ(json_array_size(seq), 2);
    ASSERT_STR_EQ(json_string_value(json_array_get(seq, 1)), "left");
    json_decref(sc);

    int rc = test_weft(&out, "run -s fan --sequence 'seed and left'");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "weft: running SEQUENCE_seedTPSPACEandTPSPACEleft_SCENARIO_fan_");
    ASSERT(line_with(out, "JOB_make_seed_", "COMPLETED") != NULL);
    ASSERT(line_with(out, "JOB_left_", "COMPLETED") != NULL);
    ASSERT_NOT_CONTAINS(out, "JOB_right_");
    ASSERT_NOT_CONTAINS(out, "JOB_join_");
    ASSERT_CONTAINS(out, "2 jobs");
    free(out);
    ASSERT_EQ(test_weft(&out, "data upper"), 0);
    ASSERT_STR_EQ(out, "HELLO\n");
    free(out);
    json_t *run = weft_json("run -s fan --sequence 'seed and left'");
    const char *seq_id = json_string_value(json_object_get(run, "sequence"));
    const char *scen_id = json_string_value(json_object_get(run, "scenario"));
    ASSERT(seq_id && scen_id && strncmp(seq_id, "SEQUENCE_seedTPSPACEandTPSPACEleft_", 35) == 0);
    ASSERT_STR_EQ(seq_id + 35, scen_id);
    ASSERT_EQ(json_array_size(json_object_get(run, "jobs")), 2);
    json_decref(run);

    /* an unknown sequence is a usage error, and nothing is created */
    rc = test_weft(&out, "run -s fan --sequence nope");
    ASSERT_EQ(rc, 2);
    ASSERT_CONTAINS(out, "scenario 'fan' has no sequence 'nope'; its sequences: seed and left");
    free(out);
    sc = weft_json("scenarios");
    ASSERT_EQ(json_array_size(json_object_get(sc, "instances")), 2);
    json_decref(sc);
}

TEST(run_json_has_the_keys)
{
    use_clifns();
    test_write_file("config.toml", FAN);
    char *out;
    int rc = test_weft(&out, "run -s fan --json 2>/dev/null");
    ASSERT_EQ(rc, 0);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    if (!v) FAIL("not JSON (%s):\n%s", je.text, out);
    free(out);
    ASSERT(json_is_object(v));
    const char *sub = json_string_value(json_object_get(v, "submission"));
    const char *scen = json_string_value(json_object_get(v, "scenario"));
    ASSERT(sub && strncmp(sub, "SUBMISSION_", 11) == 0);
    ASSERT(scen && strncmp(scen, "SCENARIO_fan_", 13) == 0);
    ASSERT(json_object_get(v, "sequence") == NULL); /* only with --sequence */
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "status")), "COMPLETED");
    json_t *jobs = json_object_get(v, "jobs");
    ASSERT(json_is_array(jobs));
    ASSERT_EQ(json_array_size(jobs), 4);
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        ASSERT(json_is_string(json_object_get(j, "id")));
        ASSERT(json_is_string(json_object_get(j, "task")));
        ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "COMPLETED");
        ASSERT(json_is_integer(json_object_get(j, "duration_ms")));
        ASSERT(json_is_null(json_object_get(j, "error")));
    }
    json_decref(v);
}

TEST(run_standalone_with_workers)
{
    use_clifns();
    test_write_file("config.toml", FAN);
    char *out;
    int rc = test_weft(&out, "run --mode standalone --workers 2");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "standalone mode, 2 workers");
    ASSERT_EQ(count_of(out, " COMPLETED\n"), 4); /* the progress lines */
    ASSERT_EQ(count_of(out, " COMPLETED  "), 4); /* the summary rows */
    free(out);
    json_t *v = weft_json("jobs");
    size_t i;
    json_t *j;
    json_array_foreach(v, i, j) ASSERT(json_string_value(json_object_get(j, "worker")) != NULL);
    json_decref(v);
    ASSERT_EQ(test_weft(&out, "data joined"), 0);
    ASSERT_STR_EQ(out, "HELLO\nolleh\n");
    free(out);
}

TEST(run_reports_failures)
{
    use_clifns();
    test_write_file("config.toml", FAILING);
    char *out;
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    /* The failed function: its job id and the cause, together. */
    const char *l = line_with(out, "JOB_bad_", "deliberate failure in bad");
    if (!l) FAIL("no line with the job id and the cause in:\n%s", out);
    /* The failed command: its exit code. */
    ASSERT(line_with(out, "JOB_cmdfail_", "exit code 3") != NULL);
    /* The other branch completes, the job after the failure is abandoned. */
    ASSERT(line_with(out, "JOB_other_", "COMPLETED") != NULL);
    ASSERT(line_with(out, "JOB_after_", "ABANDONED") != NULL);
    ASSERT_CONTAINS(out, "FAILED in ");
    free(out);

    json_t *v = weft_json("run");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "status")), "FAILED");
    size_t i;
    json_t *j;
    json_array_foreach(json_object_get(v, "jobs"), i, j)
    {
        const char *task = json_string_value(json_object_get(j, "task"));
        if (strcmp(task, "bad") == 0) ASSERT_CONTAINS(json_string_value(json_object_get(j, "error")), "deliberate");
        if (strcmp(task, "cmdfail") == 0) ASSERT_EQ(json_integer_value(json_object_get(j, "exit_code")), 3);
    }
    json_decref(v);
}

TEST(show_prints_error_exit_code_and_output)
{
    use_clifns();
    test_write_file("config.toml", FAILING);
    ASSERT_EQ(test_weft(NULL, "run"), 1);
    json_t *v = weft_json("jobs --status FAILED");
    ASSERT_EQ(json_array_size(v), 2);
    char *bad = NULL, *cmd = NULL;
    size_t i;
    json_t *j;
    json_array_foreach(v, i, j)
    {
        const char *task = json_string_value(json_object_get(j, "task"));
        char *id = strdup(json_string_value(json_object_get(j, "id")));
        if (strcmp(task, "bad") == 0) bad = id;
        else if (strcmp(task, "cmdfail") == 0) cmd = id;
        else FAIL("unexpected FAILED job %s", id);
    }
    json_decref(v);
    ASSERT(bad && cmd);

    char *out;
    ASSERT_EQ(test_weft(&out, "show %s", cmd), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "FAILED");
    ASSERT(line_with(out, "exit code", "3") != NULL);
    ASSERT_CONTAINS(out, "disk on fire");
    ASSERT_CONTAINS(out, "RUNNING");   /* its status times */
    ASSERT_CONTAINS(out, "attempt");
    free(out);

    /* A unique prefix is enough, as printed by the progress lines. */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.*s", (int)strlen("JOB_bad_") + 8, bad);
    ASSERT_EQ(test_weft(&out, "show %s", prefix), 0);
    ASSERT_CONTAINS(out, "deliberate failure in bad");
    ASSERT_CONTAINS(out, "about to fail in bad");
    ASSERT_CONTAINS(out, bad);
    free(out);

    ASSERT_EQ(test_weft(&out, "show JOB_nosuch_0000"), 1);
    ASSERT_CONTAINS(out, "no job");
    free(out);
    free(bad);
    free(cmd);
}

TEST(missing_function_is_reported)
{
    use_clifns();
    test_write_file("config.toml",
                    "[DATA_NODE.o]\nstorage_type = \"text\"\n"
                    "[TASK.ghost]\nfunction = \"clifns.nosuch:function\"\noutputs = [\"o:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"ghost:SECTION\"]\n");
    char *out;
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    ASSERT_CONTAINS(out, "nosuch");
    ASSERT(line_with(out, "JOB_ghost_", "nosuch") != NULL);
    free(out);
}

TEST(missing_input_file_is_reported)
{
    use_clifns();
    test_write_file("config.toml",
                    "[DATA_NODE.input]\nstorage_type = \"text\"\ndefault_path = \"missing.txt\"\n"
                    "[DATA_NODE.o]\nstorage_type = \"text\"\n"
                    "[TASK.up]\nfunction = \"clifns.upper:function\"\ninputs = [\"input:SECTION\"]\n"
                    "outputs = [\"o:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"up:SECTION\"]\n");
    char *out;
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    ASSERT_CONTAINS(out, "missing.txt");
    free(out);
}

TEST(failing_command_is_reported)
{
    test_write_file("config.toml",
                    "[DATA_NODE.o]\nstorage_type = \"text\"\n"
                    "[TASK.boom]\ncommand = [\"sh\", \"-c\", \"echo 'no space left' >&2; exit 7\"]\n"
                    "outputs = [\"o:SECTION\"]\n"
                    "[TASK.nocmd]\ncommand = [\"/nonexistent/tool\", \"{o2}\"]\noutputs = [\"o2:SECTION\"]\n"
                    "[DATA_NODE.o2]\nstorage_type = \"text\"\n"
                    "[SCENARIO.s]\ntasks = [\"boom:SECTION\", \"nocmd:SECTION\"]\n");
    char *out;
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    ASSERT(line_with(out, "JOB_boom_", "exit code 7") != NULL);
    ASSERT(line_with(out, "JOB_nocmd_", "/nonexistent/tool") != NULL);
    free(out);
}

/* ---- the query commands ------------------------------------------------ */

TEST(jobs_submissions_scenarios_data)
{
    use_clifns();
    test_write_file("config.toml", FAN);
    char *out;
    /* Before any run: nothing, but no error. */
    ASSERT_EQ(test_weft(&out, "jobs"), 0);
    ASSERT_CONTAINS(out, "no jobs");
    free(out);
    ASSERT_EQ(test_weft(&out, "scenarios"), 0);
    ASSERT_CONTAINS(out, "fan");
    free(out);

    ASSERT_EQ(test_weft(NULL, "run"), 0);
    ASSERT_EQ(test_weft(&out, "jobs"), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "JOB");
    ASSERT_CONTAINS(out, "STATUS");
    ASSERT_EQ(count_of(out, "COMPLETED"), 4);
    free(out);
    ASSERT_EQ(test_weft(&out, "jobs --status FAILED"), 0);
    ASSERT_NOT_CONTAINS(out, "JOB_");
    free(out);
    ASSERT_EQ(test_weft(&out, "jobs --status completed"), 0);
    ASSERT_EQ(count_of(out, "JOB_"), 4);
    free(out);
    ASSERT_EQ(test_weft(&out, "jobs --status bogus"), 2);
    ASSERT_CONTAINS(out, "unknown status 'bogus'");
    free(out);

    ASSERT_EQ(test_weft(&out, "submissions"), 0);
    printf("%s", out);
    ASSERT(line_with(out, "SUBMISSION_", "COMPLETED") != NULL);
    ASSERT_CONTAINS(out, "4 completed");
    free(out);
    json_t *subs = weft_json("submissions");
    ASSERT_EQ(json_array_size(subs), 1);
    const char *sid = json_string_value(json_object_get(json_array_get(subs, 0), "id"));
    char args[256];
    snprintf(args, sizeof args, "jobs --submission %s", sid);
    json_t *jobs = weft_json(args);
    ASSERT_EQ(json_array_size(jobs), 4);
    json_decref(jobs);
    ASSERT_EQ(test_weft(&out, "show %s", sid), 0);
    ASSERT_CONTAINS(out, "COMPLETED");
    ASSERT_CONTAINS(out, "JOB_join_");
    free(out);
    json_decref(subs);

    ASSERT_EQ(test_weft(&out, "scenarios"), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "SCENARIO_fan_");
    ASSERT(line_with(out, "fan", "make_seed, left, right, join") != NULL);
    free(out);
    json_t *sc = weft_json("scenarios");
    ASSERT_EQ(json_array_size(json_object_get(sc, "instances")), 1);
    json_decref(sc);

    ASSERT_EQ(test_weft(&out, "data seed"), 0);
    ASSERT_STR_EQ(out, "hello\n");
    free(out);
    ASSERT_EQ(test_weft(&out, "data nosuch"), 1);
    ASSERT_CONTAINS(out, "nosuch");
    free(out);
}

/* ---- cancel, Ctrl-C, kill -9 ------------------------------------------- */

static void cancel_while_running(const char *mode)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", mode, (const char *)NULL);
    char *job = wait_job_in("RUNNING", 30, pid, "run.log");
    double t0 = now_s();
    char *out;
    int rc = test_weft(&out, "cancel %s", job);
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "CANCELED");
    free(out);
    ASSERT_EQ(wait_exit(pid, 20), 1);
    double dt = now_s() - t0;
    printf("    canceled and exited in %.2f s\n", dt);
    /* About 1 s is expected; sanitizer runs are slower by TEST_TIMEOUT_SCALE. */
    const char *scale = getenv("TEST_TIMEOUT_SCALE");
    ASSERT(dt < 3.0 * (scale && atoi(scale) > 1 ? atoi(scale) : 1));
    char *log = test_read_file("run.log", NULL);
    printf("%s", log);
    ASSERT(line_with(log, "JOB_slow_", "CANCELED") != NULL);
    ASSERT(line_with(log, "JOB_after_", "ABANDONED") != NULL);
    free(log);
    ASSERT_STR_EQ(status_of_task("slow"), "CANCELED");
    ASSERT_STR_EQ(status_of_task("after"), "ABANDONED");

    /* Again: it is finished, and the command says so. */
    rc = test_weft(&out, "cancel %s", job);
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    ASSERT_CONTAINS(out, "already finished");
    free(out);
    free(job);
}

TEST(cancel_a_submission_and_a_locked_store)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--json", (const char *)NULL);
    char *job = wait_job_in("RUNNING", 30, pid, "run.log");
    free(job);
    /* A second run cannot write the store while the first one does. */
    char *out;
    int rc = test_weft(&out, "run -s quick_run");
    printf("%s", out);
    ASSERT_EQ(rc, 1);
    ASSERT_CONTAINS(out, "in use");
    free(out);

    json_t *subs = weft_json("submissions");
    ASSERT_EQ(json_array_size(subs), 1);
    char *sid = strdup(json_string_value(json_object_get(json_array_get(subs, 0), "id")));
    json_decref(subs);
    rc = test_weft(&out, "cancel %s", sid);
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "CANCELED");
    free(out);
    ASSERT_EQ(wait_exit(pid, 20), 1);
    /* --json: the run printed one object, with the canceled jobs. */
    char *log = test_read_file("run.log", NULL);
    json_t *v = json_loads(log, 0, NULL);
    if (!v) FAIL("weft run --json printed:\n%s", log);
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "status")), "CANCELED");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "submission")), sid);
    json_decref(v);
    free(log);
    ASSERT_EQ(test_weft(&out, "cancel %s", sid), 1);
    ASSERT_CONTAINS(out, "already finished");
    free(out);
    free(sid);
}

TEST(cancel_from_another_process_development) { cancel_while_running("development"); }
TEST(cancel_from_another_process_standalone) { cancel_while_running("standalone"); }

static void ctrl_c(const char *mode)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", mode, (const char *)NULL);
    char *job = wait_job_in("RUNNING", 30, pid, "run.log");
    kill(pid, SIGINT);
    ASSERT_EQ(wait_exit(pid, 20), 130);
    char *log = test_read_file("run.log", NULL);
    printf("%s", log);
    ASSERT_CONTAINS(log, "interrupted");
    free(log);
    ASSERT_STR_EQ(status_of_task("slow"), "CANCELED");
    ASSERT_STR_EQ(status_of_task("after"), "ABANDONED");
    char *out;
    ASSERT_EQ(test_weft(&out, "jobs --status RUNNING"), 0);
    ASSERT_NOT_CONTAINS(out, "JOB_");
    free(out);
    free(job);
}

TEST(ctrl_c_development) { ctrl_c("development"); }
TEST(ctrl_c_standalone) { ctrl_c("standalone"); }

/* kill -9 of `weft run` mid-job: the store stays readable, and the next
 * read-write open marks the job FAILED and what follows it ABANDONED. */
static void kill_9(const char *mode)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", mode, (const char *)NULL);
    char *job = wait_job_in("RUNNING", 30, pid, "run.log");
    kill(pid, SIGKILL);
    ASSERT_EQ(wait_exit(pid, 10), 128 + SIGKILL);

    char *out;
    ASSERT_EQ(test_weft(&out, "jobs"), 0); /* read-only: opens cleanly, repairs nothing */
    printf("%s", out);
    free(out);

    int rc = test_weft(&out, "run -s quick_run");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    free(out);
    ASSERT_EQ(test_weft(&out, "jobs --status RUNNING"), 0);
    ASSERT_NOT_CONTAINS(out, "JOB_");
    free(out);
    ASSERT_EQ(test_weft(&out, "show %s", job), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "FAILED");
    ASSERT_CONTAINS(out, "orchestrator stopped while the job ran");
    free(out);
    ASSERT_STR_EQ(status_of_task("after"), "ABANDONED");
    free(job);
}

TEST(kill_9_development) { kill_9("development"); }
TEST(kill_9_standalone) { kill_9("standalone"); }

/* ---- standalone: many workers, signals in every state ----------------- */

/* The first child of `pid` listed in /proc (its fork server, for `weft run`;
 * a worker, for the fork server), or 0. */
static pid_t first_child(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    char *text = test_read_file(path, NULL);
    long c = text ? strtol(text, NULL, 10) : 0;
    free(text);
    return (pid_t)c;
}

/* No job of the store is left unfinished. */
static void assert_no_job_left_running(void)
{
    static const char *const unfinished[] = {"RUNNING", "PENDING", "BLOCKED", "SUBMITTED"};
    for (size_t i = 0; i < sizeof unfinished / sizeof unfinished[0]; i++) {
        char *out;
        ASSERT_EQ(test_weft(&out, "jobs --status %s", unfinished[i]), 0);
        ASSERT_NOT_CONTAINS(out, "JOB_");
        free(out);
    }
}

/* Five independent quick tasks with `workers` standalone workers. */
static void write_many_workers_config(int workers)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = %d\n", workers);
    for (int i = 0; i < 5; i++)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "[DATA_NODE.o%d]\nstorage_type = \"text\"\n"
                      "[TASK.t%d]\nfunction = \"clifns.seed:function\"\noutputs = [\"o%d:SECTION\"]\n",
                      i, i, i);
    snprintf(text + n, sizeof text - (size_t)n,
             "[SCENARIO.many]\ntasks = [\"t0:SECTION\", \"t1:SECTION\", \"t2:SECTION\", "
             "\"t3:SECTION\", \"t4:SECTION\"]\n");
    test_write_file("config.toml", text);
}

/* A pool of 1000 workers used to deadlock at start-up (both ends of the
 * fork server's channel blocked in send) and ignore every signal. */
TEST(run_with_1000_workers_completes)
{
    use_clifns();
    write_many_workers_config(1000);
    double t0 = now_s();
    pid_t pid = spawn_weft("run.log", "run", (const char *)NULL);
    int rc = wait_exit(pid, 90);
    double dt = now_s() - t0;
    char *log = test_read_file("run.log", NULL);
    printf("%s    1000 workers: run took %.2f s\n", log, dt);
    ASSERT_EQ(rc, 0);
    free(log);
    json_t *done = weft_json("jobs --status COMPLETED");
    ASSERT_EQ(json_array_size(done), 5);
    json_decref(done);
    assert_no_job_left_running();
}

/* `weft check` accepts many workers but says what they cost. */
TEST(check_warns_about_very_many_workers)
{
    use_clifns();
    write_many_workers_config(1000);
    char *out;
    ASSERT_EQ(test_weft(&out, "check"), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "max_nb_of_workers = 1000");
    ASSERT_CONTAINS(out, "warning");
    free(out);
    write_many_workers_config(8);
    ASSERT_EQ(test_weft(&out, "check"), 0);
    ASSERT_NOT_CONTAINS(out, "max_nb_of_workers");
    free(out);
}

/* Ctrl-C while the 1000 workers are still being forked. */
TEST(ctrl_c_while_workers_start)
{
    use_clifns();
    char text[4096];
    snprintf(text, sizeof text, "[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = 1000\n%s", SLOW);
    test_write_file("config.toml", text);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", (const char *)NULL);
    free(wait_job_in("RUNNING", 30, pid, "run.log"));
    double t0 = now_s();
    kill(pid, SIGINT);
    int rc = wait_exit(pid, 30);
    double dt = now_s() - t0;
    char *log = test_read_file("run.log", NULL);
    printf("%s    exited %d, %.2f s after SIGINT\n", log, rc, dt);
    free(log);
    ASSERT_EQ(rc, 130);
    ASSERT_LT(dt, 5.0);
    ASSERT_STR_EQ(status_of_task("slow"), "CANCELED");
    assert_no_job_left_running();
}

/* `weft run` of SLOW in standalone mode, stopped with `sig` once the slow job
 * runs, after `stop_what` (0: nothing, 1: the fork server, 2: the job's
 * worker) was SIGSTOPped; it must exit within 5 s, with 128 + sig. */
static void signal_standalone_run(int sig, int stop_what)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", "standalone", (const char *)NULL);
    free(wait_job_in("RUNNING", 30, pid, "run.log"));
    pid_t server = first_child(pid), stopped = 0;
    ASSERT_GT(server, 0);
    if (stop_what == 1) stopped = server;
    if (stop_what == 2) {
        /* The slow job's worker: the only one that is not idle in a read. */
        stopped = first_child(server);
        for (int tries = 0; tries < 50 && stopped; tries++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/wchan", (int)stopped);
            char *w = test_read_file(path, NULL);
            bool sleeping_job = w && strstr(w, "nanosleep") != NULL;
            free(w);
            if (sleeping_job) break;
            sleep_ms(20);
        }
    }
    if (stopped) ASSERT_EQ(kill(stopped, SIGSTOP), 0);
    sleep_ms(100);
    double t0 = now_s();
    kill(pid, sig);
    int rc = wait_exit(pid, 30);
    double dt = now_s() - t0;
    if (stopped) kill(stopped, SIGKILL); /* whatever happened: nothing left stopped */
    char *log = test_read_file("run.log", NULL);
    printf("%s    signal %d -> exit %d in %.2f s\n", log, sig, rc, dt);
    ASSERT_EQ(rc, 128 + sig);
    ASSERT_LT(dt, 5.0);
    ASSERT_CONTAINS(log, "interrupted");
    free(log);
    ASSERT_STR_EQ(status_of_task("slow"), "CANCELED");
    assert_no_job_left_running();
}

TEST(sigterm_stops_a_standalone_run) { signal_standalone_run(SIGTERM, 0); }
TEST(ctrl_c_with_a_stopped_fork_server) { signal_standalone_run(SIGINT, 1); }
TEST(sigterm_with_a_stopped_fork_server) { signal_standalone_run(SIGTERM, 1); }
TEST(ctrl_c_with_a_stopped_worker) { signal_standalone_run(SIGINT, 2); }

/* The job ends by itself while the fork server is stopped: `weft run`
 * prints its summary and exits (it used to wait for the server forever). */
TEST(run_exits_after_its_summary_with_a_stopped_fork_server)
{
    use_clifns();
    test_write_file("config.toml",
                    "[TASK.nap]\nfunction = \"weft.sleep\"\nduration = \"1.5\"\n"
                    "[SCENARIO.napping]\ntasks = [\"nap:SECTION\"]\n");
    pid_t pid = spawn_weft("run.log", "run", "--mode", "standalone", (const char *)NULL);
    free(wait_job_in("RUNNING", 30, pid, "run.log"));
    pid_t server = first_child(pid);
    ASSERT_GT(server, 0);
    ASSERT_EQ(kill(server, SIGSTOP), 0);
    double t0 = now_s();
    int rc = wait_exit(pid, 20);
    double dt = now_s() - t0;
    kill(server, SIGKILL);
    char *log = test_read_file("run.log", NULL);
    printf("%s    exited %d, %.2f s after the fork server was stopped\n", log, rc, dt);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(log, "COMPLETED");
    ASSERT_LT(dt, 5.0);
    free(log);
}

/* `weft cancel` of what a killed `weft run` left: the store is opened
 * read-write, its recovery settles the jobs, and the command says how. */
TEST(cancel_after_the_orchestrator_was_killed)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", "standalone", (const char *)NULL);
    char *job = wait_job_in("RUNNING", 30, pid, "run.log");
    kill(pid, SIGKILL);
    ASSERT_EQ(wait_exit(pid, 10), 128 + SIGKILL);
    char *out;
    int rc = test_weft(&out, "cancel %s", job);
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT(line_with(out, job, "FAILED") != NULL);
    ASSERT_CONTAINS(out, "orchestrator had stopped");
    free(out);
    ASSERT_STR_EQ(status_of_task("slow"), "FAILED");
    ASSERT_STR_EQ(status_of_task("after"), "ABANDONED");
    assert_no_job_left_running();
    free(job);

    /* A submission, by its id. */
    pid = spawn_weft("run2.log", "run", "-s", "sleepy", "--mode", "standalone", (const char *)NULL);
    free(wait_job_in("RUNNING", 30, pid, "run2.log"));
    kill(pid, SIGKILL);
    ASSERT_EQ(wait_exit(pid, 10), 128 + SIGKILL);
    json_t *subs = weft_json("submissions");
    char *sid = NULL;
    size_t i;
    json_t *sv;
    json_array_foreach(subs, i, sv)
    {
        if (strcmp(json_string_value(json_object_get(sv, "status")), "RUNNING") == 0)
            sid = strdup(json_string_value(json_object_get(sv, "id")));
    }
    json_decref(subs);
    ASSERT(sid != NULL);
    rc = test_weft(&out, "cancel %s", sid);
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT(line_with(out, sid, "FAILED") != NULL);
    free(out);
    assert_no_job_left_running();
    free(sid);
}

/* ---- terminal safety --------------------------------------------------- */

/* Runs `weft ARGS` under a pseudo-terminal (script(1)); returns what the
 * terminal received. */
static char *weft_on_tty(const char *args)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "script -qec \"'%s' %s\" /dev/null", test_weft_bin(), args);
    int rc = test_run_cmd(cmd, &out);
    printf("    $ (tty) weft %s  -> %d\n", args, rc);
    return out;
}

/* What a task prints or fails with reaches a terminal escaped, and
 * --json output keeps the exact bytes. */
TEST(task_escape_sequences_are_escaped_on_a_terminal)
{
    use_clifns();
    test_write_file("config.toml",
                    "[JOB]\nmode = \"standalone\"\n"
                    "[TASK.esc]\nfunction = \"clifns.escapes:function\"\n"
                    "[SCENARIO.escapes]\ntasks = [\"esc:SECTION\"]\n");
    char *out;
    ASSERT_EQ(test_weft(&out, "run"), 1);
    free(out);
    json_t *v = weft_json("jobs");
    ASSERT_EQ(json_array_size(v), 1);
    char *id = strdup(json_string_value(json_object_get(json_array_get(v, 0), "id")));
    json_decref(v);

    char args[512];
    snprintf(args, sizeof args, "show %s", id);
    out = weft_on_tty(args);
    printf("%s", out);
    ASSERT(strchr(out, 0x1b) == NULL && strchr(out, 0x07) == NULL);
    ASSERT(strstr(out, "\xc2\x9b") == NULL);
    ASSERT_CONTAINS(out, "\\x1b[31mred\\x1b[0m\tafter-tab");
    ASSERT_CONTAINS(out, "clear\\x1b[2J \\u009b1m c1");
    ASSERT_CONTAINS(out, "log \\x1b]0;pwned\\x07 title");
    ASSERT_CONTAINS(out, "bad \\x1b[8mhidden\\x1b[0m thing");
    free(out);
    /* The list of jobs (its error notes), and a run's progress and summary. */
    out = weft_on_tty("jobs");
    ASSERT(strchr(out, 0x1b) == NULL);
    ASSERT_CONTAINS(out, "bad \\x1b[8mhidden");
    free(out);
    out = weft_on_tty("run"); /* standalone: the task's own stdout is captured */
    printf("%s", out);
    ASSERT_CONTAINS(out, "bad \\x1b[8mhidden");
    /* The progress line's own escapes are the only ones left. */
    for (const char *p = out; (p = strchr(p, 0x1b)) != NULL; p++)
        if (strncmp(p, "\x1b[K", 3) != 0) FAIL("raw escape in the run's output: %.12s", p);
    free(out);

    /* Not a terminal: --json has the exact bytes. */
    snprintf(args, sizeof args, "show %s", id);
    v = weft_json(args);
    ASSERT_CONTAINS(json_string_value(json_object_get(v, "log_tail")), "\x1b[31mred\x1b[0m\tafter-tab\n");
    ASSERT_CONTAINS(json_string_value(json_object_get(v, "log_tail")), "\x1b]0;pwned\x07");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "error")), "bad \x1b[8mhidden\x1b[0m thing");
    json_decref(v);
    free(id);
}

/* ---- usage ------------------------------------------------------------- */

TEST(usage_errors_exit_2)
{
    use_clifns();
    test_write_file("config.toml", SLOW);
    char *out;
    ASSERT_EQ(test_weft(&out, "run --mode fast"), 2);
    ASSERT_CONTAINS(out, "unknown mode 'fast'");
    free(out);
    ASSERT_EQ(test_weft(&out, "run --frobnicate"), 2);
    ASSERT_CONTAINS(out, "unknown option '--frobnicate'");
    ASSERT_CONTAINS(out, "Try 'weft help run'.");
    free(out);
    ASSERT_EQ(test_weft(&out, "run --workers zero"), 2);
    free(out);
    ASSERT_EQ(test_weft(&out, "run -s nosuch"), 2);
    ASSERT_CONTAINS(out, "no scenario 'nosuch'");
    ASSERT_CONTAINS(out, "sleepy, quick");
    free(out);
    ASSERT_EQ(test_weft(&out, "run"), 2); /* two scenarios and no -s */
    ASSERT_CONTAINS(out, "choose one with -s");
    ASSERT_CONTAINS(out, "sleepy, quick");
    free(out);
    ASSERT_EQ(test_weft(&out, "run -c nosuch.toml"), 2);
    ASSERT_CONTAINS(out, "nosuch.toml");
    free(out);
    const char *cmds[] = {"jobs", "show", "submissions", "scenarios", "data", "cancel"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        ASSERT_EQ(test_weft(&out, "%s --bogus", cmds[i]), 2);
        char want[64];
        snprintf(want, sizeof want, "Try 'weft help %s'.", cmds[i]);
        ASSERT_CONTAINS(out, want);
        free(out);
    }
    ASSERT_EQ(test_weft(&out, "show"), 2);
    free(out);

    /* A config with an error: exit 2, the diagnostic shown. */
    test_write_file("bad.toml", "[TASK.t]\nfunction = \"weft.noop\"\ninputs = [\"ghost:SECTION\"]\n"
                                "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
    ASSERT_EQ(test_weft(&out, "run -c bad.toml"), 2);
    ASSERT_CONTAINS(out, "bad.toml:");
    ASSERT_CONTAINS(out, "ghost");
    free(out);
}

/* Every command, with a value option, how many ids it takes and what it
 * says of one argument too many. */
static const struct {
    const char *cmd, *missing, *missing_msg;
    int npos;
    const char *extra_msg;
} COMMANDS[] = {
    {"check", "-c", "option '-c' needs a file name", 0, "unexpected argument 'extra'"},
    {"config", "--config", "option '--config' needs a file name", 0, "unexpected argument 'extra'"},
    {"run", "-s", "option '-s' needs a scenario id", 0, "unexpected argument 'extra' (use -s SCENARIO)"},
    {"jobs", "--status", "option '--status' needs a status", 0, "unexpected argument 'extra'"},
    {"show", "--lines", "option '--lines' needs a number", 1, "unexpected argument 'extra'"},
    {"submissions", "-c", "option '-c' needs a file name", 0, "unexpected argument 'extra'"},
    {"scenarios", "-c", "option '-c' needs a file name", 0, "unexpected argument 'extra'"},
    {"data", "-c", "option '-c' needs a file name", 1, "unexpected argument 'extra'"},
    {"cancel", "-c", "option '-c' needs a file name", 1, "unexpected argument 'extra'"},
    {"bench", "--jobs", "option '--jobs' needs a number", 0, "unexpected argument 'extra'"},
    {"run-worker", "--queue", "option '--queue' needs a name", 0, "unexpected argument 'extra'"},
    {"workers", "--broker", "option '--broker' needs a URL", 0, "unexpected argument 'extra'"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/* `weft ARGS` exits 2 and prints exactly "weft: MSG" and "Try 'weft help CMD'."
 * (cmd NULL: "Try 'weft --help'."). */
static void assert_usage(const char *cmd, const char *msg, const char *args)
{
    char *out, want[512];
    ASSERT_EQ(test_weft(&out, "%s", args), 2);
    if (cmd)
        snprintf(want, sizeof want, "weft: %s\nTry 'weft help %s'.\n", msg, cmd);
    else
        snprintf(want, sizeof want, "weft: %s\nTry 'weft --help'.\n", msg);
    ASSERT_STR_EQ(out, want);
    free(out);
}

/* `weft ARGS` exits `rc` and prints `has`. */
static void expect(int rc, const char *has, const char *args)
{
    char *out;
    ASSERT_EQ(test_weft(&out, "%s", args), rc);
    ASSERT_CONTAINS(out, has);
    free(out);
}

TEST(every_command_words_mistakes_alike)
{
    /* Mistakes that read the same after any command. */
    static const struct {
        const char *args, *msg;
    } same[] = {
        {"--bogus", "unknown option '--bogus'"},
        {"--bogus=1", "unknown option '--bogus'"},
        {"-Z", "unknown option '-Z'"},
        /* A flag given a value: --quiet is one that every command takes. */
        {"--quiet=yes", "option '--quiet' takes no value"},
        /* -q and -v are accepted, and do not hide the next mistake. */
        {"-q --verbose -v --bogus", "unknown option '--bogus'"},
        /* Names match whole: a prefix of a long option is unknown. */
        {"--conf x", "unknown option '--conf'"},
    };
    /* Mistakes of one command. */
    static const struct {
        const char *cmd, *args, *msg;
    } one[] = {
        {"run", "run --work 2", "unknown option '--work'"},
        {"run", "run --work=2", "unknown option '--work'"},
        {"jobs", "jobs --stat FAILED", "unknown option '--stat'"},
        {"bench", "bench --one", "unknown option '--one'"},
        {"run", "run --workers zero", "option '--workers' needs a number from 1 to 4096, not 'zero'"},
        {"run", "run --workers=0", "option '--workers' needs a number from 1 to 4096, not '0'"},
        {"run", "run -w2x", "option '-w' needs a number from 1 to 4096, not '2x'"},
        {"show", "show -n -1 ID", "option '-n' needs a number of at least 0, not '-1'"},
        {"run", "run --mode=fast", "unknown mode 'fast' (development, standalone or cluster)"},
        {"bench", "bench --prefetch 0", "option '--prefetch' needs a number from 1 to 65535, not '0'"},
        {"run", "run -fq", "unknown option '-fq'"}, /* short flags are not bundled */
        {"help", "help run show", "unexpected argument 'show'"},
        {"run-worker", "run-worker --conc 2", "unknown option '--conc'"},
        {"run-worker", "run-worker --concurrency=0",
         "option '--concurrency' needs a number from 1 to 1000, not '0'"},
        {"run-worker", "run-worker --prefetch 70000",
         "option '--prefetch' needs a number from 1 to 65535, not '70000'"},
        {"workers", "workers --wait=x", "option '--wait' needs seconds from 0 to 3600, not 'x'"},
        {"workers", "workers --wai 2", "unknown option '--wai'"},
    };
    char args[256];
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *c = COMMANDS[i].cmd;
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
            snprintf(args, sizeof args, "%s %s", c, same[k].args);
            assert_usage(c, same[k].msg, args);
        }
        snprintf(args, sizeof args, "%s %s", c, COMMANDS[i].missing);
        assert_usage(c, COMMANDS[i].missing_msg, args);
        /* One positional argument more than the command takes. */
        snprintf(args, sizeof args, "%s%s extra", c, COMMANDS[i].npos ? " ID" : "");
        assert_usage(c, COMMANDS[i].extra_msg, args);
    }
    for (size_t k = 0; k < sizeof one / sizeof one[0]; k++) assert_usage(one[k].cmd, one[k].msg, one[k].args);
}

TEST(global_options)
{
    assert_usage(NULL, "unknown option '--bogus'", "--bogus");
    assert_usage(NULL, "option '--help' takes no value", "--help=all");
    assert_usage(NULL, "unknown option '--verb'", "--verb"); /* not --verbose abbreviated */
    expect(2, "usage: weft", "--quiet");                      /* no command */
    expect(0, "weft ", "-q --version");
    /* The command's own options come after its name, not before. */
    assert_usage(NULL, "unknown option '--json'", "--json jobs");
    expect(0, "usage: weft show", "-v help show");
}

TEST(double_dash_ends_the_options)
{
    test_write_file("config.toml", FAN);
    /* What follows "--" are ids, not options; there is no store yet. */
    expect(1, "no data node '--x': nothing has run yet", "data -- --x");
    expect(1, "no job '-n': nothing has run yet", "show -- -n");
    expect(1, "no job '--help': nothing has run yet", "cancel -- --help");
}

/* `weft A` and `weft B` both exit 0 and print the same; returns that (caller frees). */
static char *same_output(const char *a, const char *b)
{
    char *out_a, *out_b;
    ASSERT_EQ(test_weft(&out_a, "%s", a), 0);
    ASSERT_EQ(test_weft(&out_b, "%s", b), 0);
    ASSERT_STR_EQ(out_a, out_b);
    free(out_b);
    return out_a;
}

TEST(opt_equals_value_is_opt_space_value)
{
    use_clifns();
    test_write_file("config.toml", FAILING);
    expect(1, "standalone mode, 2 workers", "run --mode=standalone --workers=2");
    expect(1, "standalone mode, 3 workers", "run --mode standalone -w3");
    char *out = same_output("jobs --status=FAILED", "jobs --status FAILED");
    ASSERT_EQ(count_of(out, "JOB_bad_"), 2); /* one per run, and no other task */
    ASSERT_EQ(count_of(out, "JOB_cmdfail_"), 2);
    ASSERT_EQ(count_of(out, "JOB_other_"), 0);
    free(out);
    out = same_output("jobs --json --status=ABANDONED --config=config.toml",
                      "jobs --json --status ABANDONED -c config.toml");
    ASSERT_CONTAINS(out, "\"ABANDONED\"");
    free(out);
}

TEST(quiet_and_verbose_move_the_log_level)
{
    /* What `weft ARGS` prints (two needles, NULL: none) and does not print. */
    static const struct {
        const char *args, *has, *also, *has_not;
    } cases[] = {
        /* Default (info): the informative line, no debug line. */
        {"run", "weft: running SCENARIO_fan_", NULL, " debug "},
        /* --quiet: errors only; the run's own output (the summary) stays. */
        {"run --quiet", " COMPLETED in ", NULL, "weft: running"},
        {"-q run", " COMPLETED in ", NULL, "weft: running"},
        /* --verbose: debug lines through the log handler, and the rest. */
        {"run --verbose", " debug run: configuration config.toml, scenario fan, development mode",
         "weft: running SCENARIO_fan_", NULL},
        {"-v run", " debug run: configuration config.toml", "weft: running", NULL},
        /* The last one given wins. */
        {"run -v -q", " COMPLETED in ", NULL, " debug "},
        {"run -v -q", " COMPLETED in ", NULL, "weft: running"},
        {"-q run -v", " debug run: ", NULL, NULL},
    };
    use_clifns();
    test_write_file("config.toml", FAN);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        ASSERT_EQ(test_weft(&out, "%s", cases[i].args), 0);
        ASSERT_CONTAINS(out, cases[i].has);
        if (cases[i].also) ASSERT_CONTAINS(out, cases[i].also);
        if (cases[i].has_not) ASSERT_NOT_CONTAINS(out, cases[i].has_not);
        free(out);
    }
}

TEST(help_lists_every_command)
{
    char *out;
    ASSERT_EQ(test_weft(&out, "--help"), 0);
    const char *cmds[] = {"run", "jobs", "show", "submissions", "scenarios", "data", "cancel"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) ASSERT_CONTAINS(out, cmds[i]);
    free(out);
    ASSERT_EQ(test_weft(&out, "help run"), 0);
    ASSERT_CONTAINS(out, "--workers");
    ASSERT_CONTAINS(out, "Exit status");
    free(out);
    ASSERT_EQ(test_weft(&out, "cancel --help"), 0);
    ASSERT_CONTAINS(out, "usage: weft cancel");
    free(out);
}

TEST(broker_password_is_never_printed)
{
    test_write_file("config.toml",
                    "[JOB]\nmode = \"cluster\"\nbroker_url = \"amqp://user:s3cret@127.0.0.1:1/%2f\"\n"
                    "[DATA_NODE.o]\nstorage_type = \"text\"\n"
                    "[TASK.t]\nfunction = \"weft.noop\"\noutputs = [\"o:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
    char *out;
    /* No broker listens there: however the engine gives up, not a word of the password. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "timeout -s INT 20 '%s' run", test_weft_bin());
    int rc = test_run_cmd(cmd, &out);
    printf("%s", out);
    ASSERT_NE(rc, 0);
    ASSERT_NOT_CONTAINS(out, "s3cret");
    free(out);
}

/* ---- broker secrets ---------------------------------------------------- */

/* A cluster config whose broker_url is `url` (written as is: a TOML basic
 * string, so no quote or backslash in it). */
static void write_cluster_config(const char *url)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\n"
             "[DATA_NODE.o]\nstorage_type = \"text\"\n"
             "[TASK.t]\nfunction = \"weft.noop\"\noutputs = [\"o:SECTION\"]\n"
             "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n",
             url);
    test_write_file("config.toml", cfg);
}

/* Runs `weft ARGS` with a 20 s bound (SIGINT), asserting that neither half
 * of the password pwA/pwB shows in what it printed. */
static void assert_hidden(const char *env, const char *args)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s timeout -s INT 20 '%s' %s", env, test_weft_bin(), args);
    int rc = test_run_cmd(cmd, &out);
    printf("    $ %s weft %s  -> %d\n%s", env, args, rc, out);
    ASSERT_NOT_CONTAINS(out, "pwAx");
    ASSERT_NOT_CONTAINS(out, "pwBx");
    free(out);
}

/* Malformed broker URLs (a wrong scheme; a password with an unencoded
 * '/', '#' or '?'), from the config, the environment or the command line:
 * no command shows the password, whatever it makes of the URL. */
TEST(malformed_broker_urls_never_show_the_password)
{
    static const char *const urls[] = {
        "http://weft:pwAx-pwBx@127.0.0.1:1/%2f",   "amqp://weft:pwAx/pwBx@127.0.0.1:1/%2f",
        "amqp://weft:pwAx#pwBx@127.0.0.1:1/%2f",   "amqp://weft:pwAx?pwBx@127.0.0.1:1/%2f",
        "amqps://weft:pwAx/pwBx@127.0.0.1:1/%2f",  "amqp://weft/pwAx:pwBx@127.0.0.1:1/%2f",
        "amqp://weft:pwAx@pwBx@127.0.0.1:notaport", "weft:pwAx/pwBx@127.0.0.1:1",
    };
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        write_cluster_config(urls[i]);
        assert_hidden("", "run");
        assert_hidden("", "run-worker --application-path .");
        assert_hidden("", "workers --wait 1");
        assert_hidden("", "config");
        assert_hidden("", "check");
        char env[512], args[512];
        snprintf(env, sizeof env, "WEFT_BROKER_URL='%s'", urls[i]);
        write_cluster_config("ENV[WEFT_BROKER_URL]");
        assert_hidden(env, "run");
        assert_hidden(env, "run-worker --application-path .");
        assert_hidden(env, "workers --wait 1");
        assert_hidden(env, "config");
        write_cluster_config("amqp://guest:guest@127.0.0.1:1/%2f");
        snprintf(args, sizeof args, "run-worker --application-path . --broker '%s'", urls[i]);
        assert_hidden("", args);
        snprintf(args, sizeof args, "workers --wait 1 --broker '%s'", urls[i]);
        assert_hidden("", args);
    }
}

/* Waits (at most timeout_s) until file `log` contains `what`; fails the test
 * with the file's text when it does not.  Returns the text (caller frees). */
static char *wait_log(const char *log, const char *what, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        char *text = access(log, R_OK) == 0 ? test_read_file(log, NULL) : strdup("");
        if (strstr(text, what)) return text;
        if (now_s() > end) FAIL("no \"%s\" within %.0f s in %s:\n%s", what, timeout_s, log, text);
        free(text);
        sleep_ms(50);
    }
}

/* Starts `weft run-worker --application-path . A...` (up to 4 arguments,
 * NULL after the last) with its output in `log`, waits until it serves,
 * stops it with SIGTERM, asserts that it exits 0 and returns what it
 * printed (caller frees). */
static char *run_worker_briefly(const char *log, const char *a1, const char *a2, const char *a3,
                                const char *a4)
{
    unlink(log);
    pid_t pid = spawn_weft(log, "run-worker", "--application-path", ".", a1, a2, a3, a4,
                           (const char *)NULL);
    free(wait_log(log, "info worker: application", 20));
    sleep_ms(300);
    kill(pid, SIGTERM);
    ASSERT_EQ(wait_exit(pid, 10), 0);
    char *out = test_read_file(log, NULL);
    printf("%s", out);
    return out;
}

/* A queue of this test's own, so that tests never see each other's workers. */
static const char *test_queue(void)
{
    static char q[64];
    snprintf(q, sizeof q, "weft.test.cli.%d", (int)getpid());
    return q;
}

/* The password of the test broker's URL (static buffer). */
static const char *broker_password(void)
{
    static char pw[256];
    const char *u = broker_url(), *colon = strchr(strstr(u, "://") + 3, ':'), *at = strrchr(u, '@');
    ASSERT(colon && at && colon < at);
    snprintf(pw, sizeof pw, ":%.*s@", (int)(at - colon - 1), colon + 1);
    return pw;
}

/* run-worker --broker-file FILE: the worker serves the broker named in the
 * file, and neither ps nor /proc/PID/cmdline shows its password; weft
 * workers reads the same file. */
TEST(run_worker_broker_file_keeps_the_password_out_of_ps)
{
    write_cluster_config("amqp://nobody@127.0.0.1:1/%2f");
    char url[1024];
    snprintf(url, sizeof url, "%s\n", broker_url());
    test_write_file("broker.url", url);
    ASSERT_EQ(chmod("broker.url", 0600), 0);
    const char *q = test_queue();
    pid_t pid = spawn_weft("worker.log", "run-worker", "--application-path", ".", "--broker-file",
                           "broker.url", "--queue", q, (const char *)NULL);
    free(wait_log("worker.log", "info worker: application", 20));
    char *out;
    int rc = test_weft(&out, "workers --broker-file broker.url --queue %s --wait 4", q);
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    char me[32];
    snprintf(me, sizeof me, ":%d ", (int)pid);
    ASSERT(line_with(out, me, " up ") != NULL);
    free(out);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "tr '\\0' ' ' </proc/%d/cmdline; echo; ps -o args= -p %d", (int)pid,
             (int)pid);
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    printf("    %s", out);
    ASSERT_CONTAINS(out, "--broker-file broker.url");
    ASSERT_NOT_CONTAINS(out, broker_password());
    free(out);
    kill(pid, SIGTERM);
    ASSERT_EQ(wait_exit(pid, 10), 0);
    char *log = test_read_file("worker.log", NULL);
    printf("%s", log);
    ASSERT_NOT_CONTAINS(log, broker_password());
    ASSERT_NOT_CONTAINS(log, "other users");
    ASSERT_NOT_CONTAINS(log, "every user");
    free(log);
    broker_cleanup(q);
}

/* A password given with --broker draws one warning; so does a broker file
 * that other users may read.  WEFT_BROKER_URL is taken over the config. */
TEST(broker_password_on_the_command_line_is_warned_about)
{
    write_cluster_config("amqp://nobody@127.0.0.1:1/%2f");
    char *log = run_worker_briefly("worker.log", "--broker", "amqp://weft:pwAx@127.0.0.1:1/%2f",
                                   NULL, NULL);
    ASSERT_EQ(count_of(log, "warn run-worker: the broker password given with --broker can be seen"),
              1);
    ASSERT_NOT_CONTAINS(log, "pwAx");
    free(log);

    test_write_file("broker.url", "amqp://weft:pwAx@127.0.0.1:1/%2f\n");
    ASSERT_EQ(chmod("broker.url", 0644), 0);
    log = run_worker_briefly("worker2.log", "--broker-file", "broker.url", NULL, NULL);
    ASSERT_CONTAINS(log, "broker.url, which holds the broker URL, can be read by other users");
    ASSERT_NOT_CONTAINS(log, "pwAx");
    free(log);

    char *out, env[1200];
    snprintf(env, sizeof env, "WEFT_BROKER_URL='%s' '%s' workers --queue %s --wait 1", broker_url(),
             test_weft_bin(), test_queue());
    ASSERT_EQ(test_run_cmd(env, &out), 0);
    printf("%s", out);
    const char *port = strrchr(broker_url(), ':');
    ASSERT_CONTAINS(out, "no worker announced itself");
    ASSERT_CONTAINS(out, port);
    ASSERT_NOT_CONTAINS(out, broker_password());
    free(out);
}

/* broker_url = "ENV[WEFT_BROKER_URL]" with the variable unset: commands
 * that never connect work (a development run included); `weft check`
 * warns; what connects fails, naming the variable. */
TEST(unset_broker_env_fails_only_what_connects)
{
    unsetenv("WEFT_BROKER_URL");
    write_cluster_config("ENV[WEFT_BROKER_URL]");
    char *out;
    ASSERT_EQ(test_weft(&out, "run --mode development"), 0);
    free(out);
    json_t *jobs = weft_json("jobs");
    ASSERT_EQ(json_array_size(jobs), 1);
    char show[256];
    snprintf(show, sizeof show, "show %s",
             json_string_value(json_object_get(json_array_get(jobs, 0), "id")));
    json_decref(jobs);
    static const char *const readers[] = {"jobs", "submissions", "scenarios", "data o", NULL};
    for (int i = 0; readers[i]; i++) {
        ASSERT_EQ(test_weft(&out, "%s", readers[i]), 0);
        ASSERT_NOT_CONTAINS(out, "WEFT_BROKER_URL");
        free(out);
    }
    ASSERT_EQ(test_weft(&out, "%s", show), 0);
    free(out);
    ASSERT_EQ(test_weft(&out, "check"), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "warning: environment variable WEFT_BROKER_URL is not set (needed by "
                         "broker_url in [JOB]");
    free(out);
    static const char *const connecting[] = {"run", "run-worker --application-path .",
                                             "workers --wait 1", NULL};
    for (int i = 0; connecting[i]; i++) {
        ASSERT_EQ(test_weft(&out, "%s", connecting[i]), 2);
        printf("%s", out);
        ASSERT(line_with(out, "weft: ", "environment variable WEFT_BROKER_URL is not set (needed "
                                        "by broker_url in [JOB] to connect to the broker)"));
        free(out);
    }
}

/* Broker settings from unset variables are not needed when the command
 * line gives them: run-worker and workers connect with --broker-file and
 * --queue. */
TEST(unset_broker_env_is_not_needed_when_given)
{
    unsetenv("WEFT_BROKER_URL");
    unsetenv("WEFT_TEST_Q");
    test_write_file("config.toml",
                    "[JOB]\nmode = \"cluster\"\nbroker_url = \"ENV[WEFT_BROKER_URL]\"\n"
                    "queue = \"ENV[WEFT_TEST_Q]\"\n[DATA_NODE.o]\nstorage_type = \"text\"\n"
                    "[TASK.t]\nfunction = \"weft.noop\"\noutputs = [\"o:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
    char url[1024];
    snprintf(url, sizeof url, "%s\n", broker_url());
    test_write_file("broker.url", url);
    ASSERT_EQ(chmod("broker.url", 0600), 0);
    char *out = run_worker_briefly("worker.log", "--broker-file", "broker.url", "--queue",
                                   test_queue());
    ASSERT_NOT_CONTAINS(out, "weft: environment variable");
    ASSERT_NOT_CONTAINS(out, "retrying");
    free(out);
    ASSERT_EQ(test_weft(&out, "workers --broker-file broker.url --queue %s --wait 1", test_queue()), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "no worker announced itself on queue weft.test.cli.");
    free(out);
    ASSERT_EQ(test_weft(&out, "workers --broker-file broker.url --wait 1"), 2);
    ASSERT_CONTAINS(out, "environment variable WEFT_TEST_Q is not set (needed by queue in [JOB]");
    free(out);
    broker_cleanup(test_queue());
}

/* Writes a cluster config with `url` and extra [JOB] lines, starts `weft
 * run` and `weft run-worker` on it (no broker there), and returns what they
 * printed (caller frees). */
static char *start_both_with(const char *url, const char *extra)
{
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\n%s"
             "[DATA_NODE.o]\nstorage_type = \"text\"\n"
             "[TASK.t]\nfunction = \"weft.noop\"\noutputs = [\"o:SECTION\"]\n"
             "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n",
             url, extra);
    test_write_file("config.toml", cfg);
    char *run;
    ASSERT_EQ(test_weft(&run, "run"), 2); /* nothing listens on port 1 */
    char *log = run_worker_briefly("worker.log", NULL, NULL, NULL, NULL);
    size_t n = strlen(run) + strlen(log) + 1;
    char *both = malloc(n);
    snprintf(both, n, "%s%s", run, log);
    free(run);
    free(log);
    printf("%s", both);
    return both;
}

/* Verification turned off, or a CA / client certificate with a plain
 * amqp:// URL: the orchestrator and the worker each warn when they start. */
TEST(insecure_tls_settings_are_warned_at_every_start)
{
    test_write_file("ca.pem", "not used: nothing listens\n");
    char *out = start_both_with("amqps://guest:guest@127.0.0.1:1/%2f",
                                "broker_ca_file = \"ca.pem\"\nbroker_verify_peer = \"False:bool\"\n");
    ASSERT_EQ(count_of(out, "warn cluster: TLS certificate verification is off"), 1);
    ASSERT_EQ(count_of(out, "warn worker: TLS certificate verification is off"), 1);
    free(out);
    out = start_both_with("amqps://guest:guest@127.0.0.1:1/%2f",
                          "broker_ca_file = \"ca.pem\"\nbroker_verify_hostname = \"False:bool\"\n");
    ASSERT_EQ(count_of(out, "warn cluster: TLS hostname verification is off"), 1);
    ASSERT_EQ(count_of(out, "warn worker: TLS hostname verification is off"), 1);
    free(out);
    out = start_both_with("amqp://guest:guest@127.0.0.1:1/%2f", "broker_ca_file = \"ca.pem\"\n");
    ASSERT_EQ(count_of(out, "warn cluster: a CA or client certificate is set"), 1);
    ASSERT_EQ(count_of(out, "warn worker: a CA or client certificate is set"), 1);
    ASSERT_CONTAINS(out, "is not amqps://: the connection is not encrypted");
    free(out);
    out = start_both_with("amqps://guest:guest@127.0.0.1:1/%2f", "broker_ca_file = \"ca.pem\"\n");
    ASSERT_NOT_CONTAINS(out, "verification is off");
    ASSERT_NOT_CONTAINS(out, "is not amqps://");
    free(out);
}

/* ---- signals in cluster mode ------------------------------------------ */

/* SLOW in cluster mode on broker `url`, with the test's own queue, its
 * slow job lasting `secs` seconds. */
static void write_cluster_slow_for(const char *url, int secs)
{
    char cfg[4096], *at;
    snprintf(cfg, sizeof cfg, "[JOB]\nmode = \"cluster\"\nbroker_url = \"%s\"\nqueue = \"%s\"\n%s",
             url, test_queue(), SLOW);
    ASSERT((at = strstr(cfg, "duration = \"30\"")) != NULL);
    char tail[4096];
    snprintf(tail, sizeof tail, "%s", at + strlen("duration = \"30\""));
    snprintf(at, sizeof cfg - (size_t)(at - cfg), "duration = \"%d\"%s", secs, tail);
    test_write_file("config.toml", cfg);
}

static void write_cluster_slow(const char *url) { write_cluster_slow_for(url, 30); }

/* Sends `sig` to `pid` and returns how long it took to exit (seconds);
 * *rc gets its exit status. */
static double stop_timed(pid_t pid, int sig, int *rc)
{
    double t0 = now_s();
    kill(pid, sig);
    *rc = wait_exit(pid, 30);
    return now_s() - t0;
}

/* Ctrl-C and SIGTERM while `weft run` (and `weft run-worker`) start up
 * against a broker that does not answer: each stops within seconds (the
 * login alone would wait 5 s), 130 / 143 for run, 0 for the worker. */
TEST(cluster_signals_at_start_up_stop_within_seconds)
{
    use_clifns();
    int port, ls = broker_silent_listener(&port);
    char url[128];
    snprintf(url, sizeof url, "amqp://guest:guest@127.0.0.1:%d/%%2f", port);
    write_cluster_slow(url);
    static const int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", (const char *)NULL);
        sleep_ms(1000); /* connected, waiting for the broker's first frame */
        int rc;
        double took = stop_timed(pid, sigs[i], &rc);
        char *log = test_read_file("run.log", NULL);
        printf("    signal %d: exit %d after %.2f s\n%s", sigs[i], rc, took, log);
        free(log);
        ASSERT_EQ(rc, 128 + sigs[i]);
        ASSERT_LT(took, 3.0);
        pid = spawn_weft("worker.log", "run-worker", "--application-path", ".",
                         (const char *)NULL);
        free(wait_log("worker.log", "info worker: application", 20));
        sleep_ms(1000);
        took = stop_timed(pid, sigs[i], &rc);
        printf("    worker, signal %d: exit %d after %.2f s\n", sigs[i], rc, took);
        ASSERT_EQ(rc, 0);
        ASSERT_LT(took, 3.0);
        unlink("worker.log");
    }
    close(ls);
    /* A closed port: the start fails at once, or the signal ends it. */
    write_cluster_slow("amqp://guest:guest@127.0.0.1:1/%2f");
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", (const char *)NULL);
    sleep_ms(200);
    int rc;
    double took = stop_timed(pid, SIGINT, &rc);
    ASSERT(rc == 2 || rc == 130);
    ASSERT_LT(took, 3.0);
    char *out;
    ASSERT_EQ(test_weft(&out, "jobs --status RUNNING"), 0);
    ASSERT_NOT_CONTAINS(out, "JOB_");
    free(out);
}

static int broker_script(const char *cmd)
{
    const char *dir = getenv("WEFT_TEST_BROKER_DIR");
    if (!dir || !*dir) FAIL("WEFT_TEST_BROKER_DIR is not set: this test stops the broker");
    char c[4096];
    snprintf(c, sizeof c, "'%s/scripts/broker' %s '%s' >/dev/null 2>&1", test_src_dir(), cmd, dir);
    return system(c);
}

/* Mid-run, the broker stops: `weft run` still stops on `sig` within
 * seconds (the running job's worker cannot be told: the job ends CANCELED
 * here), and so do workers, busy or idle.  The broker is started again
 * before anything is asserted, for the tests that follow. */
static void signal_while_the_broker_is_down(int sig, bool drain)
{
    use_clifns();
    /* drain: one SIGTERM lets the worker finish its job (DRAIN_JOB_S),
     * whose result cannot be sent: it exits then, rather than wait for the
     * broker.  The job outlasts the broker's stop (rabbitmqctl: seconds on a
     * loaded machine), or the run would end before the signal. */
    enum { DRAIN_JOB_S = 10 };
    write_cluster_slow_for(broker_url(), drain ? DRAIN_JOB_S : 30);
    pid_t w = spawn_weft("worker.log", "run-worker", "--application-path", ".", "--queue",
                         test_queue(), (const char *)NULL);
    pid_t run = spawn_weft("run.log", "run", "-s", "sleepy", (const char *)NULL);
    free(wait_job_in("RUNNING", 30, run, "run.log"));
    int stopped = broker_script("stop");
    sleep_ms(500);
    int rc_run, rc_w, rc_idle;
    double t_run = stop_timed(run, sig, &rc_run);
    double t_w;
    if (drain) {
        t_w = stop_timed(w, SIGTERM, &rc_w);
    } else {
        kill(w, SIGTERM); /* drains: its job runs on... */
        sleep_ms(300);    /* (two signals sent at once may be delivered as one) */
        t_w = stop_timed(w, SIGTERM, &rc_w); /* ...the second stops at once */
    }
    pid_t idle = spawn_weft("idle.log", "run-worker", "--application-path", ".",
                            (const char *)NULL);
    free(wait_log("idle.log", "info worker: application", 20));
    sleep_ms(500);
    double t_idle = stop_timed(idle, SIGTERM, &rc_idle);
    int restarted = broker_script("start");

    char *log = test_read_file("run.log", NULL);
    printf("%s", log);
    free(log);
    log = test_read_file("worker.log", NULL);
    printf("%s", log);
    free(log);
    printf("    run: exit %d after %.2f s; busy worker: %d after %.2f s; idle worker: %d after "
           "%.2f s\n", rc_run, t_run, rc_w, t_w, rc_idle, t_idle);
    ASSERT_EQ(stopped, 0);
    ASSERT_EQ(restarted, 0);
    ASSERT_EQ(rc_run, 128 + sig);
    ASSERT_LT(t_run, 5.0);
    ASSERT_EQ(rc_w, 0);
    ASSERT_LT(t_w, drain ? DRAIN_JOB_S + 1.0 : 5.0); /* drain: what is left of its job */
    ASSERT_EQ(rc_idle, 0);
    ASSERT_LT(t_idle, 5.0);
    static const char *const want[][2] = {{"slow", "CANCELED"}, {"after", "ABANDONED"}};
    for (int i = 0; i < 2; i++) ASSERT_STR_EQ(status_of_task(want[i][0]), want[i][1]);
    json_t *running = weft_json("jobs --status RUNNING"); /* nothing left RUNNING */
    ASSERT_EQ(json_array_size(running), 0);
    json_decref(running);
    broker_cleanup(test_queue());
}

TEST(cluster_ctrl_c_while_the_broker_is_down) { signal_while_the_broker_is_down(SIGINT, true); }
TEST(cluster_sigterm_while_the_broker_is_down) { signal_while_the_broker_is_down(SIGTERM, false); }

TEST_MAIN(TEST_ENTRY(run_fan_out_fan_in_completes),
          TEST_ENTRY(run_json_has_the_keys), TEST_ENTRY(run_a_sequence_runs_only_its_tasks),
          TEST_ENTRY(run_standalone_with_workers),
          TEST_ENTRY(run_reports_failures),
          TEST_ENTRY(show_prints_error_exit_code_and_output),
          TEST_ENTRY(missing_function_is_reported),
          TEST_ENTRY(missing_input_file_is_reported),
          TEST_ENTRY(failing_command_is_reported),
          TEST_ENTRY(jobs_submissions_scenarios_data),
          TEST_ENTRY(cancel_a_submission_and_a_locked_store),
          TEST_ENTRY(cancel_from_another_process_development),
          TEST_ENTRY(cancel_from_another_process_standalone),
          TEST_ENTRY(ctrl_c_development),
          TEST_ENTRY(ctrl_c_standalone),
          TEST_ENTRY(kill_9_development),
          TEST_ENTRY(kill_9_standalone),
          TEST_ENTRY_TIMEOUT(run_with_1000_workers_completes, 120),
          TEST_ENTRY(ctrl_c_while_workers_start),
          TEST_ENTRY(check_warns_about_very_many_workers),
          TEST_ENTRY(sigterm_stops_a_standalone_run),
          TEST_ENTRY(ctrl_c_with_a_stopped_fork_server),
          TEST_ENTRY(sigterm_with_a_stopped_fork_server),
          TEST_ENTRY(ctrl_c_with_a_stopped_worker),
          TEST_ENTRY(run_exits_after_its_summary_with_a_stopped_fork_server),
          TEST_ENTRY(task_escape_sequences_are_escaped_on_a_terminal),
          TEST_ENTRY(cancel_after_the_orchestrator_was_killed),
          TEST_ENTRY(usage_errors_exit_2),
          TEST_ENTRY(every_command_words_mistakes_alike),
          TEST_ENTRY(global_options),
          TEST_ENTRY(double_dash_ends_the_options),
          TEST_ENTRY(opt_equals_value_is_opt_space_value),
          TEST_ENTRY(quiet_and_verbose_move_the_log_level),
          TEST_ENTRY(help_lists_every_command),
          TEST_ENTRY(broker_password_is_never_printed),
          TEST_ENTRY(malformed_broker_urls_never_show_the_password),
          TEST_ENTRY(run_worker_broker_file_keeps_the_password_out_of_ps),
          TEST_ENTRY(broker_password_on_the_command_line_is_warned_about),
          TEST_ENTRY(unset_broker_env_fails_only_what_connects),
          TEST_ENTRY(unset_broker_env_is_not_needed_when_given),
          TEST_ENTRY(insecure_tls_settings_are_warned_at_every_start),
          TEST_ENTRY(cluster_signals_at_start_up_stop_within_seconds),
          TEST_ENTRY_TIMEOUT(cluster_ctrl_c_while_the_broker_is_down, 150),
          TEST_ENTRY_TIMEOUT(cluster_sigterm_while_the_broker_is_down, 150))
