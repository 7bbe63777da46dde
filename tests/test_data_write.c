/* SPDX-License-Identifier: MIT */
/*
 * test_data_write.c - writing data nodes from outside a task: `weft data
 * write` (replace and --append) for each storage type, read back with
 * `weft data`; refusals (malformed JSON, a CSV header that differs, append
 * on a type without it, an unknown node, an editor named like a job) that
 * leave both the file and the store unchanged; the edit lock of a job held
 * RUNNING by a `weft run` in the background; the edit history in `weft
 * show`, `weft data --info` and their --json; and through the C API, that a
 * written input makes a skippable task run again.
 */
#include "test.h"

#include "weft.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf; /* a pointer: ASSERT_OK prints it */

/* Every storage type as a GLOBAL node, so its config id names it; `held` is
 * written by a task that sleeps, `src` -> `dst` by a skippable copy. */
static const char CONFIG[] =
    "[DATA_NODE.c]\nstorage_type = \"csv\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.j]\nstorage_type = \"json\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.t]\nstorage_type = \"text\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.b]\nstorage_type = \"binary\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.p]\nstorage_type = \"pickle\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.q]\nstorage_type = \"sql_table\"\nscope = \"GLOBAL\"\n"
    "db_name = \"app\"\ntable_name = \"rows\"\n"
    "[DATA_NODE.held]\nstorage_type = \"text\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.src]\nstorage_type = \"text\"\nscope = \"GLOBAL\"\n"
    "[DATA_NODE.dst]\nstorage_type = \"text\"\nscope = \"GLOBAL\"\n"
    "[TASK.touch]\nfunction = \"weft.noop\"\ninputs = [\"c\", \"j\", \"t\", \"b\", \"p\"]\n"
    "outputs = [\"q\"]\n"
    "[TASK.slow]\nfunction = \"weft.sleep\"\nduration = \"30\"\noutputs = [\"held\"]\n"
    "[TASK.copy]\nfunction = \"weft.noop\"\ninputs = [\"src\"]\noutputs = [\"dst\"]\nskippable = true\n"
    "[SCENARIO.all]\ntasks = [\"touch\"]\n"
    "[SCENARIO.flow]\ntasks = [\"copy\"]\n"
    "[SCENARIO.sleepy]\ntasks = [\"slow\"]\n";

/* ---- helpers ----------------------------------------------------------- */


/* `weft ARGS` whose output is JSON: parsed (the test fails otherwise). */
__attribute__((format(printf, 1, 2))) static json_t *weft_json(const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *out;
    int rc = test_weft(&out, "%s", args);
    if (rc != 0) FAIL("weft %s exited %d:\n%s", args, rc, out);
    json_error_t je;
    json_t *v = json_loads(out, 0, &je);
    if (!v) FAIL("weft %s: not JSON (%s):\n%s", args, je.text, out);
    free(out);
    return v;
}

/* Creates a scenario instance of `scenario` through the C API, so that its
 * data node instances exist, without running anything. */
static void create_scenario(const char *scenario)
{
    weft_config *cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_orchestrator_opts oo = {.application_path = "."};
    weft_orchestrator *o;
    ASSERT_OK(weft_orchestrator_open(cfg, &oo, &o, err), err);
    char *sid;
    ASSERT_OK(weft_scenario_create(o, scenario, &sid, err), err);
    free(sid);
    weft_orchestrator_close(o);
    weft_config_free(cfg);
}

static void setup(void)
{
    test_write_file("config.toml", CONFIG);
    create_scenario("all");
    create_scenario("flow");
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (*s == '\n') n++;
    return n;
}

/* The path of node `id` (from `weft data --info --json`); caller frees. */
static char *path_of(const char *id)
{
    json_t *v = weft_json("data --info --json %s", id);
    const char *p = json_string_value(json_object_get(v, "path"));
    ASSERT(p != NULL);
    char *r = strdup(p);
    json_decref(v);
    return r;
}

/* The number of edits of node `id`. */
static size_t nedits(const char *id)
{
    json_t *v = weft_json("data --info --json %s", id);
    size_t n = json_array_size(json_object_get(v, "edits"));
    json_decref(v);
    return n;
}

