/* SPDX-License-Identifier: MIT */
/* test_config.c - the configuration API: defaults, the code API, typed strings, ENV,
 * inheritance, file-wins-over-code, read-back, positions, and write round trips. */
#include "test.h"
#include "util/defaults.h"
#include "weft.h"

static const char *SAMPLE =
    "[CORE]\n"
    "storage_folder = \".weft/\"\n"
    "\n"
    "[JOB]\n"
    "mode = \"standalone\"\n"
    "max_nb_of_workers = \"8:int\"\n"
    "\n"
    "[DATA_NODE.sales]\n"
    "storage_type = \"csv\"\n"
    "default_path = \"data/sales.csv\"\n"
    "has_header = \"True:bool\"\n"
    "\n"
    "[DATA_NODE.summary]\n"
    "storage_type = \"json\"\n"
    "scope = \"SCENARIO:SCOPE\"\n"
    "\n"
    "[TASK.summarize]\n"
    "function = \"pipeline.summarize:function\"\n"
    "inputs = [\"sales:SECTION\"]\n"
    "outputs = [\"summary:SECTION\"]\n"
    "skippable = \"True:bool\"\n"
    "\n"
    "[SCENARIO.monthly]\n"
    "tasks = [\"summarize:SECTION\"]\n";

static weft_config *load_text(const char *text)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    test_write_file("config.toml", text);
    weft_config *cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    return cfg;
}

/* The first diagnostic's message containing `needle`, or fail. */
static const weft_diag *find_diag(const weft_config *cfg, const char *needle)
{
    for (size_t i = 0; i < weft_config_ndiags(cfg); i++)
        if (strstr(weft_config_diag(cfg, i)->message, needle)) return weft_config_diag(cfg, i);
    for (size_t i = 0; i < weft_config_ndiags(cfg); i++)
        fprintf(stderr, "    diag: %s\n", weft_config_diag(cfg, i)->message);
    FAIL("no diagnostic contains \"%s\"", needle);
}

TEST(new_config_has_defaults)
{
    weft_config *cfg = weft_config_new();
    ASSERT(cfg != NULL);
    ASSERT_EQ(weft_config_mode(cfg), WEFT_MODE_DEVELOPMENT);
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), 2);
    ASSERT_STR_EQ(weft_config_storage_folder(cfg), ".weft/");
    ASSERT_STR_EQ(weft_config_broker_url(cfg), "amqp://guest:guest@localhost:5672/%2f");
    ASSERT_STR_EQ(weft_config_queue(cfg), "weft.jobs");
    ASSERT_STR_EQ(weft_config_application_path(cfg), ".");
    ASSERT(weft_config_file(cfg) == NULL);
    ASSERT_EQ(weft_config_count(cfg, WEFT_SECTION_DATA_NODE), 0);
    const weft_value *v = weft_config_lookup(cfg, "JOB", "max_attempts");
    ASSERT(v != NULL);
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_INT);
    ASSERT_EQ(weft_value_int(v), 3);
    v = weft_config_lookup(cfg, "JOB", "broker_verify_peer");
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_BOOL);
    ASSERT(weft_value_bool(v));
    ASSERT(weft_config_lookup(cfg, "JOB", "broker_ca_file") == NULL);
    ASSERT_STR_EQ(weft_mode_name(WEFT_MODE_CLUSTER), "cluster");
    ASSERT(weft_mode_name((weft_mode)7) == NULL);
    /* the defaults are those of util/defaults.h, their one home */
    ASSERT_STR_EQ(weft_mode_name(weft_config_mode(cfg)), WEFT__MODE_DEVELOPMENT);
    ASSERT_STR_EQ(weft_mode_name(WEFT_MODE_STANDALONE), WEFT__MODE_STANDALONE);
    ASSERT_STR_EQ(weft_mode_name(WEFT_MODE_CLUSTER), WEFT__MODE_CLUSTER);
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), WEFT__DEFAULT_WORKERS);
    ASSERT_STR_EQ(weft_config_broker_url(cfg), WEFT__DEFAULT_BROKER_URL);
    ASSERT_STR_EQ(weft_config_queue(cfg), WEFT__DEFAULT_QUEUE);
    ASSERT_EQ(weft_value_int(weft_config_lookup(cfg, "JOB", "max_attempts")), WEFT__DEFAULT_MAX_ATTEMPTS);
    ASSERT_OK(weft_config_check(cfg, NULL), NULL);
    ASSERT_EQ(weft_config_ndiags(cfg), 0);
    weft_config_free(cfg);
    weft_config_free(NULL);
}

