/* SPDX-License-Identifier: MIT */
/*
 * config_check.c - validation of a whole configuration (weft_config_check):
 * ENV[...] resolution results, value types, unknown keys and sections with
 * "did you mean" suggestions, keys that are accepted but have no effect in
 * weft (the schema marks them), execution-mode constraints, references between
 * sections, task definitions (function xor command, command placeholders),
 * and the task graph of each scenario (cycles, two writers of one node).
 *
 * Taipy silently drops references to undefined sections; weft reports them,
 * because a typo there otherwise surfaces as a confusing run-time failure.
 */
#include "config/config_internal.h"
#include "util/defaults.h"
#include "util/similar.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- did you mean ---- */

/* " (did you mean 'x'?)" or "", in a caller buffer. */
static const char *suggest(char *buf, size_t size, const char *word, const char *const *cands,
                           size_t n)
{
    const char *c = weft__closest(word, cands, n);
    buf[0] = '\0';
    if (c) snprintf(buf, size, " (did you mean '%s'?)", c);
    return buf;
}

/* ---- helpers ---- */

typedef struct check_ctx {
    weft_config *cfg;
    weft_err e; /* first ENOMEM */
    const char *mode;
} check_ctx;

#define DIAG(c, file, line, col, sev, ...)                                                      \
    do {                                                                                         \
        if (!(c)->e) (c)->e = weft__diag_add((c)->cfg, file, line, col, sev, __VA_ARGS__);       \
    } while (0)
#define DIAGV(c, v, sev, ...) DIAG(c, (v)->file, (v)->line, (v)->col, sev, __VA_ARGS__)
#define ERR WEFT_SEVERITY_ERROR
#define WARN WEFT_SEVERITY_WARNING

static const weft_value *eff(const weft__section *s, const char *key)
{
    const weft__entry *e = weft__eff_find(s, key);
    return e ? e->val : NULL;
}

/* Usable: present, converted, and its ENV (if any) resolved. */
static bool usable(const weft_value *v)
{
    return v && !v->bad && v->env_state != WEFT__ENV_MISSING && v->env_state != WEFT__ENV_BAD;
}

static const char *env_note(const weft_value *v, char *buf, size_t size)
{
    buf[0] = '\0';
    if (v && v->env) snprintf(buf, size, " (from environment variable %s)", v->env);
    return buf;
}

/* Collects the ids of sections of `kind` (excluding "default"); caller frees the array. */
static const char **ids_of(const weft_config *cfg, weft__kind kind, size_t *n)
{
    const char **ids = malloc((cfg->nsecs + 1) * sizeof *ids);
    *n = 0;
    if (!ids) return NULL;
    for (size_t i = 0; i < cfg->nsecs; i++)
        if (cfg->secs[i].kind == kind && !cfg->secs[i].is_default) ids[(*n)++] = cfg->secs[i].id;
    return ids;
}

static const weft__section *find_kind(const weft_config *cfg, weft__kind kind, const char *id)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", weft__kind_name(kind), id) >= sizeof name)
        return NULL;
    const weft__section *s = weft__section_find(cfg, name);
    return s && !s->is_default ? s : NULL;
}

static bool list_has(const weft_value *list, const char *id)
{
    for (size_t i = 0; list && list->type == WEFT_VALUE_LIST && i < list->n; i++)
        if (usable(list->items[i]) && list->items[i]->type == WEFT_VALUE_SECTION &&
            strcmp(list->items[i]->text, id) == 0)
            return true;
    return false;
}

/* ---- ENV and types ---- */

static void check_env(check_ctx *c, const weft__section *s, const char *key, const weft_value *v)
{
    if (v->type == WEFT_VALUE_LIST) {
        for (size_t i = 0; i < v->n; i++) check_env(c, s, key, v->items[i]);
        return;
    }
    if (v->env_state == WEFT__ENV_MISSING && weft__keyspec_is_connection(s->kind, key))
        DIAGV(c, v, WARN, "environment variable %s is not set (needed by %s in [%s] to connect "
              "to the broker)", v->env, key, s->name);
    else if (v->env_state == WEFT__ENV_MISSING)
        DIAGV(c, v, ERR, "environment variable %s is not set (needed by %s in [%s])", v->env, key,
             s->name);
    else if (v->env_state == WEFT__ENV_BAD)
        DIAGV(c, v, ERR, "environment variable %s='%s' is not a valid %s (needed by %s in [%s])",
             v->env, getenv(v->env) ? getenv(v->env) : "", weft__type_names[v->type], key, s->name);
}

static bool has_bad(const weft_value *v)
{
    if (v->bad || v->env_state == WEFT__ENV_MISSING || v->env_state == WEFT__ENV_BAD) return true;
    for (size_t i = 0; i < v->n; i++)
        if (has_bad(v->items[i])) return true;
    return false;
}

static const char *type_desc(weft_value_type t)
{
    switch (t) {
    case WEFT_VALUE_STR: return "a string";
    case WEFT_VALUE_INT: return "an int";
    case WEFT_VALUE_FLOAT: return "a float";
    case WEFT_VALUE_BOOL: return "a bool (True:bool or False:bool)";
    case WEFT_VALUE_SECTION: return "a section id";
    case WEFT_VALUE_SCOPE: return "a SCOPE (SCENARIO, CYCLE or GLOBAL)";
    case WEFT_VALUE_FREQUENCY: return "a FREQUENCY (DAILY, WEEKLY, MONTHLY, QUARTERLY or YEARLY)";
    case WEFT_VALUE_TIMEDELTA: return "a timedelta (e.g. 1d2h30m, units d h m s, or plain seconds)";
    case WEFT_VALUE_DATETIME: return "a datetime (ISO 8601, e.g. 2024-01-31T10:00:00)";
    case WEFT_VALUE_FUNCTION: return "a function (module.symbol)";
    case WEFT_VALUE_LIST: return "a list";
    }
    return "a value";
}

