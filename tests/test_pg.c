/* SPDX-License-Identifier: MIT */
/* test_pg.c - sql_table and sql data nodes on a real PostgreSQL server (the
 * private one scripts/run-tests starts with scripts/pg, given by the
 * WEFT_TEST_PG_* variables: without them these tests fail), sql nodes on
 * SQLite, connection errors that are quick, one line and never show the
 * password, and the storage types this build cannot read. */
#define _GNU_SOURCE
#include "test.h"
#include "job/runner.h"
#include "weft.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static weft_config *cfg;
static weft__app *app;
static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf; /* a pointer: ASSERT_OK prints it */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        FAIL("%s is not set: run this test through scripts/run-tests, which starts a private "
             "PostgreSQL (scripts/pg), or set the WEFT_TEST_PG_* variables",
             name);
    return v;
}

/* "db_engine = ... db_password = ENV[WEFT_TEST_PG_PASSWORD]" lines of a
 * node on the test server (static buffer). */
static const char *pg_keys(void)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "db_engine = \"postgresql\"\ndb_host = \"%s\"\ndb_port = %s\ndb_username = \"%s\"\n"
             "db_password = \"ENV[WEFT_TEST_PG_PASSWORD]\"\ndb_name = \"%s\"\n",
             env("WEFT_TEST_PG_HOST"), env("WEFT_TEST_PG_PORT"), env("WEFT_TEST_PG_USER"),
             env("WEFT_TEST_PG_DB"));
    return buf;
}

