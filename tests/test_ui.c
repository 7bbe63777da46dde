/* SPDX-License-Identifier: MIT */
/*
 * test_ui.c - the web view (weft_ui_*, `weft ui`) against a real server on
 * a free loopback port, spoken to over real sockets: every route, keyset
 * pagination over 10,000 jobs, the event stream of a live `weft run`
 * started by the submit route, a cancel that stops a running job, and the
 * requests the server must refuse (401, 403, 404, 405, 400, 413), and in
 * cluster mode the workers and queue of a real broker and `weft run-worker`.
 */
#define _GNU_SOURCE /* asprintf */
#include "broker.h"
#include "test.h"
#include "weft.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET_PW "s3cret-broker-pw"
#define SIGN_SECRET "signing-key-0123456789abcdef"

static const char *CONFIG =
    "[CORE]\nstorage_folder = \".weft/\"\n"
    "[JOB]\nmode = \"development\"\n"
    "broker_url = \"amqp://weft:" SECRET_PW "@127.0.0.1:5672/%2f\"\n"
    "broker_secret = \"" SIGN_SECRET "\"\n"
    "[DATA_NODE.sales]\nstorage_type = \"csv\"\nscope = \"GLOBAL:SCOPE\"\n"
    "default_path = \"sales.csv\"\nhas_header = \"True:bool\"\n"
    "[DATA_NODE.conf]\nstorage_type = \"json\"\nscope = \"GLOBAL:SCOPE\"\ndefault_path = \"conf.json\"\n"
    "[DATA_NODE.out]\nstorage_type = \"text\"\n"
    "[DATA_NODE.people]\nstorage_type = \"sql_table\"\nscope = \"GLOBAL:SCOPE\"\n"
    "db_engine = \"sqlite\"\ndb_name = \"crm\"\ntable_name = \"people\"\n"
    "[TASK.touch]\nfunction = \"weft.noop\"\n"
    "inputs = [\"sales:SECTION\", \"conf:SECTION\", \"people:SECTION\"]\n"
    "outputs = [\"out:SECTION\"]\n"
    "[TASK.nap1]\nfunction = \"weft.sleep\"\nduration = \"1\"\n"
    "[TASK.nap2]\nfunction = \"weft.sleep\"\nduration = \"1\"\n"
    "[TASK.nap3]\nfunction = \"weft.sleep\"\nduration = \"1\"\n"
    "[TASK.nap4]\nfunction = \"weft.sleep\"\nduration = \"1\"\n"
    "[TASK.long]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
    "[TASK.leaky]\ncommand = [\"sh\", \"-c\", \"echo using amqp://weft:" SECRET_PW "@127.0.0.1/; "
    "echo failed with " SECRET_PW " >&2; echo key " SIGN_SECRET "; exit 3\"]\n"
    "[SCENARIO.quick]\ntasks = [\"touch:SECTION\"]\n"
    "[SCENARIO.naps]\ntasks = [\"nap1:SECTION\", \"nap2:SECTION\"]\n"
    "[SCENARIO.four]\ntasks = [\"nap1:SECTION\", \"nap2:SECTION\", \"nap3:SECTION\", \"nap4:SECTION\"]\n"
    "[SCENARIO.long_run]\ntasks = [\"long:SECTION\"]\n"
    "[SCENARIO.leaky_run]\ntasks = [\"leaky:SECTION\"]\n"
    "[TASK.instant]\nfunction = \"weft.noop\"\n"
    "[SCENARIO.monthly]\ntasks = [\"instant:SECTION\"]\nfrequency = \"MONTHLY:FREQUENCY\"\n"
    "[SCENARIO.naps.sequences]\nsecond = [\"nap2:SECTION\"]\n";

typedef struct server {
    weft_config *cfg;
    weft_ui *ui;
    int port;
    char csrf[80];
} server;

/* An SQLite table people(name, age) of n rows in `path`, replaced if present. */
static void make_people(const char *path, int n)
{
    sqlite3 *db;
    unlink(path);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE people(name TEXT, age INTEGER)", NULL, NULL, NULL),
              SQLITE_OK);
    for (int i = 0; i < n; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO people VALUES('p''%d', %d)", i, 20 + i);
        ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(db);
}

static weft_config *load(const char *text)
{
    test_write_file("config.toml", text);
    test_write_file("sales.csv", "region,units\nNorth,3\n\"West, far\",\"4\"\n");
    test_write_file("conf.json", "{\"threshold\": 5, \"regions\": [\"North\", \"West\"]}");
    make_people("crm.db", 120);
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    return cfg;
}

static void start(server *s, const char *token)
{
    char err[WEFT_ERRBUF_SIZE] = "", exe[4096];
    snprintf(exe, sizeof exe, "%s/weft", test_build_dir());
    if (!s->cfg) s->cfg = load(CONFIG);
    weft_ui_opts o = {.config = s->cfg, .listen = "127.0.0.1:0", .token = token,
                      .weft_exe = exe, .config_file = "config.toml"};
    ASSERT_OK(weft_ui_open(&o, &s->ui, err), err);
    const char *url = weft_ui_url(s->ui);
    ASSERT(sscanf(url, "http://127.0.0.1:%d/", &s->port) == 1);
}

static void stop(server *s)
{
    weft_ui_close(s->ui);
    weft_config_free(s->cfg);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) FAIL("cannot connect to %d", port);
    return fd;
}

/* One raw request (`head` holds extra header lines); the status, *body the
 * response body (caller frees; NULL not wanted). */
static int raw(int port, const char *request, char **body)
{
    int fd = dial(port);
    size_t n = strlen(request);
    ASSERT_EQ(write(fd, request, n), (ssize_t)n);
    weft__buf b = WEFT_BUF_INIT;
    char chunk[65536];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof chunk)) > 0) weft__buf_add(&b, chunk, (size_t)r);
    close(fd);
    int status = 0;
    if (!b.data || sscanf(b.data, "HTTP/1.%*d %d", &status) != 1) FAIL("no HTTP response");
    char *sep = strstr(b.data, "\r\n\r\n");
    if (body) *body = weft__strdup(sep ? sep + 4 : "");
    weft__buf_release(&b);
    return status;
}

