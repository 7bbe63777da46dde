/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the files of the `weft` command share: the command table
 * entry type, each command's entry point, and exit codes.
 *
 * Each command lives in its own src/cli/cmd_*.c file, reads its arguments
 * with cli_parse() (opts.h), and is registered in main.c's table with its
 * one-line summary and its help text.
 */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include "weft.h"

#include <stdbool.h>
#include <stdint.h>

/* Exit codes of the command. */
enum {
    CLI_OK = 0,       /* success (for run: the submission COMPLETED) */
    CLI_FAILED = 1,   /* the check found errors, the submission failed, ... */
    CLI_USAGE = 2,    /* usage error, config that cannot be loaded */
    CLI_SIGINT = 130, /* interrupted by Ctrl-C */
};

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;               /* one line, for `weft --help` */
    const char *help;                  /* full text, for `weft help NAME` */
} cli_command;

/* Prints "weft: <msg>" and "Try 'weft help <cmd>'." (cmd NULL: "Try 'weft
 * --help'.") to stderr; returns CLI_USAGE.  cli_parse() (opts.h) reports
 * every option mistake through it; commands use it for their own checks. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finds a command by name, NULL when unknown. */
const cli_command *cli_find(const char *name);


/* What cli_load_config() checks, or-ed: true (1) is CLI_CHECK. */
enum {
    CLI_CHECK = 1,           /* weft_config_check() */
    CLI_CHECK_FUNCTIONS = 2, /* and weft_config_check_functions(), nothing imported */
    CLI_CHECK_IMPORT = 4,    /* with the Python modules imported */
};

/* Loads the config at `path` (default "config.toml"), checks what `check`
 * says, and prints every diagnostic to stderr; returns NULL (after
 * printing) when it cannot be loaded at all.  Caller frees with
 * weft_config_free(). */
weft_config *cli_load_config(const char *path, int check, int *nerrors);

/* Installs the stderr log handler (log.c) at `level` (default
 * WEFT_LOG_INFO; --quiet: WEFT_LOG_ERROR, --verbose: WEFT_LOG_DEBUG).
 * Called again, it only moves the level. */
void cli_log_init(weft_log_level level);

/* The level last given to cli_log_init(): a command prints a line that is
 * only informative when it is WEFT_LOG_INFO or more. */
weft_log_level cli_log_level(void);

/* Prints every diagnostic of `cfg` as "file:line:col: error|warning: msg" to `out`. */
void cli_print_diags(const weft_config *cfg, FILE *out);

/* The broker URL of run-worker and workers (cli_broker.c): `url`
 * (--broker, warning when it carries a password), the first line of
 * `file` (--broker-file, warning when others may read it), else the
 * WEFT_BROKER_URL environment variable; *out is NULL when none gives one
 * (the config's then).  Caller frees *out.  CLI_OK, or the exit code after
 * printing why. */
int cli_broker_url(const char *cmd, const char *url, const char *file, char **out);

/* A deletion of cmd_delete.c: an id (weft delete), a version (weft
 * versions --delete) or a clean (older_us 0: everything). */
typedef struct cli_delete_op {
    enum { CLI_DELETE_ID, CLI_DELETE_VERSION, CLI_DELETE_CLEAN } kind;
    const char *id;   /* the entity or version */
    int64_t older_us; /* clean */
} cli_delete_op;

/* Runs `op` on the store of `config` and prints what was deleted (with
 * `dry_run`, what would be, read-only); the exit code. */
int cli_delete_run(const char *config, const cli_delete_op *op, bool force, bool dry_run);

#endif
