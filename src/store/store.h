/* SPDX-License-Identifier: MIT */
/*
 * store.h - the SQLite store of one storage folder (<storage>/weft.db):
 * scenarios, tasks, data nodes with their edit history, submissions, jobs
 * with their status history, job dependencies, and cancel requests made
 * from other processes.
 *
 * WAL mode: one writer (the orchestrator holding the folder's lock) and any
 * number of readers in other processes.  The schema is versioned with
 * PRAGMA user_version and brought up to date by an ordered list of
 * migration steps when a writer opens it.  Statements are prepared once
 * and cached.  The caller groups writes with weft__store_begin()/commit():
 * every write function expects to run inside a transaction.
 */
#ifndef WEFT_STORE_H
#define WEFT_STORE_H

#include "weft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEFT__STORE_VERSION 6   /* the schema this build writes */
/* PRAGMA application_id of every weft store: "weft" in ASCII (0x77656674),
 * so that `file weft.db` and weft itself tell it from other SQLite files. */
#define WEFT__STORE_APPLICATION_ID 0x77656674
#define WEFT__STORE_FILE "weft.db"

typedef struct weft__store weft__store;

/*
 * Opens (read_only: an existing store, WEFT_ENOTFOUND when there is none;
 * otherwise creates) the store at `path` and, for a writer, migrates it to
 * WEFT__STORE_VERSION.  A reader refuses a store of another version
 * (WEFT_ESTORE).  Caller closes with weft__store_close().
 */
weft_err weft__store_open(const char *path, bool read_only, weft__store **out, char *err);
/* For tests: a writer that migrates only up to `version`. */
weft_err weft__store_open_version(const char *path, int version, weft__store **out, char *err);
void weft__store_close(weft__store *s);
int weft__store_version(weft__store *s);

weft_err weft__store_begin(weft__store *s, char *err);
weft_err weft__store_commit(weft__store *s, char *err);
void weft__store_rollback(weft__store *s);

/* ---- scenarios, tasks, data nodes ---- */
weft_err weft__store_scenario_insert(weft__store *s, const char *id, const char *config_id,
                                     int64_t at_us, char *err);
/* The scenario's config id (caller frees); WEFT_ENOTFOUND. */
weft_err weft__store_scenario_get(weft__store *s, const char *id, char **config_id, char *err);
weft_err weft__store_task_insert(weft__store *s, const char *id, const char *config_id,
                                 const char *scenario_id, int64_t at_us, char *err);
/* A task's config id and scenario (caller frees both); WEFT_ENOTFOUND. */
weft_err weft__store_task_get(weft__store *s, const char *id, char **config_id,
                              char **scenario_id, char *err);
/* The tasks of a scenario in creation order: *n ids and config ids (weft_strv_free). */
weft_err weft__store_scenario_tasks(weft__store *s, const char *scenario_id, char ***ids,
                                    char ***config_ids, size_t *n, char *err);
weft_err weft__store_scenarios(weft__store *s, char ***ids, char ***config_ids, size_t *n,
                               char *err);

typedef struct weft__store_dn {
    char *id;
    char *config_id;
    weft_scope scope;
    char *scenario_id;   /* NULL for GLOBAL/CYCLE nodes */
    char *path;          /* NULL for in-memory nodes */
    int64_t last_edit_us;/* 0 when never written */
    char *last_edit_job;
    char *cycle_id;      /* the owning cycle of a CYCLE node; NULL otherwise */
} weft__store_dn;
void weft__store_dn_release(weft__store_dn *dn);

weft_err weft__store_dn_insert(weft__store *s, const weft__store_dn *dn, int64_t at_us, char *err);
/* By instance id; WEFT_ENOTFOUND. */
weft_err weft__store_dn_get(weft__store *s, const char *id, weft__store_dn *out, char *err);
/* The instance of config_id owned by scenario_id (NULL: the shared one). */
weft_err weft__store_dn_find(weft__store *s, const char *config_id, const char *scenario_id,
                             weft__store_dn *out, char *err);
/* The instance of config_id owned by scenario_id or by cycle_id (both
 * NULL: the shared one); WEFT_ENOTFOUND. */
weft_err weft__store_dn_find_owned(weft__store *s, const char *config_id, const char *scenario_id,
                                   const char *cycle_id, weft__store_dn *out, char *err);