static int req(server *s, const char *method, const char *path, const char *head, const char *data,
               char **body)
{
    weft__buf rq = WEFT_BUF_INIT;
    size_t dl = data ? strlen(data) : 0;
    if (weft__buf_addf(&rq, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s"
                            "Content-Length: %zu\r\n\r\n%s",
                       method, path, s->port, head ? head : "", dl, data ? data : ""))
        FAIL("out of memory");
    int st = raw(s->port, rq.data, body);
    weft__buf_release(&rq);
    return st;
}

static json_t *get_json(server *s, const char *path, int want)
{
    char *body;
    int st = req(s, "GET", path, NULL, NULL, &body);
    if (st != want) FAIL("GET %s: %d, not %d: %s", path, st, want, body);
    json_t *v = json_loads(body, 0, NULL);
    if (!v) FAIL("GET %s: not JSON: %s", path, body);
    free(body);
    return v;
}

/* The page's CSRF token, from its <meta>. */
static void read_csrf(server *s)
{
    char *page;
    ASSERT_EQ(req(s, "GET", "/", NULL, NULL, &page), 200);
    const char *m = strstr(page, "name=\"csrf\" content=\"");
    ASSERT(m != NULL);
    ASSERT(sscanf(m + 21, "%64[0-9a-f]", s->csrf) == 1);
    ASSERT_EQ(strlen(s->csrf), 64);
    free(page);
}

static int post(server *s, const char *path, char **body)
{
    char head[160];
    snprintf(head, sizeof head, "X-Weft-CSRF: %s\r\n", s->csrf);
    return req(s, "POST", path, head, "{}", body);
}

/* Runs scenario `id` to the end in development mode, in this process. */
static char *run_dev(weft_config *cfg, const char *id)
{
    char err[WEFT_ERRBUF_SIZE] = "", *scen = NULL, *sub = NULL;
    weft_orchestrator *o;
    ASSERT_OK(weft_orchestrator_open(cfg, NULL, &o, err), err);
    ASSERT_OK(weft_scenario_create(o, id, &scen, err), err);
    ASSERT_OK(weft_submit(o, scen, NULL, &sub, err), err);
    weft_orchestrator_close(o);
    free(scen);
    return sub;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- every route ---- */

static void assert_no_secret(server *s, const char *path)
{
    char *body;
    req(s, "GET", path, NULL, NULL, &body);
    ASSERT_NOT_CONTAINS(body, SECRET_PW);
    ASSERT_NOT_CONTAINS(body, SIGN_SECRET);
    free(body);
}

TEST(every_route_answers)
{
    server s = {.cfg = load(CONFIG)};
    char *sub = run_dev(s.cfg, "quick");
    start(&s, NULL);
    char *body, path[512];
    ASSERT_EQ(req(&s, "GET", "/", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "<script src=\"/app.js\">");
    free(body);
    ASSERT_EQ(req(&s, "GET", "/app.js", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "new EventSource('/api/events')");
    free(body);
    ASSERT_EQ(req(&s, "GET", "/app.css", NULL, NULL, &body), 200);
    free(body);

    json_t *v = get_json(&s, "/api/overview", 200);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(v, "jobs"), "COMPLETED")), 1);
    ASSERT_EQ(json_array_size(json_object_get(v, "finished_per_bucket")), 60);
    json_decref(v);

    v = get_json(&s, "/api/submissions", 200);
    json_t *first = json_array_get(json_object_get(v, "items"), 0);
    ASSERT_STR_EQ(str(first, "id"), sub);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(first, "counts"), "COMPLETED")), 1);
    ASSERT(json_is_null(json_object_get(v, "next")));
    json_decref(v);

    snprintf(path, sizeof path, "/api/submissions/%s", sub);
    v = get_json(&s, path, 200);
    ASSERT_STR_EQ(str(v, "status"), "COMPLETED");
    json_t *job = json_array_get(json_object_get(v, "jobs"), 0);
    char *job_id = weft__strdup(str(job, "id"));
    ASSERT_STR_EQ(str(job, "task"), "touch");
    json_decref(v);

    snprintf(path, sizeof path, "/api/submissions/%s/graph.svg", sub);
    ASSERT_EQ(req(&s, "GET", path, NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "<svg");
    ASSERT_CONTAINS(body, "class=\"node job st&#45;COMPLETED\"");
    ASSERT_CONTAINS(body, "id=\"dn:sales\"");
    free(body);

    snprintf(path, sizeof path, "/api/jobs/%s", job_id);
    v = get_json(&s, path, 200);
    ASSERT_STR_EQ(str(v, "worker"), "local");
    ASSERT(json_is_false(json_object_get(v, "cancelable")));
    json_t *hist = json_object_get(v, "history");
    ASSERT_GE(json_array_size(hist), 3);
    ASSERT_STR_EQ(str(json_array_get(hist, json_array_size(hist) - 1), "status"), "COMPLETED");
    json_decref(v);

    v = get_json(&s, "/api/scenarios", 200);
    ASSERT_EQ(json_array_size(json_object_get(v, "configured")), 6);
    ASSERT_EQ(json_array_size(json_object_get(v, "items")), 1);
    json_decref(v);
    ASSERT_EQ(req(&s, "GET", "/api/scenarios/naps/graph.svg", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, ">nap2</text>");
    free(body);
    /* `weft graph` draws the same submission, coloured. */
    snprintf(path, sizeof path, "%s/weft graph --format svg %s", test_build_dir(), sub);
    ASSERT_EQ(test_run_cmd(path, &body), 0);
    ASSERT_CONTAINS(body, "class=\"node job st&#45;COMPLETED\"");
    free(body);
    free(job_id);
    free(sub);
    stop(&s);
}

/* A server over a store where scenario "quick" ran once. */
static void start_after_quick(server *s)
{
    s->cfg = load(CONFIG);
    free(run_dev(s->cfg, "quick"));
    start(s, NULL);
}

TEST(previews_metrics_and_no_secret)
{
    server s = {0};
    start_after_quick(&s);
    char *body, path[512];
    json_t *v = get_json(&s, "/api/datanodes", 200);
    size_t i;
    json_t *dn;
    char sales[256] = "", conf[256] = "", people[256] = "";
    json_array_foreach(json_object_get(v, "items"), i, dn) {
        if (!strcmp(str(dn, "config_id"), "sales")) snprintf(sales, sizeof sales, "%s", str(dn, "id"));
        if (!strcmp(str(dn, "config_id"), "conf")) snprintf(conf, sizeof conf, "%s", str(dn, "id"));
        if (!strcmp(str(dn, "config_id"), "people"))
            snprintf(people, sizeof people, "%s", str(dn, "id"));
    }
    json_decref(v);
    ASSERT(sales[0] && conf[0] && people[0]);
    snprintf(path, sizeof path, "/api/datanodes/%s", sales);
    v = get_json(&s, path, 200);
    json_t *p = json_object_get(v, "preview");
    ASSERT_STR_EQ(str(p, "kind"), "table");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(p, "columns"), 1)), "units");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_array_get(json_object_get(p, "rows"), 1), 0)),
                  "West, far");
    ASSERT_STR_EQ(str(v, "storage_type"), "csv");
    json_decref(v);
    snprintf(path, sizeof path, "/api/datanodes/%s", conf);
    v = get_json(&s, path, 200);
    p = json_object_get(v, "preview");
    ASSERT_STR_EQ(str(p, "kind"), "json");
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(p, "value"), "threshold")), 5);
    json_decref(v);
    /* An SQL table: its columns, the first 100 of its 120 rows, in table order. */
    snprintf(path, sizeof path, "/api/datanodes/%s", people);
    v = get_json(&s, path, 200);
    p = json_object_get(v, "preview");
    ASSERT_STR_EQ(str(p, "kind"), "table");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(p, "columns"), 0)), "name");
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(p, "columns"), 1)), "age");
    ASSERT_EQ(json_array_size(json_object_get(p, "rows")), 100);
    ASSERT(json_is_true(json_object_get(p, "truncated")));
    ASSERT_EQ(json_integer_value(json_object_get(p, "row_count")), 120);
    json_t *row = json_array_get(json_object_get(p, "rows"), 99);
    ASSERT_STR_EQ(json_string_value(json_array_get(row, 0)), "p'99");
    ASSERT_STR_EQ(json_string_value(json_array_get(row, 1)), "119"); /* cells as text */
    json_decref(v);

    ASSERT_EQ(req(&s, "GET", "/metrics", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "weft_jobs{status=\"COMPLETED\"} 1\n");
    ASSERT_CONTAINS(body, "weft_job_duration_seconds_count{task=\"touch\"} 1\n");
    ASSERT_CONTAINS(body, "weft_submissions_finished_total{status=\"COMPLETED\"} 1\n");
    ASSERT_NOT_CONTAINS(body, "weft_workers"); /* not in cluster mode */
    free(body);
    v = get_json(&s, "/api/overview", 200);
    ASSERT(json_is_null(json_object_get(v, "cluster")));
    json_decref(v);

    /* A job that prints the broker URL: its log tail is shown masked. */
    char *leaky = run_dev(s.cfg, "leaky_run");
    snprintf(path, sizeof path, "/api/jobs?submission=%s", leaky);
    v = get_json(&s, path, 200);
    snprintf(path, sizeof path, "/api/jobs/%s", str(json_array_get(json_object_get(v, "items"), 0), "id"));
    json_decref(v);
    ASSERT_EQ(req(&s, "GET", path, NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "amqp://weft:***@127.0.0.1/");
    ASSERT_CONTAINS(body, "key ***"); /* the signing secret, likewise */
    free(body);
    const char *paths[] = {"/", "/app.js", "/api/overview", "/api/scenarios", "/metrics",
                           "/api/submissions", "/api/jobs", "/api/datanodes", path};
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) assert_no_secret(&s, paths[k]);
    free(leaky);
    stop(&s);
}

