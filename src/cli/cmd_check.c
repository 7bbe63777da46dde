/*
 * cmd_check.c - `weft check [-c FILE]`: loads and validates a configuration
 * and reports every problem at once, sorted by position, followed by a
 * one-line summary.  Exit status 1 when there is an error, 0 otherwise.
 */
#include "cli/cli.h"

#include <stdio.h>

int cmd_check(int argc, char **argv); /* registered in main.c */

int cmd_check(int argc, char **argv)
{
    const char *path = "config.toml";
    for (int i = 1; i < argc; i++) {
        int r = cli_config_opt("check", argc, argv, &i, &path);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage_error("check", "unknown option '%s'", argv[i]);
        return cli_usage_error("check", "unexpected argument '%s'", argv[i]);
    }
    int nerrors = 0;
    weft_config *cfg = cli_load_config(path, true, &nerrors);
    if (!cfg) return CLI_USAGE;
    size_t nwarnings = weft_config_ndiags(cfg) - (size_t)nerrors;
    weft_config_free(cfg);
    if (nerrors == 0 && nwarnings == 0) {
        printf("%s: OK\n", path);
        return CLI_OK;
    }
    fprintf(stderr, "%s: %d error%s, %zu warning%s\n", path, nerrors, nerrors == 1 ? "" : "s",
            nwarnings, nwarnings == 1 ? "" : "s");
    return nerrors ? CLI_FAILED : CLI_OK;
}