static void setup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setup(const char *fmt, ...)
{
    char *text, *apps;
    va_list ap;
    va_start(ap, fmt);
    ASSERT(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load_string(cfg, text, strlen(text), "test.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    free(text);
    ASSERT(asprintf(&apps, "%s/tests/apps", test_build_dir()) >= 0);
    ASSERT_OK(weft__app_new(cfg, apps, &app, err), err);
    free(apps);
}

static void teardown(void)
{
    weft__app_free(app);
    weft_config_free(cfg);
}

typedef struct node {
    weft__dn_ref ref;
    weft_data_node *dn;
    bool written;
} node;

static void open_node(node *n, const char *config_id)
{
    memset(n, 0, sizeof *n);
    ASSERT(asprintf(&n->ref.id, "DATANODE_%s_1", config_id) >= 0);
    n->ref.config_id = strdup(config_id);
    ASSERT_OK(weft__dn_open(app, &n->ref, &n->written, &n->dn, err), err);
}

static void close_node(node *n)
{
    weft__dn_free(n->dn);
    free(n->ref.id);
    free(n->ref.config_id);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ASSERT(s >= 0);
    ASSERT_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}


static void use_testfns(void)
{
    char so[PATH_MAX];
    snprintf(so, sizeof so, "%s/tests/apps/testfns.so", test_build_dir());
    ASSERT_EQ(symlink(so, "testfns.so"), 0);
}

/* Writes the JSON text `s` to the node. */
static weft_err write_text(weft_data_node *dn, const char *s) { return weft_dn_write(dn, s, strlen(s), err); }

/* ---- sql_table ---- */

TEST(pg_table_round_trip_keeps_types_quotes_unicode_and_nulls)
{
    /* A name to quote, unique to this run: the server outlives the test. */
    setup("[DATA_NODE.t]\nstorage_type = \"sql_table\"\ntable_name = \"it's \\\"t\\\" %d\"\n%s"
          "[DATA_NODE.types]\nstorage_type = \"sql\"\n%s"
          "read_query = \"SELECT column_name, data_type FROM information_schema.columns WHERE "
          "table_name = 'it''s \\\"t\\\" %d' ORDER BY ordinal_position\"\n"
          "[DATA_NODE.who]\nstorage_type = \"sql\"\n%sread_query = \"SELECT current_setting('application_name') "
          "AS app\"\n[DATA_NODE.who.db_extra_args]\napplication_name = \"weft extra\"\n",
          (int)getpid(), pg_keys(), pg_keys(), (int)getpid(), pg_keys());
    node n;
    open_node(&n, "t");
    ASSERT(!weft__dn_has_content(app, &n.ref));
    const char *in = "[{\"name\": \"O'Brien \\\"Bob\\\"; DROP TABLE x; --\", \"qty\": 3, \"price\": 1.25,"
                     " \"vip\": true, \"meta\": {\"a\": [1, 2]}},"
                     " {\"name\": \"\\u00e9t\\u00e9 \\u6f22\\u5b57 \\ud83d\\ude00\", \"qty\": null, \"price\": 2,"
                     " \"vip\": false, \"meta\": null},"
                     " {\"name\": null, \"qty\": -9007199254740993, \"price\": null, \"vip\": null}]";
    ASSERT_OK(weft_dn_write(n.dn, in, strlen(in), err), err);
    ASSERT(n.written);
    ASSERT(weft__dn_has_content(app, &n.ref));
    json_t *back, *want = json_loads(in, 0, NULL);
    ASSERT_OK(weft_dn_read_json(n.dn, &back, err), err);
    /* The missing "meta" of row 3 reads as null; 2 in a double column as 2.0. */
    json_object_set_new(json_array_get(want, 2), "meta", json_null());
    json_object_set_new(json_array_get(want, 1), "price", json_real(2.0));
    if (!json_equal(back, want)) {
        char *a = json_dumps(back, JSON_COMPACT), *b = json_dumps(want, JSON_COMPACT);
        FAIL("read back\n  %s\nexpected\n  %s", a, b);
    }
    json_decref(back);
    json_decref(want);
    /* Typed columns, created from the values. */
    node ty;
    open_node(&ty, "types");
    char *d;
    ASSERT_OK(weft_dn_read(ty.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"column_name\":\"name\",\"data_type\":\"text\"},"
                     "{\"column_name\":\"qty\",\"data_type\":\"bigint\"},"
                     "{\"column_name\":\"price\",\"data_type\":\"double precision\"},"
                     "{\"column_name\":\"vip\",\"data_type\":\"boolean\"},"
                     "{\"column_name\":\"meta\",\"data_type\":\"jsonb\"}]");
    free(d);
    close_node(&ty);
    /* db_extra_args are libpq keywords. */
    open_node(&ty, "who");
    ASSERT_OK(weft_dn_read(ty.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"app\":\"weft extra\"}]");
    free(d);
    close_node(&ty);
    /* A write replaces the rows; the table (and its types) stays. */
    ASSERT_OK(write_text(n.dn, "[{\"qty\": \"7\", \"name\": \"x\"}]"), err);
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"name\":\"x\",\"qty\":7,\"price\":null,\"vip\":null,\"meta\":null}]");
    free(d);
    /* A failed write (a column the table lacks, after a good row) changes nothing. */
    const char *bad = "[{\"name\": \"y\"}, {\"nope\": 1}]";
    ASSERT_EQ(weft_dn_write(n.dn, bad, strlen(bad), err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "nope");
    ASSERT(!strchr(err, '\n'));
    ASSERT_EQ(write_text(n.dn, "[{\"qty\": \"many\"}]"), WEFT_EDATA);
    ASSERT_CONTAINS(err, "PostgreSQL");
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"name\":\"x\",\"qty\":7,\"price\":null,\"vip\":null,\"meta\":null}]");
    free(d);
    /* No rows: the table is emptied. */
    ASSERT_OK(write_text(n.dn, "[]"), err);
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[]");
    free(d);
    close_node(&n);
    teardown();
}

/* ---- sql: read_query and write_query ---- */

/* The same sql node on either engine: statements in order, one
 * transaction, $k bound to the k-th column of each row. */
static void check_sql_node(void)
{
    node n;
    open_node(&n, "items");
    const char *rows = "[{\"id\": 1, \"name\": \"a'b\"}, {\"id\": 2, \"name\": \"\\u00fcber\"}]";
    ASSERT_OK(weft_dn_write(n.dn, rows, strlen(rows), err), err);
    char *d;
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"id\":1,\"name\":\"a'b\"},{\"id\":2,\"name\":\"\xc3\xbc" "ber\"}]");
    free(d);
    /* A duplicate key fails the whole write: the DELETE is rolled back too. */
    const char *dup = "[{\"id\": 5, \"name\": \"x\"}, {\"id\": 5, \"name\": \"y\"}]";
    ASSERT_EQ(weft_dn_write(n.dn, dup, strlen(dup), err), WEFT_EDATA);
    ASSERT(!strchr(err, '\n'));
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[{\"id\":1,\"name\":\"a'b\"},{\"id\":2,\"name\":\"\xc3\xbc" "ber\"}]");
    free(d);
    /* Rows with fewer columns than the statement's parameters. */
    ASSERT_EQ(write_text(n.dn, "[{\"id\": 9}]"), WEFT_EDATA);
    ASSERT_CONTAINS(err, "1 column");
    /* No rows: the statements with parameters run no time, the others once. */
    ASSERT_OK(write_text(n.dn, "[]"), err);
    ASSERT_OK(weft_dn_read(n.dn, &d, NULL, err), err);
    ASSERT_STR_EQ(d, "[]");
    free(d);
    close_node(&n);
}

TEST(pg_sql_read_query_and_write_query)
{
    setup("[DATA_NODE.items]\nstorage_type = \"sql\"\n%s"
          "read_query = \"SELECT id, name FROM items_%d ORDER BY id\"\n"
          "write_query = [\"CREATE TABLE IF NOT EXISTS items_%d (id int PRIMARY KEY, name text)\", "
          "\"DELETE FROM items_%d\", \"INSERT INTO items_%d (id, name) VALUES ($1, $2)\"]\n",
          pg_keys(), (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid());
    check_sql_node();
    teardown();
}

TEST(sqlite_sql_read_query_and_write_query)
{
    char cwd[PATH_MAX];
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
    setup("[DATA_NODE.items]\nstorage_type = \"sql\"\ndb_engine = \"sqlite\"\ndb_name = \"shop\"\n"
          "sqlite_folder = \"%s\"\nread_query = \"SELECT id, name FROM items ORDER BY id\"\n"
          "write_query = [\"CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text)\", "
          "\"DELETE FROM items\", \"INSERT INTO items (id, name) VALUES ($1, $2)\"]\n",
          cwd);
    check_sql_node();
    teardown();
}

/* ---- a scenario ---- */

TEST(pg_task_reads_one_table_and_writes_another)
{
    char *out;
    use_testfns();
    const char *keys = pg_keys();
    char *text;
    ASSERT(asprintf(&text,
                    "[DATA_NODE.src]\nstorage_type = \"sql_table\"\ntable_name = \"src_%d\"\n"
                    "scope = \"GLOBAL:SCOPE\"\n%s"
                    "[DATA_NODE.dst]\nstorage_type = \"sql_table\"\ntable_name = \"dst_%d\"\n"
                    "scope = \"GLOBAL:SCOPE\"\n%s"
                    "[TASK.shout]\nfunction = \"testfns.upper:function\"\ninputs = [\"src:SECTION\"]\n"
                    "outputs = [\"dst:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"shout:SECTION\"]\n",
                    (int)getpid(), keys, (int)getpid(), keys) >= 0);
    test_write_file("config.toml", text);
    setup("%s", text);
    node src;
    open_node(&src, "src");
    const char *rows = "[{\"word\": \"hello\", \"n\": 1}, {\"word\": \"world\", \"n\": 2}]";
    ASSERT_OK(weft_dn_write(src.dn, rows, strlen(rows), err), err);
    close_node(&src);
    teardown();
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "COMPLETED");
    free(out);
    ASSERT_EQ(test_weft(&out, "data dst"), 0);
    ASSERT_CONTAINS(out, "\"WORD\":\"HELLO\"");
    ASSERT_CONTAINS(out, "\"WORD\":\"WORLD\"");
    free(out);
    /* The same from a standalone worker process, after new rows. */
    setup("%s", text);
    open_node(&src, "src");
    ASSERT_OK(write_text(src.dn, "[{\"word\": \"again\", \"n\": 3}]"), err);
    close_node(&src);
    teardown();
    rc = test_weft(&out, "run --mode standalone --workers 1");
    printf("%s", out);
    ASSERT_EQ(rc, 0);
    free(out);
    ASSERT_EQ(test_weft(&out, "data dst"), 0);
    ASSERT_STR_EQ(out, "[{\"WORD\":\"AGAIN\",\"N\":3}]");
    free(out);
    free(text);
}

/* ---- connection errors ---- */

TEST(pg_server_down_fails_quickly_on_one_line)
{
    int port = closed_port();
    setup("[DATA_NODE.t]\nstorage_type = \"sql_table\"\ntable_name = \"t\"\ndb_engine = \"postgresql\"\n"
          "db_host = \"127.0.0.1\"\ndb_port = %d\ndb_username = \"u\"\ndb_password = \"pw-9d2e\"\n"
          "db_name = \"d\"\n",
          port);
    node n;
    open_node(&n, "t");
    double t0 = now_s();
    char *d = NULL;
    ASSERT_EQ(weft_dn_read(n.dn, &d, NULL, err), WEFT_EDATA);
    ASSERT_LT(now_s() - t0, 6.0);
    char want[128];
    snprintf(want, sizeof want, "data node t: cannot connect to PostgreSQL at 127.0.0.1:%d: ", port);
    ASSERT_CONTAINS(err, want);
    ASSERT_CONTAINS(err, "refused");
    ASSERT(!strchr(err, '\n') && !strchr(err, '\t'));
    ASSERT_NOT_CONTAINS(err, "pw-9d2e");
    ASSERT_EQ(write_text(n.dn, "[{\"a\": 1}]"), WEFT_EDATA);
    ASSERT_CONTAINS(err, want);
    ASSERT(!n.written);
    /* The runner asks whether the input has rows: it cannot know, and
     * lets the read say why. */
    ASSERT(weft__dn_has_content(app, &n.ref));
    close_node(&n);
    teardown();
}

/* A server that accepts the connection and never answers: connect_timeout
 * (from db_extra_args here; libpq waits at least 2 s) ends the wait. */
TEST(pg_silent_server_times_out)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ASSERT(s >= 0);
    ASSERT_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(s, 4), 0); /* the kernel accepts; nobody ever reads */
    ASSERT_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
    setup("[DATA_NODE.t]\nstorage_type = \"sql_table\"\ntable_name = \"t\"\ndb_engine = \"postgresql\"\n"
          "db_host = \"127.0.0.1\"\ndb_port = %d\ndb_username = \"u\"\ndb_name = \"d\"\n"
          "[DATA_NODE.t.db_extra_args]\nconnect_timeout = \"2\"\n",
          ntohs(a.sin_port));
    node n;
    open_node(&n, "t");
    double t0 = now_s();
    char *d = NULL;
    ASSERT_EQ(weft_dn_read(n.dn, &d, NULL, err), WEFT_EDATA);
    double took = now_s() - t0;
    printf("    %.1f s: %s\n", took, err);
    ASSERT_LT(took, 4.5);
    ASSERT_CONTAINS(err, "cannot connect to PostgreSQL at 127.0.0.1:");
    ASSERT_CONTAINS(err, "no answer within connect_timeout = 2 s");
    ASSERT(!strchr(err, '\n'));
    close_node(&n);
    teardown();
    close(s);
}

TEST(pg_bad_password_is_clear_and_never_shown)
{
    static const char secret[] = "Wrong-pw-7f3a9c";
    setenv("WEFT_TEST_BAD_PW", secret, 1);
    char *text;
    ASSERT(asprintf(&text,
                    "[DATA_NODE.t]\nstorage_type = \"sql_table\"\ntable_name = \"pw_%d\"\n"
                    "db_engine = \"postgresql\"\ndb_host = \"%s\"\ndb_port = %s\ndb_username = \"%s\"\n"
                    "db_password = \"ENV[WEFT_TEST_BAD_PW]\"\ndb_name = \"%s\"\n"
                    "[DATA_NODE.lit]\nstorage_type = \"sql_table\"\ntable_name = \"x\"\n"
                    "db_engine = \"postgresql\"\ndb_username = \"u\"\ndb_password = \"%s-literal\"\n"
                    "db_name = \"d\"\n",
                    (int)getpid(), env("WEFT_TEST_PG_HOST"), env("WEFT_TEST_PG_PORT"),
                    env("WEFT_TEST_PG_USER"), env("WEFT_TEST_PG_DB"), secret) >= 0);
    test_write_file("config.toml", text);
    setup("%s", text);
    free(text);
    node n;
    open_node(&n, "t");
    char *d = NULL;
    ASSERT_EQ(write_text(n.dn, "[{\"a\": 1}]"), WEFT_EDATA);
    ASSERT_CONTAINS(err, "cannot connect to PostgreSQL at");
    ASSERT_CONTAINS(err, "password authentication failed");
    ASSERT_NOT_CONTAINS(err, secret);
    ASSERT(!strchr(err, '\n'));
    ASSERT_EQ(weft_dn_read(n.dn, &d, NULL, err), WEFT_EDATA);
    ASSERT_NOT_CONTAINS(err, secret);
    close_node(&n);
    teardown();
    /* `weft config` masks both the ENV value and the literal one; `weft
     * check` warns about the literal one without quoting it. */
    char *out;
    ASSERT_EQ(test_weft(&out, "config"), 0);
    ASSERT_NOT_CONTAINS(out, secret);
    ASSERT_CONTAINS(out, "db_password = \"***\"");
    free(out);
    ASSERT_EQ(test_weft(&out, "config --raw"), 0);
    ASSERT_NOT_CONTAINS(out, secret);
    ASSERT_CONTAINS(out, "ENV[WEFT_TEST_BAD_PW]");
    free(out);
    test_weft(&out, "check");
    ASSERT_NOT_CONTAINS(out, secret);
    ASSERT_CONTAINS(out, "db_password of data node 'lit' is written in the file");
    free(out);
    /* Nothing was created by the failed write. */
    setup("[DATA_NODE.t]\nstorage_type = \"sql_table\"\ntable_name = \"pw_%d\"\n%s", (int)getpid(), pg_keys());
    open_node(&n, "t");
    ASSERT(!weft__dn_has_content(app, &n.ref));
    close_node(&n);
    teardown();
}

/* ---- weft check ---- */

TEST(check_knows_what_each_engine_needs)
{
    test_write_file("config.toml",
                    "[DATA_NODE.a]\nstorage_type = \"sql_table\"\ndb_engine = \"mysql\"\ndb_name = \"d\"\n"
                    "table_name = \"t\"\n"
                    "[DATA_NODE.b]\nstorage_type = \"sql_table\"\ndb_engine = \"postgresql\"\ndb_name = \"d\"\n"
                    "table_name = \"t\"\n"
                    "[DATA_NODE.c]\nstorage_type = \"sql\"\ndb_engine = \"sqlite\"\ndb_name = \"d\"\n"
                    "[DATA_NODE.d]\nstorage_type = \"sql\"\ndb_engine = \"postgresql\"\ndb_name = \"d\"\n"
                    "db_username = \"u\"\ndb_password = \"ENV[WEFT_TEST_PG_PASSWORD]\"\ndb_port = 5433\n"
                    "read_query = \"SELECT 1\"\nwrite_query_builder = \"m.build:function\"\n"
                    "[DATA_NODE.d.db_extra_args]\nsslmode = \"disable\"\n");
    setenv("WEFT_TEST_PG_PASSWORD", "x", 0);
    char *out;
    ASSERT_EQ(test_weft(&out, "check"), 1);
    printf("%s", out);
    ASSERT_CONTAINS(out, "config.toml:3:13: error: db_engine of data node 'a' must be 'sqlite' or 'postgresql', "
                         "got 'mysql'");
    ASSERT_CONTAINS(out, "config.toml:6:1: error: postgresql data node 'b' needs db_username");
    ASSERT_CONTAINS(out, "config.toml:11:1: error: sql data node 'c' needs db_name and read_query");
    ASSERT_CONTAINS(out, "write_query_builder has no effect in weft");
    ASSERT_CONTAINS(out, "config.toml: 3 errors, 1 warning");
    free(out);
}

/* ---- types this build cannot read ---- */

TEST(unreadable_types_warn_and_fail_only_their_jobs)
{
    use_testfns();
    test_write_file("config.toml",
                    "[DATA_NODE.sales]\nstorage_type = \"parquet\"\ndefault_path = \"sales.parquet\"\n"
                    "[DATA_NODE.docs]\nstorage_type = \"mongo_collection\"\ndb_name = \"d\"\n"
                    "collection_name = \"c\"\n"
                    "[DATA_NODE.blob]\nstorage_type = \"s3_object\"\naws_access_key = \"k\"\n"
                    "aws_secret_access_key = \"ENV[WEFT_TEST_S3_SECRET]\"\naws_s3_bucket_name = \"b\"\n"
                    "aws_s3_object_key = \"o\"\n"
                    "[DATA_NODE.report]\nstorage_type = \"text\"\n"
                    "[DATA_NODE.hello]\nstorage_type = \"text\"\n"
                    "[TASK.summarize]\nfunction = \"testfns.upper:function\"\ninputs = [\"sales:SECTION\"]\n"
                    "outputs = [\"report:SECTION\"]\n"
                    "[TASK.say]\nfunction = \"testfns.greet:function\"\noutputs = [\"hello:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"summarize:SECTION\", \"say:SECTION\"]\n");
    char *out;
    setenv("WEFT_TEST_S3_SECRET", "s", 0);
    ASSERT_EQ(test_weft(&out, "check"), 0);
    printf("%s", out);
    ASSERT_CONTAINS(out, "config.toml:2:16");
    ASSERT_CONTAINS(out, "this build of weft cannot read or write storage_type 'parquet'");
    ASSERT_CONTAINS(out, "storage_type 'mongo_collection'");
    ASSERT_CONTAINS(out, "storage_type 's3_object'");
    free(out);
    /* Taipy's required properties are still required (its checker's verdict) */
    test_write_file("bad.toml", "[DATA_NODE.blob]\nstorage_type = \"s3_object\"\naws_access_key = \"k\"\n");
    ASSERT_EQ(test_weft(&out, "check -c bad.toml"), 1);
    ASSERT_CONTAINS(out, "bad.toml:1:1: error: s3_object data node 'blob' needs aws_secret_access_key");
    free(out);
    int rc = test_weft(&out, "run");
    printf("%s", out);
    ASSERT_NE(rc, 0);
    ASSERT_CONTAINS(out, "data node sales: this build of weft cannot read or write storage_type 'parquet'");
    free(out);
    ASSERT_EQ(test_weft(&out, "data hello"), 0);
    ASSERT_CONTAINS(out, "(none) from JOB_say_");
    free(out);
}

TEST_MAIN(TEST_ENTRY(pg_table_round_trip_keeps_types_quotes_unicode_and_nulls),
          TEST_ENTRY(pg_sql_read_query_and_write_query), TEST_ENTRY(sqlite_sql_read_query_and_write_query),
          TEST_ENTRY(pg_task_reads_one_table_and_writes_another),
          TEST_ENTRY(pg_server_down_fails_quickly_on_one_line), TEST_ENTRY(pg_silent_server_times_out),
          TEST_ENTRY(pg_bad_password_is_clear_and_never_shown), TEST_ENTRY(check_knows_what_each_engine_needs),
          TEST_ENTRY(unreadable_types_warn_and_fail_only_their_jobs))