/* ---- pagination ---- */

static void free_value(void *v, void *ud)
{
    free(v);
}

TEST(pagination_walks_10000_jobs)
{
    weft__buf c = WEFT_BUF_INIT;
    weft__buf_adds(&c, "[CORE]\nstorage_folder = \".weft/\"\n[JOB]\nmode = \"development\"\n");
    for (int i = 0; i < 10000; i++) weft__buf_addf(&c, "[TASK.t%d]\nfunction = \"weft.noop\"\n", i);
    weft__buf_adds(&c, "[SCENARIO.big]\ntasks = [");
    for (int i = 0; i < 10000; i++) weft__buf_addf(&c, "%s\"t%d:SECTION\"", i ? ", " : "", i);
    weft__buf_adds(&c, "]\n");
    server s = {.cfg = load(c.data)};
    weft__buf_release(&c);
    char *sub = run_dev(s.cfg, "big");
    start(&s, NULL);

    weft__strmap seen = WEFT__STRMAP_INIT;
    char path[512], next[32] = "";
    int pages = 0;
    int64_t worst_ns = 0;
    do {
        snprintf(path, sizeof path, "/api/jobs?limit=500%s%s", next[0] ? "&after=" : "", next);
        int64_t t0 = weft__mono_ns();
        json_t *v = get_json(&s, path, 200);
        if (weft__mono_ns() - t0 > worst_ns) worst_ns = weft__mono_ns() - t0;
        size_t i;
        json_t *j;
        json_array_foreach(json_object_get(v, "items"), i, j) {
            ASSERT(weft__strmap_get(&seen, str(j, "id")) == NULL);
            char *k = weft__strdup(str(j, "id")); /* the map borrows its keys */
            ASSERT_OK(weft__strmap_put(&seen, k, k), "");
        }
        ASSERT_EQ(json_array_size(json_object_get(v, "items")), 500);
        const char *n = str(v, "next");
        snprintf(next, sizeof next, "%s", n ? n : "");
        pages++;
        json_decref(v);
    } while (next[0] && pages < 100);
    ASSERT_EQ(pages, 20);
    ASSERT_EQ(seen.len, 10000);
    printf("20 pages of 500 jobs, slowest %.1f ms\n", (double)worst_ns / 1e6);
    weft__strmap_each(&seen, free_value, NULL);
    weft__strmap_release(&seen);

    json_t *v = get_json(&s, "/api/jobs?task=t4242", 200);
    ASSERT_EQ(json_array_size(json_object_get(v, "items")), 1);
    ASSERT_STR_EQ(str(json_array_get(json_object_get(v, "items"), 0), "task"), "t4242");
    json_decref(v);
    snprintf(path, sizeof path, "/api/jobs?status=completed&limit=3&submission=%s", sub);
    v = get_json(&s, path, 200);
    ASSERT_EQ(json_array_size(json_object_get(v, "items")), 3);
    ASSERT(str(v, "next") != NULL);
    json_decref(v);
    v = get_json(&s, "/api/jobs?status=FAILED", 200);
    ASSERT_EQ(json_array_size(json_object_get(v, "items")), 0);
    json_decref(v);
    free(sub);
    stop(&s);
}

