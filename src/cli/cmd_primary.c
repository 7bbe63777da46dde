/* SPDX-License-Identifier: MIT */
/*
 * cmd_primary.c - `weft primary SCENARIO_ID`: make a scenario instance the
 * primary scenario of its cycle (Taipy's set_primary), the cycle's previous
 * primary scenario no longer primary.  Opens the store as its writer.
 */
#include "cli/opts.h"
#include "cli/output.h"

int cmd_primary(int argc, char **argv);

int cmd_primary(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "primary", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0)
        return cli_usage_error("primary", "which scenario? give its id (see weft cycles)");
    weft_config *cfg;
    weft_orchestrator *o;
    if ((rc = cli_open(config, false, NULL, &cfg, &o))) return rc;
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_err e = weft_scenario_set_primary(o, pos[0], err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    } else if (cli_log_level() >= WEFT_LOG_INFO) {
        fprintf(stderr, "weft: %s is now the primary scenario of its cycle\n", pos[0]);
    }
    cli_close(cfg, o);
    return rc;
}
