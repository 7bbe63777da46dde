/* SPDX-License-Identifier: MIT */
/*
 * api.c - the JSON routes of the web view (docs/API.md): paginated lists of
 * submissions, jobs, scenarios and data nodes, one entity by id, the
 * overview, and the two state changes, cancel and submit.  Each route reads
 * the store through one weft__orch_query() call (or a public query), so a
 * request holds the orchestrator's lock for one short read.
 */
#include "core/pages.h"
#include "web/web.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A list route's query: the page arguments and which store function. */
typedef struct list_q {
    weft__page_req req;
    weft_err (*fn)(weft__store *s, const weft__page_req *q, json_t **items, int64_t *next,
                   char *err);
    json_t *items;
    int64_t next;
} list_q;

static weft_err run_list(weft__store *s, void *ud, char *err)
{
    list_q *l = ud;
    return l->fn(s, &l->req, &l->items, &l->next, err);
}

/* "counts": '{"6": 3}' (SQLite's json_group_object) to {"COMPLETED": 3}. */
static void named_counts(json_t *items)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *c = json_object_get(it, "counts");
        json_t *parsed = c && json_is_string(c) ? json_loads(json_string_value(c), 0, NULL) : NULL;
        json_t *named = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(parsed, k, v) {
            const char *name = weft_job_status_name((weft_job_status)atoi(k));
            if (name) json_object_set(named, name, v);
        }
        json_decref(parsed);
        json_object_set_new(it, "counts", named);
    }
}

static void list(weft_ui *ui, const weft__req *rq, weft__resp *r, list_q *l)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft__page_args a;
    if (weft__page_args_parse(rq->query, &a, err)) return weft__resp_error(r, 400, "%s", err);
    l->req = (weft__page_req){a.after, a.limit, a.submission, a.task, a.status};
    weft_orchestrator *o = weft__ui_orch(ui);
    if (!o) return weft__resp_json(r, 200, json_pack("{s[]sn}", "items", "next"));
    weft_err e = weft__orch_query(o, run_list, l, err);
    if (e) return weft__resp_error(r, weft__http_status(e), "%s", err);
    if (l->fn == weft__page_submissions) named_counts(l->items);
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)l->next);
    weft__resp_json(r, 200, json_pack("{soso?}", "items", l->items, "next",
                                      l->next ? json_string(next) : NULL));
}

static json_t *job_json(const weft_job_info *j)
{
    json_t *t = json_object();
    for (int k = 0; k < WEFT_JOB_NSTATUS; k++)
        if (j->status_time_us[k])
            json_object_set_new(t, weft_job_status_name((weft_job_status)k),
                                json_integer(j->status_time_us[k]));
    return json_pack("{ss ss ss ss ss* ss si so ss* si si ss* ss* sb}", "id", j->id, "task",
                     j->task_config_id, "task_id", j->task_id, "submission", j->submission_id,
                     "entity_id", j->entity_id, "status", weft_job_status_name(j->status),
                     "attempt", j->attempt, "status_times", t, "error", j->error, "exit_code",
                     j->exit_code, "signal", j->signal, "log_tail", j->log_tail, "worker",
                     j->worker, "cancelable", !weft_job_status_is_final(j->status));
}

typedef struct by_id {
    const char *id;
    int max;
    weft_err (*fn)(weft__store *s, const char *id, int max, json_t **items, char *err);
    json_t *items;
} by_id;

static weft_err run_by_id(weft__store *s, void *ud, char *err)
{
    by_id *b = ud;
    return b->fn(s, b->id, b->max, &b->items, err);
}

static weft_err history(weft__store *s, const char *id, int max, json_t **items, char *err)
{
    return weft__page_job_history(s, id, items, err);
}

static void job(weft_ui *ui, weft_orchestrator *o, const char *id, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_job_info *j = NULL;
    by_id b = {.id = id, .fn = history};
    weft_err e = weft_job_get(o, id, &j, err);
    if (!e) e = weft__orch_query(o, run_by_id, &b, err);
    if (e) {
        weft_job_info_free(j);
        return weft__resp_error(r, weft__http_status(e), "%s", err);
    }
    json_t *out = job_json(j);
    json_object_set_new(out, "history", b.items);
    weft_job_info_free(j);
    weft__resp_json(r, 200, out);
}

