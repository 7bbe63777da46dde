/*
 * cmd_config.c - `weft config [-c FILE] [--raw]`: prints the effective
 * configuration (defaults applied, inherited keys copied, ENV resolved) or,
 * with --raw, the values as written, as TOML that `weft check` accepts.
 * Passwords in URLs (broker_url) are masked unless --show-secrets is given:
 * the output often lands in a terminal, a log or a bug report.
 */
#include "cli/cli.h"
#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_config(int argc, char **argv); /* registered in main.c */

int cmd_config(int argc, char **argv)
{
    const char *path = "config.toml";
    bool raw = false, secrets = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_opt("config", argc, argv, &i, &path);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--raw") == 0) {
            raw = true;
            continue;
        }
        if (strcmp(argv[i], "--show-secrets") == 0) {
            secrets = true;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("config", "unknown option '%s'", argv[i]);
        return cli_usage_error("config", "unexpected argument '%s'", argv[i]);
    }
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
    int rc = shown && fputs(shown, stdout) >= 0 ? CLI_OK : CLI_FAILED;
    if (shown != text) free(shown);
    free(text);
    return rc;
}
