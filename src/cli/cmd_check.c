/* SPDX-License-Identifier: MIT */
/*
 * cmd_check.c - `weft check [-c FILE] [--import] [--store]`: loads and
 * validates a configuration, looks for each task's function (a Python
 * module is found without running it; --import imports it), and reports
 * every problem at once, sorted by position,
 * followed by a one-line summary; with --store, then checks the store of
 * its storage folder (weft_store_check()) and prints each problem found.
 * Exit status 1 when there is an error, 0 otherwise.
 */
#include "cli/opts.h"
#include "cli/output.h"

#include <stdio.h>
#include <stdlib.h>

int cmd_check(int argc, char **argv); /* registered in main.c */

/* The store part: prints what weft_store_check() found; the exit code. */
static int check_store(const weft_config *cfg)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    char **problems = NULL;
    size_t n = 0;
    weft_err e = weft_store_check(cfg, NULL, &problems, &n, err);
    /* Read after the check: opening rebuilds the config's effective values. */
    const char *folder = weft_config_storage_folder(cfg);
    if (e == WEFT_ENOTFOUND) {
        printf("%s\n", err); /* nothing submitted yet: nothing can be wrong */
        return CLI_OK;
    }
    if (e) {
        cli_error("store check failed: %s", err[0] ? err : weft_strerror(e));
        return CLI_FAILED;
    }
    for (size_t i = 0; i < n; i++) printf("%s\n", problems[i]);
    weft_strv_free(problems, n);
    if (n == 0) {
        printf("store in %s: OK\n", folder ? folder : ".");
        return CLI_OK;
    }
    fprintf(stderr, "store in %s: %zu problem%s\n", folder ? folder : ".", n, n == 1 ? "" : "s");
    return CLI_FAILED;
}

int cmd_check(int argc, char **argv)
{
    const char *path = "config.toml";
    bool store = false, import = false;
    const cli_opt opts[] = {CLI_CONFIG(&path), CLI_FLAG("store", 0, &store),
                            CLI_FLAG("import", 0, &import), CLI_LOG_OPTS, CLI_END};
    cli_parse_opts p = {.cmd = "check", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    int nerrors = 0;
    weft_config *cfg = cli_load_config(
        path, CLI_CHECK | CLI_CHECK_FUNCTIONS | (import ? CLI_CHECK_IMPORT : 0), &nerrors);
    if (!cfg) return CLI_USAGE;
    size_t nwarnings = weft_config_ndiags(cfg) - (size_t)nerrors;
    if (nerrors == 0 && nwarnings == 0) {
        printf("%s: OK\n", path);
        rc = CLI_OK;
    } else {
        fprintf(stderr, "%s: %d error%s, %zu warning%s\n", path, nerrors, nerrors == 1 ? "" : "s",
                nwarnings, nwarnings == 1 ? "" : "s");
        rc = nerrors ? CLI_FAILED : CLI_OK;
    }
    if (store && nerrors == 0) {
        int src = check_store(cfg);
        if (src) rc = src;
    }
    weft_config_free(cfg);
    return rc;
}