TEST(code_api_builds_a_config)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(cfg, WEFT_MODE_STANDALONE, 8, err), err);
    weft_property props[] = {{"has_header", "False:bool"}, {"encoding", "latin-1"}};
    weft_data_node_opts dn = {.storage_type = "csv", .scope = "GLOBAL",
                              .default_path = "data/sales.csv", .validity_period = "1d",
                              .properties = props, .nproperties = 2};
    ASSERT_OK(weft_config_configure_data_node(cfg, "sales", &dn, err), err);
    ASSERT_OK(weft_config_configure_data_node(cfg, "summary", NULL, err), err);
    const char *in[] = {"sales", NULL}, *out[] = {"summary", NULL};
    weft_property tprops[] = {{"duration", "3:int"}};
    weft_task_opts t = {.function = "pipeline.summarize", .inputs = in, .outputs = out,
                        .skippable = true, .timeout = "1d2h30m", .properties = tprops,
                        .nproperties = 1};
    ASSERT_OK(weft_config_configure_task(cfg, "summarize", &t, err), err);
    const char *tasks[] = {"summarize", NULL};
    ASSERT_OK(weft_config_configure_scenario(cfg, "monthly", tasks, err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);

    ASSERT_EQ(weft_config_mode(cfg), WEFT_MODE_STANDALONE);
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), 8);
    ASSERT_EQ(weft_config_count(cfg, WEFT_SECTION_DATA_NODE), 2);
    ASSERT_STR_EQ(weft_config_id_at(cfg, WEFT_SECTION_DATA_NODE, 1), "summary");
    ASSERT(weft_config_id_at(cfg, WEFT_SECTION_DATA_NODE, 2) == NULL);
    ASSERT_STR_EQ(weft_config_id_at(cfg, WEFT_SECTION_TASK, 0), "summarize");
    ASSERT_STR_EQ(weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, 0), "monthly");

    const weft_value *v = weft_config_lookup(cfg, "DATA_NODE.sales", "scope");
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_SCOPE);
    ASSERT_EQ(weft_value_scope(v), WEFT_SCOPE_GLOBAL);
    ASSERT(!weft_value_bool(weft_config_lookup(cfg, "DATA_NODE.sales", "has_header")));
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.sales", "encoding")), "latin-1");
    ASSERT_EQ(weft_value_timedelta_ms(weft_config_lookup(cfg, "DATA_NODE.sales", "validity_period")),
              86400000);
    /* defaults of a data node declared without options */
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.summary", "storage_type")), "pickle");
    ASSERT_EQ(weft_value_scope(weft_config_lookup(cfg, "DATA_NODE.summary", "scope")), WEFT_SCOPE_SCENARIO);

    v = weft_config_lookup(cfg, "TASK.summarize", "function");
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_FUNCTION);
    ASSERT_STR_EQ(weft_value_text(v), "pipeline.summarize");
    v = weft_config_lookup(cfg, "TASK.summarize", "inputs");
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_LIST);
    ASSERT_EQ(weft_value_len(v), 1);
    ASSERT_EQ(weft_value_type_of(weft_value_at(v, 0)), WEFT_VALUE_SECTION);
    ASSERT_STR_EQ(weft_value_text(weft_value_at(v, 0)), "sales");
    ASSERT(weft_value_at(v, 1) == NULL);
    ASSERT(weft_value_bool(weft_config_lookup(cfg, "TASK.summarize", "skippable")));
    ASSERT_EQ(weft_value_timedelta_ms(weft_config_lookup(cfg, "TASK.summarize", "timeout")),
              (86400 + 2 * 3600 + 30 * 60) * 1000LL);
    ASSERT_EQ(weft_value_int(weft_config_lookup(cfg, "TASK.summarize", "duration")), 3);

    const char *file;
    int line, col;
    weft_value_pos(v, &file, &line, &col);
    ASSERT_STR_EQ(file, "<code>");
    ASSERT_EQ(line, 0);
    ASSERT_EQ(col, 0);
    weft_config_free(cfg);
}