/* ---- the event stream and the state changes ---- */

/* Reads the stream until every string of want[] was seen or 30 s passed;
 * returns what was read (caller frees). */
static char *await_events(int fd, const char *sub, const char *const *want, size_t nwant)
{
    weft__buf b = WEFT_BUF_INIT;
    int64_t deadline = weft__mono_ns() + 30 * 1000000000LL;
    size_t found = 0;
    while (found < nwant && weft__mono_ns() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 200) <= 0) continue;
        char chunk[4096];
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0) FAIL("event stream closed early:\n%s", b.data ? b.data : "");
        weft__buf_add(&b, chunk, (size_t)r);
        found = 0;
        for (size_t i = 0; i < nwant; i++) found += strstr(b.data, want[i]) != NULL;
    }
    if (found < nwant) FAIL("missing events; got:\n%s", b.data ? b.data : "");
    ASSERT_CONTAINS(b.data, sub);
    ASSERT_CONTAINS(b.data, "event: status\n");
    return weft__buf_detach(&b, NULL);
}

/* Two instances of a monthly scenario: one cycle, the first one primary. */
TEST(cycles_are_listed_with_their_primary_scenario)
{
    server s = {.cfg = load(CONFIG)};
    free(run_dev(s.cfg, "monthly"));
    free(run_dev(s.cfg, "monthly"));
    start(&s, NULL);
    json_t *v = get_json(&s, "/api/scenarios", 200);
    json_t *cycles = json_object_get(v, "cycles");
    ASSERT_EQ(json_array_size(cycles), 1);
    json_t *c = json_array_get(cycles, 0);
    ASSERT_STR_EQ(str(c, "frequency"), "MONTHLY");
    ASSERT(strncmp(str(c, "id"), "CYCLE_", 6) == 0);
    ASSERT(strncmp(str(c, "start_date") + 7, "-01T00:00:00", 12) == 0); /* a month's first day */
    json_t *sc = json_object_get(c, "scenarios");
    ASSERT_EQ(json_array_size(sc), 2);
    ASSERT(json_is_true(json_object_get(json_array_get(sc, 0), "primary")));
    ASSERT(json_is_false(json_object_get(json_array_get(sc, 1), "primary")));
    ASSERT_STR_EQ(str(json_array_get(sc, 1), "config_id"), "monthly");
    json_decref(v);
    stop(&s);
}

/* A configured sequence is listed with its tasks and runs alone. */
TEST(a_sequence_runs_from_the_page)
{
    server s = {0};
    start(&s, NULL);
    read_csrf(&s);
    json_t *v = get_json(&s, "/api/scenarios", 200), *sc;
    size_t i;
    json_t *seq = NULL;
    json_array_foreach(json_object_get(v, "configured"), i, sc)
        if (!strcmp(str(sc, "id"), "naps")) seq = json_object_get(json_object_get(sc, "sequences"), "second");
    ASSERT_EQ(json_array_size(seq), 1);
    ASSERT_STR_EQ(json_string_value(json_array_get(seq, 0)), "nap2");
    json_decref(v);
    char *body;
    ASSERT_EQ(post(&s, "/api/scenarios/naps/submit?sequence=third", &body), 404);
    ASSERT_CONTAINS(body, "no sequence 'third'");
    free(body);
    ASSERT_EQ(post(&s, "/api/scenarios/naps/submit?sequence=second", &body), 202);
    v = json_loads(body, 0, NULL);
    free(body);
    ASSERT(strncmp(str(v, "scenario"), "SEQUENCE_second_SCENARIO_naps_", 30) == 0);
    char path[256];
    snprintf(path, sizeof path, "/api/submissions/%s", str(v, "submission"));
    json_t *d = get_json(&s, path, 200);
    ASSERT_STR_EQ(str(d, "entity_id"), str(v, "scenario"));
    ASSERT_EQ(json_array_size(json_object_get(d, "jobs")), 1); /* nap2 only, not nap1 */
    ASSERT_STR_EQ(str(json_array_get(json_object_get(d, "jobs"), 0), "task"), "nap2");
    json_decref(d);
    json_decref(v);
    stop(&s);
}

