/* SPDX-License-Identifier: MIT */
/* test_check.c - `weft check` and `weft config` on files written in the test's temp dir:
 * one test per kind of error (exact file:line:col prefix, message, exit status), warnings,
 * the summary line, and the command line (usage errors, help, version). */
#include "test.h"
#include "weft.h"

#include <stdarg.h>

/* Writes config.toml and runs `ENV weft ARGS` (ENV: variable assignments or ""). */
static int run(const char *env, const char *args, const char *toml, char **out)
{
    char cmd[4096];
    if (toml) test_write_file("config.toml", toml);
    /* the Python modules of the fixtures' task functions: weft check looks
     * for them (test_python.c tests what it says when one is missing) */
    test_write_file("m.py", "def a(): pass\ndef b(): pass\ndef f(): pass\n");
    test_write_file("pipeline.py", "def summarize(): pass\n");
    snprintf(cmd, sizeof cmd, "%s %s/weft %s", env ? env : "", test_build_dir(), args);
    return test_run_cmd(cmd, out);
}

/* `weft check` on `toml`: expects exit status 1 and `line` among the output. */
static void expect_error(const char *toml, const char *line)
{
    char *out = NULL;
    int rc = run("", "check", toml, &out);
    ASSERT_CONTAINS(out, line);
    ASSERT_CONTAINS(out, "config.toml: ");
    ASSERT_CONTAINS(out, " error");
    ASSERT_EQ(rc, 1);
    free(out);
}

static const char *VALID =
    "[JOB]\n"
    "mode = \"standalone\"\n"
    "max_nb_of_workers = \"8:int\"\n"
    "[DATA_NODE.sales]\n"
    "storage_type = \"csv\"\n"
    "default_path = \"data/sales.csv\"\n"
    "[DATA_NODE.summary]\n"
    "storage_type = \"json\"\n"
    "[TASK.summarize]\n"
    "function = \"pipeline.summarize:function\"\n"
    "inputs = [\"sales:SECTION\"]\n"
    "outputs = [\"summary:SECTION\"]\n"
    "[SCENARIO.monthly]\n"
    "tasks = [\"summarize:SECTION\"]\n";

TEST(valid_config_is_ok)
{
    char *out = NULL;
    ASSERT_EQ(run("", "check", VALID, &out), 0);
    ASSERT_STR_EQ(out, "config.toml: OK\n");
    free(out);
    /* -c, --config FILE and --config=FILE */
    test_write_file("other.toml", VALID);
    ASSERT_EQ(run("", "check -c other.toml", NULL, &out), 0);
    ASSERT_STR_EQ(out, "other.toml: OK\n");
    free(out);
    ASSERT_EQ(run("", "check --config=other.toml", NULL, &out), 0);
    free(out);
}

TEST(invalid_toml)
{
    expect_error("[JOB]\nmode = \"development\"\n[DATA_NODE.sales\n",
                 "config.toml:3:17: error: expected ']'");
}

TEST(unknown_mode)
{
    expect_error("[JOB]\nmode = \"parallel\"\n",
                 "config.toml:2:8: error: unknown mode 'parallel' (valid modes: development, "
                 "standalone, cluster)");
}

TEST(workers_not_positive)
{
    expect_error("[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = \"0:int\"\n",
                 "config.toml:3:21: error: max_nb_of_workers must be a positive integer, got '0'");
    expect_error("[JOB]\nmax_nb_of_workers = \"eight\"\n",
                 "config.toml:2:21: error: max_nb_of_workers must be a positive integer, got 'eight'");
    expect_error("[JOB]\nmax_nb_of_workers = -2\n",
                 "config.toml:2:21: error: max_nb_of_workers must be a positive integer, got '-2'");
}

TEST(in_memory_outside_development)
{
    expect_error("[JOB]\nmode = \"standalone\"\n[DATA_NODE.cache]\nstorage_type = \"in_memory\"\n",
                 "config.toml:4:16: error: data node 'cache' is in_memory, which only works in "
                 "development mode (mode is standalone)");
    char *out = NULL;
    ASSERT_EQ(run("", "check", "[DATA_NODE.cache]\nstorage_type = \"in_memory\"\n", &out), 0);
    free(out);
}

TEST(task_references_undefined_data_node)
{
    expect_error("[DATA_NODE.sales]\n[TASK.t]\nfunction = \"m.f\"\ninputs = [\"sale:SECTION\"]\n",
                 "config.toml:4:11: error: task 't' references undefined data node 'sale' in inputs "
                 "(did you mean 'sales'?)");
    /* a plain string is a reference too; no suggestion when nothing is close */
    expect_error("[DATA_NODE.sales]\n[TASK.t]\nfunction = \"m.f\"\noutputs = [\"zzz\"]\n",
                 "config.toml:4:12: error: task 't' references undefined data node 'zzz' in outputs\n");
}

TEST(scenario_references_undefined_task)
{
    expect_error("[TASK.summarize]\nfunction = \"m.f\"\n[SCENARIO.s]\ntasks = [\"sumarize:SECTION\"]\n",
                 "config.toml:4:10: error: scenario 's' references undefined task 'sumarize' in tasks "
                 "(did you mean 'summarize'?)");
    expect_error("[SCENARIO.s]\nadditional_data_nodes = [\"nope\"]\n",
                 "config.toml:2:26: error: scenario 's' references undefined data node 'nope' in "
                 "additional_data_nodes");
}

