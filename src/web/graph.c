/* SPDX-License-Identifier: MIT */
/*
 * graph.c - the DAG of a scenario or a submission as Graphviz sees it:
 * builds the DOT text (tasks as boxes, data nodes as ellipses, edges from
 * the tasks' inputs and outputs in the config) and lays it out with libgvc
 * into SVG or PNG.  `weft graph` and the web view's submission page share
 * it.  A submission's tasks carry their job's id and status (the SVG
 * element's id and class "job st-STATUS"), so the page recolours them from
 * the event stream without asking for a new layout.
 *
 * Graphviz keeps global state and is not thread-safe: one context, made on
 * first use, and every layout under one mutex.  A layout of 1,000 tasks
 * takes about a second (docs/API.md has the measure); the page asks once
 * per submission.
 */
#include "core/pages.h"
#include "web/web.h"

#include <graphviz/gvc.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t gv_mu = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gv_ctx;

static const char *const fill[WEFT_JOB_NSTATUS] = {
    "#d0d7de", "#f5d76e", "#9ecbff", "#54aeff", "#b0b0b0",
    "#ff8182", "#4ac26b", "#c8e1ff", "#e6b8b8",
};

/* A DOT quoted string. */
static void q(weft__buf *b, const char *s)
{
    weft__buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') weft__buf_addc(b, '\\');
        weft__buf_addc(b, *s == '\n' ? ' ' : *s);
    }
    weft__buf_addc(b, '"');
}

/* The list `key` of section KIND.id as section ids (borrowed), *n of them. */
static const weft_value *list_of(const weft_config *cfg, const char *kind, const char *id,
                                 const char *key)
{
    char section[300];
    snprintf(section, sizeof section, "%s.%s", kind, id);
    return weft_config_lookup(cfg, section, key);
}

/* One task's node and its edges.  `job` is the job's JSON row or NULL. */
static void task_dot(weft__buf *b, const weft_config *cfg, const char *task, json_t *job)
{
    const char *jid = job ? json_string_value(json_object_get(job, "id")) : NULL;
    const char *st = job ? json_string_value(json_object_get(job, "status")) : NULL;
    int k = st ? weft_job_status_parse(st) : -1;
    weft__buf_adds(b, "  ");
    q(b, jid ? jid : task);
    weft__buf_adds(b, " [shape=box, style=\"rounded,filled\", label=");
    q(b, task);
    weft__buf_addf(b, ", fillcolor=\"%s\"", k >= 0 ? fill[k] : "#ffffff");
    if (jid) {
        weft__buf_adds(b, ", id=");
        q(b, jid);
        weft__buf_addf(b, ", class=\"job st-%s\", tooltip=\"%s\"", st, st);
    }
    weft__buf_adds(b, "];\n");
    for (int dir = 0; dir < 2; dir++) {
        const weft_value *l = list_of(cfg, "TASK", task, dir ? "outputs" : "inputs");
        for (size_t i = 0; l && i < weft_value_len(l); i++) {
            const char *dn = weft_value_text(weft_value_at(l, i));
            weft__buf_adds(b, "  ");
            q(b, dir ? (jid ? jid : task) : dn);
            weft__buf_adds(b, " -> ");
            q(b, dir ? dn : (jid ? jid : task));
            weft__buf_adds(b, ";\n");
        }
    }
}

/* The data nodes the tasks name, each once, as ellipses with class "dn". */
static void dns_dot(weft__buf *b, const weft_config *cfg, const char *const *tasks, size_t n)
{
    weft__strmap seen = WEFT__STRMAP_INIT;
    for (size_t t = 0; t < n; t++)
        for (int dir = 0; dir < 2; dir++) {
            const weft_value *l = list_of(cfg, "TASK", tasks[t], dir ? "outputs" : "inputs");
            for (size_t i = 0; l && i < weft_value_len(l); i++) {
                const char *dn = weft_value_text(weft_value_at(l, i));
                if (weft__strmap_get(&seen, dn) || weft__strmap_put(&seen, dn, (void *)dn)) continue;
                weft__buf_adds(b, "  ");
                q(b, dn);
                weft__buf_adds(b, " [shape=ellipse, style=filled, fillcolor=\"#f6f8fa\", class=\"dn\", id=");
                weft__buf_addf(b, "\"dn:%s\"];\n", dn);
            }
        }
    weft__strmap_release(&seen);
}

typedef struct sub_q {
    const char *id;
    json_t *jobs;
} sub_q;

