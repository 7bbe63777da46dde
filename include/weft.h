/*
 * weft.h - the one public header of libweft, a job orchestration engine.
 *
 * weft runs data pipelines declared in a TOML file compatible with Taipy's
 * config.toml: data nodes, tasks that read and write them, and scenarios
 * (DAGs of tasks).  Submitting a scenario creates one job per task; jobs run
 * in development (synchronous), standalone (a pool of worker processes) or
 * cluster (RabbitMQ workers) mode.
 *
 * Conventions used throughout:
 *  - Every handle is opaque; every symbol starts with weft_ / WEFT_.
 *  - Functions that can fail return a weft_err.  Those that take a
 *    `char *err` write a one-line, human-readable explanation into it when
 *    they fail (at most WEFT_ERRBUF_SIZE bytes, NUL-terminated).  `err` may
 *    be NULL, and it is left untouched on success, so calls can be chained
 *    and checked once.
 *  - Ownership is stated on each prototype: "caller frees" means the caller
 *    releases the result with the named function; "borrowed" means the
 *    pointer stays valid for as long as stated and must not be freed.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libweft is built with hidden visibility; what this header declares is exported. */
#pragma GCC visibility push(default)

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING "0.1.0"

/** Size of a caller-owned error buffer (`char err[WEFT_ERRBUF_SIZE]`). */
#define WEFT_ERRBUF_SIZE 1024

/** The version of the library as linked, e.g. "0.1.0" (static string). */
const char *weft_version(void);

/* ------------------------------------------------------------------------ */
/** @name Errors
 *
 * One enum for the whole library.  Values are append-only: a number is never
 * reused or renumbered.
 */
typedef enum weft_err {
    WEFT_OK = 0,          /* 0: success */
    WEFT_ENOMEM = 1,      /* 1: out of memory */
    WEFT_EINVAL = 2,      /* 2: invalid argument */
    WEFT_EIO = 3,         /* 3: input/output error (file, pipe, socket) */
    WEFT_ESYNTAX = 4,     /* 4: TOML syntax error */
    WEFT_ELIMIT = 5,      /* 5: a size or nesting limit was exceeded */
    WEFT_ECONFIG = 6,     /* 6: the configuration is invalid */
    WEFT_ENOTFOUND = 7,   /* 7: no such entity, key, file or symbol */
    WEFT_EEXIST = 8,      /* 8: already exists */
    WEFT_ESTORE = 9,      /* 9: the SQLite store failed */
    WEFT_ESTATE = 10,     /* 10: illegal state or status transition */
    WEFT_ETIMEDOUT = 11,  /* 11: timed out */
    WEFT_ECANCELED = 12,  /* 12: canceled */
    WEFT_EMODE = 13,      /* 13: not available in this execution mode */
    WEFT_ESPAWN = 14,     /* 14: could not start a process */
    WEFT_EBROKER = 15,    /* 15: the message broker failed or refused */
    WEFT_ETASK = 16,      /* 16: a task function or command failed */
    WEFT_EDATA = 17,      /* 17: data node not ready, or its content is malformed */
    WEFT_ELOCKED = 18,    /* 18: data node locked by a running job */
} weft_err;

/** A static English message for `e`; never NULL. */
const char *weft_strerror(weft_err e);

/* ------------------------------------------------------------------------ */
/** @name TOML 1.0 documents
 *
 * A conformant TOML 1.0.0 parser.  A parsed document owns every value in it;
 * value pointers are borrowed and valid until weft_toml_free() of their
 * document.  Tables keep their keys in document order.  Nesting of arrays
 * and tables is limited to WEFT_TOML_MAX_DEPTH levels.
 */
#define WEFT_TOML_MAX_DEPTH 128

typedef struct weft_toml weft_toml;             /**< a parsed document */
typedef struct weft_toml_value weft_toml_value; /**< a node inside a document */

typedef enum weft_toml_type {
    WEFT_TOML_TABLE = 0,
    WEFT_TOML_ARRAY = 1,
    WEFT_TOML_STRING = 2,
    WEFT_TOML_INTEGER = 3,
    WEFT_TOML_FLOAT = 4,
    WEFT_TOML_BOOL = 5,
    WEFT_TOML_DATETIME = 6,       /**< offset date-time, 1979-05-27T07:32:00Z */
    WEFT_TOML_LOCAL_DATETIME = 7, /**< 1979-05-27T07:32:00 */
    WEFT_TOML_LOCAL_DATE = 8,     /**< 1979-05-27 */
    WEFT_TOML_LOCAL_TIME = 9,     /**< 07:32:00 */
} weft_toml_type;