static void check_type(check_ctx *c, const weft__section *s, const char *key, const weft_value *v)
{
    const weft__keyspec *ks = weft__keyspec_find(s->kind, key);
    char note[300];
    if (!ks || ks->type == WEFT__ANY || has_bad(v)) return;
    if (strcmp(key, "max_nb_of_workers") == 0 || strcmp(key, "max_attempts") == 0 ||
        strcmp(key, "command") == 0)
        return; /* their own, more precise messages */
    env_note(v, note, sizeof note);
    if (ks->type == WEFT_VALUE_LIST) {
        bool ok = v->type == WEFT_VALUE_LIST;
        for (size_t i = 0; ok && i < v->n; i++) ok = v->items[i]->type == ks->elem;
        if (!ok)
            DIAGV(c, v, ERR, "%s in [%s] must be a list of %s%s", key, s->name,
                 ks->elem == WEFT_VALUE_SECTION ? "section ids" : "strings", note);
        return;
    }
    if (v->type == ks->type) return;
    if (ks->type == WEFT_VALUE_FUNCTION && v->type == WEFT_VALUE_STR)
        DIAGV(c, v, ERR,
             "malformed function '%s' for %s in [%s]: must be module.symbol (identifiers separated "
             "by dots)%s",
             v->text, key, s->name, note);
    else if (v->type == WEFT_VALUE_LIST)
        DIAGV(c, v, ERR, "%s in [%s] must be %s, not a list%s", key, s->name, type_desc(ks->type),
             note);
    else
        DIAGV(c, v, ERR, "%s in [%s] must be %s, got '%s'%s", key, s->name, type_desc(ks->type),
             v->text, note);
}

/*
 * Unknown keys, and keys that are accepted but have no effect: each raw key
 * is looked up once in its kind's schema (a fixed table of about twenty
 * keys), so a config of N keys is checked in O(N).  Other keys of a task
 * section are free properties (the task reads them) and draw nothing.
 */
static void check_keys(check_ctx *c, const weft__section *s)
{
    size_t n;
    const weft__keyspec *ks = weft__keyspecs(s->kind, &n);
    const char *names[32];
    char dym[300];
    if (n > 32) n = 32;
    for (size_t i = 0; i < n; i++) names[i] = ks[i].key;
    for (size_t i = 0; i < s->nraw; i++) {
        const weft__entry *r = &s->raw[i];
        const weft__keyspec *k = weft__keyspec_find(s->kind, r->key);
        if (s->kind == WEFT__TAIPY || (k && k->no_effect))
            DIAG(c, r->file, r->line, r->col, WARN, "%s has no effect in weft", r->key);
        else if (!k && s->kind != WEFT__TASK && s->kind != WEFT__OTHER)
            DIAG(c, r->file, r->line, r->col, WARN, "unknown key '%s' in [%s]%s%s", r->key, s->name,
                 s->kind == WEFT__JOB ? " (kept as a property)" : "",
                 suggest(dym, sizeof dym, r->key, names, n));
    }
}

/* A key and its old name both written in one section: which one counts
 * would depend on the order of lookups, so neither is picked.  Reported at
 * the second one written.  O(N) per alias pair over the section's keys. */
static void check_aliases(check_ctx *c, const weft__section *s)
{
    for (size_t i = 0; i < s->nraw; i++) {
        bool old;
        const weft__entry *r = &s->raw[i];
        const char *other = weft__key_alias(s->kind, r->key, &old);
        for (size_t j = 0; other && j < i; j++)
            if (strcmp(s->raw[j].key, other) == 0)
                DIAG(c, r->file, r->line, r->col, ERR,
                     "%s and %s are both set in [%s] (%s is the older name of %s): keep one",
                     other, r->key, s->name, old ? r->key : other, old ? other : r->key);
    }
}

/* ---- config ids ---- */

/* Taipy makes every id a Python identifier (ids become attribute names,
 * Config.data_nodes.sales) that is no keyword (Python's keyword.kwlist) and
 * contains none of the words its entity ids start with
 * (taipy/common/config/common/_validate_id.py). */
static const char *const python_keywords[] = {
    "False", "None",   "True",    "and",      "as",     "assert", "async",  "await",
    "break", "class",  "continue", "def",     "del",    "elif",   "else",   "except",
    "finally", "for",  "from",    "global",   "if",     "import", "in",     "is",
    "lambda", "nonlocal", "not",  "or",       "pass",   "raise",  "return", "try",
    "while", "with",   "yield",
};
static const char *const taipy_reserved[] = {"CYCLE", "SCENARIO", "SEQUENCE", "TASK", "DATANODE"};

/* Python identifiers may hold non-ASCII letters: any byte >= 0x80 is taken
 * as one (Python's full Unicode rule is not implemented). */
static bool is_identifier(const char *s)
{
    if (!*s || isdigit((unsigned char)*s)) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!isalnum(*p) && *p != '_' && *p < 0x80) return false;
    return true;
}

