/* SPDX-License-Identifier: MIT */
/* test_toml.c - the public TOML API: values and types, document order, positions, error messages. */
#include "test.h"
#include "weft.h"

#include <math.h>

/* Parses text that must be valid; fails the test otherwise. */
/* ASSERT_OK wants a pointer: an array operand would always test true (-Waddress). */
static weft_toml *parse_ok(const char *text)
{
    char buf[WEFT_ERRBUF_SIZE] = "", *err = buf;
    weft_toml *doc = NULL;
    ASSERT_OK(weft_toml_parse(text, strlen(text), "t.toml", &doc, err), err);
    ASSERT(doc != NULL);
    return doc;
}

/* Parses text that must fail with `code` and an error starting with `prefix`. */
static void parse_fails(const char *text, size_t len, weft_err code, const char *prefix)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_toml *doc = (weft_toml *)&doc; /* must be reset to NULL */
    weft_err e = weft_toml_parse(text, len, "t.toml", &doc, err);
    if (e == WEFT_OK) weft_toml_free(doc);
    ASSERT_EQ(e, code);
    ASSERT(doc == NULL);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        FAIL("error \"%s\" does not start with \"%s\"", err, prefix);
}

TEST(scalar_types_and_values)
{
    weft_toml *doc = parse_ok("s = \"a\\tb\\u00e9\\U0001F600\"\n"
                              "nul = \"x\\u0000y\"\n"
                              "lit = 'C:\\path'\n"
                              "ml = \"\"\"\nline1\r\nline2 \\\n   joined\"\"\"\n"
                              "i = -42\nh = 0xff\no = 0o17\nb = 0b101\n"
                              "max = 9223372036854775807\nmin = -9223372036854775808\n"
                              "big = 1_000_000\n"
                              "f = 6.25e-1\npinf = +inf\nninf = -inf\nnan = nan\n"
                              "t = true\nff = false\n"
                              "odt = 1979-05-27T00:32:00.999999999-07:00\n"
                              "ldt = 1979-05-27 07:32:00.5\n"
                              "ld = 2024-02-29\n"
                              "lt = 23:59:60\n");
    const weft_toml_value *r = weft_toml_root(doc);
    ASSERT_EQ(weft_toml_type_of(r), WEFT_TOML_TABLE);
    size_t len;
    ASSERT_STR_EQ(weft_toml_string(weft_toml_get(r, "s"), &len), "a\tb\xc3\xa9\xf0\x9f\x98\x80");
    ASSERT_EQ(len, 9);
    const char *nul = weft_toml_string(weft_toml_get(r, "nul"), &len);
    ASSERT_EQ(len, 3);
    ASSERT(memcmp(nul, "x\0y", 3) == 0);
    ASSERT_STR_EQ(weft_toml_string(weft_toml_get(r, "lit"), NULL), "C:\\path");
    ASSERT_STR_EQ(weft_toml_string(weft_toml_get(r, "ml"), NULL), "line1\nline2 joined");
    ASSERT_EQ(weft_toml_type_of(weft_toml_get(r, "i")), WEFT_TOML_INTEGER);
    ASSERT_EQ(weft_toml_int(weft_toml_get(r, "i")), -42);
    ASSERT_EQ(weft_toml_int(weft_toml_get(r, "h")), 255);
    ASSERT_EQ(weft_toml_int(weft_toml_get(r, "o")), 15);
    ASSERT_EQ(weft_toml_int(weft_toml_get(r, "b")), 5);
    ASSERT(weft_toml_int(weft_toml_get(r, "max")) == INT64_MAX);
    ASSERT(weft_toml_int(weft_toml_get(r, "min")) == INT64_MIN);
    ASSERT_EQ(weft_toml_int(weft_toml_get(r, "big")), 1000000);
    ASSERT_EQ(weft_toml_type_of(weft_toml_get(r, "f")), WEFT_TOML_FLOAT);
    ASSERT_DBL_NEAR(weft_toml_float(weft_toml_get(r, "f")), 0.625, 0);
    ASSERT(isinf(weft_toml_float(weft_toml_get(r, "pinf"))) && weft_toml_float(weft_toml_get(r, "pinf")) > 0);
    ASSERT(isinf(weft_toml_float(weft_toml_get(r, "ninf"))) && weft_toml_float(weft_toml_get(r, "ninf")) < 0);
    ASSERT(isnan(weft_toml_float(weft_toml_get(r, "nan"))));
    ASSERT_EQ(weft_toml_type_of(weft_toml_get(r, "t")), WEFT_TOML_BOOL);
    ASSERT(weft_toml_bool(weft_toml_get(r, "t")));
    ASSERT(!weft_toml_bool(weft_toml_get(r, "ff")));

    const weft_toml_value *odt = weft_toml_get(r, "odt");
    ASSERT_EQ(weft_toml_type_of(odt), WEFT_TOML_DATETIME);
    weft_toml_datetime d = weft_toml_get_datetime(odt);
    ASSERT_EQ(d.year, 1979);
    ASSERT_EQ(d.month, 5);
    ASSERT_EQ(d.day, 27);
    ASSERT_EQ(d.hour, 0);
    ASSERT_EQ(d.minute, 32);
    ASSERT_EQ(d.nanosecond, 999999999);
    ASSERT_EQ(d.offset_minutes, -420);
    const weft_toml_value *ldt = weft_toml_get(r, "ldt");
    ASSERT_EQ(weft_toml_type_of(ldt), WEFT_TOML_LOCAL_DATETIME);
    d = weft_toml_get_datetime(ldt);
    ASSERT_EQ(d.hour, 7);
    ASSERT_EQ(d.nanosecond, 500000000);
    ASSERT_EQ(d.offset_minutes, 0);
    ASSERT_EQ(weft_toml_type_of(weft_toml_get(r, "ld")), WEFT_TOML_LOCAL_DATE);
    ASSERT_EQ(weft_toml_get_datetime(weft_toml_get(r, "ld")).day, 29);
    ASSERT_EQ(weft_toml_type_of(weft_toml_get(r, "lt")), WEFT_TOML_LOCAL_TIME);
    d = weft_toml_get_datetime(weft_toml_get(r, "lt"));
    ASSERT_EQ(d.year, 0);
    ASSERT_EQ(d.second, 60);
    weft_toml_free(doc);
}

