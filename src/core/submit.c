/* SPDX-License-Identifier: MIT */
/*
 * submit.c - from configuration to jobs: creating scenario instances (their
 * tasks and SCENARIO-scoped data nodes, attached to their cycle (cycle.c),
 * whose CYCLE nodes they share; GLOBAL nodes are shared), turning a
 * submitted scenario, sequence or task into a submission with one job per task in
 * dependency order, deciding which job is BLOCKED (an input under another
 * unfinished job's edit lock) and which PENDING, Taipy's skip rule, and the
 * public weft_submit() / weft_submission_wait().
 *
 * Per job the work is O(inputs + outputs) map and index lookups, so a
 * submission of n jobs costs O(n) and one transaction.
 */
#include "core/orchestrator_internal.h"
#include "core/cycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- configuration read-back ---- */

static const weft_value *lookup(weft_orchestrator *o, const char *kind, const char *id,
                                const char *key)
{
    char section[512];
    if ((size_t)snprintf(section, sizeof section, "%s.%s", kind, id) >= sizeof section) return NULL;
    return weft_config_lookup(o->cfg, section, key);
}

static bool section_exists(weft_orchestrator *o, weft_section_kind kind, const char *id)
{
    char name[512];
    const char *prefix = kind == WEFT_SECTION_TASK ? "TASK" : kind == WEFT_SECTION_SCENARIO ? "SCENARIO"
                                                                                         : "DATA_NODE";
    if ((size_t)snprintf(name, sizeof name, "%s.%s", prefix, id) >= sizeof name) return false;
    return weft_config_has_section(o->cfg, name);
}

/* Element i of a list value (or the value itself when it is a scalar). */
static size_t list_len(const weft_value *v)
{
    if (!v) return 0;
    if (weft_value_type_of(v) == WEFT_VALUE_LIST) return weft_value_len(v);
    const char *t = weft_value_text(v);
    return t && *t ? 1 : 0;
}

static const char *list_text(const weft_value *v, size_t i)
{
    if (weft_value_type_of(v) == WEFT_VALUE_LIST) return weft_value_text(weft_value_at(v, i));
    return weft_value_text(v);
}

static weft_scope dn_scope(weft_orchestrator *o, const char *dn_config_id)
{
    const weft_value *v = lookup(o, "DATA_NODE", dn_config_id, "scope");
    return v ? weft_value_scope(v) : WEFT_SCOPE_SCENARIO;
}

/* ---- data node instances ---- */

void weft__dn_ref_release(weft__dn_ref *r)
{
    free(r->id);
    free(r->config_id);
    free(r->storage_type);
    free(r->path);
    memset(r, 0, sizeof *r);
}