static weft_err sub_jobs(weft__store *s, const char *id, int max, json_t **items, char *err)
{
    return weft__page_submission_jobs(s, id, max, items, err);
}

static void submission(weft_ui *ui, weft_orchestrator *o, const char *id, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    weft_submission_info *si = NULL;
    by_id b = {.id = id, .max = 2000, .fn = sub_jobs};
    weft_err e = weft_submission_get(o, id, &si, err);
    if (!e) e = weft__orch_query(o, run_by_id, &b, err);
    if (e) {
        weft_submission_info_free(si);
        return weft__resp_error(r, weft__http_status(e), "%s", err);
    }
    json_t *counts = json_object();
    for (int k = 0; k < WEFT_JOB_NSTATUS; k++)
        if (si->count[k])
            json_object_set_new(counts, weft_job_status_name((weft_job_status)k),
                                json_integer((json_int_t)si->count[k]));
    weft__resp_json(r, 200,
                    json_pack("{ss ss ss* ss sI sI sI so so}", "id", si->id, "entity_id",
                              si->entity_id, "entity_config_id", si->entity_config_id, "status",
                              weft_submission_status_name(si->status), "created_us",
                              (json_int_t)si->created_us, "finished_us", (json_int_t)si->finished_us,
                              "njobs", (json_int_t)si->njobs, "counts", counts, "jobs", b.items));
    weft_submission_info_free(si);
}

/* ---- data nodes ---- */
typedef struct dn_q {
    const char *id;
    weft__store_dn row;
    json_t *edits;
} dn_q;

static weft_err dn_read(weft__store *s, void *ud, char *err)
{
    dn_q *d = ud;
    weft_err e = weft__store_dn_get(s, d->id, &d->row, err);
    if (!e && (e = weft__page_dn_edits(s, d->id, 50, &d->edits, err)))
        weft__store_dn_release(&d->row);
    return e;
}

static void datanode(weft_ui *ui, weft_orchestrator *o, const char *id, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "", section[300];
    dn_q d = {.id = id};
    weft_err e = weft__orch_query(o, dn_read, &d, err);
    if (e) return weft__resp_error(r, weft__http_status(e), "%s", err);
    snprintf(section, sizeof section, "DATA_NODE.%s", d.row.config_id);
    const weft_value *st = weft_config_lookup(ui->cfg, section, "storage_type");
    static const char *const scopes[] = {"SCENARIO", "CYCLE", "GLOBAL"};
    json_t *out = json_pack(
        "{ss ss ss ss* ss* sI ss* so so}", "id", d.row.id, "config_id", d.row.config_id,
        "storage_type", st ? weft_value_text(st) : "pickle", "scenario_id", d.row.scenario_id,
        "path", d.row.path, "last_edit_us", (json_int_t)d.row.last_edit_us, "last_edit_job",
        d.row.last_edit_job, "edits", d.edits,
        "preview", weft__preview(ui->cfg, o, d.row.id, d.row.config_id, d.row.path));
    if (out && (unsigned)d.row.scope < 3)
        json_object_set_new(out, "scope", json_string(scopes[d.row.scope]));
    weft__store_dn_release(&d.row);
    weft__resp_json(r, 200, out);
}

/* ---- scenarios ---- */
/* A scenario's sequences ([SCENARIO.s.sequences] name = [tasks], loaded as
 * "sequences.<name>" keys) as {"name": [task ids]}. */
static json_t *configured_sequences(const weft_config *cfg, const char *section)
{
    json_t *out = json_object();
    for (size_t i = 0; i < weft_config_nkeys(cfg, section); i++) {
        const char *k = weft_config_key_at(cfg, section, i);
        if (strncmp(k, "sequences.", 10) != 0) continue;
        const weft_value *v = weft_config_lookup(cfg, section, k);
        json_t *t = json_array();
        for (size_t n = 0; v && n < weft_value_len(v); n++)
            json_array_append_new(t, json_string(weft_value_text(weft_value_at(v, n))));
        json_object_set_new(out, k + 10, t);
    }
    return out;
}