TEST(event_stream_follows_a_live_run)
{
    server s = {0};
    start(&s, NULL);
    read_csrf(&s);
    int fd = dial(s.port);
    char rq[256];
    snprintf(rq, sizeof rq, "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", s.port);
    ASSERT_EQ(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
    char *body;
    ASSERT_EQ(post(&s, "/api/scenarios/naps/submit", &body), 202);
    json_t *v = json_loads(body, 0, NULL);
    free(body);
    const char *sub = str(v, "submission");
    ASSERT(sub && strncmp(sub, "SUBMISSION_", 11) == 0);
    ASSERT(strncmp(str(v, "scenario"), "SCENARIO_naps_", 14) == 0);
    char want[4][400];
    const char *wantp[4];
    for (int i = 0; i < 4; i++) {
        snprintf(want[i], sizeof want[i], "\"task\":\"nap%d\",\"submission\":\"%s\",\"status\":\"%s\"",
                 i / 2 + 1, sub, i % 2 ? "COMPLETED" : "RUNNING");
        wantp[i] = want[i];
    }
    free(await_events(fd, sub, wantp, 4));
    close(fd);
    /* Reconnecting with Last-Event-ID 0 resumes after the first event: the
     * stream replays the rest of the run, without event 0. */
    fd = dial(s.port);
    snprintf(rq, sizeof rq, "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nLast-Event-ID: 0\r\n\r\n",
             s.port);
    ASSERT_EQ(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
    const char *replay[] = {"id: 1\n", wantp[3]};
    char *got = await_events(fd, sub, replay, 2);
    ASSERT_NOT_CONTAINS(got, "id: 0\n");
    free(got);
    close(fd);
    /* Both jobs ran one after the other, each about a second. */
    char path[256];
    snprintf(path, sizeof path, "/api/submissions/%s", sub);
    int64_t deadline = weft__mono_ns() + 10 * 1000000000LL;
    json_t *d = NULL;
    while (weft__mono_ns() < deadline) {
        json_decref(d);
        d = get_json(&s, path, 200);
        if (!strcmp(str(d, "status"), "COMPLETED")) break;
        usleep(100000);
    }
    ASSERT_STR_EQ(str(d, "status"), "COMPLETED");
    json_decref(d);
    json_decref(v);
    stop(&s);
}

/* `weft clean` removed the newest history rows: the next run's changes get
 * row numbers below the stream's position, and are streamed all the same. */
TEST(event_stream_follows_runs_after_a_clean)
{
    server s = {0};
    s.cfg = load(CONFIG);
    free(run_dev(s.cfg, "quick"));
    free(run_dev(s.cfg, "quick"));
    start(&s, NULL);
    int fd = dial(s.port);
    char rq[256];
    snprintf(rq, sizeof rq, "GET /api/events HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", s.port);
    ASSERT_EQ(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_orchestrator *o;
    ASSERT_OK(weft_orchestrator_open(s.cfg, NULL, &o, err), err);
    ASSERT_OK(weft_clean(o, 0, 0, NULL, err), err);
    weft_orchestrator_close(o);
    usleep(1000000); /* the poller (every 200 ms) sees the history cut back */
    char *sub = run_dev(s.cfg, "quick");
    char want[400];
    snprintf(want, sizeof want, "\"task\":\"touch\",\"submission\":\"%s\",\"status\":\"COMPLETED\"",
             sub);
    const char *wantp[] = {want};
    free(await_events(fd, sub, wantp, 1));
    close(fd);
    free(sub);
    stop(&s);
}

/* The status of a submission's first job, polled until it is `want` or the time is up. */
static json_t *await_job(server *s, const char *sub, const char *want, int seconds)
{
    char path[256];
    snprintf(path, sizeof path, "/api/jobs?submission=%s", sub);
    int64_t deadline = weft__mono_ns() + seconds * 1000000000LL;
    for (;;) {
        json_t *v = get_json(s, path, 200);
        json_t *j = json_incref(json_array_get(json_object_get(v, "items"), 0));
        json_decref(v);
        if (j && !strcmp(str(j, "status"), want)) return j;
        if (weft__mono_ns() > deadline) FAIL("job of %s not %s after %d s", sub, want, seconds);
        json_decref(j);
        usleep(50000);
    }
}

TEST(cancel_stops_a_running_job)
{
    server s = {0};
    start(&s, NULL);
    read_csrf(&s);
    char *body;
    ASSERT_EQ(post(&s, "/api/scenarios/long_run/submit", &body), 202);
    json_t *v = json_loads(body, 0, NULL);
    free(body);
    const char *sub = str(v, "submission");
    json_t *j = await_job(&s, sub, "RUNNING", 15);
    char path[512];
    snprintf(path, sizeof path, "/api/jobs/%s/cancel", str(j, "id"));
    /* Without the CSRF header: refused, and the job runs on. */
    ASSERT_EQ(req(&s, "POST", path, NULL, "{}", NULL), 403);
    int64_t t0 = weft__mono_ns();
    ASSERT_EQ(post(&s, path, &body), 202);
    free(body);
    json_t *c = await_job(&s, sub, "CANCELED", 10);
    ASSERT_LT(weft__mono_ns() - t0, 5000000000LL);
    json_decref(c);
    /* A second cancel: the job is final. */
    ASSERT_EQ(post(&s, path, &body), 409);
    ASSERT_CONTAINS(body, "CANCELED");
    free(body);
    json_decref(j);
    json_decref(v);
    stop(&s);
}

/* ---- what the server refuses ---- */

TEST(bad_requests_are_refused)
{
    server s = {0};
    start_after_quick(&s);
    read_csrf(&s);
    char *body, rq[512];
    static const struct {
        const char *method, *path;
        int status;
    } cases[] = {
        {"GET", "/nope", 404},
        {"GET", "/index.html", 404},
        {"GET", "/api/jobs/JOB_nope", 404},
        {"GET", "/api/submissions/SUBMISSION_nope", 404},
        {"GET", "/api/datanodes/DATANODE_nope", 404},
        {"GET", "/api/submissions/SUBMISSION_nope/graph.svg", 404},
        {"GET", "/api/scenarios/nope/graph.svg", 404},
        {"GET", "/api/jobs/a%2Fb", 404},
        {"GET", "/api/jobs?limit=0", 400},
        {"GET", "/api/jobs?limit=abc", 400},
        {"GET", "/api/jobs?limit=501", 400},
        {"GET", "/api/jobs?after=-1", 400},
        {"GET", "/api/jobs?status=BOGUS", 400},
        {"GET", "/api/jobs?submission=a/b", 400},
        {"GET", "/api/jobs?color=red", 400},
        {"POST", "/api/jobs", 405},
        {"GET", "/api/jobs/JOB_x/cancel", 405},
        {"DELETE", "/api/jobs/JOB_x", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = req(&s, cases[i].method, cases[i].path, NULL, NULL, &body);
        if (st != cases[i].status)
            FAIL("%s %s: %d, not %d: %s", cases[i].method, cases[i].path, st, cases[i].status, body);
        ASSERT_CONTAINS(body, "\"error\"");
        free(body);
    }
    /* Paths that climb: no file system behind them. */
    const char *climb[] = {"/../../../../etc/passwd", "/api/../../etc/passwd", "/api/jobs/..",
                           "/api/jobs/../cancel", "/app.js/.."};
    for (size_t i = 0; i < sizeof climb / sizeof *climb; i++) {
        snprintf(rq, sizeof rq, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                 climb[i], s.port);
        ASSERT_EQ(raw(s.port, rq, &body), 404);
        ASSERT_NOT_CONTAINS(body, "root:");
        free(body);
    }
    /* Unknown scenario or job, a submission id on the job route, missing or
     * wrong CSRF token, oversized body. */
    ASSERT_EQ(post(&s, "/api/scenarios/nope/submit", NULL), 404);
    ASSERT_EQ(post(&s, "/api/jobs/JOB_nope/cancel", NULL), 404);
    ASSERT_EQ(post(&s, "/api/jobs/SUBMISSION_nope/cancel", NULL), 404);
    ASSERT_EQ(req(&s, "POST", "/api/submissions/SUBMISSION_x/cancel", NULL, "{}", NULL), 403);
    ASSERT_EQ(req(&s, "POST", "/api/submissions/SUBMISSION_x/cancel", "X-Weft-CSRF: 00\r\n", "{}", NULL),
              403);
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    char head[160];
    snprintf(head, sizeof head, "X-Weft-CSRF: %s\r\n", s.csrf);
    ASSERT_EQ(req(&s, "POST", "/api/jobs/JOB_x/cancel", head, big, NULL), 413);
    free(big);
    /* A Host that is not loopback: a page of another site rebinding its name here. */
    snprintf(rq, sizeof rq, "GET /api/overview HTTP/1.1\r\nHost: evil.example:%d\r\nConnection: close\r\n\r\n",
             s.port);
    ASSERT_EQ(raw(s.port, rq, NULL), 403);
    stop(&s);
}

TEST(token_is_required_when_set)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    server s = {.cfg = load(CONFIG)};
    /* Beyond loopback only with a token. */
    weft_ui *ui = NULL;
    weft_ui_opts o = {.config = s.cfg, .listen = "0.0.0.0:0"};
    ASSERT_EQ(weft_ui_open(&o, &ui, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "token");
    ASSERT_EQ(weft_ui_open(&(weft_ui_opts){.config = s.cfg, .listen = "localhost"}, &ui, err), WEFT_EINVAL);
    const char *token = "tok-0123456789abcdef";
    start(&s, token);
    char *body;
    ASSERT_EQ(req(&s, "GET", "/api/overview", NULL, NULL, &body), 401);
    ASSERT_NOT_CONTAINS(body, token);
    free(body);
    ASSERT_EQ(req(&s, "GET", "/", NULL, NULL, &body), 401);
    ASSERT_CONTAINS(body, "action=\"/login\"");
    free(body);
    /* The login form: a session cookie that is not the token. */
    ASSERT_EQ(req(&s, "POST", "/login", NULL, "token=wrong-0123456789ab", NULL), 401);
    char rq[512];
    snprintf(rq, sizeof rq, "POST /login HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 26\r\n\r\n"
                            "token=tok-0123456789abcdef");
    int fd = dial(s.port);
    ASSERT_EQ(write(fd, rq, strlen(rq)), (ssize_t)strlen(rq));
    char head[4096] = "";
    ssize_t got = read(fd, head, sizeof head - 1);
    close(fd);
    ASSERT_GT(got, 0);
    ASSERT(strncmp(head, "HTTP/1.1 303", 12) == 0);
    ASSERT_NOT_CONTAINS(head, token);
    const char *ck = strstr(head, "weft_session=");
    ASSERT(ck != NULL);
    char cookie[200];
    snprintf(cookie, sizeof cookie, "Cookie: %.77s\r\n", ck);
    ASSERT_EQ(req(&s, "GET", "/api/overview", cookie, NULL, NULL), 200);
    ASSERT_EQ(req(&s, "GET", "/api/overview", "Authorization: Bearer wrong-0123456789ab\r\n", NULL, NULL), 401);
    ASSERT_EQ(req(&s, "GET", "/api/overview", "Authorization: Bearer tok-0123456789abcdef\r\n", NULL, NULL), 200);
    ASSERT_EQ(req(&s, "GET", "/metrics", "Cookie: weft_token=tok-0123456789abcdef\r\n", NULL, NULL), 200);
    stop(&s);
}

/* ---- the commands ---- */

TEST(cli_ui_serves_and_stops_on_sigterm)
{
    weft_config_free(load(CONFIG));
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/weft ui --listen 127.0.0.1:0 > ui.out 2>&1 & echo $! > ui.pid",
             test_build_dir());
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    free(out);
    int port = 0, pid = 0;
    for (int i = 0; i < 100 && !port; i++) {
        usleep(50000);
        char *t = test_read_file("ui.out", NULL);
        const char *u = strstr(t, "http://127.0.0.1:");
        if (u) port = atoi(u + 17);
        free(t);
    }
    char *p = test_read_file("ui.pid", NULL);
    pid = atoi(p);
    free(p);
    ASSERT_GT(port, 0);
    server s = {.port = port};
    ASSERT_EQ(req(&s, "GET", "/api/overview", NULL, NULL, NULL), 200);
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    for (int i = 0; i < 100 && kill(pid, 0) == 0; i++) usleep(50000);
    ASSERT(kill(pid, 0) != 0);

    snprintf(cmd, sizeof cmd, "%s/weft ui --listen 0.0.0.0:0", test_build_dir());
    ASSERT_EQ(test_run_cmd(cmd, &out), 2);
    ASSERT_CONTAINS(out, "--token-file");
    free(out);
    snprintf(cmd, sizeof cmd, "%s/weft graph -s quick --format dot", test_build_dir());
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "\"sales\" -> \"touch\"");
    ASSERT_CONTAINS(out, "\"touch\" -> \"out\"");
    free(out);
    snprintf(cmd, sizeof cmd, "%s/weft graph -s naps --format png | head -c 4 | od -c", test_build_dir());
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "P   N   G");
    free(out);
}

/* ---- cluster view ---- */

/* The broker URL's password ("" when none), which no answer may carry. */
static void url_password(const char *url, char *out, size_t n)
{
    const char *a = strstr(url, "://"), *at = a ? strrchr(a, '@') : NULL;
    const char *c = at ? memchr(a + 3, ':', (size_t)(at - a - 3)) : NULL;
    snprintf(out, n, "%.*s", c ? (int)(at - c - 1) : 0, c ? c + 1 : "");
}

/* The overview once the server heard a worker and the queue (up to 40 s). */
static json_t *await_cluster(server *s)
{
    for (int i = 0; i < 400; i++) {
        json_t *v = get_json(s, "/api/overview", 200);
        json_t *c = json_object_get(v, "cluster");
        if (json_array_size(json_object_get(c, "workers")) > 0 && json_is_object(json_object_get(c, "queue_load")))
            return v;
        json_decref(v);
        usleep(100 * 1000);
    }
    FAIL("the overview never showed the worker and the queue");
}

TEST(cluster_view_shows_workers_and_queue)
{
    char queue[128], *cfg, pw[256], dir[4096];
    snprintf(queue, sizeof queue, "weft.test.ui.%d", (int)getpid());
    if (!getcwd(dir, sizeof dir)) FAIL("getcwd");
    if (asprintf(&cfg, "[CORE]\nstorage_folder = \".weft/\"\n[JOB]\nmode = \"cluster\"\n"
                       "broker_url = \"%s\"\nqueue = \"%s\"\nbroker_secret = \"" SIGN_SECRET "\"\n"
                       "[TASK.t]\nfunction = \"weft.noop\"\n[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n",
                 broker_url(), queue) < 0)
        FAIL("oom");
    server s = {.cfg = load(cfg)};
    free(cfg);
    const char *args[] = {"run-worker", "--application-path", dir, "--queue", queue,
                          "--concurrency", "3", NULL};
    pid_t w = weft_spawn_logged("worker.log", args);
    start(&s, NULL);
    json_t *v = await_cluster(&s), *c = json_object_get(v, "cluster");
    ASSERT_STR_EQ(str(c, "queue"), queue);
    json_t *wk = json_array_get(json_object_get(c, "workers"), 0);
    char name[256];
    snprintf(name, sizeof name, "%s", str(wk, "name"));
    ASSERT_EQ(json_array_size(json_object_get(c, "workers")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(wk, "pid")), w);
    ASSERT_EQ(json_integer_value(json_object_get(wk, "concurrency")), 3);
    ASSERT_EQ(json_integer_value(json_object_get(wk, "busy")), 0);
    ASSERT(json_integer_value(json_object_get(wk, "last_heartbeat_us")) > 0);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(c, "queue_load"), "consumers")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(c, "queue_load"), "ready")), 0);
    /* Nothing delivered: no unacked message, as the worker's heartbeat says. */
    ASSERT(json_is_integer(json_object_get(json_object_get(c, "queue_load"), "unacked")));
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(c, "queue_load"), "unacked")), 0);
    ASSERT(json_is_integer(json_object_get(wk, "unacked")));
    ASSERT_EQ(json_integer_value(json_object_get(wk, "unacked")), 0);
    ASSERT_STR_EQ(str(c, "error"), "");
    json_decref(v);

    char *body, line[400];
    ASSERT_EQ(req(&s, "GET", "/metrics", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "\nweft_queue_ready 0\n");
    ASSERT_CONTAINS(body, "\nweft_queue_consumers 1\n");
    ASSERT_CONTAINS(body, "\nweft_workers 1\n");
    snprintf(line, sizeof line, "\nweft_worker_busy_slots{worker=\"%s\"} 0\n", name);
    ASSERT_CONTAINS(body, line);
    snprintf(line, sizeof line, "\nweft_worker_slots{worker=\"%s\"} 3\n", name);
    ASSERT_CONTAINS(body, line);
    ASSERT_CONTAINS(body, "\nweft_queue_unacked 0\n");
    snprintf(line, sizeof line, "\nweft_worker_unacked{worker=\"%s\"} 0\n", name);
    ASSERT_CONTAINS(body, line);
    free(body);
    url_password(broker_url(), pw, sizeof pw);
    const char *paths[] = {"/", "/app.js", "/api/overview", "/metrics"};
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
        ASSERT_EQ(req(&s, "GET", paths[k], NULL, NULL, &body), 200);
        if (strlen(pw) >= 4) ASSERT_NOT_CONTAINS(body, pw);
        ASSERT_NOT_CONTAINS(body, SIGN_SECRET);
        free(body);
    }
    ASSERT_EQ(worker_stop(w), 0);
    stop(&s);
    broker_cleanup(queue);
}

