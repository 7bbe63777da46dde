/* SPDX-License-Identifier: MIT */
/*
 * runner.h - running one job, wherever it runs.
 *
 * This is the seam between "what runs next" (the orchestrator, which owns
 * the store and the job graph) and "where it runs" (the executors:
 * development runs a job in the caller's thread, standalone in a worker
 * process, cluster in a `weft run-worker` child).  Each of them hands a
 * weft__job_spec to weft__run_job() and gets a weft__job_result back; specs
 * and results cross process boundaries as JSON (weft__job_spec_to_json()
 * and friends), so a worker needs nothing but its application (the config
 * and the shared objects) and the spec.
 *
 * A job never writes the store: it writes its output data nodes and reports
 * which it wrote; the orchestrator records the edits.
 *
 * One header for the files of job/ that run a job, one module split by
 * concern: jobspec.c (specs and results, their JSON), functions.c (where
 * task functions come from), datanode.c and csv.c (data node content),
 * ctx.c (the job context) and runner.c (weft__run_job).  Their calls go one
 * way: app.c (app.h) < functions.c < datanode.c < csv.c and ctx.c <
 * runner.c, which also uses spawn.c (spawn.h); jobspec.c calls none of them.
 */
#ifndef WEFT_RUNNER_H
#define WEFT_RUNNER_H

#include "job/app.h"
#include "weft.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Bounds of what a job reports back. */
#define WEFT__LOG_TAIL_MAX (64 * 1024) /* bytes of stdout/stderr/log kept per job */
#define WEFT__ERROR_MAX 4096           /* bytes of a failure message */

/* A data node instance as a job sees it: enough to read or write it from any
 * process that has the same application. */
typedef struct weft__dn_ref {
    char *id;           /* instance id, DATANODE_<config id>_<uuid> */
    char *config_id;    /* its DATA_NODE section */
    char *storage_type; /* pickle, binary, json, csv, text, in_memory, generic, sql_table */
    char *path;         /* absolute path for file-based nodes; NULL otherwise */
} weft__dn_ref;

/* What to run. */
typedef struct weft__job_spec {
    char *job_id;
    char *task_id;        /* task instance id */
    char *task_config_id; /* its TASK section: function or command, properties */
    int attempt;          /* 1 for the first run */
    weft__dn_ref *inputs;
    size_t ninputs;
    weft__dn_ref *outputs;
    size_t noutputs;
    int64_t timeout_ms;   /* 0: none; the task's `timeout` */
} weft__job_spec;
#define WEFT__JOB_SPEC_INIT {0}

/* What happened. */
typedef struct weft__job_result {
    weft_job_status status; /* COMPLETED, FAILED or CANCELED */
    char *error;            /* why, when not COMPLETED ("timed out after 2s", ...) */
    int exit_code;          /* command tasks: exit status; -1 otherwise */
    int signal;             /* signal that ended the job's process, 0 if none */
    char *log_tail;         /* last WEFT__LOG_TAIL_MAX bytes of output and log lines, or NULL */
    bool *written;          /* noutputs flags: which outputs the job wrote */
    size_t noutputs;
} weft__job_result;
#define WEFT__JOB_RESULT_INIT {WEFT_JOB_FAILED, NULL, -1, 0, NULL, NULL, 0}

/* Frees the members and resets to the INIT value; safe to call twice. */
void weft__job_spec_release(weft__job_spec *spec);
void weft__job_result_release(weft__job_result *res);
/* Deep copy; `dst` must be released by the caller. */
weft_err weft__job_spec_copy(weft__job_spec *dst, const weft__job_spec *src);

/* JSON forms (caller frees *out with free()). */
weft_err weft__job_spec_to_json(const weft__job_spec *spec, char **out, size_t *len);
weft_err weft__job_spec_from_json(const char *text, size_t len, weft__job_spec *spec, char *err);
weft_err weft__job_result_to_json(const weft__job_result *res, char **out, size_t *len);
weft_err weft__job_result_from_json(const char *text, size_t len, weft__job_result *res, char *err);
/* The result as a JSON object (NULL: out of memory), and back from one
 * (the object is only read): for a message that embeds a result, without
 * text in between. */
json_t *weft__job_result_json(const weft__job_result *res);
weft_err weft__job_result_from_object(json_t *o, weft__job_result *res, char *err);

