/* SPDX-License-Identifier: MIT */
/*
 * ctx.c - the weft_ctx a task function gets: its inputs and outputs as data
 * node handles (an output handle records that it was written), the task
 * section's properties, log lines kept in the job's bounded log tail,
 * progress and cancel forwarded to the runner's hooks (a passed timeout
 * counts as cancel), and the failure message of weft_ctx_fail().
 */
#include "job/runner.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weft_ctx {
    weft__app *app;
    const weft__job_spec *spec;
    weft__run_hooks hooks;
    weft_data_node **in, **out;
    weft__buf *log;
    char *section;       /* "TASK.<config id>" */
    char *fail_msg;
    int64_t deadline_ns; /* 0: none */
    bool cancel_requested, timed_out;
};

weft_err weft__tail_add(weft__buf *b, const void *data, size_t len)
{
    size_t max = b->max ? b->max : WEFT__LOG_TAIL_MAX;
    const char *d = data;
    if (len >= max) { /* only the end of `data` survives */
        d += len - max;
        len = max;
        weft__buf_reset(b);
    } else if (b->len + len > max) {
        size_t drop = b->len + len - max;
        memmove(b->data, b->data + drop, b->len - drop);
        b->len -= drop;
        b->data[b->len] = '\0';
    }
    return weft__buf_add(b, d, len);
}

weft_err weft__ctx_new(weft__app *app, const weft__job_spec *spec, const weft__run_hooks *hooks,
                       bool *written, weft__buf *log, int64_t deadline_ns, weft_ctx **out, char *err)
{
    weft_err e = WEFT_OK;
    weft_ctx *c = calloc(1, sizeof *c);
    if (!c) return weft__err(err, WEFT_ENOMEM, "out of memory");
    c->app = app;
    c->spec = spec;
    if (hooks) c->hooks = *hooks;
    c->log = log;
    c->deadline_ns = deadline_ns;
    size_t slen = strlen(spec->task_config_id) + 6;
    c->section = malloc(slen);
    c->in = calloc(spec->ninputs + 1, sizeof *c->in);
    c->out = calloc(spec->noutputs + 1, sizeof *c->out);
    if (!c->section || !c->in || !c->out) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(c->section, slen, "TASK.%s", spec->task_config_id);
    for (size_t i = 0; i < spec->noutputs; i++)
        if ((e = weft__dn_open(app, &spec->outputs[i], written ? &written[i] : NULL, &c->out[i], err)))
            goto fail;
    for (size_t i = 0; i < spec->ninputs; i++) {
        /* A node that is both input and output: writing it through the
         * input handle writes the output too. */
        bool *w = NULL;
        for (size_t j = 0; written && j < spec->noutputs && !w; j++)
            if (spec->inputs[i].id && spec->outputs[j].id &&
                strcmp(spec->inputs[i].id, spec->outputs[j].id) == 0)
                w = &written[j];
        if ((e = weft__dn_open(app, &spec->inputs[i], w, &c->in[i], err))) goto fail;
    }
    *out = c;
    return WEFT_OK;
fail:
    weft__ctx_free(c);
    return e;
}

void weft__ctx_free(weft_ctx *c)
{
    if (!c) return;
    for (size_t i = 0; c->in && i < c->spec->ninputs; i++) weft__dn_free(c->in[i]);
    for (size_t i = 0; c->out && i < c->spec->noutputs; i++) weft__dn_free(c->out[i]);
    free(c->in);
    free(c->out);
    free(c->section);
    free(c->fail_msg);
    free(c);
}

const char *weft__ctx_fail_message(const weft_ctx *c) { return c->fail_msg; }
bool weft__ctx_cancel_requested(weft_ctx *c)
{
    weft_ctx_canceled(c);
    return c->cancel_requested;
}
bool weft__ctx_timed_out(const weft_ctx *c) { return c->timed_out; }

size_t weft_ctx_ninputs(const weft_ctx *c) { return c ? c->spec->ninputs : 0; }
size_t weft_ctx_noutputs(const weft_ctx *c) { return c ? c->spec->noutputs : 0; }

weft_data_node *weft_ctx_input(weft_ctx *c, size_t i)
{
    return c && i < c->spec->ninputs ? c->in[i] : NULL;
}

weft_data_node *weft_ctx_output(weft_ctx *c, size_t i)
{
    return c && i < c->spec->noutputs ? c->out[i] : NULL;
}

weft_data_node *weft_ctx_data(weft_ctx *c, const char *config_id)
{
    if (!c || !config_id) return NULL;
    for (size_t i = 0; i < c->spec->ninputs; i++)
        if (strcmp(c->spec->inputs[i].config_id, config_id) == 0) return c->in[i];
    for (size_t i = 0; i < c->spec->noutputs; i++)
        if (strcmp(c->spec->outputs[i].config_id, config_id) == 0) return c->out[i];
    return NULL;
}

const char *weft_ctx_job_id(const weft_ctx *c) { return c ? c->spec->job_id : NULL; }
const char *weft_ctx_task_config_id(const weft_ctx *c) { return c ? c->spec->task_config_id : NULL; }

const weft_value *weft_ctx_property(const weft_ctx *c, const char *key)
{
    if (!c || !key) return NULL;
    return weft_config_lookup(weft__app_config(c->app), c->section, key);
}

void weft_ctx_log(weft_ctx *c, const char *fmt, ...)
{
    if (!c || !c->log || !fmt) return;
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *line = small;
    if ((size_t)n >= sizeof small) {
        if (!(line = malloc((size_t)n + 1))) return; /* a lost log line is not worth failing the job */
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    weft__tail_add(c->log, line, (size_t)n);
    if (n == 0 || line[n - 1] != '\n') weft__tail_add(c->log, "\n", 1);
    if (line != small) free(line);
}

void weft_ctx_progress(weft_ctx *c, int64_t done, int64_t total)
{
    if (c && c->hooks.progress) c->hooks.progress(c->hooks.ud, done, total);
}

bool weft_ctx_canceled(weft_ctx *c)
{
    if (!c) return false;
    if (!c->cancel_requested && c->hooks.canceled && c->hooks.canceled(c->hooks.ud))
        c->cancel_requested = true;
    if (!c->timed_out && c->deadline_ns && weft__mono_ns() >= c->deadline_ns) c->timed_out = true;
    return c->cancel_requested || c->timed_out;
}

void weft_ctx_fail(weft_ctx *c, const char *fmt, ...)
{
    if (!c || !fmt) return;
    char *msg = malloc(WEFT__ERROR_MAX);
    if (!msg) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, WEFT__ERROR_MAX, fmt, ap);
    va_end(ap);
    free(c->fail_msg);
    c->fail_msg = msg;
}