/* Instances of a config id: how many, and the first one's id (caller frees). */
weft_err weft__store_dn_by_config(weft__store *s, const char *config_id, size_t *n,
                                  char **first_id, char *err);
/* Records that job_id wrote the node at at_us (last edit + history row);
 * an edit from outside a job records its editor's name in place of a job
 * id (names never start with "JOB_"). */
weft_err weft__store_dn_edit(weft__store *s, const char *dn_id, int64_t at_us,
                             const char *job_id, char *err);
/* Number of recorded edits of a node (tests, `weft data`). */
weft_err weft__store_dn_nedits(weft__store *s, const char *dn_id, size_t *n, char *err);

/* dn_edits.c: every job of an unfinished submission that is itself
 * unfinished (SUBMITTED, BLOCKED, PENDING, RUNNING), oldest first, with its
 * task's config id and scenario (NULL outside one).  Caller frees with
 * weft__store_open_jobs_free(). */
typedef struct weft__store_open_job {
    char *id, *task_config_id, *scenario_id;
    int status;
} weft__store_open_job;
weft_err weft__store_open_jobs(weft__store *s, weft__store_open_job **out, size_t *n, char *err);
void weft__store_open_jobs_free(weft__store_open_job *v, size_t n);
/* dn_edits.c: a node's edits, oldest first; `by` is the job id or the
 * editor's name (NULL when unknown).  Free with weft__store_edits_free(). */
typedef struct weft__store_edit {
    int64_t at_us;
    char *by;
} weft__store_edit;
weft_err weft__store_dn_edits(weft__store *s, const char *dn_id, weft__store_edit **out, size_t *n,
                              char *err);
void weft__store_edits_free(weft__store_edit *v, size_t n);
/* ---- cycles (cycles.c) ----
 * Taipy's cycles: a period of a frequency, the scenarios created in it, one
 * of them primary.  Dates are naive local ISO datetimes ("2026-05-01T00:00:00"). */
typedef struct weft__store_cycle {
    char *id, *frequency, *name, *start_date, *end_date, *creation_date;
} weft__store_cycle;
void weft__store_cycle_release(weft__store_cycle *c);
/* The cycle of `frequency` ("MONTHLY") starting at start_date; WEFT_ENOTFOUND. */
weft_err weft__store_cycle_find(weft__store *s, const char *frequency, const char *start_date,
                                weft__store_cycle *out, char *err);
weft_err weft__store_cycle_insert(weft__store *s, const weft__store_cycle *c, int64_t at_us,
                                  char *err);
/* Records a stored scenario's creation date and cycle (NULL: none); the
 * first scenario of a cycle becomes its primary one. */
weft_err weft__store_scenario_attach(weft__store *s, const char *scenario_id, const char *cycle_id,
                                     const char *creation_date, char *err);
/* A scenario's cycle (*cycle_id NULL when it has none; caller frees) and
 * whether it is the primary one (is_primary may be NULL); WEFT_ENOTFOUND. */
weft_err weft__store_scenario_cycle(weft__store *s, const char *scenario_id, char **cycle_id,
                                    bool *is_primary, char *err);
/* Makes scenario_id the primary scenario of cycle_id (the others not). */
weft_err weft__store_set_primary(weft__store *s, const char *scenario_id, const char *cycle_id,
                                 char *err);
/* Every cycle by start date with its scenarios oldest first (caller frees
 * with weft_cycle_list_free()). */
weft_err weft__store_cycles(weft__store *s, weft_cycle_info ***out, size_t *n, char *err);

/* ---- submissions and jobs ---- */
weft_err weft__store_submission_insert(weft__store *s, const char *id, const char *entity_id,
                                       const char *entity_config_id, int status,
                                       int64_t created_us, int64_t *seq, char *err);
/* New status; finished_us 0 while unfinished. */
weft_err weft__store_submission_update(weft__store *s, int64_t seq, int status,
                                       int64_t finished_us, char *err);

typedef struct weft__store_job {
    const char *id, *task_id, *task_config_id, *submission_id, *entity_id;
    int attempt;
    int64_t submitted_us;
} weft__store_job;
/* Inserts a job in SUBMITTED (with its history row); *seq gets its row. */
weft_err weft__store_job_insert(weft__store *s, const weft__store_job *job, int64_t *seq,
                                char *err);
