/* SPDX-License-Identifier: MIT */
/* test_excel.c - excel data nodes: the weft_xlsx_* row API (typed cells, gaps,
 * several sheets, has_header, default_data), what `weft data` shows, files
 * that LibreOffice reads and writes, and malformed or hostile workbooks. */
#define _GNU_SOURCE
#include "test.h"
#include "job/runner.h"
#include "job/xlsx.h"
#include "util/util.h"
#include "web/web.h"
#include "weft.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zip.h>

static weft_config *cfg;
static weft__app *app;
static char cwd[PATH_MAX];
static char errbuf[WEFT_ERRBUF_SIZE];
static char *err = errbuf; /* a pointer: ASSERT_OK prints it */

static void setup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void setup(const char *fmt, ...)
{
    char *text;
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
    ASSERT_OK(weft__app_new(cfg, cwd, &app, err), err); /* no task modules needed */
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

/* Instance DATANODE_<id>_1 of DATA_NODE.<id>, stored under ./.weft. */
static void open_node(node *n, const char *config_id)
{
    char folder[PATH_MAX + 8];
    snprintf(folder, sizeof folder, "%s/.weft", cwd);
    memset(n, 0, sizeof *n);
    ASSERT(asprintf(&n->ref.id, "DATANODE_%s_1", config_id) >= 0);
    n->ref.config_id = strdup(config_id);
    n->ref.storage_type = strdup("excel");
    ASSERT_OK(weft__dn_instance_path(app, config_id, n->ref.id, folder, &n->ref.path, err), err);
    ASSERT_OK(weft__dn_open(app, &n->ref, &n->written, &n->dn, err), err);
}

static void close_node(node *n)
{
    weft__dn_free(n->dn);
    free(n->ref.id);
    free(n->ref.config_id);
    free(n->ref.storage_type);
    free(n->ref.path);
}

#define S(t) {WEFT_CELL_STRING, t}
#define N(t) {WEFT_CELL_NUMBER, t}
#define B(t) {WEFT_CELL_BOOL, t}
#define E {WEFT_CELL_EMPTY, ""}

static const char *const header[] = {"name", "note", "qty", "ok"};
/* Rows of the round trip, as written and as read back. */
static const weft_cell rows[][4] = {
    {S("Zoë ünïcode ✓"), S("say \"hi\", then\nleave"), N("42"), B("True")},
    {S("  spaced  "), E, N("-0.25"), B("False")},
    {E, S("x"), N("1E-3"), E},
    {S("tab\there"), S("'quoted'"), N("3.5"), B("True")},
};
static const weft_cell rows_read[][4] = {
    {S("Zoë ünïcode ✓"), S("say \"hi\", then\nleave"), N("42"), B("True")},
    {S("  spaced  "), E, N("-0.25"), B("False")},
    {E, S("x"), N("0.001"), E},
    {S("tab\there"), S("'quoted'"), N("3.5"), B("True")},
};
#define NROWS (sizeof rows / sizeof rows[0])

static void write_table(weft_data_node *dn, const char *sheet)
{
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(dn, &w, err), err);
    ASSERT_OK(weft_xlsx_add_sheet(w, sheet, header, 4, err), err);
    for (size_t i = 0; i < NROWS; i++) ASSERT_OK(weft_xlsx_write_row(w, rows[i], 4, err), err);
    ASSERT_OK(weft_xlsx_commit(w, err), err);
}

static void assert_row(const weft_cell *got, size_t n, const weft_cell *want, size_t nwant)
{
    ASSERT_EQ(n, nwant);
    for (size_t i = 0; i < n; i++) {
        ASSERT_STR_EQ(got[i].text, want[i].text);
        ASSERT_EQ(got[i].type, want[i].type);
    }
}

static void assert_table(weft_xlsx_reader *r)
{
    size_t n;
    const weft_cell *h = weft_xlsx_header(r, &n);
    ASSERT_EQ(n, 4);
    for (size_t i = 0; i < 4; i++) {
        ASSERT_STR_EQ(h[i].text, header[i]);
        ASSERT_EQ(h[i].type, WEFT_CELL_STRING);
    }
    const weft_cell *c;
    for (size_t i = 0; i < NROWS; i++) {
        ASSERT_EQ(weft_xlsx_next(r, &c, &n, err), 1);
        assert_row(c, n, rows_read[i], 4);
    }
    ASSERT_EQ(weft_xlsx_next(r, &c, &n, err), 0);
}

TEST(round_trip_typed_cells)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\n");
    node n;
    open_node(&n, "t");
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/.weft/data/DATANODE_t_1.xlsx", cwd);
    ASSERT_STR_EQ(weft_dn_path(n.dn), want);
    ASSERT(!weft__dn_has_content(app, &n.ref));
    weft_xlsx_reader *r;
    ASSERT_EQ(weft_xlsx_open(n.dn, NULL, &r, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "does not exist");
    ASSERT_CONTAINS(err, want);
    write_table(n.dn, NULL);
    ASSERT(n.written);
    ASSERT(weft__dn_has_content(app, &n.ref));
    /* The file honours the umask (0022 in the test runner, or whatever it is). */
    struct stat st;
    ASSERT_EQ(stat(want, &st), 0);
    mode_t um = umask(0);
    umask(um);
    ASSERT_EQ(st.st_mode & 0777, 0666 & ~um);
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t ns;
    const char *const *names = weft_xlsx_sheets(r, &ns);
    ASSERT_EQ(ns, 1);
    ASSERT_STR_EQ(names[0], "Sheet1");
    assert_table(r);
    weft_xlsx_close(r);
    /* The bytes are the workbook (for Python tasks), and written back as is. */
    char *d;
    size_t len;
    ASSERT_OK(weft_dn_read(n.dn, &d, &len, err), err);
    ASSERT(len > 4 && memcmp(d, "PK\3\4", 4) == 0);
    ASSERT_OK(weft_dn_write(n.dn, d, len, err), err);
    free(d);
    ASSERT_EQ(weft_dn_write(n.dn, "a,b\n", 4, err), WEFT_EDATA);
    ASSERT_CONTAINS(err, "not an xlsx workbook");
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    assert_table(r);
    weft_xlsx_close(r);
    /* `weft data` shows one sheet as CSV. */
    ASSERT_OK(weft__dn_read_shown(app, &n.ref, &d, &len, err), err);
    ASSERT_STR_EQ(d, "name,note,qty,ok\n"
                     "Zoë ünïcode ✓,\"say \"\"hi\"\", then\nleave\",42,True\n"
                     "  spaced  ,,-0.25,False\n"
                     ",x,0.001,\n"
                     "tab\there,'quoted',3.5,True\n");
    free(d);
    close_node(&n);
    teardown();
}

