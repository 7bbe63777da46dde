/* SPDX-License-Identifier: MIT */
/*
 * cmd_check.c - `weft check [-c FILE]`: loads and validates a configuration
 * and reports every problem at once, sorted by position, followed by a
 * one-line summary.  Exit status 1 when there is an error, 0 otherwise.
 */
#include "cli/opts.h"

#include <stdio.h>

int cmd_check(int argc, char **argv); /* registered in main.c */

int cmd_check(int argc, char **argv)
{
    const char *path = "config.toml";
    const cli_opt opts[] = {CLI_CONFIG(&path), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "check", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
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