/*
 * Resolves a task's `function` to a callable: a registered function first,
 * then the built-ins (weft.noop, weft.sleep, weft.spin), then the symbol in
 * the application's shared object.  WEFT_ENOTFOUND with a message naming
 * what was tried ("function pipeline.clean: no pipeline.so or
 * libpipeline.so in /app", "symbol clean not found in /app/pipeline.so").
 */
weft_err weft__resolve_function(weft__app *app, const char *name, weft_task_fn *fn, char *err);

/*
 * As weft__resolve_function(), for the runner: when the name is neither
 * registered nor built in and neither shared object exists, *python is
 * true and *fn unset: the name is a Python function ("pkg.mod.fn", module
 * pkg.mod imported with the application path first on sys.path); `err`
 * then says which shared objects were looked for (unlike other calls, it
 * is written on success, for a message if the Python module is missing too).
 */
weft_err weft__resolve_task(weft__app *app, const char *name, weft_task_fn *fn, bool *python,
                            char *err);

/*
 * The path a data node instance uses: `path`/`default_path` from its config
 * (relative ones resolved against the application path), or
 * <storage_folder>/data/<instance id>.<ext> (ext from the storage type:
 * p, bin, txt, json, csv).  A relative storage folder (NULL: the config's)
 * is also taken from the application path, so every worker finds the same
 * files whatever its cwd.  NULL for in_memory, generic and sql_table nodes.
 * Caller frees *out.
 */
weft_err weft__dn_instance_path(const weft__app *app, const char *config_id,
                                const char *instance_id, const char *storage_folder,
                                char **out, char *err);

/*
 * Whether the node has content to read although no job wrote it: a file at
 * its path, or a `default_data`.
 */
bool weft__dn_has_content(weft__app *app, const weft__dn_ref *ref);

/* Reads a node's content outside any job (for `weft data`).  Caller frees. */
/* As weft__dn_read_ref, but in the form `weft data` prints: an excel
 * node's sheets as CSV or JSON text rather than the workbook's bytes. */
weft_err weft__dn_read_shown(weft__app *app, const weft__dn_ref *ref, char **data, size_t *len,
                             char *err);
weft_err weft__dn_read_ref(weft__app *app, const weft__dn_ref *ref, char **data,
                           size_t *len, char *err);

/*
 * Writes `len` bytes to a node outside any job (dn_put.c), or with `append`
 * adds them to its content as its storage type allows (csv rows, text and
 * binary bytes, json list items, sql_table rows; WEFT_EINVAL for the other
 * types).  The input is checked first (WEFT_EDATA, err naming the input line
 * or row and what differs) and the node is unchanged on any error.
 */
weft_err weft__dn_put(weft__app *app, const weft__dn_ref *ref, const void *data, size_t len,
                      bool append, char *err);

/* Hooks a runner calls while the job runs; any may be NULL. */
typedef struct weft__run_hooks {
    /* Polled by weft_ctx_canceled() and while a command runs (every 50 ms at
     * most): true asks the job to stop. */
    bool (*canceled)(void *ud);
    void (*progress)(void *ud, int64_t done, int64_t total);
    void *ud;
} weft__run_hooks;

/*
 * Runs one job to its end in the calling thread and fills `res` (which the
 * caller releases).  A function task is called directly; a command task is
 * spawned (argv with {id} replaced by paths, no shell), its output captured,
 * and stopped (SIGTERM, then SIGKILL after WEFT__KILL_GRACE_MS) on cancel or
 * timeout.  A
 * function that returns non-zero, a command that exits non-zero, a job
 * that does not write one of its outputs, a missing function or a missing
 * input all give status FAILED with a message that says which and why.
 * Returns WEFT_OK whenever `res` describes the outcome (also a failed job);
 * an error only when the job could not be described (ENOMEM).
 */
weft_err weft__run_job(weft__app *app, const weft__job_spec *spec,
                       const weft__run_hooks *hooks, weft__job_result *res);

/* The error of a job stopped by its timeout of `ms`: "timed out after 2s",
 * "timed out after 0.5s".  One wording whichever side noticed the timeout
 * (the runner, or the standalone pool that killed the worker). */