weft_err weft__dn_ref_make(weft_orchestrator *o, const weft__store_dn *row, weft__dn_ref *ref,
                           char *err)
{
    const weft_value *st = lookup(o, "DATA_NODE", row->config_id, "storage_type");
    const char *type = st && weft_value_text(st) ? weft_value_text(st) : "pickle";
    memset(ref, 0, sizeof *ref);
    ref->id = weft__strdup(row->id);
    ref->config_id = weft__strdup(row->config_id);
    ref->storage_type = weft__strdup(type);
    ref->path = weft__strdup(row->path);
    if (!ref->id || !ref->config_id || !ref->storage_type || (row->path && !ref->path)) {
        weft__dn_ref_release(ref);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}

/* The instance of data node config `cfg_id` that scenario `scenario_id`
 * uses: its own for SCENARIO scope, its cycle's for CYCLE scope, the shared
 * one otherwise (and for a CYCLE node of a scenario without a cycle, as in
 * Taipy, where its owner is then None; `weft check` reports such a config).
 * Created when missing.  In a transaction. */
static weft_err ensure_dn(weft_orchestrator *o, const char *cfg_id, const char *scenario_id,
                          weft__store_dn *out, char *err)
{
    weft_scope scope = dn_scope(o, cfg_id);
    const char *owner = scope == WEFT_SCOPE_SCENARIO ? scenario_id : NULL;
    char *cycle = NULL;
    weft_err e = WEFT_OK;
    if (scope == WEFT_SCOPE_CYCLE && scenario_id &&
        (e = weft__store_scenario_cycle(o->store, scenario_id, &cycle, NULL, err)))
        return e;
    e = weft__store_dn_find_owned(o->store, cfg_id, owner, cycle, out, err);
    if (e != WEFT_ENOTFOUND) {
        free(cycle);
        return e;
    }
    memset(out, 0, sizeof *out);
    out->scope = scope;
    out->cycle_id = cycle;
    if ((e = weft__make_id("DATANODE", cfg_id, &out->id, err))) goto fail;
    if (!(out->config_id = strdup(cfg_id)) || (owner && !(out->scenario_id = strdup(owner)))) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((e = weft__dn_instance_path(o->app, cfg_id, out->id, o->storage, &out->path, err)))
        goto fail;
    if ((e = weft__store_dn_insert(o->store, out, weft__now_us(), err))) goto fail;
    return WEFT_OK;
fail:
    weft__store_dn_release(out);
    return e;
}

/* ---- scenarios ---- */

weft_err weft_scenario_create(weft_orchestrator *o, const char *config_id, char **scenario_id,
                              char *err)
{
    return weft_scenario_create_with(o, config_id, NULL, scenario_id, err);
}

weft_err weft_scenario_create_with(weft_orchestrator *o, const char *config_id,
                                   const weft_scenario_opts *opts, char **scenario_id, char *err)
{
    if (!o || !config_id || !scenario_id)
        return weft__err(err, WEFT_EINVAL, "weft_scenario_create_with: NULL argument");
    *scenario_id = NULL;
    if (o->read_only)
        return weft__err(err, WEFT_EMODE, "this orchestrator is read-only (opened for queries)");
    if (!section_exists(o, WEFT_SECTION_SCENARIO, config_id))
        return weft__err(err, WEFT_ENOTFOUND, "no scenario config %s", config_id);
    weft__date date;
    weft_err e = WEFT_OK;
    if (opts && opts->creation_date)
        e = weft__date_parse(opts->creation_date, &date, err);
    else
        weft__date_now(&date);
    if (e) return e;
    weft__orch_lock(o);
    char *sid = NULL, *cycle = NULL;
    const weft_value *tasks = lookup(o, "SCENARIO", config_id, "tasks");
    if ((e = weft__make_id("SCENARIO", config_id, &sid, err))) goto out;
    if ((e = weft__orch_begin(o, err))) goto out;
    int64_t now = weft__now_us();
    if ((e = weft__store_scenario_insert(o->store, sid, config_id, now, err))) goto fail;
    if ((e = weft__cycle_attach(o, config_id, sid, &date, &cycle, err))) goto fail;
    for (size_t i = 0; i < list_len(tasks); i++) {
        const char *tcfg = list_text(tasks, i);
        char *tid = NULL;
        if (!section_exists(o, WEFT_SECTION_TASK, tcfg)) {
            e = weft__err(err, WEFT_ECONFIG, "scenario %s: no task config %s", config_id, tcfg);
            goto fail;
        }
        if ((e = weft__make_id("TASK", tcfg, &tid, err))) goto fail;
        e = weft__store_task_insert(o->store, tid, tcfg, sid, now, err);
        free(tid);
        if (e) goto fail;
        static const char *const keys[] = {"inputs", "outputs"};
        for (int k = 0; k < 2; k++) {
            const weft_value *dns = lookup(o, "TASK", tcfg, keys[k]);
            for (size_t d = 0; d < list_len(dns); d++) {
                weft__store_dn row;
                if ((e = ensure_dn(o, list_text(dns, d), sid, &row, err))) goto fail;
                weft__store_dn_release(&row);
            }
        }
    }
    if ((e = weft__orch_commit(o, err))) goto out;
    *scenario_id = sid;
    sid = NULL;
    goto out;
fail:
    weft__orch_abort(o, false);
out:
    free(sid);
    free(cycle);
    weft__orch_unlock(o);
    return e;
}

/* ---- submissions ---- */

/* The task graph of a submission while it is ordered: tasks 0..n-1, and
 * for each the tasks that read one of its outputs (adj), with the number
 * of tasks each one waits for (indeg). */
typedef struct task_graph {
    size_t n;
    size_t *indeg;
    size_t **adj, *nadj, *capadj;
} task_graph;

static void task_graph_release(task_graph *g)
{
    for (size_t i = 0; g->adj && i < g->n; i++) free(g->adj[i]);
    free(g->adj);
    free(g->nadj);
    free(g->capadj);
    free(g->indeg);
}

/* The tasks that write a data node config. */
typedef struct producers {
    const char *key; /* the data node config id (borrowed from the config) */
    size_t *v;
    size_t len, cap;
} producers;

/* Adds the edges u -> i for every producer u of an input of task i.
 * O(tasks + data node references). */
static weft_err add_edges(weft_orchestrator *o, char **cfgs, task_graph *g,
                          const weft__strmap *prod)
{
    for (size_t i = 0; i < g->n; i++) {
        const weft_value *ins = lookup(o, "TASK", cfgs[i], "inputs");
        for (size_t k = 0; k < list_len(ins); k++) {
            producers *p = weft__strmap_get(prod, list_text(ins, k));
            for (size_t m = 0; p && m < p->len; m++) {
                size_t u = p->v[m];
                if (u == i) continue;
                if (WEFT__GROW(g->adj[u], g->nadj[u] + 1, g->capadj[u])) return WEFT_ENOMEM;
                g->adj[u][g->nadj[u]++] = i;
                g->indeg[i]++;
            }
        }
    }
    return WEFT_OK;
}

/* Builds the graph of tasks `cfgs`: which tasks write each data node
 * config, then the edges from producers to the readers of their outputs. */
static weft_err task_graph_build(weft_orchestrator *o, char **cfgs, size_t n, task_graph *g)
{
    size_t ntotal = 0, npl = 0;
    for (size_t i = 0; i < n; i++) ntotal += list_len(lookup(o, "TASK", cfgs[i], "outputs"));
    producers *pl = calloc(ntotal + 1, sizeof *pl);
    weft__strmap prod = WEFT__STRMAP_INIT;
    weft_err e = pl ? WEFT_OK : WEFT_ENOMEM;
    for (size_t i = 0; i < n && !e; i++) {
        const weft_value *outs = lookup(o, "TASK", cfgs[i], "outputs");
        for (size_t k = 0; k < list_len(outs) && !e; k++) {
            const char *dn = list_text(outs, k);
            producers *p = weft__strmap_get(&prod, dn);
            if (!p) {
                p = &pl[npl++];
                p->key = dn;
                if ((e = weft__strmap_put(&prod, dn, p))) break;
            }
            if (!(e = WEFT__GROW(p->v, p->len + 1, p->cap))) p->v[p->len++] = i;
        }
    }
    if (!e) e = add_edges(o, cfgs, g, &prod);
    for (size_t i = 0; i < npl; i++) free(pl[i].v);
    free(pl);
    weft__strmap_release(&prod);
    return e;
}

/* Orders tasks so that every task comes after the tasks that write its
 * inputs (Kahn's algorithm, stable: ties keep the scenario's order).
 * O(tasks + data node references).  *order gets n indices. */
static weft_err topo_order(weft_orchestrator *o, char **cfgs, size_t n, size_t **order,
                           const char *entity, char *err)
{
    task_graph g = {.n = n};
    size_t *ord = calloc(n + 1, sizeof *ord);
    g.indeg = calloc(n + 1, sizeof *g.indeg);
    g.adj = calloc(n + 1, sizeof *g.adj);
    g.nadj = calloc(n + 1, sizeof *g.nadj);
    g.capadj = calloc(n + 1, sizeof *g.capadj);
    weft_err e = WEFT_ENOMEM;
    if (!ord || !g.indeg || !g.adj || !g.nadj || !g.capadj || task_graph_build(o, cfgs, n, &g)) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto out;
    }
    /* Stable Kahn: a min-scan would be O(n^2); a FIFO seeded in order keeps
     * independent tasks in the scenario's order, which is what users see. */
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (!g.indeg[i]) ord[tail++] = i;
    while (head < tail) {
        size_t u = ord[head++];
        for (size_t k = 0; k < g.nadj[u]; k++)
            if (--g.indeg[g.adj[u][k]] == 0) ord[tail++] = g.adj[u][k];
    }
    if (tail != n) {
        e = weft__err(err, WEFT_ECONFIG, "%s: its tasks' data nodes form a cycle", entity);
        goto out;
    }
    *order = ord;
    ord = NULL;
    e = WEFT_OK;
out:
    task_graph_release(&g);
    free(ord);
    return e;
}