TEST(gaps_have_header_false_and_bad_cells)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\nhas_header = false\n");
    node n;
    open_node(&n, "t");
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    /* has_header false: the header given is not written. */
    ASSERT_OK(weft_xlsx_add_sheet(w, NULL, header, 4, err), err);
    const weft_cell r1[] = {S("a"), E, E, N("7")}, r2[] = {E}, r3[] = {S("b")};
    ASSERT_OK(weft_xlsx_write_row(w, r1, 4, err), err);
    ASSERT_OK(weft_xlsx_write_row(w, r2, 1, err), err); /* an empty row between two */
    ASSERT_OK(weft_xlsx_write_row(w, r3, 1, err), err);
    ASSERT_OK(weft_xlsx_commit(w, err), err);
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t k;
    ASSERT(weft_xlsx_header(r, &k) == NULL || k == 0);
    ASSERT_EQ(k, 0);
    const weft_cell *c;
    /* Rows are as wide as the sheet (its dimension A1:D3). */
    const weft_cell w1[] = {S("a"), E, E, N("7")}, w2[] = {E, E, E, E}, w3[] = {S("b"), E, E, E};
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, w1, 4);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, w2, 4);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, w3, 4);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    /* A bad number or boolean fails the row, and the commit: the file stays. */
    char *before = test_read_file(weft_dn_path(n.dn), &k);
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    ASSERT_EQ(weft_xlsx_write_row(w, r1, 4, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "add a sheet");
    ASSERT_OK(weft_xlsx_add_sheet(w, "Data", NULL, 0, err), err);
    const weft_cell bad[] = {N("12abc")}, badb[] = {B("maybe")};
    ASSERT_EQ(weft_xlsx_write_row(w, bad, 1, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "'12abc' is not a number");
    ASSERT_EQ(weft_xlsx_write_row(w, badb, 1, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "'maybe' is not True or False");
    char *longs = malloc(40001);
    ASSERT(longs != NULL);
    memset(longs, 'x', 40000);
    longs[40000] = '\0';
    const weft_cell toolong[] = {{WEFT_CELL_STRING, longs}};
    ASSERT_EQ(weft_xlsx_write_row(w, toolong, 1, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "row 1, column 1: String exceeds Excel's limit of 32,767 characters");
    free(longs);
    ASSERT_EQ(weft_xlsx_add_sheet(w, "a/b", NULL, 0, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "sheet name 'a/b'");
    ASSERT_EQ(weft_xlsx_write_row(w, r1, 4, err), WEFT_EINVAL); /* not into "Data" */
    ASSERT_CONTAINS(err, "add a sheet");
    ASSERT_EQ(weft_xlsx_add_sheet(w, "Data", NULL, 0, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "sheet name 'Data'");
    ASSERT_EQ(weft_xlsx_commit(w, err), WEFT_EIO);
    size_t k2;
    char *after = test_read_file(weft_dn_path(n.dn), &k2);
    ASSERT(k == k2 && memcmp(before, after, k) == 0);
    free(before);
    free(after);
    /* Abort leaves no temporary file behind. */
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    weft_xlsx_abort(w);
    char *ls = NULL;
    ASSERT_EQ(test_run_cmd("ls -A .weft/data", &ls), 0);
    ASSERT_STR_EQ(ls, "DATANODE_t_1.xlsx\n");
    free(ls);
    close_node(&n);
    teardown();
}

TEST(several_sheets_and_sheet_name)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\nsheet_name = [\"second\", \"first\"]\n"
          "[DATA_NODE.one]\nstorage_type = \"excel\"\nsheet_name = \"second\"\n"
          "default_path = \"book.xlsx\"\n"
          "[DATA_NODE.all]\nstorage_type = \"excel\"\ndefault_path = \"book.xlsx\"\n");
    node n;
    open_node(&n, "t");
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    ASSERT_OK(weft_xlsx_add_sheet(w, "first", header, 4, err), err);
    for (size_t i = 0; i < NROWS; i++) ASSERT_OK(weft_xlsx_write_row(w, rows[i], 4, err), err);
    const char *const h2[] = {"k"};
    const weft_cell v2[] = {N("1")};
    ASSERT_OK(weft_xlsx_add_sheet(w, NULL, h2, 1, err), err); /* sheet_name's first: "second" */
    ASSERT_OK(weft_xlsx_write_row(w, v2, 1, err), err);
    ASSERT_OK(weft_xlsx_commit(w, err), err);
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, "first", &r, err), err);
    size_t k;
    const char *const *names = weft_xlsx_sheets(r, &k);
    ASSERT_EQ(k, 2);
    ASSERT_STR_EQ(names[0], "first");
    ASSERT_STR_EQ(names[1], "second");
    assert_table(r);
    weft_xlsx_close(r);
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err); /* the node's sheet_name: "second" */
    const weft_cell *c = weft_xlsx_header(r, &k);
    ASSERT_EQ(k, 1);
    ASSERT_STR_EQ(c[0].text, "k");
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, v2, 1);
    weft_xlsx_close(r);
    ASSERT_EQ(weft_xlsx_open(n.dn, "third", &r, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no sheet 'third' (its sheets: 'first', 'second')");
    ASSERT_CONTAINS(err, weft_dn_path(n.dn));
    /* `weft data`: the sheets of a list, as JSON. */
    char *d;
    size_t len;
    ASSERT_OK(weft__dn_read_shown(app, &n.ref, &d, &len, err), err);
    ASSERT_STR_EQ(d, "{\"second\":[[\"k\"],[1]],\"first\":[[\"name\",\"note\",\"qty\",\"ok\"],"
                     "[\"Zoë ünïcode ✓\",\"say \\\"hi\\\", then\\nleave\",42,true],"
                     "[\"  spaced  \",null,-0.25,false],[null,\"x\",0.001,null],"
                     "[\"tab\\there\",\"'quoted'\",3.5,true]]}\n");
    free(d);
    /* A path shared by nodes: one sheet named (CSV), or all of them (JSON). */
    char *cmd;
    ASSERT(asprintf(&cmd, "cp '%s' book.xlsx", weft_dn_path(n.dn)) >= 0);
    ASSERT_EQ(system(cmd), 0);
    free(cmd);
    node one, all;
    open_node(&one, "one");
    open_node(&all, "all");
    ASSERT_OK(weft__dn_read_shown(app, &one.ref, &d, &len, err), err);
    ASSERT_STR_EQ(d, "k\n1\n");
    free(d);
    ASSERT_OK(weft__dn_read_shown(app, &all.ref, &d, &len, err), err);
    ASSERT_CONTAINS(d, "{\"first\":[[\"name\"");
    ASSERT_CONTAINS(d, "\"second\":[[\"k\"],[1]]}");
    free(d);
    /* The web view's preview: sheet_name's sheet (else the first) as a table. */
    json_t *p = weft__preview(cfg, NULL, one.ref.id, "one", one.ref.path);
    d = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    struct stat st;
    ASSERT_EQ(stat("book.xlsx", &st), 0);
    char *want;
    ASSERT(asprintf(&want, "{\"bytes\":%lld,\"columns\":[\"k\"],\"kind\":\"table\",\"rows\":[[\"1\"]],"
                           "\"truncated\":false}", (long long)st.st_size) >= 0);
    ASSERT_STR_EQ(d, want);
    free(want);
    free(d);
    json_decref(p);
    p = weft__preview(cfg, NULL, all.ref.id, "all", all.ref.path);
    d = json_dumps(json_object_get(p, "columns"), JSON_COMPACT);
    ASSERT_STR_EQ(d, "[\"name\",\"note\",\"qty\",\"ok\"]");
    free(d);
    ASSERT_EQ(json_array_size(json_object_get(p, "rows")), NROWS);
    json_decref(p);
    test_write_file("book.xlsx", "not a workbook");
    p = weft__preview(cfg, NULL, all.ref.id, "all", all.ref.path);
    ASSERT_STR_EQ(json_string_value(json_object_get(p, "kind")), "none");
    ASSERT_CONTAINS(json_string_value(json_object_get(p, "error")), "not a zip archive");
    json_decref(p);
    close_node(&one);
    close_node(&all);
    close_node(&n);
    teardown();
}

TEST(default_data_and_empty_output)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\nsheet_name = \"in\"\n"
          "default_data = \"city,pop,big\\nOslo,700000,True\\n\\\"New, York\\\",8.3e6,False\\n\"\n");
    node n;
    open_node(&n, "t");
    ASSERT(weft__dn_has_content(app, &n.ref));
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t k;
    const weft_cell h[] = {S("city"), S("pop"), S("big")};
    const weft_cell *c = weft_xlsx_header(r, &k);
    assert_row(c, k, h, 3);
    ASSERT_STR_EQ(weft_xlsx_sheets(r, &k)[0], "in");
    const weft_cell a[] = {S("Oslo"), N("700000"), B("True")}, b[] = {S("New, York"), N("8.3e6"), B("False")};
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, a, 3);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, b, 3);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    ASSERT_EQ(weft_xlsx_open(n.dn, "out", &r, err), WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err, "no sheet 'out' in its default_data");
    /* As bytes: a workbook built from default_data, which the reader reads. */
    char *d;
    size_t len;
    ASSERT_OK(weft_dn_read(n.dn, &d, &len, err), err);
    ASSERT(len > 4 && memcmp(d, "PK\3\4", 4) == 0);
    FILE *f = fopen("default.xlsx", "wb");
    ASSERT(f && fwrite(d, 1, len, f) == len && fclose(f) == 0);
    free(d);
    weft__xlsx *x;
    ASSERT_OK(weft__xlsx_open("default.xlsx", &x, err), err);
    ASSERT_OK(weft__xlsx_select(x, "in", err), err);
    ASSERT_EQ(weft__xlsx_next(x, &c, &k, err), 1);
    assert_row(c, k, h, 3);
    ASSERT_EQ(weft__xlsx_next(x, &c, &k, err), 1);
    assert_row(c, k, a, 3);
    ASSERT_EQ(weft__xlsx_next(x, &c, &k, err), 1);
    const weft_cell b2[] = {S("New, York"), N("8300000"), B("False")};
    assert_row(c, k, b2, 3);
    weft__xlsx_close(x);
    /* weft.noop's output: no rows, the header kept. */
    ASSERT_OK(weft__dn_write_empty(n.dn, err), err);
    ASSERT(n.written);
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    c = weft_xlsx_header(r, &k);
    assert_row(c, k, h, 3);
    ASSERT_STR_EQ(weft_xlsx_sheets(r, &k)[0], "in");
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    close_node(&n);
    teardown();
}