weft_err weft__store_job_dep(weft__store *s, int64_t job_seq, int64_t upstream_seq, char *err);
/* New status at at_us (status time, current status, history row); `error`
 * replaces the job's error when non-NULL. */
weft_err weft__store_job_status(weft__store *s, int64_t seq, int status, int64_t at_us,
                                const char *error, char *err);
/* Records that the job is handed to the executor at at_us (commit this
 * before the hand-over: recovery then knows it may have run). */
weft_err weft__store_job_dispatched(weft__store *s, int64_t seq, int64_t at_us, char *err);
weft_err weft__store_job_worker(weft__store *s, int64_t seq, const char *worker, int attempt,
                                char *err);
weft_err weft__store_job_result(weft__store *s, int64_t seq, int exit_code, int signal,
                                const char *log_tail, char *err);

/* Snapshots. */
weft_err weft__store_job_get(weft__store *s, const char *id, weft_job_info **out, char *err);
weft_err weft__store_jobs_list(weft__store *s, const char *submission_id, int status,
                               weft_job_info ***out, size_t *n, char *err);
/* Status history of a job: *n (status, at_us) pairs, oldest first (caller frees both). */
weft_err weft__store_job_history(weft__store *s, const char *id, int **statuses,
                                 int64_t **at_us, size_t *n, char *err);
weft_err weft__store_submission_get(weft__store *s, const char *id,
                                    weft_submission_info **out, char *err);
weft_err weft__store_submissions_list(weft__store *s, weft_submission_info ***out, size_t *n,
                                      char *err);

/* ---- recovery ---- */
typedef struct weft__store_unfinished {
    int64_t seq;
    char *id;
    char *submission_id;
    weft_job_status status;
    int64_t dispatched_us; /* 0: never handed to an executor */
} weft__store_unfinished;
/* Every job not in a final status, in creation order (free with
 * weft__store_unfinished_free()). */
weft_err weft__store_unfinished_jobs(weft__store *s, weft__store_unfinished **out, size_t *n,
                                     char *err);
void weft__store_unfinished_free(weft__store_unfinished *u, size_t n);
/* Row numbers of the jobs that depend on job `seq` directly (caller frees). */
weft_err weft__store_job_downstream(weft__store *s, int64_t seq, int64_t **out, size_t *n,
                                    char *err);
/* Recomputes a submission's status and finished time from its jobs (recovery). */
weft_err weft__store_submission_refresh(weft__store *s, const char *id, int64_t now_us,
                                        char *err);

/* ---- resuming a submission (cluster mode) ---- */
typedef struct weft__store_sub_job {
    int64_t seq;
    char *id, *task_id, *task_config_id;
    weft_job_status status;
    int attempt;
} weft__store_sub_job;
/* A submission's row number and every job of it in creation order (free
 * with weft__store_sub_jobs_free()); WEFT_ENOTFOUND for an unknown id. */
weft_err weft__store_submission_jobs(weft__store *s, const char *submission_id, int64_t *sub_seq,
                                     weft__store_sub_job **out, size_t *n, char *err);
void weft__store_sub_jobs_free(weft__store_sub_job *v, size_t n);

/* ---- cancel requests from other processes ---- */
weft_err weft__store_cancel_request(weft__store *s, const char *target_id, int64_t at_us,
                                    char *err);
/* Requests after row `after` not yet done: calls fn for each, sets *last to
 * the highest row seen.  Runs its own read (no transaction needed). */
weft_err weft__store_cancel_poll(weft__store *s, int64_t after,
                                 void (*fn)(void *ud, const char *target), void *ud,
                                 int64_t *last, char *err);
/* Marks every request up to row `upto` done. */
weft_err weft__store_cancel_done(weft__store *s, int64_t upto, int64_t at_us, char *err);

/* ---- versions (store.c, versions.c) ---- */
/* The version (name, mode "development", "experiment" or "production")
 * that tags every scenario, task, data node, submission and job inserted
 * from now on; its versions row is created with the first scenario or
 * submission.  NULL name: untagged.  Both strings are copied. */
