/* SPDX-License-Identifier: MIT */
/*
 * cmd_ui.c - `weft ui`: serves the live web view of the store with the
 * library's server (weft_ui_*, src/web/).  This file parses the arguments,
 * reads the access token from its file (never from argv, where `ps` shows
 * it), prints the URL, and turns SIGINT and SIGTERM into weft_ui_stop().
 */
#include "cli/cli.h"
#include "cli/opts.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_ui(int argc, char **argv); /* registered in main.c */

/* For the signal handler: weft_ui_stop() is async-signal-safe. */
static weft_ui *volatile serving;

static void on_signal(int sig)
{
    (void)sig;
    if (serving) weft_ui_stop(serving);
}

/* The token in `path`, surrounding white space removed; NULL after printing why. */
static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (!f) {
        fprintf(stderr, "weft: cannot read the token file %s\n", path);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    char *s = buf;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t len = strcspn(s, " \t\r\n");
    s[len] = '\0';
    if (len < 16) {
        fprintf(stderr, "weft: the token in %s must be at least 16 characters\n", path);
        return NULL;
    }
    return strdup(s);
}

static int serve(const weft_ui_opts *opts)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_ui *ui = NULL;
    weft_err e = weft_ui_open(opts, &ui, err);
    if (e) {
        fprintf(stderr, "weft: %s\n", err);
        return e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED;
    }
    printf("weft ui: serving %s at %s%s\n", weft_config_storage_folder(opts->config), weft_ui_url(ui),
           opts->token ? " (access token required)" : "");
    fflush(stdout);
    serving = ui;
    static const int stop_signals[] = {SIGTERM, SIGINT};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
        sigaction(stop_signals[i], &sa, NULL);
    e = weft_ui_run(ui, err);
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
        signal(stop_signals[i], SIG_IGN);
    serving = NULL;
    if (e) fprintf(stderr, "weft: %s\n", err);
    weft_ui_close(ui);
    return e ? CLI_FAILED : CLI_OK;
}

int cmd_ui(int argc, char **argv)
{
    const char *config = NULL, *listen = "127.0.0.1:8765", *token_file = NULL;
    const cli_opt opts[] = {CLI_CONFIG(&config), CLI_STRING("listen", 0, "ADDR:PORT", &listen),
                            CLI_STRING("token-file", 0, "a file name", &token_file), CLI_LOG_OPTS,
                            CLI_END};
    cli_parse_opts p = {.cmd = "ui", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    char *token = token_file ? read_token(token_file) : NULL;
    if (token_file && !token) return CLI_USAGE;
    int nerrors = 0;
    weft_config *cfg = cli_load_config(config, true, &nerrors);
    if (!cfg || nerrors) {
        weft_config_free(cfg);
        free(token);
        return CLI_USAGE;
    }
    /* The Run button starts this same program: `weft run`. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    signal(SIGPIPE, SIG_IGN); /* a client gone mid-answer is an error, not a death */
    weft_ui_opts o = {.config = cfg, .listen = listen, .token = token,
                      .weft_exe = n > 0 ? exe : NULL, .config_file = config ? config : "config.toml"};
    rc = serve(&o);
    if (token) memset(token, 0, strlen(token));
    free(token);
    weft_config_free(cfg);
    return rc;
}