TEST(config_check)
{
    static const char *const bad[][2] = {
        {"storage_type = \"excel\"\nsheet_name = 3", "must be a sheet name or a list of sheet names"},
        {"storage_type = \"excel\"\nsheet_name = []", "must be a sheet name or a list of sheet names"},
        {"storage_type = \"excel\"\nsheet_name = [\"a\", 2]", "must be a sheet name or a list"},
        {"storage_type = \"excell\"", "did you mean 'excel'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text;
        ASSERT(asprintf(&text, "[DATA_NODE.t]\n%s\n", bad[i][0]) >= 0);
        weft_config *c = weft_config_new();
        weft_err e = weft_config_load_string(c, text, strlen(text), "t.toml", err);
        if (!e) e = weft_config_check(c, err);
        ASSERT_EQ(e, WEFT_ECONFIG);
        ASSERT_CONTAINS(err, bad[i][1]);
        weft_config_free(c);
        free(text);
    }
    test_write_file("c.toml", "[DATA_NODE.c]\nstorage_type = \"csv\"\nsheet_name = \"x\"\n");
    char *cmd, *out;
    ASSERT(asprintf(&cmd, "'%s/weft' check -c c.toml", test_build_dir()) >= 0);
    ASSERT_EQ(test_run_cmd(cmd, &out), 0);
    ASSERT_CONTAINS(out, "c.toml:3:14: warning: sheet_name of data node 'c' has no effect: its storage_type "
                         "is csv, not excel");
    free(out);
    free(cmd);
    /* Accepted, and has_header defaults to True as for csv. */
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"a.xlsx\"\nsheet_name = \"s\"\n");
    const weft_value *v = weft_config_lookup(cfg, "DATA_NODE.t", "has_header");
    ASSERT(v && weft_value_type_of(v) == WEFT_VALUE_BOOL && weft_value_bool(v));
    teardown();
}