/* `weft data ID`'s output; caller frees. */
static char *content(const char *id)
{
    char *out;
    int rc = test_weft(&out, "data %s 2>&1", id);
    if (rc != 0) FAIL("weft data %s exited %d: %s", id, rc, out);
    return out;
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

/* Asserts that a refused write (exit 1, message containing `why`) changed
 * neither the file at `path` (NULL: none) nor the node's edits. */
static void refused(const char *id, const char *path, const char *args, const char *why)
{
    size_t before = nedits(id);
    char *old = path && access(path, F_OK) == 0 ? test_read_file(path, NULL) : NULL;
    char *out;
    ASSERT_EQ(test_weft(&out, "data write %s %s", id, args), 1);
    printf("%s", out);
    ASSERT_CONTAINS(out, why);
    ASSERT_EQ(count_lines(out), 1);
    free(out);
    ASSERT_EQ(nedits(id), before);
    if (old) {
        char *now = test_read_file(path, NULL);
        ASSERT_STR_EQ(now, old);
        free(now);
    } else if (path) {
        ASSERT(access(path, F_OK) != 0);
    }
    free(old);
}

/* Writes `text` to node `id` from a file, and checks that it reads back. */
static void write_text(const char *id, const char *text, const char *more_args)
{
    test_write_file("in.dat", text);
    char *out;
    ASSERT_EQ(test_weft(&out, "data write %s %s in.dat", more_args, id), 0);
    ASSERT_STR_EQ(out, "");
    free(out);
}

static void assert_json_content(const char *id, const char *want)
{
    char *got = content(id);
    json_t *g = json_loads(got, JSON_DECODE_ANY, NULL), *w = json_loads(want, JSON_DECODE_ANY, NULL);
    ASSERT(w != NULL);
    if (!g || !json_equal(g, w)) FAIL("data node %s holds %s, expected %s", id, got, want);
    json_decref(g);
    json_decref(w);
    free(got);
}

/* ---- tests ------------------------------------------------------------- */

TEST(write_each_storage_type_and_read_it_back)
{
    setup();
    char *out;
    write_text("t", "hello\n", "");
    out = content("t");
    ASSERT_STR_EQ(out, "hello\n");
    free(out);

    /* Standard input, with - and with no file at all. */
    test_write_file("in.txt", "from stdin\n");
    ASSERT_EQ(test_weft(NULL, "data write t - < in.txt"), 0);
    out = content("t");
    ASSERT_STR_EQ(out, "from stdin\n");
    free(out);
    test_write_file("in.txt", "again\n");
    ASSERT_EQ(test_weft(NULL, "data write t < in.txt"), 0);
    out = content("t");
    ASSERT_STR_EQ(out, "again\n");
    free(out);
    ASSERT_EQ(nedits("t"), 3);

    write_text("c", "a,b\n1,\"x,y\"\n", "");
    out = content("c");
    ASSERT_STR_EQ(out, "a,b\n1,\"x,y\"\n");
    free(out);

    write_text("j", "{\"k\": [1, 2], \"s\": \"v\"}", "");
    assert_json_content("j", "{\"k\": [1, 2], \"s\": \"v\"}");

    write_text("q", "[]", "");
    assert_json_content("q", "[]");
    write_text("q", "[{\"x\": 1, \"y\": \"a\"}, {\"x\": 2, \"y\": \"b\"}]", "");
    assert_json_content("q", "[{\"x\": 1, \"y\": \"a\"}, {\"x\": 2, \"y\": \"b\"}]");

    /* Binary and pickle: bytes, NULs and all, as given. */
    ASSERT_EQ(system("printf 'A\\000\\001\\377Z' > in.bin"), 0);
    for (int i = 0; i < 2; i++) {
        const char *id = i ? "p" : "b";
        ASSERT_EQ(test_weft(NULL, "data write %s in.bin", id), 0);
        char *path = path_of(id);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "cmp in.bin '%s' && '%s' data %s | cmp in.bin -", path, test_weft_bin(), id);
        ASSERT_EQ(test_run_cmd(cmd, NULL), 0);
        ASSERT_EQ(nedits(id), 1);
        free(path);
    }
}

