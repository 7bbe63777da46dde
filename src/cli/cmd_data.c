/*
 * cmd_data.c - `weft data ID`: write a data node's content to standard
 * output, byte for byte, by instance id (DATANODE_...) or by config id when
 * the store holds one instance of it.  Opens the store read-only.
 */
#include "cli/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cmd_data(int argc, char **argv);

int cmd_data(int argc, char **argv)
{
    const char *config = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = cli_config_opt("data", argc, argv, &i, &config);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (a[0] == '-' && a[1] != '\0')
            return cli_usage_error("data", "unknown option '%s'", a);
        else if (id)
            return cli_usage_error("data", "one data node at a time ('%s' and '%s')", id, a);
        else
            id = a;
    }
    if (!id) return cli_usage_error("data", "which data node? give its id or its config id");

    weft_config *cfg;
    weft_orchestrator *o;
    int rc = cli_open_for(config, "data node", id, &cfg, &o);
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