/* Many rows, so the sheet spans many 64 KiB chunks and the parser is
 * suspended and resumed at row ends inside them: once written by weft
 * (inline strings), once by libxlsxwriter's default mode (shared strings). */
#define BIG_ROWS 30000

static void check_big(weft_data_node *dn)
{
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(dn, NULL, &r, err), err);
    size_t n;
    const weft_cell *c = weft_xlsx_header(r, &n);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(c[2].text, "even");
    for (long i = 0; i < BIG_ROWS; i++) {
        ASSERT_EQ(weft_xlsx_next(r, &c, &n, err), 1);
        char s[64], num[32];
        snprintf(s, sizeof s, "row %ld <&> \"x\"", i);
        snprintf(num, sizeof num, "%ld", i * 7);
        const weft_cell want[] = {S(s), N(num), B(i % 2 ? "False" : "True")};
        assert_row(c, n, want, 3);
    }
    ASSERT_EQ(weft_xlsx_next(r, &c, &n, err), 0);
    weft_xlsx_close(r);
}

TEST(large_sheets_stream)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"big.xlsx\"\n");
    node n;
    open_node(&n, "t");
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    static const char *const h[] = {"name", "num", "even"};
    ASSERT_OK(weft_xlsx_add_sheet(w, NULL, h, 3, err), err);
    for (long i = 0; i < BIG_ROWS; i++) {
        char s[64], num[32];
        snprintf(s, sizeof s, "row %ld <&> \"x\"", i);
        snprintf(num, sizeof num, "%ld", i * 7);
        const weft_cell row[] = {S(s), N(num), B(i % 2 ? "False" : "True")};
        ASSERT_OK(weft_xlsx_write_row(w, row, 3, err), err);
    }
    ASSERT_OK(weft_xlsx_commit(w, err), err);
    check_big(n.dn);
    lxw_workbook *wb = workbook_new("big.xlsx");
    lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
    for (int j = 0; j < 3; j++) worksheet_write_string(ws, 0, (lxw_col_t)j, h[j], NULL);
    for (long i = 0; i < BIG_ROWS; i++) {
        char s[64];
        snprintf(s, sizeof s, "row %ld <&> \"x\"", i);
        worksheet_write_string(ws, (lxw_row_t)i + 1, 0, s, NULL);
        worksheet_write_number(ws, (lxw_row_t)i + 1, 1, (double)(i * 7), NULL);
        worksheet_write_boolean(ws, (lxw_row_t)i + 1, 2, i % 2 == 0, NULL);
    }
    ASSERT_EQ(workbook_close(wb), LXW_NO_ERROR);
    check_big(n.dn);
    close_node(&n);
    teardown();
}

/* ---- LibreOffice ---- */

/* Runs LibreOffice headless to convert `in` into `to` (an output filter)
 * in the current folder.  LibreOffice must be installed: install-deps
 * installs it. */
static void soffice(const char *to, const char *in, const char *infilter)
{
    char *cmd, *out = NULL;
    ASSERT(access("/usr/bin/soffice", X_OK) == 0 || access("/usr/bin/libreoffice", X_OK) == 0);
    ASSERT(asprintf(&cmd,
                    "HOME=%s soffice -env:UserInstallation=file://%s/lo --headless --norestore "
                    "%s%s%s--convert-to '%s' --outdir %s '%s' </dev/null",
                    cwd, cwd, infilter ? "'--infilter=" : "", infilter ? infilter : "",
                    infilter ? "' " : "", to, cwd, in) >= 0);
    int rc = test_run_cmd(cmd, &out);
    if (rc != 0) FAIL("%s: exit %d: %s", cmd, rc, out);
    free(out);
    free(cmd);
}