TEST(task_without_function_or_command)
{
    expect_error("[JOB]\n\n[TASK.t]\nskippable = true\n",
                 "config.toml:3:1: error: task 't' has neither function nor command (set exactly one)");
}

TEST(task_with_function_and_command)
{
    expect_error("[TASK.t]\nfunction = \"m.f\"\ncommand = [\"true\"]\n",
                 "config.toml:3:11: error: task 't' has both function and command (set exactly one)");
}

TEST(cycle_among_tasks)
{
    expect_error("[DATA_NODE.d]\n[DATA_NODE.e]\n"
                 "[TASK.a]\nfunction = \"m.a\"\ninputs = [\"e\"]\noutputs = [\"d\"]\n"
                 "[TASK.b]\nfunction = \"m.b\"\ninputs = [\"d\"]\noutputs = [\"e\"]\n"
                 "[SCENARIO.s]\ntasks = [\"a\", \"b\"]\n",
                 "config.toml:12:9: error: scenario 's' has a cycle among its tasks: a -> b -> a");
}

TEST(two_tasks_write_one_data_node)
{
    expect_error("[DATA_NODE.d]\n"
                 "[TASK.a]\nfunction = \"m.a\"\noutputs = [\"d\"]\n"
                 "[TASK.b]\nfunction = \"m.b\"\noutputs = [\"d:SECTION\"]\n"
                 "[SCENARIO.s]\ntasks = [\"a\", \"b\"]\n",
                 "config.toml:9:9: error: tasks 'a' and 'b' of scenario 's' both write data node 'd'");
}

TEST(bad_type_suffix)
{
    expect_error("[JOB]\nmax_nb_of_workers = \"8:integer\"\n",
                 "config.toml:2:21: error: unknown type 'integer' in \"8:integer\" (valid types: int, "
                 "float, bool, str, SECTION, SCOPE, FREQUENCY, timedelta, datetime, function)");
    expect_error("[TASK.t]\nfunction = \"m.f\"\nskippable = \"True:Bool\"\n",
                 "config.toml:3:13: error: unknown type 'Bool' in \"True:Bool\"");
    /* a suffix that is not a type name at all leaves a string alone */
    char *out = NULL;
    ASSERT_EQ(run("", "check", "[JOB]\nmode = \"cluster\"\nbroker_url = \"amqp://h:5672/%2f\"\n", &out), 0);
    free(out);
}

TEST(value_not_of_its_type)
{
    expect_error("[JOB]\nmax_nb_of_workers = \"abc:int\"\n",
                 "config.toml:2:21: error: invalid int value in \"abc:int\": 'abc' is not a valid int");
    expect_error("[DATA_NODE.d]\nscope = \"PLANET\"\n",
                 "config.toml:2:9: error: scope in [DATA_NODE.d] must be a SCOPE (SCENARIO, CYCLE or "
                 "GLOBAL), got 'PLANET'");
    expect_error("[TASK.t]\nfunction = \"m.f\"\ntimeout = \"soon:timedelta\"\n",
                 "config.toml:3:11: error: invalid timedelta value in \"soon:timedelta\"");
}

TEST(env_variable_missing)
{
    char *out = NULL;
    int rc = run("env -u WEFT_TEST_W", "check",
                 "[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = \"ENV[WEFT_TEST_W]:int\"\n", &out);
    ASSERT_CONTAINS(out, "config.toml:3:21: error: environment variable WEFT_TEST_W is not set "
                         "(needed by max_nb_of_workers in [JOB])");
    ASSERT_EQ(rc, 1);
    free(out);
    ASSERT_EQ(run("WEFT_TEST_W=4", "check", NULL, &out), 0);
    free(out);
}

TEST(env_variable_wrong_type)
{
    char *out = NULL;
    int rc = run("WEFT_TEST_W=lots", "check",
                 "[JOB]\nmax_nb_of_workers = \"ENV[WEFT_TEST_W]:int\"\n", &out);
    ASSERT_CONTAINS(out, "config.toml:2:21: error: environment variable WEFT_TEST_W='lots' is not a "
                         "valid int (needed by max_nb_of_workers in [JOB])");
    ASSERT_EQ(rc, 1);
    free(out);
}

TEST(malformed_function)
{
    expect_error("[TASK.t]\nfunction = \"summarize\"\n",
                 "config.toml:2:12: error: malformed function 'summarize' for function in [TASK.t]: "
                 "must be module.symbol (identifiers separated by dots)");
    expect_error("[TASK.t]\nfunction = \"pipe-line.run:function\"\n",
                 "config.toml:2:12: error: invalid function value in \"pipe-line.run:function\": "
                 "malformed function 'pipe-line.run'");
}

TEST(malformed_command)
{
    expect_error("[TASK.t]\ncommand = []\n",
                 "config.toml:2:11: error: command of task 't' must be a non-empty array of strings");
    expect_error("[TASK.t]\ncommand = \"echo hi\"\n",
                 "config.toml:2:11: error: command of task 't' must be a non-empty array of strings");
    expect_error("[TASK.t]\ncommand = [\"sleep\", 5]\n",
                 "config.toml:2:11: error: command of task 't' must be a non-empty array of strings");
}

