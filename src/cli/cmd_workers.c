/*
 * cmd_workers.c - `weft workers`: list the `weft run-worker` processes that
 * serve a queue, as they announce themselves.
 *
 * Design: every worker publishes a small "worker" message (host:pid, jobs
 * run, current jobs, state) every 3 s to the fanout exchange <queue>.workers
 * (transient messages: nothing accumulates when nobody listens).  This
 * command binds a temporary, exclusive queue to that exchange, listens for
 * a little longer than one period (default 4 s), and prints each worker
 * heard, newest state last.  No orchestrator and no store are involved, so
 * it works from any machine that can reach the broker.
 */
#include "cli/cli.h"

#include "cluster/amqp_client.h"
#include "util/util.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_workers(int argc, char **argv); /* for main.c's table */

#define MAX_WORKERS 1024

typedef struct seen_worker {
    char *name, *state, *current;
    long long jobs_run;
    int concurrency;
} seen_worker;

int cmd_workers(int argc, char **argv)
{
    const char *cfg_path = NULL, *broker = NULL, *queue = NULL;
    double wait_s = 4.0;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_opt("workers", argc, argv, &i, &cfg_path);
        if (r < 0) return CLI_USAGE;
        if (r) continue;
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc) {
            broker = argv[++i];
        } else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
            queue = argv[++i];
        } else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
            char *end;
            wait_s = strtod(argv[++i], &end);
            if (*end || wait_s <= 0 || wait_s > 3600)
                return cli_usage_error("workers", "--wait needs seconds, not '%s'", argv[i]);
        } else {
            return cli_usage_error("workers", "unknown argument '%s'", argv[i]);
        }
    }
    weft_config *cfg = NULL;
    if (!broker || !queue) {
        int nerrors = 0;
        cfg = cli_load_config(cfg_path, true, &nerrors);
        if (!cfg) return CLI_USAGE;
        if (nerrors) {
            weft_config_free(cfg);
            return CLI_USAGE;
        }
        if (!broker) broker = weft_config_broker_url(cfg);
        if (!queue) queue = weft_config_queue(cfg);
    }
    char errbuf[WEFT_ERRBUF_SIZE] = "", *err = errbuf;
    weft__exec_cluster_opts co = {0};
    if (cfg) weft__exec_cluster_opts_from_config(cfg, &co);
    weft__amqp_opts ao = {.url = broker, .ca_file = co.ca_file, .cert_file = co.cert_file,
                          .key_file = co.key_file, .verify_peer = co.verify_peer,
                          .verify_hostname = co.verify_hostname, .name = "weft workers"};
    weft__amqp *c = NULL;
    char *xname = weft__cluster_name(queue, "workers");
    char *q = NULL;
    seen_worker *ws = calloc(MAX_WORKERS, sizeof *ws);
    size_t nws = 0;
    int rc = CLI_OK;
    weft__amqp_queue_opts qo = {.exclusive = true, .auto_delete = true};
    weft_err e = !xname || !ws ? weft__err(err, WEFT_ENOMEM, "out of memory")
                               : weft__amqp_open(&ao, &c, err);
    if (!e) e = weft__amqp_declare_exchange(c, xname, "fanout", true, err);
    if (!e) e = weft__amqp_declare_queue(c, "", &qo, &q, err);
    if (!e) e = weft__amqp_bind(c, q, xname, "", err);
    if (!e) e = weft__amqp_consume(c, q, true, NULL, err);
    if (e) {
        fprintf(stderr, "weft: %s\n", err);
        rc = e == WEFT_EINVAL ? CLI_USAGE : CLI_FAILED;
        goto out;
    }
    int64_t end = weft__mono_ns() + (int64_t)(wait_s * 1e9);
    while (weft__mono_ns() < end) {
        weft__amqp_event ev = WEFT__AMQP_EVENT_INIT;
        e = weft__amqp_next(c, (int)((end - weft__mono_ns()) / 1000000), &ev, err);
        if (e == WEFT_ETIMEDOUT) break;
        if (e) {
            fprintf(stderr, "weft: %s\n", err);
            rc = CLI_FAILED;
            goto out;
        }
        json_error_t je;
        json_t *o = ev.kind == WEFT__AMQP_DELIVERY ? json_loadb(ev.body, ev.len, 0, &je) : NULL;
        const char *name = json_string_value(json_object_get(o, "worker"));
        if (name) {
            size_t k = 0;
            while (k < nws && strcmp(ws[k].name, name) != 0) k++;
            if (k == nws && nws < MAX_WORKERS) ws[nws++].name = weft__strdup(name);
            if (k < nws) {
                free(ws[k].state);
                free(ws[k].current);
                const char *st = json_string_value(json_object_get(o, "state"));
                ws[k].state = weft__strdup(st ? st : "?");
                ws[k].jobs_run = json_integer_value(json_object_get(o, "jobs_run"));
                ws[k].concurrency = (int)json_integer_value(json_object_get(o, "concurrency"));
                json_t *cur = json_object_get(o, "current");
                weft__buf b = WEFT_BUF_INIT;
                for (size_t i = 0; i < json_array_size(cur); i++) {
                    const char *id = json_string_value(json_array_get(cur, i));
                    if (id) weft__buf_addf(&b, "%s%s", b.len ? "," : "", id);
                }
                ws[k].current = b.len ? weft__buf_detach(&b, NULL) : weft__strdup("-");
                weft__buf_release(&b);
            }
        }
        json_decref(o);
        weft__amqp_event_release(&ev);
    }
    char red[1024];
    weft__amqp_redact(broker, red, sizeof red);
    if (!nws) {
        printf("no worker announced itself on queue %s (%s) within %.0f s\n", queue, red, wait_s);
        goto out;
    }
    printf("%-32s %-9s %5s %9s  %s\n", "WORKER", "STATE", "SLOTS", "JOBS RUN", "CURRENT JOBS");
    for (size_t k = 0; k < nws; k++)
        printf("%-32s %-9s %5d %9lld  %s\n", ws[k].name, ws[k].state ? ws[k].state : "?",
               ws[k].concurrency, ws[k].jobs_run, ws[k].current ? ws[k].current : "-");
out:
    for (size_t k = 0; ws && k < nws; k++) {
        free(ws[k].name);
        free(ws[k].state);
        free(ws[k].current);
    }
    free(ws);
    free(q);
    free(xname);
    weft__amqp_close(c);
    weft_config_free(cfg);
    return rc;
}
