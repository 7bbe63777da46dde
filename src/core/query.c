/* SPDX-License-Identifier: MIT */
/*
 * query.c - the read side of the orchestrator API: job and submission
 * snapshots, scenario lists and data node content.  Everything is read from
 * the store, so a read-only handle in another process sees exactly what
 * the running orchestrator committed.
 */
#include "core/orchestrator_internal.h"

#include <stdlib.h>
#include <string.h>

weft_err weft_job_get(weft_orchestrator *o, const char *job_id, weft_job_info **out, char *err)
{
    if (!o || !job_id || !out) return weft__err(err, WEFT_EINVAL, "weft_job_get: NULL argument");
    weft__orch_lock(o);
    weft_err e = weft__store_job_get(o->store, job_id, out, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_jobs_list(weft_orchestrator *o, const weft_job_filter *filter,
                        weft_job_info ***out, size_t *n, char *err)
{
    if (!o || !out || !n) return weft__err(err, WEFT_EINVAL, "weft_jobs_list: NULL argument");
    *out = NULL;
    *n = 0;
    const char *sub = filter ? filter->submission_id : NULL;
    int status = filter ? filter->status : -1;
    if (status >= WEFT_JOB_NSTATUS) return weft__err(err, WEFT_EINVAL, "no job status %d", status);
    weft__orch_lock(o);
    weft_err e = weft__store_jobs_list(o->store, sub, status, out, n, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_submission_get(weft_orchestrator *o, const char *id, weft_submission_info **out,
                             char *err)
{
    if (!o || !id || !out) return weft__err(err, WEFT_EINVAL, "weft_submission_get: NULL argument");
    weft__orch_lock(o);
    weft_err e = weft__store_submission_get(o->store, id, out, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_submissions_list(weft_orchestrator *o, weft_submission_info ***out, size_t *n,
                               char *err)
{
    if (!o || !out || !n) return weft__err(err, WEFT_EINVAL, "weft_submissions_list: NULL argument");
    *out = NULL;
    *n = 0;
    weft__orch_lock(o);
    weft_err e = weft__store_submissions_list(o->store, out, n, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft_scenarios_list(weft_orchestrator *o, char ***ids, char ***config_ids, size_t *n,
                             char *err)
{
    if (!o || !ids || !config_ids || !n)
        return weft__err(err, WEFT_EINVAL, "weft_scenarios_list: NULL argument");
    *ids = *config_ids = NULL;
    *n = 0;
    weft__orch_lock(o);
    weft_err e = weft__store_scenarios(o->store, ids, config_ids, n, err);
    weft__orch_unlock(o);
    return e;
}

weft_err weft__dn_resolve(weft_orchestrator *o, const char *id, weft__store_dn *row, char *err)
{
    char *first = NULL;
    size_t count = 0;
    weft_err e = weft__store_dn_get(o->store, id, row, err);
    if (e != WEFT_ENOTFOUND) return e;
    /* A config id with exactly one instance (a GLOBAL node, or one scenario). */
    if ((e = weft__store_dn_by_config(o->store, id, &count, &first, err))) return e;
    if (count == 0)
        e = weft__err(err, WEFT_ENOTFOUND, "no data node %s", id);
    else if (count > 1)
        e = weft__err(err, WEFT_EINVAL, "data node config %s has several instances: give an instance id",
                      id);
    else
        e = weft__store_dn_get(o->store, first, row, err);
    free(first);
    return e;
}

weft_err weft_data_read(weft_orchestrator *o, const char *id, char **data, size_t *len, char *err)
{
    if (!o || !id || !data) return weft__err(err, WEFT_EINVAL, "weft_data_read: NULL argument");
    *data = NULL;
    if (len) *len = 0;
    weft__orch_lock(o);
    weft__store_dn row;
    weft__dn_ref ref;
    size_t dummy = 0;
    weft_err e = weft__dn_resolve(o, id, &row, err);
    if (e) goto out;
    e = weft__dn_ref_make(o, &row, &ref, err);
    weft__store_dn_release(&row);
    if (e) goto out;
    e = weft__dn_read_ref(o->app, &ref, data, len ? len : &dummy, err);
    weft__dn_ref_release(&ref);
out:
    weft__orch_unlock(o);
    return e;
}