TEST(code_api_rejects_bad_input)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    ASSERT_EQ(weft_config_set(cfg, "NOPE", "k", "v", err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "unknown section 'NOPE'");
    ASSERT_EQ(weft_config_set(cfg, "JOB", "max_nb_of_workers", "8:integer", err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "JOB.max_nb_of_workers: unknown type 'integer'");
    ASSERT_EQ(weft_config_configure_job_executions(cfg, (weft_mode)9, 0, err), WEFT_EINVAL);
    ASSERT_EQ(weft_config_configure_data_node(cfg, "", NULL, err), WEFT_EINVAL);
    weft_data_node_opts dn = {.scope = "GALAXY"};
    ASSERT_EQ(weft_config_configure_data_node(cfg, "x", &dn, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "not a valid SCOPE");
    weft_task_opts t = {.function = "nodots"};
    ASSERT_EQ(weft_config_configure_task(cfg, "t", &t, err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "malformed function 'nodots'");
    weft_config_free(cfg);
}

TEST(typed_strings_convert)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    struct { const char *in; weft_value_type type; const char *text; } cases[] = {
        {"8:int", WEFT_VALUE_INT, "8"},
        {"-3:int", WEFT_VALUE_INT, "-3"},
        {"2.5:float", WEFT_VALUE_FLOAT, "2.5"},
        {"TRUE:bool", WEFT_VALUE_BOOL, "True"},
        {"false:bool", WEFT_VALUE_BOOL, "False"},
        {"hello:str", WEFT_VALUE_STR, "hello"},
        {"a:int:str", WEFT_VALUE_STR, "a:int"},
        {"sales:SECTION", WEFT_VALUE_SECTION, "sales"},
        {"cycle:SCOPE", WEFT_VALUE_SCOPE, "CYCLE"},
        {"WEEKLY:FREQUENCY", WEFT_VALUE_FREQUENCY, "WEEKLY"},
        {"1d2h30m:timedelta", WEFT_VALUE_TIMEDELTA, "1d2h30m"},
        {"2024-01-31T10:00:00:datetime", WEFT_VALUE_DATETIME, "2024-01-31T10:00:00"},
        {"2024-01-31:datetime", WEFT_VALUE_DATETIME, "2024-01-31"},
        {"pipeline.summarize:function", WEFT_VALUE_FUNCTION, "pipeline.summarize"},
        {"plain", WEFT_VALUE_STR, "plain"},
        {"amqp://h:5672/%2f", WEFT_VALUE_STR, "amqp://h:5672/%2f"},
        {"foo:bar", WEFT_VALUE_STR, "foo:bar"},
        {"have:fun", WEFT_VALUE_STR, "have:fun"},
        {"2024-01-31T10:00:00", WEFT_VALUE_STR, "2024-01-31T10:00:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_OK(weft_config_set(cfg, "TASK.t", "p", cases[i].in, err), err);
        const weft_value *v = weft_config_lookup(cfg, "TASK.t", "p");
        if (weft_value_type_of(v) != cases[i].type) FAIL("%s: type %d", cases[i].in, weft_value_type_of(v));
        ASSERT_STR_EQ(weft_value_text(v), cases[i].text);
    }
    ASSERT_OK(weft_config_set(cfg, "TASK.t", "p", "1d2h30m:timedelta", err), err);
    ASSERT_EQ(weft_value_timedelta_ms(weft_config_lookup(cfg, "TASK.t", "p")), 95400000);
    ASSERT_OK(weft_config_set(cfg, "TASK.t", "p", "45:timedelta", err), err);
    ASSERT_EQ(weft_value_timedelta_ms(weft_config_lookup(cfg, "TASK.t", "p")), 45000);
    ASSERT_OK(weft_config_set(cfg, "TASK.t", "p", "2.5:float", err), err);
    ASSERT_DBL_NEAR(weft_value_float(weft_config_lookup(cfg, "TASK.t", "p")), 2.5, 1e-12);

    const char *bad[][2] = {
        {"8:integer", "unknown type 'integer'"}, {"True:Bool", "unknown type 'Bool'"},
        {"x:String", "unknown type 'String'"},   {"1.0:flaot", "unknown type 'flaot'"},
        {"abc:int", "'abc' is not a valid int"}, {"yes:bool", "not a valid bool"},
        {"x:float", "not a valid float"},        {"2h1d:timedelta", "not a valid timedelta"},
        {"1d5:timedelta", "not a valid timedelta"}, {"2024-13-01:datetime", "not a valid datetime"},
        {"HOURLY:FREQUENCY", "not a valid FREQUENCY"}, {"a..b:function", "malformed function"},
        {":SECTION", "empty SECTION"},           {"2024-01-31:date", "unknown type 'date'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ASSERT_EQ(weft_config_set(cfg, "TASK.t", "p", bad[i][0], err), WEFT_EINVAL);
        ASSERT_CONTAINS(err, bad[i][1]);
    }
    ASSERT_EQ(weft_config_set(cfg, "TASK.t", "p", "8:integer", err), WEFT_EINVAL);
    ASSERT_CONTAINS(err, "valid types: int, float, bool, str, SECTION, SCOPE, FREQUENCY, timedelta, datetime, function");
    weft_config_free(cfg);
}

TEST(plain_toml_values_are_accepted_as_their_types)
{
    weft_config *cfg = load_text("[JOB]\nmax_nb_of_workers = 8\n"
                                 "[TASK.t]\nfunction = \"m.f\"\ninputs = [\"a\"]\n"
                                 "rate = 0.5\nflag = true\nwhen = 2024-01-31T10:00:00Z\nn = [1, 2]\n"
                                 "[DATA_NODE.a]\nvalidity_period = 90\n");
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), 8);
    const weft_value *v = weft_config_lookup(cfg, "TASK.t", "inputs");
    ASSERT_EQ(weft_value_type_of(weft_value_at(v, 0)), WEFT_VALUE_SECTION); /* plain "a" is a reference */
    ASSERT_EQ(weft_value_type_of(weft_config_lookup(cfg, "TASK.t", "function")), WEFT_VALUE_FUNCTION);
    ASSERT_DBL_NEAR(weft_value_float(weft_config_lookup(cfg, "TASK.t", "rate")), 0.5, 1e-12);
    ASSERT(weft_value_bool(weft_config_lookup(cfg, "TASK.t", "flag")));
    v = weft_config_lookup(cfg, "TASK.t", "when");
    ASSERT_EQ(weft_value_type_of(v), WEFT_VALUE_DATETIME);
    ASSERT_STR_EQ(weft_value_text(v), "2024-01-31T10:00:00Z");
    ASSERT_EQ(weft_value_len(weft_config_lookup(cfg, "TASK.t", "n")), 2);
    ASSERT_EQ(weft_value_timedelta_ms(weft_config_lookup(cfg, "DATA_NODE.a", "validity_period")), 90000);
    weft_config_free(cfg);
}

TEST(env_values_resolve_at_check)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    unsetenv("WEFT_TEST_WORKERS");
    ASSERT_OK(weft_config_set(cfg, "JOB", "max_nb_of_workers", "ENV[WEFT_TEST_WORKERS]:int", err), err);
    ASSERT_OK(weft_config_set(cfg, "JOB", "queue", "ENV[WEFT_TEST_QUEUE]", err), err);
    setenv("WEFT_TEST_QUEUE", "jobs.q", 1);

    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_CONTAINS(err, "environment variable WEFT_TEST_WORKERS is not set");
    ASSERT_CONTAINS(err, "max_nb_of_workers");
    const weft_diag *d = find_diag(cfg, "WEFT_TEST_WORKERS");
    ASSERT_STR_EQ(d->file, "<code>");
    ASSERT_EQ(d->line, 0);
    ASSERT_EQ(weft_config_nerrors(cfg), 1);

    setenv("WEFT_TEST_WORKERS", "abc", 1);
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_CONTAINS(err, "environment variable WEFT_TEST_WORKERS='abc' is not a valid int");
    ASSERT_EQ(weft_config_ndiags(cfg), 1); /* the earlier check's diagnostics are replaced */

    setenv("WEFT_TEST_WORKERS", "6", 1);
    ASSERT_OK(weft_config_check(cfg, err), err);
    ASSERT_EQ(weft_config_ndiags(cfg), 0);
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), 6);
    ASSERT_STR_EQ(weft_config_queue(cfg), "jobs.q");

    /* an untyped ENV value is checked against the key's type, naming the variable */
    ASSERT_OK(weft_config_set(cfg, "JOB", "max_attempts", "ENV[WEFT_TEST_ATTEMPTS]", err), err);
    setenv("WEFT_TEST_ATTEMPTS", "many", 1);
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_CONTAINS(err, "max_attempts must be a positive integer, got 'many' (from environment variable WEFT_TEST_ATTEMPTS)");
    weft_config_free(cfg);
}