/* Why `id` cannot be a config id, or NULL when it can; in `buf`. */
static const char *id_problem(const char *id, char *buf, size_t size)
{
    if (!is_identifier(id))
        return "it must be a Python identifier: letters, digits and _, not starting with a digit";
    for (size_t i = 0; i < sizeof python_keywords / sizeof *python_keywords; i++)
        if (strcmp(id, python_keywords[i]) == 0) return "it is a Python keyword";
    for (size_t i = 0; i < sizeof taipy_reserved / sizeof *taipy_reserved; i++)
        if (strstr(id, taipy_reserved[i])) {
            snprintf(buf, size, "'%s' is reserved by Taipy for its entity ids", taipy_reserved[i]);
            return buf;
        }
    return NULL;
}

/*
 * Each id is valid, and names one section of any kind: Taipy keeps all
 * sections in one namespace of ids and rejects an id used by two kinds.
 * Reported at the later section's header, naming the first.  O(N) with
 * the map of ids seen.
 */
static void check_ids(check_ctx *c)
{
    weft__strmap seen = WEFT__STRMAP_INIT;
    char why[128];
    for (size_t i = 0; i < c->cfg->nsecs && !c->e; i++) {
        weft__section *s = &c->cfg->secs[i];
        if (!s->id || s->is_default || s->kind == WEFT__OTHER) continue;
        const char *problem = id_problem(s->id, why, sizeof why);
        if (problem)
            DIAG(c, s->file, s->line, s->col, ERR, "'%s' is not a valid %s id: %s", s->id,
                 weft__kind_name(s->kind), problem);
        const weft__section *first = weft__strmap_get(&seen, s->id);
        if (first)
            DIAG(c, s->file, s->line, s->col, ERR,
                 "id '%s' of [%s] is already the id of [%s] (%s:%d:%d): a config id must be "
                 "unique across sections of all kinds",
                 s->id, s->name, first->name, first->file, first->line, first->col);
        else if (!c->e)
            c->e = weft__strmap_put(&seen, s->id, s);
    }
    weft__strmap_release(&seen);
}

/* ---- [JOB] ---- */

static void check_positive(check_ctx *c, const weft__section *s, const char *key)
{
    const weft_value *v = eff(s, key);
    char note[300];
    if (!usable(v) || (v->type == WEFT_VALUE_INT && v->i > 0)) return;
    DIAGV(c, v, ERR, "%s must be a positive integer, got %s%s%s%s", key,
         v->type == WEFT_VALUE_LIST ? "a list" : "'", v->type == WEFT_VALUE_LIST ? "" : v->text,
         v->type == WEFT_VALUE_LIST ? "" : "'", env_note(v, note, sizeof note));
}

/* [JOB] broker_secret: the messages' HMAC key.  Never quoted in a
 * diagnostic: only its length and where it comes from. */
static void check_secret(check_ctx *c, const weft_value *v)
{
    if (!usable(v) || v->type != WEFT_VALUE_STR) return;
    size_t n = v->text ? strlen(v->text) : 0;
    if (n == 0)
        DIAGV(c, v, ERR, "broker_secret is empty%s",
              v->env ? " (its environment variable is set to nothing)" : "");
    else if (n > WEFT__SECRET_MAX)
        DIAGV(c, v, ERR, "broker_secret is longer than %d bytes", WEFT__SECRET_MAX);
    else if (n < WEFT__SECRET_MIN)
        DIAGV(c, v, WARN, "broker_secret has %zu characters: use at least %d random ones", n,
              WEFT__SECRET_MIN);
    if (n && !v->env && v->file != WEFT__CODE_FILE) /* code may take it from anywhere */
        DIAGV(c, v, WARN, "broker_secret is written in the file: put it in the environment "
              "(broker_secret = \"ENV[WEFT_BROKER_SECRET]\")");
}

static void check_job(check_ctx *c, const weft__section *s)
{
    static const char *const modes[] = {WEFT__MODE_DEVELOPMENT, WEFT__MODE_STANDALONE,
                                        WEFT__MODE_CLUSTER};
    const weft_value *v = eff(s, "mode");
    char dym[300], note[300];
    if (usable(v)) {
        bool ok = false;
        for (size_t i = 0; i < 3; i++) ok |= v->type == WEFT_VALUE_STR && strcmp(v->text, modes[i]) == 0;
        if (ok)
            c->mode = v->text;
        else
            DIAGV(c, v, ERR,
                  "unknown mode '%s' (valid modes: " WEFT__MODE_DEVELOPMENT ", " WEFT__MODE_STANDALONE
                  ", " WEFT__MODE_CLUSTER ")%s%s",
                 v->text ? v->text : "list", suggest(dym, sizeof dym, v->text ? v->text : "", modes, 3),
                 env_note(v, note, sizeof note));
    }
    check_positive(c, s, "max_nb_of_workers");
    v = eff(s, "max_nb_of_workers");
    if (usable(v) && v->type == WEFT_VALUE_INT && v->i > WEFT__WORKERS_WARN_ABOVE)
        DIAGV(c, v, WARN,
              "max_nb_of_workers = %lld: standalone mode starts one process per worker; more "
              "than %d is rarely useful, and the process or file descriptor limits may start fewer",
              (long long)v->i, WEFT__WORKERS_WARN_ABOVE);
    check_positive(c, s, "max_attempts");
    v = eff(s, "broker_url");
    if (usable(v) && v->type == WEFT_VALUE_STR && strncmp(v->text, "amqp://", 7) != 0 &&
        strncmp(v->text, "amqps://", 8) != 0)
    {
        char shown[512]; /* masked: the value may hold a password */
        weft__url_redact(v->text, shown, sizeof shown);
        DIAGV(c, v, ERR, "broker_url must start with amqp:// or amqps:// (got '%s')%s", shown,
             env_note(v, note, sizeof note));
    }
    check_secret(c, eff(s, "broker_secret"));
}

