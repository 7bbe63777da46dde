/* SPDX-License-Identifier: MIT */
/*
 * test_python.c - Python task functions run by the embedded CPython: the
 * calling convention (0, 1 and 3 outputs, a wrong count), every data node
 * type read and written as Taipy exposes it, pickles shared with a
 * separate python3 process both ways, exceptions with their traceback,
 * print() in the job's log, cancel and timeout of a job stuck in
 * `while True: pass`, development and standalone modes, a crash through
 * ctypes and a module that does not import, and `weft check` finding
 * modules without running them (and importing them with --import).
 * excel (one sheet, a dict of sheets), generic (Python read_fct/write_fct)
 * and sql_table nodes in the three modes, cluster mode against the test
 * broker with a real `weft run-worker`, and a missing library (openpyxl)
 * named by the job and by `weft check --import`.  Each test writes its
 * config.toml and modules into its own temporary folder.
 */
#define _GNU_SOURCE
#include "test.h"

#include "broker.h"
#include "util/util.h"
#include "weft.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf;

/* ---- setup ---- */

/* A config from `toml` (written to config.toml, after a [JOB] section of
 * `mode`) and its orchestrator, open and started. */
typedef struct run {
    weft_config *cfg;
    weft_orchestrator *o;
    char *sub;
} run;

/* The job queue of cluster runs: one per test process. */
static char queue_name[128];