TEST(command_placeholder_not_an_input_or_output)
{
    expect_error("[DATA_NODE.a]\n[TASK.t]\ncommand = [\"cp\", \"{a}\", \"{b}\"]\ninputs = [\"a\"]\n",
                 "config.toml:3:25: error: command of task 't' uses {b}, which is not an input or output "
                 "of the task");
}

TEST(command_braces_that_are_not_ids_pass_through)
{
    char *out = NULL;
    int rc = run("", "check",
                 "[DATA_NODE.a]\n[DATA_NODE.b]\n[TASK.t]\n"
                 "command = [\"awk\", \"{print $1}\", \"{a}\", \"-v\", \"o={b}\"]\n"
                 "inputs = [\"a\"]\noutputs = [\"b\"]\n",
                 &out);
    ASSERT_STR_EQ(out, "config.toml: OK\n");
    ASSERT_EQ(rc, 0);
    free(out);
}

TEST(unknown_storage_type)
{
    expect_error("[DATA_NODE.d]\nstorage_type = \"jsonn\"\n",
                 "config.toml:2:16: error: unknown storage_type 'jsonn' for data node 'd' (valid: "
                 "pickle, binary, json, csv, text, in_memory, generic, sql_table, sql, excel) (did you mean 'json'?)");
    expect_error("[DATA_NODE.d]\nstorage_type = \"generic\"\n",
                 "config.toml:1:1: error: generic data node 'd' needs read_fct or write_fct");
}

static void expect_ok(const char *toml);
static void expect_warnings(const char *toml, int nwarnings, ...);

TEST(config_ids_are_unique_across_kinds)
{
    expect_error("[DATA_NODE.sales]\n[TASK.other]\nfunction = \"m.f\"\n"
                 "[TASK.sales]\nfunction = \"m.f\"\n",
                 "config.toml:4:1: error: id 'sales' of [TASK.sales] is already the id of "
                 "[DATA_NODE.sales] (config.toml:1:1): a config id must be unique across sections "
                 "of all kinds");
    expect_error("[TASK.t]\nfunction = \"m.f\"\n[SCENARIO.t]\ntasks = [\"t\"]\n",
                 "config.toml:3:1: error: id 't' of [SCENARIO.t] is already the id of [TASK.t] "
                 "(config.toml:1:1)");
    /* "default" is every kind's template, not an id */
    expect_ok("[DATA_NODE.default]\n[TASK.default]\n[SCENARIO.default]\n");
}

TEST(config_ids_are_python_identifiers)
{
    expect_error("[DATA_NODE.\"odd id\"]\n",
                 "config.toml:1:1: error: 'odd id' is not a valid DATA_NODE id: it must be a Python "
                 "identifier: letters, digits and _, not starting with a digit");
    expect_error("[TASK.2nd]\nfunction = \"m.f\"\n",
                 "config.toml:1:1: error: '2nd' is not a valid TASK id: it must be a Python identifier");
    expect_error("[DATA_NODE.a]\n[DATA_NODE.class]\n",
                 "config.toml:2:1: error: 'class' is not a valid DATA_NODE id: it is a Python keyword");
    expect_error("[SCENARIO.MY_SCENARIO]\n",
                 "config.toml:1:1: error: 'MY_SCENARIO' is not a valid SCENARIO id: 'SCENARIO' is "
                 "reserved by Taipy for its entity ids");
    expect_error("[DATA_NODE.rawDATANODE]\n",
                 "config.toml:1:1: error: 'rawDATANODE' is not a valid DATA_NODE id: 'DATANODE' is "
                 "reserved by Taipy for its entity ids");
    /* soft keywords and lower-case words are identifiers; non-ASCII letters too */
    expect_ok("[DATA_NODE.match]\n[DATA_NODE.task_data]\n[DATA_NODE._x1]\n[DATA_NODE.\"caf\u00e9\"]\n");
}

TEST(generic_functions_under_taipy_and_old_names)
{
    expect_ok("[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fct = \"m.read:function\"\n"
              "write_fct = \"m.write:function\"\nread_fct_args = [1]\nwrite_fct_args = [2]\n");
    expect_ok("[DATA_NODE.gen]\nstorage_type = \"generic\"\nwrite_fn = \"m.write:function\"\n");
    expect_error("[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fn = \"m.a:function\"\n"
                 "read_fct = \"m.b:function\"\n",
                 "config.toml:4:1: error: read_fn and read_fct are both set in [DATA_NODE.gen] "
                 "(read_fn is the older name of read_fct): keep one");
    expect_error("[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fct = \"m.a:function\"\n"
                 "write_fct_args = 1\nwrite_fn_args = 2\n",
                 "config.toml:5:1: error: write_fct_args and write_fn_args are both set in "
                 "[DATA_NODE.gen] (write_fn_args is the older name of write_fct_args): keep one");
}

