/* SPDX-License-Identifier: MIT */
/*
 * data_write.c - data nodes edited from outside a task (Taipy's
 * DataNode.write/append with an editor_id, and its edit history):
 * weft_data_write() checks Taipy's edit lock (an unfinished job that is to
 * write the node), writes through job/dn_put.c and records the edit;
 * weft_data_info_get() reads a node's last edit, lock and history.
 *
 * The lock is read from the store, not from this handle's memory, so a
 * write from another process (`weft data write` while `weft run` runs) sees
 * the jobs of the running orchestrator.  The check, the write and the edit
 * record happen inside one BEGIN IMMEDIATE transaction: no submission can
 * be stored between the check and the write.  The file is replaced before
 * the commit; a commit that then fails leaves the new content unrecorded
 * (the skip rule still sees it through the file's modification time).
 */
#include "core/orchestrator_internal.h"

#include <stdlib.h>
#include <string.h>

#define EDITOR_MAX 128

/* Whether task config `tcfg` lists `dn_cfg` among its outputs. */
static bool task_outputs(weft_orchestrator *o, const char *tcfg, const char *dn_cfg)
{
    char section[512];
    if (!tcfg || (size_t)snprintf(section, sizeof section, "TASK.%s", tcfg) >= sizeof section) return false;
    const weft_value *v = weft_config_lookup(o->cfg, section, "outputs");
    if (!v) return false;
    if (weft_value_type_of(v) != WEFT_VALUE_LIST) {
        const char *t = weft_value_text(v);
        return t && strcmp(t, dn_cfg) == 0;
    }
    for (size_t i = 0; i < weft_value_len(v); i++) {
        const char *t = weft_value_text(weft_value_at(v, i));
        if (t && strcmp(t, dn_cfg) == 0) return true;
    }
    return false;
}

/* Whether the job of `scenario_id` belongs to the cycle `cycle_id`. */
static weft_err in_cycle(weft_orchestrator *o, const char *scenario_id, const char *cycle_id, bool *yes,
                         char *err)
{
    char *c = NULL;
    *yes = false;
    if (!scenario_id) return WEFT_OK;
    weft_err e = weft__store_scenario_cycle(o->store, scenario_id, &c, NULL, err);
    if (e == WEFT_ENOTFOUND) return WEFT_OK; /* deleted meanwhile: not a writer */
    *yes = !e && c && strcmp(c, cycle_id) == 0;
    free(c);
    return e;
}

/* The first unfinished job that is to write the node `row` (its config,
 * its owning scenario or cycle); *job NULL when none, else the caller's to
 * free.  A SCENARIO node is written by its scenario's tasks, a CYCLE node
 * by the tasks of its cycle's scenarios, a GLOBAL one by any task that
 * outputs its config.  O(unfinished jobs). */
