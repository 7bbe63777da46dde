/* SPDX-License-Identifier: MIT */
/* test_datanode.c - data node I/O by storage type: round trips, default_data, csv
 * quoting and errors, atomic replacement, in_memory, sql_table and generic nodes. */
#define _GNU_SOURCE
#include "test.h"
#include "job/runner.h"
#include "util/util.h"
#include "weft.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

static weft_config *cfg;
static weft__app *app;
static char cwd[PATH_MAX];
static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf; /* a pointer: ASSERT_OK prints it */

static void setup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setup(const char *fmt, ...)
{
    char *text, *apps;
    va_list ap;
    va_start(ap, fmt);
    ASSERT(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    ASSERT(getcwd(cwd, sizeof cwd) != NULL);
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

/* A ref for instance DATANODE_<id>_1 of DATA_NODE.<id>, stored under ./.weft. */
static void make_ref(weft__dn_ref *r, const char *config_id)
{
    char folder[PATH_MAX + 8];
    snprintf(folder, sizeof folder, "%s/.weft", cwd);
    memset(r, 0, sizeof *r);
    ASSERT(asprintf(&r->id, "DATANODE_%s_1", config_id) >= 0);
    r->config_id = strdup(config_id);
    char sec[256];
    snprintf(sec, sizeof sec, "DATA_NODE.%s", config_id);
    const char *st = weft_value_text(weft_config_lookup(cfg, sec, "storage_type"));
    r->storage_type = strdup(st ? st : "pickle");
    ASSERT_OK(weft__dn_instance_path(app, config_id, r->id, folder, &r->path, err), err);
}

static void free_ref(weft__dn_ref *r)
{
    free(r->id);
    free(r->config_id);
    free(r->storage_type);
    free(r->path);
}

/* An open handle plus its ref, freed together. */
typedef struct node {
    weft__dn_ref ref;
    weft_data_node *dn;
    bool written;
} node;

static void open_node(node *n, const char *config_id)
{
    make_ref(&n->ref, config_id);
    n->written = false;
    ASSERT_OK(weft__dn_open(app, &n->ref, &n->written, &n->dn, err), err);
}

static void close_node(node *n)
{
    weft__dn_free(n->dn);
    free_ref(&n->ref);
}

static char *read_all(weft_data_node *dn, size_t *len)
{
    char *data;
    ASSERT_OK(weft_dn_read(dn, &data, len, err), err);
    return data;
}

/* ---- file-based types ---- */

TEST(text_round_trip_and_default_path)
{
    setup("[DATA_NODE.notes]\nstorage_type = \"text\"\n");
    node n;
    open_node(&n, "notes");
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/.weft/data/DATANODE_notes_1.txt", cwd);
    ASSERT_STR_EQ(weft_dn_path(n.dn), want);
    ASSERT_STR_EQ(weft_dn_storage_type(n.dn), "text");
    ASSERT_STR_EQ(weft_dn_config_id(n.dn), "notes");
    ASSERT(!weft__dn_has_content(app, &n.ref));
    char *d;
    size_t len;
    ASSERT_EQ(weft_dn_read(n.dn, &d, &len, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "does not exist");
    ASSERT(!n.written);
    ASSERT_OK(weft_dn_write(n.dn, "hello\n", 6, err), err);
    ASSERT(n.written);
    ASSERT(weft__dn_has_content(app, &n.ref));
    d = read_all(n.dn, &len);
    ASSERT_STR_EQ(d, "hello\n");
    ASSERT_EQ(len, 6);
    free(d);
    /* Outside a job. */
    ASSERT_OK(weft__dn_read_ref(app, &n.ref, &d, &len, err), err);
    ASSERT_STR_EQ(d, "hello\n");
    free(d);
    close_node(&n);
    teardown();
}

TEST(binary_and_pickle_keep_every_byte)
{
    setup("[DATA_NODE.blob]\nstorage_type = \"binary\"\n[DATA_NODE.p]\n");
    node b, p;
    open_node(&b, "blob");
    open_node(&p, "p");
    ASSERT_STR_EQ(weft_dn_storage_type(p.dn), "pickle");
    ASSERT_CONTAINS(weft_dn_path(p.dn), "DATANODE_p_1.p");
    ASSERT_CONTAINS(weft_dn_path(b.dn), "DATANODE_blob_1.bin");
    const char bytes[] = {'a', 0, (char)0xff, '\n', 0};
    ASSERT_OK(weft_dn_write(b.dn, bytes, sizeof bytes, err), err);
    ASSERT_OK(weft_dn_write(p.dn, bytes, sizeof bytes, err), err);
    size_t len;
    char *d = read_all(b.dn, &len);
    ASSERT_EQ(len, sizeof bytes);
    ASSERT(memcmp(d, bytes, len) == 0);
    ASSERT_EQ(d[len], '\0');
    free(d);
    d = read_all(p.dn, &len);
    ASSERT_EQ(len, sizeof bytes);
    free(d);
    /* An empty write makes an empty, existing node. */
    ASSERT_OK(weft_dn_write(b.dn, NULL, 0, err), err);
    d = read_all(b.dn, &len);
    ASSERT_EQ(len, 0);
    free(d);
    close_node(&b);
    close_node(&p);
    teardown();
}

TEST(json_round_trip_and_validation)
{
    setup("[DATA_NODE.summary]\nstorage_type = \"json\"\n");
    node n;
    open_node(&n, "summary");
    json_t *v = json_pack("{s:i, s:[s, n, b], s:f}", "count", 3, "list", "a", 1, "ratio", 0.5);
    ASSERT_OK(weft_dn_write_json(n.dn, v, err), err);
    json_t *back;
    ASSERT_OK(weft_dn_read_json(n.dn, &back, err), err);
    ASSERT(json_equal(v, back));
    json_decref(back);
    json_decref(v);
    /* Raw bytes must be JSON too. */
    ASSERT_EQ(weft_dn_write(n.dn, "{oops", 5, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "malformed JSON");
    ASSERT_OK(weft_dn_write(n.dn, "[1, 2]", 6, err), err);
    /* A file broken behind our back is reported with its position. */
    test_write_file(n.ref.path, "{\n  \"a\": 1,\n  \"b\": \n}");
    char *d;
    size_t len;
    ASSERT_EQ(weft_dn_read(n.dn, &d, &len, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, n.ref.path);
    ASSERT_CONTAINS(err, ":4:");
    ASSERT_EQ(weft_dn_read_json(n.dn, &back, err), WEFT_EDATA);
    close_node(&n);
    teardown();
}

TEST(default_data_makes_a_node_readable)
{
    setup("[DATA_NODE.greeting]\nstorage_type = \"text\"\ndefault_data = \"hi there\"\n"
          "[DATA_NODE.nums]\nstorage_type = \"json\"\ndefault_data = [1, 2, 3]\n"
          "[DATA_NODE.cfgjson]\nstorage_type = \"json\"\ndefault_data = \"{\\\"k\\\": true}\"\n"
          "[DATA_NODE.word]\nstorage_type = \"json\"\ndefault_data = \"plain\"\n");
    node g, n, c, w;
    open_node(&g, "greeting");
    open_node(&n, "nums");
    open_node(&c, "cfgjson");
    open_node(&w, "word");
    ASSERT(weft__dn_has_content(app, &g.ref));
    size_t len;
    char *d = read_all(g.dn, &len);
    ASSERT_STR_EQ(d, "hi there");
    free(d);
    json_t *j;
    ASSERT_OK(weft_dn_read_json(n.dn, &j, err), err);
    ASSERT(json_is_array(j) && json_array_size(j) == 3 && json_integer_value(json_array_get(j, 2)) == 3);
    json_decref(j);
    ASSERT_OK(weft_dn_read_json(c.dn, &j, err), err);
    ASSERT(json_is_true(json_object_get(j, "k")));
    json_decref(j);
    ASSERT_OK(weft_dn_read_json(w.dn, &j, err), err);
    ASSERT_STR_EQ(json_string_value(j), "plain");
    json_decref(j);
    /* A write wins over the default. */
    ASSERT_OK(weft_dn_write(g.dn, "new", 3, err), err);
    d = read_all(g.dn, &len);
    ASSERT_STR_EQ(d, "new");
    free(d);
    close_node(&g);
    close_node(&n);
    close_node(&c);
    close_node(&w);
    teardown();
}

TEST(configured_paths_resolve_against_the_application_path)
{
    setup("[DATA_NODE.rel]\nstorage_type = \"csv\"\ndefault_path = \"data/sales.csv\"\n"
          "[DATA_NODE.abs]\nstorage_type = \"text\"\npath = \"/tmp/x/abs.txt\"\n"
          "[DATA_NODE.mem]\nstorage_type = \"in_memory\"\n"
          "[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fn = \"testfns.gen_read:function\"\n");
    char *p;
    ASSERT_OK(weft__dn_instance_path(app, "rel", "DATANODE_rel_1", NULL, &p, err), err);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/data/sales.csv", weft__app_path(app));
    ASSERT_STR_EQ(p, want);
    free(p);
    ASSERT_OK(weft__dn_instance_path(app, "abs", "DATANODE_abs_1", NULL, &p, err), err);
    ASSERT_STR_EQ(p, "/tmp/x/abs.txt");
    free(p);
    p = (char *)"unchanged";
    ASSERT_OK(weft__dn_instance_path(app, "mem", "DATANODE_mem_1", NULL, &p, err), err);
    ASSERT(p == NULL);
    ASSERT_OK(weft__dn_instance_path(app, "gen", "DATANODE_gen_1", NULL, &p, err), err);
    ASSERT(p == NULL);
    teardown();
}

/* ---- csv ---- */

static const char *CSV_TRICKY =
    "name,amount,note\r\n"
    "plain,1,simple\r\n"
    "\"Smith, John\",2,\"said \"\"hi\"\"\"\r\n"
    "multi,3,\"line one\nline two\"\r\n"
    "\r\n"
    "empty,,\"\"\n"
    "last,5,no newline at end";

TEST(csv_reads_quotes_newlines_and_crlf)
{
    setup("[DATA_NODE.sales]\nstorage_type = \"csv\"\n");
    node n;
    open_node(&n, "sales");
    ASSERT_OK(weft__mkdir_parent(n.ref.path, err), err);
    test_write_file(n.ref.path, CSV_TRICKY);
    weft_csv_reader *r;
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    size_t nh;
    const char *const *h = weft_csv_header(r, &nh);
    ASSERT_EQ(nh, 3);
    ASSERT_STR_EQ(h[0], "name");
    ASSERT_STR_EQ(h[2], "note");
    const char *const *f;
    size_t nf;
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_EQ(nf, 3);
    ASSERT_STR_EQ(f[2], "simple");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_STR_EQ(f[0], "Smith, John");
    ASSERT_STR_EQ(f[2], "said \"hi\"");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_STR_EQ(f[2], "line one\nline two");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1); /* the blank line was skipped */
    ASSERT_EQ(nf, 3);
    ASSERT_STR_EQ(f[0], "empty");
    ASSERT_STR_EQ(f[1], "");
    ASSERT_STR_EQ(f[2], "");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_STR_EQ(f[2], "no newline at end");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 0);
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 0);
    weft_csv_close(r);
    close_node(&n);
    teardown();
}

TEST(csv_without_header_returns_every_row)
{
    setup("[DATA_NODE.raw]\nstorage_type = \"csv\"\nhas_header = \"False:bool\"\n"
          "[DATA_NODE.empty]\nstorage_type = \"csv\"\n");
    node n, e;
    open_node(&n, "raw");
    open_node(&e, "empty");
    ASSERT_OK(weft__mkdir_parent(n.ref.path, err), err);
    test_write_file(n.ref.path, "a,b\nc,d\n");
    test_write_file(e.ref.path, "");
    weft_csv_reader *r;
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    size_t nh = 99;
    weft_csv_header(r, &nh);
    ASSERT_EQ(nh, 0);
    const char *const *f;
    size_t nf;
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_STR_EQ(f[0], "a");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_STR_EQ(f[1], "d");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 0);
    weft_csv_close(r);
    ASSERT_OK(weft_csv_open(e.dn, &r, err), err);
    weft_csv_header(r, &nh);
    ASSERT_EQ(nh, 0);
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 0);
    weft_csv_close(r);
    close_node(&n);
    close_node(&e);
    teardown();
}