weft_err weft__store_set_version(weft__store *s, const char *name, const char *mode, char *err);
/* The current version's name (borrowed, valid until the next set), or NULL. */
const char *weft__store_get_version(const weft__store *s);
/* A version's mode (caller frees *mode), WEFT_ENOTFOUND when there is no
 * such version. */
weft_err weft__store_version_mode(weft__store *s, const char *name, char **mode, char *err);
/* Changes a version's mode (experiment -> production).  In a transaction. */
weft_err weft__store_version_promote(weft__store *s, const char *name, const char *mode,
                                     char *err);
/* Every version, oldest first, with its number of entities (scenarios,
 * tasks, data nodes, submissions, jobs).  Caller frees with
 * weft_version_list_free().  One pass over each entity table: O(entities). */
weft_err weft__store_versions_list(weft__store *s, weft_version_info **out, size_t *n,
                                   char *err);

/* ---- deleting (delete.c) ----
 * A deletion collects what it deletes in temporary tables of the
 * connection (weft__store_del_*), checks it (unfinished jobs), then deletes
 * every row in the caller's one transaction (weft__store_del_apply).  Files
 * are never removed here: *paths lists the generated files of the deleted
 * data nodes, for the caller to unlink after the commit. */
/* A deferred transaction (no write lock on the store: only the
 * connection's temporary tables are written), for a check that a reader
 * makes; end it with weft__store_rollback(). */
weft_err weft__store_begin_read(weft__store *s, char *err);
/* Empties the set (in the transaction). */
weft_err weft__store_del_begin(weft__store *s, char *err);
/* What the set holds, files not counted (0). */
weft_err weft__store_del_counts(weft__store *s, weft_delete_counts *c, char *err);
/* Adds a job / a submission and its jobs / a scenario with its tasks, its
 * SCENARIO-scoped data nodes, the submissions of it, of its sequences and of
 * its tasks, and their jobs.  WEFT_ENOTFOUND, naming the id, when there is
 * no such entity. */
weft_err weft__store_del_job(weft__store *s, const char *id, char *err);
weft_err weft__store_del_submission(weft__store *s, const char *id, char *err);
weft_err weft__store_del_scenario(weft__store *s, const char *id, char *err);
weft_err weft__store_del_cycle(weft__store *s, const char *id, char *err);
/* A cycle whose primary scenario the set takes but not all its others
 * (*cycle_id, caller frees; NULL when none). */
weft_err weft__store_del_primary_left(weft__store *s, char **cycle_id, char *err);
/* Adds every entity tagged with `version` (GLOBAL and CYCLE data nodes stay,
 * untagged: other versions' scenarios share them). */
weft_err weft__store_del_version(weft__store *s, const char *version, char *err);
/* Adds everything, data nodes of every scope included. */
weft_err weft__store_del_all(weft__store *s, char *err);
/* Adds the finished submissions created before `before_us` and the
 * scenarios created before it whose submissions are all such. */
weft_err weft__store_del_older(weft__store *s, int64_t before_us, char *err);
/* The first unfinished job of the set (*job_id, *sub_id: caller frees;
 * NULL when none) and its status. */
weft_err weft__store_del_unfinished(weft__store *s, char **job_id, char **sub_id,
                                    weft_job_status *status, char *err);
/* The unfinished submissions of the set (weft_strv_free). */
weft_err weft__store_del_unfinished_subs(weft__store *s, char ***ids, size_t *n, char *err);
/* Deletes the set's rows; with `version`, also that versions row and the
 * tag of the GLOBAL nodes it leaves; with `all`, every versions row.
 * *paths gets the files of the deleted data nodes whose name weft generated
 * from their id (<storage>/data/<id>.<ext>; weft_strv_free): a configured
 * path is the application's file and stays.  In the caller's transaction. */
weft_err weft__store_del_apply(weft__store *s, const char *version, bool all,
                               weft_delete_counts *counts, char ***paths, size_t *npaths,
                               char *err);
/* Whether data node `id` exists (the orphan-file sweep). */
weft_err weft__store_dn_exists(weft__store *s, const char *id, bool *exists, char *err);

/* ---- checking (store_check.c) ---- */
/* SQLite's integrity_check and weft's invariants (orphan rows, statuses
 * consistent with their times and history, results recorded once by
 * completed jobs; with !owner_alive, no RUNNING job).  *problems gets one
 * line per problem (caller frees with weft_strv_free()), *n 0 when none.
 * Writes nothing.  O(store size). */
