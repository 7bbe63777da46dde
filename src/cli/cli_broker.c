/* SPDX-License-Identifier: MIT */
/*
 * cli_broker.c - where `weft run-worker` and `weft workers` take the
 * broker URL from, in this order: --broker URL, --broker-file FILE (the
 * URL on its first line), the WEFT_BROKER_URL environment variable, then
 * the config's [JOB] broker_url.  A URL on the command line is visible to
 * every user of the machine (ps, /proc/PID/cmdline), so one that carries
 * a password draws a warning; so does a file that others may read.
 */
#include "cli/cli.h"
#include "util/util.h" /* weft__log, weft__url_redact: the command links libweft statically */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The URL on the first line of `path` (caller frees), or NULL after
 * printing why. */
static char *read_url_file(const char *cmd, const char *path)
{
    char err[WEFT_ERRBUF_SIZE];
    char *text = NULL;
    struct stat st;
    if (weft__read_file(path, &text, NULL, err) != WEFT_OK || stat(path, &st) != 0) {
        free(text);
        cli_usage_error(cmd, "--broker-file: %s", err);
        return NULL;
    }
    text[strcspn(text, "\r\n")] = '\0';
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t')) text[--n] = '\0';
    if (!n) {
        free(text);
        cli_usage_error(cmd, "--broker-file: %s has no URL on its first line", path);
        return NULL;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        weft__log(NULL, WEFT_LOG_WARN, cmd,
                  "%s, which holds the broker URL, can be read by other users (chmod 600 %s)",
                  path, path);
    return text;
}

int cli_broker_url(const char *cmd, const char *url, const char *file, char **out)
{
    *out = NULL;
    if (url && file) return cli_usage_error(cmd, "give --broker or --broker-file, not both");
    if (file) return (*out = read_url_file(cmd, file)) ? CLI_OK : CLI_USAGE;
    if (!url) {
        const char *env = getenv("WEFT_BROKER_URL");
        url = env && *env ? env : NULL;
    } else {
        char red[1024];
        weft__url_redact(url, red, sizeof red);
        if (strcmp(red, url) != 0)
            weft__log(NULL, WEFT_LOG_WARN, cmd,
                      "the broker password given with --broker can be seen by every user of "
                      "this machine (ps); use --broker-file FILE or WEFT_BROKER_URL");
    }
    if (url && !(*out = strdup(url))) {
        fprintf(stderr, "weft: out of memory\n");
        return CLI_FAILED;
    }
    return CLI_OK;
}
