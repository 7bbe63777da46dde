/* SPDX-License-Identifier: MIT */
/*
 * config_schema.c - the keys weft accepts in each section kind: their type,
 * their default, and whether the engine acts on them.  A key Taipy defines
 * but weft does not implement yet is accepted (a Taipy config.toml loads
 * unchanged) and marked INERT, so that `weft check` warns that it has no
 * effect instead of silently ignoring it.  docs/CONFIG.md lists the same
 * keys with the same defaults and effects; change both together.
 *
 * Defaults that other layers also use (mode names, worker count, broker,
 * queue, attempts) come from util/defaults.h, their one home.
 */
#include "config/config_internal.h"
#include "util/defaults.h"

#include <string.h>

/* An int default in typed-string syntax: INT_DEFAULT(3) is "3:int". */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define INT_DEFAULT(n) STRINGIFY(n) ":int"

#define L WEFT_VALUE_LIST
#define ANY WEFT__ANY
#define USED false
/* A key Taipy defines and weft accepts without acting on it (no default). */
#define INERT(key, type, elem) {key, type, elem, NULL, true}
static const weft__keyspec core_keys[] = {
    {"storage_folder", WEFT_VALUE_STR, ANY, ".weft/", USED},
    INERT("root_folder", WEFT_VALUE_STR, ANY),
    {"application_path", WEFT_VALUE_STR, ANY, NULL, USED},
    INERT("repository_type", WEFT_VALUE_STR, ANY),
    INERT("read_entity_retry", WEFT_VALUE_INT, ANY),
    INERT("version_number", WEFT_VALUE_STR, ANY),
    INERT("force", WEFT_VALUE_BOOL, ANY),
    INERT("core_version", WEFT_VALUE_STR, ANY),
    /* Taipy's CoreSection writes these three as well */
    INERT("taipy_storage_folder", WEFT_VALUE_STR, ANY),
    INERT("repository_properties", ANY, ANY),
    INERT("mode", WEFT_VALUE_STR, ANY), /* Taipy's version mode, not [JOB] mode */
};
static const weft__keyspec job_keys[] = {
    {"mode", WEFT_VALUE_STR, ANY, WEFT__MODE_DEVELOPMENT, USED},
    {"max_nb_of_workers", WEFT_VALUE_INT, ANY, INT_DEFAULT(WEFT__DEFAULT_WORKERS), USED},
    {"broker_url", WEFT_VALUE_STR, ANY, WEFT__DEFAULT_BROKER_URL, USED},
    {"queue", WEFT_VALUE_STR, ANY, WEFT__DEFAULT_QUEUE, USED},
    {"max_attempts", WEFT_VALUE_INT, ANY, INT_DEFAULT(WEFT__DEFAULT_MAX_ATTEMPTS), USED},
    {"broker_ca_file", WEFT_VALUE_STR, ANY, NULL, USED},
    {"broker_cert_file", WEFT_VALUE_STR, ANY, NULL, USED},
    {"broker_key_file", WEFT_VALUE_STR, ANY, NULL, USED},
    {"broker_verify_peer", WEFT_VALUE_BOOL, ANY, "True:bool", USED},
    {"broker_verify_hostname", WEFT_VALUE_BOOL, ANY, "True:bool", USED},
    /* a secret: masked by `weft config`, never logged (docs/CLUSTER.md) */
    {"broker_secret", WEFT_VALUE_STR, ANY, NULL, USED},
};
static const weft__keyspec data_node_keys[] = {
    {"storage_type", WEFT_VALUE_STR, ANY, "pickle", USED},
    {"scope", WEFT_VALUE_SCOPE, ANY, "SCENARIO:SCOPE", USED},
    {"default_path", WEFT_VALUE_STR, ANY, NULL, USED},
    {"path", WEFT_VALUE_STR, ANY, NULL, USED},
    {"has_header", WEFT_VALUE_BOOL, ANY, NULL, USED}, /* default True for csv, see refresh */
    {"default_data", ANY, ANY, NULL, USED},
    {"validity_period", WEFT_VALUE_TIMEDELTA, ANY, NULL, USED},
    INERT("encoding", WEFT_VALUE_STR, ANY),     /* content is bytes, never transcoded */
    /* Python tasks: a csv node as a pandas DataFrame (default) or, with
     * "numpy", a numpy array; C tasks read rows of fields either way */
    {"exposed_type", WEFT_VALUE_STR, ANY, NULL, USED},
    {"read_fct", WEFT_VALUE_FUNCTION, ANY, NULL, USED},
    {"write_fct", WEFT_VALUE_FUNCTION, ANY, NULL, USED},
    /* passed on: generic read_fct/write_fct read them with weft_dn_property() */
    {"read_fct_args", ANY, ANY, NULL, USED},
    {"write_fct_args", ANY, ANY, NULL, USED},
    /* weft's first names of the four above, see key_aliases */
    {"read_fn", WEFT_VALUE_FUNCTION, ANY, NULL, USED},
    {"write_fn", WEFT_VALUE_FUNCTION, ANY, NULL, USED},
    {"read_fn_args", ANY, ANY, NULL, USED},
    {"write_fn_args", ANY, ANY, NULL, USED},
    {"db_engine", WEFT_VALUE_STR, ANY, NULL, USED},
    {"db_name", WEFT_VALUE_STR, ANY, NULL, USED},
    {"sqlite_folder", WEFT_VALUE_STR, ANY, NULL, USED},
    {"sqlite_file_extension", WEFT_VALUE_STR, ANY, NULL, USED}, /* ".db" when unset */
    {"table_name", WEFT_VALUE_STR, ANY, NULL, USED},
    /* sql_table and sql on PostgreSQL; db_password is a secret: masked by
     * `weft config`, never logged nor put in an error message */
    {"db_host", WEFT_VALUE_STR, ANY, NULL, USED},     /* "localhost" when unset */
    {"db_port", WEFT_VALUE_INT, ANY, NULL, USED},     /* 5432 when unset */
    {"db_username", WEFT_VALUE_STR, ANY, NULL, USED},
    {"db_password", WEFT_VALUE_STR, ANY, NULL, USED},
    {"db_extra_args", ANY, ANY, NULL, USED}, /* a table of libpq keywords: "db_extra_args.KEY" */
    INERT("db_driver", WEFT_VALUE_STR, ANY),  /* SQLAlchemy's; libpq needs none */
    {"read_query", WEFT_VALUE_STR, ANY, NULL, USED},
    {"write_query", ANY, ANY, NULL, USED}, /* weft's: SQL, or a list of SQL statements */
    INERT("write_query_builder", WEFT_VALUE_FUNCTION, ANY), /* Taipy's: a Python function */
    INERT("append_query_builder", WEFT_VALUE_FUNCTION, ANY),
    /* parquet, mongo_collection and s3_object: accepted, but this build
     * has no reader for them (weft check warns, a job that uses one fails) */
    INERT("collection_name", WEFT_VALUE_STR, ANY),
    INERT("custom_document", ANY, ANY),
    INERT("engine", WEFT_VALUE_STR, ANY),
    INERT("compression", WEFT_VALUE_STR, ANY),
    INERT("read_kwargs", ANY, ANY),
    INERT("write_kwargs", ANY, ANY),
    INERT("aws_access_key", WEFT_VALUE_STR, ANY),
    INERT("aws_secret_access_key", WEFT_VALUE_STR, ANY),
    INERT("aws_s3_bucket_name", WEFT_VALUE_STR, ANY),
    INERT("aws_s3_object_key", WEFT_VALUE_STR, ANY),
    INERT("aws_region", WEFT_VALUE_STR, ANY),
    INERT("aws_s3_client_parameters", ANY, ANY),
    INERT("aws_s3_get_object_parameters", ANY, ANY),
    INERT("aws_s3_put_object_parameters", ANY, ANY),
    {"sheet_name", ANY, ANY, NULL, USED}, /* excel: a sheet's name or a list of them */
};
static const weft__keyspec task_keys[] = {
    {"function", WEFT_VALUE_FUNCTION, ANY, NULL, USED},
    {"command", L, WEFT_VALUE_STR, NULL, USED},
    {"inputs", L, WEFT_VALUE_SECTION, "[]", USED},
    {"outputs", L, WEFT_VALUE_SECTION, "[]", USED},
    {"skippable", WEFT_VALUE_BOOL, ANY, "False:bool", USED},
    {"timeout", WEFT_VALUE_TIMEDELTA, ANY, NULL, USED},
};
static const weft__keyspec scenario_keys[] = {
    {"tasks", L, WEFT_VALUE_SECTION, "[]", USED},
    /* references are still checked: a typo there is an error either way */
    INERT("additional_data_nodes", L, WEFT_VALUE_SECTION),
    /* instances join the cycle of their creation date (core/cycle.c) */
    {"frequency", WEFT_VALUE_FREQUENCY, ANY, NULL, USED},
    /* [SCENARIO.x.sequences] name = [task ids]: "sequences.<name>" keys,
     * checked by config_check.c (each task one of the scenario's) */
    {"sequences", ANY, ANY, NULL, USED},
    INERT("comparators", ANY, ANY),
};
#undef L
#undef ANY
#undef USED
#undef INERT

