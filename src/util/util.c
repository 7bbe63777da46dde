/* SPDX-License-Identifier: MIT */
/*
 * util.c - error-buffer formatting, the growable buffer, and small string,
 * file and time helpers used across the library, and the malloc policy of
 * the processes that run jobs (see util.h).
 */
#include "util/util.h"
#include "util/defaults.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

weft_err weft__verr(char *err, weft_err code, const char *fmt, va_list ap)
{
    if (err) vsnprintf(err, WEFT_ERRBUF_SIZE, fmt, ap);
    return code;
}

weft_err weft__err(char *err, weft_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    weft__verr(err, code, fmt, ap);
    va_end(ap);
    return code;
}

weft_err weft__buf_grow(weft__buf *b, size_t extra)
{
    size_t limit = b->max ? b->max : SIZE_MAX / 2;
    if (extra > limit || b->len > limit - extra) return WEFT_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return WEFT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap < SIZE_MAX / 4 ? cap * 2 : need;
    char *p = realloc(b->data, cap);
    if (!p) return WEFT_ENOMEM;
    b->data = p;
    b->cap = cap;
    return WEFT_OK;
}

weft_err weft__buf_add(weft__buf *b, const void *data, size_t len)
{
    weft_err e = weft__buf_grow(b, len);
    if (e) return e;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return WEFT_OK;
}

weft_err weft__buf_adds(weft__buf *b, const char *s) { return weft__buf_add(b, s, strlen(s)); }

weft_err weft__buf_addc(weft__buf *b, char c) { return weft__buf_add(b, &c, 1); }

weft_err weft__buf_addf(weft__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return WEFT_EINVAL;
    weft_err e = weft__buf_grow(b, (size_t)n);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return WEFT_OK;
}

void weft__buf_reset(weft__buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void weft__buf_release(weft__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *weft__buf_detach(weft__buf *b, size_t *len)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void *weft__grow_array(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return arr;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return arr;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem) return arr;
    void *p = realloc(arr, nc * elem);
    if (!p) return arr;
    *cap = nc;
    return p;
}

char *weft__strdup(const char *s) { return s ? strdup(s) : NULL; }

char *weft__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

weft_err weft__read_file(const char *path, char **out, size_t *len, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    weft__buf b = WEFT_BUF_INIT;
    char chunk[65536];
    size_t n;
    weft_err e = WEFT_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if ((e = weft__buf_add(&b, chunk, n))) break;
    if (!e && ferror(f)) e = weft__err(err, WEFT_EIO, "%s: %s", path, strerror(errno));
    else if (e) weft__err(err, e, "%s: %s", path, weft_strerror(e));
    fclose(f);
    if (e) {
        weft__buf_release(&b);
        return e;
    }
    *out = weft__buf_detach(&b, len);
    return *out ? WEFT_OK : weft__err(err, WEFT_ENOMEM, "%s: out of memory", path);
}

int64_t weft__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec weft__mono_deadline(int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec += (long)(ns % 1000000000);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int64_t weft__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void weft__keep_freed_heap(void)
{
#ifdef __GLIBC__
    const char *t = getenv("GLIBC_TUNABLES");
    if ((t && strstr(t, "glibc.malloc.")) || getenv("MALLOC_TRIM_THRESHOLD_") ||
        getenv("MALLOC_MMAP_THRESHOLD_"))
        return;
    mallopt(M_MMAP_THRESHOLD, WEFT__WORKER_MMAP_MAX);
    mallopt(M_TRIM_THRESHOLD, WEFT__WORKER_KEEP_HEAP);
#endif
}
