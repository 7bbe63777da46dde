/* SPDX-License-Identifier: MIT */
/*
 * opts.h - the one option parser of the `weft` commands.
 *
 * A command declares its options as a table of cli_opt rows, built with the
 * CLI_* macros below and ended by CLI_END, and calls cli_parse() once:
 *
 *     const char *config = NULL, *pos[1];
 *     bool json = false;
 *     long lines = 20;
 *     const cli_opt opts[] = {
 *         CLI_CONFIG(&config),
 *         CLI_LONG("lines", 'n', &lines, 0, LONG_MAX),
 *         CLI_FLAG("json", 0, &json),
 *         CLI_LOG_OPTS,
 *         CLI_END,
 *     };
 *     cli_parse_opts p = {.cmd = "show", .opts = opts, .pos = pos, .maxpos = 1};
 *     cli_parsed got;
 *     int rc = cli_parse(&p, argc, argv, &got);
 *     if (rc) return rc;       (CLI_USAGE, the error already printed)
 *
 * What every command then accepts:
 *   --name VALUE, --name=VALUE, and -x VALUE or -xVALUE when the row has a
 *   letter (only the letters the help texts document);
 *   --flag (a flag given a value, "--json=yes", is an error);
 *   --  ends the options: what follows is positional, even "-x";
 *   -   alone is positional;
 *   positional arguments, collected in order, at most `maxpos` of them.
 * Names match whole: "--work" is not "--workers".  getopt_long() would take
 * the abbreviation, and then adding an option that shares the prefix breaks
 * the scripts that used it.  Short flags are not bundled ("-fq").
 *
 * Every mistake is reported with one wording, through cli_usage_error()
 * ("weft: MESSAGE" then "Try 'weft help CMD'."), and cli_parse() returns
 * CLI_USAGE (exit status 2):
 *   unknown option '--work'
 *   option '-c' needs a file name                 (the row's `what`)
 *   option '--json' takes no value
 *   unexpected argument 'x'                       (more than maxpos)
 *   option '--workers' needs a number from 1 to 4096, not 'zero'
 *   unknown mode 'fast' (development, standalone or cluster)
 *
 * Values are borrowed from argv.  Destinations are written as options are
 * met (the last one given wins), also when a later argument is wrong: the
 * caller returns on an error anyway.
 */
#ifndef WEFT_CLI_OPTS_H
#define WEFT_CLI_OPTS_H

#include "cli/cli.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum cli_opt_kind {
    CLI_OPT_FLAG,   /* no value: *flag = true */
    CLI_OPT_STRING, /* *str = the value */
    CLI_OPT_LONG,   /* *num = the value, a decimal integer in [min, max] */
    CLI_OPT_CHOICE, /* *choice = index of the value in `choices` (whole, case-sensitive) */
    CLI_OPT_LOG,    /* no value: the stderr log handler's level becomes `min` */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name;   /* long name without the dashes; NULL ends the table */
    char letter;        /* the short form -letter, or 0 */
    cli_opt_kind kind;
    const char *what;   /* the value in "option '--x' needs WHAT": "a file name" */
    bool *flag;
    const char **str;
    long *num;
    int *choice;
    const char *const *choices; /* NULL-terminated */
    long min, max;
} cli_opt;

#define CLI_FLAG(name_, letter_, ptr) \
    {.name = (name_), .letter = (letter_), .kind = CLI_OPT_FLAG, .flag = (ptr)}
#define CLI_STRING(name_, letter_, what_, ptr) \
    {.name = (name_), .letter = (letter_), .kind = CLI_OPT_STRING, .what = (what_), .str = (ptr)}
#define CLI_LONG(name_, letter_, ptr, lo, hi)                                              \
    {.name = (name_), .letter = (letter_), .kind = CLI_OPT_LONG, .what = "a number", \
     .num = (ptr), .min = (lo), .max = (hi)}
#define CLI_CHOICE(name_, letter_, ptr, names)                                      \
    {.name = (name_), .letter = (letter_), .kind = CLI_OPT_CHOICE, .what = "a value", \
     .choice = (ptr), .choices = (names)}
/* -c, --config FILE: the configuration (every command but bench and run-worker). */
#define CLI_CONFIG(ptr) CLI_STRING("config", 'c', "a file name", ptr)
/* --mode MODE: development, standalone or cluster, as a weft_mode. */
#define CLI_MODE(ptr) CLI_CHOICE("mode", 0, ptr, cli_mode_names)
/* -q, --quiet (errors only) and -v, --verbose (debug): the level of the log
 * handler of log.c, set once the whole command line parsed. */
#define CLI_LOG_OPTS                                                                      \
    {.name = "quiet", .letter = 'q', .kind = CLI_OPT_LOG, .min = WEFT_LOG_ERROR},        \
    {.name = "verbose", .letter = 'v', .kind = CLI_OPT_LOG, .min = WEFT_LOG_DEBUG}
#define CLI_END {.name = NULL}

/* The mode names in weft_mode order, NULL-terminated, for CLI_MODE. */
extern const char *const cli_mode_names[];

typedef struct cli_parse_opts {
    const char *cmd;      /* the command, for "Try 'weft help CMD'"; NULL: the global options */
    const cli_opt *opts;  /* ended by CLI_END */
    const char **pos;     /* room for maxpos positional arguments (may be NULL when 0) */
    size_t maxpos;        /* one more is "unexpected argument" */
    const char *hint;     /* NULL, or added to that error: "(use -s SCENARIO)" */
    bool stop_at_positional; /* main(): the command name ends the global options */
} cli_parse_opts;

typedef struct cli_parsed {
    size_t npos; /* positional arguments stored in pos[] */
    int next;    /* index of the first argument not parsed: argc, or the one that stopped it */
} cli_parsed;

/*
 * Parses argv[1..argc-1] (argv[0] is the command name, or "weft") against
 * p->opts.  Returns CLI_OK with *out filled, or CLI_USAGE after printing the
 * error with cli_usage_error(p->cmd, ...).
 */
int cli_parse(const cli_parse_opts *p, int argc, char **argv, cli_parsed *out);

/*
 * The decimal integer `s` (nothing before or after it) when it lies in
 * [lo, hi]: true with *out, false otherwise (*out untouched).  What
 * CLI_LONG uses, for values that need more parsing than an option
 * ("spin:MS").
 */
bool cli_strtol(const char *s, long lo, long hi, long *out);

#endif
