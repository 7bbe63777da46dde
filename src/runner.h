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
 */
#ifndef WEFT_RUNNER_H
#define WEFT_RUNNER_H

#include "weft.h"

#include <stdbool.h>
#include <stdint.h>

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

/*
 * The application a job runs in: the (checked) config, the folder its task
 * modules and relative paths are resolved against, the shared objects loaded
 * so far, and the in-memory data nodes of development mode.
 */
typedef struct weft__app weft__app;

/* `cfg` is borrowed for the app's lifetime.  Caller frees with weft__app_free(). */
weft_err weft__app_new(const weft_config *cfg, const char *application_path,
                       weft__app **out, char *err);
void weft__app_free(weft__app *app);
const weft_config *weft__app_config(const weft__app *app);
/* Absolute application path (borrowed). */
const char *weft__app_path(const weft__app *app);

/*
 * Resolves a task's `function` to a callable: a registered function first,
 * then the built-ins (weft.noop, weft.sleep, weft.spin), then the symbol in
 * the application's shared object.  WEFT_ENOTFOUND with a message naming
 * what was tried ("function pipeline.clean: no pipeline.so or
 * libpipeline.so in /app", "symbol clean not found in /app/pipeline.so").
 */
weft_err weft__resolve_function(weft__app *app, const char *name, weft_task_fn *fn, char *err);

/*
 * The path a data node instance uses: `path`/`default_path` from its config
 * (relative ones resolved against the application path), or
 * <storage_folder>/data/<instance id>.<ext> (ext from the storage type).
 * NULL for in_memory and generic nodes.  Caller frees *out.
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
weft_err weft__dn_read_ref(weft__app *app, const weft__dn_ref *ref, char **data,
                           size_t *len, char *err);

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
 * and stopped (SIGTERM, then SIGKILL after 1 s) on cancel or timeout.  A
 * function that returns non-zero, a command that exits non-zero, a job
 * that does not write one of its outputs, a missing function or a missing
 * input all give status FAILED with a message that says which and why.
 * Returns WEFT_OK whenever `res` describes the outcome (also a failed job);
 * an error only when the job could not be described (ENOMEM).
 */
weft_err weft__run_job(weft__app *app, const weft__job_spec *spec,
                       const weft__run_hooks *hooks, weft__job_result *res);

#endif