/* ---- [DATA_NODE.x] ---- */

/* Taipy's generic nodes pass read_fct_args/write_fct_args to their
 * functions as positional arguments: each must be a list (old names too). */
static void check_fct_args(check_ctx *c, const weft__section *s)
{
    static const char *const keys[] = {"read_fct_args", "write_fct_args", "read_fn_args",
                                       "write_fn_args"};
    for (size_t i = 0; i < 4; i++) {
        const weft_value *v = eff(s, keys[i]);
        if (usable(v) && v->type != WEFT_VALUE_LIST)
            DIAGV(c, v, ERR, "%s of data node '%s' must be a list (its items are the function's "
                  "arguments), e.g. %s = [\"%s\"]", keys[i], s->id, keys[i], v->text ? v->text : "");
    }
}

/* sql_table and sql nodes: what each engine needs.  db_password is never
 * quoted in a diagnostic. */
static void check_sql(check_ctx *c, const weft__section *s, const char *type)
{
    const weft_value *eng = eff(s, "db_engine"), *pw = eff(s, "db_password");
    bool table = strcmp(type, "sql_table") == 0;
    if (!eff(s, "db_name") || (table ? !eff(s, "table_name") : !eff(s, "read_query")))
        DIAG(c, s->file, s->line, s->col, ERR, "%s data node '%s' needs db_name and %s", type, s->id,
             table ? "table_name" : "read_query");
    if (!usable(eng) || eng->type != WEFT_VALUE_STR) return;
    if (strcmp(eng->text, "sqlite") != 0 && strcmp(eng->text, "postgresql") != 0) {
        DIAGV(c, eng, ERR, "db_engine of data node '%s' must be 'sqlite' or 'postgresql', got '%s'", s->id,
              eng->text);
        return;
    }
    if (strcmp(eng->text, "postgresql") != 0) return;
    if (!eff(s, "db_username"))
        DIAG(c, s->file, s->line, s->col, ERR, "postgresql data node '%s' needs db_username", s->id);
    if (usable(pw) && pw->type == WEFT_VALUE_STR && pw->text && *pw->text && !pw->env &&
        pw->file != WEFT__CODE_FILE)
        DIAGV(c, pw, WARN, "db_password of data node '%s' is written in the file: put it in the "
              "environment (db_password = \"ENV[PGPASSWORD]\")", s->id);
}

/* The properties Taipy requires of the types weft cannot read
 * (DataNodeConfig._REQUIRED_PROPERTIES): still checked, so that a config
 * gets Taipy's verdict. */
static void check_required(check_ctx *c, const weft__section *s, const char *type)
{
    static const char *const mongo[] = {"db_name", "collection_name", NULL};
    static const char *const s3[] = {"aws_access_key", "aws_secret_access_key", "aws_s3_bucket_name",
                                     "aws_s3_object_key", NULL};
    const char *const *keys = strcmp(type, "mongo_collection") == 0 ? mongo
                              : strcmp(type, "s3_object") == 0      ? s3
                                                                    : NULL;
    for (size_t i = 0; keys && keys[i]; i++)
        if (!eff(s, keys[i]))
            DIAG(c, s->file, s->line, s->col, ERR, "%s data node '%s' needs %s", type, s->id, keys[i]);
}

static void check_data_node(check_ctx *c, const weft__section *s)
{
    static const char *const types[] = {"pickle",  "binary",  "json",      "csv",
                                        "text",    "in_memory", "generic", "sql_table",
                                        "sql",     "excel",   "parquet", "mongo_collection",
                                        "s3_object"};
    const size_t ntypes = sizeof types / sizeof *types;
    const weft_value *st = eff(s, "storage_type");
    char dym[300];
    const char *type = "pickle";
    if (usable(st) && st->type == WEFT_VALUE_STR) {
        bool ok = false;
        for (size_t i = 0; i < ntypes; i++) ok |= strcmp(st->text, types[i]) == 0;
        if (!ok) {
            DIAGV(c, st, ERR,
                 "unknown storage_type '%s' for data node '%s' (valid: pickle, binary, json, csv, "
                 "text, in_memory, generic, sql_table, sql, excel)%s",
                 st->text, s->id, suggest(dym, sizeof dym, st->text, types, ntypes));
            return;
        }
        type = st->text;
    } else if (st) {
        return;
    }
    if (strcmp(type, "parquet") == 0 || strcmp(type, "mongo_collection") == 0 || strcmp(type, "s3_object") == 0) {
        DIAGV(c, st, WARN, "data node '%s': this build of weft cannot read or write storage_type '%s'; a "
              "job that uses it fails", s->id, type);
        check_required(c, s, type);
        return;
    }
    if (strcmp(type, "in_memory") == 0 && c->mode && strcmp(c->mode, WEFT__MODE_DEVELOPMENT) != 0) {
        int line = st->line, col = st->col;
        DIAG(c, st->file, line, col, ERR,
             "data node '%s' is in_memory, which only works in development mode (mode is %s)", s->id,
             c->mode);
    }
    if (strcmp(type, "generic") == 0 && !eff(s, "read_fct") && !eff(s, "write_fct") &&
        !eff(s, "read_fn") && !eff(s, "write_fn"))
        DIAG(c, s->file, s->line, s->col, ERR, "generic data node '%s' needs read_fct or write_fct",
             s->id);
    if (strcmp(type, "generic") == 0) check_fct_args(c, s);
    if (strcmp(type, "sql_table") == 0 || strcmp(type, "sql") == 0) check_sql(c, s, type);
}