static weft_err job_fill(weft_orchestrator *o, weft__sub *s, weft__job *j, const char *tcfg,
                         const char *scenario_id, char *err);

/* Fills a new job's spec and flags from its task config. */
static weft_err job_prepare(weft_orchestrator *o, weft__sub *s, weft__job *j, const char *task_id,
                            const char *tcfg, const char *scenario_id, char *err)
{
    weft__job_spec *sp = &j->spec;
    weft_err e;
    if ((e = weft__make_id("JOB", tcfg, &sp->job_id, err))) return e;
    if (!(sp->task_id = strdup(task_id)) || !(sp->task_config_id = strdup(tcfg)))
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    sp->attempt = 1;
    return job_fill(o, s, j, tcfg, scenario_id, err);
}

/* The part of a job's spec and flags that comes from its task config: the
 * timeout, skippable, and its data node instances (created when missing). */
static weft_err job_fill(weft_orchestrator *o, weft__sub *s, weft__job *j, const char *tcfg,
                         const char *scenario_id, char *err)
{
    weft__job_spec *sp = &j->spec;
    weft_err e;
    const weft_value *to = lookup(o, "TASK", tcfg, "timeout");
    sp->timeout_ms = to ? weft_value_timedelta_ms(to) : 0;
    const weft_value *sk = lookup(o, "TASK", tcfg, "skippable");
    j->skippable = sk && weft_value_bool(sk);
    j->sub = s;
    j->status = WEFT_JOB_SUBMITTED;
    j->status_us = weft__now_us();
    static const char *const keys[] = {"inputs", "outputs"};
    for (int k = 0; k < 2; k++) {
        const weft_value *dns = lookup(o, "TASK", tcfg, keys[k]);
        size_t n = list_len(dns);
        weft__dn_ref *refs = n ? calloc(n, sizeof *refs) : NULL;
        if (n && !refs) return weft__err(err, WEFT_ENOMEM, "out of memory");
        if (k == 0) {
            sp->inputs = refs;
            sp->ninputs = n;
        } else {
            sp->outputs = refs;
            sp->noutputs = n;
        }
        for (size_t d = 0; d < n; d++) {
            weft__store_dn row;
            if ((e = ensure_dn(o, list_text(dns, d), scenario_id, &row, err))) return e;
            e = weft__dn_ref_make(o, &row, &refs[d], err);
            weft__store_dn_release(&row);
            if (e) return e;
        }
    }
    return WEFT_OK;
}