TEST(libreoffice_reads_what_weft_writes)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"out.xlsx\"\n");
    node n;
    open_node(&n, "t");
    write_table(n.dn, "Data");
    /* 44,34,76: comma, double quote, UTF-8. */
    soffice("csv:Text - txt - csv (StarCalc):44,34,76", "out.xlsx", NULL);
    size_t len;
    char *csv = test_read_file("out.csv", &len);
    ASSERT_STR_EQ(csv, "name,note,qty,ok\n"
                       "Zoë ünïcode ✓,\"say \"\"hi\"\", then\nleave\",42,TRUE\n"
                       "  spaced  ,,-0.25,FALSE\n"
                       ",x,0.001,\n"
                       "tab\there,'quoted',3.5,TRUE\n");
    free(csv);
    close_node(&n);
    teardown();
}

TEST(weft_reads_what_libreoffice_writes)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"in.xlsx\"\n");
    test_write_file("in.csv", "name,qty,price\n"
                              "Zoë \"Z\",3,1.5\n"
                              "plain,,-2\n"
                              ",7,\n"
                              "last,1e3,x y\n");
    soffice("xlsx", "in.csv", "CSV:44,34,76"); /* comma, double quote, UTF-8 */
    node n;
    open_node(&n, "t");
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t k;
    const weft_cell h[] = {S("name"), S("qty"), S("price")};
    const weft_cell *c = weft_xlsx_header(r, &k);
    assert_row(c, k, h, 3);
    const weft_cell want[][3] = {
        {S("Zoë \"Z\""), N("3"), N("1.5")},
        {S("plain"), E, N("-2")},
        {E, N("7"), E},
        {S("last"), N("1000"), S("x y")},
    };
    for (size_t i = 0; i < 4; i++) {
        ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
        assert_row(c, k, want[i], 3);
    }
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    close_node(&n);
    teardown();
}


/* ---- pandas and openpyxl (what Python tasks use) ---- */

/* Runs a Python snippet with the system Python (the one weft embeds, with
 * python3-pandas and python3-openpyxl from install-deps); returns stdout. */
static char *python(const char *code)
{
    test_write_file("snippet.py", code);
    char *out = NULL;
    int rc = test_run_cmd("/usr/bin/python3 snippet.py", &out);
    if (rc != 0) FAIL("python3 snippet.py: exit %d: %s", rc, out);
    return out;
}

TEST(pandas_and_openpyxl_both_ways)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"w.xlsx\"\n"
          "[DATA_NODE.p]\nstorage_type = \"excel\"\ndefault_path = \"p.xlsx\"\nsheet_name = \"data\"\n");
    node n;
    open_node(&n, "t");
    write_table(n.dn, "Data");
    char *out = python("import openpyxl, pandas as pd\n"
                       "wb = openpyxl.load_workbook('w.xlsx', read_only=True)\n"
                       "print(wb.sheetnames, [[c.value for c in r] for r in wb['Data'].iter_rows()])\n"
                       "df = pd.read_excel('w.xlsx')\n"
                       "print(list(df.columns), df.shape)\n");
    ASSERT_STR_EQ(out, "['Data'] [['name', 'note', 'qty', 'ok'], ['Zoë ünïcode ✓', 'say \"hi\", then\\nleave', 42, True], "
                       "['  spaced  ', None, -0.25, False], [None, 'x', 0.001, None], "
                       "['tab\\there', \"'quoted'\", 3.5, True]]\n"
                       "['name', 'note', 'qty', 'ok'] (4, 4)\n");
    free(out);
    close_node(&n);
    out = python("import pandas as pd\n"
                 "pd.DataFrame({'name': ['a', 'Zoë \"q\"', None], 'n': [1, 2.5, 3], 'flag': [True, False, True]})"
                 ".to_excel('p.xlsx', index=False, sheet_name='data')\n");
    free(out);
    open_node(&n, "p");
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t k;
    const weft_cell h[] = {S("name"), S("n"), S("flag")};
    const weft_cell *c = weft_xlsx_header(r, &k);
    assert_row(c, k, h, 3);
    const weft_cell want[][3] = {
        {S("a"), N("1"), B("True")}, {S("Zoë \"q\""), N("2.5"), B("False")}, {E, N("3"), B("True")}};
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
        assert_row(c, k, want[i], 3);
    }
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    close_node(&n);
    teardown();
}

/* ---- malformed and hostile files ---- */

/* A zip at `path` holding the parts of `a` ({name, content} pairs, NULL-ended). */
static void make_zip(const char *path, const char *const a[][2])
{
    /* The fastest deflate: the zip bomb test compresses 300 MiB. */
    int ze;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    ASSERT(z != NULL);
    for (size_t i = 0; a[i][0]; i++) {
        zip_source_t *s = zip_source_buffer(z, a[i][1], strlen(a[i][1]), 0);
        ASSERT(s != NULL);
        zip_int64_t idx = zip_file_add(z, a[i][0], s, ZIP_FL_ENC_UTF_8);
        ASSERT(idx >= 0);
        ASSERT_EQ(zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 1), 0);
    }
    ASSERT_EQ(zip_close(z), 0);
}

#define WB "<workbook xmlns:r=\"r\"><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
#define RELS "<Relationships><Relationship Id=\"rId1\" Type=\"t/worksheet\" Target=\"worksheets/s.xml\"/></Relationships>"

/* Opening the node's file fails with `code` and a message holding `want`
 * and the file's path. */
static void assert_bad(node *n, weft_err code, const char *want)
{
    weft_xlsx_reader *r = NULL;
    weft_err e = weft_xlsx_open(n->dn, NULL, &r, err);
    if (!e) { /* some errors are in the rows */
        const weft_cell *c;
        size_t k;
        int rc;
        while ((rc = weft_xlsx_next(r, &c, &k, err)) == 1) {}
        ASSERT_EQ(rc, -1);
        e = WEFT_EDATA;
        char again[WEFT_ERRBUF_SIZE];
        ASSERT_EQ(weft_xlsx_next(r, &c, &k, again), -1); /* and stays failed */
        ASSERT_CONTAINS(again, "reading stopped at an earlier error");
        weft_xlsx_close(r);
    }
    ASSERT_EQ(e, code);
    ASSERT_CONTAINS(err, want);
    ASSERT_CONTAINS(err, weft_dn_path(n->dn));
    ASSERT(strchr(err, '\n') == NULL);
}