/* ---- property names ---- */

/* A free property named `key` in [s] whose value `what` '`key`' is also a
 * child of it: Taipy makes both attributes of the entity (task.sales,
 * scenario.clean), so it refuses the config. */
static void overlap_error(check_ctx *c, const weft__section *s, const weft__entry *r, const char *what)
{
    DIAG(c, r->file, r->line, r->col, ERR,
         "property '%s' of [%s] has the id of its %s '%s' (Taipy makes both attributes of the "
         "entity): rename the property", r->key, s->name, what, r->key);
}

static bool task_io_has(const check_ctx *c, const weft_value *tasks, const char *id)
{
    for (size_t i = 0; tasks && tasks->type == WEFT_VALUE_LIST && i < tasks->n; i++) {
        const weft__section *t = usable(tasks->items[i]) && tasks->items[i]->text
                                     ? find_kind(c->cfg, WEFT__TASK, tasks->items[i]->text) : NULL;
        if (t && (list_has(eff(t, "inputs"), id) || list_has(eff(t, "outputs"), id))) return true;
    }
    return false;
}

/*
 * Taipy's rules on property names: `_entity_owner` is its own
 * (_PREDEFINED_PROPERTIES_KEYS), and a property may not be named like a
 * child of the entity: a task's input or output data node, a scenario's
 * task, data node or sequence.  O(keys x children).
 */
static void check_property_names(check_ctx *c, const weft__section *s)
{
    const weft_value *tasks = eff(s, "tasks");
    char seq[300];
    for (size_t i = 0; i < s->nraw; i++) {
        const weft__entry *r = &s->raw[i];
        if (strcmp(r->key, "_entity_owner") == 0) {
            DIAG(c, r->file, r->line, r->col, ERR,
                 "_entity_owner is reserved by Taipy for an entity's owner: remove it from [%s]",
                 s->name);
            continue;
        }
        if (s->is_default || weft__keyspec_find(s->kind, r->key) || strchr(r->key, '.')) continue;
        snprintf(seq, sizeof seq, "sequences.%s", r->key);
        if (s->kind == WEFT__TASK && (list_has(eff(s, "inputs"), r->key) ||
                                      list_has(eff(s, "outputs"), r->key)))
            overlap_error(c, s, r, "data node");
        else if (s->kind == WEFT__SCENARIO && list_has(tasks, r->key))
            overlap_error(c, s, r, "task");
        else if (s->kind == WEFT__SCENARIO && (task_io_has(c, tasks, r->key) ||
                                               list_has(eff(s, "additional_data_nodes"), r->key)))
            overlap_error(c, s, r, "data node");
        else if (s->kind == WEFT__SCENARIO && eff(s, seq))
            overlap_error(c, s, r, "sequence");
    }
}

/* ---- references ---- */

static void check_refs(check_ctx *c, const weft__section *s, const char *key, weft__kind target)
{
    const weft_value *v = eff(s, key);
    size_t n = 0;
    char dym[300];
    const char **ids = NULL; /* for suggestions, collected at the first missing reference */
    if (!v || v->type != WEFT_VALUE_LIST) return;
    for (size_t i = 0; i < v->n; i++) {
        const weft_value *r = v->items[i];
        if (!usable(r) || r->type != WEFT_VALUE_SECTION || find_kind(c->cfg, target, r->text)) continue;
        if (!ids && !(ids = ids_of(c->cfg, target, &n))) {
            c->e = WEFT_ENOMEM;
            return;
        }
        DIAGV(c, r, ERR, "%s '%s' references undefined %s '%s' in %s%s",
             s->kind == WEFT__TASK ? "task" : "scenario", s->id,
             target == WEFT__TASK ? "task" : "data node", r->text, key,
             suggest(dym, sizeof dym, r->text, ids, n));
    }
    free(ids);
}

/* ---- [TASK.x] ---- */

static bool is_placeholder_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return false;
    return true;
}

static void check_command(check_ctx *c, const weft__section *s, const weft_value *cmd)
{
    bool ok = cmd->type == WEFT_VALUE_LIST && cmd->n > 0;
    for (size_t i = 0; ok && i < cmd->n; i++) ok = cmd->items[i]->type == WEFT_VALUE_STR;
    if (!ok) {
        if (!has_bad(cmd))
            DIAGV(c, cmd, ERR, "command of task '%s' must be a non-empty array of strings", s->id);
        return;
    }
    const weft_value *in = eff(s, "inputs"), *out = eff(s, "outputs");
    for (size_t i = 0; i < cmd->n; i++) {
        const weft_value *arg = cmd->items[i];
        if (!usable(arg)) continue;
        for (const char *p = arg->text; (p = strchr(p, '{')) != NULL; p++) {
            const char *end = strchr(p + 1, '}');
            if (!end) break;
            size_t len = (size_t)(end - p - 1);
            char name[256];
            if (len == 0 || len >= sizeof name) continue;
            memcpy(name, p + 1, len);
            name[len] = '\0';
            /* Only an id-shaped {name} is a placeholder: awk's '{print $1}'
             * and the like pass through unchanged, as the runner leaves them. */
            if (!is_placeholder_name(name)) continue;
            if (!list_has(in, name) && !list_has(out, name))
                DIAGV(c, arg, ERR,
                     "command of task '%s' uses {%s}, which is not an input or output of the task",
                     s->id, name);
            p = end;
        }
    }
}