static json_t *configured_scenarios(const weft_config *cfg)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < weft_config_count(cfg, WEFT_SECTION_SCENARIO); i++) {
        const char *id = weft_config_id_at(cfg, WEFT_SECTION_SCENARIO, i);
        char section[300];
        snprintf(section, sizeof section, "SCENARIO.%s", id);
        const weft_value *tasks = weft_config_lookup(cfg, section, "tasks");
        json_t *t = json_array();
        for (size_t k = 0; tasks && k < weft_value_len(tasks); k++)
            json_array_append_new(t, json_string(weft_value_text(weft_value_at(tasks, k))));
        json_array_append_new(arr, json_pack("{ss so so}", "id", id, "tasks", t, "sequences",
                                             configured_sequences(cfg, section)));
    }
    return arr;
}

/* The newest CYCLES_SHOWN cycles, newest first, each with its scenarios
 * (weft_cycles_list() gives them all, oldest first: one per period). */
#define CYCLES_SHOWN 100
static json_t *cycles_json(weft_ui *ui)
{
    weft_orchestrator *o = weft__ui_orch(ui);
    weft_cycle_info **cy = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    if (!o || weft_cycles_list(o, &cy, &n, NULL) != WEFT_OK) return arr;
    for (size_t i = n; i > 0 && n - i < CYCLES_SHOWN; i--) {
        const weft_cycle_info *c = cy[i - 1];
        json_t *sc = json_array();
        for (size_t k = 0; k < c->nscenarios; k++)
            json_array_append_new(sc, json_pack("{ss ss ss sb}", "id", c->scenarios[k].id, "config_id",
                                                c->scenarios[k].config_id, "creation_date",
                                                c->scenarios[k].creation_date, "primary",
                                                c->scenarios[k].is_primary));
        json_array_append_new(arr, json_pack("{ss ss ss ss ss so}", "id", c->id, "name", c->name,
                                             "frequency", c->frequency, "start_date", c->start_date,
                                             "end_date", c->end_date, "scenarios", sc));
    }
    weft_cycle_list_free(cy, n);
    return arr;
}

static void scenarios(weft_ui *ui, const weft__req *rq, weft__resp *r)
{
    list_q l = {.fn = weft__page_scenarios};
    list(ui, rq, r, &l);
    if (r->status != 200) return;
    json_t *body = json_loads(r->body, 0, NULL);
    free(r->body);
    r->body = NULL;
    json_object_set_new(body, "configured", configured_scenarios(ui->cfg));
    json_object_set_new(body, "cycles", cycles_json(ui));
    weft__resp_json(r, 200, body);
}

/* POST /api/scenarios/ID/submit[?sequence=NAME]: a new instance of
 * scenario ID, submitted whole or only its sequence NAME. */
static void submit(weft_ui *ui, const weft__req *rq, const char *config_id, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "", section[300], key[300], *scen = NULL, *sub = NULL;
    const char *seq = weft__query_get(rq->query, "sequence");
    snprintf(section, sizeof section, "SCENARIO.%s", config_id);
    snprintf(key, sizeof key, "sequences.%s", seq ? seq : "");
    if (!weft_config_has_section(ui->cfg, section))
        return weft__resp_error(r, 404, "no scenario %s in the configuration", config_id);
    if (seq && !weft_config_lookup(ui->cfg, section, key))
        return weft__resp_error(r, 404, "scenario %s has no sequence '%s'", config_id, seq);
    if (!ui->exe) return weft__resp_error(r, 501, "submitting is not enabled on this server");
    weft_err e = weft__run_spawn(ui, config_id, seq, &scen, &sub, err);
    if (e) return weft__resp_error(r, e == WEFT_ETIMEDOUT ? 504 : 500, "%s", err);
    /* "scenario" names what was submitted: the instance, or its sequence. */
    weft__resp_json(r, 202, json_pack("{ss ss}", "scenario", scen, "submission", sub));
    free(scen);
    free(sub);
}

static void cancel(weft_orchestrator *o, const char *id, const char *prefix, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    /* /api/jobs/ID/cancel cancels a job, never a submission named there. */
    if (strncmp(id, prefix, strlen(prefix)) != 0) return weft__resp_error(r, 404, "no such %s", prefix);
    weft_err e = weft_cancel(o, id, err);
    if (e) return weft__resp_error(r, weft__http_status(e), "%s", err);
    weft__resp_json(r, 202, json_pack("{ss}", "canceling", id));
}

