/* SPDX-License-Identifier: MIT */
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

#include <signal.h>
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
/** @name Logging
 *
 * The library never prints.  What it has to tell that is not the result of
 * a call (a broker connection lost and regained, a malformed message
 * dropped, a dispatcher thread that stopped on an error) goes to a log
 * handler: the library-wide one set here, or the one an orchestrator or a
 * worker service was opened with, which takes precedence for what that
 * handle logs.  With no handler, messages are dropped.  The `weft` command
 * installs a handler that writes them to stderr with a timestamp.
 */
typedef enum weft_log_level {
    WEFT_LOG_ERROR = 0, /**< something failed and was not retried */
    WEFT_LOG_WARN = 1,  /**< something failed and is being retried or worked around */
    WEFT_LOG_INFO = 2,  /**< a noteworthy change: reconnected, started, draining */
    WEFT_LOG_DEBUG = 3, /**< detail for debugging */
} weft_log_level;

/**
 * A log handler.  `component` names the part that speaks ("cluster",
 * "worker", "orchestrator"; static), `message` is one line without a
 * trailing newline; both are borrowed for the call.  It may be called from
 * any of the library's threads, concurrently: it must be thread-safe, and
 * must not call back into the handle that logs.
 */
typedef void (*weft_log_fn)(weft_log_level level, const char *component, const char *message,
                            void *userdata);

/**
 * Sets the library-wide handler and the most verbose level it receives
 * (messages above `max_level` are not formatted at all).  `fn` NULL drops
 * every message (the default).  `userdata` is borrowed until replaced.
 * Thread-safe.
 */
void weft_log_set_handler(weft_log_fn fn, void *userdata, weft_log_level max_level);

/** "error", "warn", "info", "debug" (static), or NULL when out of range. */
const char *weft_log_level_name(weft_log_level level);

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

/**
 * Like weft_toml_key_at(), and *len (when non-NULL) gets the key's length:
 * a quoted key may contain NUL ("\u0000"), which strlen() would cut short.
 */
const char *weft_toml_key_at_len(const weft_toml_value *table, size_t i, size_t *len);

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
    const char *storage_type;   /**< pickle, binary, json, csv, excel, text, in_memory, generic; default pickle */
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

/**
 * `weft check`'s look at task functions, after weft_config_check(): each
 * `function` that is neither registered nor a shared object of the
 * application (`application_path`, NULL: the config's) must be a Python
 * module that can be found: a .py file, a package folder or an extension
 * module under the application path, or a module on the Python path.  No
 * user code runs (folders are searched, nothing is imported, no shared
 * object is loaded) unless `import_modules`, which imports each Python
 * module and looks the function up, reporting an import error with
 * Python's message and the file:line inside the module.  Each problem is
 * an error diagnostic at the key's file:line:col (weft_config_diag()).
 * Returns WEFT_OK when the check ran, whatever it found.
 */
weft_err weft_config_check_functions(weft_config *cfg, const char *application_path,
                                     bool import_modules, char *err);

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
/** [JOB] broker_secret, the key that signs cluster messages (borrowed): NULL
 *  when unset, or when it cannot be used (an ENV[...] that is not set);
 *  weft_config_lookup() tells the two apart.  A secret: never print it. */
const char *weft_config_broker_secret(const weft_config *cfg);
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

/**
 * Whether `section` ("TASK.clean", "JOB", ...) is declared; the "default"
 * sections of DATA_NODE, TASK and SCENARIO are not sections of their own
 * and give false.  O(1).
 */
bool weft_config_has_section(const weft_config *cfg, const char *section);

/** Id of the i-th section of `kind` in declaration order (borrowed), NULL if out of range. */
const char *weft_config_id_at(const weft_config *cfg, weft_section_kind kind, size_t i);

/**
 * The effective value of `key` in `section` (after inheritance from the
 * kind's "default" section and ENV resolution once checked), or NULL when
 * unset.  A key with an older name (read_fn for read_fct, ...) is found
 * under either.  Borrowed, valid until the config changes.
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


/* ------------------------------------------------------------------------ */
/** @name Jobs and submissions
 *
 * Submitting a scenario (or a single task) creates a submission and one job
 * per task.  A job is BLOCKED while one of its inputs is not ready, PENDING
 * when it can run, RUNNING, and ends COMPLETED, FAILED, CANCELED, SKIPPED or
 * ABANDONED (an upstream job failed or was canceled).  Every status change
 * is committed to the store, with its time, before anyone is told of it.
 */
typedef enum weft_job_status {
    WEFT_JOB_SUBMITTED = 0,
    WEFT_JOB_BLOCKED = 1,
    WEFT_JOB_PENDING = 2,
    WEFT_JOB_RUNNING = 3,
    WEFT_JOB_CANCELED = 4,
    WEFT_JOB_FAILED = 5,
    WEFT_JOB_COMPLETED = 6,
    WEFT_JOB_SKIPPED = 7,
    WEFT_JOB_ABANDONED = 8,
} weft_job_status;
#define WEFT_JOB_NSTATUS 9

/** "SUBMITTED", "BLOCKED", ... (static), NULL when out of range. */
const char *weft_job_status_name(weft_job_status s);
/** Parses a status name (any case); returns -1 when unknown. */
int weft_job_status_parse(const char *name);
/** True for CANCELED, FAILED, COMPLETED, SKIPPED and ABANDONED. */
bool weft_job_status_is_final(weft_job_status s);
/**
 * Whether a job may go from `from` to `to`.  Allowed: SUBMITTED -> BLOCKED,
 * PENDING, SKIPPED, CANCELED, ABANDONED; BLOCKED -> PENDING, CANCELED,
 * ABANDONED; PENDING -> RUNNING, SKIPPED, CANCELED, ABANDONED; RUNNING ->
 * COMPLETED, FAILED, CANCELED, PENDING (a retry after a lost worker).  Final
 * statuses never change.
 */
bool weft_job_transition_ok(weft_job_status from, weft_job_status to);

typedef enum weft_submission_status {
    WEFT_SUBMISSION_SUBMITTED = 0,
    WEFT_SUBMISSION_BLOCKED = 1,
    WEFT_SUBMISSION_PENDING = 2,
    WEFT_SUBMISSION_RUNNING = 3,
    WEFT_SUBMISSION_CANCELED = 4,
    WEFT_SUBMISSION_FAILED = 5,
    WEFT_SUBMISSION_COMPLETED = 6,
} weft_submission_status;

const char *weft_submission_status_name(weft_submission_status s);
/**
 * A submission's status from its jobs' statuses: FAILED once any job failed;
 * else CANCELED if any was canceled (or abandoned); else RUNNING, PENDING,
 * BLOCKED as any job is; COMPLETED when every job is COMPLETED or SKIPPED.
 */
weft_submission_status weft_submission_status_of(const weft_job_status *jobs, size_t n);

/** A snapshot of a job.  Caller frees with weft_job_info_free(). */
typedef struct weft_job_info {
    char *id;             /**< JOB_<task config id>_<uuid> */
    char *task_id;        /**< the task instance */
    char *task_config_id;
    char *submission_id;
    char *entity_id;      /**< what was submitted: a scenario or task id */
    weft_job_status status;
    int attempt;          /**< 1 for the first run */
    int64_t status_time_us[WEFT_JOB_NSTATUS]; /**< when it entered each status (µs since epoch), 0 if never */
    char *error;          /**< why it failed/was canceled/abandoned; NULL otherwise */
    int exit_code;        /**< command tasks: exit status; -1 when not applicable */
    int signal;           /**< the signal that killed the job's process, 0 if none */
    char *log_tail;       /**< the last 64 KiB of the job's stdout/stderr/log, NULL if none */
    char *worker;         /**< where it ran ("local", "pid 1234", "host:pid"), NULL if it did not run */
} weft_job_info;