TEST(tables_arrays_and_document_order)
{
    weft_toml *doc = parse_ok("zeta = 1\nalpha = [1, 'two', [3.0], {k = 4}]\n"
                              "mid.dotted = true\n"
                              "[tab.sub]\nx = 1\n"
                              "[[jobs]]\nname = 'a'\n[[jobs]]\nname = 'b'\n"
                              "[tab]\ny = 2\n");
    const weft_toml_value *r = weft_toml_root(doc);
    const char *want[] = {"zeta", "alpha", "mid", "tab", "jobs"};
    ASSERT_EQ(weft_toml_len(r), 5);
    for (size_t i = 0; i < 5; i++) ASSERT_STR_EQ(weft_toml_key_at(r, i), want[i]);
    ASSERT(weft_toml_key_at(r, 5) == NULL);
    ASSERT(weft_toml_at(r, 5) == NULL);

    const weft_toml_value *a = weft_toml_get(r, "alpha");
    ASSERT_EQ(weft_toml_type_of(a), WEFT_TOML_ARRAY);
    ASSERT_EQ(weft_toml_len(a), 4);
    ASSERT_EQ(weft_toml_int(weft_toml_at(a, 0)), 1);
    ASSERT_STR_EQ(weft_toml_string(weft_toml_at(a, 1), NULL), "two");
    ASSERT_EQ(weft_toml_type_of(weft_toml_at(a, 2)), WEFT_TOML_ARRAY);
    ASSERT_EQ(weft_toml_int(weft_toml_get(weft_toml_at(a, 3), "k")), 4);
    ASSERT(weft_toml_at(a, 4) == NULL);
    ASSERT(weft_toml_key_at(a, 0) == NULL); /* arrays have no keys */

    ASSERT(weft_toml_bool(weft_toml_get(weft_toml_get(r, "mid"), "dotted")));
    const weft_toml_value *tab = weft_toml_get(r, "tab");
    ASSERT_EQ(weft_toml_len(tab), 2);
    ASSERT_STR_EQ(weft_toml_key_at(tab, 0), "sub");
    ASSERT_STR_EQ(weft_toml_key_at(tab, 1), "y");
    const weft_toml_value *jobs = weft_toml_get(r, "jobs");
    ASSERT_EQ(weft_toml_len(jobs), 2);
    ASSERT_STR_EQ(weft_toml_string(weft_toml_get(weft_toml_at(jobs, 1), "name"), NULL), "b");
    ASSERT(weft_toml_get(r, "missing") == NULL);
    ASSERT(weft_toml_get(a, "x") == NULL);
    weft_toml_free(doc);
}

