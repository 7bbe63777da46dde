/* SPDX-License-Identifier: MIT */
/*
 * cmd_delete.c - `weft delete ID` (a job, a submission or a scenario with
 * what belongs to it) and `weft clean [--older-than DURATION]` (everything,
 * or the finished work older than DURATION): argument parsing and one line
 * saying what was deleted.  Both open the store read-write, so they wait
 * for no one: a store held by `weft run` is refused with its pid.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_delete(int argc, char **argv);
int cmd_clean(int argc, char **argv);

/* Opens the store read-write when there is one; *no_store (and CLI_OK with
 * *o NULL) when nothing has run yet: opening read-write would create one. */
static int open_existing(const char *config, bool *no_store, weft_config **cfg,
                         weft_orchestrator **o)
{
    int rc = cli_open(config, true, no_store, cfg, o);
    if (rc) return rc;
    cli_close(*cfg, *o);
    *cfg = NULL;
    *o = NULL;
    return *no_store ? CLI_OK : cli_open(config, false, NULL, cfg, o);
}

int cmd_delete(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    bool force = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("force", 'f', &force), CLI_LOG_OPTS,
                            CLI_END};
    cli_parse_opts p = {.cmd = "delete", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0)
        return cli_usage_error("delete", "what to delete? give a job, submission or scenario id "
                                         "(see 'weft jobs', 'weft submissions', 'weft scenarios')");
    weft_config *cfg;
    weft_orchestrator *o;
    bool no_store = false;
    if ((rc = open_existing(config, &no_store, &cfg, &o))) return rc;
    if (no_store) {
        cli_error("cannot delete %s: no store yet (nothing has run)", pos[0]);
        return CLI_FAILED;
    }
    char err[WEFT_ERRBUF_SIZE] = "", buf[256];
    weft_delete_counts c;
    weft_err e = weft_delete(o, pos[0], force ? WEFT_DELETE_FORCE : 0, &c, err);
    if (e) {
        cli_error("cannot delete %s: %s", pos[0], err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    } else {
        printf("deleted %s: %s\n", pos[0], out_delete_counts(&c, buf, sizeof buf));
    }
    cli_close(cfg, o);
    return rc;
}

/* "30d" -> microseconds; false for anything but digits and one unit. */
static bool parse_duration(const char *s, int64_t *us)
{
    size_t n = strlen(s);
    if (n < 2) return false;
    static const struct { char unit; int64_t us; } units[] = {
        {'s', 1000000LL}, {'m', 60000000LL}, {'h', 3600000000LL}, {'d', 86400000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (s[n - 1] != units[i].unit) continue;
        char num[32];
        long v;
        if (n - 1 >= sizeof num) return false;
        memcpy(num, s, n - 1);
        num[n - 1] = '\0';
        /* Up to ~29,000 years in seconds: no overflow in microseconds. */
        if (!cli_strtol(num, 1, 1000000000000L / (units[i].us / 1000000LL), &v)) return false;
        *us = (int64_t)v * units[i].us;
        return true;
    }
    return false;
}

int cmd_clean(int argc, char **argv)
{
    const char *config = NULL, *older = NULL;
    bool force = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_STRING("older-than", 0, "a duration", &older),
                            CLI_FLAG("force", 'f', &force), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "clean", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    int64_t us = 0;
    if (older && !parse_duration(older, &us))
        return cli_usage_error("clean", "bad duration '%s' for --older-than: give a whole number "
                                        "of s, m, h or d, as in 90s, 15m, 12h or 30d", older);
    if (older && force)
        return cli_usage_error("clean", "--force is for a whole clean; --older-than leaves "
                                        "unfinished work alone");
    weft_config *cfg;
    weft_orchestrator *o;
    bool no_store = false;
    if ((rc = open_existing(config, &no_store, &cfg, &o))) return rc;
    if (no_store) {
        fprintf(stderr, "weft: nothing to clean (no store yet)\n");
        return CLI_OK;
    }
    char err[WEFT_ERRBUF_SIZE] = "", buf[256];
    weft_delete_counts c;
    weft_err e = weft_clean(o, us, force ? WEFT_DELETE_FORCE : 0, &c, err);
    if (e) {
        cli_error("cannot clean: %s", err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    } else {
        printf("deleted %s\n", out_delete_counts(&c, buf, sizeof buf));
    }
    cli_close(cfg, o);
    return rc;
}