TEST(csv_malformed_files_name_path_and_line)
{
    setup("[DATA_NODE.bad]\nstorage_type = \"csv\"\n");
    node n;
    open_node(&n, "bad");
    ASSERT_OK(weft__mkdir_parent(n.ref.path, err), err);
    test_write_file(n.ref.path, "a,b\n1,2\n3,\"never closed\n4,5\n");
    weft_csv_reader *r;
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    const char *const *f;
    size_t nf;
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), -1);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:3: unterminated quoted field", n.ref.path);
    ASSERT_STR_EQ(err, want);
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), -1);
    weft_csv_close(r);
    test_write_file(n.ref.path, "a,b\n\"x\"y,2\n");
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), -1);
    ASSERT_CONTAINS(err, ":2: unexpected 'y' after a quoted field");
    weft_csv_close(r);
    close_node(&n);
    teardown();
}

TEST(csv_row_memory_is_bounded)
{
    setup("[DATA_NODE.big]\nstorage_type = \"csv\"\nhas_header = \"False:bool\"\n");
    node n;
    open_node(&n, "big");
    ASSERT_OK(weft__mkdir_parent(n.ref.path, err), err);
    FILE *f = fopen(n.ref.path, "wb");
    ASSERT(f != NULL);
    fputs("ok\n\"", f);
    static char chunk[1 << 16];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 17 * 16; i++) fwrite(chunk, 1, sizeof chunk, f);
    fputs("\"\n", f);
    fclose(f);
    weft_csv_reader *r;
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    const char *const *fl;
    size_t nf;
    ASSERT_EQ(weft_csv_next(r, &fl, &nf, err), 1);
    ASSERT_EQ(weft_csv_next(r, &fl, &nf, err), -1);
    ASSERT_CONTAINS(err, ":2: row longer than 16 MiB");
    weft_csv_close(r);
    close_node(&n);
    teardown();
}