TEST(wrong_types_and_null_are_harmless)
{
    weft_toml_free(NULL);
    ASSERT(weft_toml_root(NULL) == NULL);
    ASSERT_EQ(weft_toml_len(NULL), 0);
    ASSERT(weft_toml_at(NULL, 0) == NULL);
    ASSERT(weft_toml_get(NULL, "a") == NULL);
    int line = -1, col = -1;
    weft_toml_pos(NULL, &line, &col);
    ASSERT_EQ(line, 0);
    ASSERT_EQ(col, 0);
    weft_toml_pos(NULL, NULL, NULL);
    weft_toml *doc = parse_ok("s = 'x'\nn = 3\n");
    const weft_toml_value *s = weft_toml_get(weft_toml_root(doc), "s");
    const weft_toml_value *n = weft_toml_get(weft_toml_root(doc), "n");
    ASSERT_EQ(weft_toml_int(s), 0);
    ASSERT(weft_toml_string(n, NULL) == NULL);
    ASSERT_EQ(weft_toml_len(s), 0);
    ASSERT(weft_toml_get(s, "x") == NULL);
    ASSERT_EQ(weft_toml_get_datetime(n).year, 0);
    ASSERT(weft_toml_get(weft_toml_root(doc), NULL) == NULL);
    weft_toml_free(doc);
    doc = parse_ok("");
    ASSERT_EQ(weft_toml_len(weft_toml_root(doc)), 0);
    weft_toml_free(doc);
    doc = NULL;
    ASSERT_EQ(weft_toml_parse(NULL, 0, NULL, &doc, NULL), WEFT_OK); /* empty document */
    weft_toml_free(doc);
    ASSERT_EQ(weft_toml_parse("a=1", 3, NULL, NULL, NULL), WEFT_EINVAL);
}

TEST(positions_of_keys_and_values)
{
    /* "é" is one character but two bytes: columns count characters. */
    weft_toml *doc = parse_ok("# comment\r\n"
                              "\"é\" = 1\r\n"
                              "arr = [ 10,\n    20 ]\n"
                              "\n"
                              "  [srv.http]  \n"
                              "port = 80\n"
                              "[[jobs]]\n");
    const weft_toml_value *r = weft_toml_root(doc);
    int line, col;
    weft_toml_pos(r, &line, &col); /* the root: its first key */
    ASSERT_EQ(line, 2);
    ASSERT_EQ(col, 1);
    weft_toml_key_pos(r, 0, &line, &col);
    ASSERT_EQ(line, 2);
    ASSERT_EQ(col, 1);
    weft_toml_pos(weft_toml_at(r, 0), &line, &col);
    ASSERT_EQ(line, 2);
    ASSERT_EQ(col, 7);
    const weft_toml_value *arr = weft_toml_get(r, "arr");
    weft_toml_key_pos(r, 1, &line, &col);
    ASSERT_EQ(line, 3);
    ASSERT_EQ(col, 1);
    weft_toml_pos(arr, &line, &col);
    ASSERT_EQ(line, 3);
    ASSERT_EQ(col, 7);
    weft_toml_pos(weft_toml_at(arr, 0), &line, &col);
    ASSERT_EQ(line, 3);
    ASSERT_EQ(col, 9);
    weft_toml_pos(weft_toml_at(arr, 1), &line, &col);
    ASSERT_EQ(line, 4);
    ASSERT_EQ(col, 5);
    /* srv is implicit: its position is its key in the header. */
    const weft_toml_value *srv = weft_toml_get(r, "srv");
    weft_toml_pos(srv, &line, &col);
    ASSERT_EQ(line, 6);
    ASSERT_EQ(col, 4);
    const weft_toml_value *http = weft_toml_get(srv, "http");
    weft_toml_pos(http, &line, &col); /* an explicit table: its header */
    ASSERT_EQ(line, 6);
    ASSERT_EQ(col, 3);
    weft_toml_key_pos(srv, 0, &line, &col);
    ASSERT_EQ(line, 6);
    ASSERT_EQ(col, 8);
    weft_toml_key_pos(http, 0, &line, &col);
    ASSERT_EQ(line, 7);
    ASSERT_EQ(col, 1);
    weft_toml_pos(weft_toml_get(http, "port"), &line, &col);
    ASSERT_EQ(line, 7);
    ASSERT_EQ(col, 8);
    weft_toml_pos(weft_toml_at(weft_toml_get(r, "jobs"), 0), &line, &col);
    ASSERT_EQ(line, 8);
    ASSERT_EQ(col, 1);
    weft_toml_key_pos(r, 99, &line, &col);
    ASSERT_EQ(line, 0);
    weft_toml_free(doc);
}