TEST(default_sections_are_inherited)
{
    weft_config *cfg = load_text("[DATA_NODE.default]\nstorage_type = \"csv\"\nencoding = \"utf-8\"\n"
                                 "[DATA_NODE.a]\ndefault_path = \"a.csv\"\n"
                                 "[DATA_NODE.b]\nstorage_type = \"json\"\n"
                                 "[TASK.default]\nskippable = \"True:bool\"\n"
                                 "[TASK.t]\nfunction = \"m.f\"\noutputs = [\"a\"]\n");
    ASSERT_EQ(weft_config_count(cfg, WEFT_SECTION_DATA_NODE), 2); /* default excluded */
    ASSERT(weft_config_has_section(cfg, "DATA_NODE.a"));
    ASSERT(weft_config_has_section(cfg, "TASK.t"));
    ASSERT(!weft_config_has_section(cfg, "DATA_NODE.default"));
    ASSERT(!weft_config_has_section(cfg, "DATA_NODE.zz"));
    ASSERT(!weft_config_has_section(cfg, "TASK.a"));
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.a", "storage_type")), "csv");
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.a", "encoding")), "utf-8");
    ASSERT(weft_value_bool(weft_config_lookup(cfg, "DATA_NODE.a", "has_header"))); /* csv default */
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.b", "storage_type")), "json");
    ASSERT(weft_config_lookup(cfg, "DATA_NODE.b", "has_header") == NULL);
    ASSERT(weft_value_bool(weft_config_lookup(cfg, "TASK.t", "skippable")));
    /* every effective key is listed, own and inherited */
    bool seen_encoding = false;
    for (size_t i = 0; i < weft_config_nkeys(cfg, "DATA_NODE.a"); i++)
        seen_encoding |= strcmp(weft_config_key_at(cfg, "DATA_NODE.a", i), "encoding") == 0;
    ASSERT(seen_encoding);
    ASSERT(weft_config_key_at(cfg, "DATA_NODE.a", 99) == NULL);
    /* an inherited value keeps the position where it was written */
    int line;
    weft_value_pos(weft_config_lookup(cfg, "DATA_NODE.a", "encoding"), NULL, &line, NULL);
    ASSERT_EQ(line, 3);
    weft_config_free(cfg);
}

