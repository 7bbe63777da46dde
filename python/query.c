/* SPDX-License-Identifier: MIT */
/*
 * query.c - the read side of weft._weft.Orchestrator: jobs, submissions
 * and scenarios as Python values, and data nodes read as bytes or as the
 * object a Python task would get (weft__py_data_object, the conversion
 * code of the embedded-Python tasks, so both see the same object).  Each
 * call into the orchestrator releases the GIL (see orchestrator.c).
 */
#include "python/ext.h"

#include "job/python.h"

#include <stdlib.h>
#include <string.h>

PyObject *weft_py_orch_jobs(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"submission_id", "status", NULL};
    const char *sub = NULL, *status = NULL;
    char err[WEFT_ERRBUF_SIZE];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zz", names, &sub, &status)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    weft_job_filter f = {.submission_id = sub, .status = status ? weft_job_status_parse(status) : -1};
    if (status && f.status < 0) return PyErr_Format(PyExc_ValueError, "no job status %s", status);
    weft_job_info **jobs = NULL;
    size_t n = 0;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_jobs_list(o, &f, &jobs, &n, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave(self);
    if (e) return weft_py_raise(e, err);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = weft_py_job_dict(jobs[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    weft_job_list_free(jobs, n);
    return list;
}

PyObject *weft_py_orch_job(PyObject *self, PyObject *args)
{
    const char *id;
    char err[WEFT_ERRBUF_SIZE];
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    weft_job_info *j = NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_job_get(o, id, &j, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave(self);
    if (e) return weft_py_raise(e, err);
    PyObject *d = weft_py_job_dict(j);
    weft_job_info_free(j);
    return d;
}

PyObject *weft_py_orch_submissions(PyObject *self, PyObject *noargs)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    weft_submission_info **subs = NULL;
    size_t n = 0;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_submissions_list(o, &subs, &n, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave(self);
    if (e) return weft_py_raise(e, err);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = weft_py_submission_dict(subs[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    weft_submission_list_free(subs, n);
    return list;
}

PyObject *weft_py_orch_submission(PyObject *self, PyObject *args)
{
    const char *id;
    char err[WEFT_ERRBUF_SIZE];
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    weft_submission_info *s = NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_submission_get(o, id, &s, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave(self);
    if (e) return weft_py_raise(e, err);
    PyObject *d = weft_py_submission_dict(s);
    weft_submission_info_free(s);
    return d;
}

PyObject *weft_py_orch_scenarios(PyObject *self, PyObject *noargs)
{
    char err[WEFT_ERRBUF_SIZE], **ids = NULL, **cfg_ids = NULL;
    size_t n = 0;
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_scenarios_list(o, &ids, &cfg_ids, &n, err);
    Py_END_ALLOW_THREADS
    weft_py_orch_leave(self);
    if (e) return weft_py_raise(e, err);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = Py_BuildValue("(ss)", ids[i], cfg_ids[i]);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    weft_strv_free(ids, n);
    weft_strv_free(cfg_ids, n);
    return list;
}

/* Reads a data node's bytes with `o` (entered); false with an exception set. */
static bool read_bytes(weft_orchestrator *o, const char *id, char **data, size_t *len)
{
    char err[WEFT_ERRBUF_SIZE];
    weft_err e;
    Py_BEGIN_ALLOW_THREADS
    e = weft_data_read(o, id, data, len, err);
    Py_END_ALLOW_THREADS
    if (e) weft_py_raise(e, err);
    return e == WEFT_OK;
}

PyObject *weft_py_orch_read_data(PyObject *self, PyObject *args)
{
    const char *id;
    char *data = NULL;
    size_t len = 0;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    weft_orchestrator *o = weft_py_orch_enter(self);
    if (!o) return NULL;
    bool ok = read_bytes(o, id, &data, &len);
    weft_py_orch_leave(self);
    if (!ok) return NULL;
    PyObject *r = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    free(data);
    return r;
}

/* The config id of "DATANODE_<config id>_<uuid>" (an instance id, whose
 * uuid is 36 characters), or `id` itself, which is then a config id. */
static PyObject *config_id_of(const char *id)
{
    static const char prefix[] = "DATANODE_";
    size_t n = strlen(id), p = sizeof prefix - 1;
    if (strncmp(id, prefix, p) == 0 && n > p + 37 && id[n - 37] == '_')
        return PyUnicode_FromStringAndSize(id + p, (Py_ssize_t)(n - p - 37));
    return PyUnicode_FromString(id);
}

PyObject *weft_py_orch_read_object(PyObject *self, PyObject *args)
{
    const char *id;
    char *data = NULL;
    size_t len = 0;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    PyObject *cid = config_id_of(id), *r = NULL;
    weft_orchestrator *o = cid ? weft_py_orch_enter(self) : NULL;
    if (!o) {
        Py_XDECREF(cid);
        return NULL;
    }
    /* Entered until the end: the config stays while close() waits for us. */
    if (read_bytes(o, id, &data, &len))
        r = weft__py_data_object(weft_py_orch_config(self), PyUnicode_AsUTF8(cid), id, data, len);
    weft_py_orch_leave(self);
    free(data);
    Py_DECREF(cid);
    return r;
}