void weft_job_info_free(weft_job_info *job);

/** A snapshot of a submission.  Caller frees with weft_submission_info_free(). */
typedef struct weft_submission_info {
    char *id;        /**< SUBMISSION_<uuid> */
    char *entity_id; /**< the scenario, sequence or task submitted */
    char *entity_config_id;
    weft_submission_status status;
    int64_t created_us;
    int64_t finished_us; /**< 0 while not final */
    size_t njobs;
    size_t count[WEFT_JOB_NSTATUS]; /**< number of its jobs in each status */
} weft_submission_info;

void weft_submission_info_free(weft_submission_info *sub);

/* ------------------------------------------------------------------------ */
/** @name Task functions and data nodes, as task code sees them
 *
 * A task function has one signature: `int fn(weft_ctx *ctx)`; non-zero means
 * FAILED.  It reads its inputs and writes its outputs through the context.
 * Functions come from the application's shared objects (`function =
 * "module.symbol:function"` loads `symbol` from `module.so` or
 * `libmodule.so` in the application path, `a/b.so` for `a.b.symbol`) or are
 * registered by the embedding program with weft_register_function().
 * Built-in functions: "weft.noop" (does nothing but write the empty value
 * of each output's storage type: json `null`, csv a table of no rows (the
 * header it had, if any), excel a workbook of one such sheet, sql_table no rows, other types no bytes; so that
 * a no-op task in a chain or a fan-in completes and its downstream tasks
 * can read their inputs), "weft.sleep" and
 * "weft.spin" (sleep or busy-loop for the task's `duration` property, a
 * timedelta or seconds; they write no output).
 */
typedef struct weft_ctx weft_ctx;
typedef struct weft_data_node weft_data_node;
typedef int (*weft_task_fn)(weft_ctx *ctx);

/**
 * Register `fn` under `name` ("module.symbol") for every orchestrator and
 * worker of this process; it wins over a shared object of the same name.
 * Call it before weft_orchestrator_start(): standalone worker processes are
 * started from this program and see the functions registered by then.
 * `name` is copied.  Thread-safe.
 */
weft_err weft_register_function(const char *name, weft_task_fn fn);