TEST(bad_inputs)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"bad.xlsx\"\n");
    node n;
    open_node(&n, "t");
    test_write_file("bad.xlsx", "name,qty\na,1\n");
    assert_bad(&n, WEFT_EDATA, "not an xlsx file (not a zip archive)");
    const char *const nowb[][2] = {{"hello.txt", "hi"}, {NULL, NULL}};
    make_zip("bad.xlsx", nowb);
    assert_bad(&n, WEFT_EDATA, "a zip archive without xl/workbook.xml");
    const char *const nosheet[][2] = {
        {"xl/workbook.xml", "<workbook><sheets></sheets></workbook>"},
        {"xl/_rels/workbook.xml.rels", RELS}, {NULL, NULL}};
    make_zip("bad.xlsx", nosheet);
    assert_bad(&n, WEFT_EDATA, "the workbook has no sheet");
    const char *const trunc[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>ok</t></is></c></row>"
                                "<row r=\"2\"><c r=\"A2\"><v>1"},
        {NULL, NULL}};
    make_zip("bad.xlsx", trunc);
    assert_bad(&n, WEFT_EDATA, "xl/worksheets/s.xml:1:");
    ASSERT_CONTAINS(err, "malformed XML");
    const char *const twb[][2] = {{"xl/workbook.xml", "<workbook><sheets><sheet name="},
                                  {"xl/_rels/workbook.xml.rels", RELS}, {NULL, NULL}};
    make_zip("bad.xlsx", twb);
    assert_bad(&n, WEFT_EDATA, "xl/workbook.xml:1:");
    const char *const doctype[][2] = {
        {"xl/workbook.xml", "<!DOCTYPE w [<!ENTITY a \"aaaa\">]><workbook/>"},
        {"xl/_rels/workbook.xml.rels", RELS}, {NULL, NULL}};
    make_zip("bad.xlsx", doctype);
    assert_bad(&n, WEFT_EDATA, "a DOCTYPE is not allowed");
    const char *const badref[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row><c r=\"ZZZZ1\"><v>1</v></c></row></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("bad.xlsx", badref);
    assert_bad(&n, WEFT_EDATA, "bad cell reference r=\"ZZZZ1\"");
    const char *const badsst[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row><c t=\"s\"><v>5</v></c></row></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("bad.xlsx", badsst);
    assert_bad(&n, WEFT_EDATA, "shared string index '5' out of range (0 strings)");
    const char *const order[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row r=\"3\"/><row r=\"2\"/></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("bad.xlsx", order);
    assert_bad(&n, WEFT_EDATA, "row 2 comes after row 3");
    const char *const norel[][2] = {{"xl/workbook.xml", WB},
                                    {"xl/_rels/workbook.xml.rels", "<Relationships/>"}, {NULL, NULL}};
    make_zip("bad.xlsx", norel);
    assert_bad(&n, WEFT_EDATA, "sheet 'S' has no part");
    /* A newline from a character reference stays out of the message. */
    const char *const nl[][2] = {
        {"xl/workbook.xml", "<workbook><sheets><sheet name=\"a&#10;b\" r:id=\"x&#10;y\"/></sheets></workbook>"},
        {"xl/_rels/workbook.xml.rels", RELS}, {NULL, NULL}};
    make_zip("bad.xlsx", nl);
    assert_bad(&n, WEFT_EDATA, "sheet 'a?b' has no part (r:id x?y not in");
    const char *const nl2[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row><c r=\"A&#10;1\"/></row></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("bad.xlsx", nl2);
    assert_bad(&n, WEFT_EDATA, "bad cell reference r=\"A?1\"");
    const char *const back[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row><c r=\"C1\"/><c r=\"B1\"/></row></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("bad.xlsx", back);
    assert_bad(&n, WEFT_EDATA, "cell B1 comes after column 3 (cells must be in order)");
    close_node(&n);
    teardown();
}


TEST(control_characters_and_escapes)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"e.xlsx\"\nhas_header = false\n");
    node n;
    open_node(&n, "t");
    /* Written by weft: XML cannot hold most control characters, so they
     * travel as _xHHHH_ and come back as they were. */
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    ASSERT_OK(weft_xlsx_add_sheet(w, NULL, NULL, 0, err), err);
    const weft_cell row[] = {S("bell\a"), S("cr\r\nlf"), S("esc\x1b[0m")};
    ASSERT_OK(weft_xlsx_write_row(w, row, 3, err), err);
    ASSERT_OK(weft_xlsx_commit(w, err), err);
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    const weft_cell *c;
    size_t k;
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    assert_row(c, k, row, 3);
    weft_xlsx_close(r);
    /* As Excel writes them, in shared and inline strings. */
    const char *const parts[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS},
        {"xl/sharedStrings.xml", "<sst><si><t>a_x000D_\nb</t></si><si><t>_x005F_x0041_ _x0000_ _xD800_ _x41_</t></si>"
                                 "<si><r><t>ri</t></r><r><t>ch</t></r><rPh><t>phonetic</t></rPh></si></sst>"},
        {"xl/worksheets/s.xml", "<worksheet><sheetData><row><c t=\"s\"><v>0</v></c><c t=\"s\"><v>1</v></c>"
                                "<c t=\"s\"><v>2</v></c><c t=\"inlineStr\"><is><t>x_x0009_y_x00e9_</t></is></c>"
                                "<c t=\"e\"><v>#DIV/0!</v></c><c><f>1+1</f><v>2</v></c>"
                                "<c t=\"str\"><f>A1</f><v>s</v></c><c s=\"3\"/><c t=\"d\"><v>2024-01-02</v></c>"
                                "</row></sheetData></worksheet>"},
        {NULL, NULL}};
    make_zip("e.xlsx", parts);
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 1);
    const weft_cell want[] = {S("a\r\nb"), S("_x0041_ _x0000_ _xD800_ _x41_"), S("rich"), S("x\ty\u00e9"),
                              S("#DIV/0!"), N("2"), S("s"), E, S("2024-01-02")};
    assert_row(c, k, want, sizeof want / sizeof want[0]);
    ASSERT_EQ(weft_xlsx_next(r, &c, &k, err), 0);
    weft_xlsx_close(r);
    close_node(&n);
    teardown();
}

