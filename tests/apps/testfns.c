/* SPDX-License-Identifier: MIT */
/*
 * testfns.c - a task module for test_runner and test_datanode: task
 * functions that succeed, fail, forget their outputs or wait for cancel,
 * and read_fn/write_fn of generic data nodes.  Loaded with dlopen() as
 * "testfns.<symbol>"; it calls back into libweft.  Built with hidden
 * visibility like the library, so each entry point is exported explicitly.
 */
#include "weft.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int upper(weft_ctx *ctx);
EXPORT int fail_msg(weft_ctx *ctx);
EXPORT int return7(weft_ctx *ctx);
EXPORT int no_write(weft_ctx *ctx);
EXPORT int wait_cancel(weft_ctx *ctx);
EXPORT int chatty(weft_ctx *ctx);
EXPORT int csv_total(weft_ctx *ctx);
EXPORT int greet(weft_ctx *ctx);
EXPORT int describe_input(weft_ctx *ctx);
EXPORT int gen_read(const weft_data_node *dn, char **data, size_t *len);
EXPORT int gen_write(const weft_data_node *dn, const void *data, size_t len);

/* Output 0 = input 0 in capitals, with a log line and progress. */
EXPORT int upper(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    char *data;
    size_t len;
    if (weft_dn_read(weft_ctx_input(ctx, 0), &data, &len, err)) {
        weft_ctx_fail(ctx, "read: %s", err);
        return 1;
    }
    for (size_t i = 0; i < len; i++)
        if (data[i] >= 'a' && data[i] <= 'z') data[i] = (char)(data[i] - 32);
    weft_ctx_log(ctx, "upper: %zu bytes", len);
    weft_ctx_progress(ctx, 1, 1);
    int rc = weft_dn_write(weft_ctx_output(ctx, 0), data, len, err) ? 1 : 0;
    if (rc) weft_ctx_fail(ctx, "write: %s", err);
    free(data);
    return rc;
}

EXPORT int fail_msg(weft_ctx *ctx)
{
    weft_ctx_fail(ctx, "bad row %d", 3);
    return 1;
}

EXPORT int return7(weft_ctx *ctx)
{
    (void)ctx;
    return 7;
}

EXPORT int no_write(weft_ctx *ctx)
{
    weft_ctx_log(ctx, "forgot to write");
    return 0;
}

EXPORT int wait_cancel(weft_ctx *ctx)
{
    while (!weft_ctx_canceled(ctx)) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* Logs 100000 numbered lines (more than the 64 KiB tail) and writes output 0. */
int chatty(weft_ctx *ctx)
{
    for (int i = 0; i < 100000; i++) weft_ctx_log(ctx, "line %d", i);
    char err[WEFT_ERRBUF_SIZE];
    return weft_dn_write(weft_ctx_output(ctx, 0), "x", 1, err) ? 1 : 0;
}

/* Sums column "amount" of csv input "sales" into json output "total". */
EXPORT int csv_total(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_csv_reader *r;
    if (weft_csv_open(weft_ctx_data(ctx, "sales"), &r, err)) {
        weft_ctx_fail(ctx, "%s", err);
        return 1;
    }
    size_t nh, col = (size_t)-1;
    const char *const *h = weft_csv_header(r, &nh);
    for (size_t i = 0; i < nh; i++)
        if (strcmp(h[i], "amount") == 0) col = i;
    const char *const *f;
    size_t n;
    long total = 0;
    int rc;
    while ((rc = weft_csv_next(r, &f, &n, err)) == 1)
        if (col < n) total += atol(f[col]);
    weft_csv_close(r);
    if (rc < 0) {
        weft_ctx_fail(ctx, "%s", err);
        return 1;
    }
    json_t *o = json_pack("{s:I}", "total", (json_int_t)total);
    int bad = weft_dn_write_json(weft_ctx_data(ctx, "total"), o, err) != WEFT_OK;
    json_decref(o);
    if (bad) weft_ctx_fail(ctx, "%s", err);
    return bad;
}

/* Writes the task property "greeting" and the job id to output 0. */
EXPORT int greet(weft_ctx *ctx)
{
    char buf[256], err[WEFT_ERRBUF_SIZE];
    const char *g = weft_value_text(weft_ctx_property(ctx, "greeting"));
    snprintf(buf, sizeof buf, "%s from %s", g ? g : "(none)", weft_ctx_job_id(ctx));
    return weft_dn_write(weft_ctx_output(ctx, 0), buf, strlen(buf), err) ? 1 : 0;
}

/* A generic node stored in the file named by the first item of its
 * read_fn_args/write_fn_args (lists, as Taipy's are). */
EXPORT int gen_read(const weft_data_node *dn, char **data, size_t *len)
{
    const char *path = weft_value_text(weft_value_at(weft_dn_property(dn, "read_fn_args"), 0));
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return 2;
    char *buf = malloc(4096);
    size_t n = buf ? fread(buf, 1, 4096, f) : 0;
    fclose(f);
    if (!buf) return 3;
    *data = buf;
    *len = n;
    return 0;
}

EXPORT int gen_write(const weft_data_node *dn, const void *data, size_t len)
{
    const char *path = weft_value_text(weft_value_at(weft_dn_property(dn, "write_fn_args"), 0));
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!f) return 2;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : 4;
}

/* Reads input 0 with the reader of its type (JSON value, csv rows, sql
 * rows, bytes) and writes to output 0 what it found, e.g. "json null",
 * "csv header=a|b rows=0", "bytes 0"; fails when the reader does. */
EXPORT int describe_input(weft_ctx *ctx)
{
    char err[WEFT_ERRBUF_SIZE], out[512];
    weft_data_node *in = weft_ctx_input(ctx, 0);
    const char *type = weft_dn_storage_type(in);
    if (strcmp(type, "json") == 0 || strcmp(type, "sql_table") == 0) {
        json_t *j;
        if (weft_dn_read_json(in, &j, err)) {
            weft_ctx_fail(ctx, "read: %s", err);
            return 1;
        }
        char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(out, sizeof out, "%s %s", type, s ? s : "?");
        free(s);
        json_decref(j);
    } else if (strcmp(type, "csv") == 0) {
        weft_csv_reader *r;
        if (weft_csv_open(in, &r, err)) {
            weft_ctx_fail(ctx, "read: %s", err);
            return 1;
        }
        size_t n = 0, rows = 0, nf;
        const char *const *h = weft_csv_header(r, &n), *const *f;
        int rc;
        while ((rc = weft_csv_next(r, &f, &nf, err)) == 1) rows++;
        int len = snprintf(out, sizeof out, "csv header=");
        for (size_t i = 0; h && i < n && len < (int)sizeof out; i++)
            len += snprintf(out + len, sizeof out - (size_t)len, "%s%s", i ? "|" : "", h[i]);
        if (len < (int)sizeof out) snprintf(out + len, sizeof out - (size_t)len, " rows=%zu", rows);
        weft_csv_close(r);
        if (rc < 0) {
            weft_ctx_fail(ctx, "read: %s", err);
            return 1;
        }
    } else {
        char *data;
        size_t len;
        if (weft_dn_read(in, &data, &len, err)) {
            weft_ctx_fail(ctx, "read: %s", err);
            return 1;
        }
        free(data);
        snprintf(out, sizeof out, "%s bytes %zu", type, len);
    }
    if (weft_dn_write(weft_ctx_output(ctx, 0), out, strlen(out), err)) {
        weft_ctx_fail(ctx, "write: %s", err);
        return 1;
    }
    return 0;
}
