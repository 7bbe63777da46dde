/*
 * cmd_run_worker.c - `weft run-worker`: serves cluster mode's job queue
 * with the library's worker service (weft_worker_*, src/cluster/service.c).
 * This file parses the arguments, loads the application's config (printing
 * its diagnostics), turns SIGTERM and SIGINT into weft_worker_stop() (the
 * first drains, the second stops at once) and maps the result to an exit
 * status.  What the service has to say reaches stderr through the
 * command's log handler (log.c).
 */
#include "cli/cli.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_run_worker(int argc, char **argv); /* registered in main.c */

/* For the signal handler: weft_worker_stop() is async-signal-safe. */
static weft_worker *volatile serving;

static void on_signal(int sig)
{
    (void)sig;
    if (serving) weft_worker_stop(serving);
}

/* Serves until stopped; the exit status. */
static int serve(const weft_worker_opts *opts)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_worker *w = NULL;
    weft_err e = weft_worker_open(opts, &w, err);
    if (e) {
        fprintf(stderr, "weft: %s\n", err);
        return e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED;
    }
    serving = w;
    static const int stop_signals[] = {SIGTERM, SIGINT};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
        sigaction(stop_signals[i], &sa, NULL);
    e = weft_worker_run(w, err);
    /* Done serving: a late signal changes nothing (as before it returned). */
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
        signal(stop_signals[i], SIG_IGN);
    serving = NULL;
    if (e) fprintf(stderr, "weft: %s\n", err);
    weft_worker_close(w);
    return !e ? CLI_OK : e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED;
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0) {
        if (*i + 1 >= argc) return NULL;
        return argv[++*i];
    }
    return NULL;
}

int cmd_run_worker(int argc, char **argv)
{
    const char *app = ".", *broker = NULL, *queue = NULL;
    int concurrency = 1, prefetch = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        const char *a = argv[i];
        if (strncmp(a, "--application-path", 18) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--application-path")))
                return cli_usage_error("run-worker", "option '--application-path' needs a folder");
            app = v;
        } else if (strncmp(a, "--broker", 8) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--broker")))
                return cli_usage_error("run-worker", "option '--broker' needs a URL");
            broker = v;
        } else if (strncmp(a, "--queue", 7) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--queue")))
                return cli_usage_error("run-worker", "option '--queue' needs a name");
            queue = v;
        } else if (strncmp(a, "--concurrency", 13) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--concurrency")))
                return cli_usage_error("run-worker", "option '--concurrency' needs a number");
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000)
                return cli_usage_error("run-worker", "--concurrency must be 1 to 1000, not '%s'", v);
            concurrency = (int)n;
        } else if (strncmp(a, "--prefetch", 10) == 0) {
            if (!(v = opt_value(argc, argv, &i, "--prefetch")))
                return cli_usage_error("run-worker", "option '--prefetch' needs a number");
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 65535)
                return cli_usage_error("run-worker", "--prefetch must be 1 to 65535, not '%s'", v);
            prefetch = (int)n;
        } else {
            return cli_usage_error("run-worker", "unknown argument '%s'", a);
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.toml", app);
    int nerrors = 0;
    weft_config *cfg = cli_load_config(path, true, &nerrors);
    if (!cfg) return CLI_USAGE;
    if (nerrors) {
        weft_config_free(cfg);
        return CLI_USAGE;
    }
    /* A broker connection that breaks must be an error, not a SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    weft_worker_opts o = {.application_path = app, .config = cfg, .broker_url = broker,
                          .queue = queue, .concurrency = concurrency, .prefetch = prefetch};
    int rc = serve(&o);
    weft_config_free(cfg);
    return rc;
}
