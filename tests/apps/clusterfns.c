/* SPDX-License-Identifier: MIT */
/*
 * clusterfns.c - task functions for the cluster-mode tests (test_cluster.c),
 * loaded by `weft run-worker` from the test's application folder as
 * clusterfns.so.
 *
 *   clusterfns.add_one      output = input + 1 (text nodes holding integers)
 *   clusterfns.seed         output = the task's `value` property (default 1)
 *   clusterfns.slow         sleeps `ms` (default 2000) checking for cancel, then writes "done"
 *   clusterfns.kill_worker  SIGKILLs the `weft run-worker` that runs it (every time)
 *   clusterfns.noop         writes "ok" to its outputs
 *   clusterfns.copy         output = input (test_trust.c: which files a job touches)
 */
#include "weft.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Built with -fvisibility=hidden like the library: entry points are exported explicitly. */
#define EXPORT __attribute__((visibility("default")))

EXPORT int seed(weft_ctx *ctx);
EXPORT int add_one(weft_ctx *ctx);
EXPORT int slow(weft_ctx *ctx);
EXPORT int kill_worker(weft_ctx *ctx);
EXPORT int noop(weft_ctx *ctx);
EXPORT int copy(weft_ctx *ctx);

static long prop_long(weft_ctx *ctx, const char *key, long def)
{
    const weft_value *v = weft_ctx_property(ctx, key);
    return v ? strtol(weft_value_text(v), NULL, 10) : def;
}

static int write_long(weft_ctx *ctx, long n)
{
    char buf[64], err[WEFT_ERRBUF_SIZE];
    int len = snprintf(buf, sizeof buf, "%ld", n);
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), buf, (size_t)len, err) != WEFT_OK) {
            weft_ctx_fail(ctx, "%s", err);
            return 1;
        }
    return 0;
}

int seed(weft_ctx *ctx) { return write_long(ctx, prop_long(ctx, "value", 1)); }

int add_one(weft_ctx *ctx)
{
    char *data = NULL, err[WEFT_ERRBUF_SIZE];
    size_t len = 0;
    if (weft_dn_read(weft_ctx_input(ctx, 0), &data, &len, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "%s", err);
        return 1;
    }
    long n = strtol(data, NULL, 10);
    free(data);
    return write_long(ctx, n + 1);
}

int slow(weft_ctx *ctx)
{
    long ms = prop_long(ctx, "ms", 2000);
    for (long t = 0; t < ms; t += 10) {
        if (weft_ctx_canceled(ctx)) return 1;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    char err[WEFT_ERRBUF_SIZE];
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), "done", 4, err) != WEFT_OK) return 1;
    return 0;
}

int kill_worker(weft_ctx *ctx)
{
    const char *pid = getenv("WEFT_WORKER_PID");
    if (pid) kill((pid_t)atoi(pid), SIGKILL);
    sleep(5);
    weft_ctx_fail(ctx, "the worker survived");
    return 1;
}

int noop(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), "ok", 2, err) != WEFT_OK) return 1;
    return 0;
}

int copy(weft_ctx *ctx)
{
    char *data = NULL, err[WEFT_ERRBUF_SIZE];
    size_t len = 0;
    if (weft_dn_read(weft_ctx_input(ctx, 0), &data, &len, err) != WEFT_OK ||
        weft_dn_write(weft_ctx_output(ctx, 0), data, len, err) != WEFT_OK) {
        weft_ctx_fail(ctx, "%s", err);
        free(data);
        return 1;
    }
    free(data);
    return 0;
}
