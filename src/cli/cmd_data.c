/* SPDX-License-Identifier: MIT */
/*
 * cmd_data.c - `weft data ID`: write a data node's content to standard
 * output, byte for byte, by instance id (DATANODE_...) or by config id when
 * the store holds one instance of it.  Opens the store read-only.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cmd_data(int argc, char **argv);

int cmd_data(int argc, char **argv)
{
    const char *config = NULL, *pos[1];
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "data", .opts = opts, .pos = pos, .maxpos = 1};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    if (got.npos == 0) return cli_usage_error("data", "which data node? give its id or its config id");
    const char *id = pos[0];

    weft_config *cfg;
    weft_orchestrator *o;
    rc = cli_open_for(config, "data node", id, &cfg, &o);
    if (rc) return rc;
    char err[WEFT_ERRBUF_SIZE] = "";
    char *data = NULL;
    size_t len = 0;
    weft_err e = weft_data_read(o, id, &data, &len, err);
    if (e) {
        cli_error("%s", err[0] ? err : weft_strerror(e));
        rc = CLI_FAILED;
    } else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
        cli_error("cannot write the output: %s", strerror(errno));
        rc = CLI_FAILED;
    }
    free(data);
    cli_close(cfg, o);
    return rc;
}