static void check_task(check_ctx *c, const weft__section *s)
{
    const weft_value *fn = eff(s, "function"), *cmd = eff(s, "command");
    if (!fn && !cmd)
        DIAG(c, s->file, s->line, s->col, ERR,
             "task '%s' has neither function nor command (set exactly one)", s->id);
    else if (fn && cmd)
        DIAGV(c, cmd, ERR, "task '%s' has both function and command (set exactly one)", s->id);
    if (cmd && usable(cmd)) check_command(c, s, cmd);
    check_refs(c, s, "inputs", WEFT__DATA_NODE);
    check_refs(c, s, "outputs", WEFT__DATA_NODE);
}

/* ---- [SCENARIO.x] ---- */

/*
 * The task graph of one scenario, built in O(tasks + data node references)
 * so that a scenario of 100,000 tasks checks in linear time: task a -> b
 * when a writes a data node that b reads.  Data nodes are keyed by id in a
 * hash map to the one task that writes them.
 */
typedef struct graph {
    const weft__section **tasks; /* distinct tasks, in the scenario's order */
    size_t n;
    size_t *adj_start;           /* CSR adjacency: successors of u are */
    size_t *adj;                 /* adj[adj_start[u] .. adj_start[u + 1]) */
} graph;

typedef struct writer {
    const char *dn; /* key, borrowed from the config */
    size_t task;
} writer;

static void free_writer(void *v, void *ud)
{
    (void)ud;
    free(v);
}

/* Iterative depth-first search for a cycle (a chain of 100,000 tasks must
 * not recurse that deep).  Reports the first one found as "a -> b -> a". */
static bool find_cycle(const graph *g, weft__buf *msg, weft_err *e)
{
    int *state = calloc(g->n + 1, sizeof *state); /* 0 new, 1 on the stack, 2 done */
    size_t *stack = calloc(g->n + 1, sizeof *stack), *next = calloc(g->n + 1, sizeof *next);
    bool found = false;
    if (!state || !stack || !next) {
        *e = WEFT_ENOMEM;
        goto done;
    }
    for (size_t root = 0; root < g->n && !found; root++) {
        if (state[root]) continue;
        size_t depth = 0;
        stack[depth++] = root;
        state[root] = 1;
        next[root] = g->adj_start[root];
        while (depth && !found) {
            size_t u = stack[depth - 1];
            if (next[u] == g->adj_start[u + 1]) {
                state[u] = 2;
                depth--;
                continue;
            }
            size_t v = g->adj[next[u]++];
            if (state[v] == 1) {
                size_t k = 0;
                while (stack[k] != v) k++;
                for (; k < depth; k++)
                    if (weft__buf_addf(msg, "%s -> ", g->tasks[stack[k]]->id)) *e = WEFT_ENOMEM;
                if (weft__buf_adds(msg, g->tasks[v]->id)) *e = WEFT_ENOMEM;
                found = true;
            } else if (state[v] == 0) {
                state[v] = 1;
                next[v] = g->adj_start[v];
                stack[depth++] = v;
            }
        }
    }
done:
    free(state);
    free(stack);
    free(next);
    return found && !*e;
}

static bool is_ref(const weft_value *v)
{
    return usable(v) && v->type == WEFT_VALUE_SECTION;
}

/* The distinct defined tasks of the scenario, in its order, into g->tasks. */
static weft_err graph_tasks(const check_ctx *c, const weft_value *tasks, graph *g)
{
    weft__strmap seen = WEFT__STRMAP_INIT;
    weft_err e = WEFT_OK;
    for (size_t i = 0; i < tasks->n && !e; i++) {
        const weft_value *r = tasks->items[i];
        const weft__section *t;
        if (!is_ref(r) || !(t = find_kind(c->cfg, WEFT__TASK, r->text))) continue;
        if (weft__strmap_get(&seen, t->id)) continue;
        if (!(e = weft__strmap_put(&seen, t->id, (void *)t))) g->tasks[g->n++] = t;
    }
    weft__strmap_release(&seen);
    return e;
}

/* Who writes each data node (id -> writer); a second writer is an error
 * reported at the scenario's task list. */
static weft_err graph_writers(check_ctx *c, const weft__section *s, const weft_value *tasks,
                              const graph *g, weft__strmap *writers)
{
    for (size_t a = 0; a < g->n; a++) {
        const weft_value *out = eff(g->tasks[a], "outputs");
        for (size_t i = 0; out && out->type == WEFT_VALUE_LIST && i < out->n; i++) {
            const weft_value *d = out->items[i];
            if (!is_ref(d)) continue;
            writer *w = weft__strmap_get(writers, d->text);
            if (w) {
                if (w->task != a)
                    DIAGV(c, tasks, ERR,
                          "tasks '%s' and '%s' of scenario '%s' both write data node '%s'",
                          g->tasks[w->task]->id, g->tasks[a]->id, s->id, d->text);
                continue;
            }
            if (!(w = malloc(sizeof *w))) return WEFT_ENOMEM;
            *w = (writer){d->text, a};
            if (weft__strmap_put(writers, w->dn, w)) {
                free(w);
                return WEFT_ENOMEM;
            }
        }
    }
    return WEFT_OK;
}

/* Edges writer -> reader in CSR form (g->adj_start zeroed, n + 2 long):
 * a first pass counts each task's successors, a second fills them in. */