#define COUNT(a) (sizeof a / sizeof a[0])

const weft__keyspec *weft__keyspecs(weft__kind kind, size_t *n)
{
    switch (kind) {
    case WEFT__CORE: *n = COUNT(core_keys); return core_keys;
    case WEFT__JOB: *n = COUNT(job_keys); return job_keys;
    case WEFT__DATA_NODE: *n = COUNT(data_node_keys); return data_node_keys;
    case WEFT__TASK: *n = COUNT(task_keys); return task_keys;
    case WEFT__SCENARIO: *n = COUNT(scenario_keys); return scenario_keys;
    /* Taipy's GlobalAppConfig has no fixed keys: every one is a property */
    case WEFT__TAIPY:
    case WEFT__OTHER: break;
    }
    *n = 0;
    return NULL;
}

const weft__keyspec *weft__keyspec_find(weft__kind kind, const char *key)
{
    size_t n;
    const weft__keyspec *ks = weft__keyspecs(kind, &n);
    const char *dot = strchr(key, '.');
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ks[i].key, key) == 0) return &ks[i];
        /* "sequences.monthly" comes from a [SCENARIO.x.sequences] sub-table */
        if (dot && ks[i].type == WEFT__ANY && strlen(ks[i].key) == (size_t)(dot - key) &&
            strncmp(ks[i].key, key, (size_t)(dot - key)) == 0)
            return &ks[i];
    }
    return NULL;
}

