/* SPDX-License-Identifier: MIT */
/*
 * output.h - what the engine commands (run, jobs, show, submissions,
 * scenarios, data, cancel) share: opening the configuration and the store,
 * printing tables, durations and times for a person, JSON for a program,
 * and error messages with credentials masked.
 *
 * Names use the cli_/out_ prefixes of the command; nothing here is part of
 * libweft.
 */
#ifndef WEFT_CLI_OUTPUT_H
#define WEFT_CLI_OUTPUT_H

#include "cli/cli.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors ------------------------------------------------------------ */

/*
 * A copy of `s` with the password of every URL ("scheme://user:pass@host")
 * replaced by "***", so that engine messages that quote a broker URL never
 * show a secret.  Caller frees; NULL when `s` is NULL or out of memory.
 */
char *out_redact(const char *s);

/*
 * A copy of `s` that a terminal shows as text: control characters other
 * than newline and tab become "\x1b"-style escapes, and the 8-bit controls
 * (U+0080..U+009F) "\u009b", so task output or an error cannot move the
 * cursor, retitle the window or hide text.  Caller frees; NULL when `s` is
 * NULL or out of memory.
 */
char *out_term_escape(const char *s);

/* out_redact(s), escaped with out_term_escape() when `to` is a terminal:
 * how task-provided text (errors, output) is shown.  Caller frees. */
char *out_display(const char *s, FILE *to);

/* Prints "weft: <message>" to stderr, credentials masked, escaped on a
 * terminal. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "1 scenario, 3 tasks, 2 data nodes (1 file), 1 submission, 3 jobs": what a
 * deletion deleted, into buf (returned). */
const char *out_delete_counts(const weft_delete_counts *c, char *buf, size_t size);

/* ---- the configuration and the store ----------------------------------- */

/*
 * Loads the configuration at `path` (NULL: config.toml), applies `mode`
 * (a weft_mode, or -1 to keep the file's) and `workers` (<= 0: keep) with
 * weft_config_configure_job_executions(), then checks it.  Diagnostics are
 * printed with cli_print_diags() once, after the check, so a --mode that
 * breaks a constraint is reported with the rest: all of them when
 * `warnings`, only when there is an error otherwise (a query is not the
 * place for warnings).  Returns CLI_OK with *out (caller frees with
 * weft_config_free()) or CLI_USAGE after printing why.
 */
int cli_load_checked(const char *path, int mode, int workers, bool warnings, weft_config **out);

/*
 * Loads the configuration at `path` (NULL: config.toml), checks it and opens
 * an orchestrator on its store (cli_load_checked() without warnings).
 * Read-only commands pass `read_only`: they take no lock and work while
 * `weft run` writes.
 * Returns CLI_OK with *cfg and *o set (caller closes *o, then frees *cfg),
 * or an exit code after printing why.  When the store does not exist yet,
 * returns CLI_OK with *o NULL and `*no_store` true (when no_store is not NULL;
 * otherwise that is an error).
 */
int cli_open(const char *path, bool read_only, bool *no_store, weft_config **cfg,
             weft_orchestrator **o);

/*
 * cli_open() read-only for a command about one entity (`what` 'id'): when
 * nothing has run yet, prints "no <what> '<id>': nothing has run yet" and
 * returns CLI_FAILED.  Otherwise as cli_open(), *o never NULL on CLI_OK.
 */
int cli_open_for(const char *path, const char *what, const char *id, weft_config **cfg,
                 weft_orchestrator **o);

/*
 * For a listing command that takes only [-c FILE] [--json] (and the log
 * options): parses them, then cli_open() read-only.  Returns CLI_OK (*o NULL
 * with *no_store true when nothing has run yet), or the exit status after
 * printing why.
 */
int cli_list_open(const char *cmd, int argc, char **argv, bool *json, bool *no_store,
                  weft_config **cfg, weft_orchestrator **o);

/* Prints a data node's details and edit history (cmd_data.c; `weft data
 * --info`, `weft show DATANODE_...`), as JSON with `json`.  CLI_OK, or
 * CLI_FAILED after printing why. */
int cli_data_info(weft_orchestrator *o, const char *id, bool json);

/* Closes what cli_open() opened; NULLs are ignored. */
void cli_close(weft_config *cfg, weft_orchestrator *o);

/*
 * Finds a job by id or by an unambiguous prefix of its id (progress lines
 * print shortened ids).  Returns WEFT_OK with *out (caller frees with
 * weft_job_info_free()); WEFT_ENOTFOUND or WEFT_EINVAL (ambiguous) with a
 * message in err.
 */
weft_err cli_find_job(weft_orchestrator *o, const char *id, weft_job_info **out, char *err);

/* ---- text -------------------------------------------------------------- */

/* "850ms", "1.25s", "2m03s", "1h02m03s"; "-" for a negative value.  Returns buf. */
const char *out_duration(int64_t us, char *buf, size_t size);

/* Local time "12:00:01.234", or with `date` "2024-01-31 12:00:01.234"; "-" for 0.  Returns buf. */
const char *out_time(int64_t us, bool date, char *buf, size_t size);

/*
 * How long a job ran: from RUNNING to its final status (or to now while it
 * runs); -1 when it never ran.
 */
int64_t out_job_duration_us(const weft_job_info *job);

/* The latest status time of a job (when it entered its current status). */
int64_t out_job_status_time_us(const weft_job_info *job);

/*
 * A shortened job id for progress lines: the prefix up to and including the
 * first 8 characters of the uuid ("JOB_clean_1a2b3c4d").  Any prefix
 * that is unique is accepted back by cli_find_job().  Returns buf.
 */
const char *out_short_id(const char *id, char *buf, size_t size);

/* Number of characters (not bytes) of UTF-8 text, for alignment. */
size_t out_width(const char *s);

/* ---- tables ------------------------------------------------------------ */

/*
 * A table of text cells printed with aligned columns, and an optional note
 * per row printed indented on the next line (a failed job's error).  Cells
 * are copied.  OUT_TABLE_INIT then out_table_header(); out_table_release()
 * may be called twice.
 */
typedef struct out_table {
    size_t ncols;
    char **cells;    /* (nrows + 1) * ncols, row 0 is the header */
    char **notes;    /* nrows + 1, NULL where none */
    size_t nrows;
    size_t cells_cap, notes_cap; /* elements allocated, for WEFT__GROW */
} out_table;
#define OUT_TABLE_INIT {0, NULL, NULL, 0, 0, 0}

void out_table_header(out_table *t, size_t ncols, const char *const *headers);
/* Adds a row of t->ncols cells; NULL cells print as "-". */
void out_table_row(out_table *t, const char *const *cells);
/* Sets the note of the last row (copied; credentials masked). */
void out_table_note(out_table *t, const char *note);
/* Prints the table; on a terminal, cells and notes are escaped
 * (out_term_escape()). */
void out_table_print(const out_table *t, FILE *out);
void out_table_release(out_table *t);

/* ---- JSON -------------------------------------------------------------- */

/* A job as a JSON object with every field of weft_job_info.  New reference. */
json_t *out_job_json(const weft_job_info *job);

/* A submission as a JSON object.  New reference. */
json_t *out_submission_json(const weft_submission_info *sub);

/* A string or JSON null.  New reference. */
json_t *out_json_str(const char *s);

/* Prints `v` indented to stdout with a final newline and releases it; CLI_OK or CLI_FAILED. */
int out_json_print(json_t *v);

#endif