TEST(zip_bomb_is_refused)
{
    setup("[DATA_NODE.t]\nstorage_type = \"excel\"\ndefault_path = \"bomb.xlsx\"\n");
    node n;
    open_node(&n, "t");
    /* 300 MiB of blanks inside the sheet: a few hundred KiB compressed. */
    size_t big = (size_t)300 << 20;
    char *sheet = malloc(big + 1);
    ASSERT(sheet != NULL);
    memset(sheet, ' ', big);
    memcpy(sheet, "<worksheet>", 11);
    sheet[big] = '\0';
    const char *const bomb[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS}, {"xl/worksheets/s.xml", sheet},
        {NULL, NULL}};
    make_zip("bomb.xlsx", bomb);
    free(sheet);
    struct stat st;
    ASSERT_EQ(stat("bomb.xlsx", &st), 0);
    ASSERT_LT(st.st_size, 4 << 20);
    assert_bad(&n, WEFT_ELIMIT, "more than the 256 MiB weft reads from an xlsx file");
    /* The same bomb declaring 1000 bytes (local header and central
     * directory): stopped by counting the bytes actually inflated. */
    size_t len;
    unsigned char *z = (unsigned char *)test_read_file("bomb.xlsx", &len);
    static const char part[] = "xl/worksheets/s.xml";
    int patched = 0;
    for (size_t i = 0; i + 46 + sizeof part < len; i++) {
        bool local = memcmp(z + i, "PK\3\4", 4) == 0, central = memcmp(z + i, "PK\1\2", 4) == 0;
        size_t name = local ? 30 : 46, size = local ? 22 : 24;
        if ((local || central) && memcmp(z + i + name, part, sizeof part - 1) == 0) {
            memcpy(z + i + size, "\xe8\x03\0\0", 4); /* 1000, little-endian */
            patched++;
        }
    }
    ASSERT_EQ(patched, 2);
    FILE *f = fopen("bomb.xlsx", "wb");
    ASSERT(f && fwrite(z, 1, len, f) == len && fclose(f) == 0);
    free(z);
    assert_bad(&n, WEFT_ELIMIT, "xl/worksheets/s.xml inflates beyond the 256 MiB weft reads from an xlsx file");
    /* 34 million empty shared strings: 170 MiB of XML, whose offsets alone
     * would take 270 MiB. */
    size_t count = (size_t)34 << 20;
    char *sst = malloc(count * 5 + 16);
    ASSERT(sst != NULL);
    strcpy(sst, "<sst>");
    for (size_t i = 0; i < count; i++) memcpy(sst + 5 + i * 5, "<si/>", 5);
    strcpy(sst + 5 + count * 5, "</sst>");
    const char *const many[][2] = {
        {"xl/workbook.xml", WB}, {"xl/_rels/workbook.xml.rels", RELS}, {"xl/sharedStrings.xml", sst},
        {"xl/worksheets/s.xml", "<worksheet/>"}, {NULL, NULL}};
    make_zip("bomb.xlsx", many);
    free(sst);
    assert_bad(&n, WEFT_ELIMIT, "xl/sharedStrings.xml:1:");
    ASSERT_CONTAINS(err, "shared strings take more than 256 MiB");
    close_node(&n);
    teardown();
}


/* ---- a C task through `weft run`, and `weft data` ---- */

static int weft_cmd(const char *args, char **out)
{
    char *cmd;
    ASSERT(asprintf(&cmd, "'%s/weft' %s", test_build_dir(), args) >= 0);
    int rc = test_run_cmd(cmd, out);
    free(cmd);
    return rc;
}

static const char pipeline_toml[] =
    "[CORE]\nstorage_folder = \".weft/\"\n"
    "[JOB]\nmode = \"%s\"\n"
    "[DATA_NODE.prices]\nstorage_type = \"excel\"\nscope = \"GLOBAL:SCOPE\"\n"
    "default_path = \"prices.xlsx\"\nsheet_name = \"prices\"\n"
    "[DATA_NODE.doubled]\nstorage_type = \"excel\"\nscope = \"GLOBAL:SCOPE\"\n"
    "sheet_name = [\"doubled\", \"summary\"]\n"
    "[TASK.double]\nfunction = \"excelfns.double_qty\"\n"
    "inputs = [\"prices:SECTION\"]\noutputs = [\"doubled:SECTION\"]\n"
    "[SCENARIO.s]\ntasks = [\"double:SECTION\"]\n";

