/* SPDX-License-Identifier: MIT */
/*
 * poolfns.c - task functions for the standalone pool's tests (test_pool.c,
 * test_standalone.c): jobs that record when they ran, print, crash in
 * various ways or ignore cancel.  Built into <build>/tests/apps/poolfns.so
 * and loaded as "poolfns.NAME".
 */
#define _GNU_SOURCE
#include "weft.h"

#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int record(weft_ctx *ctx);
EXPORT int kill_self(weft_ctx *ctx);
EXPORT int segfault(weft_ctx *ctx);
EXPORT int exit3(weft_ctx *ctx);
EXPORT int hello(weft_ctx *ctx);
EXPORT int stubborn(weft_ctx *ctx);
EXPORT int whoami(weft_ctx *ctx);
EXPORT int heap_kept(weft_ctx *ctx);
EXPORT int chatty(weft_ctx *ctx);
EXPORT int flood(weft_ctx *ctx);

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t prop_ms(weft_ctx *ctx, const char *key, int64_t def)
{
    const weft_value *v = weft_ctx_property(ctx, key);
    return v ? atoll(weft_value_text(v)) : def;
}

/* Sleeps `ms` property milliseconds (default 200), then appends
 * "<start ns> <end ns> <pid>" to records/<job id> in the current folder. */
int record(weft_ctx *ctx)
{
    int64_t t0 = mono_ns();
    int64_t ms = prop_ms(ctx, "ms", 200);
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {}
    int64_t t1 = mono_ns();
    mkdir("records", 0777);
    char path[512];
    snprintf(path, sizeof path, "records/%s", weft_ctx_job_id(ctx));
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "%lld %lld %d\n", (long long)t0, (long long)t1, (int)getpid());
    fclose(f);
    return 0;
}

int kill_self(weft_ctx *ctx)
{
    (void)ctx;
    raise(SIGKILL);
    return 0;
}

int segfault(weft_ctx *ctx)
{
    (void)ctx;
    /* Sanitizers catch SIGSEGV and exit with a status instead, and refuse
     * signal() calls that would undo that; the test wants the plain crash a
     * production build has, so ask the kernel directly. */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } dfl = {0};
    syscall(SYS_rt_sigaction, SIGSEGV, &dfl, NULL, sizeof dfl.mask);
    volatile int *volatile p = (volatile int *)(uintptr_t)8; /* not NULL: UBSan checks that */
    *p = 1;
    return 0;
}

int exit3(weft_ctx *ctx)
{
    (void)ctx;
    exit(3);
}

/* Prints to stdout and stderr and to the job's log, naming the job. */
int hello(weft_ctx *ctx)
{
    printf("hello stdout %s\n", weft_ctx_job_id(ctx));
    fflush(stdout);
    fprintf(stderr, "hello stderr %s\n", weft_ctx_job_id(ctx));
    weft_ctx_log(ctx, "hello log %s", weft_ctx_job_id(ctx));
    return 0;
}

/* Ignores cancel and timeouts: sleeps 30 s unless killed. */
int stubborn(weft_ctx *ctx)
{
    (void)ctx;
    struct timespec ts = {30, 0};
    while (nanosleep(&ts, &ts) != 0) {}
    return 0;
}

/* Writes its pid to pids/<job id>. */
int whoami(weft_ctx *ctx)
{
    mkdir("pids", 0777);
    char path[512];
    snprintf(path, sizeof path, "pids/%s", weft_ctx_job_id(ctx));
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

/* Allocates and frees 8 MiB (above glibc's first mmap threshold, 128 KiB),
 * then fails unless the freed memory stayed in the heap for the next job
 * (the worker's malloc policy, WEFT__WORKER_KEEP_HEAP). */
int heap_kept(weft_ctx *ctx)
{
    (void)ctx;
    size_t n = 8u << 20;
    volatile char *b = malloc(n);
    if (!b) return 2;
    for (size_t i = 0; i < n; i += 4096) b[i] = 1;
    free((void *)b);
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks >= n) return 0;
    printf("freed heap %zu bytes, top %zu: the 8 MiB went back to the system\n", mi.fordblks,
           mi.keepcost);
    return 1;
}

/* Prints 100000 lines (6.5 MB) to stdout, asking for cancel now and then. */
int chatty(weft_ctx *ctx)
{
    for (int i = 0; i < 100000; i++) {
        printf("chatty line %06d ..................................................\n", i);
        if (i % 1000 == 0 && weft_ctx_canceled(ctx)) return 1;
    }
    return 0;
}

/* Writes `mb` MiB (default 200) of numbered lines to stdout without ever
 * asking weft_ctx_canceled(), then "flood end marker". */
int flood(weft_ctx *ctx)
{
    int64_t mb = prop_ms(ctx, "mb", 200);
    char line[64];
    for (int64_t i = 0, bytes = 0; bytes < mb * 1024 * 1024; i++) {
        int n = snprintf(line, sizeof line, "flood %012lld ..............................\n", (long long)i);
        bytes += (int64_t)fwrite(line, 1, (size_t)n, stdout);
        (void)n;
    }
    printf("flood end marker\n");
    return 0;
}
