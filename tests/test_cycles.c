/* SPDX-License-Identifier: MIT */
/*
 * test_cycles.c - Taipy's cycles: the period of every frequency that
 * contains a date (ISO weeks across a year end, quarters, leap days), cycle
 * names and ids, creation dates, scenarios attached to their cycle, CYCLE
 * data nodes shared within one cycle and not across, the primary scenario
 * rules, and `weft cycles` / `weft scenarios` / `weft primary` output.
 */
#include "test.h"

#include "core/cycle.h"
#include "store/store.h"
#include "weft.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[WEFT_ERRBUF_SIZE];

/* ---- periods ---- */

static void expect_period(const char *freq, const char *date, const char *start, const char *end,
                          const char *name)
{
    weft__date d;
    weft__period p;
    ASSERT_OK(weft__date_parse(date, &d, err), err);
    ASSERT_OK(weft__cycle_period(freq, &d, &p, err), err);
    ASSERT_STR_EQ(p.start, start);
    ASSERT_STR_EQ(p.end, end);
    ASSERT_STR_EQ(p.name, name);
}

TEST(daily_period)
{
    expect_period("DAILY", "2023-01-02T15:30:00", "2023-01-02T00:00:00",
                  "2023-01-02T23:59:59.999999", "Monday, 02. January 2023");
    expect_period("DAILY", "2024-02-29", "2024-02-29T00:00:00", "2024-02-29T23:59:59.999999",
                  "Thursday, 29. February 2024");
    expect_period("DAILY", "2026-12-31T23:59:59", "2026-12-31T00:00:00",
                  "2026-12-31T23:59:59.999999", "Thursday, 31. December 2026");
}

TEST(weekly_period_starts_on_monday)
{
    /* a Monday is its own week's first day, a Sunday its last */
    expect_period("WEEKLY", "2026-11-30", "2026-11-30T00:00:00", "2026-12-06T23:59:59.999999",
                  "Week 48 2026, from 30. November");
    expect_period("WEEKLY", "2026-12-06", "2026-11-30T00:00:00", "2026-12-06T23:59:59.999999",
                  "Week 48 2026, from 30. November");
    /* across a year end: 2025-01-01 is a Wednesday of the week from Monday
     * 2024-12-30 (ISO week 1 of 2025; Taipy names it by %W of its start) */
    expect_period("WEEKLY", "2025-01-01", "2024-12-30T00:00:00", "2025-01-05T23:59:59.999999",
                  "Week 53 2024, from 30. December");
    expect_period("WEEKLY", "2024-12-29", "2024-12-23T00:00:00", "2024-12-29T23:59:59.999999",
                  "Week 52 2024, from 23. December");
    /* a year starting on a Sunday: its first day ends the previous year's last week */
    expect_period("WEEKLY", "2023-01-01", "2022-12-26T00:00:00", "2023-01-01T23:59:59.999999",
                  "Week 52 2022, from 26. December");
    expect_period("WEEKLY", "2023-01-02", "2023-01-02T00:00:00", "2023-01-08T23:59:59.999999",
                  "Week 01 2023, from 02. January");
    /* across a leap day */
    expect_period("WEEKLY", "2024-03-01", "2024-02-26T00:00:00", "2024-03-03T23:59:59.999999",
                  "Week 09 2024, from 26. February");
}

TEST(monthly_period)
{
    expect_period("MONTHLY", "2026-05-17", "2026-05-01T00:00:00", "2026-05-31T23:59:59.999999",
                  "May 2026");
    expect_period("MONTHLY", "2024-02-10", "2024-02-01T00:00:00", "2024-02-29T23:59:59.999999",
                  "February 2024");
    expect_period("MONTHLY", "2023-02-28", "2023-02-01T00:00:00", "2023-02-28T23:59:59.999999",
                  "February 2023");
    expect_period("MONTHLY", "1900-02-15", "1900-02-01T00:00:00", "1900-02-28T23:59:59.999999",
                  "February 1900"); /* not a leap year */
    expect_period("MONTHLY", "2000-02-29", "2000-02-01T00:00:00", "2000-02-29T23:59:59.999999",
                  "February 2000"); /* a leap year */
    expect_period("MONTHLY", "2026-12-31", "2026-12-01T00:00:00", "2026-12-31T23:59:59.999999",
                  "December 2026");
}