TEST(error_messages_name_line_and_column)
{
    const char *t;
    t = "[job]\nmode \"x\"\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:2:6: expected '=' after key \"mode\"");
    t = "x = 1\ny = 2\nx = 3\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:3:1: duplicate key \"x\" (first defined at 1:1)");
    t = "[a]\n[b]\n[a]\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:3:1: table [a] defined twice (first defined at 1:1)");
    t = "ok = 1\nname = \"abc\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:2:8: unterminated string");
    t = "s = \"\"\"abc\n\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:5: unterminated multi-line string");
    t = "é = 1\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:1: expected a key");
    t = "s = \"ü\\q\"\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:7: invalid escape sequence");
    t = "s = \"\\uD800\"\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:6: escape \\uD800 is not a Unicode scalar value");
    t = "s = \"\\U00110000\"\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:6: escape \\U00110000");
    t = "a = 1\ns = \"é\xff\"\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:2:7: invalid UTF-8");
    t = "# \xed\xa0\x80 surrogate\n"; /* UTF-8 of U+D800 */
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:3: invalid UTF-8");
    t = "n = 9223372036854775808\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:5: integer \"9223372036854775808\" does not fit in 64 bits");
    t = "n = 0x8000000000000000\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:5: integer");
    t = "n = 01\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:5: leading zeros");
    t = "d = 2023-02-29\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:5: day 29 is out of range");
    t = "a = {x = 1,}\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:12: a trailing comma is not allowed");
    t = "a = {x = 1,\n y = 2}\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:12: expected a key");
    t = "a = 1 b = 2\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:7: expected end of line after a value, found 'b'");
    t = "a = \"x\0y\"\n";
    parse_fails(t, 10, WEFT_ESYNTAX, "t.toml:1:7: control character U+0000");
    t = "a = 1\r\rb = 2\n";
    parse_fails(t, strlen(t), WEFT_ESYNTAX, "t.toml:1:6: carriage return");
}

TEST(redefinition_rules)
{
    static const char *const ok[] = {
        "[a.b]\n[a]\n",
        "[a]\n[a.b]\n",
        "a.b = 1\na.c = 2\n",
        "[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n",
        "[[a]]\n[a.b]\n[[a]]\n[a.b]\n",
        "[[a.b]]\n[a]\nx = 1\n",
        "t = {a.b = 1, a.c = 2}\n",
    };
    static const char *const bad[] = {
        "a = 1\na = 2\n",
        "[a]\n[a]\n",
        "a.b = 1\n[a]\n",
        "[a]\nb = 1\n[a.b]\n",
        "a = {x = 1}\na.y = 2\n",
        "a = {x = 1}\n[a]\n",
        "a = {x = 1}\n[a.b]\n",
        "a = []\n[[a]]\n",
        "[a]\n[[a]]\n",
        "[[a]]\n[a]\n",
        "[a.b.c]\n[a]\nb.c.d = 1\n",
        "a = false\na.b = true\n",
        "t = {a = {b = 1}, a.c = 2}\n",
        "[t]\na.b = 1\n[t.a]\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        weft_toml_free(parse_ok(ok[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[WEFT_ERRBUF_SIZE] = "";
        weft_toml *doc = NULL;
        weft_err e = weft_toml_parse(bad[i], strlen(bad[i]), "t.toml", &doc, err);
        if (e != WEFT_ESYNTAX) FAIL("accepted or wrong error %d for:\n%s", (int)e, bad[i]);
        ASSERT_CONTAINS(err, "t.toml:");
    }
}

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    size_t ul = strlen(unit);
    char *s = malloc(strlen(head) + ul * (size_t)n + strlen(tail) + 1);
    strcpy(s, head);
    for (int i = 0; i < n; i++) strcat(s, unit);
    strcat(s, tail);
    return s;
}