void weft__timeout_message(int64_t ms, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * Internals shared by the files of the module (see the top of this header).
 * Not for the orchestrator: it needs only what is above.
 */
struct weft__buf; /* util.h */

/* functions.c: the function `name` registered with weft_register_function()
 * or built in (weft.noop, weft.sleep, weft.spin), or NULL. */
weft_task_fn weft__registered_function(const char *name);

/* functions.c: resolves "module.symbol" (or "a.b.symbol") to a symbol of the
 * application's shared objects: module.so, then libmodule.so (a/b.so, then
 * a/libb.so for dotted modules) in the application path.  Used for task
 * functions and for generic data nodes' read_fn/write_fn. */
weft_err weft__resolve_symbol(weft__app *app, const char *name, void **sym, char *err);

/* datanode.c: a data node handle for task code.  `written`, when not NULL,
 * is set to true by every successful write (the job's output flag).  Caller
 * frees with weft__dn_free(). */
weft_err weft__dn_open(weft__app *app, const weft__dn_ref *ref, bool *written,
                       weft_data_node **out, char *err);
void weft__dn_free(weft_data_node *dn);
/* datanode.c: marks the node written (csv.c calls it on commit). */
void weft__dn_mark_written(weft_data_node *dn);
/* datanode.c: the node's boolean property `key` (True/true/1 or a bool value);
 * `def` when unset. */
bool weft__dn_bool_property(const weft_data_node *dn, const char *key, bool def);
/* datanode.c: writes the empty value of the node's storage type (weft.noop):
 * json `null`, csv an empty table (csv.c: weft__csv_write_empty), sql_table
 * no rows, the other types no bytes; the node is then written. */
weft_err weft__dn_write_empty(weft_data_node *dn, char *err);
weft_err weft__csv_write_empty(weft_data_node *dn, char *err);
/* csv.c: a reader over `f` (taken: closed by weft_csv_close(), also on
 * failure); `name` is for messages, `has_header` says whether the first row
 * is the header.  weft__csv_row_line() is the physical line on which the
 * last row read (the header included) started. */
weft_err weft__csv_open_stream(FILE *f, const char *name, bool has_header, weft_csv_reader **out,
                               char *err);
long weft__csv_row_line(const weft_csv_reader *r);
/* datanode.c: for csv.c: opens the node's content for reading: its file, or
 * its default_data when the file does not exist.  WEFT_EDATA when neither. */
weft_err weft__dn_open_stream(weft_data_node *dn, FILE **f, char *err);

/* datanode.c: atomic replacement of a file.  weft__afile_open creates
 * "<dir>/.<name>.XXXXXX" beside `path` (creating the folder when missing);
 * commit flushes, fsyncs, renames over `path` and frees; abort closes and
 * unlinks the temporary file and frees.  Both accept NULL. */
typedef struct weft__afile weft__afile;
weft_err weft__afile_open(const char *path, weft__afile **out, FILE **f, char *err);
weft_err weft__afile_commit(weft__afile *af, char *err);
void weft__afile_abort(weft__afile *af);
/* The temporary file's path (borrowed until commit or abort), for writers
 * such as libxlsxwriter that open the file by name. */
const char *weft__afile_tmp(const weft__afile *af);
/* datanode.c: mkdir -p of the folder that holds `path`. */
weft_err weft__mkdir_parent(const char *path, char *err);

/* ctx.c: the job context.  `written` has spec->noutputs flags, set as the
 * task writes; `log` is the job's log tail (max WEFT__LOG_TAIL_MAX); both
 * are borrowed for the context's life.  `deadline_ns` (weft__mono_ns()
 * clock, 0: none) makes weft_ctx_canceled() true once passed. */
weft_err weft__ctx_new(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                       bool *written, struct weft__buf *log, int64_t deadline_ns,
                       weft_ctx **out, char *err);
void weft__ctx_free(weft_ctx *ctx);
/* The message of weft_ctx_fail(), or NULL (borrowed). */
const char *weft__ctx_fail_message(const weft_ctx *ctx);
/* Whether cancel (hooks) was requested, whether the deadline passed. */
bool weft__ctx_cancel_requested(weft_ctx *ctx);
bool weft__ctx_timed_out(const weft_ctx *ctx);

/* ctx.c: appends to a log tail, keeping its LAST b->max bytes (the max must
 * be set).  Never fails for lack of room: older bytes are dropped. */
weft_err weft__tail_add(struct weft__buf *b, const void *data, size_t len);

#endif