TEST(csv_writer_round_trips_awkward_fields)
{
    setup("[DATA_NODE.out]\nstorage_type = \"csv\"\n");
    node n;
    open_node(&n, "out");
    weft_csv_writer *w;
    const char *hdr[] = {"k", "v"};
    ASSERT_OK(weft_csv_create(n.dn, hdr, 2, &w, err), err);
    const char *rows[][2] = {{"comma", "a,b"}, {"quote", "say \"x\""}, {"nl", "l1\r\nl2\n"},
                             {"", ""}, {"sp ace", " lead"}};
    for (size_t i = 0; i < 5; i++) ASSERT_OK(weft_csv_write_row(w, rows[i], 2, err), err);
    const char *lone[] = {""};
    ASSERT_OK(weft_csv_write_row(w, lone, 1, err), err);
    ASSERT(!n.written);
    ASSERT_OK(weft_csv_commit(w, err), err);
    ASSERT(n.written);
    char *raw = test_read_file(n.ref.path, NULL);
    ASSERT_CONTAINS(raw, "k,v\ncomma,\"a,b\"\nquote,\"say \"\"x\"\"\"\n");
    free(raw);
    weft_csv_reader *r;
    ASSERT_OK(weft_csv_open(n.dn, &r, err), err);
    const char *const *f;
    size_t nf;
    for (size_t i = 0; i < 5; i++) {
        ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
        ASSERT_EQ(nf, 2);
        ASSERT_STR_EQ(f[0], rows[i][0]);
        ASSERT_STR_EQ(f[1], rows[i][1]);
    }
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 1);
    ASSERT_EQ(nf, 1);
    ASSERT_STR_EQ(f[0], "");
    ASSERT_EQ(weft_csv_next(r, &f, &nf, err), 0);
    weft_csv_close(r);
    close_node(&n);
    teardown();
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ASSERT(d != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

TEST(aborted_write_leaves_the_old_content)
{
    setup("[DATA_NODE.out]\nstorage_type = \"csv\"\n");
    node n;
    open_node(&n, "out");
    ASSERT_OK(weft_dn_write(n.dn, "a\n1\n", 4, err), err);
    n.written = false;
    weft_csv_writer *w;
    const char *hdr[] = {"a"};
    ASSERT_OK(weft_csv_create(n.dn, hdr, 1, &w, err), err);
    const char *row[] = {"2"};
    ASSERT_OK(weft_csv_write_row(w, row, 1, err), err);
    /* While the new content is being written, readers see the old one. */
    char *d = test_read_file(n.ref.path, NULL);
    ASSERT_STR_EQ(d, "a\n1\n");
    free(d);
    weft_csv_abort(w);
    ASSERT(!n.written);
    d = test_read_file(n.ref.path, NULL);
    ASSERT_STR_EQ(d, "a\n1\n");
    free(d);
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/.weft/data", cwd);
    ASSERT_EQ(count_entries(dir), 1); /* no temporary file left behind */
    weft_csv_abort(NULL);
    close_node(&n);
    teardown();
}

/* ---- in_memory, sql_table, generic ---- */

TEST(in_memory_nodes_live_in_the_app)
{
    setup("[DATA_NODE.cache]\nstorage_type = \"in_memory\"\ndefault_data = \"seed\"\n"
          "[DATA_NODE.blank]\nstorage_type = \"in_memory\"\n");
    node a, b, z;
    open_node(&a, "cache");
    open_node(&b, "cache"); /* a second handle on the same instance */
    open_node(&z, "blank");
    ASSERT(weft_dn_path(a.dn) == NULL);
    ASSERT(weft__dn_has_content(app, &a.ref));
    ASSERT(!weft__dn_has_content(app, &z.ref));
    size_t len;
    char *d = read_all(a.dn, &len);
    ASSERT_STR_EQ(d, "seed");
    free(d);
    ASSERT_EQ(weft_dn_read(z.dn, &d, &len, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "has no data");
    ASSERT_OK(weft_dn_write(a.dn, "v2", 2, err), err);
    ASSERT(a.written);
    d = read_all(b.dn, &len);
    ASSERT_STR_EQ(d, "v2");
    free(d);
    json_t *j = json_pack("[i]", 7);
    ASSERT_OK(weft_dn_write_json(z.dn, j, err), err);
    json_decref(j);
    ASSERT_OK(weft_dn_read_json(z.dn, &j, err), err);
    ASSERT_EQ(json_integer_value(json_array_get(j, 0)), 7);
    json_decref(j);
    close_node(&a);
    close_node(&b);
    close_node(&z);
    teardown();
}

TEST(sql_table_round_trip)
{
    setup("[DATA_NODE.people]\nstorage_type = \"sql_table\"\ndb_engine = \"sqlite\"\n"
          "db_name = \"crm\"\nsqlite_folder = \"%s/db\"\ntable_name = \"the people\"\n",
          getcwd(cwd, sizeof cwd));
    node n;
    open_node(&n, "people");
    ASSERT(weft_dn_path(n.dn) == NULL);
    ASSERT(!weft__dn_has_content(app, &n.ref));
    json_t *rows = json_pack("[{s:s, s:i, s:f}, {s:s, s:n, s:b}, {s:s, s:i, s:s}]", "name", "Ann", "age",
                             31, "score", 1.5, "name", "Bob", "age", "vip", 1, "name", "Cy \"Q\"",
                             "age", 40, "extra", "x");
    ASSERT_OK(weft_dn_write_json(n.dn, rows, err), err);
    ASSERT(n.written);
    ASSERT(weft__dn_has_content(app, &n.ref));
    ASSERT_EQ(access("db/crm.db", F_OK), 0);
    json_t *back;
    ASSERT_OK(weft_dn_read_json(n.dn, &back, err), err);
    ASSERT_EQ(json_array_size(back), 3);
    json_t *r0 = json_array_get(back, 0), *r1 = json_array_get(back, 1), *r2 = json_array_get(back, 2);
    ASSERT_STR_EQ(json_string_value(json_object_get(r0, "name")), "Ann");
    ASSERT_EQ(json_integer_value(json_object_get(r0, "age")), 31);
    ASSERT_DBL_NEAR(json_real_value(json_object_get(r0, "score")), 1.5, 1e-9);
    ASSERT(json_is_null(json_object_get(r0, "vip")));
    ASSERT(json_is_null(json_object_get(r1, "age")));
    ASSERT_EQ(json_integer_value(json_object_get(r1, "vip")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(r2, "name")), "Cy \"Q\"");
    ASSERT_STR_EQ(json_string_value(json_object_get(r2, "extra")), "x");
    json_decref(back);
    json_decref(rows);
    /* A write replaces the whole table; raw bytes are JSON. */
    const char *small = "[{\"id\": 1}]";
    ASSERT_OK(weft_dn_write(n.dn, small, strlen(small), err), err);
    size_t len;
    char *d = read_all(n.dn, &len);
    ASSERT_STR_EQ(d, "[{\"id\":1}]");
    free(d);
    ASSERT_EQ(weft_dn_write(n.dn, "[1]", 3, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "row 0 is not an object");
    d = read_all(n.dn, &len); /* the failed write changed nothing */
    ASSERT_STR_EQ(d, "[{\"id\":1}]");
    free(d);
    close_node(&n);
    teardown();
}

/* Taipy's names for reading, weft's older names for writing; testfns reads
 * the arguments under the old names, which find the new ones too. */
TEST(generic_nodes_call_their_functions)
{
    setup("[DATA_NODE.ext]\nstorage_type = \"generic\"\n"
          "read_fct = \"testfns.gen_read:function\"\nread_fct_args = [\"%s/ext.dat\"]\n"
          "write_fn = \"testfns.gen_write:function\"\nwrite_fn_args = [\"%s/ext.dat\"]\n"
          "[DATA_NODE.broken]\nstorage_type = \"generic\"\nread_fn = \"testfns.nosuch:function\"\n",
          getcwd(cwd, sizeof cwd), cwd);
    node n, b;
    open_node(&n, "ext");
    open_node(&b, "broken");
    ASSERT(weft__dn_has_content(app, &n.ref));
    size_t len;
    char *d;
    if (weft_dn_read(n.dn, &d, &len, err) != WEFT_EDATA) FAIL("%s", err); /* no file yet: read_fn returns 2 */
    ASSERT_CONTAINS(err, "read_fct of data node ext returned 2");
    ASSERT_OK(weft_dn_write(n.dn, "generic!", 8, err), err);
    ASSERT(n.written);
    d = test_read_file("ext.dat", NULL);
    ASSERT_STR_EQ(d, "generic!");
    free(d);
    d = read_all(n.dn, &len);
    ASSERT_STR_EQ(d, "generic!");
    ASSERT_EQ(len, 8);
    free(d);
    ASSERT_EQ(weft_dn_read(b.dn, &d, &len, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "symbol nosuch not found in");
    ASSERT_EQ(weft_dn_write(b.dn, "x", 1, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "has no write_fct");
    close_node(&n);
    close_node(&b);
    teardown();
}

/* Outputs are created as open() creates files: 0666 less the umask. */
TEST(outputs_honour_the_umask)
{
    setup("[DATA_NODE.a]\nstorage_type = \"text\"\n[DATA_NODE.b]\nstorage_type = \"json\"\n");
    static const struct {
        mode_t mask, want;
        const char *id;
    } cases[] = {{077, 0600, "a"}, {022, 0644, "b"}, {002, 0664, "a"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mode_t old = umask(cases[i].mask);
        node n;
        open_node(&n, cases[i].id);
        ASSERT_OK(weft_dn_write(n.dn, "1\n", 2, err), err);
        struct stat st;
        ASSERT_EQ(stat(weft_dn_path(n.dn), &st), 0);
        ASSERT_EQ(st.st_mode & 0777, cases[i].want);
        close_node(&n);
        umask(old);
    }
    teardown();
}

TEST_MAIN(TEST_ENTRY(text_round_trip_and_default_path), TEST_ENTRY(binary_and_pickle_keep_every_byte),
          TEST_ENTRY(json_round_trip_and_validation), TEST_ENTRY(default_data_makes_a_node_readable),
          TEST_ENTRY(configured_paths_resolve_against_the_application_path),
          TEST_ENTRY(csv_reads_quotes_newlines_and_crlf), TEST_ENTRY(csv_without_header_returns_every_row),
          TEST_ENTRY(csv_malformed_files_name_path_and_line), TEST_ENTRY(csv_row_memory_is_bounded),
          TEST_ENTRY(csv_writer_round_trips_awkward_fields), TEST_ENTRY(aborted_write_leaves_the_old_content),
          TEST_ENTRY(in_memory_nodes_live_in_the_app), TEST_ENTRY(sql_table_round_trip),
          TEST_ENTRY(generic_nodes_call_their_functions),
          TEST_ENTRY(outputs_honour_the_umask))