static weft_err add_down(weft__job *up, size_t idx)
{
    if (up->ndown && up->down[up->ndown - 1] == idx) return WEFT_OK; /* two inputs, one producer */
    if (WEFT__GROW(up->down, up->ndown + 1, up->capdown)) return WEFT_ENOMEM;
    up->down[up->ndown++] = idx;
    return WEFT_OK;
}

static weft__dnlock *dnlock_get(weft_orchestrator *o, const char *id, bool create)
{
    weft__dnlock *lk = weft__strmap_get(&o->dnlocks, id);
    if (lk || !create) return lk;
    if (!(lk = calloc(1, sizeof *lk)) || !(lk->id = strdup(id))) {
        free(lk);
        return NULL;
    }
    if (weft__strmap_put(&o->dnlocks, lk->id, lk)) {
        free(lk->id);
        free(lk);
        return NULL;
    }
    return lk;
}

/* The graph part of creating a submission: edges to the producers in this
 * submission, waits on locked inputs, locks on outputs, first statuses. */

/* Makes job j of s wait for the edit lock `lk` (a data node an unfinished
 * job will write): j counts it in nwait until the lock is released. */
static weft_err dnlock_wait(weft__dnlock *lk, weft__sub *s, weft__job *j, char *err)
{
    if (WEFT__GROW(lk->waiters, lk->nwaiters + 1, lk->capwaiters))
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", j->spec.job_id);
    lk->waiters[lk->nwaiters++] = (struct weft__waiter){s, j->index};
    s->refs++;
    j->nwait++;
    return WEFT_OK;
}

static weft_err job_link(weft_orchestrator *o, weft__sub *s, weft__job *j, weft__strmap *producer,
                         char *err)
{
    weft__job_spec *sp = &j->spec;
    weft_err e;
    for (size_t i = 0; i < sp->ninputs; i++) {
        weft__job *up = weft__strmap_get(producer, sp->inputs[i].id);
        if (up && up != j) {
            if (add_down(up, j->index))
                return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
            if ((e = weft__store_job_dep(o->store, j->seq, up->seq, err))) return e;
        }
        weft__dnlock *lk = dnlock_get(o, sp->inputs[i].id, false);
        if (lk && lk->locks) {
            /* Edit lock: an unfinished job (here or in another live
             * submission) will write it; wait for its end. */
            if ((e = dnlock_wait(lk, s, j, err))) return e;
        }
    }
    for (size_t i = 0; i < sp->noutputs; i++) {
        weft__dnlock *lk = dnlock_get(o, sp->outputs[i].id, true);
        if (!lk) return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
        lk->locks++;
        if (weft__strmap_put(producer, sp->outputs[i].id, j))
            return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
    }
    if (j->nwait) return weft__orch_set_status(o, j, WEFT_JOB_BLOCKED, NULL, err);
    if ((e = weft__orch_set_status(o, j, WEFT_JOB_PENDING, NULL, err))) return e;
    if (weft__ready_push(o, s, j->index))
        return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
    return WEFT_OK;
}

/* What was submitted: a scenario instance (its tasks) or one task instance.
 * Fills the entity's config id, its scenario (NULL for a task outside any),
 * and the n tasks' ids and config ids, every task checked against the
 * config.  The caller frees all of it, also on failure. */
typedef struct submitted {
    char *entity_cfg, *scenario;
    char **tids, **tcfgs;
    size_t n;
} submitted;

static void submitted_release(submitted *w)
{
    weft_strv_free(w->tids, w->n);
    weft_strv_free(w->tcfgs, w->n);
    free(w->scenario);
    free(w->entity_cfg);
}

/* Keeps the tasks of w (its scenario's) whose config ids `seq` lists, in
 * the scenario's order; one listed but absent is an error (the scenario
 * instance predates a config that added it).  O(n * m) for n tasks and a
 * sequence of m: sequences are short lists written by hand. */
static weft_err keep_sequence_tasks(submitted *w, const weft_value *seq, const char *name,
                                    char *err)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n; i++) {
        bool in = false;
        for (size_t k = 0; k < list_len(seq) && !in; k++) in = strcmp(list_text(seq, k), w->tcfgs[i]) == 0;
        if (!in) {
            free(w->tids[i]);
            free(w->tcfgs[i]);
            continue;
        }
        w->tids[kept] = w->tids[i];
        w->tcfgs[kept++] = w->tcfgs[i];
    }
    w->n = kept;
    if (kept == list_len(seq)) return WEFT_OK;
    for (size_t k = 0; k < list_len(seq); k++) {
        bool found = false;
        for (size_t i = 0; i < kept && !found; i++) found = strcmp(list_text(seq, k), w->tcfgs[i]) == 0;
        if (!found)
            return weft__err(err, WEFT_ECONFIG, "sequence %s of scenario %s: task %s is not one of "
                             "the scenario instance's tasks", name, w->scenario, list_text(seq, k));
    }
    return WEFT_OK;
}