TEST(append_adds_to_csv_text_binary_json_and_sql_tables)
{
    setup();
    char *out;
    /* csv: a node without content takes the input's header, then rows follow. */
    write_text("c", "a,b\n1,2\n", "--append");
    write_text("c", "a,b\n3,4\n5,\"six, 6\"\n", "--append");
    out = content("c");
    ASSERT_STR_EQ(out, "a,b\n1,2\n3,4\n5,\"six, 6\"\n");
    free(out);

    write_text("t", "ab", "");
    write_text("t", "cd\n", "--append");
    out = content("t");
    ASSERT_STR_EQ(out, "abcd\n");
    free(out);

    write_text("b", "\x01\x02", "--append");
    write_text("b", "\x03", "--append");
    out = content("b");
    ASSERT_STR_EQ(out, "\x01\x02\x03");
    free(out);

    /* json: an item, then a list's items, are added to the list (Taipy). */
    write_text("j", "[1]", "");
    write_text("j", "2", "--append");
    write_text("j", "[3, {\"four\": 4}]", "--append");
    assert_json_content("j", "[1, 2, 3, {\"four\": 4}]");
    /* ... and an object's keys to an object. */
    write_text("j", "{\"a\": 1}", "");
    write_text("j", "{\"b\": 2}", "--append");
    assert_json_content("j", "{\"a\": 1, \"b\": 2}");

    write_text("q", "[{\"x\": 1}]", "");
    write_text("q", "{\"x\": 2}", "--append");
    write_text("q", "[{\"x\": 3}, {\"x\": 4}]", "--append");
    assert_json_content("q", "[{\"x\": 1}, {\"x\": 2}, {\"x\": 3}, {\"x\": 4}]");
    ASSERT_EQ(nedits("q"), 3);
}

TEST(refused_writes_change_neither_the_file_nor_the_store)
{
    setup();
    write_text("t", "keep\n", "");
    write_text("j", "[1]", "");
    write_text("c", "a,b\n1,2\n", "");
    write_text("p", "pickled", "");
    write_text("q", "[{\"x\": 1}]", "");
    char *tp = path_of("t"), *jp = path_of("j"), *cp = path_of("c"), *pp = path_of("p");

    test_write_file("bad.json", "{\"a\": oops}");
    refused("j", jp, "bad.json", "malformed JSON");
    refused("j", jp, "--append bad.json", "malformed JSON");
    refused("q", NULL, "bad.json", "malformed JSON");
    test_write_file("rows.json", "[{\"x\": 1}, 2]");
    refused("q", NULL, "rows.json", "input row 2 is not a JSON object");

    test_write_file("x.txt", "more");
    test_write_file("x.csv", "a,b\n5,6\n");
    test_write_file("h.csv", "a,c\n3,4\n");
    refused("c", cp, "--append h.csv", "input line 1: column 2 is 'c' where the node's header has 'b'");
    refused("c", cp, "h.csv", "column 2 is 'c'");
    test_write_file("h.csv", "a,b,c\n3,4,5\n");
    refused("c", cp, "--append h.csv", "the header has 3 columns, the node's has 2 (a,b)");
    test_write_file("h.csv", "a,b\n3,4\n5\n6,7\n");
    refused("c", cp, "--append h.csv", "input line 3: 1 field where the header has 2");
    test_write_file("h.csv", "a,b\n\"3,4\n");
    refused("c", cp, "--append h.csv", "data node c: input:2: unterminated quoted field");
    /* Content that cannot be read is refused for appending, replaced by a write. */
    test_write_file(cp, "a,\"b\n");
    refused("c", cp, "--append x.csv", "unterminated quoted field");
    write_text("c", "a,b\n1,2\n", "");
    char *fixed = content("c");
    ASSERT_STR_EQ(fixed, "a,b\n1,2\n");
    free(fixed);


    refused("p", pp, "--append x.txt", "data node p is pickle: append is not supported");
    write_text("j", "{\"a\": 1}", "");
    test_write_file("x.json", "[2]");
    refused("j", jp, "--append x.json", "holds a JSON object");
    refused("t", tp, "--editor JOB_me x.txt", "starts with JOB_");

    /* An unknown node: nothing written anywhere. */
    char *out;
    ASSERT_EQ(test_weft(&out, "data write nosuch x.txt"), 1);
    ASSERT_CONTAINS(out, "no data node nosuch");
    free(out);
    ASSERT_EQ(test_weft(&out, "data write t no-such-file"), 1);
    ASSERT_CONTAINS(out, "cannot open no-such-file");
    free(out);
    ASSERT_EQ(nedits("t"), 1);
    free(tp);
    free(jp);
    free(cp);
    free(pp);
}