static void pipeline(const char *mode)
{
    char so[PATH_MAX], *toml;
    snprintf(so, sizeof so, "%s/tests/apps/excelfns.so", test_build_dir());
    ASSERT(access(so, R_OK) == 0);
    ASSERT_EQ(symlink(so, "excelfns.so"), 0);
    ASSERT(asprintf(&toml, pipeline_toml, mode) >= 0);
    test_write_file("config.toml", toml);
    free(toml);
    /* The input, written by weft's own writer through a node of the config. */
    setup("[DATA_NODE.prices]\nstorage_type = \"excel\"\ndefault_path = \"prices.xlsx\"\n");
    node n;
    open_node(&n, "prices");
    weft_xlsx_writer *w;
    ASSERT_OK(weft_xlsx_create(n.dn, &w, err), err);
    static const char *const h[] = {"item", "qty"};
    const weft_cell r1[] = {S("mug"), N("3")}, r2[] = {S("pot, large"), N("7.5")}, r3[] = {S("none")};
    ASSERT_OK(weft_xlsx_add_sheet(w, "notes", h, 1, err), err);
    ASSERT_OK(weft_xlsx_add_sheet(w, "prices", h, 2, err), err);
    ASSERT_OK(weft_xlsx_write_row(w, r1, 2, err), err);
    ASSERT_OK(weft_xlsx_write_row(w, r3, 1, err), err);
    ASSERT_OK(weft_xlsx_write_row(w, r2, 2, err), err);
    ASSERT_OK(weft_xlsx_commit(w, err), err);
    close_node(&n);
    teardown();

    char *out = NULL;
    int rc = weft_cmd("run -c config.toml", &out);
    if (rc != 0) FAIL("weft run: %d\n%s", rc, out);
    free(out);
    ASSERT_EQ(weft_cmd("data -c config.toml doubled", &out), 0);
    ASSERT_STR_EQ(out, "{\"doubled\":[[\"item\",\"qty\",\"big\"],[\"mug\",6,false],[\"pot, large\",15,true]],"
                       "\"summary\":[[\"total\"],[21]]}\n");
    free(out);
    ASSERT_EQ(weft_cmd("data -c config.toml prices", &out), 0);
    ASSERT_STR_EQ(out, "item,qty\nmug,3\nnone,\n\"pot, large\",7.5\n");
    free(out);

    /* weft data write: CSV replaces the node's sheet and keeps the others;
     * --append adds rows under the sheet's header; a wrong header changes nothing. */
    test_write_file("new.csv", "item,qty\nlid,4\n");
    test_write_file("more.csv", "item,qty\ncup,2.5\n");
    test_write_file("bad.csv", "item,price\nx,1\n");
    ASSERT_EQ(weft_cmd("data write -c config.toml prices new.csv", &out), 0);
    free(out);
    ASSERT_EQ(weft_cmd("data write -c config.toml --append prices more.csv", &out), 0);
    free(out);
    ASSERT_EQ(weft_cmd("data write -c config.toml --append prices bad.csv", &out), 1);
    ASSERT_CONTAINS(out, "column 2 of the input is 'price', of sheet 'prices' 'qty'");
    free(out);
    ASSERT_EQ(weft_cmd("data -c config.toml prices", &out), 0);
    ASSERT_STR_EQ(out, "item,qty\nlid,4\ncup,2.5\n");
    free(out);
    setup("[DATA_NODE.prices]\nstorage_type = \"excel\"\ndefault_path = \"prices.xlsx\"\n");
    open_node(&n, "prices");
    weft_xlsx_reader *r;
    ASSERT_OK(weft_xlsx_open(n.dn, NULL, &r, err), err);
    size_t ns;
    const char *const *names = weft_xlsx_sheets(r, &ns);
    ASSERT_EQ(ns, 2);
    ASSERT_STR_EQ(names[0], "notes"); /* kept, in its place */
    ASSERT_STR_EQ(names[1], "prices");
    weft_xlsx_close(r);
    close_node(&n);
    teardown();
    ASSERT_EQ(weft_cmd("run -c config.toml --force", &out), 0);
    free(out);
    ASSERT_EQ(weft_cmd("data -c config.toml doubled", &out), 0);
    ASSERT_STR_EQ(out, "{\"doubled\":[[\"item\",\"qty\",\"big\"],[\"lid\",8,false],[\"cup\",5,false]],"
                       "\"summary\":[[\"total\"],[13]]}\n");
    free(out);

    /* A broken input: the job fails with the file named, the output keeps its content. */
    char *before, *after;
    ASSERT_EQ(test_run_cmd("ls .weft/data/DATANODE_doubled_*.xlsx && md5sum .weft/data/*.xlsx", &before), 0);
    test_write_file("prices.xlsx", "item,qty\nmug,3\n");
    ASSERT_NE(weft_cmd("run -c config.toml --force", &out), 0);
    ASSERT_CONTAINS(out, "prices.xlsx: not an xlsx file (not a zip archive)");
    free(out);
    ASSERT_EQ(test_run_cmd("ls .weft/data/DATANODE_doubled_*.xlsx && md5sum .weft/data/*.xlsx", &after), 0);
    ASSERT_STR_EQ(after, before); /* and no temporary file left beside it */
    free(before);
    free(after);
    ASSERT_EQ(weft_cmd("data -c config.toml prices", &out), 1);
    ASSERT_CONTAINS(out, "not an xlsx file");
    free(out);
}

TEST(c_task_in_development_mode) { pipeline("development"); }
TEST(c_task_in_standalone_mode) { pipeline("standalone"); }

TEST_MAIN(TEST_ENTRY(c_task_in_development_mode), TEST_ENTRY(c_task_in_standalone_mode),
          TEST_ENTRY(round_trip_typed_cells), TEST_ENTRY(gaps_have_header_false_and_bad_cells),
          TEST_ENTRY(several_sheets_and_sheet_name), TEST_ENTRY(default_data_and_empty_output),
          TEST_ENTRY(config_check), TEST_ENTRY(large_sheets_stream), TEST_ENTRY_TIMEOUT(libreoffice_reads_what_weft_writes, 180),
          TEST_ENTRY_TIMEOUT(weft_reads_what_libreoffice_writes, 180), TEST_ENTRY_TIMEOUT(pandas_and_openpyxl_both_ways, 120), TEST_ENTRY(bad_inputs), TEST_ENTRY(control_characters_and_escapes),
          TEST_ENTRY_TIMEOUT(zip_bomb_is_refused, 120))