/* A sequence: the task instances of its scenario instance that the
 * sequence's config lists (SCENARIO.<cfg> sequences.<name>). */
static weft_err sequence_tasks(weft_orchestrator *o, const char *entity_id, submitted *w,
                               char *err)
{
    char *scfg = NULL, key[512];
    weft_err e = weft__sequence_parse(entity_id, &w->scenario, &w->entity_cfg, err);
    if (!e && (e = weft__store_scenario_get(o->store, w->scenario, &scfg, err)) == WEFT_ENOTFOUND)
        e = weft__err(err, WEFT_ENOTFOUND, "no sequence %s: no scenario %s", entity_id, w->scenario);
    if (e) goto out;
    snprintf(key, sizeof key, "sequences.%s", w->entity_cfg);
    const weft_value *seq = lookup(o, "SCENARIO", scfg, key);
    if (!seq) {
        e = weft__err(err, WEFT_ENOTFOUND, "no sequence %s: scenario %s has no sequence '%s'",
                      entity_id, scfg, w->entity_cfg);
        goto out;
    }
    if (!(e = weft__store_scenario_tasks(o->store, w->scenario, &w->tids, &w->tcfgs, &w->n, err)))
        e = keep_sequence_tasks(w, seq, w->entity_cfg, err);
out:
    free(scfg);
    return e;
}

static weft_err submitted_tasks(weft_orchestrator *o, const char *entity_id, submitted *w,
                                char *err)
{
    weft_err e;
    if (strncmp(entity_id, "SEQUENCE_", 9) == 0) {
        e = sequence_tasks(o, entity_id, w, err);
    } else if ((e = weft__store_scenario_get(o->store, entity_id, &w->entity_cfg, err)) == WEFT_OK) {
        if (!(w->scenario = strdup(entity_id))) return weft__err(err, WEFT_ENOMEM, "out of memory");
        e = weft__store_scenario_tasks(o->store, entity_id, &w->tids, &w->tcfgs, &w->n, err);
    } else if (e == WEFT_ENOTFOUND) {
        e = weft__store_task_get(o->store, entity_id, &w->entity_cfg, &w->scenario, err);
        if (e == WEFT_ENOTFOUND)
            return weft__err(err, WEFT_ENOTFOUND, "no scenario, sequence or task %s", entity_id);
        if (e) return e;
        if (!(w->tids = calloc(1, sizeof *w->tids)) || !(w->tcfgs = calloc(1, sizeof *w->tcfgs)))
            return weft__err(err, WEFT_ENOMEM, "out of memory");
        w->n = 1;
        if (!(w->tids[0] = strdup(entity_id)) || !(w->tcfgs[0] = strdup(w->entity_cfg)))
            return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !e && i < w->n; i++)
        if (!section_exists(o, WEFT_SECTION_TASK, w->tcfgs[i]))
            e = weft__err(err, WEFT_ECONFIG, "%s: task %s has no TASK.%s section in the config",
                          entity_id, w->tids[i], w->tcfgs[i]);
    return e;
}