/* Starts `weft ARGS...` (NULL-terminated) in the background, output to `log`. */
static pid_t spawn_weft(const char *log, ...)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = "weft";
    va_list ap;
    va_start(ap, log);
    const char *a;
    while (n < 15 && (a = va_arg(ap, const char *)) != NULL) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(127);
        execv(test_weft_bin(), (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* The id of the first RUNNING job (caller frees), waiting for one. */
static char *wait_running(pid_t pid, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        char *out = NULL;
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s' jobs --status RUNNING --json 2>/dev/null", test_weft_bin());
        test_run_cmd(cmd, &out);
        json_t *v = json_loads(out, 0, NULL);
        free(out);
        if (v && json_array_size(v) > 0) {
            char *id = strdup(json_string_value(json_object_get(json_array_get(v, 0), "id")));
            json_decref(v);
            return id;
        }
        json_decref(v);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) FAIL("weft run ended before a job was RUNNING:\n%s",
                                                    test_read_file("run.log", NULL));
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    FAIL("no job became RUNNING within %.0f s:\n%s", timeout_s, test_read_file("run.log", NULL));
}

static void locked_while_running(const char *mode)
{
    setup();
    pid_t pid = spawn_weft("run.log", "run", "-s", "sleepy", "--mode", mode, (const char *)NULL);
    char *job = wait_running(pid, 30);
    char *path = path_of("held");
    test_write_file("x.txt", "outside\n");
    char msg[512];
    snprintf(msg, sizeof msg, "data node DATANODE_held_");
    refused("held", path, "x.txt", msg);
    snprintf(msg, sizeof msg, "is locked for editing: job %s (RUNNING) is to write it", job);
    refused("held", path, "x.txt", msg);
    refused("held", path, "--append --editor bob x.txt", job);

    /* The lock shows in --info and show, text and JSON. */
    json_t *v = weft_json("data --info --json held");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "locked_by")), job);
    char *id = strdup(json_string_value(json_object_get(v, "id")));
    json_decref(v);
    char *out;
    ASSERT_EQ(test_weft(&out, "show %s", id), 0);
    printf("%s", out);
    char line[512];
    snprintf(line, sizeof line, "locked by   %s\n", job);
    ASSERT_CONTAINS(out, line);
    free(out);

    /* Once the job is over the node can be written. */
    ASSERT_EQ(test_weft(NULL, "cancel %s", job), 0);
    int st;
    double end = now_s() + 20;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (now_s() > end) {
            kill(pid, SIGKILL);
            FAIL("weft run did not exit after its job was canceled");
        }
        sleep_ms(20);
    }
    ASSERT_EQ(test_weft(&out, "data write held x.txt"), 0);
    free(out);
    out = content("held");
    ASSERT_STR_EQ(out, "outside\n");
    free(out);
    v = weft_json("data --info --json held");
    ASSERT(json_is_null(json_object_get(v, "locked_by")));
    json_decref(v);
    free(id);
    free(path);
    free(job);
}

TEST(a_node_that_a_running_job_writes_is_locked) { locked_while_running("development"); }
TEST(a_node_that_a_standalone_job_writes_is_locked) { locked_while_running("standalone"); }

