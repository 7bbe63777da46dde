/* SPDX-License-Identifier: MIT */
/*
 * cmd_config.c - `weft config [-c FILE] [--raw]`: prints the effective
 * configuration (defaults applied, inherited keys copied, ENV resolved) or,
 * with --raw, the values as written, as TOML that `weft check` accepts.
 * Passwords in URLs (broker_url) are masked unless --show-secrets is given:
 * the output often lands in a terminal, a log or a bug report.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_config(int argc, char **argv); /* registered in main.c */

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
    char *shown = secrets ? text : out_redact(text);
    rc = shown && fputs(shown, stdout) >= 0 ? CLI_OK : CLI_FAILED;
    if (shown != text) free(shown);
    free(text);
    return rc;
}