static weft_err graph_edges(graph *g, const weft__strmap *writers)
{
    size_t nedges = 0, *fill = NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t u = 0; u < g->n; u++) g->adj_start[u + 1] += g->adj_start[u];
            g->adj = malloc((nedges + 1) * sizeof *g->adj);
            fill = calloc(g->n + 1, sizeof *fill);
            if (!g->adj || !fill) {
                free(fill);
                return WEFT_ENOMEM;
            }
        }
        for (size_t b = 0; b < g->n; b++) {
            const weft_value *in = eff(g->tasks[b], "inputs");
            for (size_t i = 0; in && in->type == WEFT_VALUE_LIST && i < in->n; i++) {
                const writer *w = is_ref(in->items[i]) ? weft__strmap_get(writers, in->items[i]->text)
                                                       : NULL;
                if (!w) continue;
                if (pass == 0) {
                    g->adj_start[w->task + 1]++;
                    nedges++;
                } else {
                    g->adj[g->adj_start[w->task] + fill[w->task]++] = b;
                }
            }
        }
    }
    free(fill);
    return WEFT_OK;
}

static void check_graph(check_ctx *c, const weft__section *s, const weft_value *tasks)
{
    graph g = {0};
    weft__buf msg = WEFT_BUF_INIT;
    weft__strmap writers = WEFT__STRMAP_INIT;
    g.tasks = calloc(tasks->n + 1, sizeof *g.tasks);
    g.adj_start = calloc(tasks->n + 2, sizeof *g.adj_start);
    if (!g.tasks || !g.adj_start || graph_tasks(c, tasks, &g) ||
        graph_writers(c, s, tasks, &g, &writers) || graph_edges(&g, &writers))
        c->e = WEFT_ENOMEM;
    else if (find_cycle(&g, &msg, &c->e))
        DIAGV(c, tasks, ERR, "scenario '%s' has a cycle among its tasks: %s", s->id, msg.data);
    weft__strmap_each(&writers, free_writer, NULL);
    weft__strmap_release(&writers);
    weft__buf_release(&msg);
    free(g.tasks);
    free(g.adj_start);
    free(g.adj);
}

/* One task reference of a sequence: a defined task, and one of the scenario's. */
static void check_sequence_task(check_ctx *c, const weft__section *s, const char *name,
                                const weft_value *tasks, const weft_value *r)
{
    if (!usable(r)) return;
    if ((r->type != WEFT_VALUE_SECTION && r->type != WEFT_VALUE_STR) || !r->text) {
        DIAGV(c, r, ERR, "sequence '%s' of scenario '%s' must list task ids", name, s->id);
    } else if (!find_kind(c->cfg, WEFT__TASK, r->text)) {
        DIAGV(c, r, ERR, "sequence '%s' of scenario '%s' references undefined task '%s'", name, s->id,
              r->text);
    } else if (!list_has(tasks, r->text)) {
        DIAGV(c, r, ERR, "sequence '%s' of scenario '%s' names task '%s', which is not one of the "
              "scenario's tasks", name, s->id, r->text);
    }
}

/* Taipy validates a sequence name as an id once its spaces are spelt
 * TPSPACE (Sequence._new_id), so "first run" is fine and "first-run" is
 * not; weft's sequence ids are formed the same way. */
static void check_sequence_name(check_ctx *c, const weft__section *s, const weft__entry *e,
                                const char *name)
{
    char spelt[256], why[128];
    size_t o = 0;
    for (const char *p = name; *p && o + 8 < sizeof spelt; p++) {
        if (*p == ' ') {
            memcpy(spelt + o, "TPSPACE", 7);
            o += 7;
        } else {
            spelt[o++] = *p;
        }
    }
    spelt[o] = '\0';
    const char *problem = id_problem(spelt, why, sizeof why);
    if (problem)
        DIAG(c, e->file, e->line, e->col, ERR, "sequence name '%s' of scenario '%s' is not valid: %s",
             name, s->id, problem);
}

/* Taipy makes a scenario's sequences, tasks and data nodes attributes of
 * the scenario entity (scenario.<name>), so a sequence name may not be the
 * id of one of its tasks or of their data nodes (_ScenarioConfigChecker).
 * O(tasks x their inputs and outputs). */
static void check_sequence_overlap(check_ctx *c, const weft__section *s, const weft__entry *e,
                                   const char *name, const weft_value *tasks)
{
    const char *what = list_has(tasks, name) ? "task" : NULL;
    for (size_t i = 0; !what && tasks && tasks->type == WEFT_VALUE_LIST && i < tasks->n; i++) {
        const weft__section *t = usable(tasks->items[i]) && tasks->items[i]->text
                                     ? find_kind(c->cfg, WEFT__TASK, tasks->items[i]->text) : NULL;
        if (t && (list_has(eff(t, "inputs"), name) || list_has(eff(t, "outputs"), name)))
            what = "data node";
    }
    if (what)
        DIAG(c, e->file, e->line, e->col, ERR,
             "sequence name '%s' of scenario '%s' is also the id of one of its %ss (Taipy makes "
             "both attributes of the scenario)", name, s->id, what);
}

/*
 * Taipy's sequences: [SCENARIO.s.sequences] name = [task ids], loaded as
 * "sequences.<name>" keys.  A sequence runs a subset of its scenario's task
 * instances, so a task outside the scenario could never run in it.
 */