/* The overview once it holds a heartbeat of its worker sent after
 * `after_us` (the refresh's passive declare comes after that listen);
 * up to 30 s. */
static json_t *await_heartbeat_after(server *s, int64_t after_us)
{
    for (int i = 0; i < 300; i++) {
        json_t *v = get_json(s, "/api/overview", 200);
        json_t *c = json_object_get(v, "cluster");
        json_t *wk = json_array_get(json_object_get(c, "workers"), 0);
        if (json_integer_value(json_object_get(wk, "last_heartbeat_us")) > after_us &&
            json_is_object(json_object_get(c, "queue_load")))
            return v;
        json_decref(v);
        usleep(100 * 1000);
    }
    FAIL("the overview never showed a heartbeat sent after the steady state");
}

/* The cluster view's queue_load and /metrics agree with the broker on the
 * queue's ready, unacked and consumers: 4 jobs of 30 s for a worker of 2
 * slots with --prefetch 3 (2 run, 1 waits in its pool, 1 stays ready). */
TEST(cluster_view_counts_agree_with_the_broker)
{
    char queue[128], *cfg, dir[4096];
    snprintf(queue, sizeof queue, "weft.test.uiq.%d", (int)getpid());
    if (!getcwd(dir, sizeof dir)) FAIL("getcwd");
    if (asprintf(&cfg, "[CORE]\nstorage_folder = \".weft/\"\n[JOB]\nmode = \"cluster\"\n"
                       "broker_url = \"%s\"\nqueue = \"%s\"\nbroker_secret = \"" SIGN_SECRET "\"\n"
                       "[TASK.l1]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
                       "[TASK.l2]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
                       "[TASK.l3]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
                       "[TASK.l4]\nfunction = \"weft.sleep\"\nduration = \"30\"\n"
                       "[SCENARIO.s]\ntasks = [\"l1:SECTION\", \"l2:SECTION\", \"l3:SECTION\", "
                       "\"l4:SECTION\"]\n",
                 broker_url(), queue) < 0)
        FAIL("oom");
    server s = {.cfg = load(cfg)};
    free(cfg);
    const char *wargs[] = {"run-worker", "--application-path", dir, "--queue", queue,
                           "--concurrency", "2", "--prefetch", "3", NULL};
    const char *rargs[] = {"run", "-c", "config.toml", "-s", "s", NULL};
    pid_t w = weft_spawn_logged("worker.log", wargs), r = weft_spawn_logged("run.log", rargs);
    start(&s, NULL);
    await_broker_counts(queue, (qcounts){.ready = 1, .unacked = 3, .consumers = 1});
    json_t *v = await_heartbeat_after(&s, weft__now_us()), *c = json_object_get(v, "cluster");
    qcounts q = broker_counts(queue);
    ASSERT_EQ(q.ready, 1);
    ASSERT_EQ(q.unacked, 3);
    ASSERT_EQ(q.consumers, 1);
    json_t *ql = json_object_get(c, "queue_load"), *wk = json_array_get(json_object_get(c, "workers"), 0);
    ASSERT_EQ(json_integer_value(json_object_get(ql, "ready")), q.ready);
    ASSERT(json_is_integer(json_object_get(ql, "unacked")));
    ASSERT_EQ(json_integer_value(json_object_get(ql, "unacked")), q.unacked);
    ASSERT_EQ(json_integer_value(json_object_get(ql, "consumers")), q.consumers);
    ASSERT_EQ(json_integer_value(json_object_get(wk, "unacked")), q.unacked);
    ASSERT_EQ(json_integer_value(json_object_get(wk, "busy")), 2);
    char *body, line[400];
    ASSERT_EQ(req(&s, "GET", "/metrics", NULL, NULL, &body), 200);
    snprintf(line, sizeof line, "\nweft_queue_ready %ld\n", q.ready);
    ASSERT_CONTAINS(body, line);
    snprintf(line, sizeof line, "\nweft_queue_unacked %ld\n", q.unacked);
    ASSERT_CONTAINS(body, line);
    snprintf(line, sizeof line, "\nweft_queue_consumers %ld\n", q.consumers);
    ASSERT_CONTAINS(body, line);
    snprintf(line, sizeof line, "\nweft_worker_unacked{worker=\"%s\"} %ld\n", str(wk, "name"),
             q.unacked);
    ASSERT_CONTAINS(body, line);
    /* The rates: 2 jobs started within the last minute. */
    const char *rate = strstr(body, "\nweft_queue_jobs_started_per_second ");
    ASSERT(rate != NULL);
    ASSERT(strtod(rate + strlen("\nweft_queue_jobs_started_per_second "), NULL) > 0);
    snprintf(line, sizeof line, "\nweft_worker_jobs_started_per_second{worker=\"%s\"} ",
             str(wk, "name"));
    ASSERT_CONTAINS(body, line);
    ASSERT_CONTAINS(body, "\nweft_queue_jobs_finished_per_second 0\n");
    free(body);
    json_decref(v);
    kill(r, SIGKILL);
    kill(w, SIGKILL); /* its jobs run 30 s: no drain */
    waitpid(r, NULL, 0);
    waitpid(w, NULL, 0);
    stop(&s);
    broker_cleanup(queue);
}