TEST(quarterly_period)
{
    expect_period("QUARTERLY", "2026-01-01", "2026-01-01T00:00:00", "2026-03-31T23:59:59.999999",
                  "2026 Q1");
    expect_period("QUARTERLY", "2024-02-29", "2024-01-01T00:00:00", "2024-03-31T23:59:59.999999",
                  "2024 Q1");
    expect_period("QUARTERLY", "2026-06-30", "2026-04-01T00:00:00", "2026-06-30T23:59:59.999999",
                  "2026 Q2");
    expect_period("QUARTERLY", "2026-07-01", "2026-07-01T00:00:00", "2026-09-30T23:59:59.999999",
                  "2026 Q3");
    expect_period("QUARTERLY", "2026-11-30", "2026-10-01T00:00:00", "2026-12-31T23:59:59.999999",
                  "2026 Q4");
}

TEST(yearly_period)
{
    expect_period("YEARLY", "2024-02-29", "2024-01-01T00:00:00", "2024-12-31T23:59:59.999999",
                  "2024");
    expect_period("YEARLY", "2026-12-31T23:59:59", "2026-01-01T00:00:00",
                  "2026-12-31T23:59:59.999999", "2026");
}

TEST(dates_and_frequencies_refused)
{
    weft__date d;
    weft__period p;
    static const char *const bad[] = {"2025-02-29", "2026-13-01", "2026-04-31", "2026-5-1",
                                      "26-05-01",   "2026-05-01X", "2026-05-01T24:00",
                                      "2026-05-01T12:60:00", "", "tomorrow"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ASSERT_EQ(weft__date_parse(bad[i], &d, err), WEFT_EINVAL);
        ASSERT_CONTAINS(err, "date");
    }
    ASSERT_OK(weft__date_parse("2026-05-01 08:30", &d, err), err);
    ASSERT_EQ(d.hour, 8);
    ASSERT_EQ(d.min, 30);
    char text[WEFT__DATE_TEXT];
    weft__date_format(&d, text);
    ASSERT_STR_EQ(text, "2026-05-01T08:30:00");
    ASSERT_EQ(weft__cycle_period("HOURLY", &d, &p, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "DAILY, WEEKLY, MONTHLY, QUARTERLY or YEARLY");
}

TEST(cycle_ids_are_taipy_file_names)
{
    char *id = NULL;
    ASSERT_OK(weft__cycle_id("Week 48 2026, from 30. November", &id, err), err);
    /* spaces become _, the comma goes, the dot stays; then _<uuid> */
    ASSERT(strncmp(id, "CYCLE_Week_48_2026_from_30._November_", 37) == 0);
    ASSERT_EQ(strlen(id), 37 + 36);
    free(id);
    ASSERT_OK(weft__cycle_id("May 2026", &id, err), err);
    ASSERT(strncmp(id, "CYCLE_May_2026_", 15) == 0);
    free(id);
}

/* ---- scenarios and their cycles ---- */

static int fn_write(weft_ctx *ctx)
{
    char buf[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < weft_ctx_ninputs(ctx); i++) {
        char *d = NULL;
        size_t n = 0;
        if (weft_dn_read(weft_ctx_input(ctx, i), &d, &n, NULL) != WEFT_OK) return 1;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", d);
        free(d);
    }
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s;", weft_ctx_task_config_id(ctx));
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), buf, len, NULL) != WEFT_OK) return 1;
    return 0;
}