/* Keys weft named before it followed Taipy's names.  Configs written with
 * the old names keep working: a lookup of either name finds the other, and
 * `weft check` reports a section that sets both. */
static const struct {
    weft__kind kind;
    const char *key, *old;
} key_aliases[] = {
    {WEFT__DATA_NODE, "read_fct", "read_fn"},
    {WEFT__DATA_NODE, "write_fct", "write_fn"},
    {WEFT__DATA_NODE, "read_fct_args", "read_fn_args"},
    {WEFT__DATA_NODE, "write_fct_args", "write_fn_args"},
};

const char *weft__key_alias(weft__kind kind, const char *key, bool *is_old)
{
    for (size_t i = 0; i < COUNT(key_aliases); i++) {
        if (key_aliases[i].kind != kind) continue;
        if (is_old) *is_old = strcmp(key_aliases[i].old, key) == 0;
        if (strcmp(key_aliases[i].key, key) == 0) return key_aliases[i].old;
        if (strcmp(key_aliases[i].old, key) == 0) return key_aliases[i].key;
    }
    return NULL;
}

const char *weft__keyspec_default(weft__kind kind, const char *key)
{
    const weft__keyspec *ks = weft__keyspec_find(kind, key);
    return ks ? ks->def : NULL;
}

/* Read only by what connects to the broker: a command that never connects
 * (weft jobs, show, ...) must not need them (a password kept in the
 * environment of the machines that run and serve jobs, not everywhere). */
static const char *const connection_keys[] = {
    "broker_url", "queue", "broker_ca_file", "broker_cert_file", "broker_key_file",
    "broker_verify_peer", "broker_verify_hostname",
};

bool weft__keyspec_is_connection(weft__kind kind, const char *key)
{
    for (size_t i = 0; kind == WEFT__JOB && i < sizeof connection_keys / sizeof *connection_keys; i++)
        if (strcmp(connection_keys[i], key) == 0) return true;
    return false;
}

const char *const *weft__connection_keys(size_t *n)
{
    *n = sizeof connection_keys / sizeof *connection_keys;
    return connection_keys;
}

static const char *const kind_names[] = {"CORE",     "JOB",   "DATA_NODE", "TASK",
                                         "SCENARIO", "TAIPY", ""};

const char *weft__kind_name(weft__kind kind) { return kind_names[kind]; }

weft__kind weft__kind_of(const char *section, const char **id)
{
    if (id) *id = NULL;
    if (strcmp(section, "CORE") == 0) return WEFT__CORE;
    if (strcmp(section, "JOB") == 0) return WEFT__JOB;
    if (strcmp(section, "TAIPY") == 0) return WEFT__TAIPY;
    for (int k = WEFT__DATA_NODE; k <= WEFT__SCENARIO; k++) {
        size_t n = strlen(kind_names[k]);
        if (strncmp(section, kind_names[k], n) == 0 && section[n] == '.' && section[n + 1]) {
            if (id) *id = section + n + 1;
            return (weft__kind)k;
        }
    }
    return WEFT__OTHER;
}
