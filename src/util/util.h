/* SPDX-License-Identifier: MIT */
/*
 * util.h - internal helpers shared by the library's files: error-buffer
 * formatting, a growable byte buffer with a size limit, the growth helper
 * for arrays, small string and time helpers (util.c), the log handler
 * (log.c) and a string-keyed hash map (strmap.c).  The bottom layer: these
 * files call nothing outside util/.  Internal names use the weft__ prefix;
 * defaults live in defaults.h.
 */
#ifndef WEFT_UTIL_H
#define WEFT_UTIL_H

#include "weft.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Formats into a caller's error buffer (WEFT_ERRBUF_SIZE bytes) when `err`
 * is non-NULL, and returns `code`, so that `return weft__err(err, E, ...)`
 * reads naturally. */
weft_err weft__err(char *err, weft_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
weft_err weft__verr(char *err, weft_err code, const char *fmt, va_list ap);

/*
 * A growable buffer, always NUL-terminated when data != NULL.  `max` bounds
 * its length (0: no bound beyond SIZE_MAX/2); growing past it fails with
 * WEFT_ELIMIT, so input from a file or the network cannot grow memory
 * without bound.  WEFT_BUF_INIT is the empty buffer; weft__buf_release()
 * frees and resets it and may be called twice.
 */
typedef struct weft__buf {
    char *data;
    size_t len, cap, max;
} weft__buf;
#define WEFT_BUF_INIT {NULL, 0, 0, 0}

weft_err weft__buf_grow(weft__buf *b, size_t extra);
weft_err weft__buf_add(weft__buf *b, const void *data, size_t len);
weft_err weft__buf_adds(weft__buf *b, const char *s);
weft_err weft__buf_addc(weft__buf *b, char c);
weft_err weft__buf_addf(weft__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weft__buf_reset(weft__buf *b);   /* length 0, memory kept */
void weft__buf_release(weft__buf *b); /* frees; back to WEFT_BUF_INIT (max kept) */
/* Hands the data over (caller frees with free()); the buffer is reset to empty.
 * Returns an empty allocated string for an empty buffer, NULL on ENOMEM. */
char *weft__buf_detach(weft__buf *b, size_t *len);

/* strdup that returns NULL for NULL. */
char *weft__strdup(const char *s);
char *weft__strndup(const char *s, size_t n);
/* Reads a whole file (caller frees; NUL-terminated).  WEFT_EIO with errno text in err. */
weft_err weft__read_file(const char *path, char **out, size_t *len, char *err);

/* URLs with their password hidden (redact.c): the userinfo runs to the
 * last '@', so a malformed URL (a password with an unencoded '/', '#' or
 * '?') is masked too.  weft__url_redact() writes `url` masked into buf
 * (always NUL-terminated, truncated to size; NULL gives "(none)").
 * weft__url_redact_span() masks s[0..n), one URL, into `out`, which has
 * room for n + WEFT__REDACT_EXTRA bytes (not NUL-terminated), and returns
 * the length written. */
#define WEFT__REDACT_EXTRA 4
void weft__url_redact(const char *url, char *buf, size_t size);
size_t weft__url_redact_span(const char *s, size_t n, char *out);

/* Wall-clock time in microseconds since the epoch, and monotonic time in ns. */
int64_t weft__now_us(void);
int64_t weft__mono_ns(void);

/* Makes this process keep the heap its jobs free for its next jobs
 * (WEFT__WORKER_KEEP_HEAP in util/defaults.h): for processes of weft's own
 * that run jobs (a worker, the `weft` command in development mode), never
 * for a program that embeds libweft.  Does nothing when the environment
 * sets glibc's malloc tunables, or without glibc. */
void weft__keep_freed_heap(void);
/* The CLOCK_MONOTONIC time `ns` (>= 0) from now as an absolute time, for
 * pthread_cond_timedwait() on a condition made with that clock and for
 * clock_nanosleep(TIMER_ABSTIME). */
struct timespec weft__mono_deadline(int64_t ns);

/* ---- growth of arrays ----
 * WEFT__GROW(arr, need, cap) makes room for at least `need` elements in the
 * array `arr` of `cap` elements (both lvalues; cap a size_t), doubling from
 * 8, and evaluates to WEFT_OK, or WEFT_ENOMEM with arr and cap unchanged.
 * One helper for every growing array of the library (git's ALLOC_GROW). */
#define WEFT__GROW(arr, need, cap)                                                 \
    ((size_t)(need) <= (cap)                                                         \
         ? WEFT_OK                                                                 \
         : ((arr) = weft__grow_array((arr), &(cap), (need), sizeof *(arr)),        \
            (size_t)(need) <= (cap) ? WEFT_OK : WEFT_ENOMEM))
/* The function behind WEFT__GROW: returns the grown array with *cap
 * updated, or on ENOMEM (or overflow) `arr` itself with *cap unchanged. */
void *weft__grow_array(void *arr, size_t *cap, size_t need, size_t elem);

/* ---- log.c ----
 * A handler with its level; fn NULL means "the library-wide handler".
 * Handles that take a handler in their options keep one of these. */
typedef struct weft__logger {
    weft_log_fn fn;
    void *ud;
    weft_log_level level;
} weft__logger;
/* Logs one line through `lg` (NULL or without fn: the library-wide handler). */
void weft__log(const weft__logger *lg, weft_log_level level, const char *component,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void weft__vlog(const weft__logger *lg, weft_log_level level, const char *component,
                const char *fmt, va_list ap);

/* ---- strmap.c ----
 * Open addressing, string keys (borrowed: the caller keeps each key alive
 * while it is in the map, normally inside the value), void * values.
 * Insert, lookup and delete are O(1) on average. */
typedef struct weft__strmap {
    struct weft__strmap_slot *slots;
    size_t cap, len, used; /* used counts tombstones too */
} weft__strmap;
#define WEFT__STRMAP_INIT {NULL, 0, 0, 0}
void *weft__strmap_get(const weft__strmap *m, const char *key);
/* Adds or replaces; WEFT_ENOMEM leaves the map unchanged. */
weft_err weft__strmap_put(weft__strmap *m, const char *key, void *value);
/* Removes `key` and returns its value, NULL when absent. */
void *weft__strmap_del(weft__strmap *m, const char *key);
/* Calls fn on every value (any order); the map must not change meanwhile. */
void weft__strmap_each(const weft__strmap *m, void (*fn)(void *value, void *ud), void *ud);
void weft__strmap_release(weft__strmap *m);

#endif