#define CONFIG                                                                                \
    "[DATA_NODE.model]\nstorage_type = \"text\"\nscope = \"CYCLE:SCOPE\"\n"                  \
    "[DATA_NODE.out]\nstorage_type = \"text\"\n"                                            \
    "[DATA_NODE.total]\nstorage_type = \"text\"\nscope = \"GLOBAL:SCOPE\"\n"                 \
    "[TASK.train]\nfunction = \"test.write:function\"\noutputs = [\"model:SECTION\"]\n"       \
    "[TASK.predict]\nfunction = \"test.write:function\"\ninputs = [\"model:SECTION\"]\n"     \
    "outputs = [\"out:SECTION\"]\n"                                                         \
    "[SCENARIO.monthly]\ntasks = [\"train:SECTION\", \"predict:SECTION\"]\n"                 \
    "frequency = \"MONTHLY:FREQUENCY\"\n"                                                   \
    "[SCENARIO.weekly]\ntasks = [\"predict:SECTION\"]\nfrequency = \"weekly\"\n"             \
    "[TASK.sum]\nfunction = \"test.write:function\"\noutputs = [\"total:SECTION\"]\n"        \
    "[SCENARIO.plain]\ntasks = [\"sum:SECTION\"]\n"

static weft_config *load(void)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    test_write_file("config.toml", CONFIG);
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_load(c, "config.toml", err), err);
    ASSERT_OK(weft_config_check(c, err), err);
    return c;
}

static char *create_on(weft_orchestrator *o, const char *cfg, const char *date)
{
    char *id = NULL;
    weft_scenario_opts so = {.creation_date = date};
    ASSERT_OK(weft_scenario_create_with(o, cfg, &so, &id, err), err);
    return id;
}

static char *cycle_of(weft_orchestrator *o, const char *scenario, bool *primary)
{
    char *c = NULL;
    ASSERT_OK(weft_scenario_cycle(o, scenario, &c, primary, err), err);
    return c;
}

/* The id of the instance of CYCLE node "model" owned by the cycle of
 * `scenario` (caller frees), read from the store. */
static char *model_of(const char *scenario)
{
    weft__store *st = NULL;
    char *cyc = NULL;
    bool prim;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &st, err), err);
    ASSERT_OK(weft__store_scenario_cycle(st, scenario, &cyc, &prim, err), err);
    weft__store_dn row;
    ASSERT_OK(weft__store_dn_find_owned(st, "model", NULL, cyc, &row, err), err);
    ASSERT_STR_EQ(row.cycle_id, cyc);
    ASSERT(row.scenario_id == NULL);
    char *id = strdup(row.id);
    weft__store_dn_release(&row);
    free(cyc);
    weft__store_close(st);
    return id;
}