/* Taipy's rules on property names and on generic functions' arguments. */
TEST(property_names_follow_taipy)
{
    expect_error("[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fct = \"m.a:function\"\n"
                 "read_fct_args = \"x\"\n",
                 "config.toml:4:17: error: read_fct_args of data node 'gen' must be a list (its "
                 "items are the function's arguments), e.g. read_fct_args = [\"x\"]");
    expect_error("[DATA_NODE.sales]\n_entity_owner = \"me\"\n",
                 "config.toml:2:1: error: _entity_owner is reserved by Taipy for an entity's owner: "
                 "remove it from [DATA_NODE.sales]");
    expect_error("[DATA_NODE.sales]\n[TASK.clean]\nfunction = \"m.f:function\"\n"
                 "inputs = [\"sales:SECTION\"]\nsales = \"2024\"\n",
                 "config.toml:5:1: error: property 'sales' of [TASK.clean] has the id of its data "
                 "node 'sales' (Taipy makes both attributes of the entity): rename the property");
    const char *scen = "[DATA_NODE.sales]\n[DATA_NODE.extra]\n[TASK.clean]\nfunction = \"m.f:function\"\n"
                       "inputs = [\"sales:SECTION\"]\n[SCENARIO.s]\ntasks = [\"clean:SECTION\"]\n"
                       "additional_data_nodes = [\"extra:SECTION\"]\n%s\n"
                       "[SCENARIO.s.sequences]\nfirst = [\"clean:SECTION\"]\n";
    char toml[1024];
    snprintf(toml, sizeof toml, scen, "clean = 1");
    expect_error(toml, "config.toml:9:1: error: property 'clean' of [SCENARIO.s] has the id of its task");
    snprintf(toml, sizeof toml, scen, "sales = 1");
    expect_error(toml, "config.toml:9:1: error: property 'sales' of [SCENARIO.s] has the id of its data node");
    snprintf(toml, sizeof toml, scen, "extra = 1");
    expect_error(toml, "config.toml:9:1: error: property 'extra' of [SCENARIO.s] has the id of its data node");
    snprintf(toml, sizeof toml, scen, "first = 1");
    expect_error(toml, "config.toml:9:1: error: property 'first' of [SCENARIO.s] has the id of its sequence");
    snprintf(toml, sizeof toml, scen, "owner = 1"); /* named like nothing of the scenario */
    char *out = NULL;
    ASSERT_EQ(run("", "check", toml, &out), 0);
    ASSERT_CONTAINS(out, "config.toml: 0 errors");
    free(out);
}

/* The [TAIPY], [CORE] and [JOB] sections as Taipy 4 exports them: every key
 * is known, none is "unknown"; those weft ignores say so. */
TEST(taipy_export_sections_are_known)
{
    expect_warnings("[TAIPY]\nclean_entities_enabled = \"True:bool\"\n"
                    "[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = \"2:int\"\n"
                    "[CORE]\nroot_folder = \"./taipy/\"\nstorage_folder = \"user_data/\"\n"
                    "taipy_storage_folder = \".taipy/\"\nrepository_type = \"filesystem\"\n"
                    "read_entity_retry = \"0:int\"\nmode = \"development\"\nversion_number = \"\"\n"
                    "force = \"False:bool\"\ncore_version = \"4.0.0\"\n"
                    "[CORE.repository_properties]\ndb_location = \"x.db\"\n",
                    10, "config.toml:2:1: warning: clean_entities_enabled has no effect in weft",
                    "config.toml:7:1: warning: root_folder has no effect in weft",
                    "config.toml:9:1: warning: taipy_storage_folder has no effect in weft",
                    "config.toml:12:1: warning: mode has no effect in weft",
                    "config.toml:17:1: warning: repository_properties.db_location has no effect in weft",
                    (const char *)NULL);
    /* [TAIPY]'s ENV values are resolved and checked like any other's */
    unsetenv("WEFT_NO_SUCH_VAR");
    expect_error("[TAIPY]\nroot_folder = \"ENV[WEFT_NO_SUCH_VAR]\"\n",
                 "config.toml:2:15: error: environment variable WEFT_NO_SUCH_VAR is not set (needed by "
                 "root_folder in [TAIPY])");
}

TEST(warnings_do_not_fail)
{
    char *out = NULL;
    int rc = run("", "check",
                 "[GUI]\nx = 1\n[JOB]\nmode = \"development\"\nmax_nb_of_worker = 3\n"
                 "[DATA_NODE.d]\nstorage_typ = \"csv\"\n[TASK.t]\nfunction = \"m.f\"\nduration = 3\n",
                 &out);
    ASSERT_EQ(rc, 0);
    ASSERT_CONTAINS(out, "config.toml:1:1: warning: section [GUI] ignored\n");
    ASSERT_CONTAINS(out, "config.toml:5:1: warning: unknown key 'max_nb_of_worker' in [JOB] (kept as "
                         "a property) (did you mean 'max_nb_of_workers'?)");
    ASSERT_CONTAINS(out, "config.toml:7:1: warning: unknown key 'storage_typ' in [DATA_NODE.d] (did "
                         "you mean 'storage_type'?)");
    ASSERT_NOT_CONTAINS(out, "duration"); /* task properties are free */
    ASSERT_CONTAINS(out, "config.toml: 0 errors, 3 warnings\n");
    free(out);
    rc = run("", "check", "[TASKS.t]\nfunction = \"m.f\"\n", &out);
    ASSERT_CONTAINS(out, "config.toml:1:2: warning: section [TASKS] ignored (did you mean 'TASK'?)");
    ASSERT_EQ(rc, 0);
    free(out);
}