TEST(no_effect_keys_set_in_code_warn)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    weft_property props[] = {{"encoding", "latin-1"}};
    weft_data_node_opts dn = {.storage_type = "csv", .scope = "CYCLE", .properties = props,
                              .nproperties = 1};
    ASSERT_OK(weft_config_configure_data_node(cfg, "sales", &dn, err), err);
    const char *outs[] = {"sales", NULL}, *tasks[] = {"t", NULL};
    weft_task_opts t = {.function = "m.f", .outputs = outs};
    ASSERT_OK(weft_config_configure_task(cfg, "t", &t, err), err);
    ASSERT_OK(weft_config_configure_scenario(cfg, "s", tasks, err), err);
    /* a CYCLE node needs a scenario frequency: an error, at no position */
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_EQ(weft_config_ndiags(cfg), 2);
    ASSERT_EQ(weft_config_nerrors(cfg), 1);
    const weft_diag *d = find_diag(cfg, "encoding has no effect in weft");
    ASSERT_STR_EQ(d->file, "<code>");
    ASSERT_EQ(d->line, 0);
    ASSERT_EQ(d->severity, WEFT_SEVERITY_WARNING);
    d = find_diag(cfg, "data node 'sales' has scope CYCLE but scenario 's' has no frequency");
    ASSERT_EQ(d->severity, WEFT_SEVERITY_ERROR);
    ASSERT_STR_EQ(d->file, "<code>");
    /* a frequency set in code clears the error at the next check */
    ASSERT_OK(weft_config_set(cfg, "SCENARIO.s", "frequency", "MONTHLY:FREQUENCY", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    ASSERT_EQ(weft_config_ndiags(cfg), 1);
    weft_config_free(cfg);
}

TEST(a_repeated_diagnostic_is_recorded_once)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    const char *text = "[JOB]\nmax_nb_of_workers = \"8:integer\"\n[DATA_NODE.d]\nencoding = \"x\"\n";
    weft_config *cfg = weft_config_new();
    ASSERT_EQ(weft_config_load_string(cfg, text, strlen(text), "mem.toml", err), WEFT_ECONFIG);
    ASSERT_EQ(weft_config_ndiags(cfg), 1);
    weft_config_load_string(cfg, text, strlen(text), "mem.toml", err);
    ASSERT_EQ(weft_config_ndiags(cfg), 1); /* the same file twice: the same error, once */
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_EQ(weft_config_ndiags(cfg), 2); /* and the warning of each check, once */
    const weft_diag *d = find_diag(cfg, "encoding has no effect in weft");
    ASSERT_EQ(d->line, 4);
    ASSERT_EQ(weft_config_nerrors(cfg), 1);
    /* the same text at another position is another diagnostic */
    const char *more = "[DATA_NODE.e]\n\nencoding = \"y\"\n";
    ASSERT_OK(weft_config_load_string(cfg, more, strlen(more), "mem.toml", err), err);
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_EQ(weft_config_ndiags(cfg), 3);
    weft_config_free(cfg);
}