static weft_err sub_read(weft__store *s, void *ud, char *err)
{
    sub_q *sq = ud;
    return weft__page_submission_jobs(s, sq->id, 100000, &sq->jobs, err);
}

/* The DOT of a configured scenario, or of a submission (jobs given). */
static weft_err build_dot(const weft_config *cfg, const char *id, json_t *jobs, weft__buf *b,
                          char *err)
{
    const char **tasks = NULL;
    size_t n = 0, cap = 0;
    const weft_value *l = jobs ? NULL : list_of(cfg, "SCENARIO", id, "tasks");
    if (!jobs && !l) return weft__err(err, WEFT_ENOTFOUND, "no scenario %s in the configuration", id);
    size_t total = jobs ? json_array_size(jobs) : weft_value_len(l);
    if (WEFT__GROW(tasks, total + 1, cap)) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft__buf_adds(b, "digraph weft {\n  rankdir=LR; bgcolor=\"transparent\";\n"
                      "  node [fontname=\"Helvetica\", fontsize=11]; edge [color=\"#8c959f\"];\n");
    for (size_t i = 0; i < total; i++) {
        json_t *job = jobs ? json_array_get(jobs, i) : NULL;
        const char *task = job ? json_string_value(json_object_get(job, "task"))
                               : weft_value_text(weft_value_at(l, i));
        if (!task) continue;
        tasks[n++] = task;
        task_dot(b, cfg, task, job);
    }
    dns_dot(b, cfg, tasks, n);
    free(tasks);
    if (weft__buf_adds(b, "}\n")) return weft__err(err, WEFT_ENOMEM, "out of memory");
    return WEFT_OK;
}

static weft_err layout(const char *dot, weft_graph_format f, char **out, size_t *len, char *err)
{
    weft_err e = WEFT_OK;
    pthread_mutex_lock(&gv_mu);
    if (!gv_ctx) gv_ctx = gvContext();
    Agraph_t *g = gv_ctx ? agmemread(dot) : NULL;
    char *data = NULL;
    size_t n = 0;
    if (!g) {
        e = weft__err(err, WEFT_EIO, "Graphviz cannot read the graph");
    } else if (gvLayout(gv_ctx, g, "dot") != 0) {
        e = weft__err(err, WEFT_EIO, "Graphviz cannot lay out the graph");
    } else {
        unsigned int ulen = 0;
        if (gvRenderData(gv_ctx, g, f == WEFT_GRAPH_PNG ? "png" : "svg", &data, &ulen) != 0)
            e = weft__err(err, WEFT_EIO, "Graphviz cannot render %s", f == WEFT_GRAPH_PNG ? "PNG" : "SVG");
        n = ulen;
        gvFreeLayout(gv_ctx, g);
    }
    if (!e && !(*out = malloc(n + 1))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    if (!e) {
        memcpy(*out, data, n);
        (*out)[n] = '\0';
        *len = n;
    }
    if (data) gvFreeRenderData(data);
    if (g) agclose(g);
    pthread_mutex_unlock(&gv_mu);
    return e;
}

weft_err weft_graph_render(const weft_config *cfg, weft_orchestrator *o, const char *id,
                           weft_graph_format format, char **out, size_t *len, char *err)
{
    if (!cfg || !id || !out || !len || format > WEFT_GRAPH_PNG)
        return weft__err(err, WEFT_EINVAL, "weft_graph_render: bad argument");
    *out = NULL;
    *len = 0;
    sub_q sq = {.id = id};
    bool is_sub = strncmp(id, "SUBMISSION_", 11) == 0;
    if (is_sub && !o) return weft__err(err, WEFT_ENOTFOUND, "no submission %s (no store)", id);
    weft_submission_info *si = NULL;
    weft_err e = is_sub ? weft_submission_get(o, id, &si, err) : WEFT_OK;
    weft_submission_info_free(si);
    if (!e && is_sub) e = weft__orch_query(o, sub_read, &sq, err);
    weft__buf dot = WEFT_BUF_INIT;
    if (!e) e = build_dot(cfg, id, sq.jobs, &dot, err);
    json_decref(sq.jobs);
    if (!e && format == WEFT_GRAPH_DOT) {
        *out = weft__buf_detach(&dot, len);
        if (!*out) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    } else if (!e) {
        e = layout(dot.data, format, out, len, err);
    }
    weft__buf_release(&dot);
    return e;
}