/** The parts of a date-time value; unused parts are zero. */
typedef struct weft_toml_datetime {
    int year, month, day;
    int hour, minute, second;
    int nanosecond;     /**< fraction of a second, truncated to nanoseconds */
    int offset_minutes; /**< for WEFT_TOML_DATETIME: offset from UTC (Z = 0) */
} weft_toml_datetime;

/**
 * Parse `len` bytes of TOML.  `name` is used in error messages (e.g. the
 * file name; "<string>" when NULL).  On success *out is a new document the
 * caller frees with weft_toml_free().  On failure *out is NULL, the result is
 * WEFT_ESYNTAX, WEFT_ELIMIT or WEFT_ENOMEM, and `err` reads
 * "name:line:col: message" (line and column count from 1; the column counts
 * characters, not bytes).
 */
weft_err weft_toml_parse(const char *text, size_t len, const char *name,
                         weft_toml **out, char *err);

/** Read and parse the file at `path` (WEFT_EIO when unreadable). */
weft_err weft_toml_parse_file(const char *path, weft_toml **out, char *err);

/** Free a document and every value in it.  NULL is ignored. */
void weft_toml_free(weft_toml *doc);

/** The root table of `doc` (borrowed, valid until weft_toml_free()). */
const weft_toml_value *weft_toml_root(const weft_toml *doc);

weft_toml_type weft_toml_type_of(const weft_toml_value *v);

/** Number of entries of a table or elements of an array; 0 for scalars. */
size_t weft_toml_len(const weft_toml_value *v);

/** The i-th key of a table in document order (borrowed), NULL if out of range. */
const char *weft_toml_key_at(const weft_toml_value *table, size_t i);

/** The i-th value of a table or array (borrowed), NULL if out of range. */
const weft_toml_value *weft_toml_at(const weft_toml_value *v, size_t i);

/** The value of `key` in `table`, or NULL when absent or not a table. */
const weft_toml_value *weft_toml_get(const weft_toml_value *table, const char *key);

/**
 * Position where a value starts in the source (for a table: its header, or
 * its first key when it is implicit or the root).  `line` and `col` may be NULL.
 */
void weft_toml_pos(const weft_toml_value *v, int *line, int *col);

/** Position of the i-th key of a table. */
void weft_toml_key_pos(const weft_toml_value *table, size_t i, int *line, int *col);

/** A string's bytes (UTF-8, may contain NUL; borrowed); *len gets its length when non-NULL. */
const char *weft_toml_string(const weft_toml_value *v, size_t *len);
int64_t weft_toml_int(const weft_toml_value *v);
double weft_toml_float(const weft_toml_value *v);
bool weft_toml_bool(const weft_toml_value *v);
/** The parts of any of the four date-time kinds. */
weft_toml_datetime weft_toml_get_datetime(const weft_toml_value *v);

/* ------------------------------------------------------------------------ */
/** @name Configuration
 *
 * A weft_config mirrors Taipy's Config: it is built in code, loaded from a
 * config.toml, or both (values from the file win over values set in code, as
 * in Taipy).  Everything the file can say, code can say, and every setting
 * can be read back.
 *
 * Sections are named as in the file: "CORE", "JOB", "DATA_NODE.<id>",
 * "TASK.<id>", "SCENARIO.<id>".  The ids "default" of DATA_NODE, TASK and
 * SCENARIO hold keys that the other sections of the kind inherit.
 *
 * Values are given in Taipy's typed-string syntax "<value>:<type>" with type
 * int, float, bool, str, SECTION, SCOPE, FREQUENCY, timedelta, datetime or
 * function; a string without a known suffix stays a string.  "ENV[NAME]" and
 * "ENV[NAME]:type" take the value from the environment when the config is
 * checked.
 */
typedef struct weft_config weft_config;
typedef struct weft_value weft_value; /**< a typed configuration value */

typedef enum weft_mode {
    WEFT_MODE_DEVELOPMENT = 0, /**< jobs run one by one in the caller's thread */
    WEFT_MODE_STANDALONE = 1,  /**< a dispatcher thread and a pool of worker processes */
    WEFT_MODE_CLUSTER = 2,     /**< jobs go through a RabbitMQ queue to `weft run-worker` */
} weft_mode;

/** "development", "standalone", "cluster" (static), or NULL when out of range. */
const char *weft_mode_name(weft_mode m);

typedef enum weft_scope {
    WEFT_SCOPE_SCENARIO = 0,
    WEFT_SCOPE_CYCLE = 1,
    WEFT_SCOPE_GLOBAL = 2,
} weft_scope;