TEST(nesting_is_limited)
{
    char buf[WEFT_ERRBUF_SIZE] = "", *err = buf;
    weft_toml *doc = NULL;
    /* 128 levels of arrays below the root are fine. */
    char *s = repeat("x = ", "[", WEFT_TOML_MAX_DEPTH, "");
    char *closed = repeat(s, "]", WEFT_TOML_MAX_DEPTH, "\n");
    ASSERT_OK(weft_toml_parse(closed, strlen(closed), "t.toml", &doc, err), err);
    weft_toml_free(doc);
    free(s);
    free(closed);
    /* The 129th '[' (column 4 + 129) is refused. */
    s = repeat("x = ", "[", 200, "");
    parse_fails(s, strlen(s), WEFT_ELIMIT, "t.toml:1:133: tables and arrays nested deeper than 128 levels");
    free(s);
    /* Inline tables: the 129th '{' is at column 5 + 128 * 3. */
    s = repeat("x = ", "{a=", 200, "");
    parse_fails(s, strlen(s), WEFT_ELIMIT, "t.toml:1:389:");
    free(s);
    s = repeat("[", "a.", 300, "a]\n");
    parse_fails(s, strlen(s), WEFT_ELIMIT, "t.toml:1:");
    free(s);
    s = repeat("", "a.", 300, "a = 1\n");
    parse_fails(s, strlen(s), WEFT_ELIMIT, "t.toml:1:");
    free(s);
    /* Depth adds up across a header, dotted keys and values. */
    s = repeat("[", "a.", 99, "a]\n");
    char *s2 = repeat(s, "b.", 20, "c = ");
    char *s3 = repeat(s2, "[", 20, "\n");
    parse_fails(s3, strlen(s3), WEFT_ELIMIT, "t.toml:2:");
    free(s);
    free(s2);
    free(s3);
    /* 200 '[' at the top level is a header of '[' characters: a syntax error. */
    s = repeat("", "[", 200, "");
    parse_fails(s, strlen(s), WEFT_ESYNTAX, "t.toml:1:3: expected a key, found '['");
    free(s);
}

TEST(large_tables_find_every_key)
{
    size_t n = 5000, cap = n * 24 + 1, len = 0;
    char *text = malloc(cap);
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(text + len, cap - len, "k%zu = %zu\n", i, i);
    weft_toml *doc = parse_ok(text);
    const weft_toml_value *r = weft_toml_root(doc);
    ASSERT_EQ(weft_toml_len(r), n);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%zu", i);
        const weft_toml_value *v = weft_toml_get(r, key);
        if (!v || weft_toml_int(v) != (int64_t)i) FAIL("key %s not found or wrong", key);
        ASSERT_STR_EQ(weft_toml_key_at(r, i), key);
    }
    ASSERT(weft_toml_get(r, "k5000") == NULL);
    strcpy(text + len, "k17 = 1\n");
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_toml *dup = NULL;
    ASSERT_EQ(weft_toml_parse(text, strlen(text), "t.toml", &dup, err), WEFT_ESYNTAX);
    ASSERT_CONTAINS(err, ":5001:1: duplicate key \"k17\" (first defined at 18:1)");
    free(text);
    weft_toml_free(doc);
}

TEST(parse_file_reads_and_names_the_file)
{
    char buf[WEFT_ERRBUF_SIZE] = "untouched", *err = buf;
    weft_toml *doc = (weft_toml *)&doc;
    ASSERT_EQ(weft_toml_parse_file("no-such-dir/config.toml", &doc, err), WEFT_EIO);
    ASSERT(doc == NULL);
    ASSERT_CONTAINS(err, "no-such-dir/config.toml");

    test_write_file("good.toml", "[core]\nworkers = 4\n");
    strcpy(buf, "untouched");
    ASSERT_OK(weft_toml_parse_file("good.toml", &doc, err), err);
    ASSERT_STR_EQ(err, "untouched"); /* left alone on success */
    ASSERT_EQ(weft_toml_int(weft_toml_get(weft_toml_get(weft_toml_root(doc), "core"), "workers")), 4);
    weft_toml_free(doc);

    test_write_file("bad.toml", "a = 1\nb = \n");
    ASSERT_EQ(weft_toml_parse_file("bad.toml", &doc, err), WEFT_ESYNTAX);
    ASSERT_STR_EQ(err, "bad.toml:2:5: expected a value, found end of line");
}

TEST_MAIN(TEST_ENTRY(scalar_types_and_values), TEST_ENTRY(tables_arrays_and_document_order),
          TEST_ENTRY(wrong_types_and_null_are_harmless), TEST_ENTRY(positions_of_keys_and_values),
          TEST_ENTRY(error_messages_name_line_and_column), TEST_ENTRY(redefinition_rules),
          TEST_ENTRY(nesting_is_limited), TEST_ENTRY(large_tables_find_every_key),
          TEST_ENTRY(parse_file_reads_and_names_the_file))