TEST(the_edit_history_shows_in_show_and_info)
{
    setup();
    write_text("src", "one\n", "");
    write_text("src", "two\n", "--editor alice");
    char *out;
    ASSERT_EQ(test_weft(&out, "run -s flow -q"), 0);
    free(out);

    json_t *v = weft_json("data --info --json src");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "config")), "src");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "storage_type")), "text");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "scope")), "GLOBAL");
    ASSERT_STR_EQ(json_string_value(json_object_get(v, "last_editor")), "alice");
    ASSERT(json_is_string(json_object_get(v, "last_edit_date")));
    json_t *edits = json_object_get(v, "edits");
    ASSERT_EQ(json_array_size(edits), 2);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(edits, 0), "editor_id")), "user");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(edits, 1), "editor_id")), "alice");
    ASSERT(json_object_get(json_array_get(edits, 1), "job_id") == NULL);
    ASSERT_LE(json_integer_value(json_object_get(json_array_get(edits, 0), "at_us")),
              json_integer_value(json_object_get(json_array_get(edits, 1), "at_us")));
    ASSERT_EQ(json_integer_value(json_object_get(v, "last_edit_us")),
              json_integer_value(json_object_get(json_array_get(edits, 1), "at_us")));
    char *src_id = strdup(json_string_value(json_object_get(v, "id")));
    json_decref(v);

    /* A job's edit names the job. */
    v = weft_json("data --info --json dst");
    const char *by = json_string_value(json_object_get(v, "last_editor"));
    ASSERT(by && strncmp(by, "JOB_copy_", 9) == 0);
    edits = json_object_get(v, "edits");
    ASSERT_EQ(json_array_size(edits), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(edits, 0), "job_id")), by);
    char *dst_id = strdup(json_string_value(json_object_get(v, "id")));
    json_decref(v);

    /* Text: --info and show print the same. */
    char *info, *show;
    ASSERT_EQ(test_weft(&info, "data --info src"), 0);
    ASSERT_EQ(test_weft(&show, "show %s", src_id), 0);
    printf("%s", info);
    ASSERT_STR_EQ(info, show);
    ASSERT_CONTAINS(info, "editor      alice\n");
    ASSERT_CONTAINS(info, "locked by   -\n");
    ASSERT_CONTAINS(info, "edits\n");
    const char *hist = strstr(info, "edits\n");
    const char *u = hist ? strstr(hist, " user\n") : NULL, *al = hist ? strstr(hist, " alice\n") : NULL;
    ASSERT(u && al && u < al);
    free(info);
    free(show);
    json_t *a = weft_json("show --json %s", dst_id), *b = weft_json("data --info --json %s", dst_id);
    ASSERT(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* A node never written. */
    ASSERT_EQ(test_weft(&info, "data --info c"), 0);
    ASSERT_CONTAINS(info, "last edit   -\n");
    ASSERT_CONTAINS(info, "edits       -\n");
    free(info);
    v = weft_json("data --info --json c");
    ASSERT(json_is_null(json_object_get(v, "last_edit_date")));
    ASSERT(json_is_null(json_object_get(v, "last_editor")));
    ASSERT_EQ(json_array_size(json_object_get(v, "edits")), 0);
    json_decref(v);
    ASSERT_EQ(test_weft(&out, "data --json src"), 2);
    ASSERT_CONTAINS(out, "--json goes with --info");
    free(out);
    free(src_id);
    free(dst_id);
}

TEST(in_memory_nodes_are_written_in_the_process_that_runs_the_jobs)
{
    test_write_file("config.toml", "[DATA_NODE.m]\nstorage_type = \"in_memory\"\nscope = \"GLOBAL\"\n"
                                   "[TASK.use]\nfunction = \"weft.noop\"\ninputs = [\"m\"]\n"
                                   "[SCENARIO.mem]\ntasks = [\"use\"]\n");
    create_scenario("mem");
    test_write_file("x.txt", "x");
    refused("m", NULL, "x.txt", "data node m is in_memory: its content lives in the process that runs");
    refused("m", NULL, "--append x.txt", "data node m is in_memory");
}

/* The status of the only job of `weft run -s flow --json` (exit 0 or 1). */
static char *run_flow(void)
{
    char *out;
    int rc = test_weft(&out, "run -s flow --json 2>/dev/null");
    json_t *v = json_loads(out, 0, NULL);
    if (!v || rc > 1) FAIL("weft run -s flow --json exited %d:\n%s", rc, out);
    free(out);
    json_t *jobs = json_object_get(v, "jobs");
    ASSERT_EQ(json_array_size(jobs), 1);
    char *st = strdup(json_string_value(json_object_get(json_array_get(jobs, 0), "status")));
    json_decref(v);
    return st;
}