typedef enum weft_value_type {
    WEFT_VALUE_STR = 0,
    WEFT_VALUE_INT = 1,
    WEFT_VALUE_FLOAT = 2,
    WEFT_VALUE_BOOL = 3,
    WEFT_VALUE_SECTION = 4,   /**< "sales:SECTION": a reference to another section's id */
    WEFT_VALUE_SCOPE = 5,     /**< "SCENARIO:SCOPE" */
    WEFT_VALUE_FREQUENCY = 6, /**< "DAILY:FREQUENCY" (DAILY, WEEKLY, MONTHLY, QUARTERLY, YEARLY) */
    WEFT_VALUE_TIMEDELTA = 7, /**< "1d2h30m:timedelta" */
    WEFT_VALUE_DATETIME = 8,  /**< "2024-01-31T10:00:00:datetime" */
    WEFT_VALUE_FUNCTION = 9,  /**< "module.symbol:function" */
    WEFT_VALUE_LIST = 10,     /**< an array of values */
} weft_value_type;

/** Severity of a diagnostic reported by loading or checking a config. */
typedef enum weft_severity {
    WEFT_SEVERITY_ERROR = 0,
    WEFT_SEVERITY_WARNING = 1,
} weft_severity;

/** One problem found in a configuration.  Strings are borrowed from the config. */
typedef struct weft_diag {
    const char *file; /**< config file name, or "<code>" for settings made in code */
    int line, col;    /**< 1-based; 0 when unknown */
    weft_severity severity;
    const char *message; /**< without the position prefix */
} weft_diag;

/** A new configuration holding only defaults.  Caller frees with weft_config_free(); NULL on ENOMEM. */
weft_config *weft_config_new(void);

/** Free a configuration and every value and diagnostic in it.  NULL is ignored. */
void weft_config_free(weft_config *cfg);

/**
 * Set the job execution mode (Taipy's Config.configure_job_executions).
 * `max_nb_of_workers` <= 0 keeps the current value (default 2); it matters in
 * standalone mode.
 */
weft_err weft_config_configure_job_executions(weft_config *cfg, weft_mode mode,
                                              int max_nb_of_workers, char *err);

/** One extra property of a section, value in typed-string syntax. */
typedef struct weft_property {
    const char *key;
    const char *value;
} weft_property;

/** Options of weft_config_configure_data_node(); NULL/0 members are left unset. */
typedef struct weft_data_node_opts {
    const char *storage_type;   /**< pickle, binary, json, csv, text, in_memory, generic; default pickle */
    const char *scope;          /**< "SCENARIO", "CYCLE" or "GLOBAL"; default SCENARIO */
    const char *default_path;   /**< file path for file-based data nodes */
    const char *validity_period;/**< timedelta text, e.g. "1d" */
    const weft_property *properties; /**< further keys (has_header, default_data, ...) */
    size_t nproperties;
} weft_data_node_opts;

/** Declare (or update) the data node section DATA_NODE.<id>.  The config copies what it needs. */
weft_err weft_config_configure_data_node(weft_config *cfg, const char *id,
                                         const weft_data_node_opts *opts, char *err);

/** Options of weft_config_configure_task(); arrays are NULL-terminated. */
typedef struct weft_task_opts {
    const char *function;        /**< "module.symbol" (the ":function" suffix is optional) */
    const char *const *command;  /**< argv; "{id}" is replaced by data node id's path */
    const char *const *inputs;   /**< data node ids */
    const char *const *outputs;  /**< data node ids */
    bool skippable;
    const char *timeout;         /**< timedelta text, NULL for none */
    const weft_property *properties;
    size_t nproperties;
} weft_task_opts;

/** Declare (or update) the task section TASK.<id>. */
weft_err weft_config_configure_task(weft_config *cfg, const char *id,
                                    const weft_task_opts *opts, char *err);

/** Declare (or update) SCENARIO.<id> made of the NULL-terminated task ids. */
weft_err weft_config_configure_scenario(weft_config *cfg, const char *id,
                                        const char *const *tasks, char *err);

/**
 * Set one key of a section from code.  `section` is "CORE", "JOB",
 * "DATA_NODE.x", ...; `value` is in typed-string syntax ("8:int",
 * "True:bool", "ENV[N]").  The section is created when missing.
 */
weft_err weft_config_set(weft_config *cfg, const char *section, const char *key,
                         const char *value, char *err);

/** Like weft_config_set() for a list value: `n` strings in typed-string syntax. */
weft_err weft_config_set_list(weft_config *cfg, const char *section, const char *key,
                              const char *const *values, size_t n, char *err);

/**
 * Load a config.toml into `cfg`: its values override those set in code.
 * Every problem found is recorded as a diagnostic (see weft_config_diag());
 * the result is WEFT_ESYNTAX for invalid TOML, WEFT_ECONFIG when any
 * diagnostic is an error, WEFT_EIO when the file cannot be read, and `err`
 * holds the first error as "file:line:col: message".  Semantic checks that
 * need the whole config (references, cycles) run in weft_config_check().
 * The folder of `path` becomes the default application path.
 */