size_t weft_ctx_ninputs(const weft_ctx *ctx);
size_t weft_ctx_noutputs(const weft_ctx *ctx);
/** The i-th input/output in the task config's order (borrowed, valid during the call), NULL if out of range. */
weft_data_node *weft_ctx_input(weft_ctx *ctx, size_t i);
weft_data_node *weft_ctx_output(weft_ctx *ctx, size_t i);
/** An input or output by its data node config id, NULL if the task has none such. */
weft_data_node *weft_ctx_data(weft_ctx *ctx, const char *config_id);
/** The job's id, and its task's config id (borrowed, valid during the call). */
const char *weft_ctx_job_id(const weft_ctx *ctx);
const char *weft_ctx_task_config_id(const weft_ctx *ctx);
/** A property of the task's config section (e.g. "duration"), NULL when unset (borrowed). */
const weft_value *weft_ctx_property(const weft_ctx *ctx, const char *key);
/** Appends a line to the job's log (kept in its log tail, shown by `weft show`). */
void weft_ctx_log(weft_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Reports progress, e.g. 30 of 100 rows. */
void weft_ctx_progress(weft_ctx *ctx, int64_t done, int64_t total);
/** True once the job was asked to stop (cancel, timeout); the function should return soon. */
bool weft_ctx_canceled(weft_ctx *ctx);
/** Sets the job's failure message; the function then returns non-zero. */
void weft_ctx_fail(weft_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** The data node's instance id, config id and storage type (borrowed). */
const char *weft_dn_id(const weft_data_node *dn);
const char *weft_dn_config_id(const weft_data_node *dn);
const char *weft_dn_storage_type(const weft_data_node *dn);
/** Absolute path of a file-based data node (borrowed), NULL for in_memory/generic. */
const char *weft_dn_path(const weft_data_node *dn);

/**
 * Content by storage type: pickle and binary are opaque bytes, text is text,
 * json must be valid JSON (checked on read and write), csv is the file's
 * bytes (rows with weft_csv_*), excel the workbook's bytes (rows with
 * weft_xlsx_*; a write must be a zip archive), in_memory lives in the process (development
 * mode only), generic calls the node's read_fct/write_fct, and sql_table is
 * its SQLite table (db_name + ".db" in sqlite_folder or the application
 * path, table_name) as a JSON array of row objects; writing one replaces
 * the table in one transaction.  A node with `default_data` and no content
 * yet reads as that value.
 */

/** Reads the whole content (any storage type).  *data is NUL-terminated; caller frees it with free(). */
weft_err weft_dn_read(weft_data_node *dn, char **data, size_t *len, char *err);
/** Replaces the whole content, atomically for files (a retried job never leaves a partial file). */
weft_err weft_dn_write(weft_data_node *dn, const void *data, size_t len, char *err);

struct json_t; /* jansson's json_t */
/** Parses a json data node; caller releases *out with json_decref(). */
weft_err weft_dn_read_json(weft_data_node *dn, struct json_t **out, char *err);
/** Writes `value` (borrowed) as JSON. */
weft_err weft_dn_write_json(weft_data_node *dn, const struct json_t *value, char *err);

/** A key of the data node's DATA_NODE section (e.g. "table_name"), NULL when unset (borrowed). */
const weft_value *weft_dn_property(const weft_data_node *dn, const char *key);

/**
 * Functions of a `generic` data node, named by its `read_fct` and
 * `write_fct` (Taipy's names; the older `read_fn`/`write_fn` still work)
 * ("module.symbol", resolved like task functions).  They return 0 on
 * success.  A read function stores in *data a malloc()ed buffer of *len
 * bytes (weft takes it and frees it); a write function gets the content to
 * store.  They find their settings (e.g. read_fct_args) with
 * weft_dn_property(), where either name of an aliased key finds it.
 */
typedef int (*weft_generic_read_fn)(const weft_data_node *dn, char **data, size_t *len);
typedef int (*weft_generic_write_fn)(const weft_data_node *dn, const void *data, size_t len);

/**
 * CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF).  With
 * has_header (default true) the first row is the header, returned by
 * weft_csv_header() and not by weft_csv_next().
 */
typedef struct weft_csv_reader weft_csv_reader;
typedef struct weft_csv_writer weft_csv_writer;
/** Opens a csv data node for reading; caller closes with weft_csv_close(). */
weft_err weft_csv_open(weft_data_node *dn, weft_csv_reader **out, char *err);
/** Header fields (borrowed until close); *n = 0 without a header. */
const char *const *weft_csv_header(weft_csv_reader *r, size_t *n);
/**
 * Next row: returns 1 with *fields (borrowed until the next call) and *n, 0 at
 * the end, or -1 on a malformed file with "path:line: message" in err.
 */
int weft_csv_next(weft_csv_reader *r, const char *const **fields, size_t *n, char *err);
void weft_csv_close(weft_csv_reader *r);
/**
 * Starts replacing a csv data node; `header` (n fields) may be NULL and is
 * not written when the node's has_header is false.  Fields are quoted only
 * when they need it; lines end with LF.  Finish with weft_csv_commit().
 */
weft_err weft_csv_create(weft_data_node *dn, const char *const *header, size_t n,
                         weft_csv_writer **out, char *err);
weft_err weft_csv_write_row(weft_csv_writer *w, const char *const *fields, size_t n, char *err);
/** Makes the written rows the node's content (atomic rename) and frees `w`. */
weft_err weft_csv_commit(weft_csv_writer *w, char *err);
/** Discards what was written and frees `w`.  NULL is ignored. */
void weft_csv_abort(weft_csv_writer *w);

/**
 * Excel (.xlsx) data nodes, row by row.  A cell is text with a type: a
 * string, a number (its text as stored, e.g. "3.5" or "1E-3"), a boolean
 * ("True" or "False") or empty.  Formulas read as their cached value; error
 * cells (#DIV/0!) as strings; dates as their serial number; an empty
 * string as an empty cell (as it is written).  Gaps in a
 * sheet read as empty cells (and empty rows).  With has_header (default
 * true) a sheet's first row is its header.  The reader holds one row at a
 * time and refuses workbooks that inflate beyond 256 MiB (zip bombs).
 */
typedef enum weft_cell_type {
    WEFT_CELL_EMPTY = 0,
    WEFT_CELL_STRING = 1,
    WEFT_CELL_NUMBER = 2,
    WEFT_CELL_BOOL = 3,
} weft_cell_type;
typedef struct weft_cell {
    weft_cell_type type;
    const char *text; /**< never NULL; "" for an empty cell */
} weft_cell;
typedef struct weft_xlsx_reader weft_xlsx_reader;
typedef struct weft_xlsx_writer weft_xlsx_writer;
/**
 * Opens sheet `sheet` of an excel data node for reading (NULL: the node's
 * sheet_name, its first one for a list, else the workbook's first sheet).
 * A node without a file but with default_data reads that CSV text as one
 * sheet.  WEFT_ENOTFOUND for a missing sheet (err lists those there are),
 * WEFT_EDATA for a missing or malformed file, WEFT_ELIMIT for one too
 * large, WEFT_EIO for one that cannot be read; err is one line naming the
 * file.  Caller closes with weft_xlsx_close().
 */
weft_err weft_xlsx_open(weft_data_node *dn, const char *sheet, weft_xlsx_reader **out, char *err);
/** The workbook's sheet names in order (borrowed until close). */
const char *const *weft_xlsx_sheets(weft_xlsx_reader *r, size_t *n);
/** Header cells (borrowed until close); *n = 0 without a header. */
const weft_cell *weft_xlsx_header(weft_xlsx_reader *r, size_t *n);
/**
 * Next row: returns 1 with *cells (borrowed until the next call) and *n (0
 * for an empty row), 0 at the end, or -1 on a malformed file with
 * "path: part:line:col: message" in err.
 */
int weft_xlsx_next(weft_xlsx_reader *r, const weft_cell **cells, size_t *n, char *err);
void weft_xlsx_close(weft_xlsx_reader *r);
/** Starts replacing an excel data node; add a sheet before writing rows.  Finish with weft_xlsx_commit(). */
weft_err weft_xlsx_create(weft_data_node *dn, weft_xlsx_writer **out, char *err);
/**
 * Starts a sheet (`name` NULL: the node's sheet_name, its first one for a
 * list, else "Sheet1").  `header` (n names, may be NULL) is written as the
 * first row unless the node's has_header is false.  Sheet names follow
 * Excel's rules (31 characters, none of []:*?/\).
 */
weft_err weft_xlsx_add_sheet(weft_xlsx_writer *w, const char *name, const char *const *header,
                             size_t n, char *err);
/** Appends a row to the current sheet; a NUMBER cell's text must be a number, a BOOL's True/False. */
weft_err weft_xlsx_write_row(weft_xlsx_writer *w, const weft_cell *cells, size_t n, char *err);
/** Makes the workbook the node's content (atomic rename) and frees `w`. */
weft_err weft_xlsx_commit(weft_xlsx_writer *w, char *err);
/** Discards what was written and frees `w`.  NULL is ignored. */
void weft_xlsx_abort(weft_xlsx_writer *w);

/* ------------------------------------------------------------------------ */
/** @name The orchestrator
 *
 * An orchestrator runs submissions of one configuration against one store
 * (`<storage_folder>/weft.db`, SQLite in WAL mode).  Only one orchestrator
 * at a time writes a store: opening takes an exclusive lock on the storage
 * folder.  A read-only orchestrator (for `weft jobs` in another terminal)
 * takes no lock and can only query.
 *
 * Opening read-write settles the jobs a dead orchestrator left unfinished,
 * by mode.  Development and standalone: its jobs died with it, so a job
 * left RUNNING becomes FAILED ("orchestrator stopped while the job ran"),
 * its downstream jobs ABANDONED ("upstream job <id> failed"), and every
 * other unfinished job ABANDONED ("orchestrator stopped before the job
 * ran").  Cluster: workers outlive the orchestrator, so its unfinished
 * submissions are resumed and run on: RUNNING jobs are adopted (their
 * results still come through the broker), PENDING ones are dispatched
 * again, BLOCKED ones wait as before, and the orchestrator starts at once.
 * A submission whose task left the configuration cannot be resumed and
 * ends as in the other modes ("cannot resume after an orchestrator
 * restart: ...").
 */
typedef struct weft_orchestrator weft_orchestrator;

typedef struct weft_orchestrator_opts {
    const char *storage_folder;   /**< overrides [CORE] storage_folder when non-NULL */
    const char *application_path; /**< overrides the config's application path when non-NULL */
    bool read_only;               /**< query only: no lock, no recovery, no submit */
    /** What this orchestrator and its executor log (NULL: the library-wide
     *  handler of weft_log_set_handler()); `log_userdata` is borrowed until
     *  weft_orchestrator_close().  `log_level` is the most verbose level passed. */
    weft_log_fn log;
    void *log_userdata;
    weft_log_level log_level;
    /** Set to non-zero (by a signal handler) to give up waiting for the
     *  broker: a start, a first submit or a resuming open in cluster mode
     *  that is connecting fails with WEFT_ECANCELED within about 100 ms,
     *  however the broker fails to answer.  Borrowed until
     *  weft_orchestrator_close(); NULL: none.  (A running submission is
     *  interrupted by weft_submit_opts.interrupt.) */
    volatile sig_atomic_t *interrupt;
} weft_orchestrator_opts;

/**
 * Opens an orchestrator for `cfg`, which must pass weft_config_check()
 * (checked here: WEFT_ECONFIG otherwise).  `cfg` is borrowed and must stay
 * valid and unchanged until weft_orchestrator_close().  `opts` may be NULL.
 * Caller closes *out with weft_orchestrator_close().
 */
weft_err weft_orchestrator_open(const weft_config *cfg, const weft_orchestrator_opts *opts,
                                weft_orchestrator **out, char *err);

/**
 * Checks the store of cfg's storage folder without changing it (what
 * `weft check --store` prints): SQLite's PRAGMA integrity_check, then
 * weft's invariants: no job RUNNING unless an orchestrator holds the
 * storage folder, no orphan rows (job_history, job_deps, tasks, jobs,
 * dn_edits), job statuses consistent with their times and history, no
 * finished submission with an unfinished job, no result recorded twice or
 * by a job that did not complete.  `opts` as for weft_orchestrator_open()
 * (read_only is implied; may be NULL).  *problems gets one line per problem
 * found (caller frees with weft_strv_free()), *nproblems their number, 0 for
 * a healthy store.  WEFT_ENOTFOUND when there is no store; WEFT_ESTORE when
 * it cannot be read (corrupt, not a weft store, other version: err says
 * which and what to do).  Reads the whole store: O(its size).
 */
weft_err weft_store_check(const weft_config *cfg, const weft_orchestrator_opts *opts,
                          char ***problems, size_t *nproblems, char *err);

/**
 * Starts the service part of the orchestrator: the dispatcher thread and the
 * workers (standalone), the broker connection (cluster).  Nothing to start in
 * development mode.  Submitting starts it when needed.
 *
 * Standalone mode forks a fork server here, which later forks the worker
 * processes: workers are copies of this process as it is now.  So register
 * task functions (weft_register_function()) before, and call this from a
 * process that has no other threads yet (before starting threads of your
 * own), because a fork of a multi-threaded process copies locks that other
 * threads may hold.  The fork server and workers exit when this process
 * dies.
 */
weft_err weft_orchestrator_start(weft_orchestrator *o, char *err);

/**
 * Stops the service: with `cancel_running`, running jobs are stopped and
 * every unfinished job is CANCELED (queued) or ABANDONED; otherwise it waits
 * for every submitted job to finish.  Safe to call twice.
 */
weft_err weft_orchestrator_stop(weft_orchestrator *o, bool cancel_running, char *err);

/** Stops (waiting for jobs), closes the store, frees.  NULL is ignored. */
void weft_orchestrator_close(weft_orchestrator *o);

/** The execution mode in use. */
weft_mode weft_orchestrator_mode(const weft_orchestrator *o);

/**
 * Creates a scenario instance of SCENARIO.<config_id>: its tasks and its
 * SCENARIO-scoped data nodes are new; CYCLE-scoped ones are those of its
 * cycle (see weft_scenario_create_with(); created now), GLOBAL ones are
 * shared with every scenario.  *scenario_id (SCENARIO_<config id>_<uuid>)
 * is the caller's to free().
 */
weft_err weft_scenario_create(weft_orchestrator *o, const char *config_id,
                              char **scenario_id, char *err);

/** Options of weft_scenario_create_with(). */
typedef struct weft_scenario_opts {
    /**
     * The scenario's creation date, local time: "YYYY-MM-DD" (midnight) or
     * "YYYY-MM-DDTHH:MM:SS"; NULL for now.  It picks the cycle of a
     * scenario config with a `frequency`.
     */
    const char *creation_date;
} weft_scenario_opts;

/**
 * weft_scenario_create() with options (`opts` may be NULL).  A scenario
 * config with a `frequency` attaches the instance to the cycle of that
 * frequency that contains the creation date, created when missing (Taipy's
 * boundaries: a day, an ISO week from Monday, a month, a calendar quarter,
 * a year, in local time); the first scenario created in a cycle is its
 * primary scenario, and CYCLE-scoped data nodes are shared by the
 * scenarios of one cycle only.  WEFT_EINVAL for a malformed date.
 * *scenario_id is the caller's to free().
 */
weft_err weft_scenario_create_with(weft_orchestrator *o, const char *config_id,
                                   const weft_scenario_opts *opts, char **scenario_id, char *err);

/**
 * Makes `scenario_id` the primary scenario of its cycle; the cycle's
 * previous primary scenario is no longer primary (Taipy's
 * set_primary: one primary scenario per cycle).  WEFT_ENOTFOUND for an
 * unknown scenario, WEFT_EINVAL when it belongs to no cycle (its config has
 * no frequency), WEFT_EMODE on a read-only handle.
 */
weft_err weft_scenario_set_primary(weft_orchestrator *o, const char *scenario_id, char *err);

/**
 * The cycle of a scenario instance: *cycle_id (caller frees; NULL when it
 * belongs to none) and whether it is the cycle's primary scenario
 * (is_primary may be NULL).  WEFT_ENOTFOUND for an unknown scenario.
 */
weft_err weft_scenario_cycle(weft_orchestrator *o, const char *scenario_id, char **cycle_id,
                             bool *is_primary, char *err);

/** A scenario of a cycle, in a weft_cycle_info. */
typedef struct weft_cycle_scenario {
    char *id;
    char *config_id;
    char *creation_date; /**< naive local ISO datetime, "2026-05-12T00:00:00" */
    bool is_primary;
} weft_cycle_scenario;

/**
 * A cycle (Taipy's Cycle): one period of a frequency.  Dates are naive
 * local ISO datetimes, as Taipy keeps them: the period is
 * [start_date, end_date], end_date the period's last microsecond
 * ("2026-05-31T23:59:59.999999").  Caller frees with weft_cycle_info_free().
 */
typedef struct weft_cycle_info {
    char *id;            /**< "CYCLE_<name>_<uuid>", the name made a file name as Taipy does */
    char *name;          /**< "May 2026", "Week 21 2026, from 25. May", "2026 Q2", ... */
    char *frequency;     /**< "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY" or "YEARLY" */
    char *start_date;
    char *end_date;
    char *creation_date; /**< of the scenario that created the cycle */
    weft_cycle_scenario *scenarios; /**< oldest first */
    size_t nscenarios;
} weft_cycle_info;
void weft_cycle_info_free(weft_cycle_info *c);
void weft_cycle_list_free(weft_cycle_info **cycles, size_t n);

/**
 * Every cycle, by start date, each with its scenarios.  *out is an array of
 * *n snapshots; caller frees it with weft_cycle_list_free().
 */
weft_err weft_cycles_list(weft_orchestrator *o, weft_cycle_info ***out, size_t *n, char *err);

/**
 * The id of sequence `name` of scenario instance `scenario_id`, as Taipy
 * forms it: "SEQUENCE_<name>_<scenario id>", each space of the name spelt
 * "TPSPACE".  A sequence (`[SCENARIO.<id>.sequences] name = [tasks]`)
 * exists with every instance of its scenario; weft_submit() of its id runs
 * just its tasks.  Nothing is looked up: an unknown name fails at submit.
 * *sequence_id is the caller's to free().
 */
weft_err weft_sequence_id(const char *scenario_id, const char *name, char **sequence_id, char *err);

/** Options of weft_submit(). */
typedef struct weft_submit_opts {
    bool force;         /**< run skippable tasks even when their outputs are up to date */
    bool wait;          /**< return only when the submission is finished (always so in development mode) */
    int64_t timeout_ms; /**< with wait: give up waiting after this long (WEFT_ETIMEDOUT); 0 = no limit.
                             Not applied in development mode, where the jobs run in the caller's
                             thread (a task's own `timeout` still applies). */
    /**
     * Optional flag a signal handler sets (e.g. on SIGINT): while the
     * submission runs or is waited for, a non-zero value cancels it
     * (running jobs stopped, the rest CANCELED/ABANDONED) and weft_submit()
     * returns WEFT_ECANCELED.  Checked every 50 ms at most, by the thread
     * that runs or waits for the submission (the one whose signal handler
     * sets it): in standalone and cluster modes only while weft_submit()
     * waits (.wait) or weft_submission_wait() runs.
     */
    volatile sig_atomic_t *interrupt;
} weft_submit_opts;

/**
 * Submits a scenario, a sequence (see weft_sequence_id()) or a task
 * instance (by id): one job per task, in dependency order; a sequence's
 * jobs are those of its tasks in its scenario instance, which read what
 * the scenario's other tasks wrote last.  Starts the orchestrator when it was not started (see
 * weft_orchestrator_start() for what that implies in standalone mode).  Development mode runs the jobs in the calling thread
 * before returning; the other modes queue them and return at once (unless
 * `wait`).  `opts` may be NULL.  *submission_id, when not NULL, receives the
 * new id (caller frees) — also when waiting timed out.
 *
 * Returns WEFT_OK when the submission ran (or was queued), whatever its
 * jobs' outcome: read it with weft_submission_get().  WEFT_ECANCELED when
 * `interrupt` stopped it, WEFT_ENOTFOUND for an unknown id, WEFT_EMODE on a
 * read-only handle or a mode without an executor yet.
 */
weft_err weft_submit(weft_orchestrator *o, const char *entity_id,
                     const weft_submit_opts *opts, char **submission_id, char *err);

/** Waits until the submission is finished; WEFT_ETIMEDOUT after `timeout_ms` (0 = no limit). */
weft_err weft_submission_wait(weft_orchestrator *o, const char *submission_id,
                              int64_t timeout_ms, char *err);

/**
 * Cancels a job, or every unfinished job of a submission: a job not yet
 * running becomes CANCELED, a running one is stopped then CANCELED; their
 * downstream jobs become ABANDONED.  Canceling a finished job changes
 * nothing and returns WEFT_ESTATE with a message saying so ("job X already
 * COMPLETED"); an unknown id gives WEFT_ENOTFOUND.
 *
 * The change is applied by the orchestrator's loop: at once when nothing
 * runs, otherwise within its next step (from another thread or from a
 * subscriber callback, where calling weft_cancel() is allowed).  On a
 * read-only handle, weft_cancel() records a cancel request in the store
 * that the orchestrator running the job applies within ~100 ms; when no
 * orchestrator holds the storage folder it returns WEFT_EMODE without
 * recording anything, and the caller should open the store read-write
 * (which settles what a dead orchestrator left) and cancel there.
 */
weft_err weft_cancel(weft_orchestrator *o, const char *id, char *err);

/* ---- versions and deletion (Taipy's versions, delete and clean_all_entities) ----
 *
 * Every scenario, task, data node, submission and job is tagged with the
 * orchestrator's current version when it is created.  A version has a name,
 * a mode and a creation date; it is stored with the first scenario or
 * submission created under it.  Without weft_version_set(), a read-write
 * orchestrator tags with WEFT_DEFAULT_VERSION in development mode: one
 * version for every run, whose entities stay until deleted (Taipy makes a
 * fresh development version per run and deletes the previous one's
 * entities: docs/CONFIG.md, "Differences from Taipy").
 *
 * Deletion follows Taipy's rules: a job, a submission (with its jobs), a
 * scenario (with its tasks, the submissions of it, of its sequences and of
 * its tasks with their jobs, and its SCENARIO-scoped data nodes; GLOBAL and
 * CYCLE data nodes stay, other scenarios share them).  A deletion that
 * takes an unfinished job is refused (WEFT_ESTATE, naming the job) unless
 * flags has WEFT_DELETE_FORCE: the unfinished submissions are then canceled
 * and waited for (up to WEFT_DELETE_FORCE_WAIT_MS) first.  Every row goes
 * in one transaction: a failure or a crash before its commit changes
 * nothing.  The generated files of the deleted data nodes (under
 * <storage>/data/) are removed after the commit; a crash between the two
 * leaves files that no data node names, which weft_clean() removes.  A
 * data node's configured path (default_path) is the application's file and
 * is never removed.  All of these need a read-write orchestrator (WEFT_EMODE
 * on a read-only one), except with WEFT_DELETE_CHECK.
 */

/** A version's mode. */
typedef enum weft_version_mode {
    WEFT_VERSION_DEVELOPMENT = 0, /**< the default version of runs without a flag */
    WEFT_VERSION_EXPERIMENT = 1,  /**< `weft run --experiment NAME` */
    WEFT_VERSION_PRODUCTION = 2,  /**< `weft run --production NAME` */
} weft_version_mode;

/** The development version's name. */
#define WEFT_DEFAULT_VERSION "development"
/** Longest version name. */
#define WEFT_VERSION_NAME_MAX 64
/** weft_delete() and friends: cancel unfinished jobs instead of refusing. */
#define WEFT_DELETE_FORCE 1u
/** weft_delete() and friends: only check (what would be deleted goes to
 *  `counts`, files 0; the refusal of unfinished work and unknown ids are
 *  reported as without it) and change nothing; also on a read-only handle,
 *  without taking the store's write lock.  Ignores WEFT_DELETE_FORCE. */
#define WEFT_DELETE_CHECK 2u
/** How long a forced deletion waits for the submissions it canceled. */
#define WEFT_DELETE_FORCE_WAIT_MS 30000

/** "development", "experiment", "production" (static); NULL for another value. */
const char *weft_version_mode_name(weft_version_mode m);

/**
 * Makes `name` the version of the entities this orchestrator creates from
 * now on.  A name is 1 to WEFT_VERSION_NAME_MAX letters, digits, '.', '_'
 * or '-', starting with a letter or a digit (WEFT_EINVAL otherwise, saying
 * so).  WEFT_DEFAULT_VERSION is only for WEFT_VERSION_DEVELOPMENT and the
 * other way round.  An existing experiment version may become production
 * (Taipy's rule); a production version cannot go back to experiment
 * (WEFT_ESTATE).  Nothing is stored until a scenario or submission is
 * created.  `name` is copied.
 */
weft_err weft_version_set(weft_orchestrator *o, const char *name, weft_version_mode mode,
                          char *err);

/** One version of the store. */
typedef struct weft_version_info {
    char *name;
    weft_version_mode mode;
    int64_t created_us;
    size_t nentities; /**< scenarios, tasks, data nodes, submissions and jobs tagged with it */
} weft_version_info;

/** Every version, oldest first.  Caller frees *out with weft_version_list_free().
 *  Works on read-only handles.  O(entities) for the counts. */
weft_err weft_versions_list(weft_orchestrator *o, weft_version_info **out, size_t *n,
                            char *err);
void weft_version_list_free(weft_version_info *v, size_t n);

/** What a deletion deleted. */
typedef struct weft_delete_counts {
    size_t scenarios, tasks, data_nodes, submissions, jobs;
    size_t files; /**< generated data node files removed after the commit */
    size_t cycles;
} weft_delete_counts;

/**
 * Deletes the job, submission, scenario or cycle `id` as described above.
 * A cycle goes with its scenarios (and what goes with them) and its
 * CYCLE-scoped data nodes.  A scenario that is the primary scenario of a
 * cycle that has other scenarios is refused (WEFT_ESTATE, as Taipy's
 * is_deletable): make another one primary first, or delete the cycle.  A
 * cycle that loses its primary scenario in a weft_version_delete() or
 * weft_clean() gets its oldest remaining one as primary.
 * WEFT_ENOTFOUND, naming the id, when there is no such entity (nothing
 * changed).  `counts` (may be NULL) gets what was deleted.
 */
weft_err weft_delete(weft_orchestrator *o, const char *id, unsigned flags,
                     weft_delete_counts *counts, char *err);

/** Deletes a version and every entity tagged with it (GLOBAL and CYCLE data
 *  nodes stay, untagged).  WEFT_ENOTFOUND for an unknown version. */
weft_err weft_version_delete(weft_orchestrator *o, const char *name, unsigned flags,
                             weft_delete_counts *counts, char *err);

/**
 * older_than_us 0: deletes every entity and version, data nodes of every
 * scope with their generated files (Taipy's clean_all_entities); refused
 * while a job is unfinished unless WEFT_DELETE_FORCE.  older_than_us > 0:
 * deletes the finished submissions (with their jobs) created more than
 * that long ago, and the scenarios created more than that long ago whose
 * submissions are all such; unfinished work is left alone, never canceled
 * (WEFT_DELETE_FORCE is ignored), so it may run beside live submissions of
 * the same orchestrator.  Both also remove generated files that no data node
 * names any more (left by a crash after a deletion's commit).  `counts`
 * may be NULL.  WEFT_EINVAL for a negative older_than_us.
 */
weft_err weft_clean(weft_orchestrator *o, int64_t older_than_us, unsigned flags,
                    weft_delete_counts *counts, char *err);

/** An event reported to subscribers, after the change it reports was stored. */
typedef struct weft_event {
    const char *submission_id;
    const char *job_id;         /**< NULL for a submission's status change */
    const char *task_config_id; /**< NULL for a submission's status change */
    weft_job_status job_status;
    weft_submission_status submission_status; /**< the submission's status after this change */
    int64_t at_us;
    const char *error; /**< for FAILED/CANCELED/ABANDONED jobs, NULL otherwise */
} weft_event;

/** Called for every job and submission status change; strings are borrowed for the call. */
typedef void (*weft_event_cb)(const weft_event *ev, void *userdata);

/**
 * Adds a subscriber.  Callbacks run on the thread that stored the change
 * (the caller's thread in development mode, the dispatcher thread
 * otherwise), after the change was committed, and must not call back into
 * the orchestrator except for weft_cancel() and the query functions
 * (weft_job_get(), weft_jobs_list(), weft_submission_get(), ...).
 * `userdata` is borrowed until weft_orchestrator_close().
 */
weft_err weft_subscribe(weft_orchestrator *o, weft_event_cb cb, void *userdata);

/** A job by id; caller frees *out with weft_job_info_free().  WEFT_ENOTFOUND when unknown. */
weft_err weft_job_get(weft_orchestrator *o, const char *job_id, weft_job_info **out, char *err);

/** Filter for weft_jobs_list(); zero members match everything. */
typedef struct weft_job_filter {
    const char *submission_id;
    int status; /**< a weft_job_status, or -1 for any */
} weft_job_filter;

/**
 * Jobs matching `filter` (NULL: all) in creation order.  *out is an array of
 * *n snapshots; caller frees it with weft_job_list_free().
 */
weft_err weft_jobs_list(weft_orchestrator *o, const weft_job_filter *filter,
                        weft_job_info ***out, size_t *n, char *err);
void weft_job_list_free(weft_job_info **jobs, size_t n);

/** A submission by id (caller frees *out with weft_submission_info_free()). */
weft_err weft_submission_get(weft_orchestrator *o, const char *id,
                             weft_submission_info **out, char *err);
/** Every submission, newest last; caller frees with weft_submission_list_free(). */
weft_err weft_submissions_list(weft_orchestrator *o, weft_submission_info ***out,
                               size_t *n, char *err);
void weft_submission_list_free(weft_submission_info **subs, size_t n);

/** Scenario instance ids with their config ids, oldest first: two arrays of *n strings; free with weft_strv_free(). */
weft_err weft_scenarios_list(weft_orchestrator *o, char ***ids, char ***config_ids,
                             size_t *n, char *err);
/** Frees an array of n strings and the array. */
void weft_strv_free(char **v, size_t n);

/**
 * A data node instance's content (as weft_dn_read, except that an excel
 * node's sheets come as text: CSV for one sheet, a JSON object of sheets,
 * each an array of rows, for several), by instance id or, when there is
 * one such instance, by config id.  Caller frees *data.
 */
weft_err weft_data_read(weft_orchestrator *o, const char *id, char **data, size_t *len, char *err);

/** weft_data_write_opts.flags: add to the node's content rather than replace it. */
#define WEFT_DATA_APPEND 0x1u

/** Options of weft_data_write(). */
typedef struct weft_data_write_opts {
    unsigned flags;     /**< WEFT_DATA_APPEND, or 0 to replace the content */
    /** Who writes, recorded with the edit (Taipy's editor_id): printable,
     *  at most 128 bytes, not starting with "JOB_" (job ids do).  NULL: "user". */
    const char *editor;
} weft_data_write_opts;

/**
 * Writes a data node instance from outside any task, by instance id or by
 * config id as weft_data_read().  `data` (`len` bytes, borrowed) is the
 * whole new content, or with WEFT_DATA_APPEND what to add, as Taipy's
 * append does per storage type: csv rows (the input's header must be the
 * node's), text and binary bytes, json items added to a list (an object's
 * keys merged into an object), sql_table rows (a JSON array of row objects,
 * or one), excel rows (CSV text after the rows of the node's sheet, whose
 * header it must have; without append, CSV text replaces that sheet and a
 * workbook's bytes the whole file; the other sheets are kept).  pickle, in_memory and generic nodes cannot be appended to
 * (WEFT_EINVAL).
 *
 * The input is checked before anything is written: WEFT_EDATA, err naming
 * the input line or row and what differs, when JSON does not parse or CSV
 * lacks the node's columns.  WEFT_ELOCKED, err naming the job, when an
 * unfinished job (SUBMITTED, BLOCKED, PENDING or RUNNING, in this process
 * or another one using the store) is to write the node: Taipy's edit lock.
 * WEFT_ENOTFOUND for an unknown node; WEFT_EMODE for an in_memory node on
 * a read-only handle (its content lives in the process running the jobs).
 * On any error the node's content and the store are unchanged.
 *
 * On success the write is an edit: the node's last edit time and editor
 * change and a row is added to its edit history (weft_data_info_get()), so
 * later runs read the new content and skippable tasks reading the node run
 * again.  Works on read-only handles too (the store is written in one short
 * transaction, as the running orchestrator's are).  `opts` may be NULL.
 */
weft_err weft_data_write(weft_orchestrator *o, const char *id, const void *data, size_t len,
                         const weft_data_write_opts *opts, char *err);

/** One edit of a data node. */
typedef struct weft_data_edit {
    int64_t at_us;
    char *job_id; /**< the job that wrote it, or NULL */
    char *editor; /**< who wrote it from outside a job ("user" or a name), or NULL */
} weft_data_edit;

/** What the store knows about a data node instance (weft_data_info_get()). */
typedef struct weft_data_info {
    char *id;
    char *config_id;
    char *storage_type;  /**< from the configuration ("pickle" when unset) */
    weft_scope scope;
    char *scenario_id;   /**< NULL for GLOBAL and CYCLE nodes */
    char *path;          /**< NULL for in_memory, generic and sql_table nodes */
    int64_t last_edit_us;/**< 0 when never written */
    char *last_job_id;   /**< the last edit's job, or NULL */
    char *last_editor;   /**< the last edit's editor when not a job, or NULL */
    char *locked_by;     /**< an unfinished job that will write it (the edit lock), or NULL */
    weft_data_edit *edits; /**< the edit history, oldest first */
    size_t nedits;
} weft_data_info;

/**
 * A data node instance by instance id or config id (as weft_data_read()),
 * with its edit history.  Caller frees *out with weft_data_info_free().
 * WEFT_ENOTFOUND for an unknown node.  O(edits of the node + unfinished jobs).
 */
weft_err weft_data_info_get(weft_orchestrator *o, const char *id, weft_data_info **out, char *err);
/** Frees what weft_data_info_get() returned; NULL is ignored. */
void weft_data_info_free(weft_data_info *info);

/* ------------------------------------------------------------------------ */
/** @name Cluster workers
 *
 * The worker service of cluster mode, as `weft run-worker` runs it, for a
 * program that serves a queue itself; and the list of the workers that
 * serve a queue, as `weft workers` prints it.  docs/CLUSTER.md describes
 * the messages.
 *
 * A worker service takes jobs from the queue (at most `prefetch` ahead),
 * runs each in a pool of job processes (crash isolation, cancel, timeouts;
 * at most `concurrency` at a time), publishes RUNNING and then the result
 * to the job's reply queue, and acknowledges a job message only once its
 * result is confirmed by the broker.  While the broker is unreachable it
 * retries with backoff.  It announces itself every 3 s on the queue's
 * ".workers" exchange.  What it has to say goes to its log handler.
 */
typedef struct weft_worker weft_worker;

typedef struct weft_worker_opts {
    /** Folder of the application's task modules; NULL: the config's
     *  application path when `config` is given, else ".". */
    const char *application_path;
    /** A checked config, borrowed until weft_worker_close(); NULL: the
     *  service loads and checks `config_file`. */
    const weft_config *config;
    /** Read when `config` is NULL; NULL: "<application_path>/config.toml". */
    const char *config_file;
    const char *broker_url; /**< NULL: [JOB] broker_url (TLS keys come from [JOB] too) */
    const char *queue;      /**< NULL: [JOB] queue */
    int concurrency;        /**< jobs run at once, 1 to 1000; 0: one per online CPU */
    /** Jobs taken from the queue, up to 65535.  0 (the default): 2 x
     *  `concurrency` at first, then following the jobs' average length
     *  (per slot, the jobs it runs in 100 ms, 1 to 63 of them ahead: up
     *  to 64 x `concurrency` for very short jobs), and a job taken while
     *  every slot is busy is handed
     *  back to the queue after 200 ms, so the next job is at hand when a
     *  slot frees but a long job never holds a short one while another
     *  worker is idle.  Otherwise taken as is (less than `concurrency`:
     *  `concurrency`), with no hand-back: faster for many short jobs, but a
     *  long job then delays those prefetched behind it. */
    int prefetch;
    /** What the service logs (NULL: the library-wide handler of
     *  weft_log_set_handler()); `log_userdata` is borrowed until
     *  weft_worker_close(); `log_level` is the most verbose level passed. */
    weft_log_fn log;
    void *log_userdata;
    weft_log_level log_level;
    /** A file whose first line is the shared secret that authenticates
     *  cluster messages (read at open; borrowed for the call); NULL: [JOB]
     *  broker_secret; neither: messages are unsigned, and a warning is
     *  logged at every start.  With a secret, messages not signed with it
     *  are dead-lettered and never acted on. */
    const char *secret_file;
    /** "[ADDR:]PORT" (IPv4, ADDR default 127.0.0.1): serve Prometheus text
     *  there over HTTP, from the service's own loop: the queue's ready
     *  messages and consumers, this worker's size, busy slots, jobs started
     *  and finished (totals and per second over the last minute).  NULL:
     *  no listener.  Borrowed for the call to weft_worker_open(). */
    const char *metrics_addr;
    /** Autoscaling, off when 0: the service starts with `autoscale_min`
     *  job processes (0: 1) and grows up to `autoscale_max` (1 to 1000)
     *  while every slot is busy and jobs wait (held here, or left in the
     *  queue after a hand-back), by the number of waiting jobs at a time;
     *  once some slots stayed free for `autoscale_idle_ms` (0: 10 s), it
     *  shrinks to the busy ones, not below the minimum.  Only idle job
     *  processes are retired: no job is cut short.  The prefetch follows
     *  the size (as the default prefetch) and the heartbeat reports it.  With autoscale,
     *  `concurrency` and `prefetch` must be 0 (WEFT_EINVAL). */
    int autoscale_max;
    int autoscale_min;
    int64_t autoscale_idle_ms;
} weft_worker_opts;

/**
 * Opens a worker service: loads the application (WEFT_EIO, WEFT_ESYNTAX or
 * WEFT_ECONFIG with the first error when the config cannot be used;
 * WEFT_EINVAL for an out-of-range option) and starts its pool of job
 * processes.  It does not connect yet.
 *
 * The pool forks a fork server here, which later forks the job processes:
 * as for weft_orchestrator_start() in standalone mode, register task
 * functions before, and call this while the process has no other thread.
 * It also sets WEFT_WORKER_PID in the environment to this process's pid,
 * for task code that wants to know its service.  A program that uses
 * amqps:// should ignore SIGPIPE, as for any program that writes to
 * sockets.  Caller closes *out with weft_worker_close().
 */
weft_err weft_worker_open(const weft_worker_opts *opts, weft_worker **out, char *err);

/**
 * Serves the queue until stopped, in the calling thread: connects (a
 * malformed broker URL fails at once with WEFT_EINVAL; an unreachable
 * broker is retried with backoff and logged), takes, runs and reports jobs,
 * and reconnects whenever the connection breaks.  Returns WEFT_OK once
 * weft_worker_stop() was called and the service drained (or stopped at
 * once after a second call), another code when it cannot go on.  Call it
 * once per handle (WEFT_ESTATE after).
 */
weft_err weft_worker_run(weft_worker *w, char *err);

/**
 * Asks weft_worker_run() to stop.  The first call drains: no new jobs, the
 * running ones finish and are reported, then run() returns.  While the
 * broker is unreachable, draining ends as soon as no job runs: results
 * that cannot be sent are dropped, and the broker delivers those jobs
 * again.  A second call stops at once: the unfinished jobs are left to the
 * broker, which delivers them to other workers.  A connection attempt in
 * progress gives up at once (but for the TCP connect and TLS handshake of
 * amqps://, bounded by 5 s).  Async-signal-safe and thread-safe: a SIGTERM
 * handler or another thread may call it (it sets an atomic counter, writes
 * a byte to a pipe and shuts down the socket of a login in progress).
 * Before run(), it makes run() return at once.
 */
void weft_worker_stop(weft_worker *w);

/** "host:pid" of the service, as jobs record their worker (borrowed, valid until close). */
const char *weft_worker_name(const weft_worker *w);

/**
 * Stops the pool (canceling jobs still running: their messages go back to
 * the broker), closes the connection and frees.  Not while run() runs.
 * NULL is ignored.
 */
void weft_worker_close(weft_worker *w);

/** A worker as it announced itself (every member owned by the list). */
typedef struct weft_worker_info {
    char *name;         /**< "host:pid", as weft_job_info.worker records it */
    char *host;
    int pid;
    char *queue;
    char *state;        /**< "up", "draining" or "down" */
    int concurrency;        /**< its size: job processes now (moves with autoscale) */
    int64_t jobs_run;
    char **current;     /**< ids of the jobs it runs, `ncurrent` of them */
    size_t ncurrent;
    int64_t at_us;      /**< when it said so, by its own clock */
    int busy;           /**< slots given a job (running, or starting) */
    int64_t jobs_started;   /**< jobs it started since it started */
    /** Jobs started and finished per second over the last minute (over its
     *  uptime when shorter), by its own clock. */
    double started_per_s, finished_per_s;
    /** Deliveries of the queue it holds unacknowledged on its connection:
     *  jobs running or waiting in its pool, jobs it took ahead of a free
     *  slot, and jobs whose result (or hand-back) awaits the broker's
     *  confirm before the ack.  So the sum over a queue's workers is what
     *  the broker counts as the queue's unacknowledged messages.  -1: not
     *  said (a worker of an older version). */
    int64_t unacked;
} weft_worker_info;

/** Options of weft_workers_list(). */
typedef struct weft_workers_opts {
    /** [JOB] broker_url, queue and broker TLS keys; NULL: the defaults and no
     *  TLS files.  Borrowed for the call. */
    const weft_config *config;
    const char *broker_url; /**< overrides the config's */
    const char *queue;      /**< overrides the config's */
    int64_t wait_ms;        /**< how long to listen; <= 0: 4000 (a bit more than one period) */
} weft_workers_opts;

/**
 * Lists the workers that announce themselves on the queue within
 * `wait_ms`: binds a temporary queue to the queue's ".workers" exchange and
 * listens.  Each worker appears once, in the order first heard, with what
 * it said last.  Needs only the broker.  WEFT_EINVAL for a malformed URL,
 * WEFT_EBROKER when the broker cannot be used.  *out (NULL when *n is 0)
 * is the caller's to free with weft_worker_list_free().
 */
weft_err weft_workers_list(const weft_workers_opts *opts, weft_worker_info **out, size_t *n,
                           char *err);

/** Frees a list of `n` workers.  NULL is ignored. */
void weft_worker_list_free(weft_worker_info *workers, size_t n);

/** A job queue's load, as the broker says it (a passive queue.declare). */
typedef struct weft_queue_info {
    int64_t ready;      /**< messages waiting for a worker */
    /** Delivered and not acknowledged yet; -1: unknown.  AMQP does not
     *  report it: weft_queue_info_get() leaves it -1, and
     *  weft_workers_unacked() gives it from the workers' heartbeats. */
    int64_t unacked;
    int64_t consumers;  /**< workers consuming it */
} weft_queue_info;

/**
 * The load of the queue that `opts` names (broker and queue as for
 * weft_workers_list(); wait_ms unused).  WEFT_ENOTFOUND when the queue does
 * not exist (no orchestrator or worker declared it yet), WEFT_EBROKER when
 * the broker cannot be used.  *out is left untouched on error.
 */
weft_err weft_queue_info_get(const weft_workers_opts *opts, weft_queue_info *out, char *err);

/**
 * The messages of a queue delivered and not acknowledged yet, from the
 * heartbeats of its workers `ws` (as weft_workers_list() lists them,
 * borrowed): the sum of the `unacked` of the live ones ("up" or
 * "draining"; a "down" one holds nothing), 0 when none is live.  As old as
 * those heartbeats (one every 3 s), so it may lag the broker by that much.
 * -1 (unknown) when a live worker does not say (an older version).
 */
int64_t weft_workers_unacked(const weft_worker_info *ws, size_t n);

/* ------------------------------------------------------------------------ */
/** @name Web view and DAG rendering
 *
 * `weft ui`: an HTTP server that shows a store live (a page, a JSON API,
 * Server-Sent Events of job status changes, Prometheus metrics).  It opens
 * the store read-only, so it runs beside `weft run`, `weft run-worker` and
 * other readers; while no store exists yet it retries every second.  It
 * runs its own threads (libmicrohttpd's, one per connection, and one that
 * polls the store for changes), so it never forks without exec: the Run
 * button starts `weft run` as a child process (posix_spawn of `weft_exe`).
 * docs/API.md describes the routes.
 *
 * Safe by default: it listens on loopback only, unless a token is given,
 * and then every request must carry it (header "Authorization: Bearer T" or
 * the cookie "weft_token"); state changes are POST requests that carry the
 * per-server CSRF token of the page in the header "X-Weft-CSRF".
 */
typedef struct weft_ui weft_ui;

typedef struct weft_ui_opts {
    /** A checked config, borrowed until weft_ui_close(). Required. */
    const weft_config *config;
    /** "ADDR:PORT" ("[::1]:8765" for IPv6); NULL: "127.0.0.1:8765".  Port 0
     *  picks a free one (read it back with weft_ui_url()). */
    const char *listen;
    /** Required when `listen` is not a loopback address; NULL or "" for none.
     *  Copied; never logged nor sent back. */
    const char *token;
    /** The `weft` executable the Run button starts (`weft run -c
     *  config_file -s SCENARIO`); NULL: submitting answers 501.  Copied. */
    const char *weft_exe;
    /** The configuration file passed to that child; NULL: weft_config_file(). */
    const char *config_file;
    /** Overrides [CORE] storage_folder when non-NULL (as for the orchestrator). */
    const char *storage_folder;
    /** What the server logs (NULL: the library-wide handler); borrowed until close. */
    weft_log_fn log;
    void *log_userdata;
    weft_log_level log_level;
} weft_ui_opts;

/**
 * Binds the address and starts serving at once (the server's threads run
 * from here on).  WEFT_EINVAL for a malformed address or a non-loopback one
 * without a token, WEFT_EIO when the address cannot be bound.  Caller
 * closes *out with weft_ui_close().
 */
weft_err weft_ui_open(const weft_ui_opts *opts, weft_ui **out, char *err);

/** "http://ADDR:PORT/" the server listens on (borrowed, valid until close). */
const char *weft_ui_url(const weft_ui *ui);

/** Blocks the calling thread until weft_ui_stop() is called.  WEFT_OK then. */
weft_err weft_ui_run(weft_ui *ui, char *err);

/** Makes weft_ui_run() return.  Async-signal-safe and thread-safe. */
void weft_ui_stop(weft_ui *ui);

/** Stops the server (event streams end), frees.  NULL is ignored. */
void weft_ui_close(weft_ui *ui);

/** Output formats of weft_graph_render(). */
typedef enum weft_graph_format {
    WEFT_GRAPH_DOT = 0, /**< Graphviz source, not laid out */
    WEFT_GRAPH_SVG = 1,
    WEFT_GRAPH_PNG = 2,
} weft_graph_format;

/**
 * The DAG of tasks and data nodes of a configured scenario (`id` names
 * SCENARIO.<id>) or of a submission (`id` is SUBMISSION_...; `o` is then
 * required, read-only is enough), laid out by Graphviz's dot; a
 * submission's tasks are coloured by their job's status, and each job node
 * carries the id "JOB_..." and the class "job st-STATUS" in SVG.  *out
 * (caller frees with free(); NUL-terminated for text formats) holds *len
 * bytes.  WEFT_ENOTFOUND for an unknown id.  Thread-safe (Graphviz is not:
 * calls are serialized).
 */
weft_err weft_graph_render(const weft_config *cfg, weft_orchestrator *o, const char *id,
                           weft_graph_format format, char **out, size_t *len, char *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
