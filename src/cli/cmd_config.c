/*
 * cmd_config.c - `weft config [-c FILE] [--raw]`: prints the effective
 * configuration (defaults applied, inherited keys copied, ENV resolved) or,
 * with --raw, the values as written, as TOML that `weft check` accepts.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_config(int argc, char **argv); /* registered in main.c */

int cmd_config(int argc, char **argv)
{
    const char *path = "config.toml";
    bool raw = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_opt("config", argc, argv, &i, &path);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--raw") == 0) {
            raw = true;
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
    weft_err e = weft_config_write(cfg, stdout, raw, err);
    weft_config_free(cfg);
    if (e) {
        fprintf(stderr, "weft: %s\n", err);
        return CLI_FAILED;
    }
    return CLI_OK;
}