weft_err weft_config_load(weft_config *cfg, const char *path, char *err);

/** Like weft_config_load() for text in memory; `name` appears in positions. */
weft_err weft_config_load_string(weft_config *cfg, const char *text, size_t len,
                                 const char *name, char *err);

/**
 * Validate the whole configuration: resolve ENV[...] values, check types,
 * references, cycles and mode constraints.  Appends diagnostics (errors and
 * warnings) to those of loading; returns WEFT_ECONFIG when there is any error,
 * with the first one in `err`.  Idempotent: diagnostics of an earlier check
 * are replaced.
 */
weft_err weft_config_check(weft_config *cfg, char *err);

/** Number of diagnostics recorded so far, in the order found. */
size_t weft_config_ndiags(const weft_config *cfg);

/** The i-th diagnostic (borrowed, valid until the next load/check/free), NULL if out of range. */
const weft_diag *weft_config_diag(const weft_config *cfg, size_t i);

/** Number of errors among the diagnostics. */
size_t weft_config_nerrors(const weft_config *cfg);

/**
 * Write the configuration as TOML that weft_config_load() accepts.  With
 * `raw` false: defaults applied, ENV[...] resolved, inherited keys copied into
 * each section; with `raw` true: the values as written (ENV[...] kept).
 * Credentials in URLs are written as given: callers that print for a person
 * should not pass secrets to a terminal they do not own.
 */
weft_err weft_config_write(const weft_config *cfg, FILE *out, bool raw, char *err);

/** @name Reading a configuration back */

weft_mode weft_config_mode(const weft_config *cfg);
int weft_config_max_nb_of_workers(const weft_config *cfg);
/** [CORE] storage_folder, default ".weft/" (borrowed, valid until the config changes). */
const char *weft_config_storage_folder(const weft_config *cfg);
/** [JOB] broker_url, default "amqp://guest:guest@localhost:5672/%2f" (borrowed). */
const char *weft_config_broker_url(const weft_config *cfg);
/** [JOB] queue, default "weft.jobs" (borrowed). */
const char *weft_config_queue(const weft_config *cfg);
/** Path of the last loaded file, NULL when none (borrowed). */
const char *weft_config_file(const weft_config *cfg);
/** Folder where task modules are looked up: the loaded file's folder, or "." (borrowed). */
const char *weft_config_application_path(const weft_config *cfg);

/** Kinds of section that carry an id. */
typedef enum weft_section_kind {
    WEFT_SECTION_DATA_NODE = 0,
    WEFT_SECTION_TASK = 1,
    WEFT_SECTION_SCENARIO = 2,
} weft_section_kind;

/** Number of sections of `kind`, the "default" ones excluded. */
size_t weft_config_count(const weft_config *cfg, weft_section_kind kind);

/** Id of the i-th section of `kind` in declaration order (borrowed), NULL if out of range. */
const char *weft_config_id_at(const weft_config *cfg, weft_section_kind kind, size_t i);

/**
 * The effective value of `key` in `section` (after inheritance from the
 * kind's "default" section and ENV resolution once checked), or NULL when
 * unset.  Borrowed, valid until the config changes.
 */
const weft_value *weft_config_lookup(const weft_config *cfg, const char *section, const char *key);

/** Number of keys set in `section` (own and inherited), and the i-th of them (borrowed). */
size_t weft_config_nkeys(const weft_config *cfg, const char *section);
const char *weft_config_key_at(const weft_config *cfg, const char *section, size_t i);

weft_value_type weft_value_type_of(const weft_value *v);
/**
 * Text of a scalar without its type suffix: "8", "True", "sales" (SECTION),
 * "SCENARIO" (SCOPE), "1d2h30m" (timedelta), "pipeline.summarize"
 * (function).  Borrowed.
 */
const char *weft_value_text(const weft_value *v);
int64_t weft_value_int(const weft_value *v);
double weft_value_float(const weft_value *v);
bool weft_value_bool(const weft_value *v);
/** A timedelta in milliseconds. */
int64_t weft_value_timedelta_ms(const weft_value *v);
weft_scope weft_value_scope(const weft_value *v);
/** Number of elements of a list (0 for scalars), and the i-th element (borrowed). */
size_t weft_value_len(const weft_value *v);
const weft_value *weft_value_at(const weft_value *v, size_t i);
/** Where the value was set: file (borrowed; "<code>" when set in code), line, col (0 when unknown). */
void weft_value_pos(const weft_value *v, const char **file, int *line, int *col);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