/* A new submission of n jobs, SUBMITTED, not yet stored. */
static weft_err sub_new(const char *entity_id, const char *entity_cfg, size_t n, bool force,
                        volatile sig_atomic_t *interrupt, weft__sub **out, char *err)
{
    weft__sub *s = calloc(1, sizeof *s);
    if (!s || !(s->jobs = calloc(n + 1, sizeof *s->jobs))) {
        free(s);
        return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    s->refs = 2; /* the live list's and the caller's */
    s->njobs = n;
    s->force = force;
    s->interrupt = interrupt;
    s->status = WEFT_SUBMISSION_SUBMITTED;
    s->count[WEFT_JOB_SUBMITTED] = n;
    weft_err e = WEFT_OK;
    if (!(s->entity_id = strdup(entity_id)) || !(s->entity_config_id = strdup(entity_cfg)))
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    else
        e = weft__make_id("SUBMISSION", NULL, &s->id, err);
    if (e) {
        weft__sub_free(s);
        return e;
    }
    *out = s;
    return WEFT_OK;
}

/* Prepares the jobs of s in dependency order and stores the submission and
 * its jobs, each job also in o->jobs.  In a transaction. */
static weft_err sub_store(weft_orchestrator *o, weft__sub *s, const submitted *w,
                          const size_t *order, int64_t now, char *err)
{
    weft_err e;
    for (size_t k = 0; k < s->njobs; k++) {
        weft__job *j = &s->jobs[k];
        j->index = k;
        size_t t = order[k];
        if ((e = job_prepare(o, s, j, w->tids[t], w->tcfgs[t], w->scenario, err))) return e;
    }
    if ((e = weft__store_submission_insert(o->store, s->id, s->entity_id, w->entity_cfg,
                                           WEFT_SUBMISSION_SUBMITTED, now, &s->seq, err)))
        return e;
    for (size_t k = 0; k < s->njobs; k++) {
        weft__job *j = &s->jobs[k];
        weft__store_job row = {
            .id = j->spec.job_id, .task_id = j->spec.task_id,
            .task_config_id = j->spec.task_config_id, .submission_id = s->id,
            .entity_id = s->entity_id, .attempt = 1, .submitted_us = now,
        };
        if ((e = weft__store_job_insert(o->store, &row, &j->seq, err))) return e;
        if (weft__strmap_put(&o->jobs, j->spec.job_id, j))
            return weft__err(err, WEFT_ENOMEM, "out of memory");
    }
    return WEFT_OK;
}

weft_err weft__submission_create(weft_orchestrator *o, const char *entity_id, bool force,
                                 volatile sig_atomic_t *interrupt, weft__sub **out, char *err)
{
    submitted w = {0};
    size_t *order = NULL;
    weft__sub *s = NULL;
    weft__strmap producer = WEFT__STRMAP_INIT;
    bool linked = false;
    *out = NULL;

    weft_err e = submitted_tasks(o, entity_id, &w, err);
    if (!e) e = topo_order(o, w.tcfgs, w.n, &order, entity_id, err);
    if (!e) e = sub_new(entity_id, w.entity_cfg, w.n, force, interrupt, &s, err);
    if (e || (e = weft__orch_begin(o, err))) goto out;
    int64_t now = weft__now_us();
    if ((e = sub_store(o, s, &w, order, now, err))) goto fail;
    if (weft__sub_link(o, s)) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    linked = true;
    /* Subscribers hear of the submission, then of each job's SUBMITTED. */
    if (weft__orch_queue_created(o, s, now)) {
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < w.n; k++)
        if ((e = job_link(o, s, &s->jobs[k], &producer, err))) goto fail;
    if (w.n == 0 && (e = weft__orch_finish_empty(o, s, err))) goto fail; /* nothing to run */
    *out = s;
    s = NULL;
    goto out;
fail:
    /* Nothing of it was committed, nor is told.  Once linked, locks and
     * waiters may point at it: it stays in the live list (freed at close)
     * and the handle refuses more work. */
    weft__orch_abort(o, linked);
    if (linked) {
        weft__sub_unref(o, s); /* the caller's reference */
        s = NULL;
    } else {
        for (size_t k = 0; k < s->njobs; k++)
            if (s->jobs[k].spec.job_id) weft__strmap_del(&o->jobs, s->jobs[k].spec.job_id);
    }
out:
    weft__strmap_release(&producer);
    weft__sub_free(s);
    submitted_release(&w);
    free(order);
    return e;
}

/* ---- resuming (cluster mode) ---- */

/* Links a resumed job into the graph, as job_link() does for a new one,
 * from the status the store has: edges to its producers in the submission
 * (deps are stored already), edit locks for the outputs of an unfinished
 * job, waits for a job not yet past BLOCKED.  A BLOCKED job no longer
 * blocked becomes PENDING; a PENDING one is queued to be dispatched again. */
static weft_err resume_link(weft_orchestrator *o, weft__sub *s, weft__job *j,
                            weft__strmap *producer, char *err)
{
    weft__job_spec *sp = &j->spec;
    bool unfinished = !weft_job_status_is_final(j->status);
    bool waiting = j->status == WEFT_JOB_SUBMITTED || j->status == WEFT_JOB_BLOCKED;
    for (size_t i = 0; i < sp->ninputs; i++) {
        weft__job *up = weft__strmap_get(producer, sp->inputs[i].id);
        if (up && up != j && add_down(up, j->index))
            return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
        weft__dnlock *lk = waiting ? dnlock_get(o, sp->inputs[i].id, false) : NULL;
        weft_err e = lk && lk->locks ? dnlock_wait(lk, s, j, err) : WEFT_OK;
        if (e) return e;
    }
    for (size_t i = 0; i < sp->noutputs; i++) {
        if (unfinished) {
            weft__dnlock *lk = dnlock_get(o, sp->outputs[i].id, true);
            if (!lk) return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
            lk->locks++;
        }
        if (weft__strmap_put(producer, sp->outputs[i].id, j))
            return weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
    }
    weft_err e = WEFT_OK;
    if (waiting && j->nwait) {
        if (j->status != WEFT_JOB_BLOCKED) e = weft__orch_set_status(o, j, WEFT_JOB_BLOCKED, NULL, err);
        return e;
    }
    if (waiting) e = weft__orch_set_status(o, j, WEFT_JOB_PENDING, NULL, err);
    if (!e && j->status == WEFT_JOB_PENDING && weft__ready_push(o, s, j->index))
        e = weft__err(err, WEFT_ENOMEM, "job %s: out of memory", sp->job_id);
    return e;
}

weft_err weft__submission_load(weft_orchestrator *o, const char *submission_id, char *err)
{
    weft__store_sub_job *rows = NULL;
    size_t n = 0;
    int64_t sseq = 0;
    weft_submission_info *si = NULL;
    weft__sub *s = NULL;
    weft__strmap producer = WEFT__STRMAP_INIT;
    char *tcfg = NULL, *scenario = NULL;
    weft_err e = weft__store_submission_jobs(o->store, submission_id, &sseq, &rows, &n, err);
    if (!e) e = weft__store_submission_get(o->store, submission_id, &si, err);
    if (e) goto out;
    for (size_t k = 0; k < n; k++)
        if (!section_exists(o, WEFT_SECTION_TASK, rows[k].task_config_id)) {
            e = weft__err(err, WEFT_ECONFIG, "job %s: its task config %s is no longer in the "
                          "configuration", rows[k].id, rows[k].task_config_id);
            goto out;
        }
    if (!(s = calloc(1, sizeof *s)) || !(s->jobs = calloc(n + 1, sizeof *s->jobs)) ||
        !(s->id = strdup(submission_id)) || !(s->entity_id = strdup(si->entity_id)) ||
        (si->entity_config_id && !(s->entity_config_id = strdup(si->entity_config_id))))
        goto oom;
    s->refs = 1; /* the live list's */
    s->njobs = n;
    s->seq = sseq;
    s->status = si->status;
    for (size_t k = 0; k < n; k++) {
        weft__job *j = &s->jobs[k];
        weft__store_sub_job *r = &rows[k];
        j->index = k;
        j->seq = r->seq;
        j->spec.job_id = r->id;
        j->spec.task_id = r->task_id;
        j->spec.task_config_id = r->task_config_id;
        r->id = r->task_id = r->task_config_id = NULL;
        j->spec.attempt = r->attempt > 0 ? r->attempt : 1;
        /* The job's data node instances are its task's scenario's. */
        if ((e = weft__store_task_get(o->store, j->spec.task_id, &tcfg, &scenario, err))) goto out;
        e = job_fill(o, s, j, j->spec.task_config_id, scenario, err);
        free(tcfg);
        free(scenario);
        tcfg = scenario = NULL;
        if (e) goto out;
        j->status = r->status;
        s->count[j->status]++;
        if (weft_job_status_is_final(j->status)) s->nfinal++;
    }
    for (size_t k = 0; k < n; k++)
        if (weft__strmap_put(&o->jobs, s->jobs[k].spec.job_id, &s->jobs[k])) goto oom_linked;
    if (weft__sub_link(o, s)) goto oom_linked;
    for (size_t k = 0; k < n && !e; k++) e = resume_link(o, s, &s->jobs[k], &producer, err);
    s = NULL; /* the live list has it; on an error the caller's handle is broken */
    goto out;
oom_linked:
    for (size_t k = 0; k < n; k++)
        if (weft__strmap_get(&o->jobs, s->jobs[k].spec.job_id) == &s->jobs[k])
            weft__strmap_del(&o->jobs, s->jobs[k].spec.job_id);
oom:
    e = weft__err(err, WEFT_ENOMEM, "out of memory");
out:
    weft__strmap_release(&producer);
    weft__sub_free(s);
    weft__store_sub_jobs_free(rows, n);
    weft_submission_info_free(si);
    return e;
}

/* ---- skipping (Taipy's _needs_to_run, inverted) ---- */

/* A node's last edit as Taipy sees it: the recorded one, or the file's
 * modification time when the file was changed later by someone else (a new
 * input file dropped in place).  One stat() per file-based node. */
static int64_t effective_edit(const weft__store_dn *row)
{
    int64_t edit = row->last_edit_us;
    struct stat st;
    if (row->path && stat(row->path, &st) == 0) {
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
        if (mtime > edit) edit = mtime;
    }
    return edit;
}

weft_err weft__should_skip(weft_orchestrator *o, const weft__job *j, bool *skip, char *err)
{
    *skip = false;
    if (!j->skippable || j->spec.noutputs == 0) return WEFT_OK;
    int64_t now = weft__now_us(), oldest_out = INT64_MAX, newest_in = 0;
    weft__store_dn row;
    weft_err e;
    for (size_t i = 0; i < j->spec.noutputs; i++) {
        if ((e = weft__store_dn_get(o->store, j->spec.outputs[i].id, &row, err))) return e;
        int64_t edit = effective_edit(&row);
        const weft_value *vp = lookup(o, "DATA_NODE", row.config_id, "validity_period");
        int64_t valid_ms = vp ? weft_value_timedelta_ms(vp) : 0;
        weft__store_dn_release(&row);
        if (!edit) return WEFT_OK;                                   /* never written */
        if (valid_ms > 0 && now > edit + valid_ms * 1000) return WEFT_OK; /* expired */
        if (edit < oldest_out) oldest_out = edit;
    }
    for (size_t i = 0; i < j->spec.ninputs; i++) {
        if ((e = weft__store_dn_get(o->store, j->spec.inputs[i].id, &row, err))) return e;
        int64_t edit = effective_edit(&row);
        if (edit > newest_in) newest_in = edit;
        weft__store_dn_release(&row);
    }
    *skip = newest_in <= oldest_out;
    return WEFT_OK;
}

/* ---- public entry points ---- */

weft_err weft_submit(weft_orchestrator *o, const char *entity_id, const weft_submit_opts *opts,
                     char **submission_id, char *err)
{
    if (submission_id) *submission_id = NULL;
    if (!o || !entity_id) return weft__err(err, WEFT_EINVAL, "weft_submit: NULL argument");
    weft_submit_opts none = {0};
    if (!opts) opts = &none;
    bool dev = o->mode == WEFT_MODE_DEVELOPMENT;
    /* Development runs are serialized: one caller's thread runs at a time. */
    if (dev) pthread_mutex_lock(&o->run_mu);
    weft__orch_lock(o);
    weft__sub *s = NULL;
    weft_err e = weft__orch_ensure_started(o, err);
    if (!e) e = weft__submission_create(o, entity_id, opts->force, opts->interrupt, &s, err);
    /* Its first jobs' hand-over goes in the same commit: one fsync less
     * between a submit and the start of its first job. */
    if (!e && (e = weft__orch_dispatch_ready(o, err))) weft__orch_abort(o, true);
    if (!e) e = weft__orch_commit(o, err);
    if (!e && submission_id && !(*submission_id = strdup(s->id)))
        e = weft__err(err, WEFT_ENOMEM, "out of memory");
    bool wait_here = false;
    if (!e && dev) {
        /* Development: jobs run here; the submission's timeout does not
         * apply (a job in this thread cannot be left behind). */
        e = weft__orch_run(o, s, err);
    } else if (!e) {
        /* The dispatcher thread takes it from here. */
        weft__reports_wake(&o->reports);
        wait_here = opts->wait;
    }
    weft__orch_unlock(o);
    if (dev) pthread_mutex_unlock(&o->run_mu);
    if (wait_here) e = weft_submission_wait(o, s->id, opts->timeout_ms, err);
    weft__orch_lock(o);
    if (!e && (dev || wait_here) && (s->interrupted || (s->interrupt && *s->interrupt)))
        e = weft__err(err, WEFT_ECANCELED, "submission %s was interrupted", s->id);
    if (s) weft__sub_unref(o, s);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_submission_wait(weft_orchestrator *o, const char *submission_id, int64_t timeout_ms,
                              char *err)
{
    if (!o || !submission_id) return weft__err(err, WEFT_EINVAL, "weft_submission_wait: NULL argument");
    int64_t deadline = timeout_ms > 0 ? weft__mono_ns() + timeout_ms * 1000000 : 0;
    weft_err e = WEFT_OK;
    weft__orch_lock(o);
    for (;;) {
        if (o->broken && (o->dispatcher_done || !o->has_dispatcher)) {
            e = weft__err(err, WEFT_ESTORE, "the orchestrator stopped after a store error: %s",
                          o->dispatcher_err[0] ? o->dispatcher_err : "see earlier errors");
            break;
        }
        weft__sub *s = weft__strmap_get(&o->subs, submission_id);
        if (s && s->interrupt && *s->interrupt && !s->interrupt_seen) {
            /* This thread owns the flag's signal handler; the dispatcher
             * learns of it here, under the lock. */
            s->interrupt_seen = true;
            weft__reports_wake(&o->reports);
        }
        if (!s) {
            weft_submission_info *si = NULL;
            if ((e = weft__store_submission_get(o->store, submission_id, &si, err))) break;
            bool fin = si->finished_us != 0;
            weft_submission_info_free(si);
            if (fin) break;
            /* Unfinished and not ours: another process runs it; poll. */
        } else if (!o->looping && o->ex && o->ex->ops->step) {
            s->refs++;
            e = weft__orch_run(o, s, err);
            weft__sub_unref(o, s);
            break;
        }
        int64_t now = weft__mono_ns();
        if (deadline && now >= deadline) {
            e = weft__err(err, WEFT_ETIMEDOUT, "submission %s did not finish within %lld ms",
                          submission_id, (long long)timeout_ms);
            break;
        }
        int64_t wait_ns = 50 * 1000000LL;
        if (deadline && deadline - now < wait_ns) wait_ns = deadline - now;
        struct timespec ts = weft__mono_deadline(wait_ns);
        if (s) {
            /* The wait releases mu, held once here (the caller holds none). */
            o->mu_depth--;
            pthread_cond_timedwait(&o->changed, &o->mu, &ts);
            o->mu_depth++;
        } else {
            weft__orch_unlock(o);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            weft__orch_lock(o);
        }
    }
    weft__orch_unlock(o);
    return e;
}