TEST(cycle_nodes_shared_within_a_cycle_only)
{
    weft_config *c = load();
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    char *may1 = create_on(o, "monthly", "2026-05-03");
    char *may2 = create_on(o, "monthly", "2026-05-31T23:59:59");
    char *june = create_on(o, "monthly", "2026-06-01");
    bool p;
    char *c1 = cycle_of(o, may1, &p), *c2 = cycle_of(o, may2, &p), *c3 = cycle_of(o, june, &p);
    ASSERT_STR_EQ(c1, c2);
    ASSERT(strncmp(c1, "CYCLE_May_2026_", 15) == 0);
    ASSERT(strncmp(c3, "CYCLE_June_2026_", 16) == 0);
    char *m1 = model_of(may1), *m2 = model_of(may2), *m3 = model_of(june);
    ASSERT_STR_EQ(m1, m2);
    ASSERT(strcmp(m1, m3) != 0);

    /* the May model written by may1's run is what may2 reads; June's is its own */
    char *sub = NULL, *data = NULL;
    ASSERT_OK(weft_submit(o, may1, NULL, &sub, err), err);
    free(sub);
    ASSERT_OK(weft_data_read(o, m1, &data, NULL, err), err);
    ASSERT_STR_EQ(data, "train;");
    free(data);
    ASSERT_NE(weft_data_read(o, m3, &data, NULL, err), WEFT_OK); /* never written */
    ASSERT(data == NULL);
    /* a weekly scenario in May has its own (weekly) cycle, so its own model */
    char *wk = create_on(o, "weekly", "2026-05-04");
    char *c4 = cycle_of(o, wk, &p);
    ASSERT(strncmp(c4, "CYCLE_Week_18_2026_from_04._May_", 32) == 0);
    char *m4 = model_of(wk);
    ASSERT(strcmp(m4, m1) != 0);
    /* a scenario without frequency belongs to no cycle, and is not primary */
    char *pl = create_on(o, "plain", "2026-05-03");
    char *c5 = cycle_of(o, pl, &p);
    ASSERT(c5 == NULL);
    ASSERT(!p);
    char *fs[] = {may1, may2, june, c1, c2, c3, m1, m2, m3, wk, c4, m4, pl};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(first_scenario_of_a_cycle_is_primary_until_another_is_set)
{
    weft_config *c = load();
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    char *a = create_on(o, "monthly", "2026-05-03");
    char *b = create_on(o, "monthly", "2026-05-04");
    char *j = create_on(o, "monthly", "2026-06-04");
    bool pa, pb, pj;
    char *ca = cycle_of(o, a, &pa), *cb = cycle_of(o, b, &pb), *cj = cycle_of(o, j, &pj);
    ASSERT(pa && !pb && pj);
    ASSERT_OK(weft_scenario_set_primary(o, b, err), err);
    free(cycle_of(o, a, &pa));
    free(cycle_of(o, b, &pb));
    free(cycle_of(o, j, &pj));
    ASSERT(!pa && pb && pj); /* June's primary is untouched */
    /* setting it again changes nothing */
    ASSERT_OK(weft_scenario_set_primary(o, b, err), err);
    free(cycle_of(o, b, &pb));
    ASSERT(pb);
    /* a later scenario of the cycle is not primary */
    char *d = create_on(o, "monthly", "2026-05-30");
    bool pd;
    free(cycle_of(o, d, &pd));
    ASSERT(!pd);
    /* errors */
    char *pl = create_on(o, "plain", NULL);
    ASSERT_EQ(weft_scenario_set_primary(o, pl, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "belongs to no cycle");
    ASSERT_EQ(weft_scenario_set_primary(o, "SCENARIO_nope", err), WEFT_ENOTFOUND);
    char *none = NULL;
    weft_scenario_opts bad = {.creation_date = "2026-02-30"};
    ASSERT_EQ(weft_scenario_create_with(o, "monthly", &bad, &none, err), WEFT_EINVAL);
    ASSERT(none == NULL);

    /* the listing: cycles by start date, scenarios oldest first, one primary each */
    weft_cycle_info **v = NULL;
    size_t n = 0;
    ASSERT_OK(weft_cycles_list(o, &v, &n, err), err);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(v[0]->id, ca);
    ASSERT_STR_EQ(v[0]->name, "May 2026");
    ASSERT_STR_EQ(v[0]->frequency, "MONTHLY");
    ASSERT_STR_EQ(v[0]->start_date, "2026-05-01T00:00:00");
    ASSERT_STR_EQ(v[0]->end_date, "2026-05-31T23:59:59.999999");
    ASSERT_STR_EQ(v[0]->creation_date, "2026-05-03T00:00:00");
    ASSERT_EQ(v[0]->nscenarios, 3);
    ASSERT_STR_EQ(v[0]->scenarios[0].id, a);
    ASSERT_STR_EQ(v[0]->scenarios[1].id, b);
    ASSERT_STR_EQ(v[0]->scenarios[2].id, d);
    ASSERT(!v[0]->scenarios[0].is_primary && v[0]->scenarios[1].is_primary &&
           !v[0]->scenarios[2].is_primary);
    ASSERT_STR_EQ(v[0]->scenarios[2].creation_date, "2026-05-30T00:00:00");
    ASSERT_STR_EQ(v[1]->id, cj);
    ASSERT_EQ(v[1]->nscenarios, 1);
    ASSERT(v[1]->scenarios[0].is_primary);
    weft_cycle_list_free(v, n);
    char *fs[] = {a, b, j, ca, cb, cj, d, pl};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST(read_only_handle_cannot_set_primary)
{
    weft_config *c = load();
    weft_orchestrator *o = NULL, *ro = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    char *a = create_on(o, "monthly", "2026-05-03");
    weft_orchestrator_opts opts = {.read_only = true};
    ASSERT_OK(weft_orchestrator_open(c, &opts, &ro, err), err);
    ASSERT_EQ(weft_scenario_set_primary(ro, a, err), WEFT_EMODE);
    bool p = false;
    char *cy = cycle_of(ro, a, &p);
    ASSERT(cy && p);
    /* weft ui's pages show the cycle of scenarios and of CYCLE nodes */
    char *sub = NULL;
    ASSERT_OK(weft_submit(o, a, NULL, &sub, err), err);
    free(sub);
    weft__store *st = NULL;
    ASSERT_OK(weft__store_open(".weft/weft.db", true, &st, err), err);
    weft__page_req q = {.limit = 10, .status = -1};
    json_t *items = NULL;
    int64_t next = 0;
    ASSERT_OK(weft__page_scenarios(st, &q, &items, &next, err), err);
    ASSERT_EQ(json_array_size(items), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(items, 0), "cycle_id")), cy);
    ASSERT_EQ(json_integer_value(json_object_get(json_array_get(items, 0), "is_primary")), 1);
    json_decref(items);
    ASSERT_OK(weft__page_datanodes(st, &q, &items, &next, err), err);
    size_t owned = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *it = json_array_get(items, i);
        const char *cfg = json_string_value(json_object_get(it, "config_id"));
        const char *owner = json_string_value(json_object_get(it, "cycle_id"));
        if (strcmp(cfg, "model") == 0 && owner && strcmp(owner, cy) == 0) owned++;
        if (strcmp(cfg, "model") != 0) ASSERT(json_is_null(json_object_get(it, "cycle_id")));
    }
    ASSERT_EQ(owned, 1);
    json_decref(items);
    weft__store_close(st);
    free(cy);
    free(a);
    weft_orchestrator_close(ro);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

/* weft check --store: a scenario or CYCLE node whose cycle is gone, and a
 * cycle with two primary scenarios, are problems; a sound store has none */
static bool has_line(char **p, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(p[i], needle)) return true;
    return false;
}

