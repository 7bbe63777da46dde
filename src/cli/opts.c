/* SPDX-License-Identifier: MIT */
/*
 * opts.c - how every `weft` command reads its command line: the table-driven
 * parser of opts.h (long and short options, --opt=value, --, positional
 * arguments), the typed values (numbers, choices), and the usage errors
 * they produce, worded the same for every command.
 */
#include "cli/opts.h"
#include "util/defaults.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cli_mode_names[] = {WEFT__MODE_DEVELOPMENT, WEFT__MODE_STANDALONE,
                                      WEFT__MODE_CLUSTER, NULL};

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("weft: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd)
        fprintf(stderr, "Try 'weft help %s'.\n", cmd);
    else
        fputs("Try 'weft --help'.\n", stderr);
    return CLI_USAGE;
}

bool cli_strtol(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* The row whose long name is exactly name[0..len), or NULL. */
static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char letter)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (o->letter && o->letter == letter) return o;
    return NULL;
}

static bool takes_value(const cli_opt *o) { return o->kind != CLI_OPT_FLAG && o->kind != CLI_OPT_LOG; }

/* "a, b or c" of a NULL-terminated list into buf. */
static const char *or_list(const char *const *names, char *buf, size_t size)
{
    size_t n = 0, used = 0;
    while (names[n]) n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, size - used, "%s%s", sep, names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

/* Stores `val`, given to option `given` (as typed, without "=value"), in row o. */
static int store_value(const char *cmd, const cli_opt *o, const char *given, const char *val)
{
    switch (o->kind) {
    case CLI_OPT_STRING:
        *o->str = val;
        return CLI_OK;
    case CLI_OPT_LONG:
        if (!cli_strtol(val, o->min, o->max, o->num)) {
            if (o->max == LONG_MAX)
                return cli_usage_error(cmd, "option '%s' needs a number of at least %ld, not '%s'", given,
                                       o->min, val);
            return cli_usage_error(cmd, "option '%s' needs a number from %ld to %ld, not '%s'", given,
                                   o->min, o->max, val);
        }
        return CLI_OK;
    case CLI_OPT_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (strcmp(o->choices[i], val) == 0) {
                *o->choice = i;
                return CLI_OK;
            }
        char list[256];
        return cli_usage_error(cmd, "unknown %s '%s' (%s)", o->name, val, or_list(o->choices, list, sizeof list));
    case CLI_OPT_FLAG:
    case CLI_OPT_LOG:
        break;
    }
    return cli_usage_error(cmd, "option '%s' takes no value", given);
}

/*
 * Parses the option at argv[*i] ("--name", "--name=v", "-x", "-xv"),
 * taking its value from argv[*i + 1] when it needs one and has none
 * attached.  *level gets the level of a log option.
 */
static int parse_option(const cli_parse_opts *p, int argc, char **argv, int *i, int *level)
{
    const char *a = argv[*i];
    const cli_opt *o;
    const char *attached = NULL; /* the value glued to the option, if any */
    char given[64];              /* the option as typed, for messages */
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        snprintf(given, sizeof given, "--%.*s", (int)len, a + 2);
        if (!(o = find_long(p->opts, a + 2, len))) return cli_usage_error(p->cmd, "unknown option '%s'", given);
        if (eq) attached = eq + 1;
    } else {
        snprintf(given, sizeof given, "-%c", a[1]);
        if (!(o = find_short(p->opts, a[1]))) return cli_usage_error(p->cmd, "unknown option '%s'", a);
        if (a[2]) {
            /* "-w4" is -w 4; "-fq" would be two flags, which we do not bundle. */
            if (!takes_value(o)) return cli_usage_error(p->cmd, "unknown option '%s'", a);
            attached = a + 2;
        }
    }
    if (!takes_value(o)) {
        if (attached) return cli_usage_error(p->cmd, "option '%s' takes no value", given);
        if (o->kind == CLI_OPT_FLAG) *o->flag = true;
        else *level = (int)o->min;
        return CLI_OK;
    }
    if (!attached) {
        if (*i + 1 >= argc) return cli_usage_error(p->cmd, "option '%s' needs %s", given, o->what);
        attached = argv[++*i];
    }
    return store_value(p->cmd, o, given, attached);
}

int cli_parse(const cli_parse_opts *p, int argc, char **argv, cli_parsed *out)
{
    int level = -1; /* a log option's level, applied once the line is known good */
    bool options = true;
    out->npos = 0;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (options && strcmp(a, "--") == 0) {
            options = false;
            continue;
        }
        if (options && a[0] == '-' && a[1] != '\0') {
            int rc = parse_option(p, argc, argv, &i, &level);
            if (rc) return rc;
            continue;
        }
        if (p->stop_at_positional) break;
        if (out->npos >= p->maxpos)
            return cli_usage_error(p->cmd, "unexpected argument '%s'%s%s", a, p->hint ? " " : "",
                                   p->hint ? p->hint : "");
        p->pos[out->npos++] = a;
    }
    out->next = i;
    if (level >= 0) cli_log_init((weft_log_level)level);
    return CLI_OK;
}