TEST(file_values_win_over_code)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(cfg, WEFT_MODE_STANDALONE, 8, err), err);
    weft_data_node_opts dn = {.storage_type = "json", .default_path = "code.json"};
    ASSERT_OK(weft_config_configure_data_node(cfg, "sales", &dn, err), err);
    test_write_file("config.toml", "[JOB]\nmax_nb_of_workers = 4\n[DATA_NODE.sales]\nstorage_type = \"csv\"\n");
    ASSERT_OK(weft_config_load(cfg, "config.toml", err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    ASSERT_EQ(weft_config_max_nb_of_workers(cfg), 4);
    ASSERT_EQ(weft_config_mode(cfg), WEFT_MODE_STANDALONE); /* not in the file: code's value stays */
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.sales", "storage_type")), "csv");
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(cfg, "DATA_NODE.sales", "default_path")), "code.json");
    ASSERT_STR_EQ(weft_config_file(cfg), "config.toml");
    weft_config_free(cfg);
}

TEST(loaded_values_carry_positions)
{
    weft_config *cfg = load_text(SAMPLE);
    const char *file;
    int line, col;
    weft_value_pos(weft_config_lookup(cfg, "JOB", "max_nb_of_workers"), &file, &line, &col);
    ASSERT_STR_EQ(file, "config.toml");
    ASSERT_EQ(line, 6);
    ASSERT_EQ(col, 21);
    const weft_value *in = weft_config_lookup(cfg, "TASK.summarize", "inputs");
    weft_value_pos(weft_value_at(in, 0), &file, &line, &col);
    ASSERT_EQ(line, 19);
    ASSERT_EQ(col, 11);
    weft_value_pos(weft_config_lookup(cfg, "JOB", "queue"), &file, &line, NULL);
    ASSERT_STR_EQ(file, "<default>");
    ASSERT_EQ(line, 0);
    ASSERT_STR_EQ(weft_config_application_path(cfg), ".");
    weft_config_free(cfg);
}

TEST(application_path_is_the_files_folder)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    ASSERT_EQ(system("mkdir -p app/sub"), 0);
    test_write_file("app/sub/config.toml", "[JOB]\n");
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_load(cfg, "app/sub/config.toml", err), err);
    ASSERT_STR_EQ(weft_config_application_path(cfg), "app/sub");
    ASSERT_EQ(weft_config_load(cfg, "missing.toml", err), WEFT_EIO);
    ASSERT_CONTAINS(err, "missing.toml");
    weft_config_free(cfg);
}

TEST(syntax_errors_become_diagnostics)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    const char *text = "[JOB]\nmode = \n";
    ASSERT_EQ(weft_config_load_string(cfg, text, strlen(text), "mem.toml", err), WEFT_ESYNTAX);
    ASSERT_CONTAINS(err, "mem.toml:2:");
    ASSERT_EQ(weft_config_ndiags(cfg), 1);
    const weft_diag *d = weft_config_diag(cfg, 0);
    ASSERT_STR_EQ(d->file, "mem.toml");
    ASSERT_EQ(d->line, 2);
    ASSERT_EQ(d->severity, WEFT_SEVERITY_ERROR);
    ASSERT(weft_config_diag(cfg, 1) == NULL);
    weft_config_free(cfg);
}

TEST(sub_tables_are_dotted_keys)
{
    weft_config *cfg = load_text("[TASK.t]\nfunction = \"m.f\"\n"
                                 "[SCENARIO.s]\ntasks = [\"t\"]\n"
                                 "[SCENARIO.s.sequences]\nfirst = [\"t:SECTION\"]\n");
    const weft_value *v = weft_config_lookup(cfg, "SCENARIO.s", "sequences.first");
    ASSERT_EQ(weft_value_len(v), 1);
    ASSERT_STR_EQ(weft_value_text(weft_value_at(v, 0)), "t");
    ASSERT_EQ(weft_config_nerrors(cfg), 0);
    /* sequences is a known key with an effect: no diagnostic at all */
    ASSERT_EQ(weft_config_ndiags(cfg), 0);
    weft_config_free(cfg);
}

/* Every section and key of `a` has an equal value in `b`, and the other way round. */
static void assert_same_value(const weft_value *a, const weft_value *b, const char *where)
{
    if (!a || !b) FAIL("%s: missing value", where);
    if (weft_value_type_of(a) != weft_value_type_of(b))
        FAIL("%s: type %d vs %d", where, weft_value_type_of(a), weft_value_type_of(b));
    if (weft_value_type_of(a) == WEFT_VALUE_LIST) {
        ASSERT_EQ(weft_value_len(a), weft_value_len(b));
        for (size_t i = 0; i < weft_value_len(a); i++)
            assert_same_value(weft_value_at(a, i), weft_value_at(b, i), where);
        return;
    }
    if (weft_value_type_of(a) == WEFT_VALUE_TIMEDELTA) { /* written in Taipy's d/h/m/s form */
        ASSERT_EQ(weft_value_timedelta_ms(a), weft_value_timedelta_ms(b));
        return;
    }
    if (strcmp(weft_value_text(a), weft_value_text(b)) != 0)
        FAIL("%s: \"%s\" vs \"%s\"", where, weft_value_text(a), weft_value_text(b));
}

