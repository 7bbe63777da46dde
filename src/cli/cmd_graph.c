/* SPDX-License-Identifier: MIT */
/*
 * cmd_graph.c - `weft graph`: prints the DAG of a configured scenario, or
 * of a submission coloured by its jobs' statuses, as Graphviz DOT, SVG or
 * PNG (weft_graph_render(), the layout the web view shows).
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_graph(int argc, char **argv); /* registered in main.c */

static const char *const formats[] = {"dot", "svg", "png", NULL};

int cmd_graph(int argc, char **argv)
{
    const char *config = NULL, *scenario = NULL, *pos[1];
    int format = WEFT_GRAPH_SVG;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_STRING("scenario", 's', "a scenario id", &scenario),
                            CLI_CHOICE("format", 0, &format, formats), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "graph", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (!!scenario == (got.npos == 1))
        return cli_usage_error("graph", "give either -s SCENARIO or a SUBMISSION_ID");
    weft_config *cfg = NULL;
    weft_orchestrator *o = NULL;
    if (scenario) {
        int nerrors = 0;
        if (!(cfg = cli_load_config(config, true, &nerrors)) || nerrors) {
            weft_config_free(cfg);
            return CLI_USAGE;
        }
    } else if ((rc = cli_open_for(config, "submission", pos[0], &cfg, &o))) {
        return rc;
    }
    char err[WEFT_ERRBUF_SIZE] = "", *out = NULL;
    size_t len = 0;
    weft_err e = weft_graph_render(cfg, o, scenario ? scenario : pos[0], (weft_graph_format)format,
                                   &out, &len, err);
    if (e) {
        cli_error("%s", err);
        rc = CLI_FAILED;
    } else if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write the graph");
        rc = CLI_FAILED;
    }
    free(out);
    cli_close(cfg, o);
    return rc;
}
