/* SPDX-License-Identifier: MIT */
/*
 * convert.c - weft's snapshots as Python values: a job, a submission and a
 * status-change event become dicts (statuses by name, times in seconds
 * since the epoch or None), which weft/__init__.py wraps in weft.Job,
 * weft.Submission and weft.Event.  Also the sequence id helper.
 */
#include "python/ext.h"

#include <stdlib.h>

/* Sets d[key] = v and drops v (stolen); false when v is NULL or it failed. */
static bool put(PyObject *d, const char *key, PyObject *v)
{
    if (!v) return false;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc == 0;
}

static PyObject *opt_str(const char *s)
{
    if (s) return PyUnicode_FromString(s);
    Py_RETURN_NONE;
}

/* Microseconds since the epoch as float seconds; 0 (never) as None. */
static PyObject *opt_time(int64_t us)
{
    if (us) return PyFloat_FromDouble((double)us / 1e6);
    Py_RETURN_NONE;
}

/* {"SUBMITTED": t, ...} for the statuses a job entered. */
static PyObject *status_times(const weft_job_info *j)
{
    PyObject *d = PyDict_New();
    for (int s = 0; d && s < WEFT_JOB_NSTATUS; s++) {
        if (!j->status_time_us[s]) continue;
        if (!put(d, weft_job_status_name((weft_job_status)s), opt_time(j->status_time_us[s])))
            Py_CLEAR(d);
    }
    return d;
}

PyObject *weft_py_job_dict(const weft_job_info *j)
{
    PyObject *d = PyDict_New();
    bool ok = d && put(d, "id", opt_str(j->id)) && put(d, "task_id", opt_str(j->task_id)) &&
              put(d, "task_config_id", opt_str(j->task_config_id)) &&
              put(d, "submission_id", opt_str(j->submission_id)) &&
              put(d, "entity_id", opt_str(j->entity_id)) &&
              put(d, "status", opt_str(weft_job_status_name(j->status))) &&
              put(d, "attempt", PyLong_FromLong(j->attempt)) &&
              put(d, "status_times", status_times(j)) && put(d, "error", opt_str(j->error)) &&
              put(d, "exit_code", PyLong_FromLong(j->exit_code)) &&
              put(d, "signal", PyLong_FromLong(j->signal)) &&
              put(d, "log_tail", opt_str(j->log_tail)) && put(d, "worker", opt_str(j->worker));
    if (!ok) Py_CLEAR(d);
    return d;
}

/* {"COMPLETED": 2, ...} for the statuses some job of it is in. */
static PyObject *status_counts(const weft_submission_info *s)
{
    PyObject *d = PyDict_New();
    for (int st = 0; d && st < WEFT_JOB_NSTATUS; st++) {
        if (!s->count[st]) continue;
        if (!put(d, weft_job_status_name((weft_job_status)st), PyLong_FromSize_t(s->count[st])))
            Py_CLEAR(d);
    }
    return d;
}

PyObject *weft_py_submission_dict(const weft_submission_info *s)
{
    PyObject *d = PyDict_New();
    bool ok = d && put(d, "id", opt_str(s->id)) && put(d, "entity_id", opt_str(s->entity_id)) &&
              put(d, "entity_config_id", opt_str(s->entity_config_id)) &&
              put(d, "status", opt_str(weft_submission_status_name(s->status))) &&
              put(d, "created_at", opt_time(s->created_us)) &&
              put(d, "finished_at", opt_time(s->finished_us)) &&
              put(d, "njobs", PyLong_FromSize_t(s->njobs)) && put(d, "counts", status_counts(s));
    if (!ok) Py_CLEAR(d);
    return d;
}

PyObject *weft_py_event_dict(const weft_event *ev)
{
    PyObject *d = PyDict_New();
    bool ok = d && put(d, "submission_id", opt_str(ev->submission_id)) &&
              put(d, "job_id", opt_str(ev->job_id)) &&
              put(d, "task_config_id", opt_str(ev->task_config_id)) &&
              put(d, "job_status", opt_str(ev->job_id ? weft_job_status_name(ev->job_status) : NULL)) &&
              put(d, "submission_status",
                  opt_str(weft_submission_status_name(ev->submission_status))) &&
              put(d, "at", opt_time(ev->at_us)) && put(d, "error", opt_str(ev->error));
    if (!ok) Py_CLEAR(d);
    return d;
}

PyObject *weft_py_sequence_id(PyObject *self, PyObject *args)
{
    const char *scenario_id, *name;
    char err[WEFT_ERRBUF_SIZE], *id = NULL;
    if (!PyArg_ParseTuple(args, "ss", &scenario_id, &name)) return NULL;
    weft_err e = weft_sequence_id(scenario_id, name, &id, err);
    if (e) return weft_py_raise(e, err);
    PyObject *r = PyUnicode_FromString(id);
    free(id);
    return r;
}
