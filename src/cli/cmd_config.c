/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - `weft config [-c FILE] [--raw]`: prints the effective
 * configuration (defaults applied, inherited keys copied, ENV resolved) or,
 * with --raw, the values as written, as TOML that `weft check` accepts.
 * Passwords in URLs (broker_url), [JOB] broker_secret and the data nodes'
 * db_password and aws_secret_access_key are masked unless
 * --show-secrets is given: the output often lands in a terminal, a log or a
 * bug report.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_config(int argc, char **argv); /* registered in main.c */

/* The keys whose values are secrets. */
static const char *const secret_keys[] = {"broker_secret", "db_password", "aws_secret_access_key"};

/* The length of the secret key that `p` starts with followed by blanks and
 * '=', or 0. */
static size_t secret_key_at(const char *p)
{
    for (size_t i = 0; i < sizeof secret_keys / sizeof *secret_keys; i++) {
        size_t n = strlen(secret_keys[i]);
        if (strncmp(p, secret_keys[i], n) == 0 && (p[n] == ' ' || p[n] == '\t' || p[n] == '=')) return n;
    }
    return 0;
}

/* `text` with the value of every `<secret key> = ...` line replaced by
 * "***" (an "ENV[NAME]" reference, as --raw shows it, is no secret and is
 * kept).  Caller frees; NULL on ENOMEM. */
static char *mask_secrets(const char *text)
{
    size_t n = strlen(text);
    /* A masked value may be shorter than "***" with its quotes, but never
     * by more than the length of the key before it: twice the size is room. */
    char *r = malloc(2 * n + 1), *o = r;
    if (!r) return NULL;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        const char *p = line + strspn(line, " \t");
        size_t kn = secret_key_at(p);
        const char *eq = kn ? p + kn : NULL;
        if (eq) eq += strspn(eq, " \t");
        const char *val = eq && *eq == '=' ? eq + 1 + strspn(eq + 1, " \t") : NULL;
        if (val && *val && *val != '\n' && strncmp(val, "\"ENV[", 5) != 0) {
            memcpy(o, line, (size_t)(val - line));
            o += val - line;
            memcpy(o, "\"***\"", 5);
            o += 5;
            if (end) *o++ = '\n';
        } else {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    *o = '\0';
    return r;
}

int cmd_config(int argc, char **argv)
{
    const char *path = "config.toml";
    bool raw = false, secrets = false;
    const cli_opt opts[] = {CLI_CONFIG(&path), CLI_FLAG("raw", 0, &raw), CLI_FLAG("show-secrets", 0, &secrets),
                            CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "config", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    /* --raw shows the file as written: ENV[...] unresolved, so no check. */
    int nerrors = 0;
    weft_config *cfg = cli_load_config(path, !raw, &nerrors);
    if (!cfg) return CLI_USAGE;
    if (nerrors) {
        fprintf(stderr, "%s: %d error%s; not printing an invalid configuration\n", path, nerrors,
                nerrors == 1 ? "" : "s");
        weft_config_free(cfg);
        return CLI_FAILED;
    }
    char err[WEFT_ERRBUF_SIZE];
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    weft_err e = mem ? weft_config_write(cfg, mem, raw, err) : WEFT_ENOMEM;
    if (mem && fclose(mem) != 0 && !e) e = WEFT_ENOMEM;
    weft_config_free(cfg);
    if (e) {
        fprintf(stderr, "weft: %s\n", e == WEFT_ENOMEM ? "out of memory" : err);
        free(text);
        return CLI_FAILED;
    }
    char *masked = secrets ? NULL : mask_secrets(text);
    char *shown = secrets ? text : masked ? out_redact(masked) : NULL;
    rc = shown && fputs(shown, stdout) >= 0 ? CLI_OK : CLI_FAILED;
    if (shown != text) free(shown);
    free(masked);
    free(text);
    return rc;
}