weft_err weft__store_check(weft__store *s, bool owner_alive, char ***problems, size_t *n,
                           char *err);

/* ---- fault injection (tests and `make faults` only; faultvfs.c) ---- */
typedef enum weft__fault_kind {
    WEFT__FAULT_IOERR = 0, /* the write fails with an I/O error */
    WEFT__FAULT_FULL = 1,  /* the disk is full */
} weft__fault_kind;
/* From now on, the nth write (xWrite, xSync, xTruncate; 1 is the next one)
 * to the files of a store opened after this call fails with `kind`; with
 * `persistent`, every later write fails too (a disk that stays full).
 * nth <= 0 only counts.  Resets the counters.  Not for production code. */
void weft__store_fault_arm(long nth, weft__fault_kind kind, bool persistent);
/* Writes pass again (the counters stay). */
void weft__store_fault_disarm(void);
/* Writes seen and writes failed since the last arm. */
long weft__store_fault_writes(void);
long weft__store_fault_injected(void);

/* ---- pages.c: keyset-paginated reads for the web view ----
 * Rows come back as JSON objects whose keys are the SQL column names; a
 * "status" column is written as its name.  A list returns at most `limit`
 * rows (newest first) whose row number is below `after` (0: from the
 * newest), and *next is the row number to pass as `after` for the next
 * page, 0 when this was the last.  Never OFFSET: each page is one index
 * range, as fast on page 200 as on page 1.  *items is the caller's to
 * json_decref(). */
struct json_t;

typedef struct weft__page_req {
    int64_t after;
    int limit;
    const char *submission; /* jobs: filters, NULL for any */
    const char *task;
    int status;             /* -1 for any */
} weft__page_req;

weft_err weft__page_submissions(weft__store *s, const weft__page_req *q, struct json_t **items,
                                int64_t *next, char *err);
weft_err weft__page_jobs(weft__store *s, const weft__page_req *q, struct json_t **items,
                         int64_t *next, char *err);
weft_err weft__page_scenarios(weft__store *s, const weft__page_req *q, struct json_t **items,
                              int64_t *next, char *err);
weft_err weft__page_datanodes(weft__store *s, const weft__page_req *q, struct json_t **items,
                              int64_t *next, char *err);
/* The jobs of one submission in creation order, at most `max` (Gantt, graph). */
weft_err weft__page_submission_jobs(weft__store *s, const char *submission_id, int max,
                                    struct json_t **items, char *err);
/* A job's status history (oldest first) and a data node's last edits (newest first). */
weft_err weft__page_job_history(weft__store *s, const char *job_id, struct json_t **items,
                                char *err);
weft_err weft__page_dn_edits(weft__store *s, const char *dn_id, int max, struct json_t **items,
                             char *err);
/* Job status changes stored after history row `after`, oldest first, at
 * most `max`: {"row", "job", "task", "submission", "status", "at_us"}. */
weft_err weft__page_changes(weft__store *s, int64_t after, int max, struct json_t **items,
                            char *err);
/* The highest job history row (where a new event stream starts). */
weft_err weft__page_last_change(weft__store *s, int64_t *row, char *err);
/* Jobs by status; finished submissions by status. */
weft_err weft__page_job_counts(weft__store *s, int64_t counts[WEFT_JOB_NSTATUS], char *err);
weft_err weft__page_sub_counts(weft__store *s, int64_t counts[WEFT_JOB_NSTATUS], char *err);
/* Calls fn for every COMPLETED job with its task and run time (RUNNING to
 * COMPLETED, µs): one scan of the jobs table. */
weft_err weft__page_durations(weft__store *s, void (*fn)(void *ud, const char *task, int64_t us),
                              void *ud, char *err);
/* Jobs that became final in each of `n` buckets of `bucket_us` ending now. */
weft_err weft__page_throughput(weft__store *s, int64_t now_us, int64_t bucket_us, int64_t *buckets,
                               size_t n, char *err);
/* The newest submission of `entity_id` (caller frees *id), WEFT_ENOTFOUND. */
weft_err weft__page_submission_of(weft__store *s, const char *entity_id, char **id, char *err);

#endif