static weft_err find_lock(weft_orchestrator *o, const weft__store_dn *row, char **job, int *status,
                          char *err)
{
    *job = NULL;
    weft__store_open_job *v;
    size_t n;
    weft_err e = weft__store_open_jobs(o->store, &v, &n, err);
    if (e) return e;
    for (size_t i = 0; i < n && !*job && !e; i++) {
        if (row->scenario_id && (!v[i].scenario_id || strcmp(v[i].scenario_id, row->scenario_id) != 0))
            continue;
        if (!task_outputs(o, v[i].task_config_id, row->config_id)) continue;
        bool yes = true;
        if (row->cycle_id && ((e = in_cycle(o, v[i].scenario_id, row->cycle_id, &yes, err)) || !yes))
            continue;
        if (!(*job = strdup(v[i].id))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
        *status = v[i].status;
    }
    weft__store_open_jobs_free(v, n);
    return e;
}

static weft_err check_editor(const char *editor, char *err)
{
    size_t len = strlen(editor);
    if (len == 0 || len > EDITOR_MAX)
        return weft__err(err, WEFT_EINVAL, "editor name must be 1 to %d bytes long", EDITOR_MAX);
    if (strncmp(editor, "JOB_", 4) == 0)
        return weft__err(err, WEFT_EINVAL, "editor name '%s' starts with JOB_, which only job ids do: "
                         "choose another name", editor);
    for (const unsigned char *p = (const unsigned char *)editor; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return weft__err(err, WEFT_EINVAL, "editor name has a control character: use printable text");
    return WEFT_OK;
}

static weft_err locked(weft_orchestrator *o, const weft__store_dn *row, char *err)
{
    char *job = NULL;
    int status = 0;
    weft_err e = find_lock(o, row, &job, &status, err);
    if (e || !job) return e;
    bool alive = !o->read_only || weft__storage_in_use(o);
    e = weft__err(err, WEFT_ELOCKED,
                  "data node %s is locked for editing: job %s (%s) is to write it; %s", row->id, job,
                  weft_job_status_name((weft_job_status)status),
                  alive ? "write it after that job ends, or cancel the job (weft cancel)"
                        : "its orchestrator has stopped: 'weft cancel' of the job ends it");
    free(job);
    return e;
}

/* The write itself, in the open transaction.  o->mu held. */
static weft_err write_locked(weft_orchestrator *o, const char *id, const void *data, size_t len,
                             bool append, const char *editor, char *err)
{
    weft__store_dn row;
    weft__dn_ref ref = {0};
    weft_err e = weft__dn_resolve(o, id, &row, err);
    if (e) return e;
    if ((e = locked(o, &row, err))) goto out;
    if ((e = weft__dn_ref_make(o, &row, &ref, err))) goto out;
    if (o->read_only && strcmp(ref.storage_type, "in_memory") == 0) {
        e = weft__err(err, WEFT_EMODE,
                      "data node %s is in_memory: its content lives in the process that runs the jobs; "
                      "write it there (weft_data_write) or give it a file storage_type",
                      row.config_id);
        goto out;
    }
    if ((e = weft__dn_put(o->app, &ref, data, len, append, err))) goto out;
    e = weft__store_dn_edit(o->store, row.id, weft__now_us(), editor, err);
out:
    weft__dn_ref_release(&ref);
    weft__store_dn_release(&row);
    return e;
}

weft_err weft_data_write(weft_orchestrator *o, const char *id, const void *data, size_t len,
                         const weft_data_write_opts *opts, char *err)
{
    if (!o || !id || (!data && len)) return weft__err(err, WEFT_EINVAL, "weft_data_write: NULL argument");
    const char *editor = opts && opts->editor ? opts->editor : "user";
    bool append = opts && (opts->flags & WEFT_DATA_APPEND);
    if (opts && (opts->flags & ~WEFT_DATA_APPEND))
        return weft__err(err, WEFT_EINVAL, "weft_data_write: unknown flags 0x%x", opts->flags);
    weft_err e = check_editor(editor, err);
    if (e) return e;
    weft__orch_lock(o);
    /* The loop's own batch is committed first: a failed write rolls back
     * only itself. */
    if (o->in_tx && (e = weft__orch_commit(o, err))) goto out;
    if ((e = weft__orch_begin(o, err))) goto out;
    e = write_locked(o, id, data, len, append, editor, err);
    if (!e) e = weft__orch_commit(o, err);
    else weft__orch_abort(o, false);
out:
    weft__orch_unlock(o);
    return e;
}

/* ---- reading ---- */

void weft_data_info_free(weft_data_info *d)
{
    if (!d) return;
    free(d->id);
    free(d->config_id);
    free(d->storage_type);
    free(d->scenario_id);
    free(d->path);
    free(d->last_job_id);
    free(d->last_editor);
    free(d->locked_by);
    for (size_t i = 0; i < d->nedits; i++) {
        free(d->edits[i].job_id);
        free(d->edits[i].editor);
    }
    free(d->edits);
    free(d);
}

static bool is_job_id(const char *by) { return by && strncmp(by, "JOB_", 4) == 0; }

static weft_err fill_edits(weft_orchestrator *o, weft_data_info *d, char *err)
{
    weft__store_edit *v;
    size_t n;
    weft_err e = weft__store_dn_edits(o->store, d->id, &v, &n, err);
    if (e) return e;
    if (n && !(d->edits = calloc(n, sizeof *d->edits))) e = weft__err(err, WEFT_ENOMEM, "out of memory");
    for (size_t i = 0; !e && i < n; i++) {
        weft_data_edit *x = &d->edits[d->nedits++];
        x->at_us = v[i].at_us;
        /* Taken over from the store's row: each edit is by a job or an editor. */
        if (is_job_id(v[i].by)) x->job_id = v[i].by;
        else x->editor = v[i].by;
        v[i].by = NULL;
    }
    weft__store_edits_free(v, n);
    return e;
}

static weft_err info_fill(weft_orchestrator *o, weft__store_dn *row, weft_data_info *d, char *err)
{
    weft__dn_ref ref;
    int status;
    weft_err e = find_lock(o, row, &d->locked_by, &status, err);
    if (e || (e = weft__dn_ref_make(o, row, &ref, err))) return e;
    d->storage_type = ref.storage_type;
    ref.storage_type = NULL;
    weft__dn_ref_release(&ref);
    /* The row's strings are taken over; the caller releases what is left. */
    d->id = row->id;
    d->config_id = row->config_id;
    d->scenario_id = row->scenario_id;
    d->path = row->path;
    row->id = row->config_id = row->scenario_id = row->path = NULL;
    d->scope = row->scope;
    d->last_edit_us = row->last_edit_us;
    if (is_job_id(row->last_edit_job)) d->last_job_id = row->last_edit_job;
    else d->last_editor = row->last_edit_job;
    row->last_edit_job = NULL;
    return fill_edits(o, d, err);
}

weft_err weft_data_info_get(weft_orchestrator *o, const char *id, weft_data_info **out, char *err)
{
    if (!o || !id || !out) return weft__err(err, WEFT_EINVAL, "weft_data_info_get: NULL argument");
    *out = NULL;
    weft_data_info *d = calloc(1, sizeof *d);
    if (!d) return weft__err(err, WEFT_ENOMEM, "out of memory");
    weft__orch_lock(o);
    weft__store_dn row;
    weft_err e = weft__dn_resolve(o, id, &row, err);
    if (!e) {
        e = info_fill(o, &row, d, err);
        weft__store_dn_release(&row);
    }
    weft__orch_unlock(o);
    if (e) {
        weft_data_info_free(d);
        return e;
    }
    *out = d;
    return WEFT_OK;
}