/* A broker that refuses connections: the overview says why, with the
 * password of the URL masked, and /metrics has no queue figures. */
TEST(cluster_view_reports_an_unreachable_broker)
{
    int port, fd = broker_silent_listener(&port);
    close(fd); /* now nothing listens there: connections are refused */
    char cfg[1024], *body;
    snprintf(cfg, sizeof cfg, "[CORE]\nstorage_folder = \".weft/\"\n[JOB]\nmode = \"cluster\"\n"
             "broker_url = \"amqp://weft:" SECRET_PW "@127.0.0.1:%d/%%2f\"\nqueue = \"q\"\n"
             "[TASK.t]\nfunction = \"weft.noop\"\n[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n", port);
    server s = {.cfg = load(cfg)};
    start(&s, NULL);
    json_t *v = NULL;
    for (int i = 0; i < 300; i++) {
        json_decref(v);
        v = get_json(&s, "/api/overview", 200);
        if (json_integer_value(json_object_get(json_object_get(v, "cluster"), "refreshes")) > 0) break;
        usleep(100 * 1000);
    }
    json_t *c = json_object_get(v, "cluster");
    ASSERT(json_integer_value(json_object_get(c, "refreshes")) > 0);
    ASSERT(strlen(str(c, "error")) > 0);
    ASSERT_EQ(json_array_size(json_object_get(c, "workers")), 0);
    ASSERT(json_is_null(json_object_get(c, "queue_load")));
    json_decref(v);
    ASSERT_EQ(req(&s, "GET", "/api/overview", NULL, NULL, &body), 200);
    ASSERT_NOT_CONTAINS(body, SECRET_PW);
    free(body);
    ASSERT_EQ(req(&s, "GET", "/metrics", NULL, NULL, &body), 200);
    ASSERT_CONTAINS(body, "\nweft_workers 0\n");
    ASSERT_NOT_CONTAINS(body, "weft_queue_ready");
    ASSERT_NOT_CONTAINS(body, "weft_queue_unacked ");
    ASSERT_NOT_CONTAINS(body, SECRET_PW);
    free(body);
    stop(&s);
}

TEST_MAIN(TEST_ENTRY(every_route_answers), TEST_ENTRY(event_stream_follows_runs_after_a_clean), TEST_ENTRY(previews_metrics_and_no_secret),
          TEST_ENTRY(a_sequence_runs_from_the_page), TEST_ENTRY(cycles_are_listed_with_their_primary_scenario),
          TEST_ENTRY_TIMEOUT(pagination_walks_10000_jobs, 180),
          TEST_ENTRY(event_stream_follows_a_live_run), TEST_ENTRY(cancel_stops_a_running_job),
          TEST_ENTRY(bad_requests_are_refused), TEST_ENTRY(token_is_required_when_set),
          TEST_ENTRY(cli_ui_serves_and_stops_on_sigterm),
          TEST_ENTRY_TIMEOUT(cluster_view_shows_workers_and_queue, 120),
          TEST_ENTRY_TIMEOUT(cluster_view_counts_agree_with_the_broker, 120),
          TEST_ENTRY_TIMEOUT(cluster_view_reports_an_unreachable_broker, 60))