TEST(store_check_reports_broken_cycles)
{
    weft_config *c = load();
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    char *a = create_on(o, "monthly", "2026-05-03"), *b = create_on(o, "monthly", "2026-05-04");
    weft_orchestrator_close(o);
    char **p = NULL;
    size_t n = 99;
    ASSERT_OK(weft_store_check(c, NULL, &p, &n, err), err);
    ASSERT_EQ(n, 0);
    weft_strv_free(p, n);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(".weft/weft.db", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE scenarios SET is_primary = 1; DELETE FROM cycles;", NULL,
                           NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(weft_store_check(c, NULL, &p, &n, err), err);
    ASSERT(has_line(p, n, "2 primary scenarios"));
    ASSERT(has_line(p, n, ": cycle CYCLE_May_2026_"));
    ASSERT(has_line(p, n, "data node DATANODE_model_"));
    weft_strv_free(p, n);
    free(a);
    free(b);
    weft_config_free(c);
}

/* ---- the command ---- */

static char *weft_cmd(const char *args, int *rc)
{
    char cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s/weft %s 2>&1", test_build_dir(), args);
    *rc = test_run_cmd(cmd, &out);
    return out;
}

/* Where `needle` starts in `hay`, -1 when absent. */
__attribute__((noinline)) static long pos_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    return p ? (long)(p - hay) : -1;
}