static void assert_same_section(const weft_config *a, const weft_config *b, const char *sec)
{
    ASSERT_EQ(weft_config_nkeys(a, sec), weft_config_nkeys(b, sec));
    for (size_t i = 0; i < weft_config_nkeys(a, sec); i++) {
        const char *key = weft_config_key_at(a, sec, i);
        char where[256];
        snprintf(where, sizeof where, "[%s] %s", sec, key);
        assert_same_value(weft_config_lookup(a, sec, key), weft_config_lookup(b, sec, key), where);
    }
}

static void assert_same_config(const weft_config *a, const weft_config *b)
{
    static const char *const kinds[] = {"DATA_NODE", "TASK", "SCENARIO"};
    assert_same_section(a, b, "CORE");
    assert_same_section(a, b, "JOB");
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(weft_config_count(a, (weft_section_kind)k), weft_config_count(b, (weft_section_kind)k));
        for (size_t i = 0; i < weft_config_count(a, (weft_section_kind)k); i++) {
            char sec[256];
            ASSERT_STR_EQ(weft_config_id_at(a, (weft_section_kind)k, i),
                          weft_config_id_at(b, (weft_section_kind)k, i));
            snprintf(sec, sizeof sec, "%s.%s", kinds[k], weft_config_id_at(a, (weft_section_kind)k, i));
            assert_same_section(a, b, sec);
        }
    }
}

static weft_config *write_and_reload(const weft_config *cfg, bool raw, const char *path)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT_OK(weft_config_write(cfg, f, raw, err), err);
    fclose(f);
    weft_config *again = weft_config_new();
    ASSERT_OK(weft_config_load(again, path, err), err);
    ASSERT_OK(weft_config_check(again, err), err);
    return again;
}

TEST(write_round_trips)
{
    setenv("WEFT_TEST_URL", "amqps://u:p@broker:5671/%2f", 1);
    weft_config *cfg = load_text(
        "[TAIPY]\nclean_entities_enabled = \"True:bool\"\n"
        "[CORE]\nroot_folder = \"./root\"\nversion_number = 1\n"
        "[JOB]\nmode = \"cluster\"\nbroker_url = \"ENV[WEFT_TEST_URL]\"\nmax_attempts = \"5:int\"\n"
        "custom = \"kept\"\n"
        "[DATA_NODE.default]\nscope = \"GLOBAL:SCOPE\"\n"
        "[DATA_NODE.sales]\nstorage_type = \"csv\"\ndefault_path = \"data/\\\"q\\\"\\tx.csv\"\n"
        "validity_period = \"1d2h:timedelta\"\ndefault_data = [1, 2.5, \"x:int:str\"]\n"
        "[DATA_NODE.\"caf\u00e9\"]\nstorage_type = \"json\"\n"
        "[DATA_NODE.out]\n"
        "[TASK.summarize]\nfunction = \"pipeline.summarize:function\"\ninputs = [\"sales\"]\n"
        "outputs = [\"out:SECTION\"]\nduration = 0.25\nwhen = \"2024-01-31T10:00:00:datetime\"\n"
        "[TASK.cmd]\ncommand = [\"sh\", \"-c\", \"cat {sales} > {caf\u00e9}\"]\ninputs = [\"sales\"]\n"
        "outputs = [\"caf\u00e9\"]\ntimeout = \"30:timedelta\"\n"
        "[SCENARIO.monthly]\ntasks = [\"summarize:SECTION\", \"cmd\"]\nfrequency = \"MONTHLY:FREQUENCY\"\n"
        "[SCENARIO.monthly.sequences]\n\"first one\" = [\"summarize:SECTION\"]\n");
    weft_config *again = write_and_reload(cfg, false, "effective.toml");
    assert_same_config(cfg, again);
    ASSERT_STR_EQ(weft_config_broker_url(again), "amqps://u:p@broker:5671/%2f");
    char *text = test_read_file("effective.toml", NULL);
    ASSERT_CONTAINS(text, "max_nb_of_workers = \"2:int\"");
    ASSERT_CONTAINS(text, "[TAIPY]\nclean_entities_enabled = \"True:bool\"\n");
    ASSERT_STR_EQ(weft_value_text(weft_config_lookup(again, "TAIPY", "clean_entities_enabled")), "True");
    ASSERT_CONTAINS(text, "[DATA_NODE.\"caf\u00e9\"]");
    ASSERT_CONTAINS(text, "scope = \"GLOBAL:SCOPE\"");
    /* Taipy's serializer form, which its reader parses (a bare "30" it does not) */
    ASSERT_CONTAINS(text, "validity_period = \"1d2h0m0s:timedelta\"");
    ASSERT_CONTAINS(text, "timeout = \"0d0h0m30s:timedelta\"");
    ASSERT_CONTAINS(text, "function = \"pipeline.summarize:function\"");
    ASSERT_CONTAINS(text, "inputs = [\"sales:SECTION\"]");
    ASSERT_CONTAINS(text, "\"x:int:str\"");
    ASSERT_NOT_CONTAINS(text, "ENV[");
    free(text);
    weft_config_free(again);

    /* raw keeps ENV[...] and only what was written */
    again = write_and_reload(cfg, true, "raw.toml");
    text = test_read_file("raw.toml", NULL);
    ASSERT_CONTAINS(text, "broker_url = \"ENV[WEFT_TEST_URL]\"");
    ASSERT_NOT_CONTAINS(text, "queue =");
    free(text);
    assert_same_config(cfg, again);
    weft_config_free(again);
    weft_config_free(cfg);
}

