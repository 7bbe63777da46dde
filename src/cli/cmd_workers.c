/* SPDX-License-Identifier: MIT */
/*
 * cmd_workers.c - `weft workers`: lists the worker services that serve a
 * queue, as they announce themselves (weft_workers_list(), which listens
 * to their heartbeats for --wait seconds).  This file parses the arguments
 * and prints the table, or with --json the queue's load (weft_queue_info_get())
 * and each worker's, for autoscalers and monitoring.
 */
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/output.h"

#include "cluster/amqp_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_workers(int argc, char **argv); /* for main.c's table */

/* A count, or "-" when unknown (< 0). */
static const char *count_text(int64_t v, char *buf, size_t n)
{
    if (v < 0) return "-";
    snprintf(buf, n, "%lld", (long long)v);
    return buf;
}

static void print_workers(const char *queue, const weft_worker_info *ws, size_t n)
{
    char b[32];
    printf("%-32s %-9s %5s %9s %7s  %s\n", "WORKER", "STATE", "SLOTS", "JOBS RUN", "UNACKED",
           "CURRENT JOBS");
    for (size_t k = 0; k < n; k++) {
        printf("%-32s %-9s %5d %9lld %7s  ", ws[k].name, ws[k].state, ws[k].concurrency,
               (long long)ws[k].jobs_run, count_text(ws[k].unacked, b, sizeof b));
        for (size_t i = 0; i < ws[k].ncurrent; i++)
            printf("%s%s", i ? "," : "", ws[k].current[i]);
        printf("%s\n", ws[k].ncurrent ? "" : "-");
    }
    printf("queue %s: %s unacked (held by the live workers)\n", queue,
           count_text(weft_workers_unacked(ws, n), b, sizeof b));
}

static json_t *count_json(int64_t v) { return v < 0 ? json_null() : json_integer(v); }

/* {"queue", "ready", "unacked" (the live workers' sum; null: a worker did
 * not say), "consumers", "started_per_s", "finished_per_s" (the fleet's,
 * over the last minute), "workers": [{"name", "host", "pid", "state",
 * "size", "busy", "unacked", "jobs_started", "jobs_finished",
 * "started_per_s", "finished_per_s", "last_heartbeat_us", "current"}]} */
static int print_json(const char *queue, const weft_queue_info *q, const weft_worker_info *ws,
                      size_t n)
{
    json_t *arr = json_array();
    double started = 0, finished = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *cur = json_array();
        for (size_t i = 0; i < ws[k].ncurrent; i++)
            json_array_append_new(cur, out_json_str(ws[k].current[i]));
        json_array_append_new(arr, json_pack(
            "{s:s, s:s, s:i, s:s, s:i, s:i, s:o, s:I, s:I, s:f, s:f, s:I, s:o}", "name",
            ws[k].name, "host", ws[k].host, "pid", ws[k].pid, "state", ws[k].state, "size",
            ws[k].concurrency, "busy", ws[k].busy, "unacked", count_json(ws[k].unacked),
            "jobs_started",
            (json_int_t)ws[k].jobs_started, "jobs_finished", (json_int_t)ws[k].jobs_run,
            "started_per_s", ws[k].started_per_s, "finished_per_s", ws[k].finished_per_s,
            "last_heartbeat_us", (json_int_t)ws[k].at_us, "current", cur));
        started += ws[k].started_per_s;
        finished += ws[k].finished_per_s;
    }
    json_t *o = json_pack("{s:s, s:I, s:o, s:I, s:f, s:f, s:o}", "queue", queue, "ready",
                          (json_int_t)q->ready, "unacked", count_json(q->unacked), "consumers",
                          (json_int_t)q->consumers, "started_per_s", started, "finished_per_s",
                          finished, "workers", arr);
    return out_json_print(o);
}

int cmd_workers(int argc, char **argv)
{
    const char *cfg_path = NULL, *broker_arg = NULL, *broker_file = NULL, *queue = NULL;
    const char *wait = NULL;
    bool json = false;
    const cli_opt opts[] = {
        CLI_CONFIG(&cfg_path),
        CLI_STRING("broker", 0, "a URL", &broker_arg),
        CLI_STRING("broker-file", 0, "a file name", &broker_file),
        CLI_STRING("queue", 0, "a name", &queue),
        CLI_STRING("wait", 0, "seconds", &wait),
        CLI_FLAG("json", 0, &json),
        CLI_LOG_OPTS,
        CLI_END,
    };
    cli_parse_opts p = {.cmd = "workers", .opts = opts};
    cli_parsed got;
    int rc = cli_parse(&p, argc, argv, &got);
    if (rc) return rc;
    double wait_s = 4.0;
    if (wait) {
        char *end;
        wait_s = strtod(wait, &end);
        if (end == wait || *end || !(wait_s > 0 && wait_s <= 3600))
            return cli_usage_error("workers",
                                   "option '--wait' needs seconds from 0 to 3600, not '%s'", wait);
    }
    char *url = NULL;
    if ((rc = cli_broker_url("workers", broker_arg, broker_file, &url))) return rc;
    const char *broker = url;
    weft_config *cfg = NULL;
    if (!broker || !queue) {
        int nerrors = 0;
        cfg = cli_load_config(cfg_path, true, &nerrors);
        if (!cfg || nerrors) {
            weft_config_free(cfg);
            free(url);
            return CLI_USAGE;
        }
    }
    char err[WEFT_ERRBUF_SIZE] = "";
    /* What the config names is resolved by the library, which says so when
     * it comes from an unset environment variable. */
    weft_workers_opts o = {.config = cfg, .broker_url = url, .queue = queue,
                           .wait_ms = (int64_t)(wait_s * 1000)};
    if (!broker) broker = weft_config_broker_url(cfg);
    if (!queue) queue = weft_config_queue(cfg);
    weft_worker_info *ws = NULL;
    size_t n = 0;
    weft_queue_info qi = {0};
    weft_err e = weft_workers_list(&o, &ws, &n, err);
    if (!e && json) e = weft_queue_info_get(&o, &qi, err);
    if (!e) qi.unacked = weft_workers_unacked(ws, n);
    if (e) {
        fprintf(stderr, "weft: %s\n", err);
        rc = e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED;
    } else if (json) {
        rc = print_json(queue, &qi, ws, n);
    } else if (!n) {
        char red[1024];
        weft__amqp_redact(broker, red, sizeof red);
        printf("no worker announced itself on queue %s (%s) within %.0f s\n", queue, red, wait_s);
    } else {
        print_workers(queue, ws, n);
    }
    weft_worker_list_free(ws, n);
    weft_config_free(cfg);
    free(url);
    return rc;
}