TEST(weft_cycles_and_primary_commands)
{
    test_write_file("config.toml",
                    "[DATA_NODE.model]\nstorage_type = \"text\"\nscope = \"CYCLE:SCOPE\"\n"
                    "default_data = \"m\"\n"
                    "[DATA_NODE.out]\nstorage_type = \"text\"\n"
                    "[TASK.copy]\ncommand = [\"cp\", \"{model}\", \"{out}\"]\n"
                    "inputs = [\"model:SECTION\"]\noutputs = [\"out:SECTION\"]\n"
                    "[SCENARIO.s]\ntasks = [\"copy:SECTION\"]\nfrequency = \"QUARTERLY:FREQUENCY\"\n");
    int rc;
    char *out = weft_cmd("cycles", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "no cycle yet");
    free(out);
    out = weft_cmd("run -q --date 2026-05-03", &rc);
    free(out);
    out = weft_cmd("run --date 2026-06-30T23:00:00", &rc);
    ASSERT_CONTAINS(out, "is in cycle CYCLE_2026_Q2_");
    ASSERT_NOT_CONTAINS(out, "(its primary scenario)");
    free(out);
    out = weft_cmd("run -q --date 2026-07-01", &rc);
    free(out);
    out = weft_cmd("run -q --date 2026-02-30", &rc);
    ASSERT_EQ(rc, 2);
    ASSERT_CONTAINS(out, "'2026-02-30' is not a date of the calendar");
    free(out);

    out = weft_cmd("cycles --json", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "\"name\": \"2026 Q2\"");
    ASSERT_CONTAINS(out, "\"start_date\": \"2026-04-01T00:00:00\"");
    ASSERT_CONTAINS(out, "\"end_date\": \"2026-06-30T23:59:59.999999\"");
    ASSERT_CONTAINS(out, "\"name\": \"2026 Q3\"");
    ASSERT_CONTAINS(out, "\"creation_date\": \"2026-06-30T23:00:00\"");
    /* Q2 comes first, with two scenarios, the first one primary */
    long q2 = pos_of(out, "2026 Q2"), q3 = pos_of(out, "2026 Q3");
    free(out);
    ASSERT_LT(q2, q3);

    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_load(c, "config.toml", err), err);
    weft_orchestrator *o = NULL;
    weft_orchestrator_opts ro = {.read_only = true};
    ASSERT_OK(weft_orchestrator_open(c, &ro, &o, err), err);
    weft_cycle_info **v = NULL;
    size_t n = 0;
    ASSERT_OK(weft_cycles_list(o, &v, &n, err), err);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(v[0]->nscenarios, 2);
    ASSERT(v[0]->scenarios[0].is_primary);
    char second[128], args[256];
    snprintf(second, sizeof second, "%s", v[0]->scenarios[1].id);
    weft_cycle_list_free(v, n);
    weft_orchestrator_close(o);

    out = weft_cmd("cycles", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "CYCLE ");
    ASSERT_CONTAINS(out, "QUARTERLY  2026-04-01  2026-06-30");
    ASSERT_CONTAINS(out, "2026 Q3");
    free(out);

    snprintf(args, sizeof args, "primary %s", second);
    out = weft_cmd(args, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "is now the primary scenario of its cycle");
    free(out);
    ASSERT_OK(weft_orchestrator_open(c, &ro, &o, err), err);
    ASSERT_OK(weft_cycles_list(o, &v, &n, err), err);
    ASSERT(!v[0]->scenarios[0].is_primary && v[0]->scenarios[1].is_primary);
    ASSERT(v[1]->scenarios[0].is_primary);
    weft_cycle_list_free(v, n);
    weft_orchestrator_close(o);
    weft_config_free(c);

    out = weft_cmd("scenarios --json", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "\"cycle\": \"CYCLE_2026_Q2_");
    ASSERT_CONTAINS(out, "\"primary\": true");
    free(out);
    out = weft_cmd("scenarios", &rc);
    ASSERT_CONTAINS(out, "CYCLE_2026_Q3_");
    ASSERT_CONTAINS(out, "primary");
    free(out);
    out = weft_cmd("primary SCENARIO_nope", &rc);
    ASSERT_EQ(rc, 1);
    ASSERT_CONTAINS(out, "no scenario SCENARIO_nope");
    free(out);
    out = weft_cmd("primary", &rc);
    ASSERT_EQ(rc, 2);
    free(out);
}