static void open_run(run *r, const char *mode, const char *toml)
{
    char *text = NULL, job[512] = "";
    if (strcmp(mode, "standalone") == 0) snprintf(job, sizeof job, "max_nb_of_workers = \"2:int\"");
    if (strcmp(mode, "cluster") == 0) {
        snprintf(queue_name, sizeof queue_name, "weft.test.python.%d", (int)getpid());
        snprintf(job, sizeof job, "broker_url = \"%s\"\nqueue = \"%s\"", broker_url(), queue_name);
    }
    ASSERT(asprintf(&text, "[CORE]\nstorage_folder = \".weft/\"\n[JOB]\nmode = \"%s\"\n%s\n%s", mode,
                    job, toml) > 0);
    test_write_file("config.toml", text);
    free(text);
    ASSERT((r->cfg = weft_config_new()) != NULL);
    ASSERT_OK(weft_config_load(r->cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(r->cfg, err), err);
    r->o = NULL;
    ASSERT_OK(weft_orchestrator_open(r->cfg, NULL, &r->o, err), err);
    ASSERT_OK(weft_orchestrator_start(r->o, err), err);
}

/* Writes the module `py_file`, opens the run and submits it (waiting). */
static void run_module(run *r, const char *mode, const char *py_file, const char *py_src,
                       const char *toml);

/* Creates scenario `s` and submits it; waits when `wait`. */
static void submit(run *r, bool wait)
{
    char *sc = NULL;
    ASSERT_OK(weft_scenario_create(r->o, "s", &sc, err), err);
    weft_submit_opts so = {.wait = wait, .timeout_ms = 60000};
    ASSERT_OK(weft_submit(r->o, sc, &so, &r->sub, err), err);
    free(sc);
}

static void run_module(run *r, const char *mode, const char *py_file, const char *py_src,
                       const char *toml)
{
    test_write_file(py_file, py_src);
    open_run(r, mode, toml);
    submit(r, true);
}

static void close_run(run *r)
{
    free(r->sub);
    weft_orchestrator_close(r->o);
    weft_config_free(r->cfg);
}

/* The job of task `task` in the run's submission (caller frees). */
static weft_job_info *job_of(run *r, const char *task)
{
    weft_job_filter f = {.submission_id = r->sub, .status = -1};
    weft_job_info **jobs = NULL, *j = NULL;
    size_t n = 0, i = 0;
    ASSERT_OK(weft_jobs_list(r->o, &f, &jobs, &n, err), err);
    while (i < n && strcmp(jobs[i]->task_config_id, task) != 0) i++;
    if (i < n) ASSERT_OK(weft_job_get(r->o, jobs[i]->id, &j, err), err);
    weft_job_list_free(jobs, n);
    if (!j) FAIL("no job of task %s", task);
    return j;
}

/* Asserts the job's status and that its error contains `error_part`. */
static void expect_job(run *r, const char *task, weft_job_status st, const char *error_part)
{
    weft_job_info *j = job_of(r, task);
    if (j->status != st)
        FAIL("%s: status %s, expected %s (error: %s)", task, weft_job_status_name(j->status),
             weft_job_status_name(st), j->error ? j->error : "none");
    if (error_part) ASSERT_CONTAINS(j->error, error_part);
    weft_job_info_free(j);
}

static char *read_text(const char *path) { return test_read_file(path, NULL); }

/* Asserts that the file at `path` holds exactly `want`. */
static void expect_file(const char *path, const char *want)
{
    char *got = read_text(path);
    if (strcmp(got, want) != 0) FAIL("%s holds \"%s\", expected \"%s\"", path, got, want);
    free(got);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs `python3 -c CODE`, its output in *out (caller frees); the exit status. */
static int python3(const char *code, char **out)
{
    char *cmd = NULL;
    ASSERT(asprintf(&cmd, "python3 -c '%s'", code) > 0);
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    return rc;
}

/* ---- the calling convention ---- */

static const char CONV_PY[] =
    "def zero(a):\n"
    "    open('side.txt', 'w').write('zero saw ' + a)\n"
    "    return 'ignored'\n"
    "def one(a):\n"
    "    return a.upper()\n"
    "def three(a):\n"
    "    return {'n': len(a)}, a + '!', [a, a]\n"
    "def three_bad(a):\n"
    "    return 1, 2\n";

static const char CONV_TOML[] =
    "[DATA_NODE.src]\nstorage_type = \"text\"\ndefault_path = \"src.txt\"\n"
    "[DATA_NODE.up]\nstorage_type = \"text\"\ndefault_path = \"up.txt\"\n"
    "[DATA_NODE.j]\nstorage_type = \"json\"\ndefault_path = \"j.json\"\n"
    "[DATA_NODE.t]\nstorage_type = \"text\"\ndefault_path = \"t.txt\"\n"
    "[DATA_NODE.p]\nstorage_type = \"pickle\"\ndefault_path = \"p.p\"\n"
    "[DATA_NODE.bj]\nstorage_type = \"json\"\ndefault_path = \"bj.json\"\n"
    "[DATA_NODE.bt]\nstorage_type = \"text\"\ndefault_path = \"bt.txt\"\n"
    "[DATA_NODE.bp]\nstorage_type = \"pickle\"\ndefault_path = \"bp.p\"\n"
    "[TASK.zero]\nfunction = \"conv.zero:function\"\ninputs = [\"src:SECTION\"]\n"
    "[TASK.one]\nfunction = \"conv.one:function\"\ninputs = [\"src:SECTION\"]\n"
    "outputs = [\"up:SECTION\"]\n"
    "[TASK.three]\nfunction = \"conv.three:function\"\ninputs = [\"src:SECTION\"]\n"
    "outputs = [\"j:SECTION\", \"t:SECTION\", \"p:SECTION\"]\n"
    "[TASK.three_bad]\nfunction = \"conv.three_bad:function\"\ninputs = [\"src:SECTION\"]\n"
    "outputs = [\"bj:SECTION\", \"bt:SECTION\", \"bp:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"zero:SECTION\", \"one:SECTION\", \"three:SECTION\", "
    "\"three_bad:SECTION\"]\n";

static void calling_convention(const char *mode)
{
    run r;
    test_write_file("src.txt", "abc");
    run_module(&r, mode, "conv.py", CONV_PY, CONV_TOML);
    const char *fine[] = {"zero", "one", "three"};
    for (size_t i = 0; i < 3; i++) expect_job(&r, fine[i], WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "three_bad", WEFT_JOB_FAILED,
               "task three_bad: function conv.three_bad returned 2 values for 3 outputs");
    expect_file("side.txt", "zero saw abc");
    expect_file("up.txt", "ABC");
    expect_file("j.json", "{\"n\": 3}");
    expect_file("t.txt", "abc!");
    char *out = NULL;
    ASSERT_EQ(python3("import pickle; print(pickle.load(open(\"p.p\", \"rb\")))", &out), 0);
    ASSERT_STR_EQ(out, "['abc', 'abc']\n");
    free(out);
    /* a wrong count writes none of the outputs, and leaves no temporary
     * file (a pickle output's is opened before the function runs) */
    ASSERT(!exists("bj.json") && !exists("bt.txt") && !exists("bp.p"));
    ASSERT_EQ(test_run_cmd("ls -a | grep -c '^\\.bp\\.p\\.'", &out), 1);
    free(out);
    close_run(&r);
}

TEST(calling_convention_0_1_3_outputs_and_a_wrong_count_in_development)
{
    calling_convention("development");
}

TEST(calling_convention_in_standalone_workers)
{
    calling_convention("standalone");
}

/* ---- data nodes ---- */

static const char TYPES_PY[] =
    "import numpy, pandas\n"
    "def csv_in(df, arr, nohdr):\n"
    "    assert isinstance(df, pandas.DataFrame), type(df)\n"
    "    assert isinstance(arr, numpy.ndarray), type(arr)\n"
    "    assert list(nohdr.columns) == [0, 1], list(nohdr.columns)\n"
    "    df['total'] = df.units * df.price\n"
    "    return df, int(arr[:, 1].sum()), len(nohdr)\n"
    "def kinds(j, t, b):\n"
    "    assert isinstance(j, dict) and isinstance(t, str) and isinstance(b, bytes)\n"
    "    return {'keys': sorted(j)}, t * 2, b[::-1], {'mem': [1, 2]}\n"
    "def after_mem(m, c):\n"
    "    return f\"{m['mem']} {c.shape} {list(c.columns)}\"\n";

static const char TYPES_TOML[] =
    "[DATA_NODE.sales]\nstorage_type = \"csv\"\ndefault_path = \"sales.csv\"\n"
    "[DATA_NODE.sales_np]\nstorage_type = \"csv\"\ndefault_path = \"sales.csv\"\n"
    "exposed_type = \"numpy\"\n"
    "[DATA_NODE.nohdr]\nstorage_type = \"csv\"\ndefault_path = \"nohdr.csv\"\n"
    "has_header = \"False:bool\"\n"
    "[DATA_NODE.totals]\nstorage_type = \"csv\"\ndefault_path = \"totals.csv\"\n"
    "[DATA_NODE.units]\nstorage_type = \"json\"\ndefault_path = \"units.json\"\n"
    "[DATA_NODE.rows]\nstorage_type = \"text\"\ndefault_path = \"rows.txt\"\n"
    "[DATA_NODE.jin]\nstorage_type = \"json\"\ndefault_path = \"in.json\"\n"
    "[DATA_NODE.tin]\nstorage_type = \"text\"\ndefault_path = \"in.txt\"\n"
    "[DATA_NODE.bin]\nstorage_type = \"binary\"\ndefault_path = \"in.bin\"\n"
    "[DATA_NODE.jout]\nstorage_type = \"json\"\ndefault_path = \"out.json\"\n"
    "[DATA_NODE.tout]\nstorage_type = \"text\"\ndefault_path = \"out.txt\"\n"
    "[DATA_NODE.bout]\nstorage_type = \"binary\"\ndefault_path = \"out.bin\"\n"
    "[DATA_NODE.mem]\nstorage_type = \"in_memory\"\n"
    "[DATA_NODE.summary]\nstorage_type = \"text\"\ndefault_path = \"summary.txt\"\n"
    "[TASK.csv_in]\nfunction = \"dnt.csv_in:function\"\n"
    "inputs = [\"sales:SECTION\", \"sales_np:SECTION\", \"nohdr:SECTION\"]\n"
    "outputs = [\"totals:SECTION\", \"units:SECTION\", \"rows:SECTION\"]\n"
    "[TASK.kinds]\nfunction = \"dnt.kinds:function\"\n"
    "inputs = [\"jin:SECTION\", \"tin:SECTION\", \"bin:SECTION\"]\n"
    "outputs = [\"jout:SECTION\", \"tout:SECTION\", \"bout:SECTION\", \"mem:SECTION\"]\n"
    "[TASK.after_mem]\nfunction = \"dnt.after_mem:function\"\n"
    "inputs = [\"mem:SECTION\", \"totals:SECTION\"]\noutputs = [\"summary:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"csv_in:SECTION\", \"kinds:SECTION\", \"after_mem:SECTION\"]\n";

TEST(every_data_node_type_read_and_written_as_taipy_exposes_it)
{
    test_write_file("dnt.py", TYPES_PY);
    test_write_file("sales.csv", "region,units,price\nn,3,2\ns,4,10\n");
    test_write_file("nohdr.csv", "a,1\nb,2\nc,3\n");
    test_write_file("in.json", "{\"b\": 1, \"a\": 2}");
    test_write_file("in.txt", "hey");
    test_write_file("in.bin", "\x01\x02\x03");
    run r;
    open_run(&r, "development", TYPES_TOML);
    submit(&r, true);
    expect_job(&r, "csv_in", WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "kinds", WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "after_mem", WEFT_JOB_COMPLETED, NULL);
    expect_file("totals.csv", "region,units,price,total\nn,3,2,6\ns,4,10,40\n");
    expect_file("units.json", "7");
    expect_file("rows.txt", "3");
    expect_file("out.json", "{\"keys\": [\"a\", \"b\"]}");
    expect_file("out.txt", "heyhey");
    size_t n = 0;
    char *s = test_read_file("out.bin", &n);
    ASSERT_EQ(n, 3);
    ASSERT(memcmp(s, "\x03\x02\x01", 3) == 0);
    free(s);
    /* in_memory: the object itself, handed on in this process */
    expect_file("summary.txt", "[1, 2] (2, 4) ['region', 'units', 'price', 'total']");
    close_run(&r);
}

TEST(pickles_are_shared_with_a_separate_python_both_ways)
{
    char *out = NULL;
    ASSERT_EQ(python3("import pickle; pickle.dump({\"a\": [1, 2], \"b\": (3.5, None)}, "
                      "open(\"given.p\", \"wb\"))",
                      &out),
              0);
    free(out);
    test_write_file("pk.py", "def f(d):\n    d['a'].append(3)\n    return d, {1, 2}\n");
    run r;
    open_run(&r, "development",
             "[DATA_NODE.given]\nstorage_type = \"pickle\"\ndefault_path = \"given.p\"\n"
             "[DATA_NODE.back]\nstorage_type = \"pickle\"\ndefault_path = \"back.p\"\n"
             "[DATA_NODE.set]\nstorage_type = \"pickle\"\ndefault_path = \"set.p\"\n"
             "[TASK.f]\nfunction = \"pk.f:function\"\ninputs = [\"given:SECTION\"]\n"
             "outputs = [\"back:SECTION\", \"set:SECTION\"]\n"
             "[SCENARIO.s]\ntasks = [\"f:SECTION\"]\n");
    submit(&r, true);
    expect_job(&r, "f", WEFT_JOB_COMPLETED, NULL);
    ASSERT_EQ(python3("import pickle; print(pickle.load(open(\"back.p\", \"rb\")), "
                      "pickle.load(open(\"set.p\", \"rb\")))",
                      &out),
              0);
    ASSERT_STR_EQ(out, "{'a': [1, 2, 3], 'b': (3.5, None)} {1, 2}\n");
    free(out);
    close_run(&r);
}

TEST(a_missing_python_library_is_named)
{
    /* a pandas.py of the application shadows the real one */
    test_write_file("pandas.py", "raise ImportError('pandas is not installed here')\n");
    test_write_file("a.csv", "x\n1\n");
    run r;
    run_module(&r, "development", "nolib.py", "def f(x):\n    return x\n",
               "[DATA_NODE.a]\nstorage_type = \"csv\"\ndefault_path = \"a.csv\"\n"
               "[DATA_NODE.b]\nstorage_type = \"text\"\ndefault_path = \"b.txt\"\n"
               "[TASK.f]\nfunction = \"nolib.f:function\"\ninputs = [\"a:SECTION\"]\n"
               "outputs = [\"b:SECTION\"]\n[SCENARIO.s]\ntasks = [\"f:SECTION\"]\n");
    expect_job(&r, "f", WEFT_JOB_FAILED, "the Python module 'pandas' is missing");
    close_run(&r);
}

/* ---- excel, generic and sql_table ---- */

/* Runs `/usr/bin/python3 -c CODE` (Debian's, with pandas and openpyxl),
 * its output in *out (caller frees); the exit status. */
static int sys_python3(const char *code, char **out)
{
    char *cmd = NULL;
    ASSERT(asprintf(&cmd, "/usr/bin/python3 -c '%s' 2>&1", code) > 0);
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    return rc;
}

static const char MORE_PY[] =
    "import pandas as pd\n"
    "def xl(book, south, listed, nohdr, south_np, sales_np):\n"
    "    assert isinstance(book, dict) and list(book) == ['north', 'south'], book\n"
    "    assert south_np.tolist() == [[3, 2], [4, 10]], south_np\n"
    "    assert sales_np.tolist() == [['n', 3, 2.5], ['s', 4, 10.0]], sales_np\n"
    "    assert isinstance(south, pd.DataFrame), type(south)\n"
    "    assert isinstance(listed, dict) and list(listed) == ['north'], listed\n"
    "    assert list(nohdr.columns) == [0, 1], list(nohdr.columns)\n"
    "    one = south.assign(total=south.units * south.price)\n"
    "    many = {name: df[['units']] * 2 for name, df in book.items()}\n"
    "    return one, many\n"
    "def rd(path, times):\n"
    "    return open(path).read() * times\n"
    "def wr(data, path, suffix):\n"
    "    open(path, 'w').write(data.upper() + suffix)\n"
    "def gen(s):\n"
    "    assert s == 'abab', s\n"
    "    return s + '!'\n"
    "def sql(df, big):\n"
    "    assert isinstance(df, pd.DataFrame), type(df)\n"
    "    assert big.values.tolist() == [['s', 4]], big\n"
    "    return df.assign(total=df.units * df.price)\n";

static const char MORE_TOML[] =
    "[DATA_NODE.book]\nstorage_type = \"excel\"\ndefault_path = \"in.xlsx\"\n"
    "[DATA_NODE.south]\nstorage_type = \"excel\"\ndefault_path = \"in.xlsx\"\n"
    "sheet_name = \"south\"\n"
    "[DATA_NODE.listed]\nstorage_type = \"excel\"\ndefault_path = \"in.xlsx\"\n"
    "sheet_name = [\"north\"]\n"
    "[DATA_NODE.south_np]\nstorage_type = \"excel\"\ndefault_path = \"in.xlsx\"\n"
    "sheet_name = \"south\"\nexposed_type = \"numpy\"\n"
    "[DATA_NODE.sales_np]\nstorage_type = \"sql_table\"\ndb_name = \"shop\"\n"
    "table_name = \"sales\"\nexposed_type = \"numpy\"\n"
    "[DATA_NODE.nohdr]\nstorage_type = \"excel\"\ndefault_path = \"nohdr.xlsx\"\n"
    "has_header = \"False:bool\"\nsheet_name = \"Sheet1\"\n"
    "[DATA_NODE.one]\nstorage_type = \"excel\"\ndefault_path = \"one.xlsx\"\n"
    "sheet_name = \"totals\"\n"
    "[DATA_NODE.many]\nstorage_type = \"excel\"\ndefault_path = \"many.xlsx\"\n"
    "[DATA_NODE.gin]\nstorage_type = \"generic\"\nread_fct = \"more.rd:function\"\n"
    "read_fct_args = [\"g.txt\", \"2:int\"]\n"
    "[DATA_NODE.gout]\nstorage_type = \"generic\"\nwrite_fct = \"more.wr:function\"\n"
    "write_fct_args = [\"gout.txt\", \"?\"]\n"
    "[DATA_NODE.sales]\nstorage_type = \"sql_table\"\ndb_name = \"shop\"\n"
    "db_engine = \"sqlite\"\ntable_name = \"sales\"\n"
    "[DATA_NODE.totals]\nstorage_type = \"sql_table\"\ndb_name = \"shop\"\n"
    "db_engine = \"sqlite\"\ntable_name = \"totals\"\n"
    "[TASK.xl]\nfunction = \"more.xl:function\"\n"
    "inputs = [\"book:SECTION\", \"south:SECTION\", \"listed:SECTION\", \"nohdr:SECTION\",\n"
    "          \"south_np:SECTION\", \"sales_np:SECTION\"]\n"
    "outputs = [\"one:SECTION\", \"many:SECTION\"]\n"
    "[TASK.gen]\nfunction = \"more.gen:function\"\ninputs = [\"gin:SECTION\"]\n"
    "outputs = [\"gout:SECTION\"]\n"
    "[DATA_NODE.big]\nstorage_type = \"sql\"\ndb_name = \"shop\"\n"
    "read_query = \"SELECT region, units FROM sales WHERE units > 3\"\n"
    "[TASK.sql]\nfunction = \"more.sql:function\"\ninputs = [\"sales:SECTION\", \"big:SECTION\"]\n"
    "outputs = [\"totals:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"xl:SECTION\", \"gen:SECTION\", \"sql:SECTION\"]\n";

/* The inputs of MORE_TOML, written by a separate python3 (openpyxl, sqlite3). */
static void more_inputs(void)
{
    char *out = NULL;
    int rc = sys_python3(
        "import pandas as pd, sqlite3\n"
        "with pd.ExcelWriter(\"in.xlsx\", engine=\"openpyxl\") as w:\n"
        "    pd.DataFrame({\"units\": [1, 2], \"price\": [5, 6]}).to_excel(w, sheet_name=\"north\", index=False)\n"
        "    pd.DataFrame({\"units\": [3, 4], \"price\": [2, 10]}).to_excel(w, sheet_name=\"south\", index=False)\n"
        "pd.DataFrame([[\"a\", 1], [\"b\", 2]]).to_excel(\"nohdr.xlsx\", index=False, header=False)\n"
        "db = sqlite3.connect(\"shop.db\")\n"
        "db.execute(\"CREATE TABLE sales (region TEXT, units INTEGER, price REAL)\")\n"
        "db.executemany(\"INSERT INTO sales VALUES (?, ?, ?)\", [(\"n\", 3, 2.5), (\"s\", 4, 10.0)])\n"
        "db.commit()\n",
        &out);
    if (rc != 0) FAIL("python3 could not write the inputs: %s", out);
    free(out);
    test_write_file("g.txt", "ab");
}

/* What a separate python3 reads back from the outputs of MORE_TOML. */
static const char MORE_CHECK[] =
    "import pandas as pd, sqlite3\n"
    "one = pd.read_excel(\"one.xlsx\", sheet_name=None)\n"
    "print(list(one), one[\"totals\"].values.tolist())\n"
    "many = pd.read_excel(\"many.xlsx\", sheet_name=None)\n"
    "print({k: v.units.tolist() for k, v in many.items()})\n"
    "print(sqlite3.connect(\"shop.db\").execute(\"SELECT * FROM totals\").fetchall())\n";

/* A `weft run-worker` for the application in the test's folder, on the
 * queue of the last open_run() in cluster mode; logs to `log`. */
static pid_t start_worker(const char *log)
{
    char cwd[4096];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    const char *args[] = {"run-worker", "--application-path", cwd, "--queue", queue_name,
                          "--concurrency", "1", NULL};
    return weft_spawn_logged(log, args);
}

/* Opens the run of `toml` and submits it, with a worker in cluster mode
 * (its pid in *worker, else 0). */
static void run_with_worker(run *r, const char *mode, const char *toml, pid_t *worker)
{
    open_run(r, mode, toml);
    *worker = strcmp(mode, "cluster") == 0 ? start_worker("worker.log") : 0;
    submit(r, true);
}

static void end_worker(pid_t worker)
{
    if (!worker) return;
    ASSERT_EQ(worker_stop(worker), 0);
    broker_cleanup(queue_name);
}

static void more_types(const char *mode)
{
    more_inputs();
    test_write_file("more.py", MORE_PY);
    run r;
    pid_t w;
    run_with_worker(&r, mode, MORE_TOML, &w);
    expect_job(&r, "xl", WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "gen", WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "sql", WEFT_JOB_COMPLETED, NULL);
    expect_file("gout.txt", "ABAB!?");
    char *out = NULL;
    if (sys_python3(MORE_CHECK, &out) != 0) FAIL("python3 could not read the outputs: %s", out);
    ASSERT_STR_EQ(out, "['totals'] [[3, 2, 6], [4, 10, 40]]\n"
                       "{'north': [2, 4], 'south': [6, 8]}\n"
                       "[('n', 3, 2.5, 7.5), ('s', 4, 10.0, 40.0)]\n");
    free(out);
    /* written through a temporary file renamed over the output: none left */
    ASSERT_EQ(test_run_cmd("ls -a | grep -c '^\\.one\\.xlsx\\.'", &out), 1);
    free(out);
    close_run(&r);
    end_worker(w);
}

TEST(excel_generic_and_sql_table_nodes_in_development)
{
    more_types("development");
}

TEST(excel_generic_and_sql_table_nodes_in_standalone)
{
    more_types("standalone");
}

TEST(excel_generic_and_sql_table_nodes_in_cluster_with_a_run_worker)
{
    more_types("cluster");
}

TEST(a_missing_openpyxl_fails_the_job_naming_it)
{
    test_write_file("in.txt", "x");
    test_write_file("openpyxl.py", "raise ImportError('no openpyxl here')\n");
    run r;
    run_module(&r, "development", "xlbad.py",
               "def two(s):\n    return {'a': [1]}\n",
               "[DATA_NODE.src]\nstorage_type = \"text\"\ndefault_path = \"in.txt\"\n"
               "[DATA_NODE.x]\nstorage_type = \"excel\"\ndefault_path = \"x.xlsx\"\n"
               "[TASK.t]\nfunction = \"xlbad.two:function\"\ninputs = [\"src:SECTION\"]\n"
               "outputs = [\"x:SECTION\"]\n[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
    expect_job(&r, "t", WEFT_JOB_FAILED, "the Python module 'openpyxl' is missing");
    ASSERT(!exists("x.xlsx"));
    close_run(&r);
}

static const char LACK_TOML[] =
    "[DATA_NODE.src]\nstorage_type = \"text\"\ndefault_path = \"in.txt\"\n"
    "[DATA_NODE.x]\nstorage_type = \"excel\"\n"
    "[DATA_NODE.pid]\nstorage_type = \"json\"\n"
    "[TASK.xl]\nfunction = \"fine.f:function\"\ninputs = [\"src:SECTION\"]\n"
    "outputs = [\"x:SECTION\"]\n"
    "[TASK.absent]\nfunction = \"absent.f:function\"\ninputs = [\"src:SECTION\"]\n"
    "[TASK.ok]\nfunction = \"fine.f:function\"\ninputs = [\"src:SECTION\"]\n"
    "outputs = [\"pid:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"xl:SECTION\", \"absent:SECTION\", \"ok:SECTION\"]\n";

/* The three jobs of LACK_TOML in the run's last submission: two fail
 * naming what is missing, the third completes; the worker still runs. */
static void expect_lacking(run *r, pid_t worker)
{
    expect_job(r, "xl", WEFT_JOB_FAILED, "the Python module 'openpyxl' is missing");
    expect_job(r, "absent", WEFT_JOB_FAILED, "no Python module 'absent'");
    expect_job(r, "ok", WEFT_JOB_COMPLETED, NULL);
    int st;
    ASSERT_EQ(waitpid(worker, &st, WNOHANG), 0); /* still running */
}

TEST(a_worker_lacking_a_module_fails_the_job_naming_it_and_serves_the_next)
{
    test_write_file("in.txt", "x");
    /* the worker's application shadows openpyxl with one that cannot import */
    test_write_file("openpyxl.py", "raise ImportError('openpyxl is not installed here')\n");
    test_write_file("fine.py", "import os\ndef f(s):\n    return os.getpid()\n");
    run r;
    pid_t w;
    run_with_worker(&r, "cluster", LACK_TOML, &w);
    expect_lacking(&r, w);
    free(r.sub);
    submit(&r, true); /* the same worker serves a second round */
    expect_lacking(&r, w);
    close_run(&r);
    end_worker(w);
}

/* ---- errors and output ---- */

static const char ERRS_PY[] =
    "def inner(x):\n"
    "    raise ValueError(f'bad value {x!r}')\n"
    "def boom(a):\n"
    "    print('about to fail')\n"
    "    inner(a)\n"
    "def talk(a):\n"
    "    print('hello from', a)\n"
    "    import sys; print('to stderr', file=sys.stderr)\n"
    "    return a\n";

static const char ERRS_TOML[] =
    "[DATA_NODE.a]\nstorage_type = \"text\"\ndefault_path = \"a.txt\"\n"
    "[DATA_NODE.b]\nstorage_type = \"text\"\ndefault_path = \"b.txt\"\n"
    "[DATA_NODE.c]\nstorage_type = \"text\"\ndefault_path = \"c.txt\"\n"
    "[TASK.boom]\nfunction = \"errs.boom:function\"\ninputs = [\"a:SECTION\"]\n"
    "outputs = [\"b:SECTION\"]\n"
    "[TASK.talk]\nfunction = \"errs.talk:function\"\ninputs = [\"a:SECTION\"]\n"
    "outputs = [\"c:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"boom:SECTION\", \"talk:SECTION\"]\n";

static void errors_and_output(const char *mode)
{
    test_write_file("a.txt", "xyz");
    run r;
    run_module(&r, mode, "errs.py", ERRS_PY, ERRS_TOML);
    expect_job(&r, "boom", WEFT_JOB_FAILED, "Traceback (most recent call last)");
    weft_job_info *j = job_of(&r, "boom");
    ASSERT_CONTAINS(j->error, "errs.py\", line 2, in inner");
    ASSERT_CONTAINS(j->error, "errs.py\", line 5, in boom");
    ASSERT_CONTAINS(j->error, "ValueError: bad value 'xyz'");
    ASSERT_CONTAINS(j->log_tail, "about to fail");
    weft_job_info_free(j);
    ASSERT(!exists("b.txt"));
    expect_job(&r, "talk", WEFT_JOB_COMPLETED, NULL);
    j = job_of(&r, "talk");
    ASSERT_CONTAINS(j->log_tail, "hello from xyz\n");
    ASSERT_CONTAINS(j->log_tail, "to stderr\n");
    weft_job_info_free(j);
    close_run(&r);
}

TEST(exception_traceback_and_print_in_development)
{
    errors_and_output("development");
}

TEST(exception_traceback_and_print_in_standalone)
{
    errors_and_output("standalone");
}

/* ---- cancel and timeout ---- */

static const char SPIN_PY[] =
    "def spin():\n"
    "    open('started', 'w').close()\n"
    "    while True: pass\n"
    "def swallow():\n"
    "    open('started', 'w').close()\n"
    "    while True:\n"
    "        try:\n"
    "            while True: pass\n"
    "        except Exception:\n"
    "            pass\n";

/* A second, read-only handle (another terminal) cancels the running job
 * once the task has started; canceled_at stays 0 and kerr says why when it
 * could not. */
static int64_t canceled_at;
static char kerr[WEFT_ERRBUF_SIZE] = "the task never started";

static void *cancel_when_started(void *cfg)
{
    for (int i = 0; i < 3000 && !exists("started"); i++) usleep(10000);
    weft_orchestrator_opts ro_opts = {.read_only = true};
    weft_orchestrator *ro = NULL;
    weft_job_info **running = NULL;
    size_t n = 0;
    weft_job_filter f = {.status = WEFT_JOB_RUNNING};
    if (weft_orchestrator_open(cfg, &ro_opts, &ro, kerr) == WEFT_OK &&
        weft_jobs_list(ro, &f, &running, &n, kerr) == WEFT_OK && n == 1) {
        int64_t t = weft__mono_ns();
        if (weft_cancel(ro, running[0]->id, kerr) == WEFT_OK) canceled_at = t;
    }
    weft_job_list_free(running, n);
    weft_orchestrator_close(ro);
    return NULL;
}

static void cancel_spinning(const char *mode, const char *fn)
{
    test_write_file("spin.py", SPIN_PY);
    char toml[256];
    snprintf(toml, sizeof toml, "[TASK.spin]\nfunction = \"spin.%s:function\"\n"
             "[SCENARIO.s]\ntasks = [\"spin:SECTION\"]\n", fn);
    run r;
    open_run(&r, mode, toml);
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, cancel_when_started, r.cfg), 0);
    submit(&r, true);
    int64_t end = weft__mono_ns();
    pthread_join(th, NULL);
    if (!canceled_at) FAIL("no cancel: %s", kerr);
    printf("    stopped %.3f s after the cancel\n", (double)(end - canceled_at) / 1e9);
    ASSERT_LT(end - canceled_at, 1000000000LL);
    expect_job(&r, "spin", WEFT_JOB_CANCELED, NULL);
    close_run(&r);
}

TEST(cancel_stops_a_while_true_job_within_a_second_in_development)
{
    cancel_spinning("development", "spin");
}

TEST(cancel_is_not_swallowed_by_except_exception)
{
    cancel_spinning("development", "swallow");
}

TEST(cancel_stops_a_while_true_job_within_a_second_in_standalone)
{
    cancel_spinning("standalone", "spin");
}

static void timeout_spinning(const char *mode)
{
    test_write_file("spin.py", SPIN_PY);
    run r;
    open_run(&r, mode,
             "[TASK.spin]\nfunction = \"spin.spin:function\"\ntimeout = \"1s:timedelta\"\n"
             "[SCENARIO.s]\ntasks = [\"spin:SECTION\"]\n");
    int64_t t0 = weft__mono_ns();
    submit(&r, true);
    double dt = (double)(weft__mono_ns() - t0) / 1e9;
    printf("    timed out after %.3f s\n", dt);
    ASSERT(dt < 2.5);
    expect_job(&r, "spin", WEFT_JOB_FAILED, "timed out after 1s");
    close_run(&r);
}

TEST(timeout_stops_a_while_true_job_in_development)
{
    timeout_spinning("development");
}

TEST(timeout_stops_a_while_true_job_in_standalone)
{
    timeout_spinning("standalone");
}

/* ---- workers ---- */

TEST(a_crash_through_ctypes_and_a_broken_module_fail_alone_in_standalone)
{
    test_write_file("crash.py", "import ctypes\ndef f():\n    ctypes.string_at(0)\n");
    test_write_file("broken.py", "def f(:\n    pass\n");
    test_write_file("fine.py", "import os\ndef f():\n    return os.getpid()\n");
    run r;
    open_run(&r, "standalone",
             "[DATA_NODE.pid1]\nstorage_type = \"json\"\ndefault_path = \"pid1.json\"\n"
             "[DATA_NODE.pid2]\nstorage_type = \"json\"\ndefault_path = \"pid2.json\"\n"
             "[TASK.crash]\nfunction = \"crash.f:function\"\n"
             "[TASK.broken]\nfunction = \"broken.f:function\"\n"
             "[TASK.fine1]\nfunction = \"fine.f:function\"\noutputs = [\"pid1:SECTION\"]\n"
             "[TASK.fine2]\nfunction = \"fine.f:function\"\noutputs = [\"pid2:SECTION\"]\n"
             "[SCENARIO.s]\ntasks = [\"crash:SECTION\", \"broken:SECTION\", \"fine1:SECTION\", "
             "\"fine2:SECTION\"]\n");
    submit(&r, true);
    expect_job(&r, "crash", WEFT_JOB_FAILED, "signal 11");
    expect_job(&r, "broken", WEFT_JOB_FAILED, "SyntaxError");
    expect_job(&r, "fine1", WEFT_JOB_COMPLETED, NULL);
    expect_job(&r, "fine2", WEFT_JOB_COMPLETED, NULL);
    weft_job_info *j = job_of(&r, "broken");
    ASSERT_CONTAINS(j->error, "broken.py\", line 1");
    weft_job_info_free(j);
    char *p = read_text("pid1.json");
    ASSERT(atoi(p) != getpid()); /* ran in a worker process */
    free(p);
    close_run(&r);
}

/* ---- weft check ---- */

/* `weft check ARGS` in the test's folder: its exit status, output in *out. */
static int weft_check(const char *args, char **out)
{
    char *cmd = NULL;
    ASSERT(asprintf(&cmd, "%s/weft check %s 2>&1", test_build_dir(), args) > 0);
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    return rc;
}

TEST(weft_check_finds_modules_without_running_them_and_import_reports_errors)
{
    test_write_file("config.toml",
                    "[TASK.a]\nfunction = \"nosuch.mod.f:function\"\n"
                    "[TASK.b]\nfunction = \"side.f:function\"\n"
                    "[TASK.c]\nfunction = \"broken.f:function\"\n"
                    "[TASK.d]\nfunction = \"pkg.good.nope:function\"\n"
                    "[TASK.e]\nfunction = \"json.dumps:function\"\n"
                    "[SCENARIO.s]\ntasks = [\"a:SECTION\", \"b:SECTION\", \"c:SECTION\", "
                    "\"d:SECTION\", \"e:SECTION\"]\n");
    test_write_file("side.py", "open('imported', 'w').close()\ndef f():\n    pass\n");
    test_write_file("broken.py", "x = 1\ndef f(:\n    pass\n");
    mkdir("pkg", 0777);
    test_write_file("pkg/good.py", "def f():\n    pass\n");
    char *out = NULL;
    ASSERT_EQ(weft_check("", &out), 1);
    ASSERT_CONTAINS(out, "config.toml:2:12: error: function nosuch.mod.f: no Python module "
                         "'nosuch.mod' (no .py file, package folder or extension module in ");
    ASSERT_CONTAINS(out, "config.toml: 1 error, 0 warnings\n");
    free(out);
    ASSERT(!exists("imported")); /* found, not imported */
    ASSERT_EQ(weft_check("--import", &out), 1);
    ASSERT_CONTAINS(out, "config.toml:2:12: error: function nosuch.mod.f: no Python module");
    ASSERT_CONTAINS(out, "config.toml:6:12: error: function broken.f: ");
    ASSERT_CONTAINS(out, "broken.py:2: SyntaxError: ");
    ASSERT_CONTAINS(out, "config.toml:8:12: error: function pkg.good.nope: module 'pkg.good' (");
    ASSERT_CONTAINS(out, "pkg/good.py) has no function 'nope'\n");
    ASSERT_CONTAINS(out, "config.toml: 3 errors, 0 warnings\n");
    free(out);
    ASSERT(exists("imported"));
}

TEST(weft_check_import_names_a_library_a_data_node_needs)
{
    test_write_file("config.toml",
                    "[DATA_NODE.x]\nstorage_type = \"excel\"\n"
                    "[DATA_NODE.g]\nstorage_type = \"generic\"\nread_fct = \"xl.rd:function\"\n"
                    "[TASK.t]\nfunction = \"xl.f:function\"\ninputs = [\"g:SECTION\"]\n"
                    "outputs = [\"x:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
    test_write_file("xl.py", "def f(g):\n    return g\ndef rd():\n    return 1\n");
    char *out = NULL;
    ASSERT_EQ(weft_check("--import", &out), 0); /* openpyxl and pandas are installed */
    free(out);
    test_write_file("openpyxl.py", "raise ImportError('openpyxl is not installed here')\n");
    ASSERT_EQ(weft_check("--import", &out), 1);
    ASSERT_CONTAINS(out, "config.toml:7:12: error: function xl.f: data node 'x' (excel): "
                         "the Python module 'openpyxl' is missing (openpyxl is not installed here)\n");
    free(out);
    ASSERT_EQ(weft_check("", &out), 0); /* without --import nothing is imported */
    free(out);
}

TEST_MAIN(TEST_ENTRY(calling_convention_0_1_3_outputs_and_a_wrong_count_in_development),
          TEST_ENTRY(calling_convention_in_standalone_workers),
          TEST_ENTRY(every_data_node_type_read_and_written_as_taipy_exposes_it),
          TEST_ENTRY(pickles_are_shared_with_a_separate_python_both_ways),
          TEST_ENTRY(a_missing_python_library_is_named),
          TEST_ENTRY(excel_generic_and_sql_table_nodes_in_development),
          TEST_ENTRY(excel_generic_and_sql_table_nodes_in_standalone),
          TEST_ENTRY(excel_generic_and_sql_table_nodes_in_cluster_with_a_run_worker),
          TEST_ENTRY(a_missing_openpyxl_fails_the_job_naming_it),
          TEST_ENTRY(a_worker_lacking_a_module_fails_the_job_naming_it_and_serves_the_next),
          TEST_ENTRY(exception_traceback_and_print_in_development),
          TEST_ENTRY(exception_traceback_and_print_in_standalone),
          TEST_ENTRY(cancel_stops_a_while_true_job_within_a_second_in_development),
          TEST_ENTRY(cancel_is_not_swallowed_by_except_exception),
          TEST_ENTRY(cancel_stops_a_while_true_job_within_a_second_in_standalone),
          TEST_ENTRY(timeout_stops_a_while_true_job_in_development),
          TEST_ENTRY(timeout_stops_a_while_true_job_in_standalone),
          TEST_ENTRY(a_crash_through_ctypes_and_a_broken_module_fail_alone_in_standalone),
          TEST_ENTRY(weft_check_finds_modules_without_running_them_and_import_reports_errors),
          TEST_ENTRY(weft_check_import_names_a_library_a_data_node_needs))