TEST(a_written_input_makes_a_skippable_task_run_again)
{
    setup();
    /* Never written: the task cannot read its input. */
    char *st = run_flow();
    ASSERT_STR_EQ(st, "FAILED");
    free(st);
    write_text("src", "one\n", "");
    st = run_flow();
    ASSERT_STR_EQ(st, "COMPLETED");
    free(st);
    st = run_flow();
    ASSERT_STR_EQ(st, "SKIPPED");
    free(st);
    write_text("src", "two\n", "--append");
    st = run_flow();
    ASSERT_STR_EQ(st, "COMPLETED");
    free(st);
    /* A refused write is no edit: still up to date. */
    test_write_file("bad.csv", "x");
    refused("src", NULL, "--append --editor '' bad.csv", "editor name must be 1 to 128 bytes long");
    st = run_flow();
    ASSERT_STR_EQ(st, "SKIPPED");
    free(st);
}

TEST(c_api_arguments_and_info)
{
    setup();
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_orchestrator_opts oo = {.application_path = "."};
    weft_orchestrator *o;
    ASSERT_OK(weft_orchestrator_open(cfg, &oo, &o, err), err);

    ASSERT_OK(weft_data_write(o, "t", "abc", 3, NULL, err), err);
    weft_data_write_opts ap = {.flags = WEFT_DATA_APPEND, .editor = "carol"};
    ASSERT_OK(weft_data_write(o, "t", "def", 3, &ap, err), err);
    char *data;
    size_t len;
    ASSERT_OK(weft_data_read(o, "t", &data, &len, err), err);
    ASSERT_EQ(len, 6);
    ASSERT(memcmp(data, "abcdef", 6) == 0);
    free(data);

    ASSERT_EQ(weft_data_write(o, "p", "x", 1, &ap, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "append is not supported");
    weft_data_write_opts bad = {.flags = 0x10};
    ASSERT_EQ(weft_data_write(o, "t", "x", 1, &bad, err), WEFT_EINVAL);
    ASSERT_EQ(weft_data_write(o, "nosuch", "x", 1, NULL, err), WEFT_ENOTFOUND);
    ASSERT_EQ(weft_data_write(o, "j", "[", 1, NULL, err), WEFT_EDATA);
    ASSERT_EQ(weft_data_write(NULL, "t", "x", 1, NULL, err), WEFT_EINVAL);

    weft_data_info *d;
    ASSERT_OK(weft_data_info_get(o, "t", &d, err), err);
    ASSERT_STR_EQ(d->config_id, "t");
    ASSERT_STR_EQ(d->storage_type, "text");
    ASSERT_EQ(d->scope, WEFT_SCOPE_GLOBAL);
    ASSERT(d->scenario_id == NULL && d->path != NULL && d->locked_by == NULL);
    ASSERT_STR_EQ(d->last_editor, "carol");
    ASSERT(d->last_job_id == NULL);
    ASSERT_EQ(d->nedits, 2);
    ASSERT_STR_EQ(d->edits[0].editor, "user");
    ASSERT_STR_EQ(d->edits[1].editor, "carol");
    ASSERT_EQ(d->last_edit_us, d->edits[1].at_us);
    weft_data_info_free(d);
    ASSERT_EQ(weft_data_info_get(o, "nosuch", &d, err), WEFT_ENOTFOUND);
    ASSERT(d == NULL);

    /* The store's checker accepts an editor that edits many times. */
    weft_orchestrator_close(o);
    char **problems;
    size_t np;
    ASSERT_OK(weft_store_check(cfg, &oo, &problems, &np, err), err);
    for (size_t i = 0; i < np; i++) printf("    problem: %s\n", problems[i]);
    ASSERT_EQ(np, 0);
    weft_strv_free(problems, np);
    weft_config_free(cfg);
}

TEST_MAIN(TEST_ENTRY(write_each_storage_type_and_read_it_back),
          TEST_ENTRY(append_adds_to_csv_text_binary_json_and_sql_tables),
          TEST_ENTRY(refused_writes_change_neither_the_file_nor_the_store),
          TEST_ENTRY(a_node_that_a_running_job_writes_is_locked),
          TEST_ENTRY(a_node_that_a_standalone_job_writes_is_locked),
          TEST_ENTRY(the_edit_history_shows_in_show_and_info),
          TEST_ENTRY(a_written_input_makes_a_skippable_task_run_again),
          TEST_ENTRY(in_memory_nodes_are_written_in_the_process_that_runs_the_jobs),
          TEST_ENTRY(c_api_arguments_and_info))