/* `weft check` on `toml`: expects exit status 0, each of the NULL-terminated
 * lines among the output, and `nwarnings` warnings and no error in the summary. */
static void expect_warnings(const char *toml, int nwarnings, ...)
{
    char *out = NULL, summary[64];
    int rc = run("", "check", toml, &out);
    va_list ap;
    va_start(ap, nwarnings);
    for (const char *line; (line = va_arg(ap, const char *)) != NULL;) ASSERT_CONTAINS(out, line);
    va_end(ap);
    snprintf(summary, sizeof summary, "config.toml: 0 errors, %d warning%s\n", nwarnings,
             nwarnings == 1 ? "" : "s");
    ASSERT_CONTAINS(out, summary);
    ASSERT_NOT_CONTAINS(out, " error:");
    ASSERT_EQ(rc, 0);
    free(out);
}

static void expect_warning(const char *toml, const char *line, int nwarnings)
{
    expect_warnings(toml, nwarnings, line, (const char *)NULL);
}

/* `weft check` on `toml`: expects no diagnostic at all and exit status 0. */
static void expect_ok(const char *toml)
{
    char *out = NULL;
    int rc = run("", "check", toml, &out);
    ASSERT_STR_EQ(out, "config.toml: OK\n");
    ASSERT_EQ(rc, 0);
    free(out);
}

/* a scenario frequency (every spelling Taipy takes) attaches instances to cycles: no warning */
TEST(frequency_has_an_effect)
{
    static const char *const freqs[] = {"MONTHLY:FREQUENCY", "DAILY:FREQUENCY", "weekly",
                                        "QUARTERLY", "YEARLY:FREQUENCY"};
    for (size_t i = 0; i < sizeof freqs / sizeof *freqs; i++) {
        char toml[256];
        snprintf(toml, sizeof toml,
                 "[TASK.t]\nfunction = \"m.f\"\n[SCENARIO.s]\ntasks = [\"t\"]\nfrequency = \"%s\"\n",
                 freqs[i]);
        expect_ok(toml);
    }
    expect_error("[TASK.t]\nfunction = \"m.f\"\n[SCENARIO.s]\ntasks = [\"t\"]\n"
                 "frequency = \"HOURLY:FREQUENCY\"\n",
                 "config.toml:5:13: error: ");
}

TEST(encoding_has_no_effect)
{
    expect_warning("[DATA_NODE.c]\nstorage_type = \"csv\"\nencoding = \"latin-1\"\n",
                   "config.toml:3:1: warning: encoding has no effect in weft\n", 1);
    expect_warning("[DATA_NODE.j]\nstorage_type = \"json\"\n  encoding = \"utf-8\"\n",
                   "config.toml:3:3: warning: encoding has no effect in weft\n", 1);
    /* set once in the default section: one warning, at the key, for every node inheriting it */
    expect_warning("[DATA_NODE.default]\nencoding = \"utf-8\"\n[DATA_NODE.a]\nstorage_type = \"text\"\n"
                   "[DATA_NODE.b]\nstorage_type = \"csv\"\n",
                   "config.toml:2:1: warning: encoding has no effect in weft\n", 1);
}

/* exposed_type chooses what a Python task gets for a csv node: no warning */
TEST(exposed_type_has_an_effect)
{
    expect_ok("[DATA_NODE.c]\nstorage_type = \"csv\"\nexposed_type = \"numpy\"\n");
}

TEST(additional_data_nodes_have_no_effect)
{
    expect_warning("[DATA_NODE.extra]\n[TASK.t]\nfunction = \"m.f\"\n"
                   "[SCENARIO.s]\ntasks = [\"t\"]\nadditional_data_nodes = [\"extra:SECTION\"]\n",
                   "config.toml:6:1: warning: additional_data_nodes has no effect in weft\n", 1);
}

/* CYCLE needs the cycle of a scenario with a frequency: a scenario
 * without one reports each CYCLE node its tasks read or write, at the
 * scenario's section, saying what to add */
TEST(scope_cycle_needs_a_scenario_frequency)
{
    static const char *const nodes =
        "[DATA_NODE.model]\nscope = \"CYCLE:SCOPE\"\n"  /* 1-2 */
        "[DATA_NODE.out]\n"                              /* 3 */
        "[TASK.t]\nfunction = \"m.f\"\ninputs = [\"model:SECTION\"]\n" /* 4-6 */
        "outputs = [\"out:SECTION\"]\n";                  /* 7 */
    char toml[1024];
    snprintf(toml, sizeof toml, "%s[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n", nodes);
    expect_error(toml, "config.toml:8:1: error: data node 'model' has scope CYCLE but scenario 's' "
                       "has no frequency: add frequency = \"MONTHLY:FREQUENCY\" (or DAILY, WEEKLY, "
                       "QUARTERLY, YEARLY) to [SCENARIO.s], or give 'model' the scope SCENARIO or "
                       "GLOBAL\n");
    /* with a frequency it is fine; a CYCLE node no scenario uses is fine */
    snprintf(toml, sizeof toml,
             "%s[SCENARIO.s]\ntasks = [\"t:SECTION\"]\nfrequency = \"MONTHLY:FREQUENCY\"\n", nodes);
    expect_ok(toml);
    expect_ok("[DATA_NODE.d]\nscope = \"CYCLE:SCOPE\"\n");
    /* the scope inherited from a default section, the scenario further down */
    expect_error("[DATA_NODE.default]\nscope = \"cycle\"\n[DATA_NODE.d]\n"
                 "[TASK.t]\nfunction = \"m.f\"\noutputs = [\"d:SECTION\"]\n\n\n"
                 "  [SCENARIO.weekly_s]\ntasks = [\"t:SECTION\"]\n",
                 "config.toml:9:3: error: data node 'd' has scope CYCLE but scenario 'weekly_s' has no "
                 "frequency");
    /* the scopes that need no cycle draw nothing */
    expect_ok("[DATA_NODE.a]\nscope = \"GLOBAL:SCOPE\"\n[DATA_NODE.b]\nscope = \"SCENARIO:SCOPE\"\n"
              "[TASK.t]\nfunction = \"m.f\"\noutputs = [\"a:SECTION\", \"b:SECTION\"]\n"
              "[SCENARIO.s]\ntasks = [\"t:SECTION\"]\n");
}

