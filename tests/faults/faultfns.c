/* SPDX-License-Identifier: MIT */
/*
 * faultfns.c - the task function of the fault-injection suite (faults.c),
 * built into <build>/faults/faultfns.so and loaded as "faultfns.mark".  A
 * job first leaves a marker (<markers>/<job id>, one line per run), so the
 * suite can check that every job that started is recorded as started,
 * then sleeps `ms`, reads its inputs and writes its task id to its outputs.
 */
#define _GNU_SOURCE
#include "weft.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int mark(weft_ctx *ctx);

int mark(weft_ctx *ctx)
{
    const weft_value *dir = weft_ctx_property(ctx, "markers");
    const weft_value *ms = weft_ctx_property(ctx, "ms");
    if (dir) {
        char path[4096], line[64];
        snprintf(path, sizeof path, "%s/%s", weft_value_text(dir), weft_ctx_job_id(ctx));
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
        /* fsync: a marker must not be lost by a kill that the store survives */
        if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
            if (fd >= 0) close(fd);
            weft_ctx_fail(ctx, "cannot write marker %s", path);
            return 1;
        }
        close(fd);
    }
    long wait = ms ? atol(weft_value_text(ms)) : 0;
    struct timespec ts = {wait / 1000, (wait % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && !weft_ctx_canceled(ctx)) {}
    for (size_t i = 0; i < weft_ctx_ninputs(ctx); i++) {
        char *d = NULL;
        size_t len = 0;
        if (weft_dn_read(weft_ctx_input(ctx, i), &d, &len, NULL) != WEFT_OK) return 1;
        free(d);
    }
    const char *id = weft_ctx_task_config_id(ctx);
    for (size_t i = 0; i < weft_ctx_noutputs(ctx); i++)
        if (weft_dn_write(weft_ctx_output(ctx, i), id, strlen(id), NULL) != WEFT_OK) return 1;
    return 0;
}
