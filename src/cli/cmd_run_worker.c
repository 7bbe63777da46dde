/* SPDX-License-Identifier: MIT */
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
#include "cli/opts.h"

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

/* "MAX[,MIN]" into *max and *min (MIN default 1); 0, or CLI_USAGE with a
 * message. */
static int parse_autoscale(const char *arg, int *max, int *min)
{
    char *end = NULL;
    long hi = strtol(arg, &end, 10), lo = 1;
    if (end != arg && *end == ',') {
        const char *m = end + 1;
        lo = strtol(m, &end, 10);
        if (end == m) end = (char *)arg;
    }
    if (end == arg || *end || hi < 1 || hi > 1000 || lo < 1 || lo > hi) {
        fprintf(stderr, "weft run-worker: --autoscale wants MAX[,MIN] with "
                "1 <= MIN <= MAX <= 1000, not '%s'\n", arg);
        return CLI_USAGE;
    }
    *max = (int)hi;
    *min = (int)lo;
    return 0;
}

int cmd_run_worker(int argc, char **argv)
{
    const char *app = ".", *broker = NULL, *broker_file = NULL, *queue = NULL,
               *secret_file = NULL, *metrics = NULL, *autoscale = NULL;
    long concurrency = 0, prefetch = 0; /* 0: the service's defaults */
    const cli_opt opts[] = {
        CLI_STRING("application-path", 0, "a folder", &app),
        CLI_STRING("broker", 0, "a URL", &broker),
        CLI_STRING("broker-file", 0, "a file name", &broker_file),
        CLI_STRING("queue", 0, "a name", &queue),
        /* A file, never the secret itself: argv is visible to every user. */
        CLI_STRING("secret-file", 0, "a file", &secret_file),
        CLI_LONG("concurrency", 0, &concurrency, 1, 1000),
        CLI_LONG("prefetch", 0, &prefetch, 1, 65535),
        CLI_STRING("autoscale", 0, "MAX[,MIN]", &autoscale),
        CLI_STRING("metrics", 0, "[ADDR:]PORT", &metrics),
        CLI_LOG_OPTS,
        CLI_END,
    };
    cli_parse_opts p = {.cmd = "run-worker", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    int scale_max = 0, scale_min = 0;
    if (autoscale && (concurrency || prefetch)) {
        fprintf(stderr, "weft run-worker: --autoscale sets the number of job processes and "
                "the prefetch: not with --concurrency or --prefetch\n");
        return CLI_USAGE;
    }
    if (autoscale && (rc = parse_autoscale(autoscale, &scale_max, &scale_min))) return rc;
    char *url = NULL;
    if ((rc = cli_broker_url("run-worker", broker, broker_file, &url))) return rc;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.toml", app);
    int nerrors = 0;
    weft_config *cfg = cli_load_config(path, true, &nerrors);
    if (!cfg || nerrors) {
        weft_config_free(cfg);
        free(url);
        return CLI_USAGE;
    }
    /* A broker connection that breaks must be an error, not a SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    weft_worker_opts o = {.application_path = app, .config = cfg, .broker_url = url,
                          .queue = queue, .concurrency = (int)concurrency,
                          .prefetch = (int)prefetch, .secret_file = secret_file,
                          .metrics_addr = metrics, .autoscale_max = scale_max,
                          .autoscale_min = scale_min};
    rc = serve(&o);
    weft_config_free(cfg);
    free(url);
    return rc;
}