/* ---- overview ---- */
#define TP_BUCKETS 60
#define TP_BUCKET_US (10 * 1000000LL)

typedef struct overview_q {
    int64_t counts[WEFT_JOB_NSTATUS], tp[TP_BUCKETS], now;
    weft__page_req req;
    json_t *subs;
    int64_t next;
} overview_q;

static weft_err overview_read(weft__store *s, void *ud, char *err)
{
    overview_q *q = ud;
    weft_err e = weft__page_job_counts(s, q->counts, err);
    if (!e) e = weft__page_throughput(s, q->now, TP_BUCKET_US, q->tp, TP_BUCKETS, err);
    if (!e) e = weft__page_submissions(s, &q->req, &q->subs, &q->next, err);
    return e;
}

static void overview(weft_ui *ui, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    overview_q q = {.now = weft__now_us(), .req = {.limit = 100, .status = -1}};
    weft_orchestrator *o = weft__ui_orch(ui);
    if (o) {
        weft_err e = weft__orch_query(o, overview_read, &q, err);
        if (e) return weft__resp_error(r, weft__http_status(e), "%s", err);
        named_counts(q.subs);
    }
    json_t *counts = json_object(), *tp = json_array(), *running = json_array();
    for (int k = 0; k < WEFT_JOB_NSTATUS; k++)
        json_object_set_new(counts, weft_job_status_name((weft_job_status)k), json_integer(q.counts[k]));
    for (int k = 0; k < TP_BUCKETS; k++) json_array_append_new(tp, json_integer(q.tp[k]));
    size_t i;
    json_t *s;
    json_array_foreach(q.subs, i, s)
        if (json_integer_value(json_object_get(s, "finished_us")) == 0) json_array_append(running, s);
    json_decref(q.subs);
    weft__resp_json(r, 200,
                    json_pack("{sb so so sI sI so so}", "store", o != NULL, "jobs", counts,
                              "finished_per_bucket", tp, "bucket_us", (json_int_t)TP_BUCKET_US,
                              "now_us", (json_int_t)q.now, "running_submissions", running,
                              "cluster", weft__cluster_json(ui)));
}

static void graph(weft_ui *ui, weft_orchestrator *o, const char *id, weft__resp *r)
{
    char err[WEFT_ERRBUF_SIZE] = "";
    size_t len;
    weft_err e = weft_graph_render(ui->cfg, o, id, WEFT_GRAPH_SVG, &r->body, &len, err);
    if (e) return weft__resp_error(r, weft__http_status(e), "%s", err);
    r->status = 200;
    r->ctype = "image/svg+xml";
    r->len = len;
}

void weft__api_handle(weft_ui *ui, const weft__req *rq, weft__resp *r)
{
    const char *id = rq->route.id;
    switch (rq->route.kind) {
    case WEFT__R_OVERVIEW: return overview(ui, r);
    case WEFT__R_SUBS: return list(ui, rq, r, &(list_q){.fn = weft__page_submissions});
    case WEFT__R_JOBS: return list(ui, rq, r, &(list_q){.fn = weft__page_jobs});
    case WEFT__R_DNS: return list(ui, rq, r, &(list_q){.fn = weft__page_datanodes});
    case WEFT__R_SCENARIOS: return scenarios(ui, rq, r);
    case WEFT__R_SCENARIO_SUBMIT: return submit(ui, rq, id, r);
    case WEFT__R_SCENARIO_GRAPH: return graph(ui, NULL, id, r);
    default: break;
    }
    weft_orchestrator *o = weft__ui_orch(ui);
    if (!o) return weft__resp_error(r, 404, "no store yet: nothing was submitted");
    switch (rq->route.kind) {
    case WEFT__R_SUB: return submission(ui, o, id, r);
    case WEFT__R_SUB_GRAPH: return graph(ui, o, id, r);
    case WEFT__R_JOB: return job(ui, o, id, r);
    case WEFT__R_DN: return datanode(ui, o, id, r);
    case WEFT__R_SUB_CANCEL: return cancel(o, id, "SUBMISSION_", r);
    case WEFT__R_JOB_CANCEL: return cancel(o, id, "JOB_", r);
    default: return weft__resp_error(r, 404, "no such page");
    }
}