TEST(taipy_core_keys_have_no_effect)
{
    /* six warnings for six lines: storage_folder, which has an effect, draws none */
    expect_warnings("[CORE]\nroot_folder = \"./taipy/\"\nrepository_type = \"filesystem\"\n"
                    "read_entity_retry = \"1:int\"\nversion_number = \"1.0\"\nforce = \"False:bool\"\n"
                    "core_version = \"3.1\"\nstorage_folder = \"store/\"\n",
                    6, "config.toml:2:1: warning: root_folder has no effect in weft\n",
                    "config.toml:3:1: warning: repository_type has no effect in weft\n",
                    "config.toml:4:1: warning: read_entity_retry has no effect in weft\n",
                    "config.toml:5:1: warning: version_number has no effect in weft\n",
                    "config.toml:6:1: warning: force has no effect in weft\n",
                    "config.toml:7:1: warning: core_version has no effect in weft\n", (const char *)NULL);
}

/* Sequences have an effect now (only comparators warn); see sequences_are_checked. */
TEST(sequences_and_comparators_have_no_effect)
{
    expect_warnings("[TASK.t]\nfunction = \"m.f\"\n[SCENARIO.s]\ntasks = [\"t\"]\n"
                    "comparators = \"m.compare:function\"\n"
                    "[SCENARIO.s.sequences]\nfirst = [\"t:SECTION\"]\n",
                    1, "config.toml:5:1: warning: comparators has no effect in weft\n",
                    (const char *)NULL);
}