/* ---- the edit lock of a CYCLE node ---- */

static atomic_int gate_open, blocked_running;

/* Writes like fn_write once the test opens the gate. */
static int fn_block(weft_ctx *ctx)
{
    atomic_store(&blocked_running, 1);
    while (!atomic_load(&gate_open)) usleep(1000);
    return fn_write(ctx);
}

typedef struct submitter {
    weft_orchestrator *o;
    const char *scenario;
    weft_err e;
    char err[WEFT_ERRBUF_SIZE];
} submitter;

static void *submit_main(void *arg)
{
    submitter *s = arg;
    char *sub = NULL;
    s->e = weft_submit(s->o, s->scenario, NULL, &sub, s->err);
    free(sub);
    return NULL;
}

/* A job of June's scenario that is to write June's model locks that node
 * for editing, not May's instance of the same CYCLE node. */
TEST(a_running_job_locks_its_own_cycle_node_only)
{
    ASSERT_OK(weft_register_function("test.write", fn_write), "");
    ASSERT_OK(weft_register_function("test.block", fn_block), "");
    test_write_file("config.toml",
                    "[DATA_NODE.model]\nstorage_type = \"text\"\nscope = \"CYCLE:SCOPE\"\n"
                    "[TASK.train]\nfunction = \"test.block:function\"\noutputs = [\"model:SECTION\"]\n"
                    "[SCENARIO.monthly]\ntasks = [\"train:SECTION\"]\nfrequency = \"MONTHLY:FREQUENCY\"\n");
    weft_config *c = weft_config_new();
    ASSERT_OK(weft_config_load(c, "config.toml", err), err);
    weft_orchestrator *o = NULL;
    ASSERT_OK(weft_orchestrator_open(c, NULL, &o, err), err);
    char *may = create_on(o, "monthly", "2026-05-03"), *june = create_on(o, "monthly", "2026-06-03");
    char *m_may = model_of(may), *m_june = model_of(june);

    submitter sub = {.o = o, .scenario = june};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, submit_main, &sub), 0);
    for (int i = 0; i < 10000 && !atomic_load(&blocked_running); i++) usleep(1000);
    ASSERT(atomic_load(&blocked_running));
    ASSERT_OK(weft_data_write(o, m_may, "may", 3, NULL, err), err);
    ASSERT_EQ(weft_data_write(o, m_june, "june", 4, NULL, err), WEFT_ELOCKED);
    printf("    %s\n", err);
    ASSERT_CONTAINS(err, "is locked for editing: job JOB_train_");
    atomic_store(&gate_open, 1);
    ASSERT_EQ(pthread_join(th, NULL), 0);
    ASSERT_OK(sub.e, sub.err);
    char *data = NULL;
    ASSERT_OK(weft_data_read(o, m_may, &data, NULL, err), err);
    ASSERT_STR_EQ(data, "may");
    free(data);
    ASSERT_OK(weft_data_read(o, m_june, &data, NULL, err), err);
    ASSERT_STR_EQ(data, "train;");
    free(data);
    char *fs[] = {may, june, m_may, m_june};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    weft_orchestrator_close(o);
    weft_config_free(c);
}

TEST_MAIN(TEST_ENTRY(daily_period), TEST_ENTRY(weekly_period_starts_on_monday),
          TEST_ENTRY(monthly_period), TEST_ENTRY(quarterly_period), TEST_ENTRY(yearly_period),
          TEST_ENTRY(dates_and_frequencies_refused), TEST_ENTRY(cycle_ids_are_taipy_file_names),
          TEST_ENTRY(cycle_nodes_shared_within_a_cycle_only),
          TEST_ENTRY(a_running_job_locks_its_own_cycle_node_only),
          TEST_ENTRY(first_scenario_of_a_cycle_is_primary_until_another_is_set),
          TEST_ENTRY(read_only_handle_cannot_set_primary),
          TEST_ENTRY(store_check_reports_broken_cycles),
          TEST_ENTRY(weft_cycles_and_primary_commands))
