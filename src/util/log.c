/* SPDX-License-Identifier: MIT */
/*
 * log.c - the library's only way to say something outside a call's result:
 * a handler chosen by the embedding program (library-wide, or per
 * orchestrator or worker service through a weft__logger), called with a
 * level, the speaking component and one formatted line.  Nothing here
 * writes to a file descriptor; with no handler a message is dropped before
 * it is formatted.
 */
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__logger global = {NULL, NULL, WEFT_LOG_ERROR};

void weft_log_set_handler(weft_log_fn fn, void *userdata, weft_log_level max_level)
{
    pthread_mutex_lock(&global_mu);
    global.fn = fn;
    global.ud = userdata;
    global.level = max_level;
    pthread_mutex_unlock(&global_mu);
}

const char *weft_log_level_name(weft_log_level level)
{
    switch (level) {
    case WEFT_LOG_ERROR: return "error";
    case WEFT_LOG_WARN: return "warn";
    case WEFT_LOG_INFO: return "info";
    case WEFT_LOG_DEBUG: return "debug";
    }
    return NULL;
}

void weft__vlog(const weft__logger *lg, weft_log_level level, const char *component,
                const char *fmt, va_list ap)
{
    weft__logger use;
    if (lg && lg->fn) {
        use = *lg;
    } else {
        pthread_mutex_lock(&global_mu);
        use = global;
        pthread_mutex_unlock(&global_mu);
    }
    if (!use.fn || level > use.level) return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    use.fn(level, component, line, use.ud);
}

void weft__log(const weft__logger *lg, weft_log_level level, const char *component,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    weft__vlog(lg, level, component, fmt, ap);
    va_end(ap);
}