TEST(code_config_round_trips)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    ASSERT_OK(weft_config_configure_job_executions(cfg, WEFT_MODE_STANDALONE, 3, err), err);
    ASSERT_OK(weft_config_configure_data_node(cfg, "a", NULL, err), err);
    const char *out[] = {"a", NULL}, *argv[] = {"touch", "{a}", NULL};
    weft_task_opts t = {.command = argv, .outputs = out};
    ASSERT_OK(weft_config_configure_task(cfg, "t", &t, err), err);
    const char *tasks[] = {"t", NULL};
    ASSERT_OK(weft_config_configure_scenario(cfg, "s", tasks, err), err);
    const char *vals[] = {"1:int", "two"};
    ASSERT_OK(weft_config_set_list(cfg, "TASK.t", "args", vals, 2, err), err);
    ASSERT_OK(weft_config_check(cfg, err), err);
    weft_config *again = write_and_reload(cfg, false, "code.toml");
    assert_same_config(cfg, again);
    weft_config_free(again);
    weft_config_free(cfg);
}

TEST(check_reports_code_problems_at_code_position)
{
    char ebuf_[WEFT_ERRBUF_SIZE] = "", *err = ebuf_; /* a pointer: ASSERT_OK tests it */
    weft_config *cfg = weft_config_new();
    const char *in[] = {"nope", NULL};
    weft_task_opts t = {.function = "m.f", .inputs = in};
    ASSERT_OK(weft_config_configure_task(cfg, "t", &t, err), err);
    ASSERT_EQ(weft_config_check(cfg, err), WEFT_ECONFIG);
    ASSERT_STR_EQ(err, "<code>: task 't' references undefined data node 'nope' in inputs");
    const weft_diag *d = find_diag(cfg, "undefined data node 'nope'");
    ASSERT_STR_EQ(d->file, "<code>");
    ASSERT_EQ(d->line, 0);
    ASSERT_EQ(d->col, 0);
    weft_config_free(cfg);
}

TEST_MAIN(TEST_ENTRY(new_config_has_defaults), TEST_ENTRY(code_api_builds_a_config),
          TEST_ENTRY(code_api_rejects_bad_input), TEST_ENTRY(typed_strings_convert),
          TEST_ENTRY(plain_toml_values_are_accepted_as_their_types),
          TEST_ENTRY(env_values_resolve_at_check), TEST_ENTRY(default_sections_are_inherited),
          TEST_ENTRY(no_effect_keys_set_in_code_warn), TEST_ENTRY(a_repeated_diagnostic_is_recorded_once),
          TEST_ENTRY(file_values_win_over_code),
          TEST_ENTRY(loaded_values_carry_positions),
          TEST_ENTRY(application_path_is_the_files_folder),
          TEST_ENTRY(syntax_errors_become_diagnostics), TEST_ENTRY(sub_tables_are_dotted_keys),
          TEST_ENTRY(write_round_trips), TEST_ENTRY(code_config_round_trips),
          TEST_ENTRY(check_reports_code_problems_at_code_position))
