/* SPDX-License-Identifier: MIT */
/*
 * cmd_delete.c - `weft delete ID` (a job, a submission or a scenario with
 * what belongs to it), `weft clean [--older-than DURATION]` (everything, or
 * the finished work older than DURATION) and the deletion of
 * `weft versions --delete VERSION`: argument parsing and one line saying
 * what was (or, with --dry-run, would be) deleted.  A deletion opens the
 * store read-write, so a store held by `weft run` is refused with its pid.
 *
 * Cluster mode: opening the store read-write resumes the submissions a
 * killed `weft run` left, and closing it waits for them to end, so a
 * deletion that will be refused (unfinished work, no --force) is found with
 * a read-only check first instead of waiting on jobs it does not touch.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_delete(int argc, char **argv);
int cmd_clean(int argc, char **argv);

static weft_err do_op(weft_orchestrator *o, const cli_delete_op *op, unsigned flags,
                      weft_delete_counts *c, char *err)
{
    switch (op->kind) {
    case CLI_DELETE_ID: return weft_delete(o, op->id, flags, c, err);
    case CLI_DELETE_VERSION: return weft_version_delete(o, op->id, flags, c, err);
    case CLI_DELETE_CLEAN: return weft_clean(o, op->older_us, flags, c, err);
    }
    return WEFT_EINVAL;
}

/* "ID", "version V" or "" (clean), for the messages. */
static const char *label(const cli_delete_op *op, char *buf, size_t size)
{
    if (op->kind == CLI_DELETE_ID) snprintf(buf, size, " %s", op->id);
    else if (op->kind == CLI_DELETE_VERSION) snprintf(buf, size, " version %s", op->id);
    else buf[0] = '\0';
    return buf;
}

static int report(const cli_delete_op *op, weft_err e, const char *err,
                  const weft_delete_counts *c, bool dry_run)
{
    char what[600], buf[256];
    label(op, what, sizeof what);
    if (e) {
        if (op->kind == CLI_DELETE_CLEAN)
            cli_error("cannot clean: %s", err[0] ? err : weft_strerror(e));
        else
            cli_error("cannot delete%s: %s", what, err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    printf("%s%s%s %s\n", dry_run ? "would delete" : "deleted", what, what[0] ? ":" : "",
           out_delete_counts(c, buf, sizeof buf));
    return CLI_OK;
}

int cli_delete_run(const char *config, const cli_delete_op *op, bool force, bool dry_run)
{
    weft_config *cfg;
    weft_orchestrator *o;
    bool no_store = false;
    int rc = cli_open(config, true, &no_store, &cfg, &o);
    if (rc) return rc;
    char err[WEFT_ERRBUF_SIZE] = "", what[600];
    weft_delete_counts c;
    if (no_store) {
        cli_close(cfg, o);
        if (op->kind == CLI_DELETE_CLEAN) {
            fprintf(stderr, "weft: nothing to clean (no store yet)\n");
            return CLI_OK;
        }
        cli_error("cannot delete%s: no store yet (nothing has run)", label(op, what, sizeof what));
        return CLI_FAILED;
    }
    bool resumes = weft_config_mode(cfg) == WEFT_MODE_CLUSTER && !force &&
                   !(op->kind == CLI_DELETE_CLEAN && op->older_us);
    if (dry_run || resumes) {
        weft_err e = do_op(o, op, WEFT_DELETE_CHECK, &c, err);
        if (e || dry_run) {
            cli_close(cfg, o);
            return report(op, e, err, &c, dry_run);
        }
    }
    cli_close(cfg, o);
    if ((rc = cli_open(config, false, NULL, &cfg, &o))) return rc;
    weft_err e = do_op(o, op, force ? WEFT_DELETE_FORCE : 0, &c, err);
    rc = report(op, e, err, &c, false);
    cli_close(cfg, o);
    return rc;
}

int cmd_delete(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    bool force = false, dry_run = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_FLAG("force", 'f', &force),
                            CLI_FLAG("dry-run", 'n', &dry_run), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "delete", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0)
        return cli_usage_error("delete", "what to delete? give a job, submission or scenario id "
                                         "(see 'weft jobs', 'weft submissions', 'weft scenarios')");
    cli_delete_op op = {.kind = CLI_DELETE_ID, .id = pos[0]};
    return cli_delete_run(config, &op, force, dry_run);
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
    bool force = false, dry_run = false;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_STRING("older-than", 0, "a duration", &older),
                            CLI_FLAG("force", 'f', &force), CLI_FLAG("dry-run", 'n', &dry_run),
                            CLI_LOG_OPTS, CLI_END};
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
    cli_delete_op op = {.kind = CLI_DELETE_CLEAN, .older_us = us};
    return cli_delete_run(config, &op, force, dry_run);
}