static void check_sequences(check_ctx *c, const weft__section *s, const weft_value *tasks)
{
    for (size_t i = 0; i < s->neff; i++) {
        const weft__entry *e = &s->eff[i];
        const weft_value *v = e->val;
        if (strncmp(e->key, "sequences", 9) != 0 || (e->key[9] && e->key[9] != '.')) continue;
        if (!usable(v)) continue;
        if (!e->key[9]) {
            DIAGV(c, v, ERR, "sequences of scenario '%s' must be a table: [SCENARIO.%s.sequences] "
                  "with name = [task ids]", s->id, s->id);
            continue;
        }
        const char *name = e->key + 10;
        check_sequence_name(c, s, e, name);
        check_sequence_overlap(c, s, e, name, tasks);
        if (v->type != WEFT_VALUE_LIST) {
            DIAGV(c, v, ERR, "sequence '%s' of scenario '%s' must be a list of task ids", name, s->id);
            continue;
        }
        for (size_t k = 0; k < v->n; k++) check_sequence_task(c, s, name, tasks, v->items[k]);
    }
}

/* A CYCLE data node belongs to the cycle of its scenario: a scenario
 * config without a frequency has no cycle, and Taipy then quietly shares
 * the node like a GLOBAL one.  weft reports it, once per node, at the
 * scenario section (where the frequency is missing).  O(tasks + their
 * data node references). */
static void check_cycle_scope(check_ctx *c, const weft__section *s, const weft_value *tasks)
{
    const weft_value *freq = eff(s, "frequency");
    if ((freq && freq->type == WEFT_VALUE_FREQUENCY) || !tasks || tasks->type != WEFT_VALUE_LIST)
        return;
    static const char *const keys[] = {"inputs", "outputs"};
    for (size_t i = 0; i < tasks->n; i++) {
        const weft_value *t = tasks->items[i];
        const weft__section *ts = usable(t) ? find_kind(c->cfg, WEFT__TASK, t->text) : NULL;
        for (int k = 0; ts && k < 2; k++) {
            const weft_value *dns = eff(ts, keys[k]);
            for (size_t d = 0; dns && dns->type == WEFT_VALUE_LIST && d < dns->n; d++) {
                const weft_value *ref = dns->items[d];
                const weft__section *ds =
                    usable(ref) ? find_kind(c->cfg, WEFT__DATA_NODE, ref->text) : NULL;
                const weft_value *scope = ds ? eff(ds, "scope") : NULL;
                if (!scope || scope->type != WEFT_VALUE_SCOPE || scope->i != WEFT_SCOPE_CYCLE)
                    continue;
                DIAG(c, s->file, s->line, s->col, ERR,
                     "data node '%s' has scope CYCLE but scenario '%s' has no frequency: add "
                     "frequency = \"MONTHLY:FREQUENCY\" (or DAILY, WEEKLY, QUARTERLY, YEARLY) to "
                     "[%s], or give '%s' the scope SCENARIO or GLOBAL",
                     ref->text, s->id, s->name, ref->text);
            }
        }
    }
}

static void check_scenario(check_ctx *c, const weft__section *s)
{
    const weft_value *tasks = eff(s, "tasks");
    check_refs(c, s, "tasks", WEFT__TASK);
    check_sequences(c, s, tasks);
    check_refs(c, s, "additional_data_nodes", WEFT__DATA_NODE);
    if (tasks && tasks->type == WEFT_VALUE_LIST) check_graph(c, s, tasks);
    check_cycle_scope(c, s, tasks);
}

/* ---- entry point ---- */

weft_err weft_config_check(weft_config *cfg, char *err)
{
    if (!cfg) return weft__err(err, WEFT_EINVAL, "weft_config_check: NULL config");
    check_ctx c = {.cfg = cfg};
    weft__diags_clear(&cfg->check_diags);
    cfg->in_check = true;
    c.e = weft__config_refresh(cfg); /* resolves ENV[...] as of now */
    const weft__section *job = weft__section_find(cfg, "JOB");
    if (!c.e && job) check_job(&c, job);
    if (!c.e) check_ids(&c);
    for (size_t i = 0; i < cfg->nsecs && !c.e; i++) {
        const weft__section *s = &cfg->secs[i];
        check_keys(&c, s);
        check_aliases(&c, s);
        if (s->kind == WEFT__DATA_NODE || s->kind == WEFT__TASK || s->kind == WEFT__SCENARIO)
            check_property_names(&c, s);
        /* Inherited values are checked once, in their "default" section. */
        for (size_t k = 0; k < s->nraw; k++) {
            const weft__entry *e = weft__eff_find(s, s->raw[k].key);
            if (!e) continue;
            check_env(&c, s, e->key, e->val);
            check_type(&c, s, e->key, e->val);
        }
        if (s->is_default) continue;
        if (s->kind == WEFT__DATA_NODE) check_data_node(&c, s);
        if (s->kind == WEFT__TASK) check_task(&c, s);
        if (s->kind == WEFT__SCENARIO) check_scenario(&c, s);
    }
    cfg->in_check = false;
    if (c.e) return weft__err(err, c.e, "%s", weft_strerror(c.e));
    for (size_t i = 0; i < weft_config_ndiags(cfg); i++) {
        const weft_diag *d = weft_config_diag(cfg, i);
        if (d->severity != WEFT_SEVERITY_ERROR) continue;
        if (d->line > 0) return weft__err(err, WEFT_ECONFIG, "%s:%d:%d: %s", d->file, d->line, d->col, d->message);
        return weft__err(err, WEFT_ECONFIG, "%s: %s", d->file, d->message);
    }
    return WEFT_OK;
}