TEST(sequences_are_checked)
{
    static const char *tasks = "[TASK.a]\nfunction = \"m.f\"\n[TASK.b]\nfunction = \"m.f\"\n"
                               "[TASK.other]\nfunction = \"m.f\"\n"
                               "[SCENARIO.s]\ntasks = [\"a\", \"b\"]\n";
    /* appended to `tasks` (lines 1-8); expected line, or NULL for a clean check */
    static const struct {
        const char *toml, *line;
    } cases[] = {
        {"[SCENARIO.s.sequences]\nfirst = [\"a:SECTION\", \"b\"]\n", NULL},
        {"[SCENARIO.s.sequences]\nfirst = [\"a\", \"other\"]\n",
         "config.toml:10:15: error: sequence 'first' of scenario 's' names task 'other', which is not "
         "one of the scenario's tasks"},
        {"[SCENARIO.s.sequences]\nfirst = [\"nope\"]\n",
         "config.toml:10:10: error: sequence 'first' of scenario 's' references undefined task 'nope'"},
        {"[SCENARIO.s.sequences]\nfirst = \"a\"\n",
         "config.toml:10:9: error: sequence 'first' of scenario 's' must be a list of task ids"},
        {"sequences = 3\n", "config.toml:9:13: error: sequences of scenario 's' must be a table: "
                            "[SCENARIO.s.sequences] with name = [task ids]"},
        {"[SCENARIO.s.sequences]\n\"first run\" = [\"a\"]\n", NULL},
        {"[SCENARIO.s.sequences]\nb = [\"a\"]\n",
         "config.toml:10:1: error: sequence name 'b' of scenario 's' is also the id of one of its tasks "
         "(Taipy makes both attributes of the scenario)"},
        {"[SCENARIO.s.sequences]\n\"first-run\" = [\"a\"]\n",
         "config.toml:10:1: error: sequence name 'first-run' of scenario 's' is not valid: it must be a "
         "Python identifier"},
        {"[SCENARIO.s.sequences]\nMY_SEQUENCE = [\"a\"]\n",
         "config.toml:10:1: error: sequence name 'MY_SEQUENCE' of scenario 's' is not valid: 'SEQUENCE' "
         "is reserved by Taipy for its entity ids"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char toml[1024];
        snprintf(toml, sizeof toml, "%s%s", tasks, cases[i].toml);
        if (cases[i].line) expect_error(toml, cases[i].line);
        else expect_ok(toml);
    }
    expect_error("[DATA_NODE.d]\n[TASK.w]\nfunction = \"m.f\"\noutputs = [\"d\"]\n[SCENARIO.x]\n"
                 "tasks = [\"w\"]\n[SCENARIO.x.sequences]\nd = [\"w\"]\n",
                 "config.toml:8:1: error: sequence name 'd' of scenario 'x' is also the id of one of its "
                 "data nodes");
}

TEST(keys_with_an_effect_draw_no_warning)
{
    expect_ok("[CORE]\nstorage_folder = \"store/\"\napplication_path = \".\"\n"
              "[JOB]\nmode = \"standalone\"\nmax_nb_of_workers = \"4:int\"\n"
              "broker_url = \"amqp://h:5672/%2f\"\nqueue = \"q\"\nmax_attempts = \"2:int\"\n"
              "broker_ca_file = \"ca.pem\"\nbroker_cert_file = \"c.pem\"\nbroker_key_file = \"k.pem\"\n"
              "broker_verify_peer = \"True:bool\"\nbroker_verify_hostname = \"False:bool\"\n"
              "[DATA_NODE.sales]\nstorage_type = \"csv\"\nscope = \"GLOBAL:SCOPE\"\n"
              "default_path = \"sales.csv\"\npath = \"s.csv\"\nhas_header = \"False:bool\"\n"
              "default_data = \"a,b\"\nvalidity_period = \"1d:timedelta\"\n"
              "[DATA_NODE.gen]\nstorage_type = \"generic\"\nread_fn = \"m.read:function\"\n"
              "write_fn = \"m.write:function\"\nread_fn_args = [1]\nwrite_fn_args = [2]\n"
              "[DATA_NODE.table]\nstorage_type = \"sql_table\"\ndb_engine = \"sqlite\"\n"
              "db_name = \"app\"\nsqlite_folder = \"db\"\nsqlite_file_extension = \".sqlite3\"\n"
              "table_name = \"t\"\n"
              "[TASK.t]\nfunction = \"m.f\"\ninputs = [\"sales\"]\noutputs = [\"gen\"]\n"
              "skippable = \"True:bool\"\ntimeout = \"30:timedelta\"\n"
              "[TASK.c]\ncommand = [\"true\"]\n"
              "[SCENARIO.s]\ntasks = [\"t\", \"c\"]\n");
}

TEST(every_problem_reported_in_file_order)
{
    char *out = NULL;
    int rc = run("", "check",
                 "[SCENARIO.s]\ntasks = [\"nope\"]\n[JOB]\nmode = \"fast\"\nbogus = 1\n"
                 "[TASK.t]\nfunction = \"x\"\n",
                 &out);
    ASSERT_EQ(rc, 1);
    const char *a = strstr(out, "config.toml:2:10: error: scenario 's' references undefined task 'nope'");
    const char *b = strstr(out, "config.toml:4:8: error: unknown mode 'fast'");
    const char *c = strstr(out, "config.toml:5:1: warning: unknown key 'bogus'");
    const char *d = strstr(out, "config.toml:7:12: error: malformed function 'x'");
    ASSERT(a && b && c && d);
    ASSERT(a < b && b < c && c < d);
    ASSERT_CONTAINS(out, "config.toml: 3 errors, 1 warning\n");
    free(out);
}

TEST(usage_errors)
{
    char *out = NULL;
    ASSERT_EQ(run("", "check -c", NULL, &out), 2);
    ASSERT_CONTAINS(out, "weft: option '-c' needs a file name\nTry 'weft help check'.\n");
    free(out);
    ASSERT_EQ(run("", "check --bogus", VALID, &out), 2);
    ASSERT_STR_EQ(out, "weft: unknown option '--bogus'\nTry 'weft help check'.\n");
    free(out);
    ASSERT_EQ(run("", "check extra", NULL, &out), 2);
    ASSERT_CONTAINS(out, "weft: unexpected argument 'extra'");
    free(out);
    ASSERT_EQ(run("", "check -c missing.toml", NULL, &out), 2);
    ASSERT_CONTAINS(out, "weft: cannot read config file missing.toml: No such file or directory");
    free(out);
    ASSERT_EQ(run("", "frobnicate", NULL, &out), 2);
    ASSERT_CONTAINS(out, "weft: 'frobnicate' is not a weft command\nTry 'weft --help'.\n");
    free(out);
    ASSERT_EQ(run("", "config --bogus", NULL, &out), 2);
    ASSERT_CONTAINS(out, "Try 'weft help config'.");
    free(out);
}

TEST(help_and_version)
{
    char *out = NULL;
    ASSERT_EQ(run("", "--version", NULL, &out), 0);
    ASSERT_STR_EQ(out, "weft " WEFT_VERSION_STRING "\n");
    free(out);
    ASSERT_EQ(run("", "--help", NULL, &out), 0);
    ASSERT_CONTAINS(out, "usage: weft");
    ASSERT_CONTAINS(out, "check");
    ASSERT_CONTAINS(out, "config");
    free(out);
    ASSERT_EQ(run("", "help check", NULL, &out), 0);
    ASSERT_CONTAINS(out, "usage: weft check [-c FILE]");
    free(out);
    ASSERT_EQ(run("", "check --help", NULL, &out), 0);
    ASSERT_CONTAINS(out, "usage: weft check [-c FILE]");
    free(out);
}

TEST(config_prints_a_config_check_accepts)
{
    char *out = NULL;
    ASSERT_EQ(run("WEFT_TEST_Q=q1", "config > effective.toml",
                  "[JOB]\nqueue = \"ENV[WEFT_TEST_Q]\"\n[DATA_NODE.default]\nstorage_type = \"csv\"\n"
                  "[DATA_NODE.sales]\n[TASK.t]\nfunction = \"m.f\"\ninputs = [\"sales\"]\n",
                  &out),
              0);
    free(out);
    char *text = test_read_file("effective.toml", NULL);
    ASSERT_CONTAINS(text, "queue = \"q1\"");
    ASSERT_CONTAINS(text, "mode = \"development\"");
    ASSERT_CONTAINS(text, "max_nb_of_workers = \"2:int\"");
    ASSERT_CONTAINS(text, "[DATA_NODE.sales]\nstorage_type = \"csv\"\n");
    ASSERT_CONTAINS(text, "inputs = [\"sales:SECTION\"]");
    free(text);
    ASSERT_EQ(run("", "check -c effective.toml", NULL, &out), 0);
    ASSERT_STR_EQ(out, "effective.toml: OK\n");
    free(out);
    /* the effective config printed again is the same text */
    ASSERT_EQ(run("", "config -c effective.toml > again.toml", NULL, &out), 0);
    free(out);
    char *a = test_read_file("effective.toml", NULL), *b = test_read_file("again.toml", NULL);
    ASSERT_STR_EQ(a, b);
    free(a);
    free(b);
    /* --raw keeps ENV[...] */
    ASSERT_EQ(run("", "config --raw", NULL, &out), 0);
    ASSERT_CONTAINS(out, "queue = \"ENV[WEFT_TEST_Q]\"");
    free(out);
}

TEST(config_masks_broker_passwords)
{
    char *out = NULL;
    ASSERT_EQ(run("", "config",
                  "[JOB]\nmode = \"cluster\"\nbroker_url = \"amqp://app:s3cret@mq.example:5672/%2f\"\n",
                  &out),
              0);
    ASSERT_CONTAINS(out, "broker_url = \"amqp://app:***@mq.example:5672/%2f\"");
    ASSERT_NOT_CONTAINS(out, "s3cret");
    free(out);
    ASSERT_EQ(run("", "config --raw", NULL, &out), 0);
    ASSERT_NOT_CONTAINS(out, "s3cret");
    free(out);
    ASSERT_EQ(run("", "config --show-secrets", NULL, &out), 0);
    ASSERT_CONTAINS(out, "amqp://app:s3cret@mq.example:5672/%2f");
    free(out);
}

TEST(config_refuses_an_invalid_config)
{
    char *out = NULL;
    ASSERT_EQ(run("", "config", "[JOB]\nmode = \"fast\"\n", &out), 1);
    ASSERT_CONTAINS(out, "config.toml:2:8: error: unknown mode 'fast'");
    ASSERT_NOT_CONTAINS(out, "[JOB]");
    free(out);
}

TEST_MAIN(TEST_ENTRY(valid_config_is_ok), TEST_ENTRY(invalid_toml), TEST_ENTRY(unknown_mode),
          TEST_ENTRY(workers_not_positive), TEST_ENTRY(in_memory_outside_development),
          TEST_ENTRY(task_references_undefined_data_node),
          TEST_ENTRY(scenario_references_undefined_task),
          TEST_ENTRY(task_without_function_or_command), TEST_ENTRY(task_with_function_and_command),
          TEST_ENTRY(cycle_among_tasks), TEST_ENTRY(two_tasks_write_one_data_node),
          TEST_ENTRY(bad_type_suffix), TEST_ENTRY(value_not_of_its_type),
          TEST_ENTRY(env_variable_missing), TEST_ENTRY(env_variable_wrong_type),
          TEST_ENTRY(malformed_function), TEST_ENTRY(malformed_command),
          TEST_ENTRY(command_placeholder_not_an_input_or_output),
          TEST_ENTRY(command_braces_that_are_not_ids_pass_through), TEST_ENTRY(unknown_storage_type),
          TEST_ENTRY(generic_functions_under_taipy_and_old_names), TEST_ENTRY(property_names_follow_taipy),
          TEST_ENTRY(taipy_export_sections_are_known), TEST_ENTRY(config_ids_are_unique_across_kinds), TEST_ENTRY(config_ids_are_python_identifiers),
          TEST_ENTRY(warnings_do_not_fail), TEST_ENTRY(frequency_has_an_effect),
          TEST_ENTRY(encoding_has_no_effect), TEST_ENTRY(exposed_type_has_an_effect),
          TEST_ENTRY(additional_data_nodes_have_no_effect),
          TEST_ENTRY(scope_cycle_needs_a_scenario_frequency), TEST_ENTRY(taipy_core_keys_have_no_effect),
          TEST_ENTRY(sequences_and_comparators_have_no_effect), TEST_ENTRY(sequences_are_checked),
          TEST_ENTRY(keys_with_an_effect_draw_no_warning),
          TEST_ENTRY(every_problem_reported_in_file_order),
          TEST_ENTRY(usage_errors), TEST_ENTRY(help_and_version),
          TEST_ENTRY(config_prints_a_config_check_accepts),
          TEST_ENTRY(config_masks_broker_passwords),
          TEST_ENTRY(config_refuses_an_invalid_config))
